/*
 * Counters for GET /metrics (Prometheus text format).
 *
 * Threading: each serving thread counts its requests in a slot of its own (sb_metrics_thread),
 * which only it writes, with relaxed atomic stores; a scrape sums the slots with relaxed loads.
 * So counting costs no lock and no shared cache line, and a scrape sees every request whose
 * answer was sent before it began. The writer thread's figures (builds, writes) are atomics too.
 */
#ifndef SB_METRICS_H
#define SB_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "util.h"

/* What a request asked for: the label "route". */
enum sb_route {
    SB_R_CONFIG,     /* GET /config/<role> */
    SB_R_CONFIG_ALL, /* GET /config */
    SB_R_TOPOLOGY,   /* GET /topology */
    SB_R_WATCH,      /* a long-poll (?wait=) of /config/<role> or /topology */
    SB_R_HEALTH,     /* /healthz, /readyz */
    SB_R_METRICS,
    SB_R_DASHBOARD,  /* GET / */
    SB_R_ADMIN_READ, /* GET /admin/... */
    SB_R_ADMIN_WRITE,
    SB_R_OTHER,
    SB_R_COUNT
};

#define SB_M_CODES   17 /* the status codes counted one by one, and "other" */
#define SB_M_BUCKETS 14 /* latency histogram buckets, +Inf included */

typedef struct sb_metrics_thread {
    _Atomic uint64_t requests[SB_R_COUNT][SB_M_CODES];
    _Atomic uint64_t latency[SB_M_BUCKETS]; /* not cumulative; watches are left out */
    _Atomic uint64_t latency_sum_ns;
    _Atomic int64_t watchers;
} sb_metrics_thread;

/** Makes n thread slots; call once before the serving threads start. */
void sb_metrics_init(unsigned n_threads);
sb_metrics_thread *sb_metrics_slot(unsigned thread);

/** Counts one answer, on the answering thread's slot. ns < 0: no latency (a watch). */
void sb_metrics_count(sb_metrics_thread *m, enum sb_route route, int status, int64_t ns);
/** Moves the thread's watcher gauge by delta. */
void sb_metrics_watchers(sb_metrics_thread *m, int delta);

/** The writer thread's figures: one snapshot build (published or not), one committed write. */
void sb_metrics_build(double ms, bool failed);
void sb_metrics_write_committed(void);

/* What the page shows that the caller knows: the snapshot served and the store's use. */
typedef struct sb_metrics_state {
    uint64_t revision;
    uint64_t answers_global, answers_tenant; /* answers the snapshot holds */
    uint64_t map_used, map_size;
} sb_metrics_state;

/** The whole page. Caller frees. */
char *sb_metrics_render(const sb_metrics_state *st, size_t *len);

/** A monotonic clock in ns, for latencies. */
int64_t sb_metrics_now_ns(void);

#endif
