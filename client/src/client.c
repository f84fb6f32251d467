/*
 * The client: a cache of routes, one entry per role asked for, kept fresh against the server.
 *
 * Threading model. Three kinds of state:
 *  - The role table (c->table) is append-only and read without a lock: a reader loads the
 *    published table with acquire, finds the role's entry, and entries are never freed before
 *    sb_client_close. A grown table is published whole; old ones are kept until close.
 *  - An entry's answer, status and fetch state change under c->lock. Two atomics summarise them
 *    for readers: `gen`, which changes whenever a hit would answer differently, and
 *    `valid_until`, the time until which a hit may be served. A writer stores gen before
 *    valid_until and a reader loads them the other way round, so a reader that sees the new
 *    deadline also sees the new gen.
 *  - Each thread has a view per client (found through a pthread key, so with no lock): for each
 *    entry, the route it hands out and the gen it was made at. A hit increments the thread's own
 *    route's count, so threads share no written cache line, and nothing a hit reads can be freed
 *    under it: only the owning thread replaces its routes. Views are linked into their client
 *    under views_lock, which sb_client_close and exiting threads take to free them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "internal.h"
#include "common/names.h"

#define TTL_DEFAULT      5000
#define TIMEOUT_DEFAULT  500
#define BACKOFF_FIRST    250
#define IDLE_HANDLES_MAX 4
#define WATCH_WAIT_S     50 /* each long-poll; the server caps waits at 60 */

typedef struct entry {
    char role[65];
    uint64_t hash;
    size_t index; /* into every view's slots */
    _Atomic uint64_t gen;
    _Atomic int64_t valid_until;
    /* Under c->lock. */
    sbc_answer *answer;   /* what a hit shows; NULL with an error status */
    sb_source hit_source; /* CACHED, STALE or DEFAULT */
    sb_status status;     /* what a hit returns */
    bool fetching;
    unsigned backoff_ms;
} entry;

typedef struct table {
    size_t mask;
    struct table *older; /* kept until close: a reader may still be in it */
    _Atomic(entry *) slots[];
} table;

typedef struct slot {
    uint64_t gen; /* 0: never filled (entries start at gen 1) */
    sb_route *route;
    sb_status status;
} slot;

typedef struct view {
    _Atomic uint64_t client_id;              /* 0 once the client is closed */
    struct view *thread_next;                /* this thread's views; touched only by the thread */
    struct view *client_next, **client_prev; /* under views_lock */
    size_t n_slots;
    slot *slots;
} view;

struct sb_client {
    uint64_t id;
    char *base_url, *token, *tenant;
    unsigned ttl_ms, timeout_ms;
    sbc_default *defaults;
    size_t n_defaults;
    int64_t (*clock_ms)(void *data);
    void *clock_data;
    sbc_fetch_fn fetch;
    void *fetch_data;

    _Atomic(table *) table;
    pthread_mutex_t lock; /* entries' state, the entry list, the handle pool */
    pthread_cond_t fetched;
    entry **entries;
    size_t n_entries, cap_entries;
    sbc_http *idle[IDLE_HANDLES_MAX];
    size_t n_idle;

    view *views; /* under views_lock */

    /* Watch mode: the watcher thread owns multi and the slots' transfers; the slots array and
     * each slot's armed/retry_at are under lock. */
    bool watch;
    pthread_t watcher;
    CURLM *multi;
    atomic_bool stopping;
    struct watch_slot **slots;
    size_t n_slots;
};

typedef struct watch_slot {
    sbc_http *h;
    sbc_response res;
    char *url;
    bool armed;
    int64_t retry_at;
} watch_slot;

static pthread_mutex_t views_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t views_key;
static pthread_once_t views_once = PTHREAD_ONCE_INIT;
static int views_key_error;
static _Atomic uint64_t next_client_id = 1;

static void fetch_http(sb_client *c, void *data, const char *role, const char *etag,
                       sbc_response *res);
