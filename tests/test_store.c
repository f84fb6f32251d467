/* The LMDB store (server/store/store.c): revisions, atomic commits, reopening, tokens, schema. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <ftw.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "core/util.h"

static char dir[256];

static int rm_one(const char *p, const struct stat *st, int f, struct FTW *w)
{
    return remove(p);
}

static void mk(void)
{
    snprintf(dir, sizeof dir, "%s/sb-store-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    cr_assert_not_null(mkdtemp(dir));
}

static void rm(void)
{
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(store, .init = mk, .fini = rm);

Test(store, revisions_count_commits_and_reopen_gives_them_back)
{
    sb_store *s;
    cr_assert_eq(sb_store_open(dir, &s), 0);
    json_t *a = json_pack("{s:b}", "enabled", 1), *b = json_pack("{s:s}", "primary", "x/y");
    sb_change c1[] = {{SB_PROVIDERS, "openai", a}, {SB_ROLES, "sec", b}};
    uint64_t rev = 0;
    cr_assert_eq(sb_store_commit(s, c1, 2, NULL, &rev), 0);
    cr_assert_eq(rev, 1);
    sb_change c2[] = {{SB_PROVIDERS, "openai", NULL}};
    cr_assert_eq(sb_store_commit(s, c2, 1, NULL, &rev), 0);
    cr_assert_eq(rev, 2);
    sb_store_close(s);

    cr_assert_eq(sb_store_open(dir, &s), 0);
    json_t *docs, *revs;
    cr_assert_eq(sb_store_load(s, &docs, &revs, &rev), 0);
    cr_assert_eq(rev, 2);
    cr_assert_null(json_object_get(json_object_get(docs, "providers"), "openai"));
    cr_assert(json_equal(json_object_get(json_object_get(docs, "roles"), "sec"), b));
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(revs, "roles"), "sec")), 1);
    for (int k = 0; k < SB_KIND_COUNT; k++)
        cr_assert(json_is_object(json_object_get(docs, sb_kind_names[k])));
    json_decref(docs);
    json_decref(revs);
    json_decref(a);
    json_decref(b);
    sb_store_close(s);
}

Test(store, tokens)
{
    sb_store *s;
    cr_assert_eq(sb_store_open(dir, &s), 0);
    uint64_t v0, v1;
    json_t *t = json_pack("{s:s, s:s}", "scope", "read", "sha256", "00");
    cr_assert_eq(sb_store_tokens_version(s, &v0), 0);
    cr_assert_eq(sb_store_token_add(s, "ci", t), 0);
    cr_assert_eq(sb_store_token_add(s, "ci", t), SB_STORE_EXISTS);
    cr_assert_eq(sb_store_tokens_version(s, &v1), 0);
    cr_assert_gt(v1, v0);
    json_t *all;
    cr_assert_eq(sb_store_tokens(s, &all, &v1), 0);
    cr_assert(json_equal(json_object_get(all, "ci"), t));
    json_decref(all);
    cr_assert_eq(sb_store_token_remove(s, "ci"), 0);
    cr_assert_eq(sb_store_token_remove(s, "ci"), SB_STORE_NOTFOUND);
    json_decref(t);
    sb_store_close(s);
}

Test(store, newer_schema_is_refused)
{
    sb_store *s;
    cr_assert_eq(sb_store_open(dir, &s), 0);
    sb_store_close(s);
    /* Write a schema version from the future with LMDB directly. */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    uint64_t future = SB_SCHEMA_VERSION + 1;
    mdb_env_create(&env);
    mdb_env_set_maxdbs(env, 8);
    cr_assert_eq(mdb_env_open(env, dir, 0, 0600), 0);
    mdb_txn_begin(env, NULL, 0, &txn);
    mdb_dbi_open(txn, "meta", 0, &meta);
    MDB_val k = {6, "schema"}, v = {sizeof future, &future};
    mdb_put(txn, meta, &k, &v, 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    cr_assert_eq(sb_store_open(dir, &s), SB_STORE_TOO_NEW);
    cr_assert_not_null(strstr(sb_store_strerror(SB_STORE_TOO_NEW), "newer"));
}

