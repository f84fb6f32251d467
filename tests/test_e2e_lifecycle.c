/* End to end: start-up, seeding, persistence across restarts and kill -9, shutdown, read auth. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#include <curl/curl.h>
#include <stdlib.h>

static size_t discard(char *p, size_t size, size_t n, void *data)
{
    return size * n;
}

static server S;

static void down(void)
{
    server_cleanup(&S);
}

TestSuite(lifecycle, .fini = down, .timeout = 120);

Test(lifecycle, demo_topology_by_default)
{
    server_start(&S, NULL);
    resp r = request(&S, "GET", "/topology", NULL, NULL);
    cr_assert_eq(json_object_size(json_object_get(r.json, "providers")), 3);
    cr_assert_geq(json_object_size(json_object_get(r.json, "roles")), 3);
    cr_assert_geq(json_object_size(json_object_get(r.json, "failback")), 2);
    resp_free(&r);
}

Test(lifecycle, acknowledged_writes_survive_restart)
{
    server_start(&S, NULL);
    resp r = admin(&S, "PATCH", "/admin/providers/anthropic", "{\"enabled\":false}", NULL);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    r = admin(&S, "PUT", "/admin/roles/after", "{\"primary\":\"m/1\"}", NULL);
    cr_assert_eq(r.status, 201);
    resp_free(&r);
    resp before = request(&S, "GET", "/topology", NULL, NULL);
    resp sec = request(&S, "GET", "/config/security", NULL, NULL);

    int rc = server_stop(&S, SIGTERM);
    cr_assert_eq(rc, 0, "SIGTERM is a clean exit: %d; log:\n%s", rc, server_log(&S));
    server_restart(&S);
    resp after = request(&S, "GET", "/topology", NULL, NULL);
    cr_assert_str_eq(after.body, before.body, "the same documents and revision after restart");
    resp sec2 = request(&S, "GET", "/config/security", NULL, NULL);
    cr_assert_str_eq(header(&sec2, "etag"), header(&sec, "etag"),
                     "ETags are stable across restarts");
    resp_free(&before);
    resp_free(&after);
    resp_free(&sec);
    resp_free(&sec2);
}

Test(lifecycle, kill_9_loses_nothing_acknowledged)
{
    server_start(&S, NULL);
    for (int i = 0; i < 20; i++) {
        char path[64], body[64];
        snprintf(path, sizeof path, "/admin/providers/p%d", i);
        snprintf(body, sizeof body, "{\"enabled\":%s}", i % 2 ? "true" : "false");
        resp r = admin(&S, "PUT", path, body, NULL);
        cr_assert_eq(r.status, 201);
        resp_free(&r);
    }
    long long rev = revision_of(&S);
    server_stop(&S, SIGKILL);
    server_restart(&S);
    cr_assert_eq(revision_of(&S), rev);
    resp r = admin(&S, "GET", "/admin/providers/p19", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert(json_is_true(json_object_get(r.json, "enabled")));
    resp_free(&r);
}

Test(lifecycle, sigint_is_clean_too)
{
    server_start(&S, NULL);
    int rc = server_stop(&S, SIGINT);
    cr_assert_eq(rc, 0, "exit %d; log:\n%s", rc, server_log(&S));
    FILE *f = fopen(S.log, "r");
    char line[1024];
    bool stopped = false;
    while (fgets(line, sizeof line, f))
        stopped = stopped || strstr(line, "\"event\":\"stop\"") != NULL;
    fclose(f);
    cr_assert(stopped, "a stop line is logged");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

Test(lifecycle, seed_file)
{
    char seed[300];
    temp_dir(seed, 256, "seed");
    strcat(seed, "/seed.json");
    write_file(seed,
               "{\"providers\":{\"groq\":{\"enabled\":false}},"
               "\"roles\":{\"triage\":{\"primary\":\"groq/llama\",\"fallbacks\":[\"local-7b\"]}},"
               "\"failback\":{},\"models\":{},\"tenants\":{}}");
    const char *args[] = {"--seed", seed, NULL};
    server_start(&S, args);
    resp r = request(&S, "GET", "/config/triage", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "primary")), "local-7b");
    resp_free(&r);
    r = request(&S, "GET", "/config/security", NULL, NULL);
    cr_assert_eq(r.status, 404, "no demo when a seed is given");
    resp_free(&r);
    /* A store that is not empty is never re-seeded. */
    resp p = admin(&S, "DELETE", "/admin/roles/triage", NULL, NULL);
    cr_assert_eq(p.status, 200);
    resp_free(&p);
    server_stop(&S, SIGTERM);
    server_restart(&S);
    r = request(&S, "GET", "/config/triage", NULL, NULL);
    cr_assert_eq(r.status, 404);
    resp_free(&r);
}

Test(lifecycle, invalid_seed_is_refused)
{
    char seed[300];
    temp_dir(seed, 256, "seed");
    strcat(seed, "/seed.json");
    write_file(seed, "{\"providers\":{\"groq\":{\"enabeld\":false}}}");
    server_start(&S, NULL);
    server_stop(&S, SIGTERM);
    char dir[sizeof S.dir];
    memcpy(dir, S.dir, sizeof dir);
    char out[2048];
    /* A fresh directory so that the store is empty and the seed is read. */
    snprintf(S.dir, sizeof S.dir, "%.200s/fresh", dir);
    const char *args[] = {"--seed", seed, "--listen", "127.0.0.1:0", NULL};
    cr_assert_neq(run_switchboard(&S, args, out, sizeof out), 0);
    cr_assert_not_null(strstr(out, "/providers/groq/enabeld"), "names the field: %s", out);
    strcpy(S.dir, dir);
}