static sb_status watch_start(sb_client *c);
static void watch_stop(sb_client *c);

/* The coarse monotonic clock is read from the vDSO page: no system call, whatever the clock
 * source, at a resolution (a few ms) far finer than any TTL. */
static int64_t now_ms(sb_client *c)
{
    if (c->clock_ms != NULL)
        return c->clock_ms(c->clock_data);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t hash_role(const char *s)
{
    return sb_fnv1a(SB_FNV_SEED, s, strlen(s));
}

static entry *table_find(table *t, const char *role, uint64_t h)
{
    for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
        entry *e = atomic_load_explicit(&t->slots[i], memory_order_acquire);
        if (e == NULL || (e->hash == h && strcmp(e->role, role) == 0))
            return e;
    }
}

static table *table_new(size_t n_slots, table *older)
{
    table *t = calloc(1, sizeof *t + n_slots * sizeof t->slots[0]);
    if (t != NULL) {
        t->mask = n_slots - 1;
        t->older = older;
    }
    return t;
}

static void table_put(table *t, entry *e)
{
    size_t i = e->hash & t->mask;
    while (atomic_load_explicit(&t->slots[i], memory_order_relaxed) != NULL)
        i = (i + 1) & t->mask;
    atomic_store_explicit(&t->slots[i], e, memory_order_release);
}

/* The entry for a role, added when new. Under c->lock. */
static entry *entry_get(sb_client *c, const char *role, uint64_t h)
{
    table *t = atomic_load_explicit(&c->table, memory_order_relaxed);
    entry *e = table_find(t, role, h);
    if (e != NULL)
        return e;
    if (c->n_entries == c->cap_entries) {
        size_t cap = c->cap_entries ? c->cap_entries * 2 : 8;
        entry **entries = realloc(c->entries, cap * sizeof *entries);
        if (entries == NULL)
            return NULL;
        c->entries = entries;
        c->cap_entries = cap;
    }
    if ((e = calloc(1, sizeof *e)) == NULL)
        return NULL;
    /* Keep the table at most half full; a bigger one replaces it whole. */
    if ((c->n_entries + 1) * 2 > t->mask + 1) {
        table *bigger = table_new((t->mask + 1) * 2, t);
        if (bigger == NULL) {
            free(e);
            return NULL;
        }
        for (size_t i = 0; i < c->n_entries; i++)
            table_put(bigger, c->entries[i]);
        atomic_store_explicit(&c->table, bigger, memory_order_release);
        t = bigger;
    }
    snprintf(e->role, sizeof e->role, "%s", role);
    e->hash = h;
    e->index = c->n_entries;
    atomic_init(&e->gen, 1);
    atomic_init(&e->valid_until, INT64_MIN);
    e->status = SB_ERR_UNAVAILABLE;
    e->hit_source = SB_SOURCE_CACHED;
    c->entries[c->n_entries++] = e;
    table_put(t, e);
    return e;
}

/* Frees a dead view's slots: its client is gone, or its thread is. Under views_lock. */
static void view_clear(view *v)
{
    for (size_t i = 0; i < v->n_slots; i++)
        sb_route_release(v->slots[i].route);
    free(v->slots);
    v->slots = NULL;
    v->n_slots = 0;
}

static void unlink_view(view *v)
{
    if (v->client_prev != NULL) {
        *v->client_prev = v->client_next;
        if (v->client_next != NULL)
            v->client_next->client_prev = v->client_prev;
        v->client_prev = NULL;
    }
}

/* A thread ends: its views go, and leave their clients. */
static void thread_gone(void *head)
{
    pthread_mutex_lock(&views_lock);
    for (view *v = head, *next; v != NULL; v = next) {
        next = v->thread_next;
        unlink_view(v);
        view_clear(v);
        free(v);
    }
    pthread_mutex_unlock(&views_lock);
}

