/*
 * What a handler uses to answer: replies (reply.c), tokens (auth.c), the query string, and
 * writes handed to the writer thread (write.c).
 */
#ifndef SB_REPLY_H
#define SB_REPLY_H

#include <h2o.h>
#include <jansson.h>
#include <stdbool.h>

#include "context.h"
#include "core/writer.h"
#include "parse.h"

/** A new, zeroed write for sb_req_submit_write; it is freed once answered. */
sb_write *sb_write_new(void);
/** Frees a write of sb_write_new that is not submitted, with what it owns. */
void sb_write_free(sb_write *w);
/** Submits a write built by an admin handler and answers the request when it is done. */
void sb_req_submit_write(h2o_req_t *req, struct sb_write *w);

/** Answers 503 with Retry-After: a limit is reached (why says which). Always returns 0. */
int sb_reply_unavailable(h2o_req_t *req, const char *why);
/** Sends a problem document (taken over); always returns 0, so `return sb_reply_problem(...)`. */
int sb_reply_problem(h2o_req_t *req, json_t *problem);
/** Sends body (taken over) as JSON; etag may be NULL. Always returns 0. */
int sb_reply_json(h2o_req_t *req, int status, json_t *body, const char *etag, uint64_t revision);
/**
 * Sends prepared bytes with their ETag, Cache-Control and revision, or a 304 when the
 * request's If-None-Match matches. A long-poll's answer is "Cache-Control: no-store", so that
 * a caching proxy in front passes the next one through instead of answering it at once; other
 * answers may be cached for the TTL. Always returns 0.
 */
int sb_reply_body(h2o_req_t *req, const sb_body *b, uint64_t revision, bool long_poll);
/** Sends prepared bytes (copied) with a content type. Always returns 0. */
int sb_reply_text(h2o_req_t *req, const char *content_type, const char *p, size_t len,
                  uint64_t revision);
/**
 * Sends bytes that live as long as the process (not copied) with their ETag and
 * "Cache-Control: no-cache", or a 304 when If-None-Match matches. Always returns 0.
 */
int sb_reply_static(h2o_req_t *req, const char *content_type, const char *etag, const char *p,
                    size_t len, uint64_t revision);
/** Sends a 304 with the headers already set. Always returns 0. */
int sb_reply_not_modified(h2o_req_t *req);
/** Whether an If-None-Match header (a list of tags, or "*") matches etag, weakly compared. */
bool sb_if_none_match(h2o_req_t *req, const char *etag);

/**
 * Checks the request's bearer token; on failure answers 401 or 403 and returns -1.
 * @param[out] actor the token's name, owned by s (may be NULL)
 */
int sb_require_scope(h2o_req_t *req, const sb_snapshot *s, int scope, const char **actor);

/** The value of query parameter name, or {NULL, 0}. */
h2o_iovec_t sb_query_param(h2o_req_t *req, const char *name);
/** Query parameter name as a whole number in [lo, hi] (0 <= lo), def when absent; -1 (answered
 *  400) when it is not one. */
int64_t sb_query_number(h2o_req_t *req, const char *name, int64_t def, int64_t lo, int64_t hi);

/** The writer's answers arriving on a serving thread (server.c registers it for each). */
void sb_writes_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages);

#endif
