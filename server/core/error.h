/*
 * Errors cross from the core to the HTTP layer as a kind, not as a reply: the core says what went
 * wrong, and the HTTP layer (http/problem.c) decides the status, type and title of the problem
 * document.
 */
#ifndef SB_ERROR_H
#define SB_ERROR_H

#include <jansson.h>

enum sb_problem_kind {
    SB_P_NONE,         /* nothing went wrong */
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

/* A failure: its kind, and the members of its problem document beside "type", "title" and
 * "status": {"detail"[, "errors"], …}. */
typedef struct sb_fault {
    int kind;
    json_t *members;
} sb_fault;

/**
 * A fault of kind with a detail (printf-style; made valid UTF-8, cut at 1 KiB) and errors
 * (taken over, may be NULL: an array of {"path", "message"}).
 */
sb_fault sb_fault_new(int kind, json_t *errors, const char *detail, ...)
    __attribute__((format(printf, 3, 4)));

#endif
