/* End to end: admin writes, conditions, validation failures, auth and tokens. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

TestSuite(admin, .init = up, .fini = down, .timeout = 120);

static char *etag_of(const char *path)
{
    resp r = request(&S, "GET", path, NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", path);
    char *e = strdup(header(&r, "etag"));
    resp_free(&r);
    return e;
}

Test(admin, flip_reroutes_and_unrelated_etags_stay)
{
    char *security = etag_of("/config/security");
    char *documentation = etag_of("/config/documentation"); /* no openai model in its chain */
    long long rev = revision_of(&S);

    resp r = admin(&S, "PATCH", "/admin/providers/openai", "{\"enabled\":false}", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "revision")), rev + 1);
    cr_assert(json_is_false(json_object_get(json_object_get(r.json, "value"), "enabled")));
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(r.json, "value"), "description")),
        "OpenAI API", "a merge patch keeps the other fields");
    resp_free(&r);

    /* The very next GET sees the write. */
    r = request(&S, "GET", "/config/security", NULL, NULL);
    cr_assert_str_neq(header(&r, "etag"), security);
    json_t *d = json_array_get(json_object_get(r.json, "dropped"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(d, "provider")), "openai");
    cr_assert_eq(json_array_size(json_object_get(r.json, "fallbacks")), 2);
    resp_free(&r);
    char *after = etag_of("/config/documentation");
    cr_assert_str_eq(after, documentation, "an unrelated write must not change an ETag");
    free(security);
    free(documentation);
    free(after);
}

Test(admin, everything_disabled_gives_null_primary)
{
    const char *providers[] = {"anthropic", "openai", "workers-ai"};
    for (int i = 0; i < 2; i++) {
        char path[64];
        snprintf(path, sizeof path, "/admin/providers/%s", providers[i]);
        resp r = admin(&S, "PATCH", path, "{\"enabled\":false}", NULL);
        cr_assert_eq(r.status, 200);
        resp_free(&r);
    }
    /* The last one would leave roles with no route: refused, unless forced. */
    long long rev = revision_of(&S);
    resp r = admin(&S, "PATCH", "/admin/providers/workers-ai", "{\"enabled\":false}", NULL);
    cr_assert_eq(r.status, 409, "%s", r.body);
    cr_assert_str_eq(header(&r, "content-type"), "application/problem+json");
    cr_assert_gt(json_array_size(json_object_get(r.json, "loses_route")), 0);
    cr_assert_gt(json_array_size(json_object_get(r.json, "changes")), 0, "the 409 shows the plan");
    resp_free(&r);
    cr_assert_eq(revision_of(&S), rev, "a refused write changes nothing");

    r = admin(&S, "PATCH", "/admin/providers/workers-ai?force=1", "{\"enabled\":false}", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    resp_free(&r);
    r = request(&S, "GET", "/config/security", NULL, NULL);
    cr_assert(json_is_null(json_object_get(r.json, "primary")));
    cr_assert_eq(json_array_size(json_object_get(r.json, "fallbacks")), 0);
    cr_assert_eq(json_array_size(json_object_get(r.json, "dropped")), 4);
    resp_free(&r);

    /* Roles that already had no route do not block unrelated writes. */
    r = admin(&S, "PUT", "/admin/providers/mistral", "{\"enabled\":true}", NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    resp_free(&r);
}

Test(admin, put_get_list_delete)
{
    long long rev = revision_of(&S);
    resp r = admin(&S, "PUT", "/admin/roles/reviewer",
                   "{\"primary\":\"openai/gpt-5.3-codex\",\"fallbacks\":[\"x/y\"]}", NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    char want[32];
    snprintf(want, sizeof want, "\"r%lld\"", rev + 1);
    cr_assert_str_eq(header(&r, "etag"), want);
    resp_free(&r);

    r = admin(&S, "GET", "/admin/roles/reviewer", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(header(&r, "etag"), want);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "primary")), "openai/gpt-5.3-codex");
    resp_free(&r);

    r = request(&S, "GET", "/config/reviewer", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(r.json, "fallbacks"), 0)),
                     "x/y");
    resp_free(&r);

    r = admin(&S, "PUT", "/admin/roles/reviewer", "{\"primary\":\"a/b\"}", NULL);
    cr_assert_eq(r.status, 200, "replacing is 200, creating 201");
    resp_free(&r);

    r = admin(&S, "GET", "/admin/roles", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(json_array_size(json_object_get(r.json, "items")), 5);
    resp_free(&r);

    /* Model ids with slashes address failback and models documents. */
    r = admin(&S, "PUT", "/admin/failback/workers-ai/@cf/meta/llama", "{\"next\":null}", NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "key")),
                     "failback/workers-ai/@cf/meta/llama");
    resp_free(&r);

    r = admin(&S, "DELETE", "/admin/roles/reviewer", NULL, NULL);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    r = request(&S, "GET", "/config/reviewer", NULL, NULL);
    cr_assert_eq(r.status, 404);
    resp_free(&r);
    r = admin(&S, "DELETE", "/admin/roles/reviewer", NULL, NULL);
    cr_assert_eq(r.status, 404);
    resp_free(&r);
    r = admin(&S, "PATCH", "/admin/roles/reviewer", "{\"primary\":\"a/b\"}", NULL);
    cr_assert_eq(r.status, 404);
    resp_free(&r);
    cr_assert_eq(revision_of(&S), rev + 4,
                 "one revision per acknowledged write, none for failures");
}

