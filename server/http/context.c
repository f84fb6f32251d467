/*
 * The request's context: its serving thread's snapshot cache, watches, metrics slot and the
 * route it is answered under (see context.h).
 */
#include "context.h"

#include <stdio.h>

static const sb_http_opts *opts;
static char cache_control[32]; /* "max-age=<ttl>" */

void sb_ctx_set_opts(const sb_http_opts *o)
{
    opts = o;
    snprintf(cache_control, sizeof cache_control, "max-age=%u", o->ttl);
}

const char *sb_ctx_cache_control(void)
{
    return cache_control;
}

const sb_http_opts *sb_req_opts(void)
{
    return opts;
}

sb_ctx *sb_ctx_of(h2o_req_t *req)
{
    return (sb_ctx *)req->conn->ctx; /* the h2o context is an sb_ctx's first member */
}

sb_snapshot *sb_req_snapshot(h2o_req_t *req)
{
    return sb_snapshot_current(&sb_ctx_of(req)->snap);
}

sb_watches *sb_req_watches(h2o_req_t *req)
{
    return &sb_ctx_of(req)->watches;
}

/* Every answer is counted here, on its thread, with the route and start of the request. */
void sb_ctx_count(h2o_req_t *req)
{
    sb_ctx *t = sb_ctx_of(req);
    int64_t ns = t->route == SB_R_WATCH ? -1 : sb_metrics_now_ns() - t->start_ns;
    sb_metrics_count(t->metrics, t->route, req->res.status, ns);
}

void sb_req_answering(h2o_req_t *req, int route, int64_t start_ns)
{
    sb_ctx *t = sb_ctx_of(req);
    t->route = (enum sb_route)route;
    t->start_ns = start_ns;
}
