/*
 * Filter-then-select, step by step as DESIGN.md numbers them:
 *   1. assignment: the tenant's role override, else the global role;
 *   2. candidates: primary + explicit fallbacks, or primary + its failback successors
 *      (until a null, a model with no failback document, a repeat, or 16 models);
 *   3. dedupe, first occurrence wins;
 *   4. filter: drop a model whose provider is disabled (tenant override first, then the
 *      global switch); a model with no provider, or whose provider has no switch, is kept;
 *   5. select: the first kept model is the primary, the rest are the fallbacks.
 * One core (resolve) walks these steps and reports each model to a visitor; sb_resolve builds
 * JSON from it and sb_resolve_text canonical bytes, so the two cannot disagree.
 */
#include "pipeline.h"

#include <string.h>

static const json_t *kind_of(const json_t *docs, int kind)
{
    return json_object_get(docs, sb_kind_names[kind]);
}

uint64_t sb_deps_key(int kind, const char *id)
{
    return sb_deps_keyn(kind, id, strlen(id));
}

uint64_t sb_deps_keyn(int kind, const char *id, size_t len)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)kind; /* FNV-1a, then a finaliser */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)id[i]) * 1099511628211ull;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull; /* splitmix64's, so every bit depends on all */
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

void sb_deps_add(sb_deps *d, int kind, const char *id)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 32;
        d->keys = sb_xrealloc(d->keys, d->cap * sizeof *d->keys);
    }
    d->keys[d->n++] = sb_deps_key(kind, id);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

void sb_deps_sort(sb_deps *d)
{
    if (d->n < 2)
        return;
    qsort(d->keys, d->n, sizeof *d->keys, cmp_u64);
    size_t k = 1;
    for (size_t i = 1; i < d->n; i++)
        if (d->keys[i] != d->keys[k - 1])
            d->keys[k++] = d->keys[i];
    d->n = k;
}

bool sb_deps_has(const uint64_t *keys, size_t n, uint64_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (keys[mid] == key)
            return true;
        if (keys[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

const char *sb_model_provider(const json_t *docs, const char *model, char buf[201])
{
    const json_t *entry = json_object_get(kind_of(docs, SB_MODELS), model);
    const char *p = json_string_value(json_object_get(entry, "provider"));
    if (p != NULL)
        return p;
    const char *slash = strchr(model, '/');
    if (slash == NULL || slash == model || slash - model > 200)
        return NULL;
    memcpy(buf, model, (size_t)(slash - model));
    buf[slash - model] = '\0';
    return buf;
}

static bool listed(const char *const *list, size_t n, const char *model)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], model) == 0)
            return true;
    return false;
}

size_t sb_failback_walk(const json_t *docs, const char *from, const char **out, size_t n,
                        size_t max, sb_deps *deps, const char **repeat)
{
    const json_t *failback = kind_of(docs, SB_FAILBACK);
    *repeat = NULL;
    for (const char *cur = from; n < max;) {
        if (deps)
            sb_deps_add(deps, SB_FAILBACK, cur);
        const char *next =
            json_string_value(json_object_get(json_object_get(failback, cur), "next"));
        if (next == NULL)
            break;
        if (listed(out, n, next)) {
            *repeat = next;
            break;
        }
        out[n++] = cur = next;
    }
    return n;
}

size_t sb_candidates(const json_t *docs, const json_t *assignment, const char **out, size_t max,
                     sb_deps *deps)
{
    size_t n = 0;
    const char *primary = json_string_value(json_object_get(assignment, "primary")), *repeat;
    if (primary == NULL || max == 0)
        return 0;
    out[n++] = primary;
    const json_t *fallbacks = json_object_get(assignment, "fallbacks");
    if (!json_is_array(fallbacks))
        return sb_failback_walk(docs, primary, out, n, max < SB_CHAIN_MAX ? max : SB_CHAIN_MAX,
                                deps, &repeat);
    size_t i;
    json_t *f;
    json_array_foreach (fallbacks, i, f) {
        const char *m = json_string_value(f);
        if (m != NULL && n < max && !listed(out, n, m))
            out[n++] = m;
    }
    return n;
}

/* Step 4's switch: 1 enabled, 0 disabled, -1 no switch at all. */
static int provider_switch(const json_t *docs, const json_t *tenant_doc, const char *provider)
{
    const json_t *o = json_object_get(json_object_get(tenant_doc, "providers"), provider);
    const json_t *enabled = json_object_get(o, "enabled");
    if (!json_is_boolean(enabled))
        enabled =
            json_object_get(json_object_get(kind_of(docs, SB_PROVIDERS), provider), "enabled");
    if (!json_is_boolean(enabled))
        return -1;
    return json_is_true(enabled);
}

/* Called once per candidate, in order, with its provider (NULL: none) and whether that provider
 * is off. */
typedef void (*visit_fn)(void *ctx, const char *model, const char *provider, bool off);

/* Whether the tenant's document switches provider (its "enabled" is what step 4 reads first). */
static bool tenant_switches(const json_t *tenant_doc, const char *provider)
{
    return json_is_boolean(json_object_get(
        json_object_get(json_object_get(tenant_doc, "providers"), provider), "enabled"));
}

/*
 * Steps 1 to 5. *shaped_by is the tenant's document when it shaped the answer (it overrides the
 * role, or switches the provider of a candidate), else NULL: the answer is then the global one.
 * -1: role not assigned.
 */
