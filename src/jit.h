/*
 * jit.h — the x86-64 JIT and its executable memory.
 */
#ifndef BPFRT_JIT_H
#define BPFRT_JIT_H

#include "common.h"

/* jit_mem.c */
struct bpfrt_jit_mem {
	uint8_t *rw;   /* where bpfrt writes */
	uint8_t *rx;   /* where threads execute */
	size_t size;
	bool single;   /* one mapping, mprotect'ed to RX by seal */
	void *pack;
};
BPFRT_HIDDEN int bpfrt_jit_mem_alloc(size_t size, struct bpfrt_jit_mem *out);
BPFRT_HIDDEN int bpfrt_jit_mem_alloc_near(size_t size, uintptr_t near, struct bpfrt_jit_mem *out);
BPFRT_HIDDEN int bpfrt_jit_mem_seal(struct bpfrt_jit_mem *m);
BPFRT_HIDDEN void bpfrt_jit_mem_free(struct bpfrt_jit_mem *m);
/* Where bpfrt writes the JIT code at rx (its RW view), or NULL if rx is not
 * JIT code with one. */
BPFRT_HIDDEN uint8_t *bpfrt_jit_mem_rw_of(uintptr_t rx);
/* Can a rel32 from anywhere in the code window reach target? */
BPFRT_HIDDEN bool bpfrt_jit_mem_reaches(uintptr_t target);
BPFRT_HIDDEN bool bpfrt_jit_mem_in_reach(uintptr_t a, uintptr_t b);

/* JIT options (internal; the public flags map onto them) */
struct bpfrt_jit_opts {
	unsigned permute;  /* a permutation of the register map (0 = the kernel's) */
	bool force_far;    /* testing: call every helper through a register */
	bool retpoline;    /* indirect calls through a retpoline thunk */
	bool no_inline;    /* every bpf-to-bpf call a call (no leaf inlined) */
	uint32_t **layout; /* only the layout: each instruction's code offset (n + 1, malloc'ed)
			    * for the program as compiled (dumps); nothing is allocated or changed */
};

/* jit_x86.c */
typedef uint64_t (*bpfrt_jit_fn)(uint64_t r1, uint64_t r2);

struct bpfrt_jit {
	struct bpfrt_jit_mem mem;
	bpfrt_jit_fn entry;       /* where C runs the program: the main function, or with tail
				   * calls the stub that zeroes the count (jit_x86.c) */
	uint8_t *main;            /* the main function */
	size_t code_size;         /* bytes of code */
	uint64_t *helper_tab;     /* callx: helper functions by id */
	uint32_t nhelper_tab;
	bool has_callx;
	bool has_callbacks;       /* ld_func: helpers call its functions from C */
	int passes;               /* relaxation sweeps */
	struct bpfrt_jit_opts opts; /* as compiled (a dump recomputes the layout) */
	/* the inlined calls (see jit_x86.c): code offsets of the called function's
	 * entry, of the nop5 patch site before the inlined copy and of its stub */
	struct bpfrt_jit_alias {
		uint32_t fn, site, stub;
	} *alias;
	uint32_t nalias;
	uint32_t stubs_end;       /* code offset where the stubs end */
	struct bpfrt_jit *next_aliased; /* the registry of images with inlined calls */
	size_t nfn;               /* functions: main first, then subprograms */
	struct bpfrt_jit_func {
		uint32_t start, end;  /* instructions */
		uint32_t entry, epilogue; /* code offsets */
		uint32_t depth;
		uint8_t nsaved, saved[4];
	} *fn;
};

struct bpfrt_prog;
struct bpfrt_err;
BPFRT_HIDDEN int bpfrt_jit_compile(struct bpfrt_prog *prog, const struct bpfrt_jit_opts *opts,
				   struct bpfrt_err *err);
BPFRT_HIDDEN void bpfrt_jit_free(struct bpfrt_jit *jit);
/* The inlined copies of the JIT function at func, in every image: the first
 * max of them as their patch site (a nop5) and their stub (call func; jmp
 * to after the copy).  Returns how many there are (0: func is no JIT
 * function, or none of its calls was inlined). */
BPFRT_HIDDEN size_t bpfrt_jit_aliases(uintptr_t func, uintptr_t *site, uintptr_t *stub, size_t max);
/* jit_dump.c: the BPF instructions, each followed by its x86 code */
BPFRT_HIDDEN int bpfrt_jit_dump(const struct bpfrt_prog *prog, char **text);
BPFRT_HIDDEN int bpfrt_jit_run(struct bpfrt_prog *prog, uint64_t r1, uint64_t r2, uint64_t *r0);

#endif
