/*
 * RFC 9457 problem documents. Every error the API returns is built here, so that the same
 * kind of failure always has the same type, title and status.
 */
#ifndef SB_PROBLEM_H
#define SB_PROBLEM_H

#include <jansson.h>

#include "core/error.h"

/**
 * A new problem document {"type", "title", "status", "detail"[, "errors"]}.
 * @param detail printf-style format of the human-readable detail
 * @param errors taken over (may be NULL): an array of {"path", "message"}
 */
json_t *sb_problem(int kind, json_t *errors, const char *detail, ...)
    __attribute__((format(printf, 3, 4)));

/** The problem document of a fault from the core (its members taken over). */
json_t *sb_problem_of(sb_fault f);
/** The HTTP status of a kind. */
int sb_problem_status(int kind);

#endif
