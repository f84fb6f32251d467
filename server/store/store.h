/*
 * The store: the only module that talks to LMDB. Every function opens and ends its own
 * transaction and copies values out before it ends, so no caller ever sees an MDB_txn.
 *
 * Layout (schema version 2, see migrations/README.md): one environment in the data
 * directory with the named databases
 *   docs    "<kind>/<id>"              -> u64 revision of the last change (little endian) + JSON
 *   history "<kind>/<id>" NUL be64 rev -> JSON {"revision", "time", "actor", "reason",
 *                                          "trace_id", "op", "value"} (value null: deleted)
 *   audit   be64 rev be32 index        -> JSON {"revision", "time", "actor", "reason",
 *                                          "trace_id", "key", "op"}
 *   meta    "revision"                 -> u64, the store revision (0: nothing written yet)
 *           "schema"                   -> u64, the layout version
 *           "tokens"                   -> u64, bumped by every token change
 *   tokens  "<name>"                   -> JSON {"scope", "sha256", "created"}
 *
 * Threading: an sb_store may be used from several threads (LMDB serialises writers); the
 * daemon writes from its writer thread only. Errors are LMDB or errno codes, 0 for success;
 * sb_store_strerror() describes them.
 */
#ifndef SB_STORE_H
#define SB_STORE_H

#include <jansson.h>
#include <stdint.h>

#define SB_SCHEMA_VERSION 2

typedef struct sb_store sb_store;

/* One change of a write: value NULL deletes the document. op names it in history and audit
 * ("put", "patch", "delete", "rollback"; NULL: "put", or "delete" for a NULL value). */
typedef struct sb_change {
    int kind;
    const char *id;
    const json_t *value;
    const char *op;
} sb_change;

/* Who made a write and why, kept in history and audit; any field may be NULL. */
typedef struct sb_commit_info {
    const char *actor, *reason, *trace_id;
} sb_commit_info;

/**
 * Opens (creating if needed) the store in directory dir. A store at an older schema version is
 * migrated first: a compact copy of it is saved in dir/backup-schema-<from>-<unix time>, then
 * every pending migration runs, in order, in one write transaction.
 * @return 0, or an error; SB_STORE_TOO_NEW when the store's schema is newer than this binary
 */
int sb_store_open(const char *dir, sb_store **out);
#define SB_STORE_TOO_NEW (-1)

/** The schema version of the store in dir without changing it (0: no store there yet). */
int sb_store_schema(const char *dir, unsigned *version);

void sb_store_close(sb_store *s);
const char *sb_store_strerror(int err);

/** How much of the LMDB map is in use, and its size, in bytes. */
void sb_store_usage(sb_store *s, uint64_t *used, uint64_t *size);

/**
 * Reads every document.
 * @param[out] docs new object {kind: {id: document}} with all five kinds present
 * @param[out] revs new object {kind: {id: revision of its last change}}
 * @param[out] revision the store revision
 */
int sb_store_load(sb_store *s, json_t **docs, json_t **revs, uint64_t *revision);

/**
 * Applies changes in one durable write transaction that moves the store revision by one.
 * Nothing is written unless everything is.
 * @param[out] revision the new store revision
 */
int sb_store_commit(sb_store *s, const sb_change *changes, size_t n, const sb_commit_info *info,
                    uint64_t *revision);

/**
 * Versions of one document with revision > since, oldest first, at most limit of them.
 * @param[out] versions a new array of history entries
 * @param[out] next the since of the next page, or 0 when there is none
 */
int sb_store_history(sb_store *s, int kind, const char *id, uint64_t since, size_t limit,
                     json_t **versions, uint64_t *next);
/** The history entry of one document at exactly revision; MDB_NOTFOUND when it has none. */
int sb_store_version(sb_store *s, int kind, const char *id, uint64_t revision, json_t **entry);
/**
 * A page of audit entries, oldest first, made of whole revisions: revisions are added until the
 * page holds at least limit entries, and the last one is always finished, so a page may hold
 * more than limit (one revision's entries never span two pages).
 * @param since the revisions after since (0: from the first), or SB_STORE_NEWEST: the newest
 *        revisions, counted back from the last
 * @param[out] next the since of the next page, or 0 when this page ends with the newest revision
 */
int sb_store_audit(sb_store *s, uint64_t since, size_t limit, json_t **entries, uint64_t *next);
#define SB_STORE_NEWEST UINT64_MAX

/** @param[out] tokens new object {name: {"scope", "sha256", "created"}}. */
int sb_store_tokens(sb_store *s, json_t **tokens, uint64_t *version);
/** Adds a token; MDB_KEYEXIST when the name is taken. */
int sb_store_token_add(sb_store *s, const char *name, const json_t *token);
/** Removes a token; MDB_NOTFOUND when there is none of that name. */
int sb_store_token_remove(sb_store *s, const char *name);
/** The token version alone: a cheap check for changes made by another process. */
int sb_store_tokens_version(sb_store *s, uint64_t *version);

#endif
