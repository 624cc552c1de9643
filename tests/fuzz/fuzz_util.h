/* fuzz_util.h -- what the fuzz harnesses share: a property check that reports and aborts (so
 * libFuzzer and the replay main both see a broken property as a crash naming what broke), and
 * an in-memory FILE for code that prints. Header-only; harnesses only. */
#ifndef M4NPU_FUZZ_UTIL_H
#define M4NPU_FUZZ_UTIL_H

#include <stdio.h>
#include <stdlib.h>

/* A property every input must keep (not a sanitizer finding): print it and abort. */
#define FUZZ_CHECK(cond, ...)                                                   \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: property broken: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
            abort();                                                            \
        }                                                                       \
    } while (0)

#endif
