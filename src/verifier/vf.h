/*
 * vf.h — the verifier's internal types, shared by its files.
 *
 * The verifier is an abstract interpreter (verify.c explains the theory).
 * Its files, one per concern:
 *
 *   tnum.c      tristate numbers: which bits of a value are known
 *   range.c     scalars: tnum + signed/unsigned 64- and 32-bit bounds,
 *               ALU transfer functions, refinement on conditional jumps
 *   state.c     register/stack/frame state: copy, free, compare (pruning)
 *   mem.c       memory access: stack, ctx, map values, packets, memory
 *   call.c      helper calls against their prototypes, subprogram calls,
 *               references (acquire/release)
 *   cfg.c       subprograms, reachability, stack depth over call chains,
 *               the tail-call stack rule
 *   log.c       the log: messages, register state at each instruction
 *   platform.c  the platforms: program types (contexts) and helper
 *               prototypes of Linux and of the bpfrt runtime
 *   verify.c    the driver: the walk over every path, jumps, exit
 */
#ifndef BPFRT_VF_H
#define BPFRT_VF_H

#include "internal.h"
#include "verifier.h"

#define VF_MAX_FRAMES 8
#define VF_STACK 512
#define VF_SLOTS (VF_STACK / 8)
#define VF_BIG 0x20000000 /* offsets and sizes beyond ±2^29 are refused */

/* ------------------------------------------------------------- tnum */

struct tnum {
	uint64_t value, mask; /* bits set in mask are unknown; value has them 0 */
};

#define TNUM(v, m) ((struct tnum){ (v), (m) })
static inline struct tnum tnum_const(uint64_t v) { return TNUM(v, 0); }
static inline struct tnum tnum_unknown(void) { return TNUM(0, ~0ull); }
static inline bool tnum_is_const(struct tnum a) { return !a.mask; }
static inline bool tnum_equals_const(struct tnum a, uint64_t v) { return !a.mask && a.value == v; }
BPFRT_HIDDEN struct tnum tnum_range(uint64_t min, uint64_t max);
BPFRT_HIDDEN struct tnum tnum_add(struct tnum a, struct tnum b);
BPFRT_HIDDEN struct tnum tnum_sub(struct tnum a, struct tnum b);
BPFRT_HIDDEN struct tnum tnum_and(struct tnum a, struct tnum b);
BPFRT_HIDDEN struct tnum tnum_or(struct tnum a, struct tnum b);
BPFRT_HIDDEN struct tnum tnum_xor(struct tnum a, struct tnum b);
BPFRT_HIDDEN struct tnum tnum_mul(struct tnum a, struct tnum b);
BPFRT_HIDDEN struct tnum tnum_lshift(struct tnum a, unsigned s);
BPFRT_HIDDEN struct tnum tnum_rshift(struct tnum a, unsigned s);
BPFRT_HIDDEN struct tnum tnum_arshift(struct tnum a, unsigned s, unsigned width);
BPFRT_HIDDEN struct tnum tnum_intersect(struct tnum a, struct tnum b);
BPFRT_HIDDEN struct tnum tnum_union(struct tnum a, struct tnum b);
BPFRT_HIDDEN struct tnum tnum_cast(struct tnum a, unsigned bytes); /* keep the low bytes */
BPFRT_HIDDEN bool tnum_in(struct tnum outer, struct tnum inner);   /* inner ⊆ outer */
BPFRT_HIDDEN struct tnum tnum_subreg(struct tnum a);
BPFRT_HIDDEN struct tnum tnum_with_subreg(struct tnum a, struct tnum sub);
BPFRT_HIDDEN int tnum_fmt(char *buf, size_t len, struct tnum a);

/* ------------------------------------------------------------ registers */

enum vtype {
	T_NOT_INIT,
	T_SCALAR,
	T_CTX,          /* the program's context */
	T_STACK,        /* a frame's stack: aux = frame number */
	T_MAP_PTR,      /* a map itself: aux = map index */
	T_MAP_VALUE,    /* a value of map aux */
	T_MAP_KEY,      /* a key of map aux (callbacks) */
	T_PACKET_META,  /* packet pointers: range = bytes known in bounds past off */
	T_PACKET,
	T_PACKET_END,
	T_MEM,          /* memory of aux bytes (helper results, ringbuf records) */
	T_FUNC,         /* a subprogram: aux = its index */
	T_SOCKET,       /* struct bpf_sock */
	T_SOCK_COMMON,
	T_TCP_SOCK,
	T_BTF_ID,       /* a kernel object (Linux platform only) */
	T__COUNT
};

