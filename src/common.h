/*
 * common.h — the prefix header of every bpfrt source file: feature macros,
 * visibility, assertions and the error-message helpers.
 */
#ifndef BPFRT_COMMON_H
#define BPFRT_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpfrt.h"

/* Internal symbols are hidden from the shared library. */
#define BPFRT_HIDDEN __attribute__((visibility("hidden")))
/* Thread-local data of the hot paths: initial-exec, so that an access is
 * one fs-relative instruction, not a __tls_get_addr call, in the shared
 * library too (it needs static TLS: linked or preloaded, or dlopen'ed
 * within glibc's surplus). */
#define BPFRT_TLS __thread __attribute__((tls_model("initial-exec")))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Run-once initialisation that costs one load once done (a pthread_once
 * call per use was 4% of a large program's load in the decoder). */
struct bpfrt_once {
	pthread_once_t once;
	bool done;
};
#define BPFRT_ONCE_INIT { PTHREAD_ONCE_INIT, false }
static inline void bpfrt_once(struct bpfrt_once *o, void (*init)(void))
{
	if (__builtin_expect(!__atomic_load_n(&o->done, __ATOMIC_ACQUIRE), 0)) {
		pthread_once(&o->once, init); /* returns once init has run, in any thread */
		__atomic_store_n(&o->done, true, __ATOMIC_RELEASE);
	}
}

#define BPFRT_STR_(x) #x
#define BPFRT_STR(x) BPFRT_STR_(x)
#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* BPFRT_ASSERT: compiled in with -DBPFRT_DEBUG; for invariants in hot code. */
#ifdef BPFRT_DEBUG
#define BPFRT_ASSERT(c) ((c) ? (void)0 : bpfrt_panic(__FILE__, __LINE__, #c))
#else
#define BPFRT_ASSERT(c) ((void)0)
#endif
/* ALWAYS/NEVER: defensive checks kept in release builds that must never
 * fire; in debug builds they abort (SQLite's convention). */
#ifdef BPFRT_DEBUG
#define ALWAYS(c) ((c) ? 1 : (bpfrt_panic(__FILE__, __LINE__, #c), 0))
#define NEVER(c)  ((c) ? (bpfrt_panic(__FILE__, __LINE__, #c), 1) : 0)
#else
#define ALWAYS(c) (c)
#define NEVER(c)  (c)
#endif

BPFRT_HIDDEN _Noreturn void bpfrt_panic(const char *file, int line, const char *what);

/* Large arrays (instruction lists, their outputs): mmap'd with transparent
 * huge pages above 2 MiB, where page faults would otherwise dominate;
 * malloc below.  Zeroed.  Free with bpfrt_big_free. */
BPFRT_HIDDEN void *bpfrt_big_alloc(size_t size);
BPFRT_HIDDEN void bpfrt_big_free(void *p);
/* The same, not zeroed: it may reuse a block freed earlier. */
BPFRT_HIDDEN void *bpfrt_big_alloc_raw(size_t size);
/* Grows or shrinks a big block, as bpfrt_big_alloc_raw (NULL: a new one): its contents
 * kept, new bytes not zeroed; NULL on failure (the block stays as it was).  A mapped
 * block's pages move rather than being copied. */
BPFRT_HIDDEN void *bpfrt_big_realloc(void *p, size_t size);

/* A message buffer for handles. */
#define BPFRT_ERRMSG_MAX 512
BPFRT_HIDDEN void bpfrt_vfmt(char *buf, size_t len, const char *fmt, va_list ap);
BPFRT_HIDDEN void bpfrt_fmt(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
