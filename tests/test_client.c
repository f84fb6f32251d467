/*
 * libswitchboard's cache, with a scripted server (the transport hook) and a clock the tests
 * move by hand: TTL, revalidation, replacement, stale answers and backoff, defaults, errors,
 * and many threads at once.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The scripted server: what the next fetch gets, and what the fetches sent. */
static struct {
    pthread_mutex_t lock;
    long code;
    char etag[64];
    char body[512];
    int fetches;
    char last_inm[64];
    char last_role[80];
} srv = {.lock = PTHREAD_MUTEX_INITIALIZER};

static _Atomic int64_t clock_now = 1000000;

static int64_t fake_clock(void *data)
{
    return atomic_load(&clock_now);
}

static void fake_fetch(sb_client *c, void *data, const char *role, const char *etag,
                       sbc_response *res)
{
    pthread_mutex_lock(&srv.lock);
    memset(res, 0, sizeof *res);
    res->revision = -1;
    srv.fetches++;
    snprintf(srv.last_inm, sizeof srv.last_inm, "%s", etag ? etag : "");
    snprintf(srv.last_role, sizeof srv.last_role, "%s", role);
    res->code = srv.code;
    if (srv.code == 0)
        snprintf(res->error, sizeof res->error, "connection refused");
    else if (srv.code == 304 && etag != NULL && strcmp(etag, srv.etag) != 0)
        res->code = 200; /* a real server says 304 only when the tag matches */
    if (res->code != 0 && res->code != 304) {
        snprintf(res->etag, sizeof res->etag, "%s", srv.etag);
        res->body = strdup(srv.body);
        res->len = strlen(srv.body);
    }
    pthread_mutex_unlock(&srv.lock);
}

/* The server answers role with primary and fallbacks (a JSON array text). */
static void serve(long code, const char *etag, const char *role, const char *primary,
                  const char *fallbacks)
{
    pthread_mutex_lock(&srv.lock);
    srv.code = code;
    snprintf(srv.etag, sizeof srv.etag, "\"%s\"", etag);
    if (primary)
        snprintf(srv.body, sizeof srv.body,
                 "{\"role\":\"%s\",\"tenant\":null,\"primary\":\"%s\",\"fallbacks\":%s,"
                 "\"dropped\":[]}",
                 role, primary, fallbacks);
    else
        snprintf(srv.body, sizeof srv.body,
                 "{\"role\":\"%s\",\"tenant\":null,\"primary\":null,\"fallbacks\":[],"
                 "\"dropped\":[{\"model\":\"a/x\",\"provider\":\"a\","
                 "\"reason\":\"provider_disabled\"}]}",
                 role);
    pthread_mutex_unlock(&srv.lock);
}

static void serve_raw(long code, const char *etag, const char *body)
{
    pthread_mutex_lock(&srv.lock);
    srv.code = code;
    snprintf(srv.etag, sizeof srv.etag, "%s", etag);
    snprintf(srv.body, sizeof srv.body, "%s", body);
    pthread_mutex_unlock(&srv.lock);
}

static void advance(int64_t ms)
{
    atomic_fetch_add(&clock_now, ms);
}

static sb_client *open_client(const char *defaults)
{
    sb_options o = {.base_url = "http://127.0.0.1:9", .ttl_ms = 5000, .defaults_json = defaults};
    sb_client *c = NULL;
    cr_assert_eq(sb_client_open(&o, &c), SB_OK);
    sbc_client_set_transport(c, fake_fetch, NULL);
    sbc_client_set_clock(c, fake_clock, NULL);
    srv.fetches = 0;
    return c;
}

/* Gets role and checks status, source and primary (NULL: no route expected). */
static sb_route *expect(sb_client *c, const char *role, sb_status status, sb_source source,
                        const char *primary)
{
    sb_route *r = NULL;
    sb_status s = sb_route_get(c, role, &r);
    cr_assert_eq(s, status, "status %s, expected %s", sb_strerror(s), sb_strerror(status));
    if (status != SB_OK && status != SB_NO_ROUTE) {
        cr_assert_null(r, "no route comes with an error");
        return NULL;
    }
    cr_assert_not_null(r);
    cr_assert_eq(sb_route_source(r), source, "source %s, expected %s",
                 sb_source_name(sb_route_source(r)), sb_source_name(source));
    if (primary)
        cr_assert_str_eq(sb_route_primary(r), primary);
    else
        cr_assert_null(sb_route_primary(r));
    return r;
}

