/* The request-facing parsers: see parse.h. */
#include "parse.h"

#include <string.h>

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_lower_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f');
}

bool sb_etag_list_match(const char *list, size_t len, const char *etag, size_t etag_len)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && (is_ows(list[i]) || list[i] == ','))
            i++;
        if (i < len && list[i] == '*')
            return true;
        if (i + 2 <= len && list[i] == 'W' && list[i + 1] == '/')
            i += 2;
        size_t start = i;
        if (i < len && list[i] == '"') {
            for (i++; i < len && list[i] != '"'; i++)
                ;
            if (i < len)
                i++; /* the closing quote */
        }
        while (i < len && list[i] != ',')
            i++; /* skip anything malformed up to the next separator */
        size_t end = i;
        while (end > start && is_ows(list[end - 1]))
            end--;
        if (end - start == etag_len && memcmp(list + start, etag, etag_len) == 0)
            return true;
    }
    return false;
}

int sb_parse_number(const char *p, size_t len, int64_t *out)
{
    if (len == 0)
        return -1;
    int64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(p[i]))
            return -1;
        int d = p[i] - '0';
        if (n > (INT64_MAX - d) / 10)
            return -1;
        n = n * 10 + d;
    }
    *out = n;
    return 0;
}

int sb_parse_if_match(const char *v, size_t len, sb_match *out)
{
    while (len > 0 && is_ows(v[0]))
        v++, len--;
    while (len > 0 && is_ows(v[len - 1]))
        len--;
    if (len == 1 && v[0] == '*') {
        *out = (sb_match){SB_MATCH_ANY, 0};
        return 0;
    }
    /* "r<digits>": the server's ETags never have a leading zero, so "r07" is no tag of ours. */
    int64_t rev;
    if (len < 4 || v[0] != '"' || v[1] != 'r' || v[len - 1] != '"' || (v[2] == '0' && len > 4) ||
        sb_parse_number(v + 2, len - 3, &rev) != 0)
        return -1;
    *out = (sb_match){SB_MATCH_REVISION, (uint64_t)rev};
    return 0;
}

sb_span sb_query_value(const char *query, size_t len, const char *name)
{
    const char *q = query, *end = query + len;
    size_t nlen = strlen(name);
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - q) >= nlen && memcmp(q, name, nlen) == 0 &&
            (q + nlen == stop || q[nlen] == '=')) {
            const char *v = q + nlen == stop ? stop : q + nlen + 1;
            return (sb_span){v, (size_t)(stop - v)};
        }
        q = stop + 1;
    }
    return (sb_span){NULL, 0};
}

int sb_parse_flag(const char *v, size_t len)
{
    if (len == 0 || (len == 1 && v[0] == '1') || (len == 4 && memcmp(v, "true", 4) == 0))
        return 1;
    if ((len == 1 && v[0] == '0') || (len == 5 && memcmp(v, "false", 5) == 0))
        return 0;
    return -1;
}

/* Whether v[0..n) is lowercase hex and, when nonzero is set, not all zeros. */
static bool hex_field(const char *v, size_t n, bool nonzero)
{
    bool zero = true;
    for (size_t i = 0; i < n; i++) {
        if (!is_lower_hex(v[i]))
            return false;
        zero = zero && v[i] == '0';
    }
    return !(nonzero && zero);
}

bool sb_parse_traceparent(const char *v, size_t len, char trace_id[33])
{
    /* 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01 */
    if (len < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-' || !hex_field(v, 2, false) ||
        memcmp(v, "ff", 2) == 0 || !hex_field(v + 3, 32, true) || !hex_field(v + 36, 16, true) ||
        !hex_field(v + 53, 2, false))
        return false;
    if (len > 55 && (memcmp(v, "00", 2) == 0 || v[55] != '-'))
        return false;
    memcpy(trace_id, v + 3, 32);
    trace_id[32] = '\0';
    return true;
}
