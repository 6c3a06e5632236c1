/*
 * tramp.h — tracing ordinary functions of the process: patching their code
 * (tpoke.c), relocating their first instructions (reloc.c), trampolines and
 * attachments (tramp.c).
 */
#ifndef BPFRT_TRAMP_H
#define BPFRT_TRAMP_H

#include "internal.h"
#include "jit.h"

#include <sys/types.h>

/* The signal the thread scan sends (a real-time signal glibc leaves free). */
#define BPFRT_SCAN_SIGNAL 61

/* tpoke.c: all calls between bpfrt_tpoke_lock/unlock */
struct bpfrt_err;
BPFRT_HIDDEN void bpfrt_tpoke_lock(void);
BPFRT_HIDDEN void bpfrt_tpoke_unlock(void);
BPFRT_HIDDEN int bpfrt_tpoke_init_locked(struct bpfrt_err *err);
/* Replaces the len bytes at `at` by `bytes` (int3 protocol): a thread that
 * meets the site meanwhile goes to `emulate`; redirect, if not NULL, has
 * len entries: a thread stopped at at+k (0 < k) goes to redirect[k] (0:
 * stays), and redirect[0] is where the old code goes on (if a thread does
 * not answer the scan, the change is undone and refused). */
BPFRT_HIDDEN int bpfrt_tpoke_locked(uintptr_t at, const uint8_t *bytes, size_t len, uintptr_t emulate,
				    const uintptr_t *redirect, struct bpfrt_err *err);
/* Whether rip is in the stub a thread leaves the SIGTRAP handler through
 * (it is entering a site's target: not outside the images). */
BPFRT_HIDDEN bool bpfrt_in_trap_landing(uintptr_t rip);
/* The process's other threads (at most max); -1 if more, or unreadable. */
#define BPFRT_MAX_THREADS 1024
BPFRT_HIDDEN ssize_t bpfrt_threads(pid_t *out, size_t max);
/* Runs fn(ucontext, arg) on every other thread (tids NULL) or on threads
 * tids[0..ntids), in a signal handler on that thread; 0, or -ETIMEDOUT if
 * some thread did not answer within timeout_ns, -EBUSY if a thread that
 * blocks the signal did not pass `parked`. */
typedef void (*bpfrt_scan_fn)(void *uc, void *arg);
/* A thread that blocks the signal, parked in a system call at (sp, pc):
 * whether it passes; NULL: none does. */
typedef bool (*bpfrt_parked_fn)(pid_t tid, uintptr_t sp, uintptr_t pc, void *arg);
/* fn(word) for each word of a parked thread's stack, from sp up (until fn
 * says false: then false; false also if the stack cannot be read). */
BPFRT_HIDDEN bool bpfrt_stack_words(uintptr_t sp, bool (*fn)(uintptr_t word, void *arg), void *arg);
BPFRT_HIDDEN int bpfrt_scan_threads_locked(const pid_t *tids, size_t ntids, bpfrt_scan_fn fn,
					   bpfrt_parked_fn parked, void *arg, uint64_t timeout_ns);

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
/* The argument slots of function `name` at func from its module's BTF:
 * >= 0, BPFRT_NARGS_UNKNOWN (no BTF), or -2 (not expressible: why). */
BPFRT_HIDDEN int bpfrt_sym_nargs(uintptr_t func, const char *name, char *why, size_t whylen);

/* The generic hook (rethook.c): struct pt_regs as <asm/ptrace.h> has it on
 * x86-64, the context of kprobe / uprobe programs. */
struct bpfrt_pt_regs {
	uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8, rax, rcx, rdx, rsi, rdi, orig_rax, rip,
		cs, eflags, rsp, ss;
};
#define PT_REGS_BYTES 168
struct bpfrt_link;
/* A site's probe programs, fixed with its image: entry ones, then return ones. */
struct bpfrt_probes {
	uintptr_t func;
	size_t nentry, nret;
	struct bpfrt_link *links[];
};
/* At entry, after the entry programs (the site has return programs): the
 * return address onto the shadow stack; false if it is full (no return
 * hook for this call). */
BPFRT_HIDDEN bool bpfrt_rethook_push(struct bpfrt_pt_regs *regs);
/* At return: pops the shadow entry; the real return address (also into
 * regs->rip). */
BPFRT_HIDDEN uintptr_t bpfrt_rethook_pop(struct bpfrt_pt_regs *regs);
/* Whether this thread has hooked frames not returned yet (retirement). */
BPFRT_HIDDEN bool bpfrt_rethook_pending(void);
BPFRT_HIDDEN extern BPFRT_TLS uintptr_t bpfrt_probe_ip;

/* tramp.c: what a thread knows of trampolines: initial-exec TLS, so that
 * generated code reaches it at a fixed offset from fs */
#define GUARD_SLOTS 256     /* recursion-guard slots (programs share one modulo this) */
struct tthread {
	uint32_t depth;                 /* trampolines this thread is inside */
	uint8_t active[GUARD_SLOTS];    /* programs this thread is running from one */
};
BPFRT_HIDDEN extern BPFRT_TLS struct tthread tt;

/* One attachment of a program to a function. */
struct bpfrt_link {
	struct tsite *site;
	struct bpfrt_prog *prog;
	int kind;
	uint8_t slot;           /* its recursion-guard slot */
	uint32_t nargs;         /* the site's: ctx[nargs] is the return value */
	uint32_t ctx_bytes;     /* what ctx points to (safe mode's region) */
	int refs;               /* attached (1) and each image that calls it */
	struct bpfrt_link *next;/* the site's links of its kind */
	bpfrt_jit_fn entry;     /* the JIT's code, where a run needs nothing around it */
	bool meta;              /* it calls get_func_*: the frame holds ctx[-1..-3] */
};

/* One program's run from a trampoline or hook, behind the per-thread
 * recursion guard (a program this thread is running already is skipped: a
 * miss); false if it was skipped or failed. */
static inline bool bpfrt_link_run(struct bpfrt_link *l, void *ctx, uint64_t *r0)
{
	uint8_t *a = &tt.active[l->slot];
	if (unlikely(*a)) {
		__atomic_add_fetch(&l->prog->misses, 1, __ATOMIC_RELAXED);
		return false;
	}
	*a = 1;
	bool ok = true;
	if (likely(l->entry)) { /* JITed, and its runs need no RCU, no per-CPU slot */
		struct bpfrt_prog *outer = bpfrt_current;
		bpfrt_current = l->prog;
		*r0 = l->entry((uintptr_t)ctx, 0);
		bpfrt_current = outer;
	} else {
		/* (with the hidden slots below: nargs, ip, the return flag) */
		struct bpfrt_region r = { (uintptr_t)ctx - 24, (uintptr_t)ctx + l->ctx_bytes };
		ok = bpfrt_run(l->prog, (uintptr_t)ctx, 0, &r, NULL, r0) == BPFRT_OK;
	}
	*a = 0;
	return ok;
}
/* testing */
BPFRT_HIDDEN size_t bpfrt_tramp_retired(void);

#endif
