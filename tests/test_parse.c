/* Unit tests of the request-facing parsers (server/http/parse.c), boundaries first. */
#include <criterion/criterion.h>
#include <string.h>

#include "http/parse.h"

static bool list_match(const char *list, const char *etag)
{
    return sb_etag_list_match(list, strlen(list), etag, strlen(etag));
}

Test(parse, etag_lists_compare_weakly)
{
    cr_assert(list_match("\"r5\"", "\"r5\""));
    cr_assert(list_match("W/\"r5\"", "\"r5\""), "If-None-Match compares weakly");
    cr_assert(list_match("\"r1\", \"r5\"", "\"r5\""));
    cr_assert(list_match("\"r1\",W/\"r5\" ,\t\"r9\"", "\"r5\""));
    cr_assert(list_match(",, ,\"r5\",", "\"r5\""), "empty members are skipped");
    cr_assert(list_match("*", "\"r5\""));
    cr_assert(list_match("\"r1\", *", "\"r5\""));
    cr_assert_not(list_match("", "\"r5\""));
    cr_assert_not(list_match("\"r55\"", "\"r5\""));
    cr_assert_not(list_match("\"r5\"x", "\"r5\""), "trailing garbage makes a member malformed");
    cr_assert_not(list_match("\"r5", "\"r5\""), "an unterminated quote matches nothing");
    cr_assert_not(list_match("\"r1, \"r5\"", "\"r5\""),
                  "an unterminated quote runs over the comma");
    cr_assert_not(list_match("r5", "\"r5\""), "tags are quoted");
    cr_assert_not(list_match("W/", "\"r5\""));
    cr_assert_not(list_match("\"a,b\"", "\"a"));
}

static int if_match(const char *v, sb_match *m)
{
    *m = (sb_match){SB_MATCH_NONE, 77};
    return sb_parse_if_match(v, strlen(v), m);
}

Test(parse, if_match_takes_a_revision_tag_or_star)
{
    sb_match m;
    cr_assert_eq(if_match("*", &m), 0);
    cr_assert_eq(m.kind, SB_MATCH_ANY);
    cr_assert_eq(if_match("\"r5\"", &m), 0);
    cr_assert_eq(m.kind, SB_MATCH_REVISION);
    cr_assert_eq(m.revision, 5);
    cr_assert_eq(if_match(" \t\"r12\" ", &m), 0, "whitespace around the value is ignored");
    cr_assert_eq(m.revision, 12);
    cr_assert_eq(if_match("\"r0\"", &m), 0, "r0 parses; no document is ever at revision 0");
    cr_assert_eq(m.revision, 0);
    cr_assert_eq(if_match("\"r9223372036854775807\"", &m), 0);
    cr_assert_eq(m.revision, (uint64_t)INT64_MAX);
}

Test(parse, if_match_refuses_what_is_not_a_revision_of_ours)
{
    static const char *const bad[] = {
        "\"r9223372036854775808\"",  /* INT64_MAX + 1 */
        "\"r18446744073709551613\"", /* 2^64 - 3: was -3, "answered", and never answered */
        "\"r18446744073709551614\"", /* 2^64 - 2: was -2, "*" */
        "\"r18446744073709551615\"", /* 2^64 - 1: was -1, unconditional */
        "\"r18446744073709551616\"", /* 2^64 */
        "\"r99999999999999999999999\"",
        "\"r007\"",
        "\"r00\"",
        "\"r\"",
        "\"r-1\"",
        "\"r+1\"",
        "\"r 5\"",
        "\"r5 \"",
        "\"5\"",
        "r5",
        "\"r5",
        "r5\"",
        "W/\"r5\"",
        "\"r5\", \"r6\"",
        "\"r5\",",
        "**",
        "",
        " ",
        "\"R5\"",
        "\"r5\"\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sb_match m;
        cr_assert_eq(if_match(bad[i], &m), -1, "%s", bad[i]);
        cr_assert_eq(m.kind, SB_MATCH_NONE, "a refused value leaves the output alone: %s", bad[i]);
        cr_assert_eq(m.revision, 77);
    }
}

