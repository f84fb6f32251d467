/*
 * How fast a flip reaches the fleet: the time from an acknowledged provider flip to the moment
 * each of 100 watching clients (watch mode: long-poll) and 100 polling clients (5 s TTL, the
 * default) holds the new answer. One observer thread asks every client for its route in a tight
 * loop (a cached lookup costs ~30 ns, so a sweep of all 200 takes microseconds) and notes when
 * each first shows the new ETag. The polling clients' TTLs are spread evenly over 5 s, as a
 * fleet's would be.
 *
 * usage: propagation-bench URL TOKEN [FLIPS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <switchboard.h>

#define CLIENTS 100
#define ROLE    "security"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static size_t discard(char *p, size_t size, size_t n, void *data)
{
    return size * n;
}

/* PATCHes the provider's switch; returns when the server acknowledged it. */
static void flip(const char *url, const char *token, const char *provider, int enabled)
{
    char target[512], auth[512];
    snprintf(target, sizeof target, "%s/admin/providers/%s", url, provider);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    CURL *curl = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, auth);
    curl_easy_setopt(curl, CURLOPT_URL, target);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PATCH");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS,
                     enabled ? "{\"enabled\":true}" : "{\"enabled\":false}");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    long code = 0;
    if (curl_easy_perform(curl) != CURLE_OK ||
        (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code), code != 200)) {
        fprintf(stderr, "propagation-bench: the flip failed (HTTP %ld)\n", code);
        exit(1);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(curl);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void etag_of(sb_client *c, char *out, size_t len)
{
    sb_route *r;
    if (sb_route_get(c, ROLE, &r) != SB_OK) {
        fprintf(stderr, "propagation-bench: no route for %s\n", ROLE);
        exit(1);
    }
    snprintf(out, len, "%s", sb_route_etag(r));
    sb_route_release(r);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: propagation-bench URL TOKEN [FLIPS]\n");
        return 2;
    }
    const char *url = argv[1], *token = argv[2];
    int flips = argc > 3 ? atoi(argv[3]) : 5;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    sb_client *watching[CLIENTS], *polling[CLIENTS];
    char tag[64];
    for (int i = 0; i < CLIENTS; i++) {
        if (sb_client_open(&(sb_options){.base_url = url, .watch = 1}, &watching[i]) != SB_OK)
            return 1;
        etag_of(watching[i], tag, sizeof tag);
    }
    /* Polling clients first ask at evenly spread times over one TTL. */
    for (int i = 0; i < CLIENTS; i++) {
        if (sb_client_open(&(sb_options){.base_url = url}, &polling[i]) != SB_OK)
            return 1;
        etag_of(polling[i], tag, sizeof tag);
        usleep(5000 * 1000 / CLIENTS);
    }
    usleep(500 * 1000); /* every watch open */

    double *wmed = calloc((size_t)flips, sizeof *wmed), *pmed = calloc((size_t)flips, sizeof *pmed);
    double wmax = 0, pmax = 0;
    printf("propagation of a provider flip: acknowledged -> the client holds the new answer\n");
    printf("%d watching clients (watch mode) and %d polling clients (TTL 5 s), %d flips\n\n",
           CLIENTS, CLIENTS, flips);
    printf("  flip   watching: median      max   polling: median      max\n");
    for (int f = 0; f < flips; f++) {
        char old[64];
        etag_of(watching[0], old, sizeof old);
        double seen[2][CLIENTS];
        int left = 2 * CLIENTS;
        for (int i = 0; i < CLIENTS; i++)
            seen[0][i] = seen[1][i] = -1;
        flip(url, token, "anthropic", f % 2); /* off, on, off, ... */
        double acked = now_ms();
        while (left > 0 && now_ms() - acked < 15000) {
            for (int g = 0; g < 2; g++)
                for (int i = 0; i < CLIENTS; i++) {
                    if (seen[g][i] >= 0)
                        continue;
                    etag_of(g == 0 ? watching[i] : polling[i], tag, sizeof tag);
                    if (strcmp(tag, old) != 0) {
                        seen[g][i] = now_ms() - acked;
                        left--;
                    }
                }
            usleep(100);
        }
        if (left > 0) {
            fprintf(stderr, "propagation-bench: %d clients never saw flip %d\n", left, f + 1);
            return 1;
        }
        qsort(seen[0], CLIENTS, sizeof(double), cmp);
        qsort(seen[1], CLIENTS, sizeof(double), cmp);
        wmed[f] = seen[0][CLIENTS / 2];
        pmed[f] = seen[1][CLIENTS / 2];
        wmax = seen[0][CLIENTS - 1] > wmax ? seen[0][CLIENTS - 1] : wmax;
        pmax = seen[1][CLIENTS - 1] > pmax ? seen[1][CLIENTS - 1] : pmax;
        printf("  %4d   %12.1f ms %6.1f ms %12.1f ms %6.0f ms\n", f + 1, wmed[f],
               seen[0][CLIENTS - 1], pmed[f], seen[1][CLIENTS - 1]);
        usleep(300 * 1000);
    }
    qsort(wmed, (size_t)flips, sizeof *wmed, cmp);
    qsort(pmed, (size_t)flips, sizeof *pmed, cmp);
    printf("\n  watching clients: median %.1f ms, max %.1f ms (goal: max under 100 ms: %s)\n",
           wmed[flips / 2], wmax, wmax < 100 ? "met" : "MISSED");
    printf("  polling clients:  median %.0f ms, max %.0f ms (bounded by the 5 s TTL)\n",
           pmed[flips / 2], pmax);
    for (int i = 0; i < CLIENTS; i++) {
        sb_client_close(watching[i]);
        sb_client_close(polling[i]);
    }
    free(wmed);
    free(pmed);
    return wmax < 100 ? 0 : 1;
}
