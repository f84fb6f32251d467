/*
 * sbctl: the operator's command line for a switchboard server.
 *
 * Every command is one or two REST calls (see the HTTP API in the README) and prints a table
 * for people or, with --json, the server's JSON for scripts. A failure prints the server's
 * problem detail on stderr and exits non-zero: 1 when the server refused (or would: a dry run
 * exits as its write would), 2 for a usage error, 3 when the server could not be reached, 4 when
 * `route` finds no route. `route` is the one command that goes through libswitchboard, exactly
 * as a workload would.
 *
 * Single-threaded. One process runs one command, so what it allocates is kept (keep(),
 * keep_json()) until exit rather than freed piece by piece; nothing is lost track of.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "internal.h"

enum { EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3, EXIT_NO_ROUTE = 4 };

/* The command line, parsed: options anywhere, then the positional words. */
static struct {
    const char *url, *token, *token_file, *data, *reason, *tenant, *primary, *description;
    const char *to, *since, *limit, *next;
    const char *fallbacks[16];
    size_t n_fallbacks;
    bool json, dry_run, force, watch, none, no_fallbacks;
    unsigned timeout_ms;
    const char *args[8];
    size_t n_args;
} opt;

static sbc_http *http;

static const char usage_text[] =
    "usage: sbctl [OPTIONS] COMMAND [ARGS]\n"
    "\n"
    "Reading\n"
    "  status                         server readiness, revision, providers off, roles without "
    "route\n"
    "  topology                       providers, roles with their resolved chains, failback, "
    "tenants\n"
    "  providers                      the provider switches\n"
    "  roles                          every role: its route and what was dropped\n"
    "  role get NAME                  a role's assignment and its resolved answer\n"
    "  failback get MODEL             a model's successor in the failback chain\n"
    "  route ROLE [--tenant T] [--watch]\n"
    "                                 the route a workload gets, through libswitchboard, and\n"
    "                                 where it came from; --watch prints every change\n"
    "  history KEY [--since REV] [--limit N]\n"
    "                                 every version of a document (KEY is <kind>/<id>)\n"
    "  audit [--since REV] [--limit N]\n"
    "                                 who changed what, when and why, newest last\n"
    "  export [FILE]                  the whole topology as a file `apply` accepts (stdout: -)\n"
    "\n"
    "Changing (each takes --reason TEXT, --dry-run and --force)\n"
    "  provider enable|disable NAME   flip a provider's switch\n"
    "  role set NAME --primary MODEL [--fallback MODEL]... [--no-fallbacks] [--description TEXT]\n"
    "                                 create or replace a role; without --fallback the route\n"
    "                                 follows the primary's failback chain\n"
    "  role delete NAME               delete a role\n"
    "  failback set MODEL NEXT        set a model's successor (--none: the chain ends there)\n"
    "  failback delete MODEL          delete a model's failback document\n"
    "  rollback KEY --to REV          make a document what it was at revision REV\n"
    "  apply FILE                     make the server match a topology file, in one atomic\n"
    "                                 batch; kinds missing from the file are emptied\n"
    "\n"
    "Options\n"
    "  --url URL          the server (default: $SWITCHBOARD_URL, else http://127.0.0.1:8080)\n"
    "  --token TOKEN      a bearer token (default: $SWITCHBOARD_TOKEN, else the token file)\n"
    "  --token-file FILE  read the token from FILE (default: $SWITCHBOARD_TOKEN_FILE, else\n"
    "                     DIR/admin.token with DIR from --data, $SWITCHBOARD_DATA or\n"
    "                     ./switchboard-data)\n"
    "  --data DIR         the server's data directory, for its admin.token\n"
    "  --json             print JSON for scripts instead of tables\n"
    "  --reason TEXT      why: stored with the change in history and audit\n"
    "  --dry-run          show what would change (every answer, before and after); change\n"
    "                     nothing; exit as the write would\n"
    "  --force            make a change even though it leaves a role without a route\n"
    "  --timeout MS       bound each request (default 10000)\n"
    "  -h, --help, --version\n"
    "\n"
    "Exit status: 0 done; 1 the server refused (its problem detail is printed), or would refuse\n"
    "the write a dry run shows; 2 usage error; 3 the server could not be reached; 4 `route`\n"
    "found no route (every provider is off).\n";

static _Noreturn void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("sbctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(sbctl --help lists the commands)\n", stderr);
    va_end(ap);
    exit(EXIT_USAGE);
}

static _Noreturn void die(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("sbctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(status);
}

static void *xalloc(void *p)
{
    if (p == NULL)
        die(EXIT_FAILURE, "out of memory");
    return p;
}

/* What sbctl allocates lives until it exits, held here. */
static struct {
    void **ptrs;
    size_t n, cap;
    json_t *json;
} kept;

static void *keep(void *p)
{
    xalloc(p);
    if (kept.n == kept.cap) {
        kept.cap = kept.cap ? kept.cap * 2 : 64;
        kept.ptrs = xalloc(realloc(kept.ptrs, kept.cap * sizeof *kept.ptrs));
    }
    return kept.ptrs[kept.n++] = p;
}

/* Takes j's reference; j lives until exit. */
static json_t *keep_json(json_t *j)
{
    if (kept.json == NULL)
        kept.json = xalloc(json_array());
    if (j != NULL && json_array_append_new(kept.json, j) != 0)
        die(EXIT_FAILURE, "out of memory");
    return j;
}

static char *xprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return keep(s);
}

