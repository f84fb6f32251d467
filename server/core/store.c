/* The store interface's dispatch to the engine (see store.h). */
#include "store.h"

#include <stddef.h>

void sb_store_close(sb_store *s)
{
    if (s != NULL)
        s->engine->close(s);
}

const char *sb_store_error(const sb_store *s, int err)
{
    if (err == SB_STORE_NOTFOUND)
        return "not found";
    if (err == SB_STORE_EXISTS)
        return "exists already";
    return s->engine->error(err);
}

void sb_store_usage(sb_store *s, uint64_t *used, uint64_t *size)
{
    s->engine->usage(s, used, size);
}

int sb_store_load(sb_store *s, json_t **docs, json_t **revs, uint64_t *revision)
{
    return s->engine->load(s, docs, revs, revision);
}

int sb_store_commit(sb_store *s, const sb_change *changes, size_t n, const sb_commit_info *info,
                    uint64_t *revision)
{
    return s->engine->commit(s, changes, n, info, revision);
}

int sb_store_history(sb_store *s, int kind, const char *id, uint64_t since, size_t limit,
                     json_t **versions, uint64_t *next)
{
    return s->engine->history(s, kind, id, since, limit, versions, next);
}

int sb_store_version(sb_store *s, int kind, const char *id, uint64_t revision, json_t **entry)
{
    return s->engine->version(s, kind, id, revision, entry);
}

int sb_store_audit(sb_store *s, uint64_t since, size_t limit, json_t **entries, uint64_t *next)
{
    return s->engine->audit(s, since, limit, entries, next);
}

int sb_store_tokens(sb_store *s, json_t **tokens, uint64_t *version)
{
    return s->engine->tokens(s, tokens, version);
}

int sb_store_token_add(sb_store *s, const char *name, const json_t *token)
{
    return s->engine->token_add(s, name, token);
}

int sb_store_token_remove(sb_store *s, const char *name)
{
    return s->engine->token_remove(s, name);
}

int sb_store_tokens_version(sb_store *s, uint64_t *version)
{
    return s->engine->tokens_version(s, version);
}
