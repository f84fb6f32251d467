/*
 * switchboard: the daemon's command line.
 *
 *   switchboard [serve] [options]     serve the API (the default)
 *   switchboard token create|list|revoke ...
 *
 * Start-up order: open the store (one process serves a data directory: a lock file says so),
 * seed an empty store, make sure an admin token exists, publish the first snapshot, start the
 * writer, then the event loops.
 */
#include "demo.h"
#include "core/doc.h"
#include "http/http.h"
#include "core/log.h"
#include "store/migrations/migrations.h"
#include "store/store.h"
#include "core/writer.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define MAX_LISTEN 16

static const char usage[] =
    "usage: switchboard [serve] [options]\n"
    "       switchboard token create --name NAME [--scope admin|read] [--data DIR]\n"
    "       switchboard token list [--data DIR]\n"
    "       switchboard token revoke NAME [--data DIR]\n"
    "       switchboard migrate [--status] [--data DIR]\n"
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
    "  --version            the version\n"
    "\n"
    "The store is migrated to this binary's schema at every start (a copy of it is saved\n"
    "first, in DIR/backup-schema-<version>-<time>); `migrate` does it without serving, and\n"
    "`migrate --status` only shows where the store stands.\n";

typedef struct options {
    const char *listen[MAX_LISTEN];
    size_t n_listen;
    const char *data, *seed, *tls_cert, *tls_key;
    unsigned threads, ttl, max_connections, max_watches;
    bool read_auth, no_demo, log_text, status;
    const char *token_name, *token_scope;
} options;

static int die(const char *fmt, const char *arg)
{
    fprintf(stderr, "switchboard: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 1;
}

static bool parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0' || v < lo || v > hi)
        return false;
    *out = (unsigned)v;
    return true;
}

/* Parses options after the subcommand; returns -1 on a bad option (reported), 1 for --help. */
static int parse_options(int argc, char **argv, options *o)
{
    enum {
        O_LISTEN = 256,
        O_DATA,
        O_THREADS,
        O_TTL,
        O_SEED,
        O_NO_DEMO,
        O_READ_AUTH,
        O_CERT,
        O_KEY,
        O_LOG,
        O_VERSION,
        O_NAME,
        O_SCOPE,
        O_STATUS,
        O_MAX_CONNECTIONS,
        O_MAX_WATCHES
    };
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, O_LISTEN},
        {"data", required_argument, NULL, O_DATA},
        {"threads", required_argument, NULL, O_THREADS},
        {"ttl", required_argument, NULL, O_TTL},
        {"seed", required_argument, NULL, O_SEED},
        {"no-demo", no_argument, NULL, O_NO_DEMO},
        {"read-auth", no_argument, NULL, O_READ_AUTH},
        {"tls-cert", required_argument, NULL, O_CERT},
        {"tls-key", required_argument, NULL, O_KEY},
        {"log-format", required_argument, NULL, O_LOG},
        {"version", no_argument, NULL, O_VERSION},
        {"name", required_argument, NULL, O_NAME},
        {"scope", required_argument, NULL, O_SCOPE},
        {"status", no_argument, NULL, O_STATUS},
        {"max-connections", required_argument, NULL, O_MAX_CONNECTIONS},
        {"max-watches", required_argument, NULL, O_MAX_WATCHES},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_LISTEN:
            if (o->n_listen == MAX_LISTEN || strrchr(optarg, ':') == NULL)
                return die("--listen takes ADDR:PORT (at most 16 of them): %s", optarg), -1;
            o->listen[o->n_listen++] = optarg;
            break;
        case O_DATA:
            o->data = optarg;
            break;
        case O_THREADS:
            if (!parse_uint(optarg, 1, 256, &o->threads))
                return die("--threads takes a number from 1 to 256, not %s", optarg), -1;
            break;
        case O_TTL:
            if (!parse_uint(optarg, 0, 86400, &o->ttl))
                return die("--ttl takes seconds from 0 to 86400, not %s", optarg), -1;
            break;
        case O_MAX_CONNECTIONS:
            if (!parse_uint(optarg, 1, 1000000, &o->max_connections))
                return die("--max-connections takes a number from 1 to 1000000, not %s", optarg),
                       -1;
            break;
        case O_MAX_WATCHES:
            if (!parse_uint(optarg, 0, 1000000, &o->max_watches))
                return die("--max-watches takes a number from 0 to 1000000, not %s", optarg), -1;
            break;
        case O_SEED:
            o->seed = optarg;
            break;
        case O_NO_DEMO:
            o->no_demo = true;
            break;
        case O_READ_AUTH:
            o->read_auth = true;
            break;
        case O_CERT:
            o->tls_cert = optarg;
            break;
        case O_KEY:
            o->tls_key = optarg;
            break;
        case O_LOG:
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
                return die("--log-format takes json or text, not %s", optarg), -1;
            o->log_text = strcmp(optarg, "text") == 0;
            break;
        case O_VERSION:
            printf("switchboard %s\n", SB_VERSION);
            exit(0);
        case O_NAME:
            o->token_name = optarg;
            break;
        case O_SCOPE:
            o->token_scope = optarg;
            break;
        case O_STATUS:
            o->status = true;
            break;
        case 'h':
            fputs(usage, stdout);
            return 1;
        default:
            fputs(usage, stderr);
            return -1;
        }
    }
    if ((o->tls_cert == NULL) != (o->tls_key == NULL))
        return die("%s", "--tls-cert and --tls-key go together"), -1;
    return 0;
}

