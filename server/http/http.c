/*
 * h2o event loops, listeners, graceful shutdown, and the reply helpers (threading model in
 * http.h). Writes travel: handler -> sb_writer_submit -> writer thread -> done() ->
 * h2o_multithread message -> the request's own loop, which answers. A request whose client went
 * away meanwhile is detached by a guard in its pool, so the late answer is dropped safely.
 */
#include "http.h"
#include "routes.h"
#include "core/log.h"
#include "core/metrics.h"
#include "watch.h"
#include "problem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

#define MAX_BODY          (1024 * 1024) /* a batch may carry many documents of at most 64 KiB each */
#define SHUTDOWN_GRACE_MS 10000
#define TLS12_CIPHERS                                                                              \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"     \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

typedef struct sb_thread {
    h2o_context_t ctx;
    h2o_accept_ctx_t accept;
    sb_snapshot *snap;
    h2o_multithread_receiver_t writes;
    h2o_socket_t **listeners;
    size_t n_listeners;
    int *fds;
    pthread_t tid;
    atomic_bool stopping; /* set by the main thread, which then wakes the loop */
    sb_metrics_thread *metrics;
    sb_watches watches;
    h2o_multithread_receiver_t published; /* "a new snapshot": wakes the watches */
    h2o_multithread_message_t published_msg;
    atomic_bool published_pending; /* published_msg is queued: never queue it twice */
    bool receiving;                /* published is registered; under S.notify_lock */
    enum sb_route route;           /* of the request being answered, for the metrics */
    int64_t start_ns;              /* when it came in */
} sb_thread;

/* A write in flight: the guard lives in the request's pool and detaches it if the request dies. */
typedef struct pending {
    sb_write w;
    h2o_multithread_message_t msg;
    h2o_req_t *req;
    struct guard *guard;
    sb_thread *thread;
    enum sb_route route;
    int64_t start_ns;
} pending;

struct guard {
    pending *p;
};

typedef struct sb_handler {
    h2o_handler_t super;
} sb_handler;

static struct {
    h2o_globalconf_t config;
    sb_http_opts opts;
    char cache_control[32];
    SSL_CTX *ssl;
    sb_thread *threads;
    pthread_barrier_t ready;     /* every loop is set up before the server counts as started */
    pthread_mutex_t notify_lock; /* the writer's notices against threads registering or leaving */
    atomic_uint connections;     /* open, on every thread; see on_accept */
} S;

/* sock->on_close.data of a connection accepted over --max-connections: its request gets a 503. */
static char over_limit;

static sb_thread *thread_of(h2o_req_t *req)
{
    return (sb_thread *)((char *)req->conn->ctx - offsetof(sb_thread, ctx));
}

sb_snapshot *sb_req_snapshot(h2o_req_t *req)
{
    return sb_snapshot_current(&thread_of(req)->snap);
}

const sb_http_opts *sb_req_opts(void)
{
    return &S.opts;
}

/* ---- replies ---- */

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

/* Every answer is counted here, on its thread, with the route and start of the request. */
static void count(h2o_req_t *req)
{
    sb_thread *t = thread_of(req);
    int64_t ns = t->route == SB_R_WATCH ? -1 : sb_metrics_now_ns() - t->start_ns;
    sb_metrics_count(t->metrics, t->route, req->res.status, ns);
}

void sb_req_answering(h2o_req_t *req, int route, int64_t start_ns)
{
    sb_thread *t = thread_of(req);
    t->route = (enum sb_route)route;
    t->start_ns = start_ns;
}

/* Sends len bytes as the whole body, copied into the request's pool (the source may not outlive
 * this call) unless copy is false: bytes that live as long as the process. */
