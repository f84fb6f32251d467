/* The route table and its dispatch (see routes.h). */
#include "routes.h"
#include "handlers.h"
#include "reply.h"
#include "problem.h"

#include <string.h>

#define WRITE "PUT PATCH DELETE"
static const sb_route_def routes[] = {
    {"GET", "/healthz", sb_h_health, SB_R_HEALTH, SB_SCOPE_NONE},
    {"GET", "/readyz", sb_h_ready, SB_R_HEALTH, SB_SCOPE_NONE},
    {"GET", "/", sb_h_dashboard, SB_R_DASHBOARD, SB_SCOPE_NONE},
    {"GET", "/metrics", sb_h_metrics, SB_R_METRICS, SB_SCOPE_READ},
    {"GET", "/config", sb_h_config_all, SB_R_CONFIG_ALL, SB_SCOPE_READ},
    {"GET", "/config/", sb_h_config_all, SB_R_CONFIG_ALL, SB_SCOPE_READ},
    {"GET", "/config/{role}", sb_h_config, SB_R_CONFIG, SB_SCOPE_READ},
    {"GET", "/topology", sb_h_topology, SB_R_TOPOLOGY, SB_SCOPE_READ},
    {"POST", "/admin/txn", sb_h_txn, SB_R_ADMIN_WRITE, SB_SCOPE_ADMIN},
    {"GET", "/admin/audit", sb_h_audit, SB_R_ADMIN_READ, SB_SCOPE_ADMIN},
    {"GET", "/admin/{kind}", sb_h_list, SB_R_ADMIN_READ, SB_SCOPE_ADMIN},
    {"GET", "/admin/{kind}/", sb_h_list, SB_R_ADMIN_READ, SB_SCOPE_ADMIN},
    {"GET", "/admin/{kind}/{id}/history", sb_h_history, SB_R_ADMIN_READ, SB_SCOPE_ADMIN},
    {"POST", "/admin/{kind}/{id}/rollback", sb_h_rollback, SB_R_ADMIN_WRITE, SB_SCOPE_ADMIN},
    {"GET", "/admin/{kind}/{id}", sb_h_get_doc, SB_R_ADMIN_READ, SB_SCOPE_ADMIN},
    {WRITE, "/admin/{kind}/{id}", sb_h_write_doc, SB_R_ADMIN_WRITE, SB_SCOPE_ADMIN},
    /* Anything else under /admin: a token first, then what is wrong with the path. */
    {"GET POST " WRITE, "/admin", sb_h_admin_unknown, SB_R_ADMIN_READ, SB_SCOPE_ADMIN},
    {"GET POST " WRITE, "/admin/{any}", sb_h_admin_unknown, SB_R_ADMIN_READ, SB_SCOPE_ADMIN},
};
#define N_ROUTES (sizeof routes / sizeof *routes)

/* Whether the space-separated list holds the request's method (GET also allows HEAD). */
static bool allows(const char *methods, h2o_iovec_t m)
{
    if (h2o_memis(m.base, m.len, H2O_STRLIT("HEAD")))
        m = (h2o_iovec_t){"GET", 3};
    for (const char *p = methods; *p;) {
        size_t n = strcspn(p, " ");
        if (n == m.len && memcmp(p, m.base, n) == 0)
            return true;
        p += n + (p[n] == ' ');
    }
    return false;
}

/* Matches path against pattern, filling c's captures. */
static bool matches(const char *pattern, const char *path, size_t len, sb_call *c)
{
    const char *end = path + len;
    while (*pattern) {
        if (*pattern != '{') {
            if (path == end || *path != *pattern)
                return false;
            pattern++, path++;
            continue;
        }
        const char *close = strchr(pattern, '}');
        size_t name = (size_t)(close - pattern - 1);
        const char *rest = close + 1; /* the literal after the capture, up to the end */
        if (name == 4 && memcmp(pattern + 1, "role", 4) == 0) { /* one segment */
            const char *seg = memchr(path, '/', (size_t)(end - path));
            size_t n = seg ? (size_t)(seg - path) : (size_t)(end - path);
            if (n == 0)
                return false;
            c->arg = (h2o_iovec_t){(char *)path, n};
            path += n;
        } else if (name == 4 && memcmp(pattern + 1, "kind", 4) == 0) {
            const char *seg = memchr(path, '/', (size_t)(end - path));
            size_t n = seg ? (size_t)(seg - path) : (size_t)(end - path);
            if ((c->kind = sb_kind_lookup(path, n)) < 0)
                return false;
            path += n;
        } else { /* {id} or {any}: the rest, less the literal that must end the path */
            size_t tail = strlen(rest), n = (size_t)(end - path);
            if (n <= tail || memcmp(end - tail, rest, tail) != 0)
                return false;
            n -= tail;
            if (pattern[1] == 'i' && !sb_id_valid(c->kind, path, n))
                return false;
            c->arg = (h2o_iovec_t){(char *)path, n};
            return true;
        }
        pattern = rest;
    }
    return path == end;
}