/* ---- talking to the server ---------------------------------------------------------------- */

typedef struct reply {
    long code;
    long long revision;
    json_t *body; /* NULL when the body was not JSON */
} reply;

/* Prints a problem document the way people read it: title, detail, each field error. */
static void print_problem(long code, json_t *p)
{
    const char *title = json_string_value(json_object_get(p, "title"));
    const char *detail = json_string_value(json_object_get(p, "detail"));
    fprintf(stderr, "sbctl: %ld %s%s%s\n", code, title ? title : "error", detail ? ": " : "",
            detail ? detail : "");
    size_t i;
    json_t *e;
    json_array_foreach (json_object_get(p, "errors"), i, e)
        fprintf(stderr, "  %s: %s\n", json_string_value(json_object_get(e, "path")),
                json_string_value(json_object_get(e, "message")));
}

/* "/admin/" + key, percent-encoded: the server decodes the path, so a model id may hold '?',
 * '#' or '%' (anything but '/' and the unreserved characters is sent as %XX). */
static char *admin_path(const char *key)
{
    static const char hex[] = "0123456789ABCDEF";
    char *p = keep(malloc(strlen("/admin/") + 3 * strlen(key) + 1));
    char *o = p + sprintf(p, "/admin/");
    for (const unsigned char *c = (const unsigned char *)key; *c; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
            strchr("-._~/", *c) != NULL) {
            *o++ = (char)*c;
        } else {
            *o++ = '%';
            *o++ = hex[*c >> 4];
            *o++ = hex[*c & 15];
        }
    }
    *o = '\0';
    return p;
}

static char *dry_run_query(const char *path)
{
    const char *sep = strchr(path, '?') ? "&" : "?";
    if (opt.dry_run && opt.force)
        return xprintf("%s%sdry_run=1&force=1", path, sep);
    if (opt.dry_run || opt.force)
        return xprintf("%s%s%s=1", path, sep, opt.dry_run ? "dry_run" : "force");
    return xprintf("%s", path);
}

/* One call. Answers below 400 (and 409 with a plan) come back; any other failure is printed
 * and ends the program. */
static reply call(const char *method, const char *path, json_t *body, bool allow_conflict)
{
    char *url = xprintf("%s%s", opt.url, path);
    char *text = body ? xalloc(json_dumps(body, JSON_COMPACT)) : NULL;
    sbc_request req = {.method = method,
                       .url = url,
                       .token = opt.token,
                       .reason = opt.reason,
                       .body = text,
                       .body_len = text ? strlen(text) : 0,
                       .timeout_ms = opt.timeout_ms};
    sbc_response res;
    if (sbc_request_send(http, &req, &res) != 0)
        die(EXIT_UNREACHABLE, "cannot reach %s: %s", opt.url, res.error);
    reply r = {.code = res.code, .revision = res.revision};
    r.body = res.body ? keep_json(json_loadb(res.body, res.len, 0, NULL)) : NULL;
    if (res.code >= 400 && !(allow_conflict && res.code == 409 && r.body)) {
        if (opt.json && r.body)
            puts(res.body);
        if (json_is_object(r.body))
            print_problem(res.code, r.body);
        else
            fprintf(stderr, "sbctl: %s %s: HTTP %ld %.200s\n", method, url, res.code,
                    res.body ? res.body : "");
        if (res.code == 401 || res.code == 403)
            fprintf(stderr, "sbctl: (admin commands need an admin token: --token, "
                            "$SWITCHBOARD_TOKEN or the server's admin.token)\n");
        exit(EXIT_REFUSED);
    }
    if (r.body == NULL && res.code != 204 && res.code != 304)
        die(EXIT_REFUSED, "%s %s: HTTP %ld with a body that is not JSON", method, url, res.code);
    sbc_response_free(&res);
    free(text);
    return r;
}

static json_t *get(const char *path)
{
    return call("GET", path, NULL, false).body;
}

/* ---- output -------------------------------------------------------------------------------- */

static void print_json(json_t *v)
{
    char *s = xalloc(json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY));
    puts(s);
    free(s);
}

/* A table for people: rows of cells, printed with columns padded to fit. */
typedef struct table {
    size_t cols, rows;
    char **cells;
} table;

static void row(table *t, ...)
{
    va_list ap;
    va_start(ap, t);
    t->cells = xalloc(realloc(t->cells, (t->rows + 1) * t->cols * sizeof *t->cells));
    for (size_t i = 0; i < t->cols; i++) {
        const char *s = va_arg(ap, const char *);
        t->cells[t->rows * t->cols + i] = xalloc(strdup(s ? s : "-"));
    }
    t->rows++;
    va_end(ap);
}

