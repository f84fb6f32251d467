/*
 * libswitchboard's two costs, against a running server (bench/client starts one):
 *  - a cached lookup (sb_route_get + sb_route_release within the TTL), in ns per call on 1 and
 *    2 threads, next to the same lookup done the obvious way (one mutex around a shared table
 *    and a shared refcount), measured in the same run;
 *  - a revalidation round trip (the TTL over, a conditional GET answered 304), in µs per call,
 *    next to bare libcurl sending the same conditional GET on a kept-alive handle.
 *
 * usage: client-bench URL [ROLE]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "internal.h"

#define LOOKUPS 20000000L
#define TRIPS   20000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static sb_client *client;
static const char *role = "security";
static pthread_barrier_t start;

static void *cached_lookups(void *arg)
{
    long bad = 0;
    pthread_barrier_wait(&start);
    for (long i = 0; i < LOOKUPS; i++) {
        sb_route *r;
        if (sb_route_get(client, role, &r) != SB_OK)
            bad++;
        sb_route_release(r);
    }
    *(long *)arg = bad;
    return NULL;
}

/* The reference: a lookup behind one mutex, on one shared, reference-counted route. */
static struct {
    pthread_mutex_t lock;
    char role[65];
    atomic_long refs;
} naive = {.lock = PTHREAD_MUTEX_INITIALIZER, .role = "security"};

static void *naive_lookups(void *arg)
{
    pthread_barrier_wait(&start);
    for (long i = 0; i < LOOKUPS; i++) {
        pthread_mutex_lock(&naive.lock);
        if (strcmp(naive.role, role) == 0)
            atomic_fetch_add_explicit(&naive.refs, 1, memory_order_relaxed);
        pthread_mutex_unlock(&naive.lock);
        atomic_fetch_sub_explicit(&naive.refs, 1, memory_order_acq_rel);
    }
    return NULL;
}

/* ns per call on n threads, each making LOOKUPS calls. */
static double run(int n, void *(*fn)(void *))
{
    pthread_t t[2];
    long bad[2] = {0, 0};
    pthread_barrier_init(&start, NULL, (unsigned)n + 1);
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, fn, &bad[i]);
    pthread_barrier_wait(&start);
    double t0 = now_s();
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    double took = now_s() - t0;
    pthread_barrier_destroy(&start);
    if (bad[0] + bad[1] > 0) {
        fprintf(stderr, "client-bench: %ld lookups failed\n", bad[0] + bad[1]);
        exit(1);
    }
    return took * 1e9 / LOOKUPS;
}

static int64_t fake_now = INT64_C(1) << 50; /* far past any deadline the real clock set */

/* Every call finds the entry past its TTL: each lookup is one revalidation. */
static int64_t leaping_clock(void *data)
{
    return fake_now += INT64_C(1) << 32; /* far more than the TTL, every time */
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void print_trips(const char *what, double *us)
{
    qsort(us, TRIPS, sizeof *us, cmp);
    printf("  %-44s p50 %6.1f µs   p99 %6.1f µs\n", what, us[TRIPS / 2], us[TRIPS * 99 / 100]);
}

static size_t discard(char *p, size_t size, size_t n, void *data)
{
    return size * n;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: client-bench URL [ROLE]\n");
        return 2;
    }
    if (argc > 2)
        role = argv[2];
    snprintf(naive.role, sizeof naive.role, "%s", role);
    sb_options o = {.base_url = argv[1], .ttl_ms = 3600 * 1000};
    if (sb_client_open(&o, &client) != SB_OK)
        return 1;
    sb_route *r;
    if (sb_route_get(client, role, &r) != SB_OK) {
        fprintf(stderr, "client-bench: no route for %s from %s\n", role, argv[1]);
        return 1;
    }
    char etag[128];
    snprintf(etag, sizeof etag, "%s", sb_route_etag(r));
    sb_route_release(r);

    printf("cached lookup (sb_route_get + sb_route_release), %ld calls per thread\n", LOOKUPS);
    double one = run(1, cached_lookups), two = run(2, cached_lookups);
    double naive_one = run(1, naive_lookups), naive_two = run(2, naive_lookups);
    printf("  %-20s %8s %8s %s\n", "", "1 thread", "2 threads", "");
    printf("  %-20s %6.1f ns %6.1f ns   (2 threads / 1: %.2f)\n", "libswitchboard", one, two,
           two / one);
    printf("  %-20s %6.1f ns %6.1f ns   (2 threads / 1: %.2f)\n", "one mutex (reference)",
           naive_one, naive_two, naive_two / naive_one);
    printf("  ratio libswitchboard / reference: %.2f on 1 thread, %.2f on 2\n", one / naive_one,
           two / naive_two);

    /* Revalidation: each call is past the TTL and answered 304 on the kept-alive connection. */
    static double lib_us[TRIPS], curl_us[TRIPS];
    sbc_client_set_clock(client, leaping_clock, NULL);
    for (int i = 0; i < TRIPS; i++) {
        double t0 = now_s();
        if (sb_route_get(client, role, &r) != SB_OK ||
            sb_route_source(r) != SB_SOURCE_REVALIDATED) {
            fprintf(stderr, "client-bench: call %d was not a revalidation\n", i);
            return 1;
        }
        lib_us[i] = (now_s() - t0) * 1e6;
        sb_route_release(r);
    }
    CURL *curl = curl_easy_init();
    char url[512], inm[160];
    snprintf(url, sizeof url, "%s/config/%s", argv[1], role);
    snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
    struct curl_slist *h = curl_slist_append(NULL, inm);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    for (int i = 0; i < TRIPS; i++) {
        double t0 = now_s();
        long code = 0;
        curl_easy_perform(curl);
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
        curl_us[i] = (now_s() - t0) * 1e6;
        if (code != 304) {
            fprintf(stderr, "client-bench: bare libcurl got %ld, not 304\n", code);
            return 1;
        }
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(curl);
    printf("\nrevalidation round trip (TTL over, If-None-Match, 304), %d calls\n", TRIPS);
    print_trips("libswitchboard sb_route_get", lib_us);
    print_trips("bare libcurl, same request (reference)", curl_us);
    printf("  ratio libswitchboard / reference (p50): %.2f\n",
           lib_us[TRIPS / 2] / curl_us[TRIPS / 2]);
    sb_client_close(client);
    return 0;
}
