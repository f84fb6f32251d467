/*
 * End to end: libswitchboard (the shared library, as a workload links it) against a real
 * switchboard process: TTL expiry, 304 renewal, a flip seen within one TTL, the server killed
 * (stale), a cold start with the server down (defaults), the server back (fresh), tenants, auth,
 * and many threads at once. A scripted HTTP server stands in where the real one cannot misbehave
 * on demand: hanging (the timeout), and counting connections (keep-alive).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <switchboard.h>

#include "harness.h"

static server S;

static void down(void)
{
    server_cleanup(&S);
}

TestSuite(client, .fini = down, .timeout = 120);

static sb_client *client_for(int port, unsigned ttl_ms, const char *tenant, const char *defaults)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    /* A timeout far above the default 500 ms: the suite must hold on a busy machine. */
    sb_options o = {.base_url = url,
                    .ttl_ms = ttl_ms,
                    .tenant = tenant,
                    .defaults_json = defaults,
                    .timeout_ms = 5000};
    sb_client *c;
    cr_assert_eq(sb_client_open(&o, &c), SB_OK);
    return c;
}

/* Gets role; checks the status and, when given, the source. The caller releases the route. */
static sb_route *get(sb_client *c, const char *role, sb_status status, int source)
{
    sb_route *r = NULL;
    sb_status s = sb_route_get(c, role, &r);
    cr_assert_eq(s, status, "%s: %s, expected %s", role, sb_strerror(s), sb_strerror(status));
    if (source >= 0 && r != NULL)
        cr_assert_eq(sb_route_source(r), (sb_source)source, "%s: source %s, expected %s", role,
                     sb_source_name(sb_route_source(r)), sb_source_name((sb_source)source));
    return r;
}

/* The server's own answer for a role, to compare the library's with. */
static json_t *server_answer(const char *path)
{
    resp r = request(&S, "GET", path, NULL, NULL);
    cr_assert_eq(r.status, 200);
    json_t *j = json_incref(r.json);
    json_object_set_new(j, "etag", json_string(header(&r, "etag")));
    resp_free(&r);
    return j;
}

static void same_as_server(const sb_route *r, const char *path)
{
    json_t *a = server_answer(path);
    const char *p = json_string_value(json_object_get(a, "primary"));
    if (p)
        cr_assert_str_eq(sb_route_primary(r), p);
    else
        cr_assert_null(sb_route_primary(r));
    json_t *fb = json_object_get(a, "fallbacks");
    cr_assert_eq(sb_route_fallback_count(r), json_array_size(fb));
    for (size_t i = 0; i < json_array_size(fb); i++)
        cr_assert_str_eq(sb_route_fallback(r, i), json_string_value(json_array_get(fb, i)));
    cr_assert_str_eq(sb_route_etag(r), json_string_value(json_object_get(a, "etag")));
    json_decref(a);
}

Test(client, ttl_expiry_and_304_renewal)
{
    server_start(&S, NULL);
    sb_client *c = client_for(S.port, 1000, NULL, NULL);
    sb_route *r = get(c, "security", SB_OK, SB_SOURCE_FRESH);
    same_as_server(r, "/config/security");
    sb_route_release(r);
    sb_route_release(get(c, "security", SB_OK, SB_SOURCE_CACHED));
    usleep(1100 * 1000);                                  /* past the TTL */
    r = get(c, "security", SB_OK, SB_SOURCE_REVALIDATED); /* the server said 304 */
    same_as_server(r, "/config/security");
    sb_route_release(r);
    sb_route_release(get(c, "security", SB_OK, SB_SOURCE_CACHED));
    sb_client_close(c);
}

