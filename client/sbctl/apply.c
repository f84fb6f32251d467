/* sbctl export and apply: the whole topology as a file. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sbctl.h"

static const char *const kinds[] = {"providers", "roles", "failback", "models", "tenants"};

int cmd_export(void)
{
    if (opt.n_args > 2)
        usage_error("usage: sbctl export [FILE]");
    json_t *topo = get("/topology");
    json_object_del(topo, "revision");
    json_object_del(topo, "answers");
    for (size_t i = 0; i < 5; i++) /* every kind, even when empty, so the file is complete */
        if (json_object_get(topo, kinds[i]) == NULL)
            json_object_set_new(topo, kinds[i], json_object());
    const char *file = opt.n_args == 2 ? opt.args[1] : "-";
    if (strcmp(file, "-") == 0)
        return json_dumpf(topo, stdout, JSON_INDENT(2) | JSON_SORT_KEYS) || puts("") < 0;
    /* Written beside the target and renamed over it, so a failed export leaves no half file. */
    char *tmp = xprintf("%s.tmp.%ld", file, (long)getpid());
    if (json_dump_file(topo, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0 || rename(tmp, file) != 0) {
        unlink(tmp);
        die(EXIT_FAILURE, "cannot write %s: %s", file, strerror(errno));
    }
    if (!opt.json)
        fprintf(stderr, "exported %s\n", file);
    return 0;
}

int cmd_apply(void)
{
    need_args(2, "apply FILE");
    json_error_t err;
    json_t *want = keep_json(strcmp(opt.args[1], "-") == 0
                                 ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &err)
                                 : json_load_file(opt.args[1], JSON_REJECT_DUPLICATES, &err));
    if (want == NULL)
        die(EXIT_USAGE, "%s:%d:%d: %s", opt.args[1], err.line, err.column, err.text);
    if (!json_is_object(want))
        die(EXIT_USAGE, "%s: a topology file is an object of kind -> id -> document", opt.args[1]);
    const char *k;
    json_t *v;
    json_object_foreach (want, k, v) {
        bool known = strcmp(k, "revision") == 0 || strcmp(k, "answers") == 0;
        for (size_t i = 0; i < 5; i++)
            known = known || strcmp(k, kinds[i]) == 0;
        if (!known)
            die(EXIT_USAGE,
                "%s: unknown key \"%s\" (known: providers, roles, failback, models, "
                "tenants; revision and answers are ignored)",
                opt.args[1], k);
        if (strcmp(k, "revision") != 0 && strcmp(k, "answers") != 0 && !json_is_object(v))
            die(EXIT_USAGE, "%s: \"%s\" must be an object of id -> document", opt.args[1], k);
    }
    /* The difference, as one batch. Every op on an existing document is conditional on the
     * revision read here, so a change made meanwhile makes the batch fail (412), not vanish. */
    json_t *ops = keep_json(json_array());
    table t = {.cols = 2};
    row(&t, "OP", "KEY");
    for (size_t i = 0; i < 5; i++) {
        json_t *revs, *have = list_kind(kinds[i], &revs), *wanted = json_object_get(want, kinds[i]);
        const char *id;
        json_object_foreach (wanted, id, v) {
            json_t *old = json_object_get(have, id);
            if (old != NULL && json_equal(old, v))
                continue;
            char *key = xprintf("%s/%s", kinds[i], id);
            json_t *op = json_pack("{s:s, s:s, s:O}", "op", "put", "key", key, "value", v);
            if (old != NULL)
                json_object_set(op, "if_match", json_object_get(revs, id));
            json_array_append_new(ops, op);
            row(&t, old ? "change" : "create", key);
        }
        json_object_foreach (have, id, v) {
            if (json_object_get(wanted, id) != NULL)
                continue;
            char *key = xprintf("%s/%s", kinds[i], id);
            json_array_append_new(ops, json_pack("{s:s, s:s, s:O}", "op", "delete", "key", key,
                                                 "if_match", json_object_get(revs, id)));
            row(&t, "delete", key);
        }
    }
    if (json_array_size(ops) == 0 || opt.json)
        table_free(&t);
    if (json_array_size(ops) == 0) {
        if (opt.json)
            print_json(keep_json(json_pack("{s:[]}", "ops")));
        else
            puts("the server already matches the file: nothing to change");
        return 0;
    }
    if (!opt.json)
        table_print(&t);
    char *path = dry_run_query("/admin/txn");
    reply r = call("POST", path, keep_json(json_pack("{s:O}", "ops", ops)), true);
    if (r.code == 412)
        die(EXIT_REFUSED, "the topology changed while applying; run apply again");
    if (!opt.json)
        putchar('\n');
    return finish_write(r, xprintf("applied %zu changes", json_array_size(ops)), "the topology");
}
