/*
 * RFC 9457 problem documents. Every error the API returns is built here, so that the same
 * kind of failure always has the same type, title and status.
 */
#ifndef SB_PROBLEM_H
#define SB_PROBLEM_H

#include <jansson.h>

enum sb_problem_kind {
    SB_P_BAD_JSON,     /* 400 */
    SB_P_BAD_REQUEST,  /* 400 */
    SB_P_UNAUTHORIZED, /* 401 */
    SB_P_FORBIDDEN,    /* 403 */
    SB_P_NOT_FOUND,    /* 404 */
    SB_P_METHOD,       /* 405 */
    SB_P_CONFLICT,     /* 409 */
    SB_P_PRECONDITION, /* 412 */
    SB_P_TOO_LARGE,    /* 413 */
    SB_P_INVALID,      /* 422 */
    SB_P_INTERNAL,     /* 500 */
    SB_P_UNAVAILABLE,  /* 503 */
    SB_P_COUNT
};

/**
 * A new problem document {"type", "title", "status", "detail"[, "errors"]}.
 * @param detail printf-style format of the human-readable detail
 * @param errors taken over (may be NULL): an array of {"path", "message"}
 */
json_t *sb_problem(int kind, json_t *errors, const char *detail, ...)
    __attribute__((format(printf, 3, 4)));

#endif