Test(client, a_flip_is_seen_within_one_ttl)
{
    server_start(&S, NULL);
    const unsigned ttl = 1000;
    sb_client *c = client_for(S.port, ttl, NULL, NULL);
    sb_route *before = get(c, "security", SB_OK, SB_SOURCE_FRESH);
    cr_assert_str_eq(sb_route_primary(before), "anthropic/claude-opus-4-7");
    resp w = admin(&S, "PATCH", "/admin/providers/anthropic", "{\"enabled\":false}", NULL);
    cr_assert_eq(w.status, 200);
    resp_free(&w);
    double acked = now_s(), seen = 0;
    while (now_s() - acked < 5.0 * ttl / 1000) {
        sb_route *r = get(c, "security", SB_OK, -1);
        bool changed = strcmp(sb_route_primary(r), sb_route_primary(before)) != 0;
        if (changed) {
            seen = now_s();
            cr_assert_eq(sb_route_source(r), SB_SOURCE_FRESH, "a changed answer is a 200");
            cr_assert_str_neq(sb_route_etag(r), sb_route_etag(before));
            same_as_server(r, "/config/security");
        }
        sb_route_release(r);
        if (changed)
            break;
        usleep(5000);
    }
    cr_assert_gt(seen, 0, "the flip never reached the client");
    /* With room for a busy machine, far from the server's 5 s max-age. */
    cr_assert_leq(seen - acked, ttl / 1000.0 + 1.0, "seen %.3f s after the ack; the TTL is %u ms",
                  seen - acked, ttl);
    sb_route_release(before);
    sb_client_close(c);
}

Test(client, server_killed_then_back)
{
    server_start(&S, NULL);
    sb_client *c = client_for(S.port, 200, NULL, NULL);
    sb_route *fresh = get(c, "performance", SB_OK, SB_SOURCE_FRESH);
    server_stop(&S, SIGKILL);
    usleep(250 * 1000); /* past the TTL */
    double t0 = now_s();
    sb_route *stale = get(c, "performance", SB_OK, SB_SOURCE_STALE);
    cr_assert_lt(now_s() - t0, 2.5, "a refused connection is no reason to wait (the timeout: 5 s)");
    cr_assert_str_eq(sb_route_primary(stale), sb_route_primary(fresh));
    cr_assert_str_eq(sb_route_etag(stale), sb_route_etag(fresh));
    sb_route_release(stale);
    /* Within the backoff, the stale answer comes from memory. */
    sb_route_release(get(c, "performance", SB_OK, SB_SOURCE_STALE));

    server_restart(&S);
    double back = now_s();
    sb_source src = SB_SOURCE_STALE;
    while (src == SB_SOURCE_STALE && now_s() - back < 10) {
        sb_route *r = get(c, "performance", SB_OK, -1);
        src = sb_route_source(r);
        sb_route_release(r);
        usleep(10 * 1000);
    }
    cr_assert_eq(src, SB_SOURCE_REVALIDATED, "back: the same answer, revalidated (%s)",
                 sb_source_name(src));
    /* One TTL, the backoff's cap, with room for a busy machine. */
    cr_assert_leq(now_s() - back, 0.2 + 1.0, "seen back within one TTL");
    sb_route_release(get(c, "performance", SB_OK, SB_SOURCE_CACHED));
    sb_route_release(fresh);
    sb_client_close(c);
}

Test(client, cold_start_with_the_server_down_then_up)
{
    int port = free_port();
    sb_client *c =
        client_for(port, 200, NULL, "{\"security\": {\"primary\": \"local/fallback-model\"}}");
    sb_route *r = get(c, "security", SB_OK, SB_SOURCE_DEFAULT);
    cr_assert_str_eq(sb_route_primary(r), "local/fallback-model");
    cr_assert_str_eq(sb_route_etag(r), "");
    sb_route_release(r);
    get(c, "performance", SB_ERR_UNAVAILABLE, -1);

    /* The server comes up on that port: the real answer replaces the default. */
    server_start_on(&S, port, NULL);
    double up = now_s();
    sb_source src = SB_SOURCE_DEFAULT;
    while (src == SB_SOURCE_DEFAULT && now_s() - up < 10) {
        r = get(c, "security", SB_OK, -1);
        src = sb_route_source(r);
        if (src != SB_SOURCE_DEFAULT)
            same_as_server(r, "/config/security");
        sb_route_release(r);
        usleep(10 * 1000);
    }
    cr_assert_eq(src, SB_SOURCE_FRESH);
    cr_assert_leq(now_s() - up, 0.2 + 1.0, "fresh within one TTL of the server coming up");
    r = get(c, "performance", SB_OK, -1);
    same_as_server(r, "/config/performance");
    sb_route_release(r);
    sb_client_close(c);
}

