/*
 * End to end: the sbctl binary ($SBCTL_BIN) against a real server: its tables and --json, the
 * token from flag, environment and the data directory, dry runs that change nothing, writes
 * with reasons that land in history and audit, export and apply, route through the library, and
 * the failures: usage (2), refusals with the server's detail (1), no server (3), no route (4).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static server S;
static char out[1 << 16], err[1 << 14];

static void down(void)
{
    server_cleanup(&S);
}

TestSuite(sbctl, .fini = down, .timeout = 120);

/* Runs sbctl against S with the token from its data directory; args end with NULL. */
static int sbctl_env(const char *const *env, const char *first, ...)
{
    static char url[64];
    snprintf(url, sizeof url, "--url=http://127.0.0.1:%d", S.port);
    /* A write waits for an fsync, which a busy disk can hold up for seconds. */
    const char *argv[40] = {getenv("SBCTL_BIN"), url, "--timeout", "60000", "--data", S.dir};
    cr_assert_not_null(argv[0], "SBCTL_BIN is not set (run the tests through meson)");
    int n = 6;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a != NULL; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    return run_program(argv, env, out, sizeof out, err, sizeof err);
}

#define sbctl(...) sbctl_env(NULL, __VA_ARGS__, NULL)

static json_t *out_json(void)
{
    json_error_t e;
    json_t *j = json_loads(out, 0, &e);
    cr_assert_not_null(j, "--json printed something that is not JSON (%s):\n%s", e.text, out);
    return j;
}

Test(sbctl, reads_print_tables_and_json)
{
    server_start(&S, NULL);
    cr_assert_eq(sbctl("status"), 0, "%s", err);
    cr_assert(strstr(out, "revision   1") && strstr(out, "(ready)"), "%s", out);
    cr_assert(strstr(out, "providers  3, all on"), "%s", out);

    cr_assert_eq(sbctl("providers"), 0);
    cr_assert(strstr(out, "PROVIDER") && strstr(out, "workers-ai"), "%s", out);
    cr_assert_eq(sbctl("providers", "--json"), 0);
    json_t *j = out_json();
    cr_assert(json_is_true(json_object_get(json_object_get(j, "openai"), "enabled")));
    json_decref(j);

    cr_assert_eq(sbctl("roles"), 0);
    cr_assert(strstr(out, "security") &&
                  strstr(out, "anthropic/claude-opus-4-7 > anthropic/claude-opus-4-6"),
              "the resolved chain, in order:\n%s", out);
    cr_assert_eq(sbctl("--json", "roles"), 0);
    j = out_json();
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(j, "security"), "answer"), "primary")),
                     "anthropic/claude-opus-4-7");
    json_decref(j);

    cr_assert_eq(sbctl("topology"), 0);
    cr_assert(strstr(out, "FAILS BACK TO") && strstr(out, "tenant acme"), "%s", out);
    cr_assert_eq(sbctl("topology", "--json"), 0);
    j = out_json();
    resp r = request(&S, "GET", "/topology", NULL, NULL);
    cr_assert(json_equal(j, r.json), "--json prints the server's topology as it is");
    resp_free(&r);
    json_decref(j);

    cr_assert_eq(sbctl("role", "get", "security"), 0);
    cr_assert(strstr(out, "(the primary's failback chain)"), "%s", out);
    cr_assert_eq(sbctl("failback", "get", "anthropic/claude-opus-4-7"), 0);
    cr_assert(strstr(out, "anthropic/claude-opus-4-7 > anthropic/claude-opus-4-6"), "%s", out);
    cr_assert_eq(sbctl("status", "--json"), 0);
    j = out_json();
    cr_assert_eq(json_integer_value(json_object_get(j, "revision")), 1);
    json_decref(j);
}