/* ---- tokens ---- */

/* Creates a token named name and prints nothing; the secret is written into secret. */
static int token_create(sb_store *store, const char *name, const char *scope, char secret[64])
{
    unsigned char raw[32], md[SHA256_DIGEST_LENGTH];
    char hex[65], created[32];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return EIO;
    memcpy(secret, "sb_", 3);
    sb_base64url(raw, sizeof raw, secret + 3);
    SHA256((unsigned char *)secret, strlen(secret), md);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    sb_now_rfc3339(created);
    json_t *t = json_pack("{s:s, s:s, s:s}", "scope", scope, "sha256", hex, "created", created);
    int rc = sb_store_token_add(store, name, t);
    json_decref(t);
    return rc;
}

static int cmd_token(int argc, char **argv, options *o)
{
    if (argc < 3)
        return die("%s", "token needs create, list or revoke"), 2;
    const char *verb = argv[2];
    optind = 3;
    if (parse_options(argc, argv, o) != 0)
        return 2;
    sb_store *store;
    int rc = sb_store_open(o->data, &store);
    if (rc != 0)
        return die("cannot open the store: %s", sb_store_strerror(rc));
    if (strcmp(verb, "create") == 0) {
        const char *scope = o->token_scope ? o->token_scope : "admin";
        char secret[64];
        if (o->token_name == NULL || !sb_name_valid(o->token_name, strlen(o->token_name)))
            rc =
                die("%s",
                    "token create needs --name NAME (a name matching ^[a-z0-9][a-z0-9._-]{0,63}$)");
        else if (strcmp(scope, "admin") != 0 && strcmp(scope, "read") != 0)
            rc = die("--scope is admin or read, not %s", scope);
        else if ((rc = token_create(store, o->token_name, scope, secret)) != 0)
            rc = die(rc == SB_STORE_EXISTS ? "a token named %s exists already"
                                           : "cannot create the token: %s",
                     rc == SB_STORE_EXISTS ? o->token_name : sb_store_strerror(rc));
        else
            printf("%s\n", secret);
    } else if (strcmp(verb, "list") == 0) {
        json_t *tokens, *t;
        uint64_t version;
        const char *name;
        if ((rc = sb_store_tokens(store, &tokens, &version)) != 0) {
            rc = die("cannot read tokens: %s", sb_store_strerror(rc));
        } else {
            printf("%-32s %-6s %s\n", "NAME", "SCOPE", "CREATED");
            json_object_foreach (tokens, name, t)
                printf("%-32s %-6s %s\n", name, json_string_value(json_object_get(t, "scope")),
                       json_string_value(json_object_get(t, "created")));
            json_decref(tokens);
        }
    } else if (strcmp(verb, "revoke") == 0) {
        const char *name = optind < argc ? argv[optind] : o->token_name;
        if (name == NULL)
            rc = die("%s", "token revoke needs a NAME");
        else if ((rc = sb_store_token_remove(store, name)) != 0)
            rc = die(rc == SB_STORE_NOTFOUND ? "no token named %s" : "cannot revoke: %s",
                     rc == SB_STORE_NOTFOUND ? name : sb_store_strerror(rc));
    } else {
        rc = die("unknown token command %s (create, list or revoke)", verb);
    }
    sb_store_close(store);
    return rc ? 1 : 0;
}

