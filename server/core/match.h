/* What a write requires of the document it changes (If-Match, a txn op's if_match). */
#ifndef SB_MATCH_H
#define SB_MATCH_H

#include <stdint.h>

typedef enum sb_match_kind {
    SB_MATCH_NONE,    /* nothing: the write is unconditional */
    SB_MATCH_ANY,     /* "*": the document exists */
    SB_MATCH_REVISION /* the document exists at exactly revision */
} sb_match_kind;

typedef struct sb_match {
    sb_match_kind kind;
    uint64_t revision; /* SB_MATCH_REVISION only; at most INT64_MAX */
} sb_match;

#endif