static void expect_release(sb_client *c, const char *role, sb_status status, sb_source source,
                           const char *primary)
{
    sb_route_release(expect(c, role, status, source, primary));
}

Test(client, served_from_memory_within_the_ttl)
{
    sb_client *c = open_client(NULL);
    serve(200, "e1", "security", "a/m1", "[\"b/m2\",\"c/m3\"]");
    sb_route *r = expect(c, "security", SB_OK, SB_SOURCE_FRESH, "a/m1");
    cr_assert_eq(sb_route_fallback_count(r), 2);
    cr_assert_str_eq(sb_route_fallback(r, 0), "b/m2");
    cr_assert_str_eq(sb_route_fallback(r, 1), "c/m3");
    cr_assert_null(sb_route_fallback(r, 2));
    cr_assert_str_eq(sb_route_etag(r), "\"e1\"");
    cr_assert_str_eq(srv.last_inm, "", "the first fetch is unconditional");
    sb_route_release(r);
    for (int i = 0; i < 1000; i++) {
        advance(4);
        expect_release(c, "security", SB_OK, SB_SOURCE_CACHED, "a/m1");
    }
    cr_assert_eq(srv.fetches, 1, "4 s within a 5 s TTL: one fetch, not %d", srv.fetches);
    sb_client_close(c);
}

Test(client, revalidates_after_the_ttl_and_304_renews)
{
    sb_client *c = open_client(NULL);
    serve(200, "e1", "security", "a/m1", "[]");
    expect_release(c, "security", SB_OK, SB_SOURCE_FRESH, "a/m1");
    advance(4999);
    expect_release(c, "security", SB_OK, SB_SOURCE_CACHED, "a/m1");
    cr_assert_eq(srv.fetches, 1);
    advance(1);
    serve(304, "e1", "security", "a/m1", "[]");
    expect_release(c, "security", SB_OK, SB_SOURCE_REVALIDATED, "a/m1");
    cr_assert_eq(srv.fetches, 2);
    cr_assert_str_eq(srv.last_inm, "\"e1\"", "revalidation sends If-None-Match with the ETag");
    advance(4999);
    expect_release(c, "security", SB_OK, SB_SOURCE_CACHED, "a/m1");
    cr_assert_eq(srv.fetches, 2, "304 renewed the entry for a whole TTL");
    advance(1);
    expect_release(c, "security", SB_OK, SB_SOURCE_REVALIDATED, "a/m1");
    cr_assert_eq(srv.fetches, 3);
    sb_client_close(c);
}

Test(client, a_changed_answer_replaces_the_entry_and_held_routes_stay)
{
    sb_client *c = open_client(NULL);
    serve(200, "e1", "security", "a/m1", "[\"b/m2\"]");
    sb_route *old = expect(c, "security", SB_OK, SB_SOURCE_FRESH, "a/m1");
    advance(5000);
    serve(200, "e2", "security", "b/m2", "[]");
    sb_route *r = expect(c, "security", SB_OK, SB_SOURCE_FRESH, "b/m2");
    cr_assert_str_eq(sb_route_etag(r), "\"e2\"");
    cr_assert_eq(sb_route_fallback_count(r), 0);
    sb_route_release(r);
    expect_release(c, "security", SB_OK, SB_SOURCE_CACHED, "b/m2");
    /* The route taken before the change is untouched: immutable and still ours. */
    cr_assert_str_eq(sb_route_primary(old), "a/m1");
    cr_assert_str_eq(sb_route_fallback(old, 0), "b/m2");
    cr_assert_str_eq(sb_route_etag(old), "\"e1\"");
    sb_client_close(c);
    cr_assert_str_eq(sb_route_primary(old), "a/m1", "routes outlive their client");
    sb_route_release(old);
}

