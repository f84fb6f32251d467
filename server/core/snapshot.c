/*
 * Snapshot building and publication (threading model in snapshot.h).
 */
#include "snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_key(const char *role, size_t rl, const char *tenant, size_t tl)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < rl; i++)
        h = (h ^ (unsigned char)role[i]) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull; /* no name contains 0xff: role and tenant stay apart */
    if (tenant != NULL)
        for (size_t i = 0; i < tl; i++)
            h = (h ^ (unsigned char)tenant[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static sb_answer *lookup(const sb_snapshot *s, const char *role, size_t rl, const char *tenant,
                         size_t tl)
{
    for (size_t i = hash_key(role, rl, tenant, tl) & s->mask;; i = (i + 1) & s->mask) {
        uint32_t slot = s->slots[i];
        if (slot == 0)
            return NULL;
        sb_answer *a = s->answers[slot - 1];
        if (a->role_len == rl && memcmp(a->role, role, rl) == 0 &&
            (a->tenant == NULL) == (tenant == NULL) &&
            (tenant == NULL || (a->tenant_len == tl && memcmp(a->tenant, tenant, tl) == 0)))
            return a;
    }
}

/* A tenant name as a (pointer, length) pair, for bsearch over the sorted views. */
typedef struct name_key {
    const char *p;
    size_t len;
} name_key;

static int cmp_view(const void *key, const void *v)
{
    const name_key *k = key;
    const sb_view *view = v;
    int c = strncmp(k->p, view->name, k->len);
    return c ? c : (view->name[k->len] ? -1 : 0);
}

static sb_view *find_view(const sb_snapshot *s, const char *tenant, size_t len)
{
    if (tenant == NULL)
        return &s->views[0];
    name_key k = {tenant, len};
    return bsearch(&k, s->views + 1, s->n_views - 1, sizeof *s->views, cmp_view);
}

const sb_answer *sb_snapshot_answer(const sb_snapshot *s, const char *role, size_t role_len,
                                    const char *tenant, size_t tenant_len)
{
    if (tenant != NULL) {
        const sb_answer *a = lookup(s, role, role_len, tenant, tenant_len);
        if (a != NULL || find_view(s, tenant, tenant_len) != NULL)
            return a; /* a known tenant: its own answers only */
    }
    return lookup(s, role, role_len, NULL, 0);
}

/* ---- answers ---- */

static void answer_unref(sb_answer *a)
{
    if (a != NULL && atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) == 1)
        free(a); /* one block: the struct, its names and its body */
}

static void body_set(sb_body *b, sb_buf *buf)
{
    b->p = buf->p;
    b->len = buf->len;
    sb_etag(b->p, b->len, b->etag);
}

/* Computes one answer into a single allocation: the struct, its dependencies, then role,
 * tenant and body. deps and text are the caller's scratch space. */
static sb_answer *answer_new(const json_t *docs, const char *role, const char *tenant, sb_buf *text,
                             sb_deps *deps, sb_scratch *scratch)
{
    bool routed;
    text->len = 0;
    deps->n = 0;
    if (sb_resolve_scratch(docs, role, tenant, text, deps, &routed, scratch) != 0)
        return NULL;
    sb_deps_sort(deps);
    size_t rl = strlen(role), tl = tenant ? strlen(tenant) : 0, dl = deps->n * sizeof *deps->keys;
    sb_answer *a = sb_xmalloc(sizeof *a + dl + rl + 1 + (tenant ? tl + 1 : 0) + text->len + 1);
    char *p = (char *)(a + 1); /* sizeof *a keeps p aligned for the uint64_t keys */
    atomic_init(&a->refs, 1);
    a->deps = dl ? memcpy(p, deps->keys, dl) : NULL;
    a->n_deps = deps->n;
    p += dl;
    a->routed = routed;
    a->role = memcpy(p, role, rl + 1);
    a->role_len = rl;
    p += rl + 1;
    a->tenant = tenant ? memcpy(p, tenant, tl + 1) : NULL;
    a->tenant_len = tl;
    p += tenant ? tl + 1 : 0;
    a->body.p = memcpy(p, text->p, text->len + 1);
    a->body.len = text->len;
    sb_etag(a->body.p, a->body.len, a->body.etag);
    return a;
}

typedef struct builder {
    sb_snapshot *s;
    size_t cap;
    const sb_snapshot *prev;
    sb_deps changed; /* the documents the write changed, sorted */
    bool full;
    sb_buf text;
    sb_deps deps;
    sb_scratch scratch;
} builder;

/* Whether a read a document the write changed: each key of the smaller set is looked up in the
 * larger, so a batch of thousands costs each answer a few dozen searches. */
static bool affected_by(const sb_answer *a, const sb_deps *changed)
{
    const uint64_t *few = changed->keys, *many = a->deps;
    size_t n_few = changed->n, n_many = a->n_deps;
    if (n_few > n_many) {
        few = a->deps, n_few = a->n_deps;
        many = changed->keys, n_many = changed->n;
    }
    for (size_t i = 0; i < n_few; i++)
        if (sb_deps_has(many, n_many, few[i]))
            return true;
    return false;
}

/* prev's answer a again, or a recomputed one when the changed documents may affect it. */
static sb_answer *reuse_or_compute(builder *b, sb_answer *a, const char *role, const char *tenant)
{
    if (a != NULL && !affected_by(a, &b->changed)) {
        atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
        return a;
    }
    return answer_new(b->s->docs, role, tenant, &b->text, &b->deps, &b->scratch);
}

/* Adds the answer for (role, tenant): the previous one when the write cannot have changed it. */
static void add(builder *b, const char *role, const char *tenant)
{
    sb_answer *a =
        b->full ? NULL : lookup(b->prev, role, strlen(role), tenant, tenant ? strlen(tenant) : 0);
    if ((a = reuse_or_compute(b, a, role, tenant)) == NULL)
        return;
    if (b->s->n_answers == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->s->answers = sb_xrealloc(b->s->answers, b->cap * sizeof *b->s->answers);
    }
    b->s->answers[b->s->n_answers++] = a;
}

static void build_index(sb_snapshot *s)
{
    size_t cap = 16;
    while (cap < s->n_answers * 2)
        cap *= 2;
    s->slots = calloc(cap, sizeof *s->slots);
    if (s->slots == NULL)
        sb_json_check(NULL);
    s->mask = cap - 1;
    for (size_t k = 0; k < s->n_answers; k++) {
        const sb_answer *a = s->answers[k];
        size_t i = hash_key(a->role, a->role_len, a->tenant, a->tenant_len) & s->mask;
        while (s->slots[i] != 0)
            i = (i + 1) & s->mask;
        s->slots[i] = (uint32_t)(k + 1);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of obj, sorted; free the array, not the strings (obj owns them). */
static const char **sorted_keys(const json_t *obj, size_t *n)
{
    const char **keys = sb_xmalloc((json_object_size(obj) + 1) * sizeof *keys);
    const char *k;
    json_t *v;
    *n = 0;
    json_object_foreach ((json_t *)obj, k, v)
        keys[(*n)++] = k;
    qsort(keys, *n, sizeof *keys, cmp_str);
    return keys;
}

static void build_answers(builder *b)
{
    const json_t *roles = json_object_get(b->s->docs, "roles");
    const json_t *tenants = json_object_get(b->s->docs, "tenants");
    const char *role, *tenant;
    json_t *v, *t;
    json_object_foreach ((json_t *)roles, role, v)
        add(b, role, NULL);
    size_t n;
    const char **names = sorted_keys(tenants, &n);
    b->s->views = calloc(n + 1, sizeof *b->s->views);
    if (b->s->views == NULL)
        sb_json_check(NULL);
    b->s->n_views = n + 1;
    for (size_t i = 0; i < n; i++) {
        tenant = names[i];
        t = json_object_get(tenants, tenant);
        b->s->views[i + 1].name = sb_xstrndup(tenant, strlen(tenant));
        json_object_foreach ((json_t *)roles, role, v)
            add(b, role, tenant);
        json_object_foreach (json_object_get(t, "roles"), role, v) {
            if (json_object_get(roles, role) == NULL) /* a role only this tenant has */
                add(b, role, tenant);
        }
    }
    free(names);
}

/*
 * The common case, a write that touched no roles and no tenants document (a provider flip, a
 * failback or models change): the (role, tenant) pairs are the same as prev's, so the answers
 * keep their places, and the index and the tenant views are copied.
 */
static void rebuild_same_pairs(builder *b)
{
    const sb_snapshot *prev = b->prev;
    sb_snapshot *s = b->s;
    s->answers = sb_xmalloc((prev->n_answers + 1) * sizeof *s->answers);
    for (size_t i = 0; i < prev->n_answers; i++) {
        sb_answer *a = prev->answers[i];
        s->answers[i] = reuse_or_compute(b, a, a->role, a->tenant);
        if (s->answers[i] == NULL) { /* cannot be: the same documents assign the role */
            fprintf(stderr, "switchboard: snapshot: %s lost its assignment\n", a->role);
            abort();
        }
    }
    s->n_answers = prev->n_answers;
    s->mask = prev->mask;
    s->slots = sb_xmalloc((prev->mask + 1) * sizeof *s->slots);
    memcpy(s->slots, prev->slots, (prev->mask + 1) * sizeof *s->slots);
    s->n_views = prev->n_views;
    s->views = calloc(s->n_views, sizeof *s->views);
    if (s->views == NULL)
        sb_json_check(NULL);
    for (size_t i = 1; i < s->n_views; i++)
        s->views[i].name = sb_xstrndup(prev->views[i].name, strlen(prev->views[i].name));
}

static int hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void build_tokens(sb_snapshot *s)
{
    const char *name;
    json_t *t;
    s->token_list = sb_xmalloc((json_object_size(s->tokens) + 1) * sizeof *s->token_list);
    json_object_foreach (s->tokens, name, t) {
        const char *scope = json_string_value(json_object_get(t, "scope"));
        const char *hex = json_string_value(json_object_get(t, "sha256"));
        if (scope == NULL || hex == NULL || strlen(hex) != 64)
            continue;
        sb_token *tok = &s->token_list[s->n_tokens];
        bool ok = true;
        for (int i = 0; i < 32; i++) {
            int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
            ok = ok && hi >= 0 && lo >= 0;
            tok->sha256[i] = (unsigned char)(hi << 4 | lo);
        }
        tok->scope = strcmp(scope, "admin") == 0  ? SB_SCOPE_ADMIN
                     : strcmp(scope, "read") == 0 ? SB_SCOPE_READ
                                                  : SB_SCOPE_NONE;
        tok->name = name; /* owned by s->tokens */
        if (ok && tok->scope != SB_SCOPE_NONE)
            s->n_tokens++;
    }
}

sb_snapshot *sb_snapshot_build(json_t *docs, json_t *revs, json_t *tokens, uint64_t revision,
                               const sb_snapshot *prev, const sb_change *changes, size_t n)
{
    sb_snapshot *s = calloc(1, sizeof *s);
    if (s == NULL)
        sb_json_check(NULL);
    atomic_init(&s->refs, 1);
    pthread_mutex_init(&s->lazy, NULL);
    s->revision = revision;
    s->docs = docs;
    s->revs = revs;
    s->tokens = tokens ? tokens : sb_json_check(json_object());

    builder b = {.s = s, .prev = prev, .full = prev == NULL};
    bool same_pairs = prev != NULL;
    for (size_t i = 0; i < n; i++) {
        sb_deps_add(&b.changed, changes[i].kind, changes[i].id);
        same_pairs = same_pairs && changes[i].kind != SB_ROLES && changes[i].kind != SB_TENANTS;
    }
    sb_deps_sort(&b.changed);
    if (same_pairs)
        rebuild_same_pairs(&b);
    else {
        build_answers(&b);
        build_index(s);
    }
    free(b.changed.keys);
    free(b.deps.keys);
    free(b.text.p);
    free(b.scratch.kept.p);
    free(b.scratch.dropped.p);
    build_tokens(s);
    return s;
}

/* ---- the lazily built bodies ---- */

static int cmp_answer_role(const void *a, const void *b)
{
    return strcmp((*(sb_answer *const *)a)->role, (*(sb_answer *const *)b)->role);
}

/* Appends "role":answer,... for the answers of one view (tenant NULL: global), by role. */
static void add_answers(const sb_snapshot *s, const char *tenant, sb_buf *out)
{
    sb_answer **list = sb_xmalloc((s->n_answers + 1) * sizeof *list);
    size_t n = 0;
    for (size_t i = 0; i < s->n_answers; i++) {
        const sb_answer *a = s->answers[i];
        if ((a->tenant == NULL) == (tenant == NULL) &&
            (tenant == NULL || strcmp(a->tenant, tenant) == 0))
            list[n++] = s->answers[i];
    }
    qsort(list, n, sizeof *list, cmp_answer_role);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            sb_buf_add(out, ",", 1);
        sb_buf_add_jstr(out, list[i]->role);
        sb_buf_add(out, ":", 1);
        sb_buf_add(out, list[i]->body.p, list[i]->body.len);
    }
    free(list);
}

const sb_body *sb_snapshot_config(sb_snapshot *s, const char *tenant, size_t tenant_len)
{
    sb_view *v = find_view(s, tenant, tenant_len);
    if (v == NULL)
        v = &s->views[0];
    if (!atomic_load_explicit(&v->ready, memory_order_acquire)) {
        pthread_mutex_lock(&s->lazy);
        if (!atomic_load_explicit(&v->ready, memory_order_relaxed)) {
            sb_buf b = {0};
            sb_buf_adds(&b, "{\"tenant\":");
            v->name ? sb_buf_add_jstr(&b, v->name) : sb_buf_adds(&b, "null");
            sb_buf_adds(&b, ",\"answers\":{");
            add_answers(s, v->name, &b);
            sb_buf_adds(&b, "}}");
            body_set(&v->config, &b);
            atomic_store_explicit(&v->ready, true, memory_order_release);
        }
        pthread_mutex_unlock(&s->lazy);
    }
    return &v->config;
}

const sb_body *sb_snapshot_topology(sb_snapshot *s)
{
    if (!atomic_load_explicit(&s->topology_ready, memory_order_acquire)) {
        pthread_mutex_lock(&s->lazy);
        if (!atomic_load_explicit(&s->topology_ready, memory_order_relaxed)) {
            sb_buf b = {0};
            char head[64];
            snprintf(head, sizeof head, "{\"revision\":%llu", (unsigned long long)s->revision);
            sb_buf_adds(&b, head);
            for (int k = 0; k < SB_KIND_COUNT; k++) {
                sb_buf_adds(&b, ",\"");
                sb_buf_adds(&b, sb_kind_names[k]);
                sb_buf_adds(&b, "\":");
                sb_buf_add_json(&b, json_object_get(s->docs, sb_kind_names[k]), JSON_SORT_KEYS);
            }
            sb_buf_adds(&b, ",\"answers\":{");
            add_answers(s, NULL, &b);
            sb_buf_adds(&b, "}}");
            body_set(&s->topology, &b);
            atomic_store_explicit(&s->topology_ready, true, memory_order_release);
        }
        pthread_mutex_unlock(&s->lazy);
    }
    return &s->topology;
}

/* ---- plans ---- */

static json_t *answer_json(const sb_answer *a)
{
    return a ? sb_json_check(json_loadb(a->body.p, a->body.len, 0, NULL)) : json_null();
}

static void plan_add(json_t *plan, const sb_answer *key, const sb_answer *before,
                     const sb_answer *after)
{
    json_array_append_new(
        plan,
        sb_json_check(json_pack("{s:s, s:s?, s:o, s:o}", "role", key->role, "tenant", key->tenant,
                                "before", answer_json(before), "after", answer_json(after))));
}

static void lost_add(json_t *lost, const sb_answer *key)
{
    json_array_append_new(
        lost, sb_json_check(json_pack("{s:s, s:s?}", "role", key->role, "tenant", key->tenant)));
}

/*
 * An answer loses its route when what a reader of (role, tenant) gets goes from routed (or
 * nothing: the answer is new) to "primary": null. A reader of a tenant that has no answer of
 * its own gets the global one, so a new tenant's answer is compared with the global one.
 */
void sb_snapshot_diff(const sb_snapshot *before, const sb_snapshot *after, json_t **plan,
                      json_t **lost)
{
    if (plan)
        *plan = sb_json_check(json_array());
    *lost = sb_json_check(json_array());
    for (size_t i = 0; i < after->n_answers; i++) {
        const sb_answer *a = after->answers[i];
        const sb_answer *b = lookup(before, a->role, a->role_len, a->tenant, a->tenant_len);
        if (b == a ||
            (b && b->body.len == a->body.len && memcmp(b->body.p, a->body.p, a->body.len) == 0))
            continue;
        if (plan)
            plan_add(*plan, a, b, a);
        const sb_answer *seen =
            b ? b : sb_snapshot_answer(before, a->role, a->role_len, a->tenant, a->tenant_len);
        if (!a->routed && (seen == NULL || seen->routed))
            lost_add(*lost, a);
    }
    for (size_t i = 0; i < before->n_answers; i++) {
        const sb_answer *b = before->answers[i];
        if (lookup(after, b->role, b->role_len, b->tenant, b->tenant_len) != NULL)
            continue;
        if (plan)
            plan_add(*plan, b, b, NULL);
        /* A deleted tenant's readers fall back to the global answer; a deleted role's have none. */
        const sb_answer *now =
            b->tenant ? sb_snapshot_answer(after, b->role, b->role_len, b->tenant, b->tenant_len)
                      : NULL;
        if (now != NULL && b->routed && !now->routed)
            lost_add(*lost, b);
    }
}

/* ---- references and publication ---- */

static void snapshot_ref(sb_snapshot *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void sb_snapshot_unref(sb_snapshot *s)
{
    if (s == NULL || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < s->n_answers; i++)
        answer_unref(s->answers[i]);
    for (size_t i = 0; i < s->n_views; i++) {
        free(s->views[i].name);
        free(s->views[i].config.p);
    }
    free(s->views);
    free(s->answers);
    free(s->slots);
    free(s->topology.p);
    free(s->token_list);
    pthread_mutex_destroy(&s->lazy);
    json_decref(s->docs);
    json_decref(s->revs);
    json_decref(s->tokens);
    free(s);
}

static _Atomic(sb_snapshot *) current;
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;

static void (*publish_hook)(void);

void sb_snapshot_on_publish(void (*hook)(void))
{
    publish_hook = hook;
}

void sb_snapshot_publish(sb_snapshot *s)
{
    pthread_mutex_lock(&current_lock);
    sb_snapshot *old = atomic_load_explicit(&current, memory_order_relaxed);
    atomic_store_explicit(&current, s, memory_order_release);
    pthread_mutex_unlock(&current_lock);
    sb_snapshot_unref(old);
    if (publish_hook != NULL)
        publish_hook();
}

sb_snapshot *sb_snapshot_acquire(void)
{
    pthread_mutex_lock(&current_lock);
    sb_snapshot *s = atomic_load_explicit(&current, memory_order_relaxed);
    if (s != NULL)
        snapshot_ref(s);
    pthread_mutex_unlock(&current_lock);
    return s;
}

sb_snapshot *sb_snapshot_current(sb_snapshot **cache)
{
    sb_snapshot *s = atomic_load_explicit(&current, memory_order_acquire);
    if (s != *cache) {
        /* The publisher drops its reference only under the lock, so s is alive here. */
        s = sb_snapshot_acquire();
        sb_snapshot_unref(*cache);
        *cache = s;
    }
    return s;
}
