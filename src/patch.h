/*
 * patch.h — the patchable-instruction list: bpfrt's only way of changing a
 * program (seed 001's design: one list shared by every rewrite pass, jumps
 * held as pointers to their target nodes, one linearisation at the end, so
 * any number of patches costs O(N + P) instead of the kernel's O(N * P)).
 *
 * Semantics (the kernel's, so that the two agree; see tests/unit/test_patch.c,
 * which checks this list against the kernel's one-patch-at-a-time algorithm):
 *   - replace(X, seq): jumps and calls to X land on seq[0]; X's facts (aux
 *     data and original index) go to the LAST instruction of seq, as the
 *     kernel's adjust_insn_aux_data moves aux to the end of a patch;
 *   - insert_before(X, seq): jumps to X land on seq[0]; X keeps its facts
 *     (the seed's "prepend"); the inserted instructions have none;
 *   - insert_prologue(X, seq): as insert_before, but jumps (not calls) to X
 *     keep landing on X: the kernel's gen_prologue + adjust_jmp_off, for code
 *     that runs once on entry (one O(N) walk);
 *   - delete(X): jumps to X land on the next instruction that survives.
 * Jumps inside seq are relative to seq (off/imm as in a program; the slot
 * past the end of seq is the instruction after it), or target an existing
 * node where the caller says so.
 */
#ifndef BPFRT_PATCH_H
#define BPFRT_PATCH_H

#include "common.h"

#define PATCH_INSERTED (-1) /* orig of an instruction a pass added */

/* A node: an instruction and its links.  Nodes are named by their index in
 * the list's node array (which grows, and may move, as passes patch: hold
 * indices, not pointers, across patches).  Node 0 is the head; node 1 + i is
 * original instruction i. */
struct bpfrt_pnode {
	struct bpfrt_insn insn;     /* for an LDDW, its first slot */
	uint32_t next;              /* 0: the end */
	uint32_t target;            /* the node a jump, call or ld_func targets (0: not a branch) */
};

/* Per node, beside it (l->meta): the original index in the high 28 bits
 * (signed: PATCH_INSERTED; once the linearisation has passed a PN_TARGET node, its
 * index in the output) and flags in the low 4. */
#define PN_DELETED 1u
#define PN_SUBPROG 2u               /* the first instruction of a subprogram */
#define PN_MARK 4u                  /* scratch (insert_prologue), then: passed by the linearisation */
#define PN_TARGET 8u                /* some branch targets it (or did): the linearisation
				     * records its index (only these need one) */
#define PN_ORIG_SHIFT 4

/* An instruction of a patch sequence. */
struct bpfrt_pinsn {
	struct bpfrt_insn insn;
	int32_t imm_hi;              /* LDDW: the second slot's imm */
	uint32_t to;                 /* a branch to this existing node; 0: relative */
};

struct bpfrt_linfo {
	uint32_t insn;               /* instruction index */
	uint32_t line;               /* opaque to the list (a line number, an index into BTF) */
};

struct bpfrt_plist {
	struct bpfrt_pnode *node;    /* [cap] (an LDDW's second slot keeps an unused node) */
	uint32_t *meta;              /* [cap] */
	int32_t *hi;                 /* [cap]: an LDDW's second-slot imm (pages are touched
				      * only where there are LDDWs) */
	size_t nodes, cap;           /* nodes in use (the head included), room */
	size_t live, slots;          /* running counts: live nodes, live slots */
	void **aux;                  /* a copy of the facts of each original instruction (NULL:
				      * none); an instruction's facts go where its original index goes */
	size_t norig;
	size_t nsub;                 /* subprogram starts (flags set at init) */
	bool linearized;             /* a list linearises once (its nodes then hold indices) */
	struct bpfrt_linfo *linfo;   /* line info by original index */
	size_t nlinfo;
};

/* The node of original instruction i: where jumps to it land, and its line info. */
static inline uint32_t bpfrt_plist_anchor(size_t i)
{
	return (uint32_t)i + 1;
}