static void views_init(void)
{
    views_key_error = pthread_key_create(&views_key, thread_gone);
}

/* The calling thread's view of c, with no lock: NULL when it has none yet. */
static view *view_find(sb_client *c)
{
    for (view *v = pthread_getspecific(views_key); v != NULL; v = v->thread_next)
        if (atomic_load_explicit(&v->client_id, memory_order_relaxed) == c->id)
            return v;
    return NULL;
}

/* The calling thread's view of c, made when missing, with room for entry index i. Dead views
 * (of closed clients) are freed on the way. NULL when out of memory. */
static view *view_get(sb_client *c, size_t i)
{
    view *v = view_find(c);
    if (v == NULL) {
        if ((v = calloc(1, sizeof *v)) == NULL)
            return NULL;
        view *head = pthread_getspecific(views_key);
        pthread_mutex_lock(&views_lock);
        for (view **p = &head; *p != NULL;) {
            view *dead = *p;
            if (atomic_load_explicit(&dead->client_id, memory_order_relaxed) == 0) {
                *p = dead->thread_next;
                free(dead); /* already cleared by sb_client_close */
            } else {
                p = &dead->thread_next;
            }
        }
        atomic_init(&v->client_id, c->id);
        v->thread_next = head;
        if (pthread_setspecific(views_key, v) != 0) {
            pthread_setspecific(views_key, head); /* cannot fail: the key had a slot already */
            pthread_mutex_unlock(&views_lock);
            free(v);
            return NULL;
        }
        v->client_next = c->views;
        if (c->views != NULL)
            c->views->client_prev = &v->client_next;
        v->client_prev = &c->views;
        c->views = v;
        pthread_mutex_unlock(&views_lock);
    }
    if (i >= v->n_slots) {
        size_t n = i < 8 ? 16 : i * 2;
        slot *slots = realloc(v->slots, n * sizeof *slots);
        if (slots == NULL)
            return NULL;
        memset(slots + v->n_slots, 0, (n - v->n_slots) * sizeof *slots);
        v->slots = slots;
        v->n_slots = n;
    }
    return v;
}

/* What a hit on e shows, from the thread's slot, which is brought up to date. Under c->lock. */
static sb_status slot_answer(entry *e, slot *s, sb_route **out)
{
    uint64_t gen = atomic_load_explicit(&e->gen, memory_order_relaxed);
    if (s->gen != gen) {
        sb_route *r = NULL;
        if (e->answer != NULL && (r = sbc_route_new(e->answer, e->hit_source)) == NULL)
            return SB_ERR_NO_MEMORY;
        sb_route_release(s->route);
        *s = (slot){.gen = gen, .route = r, .status = e->status};
    }
    if (s->route != NULL) {
        atomic_fetch_add_explicit(&s->route->refs, 1, memory_order_relaxed);
        *out = s->route;
    }
    return s->status;
}

static const sbc_answer *find_default(sb_client *c, const char *role)
{
    for (size_t i = 0; i < c->n_defaults; i++)
        if (strcmp(c->defaults[i].role, role) == 0)
            return c->defaults[i].answer;
    return NULL;
}

/* Changes what hits on e show. Under c->lock. */
static void entry_set(entry *e, sbc_answer *answer, sb_source hit_source, sb_status status,
                      int64_t valid_until)
{
    if (answer != e->answer || hit_source != e->hit_source || status != e->status) {
        if (answer != NULL)
            sbc_answer_ref(answer);
        sbc_answer_release(e->answer);
        e->answer = answer;
        e->hit_source = hit_source;
        e->status = status;
        atomic_fetch_add_explicit(&e->gen, 1, memory_order_release);
    }
    atomic_store_explicit(&e->valid_until, valid_until, memory_order_release);
}

static sb_status answer_status(const sbc_answer *a)
{
    return a->primary != NULL ? SB_OK : SB_NO_ROUTE;
}

