/*
 * libFuzzer target: what a request carries before a handler looks at it. The input is one
 * header value or query string; every parser of server/http/parse.c reads it, and h2o's path
 * normalization (percent-decoding, dot segments) reads it as a request path. Each result is
 * checked against what the parser promises (a parsed number prints back as the input, a
 * matched tag is in the list, ...); a broken promise aborts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <h2o.h>
#include <jansson.h>

#include "http/parse.h"
#include "core/util.h"

#define FUZZ_TARGET "fuzz_http"
#include "check.h"

static void number(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    int64_t n = -1;
    if (sb_parse_number(p, size, &n) != 0)
        return;
    CHECK(n >= 0, "a parsed number is negative");
    size_t zeros = 0;
    while (zeros + 1 < size && p[zeros] == '0')
        zeros++;
    char back[24];
    int len = snprintf(back, sizeof back, "%" PRId64, n);
    CHECK((size_t)len == size - zeros && memcmp(back, p + zeros, (size_t)len) == 0,
          "a parsed number does not print back as its digits");
}

static void if_match(const uint8_t *data, size_t size)
{
    sb_match m = {SB_MATCH_NONE, 12345};
    if (sb_parse_if_match((const char *)data, size, &m) != 0) {
        CHECK(m.kind == SB_MATCH_NONE && m.revision == 12345, "a failed parse changed its output");
        return;
    }
    CHECK(m.kind == SB_MATCH_ANY || m.kind == SB_MATCH_REVISION, "If-Match gave no condition");
    CHECK(m.revision <= INT64_MAX, "an If-Match revision above INT64_MAX");
    const char *p = (const char *)data;
    while (size > 0 && (p[0] == ' ' || p[0] == '\t'))
        p++, size--;
    while (size > 0 && (p[size - 1] == ' ' || p[size - 1] == '\t'))
        size--;
    char back[32];
    int len = m.kind == SB_MATCH_ANY ? snprintf(back, sizeof back, "*")
                                     : snprintf(back, sizeof back, "\"r%" PRIu64 "\"", m.revision);
    CHECK((size_t)len == size && memcmp(back, p, size) == 0,
          "an accepted If-Match is not the tag it stands for");
}

static void flags(const uint8_t *data, size_t size)
{
    static const char *const yes[] = {"", "1", "true"}, *const no[] = {"0", "false"};
    int want = -1;
    for (int i = 0; i < 3; i++)
        if (strlen(yes[i]) == size && memcmp(yes[i], data, size) == 0)
            want = 1;
    for (int i = 0; i < 2; i++)
        if (strlen(no[i]) == size && memcmp(no[i], data, size) == 0)
            want = 0;
    CHECK(sb_parse_flag((const char *)data, size) == want, "a flag outside its six spellings");
}

static void query(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"dry_run", "force", "since", "limit", "wait", "tenant"};
    const char *q = (const char *)data;
    for (int i = 0; i < 6; i++) {
        sb_span v = sb_query_value(q, size, names[i]);
        if (v.p == NULL) {
            CHECK(v.len == 0, "an absent parameter has a length");
            continue;
        }
        size_t nlen = strlen(names[i]);
        CHECK(v.p >= q + nlen && v.p + v.len <= q + size, "a value outside the query");
        CHECK(memchr(v.p, '&', v.len) == NULL, "a value runs over '&'");
        const char *start = v.p[-1] == '=' ? v.p - nlen - 1 : v.p - nlen; /* "name" alone */
        CHECK(v.p[-1] == '=' || v.len == 0, "a value after a name without '='");
        CHECK(memcmp(start, names[i], nlen) == 0 && (start == q || start[-1] == '&'),
              "a value of another parameter");
        int64_t n;
        sb_parse_number(v.p, v.len, &n);
        sb_parse_flag(v.p, v.len);
    }
}

