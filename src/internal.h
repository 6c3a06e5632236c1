/*
 * internal.h — bpfrt's internal types and the prototypes of each stage,
 * grouped by the file that defines them.
 */
#ifndef BPFRT_INTERNAL_H
#define BPFRT_INTERNAL_H

#include "common.h"
#include "insn.h"

#include <pthread.h>

#define BPFRT_MAX_HELPER_ID 65535

struct bpfrt_helper_slot {
	bpfrt_helper_fn fn;
	uint32_t ret_mem_size;  /* safe mode: a non-NULL return points to this many bytes */
	uint8_t ret_map_value;  /* safe mode: ... to a value of the map in r1 */
	uint8_t uses_cpu;       /* its result depends on the run's per-CPU slot */
	uint8_t map_args;       /* safe mode: r1 is a map of the program (4), r2 its key
				 * (1), r3 its value (2), r2 its value (8) */
	uint8_t ret_size_arg;   /* safe mode: a non-NULL return points to rN bytes */
	uint8_t mem_arg[2];     /* safe mode: rN (1..5; 0: none) points to memory ... */
	uint8_t mem_size[2];    /* ... of the size in rM */
	bool has_proto;         /* registered with a prototype (the verifier's) */
	bool callbacks;         /* it runs the program's callbacks (bpf_loop, for_each_map_elem) */
	uint8_t proto_ret;      /* enum bpfrt_ret */
	uint8_t proto_args[5];  /* enum bpfrt_arg */
	char *name;
};

struct bpfrt_helper_table {
	struct bpfrt_helper_slot *slot; /* indexed by helper id */
	uint32_t n;                     /* ids 0 .. n-1 */
};

/* An embedder's program type (bpfrt_vm_register_prog_type). */
struct bpfrt_custom_type {
	uint32_t id;
	char *name, *section;
	uint32_t ctx_size, writable_off, writable_size;
	int64_t ret_min, ret_max;
};

struct bpfrt_vm {
	struct bpfrt_helper_table helpers;
	struct bpfrt_custom_type *types;   /* the embedder's program types */
	size_t ntypes;
	void (*trace)(void *arg, const char *line); /* bpf_trace_printk's sink */
	void *trace_arg;
	pthread_mutex_t lock; /* guards errmsg */
	char errmsg[BPFRT_ERRMSG_MAX];
};

/* What the verifier learnt of a program it checked, for the load: its
 * result, and the live map behind each of its map indices. */
struct vf_result;
struct bpfrt_facts {
	const struct vf_result *vr;
	struct bpfrt_map *const *maps;
	size_t nmaps;
	uint32_t prog_type;     /* enum bpf_prog_type, which the rewrite needs */
};
/* bpfrt_prog_load, for a program the verifier has checked already (facts),
 * or NULL. */
BPFRT_HIDDEN int bpfrt_prog_load_verified(bpfrt_vm *vm, const struct bpfrt_insn *insns, size_t n,
					  const struct bpfrt_load_opts *opts, const struct bpfrt_facts *facts,
					  bpfrt_prog **out);

/* BTF line info: the source line of the instructions from `insn` on */
struct obj_line {
	uint32_t insn;
	char *text;                /* "file.c:LINE: source" */
};
/* A named function of an object's program (a .text subprogram). */
struct obj_func {
	char *name;
	uint32_t insn;             /* its first instruction in the program */
};
/* The line of instruction insn in a sorted table, or NULL. */
BPFRT_HIDDEN const char *bpfrt_line_at(const struct obj_line *lines, size_t n, size_t insn);

