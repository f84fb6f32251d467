/*
 * Writes from a request to the writer thread and back: handler -> sb_writer_submit -> writer
 * thread -> done() -> h2o_multithread message -> the request's own loop, which answers. A
 * request whose client went away meanwhile is detached by a guard in its pool, so the late
 * answer is dropped safely.
 */
#include "common/names.h"
#include "problem.h"
#include "reply.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>

/* A write in flight: the guard lives in the request's pool and detaches it if the request dies. */
typedef struct pending {
    sb_write w;
    h2o_multithread_message_t msg;
    h2o_req_t *req;
    struct guard *guard;
    sb_ctx *ctx;
    enum sb_route route;
    int64_t start_ns;
} pending;

struct guard {
    pending *p;
};

static void guard_dispose(void *p)
{
    struct guard *g = p;
    if (g->p != NULL)
        g->p->req = NULL; /* the client is gone: the answer will be dropped */
}

static void write_done(sb_write *w)
{
    pending *p = (pending *)((char *)w - offsetof(pending, w));
    h2o_multithread_send_message(&p->ctx->writes, &p->msg);
}

void sb_req_submit_write(h2o_req_t *req, sb_write *w)
{
    pending *p = (pending *)((char *)w - offsetof(pending, w));
    p->req = req;
    p->ctx = sb_ctx_of(req);
    p->route = p->ctx->route;
    p->start_ns = p->ctx->start_ns;
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

void sb_writes_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m =
            H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        pending *p = H2O_STRUCT_FROM_MEMBER(pending, msg, m);
        if (p->req != NULL) {
            char etag[24];
            const char *tag = NULL;
            if (!p->w.error && p->w.n_ops == 1 && p->w.revision != 0) {
                sb_revision_tag(p->w.revision, etag);
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