Test(store, history_and_audit)
{
    sb_store *s;
    uint64_t rev, next;
    cr_assert_eq(sb_store_open(dir, &s), 0);
    sb_commit_info who = {"alice", "outage", "4bf92f3577b34da6a3ce929d0e0e4736"};
    for (int i = 0; i < 5; i++) {
        json_t *v = json_pack("{s:b}", "enabled", i % 2);
        sb_change c[] = {{SB_PROVIDERS, "openai", v, "patch"}, {SB_PROVIDERS, "other", v, NULL}};
        cr_assert_eq(sb_store_commit(s, c, i == 0 ? 2 : 1, &who, &rev), 0);
        json_decref(v);
    }
    sb_change del[] = {{SB_PROVIDERS, "openai", NULL, NULL}};
    cr_assert_eq(sb_store_commit(s, del, 1, NULL, &rev), 0);
    cr_assert_eq(rev, 6);

    json_t *versions;
    cr_assert_eq(sb_store_history(s, SB_PROVIDERS, "openai", 0, 4, &versions, &next), 0);
    cr_assert_eq(json_array_size(versions), 4);
    cr_assert_eq(next, 4, "the next page starts after revision 4");
    json_t *first = json_array_get(versions, 0);
    cr_assert_eq(json_integer_value(json_object_get(first, "revision")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(first, "actor")), "alice");
    cr_assert_str_eq(json_string_value(json_object_get(first, "reason")), "outage");
    cr_assert_str_eq(json_string_value(json_object_get(first, "op")), "patch");
    cr_assert_not_null(json_object_get(first, "time"));
    json_decref(versions);
    cr_assert_eq(sb_store_history(s, SB_PROVIDERS, "openai", 4, 4, &versions, &next), 0);
    cr_assert_eq(json_array_size(versions), 2);
    cr_assert_eq(next, 0);
    json_t *last = json_array_get(versions, 1);
    cr_assert_str_eq(json_string_value(json_object_get(last, "op")), "delete");
    cr_assert(json_is_null(json_object_get(last, "value")), "a delete is kept in history");
    json_decref(versions);
    /* "openai/x" must not bleed into "openai"'s history, nor the other way round. */
    cr_assert_eq(sb_store_history(s, SB_PROVIDERS, "other", 0, 100, &versions, &next), 0);
    cr_assert_eq(json_array_size(versions), 1);
    json_decref(versions);

    json_t *entry;
    cr_assert_eq(sb_store_version(s, SB_PROVIDERS, "openai", 2, &entry), 0);
    cr_assert(json_is_true(json_object_get(json_object_get(entry, "value"), "enabled")));
    json_decref(entry);
    cr_assert_eq(sb_store_version(s, SB_PROVIDERS, "openai", 99, &entry), SB_STORE_NOTFOUND);

    json_t *audit;
    cr_assert_eq(sb_store_audit(s, SB_STORE_NEWEST, 3, &audit, &next), 0);
    cr_assert_eq(json_array_size(audit), 3, "the newest three");
    cr_assert_eq(next, 0, "the newest page ends with the newest revision");
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(audit, 2), "revision")), 6);
    json_decref(audit);
    cr_assert_eq(sb_store_audit(s, 0, 100, &audit, &next), 0);
    cr_assert_eq(json_array_size(audit), 7, "6 revisions, the first with 2 changes");
    json_t *a0 = json_array_get(audit, 0);
    cr_assert_str_eq(json_string_value(json_object_get(a0, "key")), "providers/openai");
    cr_assert_str_eq(json_string_value(json_object_get(a0, "trace_id")),
                     "4bf92f3577b34da6a3ce929d0e0e4736");
    json_decref(audit);
    cr_assert_eq(sb_store_audit(s, 1, 2, &audit, &next), 0);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(audit, 0), "revision")), 2);
    cr_assert_eq(next, 3);
    json_decref(audit);
    sb_store_close(s);
}

