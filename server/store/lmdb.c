/*
 * The LMDB engine of the store interface (core/store.h; the layout is in store.h). Writes are
 * never MDB_NOSYNC: a commit that returned has reached the disk.
 */
#include "store.h"
#include "store/migrations/migrations.h"
#include "core/util.h"

#include <errno.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct lmdb {
    sb_store base; /* first: an sb_store * is an lmdb * */
    MDB_env *env;
    MDB_dbi docs, meta, tokens, history, audit;
} lmdb;

static const sb_store_engine engine;

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
    if (err == SB_STORE_NOTFOUND || err == SB_STORE_EXISTS)
        return err == SB_STORE_NOTFOUND ? "not found" : "exists already";
    return mdb_strerror(err);
}

static int env_open(const char *dir, unsigned flags, MDB_env **env)
{
    int rc = mdb_env_create(env);
    if (rc != 0)
        return rc;
    if ((rc = mdb_env_set_maxdbs(*env, 8)) != 0 ||
        (rc = mdb_env_set_mapsize(*env, MAP_SIZE)) != 0 ||
        (rc = mdb_env_open(*env, dir, flags, 0600)) != 0) {
        mdb_env_close(*env);
        *env = NULL;
    }
    return rc;
}

int sb_store_schema(const char *dir, unsigned *version)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    char path[4096];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    *version = 0;
    if (access(path, F_OK) != 0)
        return 0;
    int rc = env_open(dir, MDB_RDONLY, &env);
    if (rc != 0)
        return rc;
    if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) == 0) {
        if (mdb_dbi_open(txn, "meta", 0, &meta) == 0)
            *version = (unsigned)get_u64(txn, meta, "schema");
        mdb_txn_abort(txn);
    }
    mdb_env_close(env);
    return rc;
}

/* Saves a compact copy of the environment before a migration changes it. */
static int backup(MDB_env *env, const char *dir, uint64_t from)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/backup-schema-%llu-%lld", dir, (unsigned long long)from,
             (long long)time(NULL));
    if (mkdir(path, 0700) != 0)
        return errno;
    return mdb_env_copy2(env, path, MDB_CP_COMPACT);
}

/* Runs the migrations after version from, in order, in txn. */
static int migrate(MDB_txn *txn, MDB_dbi meta, uint64_t from)
{
    for (unsigned i = 0; i < sb_n_migrations; i++) {
        if (sb_migrations[i].version <= from)
            continue;
        int rc = sb_migrations[i].apply(txn);
        if (rc == 0)
            rc = put_u64(txn, meta, "schema", sb_migrations[i].version);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int sb_store_open(const char *dir, sb_store **out)
{
    lmdb *s = calloc(1, sizeof *s);
    MDB_txn *txn = NULL;
    int rc, dead;
    if (s == NULL)
        return ENOMEM;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        rc = errno;
        goto fail;
    }
    if ((rc = env_open(dir, 0, &s->env)) != 0)
        goto fail;
    mdb_reader_check(s->env, &dead); /* slots left by readers that were killed */
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
        goto fail;
    /* Committed, not aborted: LMDB closes the handles opened by an aborted transaction. */
    if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) != 0)
        goto fail;
    uint64_t schema = get_u64(txn, s->meta, "schema");
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0)
        goto fail;
    if (schema > SB_SCHEMA_VERSION) {
        rc = SB_STORE_TOO_NEW;
        goto fail;
    }
    if (schema != 0 && schema < SB_SCHEMA_VERSION && (rc = backup(s->env, dir, schema)) != 0)
        goto fail;
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
        goto fail;
    schema = get_u64(txn, s->meta, "schema"); /* again, inside the transaction that migrates */
    if (schema != 0 && schema < SB_SCHEMA_VERSION && (rc = migrate(txn, s->meta, schema)) != 0)
        goto fail;
    if ((rc = mdb_dbi_open(txn, "docs", MDB_CREATE, &s->docs)) != 0 ||
        (rc = mdb_dbi_open(txn, "tokens", MDB_CREATE, &s->tokens)) != 0 ||
        (rc = mdb_dbi_open(txn, "history", MDB_CREATE, &s->history)) != 0 ||
        (rc = mdb_dbi_open(txn, "audit", MDB_CREATE, &s->audit)) != 0)
        goto fail;
    if (schema == 0 && (rc = put_u64(txn, s->meta, "schema", SB_SCHEMA_VERSION)) != 0)
        goto fail;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0)
        goto fail;
    s->base.engine = &engine;
    *out = &s->base;
    return 0;
