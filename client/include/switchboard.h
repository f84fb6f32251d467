/*
 * libswitchboard: a workload's route to its models, from a switchboard server.
 *
 *     sb_client *c;
 *     sb_route *r;
 *     if (sb_client_open(NULL, &c) != SB_OK)
 *         return;
 *     switch (sb_route_get(c, "security", &r)) {
 *     case SB_OK:       call(sb_route_primary(r)); ...; sb_route_release(r); break;
 *     case SB_NO_ROUTE: sb_route_release(r); ...;  break;   // every provider is off: say so
 *     default:          ...;                                 // sb_strerror() says why
 *     }
 *     sb_client_close(c);
 *
 * Caching. An answer is kept for the TTL (5 s by default). Within it, sb_route_get makes no
 * system call, takes no lock and allocates nothing: each thread keeps its own reference to the
 * answer. After it, one conditional GET (If-None-Match) on a kept-alive connection renews the
 * entry (304) or replaces it (200). While one thread revalidates a role, other threads asking
 * for it get the answer they already had.
 *
 * Failures. When the server is down, refuses, times out, answers 5xx, 408, 429 or a body that is
 * not an answer, the last answer it gave is served (SB_SOURCE_STALE) and the server is asked
 * again after a backoff: 250 ms, doubling up to the TTL, so a client never asks a sick server
 * more often than a healthy one, and sees it back within one TTL. A role the server never
 * answered gets the embedded default (SB_SOURCE_DEFAULT), else SB_ERR_UNAVAILABLE. Another 4xx
 * (unknown role, bad token) is an error, never a reason to serve stale data, and is itself kept
 * for the TTL so a hot loop does not hammer the server. Every request is bounded by the timeout
 * (500 ms by default).
 *
 * Watch mode (sb_options.watch). A background thread keeps one long-poll open per role asked
 * for (GET /config/<role>?wait=50 with If-None-Match, all on one curl multi handle), so a change
 * reaches the cache as soon as the server publishes it, not at the next TTL. While a role's
 * watch is open its entry stays fresh without revalidation; when the watch fails, the entry
 * falls back to the TTL and failure rules above, and the watch is retried with the same backoff.
 *
 * Threads. A client may be used from any number of threads at once, but must not be used
 * during or after sb_client_close. Routes are immutable and reference-counted: a thread may keep
 * one, or hand it to another thread, for as long as it likes while the cache moves on; routes
 * outlive the client that made them.
 *
 * fork(). A client belongs to the process that opened it. After fork() the child must not use
 * (or close) a client its parent opened: its locks may be held by threads the child does not
 * have, and a watch-mode client's thread is not there at all. The child opens its own client;
 * routes it inherited stay readable (sb_route_release them as usual).
 *
 * Memory. The library never aborts the process: out of memory is SB_ERR_NO_MEMORY. Every
 * string a route returns is owned by the route and lives until its last reference is released.
 */
#ifndef SWITCHBOARD_H
#define SWITCHBOARD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library exports exactly the functions below (see client/libswitchboard.map). */
#if defined(__GNUC__)
#define SB_EXPORT __attribute__((visibility("default")))
#else
#define SB_EXPORT
#endif

#define SB_VERSION_MAJOR  0
#define SB_VERSION_MINOR  1
#define SB_VERSION_PATCH  0
#define SB_VERSION_STRING "0.1.0"
/* One number for comparisons: SB_VERSION_NUM >= 0x000100 means "0.1.0 or later". */
#define SB_VERSION_NUM ((SB_VERSION_MAJOR << 16) | (SB_VERSION_MINOR << 8) | SB_VERSION_PATCH)

/* What a call gave. The numbers are stable: a number never changes meaning between versions. */
typedef enum sb_status {
    SB_OK = 0,
    SB_NO_ROUTE = 1,      /* a route with no primary: every candidate's provider is off */
    SB_ERR_INVALID = 2,   /* a bad argument or option (a role name that cannot exist, a bad URL) */
    SB_ERR_NO_MEMORY = 3, /* out of memory */
    SB_ERR_UNAVAILABLE = 4,  /* no usable answer from the server, none kept and no default */
    SB_ERR_NOT_FOUND = 5,    /* the server has no such role (404) */
    SB_ERR_UNAUTHORIZED = 6, /* 401 or 403: the token is missing, wrong or lacks the scope */
    SB_ERR_REJECTED = 7,     /* another 4xx */
    SB_ERR_BAD_DEFAULTS = 8, /* defaults_json is not {"<role>": {"primary": …, "fallbacks": […]}} */
} sb_status;

/* Where a route came from. */
typedef enum sb_source {
    SB_SOURCE_FRESH = 0,       /* fetched from the server by this call */
    SB_SOURCE_CACHED = 1,      /* from memory, within the TTL */
    SB_SOURCE_REVALIDATED = 2, /* the server said 304 to this call: the kept answer still holds */
    SB_SOURCE_STALE = 3,       /* the server gave no usable answer: the last one it gave */
    SB_SOURCE_DEFAULT = 4,     /* the server never answered: the embedded default */
} sb_source;

