/*
 * Answers and routes: the immutable data a lookup hands out, and the small reference-counted
 * objects that carry it with a source. Both are freed by whichever thread drops the last
 * reference; nothing here takes a lock.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "internal.h"
#include "common/names.h"

bool sbc_name_valid(const char *s)
{
    return sb_name_ok(s, strnlen(s, 65));
}

/* One allocation: the struct, the fallback pointers, then every string. */
static sbc_answer *answer_new(const char *etag, const char *primary, json_t *fallbacks,
                              bool from_server)
{
    size_t n = json_array_size(fallbacks), size = sizeof(sbc_answer) + n * sizeof(char *);
    size += strlen(etag) + 1 + (primary ? strlen(primary) + 1 : 0);
    for (size_t i = 0; i < n; i++)
        size += strlen(json_string_value(json_array_get(fallbacks, i))) + 1;
    sbc_answer *a = malloc(size);
    if (a == NULL)
        return NULL;
    atomic_init(&a->refs, 1);
    a->from_server = from_server;
    a->n_fallbacks = n;
    a->fallbacks = (const char **)(a + 1);
    char *p = (char *)(a->fallbacks + n);
#define PUT(dst, src)                                                                              \
    do {                                                                                           \
        size_t len_ = strlen(src) + 1;                                                             \
        dst = memcpy(p, src, len_);                                                                \
        p += len_;                                                                                 \
    } while (0)
    PUT(a->etag, etag);
    a->primary = NULL;
    if (primary)
        PUT(a->primary, primary);
    for (size_t i = 0; i < n; i++)
        PUT(a->fallbacks[i], json_string_value(json_array_get(fallbacks, i)));
#undef PUT
    return a;
}

/* The fields an answer may have: ours, and the rest of what GET /config/<role> sends. */
static bool answer_fields_ok(json_t *o)
{
    static const char *const known[] = {"primary", "fallbacks", "role", "tenant", "dropped"};
    const char *key;
    json_t *v;
    json_object_foreach (o, key, v) {
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof *known; i++)
            ok = ok || strcmp(key, known[i]) == 0;
        if (!ok)
            return false;
    }
    json_t *primary = json_object_get(o, "primary"), *fallbacks = json_object_get(o, "fallbacks");
    if (!json_is_string(primary) && !json_is_null(primary))
        return false;
    if (fallbacks != NULL && !json_is_array(fallbacks))
        return false;
    size_t i;
    json_array_foreach (fallbacks, i, v)
        if (!json_is_string(v))
            return false;
    /* No route is "primary": null with no fallbacks; a fallback without a primary is nonsense. */
    return !(json_is_null(primary) && json_array_size(fallbacks) > 0);
}

static sbc_answer *answer_from_json(json_t *o, const char *etag, bool from_server)
{
    if (!json_is_object(o) || !answer_fields_ok(o))
        return NULL;
    return answer_new(etag, json_string_value(json_object_get(o, "primary")),
                      json_object_get(o, "fallbacks"), from_server);
}

sbc_answer *sbc_answer_parse(const char *json, size_t len, const char *etag, const char *role)
{
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
    sbc_answer *a = NULL;
    if (o != NULL &&
        (role == NULL || (json_is_string(json_object_get(o, "role")) &&
                          strcmp(json_string_value(json_object_get(o, "role")), role) == 0)))
        a = answer_from_json(o, etag, role != NULL);
    json_decref(o);
    return a;
}

sbc_answer *sbc_answer_ref(sbc_answer *a)
{
    atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
    return a;
}

void sbc_answer_release(sbc_answer *a)
{
    if (a != NULL && atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) == 1)
        free(a);
}

sb_route *sbc_route_new(sbc_answer *a, sb_source source)
{
    sb_route *r = malloc(sizeof *r);
    if (r == NULL)
        return NULL;
    atomic_init(&r->refs, 1);
    r->source = source;
    r->answer = sbc_answer_ref(a);
    return r;
}

void sb_route_release(sb_route *r)
{
    if (r != NULL && atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1) {
        sbc_answer_release(r->answer);
        free(r);
    }
}

const char *sb_route_primary(const sb_route *r)
{
    return r->answer->primary;
}

size_t sb_route_fallback_count(const sb_route *r)
{
    return r->answer->n_fallbacks;
}

const char *sb_route_fallback(const sb_route *r, size_t i)
{
    return i < r->answer->n_fallbacks ? r->answer->fallbacks[i] : NULL;
}

const char *sb_route_etag(const sb_route *r)
{
    return r->answer->etag;
}

sb_source sb_route_source(const sb_route *r)
{
    return r->source;
}

const char *sb_source_name(sb_source s)
{
    static const char *const names[] = {"fresh", "cached", "revalidated", "stale", "default"};
    return (unsigned)s < sizeof names / sizeof *names ? names[s] : "unknown";
}

const char *sb_strerror(sb_status s)
{
    switch (s) {
    case SB_OK:
        return "ok";
    case SB_NO_ROUTE:
        return "no route: every model of the role has its provider switched off";
    case SB_ERR_INVALID:
        return "invalid argument";
    case SB_ERR_NO_MEMORY:
        return "out of memory";
    case SB_ERR_UNAVAILABLE:
        return "the server gave no usable answer, and there is no kept answer or default";
    case SB_ERR_NOT_FOUND:
        return "the server has no such role";
    case SB_ERR_UNAUTHORIZED:
        return "the server refused the token (missing, wrong or lacking scope)";
    case SB_ERR_REJECTED:
        return "the server rejected the request";
    case SB_ERR_BAD_DEFAULTS:
        return "defaults_json must be {\"<role>\": {\"primary\": ..., \"fallbacks\": [...]}, ...}";
    }
    return "unknown status";
}

const char *sb_version(void)
{
    return SB_VERSION_STRING;
}

sb_status sbc_defaults_parse(const char *json, sbc_default **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    json_t *o = json_loads(json, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return SB_ERR_BAD_DEFAULTS;
    }
    sbc_default *d = calloc(json_object_size(o) + 1, sizeof *d);
    size_t n = 0;
    sb_status status = d ? SB_OK : SB_ERR_NO_MEMORY;
    const char *role;
    json_t *v;
    json_object_foreach (o, role, v) {
        if (status != SB_OK)
            break;
        json_t *r = json_object_get(v, "role");
        if (!sbc_name_valid(role) ||
            (r && !(json_is_string(r) && strcmp(json_string_value(r), role) == 0)))
            status = SB_ERR_BAD_DEFAULTS;
        else if ((d[n].answer = answer_from_json(v, "", false)) == NULL)
            status =
                json_is_object(v) && answer_fields_ok(v) ? SB_ERR_NO_MEMORY : SB_ERR_BAD_DEFAULTS;
        else if ((d[n++].role = strdup(role)) == NULL)
            status = SB_ERR_NO_MEMORY;
    }
    json_decref(o);
    if (status != SB_OK) {
        sbc_defaults_free(d, n);
        return status;
    }
    *out = d;
    *n_out = n;
    return SB_OK;
}

void sbc_defaults_free(sbc_default *d, size_t n)
{
    for (size_t i = 0; d != NULL && i < n; i++) {
        free(d[i].role);
        sbc_answer_release(d[i].answer);
    }
    free(d);
}
