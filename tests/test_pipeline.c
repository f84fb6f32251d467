/* Table-driven tests of filter-then-select (server/core/pipeline.c): one row per rule of DESIGN.md.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "core/pipeline.h"

typedef struct pcase {
    const char *name;
    const char *docs; /* {kind: {id: doc}} */
    const char *role;
    const char *tenant; /* NULL: none */
    const char *expect; /* the answer, or NULL for "no such role" */
} pcase;

#define P(a) "\"providers\":{" a "}"

static const pcase cases[] = {
    {"explicit fallbacks in order",
     "{\"roles\":{\"sec\":{\"primary\":\"a/x\",\"fallbacks\":[\"b/y\",\"c/z\"]}}}", "sec", NULL,
     "{\"role\":\"sec\",\"tenant\":null,\"primary\":\"a/x\",\"fallbacks\":[\"b/y\",\"c/z\"],"
     "\"dropped\":[]}"},
    {"unknown role is not found", "{\"roles\":{\"sec\":{\"primary\":\"a/x\"}}}", "perf", NULL,
     NULL},
    {"model without provider prefix is kept",
     "{" P("\"a\":{\"enabled\":false}") ",\"roles\":{\"r\":{\"primary\":\"gpt4\"}}}", "r", NULL,
     "{\"role\":\"r\",\"tenant\":null,\"primary\":\"gpt4\",\"fallbacks\":[],\"dropped\":[]}"},
    {"provider without a switch is kept",
     "{" P("\"a\":{\"enabled\":false}") ",\"roles\":{\"r\":{\"primary\":\"zz/m\","
                                        "\"fallbacks\":[\"a/m\"]}}}",
     "r", NULL,
     "{\"role\":\"r\",\"tenant\":null,\"primary\":\"zz/m\",\"fallbacks\":[],\"dropped\":"
     "[{\"model\":\"a/m\",\"provider\":\"a\",\"reason\":\"provider_disabled\"}]}"},
    {"disabled provider dropped and listed",
     "{" P("\"a\":{\"enabled\":false},\"b\":{\"enabled\":true}") ",\"roles\":{\"r\":{"
                                                                 "\"primary\":\"a/1\","
                                                                 "\"fallbacks\":[\"b/2\",\"a/3\","
                                                                 "\"b/4\"]}}}",
     "r", NULL,
     "{\"role\":\"r\",\"tenant\":null,\"primary\":\"b/2\",\"fallbacks\":[\"b/4\"],\"dropped\":["
     "{\"model\":\"a/1\",\"provider\":\"a\",\"reason\":\"provider_disabled\"},"
     "{\"model\":\"a/3\",\"provider\":\"a\",\"reason\":\"provider_disabled\"}]}"},
    {"failback successors followed when fallbacks absent",
     "{\"roles\":{\"r\":{\"primary\":\"a/1\"}},\"failback\":{\"a/1\":{\"next\":\"b/2\"},"
     "\"b/2\":{\"next\":\"c/3\"},\"c/3\":{\"next\":null},\"d/4\":{\"next\":\"a/1\"}}}",
     "r", NULL,
     "{\"role\":\"r\",\"tenant\":null,\"primary\":\"a/1\",\"fallbacks\":[\"b/2\",\"c/3\"],"
     "\"dropped\":[]}"},
    {"chain stops at a model with no failback document",
     "{\"roles\":{\"r\":{\"primary\":\"a/1\"}},\"failback\":{\"a/1\":{\"next\":\"b/2\"},"
     "\"c/3\":{\"next\":\"d/4\"}}}",
     "r", NULL,
     "{\"role\":\"r\",\"tenant\":null,\"primary\":\"a/1\",\"fallbacks\":[\"b/2\"],\"dropped\":[]}"},
    {"explicit fallbacks win over failback",
     "{\"roles\":{\"r\":{\"primary\":\"a/1\",\"fallbacks\":[]}},\"failback\":{\"a/1\":{\"next\":"
     "\"b/2\"}}}",
     "r", NULL,
     "{\"role\":\"r\",\"tenant\":null,\"primary\":\"a/1\",\"fallbacks\":[],\"dropped\":[]}"},
    {"failback cycle stops at the repeat",
     "{\"roles\":{\"r\":{\"primary\":\"a/1\"}},\"failback\":{\"a/1\":{\"next\":\"b/2\"},"
     "\"b/2\":{\"next\":\"c/3\"},\"c/3\":{\"next\":\"a/1\"}}}",
     "r", NULL,
     "{\"role\":\"r\",\"tenant\":null,\"primary\":\"a/1\",\"fallbacks\":[\"b/2\",\"c/3\"],"
     "\"dropped\":[]}"},
    {"self loop",
     "{\"roles\":{\"r\":{\"primary\":\"a/1\"}},\"failback\":{\"a/1\":{\"next\":\"a/1\"}}}", "r",
     NULL, "{\"role\":\"r\",\"tenant\":null,\"primary\":\"a/1\",\"fallbacks\":[],\"dropped\":[]}"},
    {"chain capped at 16 models",
     "{\"roles\":{\"r\":{\"primary\":\"m/0\"}},\"failback\":{"
     "\"m/0\":{\"next\":\"m/1\"},\"m/1\":{\"next\":\"m/2\"},\"m/2\":{\"next\":\"m/3\"},"
     "\"m/3\":{\"next\":\"m/4\"},\"m/4\":{\"next\":\"m/5\"},\"m/5\":{\"next\":\"m/6\"},"
     "\"m/6\":{\"next\":\"m/7\"},\"m/7\":{\"next\":\"m/8\"},\"m/8\":{\"next\":\"m/9\"},"
     "\"m/9\":{\"next\":\"m/10\"},\"m/10\":{\"next\":\"m/11\"},\"m/11\":{\"next\":\"m/12\"},"
     "\"m/12\":{\"next\":\"m/13\"},\"m/13\":{\"next\":\"m/14\"},\"m/14\":{\"next\":\"m/15\"},"
     "\"m/15\":{\"next\":\"m/16\"},\"m/16\":{\"next\":\"m/17\"}}}",
     "r", NULL,
     "{\"role\":\"r\",\"tenant\":null,\"primary\":\"m/0\",\"fallbacks\":[\"m/1\",\"m/2\",\"m/3\","
     "\"m/4\",\"m/5\",\"m/6\",\"m/7\",\"m/8\",\"m/9\",\"m/10\",\"m/11\",\"m/12\",\"m/13\","
     "\"m/14\",\"m/15\"],\"dropped\":[]}"},
    {"cap counts disabled models too",
     "{" P("\"m\":{\"enabled\":false},\"n\":{\"enabled\":true}") ",\"roles\":{\"r\":{\"primary\":"
                                                                 "\"m/0\"}},\"failback\":{"
                                                                 "\"m/0\":{\"next\":\"m/1\"},\"m/"
                                                                 "1\":{\"next\":\"m/2\"},\"m/"
                                                                 "2\":{\"next\":\"m/3\"},"
                                                                 "\"m/3\":{\"next\":\"m/4\"},\"m/"
                                                                 "4\":{\"next\":\"m/5\"},\"m/"
                                                                 "5\":{\"next\":\"m/6\"},"
                                                                 "\"m/6\":{\"next\":\"m/7\"},\"m/"
                                                                 "7\":{\"next\":\"m/8\"},\"m/"
                                                                 "8\":{\"next\":\"m/9\"},"
                                                                 "\"m/9\":{\"next\":\"m/10\"},\"m/"
                                                                 "10\":{\"next\":\"m/11\"},\"m/"
                                                                 "11\":{\"next\":\"m/12\"},"
                                                                 "\"m/12\":{\"next\":\"m/13\"},\"m/"
                                                                 "13\":{\"next\":\"m/14\"},\"m/"
                                                                 "14\":{\"next\":\"m/15\"},"
                                                                 "\"m/15\":{\"next\":\"n/16\"}}}",
     "r", NULL,
     "{\"role\":\"r\",\"tenant\":null,\"primary\":null,\"fallbacks\":[],\"dropped\":["
     "{\"model\":\"m/0\",\"provider\":\"m\",\"reason\":\"provider_disabled\"},"
     "{\"model\":\"m/1\",\"provider\":\"m\",\"reason\":\"provider_disabled\"},"
     "{\"model\":\"m/2\",\"provider\":\"m\",\"reason\":\"provider_disabled\"},"
     "{\"model\":\"m/3\",\"provider\":\"m\",\"reason\":\"provider_disabled\"},"
     "{\"model\":\"m/4\",\"provider\":\"m\",\"reason\":\"provider_disabled\"},"
     "{\"model\":\"m/5\",\"provider\":\"m\",\"reason\":\"provider_disabled\"},"
     "{\"model\":\"m/6\",\"provider\":\"m\",\"reason\":\"provider_disabled\"},"
     "{\"model\":\"m/7\",\"provider\":\"m\",\"reason\":\"provider_disabled\"},"
     "{\"model\":\"m/8\",\"provider\":\"m\",\"reason\":\"provider_disabled\"},"
     "{\"model\":\"m/9\",\"provider\":\"m\",\"reason\":\"provider_disabled\"},"
     "{\"model\":\"m/10\",\"provider\":\"m\",\"reason\":\"provider_disabled\"},"
     "{\"model\":\"m/11\",\"provider\":\"m\",\"reason\":\"provider_disabled\"},"
     "{\"model\":\"m/12\",\"provider\":\"m\",\"reason\":\"provider_disabled\"},"
     "{\"model\":\"m/13\",\"provider\":\"m\",\"reason\":\"provider_disabled\"},"
     "{\"model\":\"m/14\",\"provider\":\"m\",\"reason\":\"provider_disabled\"},"
     "{\"model\":\"m/15\",\"provider\":\"m\",\"reason\":\"provider_disabled\"}]}"},
    {"dedupe keeps the first occurrence",
     "{\"roles\":{\"r\":{\"primary\":\"a/1\",\"fallbacks\":[\"b/2\",\"a/1\",\"c/3\",\"b/2\"]}}}",
     "r", NULL,
     "{\"role\":\"r\",\"tenant\":null,\"primary\":\"a/1\",\"fallbacks\":[\"b/2\",\"c/3\"],"
     "\"dropped\":[]}"},
    {"models registry overrides the id prefix",
     "{" P("\"workers-ai\":{\"enabled\":false},\"cf\":{\"enabled\":true}") ",\"models\":{"
                                                                           "\"cf/"
                                                                           "kimi\":{\"provider\":"
                                                                           "\"workers-ai\"},"
                                                                           "\"plain\":{"
                                                                           "\"provider\":\"cf\"}},"
                                                                           "\"roles\":{\"r\":{"
                                                                           "\"primary\":\"cf/"
                                                                           "kimi\",\"fallbacks\":["
                                                                           "\"plain\",\"cf/"
                                                                           "other\"]}}}",
     "r", NULL,
     "{\"role\":\"r\",\"tenant\":null,\"primary\":\"plain\",\"fallbacks\":[\"cf/other\"],"
     "\"dropped\":[{\"model\":\"cf/kimi\",\"provider\":\"workers-ai\",\"reason\":"
     "\"provider_disabled\"}]}"},
    {"registry entry gives a provider to an id without a slash",
     "{" P("\"local\":{\"enabled\":false}") ",\"models\":{\"llama\":{\"provider\":\"local\"}},"
                                            "\"roles\":{\"r\":{\"primary\":\"llama\",\"fallbacks\":"
                                            "[\"x/1\"]}}}",
     "r", NULL,
     "{\"role\":\"r\",\"tenant\":null,\"primary\":\"x/1\",\"fallbacks\":[],\"dropped\":["
     "{\"model\":\"llama\",\"provider\":\"local\",\"reason\":\"provider_disabled\"}]}"},
    {"model id with several slashes uses the first segment",
     "{" P("\"workers-ai\":{\"enabled\":false}") ",\"roles\":{\"r\":{\"primary\":"
                                                 "\"workers-ai/@cf/moonshotai/"
                                                 "kimi-k2.5\",\"fallbacks\":[\"a/b/c\"]}}}",
     "r", NULL,
     "{\"role\":\"r\",\"tenant\":null,\"primary\":\"a/b/c\",\"fallbacks\":[],\"dropped\":["
     "{\"model\":\"workers-ai/@cf/moonshotai/kimi-k2.5\",\"provider\":\"workers-ai\","
     "\"reason\":\"provider_disabled\"}]}"},
    {"tenant role override replaces the global role",
     "{\"roles\":{\"r\":{\"primary\":\"a/1\"}},\"tenants\":{\"acme\":{\"roles\":{\"r\":{"
     "\"primary\":\"b/2\",\"fallbacks\":[\"c/3\"]}}}}}",
     "r", "acme",
     "{\"role\":\"r\",\"tenant\":\"acme\",\"primary\":\"b/2\",\"fallbacks\":[\"c/3\"],"
     "\"dropped\":[]}"},
    {"tenant without override for the role gets the global answer, tenant null",
     "{\"roles\":{\"r\":{\"primary\":\"a/1\"}},\"tenants\":{\"acme\":{}}}", "r", "acme",
     "{\"role\":\"r\",\"tenant\":null,\"primary\":\"a/1\",\"fallbacks\":[],\"dropped\":[]}"},
    {"tenant switching a provider no candidate has does not shape the answer",
     "{\"roles\":{\"r\":{\"primary\":\"a/1\",\"fallbacks\":[\"b/2\"]}},\"tenants\":{\"acme\":{"
     "\"providers\":{\"c\":{\"enabled\":false}},\"roles\":{\"other\":{\"primary\":\"c/1\"}}}}}",
     "r", "acme",
     "{\"role\":\"r\",\"tenant\":null,\"primary\":\"a/1\",\"fallbacks\":[\"b/2\"],\"dropped\":[]}"},
    {"tenant switching a candidate's provider shapes the answer even when it agrees",
     "{" P("\"b\":{\"enabled\":true}") ",\"roles\":{\"r\":{\"primary\":\"a/1\",\"fallbacks\":[\"b/"
                                       "2\"]}},\"tenants\":{\"acme\":{\"providers\":{\"b\":{"
                                       "\"enabled\":true}}}}}",
     "r", "acme",
     "{\"role\":\"r\",\"tenant\":\"acme\",\"primary\":\"a/1\",\"fallbacks\":[\"b/2\"],"
     "\"dropped\":[]}"},
    {"tenant-only role resolves for the tenant",
     "{\"tenants\":{\"acme\":{\"roles\":{\"own\":{\"primary\":\"a/1\"}}}}}", "own", "acme",
     "{\"role\":\"own\",\"tenant\":\"acme\",\"primary\":\"a/1\",\"fallbacks\":[],\"dropped\":[]}"},
    {"tenant-only role does not exist globally",
     "{\"tenants\":{\"acme\":{\"roles\":{\"own\":{\"primary\":\"a/1\"}}}}}", "own", NULL, NULL},
    {"tenant provider override disables a globally enabled provider",
     "{" P("\"a\":{\"enabled\":true}") ",\"roles\":{\"r\":{\"primary\":\"a/1\",\"fallbacks\":"
                                       "[\"b/"
                                       "2\"]}},\"tenants\":{\"acme\":{\"providers\":{\"a\":{"
                                       "\"enabled\":false}}}}}",
     "r", "acme",
     "{\"role\":\"r\",\"tenant\":\"acme\",\"primary\":\"b/2\",\"fallbacks\":[],\"dropped\":["
     "{\"model\":\"a/1\",\"provider\":\"a\",\"reason\":\"provider_disabled\"}]}"},
    {"tenant provider override enables a globally disabled provider",
     "{" P("\"a\":{\"enabled\":false}") ",\"roles\":{\"r\":{\"primary\":\"a/1\",\"fallbacks\":"
                                        "[\"b/"
                                        "2\"]}},\"tenants\":{\"acme\":{\"providers\":{\"a\":{"
                                        "\"enabled\":true}}}}}",
     "r", "acme",
     "{\"role\":\"r\",\"tenant\":\"acme\",\"primary\":\"a/1\",\"fallbacks\":[\"b/2\"],"
     "\"dropped\":[]}"},
    {"tenant override can disable a provider that has no global switch",
     "{\"roles\":{\"r\":{\"primary\":\"a/1\",\"fallbacks\":[\"b/2\"]}},\"tenants\":{\"acme\":{"
     "\"providers\":{\"a\":{\"enabled\":false}}}}}",
     "r", "acme",
     "{\"role\":\"r\",\"tenant\":\"acme\",\"primary\":\"b/2\",\"fallbacks\":[],\"dropped\":["
     "{\"model\":\"a/1\",\"provider\":\"a\",\"reason\":\"provider_disabled\"}]}"},
    {"global answer ignores tenant overrides",
     "{" P("\"a\":{\"enabled\":true}") ",\"roles\":{\"r\":{\"primary\":\"a/1\"}},\"tenants\":{"
                                       "\"acme\":{\"providers\":{\"a\":{\"enabled\":false}}}}}",
     "r", NULL,
     "{\"role\":\"r\",\"tenant\":null,\"primary\":\"a/1\",\"fallbacks\":[],\"dropped\":[]}"},
    {"unknown tenant resolves without overrides", "{\"roles\":{\"r\":{\"primary\":\"a/1\"}}}", "r",
     "ghost",
     "{\"role\":\"r\",\"tenant\":null,\"primary\":\"a/1\",\"fallbacks\":[],\"dropped\":[]}"},
    {"everything dropped gives a null primary",
     "{" P("\"a\":{\"enabled\":false},\"b\":{\"enabled\":false}") ",\"roles\":{\"r\":{"
                                                                  "\"primary\":\"a/"
                                                                  "1\",\"fallbacks\":[\"b/2\"]}}}",
     "r", NULL,
     "{\"role\":\"r\",\"tenant\":null,\"primary\":null,\"fallbacks\":[],\"dropped\":["
     "{\"model\":\"a/1\",\"provider\":\"a\",\"reason\":\"provider_disabled\"},"
     "{\"model\":\"b/2\",\"provider\":\"b\",\"reason\":\"provider_disabled\"}]}"},
    {"disabled models in a failback chain are dropped but the chain goes on",
     "{" P("\"b\":{\"enabled\":false}") ",\"roles\":{\"r\":{\"primary\":\"a/1\"}},\"failback\":{"
                                        "\"a/1\":{\"next\":\"b/2\"},\"b/2\":{\"next\":\"c/3\"}}}",
     "r", NULL,
     "{\"role\":\"r\",\"tenant\":null,\"primary\":\"a/1\",\"fallbacks\":[\"c/3\"],\"dropped\":["
     "{\"model\":\"b/2\",\"provider\":\"b\",\"reason\":\"provider_disabled\"}]}"},
};

