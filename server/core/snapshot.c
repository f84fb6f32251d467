/*
 * Snapshot building and publication (threading model in snapshot.h).
 *
 * A build from a previous snapshot:
 *   1. the tenants' views and switches (who overrides which role, who switches which provider);
 *   2. the roles the write touches: the index's roles for each changed key, the roles a changed
 *      roles document names, and for a changed tenant the roles its old and new documents
 *      override or whose candidates meet a provider they switch;
 *   3. a new entry for each of those (answers the write cannot have changed are reused), every
 *      other entry shared;
 *   4. the index, shared when no role's reads changed, else merged with the difference.
 */
#include "snapshot.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Touched roles from which a build shares the work with a second thread. */
#define PARALLEL_MIN 64

static uint64_t role_hash(const char *role, size_t len)
{
    return sb_deps_keyn(SB_ROLES, role, len);
}

/* The place of role's entry in s->entries, or SIZE_MAX. */
static size_t lookup_at(const sb_snapshot *s, const char *role, size_t rl)
{
    uint64_t h = role_hash(role, rl);
    for (size_t i = h & s->mask;; i = (i + 1) & s->mask) {
        uint32_t slot = s->slots[i];
        if (slot == 0)
            return SIZE_MAX;
        const sb_entry *e = s->entries[slot - 1];
        if (e->hash == h && e->role_len == rl && memcmp(e->role, role, rl) == 0)
            return slot - 1;
    }
}

static sb_entry *lookup(const sb_snapshot *s, const char *role, size_t rl)
{
    size_t at = lookup_at(s, role, rl);
    return at == SIZE_MAX ? NULL : s->entries[at];
}

static sb_entry *lookup_hash(const sb_snapshot *s, uint64_t h)
{
    for (size_t i = h & s->mask;; i = (i + 1) & s->mask) {
        uint32_t slot = s->slots[i];
        if (slot == 0)
            return NULL;
        if (s->entries[slot - 1]->hash == h)
            return s->entries[slot - 1];
    }
}

/* strcmp for a (pointer, length) name against a NUL-terminated one. */
static int name_cmp(const char *p, size_t len, const char *name)
{
    int c = strncmp(p, name, len);
    return c ? c : (name[len] ? -1 : 0);
}