static inline bool bpfrt_plist_deleted(const struct bpfrt_plist *l, uint32_t x)
{
	return l->meta[x] & PN_DELETED;
}

/* The original index of node x's instruction, or PATCH_INSERTED. */
static inline int32_t bpfrt_plist_orig(const struct bpfrt_plist *l, uint32_t x)
{
	return (int32_t)l->meta[x] >> PN_ORIG_SHIFT;
}

/* The output of a linearisation. */
struct bpfrt_linear {
	struct bpfrt_insn *insns;
	size_t n;
	void **aux;                  /* [n]: the aux of each instruction (NULL for second slots
				      * and inserted ones); NULL when the list had none */
	int32_t *orig;               /* [n]: the original index, or PATCH_INSERTED */
	int32_t *new_of_orig;        /* [norig]: where each original instruction went, or -1
				      * (programs are at most PATCH_MAX_SLOTS long) */
	uint32_t *subprog;           /* starts of subprograms (0 first) */
	size_t nsubprog;
	struct bpfrt_linfo *linfo;
	size_t nlinfo;
};

BPFRT_HIDDEN int bpfrt_plist_init(struct bpfrt_plist *l, const struct bpfrt_insn *insns, size_t n,
				  void *const *aux, const struct bpfrt_linfo *linfo, size_t nlinfo,
				  struct bpfrt_err *err);
BPFRT_HIDDEN void bpfrt_plist_free(struct bpfrt_plist *l);

BPFRT_HIDDEN int bpfrt_plist_replace(struct bpfrt_plist *l, uint32_t x,
				     const struct bpfrt_pinsn *seq, size_t len, struct bpfrt_err *err);
BPFRT_HIDDEN int bpfrt_plist_insert_before(struct bpfrt_plist *l, uint32_t x,
					   const struct bpfrt_pinsn *seq, size_t len,
					   struct bpfrt_err *err);
BPFRT_HIDDEN int bpfrt_plist_insert_prologue(struct bpfrt_plist *l, uint32_t x,
					     const struct bpfrt_pinsn *seq, size_t len,
					     struct bpfrt_err *err);
BPFRT_HIDDEN void bpfrt_plist_delete(struct bpfrt_plist *l, uint32_t x);

/* One pass over the list: final indices, offsets (a JA that no longer fits
 * in 16 bits becomes a JA32; a conditional jump that does not fit is
 * refused), subprogram starts, line info, aux, index maps. */
BPFRT_HIDDEN int bpfrt_plist_linearize(struct bpfrt_plist *l, struct bpfrt_linear *out,
				       struct bpfrt_err *err);
BPFRT_HIDDEN void bpfrt_linear_free(struct bpfrt_linear *lin);

/* Live nodes in order (x: a node index; the loop body may patch). */
#define plist_for_each(x, list)                                                   \
	for (uint32_t x = (list)->node[0].next; x; x = (list)->node[x].next)       \
		if (bpfrt_plist_deleted(list, x)) continue; else

/* Whether the instruction is a branch whose target the list tracks, and
 * whether that target is in off (jumps) or imm (ja32, calls, ld_func). */
static inline bool bpfrt_insn_branch(const struct bpfrt_insn *in, bool *in_imm)
{
	uint8_t cls = in->code & 7, op = in->code & 0xf0;
	if (in->code == 0x18) { /* lddw: a branch only as ld_func */
		*in_imm = true;
		return in->src == 4;
	}
	if (cls != 5 && cls != 6) /* BPF_JMP, BPF_JMP32 */
		return false;
	if (op == 0x90 || (op == 0x80 && (in->code & 0x08))) /* exit, callx */
		return false;
	if (op == 0x80) { /* call: a branch only as a local call */
		*in_imm = true;
		return cls == 5 && in->src == 1;
	}
	*in_imm = in->code == 0x06; /* ja32 */
	return true;
}

#endif
