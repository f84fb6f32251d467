/*
 * End to end: the bad-input catalog (tests/cases/requests/, described in its README.md). One
 * server with a small seeded topology takes every malformed request of the catalog verbatim over
 * a raw socket. For each case: the status it must get, a valid problem document when
 * switchboard answers (h2o's own answers are plain text), the store revision unchanged, and the
 * server still answering /healthz. A server that dies is reported with the case that killed it
 * and started again, so one defect does not hide the cases after it.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define MIN_CASES  120
#define CASE_WAIT  10000 /* ms: a write waits for an fsync on a busy machine */
#define PROBE_WAIT 5000

static server S;
static char read_token[256];

typedef struct bytes {
    char *p;
    size_t len, cap;
} bytes;

static void put(bytes *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void puts_(bytes *b, const char *s)
{
    put(b, s, strlen(s));
}

static int hex(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Appends catalog text: \xHH is the byte HH, ${ADMIN} and ${READ} are the tokens, the rest is
 * copied as it is. */
static void put_text(bytes *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 3 < n && s[i + 1] == 'x' && hex(s[i + 2]) >= 0 &&
            hex(s[i + 3]) >= 0) {
            char c = (char)(hex(s[i + 2]) * 16 + hex(s[i + 3]));
            put(b, &c, 1);
            i += 3;
        } else if (strncmp(s + i, "${ADMIN}", 8) == 0) {
            puts_(b, S.token);
            i += 7;
        } else if (strncmp(s + i, "${READ}", 7) == 0) {
            puts_(b, read_token);
            i += 6;
        } else {
            put(b, s + i, 1);
        }
    }
}

/* A request field: a string, or an array of strings and {"repeat": text, "times": n}. */
static void put_field(bytes *b, const json_t *v)
{
    if (json_is_string(v)) {
        put_text(b, json_string_value(v), json_string_length(v));
        return;
    }
    size_t i;
    json_t *part;
    json_array_foreach ((json_t *)v, i, part) {
        if (json_is_string(part)) {
            put_field(b, part);
            continue;
        }
        json_t *unit = json_object_get(part, "repeat");
        for (json_int_t k = json_integer_value(json_object_get(part, "times")); k > 0; k--)
            put_field(b, unit);
    }
}

