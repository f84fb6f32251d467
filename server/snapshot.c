/*
 * Snapshot building and publication (threading model in snapshot.h).
 */
#include "snapshot.h"
#include "pipeline.h"

#include <pthread.h>
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

static const sb_answer *lookup(const sb_snapshot *s, const char *role, size_t rl,
                               const char *tenant, size_t tl)
{
    for (size_t i = hash_key(role, rl, tenant, tl) & s->mask;; i = (i + 1) & s->mask) {
        uint32_t slot = s->slots[i];
        if (slot == 0)
            return NULL;
        const sb_answer *a = &s->answers[slot - 1];
        if (a->role_len == rl && memcmp(a->role, role, rl) == 0 &&
            (a->tenant == NULL) == (tenant == NULL) &&
            (tenant == NULL || (a->tenant_len == tl && memcmp(a->tenant, tenant, tl) == 0)))
            return a;
    }
}

const sb_answer *sb_snapshot_answer(const sb_snapshot *s, const char *role, size_t role_len,
                                    const char *tenant, size_t tenant_len)
{
    if (tenant != NULL) {
        const sb_answer *a = lookup(s, role, role_len, tenant, tenant_len);
        if (a != NULL || lookup(s, "", 0, tenant, tenant_len) != NULL)
            return a; /* a known tenant: its own answers only */
    }
    return lookup(s, role, role_len, NULL, 0);
}

const sb_body *sb_snapshot_config(const sb_snapshot *s, const char *tenant, size_t tenant_len)
{
    const sb_answer *a = tenant ? lookup(s, "", 0, tenant, tenant_len) : NULL;
    if (a == NULL)
        a = lookup(s, "", 0, NULL, 0);
    return &a->body;
}

static void body_set(sb_body *b, sb_buf *buf)
{
    b->p = buf->p;
    b->len = buf->len;
    sb_etag(b->p, b->len, b->etag);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of obj, sorted; free the array (not the strings, which obj owns). */
static const char **sorted_keys(const json_t *obj, size_t *n)
{
    const char **keys = sb_xmalloc((json_object_size(obj) + 1) * sizeof *keys);
    const char *k;
    json_t *v;
    *n = 0;
    json_object_foreach((json_t *)obj, k, v) keys[(*n)++] = k;
    qsort(keys, *n, sizeof *keys, cmp_str);
    return keys;
}

static sb_answer *add_answer(sb_snapshot *s, const char *role, const char *tenant)
{
    sb_answer *a = &s->answers[s->n_answers++];
    a->role_len = strlen(role);
    a->role = sb_xstrndup(role, a->role_len);
    a->tenant_len = tenant ? strlen(tenant) : 0;
    a->tenant = tenant ? sb_xstrndup(tenant, a->tenant_len) : NULL;
    return a;
}

/*
 * Resolves every role of one tenant (NULL: the global answers) into s->answers, and adds the
 * entry that holds its /config body. The global pass also writes the answers of /topology.
 */
static void build_tenant(sb_snapshot *s, const char *tenant, sb_buf *topology)
{
    json_t *all = sb_json_check(json_copy(json_object_get(s->docs, "roles")));
    if (tenant != NULL) {
        const json_t *t = json_object_get(json_object_get(s->docs, "tenants"), tenant);
        json_object_update(all, json_object_get(t, "roles"));
    }
    size_t n;
    const char **names = sorted_keys(all, &n);
    sb_buf config = {0};
    json_t *tenant_json = tenant ? sb_json_check(json_string(tenant)) : json_null();
    sb_buf_adds(&config, "{\"tenant\":");
    sb_buf_add_json(&config, tenant_json, 0);
    sb_buf_adds(&config, ",\"answers\":{");
    json_decref(tenant_json);
    for (size_t i = 0; i < n; i++) {
        json_t *answer = sb_resolve(s->docs, names[i], tenant);
        sb_answer *a = add_answer(s, names[i], tenant);
        sb_buf body = {0};
        sb_buf_add_json(&body, answer, 0);
        a->routed = !json_is_null(json_object_get(answer, "primary"));
        body_set(&a->body, &body);
        json_decref(answer);

        json_t *key = sb_json_check(json_string(names[i]));
        sb_buf *outs[2] = {&config, tenant == NULL ? topology : NULL};
        for (int o = 0; o < 2 && outs[o]; o++) {
            if (i > 0)
                sb_buf_add(outs[o], ",", 1);
            sb_buf_add_json(outs[o], key, 0);
            sb_buf_add(outs[o], ":", 1);
            sb_buf_add(outs[o], a->body.p, a->body.len);
        }
        json_decref(key);
    }
    sb_buf_adds(&config, "}}");
    body_set(&add_answer(s, "", tenant)->body, &config);
    free(names);
    json_decref(all);
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
        const sb_answer *a = &s->answers[k];
        size_t i = hash_key(a->role, a->role_len, a->tenant, a->tenant_len) & s->mask;
        while (s->slots[i] != 0)
            i = (i + 1) & s->mask;
        s->slots[i] = (uint32_t)(k + 1);
    }
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
    json_object_foreach(s->tokens, name, t)
    {
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
        tok->name = (char *)name; /* owned by s->tokens */
        if (ok && tok->scope != SB_SCOPE_NONE)
            s->n_tokens++;
    }
}

