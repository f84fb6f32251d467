/*
 * Counters and their Prometheus rendering (threading model in metrics.h).
 */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const int codes[SB_M_CODES - 1] = {200, 201, 204, 304, 400, 401, 403, 404,
                                          405, 409, 412, 413, 415, 422, 500, 503};
static const char *const route_names[SB_R_COUNT] = {
    "config",  "config_all", "topology",   "watch",       "health",
    "metrics", "dashboard",  "admin_read", "admin_write", "other"};
/* Upper bounds in ns of the latency buckets; the last is +Inf. */
static const int64_t bounds[SB_M_BUCKETS - 1] = {25000,    50000,     100000,    250000,   500000,
                                                 1000000,  2500000,   5000000,   10000000, 25000000,
                                                 50000000, 100000000, 1000000000};

static struct {
    sb_metrics_thread *threads;
    unsigned n;
    _Atomic uint64_t builds, build_failures, build_us_sum, writes;
    _Atomic int64_t last_write_ms; /* Unix time */
} M;

void sb_metrics_init(unsigned n_threads)
{
    M.threads = sb_xmalloc(n_threads * sizeof *M.threads);
    memset(M.threads, 0, n_threads * sizeof *M.threads);
    M.n = n_threads;
}

sb_metrics_thread *sb_metrics_slot(unsigned thread)
{
    return &M.threads[thread];
}

int64_t sb_metrics_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Only the owning thread writes its slot: a load and a store are enough, and cost no lock. */
static void bump(_Atomic uint64_t *c, uint64_t by)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + by,
                          memory_order_relaxed);
}

void sb_metrics_count(sb_metrics_thread *m, enum sb_route route, int status, int64_t ns)
{
    int code = SB_M_CODES - 1;
    for (int i = 0; i < SB_M_CODES - 1; i++)
        if (codes[i] == status)
            code = i;
    bump(&m->requests[route][code], 1);
    if (ns < 0)
        return;
    int b = 0;
    while (b < SB_M_BUCKETS - 1 && ns > bounds[b])
        b++;
    bump(&m->latency[b], 1);
    bump(&m->latency_sum_ns, (uint64_t)ns);
}

void sb_metrics_watchers(sb_metrics_thread *m, int delta)
{
    atomic_store_explicit(&m->watchers,
                          atomic_load_explicit(&m->watchers, memory_order_relaxed) + delta,
                          memory_order_relaxed);
}

void sb_metrics_build(double ms, bool failed)
{
    atomic_fetch_add(&M.builds, 1);
    atomic_fetch_add(&M.build_us_sum, (uint64_t)(ms * 1000));
    if (failed)
        atomic_fetch_add(&M.build_failures, 1);
}