static bool transient(long code)
{
    return code == 0 || code >= 500 || code == 408 || code == 429;
}

/* Takes in what the server said to one fetch of e, and gives this call's route. Under c->lock. */
static sb_status entry_update(sb_client *c, entry *e, sbc_response *res, sb_route **out)
{
    int64_t now = now_ms(c);
    sbc_answer *fresh = NULL, *kept = e->answer && e->answer->from_server ? e->answer : NULL;
    sb_source source;
    if (res->code == 200 && res->etag[0] != '\0' &&
        (fresh = sbc_answer_parse(res->body ? res->body : "", res->len, res->etag, e->role))) {
        if (kept != NULL && strcmp(kept->etag, fresh->etag) == 0) {
            sbc_answer_release(fresh); /* the same answer: keep the one routes already share */
            fresh = sbc_answer_ref(kept);
        }
        entry_set(e, fresh, SB_SOURCE_CACHED, answer_status(fresh), now + c->ttl_ms);
        source = SB_SOURCE_FRESH;
    } else if (res->code == 304 && kept != NULL) {
        fresh = sbc_answer_ref(kept);
        entry_set(e, kept, SB_SOURCE_CACHED, answer_status(kept), now + c->ttl_ms);
        source = SB_SOURCE_REVALIDATED;
    } else if (res->code >= 400 && !transient(res->code)) {
        sb_status status = res->code == 404                       ? SB_ERR_NOT_FOUND
                           : res->code == 401 || res->code == 403 ? SB_ERR_UNAUTHORIZED
                                                                  : SB_ERR_REJECTED;
        entry_set(e, NULL, SB_SOURCE_CACHED, status, now + c->ttl_ms);
        e->backoff_ms = 0;
        return status;
    } else {
        /* No usable answer: down, timed out, 5xx, garbage. Back off, and show what we had. */
        e->backoff_ms = e->backoff_ms == 0 ? BACKOFF_FIRST : e->backoff_ms * 2;
        if (e->backoff_ms > c->ttl_ms)
            e->backoff_ms = c->ttl_ms;
        int64_t retry = now + e->backoff_ms;
        const sbc_answer *def = find_default(c, e->role);
        if (kept != NULL) {
            entry_set(e, kept, SB_SOURCE_STALE, answer_status(kept), retry);
            source = SB_SOURCE_STALE;
        } else if (def != NULL) {
            entry_set(e, (sbc_answer *)def, SB_SOURCE_DEFAULT, answer_status(def), retry);
            source = SB_SOURCE_DEFAULT;
        } else {
            entry_set(e, NULL, SB_SOURCE_CACHED, SB_ERR_UNAVAILABLE, retry);
            return SB_ERR_UNAVAILABLE;
        }
        fresh = sbc_answer_ref(e->answer);
    }
    if (source != SB_SOURCE_STALE && source != SB_SOURCE_DEFAULT)
        e->backoff_ms = 0;
    sb_status status = answer_status(fresh);
    *out = sbc_route_new(fresh, source);
    sbc_answer_release(fresh);
    return *out != NULL ? status : SB_ERR_NO_MEMORY;
}

