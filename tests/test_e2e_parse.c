/*
 * End to end: the values a write's conditions and flags may take. An If-Match or txn if_match
 * outside the revisions the server gives out, and a flag spelled any other way than its six
 * accepted spellings, are refused with a problem and write nothing; they never take another
 * meaning (unconditional, "*", dry run off).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static server S;

static void up(void)
{
    server_start(&S, NULL);
}

static void down(void)
{
    server_cleanup(&S);
}

TestSuite(parse, .init = up, .fini = down, .timeout = 120);

/* The body is a problem document of the given status whose detail mentions word. */
static void assert_problem(const resp *r, long status, const char *word, const char *what)
{
    cr_assert_eq(r->status, status, "%s: status %ld, body %s", what, r->status, r->body);
    cr_assert_str_eq(header(r, "content-type"), "application/problem+json", "%s", what);
    cr_assert_eq(json_integer_value(json_object_get(r->json, "status")), status, "%s", what);
    const char *detail = json_string_value(json_object_get(r->json, "detail"));
    cr_assert(detail != NULL && strstr(detail, word) != NULL, "%s: the detail names %s: %s", what,
              word, r->body);
}

/* Writes that commit when nothing stops them, one per kind of admin write. */
typedef struct write_case {
    const char *method, *path, *body;
} write_case;

static const write_case writes[] = {
    {"PATCH", "/admin/providers/openai", "{\"description\":\"changed\"}"},
    {"PUT", "/admin/roles/fresh", "{\"primary\":\"anthropic/claude-opus-4-7\"}"},
    {"DELETE", "/admin/roles/architecture", NULL},
    {"POST", "/admin/txn",
     "{\"ops\":[{\"op\":\"patch\",\"key\":\"providers/"
     "openai\",\"value\":{\"description\":\"t\"}}]}"},
    {"POST", "/admin/providers/openai/rollback", "{\"to\":1}"},
};
#define N_WRITES (sizeof writes / sizeof *writes)

Test(parse, flags_with_other_values_are_refused_and_write_nothing)
{
    static const char *const params[] = {"dry_run", "force"};
    static const char *const values[] = {"yes", "on", "True", "TRUE", "no", "off",
                                         "2",   "01", "%31",  "t",    "y",  "true%20"};
    long long rev = revision_of(&S);
    for (size_t p = 0; p < 2; p++) {
        for (size_t v = 0; v < sizeof values / sizeof *values; v++) {
            for (size_t w = 0; w < N_WRITES; w++) {
                char path[160], what[200];
                snprintf(path, sizeof path, "%s?%s=%s", writes[w].path, params[p], values[v]);
                snprintf(what, sizeof what, "%s %s", writes[w].method, path);
                resp r = admin(&S, writes[w].method, path, writes[w].body, NULL);
                assert_problem(&r, 400, params[p], what);
                resp_free(&r);
            }
        }
    }
    cr_assert_eq(revision_of(&S), rev, "a refused flag writes nothing");
    resp r = admin(&S, "GET", "/admin/roles/fresh", NULL, NULL);
    cr_assert_eq(r.status, 404, "nothing was created");
    resp_free(&r);
}

Test(parse, flags_take_exactly_their_six_spellings)
{
    static const char *const dry[] = {"?dry_run", "?dry_run=", "?dry_run=1", "?dry_run=true"};
    long long rev = revision_of(&S);
    for (size_t i = 0; i < sizeof dry / sizeof *dry; i++) {
        char path[80];
        snprintf(path, sizeof path, "/admin/providers/openai%s", dry[i]);
        resp r = admin(&S, "PATCH", path, "{\"description\":\"dry\"}", NULL);
        cr_assert_eq(r.status, 200, "%s: %s", path, r.body);
        cr_assert(json_is_true(json_object_get(r.json, "dry_run")), "%s is a dry run", path);
        resp_free(&r);
        cr_assert_eq(revision_of(&S), rev, "%s commits nothing", path);
    }
    static const char *const wet[] = {"?dry_run=0", "?dry_run=false"};
    for (size_t i = 0; i < 2; i++) {
        char path[80], body[64];
        snprintf(path, sizeof path, "/admin/providers/openai%s", wet[i]);
        snprintf(body, sizeof body, "{\"description\":\"wet %zu\"}", i);
        resp r = admin(&S, "PATCH", path, body, NULL);
        cr_assert_eq(r.status, 200, "%s: %s", path, r.body);
        cr_assert_null(json_object_get(r.json, "dry_run"), "%s commits", path);
        resp_free(&r);
        cr_assert_eq(revision_of(&S), ++rev, "%s commits", path);
    }

    /* force=0 and force=false are no force: a write that loses routes is still refused. */
    const char *off = "{\"enabled\":false}";
    for (int i = 0; i < 2; i++) {
        resp r = admin(&S, "PATCH", i ? "/admin/providers/anthropic" : "/admin/providers/openai",
                       off, NULL);
        cr_assert_eq(r.status, 200, "%s", r.body);
        resp_free(&r);
    }
    rev = revision_of(&S);
    static const char *const no_force[] = {"?force=0", "?force=false"};
    for (size_t i = 0; i < 2; i++) {
        char path[80];
        snprintf(path, sizeof path, "/admin/providers/workers-ai%s", no_force[i]);
        resp r = admin(&S, "PATCH", path, off, NULL);
        cr_assert_eq(r.status, 409, "%s: %s", path, r.body);
        resp_free(&r);
    }
    cr_assert_eq(revision_of(&S), rev);
    resp r = admin(&S, "PATCH", "/admin/providers/workers-ai?force", off, NULL);
    cr_assert_eq(r.status, 200, "?force alone forces: %s", r.body);
    resp_free(&r);
}

