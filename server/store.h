/*
 * The store: the only module that talks to LMDB. Every function opens and ends its own
 * transaction and copies values out before it ends, so no caller ever sees an MDB_txn.
 *
 * Layout (schema version 1, see migrations/README.md): one environment in the data
 * directory with the named databases
 *   docs    "<kind>/<id>"  -> u64 revision of the last change (little endian) + JSON text
 *   meta    "revision"     -> u64, the store revision (0: nothing written yet)
 *           "schema"       -> u32, the layout version
 *           "tokens"       -> u64, bumped by every token change
 *   tokens  "<name>"       -> JSON {"scope", "sha256", "created"}
 *
 * Threading: an sb_store may be used from several threads (LMDB serialises writers); the
 * daemon writes from its writer thread only. Errors are LMDB or errno codes, 0 for success;
 * sb_store_strerror() describes them.
 */
#ifndef SB_STORE_H
#define SB_STORE_H

#include <jansson.h>
#include <stdint.h>

#define SB_SCHEMA_VERSION 1

typedef struct sb_store sb_store;

/* One change of a write: value NULL deletes the document. */
typedef struct sb_change {
    int kind;
    const char *id;
    const json_t *value;
} sb_change;

/**
 * Opens (creating if needed) the store in directory dir.
 * @return 0, or an error; SB_STORE_TOO_NEW when the store's schema is newer than this binary
 */
int sb_store_open(const char *dir, sb_store **out);
#define SB_STORE_TOO_NEW (-1)

void sb_store_close(sb_store *s);
const char *sb_store_strerror(int err);

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
int sb_store_commit(sb_store *s, const sb_change *changes, size_t n, uint64_t *revision);

/** @param[out] tokens new object {name: {"scope", "sha256", "created"}}. */
int sb_store_tokens(sb_store *s, json_t **tokens, uint64_t *version);
/** Adds a token; MDB_KEYEXIST when the name is taken. */
int sb_store_token_add(sb_store *s, const char *name, const json_t *token);
/** Removes a token; MDB_NOTFOUND when there is none of that name. */
int sb_store_token_remove(sb_store *s, const char *name);
/** The token version alone: a cheap check for changes made by another process. */
int sb_store_tokens_version(sb_store *s, uint64_t *version);

#endif
