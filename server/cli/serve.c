/*
 * switchboard serve: open the store (one process serves a data directory: the lock says so),
 * seed an empty store, make sure an admin token exists, publish the first snapshot, start the
 * writer, then the event loops.
 */
#include "cli.h"
#include "demo.h"
#include "core/doc.h"
#include "core/log.h"
#include "core/writer.h"
#include "http/http.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_LISTEN 16

static const char usage[] =
    "usage: switchboard [serve] [options]\n"
    "\n"
    "Serves the switchboard config API. With no options: 127.0.0.1:8080, data in\n"
    "./switchboard-data, and a demo topology seeded into an empty store.\n"
    "\n"
    "options:\n"
    "  --listen ADDR:PORT   address to serve on, repeatable ([::1]:8080 for IPv6;\n"
    "                       port 0 picks a free one). Default 127.0.0.1:8080\n"
    "  --data DIR           data directory (LMDB store, admin.token). Default\n"
    "                       ./switchboard-data\n"
    "  --threads N          event-loop threads. Default: the number of CPUs\n"
    "  --ttl SECONDS        Cache-Control max-age of answers. Default 5\n"
    "  --seed FILE          topology to load into an empty store instead of the demo\n"
    "  --no-demo            start an empty store empty\n"
    "  --read-auth          reads need a token too (read or admin scope)\n"
    "  --tls-cert FILE, --tls-key FILE\n"
    "                       serve HTTPS (HTTP/2 through ALPN) instead of HTTP\n"
    "  --max-connections N  open connections at most; one more is answered 503 and\n"
    "                       closed. Default 10000\n"
    "  --max-watches N      long-polls waiting at once at most; one more is answered\n"
    "                       503. Default 10000\n"
    "  --log-format json|text\n"
    "                       log lines on stderr. Default json\n"
    "  -h, --help           this text\n"
    "\n"
    "The store is migrated to this binary's schema at every start (a copy of it is saved\n"
    "first, in DIR/backup-schema-<version>-<time>); `switchboard migrate` does it without\n"
    "serving.\n";

typedef struct options {
    const char *listen[MAX_LISTEN];
    size_t n_listen;
    const char *data, *seed, *tls_cert, *tls_key;
    unsigned threads, ttl, max_connections, max_watches;
    bool read_auth, no_demo, log_text;
} options;