Test(client, server_down_serves_the_last_answer_with_backoff)
{
    sb_client *c = open_client(NULL);
    serve(200, "e1", "security", "a/m1", "[]");
    expect_release(c, "security", SB_OK, SB_SOURCE_FRESH, "a/m1");
    serve_raw(0, "", "");
    advance(5000);
    expect_release(c, "security", SB_OK, SB_SOURCE_STALE, "a/m1");
    cr_assert_eq(srv.fetches, 2);
    /* Retries at 250 ms, then 500, 1000, 2000, 4000, then every TTL (5000), never sooner. */
    int64_t waits[] = {250, 500, 1000, 2000, 4000, 5000, 5000};
    for (size_t i = 0; i < sizeof waits / sizeof *waits; i++) {
        advance(waits[i] - 1);
        expect_release(c, "security", SB_OK, SB_SOURCE_STALE, "a/m1");
        cr_assert_eq(srv.fetches, 2 + (int)i, "no retry before %lld ms", (long long)waits[i]);
        advance(1);
        expect_release(c, "security", SB_OK, SB_SOURCE_STALE, "a/m1");
        cr_assert_eq(srv.fetches, 3 + (int)i, "a retry after %lld ms", (long long)waits[i]);
    }
    /* Back: the next retry revalidates the kept answer, and the backoff starts over. */
    serve(304, "e1", "security", "a/m1", "[]");
    advance(5000);
    expect_release(c, "security", SB_OK, SB_SOURCE_REVALIDATED, "a/m1");
    expect_release(c, "security", SB_OK, SB_SOURCE_CACHED, "a/m1");
    serve_raw(503, "", "{}");
    advance(5000);
    expect_release(c, "security", SB_OK, SB_SOURCE_STALE, "a/m1");
    int before = srv.fetches;
    advance(250);
    expect_release(c, "security", SB_OK, SB_SOURCE_STALE, "a/m1");
    cr_assert_eq(srv.fetches, before + 1, "the backoff started again at 250 ms");
    sb_client_close(c);
}

