/*
 * The one reply module: every answer the API sends goes out through here, counted, with its
 * revision, ETag and cache headers (see reply.h).
 */
#include "reply.h"
#include "problem.h"

#include <stdio.h>
#include <string.h>

static void add_header(h2o_req_t *req, const h2o_token_t *token, const char *value, size_t len)
{
    h2o_add_header(&req->pool, &req->res.headers, token, NULL, value, len);
}

static void add_revision(h2o_req_t *req, uint64_t revision)
{
    /* By hand, not snprintf: this runs on every response and printf showed in profiles. */
    char digits[20], *v = h2o_mem_alloc_pool(&req->pool, sizeof digits);
    size_t n = 0;
    do
        digits[n++] = (char)('0' + revision % 10);
    while ((revision /= 10) != 0);
    for (size_t i = 0; i < n; i++)
        v[i] = digits[n - 1 - i];
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-switchboard-revision"), 0,
                          NULL, v, n);
}

/* Sends len bytes as the whole body, copied into the request's pool (the source may not outlive
 * this call) unless copy is false: bytes that live as long as the process. */
static void send_body(h2o_req_t *req, const char *p, size_t len, bool copy)
{
    sb_ctx_count(req);
    h2o_iovec_t buf = {(char *)p, len};
    if (copy) {
        buf.base = h2o_mem_alloc_pool(&req->pool, len ? len : 1);
        memcpy(buf.base, p, len);
    }
    req->res.content_length = len;
    h2o_start_response(req, &(h2o_generator_t){NULL, NULL});
    h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Payload Too Large";
    case 422:
        return "Unprocessable Content";
    case 503:
        return "Service Unavailable";
    default:
        return "Internal Server Error";
    }
}

int sb_reply_json(h2o_req_t *req, int status, json_t *body, const char *etag, uint64_t revision)
{
    static const h2o_iovec_t json = {H2O_STRLIT("application/json")};
    static const h2o_iovec_t problem = {H2O_STRLIT("application/problem+json")};
    const h2o_iovec_t *type = status >= 400 ? &problem : &json;
    sb_buf b = {0};
    sb_buf_add_json(&b, body, 0);
    sb_buf_add(&b, "\n", 1);
    req->res.status = status;
    req->res.reason = reason_phrase(status);
    add_header(req, H2O_TOKEN_CONTENT_TYPE, type->base, type->len);
    if (etag != NULL)
        add_header(req, H2O_TOKEN_ETAG, h2o_strdup(&req->pool, etag, SIZE_MAX).base, strlen(etag));
    add_revision(req, revision);
    send_body(req, b.p, b.len, true);
    free(b.p);
    json_decref(body);
    return 0;
}

int sb_reply_problem(h2o_req_t *req, json_t *problem)
{
    int status = (int)json_integer_value(json_object_get(problem, "status"));
    if (status == 401)
        add_header(req, H2O_TOKEN_WWW_AUTHENTICATE, H2O_STRLIT("Bearer realm=\"switchboard\""));
    return sb_reply_json(req, status, problem, NULL, sb_req_snapshot(req)->revision);
}

bool sb_if_none_match(h2o_req_t *req, const char *etag)
{
    size_t etag_len = strlen(etag);
    for (ssize_t i = -1; (i = h2o_find_header(&req->headers, H2O_TOKEN_IF_NONE_MATCH, i)) != -1;) {
        const h2o_iovec_t *v = &req->headers.entries[i].value;
        if ((v->len == etag_len && memcmp(v->base, etag, etag_len) == 0) || /* the usual case */
            sb_etag_list_match(v->base, v->len, etag, etag_len))
            return true;
    }
    return false;
}

int sb_reply_not_modified(h2o_req_t *req)
{
    /* No content_length on a 304: h2o would write a bogus Content-Length (and wrk stalls). */
    req->res.status = 304;
    req->res.reason = "Not Modified";
    sb_ctx_count(req);
    h2o_start_response(req, &(h2o_generator_t){NULL, NULL});
    h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    return 0;
}

int sb_reply_text(h2o_req_t *req, const char *content_type, const char *p, size_t len,
                  uint64_t revision)
{
    req->res.status = 200;
    req->res.reason = "OK";
    add_header(req, H2O_TOKEN_CONTENT_TYPE, content_type, strlen(content_type));
    add_revision(req, revision);
    send_body(req, p, len, true);
    return 0;
}

/* A 200 with an ETag'd body, or a 304 when If-None-Match matches. etag must outlive the request. */
static int reply_tagged(h2o_req_t *req, const char *etag, const char *cache_control,
                        const char *content_type, const char *p, size_t len, bool copy,
                        uint64_t revision)
{
    add_header(req, H2O_TOKEN_ETAG, etag, strlen(etag));
    add_header(req, H2O_TOKEN_CACHE_CONTROL, cache_control, strlen(cache_control));
    add_revision(req, revision);
    if (sb_if_none_match(req, etag))
        return sb_reply_not_modified(req);
    req->res.status = 200;
    req->res.reason = "OK";
    add_header(req, H2O_TOKEN_CONTENT_TYPE, content_type, strlen(content_type));
    send_body(req, p, len, copy);
    return 0;
}

int sb_reply_static(h2o_req_t *req, const char *content_type, const char *etag, const char *p,
                    size_t len, uint64_t revision)
{
    return reply_tagged(req, etag, "no-cache", content_type, p, len, false, revision);
}

int sb_reply_body(h2o_req_t *req, const sb_body *b, uint64_t revision, bool long_poll)
{
    /* The snapshot holding b may be gone before the headers are written. */
    const char *etag = h2o_strdup(&req->pool, b->etag, SB_ETAG_LEN).base;
    return reply_tagged(req, etag, long_poll ? "no-store" : sb_ctx_cache_control(),
                        "application/json", b->p, b->len, true, revision);
}

h2o_iovec_t sb_query_param(h2o_req_t *req, const char *name)
{
    if (req->query_at == SIZE_MAX)
        return h2o_iovec_init(NULL, 0);
    size_t at = req->query_at + 1;
    sb_span v = sb_query_value(req->path.base + at, req->path.len - at, name);
    return h2o_iovec_init(v.p, v.len);
}

int64_t sb_query_number(h2o_req_t *req, const char *name, int64_t def, int64_t lo, int64_t hi)
{
    h2o_iovec_t v = sb_query_param(req, name);
    if (v.base == NULL)
        return def;
    int64_t n;
    if (sb_parse_number(v.base, v.len, &n) != 0 || n < lo || n > hi) {
        sb_reply_problem(req, sb_problem(SB_P_BAD_REQUEST, NULL,
                                         "%s must be a whole number from %lld to %lld", name,
                                         (long long)lo, (long long)hi));
        return -1;
    }
    return n;
}

int sb_reply_unavailable(h2o_req_t *req, const char *why)
{
    add_header(req, H2O_TOKEN_RETRY_AFTER, H2O_STRLIT(SB_RETRY_AFTER));
    return sb_reply_problem(req, sb_problem(SB_P_UNAVAILABLE, NULL, "%s", why));
}

/* A request on a connection accepted over --max-connections: answered 503, and the
 * connection closed. -1 then. */
