/*
 * End to end: requests that once stopped the server or were accepted when they must not be
 * (text that is not UTF-8, ambiguous body framing, weak TLS suites, long-polls behind caches)
 * and the limits on connections and long-polls.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

static server S;

static void down(void)
{
    server_cleanup(&S);
}

TestSuite(hardening, .fini = down, .timeout = 60);

static void alive(void)
{
    resp r = request(&S, "GET", "/healthz", NULL, NULL);
    cr_assert_eq(r.status, 200, "the server stopped answering: %s", server_log(&S));
    resp_free(&r);
}

/* The body is a problem document of the given status. */
static void assert_problem(const resp *r, long status)
{
    cr_assert_eq(r->status, status, "status %ld, body %s", r->status, r->body);
    cr_assert_str_eq(header(r, "content-type"), "application/problem+json");
    cr_assert_not_null(r->json, "the problem is JSON: %s", r->body);
    cr_assert_eq(json_integer_value(json_object_get(r->json, "status")), status);
    cr_assert(json_is_string(json_object_get(r->json, "detail")));
}

static int connect_to(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Sends len raw bytes on a new connection and reads until the server closes it or 10 s pass.
 * @return the bytes read, NUL-terminated (free it) */
static char *exchange(const char *bytes, size_t len)
{
    int fd = connect_to(S.port);
    cr_assert_eq(write(fd, bytes, len), (ssize_t)len);
    size_t cap = 65536, got = 0;
    char *out = malloc(cap + 1);
    double deadline = now_s() + 10;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (now_s() > deadline || poll(&p, 1, 200) < 0)
            break;
        if (p.revents == 0)
            continue;
        ssize_t n = read(fd, out + got, cap - got);
        if (n <= 0 || (got += (size_t)n) == cap)
            break;
    }
    close(fd);
    out[got] = '\0';
    return out;
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* ---- text from a request never reaches JSON unchecked ---- */

Test(hardening, paths_that_are_not_utf8_get_a_problem)
{
    server_start(&S, NULL);
    static const char *const paths[] = {
        "/config/%FF", "/%FF", "/topology%80", "/config/%C0%AF", "/config/%ED%A0%80", "/admin/%FF"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        resp r = request(&S, "GET", paths[i], NULL, NULL);
        cr_assert(r.status == 404 || r.status == 401, "%s: %ld", paths[i], r.status);
        assert_problem(&r, r.status);
        resp_free(&r);
        alive();
    }
}

Test(hardening, a_change_reason_that_is_not_utf8_is_refused)
{
    server_start(&S, NULL);
    long long before = revision_of(&S);
    const char *h[] = {"X-Change-Reason: bad \xff byte", NULL};
    resp r = admin(&S, "PATCH", "/admin/providers/openai", "{\"enabled\": false}", h);
    assert_problem(&r, 400);
    cr_assert(strstr(json_string_value(json_object_get(r.json, "detail")), "X-Change-Reason"));
    resp_free(&r);
    cr_assert_eq(revision_of(&S), before, "a refused write changes nothing");
    alive();
}

Test(hardening, a_long_reason_is_cut_on_a_character_boundary)
{
    server_start(&S, NULL);
    char h[2048] = "X-Change-Reason: a";
    for (int i = 0; i < 600; i++)
        strcat(h, "\xc3\xa9"); /* é: 1,201 bytes, so the 1,024-byte cut falls inside one */
    const char *hs[] = {h, NULL};
    resp r = admin(&S, "PATCH", "/admin/providers/openai", "{\"enabled\": false}", hs);
    cr_assert_eq(r.status, 200, "%s", r.body);
    resp_free(&r);
    alive();
    r = admin(&S, "GET", "/admin/audit", NULL, NULL);
    cr_assert_eq(r.status, 200);
    json_t *entries = json_object_get(r.json, "entries");
    const char *reason = json_string_value(
        json_object_get(json_array_get(entries, json_array_size(entries) - 1), "reason"));
    cr_assert_not_null(reason, "%s", r.body);
    cr_assert_eq(strlen(reason), 1023, "1 + 511 characters of 2 bytes: %zu", strlen(reason));
    cr_assert_eq(strncmp(reason, h + strlen("X-Change-Reason: "), 1023), 0);
    resp_free(&r);
}

/* ---- request smuggling ---- */

static void assert_refused_and_closed(const char *what, const char *reply)
{
    cr_assert(strncmp(reply, "HTTP/1.1 400", 12) == 0, "%s: %s", what, reply);
    cr_assert(strstr(reply, "application/problem+json") != NULL, "%s: %s", what, reply);
    cr_assert_eq(count_of(reply, "HTTP/1.1 "), 1, "%s: the smuggled request is not answered: %s",
                 what, reply);
}

Test(hardening, ambiguous_body_framing_is_refused)
{
    server_start(&S, NULL);
    long long before = revision_of(&S);
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "PATCH /admin/providers/openai HTTP/1.1\r\nHost: x\r\n"
                     "Authorization: Bearer %s\r\nContent-Length: 18\r\nContent-Length: 19\r\n\r\n"
                     "{\"enabled\": false} ",
                     S.token);
    char *reply = exchange(req, (size_t)n);
    assert_refused_and_closed("two Content-Length", reply);
    free(reply);

    n = snprintf(
        req, sizeof req,
        "PATCH /admin/providers/openai HTTP/1.1\r\nHost: x\r\n"
        "Authorization: Bearer %s\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
        "12\r\n{\"enabled\": false}\r\n0\r\n\r\n"
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        S.token);
    reply = exchange(req, (size_t)n);
    assert_refused_and_closed("Transfer-Encoding and Content-Length", reply);
    free(reply);
    cr_assert_eq(revision_of(&S), before, "neither write was made");

    /* The same value twice is one length (RFC 9112 lets a server take it). */
    n = snprintf(req, sizeof req,
                 "PATCH /admin/providers/openai HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 "Authorization: Bearer %s\r\nContent-Length: 18\r\ncontent-length: 18\r\n\r\n"
                 "{\"enabled\": false}",
                 S.token);
    reply = exchange(req, (size_t)n);
    cr_assert(strncmp(reply, "HTTP/1.1 200", 12) == 0, "%s", reply);
    free(reply);
    alive();
}

