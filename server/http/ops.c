/* GET /healthz, /readyz, /metrics and / (the dashboard page). */
#include "dashboard.h"
#include "handlers.h"
#include "reply.h"

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
