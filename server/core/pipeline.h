/*
 * Filter-then-select: the resolution of one role's route from the documents alone.
 * Pure functions: no I/O, no globals. Safe from any thread on documents nobody modifies.
 */
#ifndef SB_PIPELINE_H
#define SB_PIPELINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "util.h"

/*
 * The document keys ("<kind>/<id>") an answer was computed from, as 64-bit hashes, including
 * keys looked up and not found: creating such a document can change the answer. The pipeline
 * appends to it (keys grows; free it); sb_deps_sort then makes it a sorted set. Exact but for
 * 64-bit hash collisions, however many documents an answer reads: a write recomputes only the
 * answers that read a document it changed.
 */
typedef struct sb_deps {
    uint64_t *keys;
    size_t n, cap;
} sb_deps;

/** The hash of "<kind>/<id>" that sb_deps holds. */
uint64_t sb_deps_key(int kind, const char *id);
uint64_t sb_deps_keyn(int kind, const char *id, size_t len);
void sb_deps_add(sb_deps *d, int kind, const char *id);
void sb_deps_add_key(sb_deps *d, uint64_t key);
/** Sorts d->keys and drops the repeats. */
void sb_deps_sort(sb_deps *d);
/** Whether key is in keys, a set of n keys sorted by sb_deps_sort. */
bool sb_deps_has(const uint64_t *keys, size_t n, uint64_t key);

/**
 * Follows the failback links from model `from`, appending each successor to out (which holds n
 * models already, the chain so far) until a model has no successor, the next one is already in
 * out (*repeat is then that model, else NULL), or out holds max.
 * @param deps every failback document consulted is added to it (may be NULL)
 * @return the number of models in out
 */
size_t sb_failback_walk(const json_t *docs, const char *from, const char **out, size_t n,
                        size_t max, sb_deps *deps, const char **repeat);

/**
 * Steps 2 and 3 for one assignment ({"primary", "fallbacks"?}): its primary and explicit
 * fallbacks, or its primary and failback chain (at most SB_CHAIN_MAX), deduplicated, at most max.
 * @return the number of models in out, which point into docs and assignment
 */
size_t sb_candidates(const json_t *docs, const json_t *assignment, const char **out, size_t max,
                     sb_deps *deps);

/**
 * Resolves role for tenant.
 * @param docs the configuration as {kind: {id: document}}; a missing kind is read as empty
 * @param tenant the tenant's name, or NULL; a tenant with no document resolves as NULL does
 * @return a new answer object {"role", "tenant", "primary", "fallbacks", "dropped"} in that
 *         key order, or NULL when neither the tenant nor the global configuration assigns role.
 *         "tenant" names the tenant only when its document shaped the answer: it overrides the
 *         role, or switches ("providers": {p: {"enabled": …}}) the provider of a candidate.
 *         Otherwise it is null and the answer is the global one, byte for byte.
 */
json_t *sb_resolve(const json_t *docs, const char *role, const char *tenant);

/**
 * The same resolution, appended to out as the answer's canonical JSON bytes (the bytes
 * json_dumps(sb_resolve(...), JSON_COMPACT) gives).
 * @param[out] deps every document key consulted is added to it (may be NULL)
 * @param[out] routed whether the answer has a primary (may be NULL)
 * @return 0, or -1 (nothing appended) when the role is not assigned
 */
int sb_resolve_text(const json_t *docs, const char *role, const char *tenant, sb_buf *out,
                    sb_deps *deps, bool *routed);

/*
 * Steps 1 to 3 of one (role, tenant), and each candidate's provider: what steps 4 and 5 filter.
 * A chain built for everyone serves every tenant that does not override the role.
 */
typedef struct sb_chain {
    const char **models;    /* the n candidates, in order (pointing into the documents) */
    size_t *providers;      /* internal: where each one's provider name is (sb_chain_provider) */
    const json_t **enabled; /* each one's global switch ("enabled" of providers/<p>), or NULL */
    size_t n, cap;
    sb_buf names; /* internal: provider names made from a model's prefix */
    sb_deps deps; /* the sorted set of document keys the chain was read from */
    bool own;     /* the tenant's override assigned it: the tenant shapes the answer */
} sb_chain;

/**
 * Builds role's chain for tenant (NULL: everyone) into c (start from {0}; reusable; free with
 * sb_chain_free).
 * @return 0, or -1 when the role is not assigned (c->deps still says what was looked up)
 */
int sb_chain_build(const json_t *docs, const char *role, const char *tenant, sb_chain *c);
/** The provider of the chain's candidate i, or NULL. */
const char *sb_chain_provider(const sb_chain *c, const json_t *docs, size_t i);
void sb_chain_free(sb_chain *c);

/* Scratch space for sb_resolve_scratch and sb_render, reusable across calls; shaped says whether
 * the tenant shaped the last answer (its "tenant" is not null). */
typedef struct sb_scratch {
    sb_buf kept, dropped;
    sb_chain chain;
    bool shaped;
} sb_scratch;

/**
 * Steps 4 and 5: the answer's canonical bytes for chain, read by tenant (NULL: everyone),
 * appended to out. A chain built for everyone gives a tenant that does not override the role
 * the same answer sb_resolve_text gives for that tenant.
 */
void sb_render(const json_t *docs, const sb_chain *chain, const char *role, const char *tenant,
               sb_buf *out, bool *routed, sb_scratch *scratch);
void sb_scratch_free(sb_scratch *s);

/** sb_resolve_text with caller-owned scratch buffers, for building many answers in a row. */
int sb_resolve_scratch(const json_t *docs, const char *role, const char *tenant, sb_buf *out,
                       sb_deps *deps, bool *routed, sb_scratch *scratch);

/**
 * The provider that serves model: models/<id>.provider when that document exists, else the
 * text before the first '/', else NULL.
 * @param[out] buf holds a prefix-derived name; it must have room for 201 bytes
 * @return a string owned by docs or by buf, or NULL
 */
const char *sb_model_provider(const json_t *docs, const char *model, char buf[201]);

#endif