Test(hardening, a_nul_byte_in_a_json_body_is_refused)
{
    server_start(&S, NULL);
    long long before = revision_of(&S);
    static const char body[] = "{\"enabled\": false, \"description\": \"a\0b\"}";
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "PATCH /admin/providers/openai HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "Authorization: Bearer %s\r\nContent-Length: %zu\r\n\r\n",
                     S.token, sizeof body - 1);
    memcpy(req + n, body, sizeof body - 1);
    char *reply = exchange(req, (size_t)n + sizeof body - 1);
    cr_assert(strncmp(reply, "HTTP/1.1 400", 12) == 0, "%s", reply);
    cr_assert(strstr(reply, "application/problem+json") != NULL, "%s", reply);
    free(reply);
    cr_assert_eq(revision_of(&S), before);
}

/* ---- TLS ---- */

typedef struct tls_probe {
    CURL *curl;
    char chosen[64];
} tls_probe;

/* Notes the suite in use while the answer arrives (the TLS session is gone after the transfer). */
static size_t note_cipher(char *p, size_t size, size_t n, void *data)
{
    (void)p;
    tls_probe *t = data;
    const struct curl_tlssessioninfo *info = NULL;
    if (curl_easy_getinfo(t->curl, CURLINFO_TLS_SSL_PTR, &info) == CURLE_OK && info != NULL &&
        info->internals != NULL)
        snprintf(t->chosen, sizeof t->chosen, "%s", SSL_get_cipher_name(info->internals));
    return size * n;
}

/* A TLS 1.2 handshake offering ciphers (in the client's order of preference); the suite the
 * server chose into chosen, or CURLE_* of the failure. */