/* Everything but a hit: find or add the entry, wait for or make the fetch. */
static sb_status route_slow(sb_client *c, const char *role, sb_route **out)
{
    if (!sbc_name_valid(role))
        return SB_ERR_INVALID;
    sb_status status = SB_ERR_NO_MEMORY;
    pthread_mutex_lock(&c->lock);
    entry *e = entry_get(c, role, hash_role(role));
    view *v = e ? view_get(c, e->index) : NULL;
    if (v == NULL)
        goto Exit;
    slot *s = &v->slots[e->index];
    for (;;) {
        if (now_ms(c) < atomic_load_explicit(&e->valid_until, memory_order_relaxed) ||
            (e->fetching && e->answer != NULL)) {
            /* Fresh enough, or another thread is revalidating: show what we have. */
            status = slot_answer(e, s, out);
            goto Exit;
        }
        if (!e->fetching)
            break;
        pthread_cond_wait(&c->fetched, &c->lock); /* the first fetch of this role */
    }
    char etag[sizeof((sbc_response *)0)->etag] = "";
    if (e->answer != NULL && e->answer->from_server)
        snprintf(etag, sizeof etag, "%s", e->answer->etag);
    e->fetching = true;
    pthread_mutex_unlock(&c->lock);

    sbc_response res;
    c->fetch(c, c->fetch_data, role, etag[0] ? etag : NULL, &res);

    pthread_mutex_lock(&c->lock);
    e->fetching = false;
    pthread_cond_broadcast(&c->fetched);
    status = entry_update(c, e, &res, out);
    sbc_response_free(&res);
    if (c->multi != NULL && e->answer != NULL && e->answer->from_server)
        curl_multi_wakeup(c->multi); /* a role to watch, perhaps a new one */
    sb_route *mine = NULL; /* bring this thread's slot up to date, so its next call is a hit */
    if (slot_answer(e, s, &mine) != SB_ERR_NO_MEMORY)
        sb_route_release(mine);
Exit:
    pthread_mutex_unlock(&c->lock);
    return status;
}

sb_status sb_route_get(sb_client *c, const char *role, sb_route **out)
{
    if (out == NULL)
        return SB_ERR_INVALID;
    *out = NULL;
    if (c == NULL || role == NULL)
        return SB_ERR_INVALID;
    /* The hit: no lock, no allocation, no system call. */
    table *t = atomic_load_explicit(&c->table, memory_order_acquire);
    entry *e = table_find(t, role, hash_role(role));
    view *v = e != NULL ? view_find(c) : NULL;
    if (v != NULL && e->index < v->n_slots) {
        slot *s = &v->slots[e->index];
        int64_t until = atomic_load_explicit(&e->valid_until, memory_order_acquire);
        if (s->gen == atomic_load_explicit(&e->gen, memory_order_acquire) && now_ms(c) < until) {
            if (s->route != NULL) {
                atomic_fetch_add_explicit(&s->route->refs, 1, memory_order_relaxed);
                *out = s->route;
            }
            return s->status;
        }
    }
    return route_slow(c, role, out);
}

/* Copies an option or its environment variable or its default; false when out of memory. */
static bool option(char **dst, const char *given, const char *env, const char *def)
{
    const char *v = given ? given : (env && getenv(env) && *getenv(env)) ? getenv(env) : def;
    *dst = v ? strdup(v) : NULL;
    return v == NULL || *dst != NULL;
}