struct bpfrt_prog {
	bpfrt_vm *vm;
	char *name;
	struct bpfrt_insn *insns; /* as loaded */
	size_t n;
	struct bpfrt_insn *xlated;/* after the rewrite passes (what the engines run) */
	int32_t *xlated_orig;     /* [nx]: the original index of each, or -1 if a pass added it */
	struct obj_line *lines;   /* BTF line info of the loaded instructions (objects), sorted */
	size_t nlines;
	struct obj_func *funcs;   /* its named subprograms (objects) */
	size_t nfuncs;
	const uint8_t *tail_entry;/* JIT: where a tail call enters the code (past the entry region) */
	bool tail_calls;          /* it has a bpf_tail_call */
	uint32_t *cb_pcs;         /* its callbacks: the ld_func targets (xlated indices) */
	size_t ncb;
	struct bpfrt_tail_site {  /* tail calls the verifier proved direct: one map, one key */
		uint32_t pc;          /* in the rewritten program */
		uint32_t key;
		struct bpfrt_map *map;
	} *tail_sites;
	size_t ntail_sites;
	struct bpfrt_poke *pokes; /* JIT: its direct tail-call sites, registered with their maps */
	size_t npokes;
	uint32_t *sub_depth;      /* verified: each subprogram's stack depth, in order */
	size_t nsub;
	struct bpfrt_insn *dec;   /* xlated, decoded: code replaced by enum bpfrt_op */
	size_t nx;                /* instructions in xlated and dec */
	struct bpfrt_stats stats;
	struct bpfrt_helper_table helpers; /* snapshot of the vm's registry */
	uint32_t flags;                    /* BPFRT_LOAD_* */
	bpfrt_engine engine;
	uint64_t insn_budget;
	struct bpfrt_jit *jit;             /* JIT engine: the compiled code */
	struct bpfrt_map **maps;           /* maps it refers to (references held) */
	size_t nmaps;
	struct bpfrt_region *regions;      /* safe mode: memory it may address directly */
	size_t nregions;
	bool needs_rcu;                    /* runs are RCU read-side sections (it uses maps) */
	bool needs_cpu_slot;               /* runs own a per-CPU slot */
	uint32_t type;                     /* enum bpf_prog_type (objects) */
	char *sec;                         /* its ELF section (objects), or NULL */
	uint64_t misses;                   /* tracing: runs skipped by the recursion guard */
	uint8_t tramp_slot;                /* tracing: its recursion-guard slot, */
	bool tramp_slot_set;               /*   once attached */
	bool verified;                     /* the verifier accepted it: */
	bool ctx_ptrs;                     /*   its context holds pointers bpfrt must supply */
	bool ctx_conv;                     /*   its context accesses were converted (ctx.c) */
	uint32_t ctx_need;                 /*   runs give it at least this many context bytes */
	int refs;                          /* the owner's, and each prog_array slot's */
	pthread_mutex_t lock; /* guards errmsg */
	char errmsg[BPFRT_ERRMSG_MAX];
};