enum {
	VF_NULL = 1,    /* may be NULL: must be checked first */
	VF_RDONLY = 2,  /* read-only memory (frozen .rodata, helper results) */
	VF_INNER = 4,   /* a map pointer from a map-in-map lookup: aux names its template,
			 * not the map it is at run time */
};

struct vreg {
	struct tnum var;      /* scalars: the value; pointers: the variable part of the offset */
	int64_t smin, smax;
	uint64_t umin, umax;
	int32_t s32min, s32max;
	uint32_t u32min, u32max;
	int32_t off;          /* pointers: the fixed part of the offset */
	int32_t range;        /* packet pointers: bytes known in bounds from off */
	uint32_t id;          /* NULL checks, packet pointers, scalar copies */
	uint32_t ref;         /* the reference it holds, 0 if none */
	uint32_t aux;         /* see enum vtype */
	uint8_t type, flags;
	uint8_t precise;      /* scalars: some check depends on the value (pruning compares it) */
};

static inline bool vreg_is_ptr(const struct vreg *r)
{
	return r->type != T_NOT_INIT && r->type != T_SCALAR;
}
static inline bool vreg_is_const(const struct vreg *r)
{
	return r->type == T_SCALAR && tnum_is_const(r->var);
}
static inline bool vreg_is_pkt(const struct vreg *r)
{
	return r->type == T_PACKET || r->type == T_PACKET_META;
}

/* range.c */
BPFRT_HIDDEN void vreg_unknown(struct vreg *r);              /* any scalar */
BPFRT_HIDDEN void vreg_const(struct vreg *r, uint64_t v);
BPFRT_HIDDEN void vreg_bounds_unknown(struct vreg *r);       /* bounds only */
BPFRT_HIDDEN void vreg_bounds_const(struct vreg *r, uint64_t v);
BPFRT_HIDDEN void vreg_sync(struct vreg *r);                 /* make tnum and bounds agree */
BPFRT_HIDDEN bool vreg_bounds_ok(const struct vreg *r);      /* non-empty */
BPFRT_HIDDEN void vreg_zext32(struct vreg *r);               /* keep the low 32 bits */
BPFRT_HIDDEN void vreg_cast(struct vreg *r, unsigned bytes); /* keep the low bytes */
BPFRT_HIDDEN void vreg_sext(struct vreg *r, unsigned bytes); /* sign-extend the low bytes */
/* dst = dst OP src over scalars (op: the ALU operation bits 0x00..0xc0, | 0x100
 * for the signed division forms; is64: 64-bit operation). */
BPFRT_HIDDEN void vrange_alu(struct vreg *dst, const struct vreg *src, unsigned op, bool is64);
/* Conditional jumps: 1 taken always, 0 never, -1 unknown. */
BPFRT_HIDDEN int vrange_branch(const struct vreg *a, const struct vreg *b, uint8_t op, bool is64);
/* Refines a and b for the branch (taken: the condition holds); false if
 * the branch cannot happen. */
BPFRT_HIDDEN bool vrange_refine(struct vreg *a, struct vreg *b, uint8_t op, bool is64, bool taken);
/* a ⊇ b, as scalars */
BPFRT_HIDDEN bool vrange_within(const struct vreg *outer, const struct vreg *inner);

/* ---------------------------------------------------------------- stack */

enum { S_INVALID = 0, S_MISC, S_ZERO, S_SPILL };

struct vslot {
	struct vreg spill;    /* the spilled register, where a byte is S_SPILL */
	uint8_t type[8];      /* per byte, from the slot's lowest address */
	uint8_t spill_at, spill_size;
	uint8_t live;         /* VL_*: liveness marks (state.c) */
};
enum { VL_READ = 1, VL_WRITTEN = 2 };

struct vframe {
	struct vreg regs[11];
	struct vslot *slot;   /* slot k covers [-(k+1)*8, -k*8) of the frame */
	uint32_t nslots;
	uint32_t callsite;    /* the call instruction (frames above 0) */
	uint32_t subprog;
	uint32_t frameno;
	uint8_t callback;     /* a callback frame: 1 bpf_loop-like (may run again) */
	uint32_t cb_helper_insn;
};

struct vref {
	uint32_t id, insn;
};

struct vstate {
	struct vframe *frame[VF_MAX_FRAMES];
	uint32_t curframe;
	struct vref *refs;
	uint32_t nrefs, caprefs;
	uint32_t active_lock;   /* id of the held bpf_spin_lock's map value, 0 none */
	struct vstate *parent;  /* the checkpoint this path continues */
	uint32_t branches;      /* checkpoints: paths below not yet finished */
	uint32_t insn;          /* checkpoints: where */
	uint32_t depth;         /* path length since the entry */
	uint64_t hash;          /* checkpoints: of what equality compares (loop detection) */
	uint64_t last_cp_insns, last_cp_jmps; /* processed counts at the last checkpoint */
	struct vexplored *node; /* checkpoints: their explored node */
	uint32_t *hist;         /* the instructions walked since the parent checkpoint */
	uint32_t nhist, caphist;
	bool all_precise;       /* checkpoints: every scalar marked precise */
};

