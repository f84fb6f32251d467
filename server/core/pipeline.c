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
#include "common/names.h"

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
    uint64_t h = sb_fnv1a(SB_FNV_SEED ^ (uint64_t)kind, id, len); /* then a finaliser */
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull; /* splitmix64's, so every bit depends on all */
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

void sb_deps_add_key(sb_deps *d, uint64_t key)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 32;
        d->keys = sb_xrealloc(d->keys, d->cap * sizeof *d->keys);
    }
    d->keys[d->n++] = key;
}

void sb_deps_add(sb_deps *d, int kind, const char *id)
{
    sb_deps_add_key(d, sb_deps_key(kind, id));
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
    if (d->n <= 64) { /* an answer's few dozen keys: insertion sort beats qsort's calls */
        for (size_t i = 1; i < d->n; i++) {
            uint64_t k = d->keys[i];
            size_t j = i;
            for (; j > 0 && d->keys[j - 1] > k; j--)
                d->keys[j] = d->keys[j - 1];
            d->keys[j] = k;
        }
    } else {
        qsort(d->keys, d->n, sizeof *d->keys, cmp_u64);
    }
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

/* Called once per candidate, in order, with its provider (NULL: none) and whether that provider
 * is off. */
typedef void (*visit_fn)(void *ctx, const char *model, const char *provider, bool off);

static void chain_add(sb_chain *c, const char *model, const char *provider, char buf[201],
                      const json_t *enabled)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : SB_CHAIN_MAX;
        c->models = sb_xrealloc(c->models, c->cap * sizeof *c->models);
        c->providers = sb_xrealloc(c->providers, c->cap * sizeof *c->providers);
        c->enabled = sb_xrealloc(c->enabled, c->cap * sizeof *c->enabled);
    }
    c->models[c->n] = model;
    c->providers[c->n] = SIZE_MAX;
    c->enabled[c->n] = enabled;
    if (provider == buf) { /* a name made from the model's prefix: kept in c->names */
        c->providers[c->n] = c->names.len;
        sb_buf_add(&c->names, buf, strlen(buf) + 1);
    }
    c->n++;
}

const char *sb_chain_provider(const sb_chain *c, const json_t *docs, size_t i)
{
    if (c->providers[i] != SIZE_MAX)
        return c->names.p + c->providers[i];
    /* from models/<id>.provider, owned by docs */
    return json_string_value(
        json_object_get(json_object_get(kind_of(docs, SB_MODELS), c->models[i]), "provider"));
}

int sb_chain_build(const json_t *docs, const char *role, const char *tenant, sb_chain *c)
{
    const json_t *tdoc = tenant ? json_object_get(kind_of(docs, SB_TENANTS), tenant) : NULL;
    const json_t *assignment = json_object_get(json_object_get(tdoc, "roles"), role);
    c->n = c->names.len = c->deps.n = 0;
    c->own = assignment != NULL;
    if (tenant)
        sb_deps_add(&c->deps, SB_TENANTS, tenant);
    sb_deps_add(&c->deps, SB_ROLES, role);
    if (assignment == NULL)
        assignment = json_object_get(kind_of(docs, SB_ROLES), role);
    if (assignment == NULL) {
        sb_deps_sort(&c->deps);
        return -1;
    }
    const json_t *fallbacks = json_object_get(assignment, "fallbacks");
    size_t max = json_is_array(fallbacks) ? json_array_size(fallbacks) + 1 : SB_CHAIN_MAX;
    const char *small[SB_CHAIN_MAX],
        **cand = max <= SB_CHAIN_MAX ? small : sb_xmalloc(max * sizeof *cand);
    size_t n = sb_candidates(docs, assignment, cand, max, &c->deps);
    const json_t *providers = kind_of(docs, SB_PROVIDERS);
    for (size_t i = 0; i < n; i++) {
        char buf[201];
        const char *provider = sb_model_provider(docs, cand[i], buf);
        sb_deps_add(&c->deps, SB_MODELS, cand[i]);
        if (provider)
            sb_deps_add(&c->deps, SB_PROVIDERS, provider);
        chain_add(c, cand[i], provider, buf,
                  provider ? json_object_get(json_object_get(providers, provider), "enabled")
                           : NULL);
    }
    if (cand != small)
        free(cand);
    sb_deps_sort(&c->deps);
    return 0;
}

