/* End to end: many readers on several server threads never see a half-applied write. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "harness.h"

static server S;

static void down(void)
{
    server_cleanup(&S);
}

TestSuite(consistency, .fini = down, .timeout = 120);

/* Two consistent states: a on and b off, or a off and b on. A batch swaps them atomically. */
static const char *const state_a =
    "{\"role\":\"r\",\"tenant\":null,\"primary\":\"a/1\",\"fallbacks\":[],"
    "\"dropped\":[{\"model\":\"b/2\",\"provider\":\"b\",\"reason\":"
    "\"provider_disabled\"}]}";
static const char *const state_b =
    "{\"role\":\"r\",\"tenant\":null,\"primary\":\"b/2\",\"fallbacks\":[],"
    "\"dropped\":[{\"model\":\"a/1\",\"provider\":\"a\",\"reason\":"
    "\"provider_disabled\"}]}";

static atomic_bool done;
static atomic_int torn, reads, backwards;

static size_t collect(char *p, size_t size, size_t n, void *data)
{
    strncat(data, p, size * n < 4000 - strlen(data) ? size * n : 4000 - strlen(data));
    return size * n;
}

static size_t revision_header(char *p, size_t size, size_t n, void *data)
{
    if (size * n > 24 && strncasecmp(p, "x-switchboard-revision:", 23) == 0)
        *(long long *)data = atoll(p + 23);
    return size * n;
}

static void *reader(void *arg)
{
    char url[128], body[4096];
    long long last = 0;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/config/r", S.port);
    CURL *c = curl_easy_init(); /* one keep-alive connection per reader */
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
    while (!atomic_load(&done)) {
        long long rev = 0;
        body[0] = '\0';
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, revision_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &rev);
        if (curl_easy_perform(c) != CURLE_OK)
            continue;
        if (strcmp(body, state_a) != 0 && strcmp(body, state_b) != 0)
            atomic_fetch_add(&torn, 1);
        if (rev < last)
            atomic_fetch_add(&backwards, 1);
        last = rev;
        atomic_fetch_add(&reads, 1);
    }
    curl_easy_cleanup(c);
    return NULL;
}

Test(consistency, readers_never_see_half_a_write)
{
    const char *args[] = {"--no-demo", "--threads", "4", NULL};
    server_start(&S, args);
    resp r =
        admin(&S, "POST", "/admin/txn",
              "{\"ops\":[{\"op\":\"put\",\"key\":\"providers/a\",\"value\":{\"enabled\":true}},"
              "{\"op\":\"put\",\"key\":\"providers/b\",\"value\":{\"enabled\":false}},"
              "{\"op\":\"put\",\"key\":\"roles/r\",\"value\":{\"primary\":\"a/1\","
              "\"fallbacks\":[\"b/2\"]}}]}",
              NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    resp_free(&r);

    pthread_t readers[6];
    for (int i = 0; i < 6; i++)
        pthread_create(&readers[i], NULL, reader, NULL);
    for (int i = 0; i < 100; i++) {
        const char *swap = i % 2 ? "{\"ops\":[{\"op\":\"patch\",\"key\":\"providers/a\",\"value\":{"
                                   "\"enabled\":true}},{\"op\":\"patch\",\"key\":\"providers/b\","
                                   "\"value\":{\"enabled\":false}}]}"
                                 : "{\"ops\":[{\"op\":\"patch\",\"key\":\"providers/a\",\"value\":{"
                                   "\"enabled\":false}},{\"op\":\"patch\",\"key\":\"providers/b\","
                                   "\"value\":{\"enabled\":true}}]}";
        r = admin(&S, "POST", "/admin/txn", swap, NULL);
        cr_assert_eq(r.status, 200);
        resp_free(&r);
        /* The next read, on whichever thread, sees this write. */
        resp g = request(&S, "GET", "/config/r", NULL, NULL);
        cr_assert_str_eq(g.body, i % 2 ? state_a : state_b);
        resp_free(&g);
    }
    atomic_store(&done, true);
    for (int i = 0; i < 6; i++)
        pthread_join(readers[i], NULL);
    cr_assert_gt(atomic_load(&reads), 100, "the readers ran");
    cr_assert_eq(atomic_load(&torn), 0, "%d answers showed half a batch", atomic_load(&torn));
    cr_assert_eq(atomic_load(&backwards), 0, "a reader saw the revision go back");
}
