/* Problem documents: one table of kinds, one constructor. */
#include "problem.h"
#include "core/util.h"

#include <stdarg.h>
#include <stdio.h>

static const struct {
    int status;
    const char *type, *title;
} kinds[SB_P_COUNT] = {
    [SB_P_BAD_JSON] = {400, "urn:switchboard:problem:invalid-json",
                       "Request body is not valid JSON"},
    [SB_P_BAD_REQUEST] = {400, "urn:switchboard:problem:bad-request", "Bad request"},
    [SB_P_UNAUTHORIZED] = {401, "urn:switchboard:problem:unauthorized", "Authentication required"},
    [SB_P_FORBIDDEN] = {403, "urn:switchboard:problem:forbidden", "Token lacks the needed scope"},
    [SB_P_NOT_FOUND] = {404, "urn:switchboard:problem:not-found", "Not found"},
    [SB_P_METHOD] = {405, "urn:switchboard:problem:method-not-allowed", "Method not allowed"},
    [SB_P_CONFLICT] = {409, "urn:switchboard:problem:conflict", "Conflict"},
    [SB_P_PRECONDITION] = {412, "urn:switchboard:problem:precondition-failed",
                           "Precondition failed"},
    [SB_P_TOO_LARGE] = {413, "urn:switchboard:problem:too-large", "Request body too large"},
    [SB_P_INVALID] = {422, "urn:switchboard:problem:invalid-document", "Invalid document"},
    [SB_P_INTERNAL] = {500, "urn:switchboard:problem:internal", "Internal error"},
    [SB_P_UNAVAILABLE] = {503, "urn:switchboard:problem:unavailable", "Service unavailable"},
};

json_t *sb_problem(int kind, json_t *errors, const char *detail, ...)
{
    char text[1024], clean[1024];
    va_list ap;
    va_start(ap, detail);
    int n = vsnprintf(text, sizeof text, detail, ap);
    va_end(ap);
    /* The detail often quotes the request (a path, an id, a header): it may be anything, and
     * only valid UTF-8 can go into JSON. */
    size_t len = n < 0 ? 0 : (size_t)n < sizeof text ? (size_t)n : sizeof text - 1;
    sb_utf8_copy(clean, sizeof clean, text, len);
    json_t *p =
        sb_json_check(json_pack("{s:s, s:s, s:i, s:s}", "type", kinds[kind].type, "title",
                                kinds[kind].title, "status", kinds[kind].status, "detail", clean));
    if (errors != NULL)
        json_object_set_new(p, "errors", errors);
    return p;
}