Test(sbctl, a_flip_with_dry_run_reason_history_and_audit)
{
    server_start(&S, NULL);
    cr_assert_eq(sbctl("provider", "disable", "openai", "--dry-run"), 0, "%s", err);
    cr_assert(strstr(out, "BEFORE") && strstr(out, "performance") &&
                  strstr(out, "dry run: nothing changed"),
              "the plan, every answer before and after:\n%s", out);
    cr_assert_eq(revision_of(&S), 1, "a dry run commits nothing");

    cr_assert_eq(sbctl("provider", "disable", "openai", "--reason", "openai is down"), 0, "%s",
                 err);
    cr_assert(strstr(out, "provider openai disabled (revision 2)"), "%s", out);
    resp r = request(&S, "GET", "/config/performance", NULL, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "primary")),
                     "anthropic/claude-opus-4-7");
    resp_free(&r);

    cr_assert_eq(sbctl("history", "providers/openai"), 0);
    cr_assert(strstr(out, "openai is down") && strstr(out, "patch"), "%s", out);
    cr_assert_eq(sbctl("audit", "--since", "1", "--json"), 0); /* after revision 1 */
    json_t *j = out_json();
    json_t *e = json_array_get(json_object_get(j, "entries"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(e, "key")), "providers/openai");
    cr_assert_str_eq(json_string_value(json_object_get(e, "reason")), "openai is down");
    json_decref(j);

    cr_assert_eq(sbctl("rollback", "providers/openai", "--to", "1"), 0, "%s", err);
    r = request(&S, "GET", "/config/performance", NULL, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "primary")), "openai/gpt-5.3-codex",
                     "rolled back: openai is on again");
    resp_free(&r);
    /* openai is on already: the write changes nothing and records nothing. */
    cr_assert_eq(sbctl("provider", "enable", "openai", "--json"), 0);
    j = out_json();
    cr_assert_eq(json_integer_value(json_object_get(j, "revision")), 3);
    cr_assert(json_is_false(json_object_get(j, "changed")), "%s", out);
    json_decref(j);
    cr_assert_eq(revision_of(&S), 3);
}

Test(sbctl, roles_and_failback_are_written)
{
    server_start(&S, NULL);
    cr_assert_eq(sbctl("role", "set", "triage", "--primary", "openai/gpt-5.3-codex", "--fallback",
                       "anthropic/claude-opus-4-6", "--description", "first look"),
                 0, "%s", err);
    resp r = request(&S, "GET", "/config/triage", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(r.json, "fallbacks"), 0)),
                     "anthropic/claude-opus-4-6");
    resp_free(&r);
    cr_assert_eq(sbctl("failback", "set", "openai/gpt-5.3-codex", "--none"), 0, "%s", err);
    cr_assert_eq(sbctl("failback", "get", "openai/gpt-5.3-codex", "--json"), 0);
    json_t *j = out_json();
    cr_assert(json_is_null(json_object_get(j, "next")));
    json_decref(j);
    cr_assert_eq(sbctl("failback", "set", "openai/gpt-5.3-codex", "kimi-k2.5"), 0, "%s", err);
    cr_assert_eq(sbctl("role", "delete", "triage"), 0, "%s", err);
    r = request(&S, "GET", "/config/triage", NULL, NULL);
    cr_assert_eq(r.status, 404);
    resp_free(&r);
}

/* Whether GET /admin/failback lists id. */
static bool failback_listed(const char *id)
{
    resp r = admin(&S, "GET", "/admin/failback", NULL, NULL);
    cr_assert_eq(r.status, 200);
    bool found = false;
    size_t i;
    json_t *item;
    json_array_foreach (json_object_get(r.json, "items"), i, item)
        found |= strcmp(json_string_value(json_object_get(item, "id")), id) == 0;
    resp_free(&r);
    return found;
}

/* Model ids may hold characters that mean something in a URL: sbctl percent-encodes them, and
 * the key the server stores is the id as typed. */
Test(sbctl, model_ids_with_url_characters)
{
    server_start(&S, NULL);
    static const char *const ids[] = {"lab/model?v=2", "lab/model#3", "lab/100%25", "lab/a+b@c:d"};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
        cr_assert_eq(sbctl("failback", "set", ids[i], "--none", "--reason", "odd id"), 0,
                     "set %s: %s", ids[i], err);
        cr_assert_eq(sbctl("failback", "get", ids[i], "--json"), 0, "get %s: %s", ids[i], err);
        json_t *j = out_json();
        cr_assert(json_is_null(json_object_get(j, "next")), "%s: %s", ids[i], out);
        json_decref(j);
        char key[128];
        snprintf(key, sizeof key, "failback/%s", ids[i]);
        cr_assert_eq(sbctl("history", key, "--json"), 0, "history %s: %s", ids[i], err);
        j = out_json();
        cr_assert_str_eq(json_string_value(json_object_get(j, "key")), key);
        json_decref(j);
    }
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
        cr_assert(failback_listed(ids[i]), "the server stored no %s", ids[i]);
    cr_assert_eq(sbctl("failback", "delete", "lab/model?v=2"), 0, "%s", err);
    cr_assert_not(failback_listed("lab/model?v=2"));
    cr_assert(failback_listed("lab/model#3"));
}