static void send_body(h2o_req_t *req, const char *p, size_t len, bool copy)
{
    count(req);
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
    count(req);
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
    return reply_tagged(req, etag, long_poll ? "no-store" : S.cache_control, "application/json",
                        b->p, b->len, true, revision);
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

/* ---- auth ---- */

/* The scope of the token presented, comparing its hash with every known one in constant time. */
static int token_scope(const sb_snapshot *s, const char *token, size_t len, const char **name)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    int scope = SB_SCOPE_NONE;
    SHA256((const unsigned char *)token, len, md);
    for (size_t i = 0; i < s->n_tokens; i++) {
        if (CRYPTO_memcmp(md, s->token_list[i].sha256, sizeof md) == 0) {
            scope = s->token_list[i].scope;
            *name = s->token_list[i].name;
        }
    }
    return scope;
}

int sb_require_scope(h2o_req_t *req, const sb_snapshot *s, int scope, const char **actor)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    const char *name = NULL;
    if (i == -1)
        return sb_reply_problem(
                   req, sb_problem(SB_P_UNAUTHORIZED, NULL, "send Authorization: Bearer <token>")),
               -1;
    h2o_iovec_t v = req->headers.entries[i].value;
    if (v.len < 7 || strncasecmp(v.base, "bearer ", 7) != 0)
        return sb_reply_problem(
                   req, sb_problem(SB_P_UNAUTHORIZED, NULL, "only Bearer tokens are accepted")),
               -1;
    int have = token_scope(s, v.base + 7, v.len - 7, &name);
    if (have == SB_SCOPE_NONE)
        return sb_reply_problem(
                   req, sb_problem(SB_P_UNAUTHORIZED, NULL, "the token is unknown or revoked")),
               -1;
    if (have < scope)
        return sb_reply_problem(req, sb_problem(SB_P_FORBIDDEN, NULL,
                                                "this endpoint needs a token with admin scope")),
               -1;
    if (actor != NULL)
        *actor = name;
    return 0;
}

/* ---- writes ---- */

static void guard_dispose(void *p)
{
    struct guard *g = p;
    if (g->p != NULL)
        g->p->req = NULL; /* the client is gone: the answer will be dropped */
}

static void write_done(sb_write *w)
{
    pending *p = (pending *)((char *)w - offsetof(pending, w));
    h2o_multithread_send_message(&p->thread->writes, &p->msg);
}

void sb_req_submit_write(h2o_req_t *req, sb_write *w)
{
    pending *p = (pending *)((char *)w - offsetof(pending, w));
    p->req = req;
    p->thread = thread_of(req);
    p->route = p->thread->route;
    p->start_ns = p->thread->start_ns;
    p->guard = h2o_mem_alloc_shared(&req->pool, sizeof *p->guard, guard_dispose);
    p->guard->p = p;
    w->done = write_done;
    sb_writer_submit(w);
}

sb_write *sb_write_new(void)
{
    pending *p = calloc(1, sizeof *p);
    if (p == NULL)
        sb_json_check(NULL);
    return &p->w;
}

void sb_write_free(sb_write *w)
{
    sb_write_clear(w);
    free((char *)w - offsetof(pending, w));
}

static void on_writes_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m =
            H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        pending *p = H2O_STRUCT_FROM_MEMBER(pending, msg, m);
        if (p->req != NULL) {
            char etag[32];
            const char *tag = NULL;
            if (!p->w.error && p->w.n_ops == 1 && p->w.revision != 0) {
                snprintf(etag, sizeof etag, "\"r%llu\"", (unsigned long long)p->w.revision);
                tag = etag;
            }
            if (p->w.trace_id[0]) { /* the trace this write belongs to, for the caller's logs */
                char *tp = h2o_mem_alloc_pool(&p->req->pool, 56);
                unsigned char span[8];
                RAND_bytes(span, sizeof span);
                snprintf(tp, 56, "00-%s-%02x%02x%02x%02x%02x%02x%02x%02x-01", p->w.trace_id,
                         span[0], span[1], span[2], span[3], span[4], span[5], span[6], span[7]);
                h2o_add_header_by_str(&p->req->pool, &p->req->res.headers,
                                      H2O_STRLIT("traceparent"), 0, NULL, tp, 55);
            }
            p->guard->p = NULL;
            sb_req_answering(p->req, p->route, p->start_ns);
            json_t *body = p->w.body;
            p->w.body = NULL;
            int status = p->w.error ? sb_problem_status(p->w.error) : p->w.created ? 201 : 200;
            if (p->w.error)
                body = sb_problem_of((sb_fault){p->w.error, body});
            sb_reply_json(p->req, status, body, tag,
                          p->w.revision ? p->w.revision : sb_req_snapshot(p->req)->revision);
        }
        sb_write_clear(&p->w);
        free(p);
    }
}

