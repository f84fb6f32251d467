/*
 * The snapshot: everything the read path serves, computed once per store revision.
 *
 * A snapshot holds, per role, an entry: the global answer and the answers of the tenants that
 * shape it (they override the role, or switch the provider of one of its candidates), each with
 * its body bytes and ETag; every other (role, tenant) lookup is the global answer. It also holds
 * the documents for admin reads and the tokens. The writer thread builds one after each commit
 * and publishes it with one atomic pointer swap; serving threads pick it up on their next
 * request. A GET of a role is a hash lookup and a copy of prepared bytes: no store access, no
 * pipeline run.
 *
 * Building costs what the write can change: an index maps each document key to the roles whose
 * answers read it (sb_deps), so a write finds the roles it touches without looking at the
 * others; those roles get new entries and every other entry is shared, reference-counted, with
 * the previous snapshot. The new snapshot remembers which entries it replaced (its delta) until
 * sb_snapshot_seal, so that the plan of a write compares only those.
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
#include "store.h"
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

/* One role: its global answer and the answers of the tenants that shape it, shared between
 * snapshots. One allocation holds the struct, the tenant array and the reads. */
typedef struct sb_entry {
    atomic_uint refs;
    uint64_t hash;    /* sb_deps_key(SB_ROLES, role) */
    const char *role; /* owned by one of its answers */
    size_t role_len;
    sb_answer *global;   /* NULL when only tenants assign the role */
    sb_answer **tenants; /* sorted by tenant name */
    size_t n_tenants;
    const uint64_t *reads; /* every document key its answers read: a sorted sb_deps set */
    size_t n_reads;
} sb_entry;

/* A tenant's view (name NULL: the global one) and its lazily built /config body. */
typedef struct sb_view {
    char *name;
    atomic_bool ready;
    sb_body config;
} sb_view;

/* A document key and a role (or tenant) it leads to; arrays of them are sorted by key, then by
 * value. */
typedef struct sb_link {
    uint64_t key, value;
} sb_link;

/* The index from each document key to the roles whose answers read it (value: the role's
 * hash), shared between snapshots until a write changes what some role reads. */
typedef struct sb_index {
    atomic_uint refs;
    sb_link *links;
    size_t n;
} sb_index;

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
    sb_entry **entries;
    size_t n_entries;
    size_t n_global, n_tenant; /* answers held: global ones, and tenants' own */
    uint32_t *slots; /* open addressing on the role's hash: index + 1 into entries, 0 = empty */
    size_t mask;
    sb_view *views; /* [0] global, then the tenants sorted by name */
    size_t n_views;
    sb_link *switches; /* roles/<r> and providers/<p> keys -> the tenants (view index) that
                          override or switch them */
    size_t n_switches;
    sb_index *index;
    /* The entries this snapshot replaced in the one it was built from (old NULL: a new role;
     * new NULL: a role gone), sorted by role name; empty once sealed. */
    sb_entry **delta_old, **delta_new;
    size_t n_delta;
    sb_token *token_list;
    size_t n_tokens;
    pthread_mutex_t lazy;
    atomic_bool topology_ready;
    sb_body topology;
} sb_snapshot;

/**
 * Builds a snapshot, taking over the caller's references to docs, revs and tokens (NULL: none).
 * @param prev the previous snapshot, whose entries are reused where changes (n of them, the
 *        documents a write touched) cannot have affected them; NULL computes everything. The
 *        new snapshot holds its delta from prev until sb_snapshot_seal
 * @return a snapshot holding one reference (the caller's); aborts on out-of-memory
 */
sb_snapshot *sb_snapshot_build(json_t *docs, json_t *revs, json_t *tokens, uint64_t revision,
                               const sb_snapshot *prev, const sb_change *changes, size_t n);

/**
 * The answer for role and tenant: the tenant's own when it shapes the role, else the global one
 * (a tenant that has no document, or does not shape the role, reads the global answer).
 * @return the answer, owned by s, or NULL when the role is unknown
 */
const sb_answer *sb_snapshot_answer(const sb_snapshot *s, const char *role, size_t role_len,
                                    const char *tenant, size_t tenant_len);
/** The /config body for tenant (NULL or unknown: the global one). */
const sb_body *sb_snapshot_config(sb_snapshot *s, const char *tenant, size_t tenant_len);
/** The /topology body. */
const sb_body *sb_snapshot_topology(sb_snapshot *s);

/* What a write changes, for the readers of each (role, tenant): the counts are complete, the
 * listed changes one page of them. */
typedef struct sb_plan {
    size_t changes;    /* answers that differ for their readers */
    size_t global;     /* of which global answers (every tenant that does not shape the role) */
    json_t *tenants;   /* {tenant: answers that differ for that tenant's readers alone} */
    json_t *listed;    /* [{"role", "tenant", "before", "after"}], before/after null when absent */
    size_t from, next; /* the first listed change; the first one past the page (0: none, or
                          nothing was to be listed) */
    json_t *lost;      /* every {"role", "tenant"} that loses its route */
} sb_plan;

/**
 * The plan of the write that made after from the snapshot it was built from (after must still
 * hold its delta). A change is listed in plan order: by role, the global answer first,
 * then the tenants by name.
 *
 * An answer loses its route when what a reader of (role, tenant) gets goes from routed (or
 * nothing: the answer is new) to "primary": null. A tenant that does not shape a role reads the
 * global answer, so a tenant that stops shaping a role is compared with the global answer. A
 * role deleted with its answers is not counted; answers with no route before and after are not
 * either.
 * @param limit how many changes to list from the from-th (0: none, SIZE_MAX: all)
 */
void sb_snapshot_plan(const sb_snapshot *after, size_t from, size_t limit, sb_plan *out);
void sb_plan_clear(sb_plan *p);

/** Drops after's delta, releasing the replaced entries it kept: call before publishing. */
void sb_snapshot_seal(sb_snapshot *s);

/** Calls fn for every answer of s: each role's global answer, then its tenants'. */
void sb_snapshot_each(const sb_snapshot *s, void (*fn)(const sb_answer *a, void *ctx), void *ctx);

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
