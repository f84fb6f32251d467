/*
 * A request's context: the serving thread it runs on, which owns an h2o context, its snapshot
 * cache, its watches, its metrics slot, the receiver of its writes' answers, and the route its
 * current answer is counted under. server.c makes one per thread; everything else reaches it
 * from the request.
 */
#ifndef SB_CONTEXT_H
#define SB_CONTEXT_H

#include <h2o.h>
#include <stdint.h>

#include "core/metrics.h"
#include "core/snapshot.h"
#include "http.h"
#include "watch.h"

typedef struct sb_ctx {
    h2o_context_t h2o; /* first: a request's conn->ctx is its sb_ctx */
    sb_snapshot *snap; /* this thread's reference to the current snapshot */
    sb_metrics_thread *metrics;
    sb_watches watches;
    h2o_multithread_receiver_t writes; /* the writer's answers (write.c) */
    enum sb_route route;               /* of the request being answered, for the metrics */
    int64_t start_ns;                  /* when it came in */
} sb_ctx;

/** The server's options, set once before the threads run. */
void sb_ctx_set_opts(const sb_http_opts *o);
const sb_http_opts *sb_req_opts(void);
/** The Cache-Control of answers: "max-age=<ttl>". */
const char *sb_ctx_cache_control(void);

sb_ctx *sb_ctx_of(h2o_req_t *req);
/** The current snapshot for the request's thread; valid until the handler returns. */
sb_snapshot *sb_req_snapshot(h2o_req_t *req);
/** The watches of the request's thread. */
sb_watches *sb_req_watches(h2o_req_t *req);
/** Says which route (enum sb_route) and start time the next answer on req's thread counts
 *  under: for answers sent later than the request's own on_req (writes, watches). */
void sb_req_answering(h2o_req_t *req, int route, int64_t start_ns);
/** Counts the answer being sent (reply.c calls it for every one). */
void sb_ctx_count(h2o_req_t *req);

#endif
