/*
 * sb_options can grow: a program built against 0.1 (whose struct had no size, bound to
 * sb_client_open@SWITCHBOARD_0), one built now (size set, or 0), and one built against a later
 * version (a larger struct) all get the options they set. No server is needed: each client is
 * checked through what it does with its options (a bad URL or tenant is refused, the defaults
 * answer when the server cannot be reached).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "switchboard.h"

/* What a program compiled against 0.1's header passes, and the function it was linked to. */
struct options_01 {
    const char *base_url, *token, *tenant;
    unsigned ttl_ms, timeout_ms;
    const char *defaults_json;
    int watch;
};
sb_status open_01(const struct options_01 *o, sb_client **out);
__asm__(".symver open_01, sb_client_open@SWITCHBOARD_0");

/* What a later version's program could pass: this version's fields, then more. */
struct options_later {
    sb_options known;
    const char *client_id;
    unsigned more[8];
};

static const char *defaults = "{\"review\":{\"primary\":\"x/from-defaults\"}}";
static const char *closed = "http://127.0.0.1:9"; /* nothing listens there */

/* The route the defaults give, with no server: proves defaults_json reached the library. */
static void answers_from_defaults(sb_client *c)
{
    sb_route *r = NULL;
    cr_assert_eq(sb_route_get(c, "review", &r), SB_OK);
    cr_assert_str_eq(sb_route_primary(r), "x/from-defaults");
    cr_assert_eq(sb_route_source(r), SB_SOURCE_DEFAULT);
    sb_route_release(r);
    sb_client_close(c);
}

Test(options, a_program_built_against_0_1_keeps_working)
{
    sb_client *c = NULL;
    struct options_01 bad_url = {.base_url = "ftp://example.com"};
    cr_assert_eq(open_01(&bad_url, &c), SB_ERR_INVALID, "base_url is read where 0.1 put it");
    struct options_01 bad_tenant = {.base_url = closed, .tenant = "Not A Name"};
    cr_assert_eq(open_01(&bad_tenant, &c), SB_ERR_INVALID, "tenant is read where 0.1 put it");
    struct options_01 ok = {.base_url = closed, .timeout_ms = 200, .defaults_json = defaults};
    cr_assert_eq(open_01(&ok, &c), SB_OK);
    answers_from_defaults(c);
    cr_assert_eq(open_01(NULL, &c), SB_OK);
    sb_client_close(c);
}

Test(options, this_version_with_its_size_or_none)
{
    sb_client *c = NULL;
    sb_options o = SB_OPTIONS_INIT;
    o.base_url = closed;
    o.timeout_ms = 200;
    o.defaults_json = defaults;
    cr_assert_eq(sb_client_open(&o, &c), SB_OK);
    answers_from_defaults(c);
    o.size = 0; /* the fields of 0.2 */
    cr_assert_eq(sb_client_open(&o, &c), SB_OK);
    answers_from_defaults(c);
    o.tenant = "Not A Name";
    cr_assert_eq(sb_client_open(&o, &c), SB_ERR_INVALID);
}

Test(options, a_later_program_s_larger_struct)
{
    sb_client *c = NULL;
    struct options_later later;
    memset(&later, 0xff, sizeof later); /* fields this library does not know: never read */
    later.known = (sb_options)SB_OPTIONS_INIT;
    later.known.size = sizeof later;
    later.known.base_url = closed;
    later.known.timeout_ms = 200;
    later.known.defaults_json = defaults;
    cr_assert_eq(sb_client_open(&later.known, &c), SB_OK);
    answers_from_defaults(c);
}
