/* Faults: the core's side of a problem document (see error.h). */
#include "error.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>

sb_fault sb_fault_new(int kind, json_t *errors, const char *detail, ...)
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
    json_t *members = sb_json_check(json_pack("{s:s}", "detail", clean));
    if (errors != NULL)
        json_object_set_new(members, "errors", errors);
    return (sb_fault){kind, members};
}
