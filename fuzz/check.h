/*
 * For the fuzz targets: a broken promise aborts with the target's name and the input, so that
 * libFuzzer keeps the input as a crash.
 */
#ifndef SB_FUZZ_CHECK_H
#define SB_FUZZ_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static inline void fuzz_fail(const char *target, const char *what, const uint8_t *data, size_t size)
{
    fprintf(stderr, "%s: %s on %zu bytes: %.*s\n", target, what, size, (int)size,
            (const char *)data);
    abort();
}

/* Checks cond in a function whose input is (data, size). */
#define CHECK(cond, what)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(FUZZ_TARGET, what, data, size);                                              \
    } while (0)

#endif