static void table_free(table *t)
{
    for (size_t i = 0; i < t->rows * t->cols; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->rows = 0;
}

/* Prints the table, then frees its cells. */
static void table_print(table *t)
{
    size_t width[16] = {0};
    for (size_t i = 0; i < t->rows * t->cols; i++) {
        size_t n = strlen(t->cells[i]);
        if (n > width[i % t->cols])
            width[i % t->cols] = n;
    }
    for (size_t r = 0; r < t->rows; r++)
        for (size_t c = 0; c < t->cols; c++) {
            const char *s = t->cells[r * t->cols + c];
            if (c + 1 == t->cols)
                printf("%s\n", s);
            else
                printf("%-*s  ", (int)width[c], s);
        }
    table_free(t);
}

/* "a > b > c", or "(no route)". */
static char *chain_text(json_t *answer)
{
    const char *primary = json_string_value(json_object_get(answer, "primary"));
    if (answer == NULL || json_is_null(answer))
        return xprintf("(none)");
    if (primary == NULL)
        return xprintf("(no route)");
    char *s = xprintf("%s", primary);
    size_t i;
    json_t *f;
    json_array_foreach (json_object_get(answer, "fallbacks"), i, f) {
        char *t = xprintf("%s > %s", s, json_string_value(f));
        s = t;
    }
    return s;
}

/* "openai/gpt-5.3-codex (openai off)", or "-". */
static char *dropped_text(json_t *answer)
{
    char *s = NULL;
    size_t i;
    json_t *d;
    json_array_foreach (json_object_get(answer, "dropped"), i, d) {
        char *t = xprintf("%s%s%s (%s off)", s ? s : "", s ? ", " : "",
                          json_string_value(json_object_get(d, "model")),
                          json_string_value(json_object_get(d, "provider")));
        s = t;
    }
    return s ? s : xprintf("-");
}

static void print_plan(json_t *plan)
{
    json_t *changes = json_object_get(plan, "changes"),
           *lost = json_object_get(plan, "loses_route");
    if (json_array_size(changes) == 0) {
        puts("no answer changes");
    } else {
        table t = {.cols = 4};
        row(&t, "ROLE", "TENANT", "BEFORE", "AFTER");
        size_t i;
        json_t *c;
        json_array_foreach (changes, i, c) {
            char *before = chain_text(json_object_get(c, "before"));
            char *after = chain_text(json_object_get(c, "after"));
            row(&t, json_string_value(json_object_get(c, "role")),
                json_string_value(json_object_get(c, "tenant")), before, after);
        }
        table_print(&t);
    }
    size_t i;
    json_t *w;
    json_array_foreach (json_object_get(plan, "warnings"), i, w)
        printf("warning: %s: %s\n", json_string_value(json_object_get(w, "key")),
               json_string_value(json_object_get(w, "message")));
    json_array_foreach (lost, i, w) {
        const char *tenant = json_string_value(json_object_get(w, "tenant"));
        printf("loses its route: %s%s%s\n", json_string_value(json_object_get(w, "role")),
               tenant ? " for tenant " : "", tenant ? tenant : "");
    }
}

/* The answer to a write: the plan for a dry run or a refusal, else what was committed. what
 * says what the write did ("provider openai disabled"), subject what it is about ("provider
 * openai"), for an answer that it changed nothing. A dry run exits as the write would: one that
 * would leave an answer with no route is refused (409) unless --force. */
static int finish_write(reply r, const char *what, const char *subject)
{
    bool dry_run = json_is_true(json_object_get(r.body, "dry_run"));
    size_t lost = json_array_size(json_object_get(r.body, "loses_route"));
    long long revision = json_integer_value(json_object_get(r.body, "revision"));
    if (opt.json) {
        print_json(r.body);
    } else if (r.code == 409 || dry_run) {
        print_plan(r.body);
        if (r.code != 409)
            printf("dry run: nothing changed (revision %lld)\n", revision);
    } else if (json_is_false(json_object_get(r.body, "changed"))) {
        printf("%s unchanged (revision %lld)\n", subject, revision);
    } else {
        printf("%s (revision %lld)\n", what, revision);
        size_t i;
        json_t *w;
        json_array_foreach (json_object_get(r.body, "warnings"), i, w)
            printf("warning: %s: %s\n", json_string_value(json_object_get(w, "key")),
                   json_string_value(json_object_get(w, "message")));
    }
    if (r.code == 409) {
        fprintf(stderr, "sbctl: refused: %s\n",
                json_string_value(json_object_get(r.body, "detail")));
        fprintf(stderr, "sbctl: (--force makes the change anyway)\n");
        return EXIT_REFUSED;
    }
    if (dry_run && lost > 0 && !opt.force) {
        fprintf(stderr,
                "sbctl: the write would be refused: it would leave %zu answer(s) with no route\n"
                "sbctl: (--force makes the change anyway)\n",
                lost);
        return EXIT_REFUSED;
    }
    return 0;
}

static int write_doc(const char *method, const char *key, json_t *value, const char *what,
                     const char *subject)
{
    reply r = call(method, dry_run_query(admin_path(key)), keep_json(value), true);
    return finish_write(r, what, subject);
}

/* ---- commands ------------------------------------------------------------------------------ */

static void need_args(size_t n, const char *form)
{
    if (opt.n_args != n)
        usage_error("usage: sbctl %s", form);
}

static bool key_valid(const char *key)
{
    static const char *const kinds[] = {"providers/", "roles/", "failback/", "models/", "tenants/"};
    for (size_t i = 0; i < 5; i++)
        if (strncmp(key, kinds[i], strlen(kinds[i])) == 0 && key[strlen(kinds[i])] != '\0')
            return true;
    return false;
}

static int cmd_status(void)
{
    need_args(1, "status");
    reply ready = call("GET", "/readyz", NULL, false);
    json_t *topo = get("/topology");
    json_t *off = keep_json(json_array()), *unrouted = keep_json(json_array());
    const char *name;
    json_t *v;
    json_object_foreach (json_object_get(topo, "providers"), name, v)
        if (json_is_false(json_object_get(v, "enabled")))
            json_array_append_new(off, json_string(name));
    json_object_foreach (json_object_get(topo, "answers"), name, v)
        if (json_is_null(json_object_get(v, "primary")))
            json_array_append_new(unrouted, json_string(name));
    if (opt.json) {
        json_t *o = keep_json(json_pack(
            "{s:s, s:b, s:O, s:i, s:i, s:O, s:i, s:O, s:i}", "url", opt.url, "ready",
            ready.code == 200, "revision", json_object_get(topo, "revision"), "providers",
            (int)json_object_size(json_object_get(topo, "providers")), "roles",
            (int)json_object_size(json_object_get(topo, "roles")), "providers_off", off, "tenants",
            (int)json_object_size(json_object_get(topo, "tenants")), "roles_without_route",
            unrouted, "failback", (int)json_object_size(json_object_get(topo, "failback"))));
        print_json(o);
        return 0;
    }
    printf("server     %s (%s)\n", opt.url, ready.code == 200 ? "ready" : "not ready");
    printf("revision   %lld\n", (long long)json_integer_value(json_object_get(topo, "revision")));
    printf("providers  %zu", json_object_size(json_object_get(topo, "providers")));
    size_t i;
    json_array_foreach (off, i, v)
        printf("%s%s", i ? ", " : " (off: ", json_string_value(v));
    printf("%s\n", json_array_size(off) ? ")" : ", all on");
    printf("roles      %zu", json_object_size(json_object_get(topo, "roles")));
    json_array_foreach (unrouted, i, v)
        printf("%s%s", i ? ", " : " (without a route: ", json_string_value(v));
    printf("%s\n", json_array_size(unrouted) ? ")" : ", all routed");
    printf("tenants    %zu\n", json_object_size(json_object_get(topo, "tenants")));
    return 0;
}

static void print_providers(json_t *providers)
{
    table t = {.cols = 3};
    row(&t, "PROVIDER", "ENABLED", "DESCRIPTION");
    const char *name;
    json_t *v;
    json_object_foreach (providers, name, v)
        row(&t, name, json_is_false(json_object_get(v, "enabled")) ? "off" : "on",
            json_string_value(json_object_get(v, "description")));
    table_print(&t);
}

static void print_roles(json_t *roles, json_t *answers)
{
    table t = {.cols = 3};
    row(&t, "ROLE", "ROUTE", "DROPPED");
    const char *name;
    json_t *v;
    json_object_foreach (roles, name, v) {
        json_t *answer = json_object_get(answers, name);
        char *chain = chain_text(answer), *dropped = dropped_text(answer);
        row(&t, name, chain, dropped);
    }
    table_print(&t);
}

/* A table of model -> one field of its document, after a blank line; nothing when empty. */
static void print_field(json_t *docs, const char *heading, const char *field)
{
    if (json_object_size(docs) == 0)
        return;
    table t = {.cols = 2};
    row(&t, "\nMODEL", heading);
    const char *name;
    json_t *v;
    json_object_foreach (docs, name, v)
        row(&t, name, json_string_value(json_object_get(v, field)));
    table_print(&t);
}

static int cmd_topology(void)
{
    need_args(1, "topology");
    json_t *topo = get("/topology");
    if (opt.json) {
        print_json(topo);
        return 0;
    }
    printf("revision %lld\n\n", (long long)json_integer_value(json_object_get(topo, "revision")));
    print_providers(json_object_get(topo, "providers"));
    putchar('\n');
    print_roles(json_object_get(topo, "roles"), json_object_get(topo, "answers"));
    print_field(json_object_get(topo, "failback"), "FAILS BACK TO", "next");
    print_field(json_object_get(topo, "models"), "PROVIDER", "provider");
    const char *name;
    json_t *v;
    json_object_foreach (json_object_get(topo, "tenants"), name, v) {
        char *s = xalloc(json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS));
        printf("\ntenant %s: %s\n", name, s);
        free(s);
    }
    return 0;
}