static sb_status client_init(sb_client *c, const sb_options *o)
{
    if (!option(&c->base_url, o->base_url, "SWITCHBOARD_URL", "http://127.0.0.1:8080") ||
        !option(&c->token, o->token, "SWITCHBOARD_TOKEN", NULL))
        return SB_ERR_NO_MEMORY;
    size_t n = strlen(c->base_url);
    while (n > 0 && c->base_url[n - 1] == '/')
        c->base_url[--n] = '\0';
    if (strncmp(c->base_url, "http://", 7) != 0 && strncmp(c->base_url, "https://", 8) != 0)
        return SB_ERR_INVALID;
    for (const char *p = c->base_url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return SB_ERR_INVALID;
    for (const char *p = c->token; p && *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f || p - c->token > 1000)
            return SB_ERR_INVALID;
    if (o->tenant != NULL) {
        if (!sbc_name_valid(o->tenant))
            return SB_ERR_INVALID;
        if ((c->tenant = strdup(o->tenant)) == NULL)
            return SB_ERR_NO_MEMORY;
    }
    c->ttl_ms = o->ttl_ms ? o->ttl_ms : TTL_DEFAULT;
    c->timeout_ms = o->timeout_ms ? o->timeout_ms : TIMEOUT_DEFAULT;
    if (o->defaults_json != NULL) {
        sb_status s = sbc_defaults_parse(o->defaults_json, &c->defaults, &c->n_defaults);
        if (s != SB_OK)
            return s;
    }
    c->fetch = fetch_http;
    atomic_init(&c->table, table_new(16, NULL));
    if (atomic_load(&c->table) == NULL)
        return SB_ERR_NO_MEMORY;
    if (pthread_mutex_init(&c->lock, NULL) != 0)
        return SB_ERR_NO_MEMORY;
    if (pthread_cond_init(&c->fetched, NULL) != 0) {
        pthread_mutex_destroy(&c->lock);
        return SB_ERR_NO_MEMORY;
    }
    c->id = atomic_fetch_add(&next_client_id, 1);
    c->watch = o->watch != 0;
    return SB_OK;
}

static void client_free(sb_client *c)
{
    free(c->base_url);
    free(c->token);
    free(c->tenant);
    sbc_defaults_free(c->defaults, c->n_defaults);
    for (table *t = atomic_load(&c->table), *older; t != NULL; t = older) {
        older = t->older;
        free(t);
    }
    free(c);
}

static sb_status client_open(const sb_options *opts, sb_client **out);

/* The fields of version 0.2, the first sb_options with a size: what size 0 means. */
#define OPTIONS_V2_SIZE (offsetof(sb_options, watch) + sizeof(int))

/* sb_client_open of this version (symbol version SWITCHBOARD_0.2, the default). */
__attribute__((symver("sb_client_open@@SWITCHBOARD_0.2"), visibility("default"))) sb_status
sb_client_open_v2(const sb_options *opts, sb_client **out);

sb_status sb_client_open_v2(const sb_options *opts, sb_client **out)
{
    sb_options o = {0};
    if (opts != NULL) { /* what the program knows of the struct, the rest as zero */
        size_t n = opts->size ? opts->size : OPTIONS_V2_SIZE;
        memcpy(&o, opts, n < sizeof o ? n : sizeof o);
    }
    return client_open(&o, out);
}

/* sb_options as version 0.1 laid it out, with no size: the programs built against 0.1 call
 * this through the symbol version SWITCHBOARD_0 (see libswitchboard.map). */
typedef struct options_v1 {
    const char *base_url, *token, *tenant;
    unsigned ttl_ms, timeout_ms;
    const char *defaults_json;
    int watch;
} options_v1;

__attribute__((symver("sb_client_open@SWITCHBOARD_0"), visibility("default"))) sb_status
sb_client_open_v1(const options_v1 *opts, sb_client **out);

sb_status sb_client_open_v1(const options_v1 *opts, sb_client **out)
{
    sb_options o = {0};
    if (opts != NULL)
        o = (sb_options){sizeof o,     opts->base_url,   opts->token,         opts->tenant,
                         opts->ttl_ms, opts->timeout_ms, opts->defaults_json, opts->watch};
    return client_open(&o, out);
}

static sb_status client_open(const sb_options *opts, sb_client **out)
{
    if (out == NULL)
        return SB_ERR_INVALID;
    *out = NULL;
    pthread_once(&views_once, views_init);
    if (views_key_error != 0)
        return SB_ERR_NO_MEMORY;
    sb_client *c = calloc(1, sizeof *c);
    if (c == NULL)
        return SB_ERR_NO_MEMORY;
    sb_status s = client_init(c, opts);
    if (s == SB_OK && c->watch && (s = watch_start(c)) != SB_OK) {
        pthread_cond_destroy(&c->fetched);
        pthread_mutex_destroy(&c->lock);
    }
    if (s != SB_OK) {
        client_free(c); /* client_init made no lock before its last failure point */
        return s;
    }
    *out = c;
    return SB_OK;
}

void sb_client_close(sb_client *c)
{
    if (c == NULL)
        return;
    watch_stop(c);
    pthread_mutex_lock(&views_lock);
    for (view *v = c->views; v != NULL; v = v->client_next) {
        view_clear(v);
        v->client_prev = NULL;
        atomic_store_explicit(&v->client_id, 0, memory_order_relaxed); /* its thread frees it */
    }
    pthread_mutex_unlock(&views_lock);
    for (size_t i = 0; i < c->n_entries; i++) {
        sbc_answer_release(c->entries[i]->answer);
        free(c->entries[i]);
    }
    free(c->entries);
    for (size_t i = 0; i < c->n_idle; i++)
        sbc_http_free(c->idle[i]);
    pthread_cond_destroy(&c->fetched);
    pthread_mutex_destroy(&c->lock);
    client_free(c);
}

/* <base>/config/<role>[?wait=S][&tenant=T], new; NULL when out of memory. Names need no escaping.
 */
static char *role_url(const sb_client *c, const char *role, int wait)
{
    char w[24] = "", *url;
    if (wait > 0)
        snprintf(w, sizeof w, "?wait=%d", wait);
    const char *t = c->tenant == NULL ? "" : wait > 0 ? "&tenant=" : "?tenant=";
    if (asprintf(&url, "%s/config/%s%s%s%s", c->base_url, role, w, t, c->tenant ? c->tenant : "") <
        0)
        return NULL;
    return url;
}

/* The real transport: GET <base>/config/<role>[?tenant=T] on a pooled, kept-alive handle. */
static void fetch_http(sb_client *c, void *data, const char *role, const char *etag,
                       sbc_response *res)
{
    pthread_mutex_lock(&c->lock);
    sbc_http *h = c->n_idle > 0 ? c->idle[--c->n_idle] : NULL;
    pthread_mutex_unlock(&c->lock);
    char *url = role_url(c, role, 0);
    if (h == NULL)
        h = sbc_http_new();
    if (h == NULL || url == NULL) {
        memset(res, 0, sizeof *res);
        snprintf(res->error, sizeof res->error, "out of memory");
        free(url);
        sbc_http_free(h);
        return;
    }
    sbc_request req = {
        .url = url, .token = c->token, .if_none_match = etag, .timeout_ms = c->timeout_ms};
    sbc_request_send(h, &req, res);
    free(url);
    pthread_mutex_lock(&c->lock);
    if (c->n_idle < IDLE_HANDLES_MAX) {
        c->idle[c->n_idle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    sbc_http_free(h);
}

/* ---- watch mode ---------------------------------------------------------------------------- */

/* Opens a long-poll for entry i, whose answer came from the server. Under c->lock. */
static void watch_arm(sb_client *c, size_t i, int64_t now)
{
    entry *e = c->entries[i];
    watch_slot *w = c->slots[i];
    if (w->h == NULL && (w->h = sbc_http_new()) == NULL)
        return;
    if (w->url == NULL && (w->url = role_url(c, e->role, WATCH_WAIT_S)) == NULL)
        return;
    sbc_request req = {.url = w->url,
                       .token = c->token,
                       .if_none_match = e->answer->etag,
                       .timeout_ms = WATCH_WAIT_S * 1000 + c->timeout_ms};
    if (sbc_request_prepare(w->h, &req, &w->res) != 0)
        return;
    CURL *easy = sbc_http_easy(w->h);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, (void *)(uintptr_t)i);
    if (curl_multi_add_handle(c->multi, easy) != CURLM_OK) {
        sbc_request_finish(w->h, CURLE_FAILED_INIT, &w->res);
        return;
    }
    w->armed = true;
    /* While the watch is open, the entry needs no revalidation: a change ends the watch. */
    int64_t until = now + WATCH_WAIT_S * 1000 + c->timeout_ms;
    if (e->hit_source == SB_SOURCE_CACHED &&
        atomic_load_explicit(&e->valid_until, memory_order_relaxed) < until)
        atomic_store_explicit(&e->valid_until, until, memory_order_release);
}

/* Opens the watches that should be open: every role with a server answer, past its retry time. */
static void watch_arm_all(sb_client *c)
{
    pthread_mutex_lock(&c->lock);
    int64_t now = now_ms(c);
    if (c->n_slots < c->n_entries) {
        watch_slot **slots = realloc(c->slots, c->n_entries * sizeof *slots);
        if (slots != NULL) {
            c->slots = slots;
            for (; c->n_slots < c->n_entries; c->n_slots++)
                if ((slots[c->n_slots] = calloc(1, sizeof **slots)) == NULL)
                    break;
        }
    }
    for (size_t i = 0; i < c->n_slots; i++) {
        entry *e = c->entries[i];
        if (!c->slots[i]->armed && now >= c->slots[i]->retry_at && e->answer != NULL &&
            e->answer->from_server)
            watch_arm(c, i, now);
    }
    pthread_mutex_unlock(&c->lock);
}

/* A long-poll ended: take in its answer, as a fetch would, and say when to open the next. */
static void watch_done(sb_client *c, CURL *easy, CURLcode code)
{
    void *p = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &p);
    size_t i = (size_t)(uintptr_t)p;
    curl_multi_remove_handle(c->multi, easy);
    pthread_mutex_lock(&c->lock);
    watch_slot *w = c->slots[i];
    entry *e = c->entries[i];
    sbc_request_finish(w->h, code, &w->res);
    sb_route *r = NULL;
    entry_update(c, e, &w->res, &r);
    sb_route_release(r);
    sbc_response_free(&w->res);
    w->armed = false;
    /* Healthy: at once. Failing: when the entry's own backoff ends. */
    w->retry_at = e->hit_source == SB_SOURCE_CACHED
                      ? 0
                      : atomic_load_explicit(&e->valid_until, memory_order_relaxed);
    pthread_mutex_unlock(&c->lock);
}

static void *watch_main(void *arg)
{
    sb_client *c = arg;
    while (!atomic_load(&c->stopping)) {
        watch_arm_all(c);
        int running;
        curl_multi_perform(c->multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(c->multi, &left)) != NULL)
            if (msg->msg == CURLMSG_DONE)
                watch_done(c, msg->easy_handle, msg->data.result);
        curl_multi_poll(c->multi, NULL, 0, 250, NULL);
    }
    return NULL;
}

