/* Snapshots (server/core/snapshot.c): lookups, tenants, ETag stability, publication. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/snapshot.h"

static sb_snapshot *build(const char *docs_text, uint64_t rev)
{
    json_t *docs = json_loads(docs_text, 0, NULL);
    cr_assert_not_null(docs);
    const char *kinds[] = {"providers", "roles", "failback", "models", "tenants"};
    json_t *revs = json_object();
    for (int i = 0; i < 5; i++) {
        if (!json_object_get(docs, kinds[i]))
            json_object_set_new(docs, kinds[i], json_object());
        json_object_set_new(revs, kinds[i], json_object());
    }
    return sb_snapshot_build(docs, revs, NULL, rev, NULL, NULL, 0);
}

static const char *base = "{\"providers\":{\"a\":{\"enabled\":true},\"b\":{\"enabled\":true}},"
                          "\"roles\":{\"one\":{\"primary\":\"a/1\"},\"two\":{\"primary\":\"b/2\"}},"
                          "\"tenants\":{\"t\":{\"roles\":{\"own\":{\"primary\":\"b/9\"}}}}}";

Test(snapshot, lookups)
{
    sb_snapshot *s = build(base, 3);
    const sb_answer *a = sb_snapshot_answer(s, "one", 3, NULL, 0);
    cr_assert_not_null(a);
    cr_assert(a->routed);
    cr_assert_not_null(strstr(a->body.p, "\"primary\":\"a/1\""));
    cr_assert_null(sb_snapshot_answer(s, "three", 5, NULL, 0));
    cr_assert_null(sb_snapshot_answer(s, "own", 3, NULL, 0), "tenant-only roles are not global");
    const sb_answer *own = sb_snapshot_answer(s, "own", 3, "t", 1);
    cr_assert_not_null(own);
    cr_assert_not_null(strstr(own->body.p, "\"tenant\":\"t\""));
    const sb_answer *unknown = sb_snapshot_answer(s, "one", 3, "zz", 2);
    cr_assert_eq(unknown, a, "a tenant without a document gets the global answer");
    cr_assert_null(sb_snapshot_answer(s, "own", 3, "zz", 2));
    cr_assert_not_null(strstr(sb_snapshot_config(s, NULL, 0)->p, "\"one\":"));
    cr_assert_not_null(strstr(sb_snapshot_config(s, "t", 1)->p, "\"own\":"));
    cr_assert_not_null(strstr(sb_snapshot_topology(s)->p, "\"revision\":3"));
    cr_assert_not_null(strstr(sb_snapshot_topology(s)->p, "\"answers\":{\"one\":"));
    sb_snapshot_unref(s);
}

Test(snapshot, etags_follow_content_only)
{
    sb_snapshot *s1 = build(base, 1);
    /* Same documents at another revision, and b disabled: only "two" changes. */
    sb_snapshot *s2 = build(base, 7);
    sb_snapshot *s3 =
        build("{\"providers\":{\"a\":{\"enabled\":true},\"b\":{\"enabled\":false}},"
              "\"roles\":{\"one\":{\"primary\":\"a/1\"},\"two\":{\"primary\":\"b/2\"}},"
              "\"tenants\":{\"t\":{\"roles\":{\"own\":{\"primary\":\"b/9\"}}}}}",
              8);
    const char *one1 = sb_snapshot_answer(s1, "one", 3, NULL, 0)->body.etag;
    cr_assert_str_eq(one1, sb_snapshot_answer(s2, "one", 3, NULL, 0)->body.etag);
    cr_assert_str_eq(one1, sb_snapshot_answer(s3, "one", 3, NULL, 0)->body.etag);
    cr_assert_str_neq(sb_snapshot_answer(s1, "two", 3, NULL, 0)->body.etag,
                      sb_snapshot_answer(s3, "two", 3, NULL, 0)->body.etag);
    cr_assert_not(sb_snapshot_answer(s3, "two", 3, NULL, 0)->routed);
    sb_snapshot_unref(s1);
    sb_snapshot_unref(s2);
    sb_snapshot_unref(s3);
}

Test(snapshot, publication_keeps_readers_safe)
{
    sb_snapshot *cache = NULL;
    sb_snapshot_publish(build(base, 1));
    sb_snapshot *seen = sb_snapshot_current(&cache);
    cr_assert_eq(seen->revision, 1);
    sb_snapshot_publish(build(base, 2));
    /* The reader's old snapshot is still intact until it looks again. */
    cr_assert_eq(seen->revision, 1);
    cr_assert_not_null(sb_snapshot_answer(seen, "one", 3, NULL, 0));
    cr_assert_eq(sb_snapshot_current(&cache)->revision, 2);
    sb_snapshot_unref(cache);
    sb_snapshot_publish(NULL);
}

