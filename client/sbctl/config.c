/* sbctl status, topology, providers, provider, roles, role, failback: the documents. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sbctl.h"

int cmd_status(void)
{
    need_args(1, "status");
    reply ready = call("GET", "/readyz", NULL, false);
    json_t *topo = get("/topology");
    json_t *off = keep_json(json_array()), *unrouted = keep_json(json_array());
    const char *name;
    json_t *v;
    json_object_foreach (json_object_get(topo, "providers"), name, v)
        if (json_is_false(json_object_get(v, "enabled")))
            json_array_append_new(off, json_string(name));
    json_object_foreach (json_object_get(topo, "answers"), name, v)
        if (json_is_null(json_object_get(v, "primary")))
            json_array_append_new(unrouted, json_string(name));
    if (opt.json) {
        json_t *o = keep_json(json_pack(
            "{s:s, s:b, s:O, s:i, s:i, s:O, s:i, s:O, s:i}", "url", opt.url, "ready",
            ready.code == 200, "revision", json_object_get(topo, "revision"), "providers",
            (int)json_object_size(json_object_get(topo, "providers")), "roles",
            (int)json_object_size(json_object_get(topo, "roles")), "providers_off", off, "tenants",
            (int)json_object_size(json_object_get(topo, "tenants")), "roles_without_route",
            unrouted, "failback", (int)json_object_size(json_object_get(topo, "failback"))));
        print_json(o);
        return 0;
    }
    printf("server     %s (%s)\n", opt.url, ready.code == 200 ? "ready" : "not ready");
    printf("revision   %lld\n", (long long)json_integer_value(json_object_get(topo, "revision")));
    printf("providers  %zu", json_object_size(json_object_get(topo, "providers")));
    size_t i;
    json_array_foreach (off, i, v)
        printf("%s%s", i ? ", " : " (off: ", json_string_value(v));
    printf("%s\n", json_array_size(off) ? ")" : ", all on");
    printf("roles      %zu", json_object_size(json_object_get(topo, "roles")));
    json_array_foreach (unrouted, i, v)
        printf("%s%s", i ? ", " : " (without a route: ", json_string_value(v));
    printf("%s\n", json_array_size(unrouted) ? ")" : ", all routed");
    printf("tenants    %zu\n", json_object_size(json_object_get(topo, "tenants")));
    return 0;
}

static void print_providers(json_t *providers)
{
    table t = {.cols = 3};
    row(&t, "PROVIDER", "ENABLED", "DESCRIPTION");
    const char *name;
    json_t *v;
    json_object_foreach (providers, name, v)
        row(&t, name, json_is_false(json_object_get(v, "enabled")) ? "off" : "on",
            json_string_value(json_object_get(v, "description")));
    table_print(&t);
}

static void print_roles(json_t *roles, json_t *answers)
{
    table t = {.cols = 3};
    row(&t, "ROLE", "ROUTE", "DROPPED");
    const char *name;
    json_t *v;
    json_object_foreach (roles, name, v) {
        json_t *answer = json_object_get(answers, name);
        char *chain = chain_text(answer), *dropped = dropped_text(answer);
        row(&t, name, chain, dropped);
    }
    table_print(&t);
}

/* A table of model -> one field of its document, after a blank line; nothing when empty. */
static void print_field(json_t *docs, const char *heading, const char *field)
{
    if (json_object_size(docs) == 0)
        return;
    table t = {.cols = 2};
    row(&t, "\nMODEL", heading);
    const char *name;
    json_t *v;
    json_object_foreach (docs, name, v)
        row(&t, name, json_string_value(json_object_get(v, field)));
    table_print(&t);
}

int cmd_topology(void)
{
    need_args(1, "topology");
    json_t *topo = get("/topology");
    if (opt.json) {
        print_json(topo);
        return 0;
    }
    printf("revision %lld\n\n", (long long)json_integer_value(json_object_get(topo, "revision")));
    print_providers(json_object_get(topo, "providers"));
    putchar('\n');
    print_roles(json_object_get(topo, "roles"), json_object_get(topo, "answers"));
    print_field(json_object_get(topo, "failback"), "FAILS BACK TO", "next");
    print_field(json_object_get(topo, "models"), "PROVIDER", "provider");
    const char *name;
    json_t *v;
    json_object_foreach (json_object_get(topo, "tenants"), name, v) {
        char *s = xalloc(json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS));
        printf("\ntenant %s: %s\n", name, s);
        free(s);
    }
    return 0;
}

/* The documents of a kind as id -> value, from GET /admin/<kind>; revs gets id -> revision. */
json_t *list_kind(const char *kind, json_t **revs)
{
    char *path = xprintf("/admin/%s", kind);
    json_t *list = get(path), *docs = keep_json(json_object());
    if (revs)
        *revs = keep_json(json_object());
    size_t i;
    json_t *item;
    json_array_foreach (json_object_get(list, "items"), i, item) {
        const char *id = json_string_value(json_object_get(item, "id"));
        json_object_set(docs, id, json_object_get(item, "value"));
        if (revs)
            json_object_set(*revs, id, json_object_get(item, "revision"));
    }
    return docs;
}

int cmd_providers(void)
{
    need_args(1, "providers");
    json_t *docs = list_kind("providers", NULL);
    if (opt.json)
        print_json(docs);
    else
        print_providers(docs);
    return 0;
}

