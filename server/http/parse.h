/*
 * The parsers of what a request carries in its headers and query string: entity-tag lists,
 * If-Match, query parameters, whole numbers, flags and traceparent. Pure functions of
 * (bytes, length): no h2o, no store, no allocation, so they are unit-tested and fuzzed on
 * their own. The handlers call them and answer the 400s (reply.c, docs.c).
 * Everything here is thread-safe.
 */
#ifndef SB_PARSE_H
#define SB_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/match.h"

/* A piece of a request, p[0..len), not NUL-terminated; p is NULL when the piece is absent. */
typedef struct sb_span {
    const char *p;
    size_t len;
} sb_span;

/**
 * Whether one entity tag of an If-None-Match value (a comma-separated list of tags, or "*")
 * equals etag, comparing weakly (a W/ prefix is ignored). Malformed members never match.
 */
bool sb_etag_list_match(const char *list, size_t len, const char *etag, size_t etag_len);

/**
 * Parses an If-Match value: "*", or "r<revision>" in quotes as the server's ETags are
 * (decimal, no sign, no leading zero, at most INT64_MAX). Spaces and tabs around it are ignored.
 * @param[out] out SB_MATCH_ANY or SB_MATCH_REVISION; untouched on failure
 * @return 0, or -1 when the value is anything else (a list, a weak tag, an out-of-range number)
 */
int sb_parse_if_match(const char *v, size_t len, sb_match *out);

/**
 * The value of the first parameter called name in a query string (the bytes after '?'),
 * as sent (not percent-decoded): {"", 0} for "name" or "name=", {NULL, 0} when absent.
 */
sb_span sb_query_value(const char *query, size_t len, const char *name);

/**
 * Parses a whole number: one or more decimal digits (leading zeros allowed), nothing else,
 * at most INT64_MAX.
 * @return 0 with *out set, or -1 (*out untouched)
 */
int sb_parse_number(const char *p, size_t len, int64_t *out);

/**
 * Parses a flag's value: "" (the flag given alone), "1" or "true" -> 1; "0" or "false" -> 0;
 * anything else (other spellings and cases included) -> -1.
 */
int sb_parse_flag(const char *v, size_t len);

/**
 * The trace id of a W3C traceparent value "VV-<32 hex>-<16 hex>-<2 hex>" (lowercase hex,
 * version not ff, neither id all zeros; version 00 has exactly these four fields, a later
 * version may add fields after a '-').
 * @param[out] trace_id the 32 hex digits, NUL-terminated; untouched when invalid
 * @return whether the value is a valid traceparent
 */
bool sb_parse_traceparent(const char *v, size_t len, char trace_id[33]);

#endif
