/* Document validation and merge patch (server/core/doc.c), and the name rules (common/names.c). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "core/doc.h"
#include "core/util.h"

typedef struct dcase {
    int kind;
    const char *body;
    const char *path; /* NULL: valid; else the JSON pointer of the first error */
} dcase;

#define M4(p)  "\"" p "0\",\"" p "1\",\"" p "2\",\"" p "3\""
#define M16(p) M4(p "a") "," M4(p "b") "," M4(p "c") "," M4(p "d")
/* A role at the fallbacks cap (32 models), and one over it. */
#define FALLBACKS_32 "{\"primary\":\"x/p\",\"fallbacks\":[" M16("x/") "," M16("y/") "]}"
#define FALLBACKS_33 "{\"primary\":\"x/p\",\"fallbacks\":[" M16("x/") "," M16("y/") ",\"z/1\"]}"

static const dcase cases[] = {
    {SB_PROVIDERS, "{\"enabled\":true}", NULL},
    {SB_PROVIDERS, "{\"enabled\":false,\"description\":\"Anthropic API\"}", NULL},
    {SB_PROVIDERS, "{\"enabeld\":true}", "/enabled"},
    {SB_PROVIDERS, "{\"enabled\":true,\"enabeld\":true}", "/enabeld"},
    {SB_PROVIDERS, "{\"enabled\":\"yes\"}", "/enabled"},
    {SB_PROVIDERS, "[]", ""},
    {SB_PROVIDERS, "{\"enabled\":true,\"description\":5}", "/description"},
    {SB_ROLES, "{\"primary\":\"anthropic/claude-opus-4-7\"}", NULL},
    {SB_ROLES, "{\"primary\":\"a/b\",\"fallbacks\":[\"c/d\",\"workers-ai/@cf/x/y\"]}", NULL},
    {SB_ROLES, "{\"fallbacks\":[]}", "/primary"},
    {SB_ROLES, "{\"primary\":\"has space\"}", "/primary"},
    {SB_ROLES, "{\"primary\":\"\"}", "/primary"},
    {SB_ROLES, "{\"primary\":null}", "/primary"},
    {SB_ROLES, "{\"primary\":\"a/b\",\"fallbacks\":[\"ok\",\"bad\\\"quote\"]}", "/fallbacks/1"},
    {SB_ROLES, "{\"primary\":\"a/b\",\"fallbacks\":\"c/d\"}", "/fallbacks"},
    {SB_ROLES, FALLBACKS_32, NULL},
    {SB_ROLES, FALLBACKS_33, "/fallbacks"},
    {SB_TENANTS, "{\"roles\":{\"security\":" FALLBACKS_33 "}}", "/roles/security/fallbacks"},
    {SB_FAILBACK, "{\"next\":\"a/b\"}", NULL},
    {SB_FAILBACK, "{\"next\":null}", NULL},
    {SB_FAILBACK, "{}", "/next"},
    {SB_FAILBACK, "{\"next\":7}", "/next"},
    {SB_MODELS, "{\"provider\":\"workers-ai\"}", NULL},
    {SB_MODELS, "{\"provider\":\"Workers\"}", "/provider"},
    {SB_MODELS, "{\"provider\":\"x\",\"extra\":1}", "/extra"},
    {SB_TENANTS, "{}", NULL},
    {SB_TENANTS,
     "{\"roles\":{\"security\":{\"primary\":\"a/b\"}},\"providers\":{\"openai\":"
     "{\"enabled\":false}}}",
     NULL},
    {SB_TENANTS, "{\"roles\":{\"security\":{\"primary\":1}}}", "/roles/security/primary"},
    {SB_TENANTS, "{\"roles\":{\"Bad Name\":{\"primary\":\"a\"}}}", "/roles/Bad Name"},
    {SB_TENANTS, "{\"providers\":{\"openai\":{\"enabled\":false,\"x\":1}}}", "/providers/openai/x"},
    {SB_TENANTS, "{\"providers\":{\"openai\":{}}}", "/providers/openai/enabled"},
};

/* Criterion re-executes the test binary, so parameters are indices, not pointers. */
ParameterizedTestParameters(doc, validate)
{
    static size_t idx[sizeof cases / sizeof cases[0]];
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++)
        idx[i] = i;
    return cr_make_param_array(size_t, idx, sizeof idx / sizeof idx[0]);
}

