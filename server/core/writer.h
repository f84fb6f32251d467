/*
 * The writer: one thread that applies every write, so that a commit's fsync never stalls an
 * event loop. A write is validated against the current state, committed to the store in one
 * durable transaction, turned into a new snapshot, published, and only then answered.
 *
 * Threading: sb_writer_submit may be called from any thread; w->done is called on the writer
 * thread once the result fields are set, after which the writer no longer touches w.
 */
#ifndef SB_WRITER_H
#define SB_WRITER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "match.h"
#include "snapshot.h"
#include "store.h"

#define SB_PLAN_PAGE 100 /* changes a plan lists unless asked for all */

enum sb_op_type { SB_OP_PUT, SB_OP_PATCH, SB_OP_DELETE, SB_OP_ROLLBACK };
extern const char *const sb_op_names[]; /* "put", "patch", "delete", "rollback" */

typedef struct sb_op {
    int type, kind;
    char *id;
    json_t *value;      /* PUT: the document; PATCH: a merge patch; DELETE, ROLLBACK: NULL */
    uint64_t to;        /* ROLLBACK: the revision whose value to restore */
    sb_match if_match;  /* what the document must be at: nothing, existing, a revision */
    bool if_none_match; /* If-None-Match: *, the document must not exist */
    bool changed;       /* set by the writer: false when the result equals the document */
} sb_op;

typedef struct sb_write sb_write;
struct sb_write {
    sb_op *ops;
    size_t n_ops;
    char *actor, *reason;
    char trace_id[33]; /* W3C trace id (32 hex digits) of the request, "" for none */
    bool dry_run;      /* answer with the plan, commit nothing */
    bool force;        /* commit even if a role would lose its route */
    /* The plan's changes listed in a dry run's or a refusal's answer: changes_limit of them
     * from the changes_from-th, in the plan's order (SIZE_MAX: all). The counts and the lost
     * routes are always complete. */
    size_t changes_from, changes_limit;
    /* Set by the writer before done(): what went wrong (an sb_problem_kind, SB_P_NONE: nothing)
     * with the problem's members in body, or the result in body and whether the write created
     * its document; and the revision committed (0 when nothing was: a failure, a dry run, a
     * write that changed nothing). */
    int error;
    bool created;
    json_t *body;
    json_t *warnings; /* NULL, or {"key", "message"} objects the answer carries */
    uint64_t revision;
    void (*done)(sb_write *w);
    sb_write *next; /* the writer's queue */
};

/** Starts the writer thread on store, with the snapshot already published. */
int sb_writer_start(sb_store *store);
/** Queues w; w->done will be called exactly once, on the writer thread. */
void sb_writer_submit(sb_write *w);
/** Finishes every queued write, then stops the thread. */
void sb_writer_stop(void);

/** Releases what an sb_write owns (ops, strings, body), not w itself. */
void sb_write_clear(sb_write *w);

#endif