static int number(const char *s, int64_t *n)
{
    *n = -7;
    return sb_parse_number(s, strlen(s), n);
}

Test(parse, whole_numbers_up_to_int64_max)
{
    int64_t n;
    cr_assert_eq(number("0", &n), 0);
    cr_assert_eq(n, 0);
    cr_assert_eq(number("100", &n), 0);
    cr_assert_eq(n, 100);
    cr_assert_eq(number("007", &n), 0, "leading zeros are allowed");
    cr_assert_eq(n, 7);
    cr_assert_eq(number("00000000000000000000000000001", &n), 0, "however many");
    cr_assert_eq(n, 1);
    cr_assert_eq(number("9223372036854775807", &n), 0);
    cr_assert_eq(n, INT64_MAX);
    static const char *const bad[] = {"9223372036854775808",
                                      "18446744073709551615",
                                      "18446744073709551616",
                                      "99999999999999999999",
                                      "",
                                      " 1",
                                      "1 ",
                                      "+1",
                                      "-1",
                                      "1e3",
                                      "0x10",
                                      "1.0",
                                      "１"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(number(bad[i], &n), -1, "%s", bad[i]);
        cr_assert_eq(n, -7, "untouched on failure: %s", bad[i]);
    }
}

static const char *query_value(const char *q, const char *name, size_t *len)
{
    sb_span v = sb_query_value(q, strlen(q), name);
    *len = v.len;
    return v.p;
}

Test(parse, query_parameters)
{
    size_t len;
    const char *q = "tenant=acme&dry_run&force=&wait=30&tenant=other";
    const char *v = query_value(q, "tenant", &len);
    cr_assert(v != NULL && len == 4 && memcmp(v, "acme", 4) == 0, "the first one counts");
    cr_assert(query_value(q, "dry_run", &len) != NULL && len == 0, "a name alone is present");
    cr_assert(query_value(q, "force", &len) != NULL && len == 0, "an empty value is present");
    v = query_value(q, "wait", &len);
    cr_assert(v != NULL && len == 2 && memcmp(v, "30", 2) == 0);
    cr_assert_null(query_value(q, "limit", &len));
    cr_assert_eq(len, 0);
    cr_assert_null(query_value("dry_runs=1&xdry_run=1", "dry_run", &len), "whole names only");
    cr_assert_null(query_value("", "dry_run", &len));
    v = query_value("&&dry_run=a=b&", "dry_run", &len);
    cr_assert(v != NULL && len == 3 && memcmp(v, "a=b", 3) == 0);
    cr_assert_not_null(query_value("x=1&dry_run", "dry_run", &len), "at the very end");
}

static int flag(const char *s)
{
    return sb_parse_flag(s, strlen(s));
}

Test(parse, flags_have_six_spellings)
{
    cr_assert_eq(flag(""), 1, "?dry_run alone");
    cr_assert_eq(flag("1"), 1);
    cr_assert_eq(flag("true"), 1);
    cr_assert_eq(flag("0"), 0);
    cr_assert_eq(flag("false"), 0);
    static const char *const bad[] = {"yes", "on",    "True", "TRUE", "no",  "off", "2",
                                      "01",  "true ", " 1",   "t",    "%31", "y",   "False"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(flag(bad[i]), -1, "%s", bad[i]);
}

static bool traceparent(const char *v, char id[33])
{
    strcpy(id, "untouched");
    return sb_parse_traceparent(v, strlen(v), id);
}

Test(parse, traceparent_gives_its_trace_id)
{
    char id[33];
    cr_assert(traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", id));
    cr_assert_str_eq(id, "0af7651916cd43dd8448eb211c80319c");
    cr_assert(traceparent("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-later", id),
              "a later version may add fields");
    static const char *const bad[] = {
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x", /* 00 has four fields */
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
        "00_0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331_01",
        "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",
        "cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_not(traceparent(bad[i], id), "%s", bad[i]);
        cr_assert_str_eq(id, "untouched");
    }
}