Test(client, tenants_errors_and_no_route)
{
    server_start(&S, (const char *const[]){"--read-auth", NULL});
    sb_client *anon = client_for(S.port, 5000, NULL, NULL);
    get(anon, "security", SB_ERR_UNAUTHORIZED, -1);
    sb_client_close(anon);

    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", S.port); /* a trailing slash is fine */
    setenv("SWITCHBOARD_URL", url, 1);
    setenv("SWITCHBOARD_TOKEN", S.token, 1);
    sb_client *c, *acme;
    cr_assert_eq(sb_client_open(&(sb_options){.ttl_ms = 100, .timeout_ms = 5000}, &c), SB_OK,
                 "from the environment");
    cr_assert_eq(
        sb_client_open(&(sb_options){.ttl_ms = 100, .tenant = "acme", .timeout_ms = 5000}, &acme),
        SB_OK);
    sb_route *g = get(c, "security", SB_OK, SB_SOURCE_FRESH);
    sb_route *t = get(acme, "security", SB_OK, SB_SOURCE_FRESH);
    cr_assert_str_neq(sb_route_etag(g), sb_route_etag(t), "acme has openai off: another answer");
    resp r = request(&S, "GET", "/config/security?tenant=acme", NULL,
                     (const char *const[]){"Authorization: Bearer x", NULL});
    cr_assert_eq(r.status, 401);
    resp_free(&r);
    sb_route_release(g);
    sb_route_release(t);
    get(c, "no-such-role", SB_ERR_NOT_FOUND, -1);

    /* Every provider off: the library says there is no route, with the answer's ETag. */
    resp w =
        admin(&S, "POST", "/admin/txn?force=1",
              "{\"ops\":[{\"op\":\"patch\",\"key\":\"providers/"
              "anthropic\",\"value\":{\"enabled\":false}},"
              "{\"op\":\"patch\",\"key\":\"providers/openai\",\"value\":{\"enabled\":false}},"
              "{\"op\":\"patch\",\"key\":\"providers/workers-ai\",\"value\":{\"enabled\":false}}]}",
              NULL);
    cr_assert_eq(w.status, 200, "%s", w.body);
    resp_free(&w);
    usleep(150 * 1000);
    sb_route *none = get(c, "security", SB_NO_ROUTE, SB_SOURCE_FRESH);
    cr_assert_null(sb_route_primary(none));
    cr_assert_eq(sb_route_fallback_count(none), 0);
    cr_assert_neq(sb_route_etag(none)[0], '\0');
    sb_route_release(none);
    sb_client_close(c);
    sb_client_close(acme);
    unsetenv("SWITCHBOARD_URL");
    unsetenv("SWITCHBOARD_TOKEN");
}

/* Many threads on one client while the answers keep changing: every route is whole (one the
 * server gave), and nothing fails. */
#define READERS 8
static sb_client *shared;
static _Atomic int failures, stop_flipping;

static void *reader(void *arg)
{
    for (int i = 0; i < 20000; i++) {
        sb_route *r = NULL;
        const char *role = i % 3 == 0 ? "security" : i % 3 == 1 ? "performance" : "architecture";
        if (sb_route_get(shared, role, &r) != SB_OK || sb_route_primary(r) == NULL ||
            sb_route_etag(r)[1] == '\0')
            atomic_fetch_add(&failures, 1);
        /* The two providers that flip are never both off, so openai or anthropic leads. */
        else if (strncmp(sb_route_primary(r), "openai/", 7) != 0 &&
                 strncmp(sb_route_primary(r), "anthropic/", 10) != 0)
            atomic_fetch_add(&failures, 1);
        sb_route_release(r);
    }
    return NULL;
}

