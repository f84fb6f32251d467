/*
 * LMDB behind one small API (see store.h for the layout and the threading rules).
 * Writes are never MDB_NOSYNC: a commit that returned has reached the disk.
 */
#include "store.h"
#include "util.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct sb_store {
    MDB_env *env;
    MDB_dbi docs, meta, tokens;
};

#define MAP_SIZE ((size_t)1 << 30) /* a maximum: the file stays sparse */

static MDB_val val_str(const char *s)
{
    return (MDB_val){strlen(s), (void *)s};
}

static uint64_t get_u64(MDB_txn *txn, MDB_dbi dbi, const char *key)
{
    MDB_val k = val_str(key), v;
    uint64_t x = 0;
    if (mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size == sizeof x)
        memcpy(&x, v.mv_data, sizeof x);
    return x;
}

static int put_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t x)
{
    MDB_val k = val_str(key), v = {sizeof x, &x};
    return mdb_put(txn, dbi, &k, &v, 0);
}

const char *sb_store_strerror(int err)
{
    if (err == SB_STORE_TOO_NEW)
        return "the store was written by a newer switchboard (schema version too new)";
    return mdb_strerror(err);
}

int sb_store_open(const char *dir, sb_store **out)
{
    sb_store *s = calloc(1, sizeof *s);
    MDB_txn *txn = NULL;
    int rc, dead;
    if (s == NULL)
        return ENOMEM;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        rc = errno;
        goto fail;
    }
    if ((rc = mdb_env_create(&s->env)) != 0)
        goto fail;
    if ((rc = mdb_env_set_maxdbs(s->env, 8)) != 0 ||
        (rc = mdb_env_set_mapsize(s->env, MAP_SIZE)) != 0 ||
        (rc = mdb_env_open(s->env, dir, 0, 0600)) != 0)
        goto fail;
    mdb_reader_check(s->env, &dead); /* slots left by readers that were killed */
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
        goto fail;
    if ((rc = mdb_dbi_open(txn, "docs", MDB_CREATE, &s->docs)) != 0 ||
        (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) != 0 ||
        (rc = mdb_dbi_open(txn, "tokens", MDB_CREATE, &s->tokens)) != 0)
        goto fail;
    uint64_t schema = get_u64(txn, s->meta, "schema");
    if (schema > SB_SCHEMA_VERSION) {
        rc = SB_STORE_TOO_NEW;
        goto fail;
    }
    if (schema == 0 && (rc = put_u64(txn, s->meta, "schema", SB_SCHEMA_VERSION)) != 0)
        goto fail;
    if ((rc = mdb_txn_commit(txn)) != 0) {
        txn = NULL;
        goto fail;
    }
    *out = s;
    return 0;
fail:
    if (txn)
        mdb_txn_abort(txn);
    if (s->env)
        mdb_env_close(s->env);
    free(s);
    return rc;
}

void sb_store_close(sb_store *s)
{
    if (s == NULL)
        return;
    mdb_env_close(s->env);
    free(s);
}

