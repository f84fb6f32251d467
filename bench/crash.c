/*
 * Crash storm: several writers PUT and PATCH providers and roles, and commit small txns, while
 * the server is killed with SIGKILL at random moments, then restarted on the same data
 * directory, CYCLES times. After each restart it checks what a user relies on:
 *
 * - no acknowledged write is lost: every key holds its last acknowledged value at the
 *   acknowledged revision, or, when a write of that key was in flight at the kill, possibly
 *   that write at a newer revision (an unacknowledged write may or may not be there);
 * - revisions never go back: /readyz answers at least the highest acknowledged revision, and
 *   at least what it answered before the kill;
 * - the audit has no gaps: every revision up to the current one has audit entries (the new
 *   revisions after each restart, and all of them from revision 1 at the end).
 *
 * Each writer owns its keys, so "the last acknowledged value" of a key is well defined. Every
 * write carries a unique description, so a value tells which write it came from.
 *
 * Threads: the main thread runs the server and the checks; WRITERS threads write. They meet
 * under `mu`: the main thread opens a cycle (`running`), writers write until a request fails
 * (the server is gone) or the cycle is closed, then park (`parked`); the main thread checks only
 * when every writer is parked, so the key states are its alone then.
 *
 * usage: crash-storm SWITCHBOARD_BIN [CYCLES]   (or $SB_CRASH_CYCLES; default 200)
 * Prints the figures; exits 1 on any lost write, revision regression, audit gap or refused
 * write, 2 when the server cannot be run.
 */
#include "port.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <jansson.h>

#define WRITERS   4
#define KEYS      6 /* per writer: 3 providers, then 3 roles */
#define PROVIDERS 3
#define DESC_LEN  48

typedef struct key_state {
    char key[64];             /* "providers/crash-w0-1" */
    char acked[DESC_LEN];     /* description of the last acknowledged write, "" if none */
    long long acked_rev;      /* its revision, 0 if never acknowledged */
    char in_flight[DESC_LEN]; /* a write sent but not acknowledged, "" if none */
} key_state;

typedef struct writer {
    int id;
    unsigned seed;
    long long writes; /* acknowledged */
    long long max_rev;
    key_state keys[KEYS];
} writer;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int cycle;    /* the cycle writers may write in */
    bool running; /* the server of this cycle is up and not yet killed */
    bool done;
    int parked; /* writers waiting for the next cycle */
    int port;
    char token[128];
    long long refused;
} g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static writer writers[WRITERS];
static const char *bin;
static char top[256], dir[300], log_path[300]; /* top holds the data directory and the log */
static pid_t server_pid;

static void print_log_tail(void);

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "crash-storm: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    print_log_tail();
    exit(2);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- HTTP ---- */

typedef struct reply {
    long status; /* 0: no answer (connection refused, reset, timeout) */
    json_t *json;
    char etag[48];
} reply;

typedef struct buf {
    char *p;
    size_t len;
} buf;

static size_t on_body(char *p, size_t size, size_t n, void *data)
{
    buf *b = data;
    char *q = realloc(b->p, b->len + size * n + 1);
    if (q == NULL)
        return 0;
    b->p = q;
    memcpy(b->p + b->len, p, size * n);
    b->len += size * n;
    b->p[b->len] = '\0';
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *data)
{
    char *etag = data;
    if (n * size > 6 && strncasecmp(p, "etag:", 5) == 0) {
        const char *v = p + 5;
        while (*v == ' ')
            v++;
        size_t len = strcspn(v, "\r\n");
        snprintf(etag, 48, "%.*s", (int)len, v);
    }
    return size * n;
}

/* One request on c (which keeps its connection); body may be NULL. */
static reply call(CURL *c, const char *method, const char *path, const char *body)
{
    reply r = {0};
    buf b = {0};
    char url[256], auth[200];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", g.port, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", g.token);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, "X-Change-Reason: crash storm");
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    if (body != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r.etag);
    /* Generous: an fsync on a busy disk, a sanitizer build on a busy machine. */
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
        r.json = b.p ? json_loads(b.p, JSON_DECODE_ANY, NULL) : NULL;
    }
    free(b.p);
    curl_slist_free_all(h);
    return r;
}

/* ---- the server ---- */

static void spawn(void)
{
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", g.port);
    pid_t parent = getpid();
    server_pid = fork();
    if (server_pid < 0)
        die("fork: %s", strerror(errno));
    if (server_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a storm that dies takes its server along */
        if (getppid() != parent)
            _exit(127);
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        int null = open("/dev/null", O_RDWR);
        dup2(fd, 2);
        dup2(null, 0);
        dup2(null, 1);
        execl(bin, bin, "--listen", listen, "--data", dir, "--threads", "2", (char *)NULL);
        _exit(127);
    }
}