/* ---- watches ---- */

sb_watches *sb_req_watches(h2o_req_t *req)
{
    return &thread_of(req)->watches;
}

/* On the writer thread, after each publish: one message per serving thread, at most one queued. */
static void notify_published(void)
{
    pthread_mutex_lock(&S.notify_lock);
    for (size_t i = 0; S.threads != NULL && i < S.opts.threads; i++) {
        sb_thread *t = &S.threads[i];
        if (t->receiving && !atomic_exchange(&t->published_pending, true))
            h2o_multithread_send_message(&t->published, &t->published_msg);
    }
    pthread_mutex_unlock(&S.notify_lock);
}

static void set_receiving(sb_thread *t, bool on)
{
    pthread_mutex_lock(&S.notify_lock);
    t->receiving = on;
    pthread_mutex_unlock(&S.notify_lock);
}

static void on_published(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    sb_thread *t = H2O_STRUCT_FROM_MEMBER(sb_thread, published, receiver);
    while (!h2o_linklist_is_empty(messages))
        h2o_linklist_unlink(messages->next);
    atomic_store(&t->published_pending, false); /* before reading: a later publish re-sends */
    sb_watch_published(&t->watches, sb_snapshot_current(&t->snap));
}

int sb_reply_unavailable(h2o_req_t *req, const char *why)
{
    add_header(req, H2O_TOKEN_RETRY_AFTER, H2O_STRLIT(SB_RETRY_AFTER));
    return sb_reply_problem(req, sb_problem(SB_P_UNAVAILABLE, NULL, "%s", why));
}

/* A request on a connection accepted over --max-connections: answered 503, and the
 * connection closed. -1 then. */
static int refuse_over_limit(h2o_req_t *req)
{
    h2o_socket_t *sock =
        req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL;
    if (sock == NULL || sock->on_close.data != &over_limit)
        return 0;
    req->http1_is_persistent = 0;
    return sb_reply_unavailable(req, "the server has as many connections as it takes "
                                     "(--max-connections): retry later"),
           -1;
}

/* ---- routing ---- */

