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

#include "sbctl.h"

sbctl_opts opt;
sbc_http *http;

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
    "Changing (each takes --reason TEXT, --dry-run, --force and --all)\n"
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
    "  --all              list every change of a plan (a plan lists its first 100 and counts\n"
    "                     them all)\n"
    "  --timeout MS       bound each request (default 10000)\n"
    "  -h, --help, --version\n"
    "\n"
    "Exit status: 0 done; 1 the server refused (its problem detail is printed), or would refuse\n"
    "the write a dry run shows; 2 usage error; 3 the server could not be reached; 4 `route`\n"
    "found no route (every provider is off).\n";

_Noreturn void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("sbctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(sbctl --help lists the commands)\n", stderr);
    va_end(ap);
    exit(EXIT_USAGE);
}

_Noreturn void die(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("sbctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(status);
}

void *xalloc(void *p)
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

void *keep(void *p)
{
    xalloc(p);
    if (kept.n == kept.cap) {
        kept.cap = kept.cap ? kept.cap * 2 : 64;
        kept.ptrs = xalloc(realloc(kept.ptrs, kept.cap * sizeof *kept.ptrs));
    }
    return kept.ptrs[kept.n++] = p;
}

/* Takes j's reference; j lives until exit. */
json_t *keep_json(json_t *j)
{
    if (kept.json == NULL)
        kept.json = xalloc(json_array());
    if (j != NULL && json_array_append_new(kept.json, j) != 0)
        die(EXIT_FAILURE, "out of memory");
    return j;
}

char *xprintf(const char *fmt, ...)
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
char *admin_path(const char *key)
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

char *dry_run_query(const char *path)
{
    char *p = xprintf("%s", path);
    const char *flags[] = {opt.dry_run ? "dry_run=1" : NULL, opt.force ? "force=1" : NULL,
                           opt.all ? "changes=all" : NULL};
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++)
        if (flags[i] != NULL)
            p = xprintf("%s%s%s", p, strchr(p, '?') ? "&" : "?", flags[i]);
    return p;
}

/* One call. Answers below 400 (and 409 with a plan) come back; any other failure is printed
 * and ends the program. */
reply call(const char *method, const char *path, json_t *body, bool allow_conflict)
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

json_t *get(const char *path)
{
    return call("GET", path, NULL, false).body;
}

/* ---- commands ------------------------------------------------------------------------------ */

void need_args(size_t n, const char *form)
{
    if (opt.n_args != n)
        usage_error("usage: sbctl %s", form);
}

bool key_valid(const char *key)
{
    static const char *const kinds[] = {"providers/", "roles/", "failback/", "models/", "tenants/"};
    for (size_t i = 0; i < 5; i++)
        if (strncmp(key, kinds[i], strlen(kinds[i])) == 0 && key[strlen(kinds[i])] != '\0')
            return true;
    return false;
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

/* The options given, by name, for the command to check against its own. */
static const char *given[32];
static size_t n_given;

static void note_given(const char *name)
{
    if (n_given < sizeof given / sizeof *given)
        given[n_given++] = name;
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
                 {"none", &opt.none},   {"no-fallbacks", &opt.no_fallbacks},
                 {"all", &opt.all}};
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
                note_given(flags[f].name);
            }
        for (size_t f = 0; f < sizeof valued / sizeof *valued && !found; f++) {
            if (strlen(valued[f].name) != len || strncmp(name, valued[f].name, len) != 0)
                continue;
            found = true;
            note_given(valued[f].name);
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

/*
 * The commands, each with the options it owns besides the global ones (--url, --token,
 * --token-file, --data, --json, --timeout). A verb of NULL matches any; a command with verbs
 * lists each, so that `role get` does not take `role set`'s options.
 */
typedef struct command {
    const char *name, *verb;
    int (*run)(void);
    const char *options; /* space-separated */
} command;

#define WRITES "reason dry-run force all"
static const command commands[] = {
    {"status", NULL, cmd_status, ""},
    {"topology", NULL, cmd_topology, ""},
    {"providers", NULL, cmd_providers, ""},
    {"provider", NULL, cmd_provider, WRITES},
    {"roles", NULL, cmd_roles, ""},
    {"role", "get", cmd_role, ""},
    {"role", "set", cmd_role, "primary fallback no-fallbacks description " WRITES},
    {"role", NULL, cmd_role, WRITES},
    {"failback", "get", cmd_failback, ""},
    {"failback", "set", cmd_failback, "none " WRITES},
    {"failback", NULL, cmd_failback, WRITES},
    {"route", NULL, cmd_route, "tenant watch"},
    {"history", NULL, cmd_history, "since limit"},
    {"rollback", NULL, cmd_rollback, "to " WRITES},
    {"audit", NULL, cmd_audit, "since limit"},
    {"export", NULL, cmd_export, ""},
    {"apply", NULL, cmd_apply, WRITES},
};
static const char global_options[] = "url token token-file data json timeout";

static const command *find_command(void)
{
    const char *verb = opt.n_args > 1 ? opt.args[1] : "";
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(opt.args[0], commands[i].name) == 0 &&
            (commands[i].verb == NULL || strcmp(verb, commands[i].verb) == 0))
            return &commands[i];
    usage_error("unknown command %s", opt.args[0]);
}

static bool listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return true;
    return false;
}

/* An option the command does not own is a usage error (exit 2) before anything is sent. */
static void check_options(const command *cmd)
{
    for (size_t i = 0; i < n_given; i++)
        if (!listed(global_options, given[i]) && !listed(cmd->options, given[i]))
            usage_error("--%s is not an option of sbctl %s%s%s", given[i], cmd->name,
                        cmd->verb ? " " : "", cmd->verb ? cmd->verb : "");
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    if (opt.n_args == 0) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const command *cmd = find_command();
    check_options(cmd);
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
    if ((http = sbc_http_new()) == NULL)
        die(EXIT_FAILURE, "cannot start libcurl");
    int status = cmd->run();
    sbc_http_free(http);
    return status;
}
