/*
 * The floor: the least an h2o 2.2 server can do per request. It answers every GET with one
 * body held in memory (read from a file at start), its ETag, and a 304 when If-None-Match
 * carries that ETag. bench/run measures it beside switchboard, so that the cost of
 * switchboard's own work (route, lookup, headers) shows apart from h2o's and the kernel's.
 *
 * usage: h2o-floor PORT BODY_FILE
 */
#include <h2o.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static h2o_globalconf_t config;
static h2o_context_t ctx;
static h2o_accept_ctx_t accept_ctx;
static char body[65536], etag[] = "\"floor-etag\"";
static size_t body_len;

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ETAG, NULL, etag, strlen(etag));
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_IF_NONE_MATCH, -1);
    if (i != -1 && h2o_memis(req->headers.entries[i].value.base, req->headers.entries[i].value.len,
                             etag, strlen(etag))) {
        req->res.status = 304;
        req->res.reason = "Not Modified";
        h2o_start_response(req, &(h2o_generator_t){NULL, NULL});
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        return 0;
    }
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("application/json"));
    req->res.content_length = body_len;
    h2o_start_response(req, &(h2o_generator_t){NULL, NULL});
    h2o_send(req, &(h2o_iovec_t){body, body_len}, 1, H2O_SEND_STATE_FINAL);
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    h2o_socket_t *sock;
    if (err == NULL && (sock = h2o_evloop_socket_accept(listener)) != NULL)
        h2o_accept(&accept_ctx, sock);
}

int main(int argc, char **argv)
{
    FILE *f = argc == 3 ? fopen(argv[2], "rb") : NULL;
    if (f == NULL) {
        fprintf(stderr, "usage: h2o-floor PORT BODY_FILE\n");
        return 2;
    }
    body_len = fread(body, 1, sizeof body, f);
    fclose(f);
    signal(SIGPIPE, SIG_IGN);
    h2o_config_init(&config);
    config.server_name = h2o_iovec_init(H2O_STRLIT(""));
    h2o_hostconf_t *host =
        h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_create_handler(h2o_config_register_path(host, "/", 0), sizeof(h2o_handler_t))->on_req =
        on_req;
    h2o_context_init(&ctx, h2o_evloop_create(), &config);
    accept_ctx.ctx = &ctx;
    accept_ctx.hosts = config.hosts;
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)atoi(argv[1])),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, SOMAXCONN) != 0) {
        perror("h2o-floor: listen");
        return 1;
    }
    h2o_socket_read_start(h2o_evloop_socket_create(ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ),
                          on_accept);
    while (h2o_evloop_run(ctx.loop, INT32_MAX) == 0)
        ;
    return 0;
}
