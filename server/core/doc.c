/*
 * Document validation and merge patch. Each kind has one function that walks the body,
 * rejects unknown fields (a typo such as "enabeld" must not pass silently) and reports
 * every problem with the JSON pointer of the field at fault.
 */
#include "doc.h"
#include "pipeline.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sb_doc_error(json_t *errors, const char *path, const char *message)
{
    json_array_append_new(errors,
                          sb_json_check(json_pack("{s:s, s:s}", "path", path, "message", message)));
}

/* Appends a JSON pointer token to base, escaping '~' and '/' as RFC 6901 says. */
static void pointer_join(char *out, size_t cap, const char *base, const char *token)
{
    size_t n = (size_t)snprintf(out, cap, "%s/", base);
    for (const char *t = token; *t && n + 3 < cap; t++) {
        if (*t == '~' || *t == '/') {
            out[n++] = '~';
            out[n++] = *t == '~' ? '0' : '1';
        } else {
            out[n++] = *t;
        }
    }
    out[n < cap ? n : cap - 1] = '\0';
}

/* A field's rule: its name, whether it must be present, and its checker. */
typedef void (*check_fn)(const json_t *v, const char *path, json_t *errors);
typedef struct field {
    const char *name;
    bool required;
    check_fn check;
} field;

static void check_object(const json_t *v, const char *path, const field *fields, json_t *errors)
{
    char sub[512];
    if (!json_is_object(v)) {
        sb_doc_error(errors, path, "must be an object");
        return;
    }
    for (const field *f = fields; f->name; f++) {
        json_t *fv = json_object_get(v, f->name);
        pointer_join(sub, sizeof sub, path, f->name);
        if (fv != NULL)
            f->check(fv, sub, errors);
        else if (f->required)
            sb_doc_error(errors, sub, "is required");
    }
    const char *key;
    json_t *fv;
    json_object_foreach ((json_t *)v, key, fv) {
        const field *f = fields;
        while (f->name && strcmp(f->name, key) != 0)
            f++;
        if (f->name == NULL) {
            pointer_join(sub, sizeof sub, path, key);
            sb_doc_error(errors, sub, "is not a known field");
        }
    }
}

static void check_bool(const json_t *v, const char *path, json_t *errors)
{
    if (!json_is_boolean(v))
        sb_doc_error(errors, path, "must be true or false");
}

static void check_text(const json_t *v, const char *path, json_t *errors)
{
    if (!json_is_string(v))
        sb_doc_error(errors, path, "must be a string");
}

static void check_model(const json_t *v, const char *path, json_t *errors)
{
    if (!json_is_string(v))
        sb_doc_error(errors, path, "must be a model id (a string)");
    else if (!sb_model_id_valid(json_string_value(v), json_string_length(v)))
        sb_doc_error(errors, path,
                     "is not a valid model id: 1-200 printable ASCII characters without "
                     "spaces, quotes or backslashes");
}

static void check_model_or_null(const json_t *v, const char *path, json_t *errors)
{
    if (!json_is_null(v))
        check_model(v, path, errors);
}

static void check_name(const json_t *v, const char *path, json_t *errors)
{
    if (!json_is_string(v) || !sb_name_valid(json_string_value(v), json_string_length(v)))
        sb_doc_error(errors, path, "must be a name matching ^[a-z0-9][a-z0-9._-]{0,63}$");
}

static void check_models(const json_t *v, const char *path, json_t *errors)
{
    char sub[512];
    if (!json_is_array(v)) {
        sb_doc_error(errors, path, "must be an array of model ids");
        return;
    }
    size_t i;
    json_t *item;
    json_array_foreach (v, i, item) {
        snprintf(sub, sizeof sub, "%s/%zu", path, i);
        check_model(item, sub, errors);
    }
}

static void check_fallbacks(const json_t *v, const char *path, json_t *errors)
{
    char message[96];
    check_models(v, path, errors);
    if (json_array_size(v) > SB_FALLBACKS_MAX) {
        snprintf(message, sizeof message, "has %zu models; at most %d are allowed",
                 json_array_size(v), SB_FALLBACKS_MAX);
        sb_doc_error(errors, path, message);
    }
}

static const field provider_fields[] = {
    {"enabled", true, check_bool}, {"description", false, check_text}, {NULL, false, NULL}};
static const field role_fields[] = {{"primary", true, check_model},
                                    {"fallbacks", false, check_fallbacks},
                                    {"description", false, check_text},
                                    {NULL, false, NULL}};
