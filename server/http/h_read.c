/*
 * The read API, the hot path: GET /config/<role>, /config, /topology, /healthz, /readyz, /metrics
 * and / (the dashboard page).
 * Every answer is a lookup in the thread's current snapshot and a copy of prepared bytes.
 */
#include "dashboard.h"
#include "handlers.h"
#include "http.h"
#include "core/metrics.h"
#include "problem.h"
#include "watch.h"

#include <stdlib.h>
#include <string.h>

/* GET /: the dashboard. Served without a token even under --read-auth: the page holds no data,
 * and asks for a token when its own reads are refused. */
static int reply_dashboard(h2o_req_t *req, uint64_t revision)
{
    static const struct {
        const char *name, *value;
    } headers[] = {
        {"content-security-policy", sb_dashboard_csp},
        {"x-content-type-options", "nosniff"},
        {"referrer-policy", "no-referrer"},
    };
    for (size_t i = 0; i < sizeof headers / sizeof *headers; i++)
        h2o_add_header_by_str(&req->pool, &req->res.headers, headers[i].name,
                              strlen(headers[i].name), 0, NULL, headers[i].value,
                              strlen(headers[i].value));
    return sb_reply_static(req, "text/html; charset=utf-8", sb_dashboard_etag, sb_dashboard_html,
                           sb_dashboard_len, revision);
}

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

int sb_h_health(h2o_req_t *req, const sb_call *c)
{
    return sb_reply_json(req, 200, json_pack("{s:s}", "status", "ok"), NULL, c->s->revision);
}

int sb_h_ready(h2o_req_t *req, const sb_call *c)
{
    return sb_reply_json(
        req, 200,
        json_pack("{s:s, s:I}", "status", "ready", "revision", (json_int_t)c->s->revision), NULL,
        c->s->revision);
}

int sb_h_dashboard(h2o_req_t *req, const sb_call *c)
{
    return reply_dashboard(req, c->s->revision);
}

int sb_h_metrics(h2o_req_t *req, const sb_call *c)
{
    const sb_snapshot *s = c->s;
    sb_metrics_state st = {s->revision, s->n_global, s->n_tenant, 0, 0};
    size_t n;
    sb_store_usage(sb_req_opts()->store, &st.map_used, &st.map_size);
    char *text = sb_metrics_render(&st, &n);
    sb_reply_text(req, "text/plain; version=0.0.4; charset=utf-8", text, n, s->revision);
    free(text);
    return 0;
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
