/*
 * tramp.h — tracing ordinary functions of the process: patching their code
 * (tpoke.c), relocating their first instructions (reloc.c), trampolines and
 * attachments (tramp.c).
 */
#ifndef BPFRT_TRAMP_H
#define BPFRT_TRAMP_H

#include "common.h"

#include <sys/types.h>

/* The signal the thread scan sends (a real-time signal glibc leaves free). */
#define BPFRT_SCAN_SIGNAL 61

/* tpoke.c: all calls but bpfrt_text_read between bpfrt_tpoke_lock/unlock */
struct bpfrt_err;
BPFRT_HIDDEN void bpfrt_tpoke_lock(void);
BPFRT_HIDDEN void bpfrt_tpoke_unlock(void);
BPFRT_HIDDEN int bpfrt_tpoke_init_locked(struct bpfrt_err *err);
/* Replaces the len bytes at `at` by `bytes` (int3 protocol): a thread that
 * meets the site meanwhile goes to `emulate`; redirect, if not NULL, has
 * len entries: a thread stopped at at+k (0 < k) goes to redirect[k] (0: stays). */
BPFRT_HIDDEN int bpfrt_tpoke_locked(uintptr_t at, const uint8_t *bytes, size_t len, uintptr_t emulate,
				    const uintptr_t *redirect, struct bpfrt_err *err);
BPFRT_HIDDEN int bpfrt_text_read(uintptr_t at, uint8_t *out, size_t len);
/* Runs fn(ucontext, arg) on every other thread (tids NULL) or on threads
 * tids[0..ntids), in a signal handler on that thread; 0, or -ETIMEDOUT if
 * some thread did not answer. */
typedef void (*bpfrt_scan_fn)(void *uc, void *arg);
BPFRT_HIDDEN int bpfrt_scan_threads_locked(const pid_t *tids, size_t ntids, bpfrt_scan_fn fn, void *arg);
BPFRT_HIDDEN void bpfrt_scan_noop(void *uc, void *arg);

/* reloc.c: the instructions covering a function's first `need` bytes,
 * moved into a stub that then jumps back. */
#define RELOC_MAX 64          /* bytes of stub */
struct bpfrt_reloc {
	size_t len;               /* bytes of the function covered (>= need) */
	uint8_t code[RELOC_MAX];  /* the stub: the instructions, rewritten for their new place,
				   * then jmp func+len (code written for address `stub`) */
	size_t code_len;
	uint8_t map[16];          /* for each instruction boundary k of the covered bytes (0 < k <
				   * len): its offset in the stub (0: not a boundary) */
};
/* Relocates [func, func+need) for a stub at address `stub`.  fsize: the
 * function's size (0: unknown: jumps back into the covered bytes cannot be
 * checked beyond the covered instructions, and the caller refuses). */
BPFRT_HIDDEN int bpfrt_reloc(uintptr_t func, size_t fsize, size_t need, uintptr_t stub,
			     struct bpfrt_reloc *out, struct bpfrt_err *err);

/* sym.c: a function of the process by name or by an address inside it */
struct bpfrt_sym {
	uintptr_t addr;
	size_t size;              /* 0: unknown */
	char name[128];
};
BPFRT_HIDDEN int bpfrt_sym_by_name(const char *name, struct bpfrt_sym *out);
BPFRT_HIDDEN int bpfrt_sym_by_addr(uintptr_t addr, struct bpfrt_sym *out);

/* tramp.c: testing */
BPFRT_HIDDEN size_t bpfrt_tramp_retired(void);

#endif
