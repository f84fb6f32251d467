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

/* A 256-bit Bloom filter of the document keys ("<kind>/<id>") an answer was computed from,
 * including keys looked up and not found: creating such a document can change the answer. */
typedef struct sb_deps {
    uint64_t bits[4];
} sb_deps;

void sb_deps_add(sb_deps *d, int kind, const char *id);
/** Whether set may hold key, a filter made by one sb_deps_add (false: it certainly does not). */
bool sb_deps_may_have(const sb_deps *set, const sb_deps *key);

/**
 * Resolves role for tenant.
 * @param docs the configuration as {kind: {id: document}}; a missing kind is read as empty
 * @param tenant the tenant's name, or NULL; a tenant with no document resolves as NULL does
 * @return a new answer object {"role", "tenant", "primary", "fallbacks", "dropped"} in that
 *         key order, or NULL when neither the tenant nor the global configuration assigns role
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

/** Scratch space for sb_resolve_scratch, reusable across calls; free(s.kept.p), free(s.dropped.p).
 */
typedef struct sb_scratch {
    sb_buf kept, dropped;
} sb_scratch;

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
