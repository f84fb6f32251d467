/*
 * h2o event loops, listeners, connection limits, request framing, graceful shutdown (threading
 * model in http.h). Each request is looked up once in the route table (routes.c), which runs it.
 */
#include "http.h"
#include "reply.h"
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

/* A serving thread: its request context (first: a request's h2o context is this thread's) and
 * what only the loop's own code uses. */
typedef struct sb_thread {
    sb_ctx c;
    h2o_accept_ctx_t accept;
    h2o_socket_t **listeners;
    size_t n_listeners;
    int *fds;
    pthread_t tid;
    atomic_bool stopping;                 /* set by the main thread, which then wakes the loop */
    h2o_multithread_receiver_t published; /* "a new snapshot": wakes the watches */
    h2o_multithread_message_t published_msg;
    atomic_bool published_pending; /* published_msg is queued: never queue it twice */
    bool receiving;                /* published is registered; under S.notify_lock */
} sb_thread;

typedef struct sb_handler {
    h2o_handler_t super;
} sb_handler;

static struct {
    h2o_globalconf_t config;
    sb_http_opts opts;
    SSL_CTX *ssl;
    sb_thread *threads;
    pthread_barrier_t ready;     /* every loop is set up before the server counts as started */
    pthread_mutex_t notify_lock; /* the writer's notices against threads registering or leaving */
    atomic_uint connections;     /* open, on every thread; see on_accept */
} S;

/* sock->on_close.data of a connection accepted over --max-connections: its request gets a 503. */
static char over_limit;

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
    sb_watch_published(&t->c.watches, sb_snapshot_current(&t->c.snap));
}

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
    return !h2o_linklist_is_empty(&t->c.h2o.http1._conns) ||
           !h2o_linklist_is_empty(&t->c.h2o.http2._conns);
}

static void *thread_main(void *arg)
{
    sb_thread *t = arg;
    h2o_context_init(&t->c.h2o, h2o_evloop_create(), &S.config);
    t->accept.ctx = &t->c.h2o;
    t->accept.hosts = S.config.hosts;
    t->accept.ssl_ctx = S.ssl;
    h2o_multithread_register_receiver(t->c.h2o.queue, &t->c.writes, sb_writes_done);
    h2o_multithread_register_receiver(t->c.h2o.queue, &t->published, on_published);
    sb_watches_init(&t->c.watches, t->c.h2o.loop, t->c.metrics);
    set_receiving(t, true);
    t->listeners = calloc(t->n_listeners, sizeof *t->listeners);
    for (size_t i = 0; i < t->n_listeners; i++) {
        t->listeners[i] =
            h2o_evloop_socket_create(t->c.h2o.loop, t->fds[i], H2O_SOCKET_FLAG_DONT_READ);
        t->listeners[i]->data = t;
        h2o_socket_read_start(t->listeners[i], on_accept);
    }
    pthread_barrier_wait(&S.ready);
    while (!atomic_load(&t->stopping))
        h2o_evloop_run(t->c.h2o.loop, INT32_MAX);

    /* Graceful shutdown: no new connections, finish what is in flight, close idle ones. */
    for (size_t i = 0; i < t->n_listeners; i++) {
        h2o_socket_read_stop(t->listeners[i]);
        h2o_socket_close(t->listeners[i]);
    }
    sb_watches_flush(&t->c.watches, sb_snapshot_current(&t->c.snap)); /* waiting is over */
    h2o_context_request_shutdown(&t->c.h2o);
    t->c.h2o.http1.req_timeout.timeout = 0;
    uint64_t deadline = h2o_now(t->c.h2o.loop) + SHUTDOWN_GRACE_MS;
    while (has_connections(t) && h2o_now(t->c.h2o.loop) < deadline)
        h2o_evloop_run(t->c.h2o.loop, 10);

    h2o_timeout_unlink(&t->c.h2o.http2._graceful_shutdown_timeout);
    set_receiving(t, false);
    h2o_evloop_run(t->c.h2o.loop, 0); /* delivers a notice queued before that */
    h2o_multithread_unregister_receiver(t->c.h2o.queue, &t->c.writes);
    h2o_multithread_unregister_receiver(t->c.h2o.queue, &t->published);
    sb_watches_dispose(&t->c.watches);
    h2o_context_dispose(&t->c.h2o);
    sb_snapshot_unref(t->c.snap);
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
    sb_ctx_set_opts(&S.opts);
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
        S.threads[t].c.metrics = sb_metrics_slot((unsigned)t);
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
        h2o_multithread_send_message(&S.threads[t].c.writes, NULL); /* wakes the loop */
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