void sb_chain_free(sb_chain *c)
{
    free(c->models);
    free(c->providers);
    free(c->enabled);
    free(c->names.p);
    free(c->deps.keys);
}

/*
 * Steps 4 and 5 on a chain, for the tenant whose document is tdoc (NULL: everyone). Whether the
 * tenant shaped the answer: its override assigned the chain, or it switches a candidate's
 * provider.
 */
static bool filter(const json_t *docs, const json_t *tdoc, const sb_chain *c, visit_fn visit,
                   void *ctx)
{
    const json_t *own = json_object_get(tdoc, "providers");
    bool shaped = c->own;
    for (size_t i = 0; i < c->n; i++) {
        const char *provider = sb_chain_provider(c, docs, i);
        const json_t *enabled = c->enabled[i];
        if (provider != NULL && own != NULL) { /* step 4's switch: the tenant's, else the global */
            const json_t *mine = json_object_get(json_object_get(own, provider), "enabled");
            if (json_is_boolean(mine)) {
                shaped = true;
                enabled = mine;
            }
        }
        visit(ctx, c->models[i], provider, json_is_false(enabled));
    }
    return shaped;
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
    sb_chain chain = {0};
    if (sb_chain_build(docs, role, tenant, &chain) != 0) {
        sb_chain_free(&chain);
        return NULL;
    }
    json_ctx c = {sb_json_check(json_array()), sb_json_check(json_array())};
    const json_t *tdoc = tenant ? json_object_get(kind_of(docs, SB_TENANTS), tenant) : NULL;
    bool shaped = filter(docs, tdoc, &chain, visit_json, &c);
    sb_chain_free(&chain);
    json_t *primary =
        json_array_size(c.kept) ? json_incref(json_array_get(c.kept, 0)) : json_null();
    json_array_remove(c.kept, 0);
    json_t *answer = json_pack("{s:s, s:o, s:o, s:o, s:o}", "role", role, "tenant",
                               shaped ? json_string(tenant) : json_null(), "primary", primary,
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

void sb_render(const json_t *docs, const sb_chain *chain, const char *role, const char *tenant,
               sb_buf *out, bool *routed, sb_scratch *scratch)
{
    scratch->kept.len = scratch->dropped.len = 0;
    text_ctx c = {&scratch->kept, &scratch->dropped, NULL};
    const json_t *tdoc = tenant ? json_object_get(kind_of(docs, SB_TENANTS), tenant) : NULL;
    scratch->shaped = filter(docs, tdoc, chain, visit_text, &c);
    sb_buf_adds(out, "{\"role\":");
    sb_buf_add_jstr(out, role);
    sb_buf_adds(out, ",\"tenant\":");
    scratch->shaped ? sb_buf_add_jstr(out, tenant) : sb_buf_adds(out, "null");
    sb_buf_adds(out, ",\"primary\":");
    c.primary ? sb_buf_add_jstr(out, c.primary) : sb_buf_adds(out, "null");
    sb_buf_adds(out, ",\"fallbacks\":[");
    sb_buf_add(out, c.kept->p, c.kept->len);
    sb_buf_adds(out, "],\"dropped\":[");
    sb_buf_add(out, c.dropped->p, c.dropped->len);
    sb_buf_adds(out, "]}");
    if (routed)
        *routed = c.primary != NULL;
}

int sb_resolve_scratch(const json_t *docs, const char *role, const char *tenant, sb_buf *out,
                       sb_deps *deps, bool *routed, sb_scratch *scratch)
{
    int rc = sb_chain_build(docs, role, tenant, &scratch->chain);
    for (size_t i = 0; deps != NULL && i < scratch->chain.deps.n; i++)
        sb_deps_add_key(deps, scratch->chain.deps.keys[i]);
    if (rc != 0)
        return -1;
    sb_render(docs, &scratch->chain, role, tenant, out, routed, scratch);
    return 0;
}

void sb_scratch_free(sb_scratch *s)
{
    free(s->kept.p);
    free(s->dropped.p);
    sb_chain_free(&s->chain);
}

int sb_resolve_text(const json_t *docs, const char *role, const char *tenant, sb_buf *out,
                    sb_deps *deps, bool *routed)
{
    sb_scratch scratch = {0};
    int rc = sb_resolve_scratch(docs, role, tenant, out, deps, routed, &scratch);
    sb_scratch_free(&scratch);
    return rc;
}
