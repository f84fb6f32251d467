/*
 * libFuzzer target: libswitchboard's reading of what a server (or a misbehaving proxy) sends
 * back for GET /config/<role>, and of the embedded defaults an application gives it. The input
 * is the body; an answer that is accepted must say what the body says (its primary and
 * fallbacks, in order, and no fallback without a primary), or the target aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "internal.h"

#define FUZZ_TARGET "fuzz_answer"
#include "check.h"

static bool same(const char *a, const char *b)
{
    return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* The accepted answer a is what the body says. */
static void check_answer(const sbc_answer *a, const uint8_t *data, size_t size)
{
    json_t *o = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    CHECK(o != NULL, "an answer from a body jansson refuses");
    CHECK(same(a->primary, json_string_value(json_object_get(o, "primary"))),
          "the answer's primary is not the body's");
    json_t *fallbacks = json_object_get(o, "fallbacks");
    CHECK(a->n_fallbacks == json_array_size(fallbacks), "the answer has other fallbacks");
    for (size_t i = 0; i < a->n_fallbacks; i++)
        CHECK(same(a->fallbacks[i], json_string_value(json_array_get(fallbacks, i))),
              "a fallback is not the body's");
    CHECK(a->primary != NULL || a->n_fallbacks == 0, "fallbacks without a primary");
    json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const roles[] = {NULL, "security", "r"};
    const char *body = (const char *)data;
    for (int i = 0; i < 3; i++) {
        sbc_answer *a = sbc_answer_parse(body, size, "\"tag\"", roles[i]);
        if (a == NULL)
            continue;
        check_answer(a, data, size);
        CHECK(strcmp(a->etag, "\"tag\"") == 0, "the answer lost its ETag");
        CHECK(a->from_server == (roles[i] != NULL), "the answer's origin is wrong");
        sb_route *r = sbc_route_new(a, SB_SOURCE_FRESH);
        CHECK(r != NULL && same(sb_route_primary(r), a->primary) &&
                  sb_route_fallback_count(r) == a->n_fallbacks &&
                  sb_route_fallback(r, a->n_fallbacks) == NULL,
              "a route does not show its answer");
        sb_route_release(r);
        sbc_answer_release(a);
    }

    /* The same bytes as a NUL-terminated defaults string and as a role name. */
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    sbc_default *d;
    size_t n;
    if (sbc_defaults_parse(text, &d, &n) == SB_OK) {
        for (size_t i = 0; i < n; i++)
            CHECK(sbc_name_valid(d[i].role) && !d[i].answer->from_server &&
                      (d[i].answer->primary != NULL || d[i].answer->n_fallbacks == 0),
                  "a default that is not a valid answer");
        sbc_defaults_free(d, n);
    }
    sbc_name_valid(text);
    free(text);
    return 0;
}
