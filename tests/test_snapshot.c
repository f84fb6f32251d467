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
    return sb_snapshot_build(docs, revs, NULL, rev);
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
    cr_assert_not_null(strstr(s->topology.p, "\"revision\":3"));
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
