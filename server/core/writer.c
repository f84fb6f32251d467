/*
 * The writer thread (see writer.h). It owns the only mutable view of the configuration: the
 * snapshot it last published. A write goes
 *   plan_ops (copy-on-write of the touched kinds, conditions, merge patch, validation)
 *   -> sb_snapshot_build (only the roles the write touches) -> sb_snapshot_plan (the dry run's
 *      answer, and the no-route guard)
 *   -> sb_store_commit (one durable transaction) -> sb_snapshot_publish -> done().
 * Because a write is answered only after its snapshot is published, the next GET anywhere
 * sees it. A write whose plan changes no document stops after the plan: it is answered with
 * the current revision and "changed": false, and nothing is committed or published.
 * Every second the writer also looks for token changes made by `switchboard token` from
 * another process and republishes when it finds one.
 */
#include "writer.h"
#include "doc.h"
#include "log.h"
#include "metrics.h"
#include "error.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const sb_op_names[] = {"put", "patch", "delete", "rollback"};

static struct {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    sb_write *head, **tail;
    bool stopping;
    sb_store *store;
    uint64_t tokens_version;
} W = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

void sb_write_clear(sb_write *w)
{
    for (size_t i = 0; i < w->n_ops; i++) {
        free(w->ops[i].id);
        json_decref(w->ops[i].value);
    }
    free(w->ops);
    free(w->actor);
    free(w->reason);
    json_decref(w->body);
    json_decref(w->warnings);
    w->warnings = NULL;
    w->ops = NULL;
    w->n_ops = 0;
    w->actor = w->reason = NULL;
    w->body = NULL;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int fail(sb_write *w, sb_fault f)
{
    w->error = f.kind;
    w->body = f.members;
    return -1;
}

/* "<kind>/<id>" into buf. */
static const char *key_of(const sb_op *op, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", sb_kind_names[op->kind], op->id);
    return buf;
}

/* Prefixes each error's path with the operation's place in a batch. */
static json_t *batch_errors(json_t *errors, size_t i)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "/ops/%zu/value", i);
    sb_doc_errors_prefix(errors, prefix);
    return errors;
}

/* The cross-document checks on the n changes a write makes; op_of[k] is change k's operation. */
static int check_semantics(sb_write *w, const json_t *docs, const sb_change *changes, size_t n,
                           const size_t *op_of)
{
    json_t *errors = sb_json_check(json_array());
    w->warnings = sb_json_check(json_array());
    for (size_t k = 0; k < n; k++) {
        json_t *found = sb_json_check(json_array());
        sb_doc_semantics(docs, &changes[k], 1, false, found, w->warnings);
        if (w->n_ops > 1)
            batch_errors(found, op_of[k]);
        json_array_extend(errors, found);
        json_decref(found);
    }
    if (json_array_size(errors) == 0) {
        json_decref(errors);
        return 0;
    }
    return fail(w, sb_fault_new(SB_P_INVALID, errors,
                                "the write would leave the configuration inconsistent"));
}

/*
 * Applies w's ops to copies of the touched kinds of cur (the snapshot is left as it is): the
 * conditions, merge patches, validation and the checks across documents. An op whose result
 * equals the document as it stands (after the ops before it) changes nothing: it is marked so
 * and left out of the changes. 0 with the new documents, revisions and the *n changes (none:
 * the write changes nothing); -1 with w->error and w->body set.
 */
