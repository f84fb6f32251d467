/*
 * Filter-then-select: the resolution of one role's route from the documents alone.
 * A pure function: no I/O, no globals, no allocation beyond its result. Safe from any thread
 * on documents nobody modifies.
 */
#ifndef SB_PIPELINE_H
#define SB_PIPELINE_H

#include <jansson.h>

/**
 * Resolves role for tenant.
 * @param docs the configuration as {kind: {id: document}}; a missing kind is read as empty
 * @param role the role's name
 * @param tenant the tenant's name, or NULL for none; a tenant with no document has no
 *        overrides and resolves as NULL does
 * @return a new answer object {"role", "tenant", "primary", "fallbacks", "dropped"} with the
 *         keys in that order, or NULL when neither the tenant nor the global configuration
 *         assigns the role (the caller's 404)
 */
json_t *sb_resolve(const json_t *docs, const char *role, const char *tenant);

/**
 * The provider that serves model id: models/<id>.provider when that document exists, else the
 * text before the first '/', else NULL.
 * @param[out] buf holds a prefix-derived name; must have room for 201 bytes
 * @return a string owned by docs or by buf, or NULL
 */
const char *sb_model_provider(const json_t *docs, const char *model, char buf[201]);

#endif
