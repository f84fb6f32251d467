/*
 * sbctl: the operator's command line for a switchboard server (see main.c for the whole).
 *
 * main.c     the command table, the options (each command owns its own), talking to the server
 * print.c    the one table printer, the one JSON printer, plans and write answers
 * config.c   status, topology, providers, roles, failback: reading and changing documents
 * route.c    route: a role's route through libswitchboard, as a workload gets it
 * history.c  history, rollback, audit
 * apply.c    export and apply: the whole topology as a file
 *
 * Single-threaded. One process runs one command, so what it allocates is kept (keep(),
 * keep_json()) until exit rather than freed piece by piece; nothing is lost track of.
 */
#ifndef SBCTL_H
#define SBCTL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "internal.h"

enum { EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3, EXIT_NO_ROUTE = 4 };

/* The command line, parsed: options anywhere, then the positional words. */
typedef struct sbctl_opts {
    const char *url, *token, *token_file, *data, *reason, *tenant, *primary, *description;
    const char *to, *since, *limit, *next;
    const char *fallbacks[16];
    size_t n_fallbacks;
    bool json, dry_run, force, watch, none, no_fallbacks, all;
    unsigned timeout_ms;
    const char *args[8];
    size_t n_args;
} sbctl_opts;
extern sbctl_opts opt;
extern sbc_http *http;

/* ---- main.c: failing, memory, the server ---- */

/** A usage error: the message on stderr, exit 2. */
_Noreturn void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void *xalloc(void *p);
/** p (never NULL: out of memory ends the program), freed at exit. */
void *keep(void *p);
/** Takes j's reference; j lives until exit. */
json_t *keep_json(json_t *j);
char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

typedef struct reply {
    long code;
    long long revision;
    json_t *body; /* NULL when the body was not JSON */
} reply;

/** "/admin/" + key, percent-encoded. */
char *admin_path(const char *key);
/** path with the write's flags (--dry-run, --force, --all) in its query. */
char *dry_run_query(const char *path);
/** One call. Answers below 400 (and 409 with a plan) come back; any other failure is printed
 *  and ends the program. */
reply call(const char *method, const char *path, json_t *body, bool allow_conflict);
json_t *get(const char *path);
/** Exactly n positional words after the command, else a usage error showing form. */
void need_args(size_t n, const char *form);
bool key_valid(const char *key);

/* ---- print.c: the printers ---- */

/** The one JSON printer: indented, for scripts. */
void print_json(json_t *v);

/* A table for people: rows of cells, printed with columns padded to fit. */
typedef struct table {
    size_t cols, rows;
    char **cells;
} table;
/** Adds a row of t->cols cells (NULL prints as "-"). */
void row(table *t, ...);
void table_free(table *t);
/** The one table printer: prints the table, then frees its cells. */
void table_print(table *t);

/** "a > b > c", or "(no route)". */
char *chain_text(json_t *answer);
/** "openai/gpt-5.3-codex (openai off)", or "-". */
char *dropped_text(json_t *answer);
/** The counts of a plan, its listed changes, and how many are not listed. */
void print_plan(json_t *plan);
/** The answer to a write (see print.c). */
int finish_write(reply r, const char *what, const char *subject);
int write_doc(const char *method, const char *key, json_t *value, const char *what,
              const char *subject);

/* ---- the commands ---- */

/** The documents of a kind as id -> value, from GET /admin/<kind>; revs gets id -> revision. */
json_t *list_kind(const char *kind, json_t **revs);

int cmd_status(void);
int cmd_topology(void);
int cmd_providers(void);
int cmd_provider(void);
int cmd_roles(void);
int cmd_role(void);
int cmd_failback(void);
int cmd_route(void);
int cmd_history(void);
int cmd_rollback(void);
int cmd_audit(void);
int cmd_export(void);
int cmd_apply(void);

#endif