/* The value of one header line "Name: value" of a raw HTTP/1 head when its name is name. */
static bool head_field(const char *line, size_t len, const char *name, h2o_iovec_t *value)
{
    size_t n = strlen(name);
    if (len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0)
        return false;
    size_t i = n + 1;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    while (len > i && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
        len--;
    *value = h2o_iovec_init(line + i, len - i);
    return true;
}

/*
 * Why a request head (request line and header lines, as received) frames its body ambiguously,
 * or NULL: two different Content-Length values, or Transfer-Encoding with Content-Length. A proxy
 * in front may read such a body one way and h2o the other, and the rest would pass as a request
 * of its own (request smuggling).
 */
static const char *ambiguous_framing(const char *head, size_t len)
{
    h2o_iovec_t cl = {NULL, 0}, v;
    bool te = false;
    const char *end = head + len, *line = memchr(head, '\n', len); /* skip the request line */
    while (line != NULL && ++line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        size_t n = (size_t)((eol ? eol : end) - line);
        if (head_field(line, n, "transfer-encoding", &v))
            te = true;
        else if (head_field(line, n, "content-length", &v)) {
            if (cl.base != NULL && !h2o_memis(cl.base, cl.len, v.base, v.len))
                return "the request has two different Content-Length headers";
            cl = v;
        }
        line = eol;
    }
    return te && cl.base != NULL
               ? "a request may not carry both Transfer-Encoding and Content-Length"
               : NULL;
}

/*
 * Refuses an HTTP/1 request whose body is framed ambiguously (answered 400, connection closed):
 * -1 then. h2o 2.2 keeps neither Content-Length nor Transfer-Encoding among req->headers, but
 * until the request is answered its head is still at the start of the connection's input
 * buffer, right before the body.
 */
static int check_framing(h2o_req_t *req)
{
    h2o_socket_t *sock =
        req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL;
    if (req->version >= 0x200 || sock == NULL || sock->input == NULL)
        return 0;
    const char *head = sock->input->bytes, *body = req->entity.base;
    if (body < head || body > head + sock->input->size)
        return 0;
    const char *why = ambiguous_framing(head, (size_t)(body - head));
    if (why == NULL)
        return 0;
    req->http1_is_persistent = 0;
    return sb_reply_problem(req, sb_problem(SB_P_BAD_REQUEST, NULL, "%s", why)), -1;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    sb_found m; /* the request's route, looked up once: its label, then its handler */
    sb_route_match(req, &m);
    sb_req_answering(req, m.label, sb_metrics_now_ns());
    if (atomic_load_explicit(&S.connections, memory_order_relaxed) > S.opts.max_connections &&
        refuse_over_limit(req) != 0)
        return 0;
    if (req->entity.base != NULL && check_framing(req) != 0)
        return 0;
    return sb_route_run(req, &m);
}

/* ---- listeners and threads ---- */

static void on_connection_closed(void *data)
{
    (void)data;
    atomic_fetch_sub_explicit(&S.connections, 1, memory_order_relaxed);
}

/*
 * Every connection is counted until its socket closes. Over --max-connections a connection is
 * still accepted, so that its request can be told "503, retry after" (TLS included), and closed
 * after that answer; past an eighth more the socket is closed at once, so that a flood costs
 * no more than that.
 */
static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    sb_thread *t = listener->data;
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock == NULL)
        return;
    unsigned n = atomic_fetch_add_explicit(&S.connections, 1, memory_order_relaxed) + 1;
    sock->on_close.cb = on_connection_closed;
    if (n > S.opts.max_connections + S.opts.max_connections / 8 + 1) {
        h2o_socket_close(sock);
        return;
    }
    sock->on_close.data = n > S.opts.max_connections ? &over_limit : NULL;
    h2o_accept(&t->accept, sock);
}

/*
 * Binds spec ("host:port", "[v6]:port") and listens; *port is set to the port bound. No
 * SO_REUSEPORT: a second server on the same port must fail loudly, not share the traffic.
 * Each thread accepts on its own dup() of this socket.
 */
static int bind_one(const char *spec, uint16_t *port)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    if (colon == NULL || (size_t)(colon - spec) >= sizeof host)
        return -1;
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    char *h = host;
    if (h[0] == '[' && h[strlen(h) - 1] == ']') {
        h[strlen(h) - 1] = '\0';
        h++;
    }
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%u", (unsigned)atoi(colon + 1));
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *res;
    if (getaddrinfo(*h ? h : NULL, portstr, &hints, &res) != 0)
        return -1;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

static bool has_connections(sb_thread *t)
{
    return !h2o_linklist_is_empty(&t->ctx.http1._conns) ||
           !h2o_linklist_is_empty(&t->ctx.http2._conns);
}