static void traceparent(const uint8_t *data, size_t size)
{
    char id[33] = "untouched";
    if (!sb_parse_traceparent((const char *)data, size, id)) {
        CHECK(strcmp(id, "untouched") == 0, "an invalid traceparent wrote a trace id");
        return;
    }
    CHECK(strlen(id) == 32 && strspn(id, "0123456789abcdef") == 32 && strspn(id, "0") < 32,
          "a trace id that is not 32 lowercase hex digits, not all zeros");
    CHECK(memcmp(id, data + 3, 32) == 0, "a trace id that is not the header's");
}

static void etag_list(const uint8_t *data, size_t size)
{
    /* The tags the server gives: a snapshot's body hash and a document's revision. */
    static const char *const tags[] = {"\"AAAAAAAAAAAAAAAAAAAAAA\"", "\"r5\"",
                                       "\"r18446744073709551615\""};
    const char *list = (const char *)data;
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(tags[i]);
        bool match = sb_etag_list_match(list, size, tags[i], n);
        if (size == n && memcmp(list, tags[i], n) == 0)
            CHECK(match, "a list of exactly the tag does not match it");
        if (match && memchr(list, '*', size) == NULL)
            CHECK(memmem(list, size, tags[i], n) != NULL, "a match on a tag that is not there");
    }
    /* The first line, when short, is a tag to look for in the rest. */
    const char *nl = memchr(list, '\n', size);
    if (nl != NULL && nl - list <= 64)
        sb_etag_list_match(nl + 1, size - (size_t)(nl + 1 - list), list, (size_t)(nl - list));
}

/* The helpers that keep request text from aborting the server in jansson (util.c). */
static void utf8(const uint8_t *data, size_t size, const char *text, size_t len)
{
    bool valid = sb_utf8_valid(text, len);
    json_t *j = json_stringn(text, len);
    CHECK(valid == (j != NULL), "sb_utf8_valid and jansson disagree");
    json_decref(j);
    char out[256];
    size_t caps[] = {1, 4, 17, sizeof out};
    for (size_t i = 0; i < sizeof caps / sizeof *caps; i++) {
        size_t n = sb_utf8_copy(out, caps[i], text, len);
        CHECK(n < caps[i] && out[n] == '\0' && sb_utf8_valid(out, n),
              "sb_utf8_copy gave text that is not UTF-8 or does not fit");
        CHECK(!valid || memchr(text, '\0', len) != NULL || (n <= len && memcmp(out, text, n) == 0),
              "sb_utf8_copy changed valid text");
        j = json_string(out);
        CHECK(j != NULL, "jansson refuses what sb_utf8_copy gave");
        json_decref(j);
    }
    size_t maxes[] = {0, 3, len / 2, 1024};
    for (size_t i = 0; i < sizeof maxes / sizeof *maxes; i++) {
        size_t n = sb_utf8_cut(text, len, maxes[i]);
        CHECK(n <= maxes[i] && n <= len && sb_utf8_valid(text, n),
              "sb_utf8_cut cut inside a character or past max");
        CHECK(!valid || n == (len < maxes[i] ? len : n), "sb_utf8_cut dropped valid text");
    }
}

static void path(const uint8_t *data, size_t size)
{
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    size_t query_at = SIZE_MAX, *norm_indexes = NULL;
    h2o_iovec_t p =
        h2o_url_normalize_path(&pool, (const char *)data, size, &query_at, &norm_indexes);
    CHECK(p.base != NULL && p.len > 0 && p.base[0] == '/', "a normalized path without a '/'");
    CHECK(query_at == SIZE_MAX || query_at < size, "a query past the path");
    for (size_t i = 0; i + 3 <= p.len; i++)
        CHECK(memcmp(p.base + i, "/..", 3) != 0 || (i + 3 < p.len && p.base[i + 3] != '/'),
              "a normalized path keeps a '..' segment");
    utf8(data, size, p.base, p.len); /* what a 404 on that path puts in its detail */
    h2o_mem_clear_pool(&pool);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    number(data, size);
    if_match(data, size);
    flags(data, size);
    query(data, size);
    traceparent(data, size);
    etag_list(data, size);
    utf8(data, size, (const char *)data, size);
    path(data, size);
    return 0;
}
