/* The fuzz targets' invariant check. On a broken invariant: "FUZZ_NAME: cond: message" on stderr,
 * then abort(), so that libFuzzer keeps the input and run.sh shows the line. Each target defines
 * FUZZ_NAME ("fuzz_<target>") before including this. */
#ifndef DW_FUZZ_CHECK_H
#define DW_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond, ...)                                                                                   \
    do {                                                                                               \
        if (!(cond)) {                                                                                 \
            fprintf(stderr, FUZZ_NAME ": %s: ", #cond);                                                \
            fprintf(stderr, __VA_ARGS__);                                                              \
            fputc('\n', stderr);                                                                       \
            abort();                                                                                   \
        }                                                                                              \
    } while (0)

#endif
