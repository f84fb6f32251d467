/*
 * The route table: for each endpoint its methods, path pattern, handler, metrics label and the
 * token scope it needs. One lookup per request drives dispatch, the Allow header of a 405,
 * authentication and the label the request is counted under.
 */
#ifndef SB_ROUTES_H
#define SB_ROUTES_H

#include <h2o.h>

#include "core/metrics.h"
#include "core/snapshot.h"

/* What a handler is called with: the request's snapshot, the token's name (admin routes) and
 * the pattern's captures, in order. */
typedef struct sb_call {
    sb_snapshot *s;
    const char *actor;
    int kind;        /* {kind}: an enum sb_kind */
    h2o_iovec_t arg; /* {role} or {id} (NUL-terminated, in the request's pool) */
} sb_call;

typedef int (*sb_handler_fn)(h2o_req_t *req, const sb_call *c);

typedef struct sb_route_def {
    const char *methods; /* space-separated; GET implies HEAD */
    const char *pattern; /* literal segments, {role}, {kind} (a kind), {id} (the rest: an id of
                            the kind), {any} (the rest: anything) */
    sb_handler_fn handler;
    enum sb_route label;
    int scope; /* SB_SCOPE_NONE, _READ (only under --read-auth) or _ADMIN */
} sb_route_def;

/* A request's place in the table, found once. */
typedef struct sb_found {
    const sb_route_def *route; /* the row to run; NULL: the pattern's methods do not include
                                  the request's (a 405), or no pattern matches (a 404) */
    const sb_route_def *first; /* the first row of the pattern that matched, or NULL */
    enum sb_route label;
    sb_call call;
} sb_found;

/** Finds req's route (no side effect). */
void sb_route_match(h2o_req_t *req, sb_found *m);
/** Authenticates, then runs the route, or answers 401/403, 405 (with Allow) or 404. */
int sb_route_run(h2o_req_t *req, sb_found *m);

#endif