static CURLcode tls12_with(const char *ciphers, char chosen[64])
{
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/healthz", S.port);
    tls_probe t = {curl_easy_init(), ""};
    curl_easy_setopt(t.curl, CURLOPT_URL, url);
    curl_easy_setopt(t.curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(t.curl, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(t.curl, CURLOPT_SSLVERSION,
                     (long)(CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2));
    curl_easy_setopt(t.curl, CURLOPT_SSL_CIPHER_LIST, ciphers);
    curl_easy_setopt(t.curl, CURLOPT_WRITEFUNCTION, note_cipher);
    curl_easy_setopt(t.curl, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(t.curl, CURLOPT_TIMEOUT_MS, 10000L);
    CURLcode rc = curl_easy_perform(t.curl);
    curl_easy_cleanup(t.curl);
    memcpy(chosen, t.chosen, sizeof t.chosen);
    return rc;
}

Test(hardening, tls12_offers_only_aead_suites_in_the_servers_order)
{
    char cert[300], key[300], chosen[64];
    tls_cert(cert, key);
    const char *args[] = {"--tls-cert", cert, "--tls-key", key, NULL};
    server_start(&S, args);

    static const char *const cbc[] = {"ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA384",
                                      "AES128-SHA", "AES256-SHA256", "AES128-GCM-SHA256"};
    for (size_t i = 0; i < sizeof cbc / sizeof *cbc; i++)
        cr_assert_neq(tls12_with(cbc[i], chosen), CURLE_OK, "%s was accepted", cbc[i]);
    cr_assert_eq(tls12_with("ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256", chosen),
                 CURLE_OK);
    cr_assert_str_eq(chosen, "ECDHE-RSA-AES128-GCM-SHA256", "the server's order wins, not %s",
                     chosen);
}

/* ---- long-polls and caches ---- */

Test(hardening, long_poll_answers_are_not_stored_by_caches)
{
    server_start(&S, NULL);
    resp r = request(&S, "GET", "/config/security", NULL, NULL);
    cr_assert_str_eq(header(&r, "cache-control"), "max-age=5", "plain GETs may be cached");
    char inm[64];
    snprintf(inm, sizeof inm, "If-None-Match: %s", header(&r, "etag"));
    resp_free(&r);
    const char *h[] = {inm, NULL};
    r = request(&S, "GET", "/config/security?wait=1", NULL, h);
    cr_assert_eq(r.status, 304);
    cr_assert_str_eq(header(&r, "cache-control"), "no-store");
    resp_free(&r);
    r = request(&S, "GET", "/config/security?wait=1", NULL, NULL); /* answered at once */
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(header(&r, "cache-control"), "no-store");
    resp_free(&r);
    r = request(&S, "GET", "/topology?wait=1", NULL, NULL);
    cr_assert_str_eq(header(&r, "cache-control"), "no-store");
    resp_free(&r);
}

/* ---- limits ---- */

Test(hardening, connections_over_the_cap_get_503_with_retry_after)
{
    const char *args[] = {"--max-connections", "4", "--threads", "1", NULL};
    server_start(&S, args);
    int held[4];
    for (int i = 0; i < 4; i++)
        held[i] = connect_to(S.port);
    /* The server counts a connection when it accepts it: wait until it has all four. */
    char *reply = NULL;
    for (double until = now_s() + 20; now_s() < until;) {
        free(reply);
        static const char get[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        reply = exchange(get, sizeof get - 1);
        if (strncmp(reply, "HTTP/1.1 503", 12) == 0)
            break;
    }
    cr_assert(strncmp(reply, "HTTP/1.1 503", 12) == 0, "%s", reply);
    cr_assert(strcasestr(reply, "\r\nretry-after: 2\r\n") != NULL, "%s", reply);
    cr_assert(strstr(reply, "application/problem+json") != NULL, "%s", reply);
    cr_assert(strstr(reply, "--max-connections") != NULL, "%s", reply);
    free(reply);
    for (int i = 0; i < 4; i++)
        close(held[i]);
    /* Closed connections are counted out again. */
    resp r = {0};
    for (double until = now_s() + 20; now_s() < until;) {
        resp_free(&r);
        r = request(&S, "GET", "/healthz", NULL, NULL);
        if (r.status == 200)
            break;
    }
    cr_assert_eq(r.status, 200);
    resp_free(&r);
}

Test(hardening, long_polls_over_the_cap_get_503_with_retry_after)
{
    const char *args[] = {"--max-watches", "1", NULL};
    server_start(&S, args);
    resp r = request(&S, "GET", "/config/security", NULL, NULL);
    char req[256];
    int n = snprintf(req, sizeof req,
                     "GET /config/security?wait=30 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "If-None-Match: %s\r\n\r\n",
                     header(&r, "etag"));
    resp_free(&r);
    int waiting = connect_to(S.port);
    cr_assert_eq(write(waiting, req, (size_t)n), n);
    for (double until = now_s() + 20; now_s() < until;)
        if (metric_now(&S, "switchboard_watchers") == 1)
            break;
    cr_assert_eq(metric_now(&S, "switchboard_watchers"), 1);
    char *reply = exchange(req, (size_t)n);
    cr_assert(strncmp(reply, "HTTP/1.1 503", 12) == 0, "%s", reply);
    cr_assert(strcasestr(reply, "\r\nretry-after: 2\r\n") != NULL, "%s", reply);
    cr_assert(strstr(reply, "--max-watches") != NULL, "%s", reply);
    free(reply);
    close(waiting);
    /* The closed long-poll frees its place. */
    for (double until = now_s() + 20; now_s() < until;)
        if (metric_now(&S, "switchboard_watchers") == 0)
            break;
    const char *h[] = {"If-None-Match: \"stale\"", NULL};
    r = request(&S, "GET", "/config/security?wait=1", NULL, h);
    cr_assert_eq(r.status, 200, "a stale tag is answered at once, as before");
    resp_free(&r);
}

/* ---- logs ---- */

Test(hardening, text_logs_quote_values_that_could_forge_a_line)
{
    const char *args[] = {"--log-format", "text", NULL};
    server_start(&S, args);
    const char *h[] = {"X-Change-Reason: outage level=error event=forged", NULL};
    resp r = admin(&S, "PATCH", "/admin/providers/openai", "{\"enabled\": false}", h);
    cr_assert_eq(r.status, 200, "%s", r.body);
    resp_free(&r);
    const char *want = "reason=\"outage level=error event=forged\"";
    for (double until = now_s() + 20; now_s() < until && !strstr(server_log(&S), want);)
        usleep(50 * 1000);
    cr_assert(strstr(server_log(&S), want) != NULL, "%s", server_log(&S));
    cr_assert(strstr(server_log(&S), " op=patch ") != NULL, "plain values stay unquoted: %s",
              server_log(&S));
}
