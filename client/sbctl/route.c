/* sbctl route: a role's route through libswitchboard, exactly as a workload gets it. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sbctl.h"

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

int cmd_route(void)
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
