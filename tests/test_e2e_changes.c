/* End to end: history, rollback, the audit log and trace ids (change management). */
#include <criterion/criterion.h>
#include <string.h>

#include "harness.h"

static server S;

static void up(void)
{
    server_start(&S, NULL); /* the demo topology, seeded at revision 1 */
}

static void down(void)
{
    server_cleanup(&S);
}

TestSuite(changes, .init = up, .fini = down, .timeout = 120);

static const char *const trace =
    "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

static void flip(const char *enabled, const char *reason)
{
    char why[128], body[64];
    snprintf(why, sizeof why, "X-Change-Reason: %s", reason);
    snprintf(body, sizeof body, "{\"enabled\":%s}", enabled);
    const char *hs[] = {why, trace, NULL};
    resp r = admin(&S, "PATCH", "/admin/providers/openai", body, hs);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_not_null(strstr(header(&r, "traceparent"), "4bf92f3577b34da6a3ce929d0e0e4736"),
                       "the write answers with its trace");
    resp_free(&r);
}

Test(changes, history_lists_every_version_oldest_first)
{
    flip("false", "openai outage");
    flip("true", "openai back");
    resp r = admin(&S, "GET", "/admin/providers/openai/history", NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "key")), "providers/openai");
    json_t *v = json_object_get(r.json, "versions");
    cr_assert_eq(json_array_size(v), 3);
    json_t *seed = json_array_get(v, 0), *off = json_array_get(v, 1), *on = json_array_get(v, 2);
    cr_assert_eq(json_integer_value(json_object_get(seed, "revision")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(seed, "actor")), "seed");
    cr_assert_str_eq(json_string_value(json_object_get(off, "actor")), "admin");
    cr_assert_str_eq(json_string_value(json_object_get(off, "reason")), "openai outage");
    cr_assert_str_eq(json_string_value(json_object_get(off, "op")), "patch");
    cr_assert_str_eq(json_string_value(json_object_get(off, "trace_id")),
                     "4bf92f3577b34da6a3ce929d0e0e4736");
    cr_assert(json_is_false(json_object_get(json_object_get(off, "value"), "enabled")));
    cr_assert(json_is_true(json_object_get(json_object_get(on, "value"), "enabled")));
    cr_assert(json_string_length(json_object_get(on, "time")) >= 20);
    cr_assert(json_is_null(json_object_get(r.json, "next")));
    resp_free(&r);

    /* Pages: two at a time. */
    r = admin(&S, "GET", "/admin/providers/openai/history?limit=2", NULL, NULL);
    cr_assert_eq(json_array_size(json_object_get(r.json, "versions")), 2);
    json_int_t next = json_integer_value(json_object_get(r.json, "next"));
    cr_assert_gt(next, 0);
    resp_free(&r);
    char path[128];
    snprintf(path, sizeof path, "/admin/providers/openai/history?limit=2&since=%lld",
             (long long)next);
    r = admin(&S, "GET", path, NULL, NULL);
    cr_assert_eq(json_array_size(json_object_get(r.json, "versions")), 1);
    cr_assert(json_is_null(json_object_get(r.json, "next")));
    resp_free(&r);

    r = admin(&S, "GET", "/admin/providers/nobody/history", NULL, NULL);
    cr_assert_eq(r.status, 404);
    resp_free(&r);
    r = admin(&S, "GET", "/admin/providers/openai/history?limit=0", NULL, NULL);
    cr_assert_eq(r.status, 400);
    resp_free(&r);
}

Test(changes, deletes_are_kept_and_rollback_restores)
{
    resp r = admin(&S, "DELETE", "/admin/roles/security", NULL, NULL);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    r = request(&S, "GET", "/config/security", NULL, NULL);
    cr_assert_eq(r.status, 404);
    resp_free(&r);

    r = admin(&S, "GET", "/admin/roles/security/history", NULL, NULL);
    json_t *last = json_array_get(json_object_get(r.json, "versions"), 1);
    cr_assert_str_eq(json_string_value(json_object_get(last, "op")), "delete");
    cr_assert(json_is_null(json_object_get(last, "value")));
    json_int_t deleted_at = json_integer_value(json_object_get(last, "revision"));
    resp_free(&r);

    long long rev = revision_of(&S);
    r = admin(&S, "POST", "/admin/roles/security/rollback", "{\"to\":1}", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "revision")), rev + 1,
                 "a rollback is a new revision");
    resp_free(&r);
    r = request(&S, "GET", "/config/security", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "primary")),
                     "anthropic/claude-opus-4-7");
    resp_free(&r);

    /* Rolling back to the delete deletes again. */
    char body[64];
    snprintf(body, sizeof body, "{\"to\":%lld}", (long long)deleted_at);
    r = admin(&S, "POST", "/admin/roles/security/rollback", body, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    resp_free(&r);
    r = request(&S, "GET", "/config/security", NULL, NULL);
    cr_assert_eq(r.status, 404);
    resp_free(&r);

    r = admin(&S, "GET", "/admin/roles/security/history", NULL, NULL);
    json_t *v = json_object_get(r.json, "versions");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(v, 2), "op")), "rollback");
    resp_free(&r);
}

