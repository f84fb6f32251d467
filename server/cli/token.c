/*
 * switchboard token create|list|revoke: API tokens, straight in the store (a running server
 * picks the change up within a second). Only a token's SHA-256 is kept; create prints the secret
 * once.
 */
#include "cli.h"
#include "core/util.h"
#include "store/store.h"

#include <errno.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: switchboard token create --name NAME [--scope admin|read] [--data DIR]\n"
    "       switchboard token list [--data DIR]\n"
    "       switchboard token revoke NAME [--data DIR]\n"
    "\n"
    "  --name NAME          the new token's name (^[a-z0-9][a-z0-9._-]{0,63}$); create only\n"
    "  --scope admin|read   what the new token may do. Default admin; create only\n"
    "  --data DIR           data directory. Default ./switchboard-data\n"
    "  -h, --help           this text\n";

int sb_cli_token_create(sb_store *store, const char *name, const char *scope, char secret[64])
{
    unsigned char raw[32], md[SHA256_DIGEST_LENGTH];
    char hex[65], created[32];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return EIO;
    memcpy(secret, "sb_", 3);
    sb_base64url(raw, sizeof raw, secret + 3);
    SHA256((unsigned char *)secret, strlen(secret), md);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    sb_now_rfc3339(created);
    json_t *t = json_pack("{s:s, s:s, s:s}", "scope", scope, "sha256", hex, "created", created);
    int rc = sb_store_token_add(store, name, t);
    json_decref(t);
    return rc;
}

static int create(sb_store *store, const char *name, const char *scope)
{
    char secret[64];
    int rc;
    if (name == NULL || !sb_name_valid(name, strlen(name)))
        return sb_cli_fail("%s", "token create needs --name NAME (a name matching "
                                 "^[a-z0-9][a-z0-9._-]{0,63}$)");
    if (strcmp(scope, "admin") != 0 && strcmp(scope, "read") != 0)
        return sb_cli_fail("--scope is admin or read, not %s", scope);
    if ((rc = sb_cli_token_create(store, name, scope, secret)) != 0)
        return sb_cli_fail(rc == SB_STORE_EXISTS ? "a token named %s exists already"
                                                 : "cannot create the token: %s",
                           rc == SB_STORE_EXISTS ? name : sb_store_strerror(rc));
    printf("%s\n", secret);
    return 0;
}

static int list(sb_store *store)
{
    json_t *tokens, *t;
    uint64_t version;
    const char *name;
    int rc = sb_store_tokens(store, &tokens, &version);
    if (rc != 0)
        return sb_cli_fail("cannot read tokens: %s", sb_store_strerror(rc));
    printf("%-32s %-6s %s\n", "NAME", "SCOPE", "CREATED");
    json_object_foreach (tokens, name, t)
        printf("%-32s %-6s %s\n", name, json_string_value(json_object_get(t, "scope")),
               json_string_value(json_object_get(t, "created")));
    json_decref(tokens);
    return 0;
}

static int revoke(sb_store *store, const char *name)
{
    int rc = sb_store_token_remove(store, name);
    if (rc != 0)
        return sb_cli_fail(rc == SB_STORE_NOTFOUND ? "no token named %s" : "cannot revoke: %s",
                           rc == SB_STORE_NOTFOUND ? name : sb_store_strerror(rc));
    return 0;
}

int sb_cmd_token(int argc, char **argv)
{
    enum { NAME = 256, SCOPE, DATA };
    static const struct option longopts[] = {{"name", required_argument, NULL, NAME},
                                             {"scope", required_argument, NULL, SCOPE},
                                             {"data", required_argument, NULL, DATA},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *data = SB_DATA_DEFAULT, *name = NULL, *scope = NULL;
    int c;
    optind = 1;
    while ((c = sb_cli_option("token", argc, argv, longopts)) != -1) {
        if (c == NAME)
            name = optarg;
        else if (c == SCOPE)
            scope = optarg;
        else if (c == DATA)
            data = optarg;
        else if (c == 'h')
            return fputs(usage, stdout), 0;
        else
            return 2;
    }
    /* What is left: the verb, and for revoke the name (getopt has put the options first). */
    const char *verb = optind < argc ? argv[optind++] : NULL;
    const char *arg = optind < argc ? argv[optind++] : NULL;
    bool is_create = verb && strcmp(verb, "create") == 0,
         is_list = verb && strcmp(verb, "list") == 0,
         is_revoke = verb && strcmp(verb, "revoke") == 0;
    if (!is_create && !is_list && !is_revoke)
        return sb_cli_fail(verb ? "unknown token command %s (create, list or revoke)"
                                : "token needs a command: create, list or revoke%s",
                           verb ? verb : ""),
               2;
    if (optind < argc || (arg != NULL && !is_revoke))
        return sb_cli_fail("unexpected argument %s (see switchboard token --help)",
                           optind < argc ? argv[optind] : arg),
               2;
    if (!is_create && (name != NULL || scope != NULL))
        return sb_cli_fail("--name and --scope belong to token create, not token %s", verb), 2;
    if (is_revoke && arg == NULL)
        return sb_cli_fail("%s", "token revoke needs a NAME"), 2;
    sb_store *store;
    int rc = sb_store_open(data, &store);
    if (rc != 0)
        return sb_cli_fail("cannot open the store: %s", sb_store_strerror(rc));
    rc = is_create ? create(store, name, scope ? scope : "admin")
         : is_list ? list(store)
                   : revoke(store, arg);
    sb_store_close(store);
    return rc ? 1 : 0;
}