fail:
    if (txn)
        mdb_txn_abort(txn);
    if (s->env)
        mdb_env_close(s->env);
    free(s);
    return rc;
}

static void lmdb_close(sb_store *store)
{
    lmdb *s = (lmdb *)store;
    mdb_env_close(s->env);
    free(s);
}

/* Called for each entry of a scan: 0 goes on, SCAN_STOP ends it, anything else is an error
 * that ends it and is returned. */
typedef int (*scan_fn)(const MDB_val *k, const MDB_val *v, void *data);
#define SCAN_STOP 1

/* Walks dbi in key order from the first key >= start (all of it when slen is 0), in txn. */
static int scan_txn(MDB_txn *txn, MDB_dbi dbi, const void *start, size_t slen, scan_fn each,
                    void *data)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0)
        return rc;
    MDB_val k = {slen, (void *)start}, v;
    for (rc = mdb_cursor_get(cur, &k, &v, slen ? MDB_SET_RANGE : MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if ((rc = each(&k, &v, data)) != 0)
            break;
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == SCAN_STOP ? 0 : rc;
}

/* scan_txn in a read transaction of its own. */
static int scan(lmdb *s, MDB_dbi dbi, const void *start, size_t slen, scan_fn each, void *data)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return rc;
    rc = scan_txn(txn, dbi, start, slen, each, data);
    mdb_txn_abort(txn);
    return rc;
}

/* One entry of docs into {docs, revs}. */
static int load_doc(const MDB_val *k, const MDB_val *v, void *data)
{
    json_t **out = data;
    const char *key = k->mv_data, *slash = memchr(key, '/', k->mv_size);
    int kind = slash ? sb_kind_lookup(key, (size_t)(slash - key)) : -1;
    uint64_t rev;
    if (kind < 0 || v->mv_size <= sizeof rev)
        return MDB_CORRUPTED;
    memcpy(&rev, v->mv_data, sizeof rev);
    json_t *value = json_loadb((char *)v->mv_data + sizeof rev, v->mv_size - sizeof rev, 0, NULL);
    if (value == NULL)
        return MDB_CORRUPTED;
    char *id = sb_xstrndup(slash + 1, k->mv_size - (size_t)(slash + 1 - key));
    json_object_set_new(json_object_get(out[0], sb_kind_names[kind]), id, value);
    json_object_set_new(json_object_get(out[1], sb_kind_names[kind]), id,
                        sb_json_check(json_integer((json_int_t)rev)));
    free(id);
    return 0;
}

static int lmdb_load(sb_store *store, json_t **docs, json_t **revs, uint64_t *revision)
{
    lmdb *s = (lmdb *)store;
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return rc;
    json_t *out[2] = {sb_json_check(json_object()), sb_json_check(json_object())};
    for (int kind = 0; kind < SB_KIND_COUNT; kind++)
        for (int i = 0; i < 2; i++)
            json_object_set_new(out[i], sb_kind_names[kind], sb_json_check(json_object()));
    rc = scan_txn(txn, s->docs, NULL, 0, load_doc, out);
    *revision = get_u64(txn, s->meta, "revision");
    mdb_txn_abort(txn);
    if (rc != 0) {
        json_decref(out[0]);
        json_decref(out[1]);
        return rc;
    }
    *docs = out[0];
    *revs = out[1];
    return 0;
}

/* "<kind>/<id>" NUL be64(rev) into buf; returns its length, 0 when it does not fit. */
static size_t history_key(unsigned char *buf, size_t cap, int kind, const char *id, uint64_t rev)
{
    int n = snprintf((char *)buf, cap, "%s/%s", sb_kind_names[kind], id);
    if (n < 0 || (size_t)n + 9 > cap)
        return 0;
    buf[n] = 0;
    for (int i = 0; i < 8; i++)
        buf[n + 1 + i] = (unsigned char)(rev >> (56 - 8 * i));
    return (size_t)n + 9;
}

static uint64_t be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static int put_json(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const json_t *v)
{
    sb_buf b = {0};
    sb_buf_add_json(&b, v, JSON_SORT_KEYS);
    MDB_val k = {klen, (void *)key}, val = {b.len, b.p};
    int rc = mdb_put(txn, dbi, &k, &val, 0);
    free(b.p);
    return rc;
}

