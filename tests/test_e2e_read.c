/* End to end: the read API (GET /config, /topology, /healthz, /readyz) of a real server. */
#include <criterion/criterion.h>
#include <openssl/sha.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static server S;

static void up(void)
{
    server_start(&S, NULL); /* the demo topology */
}

static void down(void)
{
    server_cleanup(&S);
}

TestSuite(read, .init = up, .fini = down, .timeout = 120);

/* The ETag DESIGN.md specifies, computed here independently of the server's code. */
static void expected_etag(const char *body, char out[32])
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char md[32];
    SHA256((const unsigned char *)body, strlen(body), md);
    int o = 0;
    out[o++] = '"';
    for (int bit = 0; bit < 128; bit += 6) {
        int v = 0;
        for (int k = 0; k < 6; k++) {
            int b = bit + k;
            v = v << 1 | (b < 128 ? (md[b / 8] >> (7 - b % 8)) & 1 : 0);
        }
        out[o++] = tab[v];
    }
    out[o++] = '"';
    out[o] = '\0';
}

Test(read, config_role_answer)
{
    resp r = request(&S, "GET", "/config/security", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(header(&r, "content-type"), "application/json");
    cr_assert_str_eq(header(&r, "cache-control"), "max-age=5");
    cr_assert_str_eq(header(&r, "x-switchboard-revision"), "1");
    cr_assert_str_eq(r.body,
                     "{\"role\":\"security\",\"tenant\":null,\"primary\":"
                     "\"anthropic/claude-opus-4-7\",\"fallbacks\":[\"anthropic/claude-opus-4-6\","
                     "\"openai/gpt-5.3-codex\",\"kimi-k2.5\"],\"dropped\":[]}");
    char want[32];
    expected_etag(r.body, want);
    cr_assert_str_eq(header(&r, "etag"), want, "the ETag is SHA-256 of the body, 16 bytes, b64url");
    resp_free(&r);
}

Test(read, if_none_match_gives_304)
{
    resp r = request(&S, "GET", "/config/security", NULL, NULL);
    char etag[64], h[200];
    strcpy(etag, header(&r, "etag"));
    resp_free(&r);

    const char *forms[] = {"If-None-Match: %s", "If-None-Match: \"nope\", %s",
                           "If-None-Match: W/%s", "If-None-Match: *",
                           "If-None-Match: \"a\",%s,\"b\""};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        snprintf(h, sizeof h, forms[i], etag);
        const char *hs[] = {h, NULL};
        r = request(&S, "GET", "/config/security", NULL, hs);
        cr_assert_eq(r.status, 304, "%s", h);
        cr_assert_str_eq(r.body, "", "a 304 has no body");
        cr_assert_str_eq(header(&r, "etag"), etag);
        cr_assert_str_eq(header(&r, "cache-control"), "max-age=5");
        cr_assert_not_null(header(&r, "x-switchboard-revision"));
        resp_free(&r);
    }
    const char *stale[] = {"If-None-Match: \"AAAAAAAAAAAAAAAAAAAAAA\"", NULL};
    r = request(&S, "GET", "/config/security", NULL, stale);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
}

Test(read, unknown_role_is_a_404_problem)
{
    const char *paths[] = {"/config/nope", "/config/UPPER", "/config/a%20b"};
    for (size_t i = 0; i < 3; i++) {
        resp r = request(&S, "GET", paths[i], NULL, NULL);
        cr_assert_eq(r.status, 404, "%s", paths[i]);
        cr_assert_str_eq(header(&r, "content-type"), "application/problem+json");
        cr_assert_eq(json_integer_value(json_object_get(r.json, "status")), 404);
        cr_assert_not_null(json_object_get(r.json, "type"));
        cr_assert_not_null(json_object_get(r.json, "title"));
        cr_assert_not_null(json_object_get(r.json, "detail"));
        cr_assert_not_null(header(&r, "x-switchboard-revision"));
        resp_free(&r);
    }
}

Test(read, tenant_overrides)
{
    /* acme has openai disabled: it disappears from acme's chain only. */
    resp r = request(&S, "GET", "/config/performance?tenant=acme", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "tenant")), "acme");
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "primary")),
                     "anthropic/claude-opus-4-7");
    json_t *d = json_array_get(json_object_get(r.json, "dropped"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(d, "model")), "openai/gpt-5.3-codex");
    cr_assert_str_eq(json_string_value(json_object_get(d, "reason")), "provider_disabled");
    char tenant_etag[64];
    strcpy(tenant_etag, header(&r, "etag"));
    resp_free(&r);

    r = request(&S, "GET", "/config/performance", NULL, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "primary")), "openai/gpt-5.3-codex");
    cr_assert_str_neq(header(&r, "etag"), tenant_etag);
    char global_etag[64];
    strcpy(global_etag, header(&r, "etag"));
    resp_free(&r);

    /* A tenant with no document has no overrides: it gets the global answer, byte for byte. */
    r = request(&S, "GET", "/config/performance?tenant=nobody", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(header(&r, "etag"), global_etag);
    cr_assert(json_is_null(json_object_get(r.json, "tenant")));
    resp_free(&r);

    r = request(&S, "GET", "/config/performance?tenant=Not%20A%20Name", NULL, NULL);
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(header(&r, "content-type"), "application/problem+json");
    resp_free(&r);
}