/* The documents of a kind as id -> value, from GET /admin/<kind>; revs gets id -> revision. */
static json_t *list_kind(const char *kind, json_t **revs)
{
    char *path = xprintf("/admin/%s", kind);
    json_t *list = get(path), *docs = keep_json(json_object());
    if (revs)
        *revs = keep_json(json_object());
    size_t i;
    json_t *item;
    json_array_foreach (json_object_get(list, "items"), i, item) {
        const char *id = json_string_value(json_object_get(item, "id"));
        json_object_set(docs, id, json_object_get(item, "value"));
        if (revs)
            json_object_set(*revs, id, json_object_get(item, "revision"));
    }
    return docs;
}

static int cmd_providers(void)
{
    need_args(1, "providers");
    json_t *docs = list_kind("providers", NULL);
    if (opt.json)
        print_json(docs);
    else
        print_providers(docs);
    return 0;
}

static int cmd_provider(void)
{
    need_args(3, "provider enable|disable NAME");
    bool on = strcmp(opt.args[1], "enable") == 0;
    if (!on && strcmp(opt.args[1], "disable") != 0)
        usage_error("usage: sbctl provider enable|disable NAME");
    if (!sbc_name_valid(opt.args[2]))
        usage_error("%s is not a provider name", opt.args[2]);
    char *key = xprintf("providers/%s", opt.args[2]);
    char *what = xprintf("provider %s %s", opt.args[2], on ? "enabled" : "disabled");
    return write_doc("PATCH", key, json_pack("{s:b}", "enabled", on), what,
                     xprintf("provider %s", opt.args[2]));
}

