/*
 * The store interface: what the core needs from durable storage, whatever the engine. An engine
 * (server/store/: LMDB today) fills an sb_store_engine table; the functions below dispatch
 * through it. Every call is one transaction of its own and copies values out before it ends.
 *
 * Kept per document "<kind>/<id>": the value and the revision of its last change; per change, a
 * history entry {"revision", "time", "actor", "reason", "trace_id", "op", "value"} (value null:
 * deleted) and an audit entry {"revision", "time", "actor", "reason", "trace_id", "key", "op"};
 * the store revision (0: nothing written yet), moved by exactly one per commit; and the tokens
 * {name: {"scope", "sha256", "created"}} with a version bumped by every token change.
 *
 * Errors: 0 for success, SB_STORE_NOTFOUND and SB_STORE_EXISTS where the functions say so, any
 * other value an engine's own code, which sb_store_error describes.
 * Threading: an sb_store may be used from several threads; the daemon writes from its writer
 * thread only.
 */
#ifndef SB_CORE_STORE_H
#define SB_CORE_STORE_H

#include <jansson.h>
#include <stdint.h>

#define SB_STORE_NOTFOUND (-2) /* no such version, or no such token */
#define SB_STORE_EXISTS   (-3) /* a token of that name exists */

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

typedef struct sb_store sb_store;

/* An engine's operations; each is described by the function of the same name below. */
typedef struct sb_store_engine {
    const char *name;
    void (*close)(sb_store *s);
    const char *(*error)(int err);
    void (*usage)(sb_store *s, uint64_t *used, uint64_t *size);
    int (*load)(sb_store *s, json_t **docs, json_t **revs, uint64_t *revision);
    int (*commit)(sb_store *s, const sb_change *changes, size_t n, const sb_commit_info *info,
                  uint64_t *revision);
    int (*history)(sb_store *s, int kind, const char *id, uint64_t since, size_t limit,
                   json_t **versions, uint64_t *next);
    int (*version)(sb_store *s, int kind, const char *id, uint64_t revision, json_t **entry);
    int (*audit)(sb_store *s, uint64_t since, size_t limit, json_t **entries, uint64_t *next);
    int (*tokens)(sb_store *s, json_t **tokens, uint64_t *version);
    int (*token_add)(sb_store *s, const char *name, const json_t *token);
    int (*token_remove)(sb_store *s, const char *name);
    int (*tokens_version)(sb_store *s, uint64_t *version);
} sb_store_engine;

/* An engine's store starts with this. */
struct sb_store {
    const sb_store_engine *engine;
};

void sb_store_close(sb_store *s);
/** What err means (0, the SB_STORE_ codes or one of the engine's). */
const char *sb_store_error(const sb_store *s, int err);

/** How much of the engine's space is in use, and its size, in bytes. */
void sb_store_usage(sb_store *s, uint64_t *used, uint64_t *size);

/**
 * Reads every document.
 * @param[out] docs new object {kind: {id: document}} with all five kinds present
 * @param[out] revs new object {kind: {id: revision of its last change}}
 * @param[out] revision the store revision
 */
int sb_store_load(sb_store *s, json_t **docs, json_t **revs, uint64_t *revision);

/**
 * Applies changes in one durable transaction that moves the store revision by one. Nothing is
 * written unless everything is.
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
/** The history entry of one document at exactly revision; SB_STORE_NOTFOUND when it has none. */
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
/** Adds a token; SB_STORE_EXISTS when the name is taken. */
int sb_store_token_add(sb_store *s, const char *name, const json_t *token);
/** Removes a token; SB_STORE_NOTFOUND when there is none of that name. */
int sb_store_token_remove(sb_store *s, const char *name);
/** The token version alone: a cheap check for changes made by another process. */
int sb_store_tokens_version(sb_store *s, uint64_t *version);

#endif