static void *thread_main(void *arg)
{
    sb_thread *t = arg;
    h2o_context_init(&t->ctx, h2o_evloop_create(), &S.config);
    t->accept.ctx = &t->ctx;
    t->accept.hosts = S.config.hosts;
    t->accept.ssl_ctx = S.ssl;
    h2o_multithread_register_receiver(t->ctx.queue, &t->writes, on_writes_done);
    h2o_multithread_register_receiver(t->ctx.queue, &t->published, on_published);
    sb_watches_init(&t->watches, t->ctx.loop, t->metrics);
    set_receiving(t, true);
    t->listeners = calloc(t->n_listeners, sizeof *t->listeners);
    for (size_t i = 0; i < t->n_listeners; i++) {
        t->listeners[i] =
            h2o_evloop_socket_create(t->ctx.loop, t->fds[i], H2O_SOCKET_FLAG_DONT_READ);
        t->listeners[i]->data = t;
        h2o_socket_read_start(t->listeners[i], on_accept);
    }
    pthread_barrier_wait(&S.ready);
    while (!atomic_load(&t->stopping))
        h2o_evloop_run(t->ctx.loop, INT32_MAX);

    /* Graceful shutdown: no new connections, finish what is in flight, close idle ones. */
    for (size_t i = 0; i < t->n_listeners; i++) {
        h2o_socket_read_stop(t->listeners[i]);
        h2o_socket_close(t->listeners[i]);
    }
    sb_watches_flush(&t->watches, sb_snapshot_current(&t->snap)); /* waiting is over */
    h2o_context_request_shutdown(&t->ctx);
    t->ctx.http1.req_timeout.timeout = 0;
    uint64_t deadline = h2o_now(t->ctx.loop) + SHUTDOWN_GRACE_MS;
    while (has_connections(t) && h2o_now(t->ctx.loop) < deadline)
        h2o_evloop_run(t->ctx.loop, 10);

    h2o_timeout_unlink(&t->ctx.http2._graceful_shutdown_timeout);
    set_receiving(t, false);
    h2o_evloop_run(t->ctx.loop, 0); /* delivers a notice queued before that */
    h2o_multithread_unregister_receiver(t->ctx.queue, &t->writes);
    h2o_multithread_unregister_receiver(t->ctx.queue, &t->published);
    sb_watches_dispose(&t->watches);
    h2o_context_dispose(&t->ctx);
    sb_snapshot_unref(t->snap);
    free(t->listeners);
    return NULL;
}

static SSL_CTX *tls_setup(const char *cert, const char *key)
{
    static const h2o_iovec_t protocols[] = {
        {H2O_STRLIT("h2")}, {H2O_STRLIT("http/1.1")}, {NULL, 0}};
    SSL_CTX *ssl = SSL_CTX_new(TLS_server_method());
    if (ssl == NULL || SSL_CTX_use_certificate_chain_file(ssl, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ssl, key, SSL_FILETYPE_PEM) != 1) {
        SSL_CTX_free(ssl);
        return NULL;
    }
    /* TLS 1.2 offers only forward-secret AEAD suites, in our order (TLS 1.3's are all AEAD). */
    SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION);
    SSL_CTX_set_options(ssl, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_set_cipher_list(ssl, TLS12_CIPHERS) != 1) {
        SSL_CTX_free(ssl);
        return NULL;
    }
    h2o_ssl_register_alpn_protocols(ssl, protocols);
    return ssl;
}

/* Raises the open-file limit to its hard maximum, so that --max-connections can be reached,
 * and warns when even that is too low. */
static void raise_fd_limit(unsigned connections)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)connections + 64)
        sb_log("warn", "fd_limit",
               json_pack("{s:I, s:I}", "open_files", (json_int_t)rl.rlim_cur, "max_connections",
                         (json_int_t)connections));
}

void sb_http_block_signals(void)
{
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
}

