/*
 * The documents: GET/PUT/PATCH/DELETE /admin/<kind>[/<id>], rollback and POST /admin/txn. Reads
 * come from the snapshot; writes are parsed and checked for form here, then handed to the writer
 * thread (writer.c), which checks them against the current state and answers.
 */
#include "handlers.h"
#include "reply.h"
#include "common/names.h"
#include "core/doc.h"
#include "problem.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPS    10000
#define MAX_REASON 1024

static bool method_is(h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

/* Parses the request body as JSON, or answers 400/413 and returns NULL. */
static json_t *parse_body(h2o_req_t *req, size_t max)
{
    json_error_t err;
    if (req->entity.len > max) {
        sb_reply_problem(req, sb_problem(SB_P_TOO_LARGE, NULL,
                                         "the body has %zu bytes; the limit is %zu",
                                         req->entity.len, max));
        return NULL;
    }
    json_t *v = json_loadb(req->entity.base ? req->entity.base : "", req->entity.len,
                           JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
    if (v == NULL)
        sb_reply_problem(req, sb_problem(SB_P_BAD_JSON, NULL, "line %d, column %d: %s", err.line,
                                         err.column, err.text));
    return v;
}

/* The If-Match header into *m (SB_MATCH_NONE when absent); -1 when malformed (answered 400). */
static int if_match(h2o_req_t *req, sb_match *m)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_IF_MATCH, -1);
    *m = (sb_match){SB_MATCH_NONE, 0};
    if (i == -1 || sb_parse_if_match(req->headers.entries[i].value.base,
                                     req->headers.entries[i].value.len, m) == 0)
        return 0;
    return sb_reply_problem(req, sb_problem(SB_P_BAD_REQUEST, NULL,
                                            "If-Match must be \"r<revision>\" (the document's "
                                            "ETag, a revision up to %lld) or *",
                                            (long long)INT64_MAX)),
           -1;
}

/* X-Change-Reason, cut to MAX_REASON bytes on a character boundary, into *out (NULL when absent);
 * -1 when it is not UTF-8 (answered 400): it goes into the audit, history and log as text. */
static int change_reason(h2o_req_t *req, char **out)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-change-reason"), -1);
    *out = NULL;
    if (i == -1)
        return 0;
    h2o_iovec_t v = req->headers.entries[i].value;
    if (!sb_utf8_valid(v.base, v.len) || memchr(v.base, '\0', v.len) != NULL)
        return sb_reply_problem(
                   req, sb_problem(SB_P_BAD_REQUEST, NULL, "X-Change-Reason must be UTF-8 text")),
               -1;
    *out = sb_xstrndup(v.base, sb_utf8_cut(v.base, v.len, MAX_REASON));
    return 0;
}

/* The trace id of the request's W3C traceparent header, or a new one when it has none valid. */
static void trace_id(h2o_req_t *req, char out[33])
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("traceparent"), -1);
    if (i != -1 && sb_parse_traceparent(req->headers.entries[i].value.base,
                                        req->headers.entries[i].value.len, out))
        return;
    unsigned char raw[16];
    RAND_bytes(raw, sizeof raw);
    for (int k = 0; k < 16; k++)
        snprintf(out + 2 * k, 3, "%02x", raw[k]);
}

/* A flag in the query string: 1 or 0 (absent is 0); -1 when its value is not one of
 * sb_parse_flag's (answered 400). */
static int query_flag(h2o_req_t *req, const char *name)
{
    h2o_iovec_t v = sb_query_param(req, name);
    int flag = v.base == NULL ? 0 : sb_parse_flag(v.base, v.len);
    if (flag < 0)
        sb_reply_problem(req, sb_problem(SB_P_BAD_REQUEST, NULL,
                                         "?%s takes no value, or 1, true, 0 or false", name));
    return flag;
}

/* Which of a plan's changes the answer lists: ?changes=all, or a page of SB_PLAN_PAGE from
 * ?changes_from=K (default 0). -1 when a value is neither (answered 400). */