/* ---- migrate ---- */

static int cmd_migrate(int argc, char **argv, options *o)
{
    unsigned version;
    optind = 2;
    if (parse_options(argc, argv, o) != 0)
        return 2;
    int rc = sb_store_schema(o->data, &version);
    if (rc != 0)
        return die("cannot read the store: %s", sb_store_strerror(rc));
    printf("store:         %s\n", o->data);
    printf("schema:        %u%s\n", version, version == 0 ? " (no store yet)" : "");
    printf("this binary:   %u\n", SB_SCHEMA_VERSION);
    if (version > SB_SCHEMA_VERSION) {
        printf("state:         newer than this binary; it will not open it\n");
        return 1;
    }
    bool pending = false;
    for (unsigned i = 0; i < sb_n_migrations; i++)
        if (version != 0 && sb_migrations[i].version > version) {
            printf("pending:       %s\n", sb_migrations[i].name);
            pending = true;
        }
    if (!pending)
        printf("state:         up to date\n");
    if (o->status || !pending)
        return 0;
    char lockpath[4096];
    snprintf(lockpath, sizeof lockpath, "%s/serve.lock", o->data);
    int lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) != 0)
        return die("a switchboard is serving %s: stop it first (it migrates at start)", o->data);
    sb_store *store;
    if ((rc = sb_store_open(o->data, &store)) != 0)
        return die("migration failed, the store is unchanged: %s", sb_store_strerror(rc));
    sb_store_close(store);
    close(lock);
    printf("state:         migrated to %u\n", SB_SCHEMA_VERSION);
    return 0;
}

/* ---- serve ---- */

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
    if (token_create(store, "admin", "admin", secret) != 0)
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

static int cmd_serve(options *o)
{
    char lockpath[4096];
    sb_store *store;
    int rc = sb_store_open(o->data, &store);
    if (rc != 0)
        return die("cannot open the store: %s", sb_store_strerror(rc));
    snprintf(lockpath, sizeof lockpath, "%s/serve.lock", o->data);
    int lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) != 0) {
        sb_store_close(store);
        return die("another switchboard is serving %s", o->data);
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
        return rc > 0 ? die("cannot read the store: %s", sb_store_strerror(rc)) : 1;
    }
    sb_snapshot_publish(sb_snapshot_build(docs, revs, tokens, revision, NULL, NULL, 0));
    sb_log("info", "start",
           json_pack("{s:s, s:s, s:I}", "version", SB_VERSION, "data", o->data, "revision",
                     (json_int_t)revision));
    if (sb_writer_start(store) != 0) {
        sb_store_close(store);
        return die("%s", "cannot start the writer thread");
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

int main(int argc, char **argv)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    options o = {.data = "switchboard-data",
                 .ttl = 5,
                 .threads = cpus > 0 ? (unsigned)cpus : 1,
                 .max_connections = SB_MAX_CONNECTIONS,
                 .max_watches = SB_MAX_WATCHES};
    if (argc > 1 && strcmp(argv[1], "token") == 0)
        return cmd_token(argc, argv, &o);
    if (argc > 1 && strcmp(argv[1], "migrate") == 0)
        return cmd_migrate(argc, argv, &o);
    if (argc > 1 && strcmp(argv[1], "serve") == 0)
        optind = 2;
    int rc = parse_options(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (optind < argc)
        return die("unexpected argument %s (see --help)", argv[optind]), 2;
    sb_log_set_text(o.log_text);
    sb_http_block_signals();
    return cmd_serve(&o);
}