/* ------------------------------------------------------------ platform */

/* Argument kinds of a helper prototype. */
enum varg {
	A_NONE = 0,
	A_ANY,           /* any initialised value */
	A_MAP,           /* a map pointer */
	A_KEY,           /* pointer to a key of the map argument */
	A_VALUE,         /* pointer to a value of the map argument (read) */
	A_UNINIT_VALUE,  /* ... (written) */
	A_MEM,           /* pointer to initialised memory of the size in the next argument */
	A_MEM_NULL,      /* ... or NULL */
	A_UNINIT_MEM,    /* pointer to memory the helper writes, size in the next argument */
	A_UNINIT_MEM_NULL,
	A_SIZE,          /* constant-bounded size > 0 of the previous memory argument */
	A_SIZE0,         /* ... or 0 */
	A_ALLOC_SIZE0,   /* constant size of the memory returned (ringbuf_reserve) */
	A_CTX,           /* the context */
	A_CTX_NULL,
	A_FUNC,          /* a callback (subprogram) */
	A_CB_CTX,        /* pointer to stack (or NULL) passed to the callback */
	A_ALLOC_MEM,     /* a ringbuf record being released */
	A_SOCK_COMMON,   /* any socket pointer */
	A_SOCKET,        /* a full socket, with a reference, released */
	A_SOCKET_ANY,    /* a full socket (no release) */
	A_BTF,           /* a kernel object (anything non-NULL in bpfrt's model) */
	A_LONG,          /* pointer to 8 writable bytes */
	A_INT,           /* pointer to 4 writable bytes */
	A_CONST_STR,     /* pointer to a read-only, NUL-terminated map value */
	A_SPIN_LOCK,     /* pointer to a bpf_spin_lock in a map value */
	A_STACK,         /* pointer to stack */
	A_PTR,           /* any pointer */
};

/* Return kinds. */
enum vret {
	R_INT = 0,
	R_VOID,
	R_MAP_VALUE_NULL,  /* of the map argument */
	R_MAP_VALUE,       /* ... never NULL */
	R_MEM_NULL,        /* ret_size bytes, or the A_ALLOC_SIZE0 argument's */
	R_SOCKET_NULL,
	R_SOCK_COMMON_NULL,
	R_TCP_SOCK_NULL,
	R_BTF_NULL,
	R_BTF,
};

enum {
	HF_PKT_CHANGE = 1,  /* invalidates packet pointers */
	HF_ACQUIRE = 2,     /* the returned pointer holds a reference */
	HF_RELEASE = 4,     /* releases the reference of its release argument */
	HF_TAIL_CALL = 8,
	HF_LOCK = 16,
	HF_UNLOCK = 32,
	HF_CB_LOOP = 64,    /* callback may run many times (bpf_loop, for_each) */
	HF_CB_MAP = 128,    /* callback(map, key, value, ctx) (for_each_map_elem) */
	HF_FMT_DATA = 256,  /* its last memory argument is printf data: pointers for %s may be in it */
};

struct vhelper {
	const char *name;
	uint8_t ret;
	uint8_t args[5];
	uint16_t flags;
	uint32_t ret_size;     /* R_MEM_NULL of a fixed size */
	uint64_t map_types;    /* A_MAP: bits (1 << type) allowed; 0 any */
};

/* How a context field may be accessed. */
enum { CF_SCALAR, CF_PKT, CF_PKT_END, CF_PKT_META, CF_SOCK_NULL, CF_BTF, CF_CTX_NONE };

struct vctx_field {
	uint16_t off, size;   /* [off, off+size) */
	uint8_t kind;         /* CF_* */
	uint8_t read_sizes;   /* bits: 1, 2, 4, 8 */
	uint8_t write_sizes;  /* 0: read-only */
};

struct vprogtype {
	uint32_t type;
	const char *name;
	uint32_t ctx_size;
	const struct vctx_field *fields; /* sorted, non-overlapping; end with size 0 */
	uint8_t default_read;            /* other bytes within ctx_size: read sizes, */
	uint8_t default_write;           /* write sizes (0 none) */
	uint16_t min_off;                /* ctx bytes before this are refused */
	bool pkt_write;                  /* direct packet writes */
	bool ld_abs;                     /* LD_ABS / LD_IND */
	bool ret_range;
	int64_t ret_min, ret_max;
	bool ctx_any;                    /* syscall: plain memory */
};