/* 0, 1 after --help, or 2 for a usage error (reported). */
static int parse(int argc, char **argv, options *o)
{
    enum {
        LISTEN = 256,
        DATA,
        THREADS,
        TTL,
        SEED,
        NO_DEMO,
        READ_AUTH,
        CERT,
        KEY,
        LOG,
        MAX_CONN,
        MAX_WATCH
    };
    static const struct option longopts[] = {{"listen", required_argument, NULL, LISTEN},
                                             {"data", required_argument, NULL, DATA},
                                             {"threads", required_argument, NULL, THREADS},
                                             {"ttl", required_argument, NULL, TTL},
                                             {"seed", required_argument, NULL, SEED},
                                             {"no-demo", no_argument, NULL, NO_DEMO},
                                             {"read-auth", no_argument, NULL, READ_AUTH},
                                             {"tls-cert", required_argument, NULL, CERT},
                                             {"tls-key", required_argument, NULL, KEY},
                                             {"log-format", required_argument, NULL, LOG},
                                             {"max-connections", required_argument, NULL, MAX_CONN},
                                             {"max-watches", required_argument, NULL, MAX_WATCH},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int c;
    while ((c = sb_cli_option("serve", argc, argv, longopts)) != -1) {
        switch (c) {
        case LISTEN:
            if (o->n_listen == MAX_LISTEN || strrchr(optarg, ':') == NULL)
                return sb_cli_fail("--listen takes ADDR:PORT (at most 16 of them): %s", optarg), 2;
            o->listen[o->n_listen++] = optarg;
            break;
        case DATA:
            o->data = optarg;
            break;
        case THREADS:
            if (!sb_cli_uint(optarg, 1, 256, &o->threads))
                return sb_cli_fail("--threads takes a number from 1 to 256, not %s", optarg), 2;
            break;
        case TTL:
            if (!sb_cli_uint(optarg, 0, 86400, &o->ttl))
                return sb_cli_fail("--ttl takes seconds from 0 to 86400, not %s", optarg), 2;
            break;
        case MAX_CONN:
            if (!sb_cli_uint(optarg, 1, 1000000, &o->max_connections))
                return sb_cli_fail("--max-connections takes a number from 1 to 1000000, not %s",
                                   optarg),
                       2;
            break;
        case MAX_WATCH:
            if (!sb_cli_uint(optarg, 0, 1000000, &o->max_watches))
                return sb_cli_fail("--max-watches takes a number from 0 to 1000000, not %s",
                                   optarg),
                       2;
            break;
        case SEED:
            o->seed = optarg;
            break;
        case NO_DEMO:
            o->no_demo = true;
            break;
        case READ_AUTH:
            o->read_auth = true;
            break;
        case CERT:
            o->tls_cert = optarg;
            break;
        case KEY:
            o->tls_key = optarg;
            break;
        case LOG:
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
                return sb_cli_fail("--log-format takes json or text, not %s", optarg), 2;
            o->log_text = strcmp(optarg, "text") == 0;
            break;
        case 'h':
            fputs(usage, stdout);
            return 1;
        default:
            return 2;
        }
    }
    if (optind < argc)
        return sb_cli_fail("unexpected argument %s (see switchboard serve --help)", argv[optind]),
               2;
    if ((o->tls_cert == NULL) != (o->tls_key == NULL))
        return sb_cli_fail("%s", "--tls-cert and --tls-key go together"), 2;
    return 0;
}

/* ---- serving ---- */

/* Loads a topology (file path, or the demo when path is NULL) into an empty store. */
static int seed(sb_store *store, const char *path)
{
    json_error_t err;
    json_t *topo = path ? json_load_file(path, JSON_REJECT_DUPLICATES, &err)
                        : json_loads(sb_demo_topology, 0, &err);
    if (topo == NULL) {
        fprintf(stderr, "switchboard: %s: line %d: %s\n", path ? path : "demo", err.line, err.text);
        return -1;
    }
    json_t *errors = json_array();
    if (sb_topology_validate(topo, errors) != 0) {
        size_t i;
        json_t *e;
        json_array_foreach (errors, i, e)
            fprintf(stderr, "switchboard: %s: %s %s\n", path ? path : "demo",
                    json_string_value(json_object_get(e, "path")),
                    json_string_value(json_object_get(e, "message")));
        json_decref(errors);
        json_decref(topo);
        return -1;
    }
    json_decref(errors);
    size_t n = 0, cap = 16;
    sb_change *changes = sb_xmalloc(cap * sizeof *changes);
    for (int k = 0; k < SB_KIND_COUNT; k++) {
        const char *id;
        json_t *doc;
        json_object_foreach (json_object_get(topo, sb_kind_names[k]), id, doc) {
            if (n == cap)
                changes = sb_xrealloc(changes, (cap *= 2) * sizeof *changes);
            changes[n++] = (sb_change){k, id, doc, "put"};
        }
    }
    json_t *errors2 = json_array();
    json_t *docs = json_object();
    for (int k = 0; k < SB_KIND_COUNT; k++) {
        json_t *kd = json_object_get(topo, sb_kind_names[k]);
        json_object_set(docs, sb_kind_names[k], kd ? kd : json_object());
    }
    if (sb_doc_semantics(docs, changes, n, false, errors2, NULL) != 0) {
        size_t i;
        json_t *e;
        json_array_foreach (errors2, i, e) {
            fprintf(stderr, "switchboard: %s: %s\n", path ? path : "demo",
                    json_string_value(json_object_get(e, "message")));
        }
        json_decref(errors2);
        json_decref(docs);
        free(changes);
        json_decref(topo);
        return -1;
    }
    json_decref(errors2);
    json_decref(docs);
    uint64_t revision = 0;
    sb_commit_info info = {"seed", path ? path : "the demo topology", NULL};
    int rc = n ? sb_store_commit(store, changes, n, &info, &revision) : 0;
    free(changes);
    json_decref(topo);
    if (rc != 0) {
        fprintf(stderr, "switchboard: cannot seed the store: %s\n", sb_store_strerror(rc));
        return -1;
    }
    sb_log("info", "seeded",
           json_pack("{s:s, s:I, s:I}", "from", path ? path : "demo", "documents", (json_int_t)n,
                     "revision", (json_int_t)revision));
    return 0;
}

/* On first start (no token at all), creates the token "admin" and writes it to admin.token. */
static int ensure_admin_token(sb_store *store, const char *dir)
{
    json_t *tokens;
    uint64_t version;
    char secret[64], path[4096];
    int rc = sb_store_tokens(store, &tokens, &version);
    if (rc != 0)
        return -1;
    size_t n = json_object_size(tokens);
    json_decref(tokens);
    if (n > 0)
        return 0;
    if (sb_cli_token_create(store, "admin", "admin", secret) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/admin.token", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || dprintf(fd, "%s\n", secret) < 0 || fsync(fd) != 0) {
        fprintf(stderr, "switchboard: cannot write %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    sb_log("info", "admin_token_created", json_pack("{s:s}", "file", path));
    return 0;
}

static int serve(options *o)
{
    sb_store *store;
    int rc = sb_store_open(o->data, &store);
    if (rc != 0)
        return sb_cli_fail("cannot open the store: %s", sb_store_strerror(rc));
    int lock = sb_cli_lock(o->data);
    if (lock < 0) {
        sb_store_close(store);
        return sb_cli_fail("another switchboard is serving %s", o->data);
    }

    json_t *docs, *revs, *tokens;
    uint64_t revision, tokens_version;
    rc = sb_store_load(store, &docs, &revs, &revision);
    if (rc == 0 && revision == 0 && (o->seed || !o->no_demo)) {
        json_decref(docs);
        json_decref(revs);
        rc = seed(store, o->seed) != 0 ? -1 : sb_store_load(store, &docs, &revs, &revision);
    } else if (rc == 0 && o->seed) {
        sb_log("warn", "seed_ignored",
               json_pack("{s:s, s:I}", "reason", "the store is not empty", "revision",
                         (json_int_t)revision));
    }
    if (rc == 0 && ensure_admin_token(store, o->data) != 0)
        rc = -1;
    if (rc == 0)
        rc = sb_store_tokens(store, &tokens, &tokens_version);
    if (rc != 0) {
        sb_store_close(store);
        return rc > 0 ? sb_cli_fail("cannot read the store: %s", sb_store_strerror(rc)) : 1;
    }
    sb_snapshot_publish(sb_snapshot_build(docs, revs, tokens, revision, NULL, NULL, 0));
    sb_log("info", "start",
           json_pack("{s:s, s:s, s:I}", "version", SB_VERSION, "data", o->data, "revision",
                     (json_int_t)revision));
    if (sb_writer_start(store) != 0) {
        sb_store_close(store);
        return sb_cli_fail("%s", "cannot start the writer thread");
    }
    if (o->n_listen == 0)
        o->listen[o->n_listen++] = "127.0.0.1:8080";
    sb_http_opts http = {.listen = o->listen,
                         .n_listen = o->n_listen,
                         .threads = o->threads,
                         .ttl = o->ttl,
                         .read_auth = o->read_auth,
                         .max_connections = o->max_connections,
                         .max_watches = o->max_watches,
                         .tls_cert = o->tls_cert,
                         .tls_key = o->tls_key,
                         .store = store};
    rc = sb_http_serve(&http);
    sb_writer_stop();
    sb_snapshot_publish(NULL);
    sb_store_close(store);
    close(lock);
    sb_log("info", "stop", NULL);
    return rc == 0 ? 0 : 1;
}

int sb_cmd_serve(int argc, char **argv)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    options o = {.data = SB_DATA_DEFAULT,
                 .ttl = 5,
                 .threads = cpus > 0 ? (unsigned)cpus : 1,
                 .max_connections = SB_MAX_CONNECTIONS,
                 .max_watches = SB_MAX_WATCHES};
    optind = 1;
    int rc = parse(argc, argv, &o);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    sb_log_set_text(o.log_text);
    sb_http_block_signals();
    return serve(&o);
}
