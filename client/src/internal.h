/*
 * libswitchboard's insides, shared by its files, by sbctl and by the unit tests, which link the
 * static library. Nothing here is exported from the shared library (see libswitchboard.map).
 */
#ifndef SBC_INTERNAL_H
#define SBC_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "switchboard.h"

#define SBC_BODY_MAX (16u << 20) /* a response body is cut off past this: a broken server */

/* An answer's data: immutable once made, shared by every route that shows it. One allocation. */
typedef struct sbc_answer {
    atomic_size_t refs;
    bool from_server; /* false: an embedded default, which is never revalidated */
    const char *etag; /* with its quotes; "" for a default */
    const char *primary;
    size_t n_fallbacks;
    const char **fallbacks;
} sbc_answer;

struct sb_route {
    atomic_size_t refs;
    sb_source source;
    sbc_answer *answer;
};

/* answer.c */
bool sbc_name_valid(const char *s);
/* Parses an answer ({"primary": str|null, "fallbacks": [str…]}, plus role, tenant and dropped as
 * the server sends them); NULL when it is not one. role, when given, must match the body's. */
sbc_answer *sbc_answer_parse(const char *json, size_t len, const char *etag, const char *role);
sbc_answer *sbc_answer_ref(sbc_answer *a);
void sbc_answer_release(sbc_answer *a);
sb_route *sbc_route_new(sbc_answer *a, sb_source source); /* takes a new reference to a */

/* The embedded defaults, role -> answer. sbc_defaults_parse gives SB_OK, SB_ERR_BAD_DEFAULTS or
 * SB_ERR_NO_MEMORY; the array is freed with sbc_defaults_free. */
typedef struct sbc_default {
    char *role;
    sbc_answer *answer;
} sbc_default;
sb_status sbc_defaults_parse(const char *json, sbc_default **out, size_t *n);
void sbc_defaults_free(sbc_default *d, size_t n);

/* One HTTP exchange. sbc_request fills res; the caller frees it with sbc_response_free. */
typedef struct sbc_request {
    const char *method; /* "GET" when NULL */
    const char *url;
    const char *token;         /* Authorization: Bearer; NULL for none */
    const char *if_none_match; /* NULL for none */
    const char *if_match;
    const char *reason; /* X-Change-Reason */
    const char *body;   /* sent as application/json; NULL for none */
    size_t body_len;
    unsigned timeout_ms; /* 0: none */
} sbc_request;

typedef struct sbc_response {
    long code;          /* the HTTP status; 0 when there was no answer */
    char error[256];    /* why there was no answer, when code is 0 */
    char etag[128];     /* the ETag header, "" when absent */
    long long revision; /* X-Switchboard-Revision, -1 when absent */
    char *body;         /* NUL-terminated; NULL when empty */
    size_t len;
} sbc_response;

typedef struct sbc_http sbc_http; /* a kept-alive connection: one thread at a time */
sbc_http *sbc_http_new(void);
void sbc_http_free(sbc_http *h);
/* 0, or -1 with res->code 0 and res->error set (res->error "out of memory" for that). */
int sbc_request_send(sbc_http *h, const sbc_request *req, sbc_response *res);
void sbc_response_free(sbc_response *res);
/* The same in two halves, for a curl multi handle: prepare sets up h's easy handle
 * (sbc_http_easy) for req; once the transfer is done, finish takes its CURLcode. */
int sbc_request_prepare(sbc_http *h, const sbc_request *req, sbc_response *res);
int sbc_request_finish(sbc_http *h, int curl_code, sbc_response *res);
void *sbc_http_easy(sbc_http *h); /* the CURL * */
/* Percent-encodes s for a URL path segment or query value into a new string (NULL: no memory). */
char *sbc_url_escape(const char *s);

/* The client's transport: the unit tests replace it to script the server. It fills res for
 * GET /config/<role> with If-None-Match: etag (NULL: none). */
typedef void (*sbc_fetch_fn)(sb_client *c, void *data, const char *role, const char *etag,
                             sbc_response *res);
void sbc_client_set_transport(sb_client *c, sbc_fetch_fn fetch, void *data);
/* Replaces the clock (milliseconds, monotonic), for the tests. */
void sbc_client_set_clock(sb_client *c, int64_t (*clock_ms)(void *data), void *data);

#endif