static sb_status watch_start(sb_client *c)
{
    if ((c->multi = curl_multi_init()) == NULL)
        return SB_ERR_NO_MEMORY;
    if (pthread_create(&c->watcher, NULL, watch_main, c) != 0) {
        curl_multi_cleanup(c->multi);
        c->multi = NULL;
        return SB_ERR_NO_MEMORY;
    }
    return SB_OK;
}

static void watch_stop(sb_client *c)
{
    if (c->multi == NULL)
        return;
    atomic_store(&c->stopping, true);
    curl_multi_wakeup(c->multi);
    pthread_join(c->watcher, NULL);
    for (size_t i = 0; i < c->n_slots; i++) {
        watch_slot *w = c->slots[i];
        if (w->armed) {
            curl_multi_remove_handle(c->multi, sbc_http_easy(w->h));
            sbc_request_finish(w->h, CURLE_ABORTED_BY_CALLBACK, &w->res);
        }
        sbc_http_free(w->h);
        free(w->url);
        free(w);
    }
    free(c->slots);
    curl_multi_cleanup(c->multi);
}

void sbc_client_set_transport(sb_client *c, sbc_fetch_fn fetch, void *data)
{
    c->fetch = fetch;
    c->fetch_data = data;
}

void sbc_client_set_clock(sb_client *c, int64_t (*clock_ms)(void *data), void *data)
{
    c->clock_ms = clock_ms;
    c->clock_data = data;
}