Test(admin, conditional_writes)
{
    resp r = admin(&S, "GET", "/admin/providers/openai", NULL, NULL);
    char etag[32], h[64];
    strcpy(etag, header(&r, "etag"));
    resp_free(&r);
    snprintf(h, sizeof h, "If-Match: %s", etag);
    const char *match[] = {h, NULL};
    r = admin(&S, "PATCH", "/admin/providers/openai", "{\"enabled\":false}", match);
    cr_assert_eq(r.status, 200, "%s", r.body);
    resp_free(&r);
    long long rev = revision_of(&S);
    /* The same If-Match is stale now. */
    r = admin(&S, "PATCH", "/admin/providers/openai", "{\"enabled\":true}", match);
    cr_assert_eq(r.status, 412);
    cr_assert_str_eq(header(&r, "content-type"), "application/problem+json");
    resp_free(&r);
    cr_assert_eq(revision_of(&S), rev);
    r = admin(&S, "GET", "/admin/providers/openai", NULL, NULL);
    cr_assert(json_is_false(json_object_get(r.json, "enabled")), "a 412 changes nothing");
    resp_free(&r);

    const char *create_only[] = {"If-None-Match: *", NULL};
    r = admin(&S, "PUT", "/admin/providers/openai", "{\"enabled\":true}", create_only);
    cr_assert_eq(r.status, 412);
    resp_free(&r);
    r = admin(&S, "PUT", "/admin/providers/mistral", "{\"enabled\":true}", create_only);
    cr_assert_eq(r.status, 201);
    resp_free(&r);

    const char *must_exist[] = {"If-Match: *", NULL};
    r = admin(&S, "PUT", "/admin/providers/newone", "{\"enabled\":true}", must_exist);
    cr_assert_eq(r.status, 412);
    resp_free(&r);
    const char *garbage[] = {"If-Match: 12", NULL};
    r = admin(&S, "PUT", "/admin/providers/openai", "{\"enabled\":true}", garbage);
    cr_assert_eq(r.status, 400);
    resp_free(&r);
}

/* Bad input: each case must give its 4xx problem, name the field, and change nothing. */
typedef struct bad {
    const char *method, *path, *body;
    long status;
    const char *pointer; /* the JSON pointer of the first error, or NULL */
} bad;

static const bad bad_cases[] = {
    {"PUT", "/admin/providers/openai", "{\"enabled\":", 400, NULL},
    {"PUT", "/admin/providers/openai", "", 400, NULL},
    {"PUT", "/admin/providers/openai", "{\"enabled\":true,\"enabled\":false}", 400, NULL},
    {"PUT", "/admin/providers/openai", "{\"enabled\":\"no\"}", 422, "/enabled"},
    {"PUT", "/admin/providers/openai", "{\"enabeld\":false}", 422, "/enabled"},
    {"PUT", "/admin/providers/openai", "{\"enabled\":false,\"colour\":1}", 422, "/colour"},
    {"PUT", "/admin/providers/openai", "[true]", 422, ""},
    {"PATCH", "/admin/providers/openai", "{\"enabled\":null}", 422, "/enabled"},
    {"PATCH", "/admin/providers/openai", "{\"enabled\":1}", 422, "/enabled"},
    {"PUT", "/admin/providers/Open_AI", "{\"enabled\":true}", 400, NULL},
    {"PUT", "/admin/providers/-x", "{\"enabled\":true}", 400, NULL},
    {"PUT", "/admin/roles/security", "{\"primary\":\"has space\"}", 422, "/primary"},
    {"PUT", "/admin/roles/security", "{\"primary\":\"a/b\",\"fallbacks\":[\"ok\",7]}", 422,
     "/fallbacks/1"},
    {"PUT", "/admin/roles/security", "{\"fallbacks\":[]}", 422, "/primary"},
    {"PUT", "/admin/failback/a%20b", "{\"next\":null}", 400, NULL},
    {"PUT", "/admin/failback/a/b", "{\"next\":\"c\\\\d\"}", 422, "/next"},
    {"PUT", "/admin/models/m", "{\"provider\":\"Nope!\"}", 422, "/provider"},
    {"PUT", "/admin/tenants/acme", "{\"providers\":{\"openai\":{\"enabled\":\"off\"}}}", 422,
     "/providers/openai/enabled"},
    {"PUT", "/admin/tenants/acme", "{\"roles\":{\"security\":{\"primary\":\"a b\"}}}", 422,
     "/roles/security/primary"},
    {"PUT", "/admin/widgets/x", "{}", 404, NULL},
    {"POST", "/admin/providers/openai", "{\"enabled\":true}", 405, NULL},
    {"POST", "/admin/txn",
     "{\"ops\":[{\"op\":\"put\",\"key\":\"providers/x\",\"value\":{"
     "\"enabled\":true}},{\"op\":\"put\",\"key\":\"roles/y\",\"value\":{}}]}",
     422, "/ops/1/value/primary"},
    {"POST", "/admin/txn", "{\"ops\":[{\"op\":\"frob\",\"key\":\"providers/x\"}]}", 422, "/ops/0"},
    {"POST", "/admin/txn", "{\"ops\":[]}", 422, NULL},
};

