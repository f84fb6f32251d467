/*
 * End to end: the operations side. /metrics counts exactly under a multi-threaded server;
 * log lines carry the write's trace id; long-poll watches wake on a change of their answer and
 * only then, time out with 304, span threads, and end cleanly at shutdown. GET / serves the
 * dashboard page under its security headers (its behaviour in a browser: tests/browser/).
 */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static server S;

static void down(void)
{
    server_cleanup(&S);
}

TestSuite(ops, .fini = down, .timeout = 120);

static char *scrape(void)
{
    resp r = request(&S, "GET", "/metrics", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(strstr(header(&r, "content-type"), "text/plain"));
    char *text = strdup(r.body);
    resp_free(&r);
    return text;
}

static char security_etag[64];

static void *client(void *arg)
{
    char inm[100];
    snprintf(inm, sizeof inm, "If-None-Match: %s", security_etag);
    for (int i = 0; i < 50; i++) {
        resp r = request(&S, "GET", "/config/security", NULL, NULL);
        cr_assert_eq(r.status, 200);
        resp_free(&r);
        if (i % 2 == 0) {
            r = request(&S, "GET", "/config/security", NULL, (const char *const[]){inm, NULL});
            cr_assert_eq(r.status, 304);
            resp_free(&r);
        }
        if (i % 5 == 0) {
            r = request(&S, "GET", "/config/nope", NULL, NULL);
            cr_assert_eq(r.status, 404);
            resp_free(&r);
        }
    }
    return NULL;
}

Test(ops, metrics_count_every_request_across_threads)
{
    server_start(&S, (const char *const[]){"--threads", "2", NULL});
    resp r = request(&S, "GET", "/config/security", NULL, NULL);
    snprintf(security_etag, sizeof security_etag, "%s", header(&r, "etag"));
    resp_free(&r);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, client, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    char *m = scrape();
    /* 4 clients x (50 + 25 + 10), plus the first GET; nothing lost between the 2 threads. */
    cr_assert_eq(metric_in(m, "switchboard_requests_total{route=\"config\",code=\"200\"}"), 201,
                 "%s", m);
    cr_assert_eq(metric_in(m, "switchboard_requests_total{route=\"config\",code=\"304\"}"), 100);
    cr_assert_eq(metric_in(m, "switchboard_requests_total{route=\"config\",code=\"404\"}"), 40);
    cr_assert_eq(metric_in(m, "switchboard_not_modified_total"), 100);
    cr_assert_eq(metric_in(m, "switchboard_request_duration_seconds_count"), 341,
                 "every request in the latency histogram");
    cr_assert_eq(metric_in(m, "switchboard_request_duration_seconds_bucket{le=\"+Inf\"}"), 341);
    cr_assert_eq(metric_in(m, "switchboard_revision"), 1);
    cr_assert_eq(metric_in(m, "switchboard_watchers"), 0);
    cr_assert_eq(metric_in(m, "switchboard_writes_total"), 0);
    double used = metric_in(m, "switchboard_lmdb_map_used_bytes");
    cr_assert(used > 0 && used <= metric_in(m, "switchboard_lmdb_map_size_bytes"));
    free(m);

    double before = (double)time(NULL);
    r = admin(&S, "PATCH", "/admin/providers/openai?dry_run=1", "{\"enabled\":false}", NULL);
    resp_free(&r);
    r = admin(&S, "PATCH", "/admin/providers/openai", "{\"enabled\":false}", NULL);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    m = scrape();
    cr_assert_eq(metric_in(m, "switchboard_revision"), 2);
    cr_assert_eq(metric_in(m, "switchboard_writes_total"), 1);
    cr_assert_eq(metric_in(m, "switchboard_snapshot_builds_total"), 2, "the dry run built one too");
    cr_assert_eq(metric_in(m, "switchboard_snapshot_build_failures_total"), 0);
    cr_assert_geq(metric_in(m, "switchboard_last_write_timestamp_seconds"), before - 1);
    cr_assert_eq(metric_in(m, "switchboard_requests_total{route=\"admin_write\",code=\"200\"}"), 2);
    cr_assert_eq(metric_in(m, "switchboard_requests_total{route=\"metrics\",code=\"200\"}"), 1,
                 "the first scrape, counted once answered");
    free(m);
}

Test(ops, logs_are_json_lines_with_the_write_trace)
{
    server_start(&S, NULL);
    resp r = admin(&S, "PATCH", "/admin/providers/openai", "{\"enabled\":false}",
                   (const char *const[]){
                       "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                       "X-Change-Reason: drill", NULL});
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(strstr(header(&r, "traceparent"), "0af7651916cd43dd8448eb211c80319c"));
    resp_free(&r);
    cr_assert_eq(server_stop(&S, SIGTERM), 0);
    FILE *f = fopen(S.log, "r");
    cr_assert_not_null(f);
    char line[4096];
    bool start = false, write = false, stop = false;
    while (fgets(line, sizeof line, f)) {
        json_t *j = json_loads(line, 0, NULL);
        cr_assert_not_null(j, "every line is one JSON object: %s", line);
        const char *event = json_string_value(json_object_get(j, "event"));
        cr_assert_not_null(event);
        cr_assert_not_null(json_object_get(j, "time"));
        start = start || strcmp(event, "start") == 0 || strcmp(event, "listening") == 0;
        stop = stop || strcmp(event, "stop") == 0;
        if (strcmp(event, "write") == 0) {
            write = true;
            cr_assert_str_eq(json_string_value(json_object_get(j, "key")), "providers/openai");
            cr_assert_eq(json_integer_value(json_object_get(j, "revision")), 2);
            cr_assert_str_eq(json_string_value(json_object_get(j, "actor")), "admin");
            cr_assert_str_eq(json_string_value(json_object_get(j, "reason")), "drill");
            cr_assert_str_eq(json_string_value(json_object_get(j, "trace_id")),
                             "0af7651916cd43dd8448eb211c80319c");
        }
        json_decref(j);
    }
    fclose(f);
    cr_assert(start && write && stop, "start %d, write %d, stop %d", start, write, stop);
}

/* ---- long-poll ---- */

typedef struct watch {
    const char *path;
    char inm[100];
    resp r;
    double took;
    pthread_t t;
} watch;

static void *watch_main(void *arg)
{
    watch *w = arg;
    double t0 = now_s();
    w->r = request(&S, "GET", w->path, NULL, (const char *const[]){w->inm, NULL});
    w->took = now_s() - t0;
    return NULL;
}

static void watch_start(watch *w, const char *path, const char *etag_path)
{
    resp r = request(&S, "GET", etag_path, NULL, NULL);
    snprintf(w->inm, sizeof w->inm, "If-None-Match: %s", header(&r, "etag"));
    resp_free(&r);
    w->path = path;
    pthread_create(&w->t, NULL, watch_main, w);
}

static void wait_for_watchers(double n)
{
    for (double t0 = now_s(); metric_now(&S, "switchboard_watchers") != n && now_s() - t0 < 30;)
        usleep(10 * 1000);
    cr_assert_eq(metric_now(&S, "switchboard_watchers"), n, "%g watchers are waiting", n);
}

Test(ops, a_watch_wakes_on_its_change_and_only_then)
{
    server_start(&S, (const char *const[]){"--threads", "2", NULL});
    watch sec, doc, topo;
    watch_start(&sec, "/config/security?wait=30", "/config/security");
    watch_start(&doc, "/config/documentation?wait=2", "/config/documentation");
    watch_start(&topo, "/topology?wait=30", "/topology");
    wait_for_watchers(3);
    resp w = admin(&S, "PATCH", "/admin/providers/openai", "{\"enabled\":false}", NULL);
    double acked = now_s();
    cr_assert_eq(w.status, 200);
    resp_free(&w);
    pthread_join(sec.t, NULL);
    pthread_join(topo.t, NULL);
    double woke = now_s() - acked;
    cr_assert_eq(sec.r.status, 200, "security changed: the new answer");
    /* Bounds that a busy machine meets, far from the 30 s the watch would wait. */
    cr_assert_lt(woke, 10, "woken by the write, not the timeout (%.3f s)", woke);
    resp now = request(&S, "GET", "/config/security", NULL, NULL);
    cr_assert_str_eq(header(&sec.r, "etag"), header(&now, "etag"));
    cr_assert_str_eq(sec.r.body, now.body);
    resp_free(&now);
    cr_assert_eq(topo.r.status, 200, "the topology changed too");
    /* documentation does not use openai: its watch is not woken and ends at its timeout. */
    pthread_join(doc.t, NULL);
    cr_assert_eq(doc.r.status, 304, "%ld %s", doc.r.status, doc.r.body);
    cr_assert_geq(doc.took, 1.9, "an unchanged answer waits out its time: %.3f s", doc.took);
    cr_assert_leq(doc.took, 10.0, "and then ends: %.3f s", doc.took);
    cr_assert_eq(metric_now(&S, "switchboard_watchers"), 0);
    char *m = scrape();
    cr_assert_eq(metric_in(m, "switchboard_requests_total{route=\"watch\",code=\"200\"}"), 2);
    cr_assert_eq(metric_in(m, "switchboard_requests_total{route=\"watch\",code=\"304\"}"), 1);
    free(m);
    resp_free(&sec.r);
    resp_free(&doc.r);
    resp_free(&topo.r);
}

Test(ops, a_watch_answers_at_once_when_the_tag_is_old_or_absent)
{
    server_start(&S, NULL);
    double t0 = now_s();
    resp r = request(&S, "GET", "/config/security?wait=30", NULL,
                     (const char *const[]){"If-None-Match: \"old\"", NULL});
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    r = request(&S, "GET", "/config/security?wait=30", NULL, NULL);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    cr_assert_lt(now_s() - t0, 10, "not the 30 s a watch waits");
    const char *bad[] = {"/config/security?wait=x", "/config/security?wait=-1",
                         "/topology?wait=1.5", "/config/security?wait="};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        r = request(&S, "GET", bad[i], NULL, NULL);
        cr_assert_eq(r.status, 400, "%s", bad[i]);
        resp_free(&r);
    }
    r = request(&S, "GET", "/config/nope?wait=5", NULL, NULL);
    cr_assert_eq(r.status, 404);
    resp_free(&r);
}

Test(ops, many_watchers_on_every_thread_and_a_deleted_role)
{
    server_start(&S, (const char *const[]){"--threads", "2", NULL});
    resp r = admin(&S, "PUT", "/admin/roles/temp", "{\"primary\":\"openai/gpt-5.3-codex\"}", NULL);
    cr_assert_eq(r.status, 201);
    resp_free(&r);
    enum { N = 20 };
    watch ws[N], gone;
    for (int i = 0; i < N; i++)
        watch_start(&ws[i], "/config/performance?wait=20", "/config/performance");
    watch_start(&gone, "/config/temp?wait=20", "/config/temp");
    wait_for_watchers(N + 1);
    r = admin(&S, "POST", "/admin/txn",
              "{\"ops\":[{\"op\":\"patch\",\"key\":\"providers/openai\",\"value\":{\"enabled\":"
              "false}},{\"op\":\"delete\",\"key\":\"roles/temp\"}]}",
              NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    resp_free(&r);
    double acked = now_s();
    for (int i = 0; i < N; i++) {
        pthread_join(ws[i].t, NULL);
        cr_assert_eq(ws[i].r.status, 200);
        cr_assert_str_eq(json_string_value(json_object_get(ws[i].r.json, "primary")),
                         "anthropic/claude-opus-4-7");
        resp_free(&ws[i].r);
    }
    cr_assert_lt(now_s() - acked, 10,
                 "every watcher, on both threads, woken by the write, "
                 "not their 20 s timeout");
    pthread_join(gone.t, NULL);
    cr_assert_eq(gone.r.status, 404, "a deleted role ends its watches");
    resp_free(&gone.r);
}

Test(ops, shutdown_ends_waiting_watches)
{
    server_start(&S, NULL);
    watch w;
    watch_start(&w, "/config/security?wait=60", "/config/security");
    wait_for_watchers(1);
    double t0 = now_s();
    cr_assert_eq(server_stop(&S, SIGTERM), 0, "%s", server_log(&S));
    pthread_join(w.t, NULL);
    cr_assert_eq(w.r.status, 304);
    cr_assert_lt(now_s() - t0, 10, "a watch does not hold up the shutdown for its 60 s");
    resp_free(&w.r);
}

/* The CSP source for an inline block: 'sha256-' + base64 of the SHA-256 of what lies between
 * "\n<tag>" and "</tag>" in page. */
static void inline_hash(const char *page, const char *tag, char *out, size_t cap)
{
    char open[32], close[32];
    snprintf(open, sizeof open, "\n<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *start = strstr(page, open);
    cr_assert_not_null(start, "the page has no <%s> block", tag);
    start += strlen(open);
    const char *end = strstr(start, close);
    cr_assert_not_null(end);
    unsigned char digest[SHA256_DIGEST_LENGTH], b64[64];
    SHA256((const unsigned char *)start, (size_t)(end - start), digest);
    EVP_EncodeBlock(b64, digest, sizeof digest);
    snprintf(out, cap, "'sha256-%s'", b64);
}

/* GET / is the dashboard: server/http/dashboard.html byte for byte, revalidated by its ETag, locked
 * down by its headers, and served without a token even where every read needs one. */
Test(ops, the_dashboard_page_is_served_with_its_policy)
{
    server_start(&S, (const char *const[]){"--read-auth", NULL});
    char path[512];
    snprintf(path, sizeof path, "%s/server/http/dashboard.html", getenv("SB_SOURCE_ROOT"));
    char *page = slurp(path);
    size_t n = strlen(page);

    resp r = request(&S, "GET", "/", NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(header(&r, "content-type"), "text/html; charset=utf-8");
    cr_assert_eq(strlen(r.body), n);
    cr_assert_str_eq(r.body, page, "GET / is not server/http/dashboard.html");
    const char *csp = header(&r, "content-security-policy");
    cr_assert_not_null(csp);
    char script[80], style[80];
    inline_hash(page, "script", script, sizeof script);
    inline_hash(page, "style", style, sizeof style);
    cr_assert_not_null(strstr(csp, script), "the policy %s does not allow the script %s", csp,
                       script);
    cr_assert_not_null(strstr(csp, style), "the policy does not allow the style %s", style);
    cr_assert_not_null(strstr(csp, "default-src 'none'"));
    cr_assert_not_null(strstr(csp, "connect-src 'self'"));
    cr_assert_not_null(strstr(csp, "frame-ancestors 'none'"), "no framing: clickjacking a flip");
    cr_assert_str_eq(header(&r, "x-content-type-options"), "nosniff");
    cr_assert_str_eq(header(&r, "cache-control"), "no-cache");

    char inm[100];
    snprintf(inm, sizeof inm, "If-None-Match: %s", header(&r, "etag"));
    resp again = request(&S, "GET", "/", NULL, (const char *const[]){inm, NULL});
    cr_assert_eq(again.status, 304);
    resp data = request(&S, "GET", "/topology", NULL, NULL);
    cr_assert_eq(data.status, 401, "the page is open, the data is not");
    resp head = request(&S, "HEAD", "/", NULL, NULL);
    cr_assert_eq(head.status, 200);
    cr_assert_str_eq(head.body, "");
    resp_free(&r);
    resp_free(&again);
    resp_free(&data);
    resp_free(&head);
    free(page);
}