/* Pages through the whole audit with limit 1 from since; returns how many pages it took and
 * checks that every entry of every revision came exactly once, in order. */
static int walk_audit(sb_store *s, uint64_t since, int revisions, const int *per_rev)
{
    int seen[64] = {0}, pages = 0;
    long long last_rev = 0, last_index = -1;
    do {
        json_t *audit;
        uint64_t next;
        cr_assert_eq(sb_store_audit(s, since, 1, &audit, &next), 0);
        cr_assert_gt(json_array_size(audit), 0, "a page after since %llu is empty",
                     (unsigned long long)since);
        size_t i;
        json_t *e;
        json_array_foreach (audit, i, e) {
            long long rev = json_integer_value(json_object_get(e, "revision"));
            long long index = atoll(strrchr(json_string_value(json_object_get(e, "key")), '-') + 1);
            cr_assert((rev > last_rev && index == 0) ||
                          (rev == last_rev && index == last_index + 1),
                      "revision %lld entry %lld out of order", rev, index);
            cr_assert(rev >= 1 && rev <= revisions);
            seen[rev]++;
            last_rev = rev;
            last_index = index;
        }
        long long first = json_integer_value(json_object_get(json_array_get(audit, 0), "revision"));
        cr_assert_eq(first, last_rev, "a page of limit 1 holds exactly one revision");
        cr_assert_eq((int)json_array_size(audit), per_rev[last_rev], "revision %lld split",
                     last_rev);
        json_decref(audit);
        cr_assert(next == 0 || next == (uint64_t)last_rev, "next is the page's last revision");
        since = next;
        pages++;
    } while (since != 0);
    for (int rev = 1; rev <= revisions; rev++)
        cr_assert_eq(seen[rev], per_rev[rev], "revision %d: %d of %d entries", rev, seen[rev],
                     per_rev[rev]);
    return pages;
}

Test(store, audit_pages_hold_whole_revisions)
{
    sb_store *s;
    uint64_t rev, next;
    int per_rev[64] = {0};
    cr_assert_eq(sb_store_open(dir, &s), 0);
    json_t *v = json_pack("{s:b}", "enabled", 1);
    /* Revision 2 is a batch of 3 documents; the others hold 1 or 2. */
    for (int r = 1; r <= 39; r++) {
        int n = r == 2 ? 3 : 1 + r % 2;
        sb_change c[3];
        char ids[3][16];
        for (int i = 0; i < n; i++) {
            snprintf(ids[i], sizeof ids[i], "p%d-%d", r, i);
            c[i] = (sb_change){SB_PROVIDERS, ids[i], v, NULL};
        }
        cr_assert_eq(sb_store_commit(s, c, (size_t)n, NULL, &rev), 0);
        per_rev[r] = n;
    }
    json_decref(v);

    /* The defect: ?since=1&limit=1 gave one entry of revision 2 and a next that skipped two. */
    json_t *audit;
    cr_assert_eq(sb_store_audit(s, 1, 1, &audit, &next), 0);
    cr_assert_eq(json_array_size(audit), 3, "the whole of revision 2");
    cr_assert_eq(next, 2);
    json_decref(audit);

    /* From the beginning to the end, one revision a page: every entry exactly once. */
    cr_assert_eq(walk_audit(s, 0, 39, per_rev), 39);

    /* Revision 1 stays reachable, however long the audit is: since=0 starts there. */
    cr_assert_eq(sb_store_audit(s, 0, 1, &audit, &next), 0);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(audit, 0), "revision")), 1);
    cr_assert_eq(next, 1);
    json_decref(audit);

    /* The newest page: whole revisions, newest last, at least limit entries. */
    cr_assert_eq(sb_store_audit(s, SB_STORE_NEWEST, 1, &audit, &next), 0);
    cr_assert_eq(json_array_size(audit), 2, "the whole of revision 39, which has 2");
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(audit, 1), "revision")), 39);
    cr_assert_eq(next, 0);
    json_decref(audit);
    cr_assert_eq(sb_store_audit(s, SB_STORE_NEWEST, 4, &audit, &next), 0);
    cr_assert_eq(json_array_size(audit), 5, "revisions 37 to 39: 2 + 1 + 2 entries");
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(audit, 0), "revision")), 37);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(audit, 0), "key")),
                     "providers/p37-0", "oldest first within a revision too");
    json_decref(audit);
    sb_store_close(s);
}

