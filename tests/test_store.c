/* The LMDB store (server/store.c): revisions, atomic commits, reopening, tokens, schema. */
#include <criterion/criterion.h>
#include <ftw.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "util.h"

static char dir[64];

static int rm_one(const char *p, const struct stat *st, int f, struct FTW *w)
{
    return remove(p);
}

static void mk(void)
{
    strcpy(dir, "/tmp/sb-store-XXXXXX");
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
    cr_assert_eq(sb_store_commit(s, c1, 2, &rev), 0);
    cr_assert_eq(rev, 1);
    sb_change c2[] = {{SB_PROVIDERS, "openai", NULL}};
    cr_assert_eq(sb_store_commit(s, c2, 1, &rev), 0);
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
    cr_assert_eq(sb_store_token_add(s, "ci", t), MDB_KEYEXIST);
    cr_assert_eq(sb_store_tokens_version(s, &v1), 0);
    cr_assert_gt(v1, v0);
    json_t *all;
    cr_assert_eq(sb_store_tokens(s, &all, &v1), 0);
    cr_assert(json_equal(json_object_get(all, "ci"), t));
    json_decref(all);
    cr_assert_eq(sb_store_token_remove(s, "ci"), 0);
    cr_assert_eq(sb_store_token_remove(s, "ci"), MDB_NOTFOUND);
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