static int cmd_roles(void)
{
    need_args(1, "roles");
    json_t *topo = get("/topology");
    if (opt.json) {
        json_t *o = keep_json(json_object());
        const char *name;
        json_t *v;
        json_object_foreach (json_object_get(topo, "roles"), name, v)
            json_object_set_new(o, name,
                                json_pack("{s:O, s:O}", "assignment", v, "answer",
                                          json_object_get(json_object_get(topo, "answers"), name)));
        print_json(o);
    } else {
        print_roles(json_object_get(topo, "roles"), json_object_get(topo, "answers"));
    }
    return 0;
}

static int cmd_role(void)
{
    if (opt.n_args < 3)
        usage_error("usage: sbctl role get|set|delete NAME");
    const char *verb = opt.args[1], *name = opt.args[2];
    if (!sbc_name_valid(name))
        usage_error("%s is not a role name", name);
    char *key = xprintf("roles/%s", name);
    if (strcmp(verb, "get") == 0) {
        need_args(3, "role get NAME");
        json_t *doc = get(admin_path(key)), *answer = get(xprintf("/config/%s", name));
        if (opt.json) {
            print_json(keep_json(
                json_pack("{s:s, s:O, s:O}", "role", name, "assignment", doc, "answer", answer)));
            return 0;
        }
        json_t *fb = json_object_get(doc, "fallbacks");
        char *chain = chain_text(answer), *dropped = dropped_text(answer);
        printf("role         %s\n", name);
        printf("primary      %s\n", json_string_value(json_object_get(doc, "primary")));
        if (fb) {
            char *s = xalloc(json_dumps(fb, JSON_COMPACT));
            printf("fallbacks    %s\n", s);
            free(s);
        } else {
            printf("fallbacks    (the primary's failback chain)\n");
        }
        if (json_object_get(doc, "description"))
            printf("description  %s\n", json_string_value(json_object_get(doc, "description")));
        printf("route        %s\ndropped      %s\n", chain, dropped);
        return 0;
    }
    if (strcmp(verb, "set") == 0) {
        need_args(3, "role set NAME --primary MODEL [--fallback MODEL]...");
        if (opt.primary == NULL)
            usage_error("role set needs --primary MODEL");
        json_t *doc = json_pack("{s:s}", "primary", opt.primary);
        if (opt.n_fallbacks > 0 || opt.no_fallbacks) {
            json_t *fb = json_array();
            for (size_t i = 0; i < opt.n_fallbacks; i++)
                json_array_append_new(fb, json_string(opt.fallbacks[i]));
            json_object_set_new(doc, "fallbacks", fb);
        }
        if (opt.description)
            json_object_set_new(doc, "description", json_string(opt.description));
        return write_doc("PUT", key, doc, xprintf("role %s set", name), xprintf("role %s", name));
    }
    if (strcmp(verb, "delete") == 0) {
        need_args(3, "role delete NAME");
        return write_doc("DELETE", key, NULL, xprintf("role %s deleted", name),
                         xprintf("role %s", name));
    }
    usage_error("usage: sbctl role get|set|delete NAME");
}

static int cmd_failback(void)
{
    if (opt.n_args < 3)
        usage_error("usage: sbctl failback get|set|delete MODEL [NEXT]");
    const char *verb = opt.args[1], *model = opt.args[2];
    char *key = xprintf("failback/%s", model);
    if (strcmp(verb, "get") == 0) {
        need_args(3, "failback get MODEL");
        json_t *doc = get(admin_path(key));
        if (opt.json)
            print_json(doc);
        else
            printf("%s > %s\n", model,
                   json_is_string(json_object_get(doc, "next"))
                       ? json_string_value(json_object_get(doc, "next"))
                       : "(end of chain)");
        return 0;
    }
    if (strcmp(verb, "set") == 0) {
        if (opt.none)
            need_args(3, "failback set MODEL --none");
        else
            need_args(4, "failback set MODEL NEXT (or --none)");
        json_t *doc =
            opt.none ? json_pack("{s:n}", "next") : json_pack("{s:s}", "next", opt.args[3]);
        return write_doc(
            "PUT", key, doc,
            xprintf("%s now fails back to %s", model, opt.none ? "nothing" : opt.args[3]),
            xprintf("failback of %s", model));
    }
    if (strcmp(verb, "delete") == 0) {
        need_args(3, "failback delete MODEL");
        return write_doc("DELETE", key, NULL, xprintf("failback of %s deleted", model),
                         xprintf("failback of %s", model));
    }
    usage_error("usage: sbctl failback get|set|delete MODEL [NEXT]");
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* Prints a route, labelled with source (which --watch derives: see cmd_route). */
static void print_route(const char *role, sb_status s, const sb_route *r, sb_source source)
{
    char when[32];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    if (r == NULL) {
        if (opt.json)
            printf("{\"role\":\"%s\",\"time\":\"%s\",\"error\":\"%s\"}\n", role, when,
                   sb_strerror(s));
        else
            printf("%s  %s: %s\n", when, role, sb_strerror(s));
        fflush(stdout);
        return;
    }
    json_t *fb = json_array();
    for (size_t i = 0; i < sb_route_fallback_count(r); i++)
        json_array_append_new(fb, json_string(sb_route_fallback(r, i)));
    json_t *o = json_pack("{s:s, s:s?, s:s?, s:O, s:s, s:s, s:s}", "role", role, "tenant",
                          opt.tenant, "primary", sb_route_primary(r), "fallbacks", fb, "etag",
                          sb_route_etag(r), "source", sb_source_name(source), "time", when);
    if (opt.json) {
        char *line = xalloc(json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER));
        puts(line);
        free(line);
    } else if (opt.watch) {
        char *chain = chain_text(o);
        printf("%s  %s  %s  (%s, etag %s)\n", when, role, chain, sb_source_name(source),
               sb_route_etag(r));
    } else {
        printf("role       %s%s%s\n", role, opt.tenant ? " for tenant " : "",
               opt.tenant ? opt.tenant : "");
        printf("primary    %s\n", sb_route_primary(r) ? sb_route_primary(r) : "(no route)");
        for (size_t i = 0; i < sb_route_fallback_count(r); i++)
            printf("%s %s\n", i == 0 ? "fallbacks " : "          ", sb_route_fallback(r, i));
        printf("etag       %s\nsource     %s\n", sb_route_etag(r)[0] ? sb_route_etag(r) : "-",
               sb_source_name(source));
    }
    fflush(stdout);
    json_decref(o);
    json_decref(fb);
}

