/*
 * Documents: validation of each kind's body against DESIGN.md, and JSON merge patch
 * (RFC 7396). Pure functions, safe from any thread.
 */
#ifndef SB_DOC_H
#define SB_DOC_H

#include <jansson.h>
#include <stdbool.h>

#include "store.h"

/* The most models a role's "fallbacks" may list: a failback chain stops at 16, and an answer's
 * cost (its dependencies, its size) grows with every model it names. */
#define SB_FALLBACKS_MAX 32

/**
 * Checks value as the body of a document of the given kind (enum sb_kind).
 * @param[out] errors an array to which one {"path": JSON pointer, "message": text} object is
 *             appended per problem found
 * @return 0 when the document is valid, -1 when at least one error was appended
 */
int sb_doc_validate(int kind, const json_t *value, json_t *errors);

/**
 * Applies an RFC 7396 merge patch. Neither argument is modified; unchanged parts of target
 * are shared with the result by reference.
 * @param target the current document, or NULL when there is none
 * @return a new reference to the patched value
 */
json_t *sb_merge_patch(const json_t *target, const json_t *patch);

/** Prefixes the path of every error in errors (from sb_doc_validate) with prefix. */
void sb_doc_errors_prefix(json_t *errors, const char *prefix);

/** Appends {"path": path, "message": message} to errors. */
void sb_doc_error(json_t *errors, const char *path, const char *message);

/**
 * Checks what no single document shows, on the documents a write would leave (docs, as
 * {kind: {id: document}}), for the changes it makes: a failback chain that loops, a tenant
 * override of a role with no global document, a role deleted while a tenant overrides it.
 * @param[out] errors one {"path", "message"} per problem; path is "/ops/<i>/..." when
 *             batch, else relative to the document
 * @param[out] warnings may be NULL: one {"key", "message"} per role or tenant role whose
 *             models all belong to one provider (accepted, but one outage takes it down)
 * @return 0, or -1 when errors were appended
 */
int sb_doc_semantics(const json_t *docs, const sb_change *changes, size_t n, bool batch,
                     json_t *errors, json_t *warnings);

/**
 * Checks a topology file: an object of kind -> id -> document ("revision" and "answers" are
 * ignored, so an export applies back). Every id and document is checked.
 * @return 0 when valid, -1 with one error per problem appended to errors
 */
int sb_topology_validate(const json_t *topology, json_t *errors);
#endif
