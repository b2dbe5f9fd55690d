/*
 * sw_bench_alloc: counts every heap allocation of a benchmark program,
 * libraries included, by defining the allocation functions in the program
 * itself (glibc's own versions do the work, for free() too). Include it in
 * exactly one file of a benchmark; read sw_bench_allocs.
 */
#ifndef SW_BENCH_ALLOC_H
#define SW_BENCH_ALLOC_H

#include <stddef.h>

static unsigned long long sw_bench_allocs;

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

/* free too: the binaries link jemalloc, whose free() must not see
 * glibc's blocks */
void free(void *p)
{
    __libc_free(p);
}

void *malloc(size_t n)
{
    sw_bench_allocs++;
    return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
    sw_bench_allocs++;
    return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
    sw_bench_allocs++;
    return __libc_realloc(p, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    sw_bench_allocs++;
    return __libc_memalign(align, n);
}

int posix_memalign(void **p, size_t align, size_t n)
{
    sw_bench_allocs++;
    *p = __libc_memalign(align, n);
    return *p ? 0 : 12; /* ENOMEM */
}

#endif