/* Writes one change: the document, its history entry and its audit entry. */
static int put_change(lmdb *s, MDB_txn *txn, const sb_change *c, const sb_commit_info *info,
                      uint64_t rev, uint32_t index, const char *now)
{
    unsigned char key[512];
    size_t klen = history_key(key, sizeof key, c->kind, c->id, rev);
    if (klen == 0)
        return EINVAL;
    MDB_val k = {klen - 9, key};
    int rc;
    if (c->value == NULL) {
        rc = mdb_del(txn, s->docs, &k, NULL);
        rc = rc == MDB_NOTFOUND ? 0 : rc;
    } else {
        sb_buf b = {0};
        sb_buf_add(&b, &rev, sizeof rev);
        sb_buf_add_json(&b, c->value, JSON_SORT_KEYS);
        MDB_val v = {b.len, b.p};
        rc = mdb_put(txn, s->docs, &k, &v, 0);
        free(b.p);
    }
    if (rc != 0)
        return rc;
    const char *op = c->op ? c->op : c->value ? "put" : "delete";
    json_t *entry = sb_json_check(
        json_pack("{s:I, s:s, s:s?, s:s?, s:s?, s:s, s:O?}", "revision", (json_int_t)rev, "time",
                  now, "actor", info ? info->actor : NULL, "reason", info ? info->reason : NULL,
                  "trace_id", info ? info->trace_id : NULL, "op", op, "value", c->value));
    if (json_object_get(entry, "value") == NULL)
        json_object_set_new(entry, "value", json_null());
    rc = put_json(txn, s->history, key, klen, entry);
    json_object_del(entry, "value");
    json_object_set_new(entry, "key", json_stringn((const char *)key, klen - 9));
    unsigned char akey[12];
    for (int i = 0; i < 8; i++)
        akey[i] = (unsigned char)(rev >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        akey[8 + i] = (unsigned char)(index >> (24 - 8 * i));
    if (rc == 0)
        rc = put_json(txn, s->audit, akey, sizeof akey, entry);
    json_decref(entry);
    return rc;
}

static int lmdb_commit(sb_store *store, const sb_change *changes, size_t n,
                       const sb_commit_info *info, uint64_t *revision)
{
    lmdb *s = (lmdb *)store;
    MDB_txn *txn;
    char now[32];
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        return rc;
    sb_now_rfc3339(now);
    uint64_t rev = get_u64(txn, s->meta, "revision") + 1;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = put_change(s, txn, &changes[i], info, rev, (uint32_t)i, now);
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

typedef struct page {
    const unsigned char *prefix; /* history: "<kind>/<id>" NUL; audit: none */
    size_t plen, limit;
    json_t *items;
    uint64_t next, last;
} page;

static int collect(const MDB_val *k, const MDB_val *v, void *data)
{
    page *p = data;
    if (k->mv_size < p->plen + 8 || memcmp(k->mv_data, p->prefix, p->plen) != 0)
        return SCAN_STOP; /* past this document's versions */
    uint64_t rev = be64((const unsigned char *)k->mv_data + p->plen);
    if (json_array_size(p->items) >= p->limit && rev != p->last) {
        p->next = p->last; /* full; a page never splits one revision */
        return SCAN_STOP;
    }
    json_t *e = json_loadb(v->mv_data, v->mv_size, 0, NULL);
    if (e != NULL)
        json_array_append_new(p->items, e);
    p->last = rev;
    return 0;
}

static int lmdb_history(sb_store *store, int kind, const char *id, uint64_t since, size_t limit,
                        json_t **versions, uint64_t *next)
{
    lmdb *s = (lmdb *)store;
    unsigned char key[512];
    size_t klen = history_key(key, sizeof key, kind, id, since + 1);
    if (klen == 0)
        return EINVAL;
    page p = {key, klen - 8, limit, sb_json_check(json_array()), 0, 0};
    int rc = scan(s, s->history, key, klen, collect, &p);
    if (rc != 0) {
        json_decref(p.items);
        return rc;
    }
    *versions = p.items;
    *next = p.next;
    return 0;
}

static int lmdb_version(sb_store *store, int kind, const char *id, uint64_t revision,
                        json_t **entry)
{
    lmdb *s = (lmdb *)store;
    unsigned char key[512];
    size_t klen = history_key(key, sizeof key, kind, id, revision);
    MDB_txn *txn;
    MDB_val k = {klen, key}, v;
    if (klen == 0)
        return EINVAL;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return rc;
    if ((rc = mdb_get(txn, s->history, &k, &v)) == 0)
        *entry = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    mdb_txn_abort(txn);
    return rc == MDB_NOTFOUND ? SB_STORE_NOTFOUND : rc == 0 && *entry == NULL ? MDB_CORRUPTED : rc;
}

/* The newest revisions of the audit, walked from the last entry back, into p (oldest first). */
static int audit_newest(lmdb *s, page *p)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return rc;
    if ((rc = mdb_cursor_open(txn, s->audit, &cur)) == 0) {
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_LAST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_PREV))
            if ((rc = collect(&k, &v, p)) != 0)
                break;
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    if (rc != MDB_NOTFOUND && rc != SCAN_STOP)
        return rc;
    size_t n = json_array_size(p->items); /* collected newest first: put them oldest first */
    json_t *items = sb_json_check(json_array());
    for (size_t i = n; i-- > 0;)
        json_array_append(items, json_array_get(p->items, i));
    json_decref(p->items);
    p->items = items;
    p->next = 0; /* the page ends with the newest revision */
    return 0;
}

