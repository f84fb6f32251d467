/*
 * The snapshot: everything the read path serves, computed once per store revision.
 *
 * A snapshot holds every (role, tenant) answer with its body bytes and ETag, the documents for
 * admin reads, and the tokens. The writer thread builds one after each commit and publishes it
 * with one atomic pointer swap; serving threads pick it up on their next request. A GET of a
 * role is a hash lookup and a copy of prepared bytes: no LMDB transaction, no pipeline run.
 *
 * Building is incremental: each answer remembers (sb_deps) every document it was computed
 * from; a new snapshot recomputes only the answers that read a document the write changed and
 * shares the others, reference-counted, with the previous snapshot.
 *
 * Threading: build on one thread; once published a snapshot is read-only, except for the
 * /config and /topology bodies, which the first thread to ask builds under the snapshot's
 * mutex (they cost milliseconds and only dashboards read them). Each serving thread keeps
 * one reference in a cache slot of its own (sb_snapshot_current); the global lock is taken
 * only when a new snapshot has been published since that thread last looked.
 */
#ifndef SB_SNAPSHOT_H
#define SB_SNAPSHOT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "pipeline.h"
#include "store/store.h"
#include "util.h"

/* A prepared response body and its strong ETag. */
typedef struct sb_body {
    char *p;
    size_t len;
    char etag[SB_ETAG_LEN + 1];
} sb_body;

/* One (role, tenant) answer, shared between snapshots; tenant is NULL for the global one.
 * One allocation holds the struct, the names and the body. */
typedef struct sb_answer {
    atomic_uint refs;
    const char *role, *tenant;
    size_t role_len, tenant_len;
    bool routed;          /* primary is not null */
    const uint64_t *deps; /* the documents it was computed from: a sorted sb_deps set */
    size_t n_deps;
    sb_body body;
} sb_answer;

/* A tenant's view (name NULL: the global one) and its lazily built /config body. */
typedef struct sb_view {
    char *name;
    atomic_bool ready;
    sb_body config;
} sb_view;

enum sb_scope { SB_SCOPE_NONE = 0, SB_SCOPE_READ = 1, SB_SCOPE_ADMIN = 2 };

typedef struct sb_token {
    const char *name;
    int scope;
    unsigned char sha256[32];
} sb_token;

typedef struct sb_snapshot {
    atomic_uint refs;
    uint64_t revision;
    json_t *docs;   /* {kind: {id: document}} */
    json_t *revs;   /* {kind: {id: revision of the document's last change}} */
    json_t *tokens; /* {name: {"scope", "sha256", "created"}} */
    sb_answer **answers;
    size_t n_answers;
    uint32_t *slots; /* open addressing: index + 1 into answers, 0 = empty */
    size_t mask;
    sb_view *views; /* [0] global, then the tenants sorted by name */
    size_t n_views;
    sb_token *token_list;
    size_t n_tokens;
    pthread_mutex_t lazy;
    atomic_bool topology_ready;
    sb_body topology;
} sb_snapshot;

/**
 * Builds a snapshot, taking over the caller's references to docs, revs and tokens (NULL: none).
 * @param prev the previous snapshot, whose answers are reused where changes (n of them, the
 *        documents a write touched) cannot have affected them; NULL recomputes everything
 * @return a snapshot holding one reference (the caller's); aborts on out-of-memory
 */
sb_snapshot *sb_snapshot_build(json_t *docs, json_t *revs, json_t *tokens, uint64_t revision,
                               const sb_snapshot *prev, const sb_change *changes, size_t n);

/**
 * The answer for role and tenant. A tenant that has no document resolves as no tenant.
 * @return the entry, owned by s, or NULL when the role is unknown
 */
const sb_answer *sb_snapshot_answer(const sb_snapshot *s, const char *role, size_t role_len,
                                    const char *tenant, size_t tenant_len);
/** The /config body for tenant (NULL or unknown: the global one). */
const sb_body *sb_snapshot_config(sb_snapshot *s, const char *tenant, size_t tenant_len);
/** The /topology body. */
const sb_body *sb_snapshot_topology(sb_snapshot *s);

/**
 * What a write changes: compares every answer of before and after.
 * @param[out] plan when not NULL, a new array of {"role", "tenant", "before", "after"} for each
 *             answer that differs (before/after null where the answer does not exist)
 * @param[out] lost a new array of {"role", "tenant"}: the (role, tenant) pairs whose readers got
 *             an answer with a primary, or none at all, before, and get "primary": null after.
 *             A tenant with no answers of its own is read as the global answers: a new tenant,
 *             or a deleted one, loses a route only where the global answer differs. A role
 *             deleted with its answers is not counted; answers with no route before and after
 *             are not either.
 */
void sb_snapshot_diff(const sb_snapshot *before, const sb_snapshot *after, json_t **plan,
                      json_t **lost);

void sb_snapshot_unref(sb_snapshot *s);

/** Makes s the current snapshot, taking over the caller's reference (NULL: none). */
void sb_snapshot_publish(sb_snapshot *s);
/** A new reference to the current snapshot (NULL before the first publish). */
sb_snapshot *sb_snapshot_acquire(void);
/**
 * The current snapshot for a thread that keeps one reference in *cache (start with NULL):
 * the common case is one atomic load. The result stays valid until the next call with the
 * same cache; release the cache with sb_snapshot_unref at thread exit.
 */
sb_snapshot *sb_snapshot_current(sb_snapshot **cache);
/** hook runs on the publishing thread after each publish (set once, before the writer runs). */
void sb_snapshot_on_publish(void (*hook)(void));

#endif