static int plan_ops(const sb_snapshot *cur, sb_write *w, json_t **docs_out, json_t **revs_out,
                    sb_change **changes_out, size_t *n_out)
{
    json_t *docs = sb_json_check(json_copy(cur->docs));
    json_t *revs = sb_json_check(json_copy(cur->revs));
    bool copied[SB_KIND_COUNT] = {false};
    sb_change *changes = calloc(w->n_ops ? w->n_ops : 1, sizeof *changes);
    size_t *op_of = calloc(w->n_ops ? w->n_ops : 1, sizeof *op_of), n = 0;
    uint64_t next_rev = cur->revision + 1;
    char key[256];
    if (changes == NULL || op_of == NULL)
        sb_json_check(NULL);

    for (size_t i = 0; i < w->n_ops; i++) {
        sb_op *op = &w->ops[i];
        const char *kname = sb_kind_names[op->kind];
        if (!copied[op->kind]) { /* copy-on-write: the snapshot's objects stay untouched */
            json_object_set_new(docs, kname,
                                sb_json_check(json_copy(json_object_get(docs, kname))));
            json_object_set_new(revs, kname,
                                sb_json_check(json_copy(json_object_get(revs, kname))));
            copied[op->kind] = true;
        }
        json_t *kdocs = json_object_get(docs, kname), *krevs = json_object_get(revs, kname);
        json_t *existing = json_object_get(kdocs, op->id);
        json_int_t rev = json_integer_value(json_object_get(krevs, op->id));
        const char *where = key_of(op, key, sizeof key);
        sb_fault problem = {0};
        json_t *value = NULL;

        if (op->if_match.kind == SB_MATCH_REVISION &&
            (existing == NULL || (uint64_t)rev != op->if_match.revision))
            problem =
                existing
                    ? sb_fault_new(SB_P_PRECONDITION, NULL, "%s is at revision %lld, not %llu",
                                   where, (long long)rev, (unsigned long long)op->if_match.revision)
                    : sb_fault_new(SB_P_PRECONDITION, NULL, "%s does not exist", where);
        else if (op->if_match.kind == SB_MATCH_ANY && existing == NULL)
            problem = sb_fault_new(SB_P_PRECONDITION, NULL, "%s does not exist", where);
        else if (op->if_none_match && existing != NULL)
            problem = sb_fault_new(SB_P_PRECONDITION, NULL, "%s already exists (revision %lld)",
                                   where, (long long)rev);
        else if ((op->type == SB_OP_PATCH || op->type == SB_OP_DELETE) && existing == NULL)
            problem = sb_fault_new(SB_P_NOT_FOUND, NULL, "%s does not exist", where);
        bool deletes = op->type == SB_OP_DELETE || (op->type == SB_OP_ROLLBACK && !op->value);
        if (!problem.kind && !deletes) {
            value = op->type == SB_OP_PATCH ? sb_merge_patch(existing, op->value)
                                            : json_incref(op->value);
            json_t *errors = sb_json_check(json_array());
            size_t size = json_dumpb(value, NULL, 0, JSON_COMPACT);
            if (size > SB_DOC_MAX) /* a batch's document, or what a merge patch made */
                problem = sb_fault_new(SB_P_TOO_LARGE, NULL,
                                       "%s would be %zu bytes as compact JSON; a document is at "
                                       "most %d",
                                       where, size, SB_DOC_MAX);
            if (problem.kind)
                json_decref(errors);
            else if (sb_doc_validate(op->kind, value, errors) != 0)
                problem =
                    w->n_ops > 1
                        ? sb_fault_new(SB_P_INVALID, batch_errors(errors, i),
                                       "operation %zu (%s) is not a valid document", i, where)
                        : sb_fault_new(SB_P_INVALID, errors, "%s is not a valid document", where);
            else
                json_decref(errors);
        }
        if (problem.kind) {
            if (w->n_ops > 1)
                json_object_set_new(problem.members, "index", json_integer((json_int_t)i));
            json_decref(value);
            json_decref(docs);
            json_decref(revs);
            free(changes);
            free(op_of);
            return fail(w, problem);
        }
        op->changed = value ? !json_equal(value, existing) : existing != NULL;
        if (!op->changed) {
            json_decref(value);
            continue;
        }
        if (value != NULL) {
            json_object_set_new(kdocs, op->id, value);
            json_object_set_new(krevs, op->id, json_integer((json_int_t)next_rev));
        } else {
            json_object_del(kdocs, op->id);
            json_object_del(krevs, op->id);
        }
        op_of[n] = i;
        changes[n++] = (sb_change){op->kind, op->id, value, sb_op_names[op->type]};
    }
    if (check_semantics(w, docs, changes, n, op_of) != 0) {
        json_decref(docs);
        json_decref(revs);
        free(changes);
        free(op_of);
        return -1;
    }
    free(op_of);
    *docs_out = docs;
    *revs_out = revs;
    *changes_out = changes;
    *n_out = n;
    return 0;
}