typedef struct sb_client sb_client;
typedef struct sb_route sb_route;

/*
 * Options for sb_client_open; zero means "the default" for each field. The struct grows as
 * versions add fields, and stays compatible both ways:
 * - size says how much of it the program knows: set it to sizeof(sb_options) (SB_OPTIONS_INIT
 *   does), and a later library reads exactly the fields the program was built with, the rest as
 *   zero. A size of 0 reads the fields of version 0.2, the first with size (the ones below).
 * - Programs built against 0.1, whose struct had no size, keep working: their calls are bound to
 *   the library's 0.1 entry point (symbol version SWITCHBOARD_0), which reads 0.1's layout.
 */
typedef struct sb_options {
    size_t size;               /* sizeof(sb_options), or 0: the fields of version 0.2 */
    const char *base_url;      /* NULL: $SWITCHBOARD_URL, else http://127.0.0.1:8080 */
    const char *token;         /* NULL: $SWITCHBOARD_TOKEN, else none */
    const char *tenant;        /* NULL: no tenant (the global answers) */
    unsigned ttl_ms;           /* 0: 5000 */
    unsigned timeout_ms;       /* 0: 500; bounds every request to the server */
    const char *defaults_json; /* NULL: none; {"<role>": {"primary": "…", "fallbacks": […]}, …} */
    int watch; /* nonzero: watch mode (see the file comment); 0: revalidate after the TTL */
    /* Later versions add fields here, and only here. */
} sb_options;

/* An sb_options with its size set and every other field at its default. */
#define SB_OPTIONS_INIT                                                                            \
    {                                                                                              \
        sizeof(sb_options), NULL, NULL, NULL, 0, 0, NULL, 0                                        \
    }

/**
 * Opens a client. Nothing is fetched until the first sb_route_get.
 *
 * @param opts    NULL for every default; strings are copied, so opts may be freed after the call.
 *                defaults_json may also hold whole answers as GET /config/<role> gives them.
 * @param[out] out the client, to be closed with sb_client_close; NULL on failure
 * @return SB_OK; SB_ERR_INVALID for a NULL out, a base URL that is not http:// or https://, a
 *         tenant that is not a name, or a token with control characters; SB_ERR_BAD_DEFAULTS;
 *         SB_ERR_NO_MEMORY
 */
SB_EXPORT sb_status sb_client_open(const sb_options *opts, sb_client **out);

/**
 * The route for a role: from memory within the TTL, else from the server, else the last answer
 * or the default, as the file comment says.
 *
 * @param c    an open client
 * @param role a role name (^[a-z0-9][a-z0-9._-]{0,63}$)
 * @param[out] out a reference the caller owns and gives back with sb_route_release. It is set for
 *             SB_OK and for SB_NO_ROUTE (a route whose primary is NULL, with its ETag and source),
 *             and NULL for every error.
 * @return SB_OK; SB_NO_ROUTE; SB_ERR_NOT_FOUND, SB_ERR_UNAUTHORIZED, SB_ERR_REJECTED (the server
 *         refused); SB_ERR_UNAVAILABLE; SB_ERR_INVALID (NULL arguments or a bad role name);
 *         SB_ERR_NO_MEMORY
 */
SB_EXPORT sb_status sb_route_get(sb_client *c, const char *role, sb_route **out);

/** The model to call first, or NULL when there is no route. Owned by r. */
SB_EXPORT const char *sb_route_primary(const sb_route *r);

/** How many fallbacks follow the primary (0 when there is no route). */
SB_EXPORT size_t sb_route_fallback_count(const sb_route *r);

/** Fallback i (0 is the first to try after the primary), or NULL past the end. Owned by r. */
SB_EXPORT const char *sb_route_fallback(const sb_route *r, size_t i);

/** The answer's ETag with its quotes, as the server sent it ("" for a default): tag logs with it.
 *  Owned by r. */
SB_EXPORT const char *sb_route_etag(const sb_route *r);

/** Where the route came from. */
SB_EXPORT sb_source sb_route_source(const sb_route *r);

/** A static name for a source: "fresh", "cached", "revalidated", "stale", "default". */
SB_EXPORT const char *sb_source_name(sb_source s);

/** Gives back a reference from sb_route_get; the route is freed with its last one. NULL is
 *  ignored. May be called from any thread, after sb_client_close too. */
SB_EXPORT void sb_route_release(sb_route *r);

/** Closes a client and frees everything it kept; routes still held stay valid until released.
 *  No call on c may run during or after this one. NULL is ignored. */
SB_EXPORT void sb_client_close(sb_client *c);

/** A static, one-line description of a status. */
SB_EXPORT const char *sb_strerror(sb_status s);

/** The library's version as a string: SB_VERSION_STRING of the build that is linked. */
SB_EXPORT const char *sb_version(void);

#ifdef __cplusplus
}
#endif

#endif
