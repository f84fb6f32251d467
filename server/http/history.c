/* GET /admin/<kind>/<id>/history and /admin/audit: what changed, page by page. */
#include "handlers.h"
#include "problem.h"
#include "reply.h"

/* ?since=REV&limit=N of a paginated listing; -1 when one was bad (answered 400). *since is
 * SB_STORE_NEWEST when the request has no since. */
static int page_params(h2o_req_t *req, uint64_t *since, size_t *limit)
{
    bool given = sb_query_param(req, "since").base != NULL;
    int64_t from = sb_query_number(req, "since", 0, 0, INT64_MAX / 2);
    int64_t n = from < 0 ? -1 : sb_query_number(req, "limit", 100, 1, 1000);
    *since = given ? (uint64_t)from : SB_STORE_NEWEST;
    *limit = (size_t)n;
    return n < 0 ? -1 : 0;
}

static json_t *next_page(uint64_t next)
{
    return next ? json_integer((json_int_t)next) : json_null();
}

/* GET /admin/<kind>/<id>/history?since=REV&limit=N */
static int history(h2o_req_t *req, const sb_snapshot *s, int kind, const char *id)
{
    uint64_t since, next;
    size_t limit;
    if (page_params(req, &since, &limit) != 0)
        return 0;
    if (since == SB_STORE_NEWEST) /* a document's history starts at its first version */
        since = 0;
    json_t *versions;
    int rc = sb_store_history(sb_req_opts()->store, kind, id, since, limit, &versions, &next);
    if (rc != 0)
        return sb_reply_problem(req, sb_problem(SB_P_UNAVAILABLE, NULL, "the store: %s",
                                                sb_store_error(sb_req_opts()->store, rc)));
    if (json_array_size(versions) == 0 && since == 0) {
        json_decref(versions);
        return sb_reply_problem(
            req, sb_problem(SB_P_NOT_FOUND, NULL, "%s/%s has no history", sb_kind_names[kind], id));
    }
    char key[300];
    snprintf(key, sizeof key, "%s/%s", sb_kind_names[kind], id);
    return sb_reply_json(
        req, 200,
        json_pack("{s:s, s:o, s:o}", "key", key, "versions", versions, "next", next_page(next)),
        NULL, s->revision);
}

/* GET /admin/audit[?since=REV][&limit=N]: without since, the newest page */
static int audit(h2o_req_t *req, const sb_snapshot *s)
{
    uint64_t since, next;
    size_t limit;
    if (page_params(req, &since, &limit) != 0)
        return 0;
    json_t *entries;
    int rc = sb_store_audit(sb_req_opts()->store, since, limit, &entries, &next);
    if (rc != 0)
        return sb_reply_problem(req, sb_problem(SB_P_UNAVAILABLE, NULL, "the store: %s",
                                                sb_store_error(sb_req_opts()->store, rc)));
    return sb_reply_json(req, 200,
                         json_pack("{s:o, s:o}", "entries", entries, "next", next_page(next)), NULL,
                         s->revision);
}

int sb_h_history(h2o_req_t *req, const sb_call *c)
{
    return history(req, c->s, c->kind, c->arg.base);
}

int sb_h_audit(h2o_req_t *req, const sb_call *c)
{
    return audit(req, c->s);
}