ParameterizedTestParameters(admin, bad_input)
{
    static size_t idx[sizeof bad_cases / sizeof bad_cases[0]];
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++)
        idx[i] = i;
    return cr_make_param_array(size_t, idx, sizeof idx / sizeof idx[0]);
}

ParameterizedTest(size_t *i, admin, bad_input)
{
    const bad *c = &bad_cases[*i];
    resp before = request(&S, "GET", "/topology", NULL, NULL);
    resp r = admin(&S, c->method, c->path, c->body, NULL);
    cr_assert_eq(r.status, c->status, "%s %s %s: got %ld %s", c->method, c->path, c->body, r.status,
                 r.body);
    cr_assert_str_eq(header(&r, "content-type"), "application/problem+json");
    cr_assert_eq(json_integer_value(json_object_get(r.json, "status")), c->status);
    cr_assert(json_string_length(json_object_get(r.json, "detail")) > 0);
    if (c->pointer != NULL) {
        json_t *e = json_array_get(json_object_get(r.json, "errors"), 0);
        cr_assert_str_eq(json_string_value(json_object_get(e, "path")), c->pointer, "%s", r.body);
        cr_assert(json_string_length(json_object_get(e, "message")) > 0);
    }
    resp after = request(&S, "GET", "/topology", NULL, NULL);
    cr_assert_str_eq(after.body, before.body, "a rejected write must change nothing");
    resp_free(&r);
    resp_free(&before);
    resp_free(&after);
}

Test(admin, oversized_document_is_413)
{
    size_t n = 70 * 1024;
    char *body = malloc(n + 64);
    strcpy(body, "{\"enabled\":true,\"description\":\"");
    size_t k = strlen(body);
    memset(body + k, 'x', n);
    strcpy(body + k + n, "\"}");
    long long rev = revision_of(&S);
    resp r = admin(&S, "PUT", "/admin/providers/big", body, NULL);
    cr_assert_eq(r.status, 413);
    cr_assert_str_eq(header(&r, "content-type"), "application/problem+json");
    resp_free(&r);
    cr_assert_eq(revision_of(&S), rev);
    free(body);
}

/* A batch's documents, and what a merge patch makes, are held to 64 KiB too. */
Test(admin, documents_grown_past_64k_by_a_patch_or_sent_in_a_batch_are_413)
{
    size_t n = 40 * 1024;
    char *text = malloc(n + 1), *body = malloc(n + 256);
    memset(text, 'x', n);
    text[n] = '\0';
    snprintf(body, n + 256, "{\"enabled\":true,\"description\":\"%s\"}", text);
    resp r = admin(&S, "PUT", "/admin/providers/big", body, NULL);
    cr_assert_eq(r.status, 201, "40 KiB is a document: %s", r.body);
    resp_free(&r);
    long long rev = revision_of(&S);
    snprintf(body, n + 256, "{\"enabled\":false,\"extra\":\"%s\"}", text);
    r = admin(&S, "PATCH", "/admin/providers/big", body, NULL);
    cr_assert(r.status == 413 || r.status == 422, "80 KiB after the patch: %ld", r.status);
    cr_assert_str_eq(header(&r, "content-type"), "application/problem+json");
    resp_free(&r);

    char *batch = malloc(2 * n + 512);
    snprintf(batch, 2 * n + 512,
             "{\"ops\":[{\"op\":\"put\",\"key\":\"providers/huge\",\"value\":{\"enabled\":true,"
             "\"description\":\"%s%s\"}}]}",
             text, text);
    r = admin(&S, "POST", "/admin/txn", batch, NULL);
    cr_assert_eq(r.status, 413, "%s", r.body);
    cr_assert_str_eq(header(&r, "content-type"), "application/problem+json");
    resp_free(&r);
    cr_assert_eq(revision_of(&S), rev, "neither was written");
    free(batch);
    free(body);
    free(text);
}

