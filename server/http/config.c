/*
 * The read API, the hot path: GET /config/<role>, /config and /topology, each with ?tenant=, and
 * their long-polls (?wait=). Every answer is a lookup in the thread's current snapshot and a copy
 * of prepared bytes.
 */
#include "handlers.h"
#include "problem.h"
#include "reply.h"

#include <string.h>

/* ?wait=S as whole seconds, cut to SB_WAIT_MAX; 0 when absent; -1 (answered 400) when bad. */
static int wait_seconds(h2o_req_t *req)
{
    int64_t n = sb_query_number(req, "wait", 0, 0, INT64_MAX / 2);
    return n > SB_WAIT_MAX ? SB_WAIT_MAX : (int)n;
}

/* Answers with b now, or, for a long-poll whose If-None-Match is b's tag, when b changes. */
static int reply_or_watch(h2o_req_t *req, sb_snapshot *s, const sb_body *b, const char *role,
                          size_t role_len, h2o_iovec_t tenant)
{
    int wait = wait_seconds(req);
    if (wait < 0)
        return 0;
    if (wait > 0 && sb_if_none_match(req, b->etag))
        return sb_watch_start(sb_req_watches(req), req, role, role_len, tenant.base, tenant.len,
                              b->etag, (unsigned)wait);
    return sb_reply_body(req, b, s->revision, wait > 0);
}

/* ?tenant=, a name or absent; -1 (answered 400) when it is not a name. */
static int tenant_param(h2o_req_t *req, h2o_iovec_t *tenant)
{
    *tenant = sb_query_param(req, "tenant");
    if (tenant->base != NULL && !sb_name_valid(tenant->base, tenant->len))
        return sb_reply_problem(req, sb_problem(SB_P_BAD_REQUEST, NULL,
                                                "tenant must be a name matching "
                                                "^[a-z0-9][a-z0-9._-]{0,63}$")),
               -1;
    return 0;
}

int sb_h_config_all(h2o_req_t *req, const sb_call *c)
{
    h2o_iovec_t tenant;
    if (tenant_param(req, &tenant) != 0)
        return 0;
    return sb_reply_body(req, sb_snapshot_config(c->s, tenant.base, tenant.len), c->s->revision,
                         false);
}

int sb_h_config(h2o_req_t *req, const sb_call *c)
{
    h2o_iovec_t tenant;
    if (tenant_param(req, &tenant) != 0)
        return 0;
    const char *role = c->arg.base;
    size_t rlen = c->arg.len;
    const sb_answer *a = sb_name_valid(role, rlen)
                             ? sb_snapshot_answer(c->s, role, rlen, tenant.base, tenant.len)
                             : NULL;
    if (a == NULL)
        return sb_reply_problem(req, sb_problem(SB_P_NOT_FOUND, NULL, "no role named '%.*s'",
                                                (int)(rlen > 64 ? 64 : rlen), role));
    return reply_or_watch(req, c->s, &a->body, role, rlen, tenant);
}

int sb_h_topology(h2o_req_t *req, const sb_call *c)
{
    h2o_iovec_t tenant;
    if (tenant_param(req, &tenant) != 0)
        return 0;
    return reply_or_watch(req, c->s, sb_snapshot_topology(c->s), NULL, 0, (h2o_iovec_t){NULL, 0});
}
