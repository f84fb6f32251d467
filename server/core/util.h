/*
 * server/core/: what switchboard is, with no network and no storage engine in it: documents and
 * their rules (doc.c), filter-then-select (pipeline.c), the snapshot the read path serves and
 * the plan of a write (snapshot.c), the writer thread (writer.c), the store interface the
 * engines implement (store.h), the kinds of failure (error.h), logs and metrics. It may include
 * libc, pthreads, jansson, OpenSSL's digests and common/; never h2o, LMDB, store/ or http/
 * (tests/check_layers.py checks it, and the build links it without them).
 *
 * This header: small helpers shared by every part of the daemon: name checks, ETags, a growable
 * byte buffer and allocation that aborts on out-of-memory (the daemon's policy, like h2o's and
 * Redis'). Everything here is pure and thread-safe.
 */
#ifndef SB_UTIL_H
#define SB_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define SB_DOC_MAX   (64 * 1024) /* the largest document, and the largest request body */
#define SB_ETAG_LEN  24          /* '"' + 22 base64url characters + '"' */
#define SB_CHAIN_MAX 16          /* models in one failback chain at the most */

/* The document kinds, in the order every listing uses. */
enum sb_kind { SB_PROVIDERS, SB_ROLES, SB_FAILBACK, SB_MODELS, SB_TENANTS, SB_KIND_COUNT };
extern const char *const sb_kind_names[SB_KIND_COUNT];

/** @return the kind named by the first len bytes of s, or -1. */
int sb_kind_lookup(const char *s, size_t len);

/** @return whether s[0..len) matches ^[a-z0-9][a-z0-9._-]{0,63}$ (providers, roles, tenants). */
bool sb_name_valid(const char *s, size_t len);

/** @return whether s[0..len) is 1-200 printable ASCII characters, none of them a space,
 *  a quote or a backslash. */
bool sb_model_id_valid(const char *s, size_t len);

/** @return whether s[0..len) is a valid id for documents of the given kind. */
bool sb_id_valid(int kind, const char *s, size_t len);

/**
 * The length of the first UTF-8 character of s[0..len), or 0 when s does not start with one
 * (an invalid, overlong, surrogate or out-of-range sequence, or one cut short). The rules are
 * jansson's, so text that passes them is accepted by every json_string* call.
 */
size_t sb_utf8_char(const char *s, size_t len);

/** @return whether s[0..len) is valid UTF-8 in full. */
bool sb_utf8_valid(const char *s, size_t len);

/**
 * Copies s[0..len) into out (cap > 0 bytes, NUL-terminated) as valid UTF-8: each byte that does
 * not start a valid character becomes U+FFFD, and the copy stops before a character that would
 * not fit whole. Text from a request goes through this before it reaches JSON or a log line.
 * @return the bytes written, without the NUL
 */
size_t sb_utf8_copy(char *out, size_t cap, const char *s, size_t len);

/** @return the longest prefix of valid UTF-8 s[0..len) of at most max bytes that ends on a
 *  character boundary. */
size_t sb_utf8_cut(const char *s, size_t len, size_t max);

/** Writes the strong ETag of body (quoted base64url of the first 16 bytes of its SHA-256)
 *  into out, NUL-terminated. */
void sb_etag(const void *body, size_t len, char out[SB_ETAG_LEN + 1]);

/** Base64url without padding; out must hold 4 * ceil(len / 3) + 1 bytes. @return chars written. */
size_t sb_base64url(const unsigned char *in, size_t len, char *out);

/** The current wall-clock time as RFC 3339 UTC with milliseconds, into out. */
void sb_now_rfc3339(char out[32]);

void *sb_xmalloc(size_t n);
void *sb_xrealloc(void *p, size_t n);
char *sb_xstrndup(const char *s, size_t n);

/* A growable byte buffer; zero-initialise it, release it with free(b.p). */
typedef struct sb_buf {
    char *p;
    size_t len, cap;
} sb_buf;

void sb_buf_add(sb_buf *b, const void *p, size_t n);
void sb_buf_adds(sb_buf *b, const char *s);
/** Appends s as a JSON string, escaped the way jansson escapes it. */
void sb_buf_add_jstr(sb_buf *b, const char *s);
/** Appends v as compact JSON; flags are added to JSON_COMPACT. */
void sb_buf_add_json(sb_buf *b, const json_t *v, size_t flags);

/** Aborts with a message if v is NULL (jansson's constructors return NULL only on OOM). */
json_t *sb_json_check(json_t *v);

#endif