/* The bytes a case sends: its "raw" field, or a request built from method, path, headers, body. */
static bytes request_bytes(const json_t *c)
{
    bytes b = {0};
    const json_t *raw = json_object_get(c, "raw");
    if (raw != NULL) {
        put_field(&b, raw);
        if (b.p == NULL)
            put(&b, "", 0);
        return b;
    }
    bytes body = {0};
    const json_t *jb = json_object_get(c, "body");
    if (jb != NULL)
        put_field(&body, jb);
    put_field(&b, json_object_get(c, "method"));
    puts_(&b, " ");
    put_field(&b, json_object_get(c, "path"));
    puts_(&b, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    const char *auth = json_string_value(json_object_get(c, "auth"));
    if (auth != NULL) {
        puts_(&b, "Authorization: Bearer ");
        puts_(&b, strcmp(auth, "read") == 0 ? read_token : S.token);
        puts_(&b, "\r\n");
    }
    size_t i;
    json_t *h;
    json_array_foreach (json_object_get(c, "headers"), i, h) {
        put_field(&b, h);
        puts_(&b, "\r\n");
    }
    if (jb != NULL) {
        char cl[64];
        snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", body.len);
        puts_(&b, cl);
    }
    puts_(&b, "\r\n");
    if (body.len > 0)
        put(&b, body.p, body.len);
    free(body.p);
    return b;
}

/* At most 300 bytes of s, with anything unprintable escaped, for failure messages. */
static const char *shown(const char *s, size_t n)
{
    static char out[4][1300];
    static int which;
    char *o = out[which++ % 4], *p = o;
    *p = '\0';
    for (size_t i = 0; i < n && i < 300; i++)
        p += (s[i] >= 0x20 && s[i] < 0x7f) ? sprintf(p, "%c", s[i])
                                           : sprintf(p, "\\x%02x", (unsigned char)s[i]);
    if (n > 300)
        strcpy(p, "...");
    return o;
}

/* A GET of path on a fresh connection: its status, and its body's "revision" in *revision. */
static int probe(const char *path, long long *revision)
{
    char req[128];
    raw_resp r;
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (raw_request(&S, req, (size_t)n, PROBE_WAIT, &r) != 0)
        return 0;
    int status = r.status;
    if (revision != NULL)
        *revision = status == 200 ? json_integer_value(json_object_get(r.json, "revision")) : -1;
    raw_resp_free(&r);
    return status;
}

/* After a case: the server must still answer. If it died or hangs, reports it and starts it
 * again on the same data, so the cases after it still run. */
static bool check_alive(const char *name)
{
    int status = 0, st = probe("/healthz", NULL);
    if (st == 200)
        return true;
    bool exited = waitpid(S.pid, &status, WNOHANG) == S.pid;
    if (exited)
        S.pid = 0;
    const char *log = server_log(&S);
    size_t n = strlen(log);
    cr_expect_fail("%s: the server %s (/healthz: %d); its log ends:\n%s", name,
                   exited ? (WIFSIGNALED(status) ? "was killed by a signal" : "exited")
                          : "stopped answering",
                   st, shown(n > 300 ? log + n - 300 : log, n > 300 ? 300 : n));
    server_stop(&S, SIGKILL);
    server_restart(&S);
    return false;
}

static bool status_allowed(const json_t *want, int got)
{
    if (json_is_integer(want))
        return json_integer_value(want) == got;
    size_t i;
    json_t *w;
    json_array_foreach ((json_t *)want, i, w)
        if (json_integer_value(w) == got)
            return true;
    return false;
}

/* Records a failed expectation of the case being run. */
#define EXPECT(ok, ...)                                                                            \
    do {                                                                                           \
        if (!(ok)) {                                                                               \
            cr_expect_fail(__VA_ARGS__);                                                           \
            *good = false;                                                                         \
        }                                                                                          \
    } while (0)

/* An RFC 9457 problem document whose status is the response's. */
static void check_problem(const char *name, const raw_resp *r, bool *good)
{
    const char *type = json_string_value(json_object_get(r->headers, "content-type"));
    EXPECT(type && strcmp(type, "application/problem+json") == 0,
           "%s: a problem document is application/problem+json, not %s", name,
           type ? type : "(none)");
    json_t *p = r->json;
    EXPECT(json_is_object(p) && json_is_string(json_object_get(p, "type")) &&
               json_is_string(json_object_get(p, "title")) &&
               json_is_string(json_object_get(p, "detail")),
           "%s: the problem document needs type, title and detail: %s", name,
           shown(r->body, r->body_len));
    EXPECT(json_integer_value(json_object_get(p, "status")) == r->status,
           "%s: the problem's status is the response's (%d)", name, r->status);
}

/* Checks an answer against the case. */
static void check_answer(const char *name, const json_t *c, const raw_resp *r, bool *good)
{
    const json_t *want = json_object_get(c, "status");
    const char *by = json_string_value(json_object_get(c, "by"));
    if (!status_allowed(want, r->status)) {
        char *w = json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY);
        EXPECT(false, "%s: status %d%s, want %s; body: %s", name, r->status,
               r->timed_out ? " (no answer in time)" : "", w, shown(r->body, r->body_len));
        free(w);
        return;
    }
    if (r->status == 0)
        return;
    const char *type = json_string_value(json_object_get(r->headers, "content-type"));
    if (by != NULL && strcmp(by, "h2o") == 0) {
        EXPECT(type && strncmp(type, "text/plain", 10) == 0,
               "%s: h2o answers in plain text, not %s", name, type ? type : "(none)");
    } else {
        EXPECT(json_object_get(r->headers, "x-switchboard-revision") != NULL,
               "%s: switchboard's answers carry X-Switchboard-Revision (is this h2o's?)", name);
        if (r->status >= 400)
            check_problem(name, r, good);
    }
    size_t i;
    json_t *s;
    json_array_foreach (json_object_get(c, "contains"), i, s)
        EXPECT(memmem(r->body, r->body_len, json_string_value(s), json_string_length(s)),
               "%s: the answer should contain \"%s\": %s", name, json_string_value(s),
               shown(r->body, r->body_len));
}

