/*
 * Long-poll watches: GET /config/<role>?wait=S and GET /topology?wait=S, with If-None-Match.
 * A watch whose tag is current waits, costing no thread: it is a struct in the request's pool,
 * linked into its serving thread's list and onto a timer. Every publish wakes every serving
 * thread once (sb_watch_published); each answers those of its watchers whose answer changed, and
 * only those. A watch that outlives S seconds is answered 304.
 *
 * Threading: an sb_watches belongs to one serving thread and is touched only on it.
 */
#ifndef SB_WATCH_H
#define SB_WATCH_H

#include <h2o.h>
#include <stdbool.h>

#include "core/metrics.h"
#include "core/snapshot.h"

#define SB_WAIT_MAX 60 /* seconds; longer waits are cut to this */

typedef struct sb_watches {
    h2o_loop_t *loop;
    h2o_linklist_t list;
    h2o_timeout_t timeouts[SB_WAIT_MAX]; /* [s - 1]: h2o 2.2 timers have one period each */
    bool timeout_ready[SB_WAIT_MAX];
    sb_metrics_thread *metrics;
} sb_watches;

void sb_watches_init(sb_watches *w, h2o_loop_t *loop, sb_metrics_thread *metrics);
/** Answers every watch with what it would get at its timeout, now (shutdown). */
void sb_watches_flush(sb_watches *w, sb_snapshot *s);
void sb_watches_dispose(sb_watches *w);

/** A new snapshot was published: answer the watches whose answer changed. */
void sb_watch_published(sb_watches *w, sb_snapshot *s);

/**
 * Makes req wait for role's answer (role NULL: the topology) to differ from etag, for at most
 * seconds (1..SB_WAIT_MAX). Always returns 0: the request is answered later.
 */
int sb_watch_start(sb_watches *w, h2o_req_t *req, const char *role, size_t role_len,
                   const char *tenant, size_t tenant_len, const char *etag, unsigned seconds);

#endif
