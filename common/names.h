/*
 * common/: what the server and the client library share, written once and compiled into both.
 * libc only: no jansson, no curl, no h2o.
 */
#ifndef SB_COMMON_NAMES_H
#define SB_COMMON_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** A name of a role, tenant, provider or token: ^[a-z0-9][a-z0-9._-]{0,63}$ (s[0..len)). */
bool sb_name_ok(const char *s, size_t len);

/** FNV-1a of p[0..len), continued from h (start from SB_FNV_SEED). */
uint64_t sb_fnv1a(uint64_t h, const void *p, size_t len);
#define SB_FNV_SEED 14695981039346656037ull /* the 64-bit offset basis */

/** A document's ETag for the revision of its last change: "\"r<revision>\"" into out. */
void sb_revision_tag(uint64_t revision, char out[24]);

#endif