struct vplatform {
	const char *name;
	const struct vhelper *(*helper)(const struct vplatform *p, uint32_t id, uint32_t prog_type);
	const struct vprogtype *(*progtype)(const struct vplatform *p, uint32_t type);
	bool run_checks;  /* bpfrt: only what the runtime implements */
	const struct bpfrt_helper_table *helpers; /* bpfrt: the vm's registry */
};

BPFRT_HIDDEN const struct vprogtype *vf_linux_progtype(uint32_t type);
BPFRT_HIDDEN const struct vhelper *vf_linux_helper(uint32_t id);

/* ------------------------------------------------------------- the env */

struct vsubprog {
	uint32_t start, end;         /* [start, end) */
	uint32_t stack_depth;        /* bytes, from the deepest access seen */
	bool has_tail_call, tail_call_reachable, has_ld_abs;
	bool is_callback, reached;
};

struct vexplored {
	struct vexplored *next;   /* explored[insn] (finished) or progress[insn] (unfinished) */
	struct vexplored **pprev; /* unfinished: the link to this node, for unlinking */
	struct vexplored *hnext;  /* unfinished: the loop table's chain */
	struct vstate *st;
	uint32_t hits, miss;
};

struct vpending {
	struct vstate *st;
	uint32_t insn, prev;
};

struct vf_env {
	const struct bpfrt_insn *insns;  /* raw */
	const struct bpfrt_insn *dec;    /* decoded ops (LD_ABS/IND: BPFRT_OP_INVALID) */
	size_t n;
	const struct vf_input *in;
	const struct vplatform *plat;
	const struct vprogtype *pt;
	struct vf_aux *aux;
	uint8_t *flags;                  /* per insn: VI_* */
	bool mem_ptrs_ok;                /* a helper memory argument may hold pointers (printf data) */
	uint16_t *live;                  /* per insn: registers live before it (bit n: rn) */
	uint32_t *subprog_of;            /* per insn */
	struct vsubprog *sub;
	uint32_t nsub;
	struct vexplored **explored;     /* per insn, at prune points: finished checkpoints */
	struct vexplored **progress;     /* per insn: unfinished checkpoints (ancestors of the walk) */
	struct vexplored **loop_tab;     /* unfinished checkpoints by (insn, hash): loop detection */
	size_t loop_nb;
	struct vpending *pend;
	size_t npend, cappend;
	struct vstate *cur;
	uint32_t insn, prev;
	uint64_t processed, jmps;
	uint64_t states, peak_states, pruned;
	uint32_t next_id;
	uint32_t ctx_max;                /* end of the highest context byte accessed */
	bool ctx_ptr_read;               /* a pointer field of the context is read (or a helper gets it) */
	const char *last_line;           /* the log: the source line printed last */
	/* the log */
	char *log;
	size_t loglen, logcap;
	unsigned level;
	struct bpfrt_err *err;
	uint32_t err_insn;
	int status;
};

enum { VI_PRUNE = 1, VI_JMP_TARGET = 2, VI_LDDW_HI = 4, VI_CALLBACK_CALL = 8 };