static void *flipper(void *arg)
{
    for (int i = 0; !atomic_load(&stop_flipping); i++) {
        const char *body = i % 2 ? "{\"enabled\":true}" : "{\"enabled\":false}";
        resp w = admin(&S, "PATCH", "/admin/providers/openai", body, NULL);
        resp_free(&w);
        usleep(20 * 1000);
    }
    return NULL;
}

Test(client, many_threads_at_once)
{
    server_start(&S, NULL);
    shared = client_for(S.port, 50, NULL, NULL);
    pthread_t f, t[READERS];
    pthread_create(&f, NULL, flipper, NULL);
    for (int i = 0; i < READERS; i++)
        pthread_create(&t[i], NULL, reader, NULL);
    for (int i = 0; i < READERS; i++)
        pthread_join(t[i], NULL);
    atomic_store(&stop_flipping, 1);
    pthread_join(f, NULL);
    cr_assert_eq(atomic_load(&failures), 0, "%d lookups failed or were torn", failures);
    sb_client_close(shared);
}

/* A loopback listener for scripted servers: each connection goes to conn, on a thread of its
 * own or, when serial, one after the other. */
typedef struct listener {
    int fd, port;
    _Atomic int connections;
    void *(*conn)(void *fd);
    bool serial;
    pthread_t thread;
} listener;

static void *accept_loop(void *arg)
{
    listener *l = arg;
    for (int fd; (fd = accept(l->fd, NULL, NULL)) >= 0;) {
        atomic_fetch_add(&l->connections, 1);
        pthread_t t;
        if (l->serial)
            l->conn((void *)(intptr_t)fd);
        else if (pthread_create(&t, NULL, l->conn, (void *)(intptr_t)fd) == 0)
            pthread_detach(t);
    }
    return NULL;
}

static void listen_loopback(listener *l)
{
    l->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert(bind(l->fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(l->fd, 16) == 0 &&
              getsockname(l->fd, (struct sockaddr *)&a, &len) == 0);
    l->port = ntohs(a.sin_port);
    pthread_create(&l->thread, NULL, accept_loop, l);
}

/* A scripted server: answers every request with the same answer, 304 when If-None-Match
 * matches; or, when hang is set, never answers. */
static _Atomic int hang;
static void *fake_conn(void *arg);
static listener fake = {.conn = fake_conn};

/* Reads one request (headers, then Content-Length bytes of body) into buf; its body, or NULL
 * when the peer is gone. */
static char *read_request(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    char *end = NULL;
    long length = 0;
    for (;;) {
        if (end != NULL && (long)(got - (size_t)(end + 4 - buf)) >= length)
            return end + 4;
        ssize_t k = read(fd, buf + got, cap - 1 - got);
        if (k <= 0)
            return NULL;
        got += (size_t)k;
        buf[got] = '\0';
        if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
            const char *cl = strcasestr(buf, "content-length:");
            length = cl && cl < end ? strtol(cl + 15, NULL, 10) : 0;
        }
    }
}

static void *fake_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    static const char body[] =
        "{\"role\":\"security\",\"tenant\":null,\"primary\":\"a/m1\",\"fallbacks\":[],"
        "\"dropped\":[]}";
    char buf[8192], reply[512];
    while (read_request(fd, buf, sizeof buf) != NULL) {
        if (atomic_load(&hang)) {
            sleep(5);
            break;
        }
        int n =
            strstr(buf, "If-None-Match: \"f1\"")
                ? snprintf(reply, sizeof reply, "HTTP/1.1 304 Not Modified\r\nETag: \"f1\"\r\n\r\n")
                : snprintf(reply, sizeof reply,
                           "HTTP/1.1 200 OK\r\nETag: \"f1\"\r\nContent-Type: "
                           "application/json\r\nContent-Length: %zu\r\n\r\n%s",
                           strlen(body), body);
        if (write(fd, reply, (size_t)n) != n)
            break;
    }
    close(fd);
    return NULL;
}