static int plan_page(h2o_req_t *req, sb_write *w)
{
    h2o_iovec_t all = sb_query_param(req, "changes"), from = sb_query_param(req, "changes_from");
    int64_t k = 0;
    w->changes_limit = SB_PLAN_PAGE;
    if (all.base != NULL && !(all.len == 3 && memcmp(all.base, "all", 3) == 0))
        return sb_reply_problem(
                   req, sb_problem(SB_P_BAD_REQUEST, NULL, "?changes takes one value: all")),
               -1;
    if (from.base != NULL && sb_parse_number(from.base, from.len, &k) != 0)
        return sb_reply_problem(req, sb_problem(SB_P_BAD_REQUEST, NULL,
                                                "?changes_from must be a number of changes")),
               -1;
    if (all.base != NULL)
        w->changes_limit = SIZE_MAX;
    w->changes_from = (size_t)k;
    return 0;
}

/* A write of n_ops operations with the request's trace, flags and reason; NULL when the request
 * is refused (answered). */
static sb_write *new_write(h2o_req_t *req, const char *actor, size_t n_ops)
{
    char *reason;
    int dry_run = query_flag(req, "dry_run"), force = dry_run < 0 ? -1 : query_flag(req, "force");
    if (force < 0 || change_reason(req, &reason) != 0)
        return NULL;
    sb_write *w = sb_write_new();
    trace_id(req, w->trace_id);
    w->dry_run = dry_run;
    w->force = force;
    if (plan_page(req, w) != 0) {
        free(reason);
        sb_write_free(w);
        return NULL;
    }
    w->ops = calloc(n_ops, sizeof *w->ops);
    if (w->ops == NULL)
        sb_json_check(NULL);
    w->n_ops = n_ops;
    w->actor = actor ? strdup(actor) : NULL;
    w->reason = reason;
    return w;
}

static json_t *list_kind(const sb_snapshot *s, int kind)
{
    const json_t *docs = json_object_get(s->docs, sb_kind_names[kind]);
    const json_t *revs = json_object_get(s->revs, sb_kind_names[kind]);
    json_t *items = json_array();
    const char *id;
    json_t *v;
    json_object_foreach ((json_t *)docs, id, v)
        json_array_append_new(items, json_pack("{s:s, s:O, s:O}", "id", id, "revision",
                                               json_object_get(revs, id), "value", v));
    return json_pack("{s:s, s:I, s:o}", "kind", sb_kind_names[kind], "revision",
                     (json_int_t)s->revision, "items", items);
}

static int get_doc(h2o_req_t *req, const sb_snapshot *s, int kind, const char *id)
{
    json_t *v = json_object_get(json_object_get(s->docs, sb_kind_names[kind]), id);
    if (v == NULL)
        return sb_reply_problem(
            req, sb_problem(SB_P_NOT_FOUND, NULL, "%s/%s does not exist", sb_kind_names[kind], id));
    char etag[24];
    sb_revision_tag((uint64_t)json_integer_value(
                        json_object_get(json_object_get(s->revs, sb_kind_names[kind]), id)),
                    etag);
    if (sb_if_none_match(req, etag)) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ETAG, NULL,
                       h2o_strdup(&req->pool, etag, SIZE_MAX).base, strlen(etag));
        return sb_reply_not_modified(req);
    }
    return sb_reply_json(req, 200, json_incref(v), etag, s->revision);
}