Test(parse, if_match_out_of_range_is_a_400_never_another_meaning)
{
    static const char *const bad[] = {
        "\"r18446744073709551615\"", /* was read as unconditional */
        "\"r9223372036854775808\"",  /* idem */
        "\"r18446744073709551614\"", /* was read as "*" */
        "\"r18446744073709551613\"", /* was never answered */
        "\"r18446744073709551616\"",
        "\"r99999999999999999999\"",
        "\"r007\"",
        "\"r\"",
        "\"r-1\"",
        "W/\"r1\"",
        "\"r1\", \"r2\"",
        "\"r1",
        "r1",
        "12",
    };
    long long rev = revision_of(&S);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        for (size_t w = 0; w < N_WRITES; w++) {
            if (strcmp(writes[w].path, "/admin/txn") == 0)
                continue; /* a batch has if_match per operation */
            char h[80], what[200];
            snprintf(h, sizeof h, "If-Match: %s", bad[i]);
            snprintf(what, sizeof what, "%s %s with %s", writes[w].method, writes[w].path, h);
            const char *headers[] = {h, NULL};
            resp r = admin(&S, writes[w].method, writes[w].path, writes[w].body, headers);
            assert_problem(&r, 400, "If-Match", what);
            resp_free(&r);
        }
    }
    cr_assert_eq(revision_of(&S), rev, "a refused If-Match writes nothing");

    /* In range, a revision the document is not at is a 412, the largest one too. */
    static const char *const stale[] = {"\"r0\"", "\"r9223372036854775807\""};
    for (size_t i = 0; i < 2; i++) {
        char h[80];
        snprintf(h, sizeof h, "If-Match: %s", stale[i]);
        const char *headers[] = {h, NULL};
        resp r = admin(&S, "PATCH", "/admin/providers/openai", "{\"description\":\"x\"}", headers);
        assert_problem(&r, 412, "revision", h);
        resp_free(&r);
    }
    cr_assert_eq(revision_of(&S), rev);
}

static resp txn_with(const char *if_match)
{
    char body[300];
    snprintf(body, sizeof body,
             "{\"ops\":[{\"op\":\"patch\",\"key\":\"providers/openai\",\"value\":{\"description\":"
             "\"a\"}},{\"op\":\"patch\",\"key\":\"providers/anthropic\",\"value\":{"
             "\"description\":\"b\"},\"if_match\":%s}]}",
             if_match);
    return admin(&S, "POST", "/admin/txn", body, NULL);
}

Test(parse, txn_if_match_below_zero_is_a_422_naming_the_field)
{
    static const char *const bad[] = {"-5",  "-2",    "-1",   "-9223372036854775808",
                                      "1.5", "\"3\"", "true", "null"};
    long long rev = revision_of(&S);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        resp r = txn_with(bad[i]);
        assert_problem(&r, 422, "if_match", bad[i]);
        cr_assert_eq(json_integer_value(json_object_get(r.json, "index")), 1, "%s", bad[i]);
        json_t *e = json_array_get(json_object_get(r.json, "errors"), 0);
        cr_assert_str_eq(json_string_value(json_object_get(e, "path")), "/ops/1/if_match", "%s",
                         bad[i]);
        resp_free(&r);
    }
    resp r = txn_with("9223372036854775808"); /* not a JSON number jansson can hold */
    cr_assert_eq(r.status, 400, "%s", r.body);
    resp_free(&r);
    r = txn_with("0");
    assert_problem(&r, 412, "revision", "if_match 0");
    resp_free(&r);
    cr_assert_eq(revision_of(&S), rev, "a refused batch writes nothing");

    r = admin(&S, "GET", "/admin/providers/anthropic", NULL, NULL);
    char current[32];
    snprintf(current, sizeof current, "%s", header(&r, "etag") + 2); /* "r<rev>" */
    current[strlen(current) - 1] = '\0';
    resp_free(&r);
    r = txn_with(current);
    cr_assert_eq(r.status, 200, "if_match at the current revision commits: %s", r.body);
    resp_free(&r);
    cr_assert_eq(revision_of(&S), rev + 1);
}