Test(client, revalidations_reuse_one_connection)
{
    listen_loopback(&fake);
    sb_client *c = client_for(fake.port, 20, NULL, NULL);
    sb_route_release(get(c, "security", SB_OK, SB_SOURCE_FRESH));
    for (int i = 0; i < 10; i++) {
        usleep(30 * 1000);
        sb_route_release(get(c, "security", SB_OK, SB_SOURCE_REVALIDATED));
    }
    cr_assert_eq(atomic_load(&fake.connections), 1, "11 requests over %d connections",
                 atomic_load(&fake.connections));
    sb_client_close(c);
}

Test(client, the_timeout_bounds_every_call)
{
    listen_loopback(&fake);
    atomic_store(&hang, 1);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", fake.port);
    sb_options o = {.base_url = url,
                    .timeout_ms = 200,
                    .defaults_json = "{\"security\": {\"primary\": \"d/m\"}}"};
    sb_client *c;
    cr_assert_eq(sb_client_open(&o, &c), SB_OK);
    double t0 = now_s();
    sb_route_release(get(c, "security", SB_OK, SB_SOURCE_DEFAULT));
    double took = now_s() - t0;
    cr_assert_geq(took, 0.19, "the server hung, so the call waited for the timeout: %.3f", took);
    /* With room for a busy machine, far from the 5 s the server hangs. */
    cr_assert_leq(took, 2.5, "a hanging server holds a call no longer than the timeout: %.3f s",
                  took);
    t0 = now_s();
    get(c, "performance", SB_ERR_UNAVAILABLE, -1);
    cr_assert_leq(now_s() - t0, 2.5);
    sb_client_close(c);
}

/* A model gateway for the example: models in `failing` answer 503, the others a reply naming
 * themselves. It records the order models were called in. */
static struct {
    const char *failing;
    char called[512];
} gw;
static void *gateway_conn(void *arg);
static listener gateway = {.conn = gateway_conn, .serial = true}; /* calls in order */

static void *gateway_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[16384];
    const char *body = read_request(fd, buf, sizeof buf);
    json_t *req = body ? json_loads(body, 0, NULL) : NULL;
    const char *model = json_string_value(json_object_get(req, "model"));
    char reply[1024];
    int n;
    strcat(gw.called, model ? model : "?");
    strcat(gw.called, " ");
    if (model == NULL || strstr(gw.failing, model) != NULL) {
        n = snprintf(reply, sizeof reply,
                     "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n");
    } else {
        char content[512];
        int m = snprintf(content, sizeof content,
                         "{\"choices\":[{\"message\":{\"role\":\"assistant\","
                         "\"content\":\"reviewed by %s\"}}]}",
                         model);
        n = snprintf(reply, sizeof reply,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                     "%d\r\nConnection: close\r\n\r\n%s",
                     m, content);
    }
    cr_assert_eq(write(fd, reply, (size_t)n), n);
    json_decref(req);
    close(fd);
    return NULL;
}