Test(changes, rollback_to_a_revision_the_document_never_had)
{
    long long rev = revision_of(&S);
    resp r = admin(&S, "POST", "/admin/roles/security/rollback", "{\"to\":2}", NULL);
    cr_assert_eq(r.status, 404, "%s", r.body);
    cr_assert_str_eq(header(&r, "content-type"), "application/problem+json");
    resp_free(&r);
    const char *bad[] = {"{\"to\":0}", "{\"to\":\"1\"}", "{}", "{\"to\":1,\"x\":2}", "[1]"};
    for (int i = 0; i < 5; i++) {
        r = admin(&S, "POST", "/admin/roles/security/rollback", bad[i], NULL);
        cr_assert_eq(r.status, 422, "%s: %s", bad[i], r.body);
        resp_free(&r);
    }
    cr_assert_eq(revision_of(&S), rev, "failed rollbacks change nothing");
}

Test(changes, audit_log)
{
    flip("false", "first");
    const char *no_trace[] = {"X-Change-Reason: second", NULL};
    resp w = admin(&S, "PUT", "/admin/providers/mistral", "{\"enabled\":true}", no_trace);
    cr_assert_eq(w.status, 201);
    const char *tp = header(&w, "traceparent");
    cr_assert_not_null(tp, "a trace id is made when the request had none");
    char made[33];
    memcpy(made, tp + 3, 32);
    made[32] = '\0';
    resp_free(&w);

    resp r = admin(&S, "GET", "/admin/audit", NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *e = json_object_get(r.json, "entries");
    size_t n = json_array_size(e);
    cr_assert_geq(n, 3);
    json_t *newest = json_array_get(e, n - 1), *before = json_array_get(e, n - 2);
    cr_assert_str_eq(json_string_value(json_object_get(newest, "key")), "providers/mistral");
    cr_assert_str_eq(json_string_value(json_object_get(newest, "op")), "put");
    cr_assert_str_eq(json_string_value(json_object_get(newest, "reason")), "second");
    cr_assert_str_eq(json_string_value(json_object_get(newest, "actor")), "admin");
    cr_assert_str_eq(json_string_value(json_object_get(newest, "trace_id")), made);
    cr_assert_str_eq(json_string_value(json_object_get(before, "trace_id")),
                     "4bf92f3577b34da6a3ce929d0e0e4736");
    cr_assert_lt(json_integer_value(json_object_get(before, "revision")),
                 json_integer_value(json_object_get(newest, "revision")), "newest last");
    resp_free(&r);

    r = admin(&S, "GET", "/admin/audit?since=1&limit=1", NULL, NULL);
    e = json_object_get(r.json, "entries");
    cr_assert_eq(json_array_size(e), 1);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(e, 0), "revision")), 2);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "next")), 2);
    resp_free(&r);

    r = request(&S, "GET", "/admin/audit", NULL, NULL);
    cr_assert_eq(r.status, 401, "the audit log needs an admin token");
    resp_free(&r);
}

static json_t *find_change(json_t *changes, const char *role, const char *tenant)
{
    size_t i;
    json_t *c;
    json_array_foreach (changes, i, c) {
        const char *t = json_string_value(json_object_get(c, "tenant"));
        if (strcmp(json_string_value(json_object_get(c, "role")), role) == 0 &&
            ((t == NULL && tenant == NULL) || (t && tenant && strcmp(t, tenant) == 0)))
            return c;
    }
    return NULL;
}