/* PUT, PATCH or DELETE of one document. */
static int write_doc(h2o_req_t *req, const char *actor, int type, int kind, const char *id)
{
    sb_match match;
    if (if_match(req, &match) != 0)
        return 0;
    bool create_only = false;
    ssize_t inm = h2o_find_header(&req->headers, H2O_TOKEN_IF_NONE_MATCH, -1);
    if (inm != -1) {
        h2o_iovec_t v = req->headers.entries[inm].value;
        if (type != SB_OP_PUT || v.len != 1 || v.base[0] != '*')
            return sb_reply_problem(req, sb_problem(SB_P_BAD_REQUEST, NULL,
                                                    "a write takes only If-None-Match: * "
                                                    "(create, never replace), on PUT"));
        create_only = true;
    }
    json_t *value = NULL;
    if (type != SB_OP_DELETE && (value = parse_body(req, SB_DOC_MAX)) == NULL)
        return 0;
    sb_write *w = new_write(req, actor, 1);
    if (w == NULL) {
        json_decref(value);
        return 0;
    }
    w->ops[0] = (sb_op){.type = type,
                        .kind = kind,
                        .id = strdup(id),
                        .value = value,
                        .if_match = match,
                        .if_none_match = create_only};
    sb_req_submit_write(req, w);
    return 0;
}

/* POST /admin/txn: {"ops": [{"op", "key", "value"[, "if_match"]}]}, all or nothing. */
static int txn(h2o_req_t *req, const char *actor)
{
    json_t *body = parse_body(req, SIZE_MAX), *errors = json_array();
    if (body == NULL) {
        json_decref(errors);
        return 0;
    }
    json_t *ops = json_object_get(body, "ops");
    size_t n = json_array_size(ops);
    if (!json_is_object(body) || !json_is_array(ops) || n == 0 || n > MAX_OPS ||
        json_object_size(body) != 1) {
        json_decref(body);
        json_decref(errors);
        return sb_reply_problem(req, sb_problem(SB_P_INVALID, NULL,
                                                "expected {\"ops\": [...]} with 1 to %d operations",
                                                MAX_OPS));
    }
    sb_write *w = new_write(req, actor, n);
    if (w == NULL) {
        json_decref(body);
        json_decref(errors);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        static const char *const names[] = {"put", "patch", "delete"};
        static const char bad_match[] = "if_match must be a revision number (0 or more)";
        json_t *o = json_array_get(ops, i);
        const char *opname = json_string_value(json_object_get(o, "op"));
        const char *key = json_string_value(json_object_get(o, "key"));
        json_t *value = json_object_get(o, "value");
        json_t *im = json_object_get(o, "if_match");
        char path[64];
        int type = -1;
        for (int t = 0; opname && t < 3; t++)
            if (strcmp(opname, names[t]) == 0)
                type = t;
        const char *slash = key ? strchr(key, '/') : NULL;
        int kind = slash ? sb_kind_lookup(key, (size_t)(slash - key)) : -1;
        const char *problem =
            !json_is_object(o) ? "must be an object"
            : type < 0         ? "op must be put, patch or delete"
            : kind < 0         ? "key must be <kind>/<id> with a known kind"
            : !sb_id_valid(kind, slash + 1, strlen(slash + 1)) ? "key has an invalid id"
            : (type == SB_OP_DELETE) != (value == NULL)
                ? "value is required for put and patch, and not allowed for delete"
            : im && (!json_is_integer(im) || json_integer_value(im) < 0) ? bad_match
                                                                         : NULL;
        if (problem == NULL) {
            size_t known = 2 + (value != NULL) + (im != NULL);
            if (json_object_size(o) != known)
                problem = "has an unknown field (known: op, key, value, if_match)";
        }
        if (problem != NULL) {
            snprintf(path, sizeof path, "/ops/%zu%s", i, problem == bad_match ? "/if_match" : "");
            sb_doc_error(errors, path, problem);
            json_t *p = sb_problem(SB_P_INVALID, errors, "operation %zu: %s", i, problem);
            json_object_set_new(p, "index", json_integer((json_int_t)i));
            sb_write_free(w);
            json_decref(body);
            return sb_reply_problem(req, p);
        }
        w->ops[i] = (sb_op){
            .type = type,
            .kind = kind,
            .id = strdup(slash + 1),
            .value = json_incref(value),
            .if_match = {im ? SB_MATCH_REVISION : SB_MATCH_NONE, (uint64_t)json_integer_value(im)}};
    }
    json_decref(errors);
    json_decref(body);
    sb_req_submit_write(req, w);
    return 0;
}