Test(lifecycle, empty_store_with_no_demo)
{
    const char *args[] = {"--no-demo", NULL};
    server_start(&S, args);
    resp r = request(&S, "GET", "/config", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(json_object_size(json_object_get(r.json, "answers")), 0);
    resp_free(&r);
    cr_assert_eq(revision_of(&S), 0);
}

Test(lifecycle, one_server_per_data_directory)
{
    server_start(&S, NULL);
    char out[1024];
    const char *args[] = {"--listen", "127.0.0.1:0", NULL};
    cr_assert_neq(run_switchboard(&S, args, out, sizeof out), 0);
    cr_assert_not_null(strstr(out, "another switchboard"), "%s", out);
}

Test(lifecycle, read_auth)
{
    const char *args[] = {"--read-auth", NULL};
    server_start(&S, args);
    resp r = request(&S, "GET", "/config/security", NULL, NULL);
    cr_assert_eq(r.status, 401);
    cr_assert_str_eq(header(&r, "content-type"), "application/problem+json");
    resp_free(&r);
    r = request(&S, "GET", "/healthz", NULL, NULL);
    cr_assert_eq(r.status, 200, "probes need no token");
    resp_free(&r);
    r = admin(&S, "GET", "/config/security", NULL, NULL);
    cr_assert_eq(r.status, 200, "an admin token reads too");
    resp_free(&r);

    char out[256];
    const char *create[] = {"token", "create", "--name", "worker", "--scope", "read", NULL};
    cr_assert_eq(run_switchboard(&S, create, out, sizeof out), 0);
    out[strcspn(out, "\n")] = '\0';
    char auth[300];
    snprintf(auth, sizeof auth, "Authorization: Bearer %.200s", out);
    const char *hs[] = {auth, NULL};
    long st = 0;
    for (double start = now_s(); st != 200 && now_s() - start < 20;) {
        r = request(&S, "GET", "/config/security", NULL, hs);
        st = r.status;
        resp_free(&r);
        if (st != 200)
            usleep(100000);
    }
    cr_assert_eq(st, 200, "a read token reads (the server picks it up within a second)");
}

Test(lifecycle, bad_options_are_reported)
{
    server_start(&S, NULL);
    char out[2048];
    const char *bad[] = {"--threads", "zero", NULL};
    cr_assert_eq(run_switchboard(&S, bad, out, sizeof out), 2);
    cr_assert_not_null(strstr(out, "--threads"));
    const char *help[] = {"--help", NULL};
    cr_assert_eq(run_switchboard(&S, help, out, sizeof out), 0);
    cr_assert_not_null(strstr(out, "--read-auth"));
    cr_assert_not_null(strstr(out, "migrate"), "the commands are listed: %s", out);
}

/* Each command owns its options: one that belongs to another command is a usage error (exit 2)
 * that names the command, and nothing runs. */
Test(lifecycle, an_option_of_another_command_is_a_usage_error)
{
    char out[2048];
    server s = {0};
    temp_dir(s.dir, sizeof s.dir, "cli");
    const char *cases[][5] = {{"serve", "--name", "x", NULL},
                              {"--scope", "read", NULL},
                              {"token", "list", "--listen", "127.0.0.1:1", NULL},
                              {"token", "list", "--name", "x", NULL},
                              {"token", "revoke", "--scope", "read", NULL},
                              {"migrate", "--seed", "t.json", NULL},
                              {"migrate", "--status", "extra", NULL},
                              {"nonsense", NULL}};
    const char *names[] = {"serve", "serve",   "token",   "token",
                           "token", "migrate", "migrate", "nonsense"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cr_assert_eq(run_switchboard(&s, cases[i], out, sizeof out), 2, "case %zu: %s", i, out);
        cr_assert_not_null(strstr(out, names[i]), "case %zu names %s: %s", i, names[i], out);
    }
    /* Nothing ran: no store was made in the data directory. */
    char path[600];
    snprintf(path, sizeof path, "%s/data.mdb", s.dir);
    cr_assert(access(path, F_OK) != 0, "a usage error opened the store");
    const char *help[] = {"token", "--help", NULL};
    cr_assert_eq(run_switchboard(&s, help, out, sizeof out), 0);
    cr_assert_not_null(strstr(out, "--scope"));
    cr_assert_null(strstr(out, "--listen"), "token's help is its own");
}

Test(lifecycle, port_in_use_is_an_error)
{
    server_start(&S, NULL);
    server other = S;
    snprintf(other.dir, sizeof other.dir, "%.200s/other", S.dir);
    char listen[32], out[2048];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", S.port);
    const char *args[] = {"--listen", listen, NULL};
    cr_assert_eq(run_switchboard(&other, args, out, sizeof out), 1);
    cr_assert_not_null(strstr(out, "listen_failed"), "%s", out);
    resp r = request(&S, "GET", "/healthz", NULL, NULL);
    cr_assert_eq(r.status, 200, "the first server keeps its port");
    resp_free(&r);
}

Test(lifecycle, ttl_sets_max_age)
{
    const char *args[] = {"--ttl", "30", NULL};
    server_start(&S, args);
    resp r = request(&S, "GET", "/config/security", NULL, NULL);
    cr_assert_str_eq(header(&r, "cache-control"), "max-age=30");
    resp_free(&r);
}

Test(lifecycle, tls_with_http2)
{
    char cert[300], key[300];
    tls_cert(cert, key);
    const char *args[] = {"--tls-cert", cert, "--tls-key", key, NULL};
    server_start(&S, args);

    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/config/security", S.port);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK);
    long status, version;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &version);
    cr_assert_eq(status, 200);
    cr_assert_eq(version, (long)CURL_HTTP_VERSION_2_0, "ALPN negotiates HTTP/2");
    curl_easy_cleanup(c);
}