/* Criterion re-executes the test binary, so parameters are indices, not pointers. */
ParameterizedTestParameters(pipeline, table)
{
    static size_t idx[sizeof cases / sizeof cases[0]];
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++)
        idx[i] = i;
    return cr_make_param_array(size_t, idx, sizeof idx / sizeof idx[0]);
}

ParameterizedTest(size_t *i, pipeline, table)
{
    const pcase *c = &cases[*i];
    json_error_t err;
    json_t *docs = json_loads(c->docs, 0, &err);
    cr_assert_not_null(docs, "%s: bad docs: %s", c->name, err.text);
    json_t *got = sb_resolve(docs, c->role, c->tenant);
    if (c->expect == NULL) {
        cr_assert_null(got, "%s: expected no answer", c->name);
        sb_buf b = {0};
        cr_assert_eq(sb_resolve_text(docs, c->role, c->tenant, &b, NULL, NULL), -1);
        cr_assert_eq(b.len, 0);
    } else {
        cr_assert_not_null(got, "%s: expected an answer", c->name);
        char *text = json_dumps(got, JSON_COMPACT);
        /* Byte equality: the answer's key order is part of the contract. */
        cr_assert_str_eq(text, c->expect, "%s", c->name);
        /* The serving path writes the same bytes without building JSON. */
        sb_buf b = {0};
        bool routed;
        cr_assert_eq(sb_resolve_text(docs, c->role, c->tenant, &b, NULL, &routed), 0);
        cr_assert_str_eq(b.p, c->expect, "%s (text path)", c->name);
        cr_assert_eq(routed, !json_is_null(json_object_get(got, "primary")));
        free(b.p);
        free(text);
        json_decref(got);
    }
    json_decref(docs);
}

Test(pipeline, pure_and_repeatable)
{
    json_t *docs = json_loads("{\"providers\":{\"a\":{\"enabled\":false}},\"roles\":{\"r\":{"
                              "\"primary\":\"a/1\",\"fallbacks\":[\"b/2\"]}}}",
                              0, NULL);
    char *before = json_dumps(docs, JSON_COMPACT | JSON_SORT_KEYS);
    json_t *x = sb_resolve(docs, "r", NULL), *y = sb_resolve(docs, "r", NULL);
    cr_assert(json_equal(x, y));
    char *after = json_dumps(docs, JSON_COMPACT | JSON_SORT_KEYS);
    cr_assert_str_eq(before, after, "the pipeline must not modify its input");
    free(before);
    free(after);
    json_decref(x);
    json_decref(y);
    json_decref(docs);
}