static int cmd_route(void)
{
    need_args(2, "route ROLE [--tenant T] [--watch]");
    const char *role = opt.args[1];
    sb_options o = {.base_url = opt.url,
                    .token = opt.token,
                    .tenant = opt.tenant,
                    .timeout_ms = opt.timeout_ms,
                    .watch = opt.watch}; /* --watch: the library's long-poll pushes changes */
    sb_client *c;
    sb_status s = sb_client_open(&o, &c);
    if (s != SB_OK)
        die(EXIT_USAGE, "%s", sb_strerror(s));
    sb_route *r = NULL;
    s = sb_route_get(c, role, &r);
    print_route(role, s, r, r ? sb_route_source(r) : SB_SOURCE_FRESH);
    if (opt.watch) {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        char last[160];
        snprintf(last, sizeof last, "%s/%d", r ? sb_route_etag(r) : "",
                 r ? (int)sb_route_source(r) : -(int)s);
        while (!stop) {
            sb_route_release(r);
            r = NULL;
            usleep(20 * 1000); /* a cached lookup: costs nothing */
            s = sb_route_get(c, role, &r);
            /* A change is a new answer, or a change between fresh, stale and default. The watch
             * puts each new answer from the server in the cache, so the lookup that finds it says
             * cached (or revalidated): to the one watching, it is fresh. */
            sb_source src = r ? sb_route_source(r) : SB_SOURCE_FRESH;
            if (src == SB_SOURCE_CACHED || src == SB_SOURCE_REVALIDATED)
                src = SB_SOURCE_FRESH;
            char now[160];
            snprintf(now, sizeof now, "%s/%d", r ? sb_route_etag(r) : "", r ? (int)src : -(int)s);
            if (strcmp(now, last) != 0) {
                print_route(role, s, r, src);
                memcpy(last, now, sizeof last);
            }
        }
    }
    sb_route_release(r);
    sb_client_close(c);
    switch (s) {
    case SB_OK:
        return 0;
    case SB_NO_ROUTE:
        return EXIT_NO_ROUTE;
    case SB_ERR_UNAVAILABLE:
        fprintf(stderr, "sbctl: %s\n", sb_strerror(s));
        return EXIT_UNREACHABLE;
    default:
        fprintf(stderr, "sbctl: %s\n", sb_strerror(s));
        return EXIT_REFUSED;
    }
}

static char *paging(const char *path)
{
    if (opt.since && opt.limit)
        return xprintf("%s?since=%s&limit=%s", path, opt.since, opt.limit);
    if (opt.since || opt.limit)
        return xprintf("%s?%s=%s", path, opt.since ? "since" : "limit",
                       opt.since ? opt.since : opt.limit);
    return xprintf("%s", path);
}

static const char *str_or(json_t *o, const char *key, const char *def)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : def;
}

static int cmd_history(void)
{
    need_args(2, "history KEY");
    if (!key_valid(opt.args[1]))
        usage_error("KEY must be <kind>/<id>, with a kind of providers, roles, failback, models "
                    "or tenants");
    char *base = admin_path(xprintf("%s/history", opt.args[1]));
    json_t *h = get(paging(base));
    if (opt.json) {
        print_json(h);
        return 0;
    }
    table t = {.cols = 6};
    row(&t, "REV", "TIME", "ACTOR", "OP", "REASON", "VALUE");
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get(h, "versions"), i, v) {
        char rev[24],
            *value =
                xalloc(json_dumps(json_object_get(v, "value"), JSON_COMPACT | JSON_ENCODE_ANY));
        snprintf(rev, sizeof rev, "%lld",
                 (long long)json_integer_value(json_object_get(v, "revision")));
        row(&t, rev, str_or(v, "time", "-"), str_or(v, "actor", "-"), str_or(v, "op", "-"),
            str_or(v, "reason", "-"), value);
        free(value);
    }
    table_print(&t);
    if (json_is_integer(json_object_get(h, "next")))
        printf("(more: --since %lld)\n", (long long)json_integer_value(json_object_get(h, "next")));
    return 0;
}

static int cmd_rollback(void)
{
    need_args(2, "rollback KEY --to REV");
    if (!key_valid(opt.args[1]))
        usage_error("KEY must be <kind>/<id>");
    char *end;
    long long to = opt.to ? strtoll(opt.to, &end, 10) : -1;
    if (opt.to == NULL || *end != '\0' || to < 1)
        usage_error("rollback needs --to REV, a revision number");
    char *path = xprintf("%s/rollback", opt.args[1]);
    return write_doc("POST", path, json_pack("{s:I}", "to", (json_int_t)to),
                     xprintf("%s rolled back to its value at revision %lld", opt.args[1], to),
                     opt.args[1]);
}

