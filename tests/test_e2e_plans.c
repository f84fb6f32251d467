/*
 * End to end: tenants hold only the answers they shape, and plans are bounded. 150 roles over
 * the providers a, b and c; acme switches b off, globex overrides r000, and every role r1xx is
 * served by a alone, so switching a off takes their route.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static server S;

static json_t *put(const char *key, json_t *value)
{
    return json_pack("{s:s, s:s, s:o}", "op", "put", "key", key, "value", value);
}

static void up(void)
{
    static const char *const extra[] = {"--no-demo", NULL};
    server_start(&S, extra);
    json_t *ops = json_array();
    const char *providers[] = {"a", "b", "c"};
    char key[64], model[64], other[64];
    for (int p = 0; p < 3; p++) {
        snprintf(key, sizeof key, "providers/%s", providers[p]);
        json_array_append_new(ops, put(key, json_pack("{s:b}", "enabled", 1)));
    }
    for (int r = 0; r < 150; r++) {
        snprintf(key, sizeof key, "roles/r%03d", r);
        snprintf(model, sizeof model, "a/m%d", r);
        snprintf(other, sizeof other, "%s/m%d", r % 2 ? "b" : "c", r);
        json_array_append_new(
            ops, put(key, r < 100 ? json_pack("{s:s, s:[s]}", "primary", model, "fallbacks", other)
                                  : json_pack("{s:s}", "primary", model)));
    }
    json_array_append_new(
        ops, put("tenants/acme", json_pack("{s:{s:{s:b}}}", "providers", "b", "enabled", 0)));
    json_array_append_new(ops, put("tenants/globex", json_pack("{s:{s:{s:s}}}", "roles", "r000",
                                                               "primary", "c/own")));
    json_t *body = json_pack("{s:o}", "ops", ops);
    char *text = json_dumps(body, JSON_COMPACT);
    resp r = admin(&S, "POST", "/admin/txn", text, NULL);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    resp_free(&r);
    free(text);
    json_decref(body);
}

static void down(void)
{
    server_cleanup(&S);
}

TestSuite(plans, .init = up, .fini = down, .timeout = 60);

static resp get_ok(const char *path)
{
    resp r = request(&S, "GET", path, NULL, NULL);
    cr_assert_eq(r.status, 200, "%s: %ld %s", path, r.status, r.body);
    return r;
}

/* A tenant reads the global answer, ETag and bytes, wherever it does not shape the role. */
static void same_as_global(const char *role, const char *tenant)
{
    char path[128], global[128];
    snprintf(global, sizeof global, "/config/%s", role);
    snprintf(path, sizeof path, "/config/%s?tenant=%s", role, tenant);
    resp g = get_ok(global), t = get_ok(path);
    cr_assert_str_eq(t.body, g.body, "%s reads everyone's %s", tenant, role);
    cr_assert_str_eq(header(&t, "etag"), header(&g, "etag"));
    cr_assert(json_is_null(json_object_get(t.json, "tenant")), "%s", t.body);
    /* A workload moving between tenants keeps its cached copy. */
    char inm[128];
    snprintf(inm, sizeof inm, "If-None-Match: %s", header(&g, "etag"));
    const char *hdr[] = {inm, NULL};
    resp again = request(&S, "GET", path, NULL, hdr);
    cr_assert_eq(again.status, 304, "%s with everyone's ETag: %ld", path, again.status);
    resp_free(&again);
    resp_free(&g);
    resp_free(&t);
}

static void shaped_by(const char *role, const char *tenant)
{
    char path[128];
    snprintf(path, sizeof path, "/config/%s?tenant=%s", role, tenant);
    resp t = get_ok(path);
    cr_assert_str_eq(json_string_value(json_object_get(t.json, "tenant")), tenant, "%s", t.body);
    resp_free(&t);
}

Test(plans, a_tenant_names_itself_only_where_it_shapes_the_answer)
{
    shaped_by("r000", "globex"); /* its override */
    same_as_global("r002", "globex");
    shaped_by("r001", "acme");      /* b is a candidate, and acme switches b */
    same_as_global("r002", "acme"); /* a and c only */
    same_as_global("r120", "acme");
    same_as_global("r001", "nobody"); /* no document at all */
    /* The tenant's /config names the tenant and holds its answers, shaped or not. */
    resp c = get_ok("/config?tenant=acme");
    json_t *answers = json_object_get(c.json, "answers");
    cr_assert_str_eq(json_string_value(json_object_get(c.json, "tenant")), "acme");
    cr_assert_eq(json_object_size(answers), 150);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(answers, "r001"), "tenant")),
                     "acme");
    cr_assert(json_is_null(json_object_get(json_object_get(answers, "r002"), "tenant")));
    resp_free(&c);
    /* What the server holds: 150 global answers, acme's 50 (the odd r0xx) and globex's r000. */
    cr_assert_eq(metric_now(&S, "switchboard_answers{of=\"global\"}"), 150);
    cr_assert_eq(metric_now(&S, "switchboard_answers{of=\"tenants\"}"), 51);
}