/* An error being reported: a status and a message. */
struct bpfrt_err {
	int status;
	char msg[BPFRT_ERRMSG_MAX];
};
BPFRT_HIDDEN int bpfrt_err_set(struct bpfrt_err *e, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* vm.c */
BPFRT_HIDDEN int bpfrt_vm_fail(bpfrt_vm *vm, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
BPFRT_HIDDEN int bpfrt_prog_fail(bpfrt_prog *prog, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline const struct bpfrt_helper_slot *
bpfrt_helper_get(const struct bpfrt_helper_table *t, uint64_t id)
{
	return id < t->n && t->slot[id].fn ? &t->slot[id] : NULL;
}

/* The original index of xlated instruction pc, for messages: an instruction
 * a pass added reports the original it was added for (the next original). */
static inline size_t bpfrt_orig_pc(const struct bpfrt_prog *p, size_t pc)
{
	if (!p->xlated_orig)
		return pc;
	for (size_t i = pc; i < p->nx; i++)
		if (p->xlated_orig[i] >= 0)
			return (size_t)p->xlated_orig[i];
	return pc;
}

/* Callbacks (interp.c): a helper runs the callback fn, the value of the
 * program's ld_func, with r1..r5 = a1..a5 and gets its r0; when *stop is
 * set the run faulted and the helper must return at once. */
BPFRT_HIDDEN uint64_t bpfrt_callback(uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
				     uint64_t a5, bool *stop);
/* May a helper of the current run touch [a, a + size) (safe mode checks)? */
BPFRT_HIDDEN bool bpfrt_run_may_access(uint64_t a, uint64_t size);
/* Memory a callback may touch (safe mode), until bpfrt_run_forget(mark). */
BPFRT_HIDDEN size_t bpfrt_run_allow(uint64_t lo, uint64_t size);
BPFRT_HIDDEN void bpfrt_run_forget(size_t mark);
/* The interpreted run this thread is in (NULL in a JIT run with callbacks). */
BPFRT_HIDDEN extern BPFRT_TLS void *bpfrt_interp_active;
/* A JITed callback's call from C (jit_x86.c) */
BPFRT_HIDDEN uint64_t bpfrt_jit_callback(uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
					 uint64_t a5);

/* ctx.c: context access conversion.  For a program type whose context
 * holds packet pointers, where an access of [off, off + size) of the UAPI
 * context goes in the context bpfrt builds: false if the type has none. */
BPFRT_HIDDEN bool bpfrt_ctx_convert(uint32_t type, int16_t off, uint8_t size, int16_t *new_off, uint8_t *new_size);
/* Whether programs of the type get their context accesses converted. */
BPFRT_HIDDEN bool bpfrt_ctx_converts(uint32_t type);
/* Runs a converted program on a UAPI context (copied in and back out) and
 * a packet (NULL: none). */
BPFRT_HIDDEN int bpfrt_ctx_run(bpfrt_prog *prog, void *uapi, size_t size, uint8_t *pkt, size_t len, uint64_t *r0);

/* The embedder's program type `id` of vm, or NULL; the one a section names. */
BPFRT_HIDDEN const struct bpfrt_custom_type *bpfrt_vm_custom_type(const bpfrt_vm *vm, uint32_t id);
BPFRT_HIDDEN const struct bpfrt_custom_type *bpfrt_vm_custom_section(const bpfrt_vm *vm, const char *sec);

/* helpers.c: the kernel's bpf_bprintf formats (trace_printk, snprintf) */
BPFRT_HIDDEN int64_t bpfrt_bprintf(char *out, size_t size, const char *fmt, const uint64_t *args, int nargs);

/* The program this thread is running (helpers that need their context). */
BPFRT_HIDDEN extern BPFRT_TLS struct bpfrt_prog *bpfrt_current;

/* vm.c: program references (the owner's; prog_array slots') */
BPFRT_HIDDEN void bpfrt_prog_ref(bpfrt_prog *p);
BPFRT_HIDDEN void bpfrt_prog_unref(bpfrt_prog *p);

/* helpers.c: the default helpers every vm starts with */
BPFRT_HIDDEN int bpfrt_helpers_register_defaults(bpfrt_vm *vm);

/* validate.c: structural validation; fills dec[] with decoded ops */
#define BPFRT_VALIDATE_PSEUDO 1u /* allow LDDW pseudo forms (an object loader resolves them) */
#define BPFRT_VALIDATE_AX 2u     /* rewritten programs: the hidden register AX, internal tail calls */
#define BPFRT_VALIDATE_LDABS 4u  /* the verifier: LD_ABS/LD_IND pass, decoded as BPFRT_OP_INVALID */
#define BPFRT_VALIDATE_ANY_HELPER 8u /* the verifier: helpers need not be registered */
#define BPFRT_VALIDATE_KFUNC 16u     /* the verifier (Linux): kfunc calls pass, refused where reached */
#define BPFRT_VALIDATE_R10_LATE 32u  /* the verifier (Linux): writes to r10 refused where reached */
/* Whether insn (decoded as op) writes r10. */
BPFRT_HIDDEN bool bpfrt_insn_writes_r10(const struct bpfrt_insn *insn, enum bpfrt_op op);
#define BPFRT_REG_AX 11          /* the rewrites' hidden register (the kernel's BPF_REG_AX) */
BPFRT_HIDDEN int bpfrt_validate(const struct bpfrt_insn *insns, size_t n,
				const struct bpfrt_helper_table *helpers, unsigned vflags,
				struct bpfrt_insn *dec, struct bpfrt_err *err);

/* rewrite.c: the rewrite passes over one patchable list, one linearisation */
struct bpfrt_rw_opts {
	bool zext;        /* explicit zero-extension after 32-bit results */
	bool blind;       /* constant blinding */
	uint64_t seed;    /* blinding keys' seed */
	bool safe;        /* safe mode: helper calls stay (it checks their results) */
	const struct bpfrt_facts *facts; /* the verifier's, or NULL: the passes that need them skip */
};
BPFRT_HIDDEN int bpfrt_rewrite(bpfrt_prog *prog, const struct bpfrt_rw_opts *o, struct bpfrt_err *err);

/* vm.c: a run with RCU and per-CPU slot as the program needs */
BPFRT_HIDDEN int bpfrt_run(bpfrt_prog *prog, uint64_t r1, uint64_t r2, const struct bpfrt_region *given,
			   const struct bpfrt_region *extra, uint64_t *r0);

/* interp.c */
struct bpfrt_region {
	uintptr_t lo, hi; /* [lo, hi) */
};
BPFRT_HIDDEN int bpfrt_interp_run(bpfrt_prog *prog, uint64_t r1, uint64_t r2,
				  const struct bpfrt_region *region, const struct bpfrt_region *extra,
				  uint64_t *r0);

/* disasm.c */
BPFRT_HIDDEN int bpfrt_disasm_one(const struct bpfrt_helper_table *helpers,
				  const struct bpfrt_insn *insns, size_t n, size_t pc,
				  char *buf, size_t len);

#endif