static int cmd_audit(void)
{
    need_args(1, "audit");
    json_t *a = get(paging("/admin/audit"));
    if (opt.json) {
        print_json(a);
        return 0;
    }
    table t = {.cols = 7};
    row(&t, "REV", "TIME", "ACTOR", "OP", "KEY", "REASON", "TRACE");
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get(a, "entries"), i, v) {
        char rev[24];
        snprintf(rev, sizeof rev, "%lld",
                 (long long)json_integer_value(json_object_get(v, "revision")));
        row(&t, rev, str_or(v, "time", "-"), str_or(v, "actor", "-"), str_or(v, "op", "-"),
            str_or(v, "key", "-"), str_or(v, "reason", "-"), str_or(v, "trace_id", "-"));
    }
    table_print(&t);
    if (json_is_integer(json_object_get(a, "next")))
        printf("(more: --since %lld)\n", (long long)json_integer_value(json_object_get(a, "next")));
    return 0;
}

static const char *const kinds[] = {"providers", "roles", "failback", "models", "tenants"};

static int cmd_export(void)
{
    if (opt.n_args > 2)
        usage_error("usage: sbctl export [FILE]");
    json_t *topo = get("/topology");
    json_object_del(topo, "revision");
    json_object_del(topo, "answers");
    for (size_t i = 0; i < 5; i++) /* every kind, even when empty, so the file is complete */
        if (json_object_get(topo, kinds[i]) == NULL)
            json_object_set_new(topo, kinds[i], json_object());
    const char *file = opt.n_args == 2 ? opt.args[1] : "-";
    if (strcmp(file, "-") == 0)
        return json_dumpf(topo, stdout, JSON_INDENT(2) | JSON_SORT_KEYS) || puts("") < 0;
    /* Written beside the target and renamed over it, so a failed export leaves no half file. */
    char *tmp = xprintf("%s.tmp.%ld", file, (long)getpid());
    if (json_dump_file(topo, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0 || rename(tmp, file) != 0) {
        unlink(tmp);
        die(EXIT_FAILURE, "cannot write %s: %s", file, strerror(errno));
    }
    if (!opt.json)
        fprintf(stderr, "exported %s\n", file);
    return 0;
}

static int cmd_apply(void)
{
    need_args(2, "apply FILE");
    json_error_t err;
    json_t *want = keep_json(strcmp(opt.args[1], "-") == 0
                                 ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &err)
                                 : json_load_file(opt.args[1], JSON_REJECT_DUPLICATES, &err));
    if (want == NULL)
        die(EXIT_USAGE, "%s:%d:%d: %s", opt.args[1], err.line, err.column, err.text);
    if (!json_is_object(want))
        die(EXIT_USAGE, "%s: a topology file is an object of kind -> id -> document", opt.args[1]);
    const char *k;
    json_t *v;
    json_object_foreach (want, k, v) {
        bool known = strcmp(k, "revision") == 0 || strcmp(k, "answers") == 0;
        for (size_t i = 0; i < 5; i++)
            known = known || strcmp(k, kinds[i]) == 0;
        if (!known)
            die(EXIT_USAGE,
                "%s: unknown key \"%s\" (known: providers, roles, failback, models, "
                "tenants; revision and answers are ignored)",
                opt.args[1], k);
        if (strcmp(k, "revision") != 0 && strcmp(k, "answers") != 0 && !json_is_object(v))
            die(EXIT_USAGE, "%s: \"%s\" must be an object of id -> document", opt.args[1], k);
    }
    /* The difference, as one batch. Every op on an existing document is conditional on the
     * revision read here, so a change made meanwhile makes the batch fail (412), not vanish. */
    json_t *ops = keep_json(json_array());
    table t = {.cols = 2};
    row(&t, "OP", "KEY");
    for (size_t i = 0; i < 5; i++) {
        json_t *revs, *have = list_kind(kinds[i], &revs), *wanted = json_object_get(want, kinds[i]);
        const char *id;
        json_object_foreach (wanted, id, v) {
            json_t *old = json_object_get(have, id);
            if (old != NULL && json_equal(old, v))
                continue;
            char *key = xprintf("%s/%s", kinds[i], id);
            json_t *op = json_pack("{s:s, s:s, s:O}", "op", "put", "key", key, "value", v);
            if (old != NULL)
                json_object_set(op, "if_match", json_object_get(revs, id));
            json_array_append_new(ops, op);
            row(&t, old ? "change" : "create", key);
        }
        json_object_foreach (have, id, v) {
            if (json_object_get(wanted, id) != NULL)
                continue;
            char *key = xprintf("%s/%s", kinds[i], id);
            json_array_append_new(ops, json_pack("{s:s, s:s, s:O}", "op", "delete", "key", key,
                                                 "if_match", json_object_get(revs, id)));
            row(&t, "delete", key);
        }
    }
    if (json_array_size(ops) == 0 || opt.json)
        table_free(&t);
    if (json_array_size(ops) == 0) {
        if (opt.json)
            print_json(keep_json(json_pack("{s:[]}", "ops")));
        else
            puts("the server already matches the file: nothing to change");
        return 0;
    }
    if (!opt.json)
        table_print(&t);
    char *path = dry_run_query("/admin/txn");
    reply r = call("POST", path, keep_json(json_pack("{s:O}", "ops", ops)), true);
    if (r.code == 412)
        die(EXIT_REFUSED, "the topology changed while applying; run apply again");
    if (!opt.json)
        putchar('\n');
    return finish_write(r, xprintf("applied %zu changes", json_array_size(ops)), "the topology");
}