sb_snapshot *sb_snapshot_build(json_t *docs, json_t *revs, json_t *tokens, uint64_t revision)
{
    sb_snapshot *s = calloc(1, sizeof *s);
    if (s == NULL)
        sb_json_check(NULL);
    atomic_init(&s->refs, 1);
    s->revision = revision;
    s->docs = docs;
    s->revs = revs;
    s->tokens = tokens ? tokens : sb_json_check(json_object());

    const json_t *roles = json_object_get(docs, "roles");
    const json_t *tenants = json_object_get(docs, "tenants");
    size_t cap = (json_object_size(tenants) + 1) * (json_object_size(roles) + 1);
    const char *tname;
    json_t *t;
    json_object_foreach((json_t *)tenants, tname, t) cap +=
        json_object_size(json_object_get(t, "roles"));
    s->answers = calloc(cap, sizeof *s->answers);
    if (s->answers == NULL)
        sb_json_check(NULL);

    sb_buf topo = {0};
    char head[64];
    snprintf(head, sizeof head, "{\"revision\":%llu", (unsigned long long)revision);
    sb_buf_adds(&topo, head);
    for (int k = 0; k < SB_KIND_COUNT; k++) {
        sb_buf_adds(&topo, ",\"");
        sb_buf_adds(&topo, sb_kind_names[k]);
        sb_buf_adds(&topo, "\":");
        sb_buf_add_json(&topo, json_object_get(docs, sb_kind_names[k]), JSON_SORT_KEYS);
    }
    sb_buf_adds(&topo, ",\"answers\":{");
    build_tenant(s, NULL, &topo);
    sb_buf_adds(&topo, "}}");
    body_set(&s->topology, &topo);

    size_t n;
    const char **names = sorted_keys(tenants, &n);
    for (size_t i = 0; i < n; i++)
        build_tenant(s, names[i], NULL);
    free(names);
    build_index(s);
    build_tokens(s);
    return s;
}

void sb_snapshot_ref(sb_snapshot *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void sb_snapshot_unref(sb_snapshot *s)
{
    if (s == NULL || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < s->n_answers; i++) {
        free((char *)s->answers[i].role);
        free((char *)s->answers[i].tenant);
        free(s->answers[i].body.p);
    }
    free(s->answers);
    free(s->slots);
    free(s->topology.p);
    free(s->token_list);
    json_decref(s->docs);
    json_decref(s->revs);
    json_decref(s->tokens);
    free(s);
}

static _Atomic(sb_snapshot *) current;
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;

void sb_snapshot_publish(sb_snapshot *s)
{
    pthread_mutex_lock(&current_lock);
    sb_snapshot *old = atomic_load_explicit(&current, memory_order_relaxed);
    atomic_store_explicit(&current, s, memory_order_release);
    pthread_mutex_unlock(&current_lock);
    sb_snapshot_unref(old);
}

sb_snapshot *sb_snapshot_acquire(void)
{
    pthread_mutex_lock(&current_lock);
    sb_snapshot *s = atomic_load_explicit(&current, memory_order_relaxed);
    if (s != NULL)
        sb_snapshot_ref(s);
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
