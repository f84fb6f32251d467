/*
 * Filter-then-select, step by step as DESIGN.md numbers them:
 *   1. assignment: the tenant's role override, else the global role;
 *   2. candidates: primary + explicit fallbacks, or primary + its failback successors;
 *   3. dedupe, first occurrence wins;
 *   4. filter: drop a model whose provider is disabled (tenant override first, then the
 *      global switch); a model with no provider, or whose provider has no switch, is kept;
 *   5. select: the first kept model is the primary, the rest are the fallbacks.
 */
#include "pipeline.h"
#include "util.h"

#include <string.h>

static const json_t *kind_of(const json_t *docs, int kind)
{
    return json_object_get(docs, sb_kind_names[kind]);
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

/* Step 2 and 3: at most max candidates, deduplicated, into out. */
static size_t candidates(const json_t *docs, const json_t *assignment, const char **out, size_t max)
{
    size_t n = 0;
    const char *primary = json_string_value(json_object_get(assignment, "primary"));
    if (primary == NULL)
        return 0;
    out[n++] = primary;
    const json_t *fallbacks = json_object_get(assignment, "fallbacks");
    if (json_is_array(fallbacks)) {
        size_t i;
        json_t *f;
        json_array_foreach(fallbacks, i, f)
        {
            const char *m = json_string_value(f);
            if (m != NULL && n < max && !listed(out, n, m))
                out[n++] = m;
        }
        return n;
    }
    const json_t *failback = kind_of(docs, SB_FAILBACK);
    for (const char *cur = primary; n < SB_CHAIN_MAX;) {
        const char *next =
            json_string_value(json_object_get(json_object_get(failback, cur), "next"));
        if (next == NULL || listed(out, n, next))
            break;
        out[n++] = cur = next;
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

json_t *sb_resolve(const json_t *docs, const char *role, const char *tenant)
{
    const json_t *tenant_doc = tenant ? json_object_get(kind_of(docs, SB_TENANTS), tenant) : NULL;
    const json_t *assignment = json_object_get(json_object_get(tenant_doc, "roles"), role);
    if (assignment == NULL)
        assignment = json_object_get(kind_of(docs, SB_ROLES), role);
    if (assignment == NULL)
        return NULL;

    const json_t *fallbacks = json_object_get(assignment, "fallbacks");
    size_t max = json_is_array(fallbacks) ? json_array_size(fallbacks) + 1 : SB_CHAIN_MAX;
    const char **cand = sb_xmalloc(max * sizeof *cand);
    size_t n = candidates(docs, assignment, cand, max);

    json_t *kept = sb_json_check(json_array());
    json_t *dropped = sb_json_check(json_array());
    for (size_t i = 0; i < n; i++) {
        char buf[201];
        const char *provider = sb_model_provider(docs, cand[i], buf);
        if (provider != NULL && provider_switch(docs, tenant_doc, provider) == 0) {
            json_array_append_new(
                dropped, sb_json_check(json_pack("{s:s, s:s, s:s}", "model", cand[i], "provider",
                                                 provider, "reason", "provider_disabled")));
        } else {
            json_array_append_new(kept, sb_json_check(json_string(cand[i])));
        }
    }
    free(cand);

    json_t *primary = json_array_size(kept) ? json_incref(json_array_get(kept, 0)) : json_null();
    json_array_remove(kept, 0);
    json_t *answer = json_pack("{s:s, s:o, s:o, s:o, s:o}", "role", role, "tenant",
                               tenant_doc ? json_string(tenant) : json_null(), "primary", primary,
                               "fallbacks", kept, "dropped", dropped);
    return sb_json_check(answer);
}