/* ---- the command line ---------------------------------------------------------------------- */

static char *read_token_file(const char *path, bool must_exist)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (must_exist)
            die(EXIT_USAGE, "cannot read the token file %s: %s", path, strerror(errno));
        return NULL;
    }
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return keep(strdup(buf));
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static void parse_args(int argc, char **argv)
{
    static const struct {
        const char *name;
        const char **dst;
    } valued[] = {
        {"url", &opt.url},
        {"token", &opt.token},
        {"token-file", &opt.token_file},
        {"data", &opt.data},
        {"reason", &opt.reason},
        {"tenant", &opt.tenant},
        {"primary", &opt.primary},
        {"description", &opt.description},
        {"to", &opt.to},
        {"since", &opt.since},
        {"limit", &opt.limit},
        {"fallback", NULL},
        {"timeout", NULL},
    };
    static const struct {
        const char *name;
        bool *dst;
    } flags[] = {{"json", &opt.json},   {"dry-run", &opt.dry_run},
                 {"force", &opt.force}, {"watch", &opt.watch},
                 {"none", &opt.none},   {"no-fallbacks", &opt.no_fallbacks}};
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!options_done && strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            exit(0);
        }
        if (options_done || strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (!options_done && strcmp(a, "--") == 0) {
                options_done = true;
                continue;
            }
            if (opt.n_args == sizeof opt.args / sizeof *opt.args)
                usage_error("too many arguments");
            opt.args[opt.n_args++] = a;
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        if (len == 4 && strncmp(name, "help", 4) == 0) {
            fputs(usage_text, stdout);
            exit(0);
        }
        if (len == 7 && strncmp(name, "version", 7) == 0) {
            printf("sbctl %s (libswitchboard %s)\n", SB_VERSION_STRING, sb_version());
            exit(0);
        }
        bool found = false;
        for (size_t f = 0; f < sizeof flags / sizeof *flags && !found; f++)
            if (strlen(flags[f].name) == len && strncmp(name, flags[f].name, len) == 0) {
                if (eq)
                    usage_error("--%s takes no value", flags[f].name);
                *flags[f].dst = found = true;
            }
        for (size_t f = 0; f < sizeof valued / sizeof *valued && !found; f++) {
            if (strlen(valued[f].name) != len || strncmp(name, valued[f].name, len) != 0)
                continue;
            found = true;
            const char *value = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
            if (value == NULL)
                usage_error("--%s needs a value", valued[f].name);
            if (valued[f].dst != NULL) {
                *valued[f].dst = value;
            } else if (strcmp(valued[f].name, "fallback") == 0) {
                if (opt.n_fallbacks == sizeof opt.fallbacks / sizeof *opt.fallbacks)
                    usage_error("at most 16 fallbacks");
                opt.fallbacks[opt.n_fallbacks++] = value;
            } else {
                char *end;
                long ms = strtol(value, &end, 10);
                if (*end != '\0' || ms < 1 || ms > 3600000)
                    usage_error("--timeout takes milliseconds, 1 to 3600000");
                opt.timeout_ms = (unsigned)ms;
            }
        }
        if (!found)
            usage_error("unknown option --%.*s", (int)len, name);
    }
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    if (opt.n_args == 0) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    if (opt.url == NULL)
        opt.url = env("SWITCHBOARD_URL") ? env("SWITCHBOARD_URL") : "http://127.0.0.1:8080";
    char *url = keep(strdup(opt.url));
    for (size_t n = strlen(url); n > 0 && url[n - 1] == '/'; n--)
        url[n - 1] = '\0';
    opt.url = url;
    if (strncmp(opt.url, "http://", 7) != 0 && strncmp(opt.url, "https://", 8) != 0)
        usage_error("--url must start with http:// or https://");
    if (opt.token == NULL)
        opt.token = env("SWITCHBOARD_TOKEN");
    if (opt.token == NULL && (opt.token_file || env("SWITCHBOARD_TOKEN_FILE")))
        opt.token =
            read_token_file(opt.token_file ? opt.token_file : env("SWITCHBOARD_TOKEN_FILE"), true);
    if (opt.token == NULL) {
        const char *dir = opt.data                  ? opt.data
                          : env("SWITCHBOARD_DATA") ? env("SWITCHBOARD_DATA")
                                                    : "switchboard-data";
        char *path = xprintf("%s/admin.token", dir);
        opt.token = read_token_file(path, opt.data != NULL);
    }
    if (opt.timeout_ms == 0)
        opt.timeout_ms = 10000;
    static const struct {
        const char *name;
        int (*run)(void);
    } commands[] = {
        {"status", cmd_status},     {"topology", cmd_topology}, {"providers", cmd_providers},
        {"provider", cmd_provider}, {"roles", cmd_roles},       {"role", cmd_role},
        {"failback", cmd_failback}, {"route", cmd_route},       {"history", cmd_history},
        {"rollback", cmd_rollback}, {"audit", cmd_audit},       {"export", cmd_export},
        {"apply", cmd_apply},
    };
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        if (strcmp(opt.args[0], commands[i].name) != 0)
            continue;
        if ((http = sbc_http_new()) == NULL)
            die(EXIT_FAILURE, "cannot start libcurl");
        int status = commands[i].run();
        sbc_http_free(http);
        return status;
    }
    usage_error("unknown command %s", opt.args[0]);
}