Test(client, the_example_walks_the_fallbacks_and_tags_its_logs)
{
    server_start(&S, NULL);
    listen_loopback(&gateway);
    /* The primary and the first fallback are down; the second fallback answers. */
    gw.failing = "anthropic/claude-opus-4-7 anthropic/claude-opus-4-6";

    char sb_url[80], llm_url[80];
    snprintf(sb_url, sizeof sb_url, "SWITCHBOARD_URL=http://127.0.0.1:%d", S.port);
    snprintf(llm_url, sizeof llm_url, "LLM_API_URL=http://127.0.0.1:%d/v1", gateway.port);
    const char *argv[] = {getenv("REVIEW_BIN"), "security", NULL};
    cr_assert_not_null(argv[0], "REVIEW_BIN is not set (run the tests through meson)");
    static char out[4096], err[4096];
    int rc = run_program(argv, (const char *const[]){sb_url, llm_url, NULL}, out, sizeof out, err,
                         sizeof err);
    cr_assert_eq(rc, 0, "the example failed:\n%s", err);
    cr_assert_str_eq(out, "reviewed by openai/gpt-5.3-codex\n");
    cr_assert_str_eq(gw.called,
                     "anthropic/claude-opus-4-7 anthropic/claude-opus-4-6 openai/gpt-5.3-codex ",
                     "the primary, then the fallbacks in order");
    json_t *answer = server_answer("/config/security");
    char tag[80];
    snprintf(tag, sizeof tag, "etag=%s", json_string_value(json_object_get(answer, "etag")));
    json_decref(answer);
    int lines = 0;
    for (char *line = strtok(err, "\n"); line; line = strtok(NULL, "\n"), lines++)
        cr_assert(strstr(line, tag) && strstr(line, "source=fresh"),
                  "every log line carries the route's ETag: %s", line);
    cr_assert_eq(lines, 3, "one line per attempt");

    /* Every model down: the example says so and fails. */
    gw.failing = "anthropic/claude-opus-4-7 anthropic/claude-opus-4-6 openai/gpt-5.3-codex "
                 "kimi-k2.5";
    gw.called[0] = '\0';
    rc = run_program(argv, (const char *const[]){sb_url, llm_url, NULL}, out, sizeof out, err,
                     sizeof err);
    cr_assert_eq(rc, 1);
    cr_assert(strstr(err, "attempt=4 model=kimi-k2.5 result=failed"), "%s", err);
}

Test(client, watch_mode_sees_a_flip_at_once_and_a_dead_server_at_once)
{
    server_start(&S, NULL);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", S.port);
    sb_client *c;
    cr_assert_eq(sb_client_open(&(sb_options){.base_url = url, .watch = 1, .timeout_ms = 5000}, &c),
                 SB_OK);
    sb_route *before = get(c, "security", SB_OK, SB_SOURCE_FRESH);
    for (double t0 = now_s(); metric_now(&S, "switchboard_watchers") != 1 && now_s() - t0 < 30;)
        usleep(10 * 1000);
    cr_assert_eq(metric_now(&S, "switchboard_watchers"), 1,
                 "the client keeps one long-poll open for its role");

    resp w = admin(&S, "PATCH", "/admin/providers/anthropic", "{\"enabled\":false}", NULL);
    cr_assert_eq(w.status, 200);
    resp_free(&w);
    double acked = now_s(), seen = 0;
    while (seen == 0 && now_s() - acked < 4) { /* less than the TTL */
        sb_route *r = get(c, "security", SB_OK, -1);
        if (strcmp(sb_route_etag(r), sb_route_etag(before)) != 0) {
            seen = now_s();
            cr_assert_eq(sb_route_source(r), SB_SOURCE_CACHED, "pushed into the cache");
            same_as_server(r, "/config/security");
        }
        sb_route_release(r);
        usleep(1000);
    }
    cr_assert_gt(seen, 0, "the watch never delivered the flip");
    cr_assert_lt(seen - acked, 2.0, "seen %.3f s after the ack, with a 5 s TTL", seen - acked);
    for (double t0 = now_s(); metric_now(&S, "switchboard_watchers") != 1 && now_s() - t0 < 30;)
        usleep(10 * 1000);
    cr_assert_eq(metric_now(&S, "switchboard_watchers"), 1, "and the watch is open again");

    server_stop(&S, SIGKILL);
    double killed = now_s();
    sb_source src = SB_SOURCE_CACHED;
    while (src != SB_SOURCE_STALE && now_s() - killed < 10) {
        sb_route *r = get(c, "security", SB_OK, -1);
        src = sb_route_source(r);
        sb_route_release(r);
        usleep(5000);
    }
    cr_assert_eq(src, SB_SOURCE_STALE, "the broken watch shows the server is gone");
    sb_route_release(before);
    sb_client_close(c);
}