Test(read, config_lists_every_role)
{
    resp r = request(&S, "GET", "/config", NULL, NULL);
    cr_assert_eq(r.status, 200);
    json_t *answers = json_object_get(r.json, "answers");
    cr_assert_eq(json_object_size(answers), 4);
    resp one = request(&S, "GET", "/config/documentation", NULL, NULL);
    cr_assert(json_equal(json_object_get(answers, "documentation"), one.json));
    resp_free(&one);
    char etag[64], h[100];
    strcpy(etag, header(&r, "etag"));
    resp_free(&r);
    snprintf(h, sizeof h, "If-None-Match: %s", etag);
    const char *hs[] = {h, NULL};
    r = request(&S, "GET", "/config", NULL, hs);
    cr_assert_eq(r.status, 304);
    resp_free(&r);

    r = request(&S, "GET", "/config?tenant=acme", NULL, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "tenant")), "acme");
    cr_assert_eq(json_object_size(json_object_get(r.json, "answers")), 4);
    resp_free(&r);
}

Test(read, topology_has_everything)
{
    resp r = request(&S, "GET", "/topology", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "revision")), 1);
    const char *keys[] = {"providers", "roles", "failback", "models", "tenants", "answers"};
    for (int i = 0; i < 6; i++)
        cr_assert(json_is_object(json_object_get(r.json, keys[i])), "%s", keys[i]);
    cr_assert_eq(json_object_size(json_object_get(r.json, "providers")), 3);
    cr_assert(json_is_true(json_object_get(
        json_object_get(json_object_get(r.json, "providers"), "openai"), "enabled")));
    cr_assert_eq(json_object_size(json_object_get(r.json, "answers")), 4);
    cr_assert_not_null(header(&r, "etag"));
    resp_free(&r);
}

Test(read, health_and_readiness)
{
    resp r = request(&S, "GET", "/healthz", NULL, NULL);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    r = request(&S, "GET", "/readyz", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "status")), "ready");
    resp_free(&r);
}

Test(read, wrong_method_and_unknown_path)
{
    resp r = request(&S, "POST", "/config/security", "{}", NULL);
    cr_assert_eq(r.status, 405);
    cr_assert_str_eq(header(&r, "content-type"), "application/problem+json");
    cr_assert_not_null(header(&r, "allow"));
    resp_free(&r);
    r = request(&S, "GET", "/nothing-here", NULL, NULL);
    cr_assert_eq(r.status, 404);
    cr_assert_str_eq(header(&r, "content-type"), "application/problem+json");
    resp_free(&r);
}

/* One route table: a 405's Allow lists exactly what the endpoint's rows take, an admin path asks
 * for the token first, and each answer is counted under its route's label. */
Test(read, the_route_table_drives_allow_auth_and_labels)
{
    const struct {
        const char *method, *path, *allow;
        bool admin;
    } cases[] = {
        {"POST", "/config/security", "GET, HEAD", false},
        {"DELETE", "/topology", "GET, HEAD", false},
        {"PUT", "/healthz", "GET, HEAD", false},
        {"POST", "/nothing-here", "GET, HEAD", false},
        {"POST", "/admin/providers/openai", "GET, HEAD, PUT, PATCH, DELETE", true},
        {"PUT", "/admin/audit", "GET, HEAD", true},
        {"GET", "/admin/txn", "POST", true},
        {"DELETE", "/admin/roles", "GET, HEAD", true},
        {"PUT", "/admin/roles/security/history", "GET, HEAD", true},
        {"GET", "/admin/roles/security/rollback", "POST", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        resp r = request(&S, cases[i].method, cases[i].path, "{}", NULL);
        cr_assert_eq(r.status, cases[i].admin ? 401 : 405, "%s %s: %ld", cases[i].method,
                     cases[i].path, r.status);
        resp_free(&r);
        r = admin(&S, cases[i].method, cases[i].path, "{}", NULL);
        cr_assert_eq(r.status, 405, "%s %s: %ld", cases[i].method, cases[i].path, r.status);
        cr_assert_str_eq(header(&r, "allow"), cases[i].allow, "%s %s", cases[i].method,
                         cases[i].path);
        resp_free(&r);
    }
    const char *sample = "switchboard_requests_total{route=\"topology\",code=\"200\"}";
    double before = metric_now(&S, sample);
    before = before < 0 ? 0 : before; /* no sample yet */
    resp r = request(&S, "GET", "/topology", NULL, NULL);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    double deadline = now_s() + 10, after;
    while ((after = metric_now(&S, sample)) < before + 1 && now_s() < deadline)
        usleep(20 * 1000); /* counted as the answer goes out, maybe after the client has it */
    cr_assert_eq(after, before + 1, "GET /topology counted under route=topology");
}

Test(read, head_has_headers_and_no_body)
{
    resp r = request(&S, "HEAD", "/config/security", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(header(&r, "etag"));
    cr_assert_str_eq(r.body, "");
    resp_free(&r);
}

Test(read, no_h2c_upgrade)
{
    const char *hs[] = {"Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c",
                        "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA", NULL};
    resp r = request(&S, "GET", "/config/security", NULL, hs);
    cr_assert_eq(r.status, 200, "the server must not switch protocols to h2c");
    resp_free(&r);
}