void sb_metrics_write_committed(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    atomic_fetch_add(&M.writes, 1);
    atomic_store(&M.last_write_ms, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static uint64_t load(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

char *sb_metrics_render(const sb_metrics_state *st, size_t *len)
{
    sb_buf b = {0};
    char line[512];
#define OUT(...)                                                                                   \
    do {                                                                                           \
        snprintf(line, sizeof line, __VA_ARGS__);                                                  \
        sb_buf_adds(&b, line);                                                                     \
    } while (0)
    OUT("# HELP switchboard_requests_total Requests answered, by route and status code.\n"
        "# TYPE switchboard_requests_total counter\n");
    uint64_t not_modified = 0;
    for (int r = 0; r < SB_R_COUNT; r++)
        for (int c = 0; c < SB_M_CODES; c++) {
            uint64_t n = 0;
            for (unsigned t = 0; t < M.n; t++)
                n += load(&M.threads[t].requests[r][c]);
            if (c < SB_M_CODES - 1 && codes[c] == 304)
                not_modified += n;
            if (n > 0 || (r == SB_R_CONFIG && c == 0))
                OUT("switchboard_requests_total{route=\"%s\",code=\"%s%d\"} %llu\n", route_names[r],
                    c == SB_M_CODES - 1 ? "other" : "", c == SB_M_CODES - 1 ? 0 : codes[c],
                    (unsigned long long)n);
        }
    OUT("# HELP switchboard_not_modified_total Answers that were 304 Not Modified.\n"
        "# TYPE switchboard_not_modified_total counter\n"
        "switchboard_not_modified_total %llu\n",
        (unsigned long long)not_modified);

    OUT("# HELP switchboard_request_duration_seconds Time from a request to its answer, "
        "long-polls left out.\n# TYPE switchboard_request_duration_seconds histogram\n");
    uint64_t cumulative = 0, sum_ns = 0;
    for (int i = 0; i < SB_M_BUCKETS; i++) {
        for (unsigned t = 0; t < M.n; t++)
            cumulative += load(&M.threads[t].latency[i]);
        if (i < SB_M_BUCKETS - 1)
            OUT("switchboard_request_duration_seconds_bucket{le=\"%g\"} %llu\n", bounds[i] / 1e9,
                (unsigned long long)cumulative);
        else
            OUT("switchboard_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                (unsigned long long)cumulative);
    }
    for (unsigned t = 0; t < M.n; t++)
        sum_ns += load(&M.threads[t].latency_sum_ns);
    OUT("switchboard_request_duration_seconds_sum %.9f\n", sum_ns / 1e9);
    OUT("switchboard_request_duration_seconds_count %llu\n", (unsigned long long)cumulative);

    int64_t watchers = 0;
    for (unsigned t = 0; t < M.n; t++)
        watchers += atomic_load_explicit(&M.threads[t].watchers, memory_order_relaxed);
    OUT("# HELP switchboard_watchers Long-poll requests waiting for a change.\n"
        "# TYPE switchboard_watchers gauge\nswitchboard_watchers %lld\n",
        (long long)watchers);
    OUT("# HELP switchboard_revision The store revision being served.\n"
        "# TYPE switchboard_revision gauge\nswitchboard_revision %llu\n",
        (unsigned long long)st->revision);
    OUT("# HELP switchboard_answers Answers the served snapshot holds: global ones, and the "
        "tenants' "
        "own (where a tenant shapes a role).\n# TYPE switchboard_answers gauge\n"
        "switchboard_answers{of=\"global\"} %llu\nswitchboard_answers{of=\"tenants\"} %llu\n",
        (unsigned long long)st->answers_global, (unsigned long long)st->answers_tenant);
    OUT("# HELP switchboard_writes_total Writes committed since start.\n"
        "# TYPE switchboard_writes_total counter\nswitchboard_writes_total %llu\n",
        (unsigned long long)load(&M.writes));
    int64_t last = atomic_load(&M.last_write_ms);
    OUT("# HELP switchboard_last_write_timestamp_seconds When the last write committed (0: none "
        "since start).\n# TYPE switchboard_last_write_timestamp_seconds gauge\n"
        "switchboard_last_write_timestamp_seconds %.3f\n",
        last / 1e3);
    OUT("# HELP switchboard_snapshot_builds_total Snapshots built (one per write, dry runs "
        "included).\n# TYPE switchboard_snapshot_builds_total counter\n"
        "switchboard_snapshot_builds_total %llu\n",
        (unsigned long long)load(&M.builds));
    OUT("# HELP switchboard_snapshot_build_failures_total Snapshots built but not published "
        "because the commit failed.\n# TYPE switchboard_snapshot_build_failures_total counter\n"
        "switchboard_snapshot_build_failures_total %llu\n",
        (unsigned long long)load(&M.build_failures));
    OUT("# HELP switchboard_snapshot_build_seconds_total Time spent building snapshots.\n"
        "# TYPE switchboard_snapshot_build_seconds_total counter\n"
        "switchboard_snapshot_build_seconds_total %.6f\n",
        load(&M.build_us_sum) / 1e6);
    OUT("# HELP switchboard_lmdb_map_used_bytes Bytes of the LMDB map in use.\n"
        "# TYPE switchboard_lmdb_map_used_bytes gauge\nswitchboard_lmdb_map_used_bytes %llu\n",
        (unsigned long long)st->map_used);
    OUT("# HELP switchboard_lmdb_map_size_bytes The LMDB map's size (its maximum).\n"
        "# TYPE switchboard_lmdb_map_size_bytes gauge\nswitchboard_lmdb_map_size_bytes %llu\n",
        (unsigned long long)st->map_size);
#undef OUT
    *len = b.len;
    return b.p;
}