static const field failback_fields[] = {{"next", true, check_model_or_null}, {NULL, false, NULL}};
static const field model_fields[] = {
    {"provider", true, check_name}, {"description", false, check_text}, {NULL, false, NULL}};
static const field provider_override_fields[] = {{"enabled", true, check_bool},
                                                 {NULL, false, NULL}};

static void check_role(const json_t *v, const char *path, json_t *errors)
{
    check_object(v, path, role_fields, errors);
}

static void check_provider_override(const json_t *v, const char *path, json_t *errors)
{
    check_object(v, path, provider_override_fields, errors);
}

/* An object whose keys are names and whose values each pass check. */
static void check_name_map(const json_t *v, const char *path, check_fn check, json_t *errors)
{
    char sub[512];
    if (!json_is_object(v)) {
        sb_doc_error(errors, path, "must be an object");
        return;
    }
    const char *key;
    json_t *item;
    json_object_foreach ((json_t *)v, key, item) {
        pointer_join(sub, sizeof sub, path, key);
        if (!sb_name_valid(key, strlen(key)))
            sb_doc_error(errors, sub, "key must be a name matching ^[a-z0-9][a-z0-9._-]{0,63}$");
        else
            check(item, sub, errors);
    }
}

static void check_tenant_roles(const json_t *v, const char *path, json_t *errors)
{
    check_name_map(v, path, check_role, errors);
}

static void check_tenant_providers(const json_t *v, const char *path, json_t *errors)
{
    check_name_map(v, path, check_provider_override, errors);
}

static const field tenant_fields[] = {{"roles", false, check_tenant_roles},
                                      {"providers", false, check_tenant_providers},
                                      {"description", false, check_text},
                                      {NULL, false, NULL}};

static const field *const kind_fields[SB_KIND_COUNT] = {[SB_PROVIDERS] = provider_fields,
                                                        [SB_ROLES] = role_fields,
                                                        [SB_FAILBACK] = failback_fields,
                                                        [SB_MODELS] = model_fields,
                                                        [SB_TENANTS] = tenant_fields};

int sb_doc_validate(int kind, const json_t *value, json_t *errors)
{
    size_t before = json_array_size(errors);
    check_object(value, "", kind_fields[kind], errors);
    return json_array_size(errors) == before ? 0 : -1;
}

json_t *sb_merge_patch(const json_t *target, const json_t *patch)
{
    if (!json_is_object(patch))
        return json_incref((json_t *)patch);
    json_t *out = json_is_object(target) ? json_copy((json_t *)target) : json_object();
    sb_json_check(out);
    const char *key;
    json_t *pv;
    json_object_foreach ((json_t *)patch, key, pv) {
        if (json_is_null(pv)) {
            json_object_del(out, key);
        } else {
            json_t *merged = sb_merge_patch(json_object_get(out, key), pv);
            json_object_set_new(out, key, merged);
        }
    }
    return out;
}

void sb_doc_errors_prefix(json_t *errors, const char *prefix)
{
    size_t i;
    json_t *e;
    json_array_foreach (errors, i, e) {
        char full[1024];
        snprintf(full, sizeof full, "%s%s", prefix, json_string_value(json_object_get(e, "path")));
        json_object_set_new(e, "path", sb_json_check(json_string(full)));
    }
}

int sb_topology_validate(const json_t *topology, json_t *errors)
{
    size_t before = json_array_size(errors);
    char path[512];
    if (!json_is_object(topology)) {
        sb_doc_error(errors, "", "a topology must be an object of kind -> id -> document");
        return -1;
    }
    const char *kname;
    json_t *docs;
    json_object_foreach ((json_t *)topology, kname, docs) {
        int kind = sb_kind_lookup(kname, strlen(kname));
        pointer_join(path, sizeof path, "", kname);
        if (kind < 0) {
            if (strcmp(kname, "revision") != 0 && strcmp(kname, "answers") != 0)
                sb_doc_error(errors, path,
                             "is not a kind (providers, roles, failback, models, tenants)");
            continue;
        }
        if (!json_is_object(docs)) {
            sb_doc_error(errors, path, "must be an object of id -> document");
            continue;
        }
        const char *id;
        json_t *doc;
        json_object_foreach (docs, id, doc) {
            char sub[512];
            pointer_join(sub, sizeof sub, path, id);
            if (!sb_id_valid(kind, id, strlen(id))) {
                sb_doc_error(errors, sub, "is not a valid id for this kind");
                continue;
            }
            json_t *doc_errors = sb_json_check(json_array());
            sb_doc_validate(kind, doc, doc_errors);
            sb_doc_errors_prefix(doc_errors, sub);
            json_array_extend(errors, doc_errors);
            json_decref(doc_errors);
        }
    }
    return json_array_size(errors) == before ? 0 : -1;
}

