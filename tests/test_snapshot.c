/* Snapshots (server/snapshot.c): lookups, tenants, ETag stability, publication. */
#include <criterion/criterion.h>
#include <string.h>

#include "snapshot.h"

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
        cr_assert_eq(inc->n_answers, full->n_answers, "step %d", step);
        for (size_t i = 0; i < full->n_answers; i++) {
            const sb_answer *f = full->answers[i];
            const sb_answer *a =
                sb_snapshot_answer(inc, f->role, f->role_len, f->tenant, f->tenant_len);
            cr_assert_not_null(a, "step %d: %s missing", step, f->role);
            cr_assert_str_eq(a->body.p, f->body.p, "step %d", step);
        }
        cr_assert_str_eq(sb_snapshot_topology(inc)->p, sb_snapshot_topology(full)->p);
        for (size_t i = 0; i < n; i++)
            json_decref(vals[i]);
        sb_snapshot_unref(full);
        sb_snapshot_unref(prev);
        prev = inc;
    }
    sb_snapshot_unref(prev);
}
