/* Names, hashing and revision tags shared by the server and the client (see names.h). */
#include "names.h"

#include <stdio.h>

bool sb_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > 64)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  (i > 0 && (c == '.' || c == '_' || c == '-'));
        if (!ok)
            return false;
    }
    return true;
}

uint64_t sb_fnv1a(uint64_t h, const void *p, size_t len)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

void sb_revision_tag(uint64_t revision, char out[24])
{
    snprintf(out, 24, "\"r%llu\"", (unsigned long long)revision);
}