/* POST /admin/<kind>/<id>/rollback {"to": REV} */
static int rollback(h2o_req_t *req, const char *actor, int kind, const char *id)
{
    json_t *body = parse_body(req, SB_DOC_MAX);
    if (body == NULL)
        return 0;
    json_t *to = json_object_get(body, "to");
    if (!json_is_object(body) || !json_is_integer(to) || json_integer_value(to) < 1 ||
        json_object_size(body) != 1) {
        json_t *errors = json_array();
        sb_doc_error(errors, "/to", "must be the revision to roll back to (a number from 1)");
        json_decref(body);
        return sb_reply_problem(req,
                                sb_problem(SB_P_INVALID, errors, "expected {\"to\": <revision>}"));
    }
    sb_match match;
    sb_write *w = if_match(req, &match) == 0 ? new_write(req, actor, 1) : NULL;
    if (w == NULL) {
        json_decref(body);
        return 0;
    }
    w->ops[0] = (sb_op){.type = SB_OP_ROLLBACK,
                        .kind = kind,
                        .id = strdup(id),
                        .to = (uint64_t)json_integer_value(to),
                        .if_match = match};
    json_decref(body);
    sb_req_submit_write(req, w);
    return 0;
}

int sb_h_list(h2o_req_t *req, const sb_call *c)
{
    return sb_reply_json(req, 200, list_kind(c->s, c->kind), NULL, c->s->revision);
}

int sb_h_get_doc(h2o_req_t *req, const sb_call *c)
{
    return get_doc(req, c->s, c->kind, c->arg.base);
}

int sb_h_write_doc(h2o_req_t *req, const sb_call *c)
{
    int type = method_is(req, "PUT")     ? SB_OP_PUT
               : method_is(req, "PATCH") ? SB_OP_PATCH
                                         : SB_OP_DELETE;
    return write_doc(req, c->actor, type, c->kind, c->arg.base);
}

int sb_h_rollback(h2o_req_t *req, const sb_call *c)
{
    return rollback(req, c->actor, c->kind, c->arg.base);
}

int sb_h_txn(h2o_req_t *req, const sb_call *c)
{
    return txn(req, c->actor);
}

/* A path under /admin that no route takes: what is wrong with it. */
int sb_h_admin_unknown(h2o_req_t *req, const sb_call *c)
{
    (void)c;
    const char *rest = req->path_normalized.base + 6; /* after "/admin" */
    size_t rlen = req->path_normalized.len - 6;
    if (rlen < 2)
        return sb_reply_problem(
            req, sb_problem(SB_P_NOT_FOUND, NULL, "use /admin/<kind>[/<id>] or /admin/txn"));
    rest++, rlen--;
    const char *slash = memchr(rest, '/', rlen);
    size_t klen = slash ? (size_t)(slash - rest) : rlen;
    int kind = sb_kind_lookup(rest, klen);
    if (kind < 0)
        return sb_reply_problem(req, sb_problem(SB_P_NOT_FOUND, NULL,
                                                "no kind '%.*s': the kinds are providers, roles, "
                                                "failback, models and tenants",
                                                (int)(klen > 64 ? 64 : klen), rest));
    const char *id = slash + 1;
    size_t idlen = (size_t)(rest + rlen - id);
    return sb_reply_problem(
        req, sb_problem(SB_P_BAD_REQUEST, NULL,
                        kind == SB_FAILBACK || kind == SB_MODELS
                            ? "'%.*s' is not a valid model id: 1-200 printable ASCII "
                              "characters without spaces, quotes or backslashes"
                            : "'%.*s' is not a valid name: it must match "
                              "^[a-z0-9][a-z0-9._-]{0,63}$",
                        (int)(idlen > 200 ? 200 : idlen), id));
}
