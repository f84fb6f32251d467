/*
 * libFuzzer target: the document code. The first byte of the input says what the rest is:
 *   0: a request body (JSON, duplicate keys refused, as the server reads it), validated as each
 *      kind of document, as a topology and across documents, and applied as a merge patch to a
 *      fixed document, to that result again (RFC 7396 is idempotent) and to itself; neither
 *      argument may change;
 *   1: a configuration {kind: {id: document}} in JSON, resolved for each role it names, with no
 *      tenant, each tenant and an unknown one: the JSON answer (sb_resolve) dumped compactly must
 *      be the canonical bytes sb_resolve_text gives, the bytes the snapshot serves, and the
 *      dependencies it reports must hold the role and the tenant;
 *   2: a configuration built from the bytes (at most 48 pairs) out of a small vocabulary,
 *      resolved the same way, then checked as a topology and across documents.
 * Any disagreement aborts, which libFuzzer reports as a crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/doc.h"
#include "core/pipeline.h"

static void fail(const char *what, const char *a, const char *b)
{
    fprintf(stderr, "fuzz_doc: %s\n  %s\n  %s\n", what, a ? a : "(null)", b ? b : "(null)");
    abort();
}

static char *dump(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (s == NULL)
        fail("json_dumps failed", NULL, NULL);
    return s;
}

/* rc and errors agree, and every error is {"path": string, "message": string}. */
static void check_errors(int rc, const json_t *errors, const char *what)
{
    if ((rc == 0) != (json_array_size(errors) == 0))
        fail(what, rc == 0 ? "returned 0" : "returned -1", "with the other number of errors");
    size_t i;
    json_t *e;
    json_array_foreach (errors, i, e)
        if (!json_is_string(json_object_get(e, "path")) ||
            !json_is_string(json_object_get(e, "message")))
            fail(what, "an error is not {path, message}", NULL);
}

static void validate(const json_t *v)
{
    for (int kind = 0; kind < SB_KIND_COUNT; kind++) {
        json_t *errors = sb_json_check(json_array());
        check_errors(sb_doc_validate(kind, v, errors), errors, "sb_doc_validate");
        json_decref(errors);
    }
}

/* v as a topology, and when it is one, its documents checked across. */
static void topology(const json_t *v)
{
    json_t *errors = sb_json_check(json_array());
    int rc = sb_topology_validate(v, errors);
    check_errors(rc, errors, "sb_topology_validate");
    json_decref(errors);
    if (rc != 0)
        return;

    /* Valid documents, as the writer checks them: each written, and each role deleted. */
    sb_change changes[64];
    size_t n = 0;
    const char *kname, *id;
    json_t *docs, *doc;
    json_object_foreach ((json_t *)v, kname, docs) {
        int kind = sb_kind_lookup(kname, strlen(kname));
        json_object_foreach (kind < 0 ? NULL : docs, id, doc) {
            if (n + 2 > sizeof changes / sizeof *changes)
                break;
            changes[n++] = (sb_change){kind, id, doc, "put"};
            if (kind == SB_ROLES)
                changes[n++] = (sb_change){kind, id, NULL, "delete"};
        }
    }
    errors = sb_json_check(json_array());
    json_t *warnings = sb_json_check(json_array());
    check_errors(sb_doc_semantics(v, changes, n, n > 1, errors, warnings), errors,
                 "sb_doc_semantics");
    json_decref(errors);
    json_decref(warnings);
}

static void merge(const json_t *v)
{
    static json_t *base;
    if (base == NULL)
        base = json_loads("{\"primary\":\"anthropic/claude\",\"fallbacks\":[\"openai/gpt\"],"
                          "\"description\":\"x\",\"enabled\":true,\"roles\":{\"a\":{\"b\":1}}}",
                          0, NULL);
    char *before = dump(v), *base_before = dump(base);
    json_t *once = sb_merge_patch(base, v), *twice = sb_merge_patch(once, v);
    char *a = dump(once), *b = dump(twice);
    if (strcmp(a, b) != 0)
        fail("a merge patch applied twice differs from once", a, b);
    if (!json_is_object(v) && !json_equal(once, v))
        fail("a patch that is not an object must replace the target", a, before);
    json_t *self = sb_merge_patch(v, v), *fresh = sb_merge_patch(NULL, v);
    char *after = dump(v), *base_after = dump(base);
    if (strcmp(before, after) != 0 || strcmp(base_before, base_after) != 0)
        fail("sb_merge_patch modified an argument", before, after);
    free(a);
    free(b);
    free(before);
    free(after);
    free(base_before);
    free(base_after);
    json_decref(once);
    json_decref(twice);
    json_decref(self);
    json_decref(fresh);
}

/* The JSON answer and the canonical bytes of role for tenant agree. */
static void agree(const json_t *docs, const char *role, const char *tenant)
{
    json_t *answer = sb_resolve(docs, role, tenant);
    sb_buf text = {0};
    sb_deps deps = {0};
    bool routed = false;
    int rc = sb_resolve_text(docs, role, tenant, &text, &deps, &routed);
    /* The answer depends on the role's document (and the tenant's) whether or not it exists. */
    sb_deps_sort(&deps);
    if (!sb_deps_has(deps.keys, deps.n, sb_deps_key(SB_ROLES, role)) ||
        (tenant && !sb_deps_has(deps.keys, deps.n, sb_deps_key(SB_TENANTS, tenant))))
        fail("the dependencies miss the role or the tenant", role, tenant);
    for (size_t i = 1; i < deps.n; i++)
        if (deps.keys[i - 1] >= deps.keys[i])
            fail("sb_deps_sort left keys unsorted or repeated", role, tenant);
    free(deps.keys);
    if ((answer == NULL) != (rc != 0))
        fail("sb_resolve and sb_resolve_text disagree on whether the role is assigned", role,
             tenant);
    if (answer != NULL) {
        char *json = json_dumps(answer, JSON_COMPACT);
        sb_buf_add(&text, "", 1);
        if (json == NULL || strcmp(json, text.p) != 0)
            fail("the JSON answer and the canonical bytes differ", json, text.p);
        if (routed != !json_is_null(json_object_get(answer, "primary")))
            fail("routed disagrees with the answer's primary", json, NULL);
        free(json);
    }
    free(text.p);
    json_decref(answer);
}