int sb_http_serve(const sb_http_opts *opts)
{
    S.opts = *opts;
    snprintf(S.cache_control, sizeof S.cache_control, "max-age=%u", opts->ttl);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit(opts->max_connections + opts->max_connections / 8 + 1);

    h2o_config_init(&S.config);
    /* No Server header: it advertises nothing useful, and h2o 2.2 formats it with a sprintf
     * on every response. */
    S.config.server_name = h2o_iovec_init(H2O_STRLIT(""));
    S.config.max_request_entity_size = MAX_BODY;
    S.config.http1.upgrade_to_http2 = 0; /* no cleartext h2c: HTTP/2 only through TLS ALPN */
    h2o_hostconf_t *host =
        h2o_config_register_host(&S.config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *root = h2o_config_register_path(host, "/", 0);
    sb_handler *handler = (sb_handler *)h2o_create_handler(root, sizeof *handler);
    handler->super.on_req = on_req;

    if (opts->tls_cert != NULL && (S.ssl = tls_setup(opts->tls_cert, opts->tls_key)) == NULL) {
        sb_log("error", "tls_failed",
               json_pack("{s:s, s:s?}", "cert", opts->tls_cert, "key", opts->tls_key));
        return -1;
    }

    size_t nt = opts->threads, nl = opts->n_listen;
    S.threads = calloc(nt, sizeof *S.threads);
    sb_metrics_init((unsigned)nt);
    for (size_t t = 0; t < nt; t++)
        S.threads[t].metrics = sb_metrics_slot((unsigned)t);
    json_t *addrs = json_array();
    for (size_t t = 0; t < nt; t++) {
        S.threads[t].fds = calloc(nl, sizeof(int));
        S.threads[t].n_listeners = nl;
    }
    for (size_t l = 0; l < nl; l++) {
        uint16_t port = 0;
        int fd = bind_one(opts->listen[l], &port);
        if (fd < 0) {
            sb_log("error", "listen_failed",
                   json_pack("{s:s, s:s}", "listen", opts->listen[l], "error", strerror(errno)));
            json_decref(addrs);
            return -1;
        }
        S.threads[0].fds[l] = fd;
        for (size_t t = 1; t < nt; t++)
            S.threads[t].fds[l] = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        char shown[300];
        const char *colon = strrchr(opts->listen[l], ':');
        snprintf(shown, sizeof shown, "%.*s:%u", (int)(colon - opts->listen[l]), opts->listen[l],
                 port);
        json_array_append_new(addrs, json_string(shown));
    }

    /* SIGINT and SIGTERM are blocked since main() began (sb_http_block_signals): the loops
     * inherit that mask and only this thread takes them, with sigwait. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_mutex_init(&S.notify_lock, NULL);
    sb_snapshot_on_publish(notify_published);
    pthread_barrier_init(&S.ready, NULL, (unsigned)nt + 1);
    for (size_t t = 0; t < nt; t++)
        pthread_create(&S.threads[t].tid, NULL, thread_main, &S.threads[t]);
    pthread_barrier_wait(&S.ready);
    pthread_barrier_destroy(&S.ready);
    sb_log("info", "listening",
           json_pack("{s:o, s:I, s:b, s:s}", "listen", addrs, "threads", (json_int_t)nt,
                     "read_auth", opts->read_auth, "tls", S.ssl ? "on" : "off"));

    int sig;
    sigwait(&sigs, &sig);
    sb_log("info", "stopping", json_pack("{s:s}", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM"));
    for (size_t t = 0; t < nt; t++) {
        atomic_store(&S.threads[t].stopping, true);
        h2o_multithread_send_message(&S.threads[t].writes, NULL); /* wakes the loop */
    }
    for (size_t t = 0; t < nt; t++) {
        pthread_join(S.threads[t].tid, NULL);
        free(S.threads[t].fds);
    }
    pthread_mutex_lock(&S.notify_lock); /* the writer may still publish: it must see none */
    sb_thread *threads = S.threads;
    S.threads = NULL;
    pthread_mutex_unlock(&S.notify_lock);
    free(threads);
    if (S.ssl)
        SSL_CTX_free(S.ssl);
    h2o_config_dispose(&S.config);
    return 0;
}
