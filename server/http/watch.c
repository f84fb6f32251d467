/*
 * Long-poll watches (see watch.h for what and the threading model).
 */
#include "reply.h"
#include "problem.h"
#include "watch.h"

#include <stdatomic.h>
#include <string.h>

/* Watches waiting now, on every thread: held under --max-watches. */
static atomic_uint waiting;

typedef struct watcher {
    h2o_linklist_t link; /* in the thread's list while waiting */
    h2o_timeout_entry_t timeout;
    h2o_req_t *req;
    sb_watches *w;
    bool topology;
    char role[65], tenant[65];
    size_t role_len, tenant_len;
    char etag[SB_ETAG_LEN + 1]; /* the tag the client holds */
} watcher;

void sb_watches_init(sb_watches *w, h2o_loop_t *loop, sb_metrics_thread *metrics)
{
    memset(w, 0, sizeof *w);
    w->loop = loop;
    w->metrics = metrics;
    h2o_linklist_init_anchor(&w->list);
}

void sb_watches_dispose(sb_watches *w)
{
    for (int i = 0; i < SB_WAIT_MAX; i++)
        if (w->timeout_ready[i])
            h2o_timeout_dispose(w->loop, &w->timeouts[i]);
}

/* Stops waiting: off the list and the timer. Idempotent. */
static void stop(watcher *x)
{
    if (h2o_linklist_is_linked(&x->link)) {
        h2o_linklist_unlink(&x->link);
        sb_metrics_watchers(x->w->metrics, -1);
        atomic_fetch_sub_explicit(&waiting, 1, memory_order_relaxed);
    }
    if (h2o_timeout_is_linked(&x->timeout))
        h2o_timeout_unlink(&x->timeout);
}

/* The request's pool is going away (answered, or the client left). */
static void on_dispose(void *p)
{
    stop(p);
}

/* The body the watch is about in s, or NULL when its role is gone. */
static const sb_body *current(watcher *x, sb_snapshot *s)
{
    if (x->topology)
        return sb_snapshot_topology(s);
    const sb_answer *a = sb_snapshot_answer(s, x->role, x->role_len,
                                            x->tenant_len ? x->tenant : NULL, x->tenant_len);
    return a ? &a->body : NULL;
}

/* Answers the watch from s: 200 with the new answer, 304 when unchanged, 404 if the role went. */
static void answer(watcher *x, sb_snapshot *s)
{
    h2o_req_t *req = x->req;
    stop(x);
    sb_req_answering(req, SB_R_WATCH, 0);
    const sb_body *b = current(x, s);
    if (b == NULL)
        sb_reply_problem(req,
                         sb_problem(SB_P_NOT_FOUND, NULL, "the role '%s' was deleted", x->role));
    else
        sb_reply_body(req, b, s->revision, true);
}

static void on_timeout(h2o_timeout_entry_t *entry)
{
    watcher *x = (watcher *)((char *)entry - offsetof(watcher, timeout));
    answer(x, sb_req_snapshot(x->req));
}

int sb_watch_start(sb_watches *w, h2o_req_t *req, const char *role, size_t role_len,
                   const char *tenant, size_t tenant_len, const char *etag, unsigned seconds)
{
    if (atomic_fetch_add_explicit(&waiting, 1, memory_order_relaxed) >=
        sb_req_opts()->max_watches) {
        atomic_fetch_sub_explicit(&waiting, 1, memory_order_relaxed);
        return sb_reply_unavailable(req, "the server holds as many long-polls as it takes "
                                         "(--max-watches): retry later, or ask without ?wait");
    }
    watcher *x = h2o_mem_alloc_shared(&req->pool, sizeof *x, on_dispose);
    memset(x, 0, sizeof *x);
    x->req = req;
    x->w = w;
    x->topology = role == NULL;
    if (role != NULL) {
        memcpy(x->role, role, role_len);
        x->role_len = role_len;
    }
    if (tenant != NULL) {
        memcpy(x->tenant, tenant, tenant_len);
        x->tenant_len = tenant_len;
    }
    memcpy(x->etag, etag, SB_ETAG_LEN);
    h2o_linklist_insert(&w->list, &x->link);
    sb_metrics_watchers(w->metrics, 1);
    unsigned i = (seconds > SB_WAIT_MAX ? SB_WAIT_MAX : seconds) - 1;
    if (!w->timeout_ready[i]) {
        h2o_timeout_init(w->loop, &w->timeouts[i], (uint64_t)(i + 1) * 1000);
        w->timeout_ready[i] = true;
    }
    x->timeout.cb = on_timeout;
    h2o_timeout_link(w->loop, &w->timeouts[i], &x->timeout);
    return 0;
}

void sb_watch_published(sb_watches *w, sb_snapshot *s)
{
    h2o_linklist_t *node = w->list.next;
    while (node != &w->list) {
        watcher *x = H2O_STRUCT_FROM_MEMBER(watcher, link, node);
        node = node->next; /* answer() unlinks x */
        const sb_body *b = current(x, s);
        if (b == NULL || memcmp(b->etag, x->etag, SB_ETAG_LEN) != 0)
            answer(x, s);
    }
}

void sb_watches_flush(sb_watches *w, sb_snapshot *s)
{
    while (!h2o_linklist_is_empty(&w->list))
        answer(H2O_STRUCT_FROM_MEMBER(watcher, link, w->list.next), s);
}