static void resolve_all(const json_t *docs)
{
    const json_t *roles = json_object_get(docs, "roles");
    const json_t *tenants = json_object_get(docs, "tenants");
    const char *role, *tenant;
    json_t *r, *t, *o;
    /* Every role named anywhere, plus one nobody assigns; with no tenant, each tenant, and an
     * unknown one. */
    json_object_foreach ((json_t *)roles, role, r) {
        agree(docs, role, NULL);
        agree(docs, role, "nobody");
        json_object_foreach ((json_t *)tenants, tenant, t)
            agree(docs, role, tenant);
    }
    json_object_foreach ((json_t *)tenants, tenant, t)
        json_object_foreach (json_object_get(t, "roles"), role, o)
            agree(docs, role, tenant);
    agree(docs, "unassigned", NULL);
}

/*
 * A configuration built from the raw bytes, two at a time, out of a small vocabulary, so that
 * the fuzzer reaches chains, registries and tenant switches that random JSON seldom forms.
 */
static json_t *build(const uint8_t *p, size_t n)
{
    static const char *const providers[] = {"p0", "p1", "p2", "p3"};
    static const char *const models[] = {"p0/a",  "p1/b", "p2/c", "p3/d",
                                         "loose", "p0/e", "p1/f", "x/\"q"};
    static const char *const roles[] = {"r0", "r1", "r2"};
    static const char *const tenants[] = {"t0", "t1"};
    if (n > 2 * 48)
        n = 2 * 48; /* the vocabulary is small: more would only overwrite */
    json_t *docs = sb_json_check(json_object());
    for (int k = 0; k < SB_KIND_COUNT; k++)
        json_object_set_new(docs, sb_kind_names[k], sb_json_check(json_object()));
    json_t *fallbacks = NULL; /* the list being built, of the last role touched */
    for (size_t i = 0; i + 1 < n; i += 2) {
        uint8_t op = p[i] % 8, a = p[i] / 8, b = p[i + 1];
        const char *m = models[b % 8], *m2 = models[(b / 8) % 8];
        json_t *kind;
        switch (op) {
        case 0: /* a provider's switch */
            kind = json_object_get(docs, "providers");
            json_object_set_new(kind, providers[a % 4], json_pack("{s:b}", "enabled", b & 1));
            break;
        case 1: /* a role with explicit fallbacks, to which case 2 appends */
        case 3: /* a role that follows the failback chain */
            fallbacks = op == 1 ? json_array() : NULL;
            kind = json_object_get(docs, "roles");
            json_object_set_new(kind, roles[a % 3],
                                fallbacks
                                    ? json_pack("{s:s, s:O}", "primary", m, "fallbacks", fallbacks)
                                    : json_pack("{s:s}", "primary", m));
            json_decref(fallbacks);
            fallbacks = json_object_get(json_object_get(kind, roles[a % 3]), "fallbacks");
            break;
        case 2:
            if (fallbacks)
                json_array_append_new(fallbacks, json_string(m));
            break;
        case 4: /* a failback link, or its end */
            kind = json_object_get(docs, "failback");
            json_object_set_new(kind, m, json_pack("{s:s?}", "next", b & 64 ? NULL : m2));
            break;
        case 5: /* a registry entry naming a model's provider */
            kind = json_object_get(docs, "models");
            json_object_set_new(kind, m, json_pack("{s:s}", "provider", providers[a % 4]));
            break;
        case 6: /* a tenant's provider switch */
        case 7: /* a tenant's role override */
            kind = json_object_get(docs, "tenants");
            json_t *t = json_object_get(kind, tenants[a % 2]);
            if (t == NULL)
                json_object_set_new(kind, tenants[a % 2],
                                    t = json_pack("{s:{}, s:{}}", "roles", "providers"));
            if (op == 6)
                json_object_set_new(json_object_get(t, "providers"), providers[b % 4],
                                    json_pack("{s:b}", "enabled", (b / 4) & 1));
            else
                json_object_set_new(json_object_get(t, "roles"), roles[(a / 2) % 3],
                                    b & 128
                                        ? json_pack("{s:s, s:[s]}", "primary", m, "fallbacks", m2)
                                        : json_pack("{s:s}", "primary", m));
            break;
        }
    }
    return docs;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The first byte picks the check, so that each run stays short; the rest is the input. */
    if (size == 0)
        return 0;
    int mode = data[0] % 3;
    data++, size--;
    if (mode == 2) {
        json_t *docs = build(data, size);
        resolve_all(docs);
        topology(docs);
        json_decref(docs);
        return 0;
    }
    json_t *v =
        json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    if (v == NULL)
        return 0;
    if (mode == 0) {
        validate(v);
        topology(v);
        merge(v);
    } else if (json_is_object(v)) {
        resolve_all(v);
    }
    json_decref(v);
    return 0;
}