/* Writes a store exactly as schema version 1 left it, with LMDB directly. */
static void write_v1_store(void)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi docs, meta, tokens;
    mdb_env_create(&env);
    mdb_env_set_maxdbs(env, 8);
    cr_assert_eq(mdb_env_open(env, dir, 0, 0600), 0);
    mdb_txn_begin(env, NULL, 0, &txn);
    mdb_dbi_open(txn, "docs", MDB_CREATE, &docs);
    mdb_dbi_open(txn, "meta", MDB_CREATE, &meta);
    mdb_dbi_open(txn, "tokens", MDB_CREATE, &tokens);
    const char *rows[][2] = {{"providers/openai", "{\"enabled\":false}"},
                             {"roles/security", "{\"primary\":\"openai/gpt-5.3-codex\"}"}};
    for (int i = 0; i < 2; i++) {
        uint64_t rev = (uint64_t)i + 1;
        char val[128];
        memcpy(val, &rev, 8);
        strcpy(val + 8, rows[i][1]);
        MDB_val k = {strlen(rows[i][0]), (void *)rows[i][0]}, v = {8 + strlen(rows[i][1]), val};
        mdb_put(txn, docs, &k, &v, 0);
    }
    uint64_t one = 1, two = 2;
    MDB_val sk = {6, "schema"}, sv = {8, &one}, rk = {8, "revision"}, rv = {8, &two};
    mdb_put(txn, meta, &sk, &sv, 0);
    mdb_put(txn, meta, &rk, &rv, 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

Test(store, migrates_a_version_1_store)
{
    write_v1_store();
    unsigned version;
    cr_assert_eq(sb_store_schema(dir, &version), 0);
    cr_assert_eq(version, 1);

    sb_store *s;
    cr_assert_eq(sb_store_open(dir, &s), 0);

    json_t *docs, *revs, *versions;
    uint64_t rev, next;
    int rc = sb_store_load(s, &docs, &revs, &rev);
    cr_assert_eq(rc, 0, "%s", sb_store_strerror(rc));
    cr_assert_eq(rev, 2, "the revision is kept");
    cr_assert(json_is_false(
        json_object_get(json_object_get(json_object_get(docs, "providers"), "openai"), "enabled")));
    json_decref(docs);
    json_decref(revs);
    /* Existing documents begin their history at their last revision. */
    cr_assert_eq(sb_store_history(s, SB_ROLES, "security", 0, 10, &versions, &next), 0);
    cr_assert_eq(json_array_size(versions), 1);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(versions, 0), "revision")), 2);
    json_decref(versions);
    /* New writes go on from there. */
    json_t *v = json_pack("{s:b}", "enabled", 1);
    sb_change c[] = {{SB_PROVIDERS, "openai", v, "patch"}};
    cr_assert_eq(sb_store_commit(s, c, 1, NULL, &rev), 0);
    cr_assert_eq(rev, 3);
    json_decref(v);
    sb_store_close(s);
    /* (LMDB allows one environment per file per process: look at the schema once closed.) */
    cr_assert_eq(sb_store_schema(dir, &version), 0);
    cr_assert_eq(version, SB_SCHEMA_VERSION);

    /* The environment as it was before is kept beside it. */
    DIR *d = opendir(dir);
    struct dirent *e;
    bool backup = false;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "backup-schema-1-", 16) == 0) {
            char path[1024];
            snprintf(path, sizeof path, "%s/%s/data.mdb", dir, e->d_name);
            backup = access(path, F_OK) == 0;
        }
    closedir(d);
    cr_assert(backup, "a copy of the version-1 store is saved");
}