/* The success body: one document's key, value and whether the write changed it, or a batch's
 * results; then the revision and whether anything changed. */
static json_t *result_body(const sb_write *w, const json_t *docs, uint64_t revision)
{
    json_t *results = sb_json_check(json_array());
    bool changed = false;
    char key[256];
    for (size_t i = 0; i < w->n_ops; i++) {
        const sb_op *op = &w->ops[i];
        json_t *v = json_object_get(json_object_get(docs, sb_kind_names[op->kind]), op->id);
        json_t *item =
            sb_json_check(json_pack("{s:s, s:O?}", "key", key_of(op, key, sizeof key), "value", v));
        if (w->n_ops > 1)
            json_object_set_new(item, "changed", json_boolean(op->changed));
        json_array_append_new(results, item);
        changed = changed || op->changed;
    }
    json_t *body;
    if (w->n_ops == 1) {
        body = json_incref(json_array_get(results, 0));
        json_decref(results);
    } else {
        body = sb_json_check(json_pack("{s:o}", "results", results));
    }
    json_object_set_new(body, "revision", json_integer((json_int_t)revision));
    json_object_set_new(body, "changed", json_boolean(changed));
    return body;
}

/* Rollbacks take the value of the version they name from history: -1 with a problem if none. */
static int resolve_rollbacks(sb_write *w)
{
    char key[256];
    for (size_t i = 0; i < w->n_ops; i++) {
        sb_op *op = &w->ops[i];
        json_t *entry = NULL;
        if (op->type != SB_OP_ROLLBACK)
            continue;
        int rc = sb_store_version(W.store, op->kind, op->id, op->to, &entry);
        if (rc != 0) {
            sb_fault p =
                rc == SB_STORE_NOTFOUND
                    ? sb_fault_new(SB_P_NOT_FOUND, NULL, "%s has no version at revision %llu",
                                   key_of(op, key, sizeof key), (unsigned long long)op->to)
                    : sb_fault_new(SB_P_UNAVAILABLE, NULL, "the store could not be read: %s",
                                   sb_store_error(W.store, rc));
            return fail(w, p);
        }
        json_t *value = json_object_get(entry, "value");
        op->value = json_is_null(value) ? NULL : json_incref(value);
        json_decref(entry);
    }
    return 0;
}

/* A plan as an answer carries it: "counts", the listed "changes", "changes_from",
 * "changes_next" (null when none are left) and every "loses_route". */
static json_t *plan_body(sb_plan *p)
{
    json_t *counts = json_pack("{s:I, s:I, s:O, s:I}", "changes", (json_int_t)p->changes, "global",
                               (json_int_t)p->global, "tenants", p->tenants, "loses_route",
                               (json_int_t)json_array_size(p->lost));
    return sb_json_check(json_pack(
        "{s:o, s:O, s:I, s:o, s:O}", "counts", sb_json_check(counts), "changes", p->listed,
        "changes_from", (json_int_t)p->from, "changes_next",
        p->next ? json_integer((json_int_t)p->next) : json_null(), "loses_route", p->lost));
}