ParameterizedTest(size_t *i, doc, validate)
{
    const dcase *c = &cases[*i];
    json_t *v = json_loads(c->body, JSON_DECODE_ANY, NULL);
    cr_assert_not_null(v, "bad test body %s", c->body);
    json_t *errors = json_array();
    int rc = sb_doc_validate(c->kind, v, errors);
    if (c->path == NULL) {
        cr_assert_eq(rc, 0, "%s should be a valid %s", c->body, sb_kind_names[c->kind]);
        cr_assert_eq(json_array_size(errors), 0);
    } else {
        cr_assert_eq(rc, -1, "%s should be rejected", c->body);
        const char *path = json_string_value(json_object_get(json_array_get(errors, 0), "path"));
        cr_assert_str_eq(path, c->path, "%s", c->body);
    }
    json_decref(errors);
    json_decref(v);
}

Test(doc, names)
{
    cr_assert(sb_name_valid("security", 8));
    cr_assert(sb_name_valid("a", 1));
    cr_assert(sb_name_valid("workers-ai.v2_x", 15));
    cr_assert_not(sb_name_valid("", 0));
    cr_assert_not(sb_name_valid("-x", 2));
    cr_assert_not(sb_name_valid("Sec", 3));
    cr_assert_not(sb_name_valid("a/b", 3));
    char longname[66];
    memset(longname, 'a', 65);
    cr_assert(sb_name_valid(longname, 64));
    cr_assert_not(sb_name_valid(longname, 65));
}

Test(doc, model_ids)
{
    cr_assert(sb_model_id_valid("workers-ai/@cf/moonshotai/kimi-k2.5", 35));
    cr_assert_not(sb_model_id_valid("a b", 3));
    cr_assert_not(sb_model_id_valid("a\\b", 3));
    cr_assert_not(sb_model_id_valid("a'b", 3));
    cr_assert_not(sb_model_id_valid("caf\xc3\xa9", 5));
    char id[202];
    memset(id, 'm', 201);
    cr_assert(sb_model_id_valid(id, 200));
    cr_assert_not(sb_model_id_valid(id, 201));
}

