/* Helpers shared by the daemon: see util.h. */
#include "util.h"
#include "common/names.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const sb_kind_names[SB_KIND_COUNT] = {"providers", "roles", "failback", "models",
                                                  "tenants"};

int sb_kind_lookup(const char *s, size_t len)
{
    for (int k = 0; k < SB_KIND_COUNT; k++)
        if (strlen(sb_kind_names[k]) == len && memcmp(sb_kind_names[k], s, len) == 0)
            return k;
    return -1;
}

bool sb_name_valid(const char *s, size_t len)
{
    return sb_name_ok(s, len);
}

bool sb_model_id_valid(const char *s, size_t len)
{
    if (len == 0 || len > 200)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\'' || c == '\\')
            return false;
    }
    return true;
}

bool sb_id_valid(int kind, const char *s, size_t len)
{
    if (kind == SB_FAILBACK || kind == SB_MODELS)
        return sb_model_id_valid(s, len);
    return sb_name_valid(s, len);
}

size_t sb_utf8_char(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    if (len == 0)
        return 0;
    if (u[0] < 0x80)
        return 1;
    size_t n = u[0] >= 0xc2 && u[0] <= 0xdf   ? 2
               : u[0] >= 0xe0 && u[0] <= 0xef ? 3
               : u[0] >= 0xf0 && u[0] <= 0xf4 ? 4
                                              : 0; /* 0x80-0xc1: a continuation or overlong */
    if (n == 0 || n > len)
        return 0;
    uint32_t cp = u[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        if ((u[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (u[i] & 0x3f);
    }
    bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
    if (overlong || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return n;
}

bool sb_utf8_valid(const char *s, size_t len)
{
    for (size_t i = 0, n; i < len; i += n)
        if ((n = sb_utf8_char(s + i, len - i)) == 0)
            return false;
    return true;
}

size_t sb_utf8_copy(char *out, size_t cap, const char *s, size_t len)
{
    static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = sb_utf8_char(s + i, len - i);
        const char *from = n ? s + i : replacement;
        size_t m = n ? n : 3;
        if (o + m >= cap)
            break;
        memcpy(out + o, from, m);
        o += m;
        i += n ? n : 1;
    }
    out[o] = '\0';
    return o;
}

size_t sb_utf8_cut(const char *s, size_t len, size_t max)
{
    size_t i = 0;
    for (size_t n; i < len && (n = sb_utf8_char(s + i, len - i)) != 0 && i + n <= max; i += n)
        ;
    return i;
}

size_t sb_base64url(const unsigned char *in, size_t len, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = tab[v >> 6 & 63];
        out[o++] = tab[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        if (i + 1 < len)
            out[o++] = tab[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

static void oom(void)
{
    fputs("switchboard: out of memory\n", stderr);
    abort();
}

/* SHA-256 with one digest context per thread: OpenSSL 3's one-shot SHA256() looks the algorithm
 * up on every call, which costs more than hashing an answer. */
static pthread_once_t sha_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha_md;
static pthread_key_t sha_key;

static void sha_ctx_free(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void sha_init(void)
{
    sha_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (sha_md == NULL || pthread_key_create(&sha_key, sha_ctx_free) != 0)
        oom();
}

static void sha256(const void *p, size_t len, unsigned char md[SHA256_DIGEST_LENGTH])
{
    pthread_once(&sha_once, sha_init);
    EVP_MD_CTX *ctx = pthread_getspecific(sha_key);
    if (ctx == NULL && ((ctx = EVP_MD_CTX_new()) == NULL || pthread_setspecific(sha_key, ctx) != 0))
        oom();
    unsigned n;
    if (!EVP_DigestInit_ex2(ctx, sha_md, NULL) || !EVP_DigestUpdate(ctx, p, len) ||
        !EVP_DigestFinal_ex(ctx, md, &n))
        oom(); /* only allocation can fail here */
}

void sb_etag(const void *body, size_t len, char out[SB_ETAG_LEN + 1])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    sha256(body, len, md);
    out[0] = '"';
    size_t n = sb_base64url(md, 16, out + 1);
    out[1 + n] = '"';
    out[2 + n] = '\0';
}

void sb_now_rfc3339(char out[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

void *sb_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom();
    return p;
}

void *sb_xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (p == NULL)
        oom();
    return p;
}

char *sb_xstrndup(const char *s, size_t n)
{
    char *p = sb_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

json_t *sb_json_check(json_t *v)
{
    if (v == NULL)
        oom();
    return v;
}

void sb_buf_add(sb_buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = sb_xrealloc(b->p, cap);
        b->cap = cap;
    }
    if (n > 0) /* p may be NULL when n is 0, and memcpy must not see that */
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sb_buf_adds(sb_buf *b, const char *s)
{
    sb_buf_add(b, s, strlen(s));
}

void sb_buf_add_jstr(sb_buf *b, const char *s)
{
    sb_buf_add(b, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        sb_buf_add(b, run, (size_t)(s - run));
        char esc[8];
        switch (c) {
        case '"':
            sb_buf_add(b, "\\\"", 2);
            break;
        case '\\':
            sb_buf_add(b, "\\\\", 2);
            break;
        case '\n':
            sb_buf_add(b, "\\n", 2);
            break;
        case '\t':
            sb_buf_add(b, "\\t", 2);
            break;
        case '\r':
            sb_buf_add(b, "\\r", 2);
            break;
        case '\b':
            sb_buf_add(b, "\\b", 2);
            break;
        case '\f':
            sb_buf_add(b, "\\f", 2);
            break;
        default:
            snprintf(esc, sizeof esc, "\\u%04X", c);
            sb_buf_add(b, esc, 6);
        }
        run = s + 1;
    }
    sb_buf_add(b, run, (size_t)(s - run));
    sb_buf_add(b, "\"", 1);
}

static int buf_dump_cb(const char *p, size_t n, void *data)
{
    sb_buf_add(data, p, n);
    return 0;
}

void sb_buf_add_json(sb_buf *b, const json_t *v, size_t flags)
{
    json_dump_callback(v, buf_dump_cb, b, JSON_COMPACT | JSON_ENCODE_ANY | flags);
}