/* ---- incremental builds agree with full builds ---- */

/* Every answer a snapshot holds, in one array (free it). */
typedef struct answers {
    const sb_answer **p;
    size_t n;
} answers;

static void collect_one(const sb_answer *a, void *ctx)
{
    answers *v = ctx;
    v->p = realloc(v->p, (v->n + 1) * sizeof *v->p);
    v->p[v->n++] = a;
}

static answers all_answers(const sb_snapshot *s)
{
    answers v = {NULL, 0};
    sb_snapshot_each(s, collect_one, &v);
    return v;
}

/* What a reader of (role, tenant) gets, as text ("" when nothing). */
static const char *seen(const sb_snapshot *s, const char *role, const char *tenant)
{
    const sb_answer *a =
        sb_snapshot_answer(s, role, strlen(role), tenant, tenant ? strlen(tenant) : 0);
    return a ? a->body.p : "";
}

/* The plan of prev -> next against every (role, tenant) pair a reader could ask for: the pairs
 * that differ where a tenant shapes the answer before or after, and the global ones. */
static void check_plan(const sb_snapshot *prev, sb_snapshot *next, int step)
{
    const char *role_names[] = {"r0", "r1", "r2", "r3", "r4"};
    const char *tenant_names[] = {NULL, "t0", "t1", "nobody"};
    size_t changes = 0, global = 0, lost = 0;
    for (int r = 0; r < 5; r++)
        for (int t = 0; t < 4; t++) {
            const char *role = role_names[r], *tenant = tenant_names[t];
            const sb_answer *b =
                sb_snapshot_answer(prev, role, 2, tenant, tenant ? strlen(tenant) : 0);
            const sb_answer *a =
                sb_snapshot_answer(next, role, 2, tenant, tenant ? strlen(tenant) : 0);
            bool own = tenant == NULL || (b && b->tenant) || (a && a->tenant);
            if (!own || strcmp(b ? b->body.p : "", a ? a->body.p : "") == 0)
                continue;
            changes++;
            global += tenant == NULL;
            lost += a && !a->routed && (b == NULL || b->routed);
        }
    sb_plan plan;
    sb_snapshot_plan(next, 0, SIZE_MAX, &plan);
    cr_assert_eq(plan.changes, changes, "step %d: plan has %zu changes, readers see %zu", step,
                 plan.changes, changes);
    cr_assert_eq(plan.global, global, "step %d", step);
    cr_assert_eq(json_array_size(plan.listed), changes, "step %d", step);
    cr_assert_eq(json_array_size(plan.lost), lost, "step %d", step);
    sb_plan_clear(&plan);
}

static unsigned next_rand(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return (*state >> 16) & 0x7fff;
}

static const char *pick(unsigned *st, const char *const *list, size_t n)
{
    return list[next_rand(st) % n];
}

static const char *const provs[] = {"p0", "p1", "p2", "p3"};
static const char *const models[] = {"p0/a", "p1/b", "p2/c", "p3/d", "p0/e", "bare", "x/y", "p1/f"};
static const char *const roles[] = {"r0", "r1", "r2", "r3", "r4"};
static const char *const tenants[] = {"t0", "t1"};

/* A random document of a random kind, or NULL value (a delete). */
static sb_change random_change(unsigned *st, json_t **value)
{
    int kind = (int)(next_rand(st) % SB_KIND_COUNT);
    const char *id;
    json_t *v = NULL;
    switch (kind) {
    case SB_PROVIDERS:
        id = pick(st, provs, 4);
        v = json_pack("{s:b}", "enabled", next_rand(st) % 2);
        break;
    case SB_ROLES:
        id = pick(st, roles, 5);
        v = next_rand(st) % 2 ? json_pack("{s:s}", "primary", pick(st, models, 8))
                              : json_pack("{s:s, s:[s, s]}", "primary", pick(st, models, 8),
                                          "fallbacks", pick(st, models, 8), pick(st, models, 8));
        break;
    case SB_FAILBACK:
        id = pick(st, models, 8);
        v = next_rand(st) % 4 ? json_pack("{s:s}", "next", pick(st, models, 8))
                              : json_pack("{s:n}", "next");
        break;
    case SB_MODELS:
        id = pick(st, models, 8);
        v = json_pack("{s:s}", "provider", pick(st, provs, 4));
        break;
    default:
        id = pick(st, tenants, 2);
        v = json_pack("{s:{s:{s:b}}, s:{s:{s:s}}}", "providers", pick(st, provs, 4), "enabled",
                      next_rand(st) % 2, "roles", pick(st, roles, 5), "primary",
                      pick(st, models, 8));
    }
    if (next_rand(st) % 5 == 0) {
        json_decref(v);
        v = NULL;
    }
    *value = v;
    return (sb_change){kind, id, v};
}

