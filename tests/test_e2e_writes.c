/*
 * End to end: what a write records. Audit pages hold whole revisions and reach revision 1;
 * `fallbacks` is capped; a write that changes nothing records nothing; and the no-route guard
 * covers answers a write creates.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static server S;

static void up(void)
{
    server_start(&S, NULL); /* the demo topology, seeded at revision 1 (13 documents) */
}

static void down(void)
{
    server_cleanup(&S);
}

TestSuite(writes, .init = up, .fini = down, .timeout = 60);

static json_t *get_json(const char *path)
{
    resp r = admin(&S, "GET", path, NULL, NULL);
    cr_assert_eq(r.status, 200, "%s: %ld %s", path, r.status, r.body);
    json_t *j = json_incref(r.json);
    resp_free(&r);
    return j;
}

static void write_ok(const char *method, const char *path, const char *body, long status)
{
    resp r = admin(&S, method, path, body, NULL);
    cr_assert_eq(r.status, status, "%s %s: %ld %s", method, path, r.status, r.body);
    resp_free(&r);
}

static const char *const batch3 =
    "{\"ops\":[{\"op\":\"put\",\"key\":\"providers/mistral\",\"value\":{\"enabled\":true}},"
    "{\"op\":\"patch\",\"key\":\"providers/openai\",\"value\":{\"description\":\"x\"}},"
    "{\"op\":\"put\",\"key\":\"models/mistral-large\",\"value\":{\"provider\":\"mistral\"}}]}";

/* ---- audit paging ---- */

Test(writes, audit_pages_never_split_a_revision)
{
    write_ok("POST", "/admin/txn", batch3, 200); /* revision 2: three entries */
    for (int i = 0; i < 4; i++)
        write_ok("PATCH", "/admin/providers/mistral",
                 i % 2 ? "{\"enabled\":true}" : "{\"enabled\":false}", 200);
    long long last = revision_of(&S);
    cr_assert_eq(last, 6);

    /* The defect: one entry of revision 2, and a next that skipped the other two. */
    json_t *page = get_json("/admin/audit?since=1&limit=1");
    json_t *entries = json_object_get(page, "entries");
    cr_assert_eq(json_array_size(entries), 3, "the whole of revision 2");
    cr_assert_eq(json_integer_value(json_object_get(page, "next")), 2);
    json_decref(page);

    /* Everything, from the start: the reference to compare the pages with. */
    json_t *all = get_json("/admin/audit?since=0&limit=1000");
    size_t total = json_array_size(json_object_get(all, "entries"));
    cr_assert_eq(total, 13 + 3 + 4);
    cr_assert(json_is_null(json_object_get(all, "next")));

    /* Page through with limit 1 from since=0 until next is null. */
    json_t *seen = json_array();
    long long since = 0;
    int pages = 0;
    for (;;) {
        char path[96];
        snprintf(path, sizeof path, "/admin/audit?since=%lld&limit=1", since);
        page = get_json(path);
        entries = json_object_get(page, "entries");
        cr_assert_gt(json_array_size(entries), 0, "%s is empty", path);
        long long first =
            json_integer_value(json_object_get(json_array_get(entries, 0), "revision"));
        long long end = json_integer_value(
            json_object_get(json_array_get(entries, json_array_size(entries) - 1), "revision"));
        cr_assert_eq(first, end, "limit 1: one revision a page");
        cr_assert_eq(first, since + 1, "no revision skipped");
        json_array_extend(seen, entries);
        pages++;
        json_t *next = json_object_get(page, "next");
        if (json_is_null(next)) {
            cr_assert_eq(end, last, "next is null only at the newest revision");
            json_decref(page);
            break;
        }
        cr_assert_eq(json_integer_value(next), end);
        since = end;
        json_decref(page);
    }
    cr_assert_eq(pages, 6);
    cr_assert(json_equal(seen, json_object_get(all, "entries")),
              "every entry of every revision exactly once, in order");
    json_decref(seen);
    json_decref(all);

    /* Revision 1 stays reachable although the audit is longer than the limit. */
    page = get_json("/admin/audit?since=0&limit=5");
    entries = json_object_get(page, "entries");
    cr_assert_eq(json_array_size(entries), 13, "the whole seed, revision 1");
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(entries, 0), "revision")), 1);
    cr_assert_eq(json_integer_value(json_object_get(page, "next")), 1);
    json_decref(page);

    /* Without since: the newest page, whole revisions, newest last. */
    page = get_json("/admin/audit?limit=2");
    entries = json_object_get(page, "entries");
    cr_assert_eq(json_array_size(entries), 2);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(entries, 0), "revision")), 5);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(entries, 1), "revision")), 6);
    cr_assert(json_is_null(json_object_get(page, "next")));
    json_decref(page);
    write_ok("POST", "/admin/txn",
             "{\"ops\":[{\"op\":\"put\",\"key\":\"providers/cohere\",\"value\":"
             "{\"enabled\":true}},{\"op\":\"put\",\"key\":\"models/command-r\",\"value\":"
             "{\"provider\":\"cohere\"}},{\"op\":\"delete\",\"key\":\"models/mistral-large\"}]}",
             200);
    page = get_json("/admin/audit?limit=1");
    cr_assert_eq(json_array_size(json_object_get(page, "entries")), 3,
                 "the newest revision whole, though it is over the limit");
    json_decref(page);
}

