/*
 * The handlers of the route table (routes.c), one per endpoint, grouped in one file per
 * resource: ops.c (/healthz, /readyz, /metrics, the dashboard), config.c (/config, /topology),
 * docs.c (/admin/<kind>[/<id>], rollback, txn), history.c (history, audit).
 */
#ifndef SB_HANDLERS_H
#define SB_HANDLERS_H

#include "routes.h"

int sb_h_health(h2o_req_t *req, const sb_call *c);
int sb_h_ready(h2o_req_t *req, const sb_call *c);
int sb_h_dashboard(h2o_req_t *req, const sb_call *c);
int sb_h_metrics(h2o_req_t *req, const sb_call *c);

int sb_h_config_all(h2o_req_t *req, const sb_call *c);
int sb_h_config(h2o_req_t *req, const sb_call *c);
int sb_h_topology(h2o_req_t *req, const sb_call *c);

int sb_h_list(h2o_req_t *req, const sb_call *c);
int sb_h_get_doc(h2o_req_t *req, const sb_call *c);
int sb_h_write_doc(h2o_req_t *req, const sb_call *c);
int sb_h_rollback(h2o_req_t *req, const sb_call *c);
int sb_h_txn(h2o_req_t *req, const sb_call *c);
int sb_h_admin_unknown(h2o_req_t *req, const sb_call *c);

int sb_h_history(h2o_req_t *req, const sb_call *c);
int sb_h_audit(h2o_req_t *req, const sb_call *c);

#endif