Test(snapshot, incremental_equals_full)
{
    unsigned st = 7;
    sb_snapshot *prev = build("{}", 0);
    for (int step = 1; step <= 3000; step++) {
        /* Apply one or two changes to a copy of the documents, as the writer does. */
        json_t *docs = json_deep_copy(prev->docs);
        sb_change ch[2];
        json_t *vals[2];
        size_t n = 1 + next_rand(&st) % 2;
        for (size_t i = 0; i < n; i++) {
            ch[i] = random_change(&st, &vals[i]);
            json_t *k = json_object_get(docs, sb_kind_names[ch[i].kind]);
            if (vals[i])
                json_object_set(k, ch[i].id, vals[i]);
            else
                json_object_del(k, ch[i].id);
        }
        sb_snapshot *inc = sb_snapshot_build(json_incref(docs), json_incref(prev->revs), NULL,
                                             (uint64_t)step, prev, ch, n);
        sb_snapshot *full =
            sb_snapshot_build(docs, json_incref(prev->revs), NULL, (uint64_t)step, NULL, NULL, 0);
        answers fa = all_answers(full), ia = all_answers(inc);
        cr_assert_eq(ia.n, fa.n, "step %d", step);
        for (size_t i = 0; i < fa.n; i++) {
            const sb_answer *f = fa.p[i];
            const sb_answer *a =
                sb_snapshot_answer(inc, f->role, f->role_len, f->tenant, f->tenant_len);
            cr_assert_not_null(a, "step %d: %s missing", step, f->role);
            cr_assert_str_eq(a->body.p, f->body.p, "step %d", step);
        }
        free(fa.p);
        free(ia.p);
        /* Every reader gets what the pipeline says, with "tenant" null where it did not shape
         * the answer; the tenants' /config bodies agree too. */
        const char *tenant_names[] = {NULL, "t0", "t1", "nobody"};
        for (int r = 0; r < 5; r++)
            for (int t = 0; t < 4; t++) {
                json_t *want = sb_resolve(docs, roles[r], tenant_names[t]);
                char *text = want ? json_dumps(want, JSON_COMPACT) : NULL;
                cr_assert_str_eq(seen(inc, roles[r], tenant_names[t]), text ? text : "",
                                 "step %d: %s for %s", step, roles[r],
                                 tenant_names[t] ? tenant_names[t] : "everyone");
                free(text);
                json_decref(want);
            }
        for (int t = 0; t < 4; t++) {
            const char *tn = tenant_names[t];
            cr_assert_str_eq(sb_snapshot_config(inc, tn, tn ? strlen(tn) : 0)->p,
                             sb_snapshot_config(full, tn, tn ? strlen(tn) : 0)->p, "step %d", step);
        }
        check_plan(prev, inc, step);
        sb_snapshot_seal(inc);
        cr_assert_str_eq(sb_snapshot_topology(inc)->p, sb_snapshot_topology(full)->p);
        for (size_t i = 0; i < n; i++)
            json_decref(vals[i]);
        sb_snapshot_unref(full);
        sb_snapshot_unref(prev);
        prev = inc;
    }
    sb_snapshot_unref(prev);
}

/* ---- incremental builds stay proportional to what a write touches ---- */

/*
 * 24 roles at the fallbacks cap (33 models over 33 of 64 providers each), 8 roles that follow
 * failback chains of 16 models, and 3 tenants with provider overrides: 128 answers, each read
 * from 50 to 70 documents. 100 more providers that no role uses.
 */