Test(client, every_kind_of_unusable_answer_serves_stale)
{
    struct {
        long code;
        const char *etag, *body, *what;
    } cases[] = {
        {500, "\"x\"", "{}", "500"},
        {503, "\"x\"", "", "503"},
        {408, "\"x\"", "{}", "408 request timeout"},
        {429, "\"x\"", "{}", "429 too many requests"},
        {200, "\"x\"", "not json", "a body that is not JSON"},
        {200, "\"x\"", "[1,2]", "JSON that is not an answer"},
        {200, "\"x\"", "{\"role\":\"security\",\"primary\":7}", "a primary that is not a string"},
        {200, "\"x\"", "{\"role\":\"other\",\"primary\":\"a/b\",\"fallbacks\":[]}",
         "the answer for another role"},
        {200, "\"x\"", "{\"role\":\"security\",\"primary\":\"a/b\",\"fallbacks\":[1]}",
         "a fallback that is not a string"},
        {200, "", "{\"role\":\"security\",\"primary\":\"a/b\",\"fallbacks\":[]}", "no ETag"},
        {200, "\"x\"", "", "an empty body"},
        {302, "\"x\"", "", "a redirect"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sb_client *c = open_client(NULL);
        serve(200, "e1", "security", "a/m1", "[]");
        expect_release(c, "security", SB_OK, SB_SOURCE_FRESH, "a/m1");
        advance(5000);
        serve_raw(cases[i].code, cases[i].etag, cases[i].body);
        sb_route *r = NULL;
        cr_assert_eq(sb_route_get(c, "security", &r), SB_OK, "%s", cases[i].what);
        cr_assert_eq(sb_route_source(r), SB_SOURCE_STALE, "%s gives the stale answer",
                     cases[i].what);
        cr_assert_str_eq(sb_route_primary(r), "a/m1");
        sb_route_release(r);
        sb_client_close(c);
    }
}

Test(client, cold_start_with_the_server_down_serves_the_default)
{
    sb_client *c = open_client("{\"security\": {\"primary\": \"d/m1\", \"fallbacks\": [\"d/m2\"]},"
                               " \"docs\": {\"primary\": null}}");
    serve_raw(0, "", "");
    sb_route *r = expect(c, "security", SB_OK, SB_SOURCE_DEFAULT, "d/m1");
    cr_assert_str_eq(sb_route_fallback(r, 0), "d/m2");
    cr_assert_str_eq(sb_route_etag(r), "");
    sb_route_release(r);
    expect_release(c, "security", SB_OK, SB_SOURCE_DEFAULT, "d/m1");
    cr_assert_eq(srv.fetches, 1, "within the backoff the default is served from memory");
    expect_release(c, "docs", SB_NO_ROUTE, SB_SOURCE_DEFAULT, NULL);
    expect(c, "other", SB_ERR_UNAVAILABLE, 0, NULL);
    int before = srv.fetches;
    expect(c, "other", SB_ERR_UNAVAILABLE, 0, NULL);
    cr_assert_eq(srv.fetches, before, "no default: the error is kept for the backoff too");
    /* The server comes back: a fresh answer replaces the default. */
    serve(200, "e1", "security", "a/m1", "[]");
    advance(250);
    expect_release(c, "security", SB_OK, SB_SOURCE_FRESH, "a/m1");
    cr_assert_str_eq(srv.last_inm, "", "a default is never revalidated");
    expect_release(c, "security", SB_OK, SB_SOURCE_CACHED, "a/m1");
    sb_client_close(c);
}

Test(client, a_4xx_is_an_error_not_a_reason_for_stale)
{
    struct {
        long code;
        sb_status status;
    } cases[] = {{404, SB_ERR_NOT_FOUND},
                 {401, SB_ERR_UNAUTHORIZED},
                 {403, SB_ERR_UNAUTHORIZED},
                 {400, SB_ERR_REJECTED},
                 {410, SB_ERR_REJECTED}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sb_client *c = open_client("{\"security\": {\"primary\": \"d/m1\"}}");
        serve(200, "e1", "security", "a/m1", "[]");
        expect_release(c, "security", SB_OK, SB_SOURCE_FRESH, "a/m1");
        advance(5000);
        serve_raw(cases[i].code, "", "{\"type\":\"x\"}");
        expect(c, "security", cases[i].status, 0, NULL);
        expect(c, "security", cases[i].status, 0, NULL);
        cr_assert_eq(srv.fetches, 2, "%ld is kept for the TTL, not asked again", cases[i].code);
        /* Once the role exists again, it is answered again. */
        serve(200, "e2", "security", "a/m2", "[]");
        advance(5000);
        expect_release(c, "security", SB_OK, SB_SOURCE_FRESH, "a/m2");
        sb_client_close(c);
    }
}

Test(client, no_route_is_its_own_status)
{
    sb_client *c = open_client(NULL);
    serve(200, "e1", "security", NULL, NULL);
    sb_route *r = expect(c, "security", SB_NO_ROUTE, SB_SOURCE_FRESH, NULL);
    cr_assert_eq(sb_route_fallback_count(r), 0);
    cr_assert_str_eq(sb_route_etag(r), "\"e1\"");
    sb_route_release(r);
    expect_release(c, "security", SB_NO_ROUTE, SB_SOURCE_CACHED, NULL);
    /* And a server that goes down keeps saying so: stale, with no route. */
    serve_raw(0, "", "");
    advance(5000);
    expect_release(c, "security", SB_NO_ROUTE, SB_SOURCE_STALE, NULL);
    sb_client_close(c);
}

Test(client, roles_are_separate_entries)
{
    sb_client *c = open_client(NULL);
    char role[32], primary[32];
    for (int i = 0; i < 100; i++) { /* enough to grow the role table several times */
        snprintf(role, sizeof role, "role-%d", i);
        snprintf(primary, sizeof primary, "p/m%d", i);
        serve(200, role, role, primary, "[]");
        expect_release(c, role, SB_OK, SB_SOURCE_FRESH, primary);
    }
    for (int i = 0; i < 100; i++) {
        snprintf(role, sizeof role, "role-%d", i);
        snprintf(primary, sizeof primary, "p/m%d", i);
        expect_release(c, role, SB_OK, SB_SOURCE_CACHED, primary);
    }
    cr_assert_eq(srv.fetches, 100);
    sb_client_close(c);
}

Test(client, bad_arguments)
{
    sb_client *c = open_client(NULL);
    sb_route *r = (sb_route *)1;
    const char *bad[] = {"",
                         "Security",
                         "a b",
                         "../x",
                         "x?y",
                         "-x",
                         "a1234567890123456789012345678901234567890123456789012345678901234"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(sb_route_get(c, bad[i], &r), SB_ERR_INVALID, "role \"%s\"", bad[i]);
        cr_assert_null(r);
    }
    cr_assert_eq(srv.fetches, 0, "a role that cannot exist is never asked for");
    cr_assert_eq(sb_route_get(c, NULL, &r), SB_ERR_INVALID);
    cr_assert_eq(sb_route_get(NULL, "x", &r), SB_ERR_INVALID);
    cr_assert_eq(sb_route_get(c, "x", NULL), SB_ERR_INVALID);
    sb_client_close(c);
    sb_client_close(NULL);
    sb_route_release(NULL);

    sb_client *d = (sb_client *)1;
    const sb_options bad_opts[] = {
        {.base_url = "ftp://x"},
        {.base_url = "127.0.0.1:8080"},
        {.base_url = "http://a b"},
        {.tenant = "Acme"},
        {.tenant = ""},
        {.token = "abc\r\nX-Evil: 1"},
    };
    for (size_t i = 0; i < sizeof bad_opts / sizeof *bad_opts; i++) {
        cr_assert_eq(sb_client_open(&bad_opts[i], &d), SB_ERR_INVALID, "options %zu", i);
        cr_assert_null(d);
    }
    cr_assert_eq(sb_client_open(NULL, NULL), SB_ERR_INVALID);
    cr_assert_eq(sb_client_open(NULL, &d), SB_OK, "no options: every default");
    sb_client_close(d);
}

Test(client, defaults_are_checked_when_the_client_opens)
{
    const char *bad[] = {
        "not json",
        "[]",
        "{\"Bad Role\": {\"primary\": \"a/b\"}}",
        "{\"security\": \"a/b\"}",
        "{\"security\": {}}",
        "{\"security\": {\"primary\": 3}}",
        "{\"security\": {\"primary\": \"a/b\", \"fallbacks\": \"c/d\"}}",
        "{\"security\": {\"primary\": \"a/b\", \"fallbacks\": [null]}}",
        "{\"security\": {\"primary\": \"a/b\", \"fallback\": []}}",
        "{\"security\": {\"primary\": null, \"fallbacks\": [\"a/b\"]}}",
        "{\"security\": {\"role\": \"other\", \"primary\": \"a/b\"}}",
        "{\"security\": {\"primary\": \"a/b\"}, \"security\": {\"primary\": \"a/c\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sb_options o = {.defaults_json = bad[i]};
        sb_client *c = (sb_client *)1;
        cr_assert_eq(sb_client_open(&o, &c), SB_ERR_BAD_DEFAULTS, "%s", bad[i]);
        cr_assert_null(c);
    }
    /* A whole answer as GET /config/<role> gives it is a default too. */
    sb_client *c =
        open_client("{\"security\": {\"role\":\"security\",\"tenant\":null,\"primary\":\"a/b\","
                    "\"fallbacks\":[\"c/d\"],\"dropped\":[]}}");
    serve_raw(0, "", "");
    sb_route *r = expect(c, "security", SB_OK, SB_SOURCE_DEFAULT, "a/b");
    cr_assert_str_eq(sb_route_fallback(r, 0), "c/d");
    sb_route_release(r);
    sb_client_close(c);
}

Test(client, names_and_version)
{
    cr_assert_str_eq(sb_version(), SB_VERSION_STRING);
    cr_assert_eq(SB_VERSION_NUM,
                 (SB_VERSION_MAJOR << 16) | (SB_VERSION_MINOR << 8) | SB_VERSION_PATCH);
    for (int s = SB_OK; s <= SB_ERR_BAD_DEFAULTS; s++)
        for (int t = s + 1; t <= SB_ERR_BAD_DEFAULTS; t++)
            cr_assert_str_neq(sb_strerror(s), sb_strerror(t), "statuses %d and %d", s, t);
    cr_assert_str_eq(sb_strerror((sb_status)99), "unknown status");
    /* The numbers are the contract: they must never move. */
    cr_assert_eq(SB_NO_ROUTE, 1);
    cr_assert_eq(SB_ERR_UNAVAILABLE, 4);
    cr_assert_eq(SB_ERR_BAD_DEFAULTS, 8);
    cr_assert_eq(SB_SOURCE_DEFAULT, 4);
    cr_assert_str_eq(sb_source_name(SB_SOURCE_REVALIDATED), "revalidated");
    cr_assert_str_eq(sb_source_name(SB_SOURCE_STALE), "stale");
}

/* Many threads on one client: every answer is whole and one of those served, and a TTL's worth
 * of lookups across all threads costs one fetch. */
#define THREADS 8
static sb_client *shared;
static _Atomic int bad_answers;

static void *reader(void *arg)
{
    for (int i = 0; i < 20000; i++) {
        sb_route *r = NULL;
        const char *role = (i & 1) ? "security" : "docs";
        if (sb_route_get(shared, role, &r) != SB_OK) {
            atomic_fetch_add(&bad_answers, 1);
            continue;
        }
        const char *p = sb_route_primary(r), *f = sb_route_fallback(r, 0);
        /* The scripted answers pair p/mN with f/mN: a torn answer would mix them. */
        if (strncmp(p, "p/m", 3) != 0 || f == NULL || strcmp(p + 3, f + 3) != 0)
            atomic_fetch_add(&bad_answers, 1);
        sb_route_release(r);
        if (i % 1000 == 999 && arg == NULL)
            advance(1000); /* thread 0 moves the clock: a revalidation every 5 s of it */
    }
    return NULL;
}

static void fetch_varying(sb_client *c, void *data, const char *role, const char *etag,
                          sbc_response *res)
{
    static _Atomic int n;
    int k = atomic_fetch_add(&n, 1);
    pthread_mutex_lock(&srv.lock);
    srv.fetches++;
    pthread_mutex_unlock(&srv.lock);
    memset(res, 0, sizeof *res);
    res->code = 200;
    snprintf(res->etag, sizeof res->etag, "\"%d\"", k);
    char body[200];
    snprintf(body, sizeof body,
             "{\"role\":\"%s\",\"primary\":\"p/m%d\",\"fallbacks\":[\"f/m%d\"],\"dropped\":[]}",
             role, k, k);
    res->body = strdup(body);
    res->len = strlen(body);
}

Test(client, many_threads_at_once)
{
    shared = open_client(NULL);
    sbc_client_set_transport(shared, fetch_varying, NULL);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, reader, i == 0 ? NULL : shared);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(atomic_load(&bad_answers), 0);
    /* Thread 0 moved the clock 20 s in 1 s steps: 2 roles, each fetched at most once per
     * TTL window (plus the first), however many threads asked. */
    cr_assert_leq(srv.fetches, 2 * (20 / 5 + 2), "%d fetches for 160000 lookups", srv.fetches);
    /* And at least one revalidation each: the entries did expire. (Not one per 5 s exactly: a
     * fetch that is preempted while thread 0 moves the clock starts its TTL later.) */
    cr_assert_geq(srv.fetches, 2 * 2, "the clock moved 20 s: %d fetches", srv.fetches);
    sb_client_close(shared);
}

static void *open_use_close(void *arg)
{
    for (int i = 0; i < 50; i++) {
        sb_client *c = open_client(NULL);
        sbc_client_set_transport(c, fetch_varying, NULL);
        sb_route *r;
        cr_assert_eq(sb_route_get(c, "security", &r), SB_OK);
        sb_client_close(c);
        cr_assert_str_eq(sb_route_primary(r), sb_route_primary(r));
        sb_route_release(r);
    }
    return NULL;
}

Test(client, clients_come_and_go_across_threads)
{
    /* Threads that open, use and close clients, and exit: their per-thread views of closed
     * clients and of live ones are freed (the sanitizer build checks for leaks). */
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, open_use_close, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    sb_client *c = open_client(NULL);
    sbc_client_set_transport(c, fetch_varying, NULL);
    pthread_t u;
    pthread_create(&u, NULL, reader, c); /* a thread that exits while its client lives on */
    pthread_join(u, NULL);
    sb_route *r;
    cr_assert_eq(sb_route_get(c, "docs", &r), SB_OK);
    sb_route_release(r);
    sb_client_close(c);
}