/* The tenant's answer in e, or NULL. */
static sb_answer *entry_tenant(const sb_entry *e, const char *tenant, size_t len)
{
    size_t lo = 0, hi = e->n_tenants;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = name_cmp(tenant, len, e->tenants[mid]->tenant);
        if (c == 0)
            return e->tenants[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static sb_view *find_view(const sb_snapshot *s, const char *tenant, size_t len)
{
    if (tenant == NULL)
        return &s->views[0];
    size_t lo = 1, hi = s->n_views;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = name_cmp(tenant, len, s->views[mid].name);
        if (c == 0)
            return &s->views[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* What a reader of (role, tenant) gets from entry e (NULL: the role is unknown). */
static const sb_answer *entry_answer(const sb_entry *e, const char *tenant, size_t tl)
{
    if (e == NULL)
        return NULL;
    const sb_answer *a = tenant ? entry_tenant(e, tenant, tl) : NULL;
    return a ? a : e->global;
}

const sb_answer *sb_snapshot_answer(const sb_snapshot *s, const char *role, size_t role_len,
                                    const char *tenant, size_t tenant_len)
{
    return entry_answer(lookup(s, role, role_len), tenant, tenant_len);
}

void sb_snapshot_each(const sb_snapshot *s, void (*fn)(const sb_answer *a, void *ctx), void *ctx)
{
    for (size_t i = 0; i < s->n_entries; i++) {
        const sb_entry *e = s->entries[i];
        if (e->global)
            fn(e->global, ctx);
        for (size_t k = 0; k < e->n_tenants; k++)
            fn(e->tenants[k], ctx);
    }
}

/* ---- answers and entries ---- */

static void answer_unref(sb_answer *a)
{
    if (a != NULL && atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) == 1)
        free(a); /* one block: the struct, its names and its body */
}

static sb_answer *answer_ref(sb_answer *a)
{
    atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
    return a;
}

static void entry_unref(sb_entry *e)
{
    if (e == NULL || atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) != 1)
        return;
    answer_unref(e->global);
    for (size_t i = 0; i < e->n_tenants; i++)
        answer_unref(e->tenants[i]);
    free(e);
}

static sb_entry *entry_ref(sb_entry *e)
{
    if (e != NULL)
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
    return e;
}

static void body_set(sb_body *b, sb_buf *buf)
{
    b->p = buf->p;
    b->len = buf->len;
    sb_etag(b->p, b->len, b->etag);
}

typedef struct builder {
    sb_snapshot *s;
    const sb_snapshot *prev;
    sb_deps changed; /* the documents the write changed, sorted */
} builder;

/* One building thread's scratch space. */
typedef struct work {
    sb_buf text;
    sb_deps deps, reads;
    sb_scratch scratch;
    sb_chain chain; /* the chain for everyone of role chain_of */
    const char *chain_of;
    bool chain_ok;
    uint32_t *members; /* view indexes of the tenants that may shape a role */
    size_t n_members, cap_members;
} work;

static void work_free(work *w)
{
    free(w->text.p);
    free(w->deps.keys);
    free(w->reads.keys);
    free(w->members);
    sb_scratch_free(&w->scratch);
    sb_chain_free(&w->chain);
}

/* role's chain for everyone, built once per role (NULL: the role has no global assignment). */
static const sb_chain *global_chain(const builder *b, work *w, const char *role)
{
    if (w->chain_of != role) {
        w->chain_of = role;
        w->chain_ok = sb_chain_build(b->s->docs, role, NULL, &w->chain) == 0;
    }
    return w->chain_ok ? &w->chain : NULL;
}

/*
 * Computes one answer into a single allocation: the struct, its dependencies, then role,
 * tenant and body. A tenant that does not override the role filters the role's chain for
 * everyone. NULL when the role is not assigned, or (tenant given) the tenant does not shape it.
 */
static sb_answer *answer_new(const builder *b, work *w, const char *role, const char *tenant)
{
    const json_t *docs = b->s->docs;
    const json_t *tdoc =
        tenant ? json_object_get(json_object_get(docs, sb_kind_names[SB_TENANTS]), tenant) : NULL;
    const sb_chain *chain;
    uint64_t tenant_key = 0; /* a key the chain was not built with, added to the deps */
    bool add_key = false;
    if (json_object_get(json_object_get(tdoc, "roles"), role) != NULL) {
        if (sb_chain_build(docs, role, tenant, &w->scratch.chain) != 0)
            return NULL;
        chain = &w->scratch.chain;
    } else {
        if ((chain = global_chain(b, w, role)) == NULL)
            return NULL;
        add_key = tenant != NULL;
        tenant_key = add_key ? sb_deps_key(SB_TENANTS, tenant) : 0;
    }
    bool routed;
    w->text.len = 0;
    sb_render(docs, chain, role, tenant, &w->text, &routed, &w->scratch);
    if (tenant != NULL && !w->scratch.shaped)
        return NULL;
    size_t rl = strlen(role), tl = tenant ? strlen(tenant) : 0;
    size_t n_deps = chain->deps.n + add_key, dl = n_deps * sizeof(uint64_t);
    sb_answer *a = sb_xmalloc(sizeof *a + dl + rl + 1 + (tenant ? tl + 1 : 0) + w->text.len + 1);
    char *p = (char *)(a + 1); /* sizeof *a keeps p aligned for the uint64_t keys */
    atomic_init(&a->refs, 1);
    uint64_t *deps = (uint64_t *)p;
    size_t k = 0;
    for (size_t i = 0; i < chain->deps.n; i++) { /* the sorted set, with tenant_key in place */
        if (add_key && tenant_key < chain->deps.keys[i]) {
            deps[k++] = tenant_key;
            add_key = false;
        }
        deps[k++] = chain->deps.keys[i];
    }
    if (add_key)
        deps[k++] = tenant_key;
    a->deps = k ? deps : NULL;
    a->n_deps = k;
    p += dl;
    a->routed = routed;
    a->role = memcpy(p, role, rl + 1);
    a->role_len = rl;
    p += rl + 1;
    a->tenant = tenant ? memcpy(p, tenant, tl + 1) : NULL;
    a->tenant_len = tl;
    p += tenant ? tl + 1 : 0;
    a->body.p = memcpy(p, w->text.p, w->text.len + 1);
    a->body.len = w->text.len;
    sb_etag(a->body.p, a->body.len, a->body.etag);
    return a;
}

/* Whether a read a document the write changed: each key of the smaller set is looked up in the
 * larger. */
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

/* old (may be NULL) again when the write cannot have changed it, else a new answer. */
static sb_answer *reuse_or_compute(const builder *b, work *w, sb_answer *old, const char *role,
                                   const char *tenant)
{
    if (old != NULL && !affected_by(old, &b->changed))
        return answer_ref(old);
    return answer_new(b, w, role, tenant);
}

/* The first link with key, in links sorted by key (n when none). */
static size_t links_find(const sb_link *links, size_t n, uint64_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (links[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Into w->members, sorted and without repeats: the tenants that may shape role, whose global
 * answer (NULL: none) reads `reads`: those overriding the role or switching a provider it reads. */
static void find_members(const builder *b, work *w, const char *role, const sb_answer *global)
{
    const sb_snapshot *s = b->s;
    uint64_t own = role_hash(role, strlen(role));
    const uint64_t *keys = global ? global->deps : &own;
    size_t n_keys = global ? global->n_deps : 1;
    w->n_members = 0;
    for (size_t i = 0; i < n_keys; i++) {
        for (size_t k = links_find(s->switches, s->n_switches, keys[i]);
             k < s->n_switches && s->switches[k].key == keys[i]; k++) {
            if (w->n_members == w->cap_members) {
                w->cap_members = w->cap_members ? 2 * w->cap_members : 64;
                w->members = sb_xrealloc(w->members, w->cap_members * sizeof *w->members);
            }
            w->members[w->n_members++] = (uint32_t)s->switches[k].value;
        }
    }
    for (size_t i = 1; i < w->n_members; i++) { /* a few dozen: insertion sort */
        uint32_t m = w->members[i];
        size_t j = i;
        for (; j > 0 && w->members[j - 1] > m; j--)
            w->members[j] = w->members[j - 1];
        w->members[j] = m;
    }
    size_t k = 0;
    for (size_t i = 0; i < w->n_members; i++)
        if (k == 0 || w->members[i] != w->members[k - 1])
            w->members[k++] = w->members[i];
    w->n_members = k;
}

/* reads := reads ∪ a's dependencies; both are sorted sets. */
static void reads_add(work *w, const sb_answer *a)
{
    sb_deps *r = &w->reads, *tmp = &w->deps; /* deps is free scratch once answers are built */
    if (tmp->cap < r->n + a->n_deps) {
        tmp->cap = r->n + a->n_deps + 64;
        tmp->keys = sb_xrealloc(tmp->keys, tmp->cap * sizeof *tmp->keys);
    }
    size_t i = 0, k = 0, n = 0;
    while (i < r->n || k < a->n_deps) {
        uint64_t x = i < r->n ? r->keys[i] : UINT64_MAX,
                 y = k < a->n_deps ? a->deps[k] : UINT64_MAX;
        if (i < r->n && (k == a->n_deps || x <= y)) {
            tmp->keys[n++] = x;
            i++;
            k += k < a->n_deps && x == y;
        } else {
            tmp->keys[n++] = y;
            k++;
        }
    }
    tmp->n = n;
    sb_deps swap = *r;
    *r = *tmp;
    *tmp = swap;
}

/* role's entry in the new snapshot (NULL: the role is gone), old being its previous one. */
static sb_entry *entry_build(const builder *b, work *w, const char *role, sb_entry *old)
{
    const json_t *roles = json_object_get(b->s->docs, sb_kind_names[SB_ROLES]);
    sb_answer *global = NULL;
    w->chain_of = NULL;
    if (json_object_get(roles, role) != NULL)
        global = reuse_or_compute(b, w, old ? old->global : NULL, role, NULL);
    find_members(b, w, role, global);
    sb_answer **tenants = sb_xmalloc((w->n_members + 1) * sizeof *tenants);
    size_t n = 0;
    bool same = old != NULL && old->global == global;
    for (size_t i = 0; i < w->n_members; i++) {
        const char *tenant = b->s->views[w->members[i]].name;
        sb_answer *prev = old ? entry_tenant(old, tenant, strlen(tenant)) : NULL;
        sb_answer *a = reuse_or_compute(b, w, prev, role, tenant);
        if (a != NULL)
            tenants[n++] = a;
    }
    if (same && n == old->n_tenants) {
        for (size_t i = 0; i < n && same; i++)
            same = tenants[i] == old->tenants[i];
    } else {
        same = false;
    }
    if (same || (global == NULL && n == 0)) { /* unchanged, or gone */
        answer_unref(global);
        for (size_t i = 0; i < n; i++)
            answer_unref(tenants[i]);
        free(tenants);
        return same ? entry_ref(old) : NULL;
    }
    w->reads.n = 0;
    if (global)
        reads_add(w, global);
    for (size_t i = 0; i < n; i++)
        reads_add(w, tenants[i]);
    size_t rl = w->reads.n * sizeof *w->reads.keys;
    sb_entry *e = sb_xmalloc(sizeof *e + rl + n * sizeof *tenants + 1);
    atomic_init(&e->refs, 1);
    e->reads = (const uint64_t *)(e + 1);
    if (rl > 0)
        memcpy(e + 1, w->reads.keys, rl);
    e->n_reads = w->reads.n;
    e->tenants = memcpy((char *)(e + 1) + rl, tenants, n * sizeof *tenants);
    e->n_tenants = n;
    e->global = global;
    const sb_answer *any = global ? global : tenants[0];
    e->role = any->role;
    e->role_len = any->role_len;
    e->hash = role_hash(e->role, e->role_len);
    free(tenants);
    return e;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_link(const void *a, const void *b)
{
    const sb_link *x = a, *y = b;
    return x->key != y->key ? (x->key > y->key) - (x->key < y->key)
                            : (x->value > y->value) - (x->value < y->value);
}

/* Growable arrays of names and links. */
typedef struct names {
    const char **p;
    size_t n, cap;
} names;

static void names_add(names *v, const char *name)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 64;
        v->p = sb_xrealloc(v->p, v->cap * sizeof *v->p);
    }
    v->p[v->n++] = name;
}

typedef struct links {
    sb_link *p;
    size_t n, cap;
} links;

static void links_add(links *v, uint64_t key, uint64_t value)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 64;
        v->p = sb_xrealloc(v->p, v->cap * sizeof *v->p);
    }
    v->p[v->n++] = (sb_link){key, value};
}

/* Step 1: the views (tenants sorted by name) and the switches. */
static void build_views(sb_snapshot *s)
{
    const json_t *tenants = json_object_get(s->docs, sb_kind_names[SB_TENANTS]);
    names sorted = {0};
    const char *name, *id;
    json_t *t, *v;
    json_object_foreach ((json_t *)tenants, name, t)
        names_add(&sorted, name);
    if (sorted.n > 1)
        qsort(sorted.p, sorted.n, sizeof *sorted.p, cmp_str);
    s->n_views = sorted.n + 1;
    s->views = calloc(s->n_views, sizeof *s->views);
    if (s->views == NULL)
        sb_json_check(NULL);
    links sw = {0};
    for (size_t i = 0; i < sorted.n; i++) {
        s->views[i + 1].name = sb_xstrndup(sorted.p[i], strlen(sorted.p[i]));
        t = json_object_get(tenants, sorted.p[i]);
        json_object_foreach (json_object_get(t, "roles"), id, v)
            links_add(&sw, sb_deps_key(SB_ROLES, id), i + 1);
        json_object_foreach (json_object_get(t, "providers"), id, v) {
            if (json_is_boolean(json_object_get(v, "enabled")))
                links_add(&sw, sb_deps_key(SB_PROVIDERS, id), i + 1);
        }
    }
    if (sw.n > 1)
        qsort(sw.p, sw.n, sizeof *sw.p, cmp_link);
    s->switches = sw.p;
    s->n_switches = sw.n;
    free(sorted.p);
}

/* The roles whose entry links from key lead to, from prev's index. */
static void touched_by_key(const sb_snapshot *prev, uint64_t key, names *out)
{
    const sb_index *x = prev->index;
    for (size_t k = links_find(x->links, x->n, key); k < x->n && x->links[k].key == key; k++) {
        const sb_entry *e = lookup_hash(prev, x->links[k].value);
        if (e != NULL)
            names_add(out, e->role);
    }
}

/* The roles a tenant's document overrides, and those reading a provider it switches. */
static void touched_by_tenant(const sb_snapshot *prev, const json_t *tenant_doc, names *out)
{
    const char *id;
    json_t *v;
    json_object_foreach (json_object_get(tenant_doc, "roles"), id, v)
        names_add(out, id);
    json_object_foreach (json_object_get(tenant_doc, "providers"), id, v)
        touched_by_key(prev, sb_deps_key(SB_PROVIDERS, id), out);
}

/* Step 2: the names of the roles a build must compute, sorted, without repeats. Their strings
 * belong to prev's or the new snapshot's documents and entries. */
static names touched_roles(builder *b, const sb_change *changes, size_t n)
{
    names out = {0};
    const char *id;
    json_t *v;
    if (b->prev == NULL) {
        json_object_foreach (json_object_get(b->s->docs, sb_kind_names[SB_ROLES]), id, v)
            names_add(&out, id);
        json_t *t;
        json_object_foreach (json_object_get(b->s->docs, sb_kind_names[SB_TENANTS]), id, t) {
            const char *role;
            json_object_foreach (json_object_get(t, "roles"), role, v)
                names_add(&out, role); /* a role only tenants have */
        }
    } else {
        for (size_t i = 0; i < b->changed.n; i++)
            touched_by_key(b->prev, b->changed.keys[i], &out);
        for (size_t i = 0; i < n; i++) {
            if (changes[i].kind == SB_ROLES)
                names_add(&out, changes[i].id);
            if (changes[i].kind != SB_TENANTS)
                continue;
            const json_t *tenants[2] = {
                json_object_get(json_object_get(b->prev->docs, "tenants"), changes[i].id),
                json_object_get(json_object_get(b->s->docs, "tenants"), changes[i].id)};
            for (int k = 0; k < 2; k++)
                touched_by_tenant(b->prev, tenants[k], &out);
        }
    }
    if (out.n > 1)
        qsort(out.p, out.n, sizeof *out.p, cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < out.n; i++)
        if (k == 0 || strcmp(out.p[i], out.p[k - 1]) != 0)
            out.p[k++] = out.p[i];
    out.n = k;
    return out;
}

static void entries_add(sb_snapshot *s, size_t *cap, sb_entry *e)
{
    if (s->n_entries == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        s->entries = sb_xrealloc(s->entries, *cap * sizeof *s->entries);
    }
    s->entries[s->n_entries++] = e;
}

static void delta_add(sb_snapshot *s, size_t *cap, sb_entry *old, sb_entry *new)
{
    if (s->n_delta == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        s->delta_old = sb_xrealloc(s->delta_old, *cap * sizeof *s->delta_old);
        s->delta_new = sb_xrealloc(s->delta_new, *cap * sizeof *s->delta_new);
    }
    s->delta_old[s->n_delta] = entry_ref(old);
    s->delta_new[s->n_delta++] = entry_ref(new);
}

static void build_slots(sb_snapshot *s)
{
    size_t cap = 16;
    while (cap < s->n_entries * 2)
        cap *= 2;
    s->slots = calloc(cap, sizeof *s->slots);
    if (s->slots == NULL)
        sb_json_check(NULL);
    s->mask = cap - 1;
    for (size_t k = 0; k < s->n_entries; k++) {
        size_t i = s->entries[k]->hash & s->mask;
        while (s->slots[i] != 0)
            i = (i + 1) & s->mask;
        s->slots[i] = (uint32_t)(k + 1);
    }
}

/* A share of the touched roles' entries, built on one thread: roles first, first + step, ... */
typedef struct job {
    const builder *b;
    const names *touched;
    sb_entry **old, **built;
    size_t first, step;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    work w = {0};
    for (size_t i = j->first; i < j->touched->n; i += j->step)
        j->built[i] = entry_build(j->b, &w, j->touched->p[i], j->old[i]);
    work_free(&w);
    return NULL;
}

/* Builds the touched roles' entries, on two threads when there are enough of them and more than
 * one CPU to run them: they only read the documents and prev, and each thread has its own
 * scratch space. */
/* Whether this process may run on more than one CPU: on one, a second thread only competes
 * with the event loops. */
static bool several_cpus(void)
{
    cpu_set_t set;
    return sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 1;
}

static void build_touched(const builder *b, const names *touched, sb_entry **old, sb_entry **built)
{
    job jobs[2] = {{b, touched, old, built, 0, 1}, {b, touched, old, built, 1, 2}};
    pthread_t helper;
    if (touched->n < PARALLEL_MIN || !several_cpus() ||
        pthread_create(&helper, NULL, run_job, &jobs[1]) != 0) {
        run_job(&jobs[0]);
        return;
    }
    jobs[0].step = 2;
    run_job(&jobs[0]);
    pthread_join(helper, NULL);
}

/* Step 3: prev's entries, with those of the touched roles replaced, dropped or added. */
static void build_entries(builder *b, const names *touched)
{
    sb_snapshot *s = b->s;
    const sb_snapshot *prev = b->prev;
    size_t cap = 0, delta_cap = 0, kept = 0;
    if (prev != NULL) {
        cap = prev->n_entries + touched->n + 1;
        s->entries = sb_xmalloc(cap * sizeof *s->entries);
        for (size_t i = 0; i < prev->n_entries; i++)
            s->entries[i] = entry_ref(prev->entries[i]);
        s->n_entries = prev->n_entries;
    }
    size_t *at = sb_xmalloc((touched->n + 1) * sizeof *at);
    sb_entry **old = sb_xmalloc((touched->n + 1) * sizeof *old);
    sb_entry **built = sb_xmalloc((touched->n + 1) * sizeof *built);
    for (size_t i = 0; i < touched->n; i++) {
        at[i] = prev ? lookup_at(prev, touched->p[i], strlen(touched->p[i])) : SIZE_MAX;
        old[i] = at[i] == SIZE_MAX ? NULL : prev->entries[at[i]];
    }
    build_touched(b, touched, old, built);
    for (size_t i = 0; i < touched->n; i++) {
        sb_entry *e = built[i];
        if (e == old[i]) {
            entry_unref(e);
            continue;
        }
        if (prev != NULL)
            delta_add(s, &delta_cap, old[i], e);
        if (old[i] != NULL) { /* prev's entries are at the same places in s */
            entry_unref(s->entries[at[i]]);
            s->entries[at[i]] = e; /* NULL: dropped below */
        } else if (e != NULL) {
            entries_add(s, &cap, e);
        }
    }
    if (prev != NULL) { /* the counts move by what the touched roles' entries hold */
        s->n_global = prev->n_global;
        s->n_tenant = prev->n_tenant;
    }
    for (size_t i = 0; i < touched->n; i++) {
        if (old[i] != NULL) {
            s->n_global -= old[i]->global != NULL;
            s->n_tenant -= old[i]->n_tenants;
        }
        if (built[i] != NULL) {
            s->n_global += built[i]->global != NULL;
            s->n_tenant += built[i]->n_tenants;
        }
    }
    free(at);
    free(old);
    free(built);
    for (size_t i = 0; i < s->n_entries; i++)
        if (s->entries[i] != NULL)
            s->entries[kept++] = s->entries[i];
    s->n_entries = kept;
    build_slots(s);
}

static sb_index *index_new(size_t n)
{
    sb_index *x = sb_xmalloc(sizeof *x);
    atomic_init(&x->refs, 1);
    x->links = sb_xmalloc((n + 1) * sizeof *x->links);
    x->n = 0;
    return x;
}

static void index_unref(sb_index *x)
{
    if (x != NULL && atomic_fetch_sub_explicit(&x->refs, 1, memory_order_acq_rel) == 1) {
        free(x->links);
        free(x);
    }
}

static void reads_links(links *out, const sb_entry *e)
{
    for (size_t i = 0; e != NULL && i < e->n_reads; i++)
        links_add(out, e->reads[i], e->hash);
}

static bool same_reads(const sb_entry *a, const sb_entry *b)
{
    size_t na = a ? a->n_reads : 0, nb = b ? b->n_reads : 0;
    return na == nb && (na == 0 || memcmp(a->reads, b->reads, na * sizeof *a->reads) == 0);
}

/* Step 4: the index of s. A write that changed no role's reads (a provider flip) shares prev's;
 * otherwise prev's links, less the replaced entries' and plus the new ones', in one merge. */
static void build_index(builder *b)
{
    sb_snapshot *s = b->s;
    if (b->prev == NULL) {
        links all = {0};
        for (size_t i = 0; i < s->n_entries; i++)
            reads_links(&all, s->entries[i]);
        if (all.n > 1)
            qsort(all.p, all.n, sizeof *all.p, cmp_link);
        s->index = index_new(0);
        free(s->index->links);
        s->index->links = all.p ? all.p : sb_xmalloc(sizeof *all.p);
        s->index->n = all.n;
        return;
    }
    bool same = true;
    for (size_t i = 0; i < s->n_delta && same; i++)
        same = same_reads(s->delta_old[i], s->delta_new[i]);
    if (same) {
        s->index = b->prev->index;
        atomic_fetch_add_explicit(&s->index->refs, 1, memory_order_relaxed);
        return;
    }
    links gone = {0}, added = {0};
    for (size_t i = 0; i < s->n_delta; i++) {
        if (same_reads(s->delta_old[i], s->delta_new[i]))
            continue;
        reads_links(&gone, s->delta_old[i]);
        reads_links(&added, s->delta_new[i]);
    }
    if (gone.n > 1)
        qsort(gone.p, gone.n, sizeof *gone.p, cmp_link);
    if (added.n > 1)
        qsort(added.p, added.n, sizeof *added.p, cmp_link);
    const sb_index *old = b->prev->index;
    sb_index *x = index_new(old->n + added.n);
    size_t i = 0, g = 0, a = 0;
    while (i < old->n || a < added.n) {
        if (i < old->n && (a == added.n || cmp_link(&old->links[i], &added.p[a]) <= 0)) {
            while (g < gone.n && cmp_link(&gone.p[g], &old->links[i]) < 0)
                g++;
            if (g < gone.n && cmp_link(&gone.p[g], &old->links[i]) == 0)
                g++, i++; /* a link of a replaced entry */
            else
                x->links[x->n++] = old->links[i++];
        } else {
            x->links[x->n++] = added.p[a++];
        }
    }
    free(gone.p);
    free(added.p);
    s->index = x;
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

    builder b = {.s = s, .prev = prev};
    for (size_t i = 0; i < n; i++)
        sb_deps_add(&b.changed, changes[i].kind, changes[i].id);
    sb_deps_sort(&b.changed);
    build_views(s);
    names touched = touched_roles(&b, changes, n);
    build_entries(&b, &touched);
    build_index(&b);
    free(touched.p);
    free(b.changed.keys);
    build_tokens(s);
    return s;
}

void sb_snapshot_seal(sb_snapshot *s)
{
    for (size_t i = 0; i < s->n_delta; i++) {
        entry_unref(s->delta_old[i]);
        entry_unref(s->delta_new[i]);
    }
    free(s->delta_old);
    free(s->delta_new);
    s->delta_old = s->delta_new = NULL;
    s->n_delta = 0;
}

/* ---- the lazily built bodies ---- */

static int cmp_entry_role(const void *a, const void *b)
{
    return strcmp((*(sb_entry *const *)a)->role, (*(sb_entry *const *)b)->role);
}

/* Appends "role":answer,... as a reader of tenant (NULL: global) gets them, by role. */
static void add_answers(const sb_snapshot *s, const char *tenant, sb_buf *out)
{
    sb_entry **list = sb_xmalloc((s->n_entries + 1) * sizeof *list);
    for (size_t i = 0; i < s->n_entries; i++)
        list[i] = s->entries[i];
    if (s->n_entries > 1)
        qsort(list, s->n_entries, sizeof *list, cmp_entry_role);
    bool first = true;
    for (size_t i = 0; i < s->n_entries; i++) {
        const sb_answer *a = entry_answer(list[i], tenant, tenant ? strlen(tenant) : 0);
        if (a == NULL)
            continue;
        if (!first)
            sb_buf_add(out, ",", 1);
        first = false;
        sb_buf_add_jstr(out, a->role);
        sb_buf_add(out, ":", 1);
        sb_buf_add(out, a->body.p, a->body.len);
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

static bool same_body(const sb_answer *a, const sb_answer *b)
{
    return a == b ||
           (a && b && a->body.len == b->body.len && memcmp(a->body.p, b->body.p, a->body.len) == 0);
}

/* One (role, tenant) pair of the plan: what its readers got before and get after. */
static void plan_pair(sb_plan *p, size_t limit, const char *role, const char *tenant,
                      const sb_answer *before, const sb_answer *after)
{
    if (same_body(before, after))
        return;
    size_t k = p->changes++;
    if (tenant == NULL) {
        p->global++;
    } else {
        json_t *n = json_object_get(p->tenants, tenant);
        json_object_set_new(p->tenants, tenant, json_integer(n ? json_integer_value(n) + 1 : 1));
    }
    if (after != NULL && !after->routed && (before == NULL || before->routed))
        json_array_append_new(
            p->lost, sb_json_check(json_pack("{s:s, s:s?}", "role", role, "tenant", tenant)));
    if (k < p->from)
        return;
    if (k - p->from >= limit) {
        if (limit > 0 && k - p->from == limit)
            p->next = k; /* the first change past the page */
        return;
    }
    json_array_append_new(
        p->listed,
        sb_json_check(json_pack("{s:s, s:s?, s:o, s:o}", "role", role, "tenant", tenant, "before",
                                answer_json(before), "after", answer_json(after))));
}

/* One role's pairs: everyone's answer, then each tenant with an answer of its own in old or new
 * (either entry may be NULL), by name; where a tenant has none on one side, its readers read
 * the global answer there. */
static void plan_entry(sb_plan *p, size_t limit, const sb_entry *old, const sb_entry *new)
{
    const char *role = old ? old->role : new->role;
    plan_pair(p, limit, role, NULL, old ? old->global : NULL, new ? new->global : NULL);
    size_t i = 0, k = 0, n_old = old ? old->n_tenants : 0, n_new = new ? new->n_tenants : 0;
    while (i < n_old || k < n_new) {
        int c = i == n_old   ? 1
                : k == n_new ? -1
                             : strcmp(old->tenants[i]->tenant, new->tenants[k]->tenant);
        const char *tenant = c <= 0 ? old->tenants[i]->tenant : new->tenants[k]->tenant;
        const sb_answer *before = c <= 0 ? old->tenants[i++] : old ? old->global : NULL;
        const sb_answer *after = c >= 0 ? new->tenants[k++] : new ? new->global : NULL;
        plan_pair(p, limit, role, tenant, before, after);
    }
}

void sb_snapshot_plan(const sb_snapshot *after, size_t from, size_t limit, sb_plan *out)
{
    *out = (sb_plan){.tenants = sb_json_check(json_object()),
                     .listed = sb_json_check(json_array()),
                     .lost = sb_json_check(json_array()),
                     .from = from};
    for (size_t i = 0; i < after->n_delta; i++)
        plan_entry(out, limit, after->delta_old[i], after->delta_new[i]);
    /* The tenants in name order, whatever order their roles came in. */
    names sorted = {0};
    const char *tenant;
    json_t *n;
    json_object_foreach (out->tenants, tenant, n)
        names_add(&sorted, tenant);
    if (sorted.n > 1)
        qsort(sorted.p, sorted.n, sizeof *sorted.p, cmp_str);
    json_t *tenants = sb_json_check(json_object());
    for (size_t i = 0; i < sorted.n; i++)
        json_object_set(tenants, sorted.p[i], json_object_get(out->tenants, sorted.p[i]));
    free(sorted.p);
    json_decref(out->tenants);
    out->tenants = tenants;
}

void sb_plan_clear(sb_plan *p)
{
    json_decref(p->tenants);
    json_decref(p->listed);
    json_decref(p->lost);
    *p = (sb_plan){0};
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
    sb_snapshot_seal(s);
    for (size_t i = 0; i < s->n_entries; i++)
        entry_unref(s->entries[i]);
    for (size_t i = 0; i < s->n_views; i++) {
        free(s->views[i].name);
        free(s->views[i].config.p);
    }
    free(s->views);
    free(s->entries);
    free(s->slots);
    free(s->switches);
    index_unref(s->index);
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
