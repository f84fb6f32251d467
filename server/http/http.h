/*
 * server/http/: the HTTP side of the daemon. It may include core/ and h2o (never store/: it
 * reaches the store through core's interface); nothing else of the daemon includes h2o.
 *
 *   server.c   event loops (one per serving thread), listeners, limits, framing, shutdown
 *   routes.c   the route table: dispatch, Allow, authentication, metrics labels
 *   context.c  a request's thread: snapshot cache, watches, metrics slot (context.h)
 *   reply.c    every answer; auth.c tokens; write.c writes to the writer thread and back
 *              (what a handler uses: reply.h)
 *   ops.c, config.c, docs.c, history.c, watch.c: one file per resource (handlers.h)
 *   parse.c    what a request's headers and query carry, pure; problem.c problem documents
 *
 * This header is the server's: its options, starting it and stopping it.
 * Threading: each serving thread owns an h2o context, its event loop and its snapshot cache;
 * a request is handled entirely on the thread that accepted its connection. The global
 * configuration (sb_http_opts, h2o_globalconf_t) is read-only once the threads run.
 */
#ifndef SB_HTTP_H
#define SB_HTTP_H

#include <h2o.h>
#include <jansson.h>
#include <stdbool.h>

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

#endif