Test(doc, merge_patch_rfc7396)
{
    /* The examples of RFC 7396, appendix A, in part. */
    static const char *rows[][3] = {
        {"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
        {"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
        {"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
        {"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
        {"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}"},
        {"[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}"},
        {"{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"},
        {"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        json_t *t = json_loads(rows[i][0], JSON_DECODE_ANY, NULL);
        json_t *p = json_loads(rows[i][1], JSON_DECODE_ANY, NULL);
        json_t *want = json_loads(rows[i][2], JSON_DECODE_ANY, NULL);
        char *before = json_dumps(t, JSON_COMPACT | JSON_ENCODE_ANY);
        json_t *got = sb_merge_patch(t, p);
        cr_assert(json_equal(got, want), "row %zu", i);
        char *after = json_dumps(t, JSON_COMPACT | JSON_ENCODE_ANY);
        cr_assert_str_eq(before, after, "row %zu: the target must not change", i);
        free(before);
        free(after);
        json_decref(got);
        json_decref(t);
        json_decref(p);
        json_decref(want);
    }
}

Test(doc, etag_is_content_derived)
{
    char a[SB_ETAG_LEN + 1], b[SB_ETAG_LEN + 1], c[SB_ETAG_LEN + 1];
    sb_etag("hello", 5, a);
    sb_etag("hello", 5, b);
    sb_etag("hellp", 5, c);
    cr_assert_str_eq(a, b);
    cr_assert_str_neq(a, c);
    cr_assert_eq(strlen(a), SB_ETAG_LEN);
    /* openssl dgst -sha256 -binary | head -c16 | base64url, computed outside this code. */
    cr_assert_str_eq(a, "\"LPJNul-wow4m6Dsqxbning\"");
}

/* ---- checks across documents (sb_doc_semantics) ---- */

static int semantics(const char *docs_text, int kind, const char *id, bool deleted, json_t **errors,
                     json_t **warnings)
{
    json_t *docs = json_loads(docs_text, 0, NULL);
    cr_assert_not_null(docs);
    const json_t *value =
        deleted ? NULL : json_object_get(json_object_get(docs, sb_kind_names[kind]), id);
    sb_change c = {kind, id, value, NULL};
    *errors = json_array();
    *warnings = json_array();
    int rc = sb_doc_semantics(docs, &c, 1, false, *errors, *warnings);
    json_decref(docs);
    return rc;
}

Test(doc, failback_cycles_are_errors)
{
    json_t *e, *w;
    cr_assert_eq(semantics("{\"failback\":{\"a/1\":{\"next\":\"b/2\"},\"b/2\":{\"next\":\"a/1\"}}}",
                           SB_FAILBACK, "b/2", false, &e, &w),
                 -1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(e, 0), "path")), "/next");
    cr_assert_not_null(strstr(json_string_value(json_object_get(json_array_get(e, 0), "message")),
                              "b/2 -> a/1 -> b/2"));
    json_decref(e);
    json_decref(w);
    cr_assert_eq(
        semantics("{\"failback\":{\"a/1\":{\"next\":\"a/1\"}}}", SB_FAILBACK, "a/1", false, &e, &w),
        -1, "a model that fails back to itself");
    json_decref(e);
    json_decref(w);
    cr_assert_eq(semantics("{\"failback\":{\"a/1\":{\"next\":\"b/2\"},\"b/2\":{\"next\":\"c/3\"},"
                           "\"c/3\":{\"next\":null}}}",
                           SB_FAILBACK, "a/1", false, &e, &w),
                 0, "a chain that ends is fine");
    json_decref(e);
    json_decref(w);
    /* A chain that runs into a loop further on loops too. */
    cr_assert_eq(semantics("{\"failback\":{\"z/0\":{\"next\":\"a/1\"},\"a/1\":{\"next\":\"b/2\"},"
                           "\"b/2\":{\"next\":\"a/1\"}}}",
                           SB_FAILBACK, "z/0", false, &e, &w),
                 -1);
    json_decref(e);
    json_decref(w);
}

Test(doc, tenant_overrides_need_a_global_role)
{
    json_t *e, *w;
    cr_assert_eq(semantics("{\"roles\":{\"sec\":{\"primary\":\"a/1\"}},\"tenants\":{\"acme\":{"
                           "\"roles\":{\"perf\":{\"primary\":\"a/1\"}}}}}",
                           SB_TENANTS, "acme", false, &e, &w),
                 -1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(e, 0), "path")),
                     "/roles/perf");
    json_decref(e);
    json_decref(w);
    /* Deleting a role a tenant overrides would leave the override dangling. */
    cr_assert_eq(semantics("{\"roles\":{},\"tenants\":{\"acme\":{\"roles\":{\"sec\":{"
                           "\"primary\":\"a/1\"}}}}}",
                           SB_ROLES, "sec", true, &e, &w),
                 -1);
    cr_assert_not_null(strstr(json_string_value(json_object_get(json_array_get(e, 0), "message")),
                              "tenants/acme"));
    json_decref(e);
    json_decref(w);
}

Test(doc, one_provider_chains_are_warnings)
{
    json_t *e, *w;
    cr_assert_eq(semantics("{\"roles\":{\"sec\":{\"primary\":\"a/1\",\"fallbacks\":[\"a/2\"]}}}",
                           SB_ROLES, "sec", false, &e, &w),
                 0, "accepted");
    cr_assert_eq(json_array_size(w), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(w, 0), "key")), "roles/sec");
    json_decref(e);
    json_decref(w);
    /* Through the failback chain, and with a models registry entry naming the provider. */
    cr_assert_eq(semantics("{\"roles\":{\"sec\":{\"primary\":\"a/1\"}},\"models\":{\"kimi\":{"
                           "\"provider\":\"a\"}},\"failback\":{\"a/1\":{\"next\":\"kimi\"}}}",
                           SB_ROLES, "sec", false, &e, &w),
                 0);
    cr_assert_eq(json_array_size(w), 1);
    json_decref(e);
    json_decref(w);
    cr_assert_eq(semantics("{\"roles\":{\"sec\":{\"primary\":\"a/1\",\"fallbacks\":[\"b/2\"]}}}",
                           SB_ROLES, "sec", false, &e, &w),
                 0);
    cr_assert_eq(json_array_size(w), 0, "two providers: no warning");
    json_decref(e);
    json_decref(w);
}