Test(sbctl, export_then_apply)
{
    server_start(&S, NULL);
    char file[300];
    snprintf(file, sizeof file, "%s/topology.json", S.dir);
    cr_assert_eq(sbctl("export", file), 0, "%s", err);
    cr_assert_eq(sbctl("apply", file), 0, "%s", err);
    cr_assert(strstr(out, "nothing to change"), "an export applies back unchanged:\n%s", out);
    cr_assert_eq(revision_of(&S), 1);

    /* Change the file: one provider off, one role added, the tenant gone. */
    json_t *t = json_load_file(file, 0, NULL);
    cr_assert_not_null(t);
    cr_assert_eq(json_object_size(t), 5, "an export holds the five kinds and nothing else");
    json_object_set_new(json_object_get(json_object_get(t, "providers"), "openai"), "enabled",
                        json_false());
    json_object_set_new(json_object_get(t, "roles"), "triage",
                        json_pack("{s:s}", "primary", "openai/gpt-5.3-codex"));
    json_object_del(json_object_get(t, "tenants"), "acme");
    json_dump_file(t, file, 0);
    json_decref(t);

    cr_assert_eq(sbctl("apply", file, "--dry-run"), 0, "%s", err);
    cr_assert(strstr(out, "change  providers/openai") && strstr(out, "create  roles/triage") &&
                  strstr(out, "delete  tenants/acme"),
              "the operations:\n%s", out);
    cr_assert(strstr(out, "dry run: nothing changed"), "%s", out);
    cr_assert_eq(revision_of(&S), 1);

    cr_assert_eq(sbctl("apply", file, "--reason", "sync"), 0, "%s", err);
    cr_assert_eq(revision_of(&S), 2, "the whole file in one revision");
    cr_assert_eq(sbctl("export"), 0);
    json_t *now = out_json(), *want = json_load_file(file, 0, NULL);
    cr_assert(json_equal(now, want), "the server matches the file");
    json_decref(now);
    json_decref(want);
    cr_assert_eq(sbctl("apply", file), 0);
    cr_assert(strstr(out, "nothing to change"));

    /* A file the server refuses changes nothing, and says why. */
    FILE *f = fopen(file, "w");
    fputs("{\"roles\": {\"x\": {\"primary\": \"m/1\", \"prmary\": 1}}}", f);
    fclose(f);
    cr_assert_eq(sbctl("apply", file), 1);
    cr_assert(strstr(err, "422") && strstr(err, "prmary"), "the problem detail:\n%s", err);
    cr_assert_eq(revision_of(&S), 2);
    f = fopen(file, "w");
    fputs("{\"widgets\": {}}", f);
    fclose(f);
    cr_assert_eq(sbctl("apply", file), 2);
    cr_assert(strstr(err, "widgets"), "%s", err);
    f = fopen(file, "w");
    fputs("{\"roles\": []}", f);
    fclose(f);
    cr_assert_eq(sbctl("apply", file), 2);
    cr_assert(strstr(err, "\"roles\" must be an object"), "%s", err);
}

Test(sbctl, route_goes_through_the_library)
{
    server_start(&S, NULL);
    cr_assert_eq(sbctl("route", "security"), 0, "%s", err);
    cr_assert(strstr(out, "primary    anthropic/claude-opus-4-7") &&
                  strstr(out, "source     fresh"),
              "%s", out);
    cr_assert_eq(sbctl("route", "security", "--tenant", "acme", "--json"), 0, "%s", err);
    json_t *j = out_json();
    resp r = request(&S, "GET", "/config/security?tenant=acme", NULL, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(j, "etag")), header(&r, "etag"));
    cr_assert_str_eq(json_string_value(json_object_get(j, "source")), "fresh");
    resp_free(&r);
    json_decref(j);
    cr_assert_eq(sbctl("route", "nope"), 1);
    cr_assert(strstr(err, "no such role"), "%s", err);

    cr_assert_eq(sbctl("--force", "provider", "disable", "workers-ai"), 0, "%s", err);
    cr_assert_eq(sbctl("--force", "provider", "disable", "anthropic"), 0, "%s", err);
    cr_assert_eq(sbctl("route", "documentation"), 4, "no route has its own exit status");
    cr_assert(strstr(out, "(no route)"), "%s", out);
}