/* log.c */
BPFRT_HIDDEN void vf_log(struct vf_env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
BPFRT_HIDDEN int vf_reject(struct vf_env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
BPFRT_HIDDEN int vf_bug(struct vf_env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
BPFRT_HIDDEN int vf_nomem(struct vf_env *e);
BPFRT_HIDDEN void vf_log_state(struct vf_env *e, const struct vstate *st);
BPFRT_HIDDEN void vf_log_insn(struct vf_env *e, uint32_t pc);
BPFRT_HIDDEN const char *vtype_name(uint8_t type, uint8_t flags);
BPFRT_HIDDEN int vreg_fmt(char *buf, size_t len, const struct vreg *r);

/* state.c */
BPFRT_HIDDEN struct vframe *vframe_new(uint32_t frameno, uint32_t callsite, uint32_t subprog);
BPFRT_HIDDEN void vstate_free(struct vstate *st);
BPFRT_HIDDEN struct vstate *vstate_copy(const struct vstate *st);
BPFRT_HIDDEN bool vframe_grow(struct vframe *f, uint32_t nslots);
/* exact: compare every scalar (loop detection); else only precise ones */
BPFRT_HIDDEN bool vstate_subsumes(const struct vf_env *e, const struct vstate *old, const struct vstate *cur,
				  bool exact);
BPFRT_HIDDEN bool vstate_equal(const struct vstate *a, const struct vstate *b);
BPFRT_HIDDEN bool vstate_add_ref(struct vstate *st, uint32_t id, uint32_t insn);
/* stack liveness: bytes [lo, hi) of a frame read; slot k wholly written */
BPFRT_HIDDEN void vf_stack_read(struct vf_env *e, uint32_t frameno, int64_t lo, int64_t hi);
BPFRT_HIDDEN void vf_stack_written(struct vf_env *e, uint32_t frameno, uint32_t k);
BPFRT_HIDDEN void vf_propagate_liveness(struct vf_env *e, const struct vstate *old);
BPFRT_HIDDEN void vf_new_segment(struct vstate *cur, struct vstate *cp);
BPFRT_HIDDEN bool vf_ctx_is_mem(const struct vf_env *e);
BPFRT_HIDDEN void vstate_widen(const struct vstate *old, struct vstate *cur);
BPFRT_HIDDEN bool vstate_drop_ref(struct vstate *st, uint32_t id);
/* every register and spilled register of every frame */
#define VF_FOR_EACH_REG(st, r, body) do {                                        \
	for (uint32_t fi_ = 0; fi_ <= (st)->curframe; fi_++) {                   \
		struct vframe *f_ = (st)->frame[fi_];                            \
		for (int ri_ = 0; ri_ < 11; ri_++) {                             \
			struct vreg *r = &f_->regs[ri_];                         \
			body;                                                    \
		}                                                                \
		for (uint32_t si_ = 0; si_ < f_->nslots; si_++) {                \
			if (f_->slot[si_].type[f_->slot[si_].spill_at] != S_SPILL) \
				continue;                                        \
			struct vreg *r = &f_->slot[si_].spill;                   \
			body;                                                    \
		}                                                                \
	}                                                                        \
} while (0)

/* mem.c */
/* A load (write false: *val receives the value) or store (*val is stored)
 * of size bytes at r<regno> + off. */
BPFRT_HIDDEN int vf_check_mem(struct vf_env *e, int regno, int32_t off, uint32_t size, bool write,
			      struct vreg *val, bool sext, bool atomic);
/* A helper's memory argument: r<regno> points to [0, size) bytes it reads
 * (write false) or writes. */
BPFRT_HIDDEN int vf_check_helper_mem(struct vf_env *e, int regno, uint64_t size, bool write);
BPFRT_HIDDEN const char *vf_regname(int regno);

/* call.c */
BPFRT_HIDDEN int vf_helper_call(struct vf_env *e, const struct bpfrt_insn *insn);
BPFRT_HIDDEN int vf_local_call(struct vf_env *e, uint32_t target, uint32_t callsite);
BPFRT_HIDDEN int vf_return(struct vf_env *e, bool *done);
BPFRT_HIDDEN void vf_clobber_caller_saved(struct vframe *f);
BPFRT_HIDDEN void vf_clear_pkt_pointers(struct vf_env *e);
BPFRT_HIDDEN void vf_mark_null_checked(struct vf_env *e, uint32_t id, bool is_null);

/* precise.c */
BPFRT_HIDDEN bool vf_hist_push(struct vstate *st, uint32_t pc);
/* the instruction just pushed accessed stack slot `slot` of frame `frameno` (precision follows it) */
BPFRT_HIDDEN void vf_hist_note_stack(struct vstate *st, uint32_t frameno, uint32_t slot);
/* ... accessed memory that is not a stack */
BPFRT_HIDDEN void vf_hist_note_nostack(struct vstate *st);
/* regno of the current frame is precise, back along the walked path (allocates nothing: cannot fail) */
BPFRT_HIDDEN void vf_mark_precise(struct vf_env *e, int regno);
/* ... and stack slot k of frame frameno (the walk's current state) */
BPFRT_HIDDEN void vf_mark_precise_slot(struct vf_env *e, uint32_t frameno, uint32_t k);
BPFRT_HIDDEN void vf_propagate_precision(struct vf_env *e, const struct vstate *old);

/* cfg.c */
BPFRT_HIDDEN int vf_cfg(struct vf_env *e);
BPFRT_HIDDEN int vf_check_stack_depth(struct vf_env *e);

/* verify.c */
BPFRT_HIDDEN int vf_push_branch(struct vf_env *e, uint32_t insn, uint32_t prev, struct vstate **out);
static inline struct vframe *vf_curframe(const struct vf_env *e)
{
	return e->cur->frame[e->cur->curframe];
}
static inline struct vreg *vf_reg(const struct vf_env *e, int regno)
{
	return &vf_curframe(e)->regs[regno];
}

#endif