Test(writes, history_pages_walk_every_version)
{
    for (int i = 0; i < 5; i++)
        write_ok("PATCH", "/admin/providers/openai",
                 i % 2 ? "{\"enabled\":true}" : "{\"enabled\":false}", 200);
    long long since = 0, expect = 1;
    int versions = 0;
    do {
        char path[96];
        snprintf(path, sizeof path, "/admin/providers/openai/history?since=%lld&limit=2", since);
        json_t *page = get_json(path);
        size_t i;
        json_t *v;
        json_array_foreach (json_object_get(page, "versions"), i, v) {
            long long rev = json_integer_value(json_object_get(v, "revision"));
            cr_assert_eq(rev, expect, "%s: revision %lld, expected %lld", path, rev, expect);
            expect++;
            versions++;
        }
        json_t *next = json_object_get(page, "next");
        since = json_is_null(next) ? 0 : json_integer_value(next);
        json_decref(page);
    } while (since != 0);
    cr_assert_eq(versions, 6);
}

/* ---- the fallbacks cap ---- */

static char *role_with(int fallbacks)
{
    static char body[4096];
    int n = snprintf(body, sizeof body, "{\"primary\":\"openai/gpt-5.3-codex\",\"fallbacks\":[");
    for (int i = 0; i < fallbacks; i++)
        n += snprintf(body + n, sizeof body - (size_t)n, "%s\"kimi-k2.5-%d\"", i ? "," : "", i);
    snprintf(body + n, sizeof body - (size_t)n, "]}");
    return body;
}

static void refused_422(const char *path, const char *body, const char *pointer)
{
    long long rev = revision_of(&S);
    resp r = admin(&S, "PUT", path, body, NULL);
    cr_assert_eq(r.status, 422, "%s: %ld %s", path, r.status, r.body);
    cr_assert_str_eq(header(&r, "content-type"), "application/problem+json");
    json_t *e = json_array_get(json_object_get(r.json, "errors"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(e, "path")), pointer, "%s", r.body);
    cr_assert_not_null(strstr(json_string_value(json_object_get(e, "message")), "32"));
    resp_free(&r);
    cr_assert_eq(revision_of(&S), rev, "a refused write changes nothing");
}