static int lmdb_audit(sb_store *store, uint64_t since, size_t limit, json_t **entries,
                      uint64_t *next)
{
    lmdb *s = (lmdb *)store;
    unsigned char key[8];
    page p = {key, 0, limit, sb_json_check(json_array()), 0, 0};
    int rc;
    if (since == SB_STORE_NEWEST) {
        rc = audit_newest(s, &p);
    } else {
        for (int i = 0; i < 8; i++)
            key[i] = (unsigned char)((since + 1) >> (56 - 8 * i));
        rc = scan(s, s->audit, key, sizeof key, collect, &p);
    }
    if (rc != 0) {
        json_decref(p.items);
        return rc;
    }
    *entries = p.items;
    *next = p.next;
    return 0;
}

static int load_token(const MDB_val *k, const MDB_val *v, void *data)
{
    json_t *value = json_loadb(v->mv_data, v->mv_size, 0, NULL);
    char *name = sb_xstrndup(k->mv_data, k->mv_size);
    if (value != NULL)
        json_object_set_new(data, name, value);
    free(name);
    return 0;
}

static int lmdb_tokens(sb_store *store, json_t **tokens, uint64_t *version)
{
    lmdb *s = (lmdb *)store;
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return rc;
    json_t *t = sb_json_check(json_object());
    rc = scan_txn(txn, s->tokens, NULL, 0, load_token, t);
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
static int token_change(lmdb *s, const char *name, const json_t *value)
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

static int lmdb_token_add(sb_store *store, const char *name, const json_t *token)
{
    int rc = token_change((lmdb *)store, name, token);
    return rc == MDB_KEYEXIST ? SB_STORE_EXISTS : rc;
}

static int lmdb_token_remove(sb_store *store, const char *name)
{
    int rc = token_change((lmdb *)store, name, NULL);
    return rc == MDB_NOTFOUND ? SB_STORE_NOTFOUND : rc;
}

static int lmdb_tokens_version(sb_store *store, uint64_t *version)
{
    lmdb *s = (lmdb *)store;
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return rc;
    *version = get_u64(txn, s->meta, "tokens");
    mdb_txn_abort(txn);
    return 0;
}

static void lmdb_usage(sb_store *store, uint64_t *used, uint64_t *size)
{
    lmdb *s = (lmdb *)store;
    MDB_envinfo info;
    MDB_stat stat;
    mdb_env_info(s->env, &info);
    mdb_env_stat(s->env, &stat);
    *used = (uint64_t)(info.me_last_pgno + 1) * stat.ms_psize;
    *size = info.me_mapsize;
}

static const sb_store_engine engine = {
    .name = "lmdb",
    .close = lmdb_close,
    .error = sb_store_strerror,
    .usage = lmdb_usage,
    .load = lmdb_load,
    .commit = lmdb_commit,
    .history = lmdb_history,
    .version = lmdb_version,
    .audit = lmdb_audit,
    .tokens = lmdb_tokens,
    .token_add = lmdb_token_add,
    .token_remove = lmdb_token_remove,
    .tokens_version = lmdb_tokens_version,
};