/* The lines in the file at path so far. */
static int lines_in(const char *path)
{
    FILE *f = fopen(path, "r");
    int n = 0;
    for (int c; f != NULL && (c = getc(f)) != EOF;)
        n += c == '\n';
    if (f != NULL)
        fclose(f);
    return n;
}

/* Waits at most timeout_s for the file at path to hold n lines; @return whether it does. */
static bool wait_lines(const char *path, int n, double timeout_s)
{
    for (double end = now_s() + timeout_s; now_s() < end; usleep(20 * 1000))
        if (lines_in(path) >= n)
            return true;
    return lines_in(path) >= n;
}

Test(sbctl, watch_prints_each_change)
{
    server_start(&S, NULL);
    char url[64], log[400];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", S.port);
    snprintf(log, sizeof log, "%s/watch.log", S.dir);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* a failed test leaves no watch behind */
        freopen(log, "w", stdout);
        execl(getenv("SBCTL_BIN"), "sbctl", "--url", url, "route", "performance", "--watch",
              "--json", (char *)NULL);
        _exit(127);
    }
    cr_assert(wait_lines(log, 1, 30), "the first answer is printed at once");
    for (double t0 = now_s(); metric_now(&S, "switchboard_watchers") != 1 && now_s() - t0 < 30;)
        usleep(20 * 1000); /* the long-poll is open */
    cr_assert_eq(sbctl("provider", "disable", "openai"), 0);
    /* The server wakes its watches before it acknowledges a write: counted from then, a change
     * printed well within the 5 s TTL came by long-poll. */
    double written = now_s();
    cr_assert(wait_lines(log, 2, 20), "the change is printed");
    cr_assert_lt(now_s() - written, 4.5, "the change arrives by long-poll, within the 5 s TTL");
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "SIGTERM ends --watch cleanly");
    FILE *f = fopen(log, "r");
    char line[1024];
    int n = 0;
    const char *primaries[2] = {"openai/gpt-5.3-codex", "anthropic/claude-opus-4-7"};
    while (fgets(line, sizeof line, f)) {
        json_t *j = json_loads(line, 0, NULL);
        cr_assert_not_null(j, "one JSON object per line: %s", line);
        cr_assert_lt(n, 2, "one line per change, no more: %s", line);
        cr_assert_str_eq(json_string_value(json_object_get(j, "primary")), primaries[n]);
        cr_assert_str_eq(json_string_value(json_object_get(j, "source")), "fresh",
                         "a new answer from the server is fresh: %s", line);
        json_decref(j);
        n++;
    }
    fclose(f);
    cr_assert_eq(n, 2, "the first answer, then the change");
}

