/* sbctl's printers: tables, JSON, answers' chains, plans and the answers to writes. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sbctl.h"

void print_json(json_t *v)
{
    char *s = xalloc(json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY));
    puts(s);
    free(s);
}

void row(table *t, ...)
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

void table_free(table *t)
{
    for (size_t i = 0; i < t->rows * t->cols; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->rows = 0;
}

/* Prints the table, then frees its cells. */
void table_print(table *t)
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
char *chain_text(json_t *answer)
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
char *dropped_text(json_t *answer)
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

void print_plan(json_t *plan)
{
    json_t *changes = json_object_get(plan, "changes"),
           *lost = json_object_get(plan, "loses_route"), *counts = json_object_get(plan, "counts");
    long long total = json_integer_value(json_object_get(counts, "changes"));
    if (total == 0) {
        puts("no answer changes");
    } else {
        /* The counts first: "3 answers change: 2 for everyone, 1 for acme; 1 loses its route" */
        printf("%lld answer%s change: %lld for everyone", total, total == 1 ? "" : "s",
               json_integer_value(json_object_get(counts, "global")));
        const char *tenant;
        json_t *n;
        json_object_foreach (json_object_get(counts, "tenants"), tenant, n)
            printf(", %lld for %s", json_integer_value(n), tenant);
        long long lost_n = json_integer_value(json_object_get(counts, "loses_route"));
        if (lost_n > 0)
            printf("; %lld lose%s the route", lost_n, lost_n == 1 ? "s" : "");
        putchar('\n');
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
        long long from = json_integer_value(json_object_get(plan, "changes_from"));
        long long more = total - from - (long long)json_array_size(changes);
        if (more > 0)
            printf("... and %lld more (--all lists every change)\n", more);
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
int finish_write(reply r, const char *what, const char *subject)
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

int write_doc(const char *method, const char *key, json_t *value, const char *what,
              const char *subject)
{
    reply r = call(method, dry_run_query(admin_path(key)), keep_json(value), true);
    return finish_write(r, what, subject);
}
