/* Unit tests: the UTF-8 checks that stand between request text and JSON. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "core/util.h"

static const struct {
    const char *s;
    size_t first; /* length of the first character, 0: invalid */
} chars[] = {
    {"a", 1},
    {"\x7f", 1},
    {"\xc3\xa9", 2},
    {"\xe2\x82\xac", 3},
    {"\xf0\x9f\x98\x80", 4},
    {"\xf4\x8f\xbf\xbf", 4}, /* U+10FFFF */
    {"\x80", 0},
    {"\xbf", 0},
    {"\xc0\xaf", 0},
    {"\xc1\xbf", 0}, /* overlong */
    {"\xe0\x80\xaf", 0},
    {"\xf0\x80\x80\xaf", 0}, /* overlong */
    {"\xed\xa0\x80", 0},
    {"\xed\xbf\xbf", 0}, /* surrogates */
    {"\xf4\x90\x80\x80", 0},
    {"\xf5\x80\x80\x80", 0},
    {"\xff", 0}, /* past U+10FFFF */
    {"\xc3", 0},
    {"\xe2\x82", 0},
    {"\xc3\x41", 0}, /* cut short */
};

Test(utf8, first_character_follows_jansson)
{
    for (size_t i = 0; i < sizeof chars / sizeof *chars; i++) {
        size_t len = strlen(chars[i].s);
        cr_assert_eq(sb_utf8_char(chars[i].s, len), chars[i].first, "case %zu", i);
        /* Whatever sb_utf8_valid accepts, jansson takes as a string. */
        json_t *v = json_stringn(chars[i].s, len);
        cr_assert_eq(v != NULL, sb_utf8_valid(chars[i].s, len), "case %zu", i);
        json_decref(v);
    }
}

Test(utf8, copy_replaces_bad_bytes_and_never_splits_a_character)
{
    char out[16];
    cr_assert_eq(sb_utf8_copy(out, sizeof out,
                              "a\xff"
                              "b",
                              3),
                 5);
    cr_assert_str_eq(out, "a\xef\xbf\xbd"
                          "b");
    /* 7 two-byte characters need 14 bytes and fit 16 with the NUL; an 8th does not. */
    char e8[17] = "";
    for (int i = 0; i < 8; i++)
        strcat(e8, "\xc3\xa9");
    cr_assert_eq(sb_utf8_copy(out, sizeof out, e8, 16), 14);
    cr_assert(sb_utf8_valid(out, strlen(out)));
    json_t *v = json_string(out);
    cr_assert_not_null(v);
    json_decref(v);
}

Test(utf8, cut_stops_on_a_boundary)
{
    const char *s = "a\xc3\xa9\xc3\xa9";
    cr_assert_eq(sb_utf8_cut(s, 5, 1024), 5);
    cr_assert_eq(sb_utf8_cut(s, 5, 4), 3);
    cr_assert_eq(sb_utf8_cut(s, 5, 2), 1);
    cr_assert_eq(sb_utf8_cut("ab\xff"
                             "cd",
                             5, 1024),
                 2, "stops at the first invalid byte");
}