Test(sbctl, tokens_from_flag_environment_and_file)
{
    server_start(&S, NULL);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", S.port);
    const char *bin = getenv("SBCTL_BIN");
    /* No --data and no token: the write is refused, and sbctl says how to give a token. */
    const char *argv[] = {bin, "--url", url, "provider", "disable", "openai", NULL};
    cr_assert_eq(run_program(argv, (const char *const[]){"SWITCHBOARD_DATA=/nonexistent", NULL},
                             out, sizeof out, err, sizeof err),
                 1);
    cr_assert(strstr(err, "401") && strstr(err, "admin token"), "%s", err);
    char env_token[200], env_url[100];
    snprintf(env_token, sizeof env_token, "SWITCHBOARD_TOKEN=%s", S.token);
    snprintf(env_url, sizeof env_url, "SWITCHBOARD_URL=%s", url);
    const char *argv2[] = {bin, "provider", "disable", "openai", NULL};
    cr_assert_eq(run_program(argv2, (const char *const[]){env_token, env_url, NULL}, out,
                             sizeof out, err, sizeof err),
                 0, "%s", err);
    const char *argv3[] = {bin,        "--url",  url,      "--token", S.token,
                           "provider", "enable", "openai", NULL};
    cr_assert_eq(run_program(argv3, NULL, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert_eq(revision_of(&S), 3);
}

Test(sbctl, failures_exit_non_zero_with_the_reason)
{
    server_start(&S, NULL);
    cr_assert_eq(sbctl("frobnicate"), 2);
    cr_assert(strstr(err, "unknown command"), "%s", err);
    cr_assert_eq(sbctl("provider", "toggle", "openai"), 2);
    cr_assert_eq(sbctl("--bogus", "status"), 2);
    cr_assert_eq(sbctl("rollback", "providers/openai"), 2);
    cr_assert(strstr(err, "--to"), "%s", err);
    cr_assert_eq(sbctl("history", "widgets/x"), 2);
    /* Each command owns its options: another command's is a usage error, and nothing is sent. */
    const char *const misplaced[][6] = {{"status", "--primary", "x", NULL},
                                        {"role", "get", "security", "--primary", "a/b", NULL},
                                        {"route", "security", "--reason", "why", NULL},
                                        {"provider", "disable", "openai", "--tenant", "acme", NULL},
                                        {"audit", "--to", "3", NULL},
                                        {"export", "--watch", NULL}};
    for (size_t i = 0; i < sizeof misplaced / sizeof *misplaced; i++) {
        const char *const *a = misplaced[i];
        cr_assert_eq(sbctl(a[0], a[1], a[2], a[3], a[4]), 2, "case %zu: %s", i, err);
        cr_assert(strstr(err, "is not an option of sbctl") && strstr(err, a[0]), "%s", err);
    }
    cr_assert_eq(revision_of(&S), 1, "a usage error writes nothing");

    cr_assert_eq(sbctl("role", "get", "nope"), 1);
    cr_assert(strstr(err, "404") && strstr(err, "roles/nope"), "%s", err);
    cr_assert_eq(sbctl("role", "set", "x", "--primary", "has space"), 1);
    cr_assert(strstr(err, "/primary"), "the field's JSON pointer:\n%s", err);
    cr_assert_eq(sbctl("role", "set", "x", "--primary", "has space", "--dry-run"), 1,
                 "a dry run is refused as the write would be");
    cr_assert_eq(sbctl("rollback", "providers/openai", "--to", "99", "--dry-run"), 1);
    cr_assert_eq(sbctl("--json", "role", "get", "nope"), 1);
    json_t *j = out_json();
    cr_assert_eq(json_integer_value(json_object_get(j, "status")), 404,
                 "--json prints the problem document");
    json_decref(j);

    /* Taking the last route away is refused with the plan, unless --force. */
    cr_assert_eq(sbctl("provider", "disable", "workers-ai"), 0);
    cr_assert_eq(sbctl("provider", "disable", "anthropic"), 1);
    cr_assert(strstr(out, "loses its route: documentation"), "%s", out);
    cr_assert(strstr(err, "--force"), "%s", err);
    cr_assert_eq(revision_of(&S), 2);

    /* A dry run exits as the write would: 1 for the same refusal, so a script can gate on it. */
    cr_assert_eq(sbctl("provider", "disable", "anthropic", "--dry-run"), 1, "%s", out);
    cr_assert(strstr(out, "loses its route: documentation") &&
                  strstr(out, "dry run: nothing changed"),
              "%s", out);
    cr_assert(strstr(err, "would be refused") && strstr(err, "--force"), "%s", err);
    cr_assert_eq(sbctl("provider", "disable", "anthropic", "--dry-run", "--json"), 1);
    j = out_json();
    cr_assert(json_is_true(json_object_get(j, "dry_run")), "--json prints the plan");
    cr_assert_gt(json_array_size(json_object_get(j, "loses_route")), 0);
    json_decref(j);
    cr_assert_eq(sbctl("provider", "disable", "anthropic", "--dry-run", "--force"), 0, "%s", err);
    cr_assert(strstr(out, "loses its route: documentation"), "%s", out);
    cr_assert_eq(revision_of(&S), 2, "no dry run commits");

    server_stop(&S, SIGKILL);
    cr_assert_eq(sbctl("status"), 3);
    cr_assert(strstr(err, "cannot reach"), "%s", err);
}

Test(sbctl, help_and_man_page_cover_every_command)
{
    const char *short_form[] = {getenv("SBCTL_BIN"), "-h", NULL};
    cr_assert_eq(run_program(short_form, NULL, out, sizeof out, err, sizeof err), 0, "-h: %s", err);
    cr_assert(strncmp(out, "usage: sbctl", 12) == 0, "-h prints the usage on stdout:\n%s", out);
    const char *argv[] = {getenv("SBCTL_BIN"), "--help", NULL};
    cr_assert_eq(run_program(argv, NULL, out, sizeof out, err, sizeof err), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/man/sbctl.1", getenv("SB_SOURCE_ROOT"));
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    static char man[1 << 16];
    man[fread(man, 1, sizeof man - 1, f)] = '\0';
    fclose(f);
    char *w = man; /* roff writes a dash as \- */
    for (const char *r = man; *r; r++)
        if (!(r[0] == '\\' && r[1] == '-'))
            *w++ = *r;
    *w = '\0';
    const char *commands[] = {
        "status",   "topology",    "providers",    "provider enable", "roles",    "role get",
        "role set", "role delete", "failback set", "failback get",    "route",    "history",
        "rollback", "audit",       "export",       "apply",           "--watch",  "--dry-run",
        "--force",  "--reason",    "--json",       "--token-file",    "--tenant", "--all"};
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        cr_assert(strstr(out, commands[i]), "--help lacks %s", commands[i]);
        cr_assert(strstr(man, commands[i]), "the man page lacks %s", commands[i]);
    }
}

Test(sbctl, a_write_that_changes_nothing_says_so)
{
    server_start(&S, NULL);
    cr_assert_eq(sbctl("provider", "enable", "anthropic"), 0, "%s", err);
    cr_assert(strstr(out, "provider anthropic unchanged (revision 1)"), "%s", out);
    cr_assert_eq(revision_of(&S), 1, "nothing was recorded");
    cr_assert_eq(sbctl("failback", "set", "anthropic/claude-opus-4-7", "anthropic/claude-opus-4-6"),
                 0, "%s", err);
    cr_assert(strstr(out, "failback of anthropic/claude-opus-4-7 unchanged (revision 1)"), "%s",
              out);
    cr_assert_eq(revision_of(&S), 1);
}

/* A plan lists its first 100 changes and counts them all; --all lists every one. */
Test(sbctl, a_large_plan_is_summed_up)
{
    static const char *const extra[] = {"--no-demo", NULL};
    server_start(&S, extra);
    json_t *ops = json_array();
    json_array_append_new(ops, json_pack("{s:s, s:s, s:{s:b}}", "op", "put", "key", "providers/a",
                                         "value", "enabled", 1));
    for (int r = 0; r < 130; r++) {
        char key[32], model[32];
        snprintf(key, sizeof key, "roles/r%03d", r);
        snprintf(model, sizeof model, "a/m%d", r);
        json_array_append_new(ops, json_pack("{s:s, s:s, s:{s:s, s:[s]}}", "op", "put", "key", key,
                                             "value", "primary", model, "fallbacks", "b/x"));
    }
    json_t *body = json_pack("{s:o}", "ops", ops);
    char *text = json_dumps(body, JSON_COMPACT);
    resp r = admin(&S, "POST", "/admin/txn", text, NULL);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    resp_free(&r);
    free(text);
    json_decref(body);

    cr_assert_eq(sbctl("provider", "disable", "a", "--dry-run"), 0, "%s", err);
    cr_assert(strstr(out, "130 answers change: 130 for everyone"), "%s", out);
    cr_assert(strstr(out, "... and 30 more (--all lists every change)"), "%s", out);
    cr_assert(strstr(out, "r099") && !strstr(out, "r100"), "the first 100 are listed:\n%s", out);
    cr_assert_eq(sbctl("provider", "disable", "a", "--dry-run", "--all"), 0, "%s", err);
    cr_assert(strstr(out, "r129") && !strstr(out, "more ("), "--all lists them all:\n%s", out);
}