/* ---- checks across documents ---- */

static void semantic_error(json_t *errors, bool batch, size_t i, const char *path,
                           const char *message)
{
    char full[600];
    if (batch)
        snprintf(full, sizeof full, "/ops/%zu/value%s", i, path);
    else
        snprintf(full, sizeof full, "%s", path);
    sb_doc_error(errors, full, message);
}

/* Follows failback from model; true (with the loop in text) when it comes back to a model. */
static bool failback_loops(const json_t *docs, const char *model, sb_buf *text)
{
    const char *seen[SB_CHAIN_MAX * 4] = {model}, *repeat;
    size_t n = sb_failback_walk(docs, model, seen, 1, sizeof seen / sizeof seen[0], NULL, &repeat);
    for (size_t k = 0; k < n; k++) {
        sb_buf_adds(text, k ? " -> " : "");
        sb_buf_adds(text, seen[k]);
    }
    if (repeat == NULL)
        return false; /* the chain ends, or is longer than any chain is followed */
    sb_buf_adds(text, " -> ");
    sb_buf_adds(text, repeat);
    return true;
}

/* Warns when every model of role (a tenant's when tenant is not NULL) has one provider. */
static void warn_one_provider(const json_t *docs, const char *key, const json_t *role,
                              json_t *warnings)
{
    const char *models[64], *first = NULL;
    char buf[201], firstbuf[201];
    size_t n = sb_candidates(docs, role, models, 64, NULL);
    for (size_t i = 0; i < n; i++) {
        const char *p = sb_model_provider(docs, models[i], buf);
        if (p == NULL)
            return; /* a model with no provider: not one provider's outage */
        if (first == NULL)
            first = strcpy(firstbuf, p);
        else if (strcmp(first, p) != 0)
            return;
    }
    if (first == NULL)
        return;
    char message[400];
    snprintf(message, sizeof message,
             "every model of this role's chain is served by %s: one outage of %s leaves it "
             "with no route",
             first, first);
    json_array_append_new(warnings,
                          sb_json_check(json_pack("{s:s, s:s}", "key", key, "message", message)));
}

int sb_doc_semantics(const json_t *docs, const sb_change *changes, size_t n, bool batch,
                     json_t *errors, json_t *warnings)
{
    size_t before = json_array_size(errors);
    const json_t *roles = json_object_get(docs, "roles");
    const json_t *tenants = json_object_get(docs, "tenants");
    for (size_t i = 0; i < n; i++) {
        const sb_change *c = &changes[i];
        char path[512], key[300];
        snprintf(key, sizeof key, "%s/%s", sb_kind_names[c->kind], c->id);
        if (c->kind == SB_FAILBACK && c->value != NULL) {
            sb_buf loop = {0};
            sb_buf_adds(&loop, "makes the failback chain loop: ");
            if (failback_loops(docs, c->id, &loop))
                semantic_error(errors, batch, i, "/next", loop.p);
            free(loop.p);
        } else if (c->kind == SB_TENANTS && c->value != NULL) {
            const char *role;
            json_t *v;
            json_object_foreach (json_object_get(c->value, "roles"), role, v) {
                pointer_join(path, sizeof path, "/roles", role);
                if (json_object_get(roles, role) == NULL)
                    semantic_error(errors, batch, i, path,
                                   "overrides a role that has no global document (create "
                                   "roles/<name> first)");
                else if (warnings)
                    warn_one_provider(docs, key, v, warnings);
            }
        } else if (c->kind == SB_ROLES && c->value == NULL) {
            const char *tenant;
            json_t *t;
            json_object_foreach ((json_t *)tenants, tenant, t) {
                if (json_object_get(json_object_get(t, "roles"), c->id) != NULL) {
                    snprintf(path, sizeof path,
                             "is overridden by tenants/%s: remove the override first", tenant);
                    semantic_error(errors, batch, i, "", path);
                }
            }
        } else if (c->kind == SB_ROLES && warnings) {
            warn_one_provider(docs, key, c->value, warnings);
        }
    }
    return json_array_size(errors) == before ? 0 : -1;
}