Test(writes, fallbacks_are_capped_at_32)
{
    refused_422("/admin/roles/wide", role_with(33), "/fallbacks");
    char tenant[4200];
    snprintf(tenant, sizeof tenant, "{\"roles\":{\"security\":%s}}", role_with(33));
    refused_422("/admin/tenants/acme", tenant, "/roles/security/fallbacks");
    write_ok("PUT", "/admin/roles/wide", role_with(32), 201);
    resp r = admin(&S, "PATCH", "/admin/roles/wide", "{\"fallbacks\":[\"kimi-k2.5\"]}", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    resp_free(&r);
}

/* ---- writes that change nothing ---- */

typedef struct record {
    long long revision;
    json_t *audit, *history;
    double writes, builds;
} record;

/* What a write could leave behind: the revision, the audit, the history of key, the counters. */
static record recorded(const char *key)
{
    char path[200];
    snprintf(path, sizeof path, "/admin/%s/history?limit=1000", key);
    return (record){revision_of(&S), get_json("/admin/audit?since=0&limit=1000"), get_json(path),
                    metric_now(&S, "switchboard_writes_total"),
                    metric_now(&S, "switchboard_snapshot_builds_total")};
}

static void same_record(const char *key, record before)
{
    record now = recorded(key);
    cr_assert_eq(now.revision, before.revision, "the revision moved");
    cr_assert(json_equal(now.audit, before.audit), "the audit grew");
    cr_assert(json_equal(now.history, before.history), "%s's history grew", key);
    cr_assert_eq(now.writes, before.writes, "a commit was counted");
    cr_assert_eq(now.builds, before.builds, "a snapshot was built");
    json_decref(now.audit);
    json_decref(now.history);
    json_decref(before.audit);
    json_decref(before.history);
}

/* A write that must change nothing: 200, "changed": false, the current revision. */
static void unchanged(const char *method, const char *path, const char *body, const char *key)
{
    record before = recorded(key);
    resp r = admin(&S, method, path, body, NULL);
    cr_assert_eq(r.status, 200, "%s %s: %ld %s", method, path, r.status, r.body);
    cr_assert(json_is_false(json_object_get(r.json, "changed")), "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "revision")), before.revision);
    char rev[24];
    snprintf(rev, sizeof rev, "%lld", before.revision);
    cr_assert_str_eq(header(&r, "x-switchboard-revision"), rev);
    resp_free(&r);
    same_record(key, before);
}

Test(writes, a_write_that_changes_nothing_records_nothing)
{
    /* A real change first, so that documents are at different revisions. */
    resp r = admin(&S, "PATCH", "/admin/providers/openai", "{\"enabled\":false}", NULL);
    cr_assert_eq(r.status, 200);
    cr_assert(json_is_true(json_object_get(r.json, "changed")), "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "revision")), 2);
    resp_free(&r);

    unchanged("PATCH", "/admin/providers/openai", "{\"enabled\":false}", "providers/openai");
    unchanged("PUT", "/admin/providers/openai",
              "{\"enabled\":false,\"description\":\"OpenAI API\"}", "providers/openai");
    unchanged("PUT", "/admin/failback/kimi-k2.5", "{\"next\":null}", "failback/kimi-k2.5");
    unchanged("POST", "/admin/providers/openai/rollback", "{\"to\":2}", "providers/openai");
    unchanged("POST", "/admin/txn",
              "{\"ops\":[{\"op\":\"patch\",\"key\":\"providers/openai\",\"value\":{\"enabled\":"
              "false}},{\"op\":\"put\",\"key\":\"models/kimi-k2.5\",\"value\":{\"provider\":"
              "\"workers-ai\",\"description\":\"workers-ai/@cf/moonshotai/kimi-k2.5\"}}]}",
              "providers/openai");

    /* The answer names the document as it stands. */
    r = admin(&S, "PATCH", "/admin/providers/anthropic", "{}", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "key")), "providers/anthropic");
    cr_assert(json_is_true(json_object_get(json_object_get(r.json, "value"), "enabled")));
    cr_assert_str_eq(header(&r, "x-switchboard-revision"), "2");
    resp_free(&r);

    /* No log line pretends a commit. */
    const char *hs[] = {"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                        NULL};
    r = admin(&S, "PATCH", "/admin/providers/openai", "{\"enabled\":false}", hs);
    cr_assert(json_is_false(json_object_get(r.json, "changed")));
    resp_free(&r);
    const char *log = server_log(&S), *line = strstr(log, "0af7651916cd43dd8448eb211c80319c");
    cr_assert_not_null(line, "the write is logged: %s", log);
    while (line > log && line[-1] != '\n')
        line--;
    cr_assert(strstr(line, "write_unchanged") && !strstr(line, "\"event\":\"write\""), "%.300s",
              line);
}

Test(writes, conditions_come_first_and_dry_runs_show_an_empty_plan)
{
    long long rev = revision_of(&S);
    const char *stale[] = {"If-Match: \"r7\"", NULL};
    resp r = admin(&S, "PATCH", "/admin/providers/openai", "{\"enabled\":true}", stale);
    cr_assert_eq(r.status, 412, "a no-op still checks If-Match: %s", r.body);
    resp_free(&r);
    const char *fresh[] = {"If-Match: \"r1\"", NULL};
    r = admin(&S, "PATCH", "/admin/providers/openai", "{\"enabled\":true}", fresh);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(json_is_false(json_object_get(r.json, "changed")));
    resp_free(&r);
    const char *create_only[] = {"If-None-Match: *", NULL};
    r = admin(&S, "PUT", "/admin/providers/openai",
              "{\"enabled\":true,\"description\":\"OpenAI API\"}", create_only);
    cr_assert_eq(r.status, 412, "%s", r.body);
    resp_free(&r);

    r = admin(&S, "PATCH", "/admin/providers/openai?dry_run=1", "{\"enabled\":true}", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(json_is_true(json_object_get(r.json, "dry_run")));
    cr_assert_eq(json_integer_value(json_object_get(r.json, "revision")), rev);
    cr_assert_eq(json_array_size(json_object_get(r.json, "changes")), 0, "%s", r.body);
    cr_assert_eq(json_array_size(json_object_get(r.json, "loses_route")), 0);
    resp_free(&r);
    cr_assert_eq(revision_of(&S), rev);
}

Test(writes, a_batch_records_only_the_operations_that_change)
{
    record before = recorded("providers/openai");
    resp r = admin(&S, "POST", "/admin/txn",
                   "{\"ops\":[{\"op\":\"patch\",\"key\":\"providers/openai\",\"value\":"
                   "{\"enabled\":true}},{\"op\":\"patch\",\"key\":\"providers/anthropic\","
                   "\"value\":{\"enabled\":false}}]}",
                   NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(json_is_true(json_object_get(r.json, "changed")));
    cr_assert_eq(json_integer_value(json_object_get(r.json, "revision")), before.revision + 1);
    json_t *results = json_object_get(r.json, "results");
    cr_assert(json_is_false(json_object_get(json_array_get(results, 0), "changed")));
    cr_assert(json_is_true(json_object_get(json_array_get(results, 1), "changed")));
    resp_free(&r);
    cr_assert_eq(revision_of(&S), before.revision + 1);

    json_t *page = get_json("/admin/audit?limit=1");
    json_t *entries = json_object_get(page, "entries");
    cr_assert_eq(json_array_size(entries), 1, "only the changing operation is in the audit");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(entries, 0), "key")),
                     "providers/anthropic");
    json_decref(page);
    json_t *history = get_json("/admin/providers/openai/history");
    cr_assert(json_equal(history, before.history), "openai's history is untouched");
    json_decref(history);
    json_decref(before.audit);
    json_decref(before.history);
}

/* ---- the no-route guard and the answers a write creates ---- */

static json_t *has_route_loss(json_t *lost, const char *role, const char *tenant)
{
    size_t i;
    json_t *l;
    json_array_foreach (lost, i, l) {
        const char *t = json_string_value(json_object_get(l, "tenant"));
        if (strcmp(json_string_value(json_object_get(l, "role")), role) == 0 &&
            (tenant ? t && strcmp(t, tenant) == 0 : t == NULL))
            return l;
    }
    return NULL;
}

static void switch_off_anthropic_and_openai(void)
{
    write_ok("POST", "/admin/txn?force=1",
             "{\"ops\":[{\"op\":\"patch\",\"key\":\"providers/openai\",\"value\":{\"enabled\":"
             "false}},{\"op\":\"patch\",\"key\":\"providers/anthropic\",\"value\":{\"enabled\":"
             "false}}]}",
             200);
}

static const char *const triage =
    "{\"primary\":\"openai/gpt-5.3-codex\",\"fallbacks\":[\"anthropic/claude-opus-4-6\"]}";

Test(writes, a_new_role_with_no_route_is_refused_unless_forced)
{
    switch_off_anthropic_and_openai();
    long long rev = revision_of(&S);
    resp r = admin(&S, "PUT", "/admin/roles/triage", triage, NULL);
    cr_assert_eq(r.status, 409, "%s", r.body);
    json_t *lost = json_object_get(r.json, "loses_route");
    cr_assert_not_null(has_route_loss(lost, "triage", NULL), "%s", r.body);
    cr_assert_not_null(has_route_loss(lost, "triage", "acme"), "and acme's view of it");
    resp_free(&r);
    cr_assert_eq(revision_of(&S), rev, "nothing written");
    r = admin(&S, "GET", "/admin/roles/triage", NULL, NULL);
    cr_assert_eq(r.status, 404);
    resp_free(&r);

    r = admin(&S, "PUT", "/admin/roles/triage?dry_run=1", triage, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_not_null(has_route_loss(json_object_get(r.json, "loses_route"), "triage", NULL),
                       "a dry run lists it: %s", r.body);
    resp_free(&r);

    write_ok("PUT", "/admin/roles/triage?force=1", triage, 201);
    r = request(&S, "GET", "/config/triage", NULL, NULL);
    cr_assert(json_is_null(json_object_get(r.json, "primary")), "%s", r.body);
    resp_free(&r);

    /* An answer that had no route before does not block writes that leave it so. */
    write_ok("PATCH", "/admin/providers/workers-ai", "{\"description\":\"Workers AI\"}", 200);
    write_ok("PUT", "/admin/tenants/gamma", "{\"description\":\"a new tenant\"}", 201);
    write_ok("PATCH", "/admin/roles/triage", "{\"description\":\"still no route\"}", 200);
}

Test(writes, a_new_role_with_no_route_for_one_tenant_is_refused)
{
    /* acme switches openai off: a role only openai serves has no route for acme. */
    resp r = admin(&S, "PUT", "/admin/roles/codex",
                   "{\"primary\":\"openai/gpt-5.3-codex\",\"fallbacks\":[]}", NULL);
    cr_assert_eq(r.status, 409, "%s", r.body);
    json_t *lost = json_object_get(r.json, "loses_route");
    cr_assert_eq(json_array_size(lost), 1, "%s", r.body);
    cr_assert_not_null(has_route_loss(lost, "codex", "acme"));
    resp_free(&r);
}

Test(writes, a_new_tenant_that_switches_off_a_roles_only_providers_is_refused)
{
    /* documentation: kimi-k2.5 (workers-ai), then anthropic/claude-sonnet-4-6. */
    const char *beta =
        "{\"providers\":{\"workers-ai\":{\"enabled\":false},\"anthropic\":{\"enabled\":false}}}";
    long long rev = revision_of(&S);
    resp r = admin(&S, "PUT", "/admin/tenants/beta", beta, NULL);
    cr_assert_eq(r.status, 409, "%s", r.body);
    json_t *lost = json_object_get(r.json, "loses_route");
    cr_assert_eq(json_array_size(lost), 1, "%s", r.body);
    cr_assert_not_null(has_route_loss(lost, "documentation", "beta"), "%s", r.body);
    resp_free(&r);
    cr_assert_eq(revision_of(&S), rev);
    r = request(&S, "GET", "/config/documentation?tenant=beta", NULL, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "primary")), "kimi-k2.5",
                     "beta still reads the global answer");
    resp_free(&r);

    /* A tenant role override with no route is refused the same way. */
    r = admin(&S, "PUT", "/admin/tenants/beta",
              "{\"roles\":{\"security\":{\"primary\":\"openai/gpt-5.3-codex\",\"fallbacks\":[]}},"
              "\"providers\":{\"openai\":{\"enabled\":false}}}",
              NULL);
    cr_assert_eq(r.status, 409, "%s", r.body);
    cr_assert_not_null(has_route_loss(json_object_get(r.json, "loses_route"), "security", "beta"));
    resp_free(&r);
    write_ok("PUT", "/admin/tenants/beta?force=1", beta, 201);
}