/* Answers a write that changes nothing: the current revision, and nothing recorded. */
static void unchanged(sb_write *w, const sb_snapshot *cur)
{
    char key[256];
    w->revision = 0; /* nothing committed: the answer carries the current snapshot's revision */
    if (w->dry_run) {
        sb_plan none = {.tenants = sb_json_check(json_object()),
                        .listed = sb_json_check(json_array()),
                        .lost = sb_json_check(json_array()),
                        .from = w->changes_from};
        w->body = sb_json_check(
            json_pack("{s:b, s:I}", "dry_run", 1, "revision", (json_int_t)cur->revision));
        json_t *body = plan_body(&none);
        json_object_update(w->body, body);
        json_object_set(w->body, "warnings", w->warnings);
        json_decref(body);
        sb_plan_clear(&none);
        return;
    }
    w->body = result_body(w, cur->docs, cur->revision);
    for (size_t i = 0; i < w->n_ops; i++)
        sb_log("info", "write_unchanged",
               json_pack("{s:s, s:s, s:I, s:s?, s:s?, s:s?}", "key",
                         key_of(&w->ops[i], key, sizeof key), "op", sb_op_names[w->ops[i].type],
                         "revision", (json_int_t)cur->revision, "actor", w->actor, "reason",
                         w->reason, "trace_id", w->trace_id[0] ? w->trace_id : NULL));
}

static void apply(sb_write *w)
{
    if (resolve_rollbacks(w) != 0)
        return;
    sb_snapshot *cur = sb_snapshot_acquire();
    json_t *docs, *revs;
    sb_change *changes;
    size_t n;
    if (plan_ops(cur, w, &docs, &revs, &changes, &n) != 0) {
        sb_snapshot_unref(cur);
        return;
    }
    if (n == 0) {
        unchanged(w, cur);
        json_decref(docs);
        json_decref(revs);
        free(changes);
        sb_snapshot_unref(cur);
        return;
    }
    /* The snapshot this write would publish, built before anything is committed: it is the
     * plan, and the no-route guard reads it. */
    double t0 = now_ms();
    json_t *tokens = json_incref(cur->tokens);
    sb_snapshot *next = sb_snapshot_build(docs, revs, tokens, cur->revision + 1, cur, changes, n);
    double t1 = now_ms();
    sb_plan plan;
    sb_snapshot_plan(next, w->changes_from, w->dry_run ? w->changes_limit : 0, &plan);
    size_t lost = json_array_size(plan.lost);
    if (w->dry_run || (lost > 0 && !w->force)) {
        if (!w->dry_run) { /* the 409 shows the plan's first page */
            sb_plan_clear(&plan);
            sb_snapshot_plan(next, w->changes_from, w->changes_limit, &plan);
        }
        json_t *body = plan_body(&plan);
        if (w->dry_run) {
            w->body = sb_json_check(
                json_pack("{s:b, s:I}", "dry_run", 1, "revision", (json_int_t)cur->revision));
            json_object_update(w->body, body);
            json_object_set(w->body, "warnings", w->warnings);
            json_decref(body);
        } else {
            fail(w, sb_fault_new(SB_P_CONFLICT, NULL,
                                 "this write would leave %zu answer(s) with no route (primary: "
                                 "null); add ?force=1 to make it anyway",
                                 lost));
            json_object_update(w->body, body);
            json_decref(body);
        }
        sb_plan_clear(&plan);
        sb_metrics_build(t1 - t0, false);
        free(changes);
        sb_snapshot_unref(next);
        sb_snapshot_unref(cur);
        return;
    }
    sb_plan_clear(&plan);

    uint64_t revision;
    sb_commit_info info = {w->actor, w->reason, w->trace_id[0] ? w->trace_id : NULL};
    int rc = sb_store_commit(W.store, changes, n, &info, &revision);
    double t2 = now_ms();
    if (rc == 0 && revision != next->revision) { /* only this thread writes: cannot happen */
        sb_log("error", "revision_skew",
               json_pack("{s:I, s:I}", "store", (json_int_t)revision, "snapshot",
                         (json_int_t)next->revision));
        abort();
    }
    if (rc != 0) {
        fail(w, sb_fault_new(SB_P_UNAVAILABLE, NULL, "the store refused the write: %s",
                             sb_store_error(W.store, rc)));
        sb_log("error", "write_failed", json_pack("{s:s}", "error", sb_store_error(W.store, rc)));
        sb_metrics_build(t1 - t0, true);
        free(changes);
        sb_snapshot_unref(next);
        sb_snapshot_unref(cur);
        return;
    }
    bool created =
        w->n_ops == 1 && w->ops[0].type == SB_OP_PUT &&
        !json_object_get(json_object_get(cur->docs, sb_kind_names[w->ops[0].kind]), w->ops[0].id);
    w->created = created;
    w->revision = revision;
    w->body = result_body(w, next->docs, revision);
    if (json_array_size(w->warnings) > 0)
        json_object_set(w->body, "warnings", w->warnings);
    sb_snapshot_seal(next);
    sb_snapshot_publish(next);
    sb_metrics_build(t1 - t0, false);
    sb_metrics_write_committed();
    free(changes);
    sb_snapshot_unref(cur);

    char key[256];
    for (size_t i = 0; i < w->n_ops; i++) {
        if (!w->ops[i].changed)
            continue;
        sb_log("info", "write",
               json_pack("{s:s, s:s, s:I, s:s?, s:s?, s:s?, s:f, s:f}", "key",
                         key_of(&w->ops[i], key, sizeof key), "op", sb_op_names[w->ops[i].type],
                         "revision", (json_int_t)revision, "actor", w->actor, "reason", w->reason,
                         "trace_id", info.trace_id, "commit_ms", t2 - t1, "snapshot_ms", t1 - t0));
    }
}