static json_t *dry_run(const char *query)
{
    char path[128];
    snprintf(path, sizeof path, "/admin/providers/a?dry_run=1%s", query);
    resp r = admin(&S, "PUT", path, "{\"enabled\":false}", NULL);
    cr_assert_eq(r.status, 200, "%s: %ld %s", path, r.status, r.body);
    json_t *j = json_incref(r.json);
    resp_free(&r);
    return j;
}

static long long num(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

Test(plans, a_plan_counts_everything_and_lists_a_page)
{
    long long before = revision_of(&S);
    json_t *first = dry_run("");
    json_t *counts = json_object_get(first, "counts");
    /* Every role reads a: 150 global answers, and acme's 50 answers of its own (the odd r0xx,
     * whose b it switches). globex's r000 reads c only. The route is lost by the 50 r1xx, served
     * by a alone, and by acme's 50 odd r0xx, whose b acme keeps off. */
    cr_assert_eq(num(counts, "changes"), 200, "%s", json_dumps(counts, 0));
    cr_assert_eq(num(counts, "global"), 150);
    cr_assert_eq(num(json_object_get(counts, "tenants"), "acme"), 50);
    cr_assert_eq(json_object_size(json_object_get(counts, "tenants")), 1);
    cr_assert_eq(num(counts, "loses_route"), 100);
    cr_assert_eq(json_array_size(json_object_get(first, "changes")), 100, "one page");
    cr_assert_eq(num(first, "changes_from"), 0);
    cr_assert_eq(num(first, "changes_next"), 100);
    cr_assert_eq(json_array_size(json_object_get(first, "loses_route")), 100, "always complete");

    /* The pages, one after the other, are the whole plan, in the same order. */
    json_t *all = dry_run("&changes=all");
    json_t *listed = json_object_get(all, "changes");
    cr_assert_eq(json_array_size(listed), 200);
    cr_assert(json_is_null(json_object_get(all, "changes_next")));
    cr_assert(json_equal(json_object_get(all, "counts"), counts));
    json_t *second = dry_run("&changes_from=100");
    cr_assert(json_is_null(json_object_get(second, "changes_next")));
    json_t *joined = json_array();
    json_array_extend(joined, json_object_get(first, "changes"));
    json_array_extend(joined, json_object_get(second, "changes"));
    cr_assert(json_equal(joined, listed), "page 1 + page 2 = ?changes=all");
    /* In plan order: by role, everyone's answer before the tenants'. */
    json_t *c0 = json_array_get(listed, 0), *c1 = json_array_get(listed, 1),
           *c2 = json_array_get(listed, 2), *c3 = json_array_get(listed, 3);
    cr_assert_str_eq(json_string_value(json_object_get(c0, "role")), "r000");
    cr_assert(json_is_null(json_object_get(c0, "tenant")));
    cr_assert_str_eq(json_string_value(json_object_get(c1, "role")), "r001");
    cr_assert(json_is_null(json_object_get(c1, "tenant")));
    cr_assert_str_eq(json_string_value(json_object_get(c2, "role")), "r001");
    cr_assert_str_eq(json_string_value(json_object_get(c2, "tenant")), "acme");
    cr_assert_str_eq(json_string_value(json_object_get(c3, "role")), "r002");
    json_decref(joined);
    json_decref(second);
    json_decref(all);
    json_decref(first);
    cr_assert_eq(revision_of(&S), before, "a dry run writes nothing");
}

Test(plans, a_refusal_carries_the_counts_and_a_page)
{
    resp r = admin(&S, "PUT", "/admin/providers/a", "{\"enabled\":false}", NULL);
    cr_assert_eq(r.status, 409, "%ld %s", r.status, r.body);
    cr_assert_eq(num(json_object_get(r.json, "counts"), "changes"), 200);
    cr_assert_eq(json_array_size(json_object_get(r.json, "changes")), 100);
    cr_assert_eq(num(r.json, "changes_next"), 100);
    cr_assert_eq(json_array_size(json_object_get(r.json, "loses_route")), 100);
    resp_free(&r);
}

Test(plans, bad_paging_is_a_400_and_writes_nothing)
{
    long long before = revision_of(&S);
    const char *bad[] = {"?changes=some", "?changes_from=-1", "?changes_from=x",
                         "?changes=all&changes_from=1e3"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char path[128];
        snprintf(path, sizeof path, "/admin/providers/a%s", bad[i]);
        resp r = admin(&S, "PUT", path, "{\"enabled\":false}", NULL);
        cr_assert_eq(r.status, 400, "%s: %ld %s", path, r.status, r.body);
        resp_free(&r);
    }
    cr_assert_eq(revision_of(&S), before);
}