static json_t *crowded_docs(void)
{
    json_t *docs = json_pack("{s:{}, s:{}, s:{}, s:{}, s:{}}", "providers", "roles", "failback",
                             "models", "tenants");
    json_t *providers = json_object_get(docs, "providers");
    json_t *role_docs = json_object_get(docs, "roles");
    json_t *failback = json_object_get(docs, "failback");
    char id[64], model[64];
    for (int p = 0; p < 64; p++) {
        snprintf(id, sizeof id, "p%d", p);
        json_object_set_new(providers, id, json_pack("{s:b}", "enabled", 1));
    }
    for (int q = 0; q < 100; q++) {
        snprintf(id, sizeof id, "idle%d", q);
        json_object_set_new(providers, id, json_pack("{s:b}", "enabled", 1));
    }
    for (int r = 0; r < 24; r++) {
        json_t *fallbacks = json_array();
        for (int j = 1; j <= 32; j++) {
            snprintf(model, sizeof model, "p%d/m%d-%d", (r * 5 + j) % 64, r, j);
            json_array_append_new(fallbacks, json_string(model));
        }
        snprintf(id, sizeof id, "wide%d", r);
        snprintf(model, sizeof model, "p%d/m%d-0", (r * 5) % 64, r);
        json_object_set_new(role_docs, id,
                            json_pack("{s:s, s:o}", "primary", model, "fallbacks", fallbacks));
    }
    for (int r = 0; r < 8; r++) {
        for (int j = 0; j < 16; j++) {
            char next[64];
            snprintf(model, sizeof model, "p%d/c%d-%d", (r * 7 + j) % 64, r, j);
            snprintf(next, sizeof next, "p%d/c%d-%d", (r * 7 + j + 1) % 64, r, j + 1);
            json_object_set_new(failback, model, json_pack("{s:s}", "next", next));
        }
        snprintf(id, sizeof id, "chain%d", r);
        snprintf(model, sizeof model, "p%d/c%d-0", (r * 7) % 64, r);
        json_object_set_new(role_docs, id, json_pack("{s:s}", "primary", model));
    }
    for (int t = 0; t < 3; t++) {
        snprintf(id, sizeof id, "t%d", t);
        json_object_set_new(
            json_object_get(docs, "tenants"), id,
            json_pack("{s:{s:{s:b}}}", "providers", t == 0 ? "p1" : "p2", "enabled", 0));
    }
    return docs;
}

static json_t *empty_revs(void)
{
    return json_pack("{s:{}, s:{}, s:{}, s:{}, s:{}}", "providers", "roles", "failback", "models",
                     "tenants");
}

/* Builds prev plus one change of kind/id to value (NULL: delete); *recomputed counts the
 * answers it did not share with prev. */
static sb_snapshot *step(sb_snapshot *prev, int kind, const char *id, json_t *value,
                         size_t *recomputed)
{
    json_t *docs = json_deep_copy(prev->docs);
    json_t *k = json_object_get(docs, sb_kind_names[kind]);
    if (value)
        json_object_set(k, id, value);
    else
        json_object_del(k, id);
    sb_change c = {kind, id, value, NULL};
    sb_snapshot *next =
        sb_snapshot_build(docs, empty_revs(), NULL, prev->revision + 1, prev, &c, 1);
    *recomputed = 0;
    answers v = all_answers(next);
    for (size_t i = 0; i < v.n; i++) {
        const sb_answer *a = v.p[i];
        if (sb_snapshot_answer(prev, a->role, a->role_len, a->tenant, a->tenant_len) != a)
            (*recomputed)++;
    }
    free(v.p);
    sb_snapshot_seal(next);
    json_decref(value);
    return next;
}

Test(snapshot, roles_at_the_cap_are_not_rebuilt_by_unrelated_writes)
{
    sb_snapshot *s = sb_snapshot_build(crowded_docs(), empty_revs(), NULL, 1, NULL, NULL, 0);
    /* A tenant holds answers only for the roles whose candidates meet the provider it switches. */
    size_t shaped = 0;
    const char *id0;
    json_t *v0;
    json_object_foreach (json_object_get(s->docs, "roles"), id0, v0) {
        for (int t = 0; t < 3; t++) {
            char tenant[8];
            snprintf(tenant, sizeof tenant, "t%d", t);
            json_t *a = sb_resolve(s->docs, id0, tenant);
            shaped += !json_is_null(json_object_get(a, "tenant"));
            json_decref(a);
        }
    }
    answers held = all_answers(s);
    cr_assert_eq(held.n, 32 + shaped);
    cr_assert_lt(shaped, 32 * 3);
    cr_assert_gt(shaped, 0);
    free(held.p);
    size_t recomputed, total = 0, writes = 0;
    char id[64];
    /* Writes that no answer reads: flips of unused providers, and models and failback documents
     * of models that no role names. */
    for (int q = 0; q < 100; q++, writes++) {
        snprintf(id, sizeof id, "idle%d", q);
        sb_snapshot *next =
            step(s, SB_PROVIDERS, id, json_pack("{s:b}", "enabled", q % 2), &recomputed);
        total += recomputed;
        sb_snapshot_unref(s);
        s = next;
    }
    for (int m = 0; m < 100; m++, writes++) {
        snprintf(id, sizeof id, "p%d/unused-%d", m % 64, m);
        sb_snapshot *next =
            m % 2 ? step(s, SB_MODELS, id, json_pack("{s:s}", "provider", "p3"), &recomputed)
                  : step(s, SB_FAILBACK, id, json_pack("{s:n}", "next"), &recomputed);
        total += recomputed;
        sb_snapshot_unref(s);
        s = next;
    }
    held = all_answers(s);
    cr_assert_eq(total, 0, "%zu of %zu answers recomputed over %zu unrelated writes", total,
                 writes * held.n, writes);

    /* A flip of p9 recomputes exactly the answers that name a p9 model, and they are right. */
    size_t naming = 0;
    for (size_t i = 0; i < held.n; i++)
        naming += strstr(held.p[i]->body.p, "\"p9/") != NULL;
    cr_assert_gt(naming, 0);
    cr_assert_lt(naming, held.n);
    free(held.p);
    sb_snapshot *next = step(s, SB_PROVIDERS, "p9", json_pack("{s:b}", "enabled", 0), &recomputed);
    cr_assert_eq(recomputed, naming);
    sb_snapshot *full =
        sb_snapshot_build(json_deep_copy(next->docs), empty_revs(), NULL, 9, NULL, NULL, 0);
    answers fa = all_answers(full);
    for (size_t i = 0; i < fa.n; i++) {
        const sb_answer *f = fa.p[i];
        const sb_answer *a =
            sb_snapshot_answer(next, f->role, f->role_len, f->tenant, f->tenant_len);
        cr_assert_str_eq(a->body.p, f->body.p);
    }
    free(fa.p);
    sb_snapshot_unref(full);
    sb_snapshot_unref(next);
    sb_snapshot_unref(s);
}

