/* Text for the benchmarks: words drawn from a fixed pseudo-random sequence (xorshift32), so that it
 * compresses about as English does, not as a repeated pattern. bench/wsecho.c's answers and
 * bench/floors.c's streams are made of it. */
#ifndef DW_BENCH_WORDS_H
#define DW_BENCH_WORDS_H

#include <stddef.h>
#include <stdint.h>

/* Fills text[0..n) with words (the last one cut at n; no terminator) from the sequence at *x
 * (non-zero), which it advances. */
static inline void bench_words(char *text, size_t n, uint32_t *x)
{
    static const char *const words[] = {
        "the ", "proxy ", "sends ", "only ", "new ", "items ", "over ", "a ", "warm ", "socket ", "while ",
        "each ", "client ", "keeps ", "its ", "whole ", "history ", "and ", "model ", "reads ", "tool ",
        "output ", "from ", "shell ", "commands ", "then ", "answers ", "with ", "code ", "diff ", "file ",
        "test ", "build ", "error ", "fixed ", "line ", "function ", "returns ", "value ", "when ", "under ",
        "load ", "every ", "event ", "byte ", "frame ", "lane ", "cache ", "response ", "request ", "turn ",
        "agent ", "loop ", "runs ", "faster ", "because ", "upload ", "shrinks ", "to ", "delta ", "it ",
        "is ", "not ", "in ", "of ", "on ", "for ", "this ", "that ", "we ", "you ", "can ", "will ", "now "};
    for (size_t i = 0; i < n;) {
        *x ^= *x << 13, *x ^= *x >> 17, *x ^= *x << 5;
        const char *w = words[*x % (sizeof(words) / sizeof(words[0]))];
        for (; *w && i < n; i++)
            text[i] = *w++;
    }
}

#endif
