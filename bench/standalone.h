/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the standalone benchmark programs (iobench, w8server): each
 * is a program of its own, with no part of rpbench's harness, but both
 * time, count threads, parse options and make the same 1 GiB file.
 */
#ifndef RINGPOOL_BENCH_STANDALONE_H
#define RINGPOOL_BENCH_STANDALONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NS 1000000000ull
#define MS 1000000ull
#define FILE_SIZE (1ull << 30)  /* the file both read from */
#define CHUNK (1u << 20)        /* writes that fill it */

uint64_t now_ns(void);                  /* CLOCK_MONOTONIC */
uint64_t cpu_ns(int who);               /* getrusage(@who): user + system */
int cmp_u64(const void *a, const void *b);      /* for qsort() */
int cmp_double(const void *a, const void *b);
bool in_list(const char *list, const char *name); /* @name in "a,b,c"; NULL: all */
bool parse_uint(const char *s, unsigned *v);
uint64_t pattern(uint64_t off);
int read_within(int fd, void *buf, size_t len, unsigned secs);
unsigned stat_threads(int fd);
void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int prepare_file(const char *dir, const char *path, char *how, size_t howlen);

#endif
