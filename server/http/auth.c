/* Bearer tokens against the snapshot's token list (see reply.h). */
#include "problem.h"
#include "reply.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <string.h>
#include <strings.h>

/* The scope of the token presented, comparing its hash with every known one in constant time. */
static int token_scope(const sb_snapshot *s, const char *token, size_t len, const char **name)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    int scope = SB_SCOPE_NONE;
    SHA256((const unsigned char *)token, len, md);
    for (size_t i = 0; i < s->n_tokens; i++) {
        if (CRYPTO_memcmp(md, s->token_list[i].sha256, sizeof md) == 0) {
            scope = s->token_list[i].scope;
            *name = s->token_list[i].name;
        }
    }
    return scope;
}

int sb_require_scope(h2o_req_t *req, const sb_snapshot *s, int scope, const char **actor)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    const char *name = NULL;
    if (i == -1)
        return sb_reply_problem(
                   req, sb_problem(SB_P_UNAUTHORIZED, NULL, "send Authorization: Bearer <token>")),
               -1;
    h2o_iovec_t v = req->headers.entries[i].value;
    if (v.len < 7 || strncasecmp(v.base, "bearer ", 7) != 0)
        return sb_reply_problem(
                   req, sb_problem(SB_P_UNAUTHORIZED, NULL, "only Bearer tokens are accepted")),
               -1;
    int have = token_scope(s, v.base + 7, v.len - 7, &name);
    if (have == SB_SCOPE_NONE)
        return sb_reply_problem(
                   req, sb_problem(SB_P_UNAUTHORIZED, NULL, "the token is unknown or revoked")),
               -1;
    if (have < scope)
        return sb_reply_problem(req, sb_problem(SB_P_FORBIDDEN, NULL,
                                                "this endpoint needs a token with admin scope")),
               -1;
    if (actor != NULL)
        *actor = name;
    return 0;
}