static int resolve(const json_t *docs, const char *role, const char *tenant,
                   const json_t **shaped_by, sb_deps *deps, visit_fn visit, void *ctx)
{
    const json_t *tdoc = tenant ? json_object_get(kind_of(docs, SB_TENANTS), tenant) : NULL;
    const json_t *assignment = json_object_get(json_object_get(tdoc, "roles"), role);
    bool shaped = assignment != NULL;
    if (deps) {
        if (tenant)
            sb_deps_add(deps, SB_TENANTS, tenant);
        sb_deps_add(deps, SB_ROLES, role);
    }
    if (assignment == NULL)
        assignment = json_object_get(kind_of(docs, SB_ROLES), role);
    *shaped_by = NULL;
    if (assignment == NULL)
        return -1;

    const json_t *fallbacks = json_object_get(assignment, "fallbacks");
    size_t max = json_is_array(fallbacks) ? json_array_size(fallbacks) + 1 : SB_CHAIN_MAX;
    const char *small[SB_CHAIN_MAX],
        **cand = max <= SB_CHAIN_MAX ? small : sb_xmalloc(max * sizeof *cand);
    size_t n = sb_candidates(docs, assignment, cand, max, deps);
    for (size_t i = 0; i < n; i++) {
        char buf[201];
        const char *provider = sb_model_provider(docs, cand[i], buf);
        if (deps) {
            sb_deps_add(deps, SB_MODELS, cand[i]);
            if (provider)
                sb_deps_add(deps, SB_PROVIDERS, provider);
        }
        shaped = shaped || (provider != NULL && tenant_switches(tdoc, provider));
        visit(ctx, cand[i], provider,
              provider != NULL && provider_switch(docs, tdoc, provider) == 0);
    }
    if (cand != small)
        free(cand);
    *shaped_by = shaped ? tdoc : NULL;
    return 0;
}

/* ---- JSON ---- */

typedef struct json_ctx {
    json_t *kept, *dropped;
} json_ctx;

static void visit_json(void *p, const char *model, const char *provider, bool off)
{
    json_ctx *c = p;
    if (off)
        json_array_append_new(c->dropped,
                              sb_json_check(json_pack("{s:s, s:s, s:s}", "model", model, "provider",
                                                      provider, "reason", "provider_disabled")));
    else
        json_array_append_new(c->kept, sb_json_check(json_string(model)));
}

json_t *sb_resolve(const json_t *docs, const char *role, const char *tenant)
{
    json_ctx c = {sb_json_check(json_array()), sb_json_check(json_array())};
    const json_t *tdoc;
    if (resolve(docs, role, tenant, &tdoc, NULL, visit_json, &c) != 0) {
        json_decref(c.kept);
        json_decref(c.dropped);
        return NULL;
    }
    json_t *primary =
        json_array_size(c.kept) ? json_incref(json_array_get(c.kept, 0)) : json_null();
    json_array_remove(c.kept, 0);
    json_t *answer = json_pack("{s:s, s:o, s:o, s:o, s:o}", "role", role, "tenant",
                               tdoc ? json_string(tenant) : json_null(), "primary", primary,
                               "fallbacks", c.kept, "dropped", c.dropped);
    return sb_json_check(answer);
}

/* ---- canonical text ---- */

typedef struct text_ctx {
    sb_buf *kept, *dropped;
    const char *primary;
} text_ctx;

static void visit_text(void *p, const char *model, const char *provider, bool off)
{
    text_ctx *c = p;
    if (off) {
        sb_buf_adds(c->dropped, c->dropped->len ? ",{\"model\":" : "{\"model\":");
        sb_buf_add_jstr(c->dropped, model);
        sb_buf_adds(c->dropped, ",\"provider\":");
        sb_buf_add_jstr(c->dropped, provider);
        sb_buf_adds(c->dropped, ",\"reason\":\"provider_disabled\"}");
    } else if (c->primary == NULL) {
        c->primary = model;
    } else {
        if (c->kept->len)
            sb_buf_add(c->kept, ",", 1);
        sb_buf_add_jstr(c->kept, model);
    }
}

int sb_resolve_scratch(const json_t *docs, const char *role, const char *tenant, sb_buf *out,
                       sb_deps *deps, bool *routed, sb_scratch *scratch)
{
    scratch->kept.len = scratch->dropped.len = 0;
    text_ctx c = {&scratch->kept, &scratch->dropped, NULL};
    const json_t *tdoc;
    if (resolve(docs, role, tenant, &tdoc, deps, visit_text, &c) != 0)
        return -1;
    scratch->shaped = tdoc != NULL;
    sb_buf_adds(out, "{\"role\":");
    sb_buf_add_jstr(out, role);
    sb_buf_adds(out, ",\"tenant\":");
    tdoc ? sb_buf_add_jstr(out, tenant) : sb_buf_adds(out, "null");
    sb_buf_adds(out, ",\"primary\":");
    c.primary ? sb_buf_add_jstr(out, c.primary) : sb_buf_adds(out, "null");
    sb_buf_adds(out, ",\"fallbacks\":[");
    sb_buf_add(out, c.kept->p, c.kept->len);
    sb_buf_adds(out, "],\"dropped\":[");
    sb_buf_add(out, c.dropped->p, c.dropped->len);
    sb_buf_adds(out, "]}");
    if (routed)
        *routed = c.primary != NULL;
    return 0;
}

void sb_scratch_free(sb_scratch *s)
{
    free(s->kept.p);
    free(s->dropped.p);
}

int sb_resolve_text(const json_t *docs, const char *role, const char *tenant, sb_buf *out,
                    sb_deps *deps, bool *routed)
{
    sb_scratch scratch = {{0}, {0}, false};
    int rc = sb_resolve_scratch(docs, role, tenant, out, deps, routed, &scratch);
    sb_scratch_free(&scratch);
    return rc;
}