Test(admin, txn_is_one_revision)
{
    long long rev = revision_of(&S);
    resp r = admin(&S, "POST", "/admin/txn",
                   "{\"ops\":[{\"op\":\"patch\",\"key\":\"providers/anthropic\",\"value\":{"
                   "\"enabled\":false}},{\"op\":\"put\",\"key\":\"roles/batch\",\"value\":{"
                   "\"primary\":\"anthropic/claude-opus-4-7\",\"fallbacks\":[\"z/1\"]}}]}",
                   NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "revision")), rev + 1);
    resp_free(&r);
    r = request(&S, "GET", "/config/batch", NULL, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "primary")), "z/1");
    resp_free(&r);
}

Test(admin, auth_is_required)
{
    resp r = request(&S, "GET", "/admin/providers", NULL, NULL);
    cr_assert_eq(r.status, 401);
    cr_assert_str_eq(header(&r, "content-type"), "application/problem+json");
    cr_assert_not_null(header(&r, "www-authenticate"));
    resp_free(&r);
    const char *wrong[] = {"Authorization: Bearer sb_not-a-real-token", NULL};
    r = request(&S, "PATCH", "/admin/providers/openai", "{\"enabled\":false}", wrong);
    cr_assert_eq(r.status, 401);
    resp_free(&r);
    r = request(&S, "GET", "/config/security", NULL, NULL);
    cr_assert_eq(r.status, 200, "reads are open without --read-auth");
    resp_free(&r);
}

/* Polls until the server has picked up a token change made by another process. */
static long status_with(const char *token, const char *method, const char *path, const char *body)
{
    char auth[200];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    const char *hs[] = {auth, NULL};
    resp r = request(&S, method, path, body, hs);
    long st = r.status;
    resp_free(&r);
    return st;
}

static long wait_status(const char *token, const char *path, long want)
{
    long st = 0;
    for (double start = now_s(); st != want && now_s() - start < 20;) {
        st = status_with(token, "GET", path, NULL);
        if (st != want)
            usleep(100000);
    }
    return st;
}

Test(admin, tokens_create_scope_revoke)
{
    char out[256];
    const char *create[] = {"token", "create", "--name", "dash", "--scope", "read", NULL};
    cr_assert_eq(run_switchboard(&S, create, out, sizeof out), 0, "%s", out);
    out[strcspn(out, "\n")] = '\0';
    cr_assert(strncmp(out, "sb_", 3) == 0, "a token is printed: %s", out);
    char token[128];
    strcpy(token, out);

    cr_assert_eq(wait_status(token, "/admin/providers", 403), 403,
                 "a read token gets 403 on admin");

    const char *dup[] = {"token", "create", "--name", "dash", NULL};
    cr_assert_neq(run_switchboard(&S, dup, out, sizeof out), 0, "names are unique");

    const char *list[] = {"token", "list", NULL};
    cr_assert_eq(run_switchboard(&S, list, out, sizeof out), 0);
    cr_assert_not_null(strstr(out, "dash"));
    cr_assert_not_null(strstr(out, "admin"));
    cr_assert_null(strstr(out, token), "secrets are never listed");

    char dbfile[400];
    snprintf(dbfile, sizeof dbfile, "%s/data.mdb", S.dir);
    FILE *f = fopen(dbfile, "rb");
    char *buf = malloc(1 << 20);
    size_t got = fread(buf, 1, 1 << 20, f);
    fclose(f);
    cr_assert_null(memmem(buf, got, token + 3, strlen(token) - 3), "tokens are stored hashed");
    free(buf);

    const char *revoke[] = {"token", "revoke", "dash", NULL};
    cr_assert_eq(run_switchboard(&S, revoke, out, sizeof out), 0, "%s", out);
    cr_assert_eq(wait_status(token, "/admin/providers", 401), 401, "a revoked token is refused");
}

Test(admin, admin_token_file_is_private)
{
    char path[400];
    struct stat st;
    snprintf(path, sizeof path, "%s/admin.token", S.dir);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert(strlen(S.token) > 20);
}
