/* sbctl history, rollback, audit: what changed, and going back. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sbctl.h"

static char *paging(const char *path)
{
    if (opt.since && opt.limit)
        return xprintf("%s?since=%s&limit=%s", path, opt.since, opt.limit);
    if (opt.since || opt.limit)
        return xprintf("%s?%s=%s", path, opt.since ? "since" : "limit",
                       opt.since ? opt.since : opt.limit);
    return xprintf("%s", path);
}

static const char *str_or(json_t *o, const char *key, const char *def)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : def;
}

int cmd_history(void)
{
    need_args(2, "history KEY");
    if (!key_valid(opt.args[1]))
        usage_error("KEY must be <kind>/<id>, with a kind of providers, roles, failback, models "
                    "or tenants");
    char *base = admin_path(xprintf("%s/history", opt.args[1]));
    json_t *h = get(paging(base));
    if (opt.json) {
        print_json(h);
        return 0;
    }
    table t = {.cols = 6};
    row(&t, "REV", "TIME", "ACTOR", "OP", "REASON", "VALUE");
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get(h, "versions"), i, v) {
        char rev[24],
            *value =
                xalloc(json_dumps(json_object_get(v, "value"), JSON_COMPACT | JSON_ENCODE_ANY));
        snprintf(rev, sizeof rev, "%lld",
                 (long long)json_integer_value(json_object_get(v, "revision")));
        row(&t, rev, str_or(v, "time", "-"), str_or(v, "actor", "-"), str_or(v, "op", "-"),
            str_or(v, "reason", "-"), value);
        free(value);
    }
    table_print(&t);
    if (json_is_integer(json_object_get(h, "next")))
        printf("(more: --since %lld)\n", (long long)json_integer_value(json_object_get(h, "next")));
    return 0;
}

int cmd_rollback(void)
{
    need_args(2, "rollback KEY --to REV");
    if (!key_valid(opt.args[1]))
        usage_error("KEY must be <kind>/<id>");
    char *end;
    long long to = opt.to ? strtoll(opt.to, &end, 10) : -1;
    if (opt.to == NULL || *end != '\0' || to < 1)
        usage_error("rollback needs --to REV, a revision number");
    char *path = xprintf("%s/rollback", opt.args[1]);
    return write_doc("POST", path, json_pack("{s:I}", "to", (json_int_t)to),
                     xprintf("%s rolled back to its value at revision %lld", opt.args[1], to),
                     opt.args[1]);
}

int cmd_audit(void)
{
    need_args(1, "audit");
    json_t *a = get(paging("/admin/audit"));
    if (opt.json) {
        print_json(a);
        return 0;
    }
    table t = {.cols = 7};
    row(&t, "REV", "TIME", "ACTOR", "OP", "KEY", "REASON", "TRACE");
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get(a, "entries"), i, v) {
        char rev[24];
        snprintf(rev, sizeof rev, "%lld",
                 (long long)json_integer_value(json_object_get(v, "revision")));
        row(&t, rev, str_or(v, "time", "-"), str_or(v, "actor", "-"), str_or(v, "op", "-"),
            str_or(v, "key", "-"), str_or(v, "reason", "-"), str_or(v, "trace_id", "-"));
    }
    table_print(&t);
    if (json_is_integer(json_object_get(a, "next")))
        printf("(more: --since %lld)\n", (long long)json_integer_value(json_object_get(a, "next")));
    return 0;
}