void sb_route_match(h2o_req_t *req, sb_found *m)
{
    const char *path = req->path_normalized.base;
    size_t len = req->path_normalized.len;
    *m = (sb_found){NULL, NULL, SB_R_OTHER, {0}};
    for (size_t i = 0; i < N_ROUTES && m->route == NULL; i++) {
        if (m->first != NULL && strcmp(routes[i].pattern, m->first->pattern) != 0)
            break; /* the first pattern that matches decides; its rows give the methods */
        sb_call c = {0};
        if (m->first == NULL && !matches(routes[i].pattern, path, len, &c))
            continue;
        if (m->first == NULL) {
            m->first = &routes[i];
            m->call = c;
        }
        if (allows(routes[i].methods, req->method))
            m->route = &routes[i];
    }
    bool admin = m->first != NULL && m->first->scope == SB_SCOPE_ADMIN;
    if (m->route != NULL && !admin)
        m->label = m->route->label;
    else if (admin) /* counted by what the method does */
        m->label = allows("GET", req->method) ? SB_R_ADMIN_READ : SB_R_ADMIN_WRITE;
}

/* The 405: every method of the pattern's rows in Allow. */
static int not_allowed(h2o_req_t *req, const sb_found *m)
{
    char allow[96] = "";
    for (const sb_route_def *r = m->first; r < routes + N_ROUTES; r++) {
        if (strcmp(r->pattern, m->first->pattern) != 0)
            break;
        for (const char *p = r->methods; *p;) {
            size_t n = strcspn(p, " ");
            size_t at = strlen(allow);
            snprintf(allow + at, sizeof allow - at, "%s%.*s%s", at ? ", " : "", (int)n, p,
                     n == 3 && memcmp(p, "GET", 3) == 0 ? ", HEAD" : "");
            p += n + (p[n] == ' ');
        }
    }
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
                   h2o_strdup(&req->pool, allow, SIZE_MAX).base, strlen(allow));
    return sb_reply_problem(
        req, sb_problem(SB_P_METHOD, NULL, "%.*s allows %s",
                        (int)(req->path_normalized.len > 200 ? 200 : req->path_normalized.len),
                        req->path_normalized.base, allow));
}

int sb_route_run(h2o_req_t *req, sb_found *m)
{
    sb_call *c = &m->call;
    c->s = sb_req_snapshot(req);
    /* An admin path asks for the token before anything else; a read path says 405 first. */
    int scope = m->first ? m->first->scope : SB_SCOPE_READ;
    if (m->route == NULL && m->first == NULL && !allows("GET", req->method)) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
                       H2O_STRLIT("GET, HEAD"));
        return sb_reply_problem(
            req, sb_problem(SB_P_METHOD, NULL, "%.*s allows GET, HEAD",
                            (int)(req->path_normalized.len > 200 ? 200 : req->path_normalized.len),
                            req->path_normalized.base));
    }
    if (m->route == NULL && m->first != NULL && scope != SB_SCOPE_ADMIN)
        return not_allowed(req, m);
    if ((scope == SB_SCOPE_ADMIN || (scope == SB_SCOPE_READ && sb_req_opts()->read_auth)) &&
        sb_require_scope(req, c->s, scope, &c->actor) != 0)
        return 0;
    if (m->route == NULL && m->first != NULL)
        return not_allowed(req, m);
    if (m->route == NULL)
        return sb_reply_problem(
            req, sb_problem(SB_P_NOT_FOUND, NULL, "no endpoint at %.*s",
                            (int)(req->path_normalized.len > 200 ? 200 : req->path_normalized.len),
                            req->path_normalized.base));
    if (c->arg.base != NULL) /* a NUL-terminated copy for the handler */
        c->arg.base = h2o_strdup(&req->pool, c->arg.base, c->arg.len).base;
    return m->route->handler(req, c);
}
