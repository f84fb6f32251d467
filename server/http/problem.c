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

int sb_problem_status(int kind)
{
    return kinds[kind].status;
}

json_t *sb_problem_of(sb_fault f)
{
    json_t *p = sb_json_check(json_pack("{s:s, s:s, s:i}", "type", kinds[f.kind].type, "title",
                                        kinds[f.kind].title, "status", kinds[f.kind].status));
    json_object_update(p, f.members);
    json_decref(f.members);
    return p;
}

json_t *sb_problem(int kind, json_t *errors, const char *detail, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, detail);
    vsnprintf(text, sizeof text, detail, ap);
    va_end(ap);
    return sb_problem_of(sb_fault_new(kind, errors, "%s", text));
}