int sb_store_load(sb_store *s, json_t **docs, json_t **revs, uint64_t *revision)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return rc;
    json_t *d = sb_json_check(json_object()), *r = sb_json_check(json_object());
    for (int kind = 0; kind < SB_KIND_COUNT; kind++) {
        json_object_set_new(d, sb_kind_names[kind], sb_json_check(json_object()));
        json_object_set_new(r, sb_kind_names[kind], sb_json_check(json_object()));
    }
    if ((rc = mdb_cursor_open(txn, s->docs, &cur)) != 0)
        goto done;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const char *key = k.mv_data, *slash = memchr(key, '/', k.mv_size);
        int kind = slash ? sb_kind_lookup(key, (size_t)(slash - key)) : -1;
        uint64_t rev;
        json_t *value = NULL;
        if (kind >= 0 && v.mv_size > sizeof rev) {
            memcpy(&rev, v.mv_data, sizeof rev);
            value = json_loadb((char *)v.mv_data + sizeof rev, v.mv_size - sizeof rev, 0, NULL);
        }
        if (value == NULL) {
            rc = MDB_CORRUPTED;
            break;
        }
        char *id = sb_xstrndup(slash + 1, k.mv_size - (size_t)(slash + 1 - key));
        json_object_set_new(json_object_get(d, sb_kind_names[kind]), id, value);
        json_object_set_new(json_object_get(r, sb_kind_names[kind]), id,
                            sb_json_check(json_integer((json_int_t)rev)));
        free(id);
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    *revision = get_u64(txn, s->meta, "revision");
done:
    mdb_txn_abort(txn);
    if (rc != 0) {
        json_decref(d);
        json_decref(r);
        return rc;
    }
    *docs = d;
    *revs = r;
    return 0;
}

static int put_doc(MDB_txn *txn, MDB_dbi dbi, const sb_change *c, uint64_t rev)
{
    char key[256];
    int n = snprintf(key, sizeof key, "%s/%s", sb_kind_names[c->kind], c->id);
    if (n < 0 || (size_t)n >= sizeof key)
        return EINVAL;
    MDB_val k = {(size_t)n, key};
    if (c->value == NULL) {
        int rc = mdb_del(txn, dbi, &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    sb_buf b = {0};
    sb_buf_add(&b, &rev, sizeof rev);
    sb_buf_add_json(&b, c->value, JSON_SORT_KEYS);
    MDB_val v = {b.len, b.p};
    int rc = mdb_put(txn, dbi, &k, &v, 0);
    free(b.p);
    return rc;
}

int sb_store_commit(sb_store *s, const sb_change *changes, size_t n, uint64_t *revision)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        return rc;
    uint64_t rev = get_u64(txn, s->meta, "revision") + 1;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = put_doc(txn, s->docs, &changes[i], rev);
    if (rc == 0)
        rc = put_u64(txn, s->meta, "revision", rev);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        return rc;
    *revision = rev;
    return 0;
}

int sb_store_tokens(sb_store *s, json_t **tokens, uint64_t *version)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return rc;
    json_t *t = sb_json_check(json_object());
    if ((rc = mdb_cursor_open(txn, s->tokens, &cur)) == 0) {
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            json_t *value = json_loadb(v.mv_data, v.mv_size, 0, NULL);
            char *name = sb_xstrndup(k.mv_data, k.mv_size);
            if (value != NULL)
                json_object_set_new(t, name, value);
            free(name);
        }
        mdb_cursor_close(cur);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    *version = get_u64(txn, s->meta, "tokens");
    mdb_txn_abort(txn);
    if (rc != 0) {
        json_decref(t);
        return rc;
    }
    *tokens = t;
    return 0;
}

/* Puts (value non-NULL, never overwriting) or deletes one token, bumping the token version. */
static int token_change(sb_store *s, const char *name, const json_t *value)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        return rc;
    MDB_val k = val_str(name);
    if (value != NULL) {
        char *text = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS);
        MDB_val v = val_str(text);
        rc = mdb_put(txn, s->tokens, &k, &v, MDB_NOOVERWRITE);
        free(text);
    } else {
        rc = mdb_del(txn, s->tokens, &k, NULL);
    }
    if (rc == 0)
        rc = put_u64(txn, s->meta, "tokens", get_u64(txn, s->meta, "tokens") + 1);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

int sb_store_token_add(sb_store *s, const char *name, const json_t *token)
{
    return token_change(s, name, token);
}

int sb_store_token_remove(sb_store *s, const char *name)
{
    return token_change(s, name, NULL);
}

int sb_store_tokens_version(sb_store *s, uint64_t *version)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return rc;
    *version = get_u64(txn, s->meta, "tokens");
    mdb_txn_abort(txn);
    return 0;
}
