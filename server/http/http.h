/*
 * The HTTP side of the daemon: h2o event loops, one per serving thread, and the helpers every
 * handler uses to answer. Only http*.c and h_*.c include h2o; the rest of the daemon does not
 * know HTTP exists.
 *
 * Threading: each serving thread owns an h2o context, its event loop and its snapshot cache;
 * a request is handled entirely on the thread that accepted its connection. The global
 * configuration (sb_http_opts, h2o_globalconf_t) is read-only once the threads run.
 */
#ifndef SB_HTTP_H
#define SB_HTTP_H

#include <h2o.h>
#include <jansson.h>
#include <stdbool.h>

#include "parse.h"
#include "core/snapshot.h"
#include "core/writer.h"

/* The defaults of the limits. Measured, an idle keep-alive connection costs the server about
 * 1 KiB and a waiting long-poll about 10 KiB (plus the kernel's socket buffers), so even both
 * limits reached fit a 1 GiB machine, while a flood of connections can take no more. */
#define SB_MAX_CONNECTIONS 10000
#define SB_MAX_WATCHES     10000
#define SB_RETRY_AFTER     "2" /* seconds, on a 503 for a limit */

typedef struct sb_http_opts {
    const char *const *listen; /* "ADDR:PORT" each; "[::1]:8080" for IPv6 */
    size_t n_listen;
    unsigned threads;
    unsigned ttl;
    bool read_auth;
    unsigned max_connections; /* open connections; one more is answered 503 and closed */
    unsigned max_watches;     /* long-polls waiting at once; one more is answered 503 */
    const char *tls_cert, *tls_key;
    sb_store *store; /* for the admin reads of history and audit */
} sb_http_opts;

/**
 * Blocks SIGINT and SIGTERM in the calling thread and every thread it creates later; call it
 * first thing, so that a signal during start-up waits for sb_http_serve's orderly shutdown.
 */
void sb_http_block_signals(void);

/**
 * Serves until SIGINT or SIGTERM, then shuts down gracefully: stops accepting, finishes the
 * requests in flight (including queued writes) and closes idle connections.
 * The writer must be running and a snapshot published.
 * @return 0 after a clean shutdown, -1 when the server could not start (logged)
 */
int sb_http_serve(const sb_http_opts *opts);

/* ---- for the handlers ---- */

/** The current snapshot for the request's thread; valid until the handler returns. */
sb_snapshot *sb_req_snapshot(h2o_req_t *req);
const sb_http_opts *sb_req_opts(void);
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
/** Says which route (enum sb_route) and start time the next answer on req's thread counts
 *  under: for answers sent later than the request's own on_req (writes, watches). */
void sb_req_answering(h2o_req_t *req, int route, int64_t start_ns);
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

/** The watches of the request's thread. */
struct sb_watches *sb_req_watches(h2o_req_t *req);

#endif