/* Republishes the current documents with the store's tokens when another process changed them. */
static void refresh_tokens(void)
{
    uint64_t version;
    json_t *tokens;
    if (sb_store_tokens_version(W.store, &version) != 0 || version == W.tokens_version)
        return;
    if (sb_store_tokens(W.store, &tokens, &version) != 0)
        return;
    W.tokens_version = version;
    sb_snapshot *cur = sb_snapshot_acquire();
    sb_snapshot_publish(sb_snapshot_build(json_incref(cur->docs), json_incref(cur->revs), tokens,
                                          cur->revision, cur, NULL, 0));
    sb_snapshot_unref(cur);
    sb_log("info", "tokens_reloaded", NULL);
}

static void *writer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&W.lock);
    for (;;) {
        while (W.head == NULL && !W.stopping) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            if (pthread_cond_timedwait(&W.wake, &W.lock, &until) == ETIMEDOUT) {
                pthread_mutex_unlock(&W.lock);
                refresh_tokens();
                pthread_mutex_lock(&W.lock);
            }
        }
        sb_write *w = W.head;
        if (w == NULL)
            break; /* stopping, and nothing left to do */
        W.head = w->next;
        if (W.head == NULL)
            W.tail = &W.head;
        pthread_mutex_unlock(&W.lock);
        apply(w);
        w->done(w);
        pthread_mutex_lock(&W.lock);
    }
    pthread_mutex_unlock(&W.lock);
    return NULL;
}

int sb_writer_start(sb_store *store)
{
    json_t *ignored;
    W.store = store;
    W.head = NULL;
    W.tail = &W.head;
    W.stopping = false;
    if (sb_store_tokens(store, &ignored, &W.tokens_version) == 0)
        json_decref(ignored);
    return pthread_create(&W.thread, NULL, writer_main, NULL);
}

void sb_writer_submit(sb_write *w)
{
    w->next = NULL;
    pthread_mutex_lock(&W.lock);
    *W.tail = w;
    W.tail = &w->next;
    pthread_cond_signal(&W.wake);
    pthread_mutex_unlock(&W.lock);
}

void sb_writer_stop(void)
{
    pthread_mutex_lock(&W.lock);
    W.stopping = true;
    pthread_cond_signal(&W.wake);
    pthread_mutex_unlock(&W.lock);
    pthread_join(W.thread, NULL);
}