/* Sends one case and checks what came back. @return true when every expectation held. */
static bool run_case(const char *file, const json_t *c)
{
    const char *name = json_string_value(json_object_get(c, "name"));
    char label[400];
    snprintf(label, sizeof label, "%s/%s", file, name ? name : "(unnamed)");
    const json_t *want = json_object_get(c, "status");
    cr_assert(name && (json_is_integer(want) || json_is_array(want)),
              "%s: a case needs a name and a status", label);
    bool commits = json_is_true(json_object_get(c, "commits"));

    long long before = -1, after = -1;
    probe("/readyz", &before);
    bytes req = request_bytes(c);
    raw_resp r;
    bool good = true;
    double t0 = now_s();
    if (raw_request(&S, req.p, req.len, CASE_WAIT, &r) != 0) {
        free(req.p);
        cr_expect_fail("%s: could not connect", label);
        check_alive(label);
        return false;
    }
    free(req.p);
    if (getenv("SB_CATALOG_VERBOSE"))
        fprintf(stderr, "%-45s %5.0f ms %3d %s\n", label, (now_s() - t0) * 1000, r.status,
                shown(r.body, r.body_len));
    check_answer(label, c, &r, &good);
    raw_resp_free(&r);
    good = check_alive(label) && good;
    probe("/readyz", &after);
    long long moved = after - before;
    if (moved != (commits ? 1 : 0)) {
        cr_expect_fail("%s: the revision went from %lld to %lld; %s", label, before, after,
                       commits ? "this write must commit exactly once"
                               : "bad input changes nothing");
        good = false;
    }
    return good;
}

static int json_file(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 5 && strcmp(d->d_name + n - 5, ".json") == 0 && strcmp(d->d_name, "seed.json") != 0;
}

static void up(void)
{
    const char *root = getenv("SB_SOURCE_ROOT");
    cr_assert_not_null(root, "SB_SOURCE_ROOT is not set (run the tests through meson)");
    static char seed[1024];
    snprintf(seed, sizeof seed, "%s/tests/cases/requests/seed.json", root);
    server_start(&S, (const char *const[]){"--seed", seed, NULL});

    char out[256];
    const char *create[] = {"token", "create", "--name", "catalog-reader", "--scope", "read", NULL};
    cr_assert_eq(run_switchboard(&S, create, out, sizeof out), 0, "%s", out);
    out[strcspn(out, "\n")] = '\0';
    snprintf(read_token, sizeof read_token, "%s", out);
    /* The server picks token changes up within a second. */
    char req[300];
    int n =
        snprintf(req, sizeof req,
                 "GET /admin/providers HTTP/1.1\r\nAuthorization: Bearer %s\r\n\r\n", read_token);
    for (double end = now_s() + 30; now_s() < end;) {
        raw_resp r;
        int st = raw_request(&S, req, (size_t)n, PROBE_WAIT, &r) == 0 ? r.status : 0;
        raw_resp_free(&r);
        if (st == 403)
            return;
        usleep(50000);
    }
    cr_assert_fail("the read token was not picked up; log:\n%s", server_log(&S));
}

static void down(void)
{
    server_cleanup(&S);
}

TestSuite(catalog, .init = up, .fini = down, .timeout = 280);

Test(catalog, every_bad_request_is_refused_and_changes_nothing)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/cases/requests", getenv("SB_SOURCE_ROOT"));
    struct dirent **files;
    int n_files = scandir(dir, &files, json_file, alphasort);
    cr_assert_gt(n_files, 0, "no catalog files in %s", dir);
    json_t *names = json_object();
    int total = 0, failed = 0;
    for (int f = 0; f < n_files; f++) {
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, files[f]->d_name);
        json_error_t err;
        json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
        cr_assert_not_null(doc, "%s:%d: %s", path, err.line, err.text);
        size_t i;
        json_t *c;
        json_array_foreach (json_object_get(doc, "cases"), i, c) {
            const char *name = json_string_value(json_object_get(c, "name"));
            char key[600];
            snprintf(key, sizeof key, "%s/%s", files[f]->d_name, name ? name : "(unnamed)");
            cr_assert(!json_object_get(names, key), "%s: case %zu: a unique name, please", key, i);
            json_object_set_new(names, key, json_true());
            total++;
            if (!run_case(files[f]->d_name, c))
                failed++;
        }
        json_decref(doc);
        free(files[f]);
    }
    free(files);
    json_decref(names);
    cr_log_info("bad-input catalog: %d cases, %d failed", total, failed);
    fprintf(stderr, "bad-input catalog: %d cases, %d failed\n", total, failed);
    cr_expect_geq(total, MIN_CASES, "the catalog holds at least %d cases", MIN_CASES);
}