int cmd_provider(void)
{
    need_args(3, "provider enable|disable NAME");
    bool on = strcmp(opt.args[1], "enable") == 0;
    if (!on && strcmp(opt.args[1], "disable") != 0)
        usage_error("usage: sbctl provider enable|disable NAME");
    if (!sbc_name_valid(opt.args[2]))
        usage_error("%s is not a provider name", opt.args[2]);
    char *key = xprintf("providers/%s", opt.args[2]);
    char *what = xprintf("provider %s %s", opt.args[2], on ? "enabled" : "disabled");
    return write_doc("PATCH", key, json_pack("{s:b}", "enabled", on), what,
                     xprintf("provider %s", opt.args[2]));
}

int cmd_roles(void)
{
    need_args(1, "roles");
    json_t *topo = get("/topology");
    if (opt.json) {
        json_t *o = keep_json(json_object());
        const char *name;
        json_t *v;
        json_object_foreach (json_object_get(topo, "roles"), name, v)
            json_object_set_new(o, name,
                                json_pack("{s:O, s:O}", "assignment", v, "answer",
                                          json_object_get(json_object_get(topo, "answers"), name)));
        print_json(o);
    } else {
        print_roles(json_object_get(topo, "roles"), json_object_get(topo, "answers"));
    }
    return 0;
}

int cmd_role(void)
{
    if (opt.n_args < 3)
        usage_error("usage: sbctl role get|set|delete NAME");
    const char *verb = opt.args[1], *name = opt.args[2];
    if (!sbc_name_valid(name))
        usage_error("%s is not a role name", name);
    char *key = xprintf("roles/%s", name);
    if (strcmp(verb, "get") == 0) {
        need_args(3, "role get NAME");
        json_t *doc = get(admin_path(key)), *answer = get(xprintf("/config/%s", name));
        if (opt.json) {
            print_json(keep_json(
                json_pack("{s:s, s:O, s:O}", "role", name, "assignment", doc, "answer", answer)));
            return 0;
        }
        json_t *fb = json_object_get(doc, "fallbacks");
        char *chain = chain_text(answer), *dropped = dropped_text(answer);
        printf("role         %s\n", name);
        printf("primary      %s\n", json_string_value(json_object_get(doc, "primary")));
        if (fb) {
            char *s = xalloc(json_dumps(fb, JSON_COMPACT));
            printf("fallbacks    %s\n", s);
            free(s);
        } else {
            printf("fallbacks    (the primary's failback chain)\n");
        }
        if (json_object_get(doc, "description"))
            printf("description  %s\n", json_string_value(json_object_get(doc, "description")));
        printf("route        %s\ndropped      %s\n", chain, dropped);
        return 0;
    }
    if (strcmp(verb, "set") == 0) {
        need_args(3, "role set NAME --primary MODEL [--fallback MODEL]...");
        if (opt.primary == NULL)
            usage_error("role set needs --primary MODEL");
        json_t *doc = json_pack("{s:s}", "primary", opt.primary);
        if (opt.n_fallbacks > 0 || opt.no_fallbacks) {
            json_t *fb = json_array();
            for (size_t i = 0; i < opt.n_fallbacks; i++)
                json_array_append_new(fb, json_string(opt.fallbacks[i]));
            json_object_set_new(doc, "fallbacks", fb);
        }
        if (opt.description)
            json_object_set_new(doc, "description", json_string(opt.description));
        return write_doc("PUT", key, doc, xprintf("role %s set", name), xprintf("role %s", name));
    }
    if (strcmp(verb, "delete") == 0) {
        need_args(3, "role delete NAME");
        return write_doc("DELETE", key, NULL, xprintf("role %s deleted", name),
                         xprintf("role %s", name));
    }
    usage_error("usage: sbctl role get|set|delete NAME");
}

int cmd_failback(void)
{
    if (opt.n_args < 3)
        usage_error("usage: sbctl failback get|set|delete MODEL [NEXT]");
    const char *verb = opt.args[1], *model = opt.args[2];
    char *key = xprintf("failback/%s", model);
    if (strcmp(verb, "get") == 0) {
        need_args(3, "failback get MODEL");
        json_t *doc = get(admin_path(key));
        if (opt.json)
            print_json(doc);
        else
            printf("%s > %s\n", model,
                   json_is_string(json_object_get(doc, "next"))
                       ? json_string_value(json_object_get(doc, "next"))
                       : "(end of chain)");
        return 0;
    }
    if (strcmp(verb, "set") == 0) {
        if (opt.none)
            need_args(3, "failback set MODEL --none");
        else
            need_args(4, "failback set MODEL NEXT (or --none)");
        json_t *doc =
            opt.none ? json_pack("{s:n}", "next") : json_pack("{s:s}", "next", opt.args[3]);
        return write_doc(
            "PUT", key, doc,
            xprintf("%s now fails back to %s", model, opt.none ? "nothing" : opt.args[3]),
            xprintf("failback of %s", model));
    }
    if (strcmp(verb, "delete") == 0) {
        need_args(3, "failback delete MODEL");
        return write_doc("DELETE", key, NULL, xprintf("failback of %s deleted", model),
                         xprintf("failback of %s", model));
    }
    usage_error("usage: sbctl failback get|set|delete MODEL [NEXT]");
}