static void kill_server(void)
{
    kill(server_pid, SIGKILL);
    waitpid(server_pid, NULL, 0);
    server_pid = 0;
}

/* Waits until /readyz answers 200; @return its revision. */
static long long wait_ready(CURL *c)
{
    for (double start = now_s(); now_s() - start < 60;) {
        int status;
        if (waitpid(server_pid, &status, WNOHANG) == server_pid)
            die("the server exited (status %d); see %s", status, log_path);
        reply r = call(c, "GET", "/readyz", NULL);
        json_t *rev = json_object_get(r.json, "revision");
        long long v = r.status == 200 && json_is_integer(rev) ? json_integer_value(rev) : -1;
        json_decref(r.json);
        if (v >= 0)
            return v;
        sleep_ms(20);
    }
    die("the server was not ready within 60 s; see %s", log_path);
    return -1;
}

/* A free port below the kernel's ephemeral range (tests/port.h): no outgoing connection takes it
 * as its local port while the server is down between a kill and its restart. */
static int free_port(void)
{
    int port = low_free_port();
    if (port == 0)
        die("%s", "no free port below the ephemeral range");
    return port;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void cleanup(void)
{
    if (server_pid > 0)
        kill_server();
    if (top[0])
        nftw(top, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The end of the server's log, for a failure message. */
static void print_log_tail(void)
{
    char text[4096];
    FILE *f = fopen(log_path, "r");
    if (f == NULL)
        return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size > (long)sizeof text - 1 ? size - (long)sizeof text + 1 : 0, SEEK_SET);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    fprintf(stderr, "crash-storm: the end of the server's log:\n%s\n", text);
}

static void on_signal(int sig)
{
    exit(3); /* runs cleanup() */
}

/* ---- writers ---- */

static void value_of(writer *w, int k, const char *desc, bool whole, char *out, size_t len)
{
    if (k < PROVIDERS) /* a flip, whether whole or patched */
        snprintf(out, len, "{\"enabled\":%s,\"description\":\"%s\"}",
                 rand_r(&w->seed) % 2 ? "true" : "false", desc);
    else if (whole) /* a free provider at the end: the role always keeps a route */
        snprintf(out, len,
                 "{\"primary\":\"crash-w%d-%d/m\",\"fallbacks\":[\"crash-w%d-%d/m\","
                 "\"crash-free/m\"],\"description\":\"%s\"}",
                 w->id, rand_r(&w->seed) % PROVIDERS, w->id, rand_r(&w->seed) % PROVIDERS, desc);
    else
        snprintf(out, len, "{\"description\":\"%s\"}", desc);
}

/* One write of one or more of w's keys. @return false when the server did not answer. */
static bool write_once(writer *w, CURL *c, long long n)
{
    int k = rand_r(&w->seed) % KEYS, op = rand_r(&w->seed) % 10;
    char body[2048], path[96], desc[DESC_LEN - 2]; /* room for ".<i>" */
    int touched[3] = {k, -1, -1}, nt = 1;
    snprintf(desc, sizeof desc, "w%d n%lld", w->id, n);
    if (op < 2) { /* a txn of 2 or 3 keys, each put */
        nt = 2 + rand_r(&w->seed) % 2;
        int len = snprintf(body, sizeof body, "{\"ops\":[");
        for (int i = 0; i < nt; i++) {
            char value[512], d[DESC_LEN];
            touched[i] = (k + i) % KEYS;
            snprintf(d, sizeof d, "%s.%c", desc, (char)('0' + i));
            value_of(w, touched[i], d, true, value, sizeof value);
            len += snprintf(body + len, sizeof body - (size_t)len,
                            "%s{\"op\":\"put\",\"key\":\"%s\",\"value\":%s}", i ? "," : "",
                            w->keys[touched[i]].key, value);
            snprintf(w->keys[touched[i]].in_flight, DESC_LEN, "%s", d);
        }
        snprintf(body + len, sizeof body - (size_t)len, "]}");
        snprintf(path, sizeof path, "/admin/txn");
    } else { /* a PATCH of a key that exists, else a PUT */
        bool patch = op < 6 && w->keys[k].acked_rev > 0;
        value_of(w, k, desc, !patch, body, sizeof body);
        snprintf(path, sizeof path, "/admin/%s", w->keys[k].key);
        snprintf(w->keys[k].in_flight, DESC_LEN, "%s", desc);
        op = patch;
    }
    const char *method = nt > 1 ? "POST" : op == 1 ? "PATCH" : "PUT";
    reply r = call(c, method, path, body);
    json_t *rev = json_object_get(r.json, "revision");
    bool ok = (r.status == 200 || r.status == 201) && json_is_integer(rev);
    if (ok) {
        for (int i = 0; i < nt; i++) {
            key_state *ks = &w->keys[touched[i]];
            memcpy(ks->acked, ks->in_flight, DESC_LEN);
            ks->in_flight[0] = '\0';
            ks->acked_rev = json_integer_value(rev);
        }
        w->writes++;
        if (json_integer_value(rev) > w->max_rev)
            w->max_rev = json_integer_value(rev);
    } else if (r.status != 0) { /* refused: it changed nothing */
        char *text = json_dumps(r.json, JSON_ENCODE_ANY);
        fprintf(stderr, "crash-storm: %s %s refused (HTTP %ld): %s\n", method, path, r.status,
                text ? text : "");
        free(text);
        for (int i = 0; i < nt; i++)
            w->keys[touched[i]].in_flight[0] = '\0';
        pthread_mutex_lock(&g.mu);
        g.refused++;
        pthread_mutex_unlock(&g.mu);
    }
    json_decref(r.json);
    return r.status != 0;
}

static void *writer_main(void *arg)
{
    writer *w = arg;
    long long n = 0;
    for (int cycle = 1;; cycle++) {
        pthread_mutex_lock(&g.mu);
        while (!g.done && g.cycle < cycle)
            pthread_cond_wait(&g.cv, &g.mu);
        bool done = g.done;
        pthread_mutex_unlock(&g.mu);
        if (done)
            return NULL;
        CURL *c = curl_easy_init(); /* a fresh connection for each server */
        for (;;) {
            pthread_mutex_lock(&g.mu);
            bool running = g.running;
            pthread_mutex_unlock(&g.mu);
            if (!running || !write_once(w, c, ++n))
                break;
        }
        curl_easy_cleanup(c);
        pthread_mutex_lock(&g.mu);
        g.parked++;
        pthread_cond_broadcast(&g.cv);
        pthread_mutex_unlock(&g.mu);
    }
}

/* ---- the checks ---- */

typedef struct figures {
    long long lost, regressions, gaps, adopted;
    long long audit_checked; /* every revision up to this one has audit entries */
    long long last_rev;      /* /readyz after the last restart */
    long long skipped;       /* revisions the audit pages skipped but that have entries */
    bool unreached;          /* since=0 did not start at revision 1 */
} figures;

/* Compares each key with what was acknowledged; the state becomes what the store holds. */
static void check_keys(CURL *c, figures *f, int cycle)
{
    for (int i = 0; i < WRITERS; i++)
        for (int k = 0; k < KEYS; k++) {
            key_state *ks = &writers[i].keys[k];
            char path[96];
            snprintf(path, sizeof path, "/admin/%s", ks->key);
            reply r = call(c, "GET", path, NULL);
            const char *desc = json_string_value(json_object_get(r.json, "description"));
            long long rev = r.etag[0] == '"' && r.etag[1] == 'r' ? atoll(r.etag + 2) : -1;
            bool ok;
            if (r.status == 404)
                ok = ks->acked_rev == 0;
            else if (r.status != 200 || desc == NULL)
                die("cycle %d: GET %s: HTTP %ld", cycle, path, r.status);
            else if (strcmp(desc, ks->acked) == 0 && rev == ks->acked_rev)
                ok = true;
            else if (ks->in_flight[0] && strcmp(desc, ks->in_flight) == 0 && rev > ks->acked_rev) {
                ok = true; /* the write in flight at the kill made it */
                snprintf(ks->acked, DESC_LEN, "%s", desc);
                ks->acked_rev = rev;
                f->adopted++;
            } else
                ok = false;
            if (!ok) {
                fprintf(stderr,
                        "crash-storm: cycle %d: LOST %s: acknowledged \"%s\" at r%lld (in flight "
                        "\"%s\"), the store has \"%s\" at r%lld (HTTP %ld)\n",
                        cycle, ks->key, ks->acked, ks->acked_rev, ks->in_flight, desc ? desc : "",
                        rev, r.status);
                f->lost++;
                if (r.status == 200) { /* go on from what is there */
                    snprintf(ks->acked, DESC_LEN, "%s", desc);
                    ks->acked_rev = rev;
                }
            }
            ks->in_flight[0] = '\0';
            json_decref(r.json);
        }
}

/* GET /admin/audit?since=SINCE&limit=LIMIT; dies unless it answers a page. */
static reply audit_page(CURL *c, const char *since, int limit, int cycle)
{
    char path[160];
    char *q = curl_easy_escape(c, since, 0);
    snprintf(path, sizeof path, "/admin/audit?since=%s&limit=%d", q, limit);
    curl_free(q);
    reply r = call(c, "GET", path, NULL);
    if (r.status != 200 || !json_is_array(json_object_get(r.json, "entries")))
        die("cycle %d: GET %s: HTTP %ld", cycle, path, r.status);
    return r;
}

static long long revision_at(const json_t *entries, size_t i)
{
    return json_integer_value(json_object_get(json_array_get(entries, i), "revision"));
}

/* Marks the revisions in (from, upto] that have audit entries, following "next" until it is
 * null. @return false when since=0 answered the newest page, as before the paging fix, so
 * revision 1 cannot be reached. */
static bool audit_pages(CURL *c, long long from, long long upto, unsigned char *seen, int cycle)
{
    bool reaches_1 = true;
    char since[64];
    snprintf(since, sizeof since, "%lld", from);
    for (long long page = 0; page <= upto + 1; page++) {
        reply r = audit_page(c, since, 1000, cycle);
        json_t *entries = json_object_get(r.json, "entries"),
               *next = json_object_get(r.json, "next");
        for (size_t i = 0; i < json_array_size(entries); i++) {
            long long rev = revision_at(entries, i);
            if (rev > from && rev <= upto)
                seen[rev] = 1;
        }
        if (from == 0 && page == 0 && revision_at(entries, 0) > 1) {
            reaches_1 = false; /* the newest page: go on from revision 2 */
            snprintf(since, sizeof since, "1");
        } else if (json_is_integer(next)) {
            if (json_integer_value(next) <= atoll(since))
                die("cycle %d: audit since=%s: next %lld does not move on", cycle, since,
                    (long long)json_integer_value(next));
            snprintf(since, sizeof since, "%lld", (long long)json_integer_value(next));
        } else if (json_is_string(next)) /* a cursor inside a revision */
            snprintf(since, sizeof since, "%s", json_string_value(next));
        else {
            json_decref(r.json);
            return reaches_1;
        }
        json_decref(r.json);
    }
    die("cycle %d: the audit pages do not end", cycle);
    return false;
}

/* Every revision in (from, upto] must have audit entries. A revision the pages skipped is
 * asked for alone (since=rev-1&limit=1), which tells a page that dropped entries (counted in
 * f->skipped) from a revision with none (a gap). */
static void check_audit(CURL *c, figures *f, long long from, long long upto, int cycle)
{
    if (upto <= from)
        return;
    unsigned char *seen = calloc((size_t)upto + 1, 1);
    if (seen == NULL)
        die("out of memory");
    if (!audit_pages(c, from, upto, seen, cycle)) {
        seen[1] = 1;
        f->unreached = true;
    }
    long long missing = 0, first_missing = 0;
    for (long long rev = from + 1; rev <= upto; rev++) {
        if (seen[rev])
            continue;
        if (missing < 100) { /* past that many, a real gap: do not ask for each */
            char since[32];
            snprintf(since, sizeof since, "%lld", rev - 1);
            reply r = audit_page(c, since, 1, cycle);
            bool there = revision_at(json_object_get(r.json, "entries"), 0) == rev;
            json_decref(r.json);
            if (there) {
                f->skipped++;
                continue;
            }
        }
        if (missing++ == 0)
            first_missing = rev;
    }
    if (missing) {
        fprintf(stderr,
                "crash-storm: cycle %d: %lld revisions in r%lld..r%lld have no audit entry (the "
                "first: r%lld)\n",
                cycle, missing, from + 1, upto, first_missing);
        f->gaps += missing;
    }
    free(seen);
}

static void check(CURL *c, figures *f, int cycle)
{
    long long rev = wait_ready(c), acked = 0;
    for (int i = 0; i < WRITERS; i++)
        acked = writers[i].max_rev > acked ? writers[i].max_rev : acked;
    if (rev < acked || rev < f->last_rev) {
        fprintf(stderr,
                "crash-storm: cycle %d: REGRESSION: /readyz says r%lld after a restart; the "
                "highest acknowledged is r%lld, the last seen r%lld\n",
                cycle, rev, acked, f->last_rev);
        f->regressions++;
    }
    f->last_rev = rev;
    check_keys(c, f, cycle);
    check_audit(c, f, f->audit_checked, rev, cycle);
    f->audit_checked = rev > f->audit_checked ? rev : f->audit_checked;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: crash-storm SWITCHBOARD_BIN [CYCLES]\n");
        return 2;
    }
    bin = argv[1];
    const char *env = getenv("SB_CRASH_CYCLES");
    int cycles = argc > 2 ? atoi(argv[2]) : env ? atoi(env) : 200;
    if (cycles < 1)
        die("CYCLES must be a number from 1");
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    if (getenv("SB_CRASH_SEED"))
        seed = (unsigned)strtoul(getenv("SB_CRASH_SEED"), NULL, 10);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *tmp = getenv("TMPDIR");
    snprintf(top, sizeof top, "%s/sb-crash-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(top) == NULL)
        die("mkdtemp: %s", strerror(errno));
    snprintf(dir, sizeof dir, "%s/data", top);
    snprintf(log_path, sizeof log_path, "%s/server.log", top);
    atexit(cleanup);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    g.port = free_port();
    CURL *c = curl_easy_init();
    spawn();
    wait_ready(c);
    char tpath[400];
    snprintf(tpath, sizeof tpath, "%s/admin.token", dir);
    FILE *t = fopen(tpath, "r");
    if (t == NULL || fgets(g.token, sizeof g.token, t) == NULL)
        die("no admin token in %s", tpath);
    fclose(t);
    g.token[strcspn(g.token, "\n")] = '\0';

    pthread_t threads[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        writers[i].id = i;
        writers[i].seed = seed + (unsigned)i * 7919;
        for (int k = 0; k < KEYS; k++)
            snprintf(writers[i].keys[k].key, sizeof writers[i].keys[k].key, "%s/crash-w%d-%d",
                     k < PROVIDERS ? "providers" : "roles", i, k);
        pthread_create(&threads[i], NULL, writer_main, &writers[i]);
    }

    figures f = {0};
    double start = now_s();
    printf("crash storm: %d writers, %d cycles, seed %u\n", WRITERS, cycles, seed);
    fflush(stdout);
    for (int cycle = 1; cycle <= cycles; cycle++) {
        if (cycle > 1) {
            spawn();
            if (rand_r(&seed) % 8 == 0) { /* now and then, while it opens the store */
                sleep_ms(rand_r(&seed) % 30);
                kill_server();
                spawn();
            }
            check(c, &f, cycle);
        }
        pthread_mutex_lock(&g.mu);
        g.cycle = cycle;
        g.running = true;
        g.parked = 0;
        pthread_cond_broadcast(&g.cv);
        pthread_mutex_unlock(&g.mu);
        sleep_ms(rand_r(&seed) % 300);
        kill_server();
        pthread_mutex_lock(&g.mu);
        g.running = false;
        while (g.parked < WRITERS)
            pthread_cond_wait(&g.cv, &g.mu);
        pthread_mutex_unlock(&g.mu);
        if (cycle % 50 == 0 && cycle < cycles) {
            printf("  %d cycles, r%lld\n", cycle, f.last_rev);
            fflush(stdout);
        }
    }
    spawn();
    check(c, &f, cycles + 1);
    check_audit(c, &f, 0, f.last_rev, cycles + 1); /* the whole audit, from revision 1 */
    kill_server();

    pthread_mutex_lock(&g.mu);
    g.done = true;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    long long writes = 0;
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(threads[i], NULL);
        writes += writers[i].writes;
    }
    curl_easy_cleanup(c);
    curl_global_cleanup();

    printf("cycles                %d\n", cycles);
    printf("acknowledged writes   %lld\n", writes);
    printf("in flight, kept       %lld\n", f.adopted);
    printf("refused writes        %lld\n", g.refused);
    printf("final revision        %lld\n", f.last_rev);
    printf("lost writes           %lld\n", f.lost);
    printf("revision regressions  %lld\n", f.regressions);
    printf("audit gaps            %lld\n", f.gaps);
    if (f.skipped)
        printf("  (%lld revisions were skipped by the audit pages and found one by one)\n",
               f.skipped);
    if (f.unreached)
        printf("  (since=0 answered the newest page: revision 1 was not reached)\n");
    printf("time                  %.1f s\n", now_s() - start);
    bool bad = f.lost || f.regressions || f.gaps || g.refused;
    if (bad)
        print_log_tail();
    return bad ? 1 : 0;
}