/* ---- builds large enough to share the work between two threads ---- */

Test(snapshot, a_build_on_two_threads_is_the_pipeline)
{
    json_t *docs = json_pack("{s:{}, s:{}, s:{}, s:{}, s:{}}", "providers", "roles", "failback",
                             "models", "tenants");
    char id[64], model[64], other[64];
    for (int p = 0; p < 6; p++) {
        snprintf(id, sizeof id, "p%d", p);
        json_object_set_new(json_object_get(docs, "providers"), id,
                            json_pack("{s:b}", "enabled", 1));
    }
    for (int r = 0; r < 400; r++) {
        snprintf(id, sizeof id, "role%03d", r);
        snprintf(model, sizeof model, "p%d/m%d", r % 6, r);
        snprintf(other, sizeof other, "p%d/n%d", (r / 6) % 6, r);
        json_object_set_new(json_object_get(docs, "roles"), id,
                            json_pack("{s:s, s:[s]}", "primary", model, "fallbacks", other));
    }
    for (int t = 0; t < 12; t++) {
        snprintf(id, sizeof id, "t%02d", t);
        snprintf(other, sizeof other, "role%03d", t * 7);
        json_object_set_new(json_object_get(docs, "tenants"), id,
                            json_pack("{s:{s:{s:b}}, s:{s:{s:s}}}", "providers",
                                      t % 2 ? "p1" : "p2", "enabled", t % 3 == 0, "roles", other,
                                      "primary", "p5/own"));
    }
    sb_snapshot *s = sb_snapshot_build(docs, empty_revs(), NULL, 1, NULL, NULL, 0);
    /* A flip that touches a third of the roles, built incrementally on two threads. */
    json_t *flipped = json_deep_copy(s->docs);
    json_object_set_new(json_object_get(flipped, "providers"), "p1",
                        json_pack("{s:b}", "enabled", 0));
    sb_change c = {SB_PROVIDERS, "p1", json_object_get(json_object_get(flipped, "providers"), "p1"),
                   NULL};
    sb_snapshot *next = sb_snapshot_build(flipped, empty_revs(), NULL, 2, s, &c, 1);
    cr_assert_gt(next->n_delta, 64, "the flip touches %zu roles", next->n_delta);
    const sb_snapshot *both[] = {s, next};
    for (int k = 0; k < 2; k++)
        for (int r = 0; r < 400; r++)
            for (int t = -1; t < 12; t++) {
                snprintf(id, sizeof id, "role%03d", r);
                snprintf(other, sizeof other, "t%02d", t);
                json_t *want = sb_resolve(both[k]->docs, id, t < 0 ? NULL : other);
                char *text = json_dumps(want, JSON_COMPACT);
                cr_assert_str_eq(seen(both[k], id, t < 0 ? NULL : other), text, "%s %s", id,
                                 t < 0 ? "everyone" : other);
                free(text);
                json_decref(want);
            }
    sb_snapshot_unref(next);
    sb_snapshot_unref(s);
}