Test(changes, dry_run_shows_the_plan_and_commits_nothing)
{
    long long rev = revision_of(&S);
    resp before = request(&S, "GET", "/topology", NULL, NULL);
    resp r = admin(&S, "PATCH", "/admin/providers/openai?dry_run=1", "{\"enabled\":false}", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(json_is_true(json_object_get(r.json, "dry_run")));
    cr_assert_eq(json_integer_value(json_object_get(r.json, "revision")), rev);
    json_t *changes = json_object_get(r.json, "changes");
    json_t *sec = find_change(changes, "security", NULL);
    cr_assert_not_null(sec, "security loses openai from its chain: %s", r.body);
    cr_assert_eq(json_array_size(json_object_get(json_object_get(sec, "before"), "fallbacks")), 3);
    cr_assert_eq(json_array_size(json_object_get(json_object_get(sec, "after"), "fallbacks")), 2);
    cr_assert_null(find_change(changes, "documentation", NULL), "unchanged answers are not listed");
    cr_assert_null(find_change(changes, "security", "acme"), "acme has openai off already");
    cr_assert_null(header(&r, "etag"));
    resp_free(&r);

    /* Every kind of write takes it. */
    const char *writes[][3] = {
        {"PUT", "/admin/roles/new?dry_run=1", "{\"primary\":\"x/y\"}"},
        {"DELETE", "/admin/roles/security?dry_run=1", NULL},
        {"POST", "/admin/txn?dry_run=1",
         "{\"ops\":[{\"op\":\"delete\",\"key\":\"roles/performance\"}]}"},
        {"POST", "/admin/roles/security/rollback?dry_run=1", "{\"to\":1}"},
    };
    for (int i = 0; i < 4; i++) {
        r = admin(&S, writes[i][0], writes[i][1], writes[i][2], NULL);
        cr_assert_eq(r.status, 200, "%s %s: %s", writes[i][0], writes[i][1], r.body);
        cr_assert(json_is_true(json_object_get(r.json, "dry_run")));
        resp_free(&r);
    }
    r = admin(&S, "DELETE", "/admin/roles/security?dry_run=1", NULL, NULL);
    json_t *gone = find_change(json_object_get(r.json, "changes"), "security", NULL);
    cr_assert(json_is_null(json_object_get(gone, "after")), "a deleted role's answer goes away");
    resp_free(&r);

    resp after = request(&S, "GET", "/topology", NULL, NULL);
    cr_assert_str_eq(after.body, before.body, "a dry run commits nothing");
    cr_assert_eq(revision_of(&S), rev);
    resp_free(&before);
    resp_free(&after);
}

Test(changes, a_tenant_losing_its_route_blocks_too)
{
    /* acme has openai off; with anthropic and workers-ai off too, acme's security role has no
     * route left, while the global one still has openai. */
    resp r = admin(&S, "PATCH", "/admin/providers/anthropic", "{\"enabled\":false}", NULL);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    r = admin(&S, "PATCH", "/admin/providers/workers-ai", "{\"enabled\":false}", NULL);
    cr_assert_eq(r.status, 409, "%s", r.body);
    json_t *lost = json_object_get(r.json, "loses_route");
    size_t i;
    json_t *l;
    bool acme = false, global_security = false;
    json_array_foreach (lost, i, l) {
        const char *t = json_string_value(json_object_get(l, "tenant"));
        const char *role = json_string_value(json_object_get(l, "role"));
        acme = acme || (t && strcmp(t, "acme") == 0 && strcmp(role, "security") == 0);
        global_security = global_security || (t == NULL && strcmp(role, "security") == 0);
    }
    cr_assert(acme, "acme's security role is named: %s", r.body);
    cr_assert_not(global_security, "the global security role keeps openai");
    resp_free(&r);
}

Test(changes, checks_across_documents)
{
    long long rev = revision_of(&S);
    /* The demo chain is opus-4-7 -> opus-4-6 -> gpt-5.3-codex -> kimi-k2.5 -> null. */
    resp r = admin(&S, "PUT", "/admin/failback/kimi-k2.5",
                   "{\"next\":\"anthropic/claude-opus-4-7\"}", NULL);
    cr_assert_eq(r.status, 422, "%s", r.body);
    json_t *e = json_array_get(json_object_get(r.json, "errors"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(e, "path")), "/next");
    cr_assert_not_null(strstr(json_string_value(json_object_get(e, "message")), "loop"));
    resp_free(&r);

    r = admin(&S, "PUT", "/admin/tenants/acme",
              "{\"roles\":{\"nosuchrole\":{\"primary\":\"a/b\"}}}", NULL);
    cr_assert_eq(r.status, 422, "%s", r.body);
    e = json_array_get(json_object_get(r.json, "errors"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(e, "path")), "/roles/nosuchrole");
    resp_free(&r);

    r = admin(&S, "POST", "/admin/txn",
              "{\"ops\":[{\"op\":\"put\",\"key\":\"providers/x\",\"value\":{\"enabled\":true}},"
              "{\"op\":\"put\",\"key\":\"failback/a/1\",\"value\":{\"next\":\"a/1\"}}]}",
              NULL);
    cr_assert_eq(r.status, 422, "%s", r.body);
    e = json_array_get(json_object_get(r.json, "errors"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(e, "path")), "/ops/1/value/next");
    resp_free(&r);
    cr_assert_eq(revision_of(&S), rev, "rejected writes change nothing");

    /* One provider for a whole chain is allowed, with a warning. */
    r = admin(
        &S, "PUT", "/admin/roles/fragile",
        "{\"primary\":\"anthropic/claude-opus-4-7\",\"fallbacks\":[\"anthropic/claude-opus-4-6\"]}",
        NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    json_t *w = json_array_get(json_object_get(r.json, "warnings"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(w, "key")), "roles/fragile");
    cr_assert_not_null(strstr(json_string_value(json_object_get(w, "message")), "anthropic"));
    resp_free(&r);
}
