/*
 * insn.h — the decoded instruction set (derived from insn.def).
 */
#ifndef BPFRT_INSN_H
#define BPFRT_INSN_H

#include "common.h"

/* Decoded operations: one per form of insn.def. */
enum bpfrt_op {
#define INSN(ID, CODE, SEL, SELV, M, SHAPE, SEM) BPFRT_OP_##ID,
#include "insn.def"
#undef INSN
	BPFRT_OP__COUNT,
	BPFRT_OP_INVALID = 255
};
_Static_assert(BPFRT_OP__COUNT < 255, "decoded ops must fit in a byte");

/* Which field tells apart the forms that share an opcode byte. */
enum bpfrt_sel { SEL_NONE, SEL_OFF, SEL_IMM, SEL_SRC };

/* Operand shapes.  Each lists the fields that must be zero (unless it is the
 * form's selector) and the register the instruction writes. */
enum bpfrt_shape {
	SHAPE_ALU_K,          /* op dst, imm            writes dst */
	SHAPE_ALU_X,          /* op dst, src            writes dst */
	SHAPE_NEG,            /* op dst                 writes dst */
	SHAPE_END,            /* op dst (size in imm)   writes dst */
	SHAPE_JA,             /* ja off */
	SHAPE_JA32,           /* ja32 imm */
	SHAPE_JCC_K,          /* op dst, imm, off */
	SHAPE_JCC_X,          /* op dst, src, off */
	SHAPE_CALL_HELPER,    /* call imm               writes r0 */
	SHAPE_CALL_LOCAL,     /* call local imm */
	SHAPE_CALL_KFUNC,     /* call kfunc imm */
	SHAPE_CALLX,          /* call dst */
	SHAPE_EXIT,           /* exit */
	SHAPE_LDX,            /* op dst, [src+off]      writes dst */
	SHAPE_ST,             /* op [dst+off], imm */
	SHAPE_STX,            /* op [dst+off], src */
	SHAPE_ATOMIC,         /* lock op [dst+off], src */
	SHAPE_ATOMIC_FETCH,   /* lock fetch op [dst+off], src   writes src */
	SHAPE_ATOMIC_CMPXCHG, /* lock cmpxchg [dst+off], src    writes r0 */
	SHAPE_LDDW,           /* lddw dst, imm64        writes dst, two slots */
	SHAPE_LDDW_PSEUDO,    /* ld_xxx dst, imm, imm2  writes dst, two slots */
	SHAPE_TAIL_CALL,      /* tail_call imm          internal: only the rewrite makes it */
};

/* Field bits. */
enum { F_DST = 1, F_SRC = 2, F_OFF = 4, F_IMM = 8 };

struct bpfrt_form {
	const char *mnem;
	const char *sem;
	uint8_t code;
	uint8_t sel;      /* enum bpfrt_sel */
	uint8_t shape;    /* enum bpfrt_shape */
	int32_t selval;
};

BPFRT_HIDDEN extern const struct bpfrt_form bpfrt_forms[BPFRT_OP__COUNT];

/* Fields of `shape` that must be zero (before excepting the selector). */
BPFRT_HIDDEN extern const uint8_t bpfrt_zero_tab[SHAPE_TAIL_CALL + 1];
static inline unsigned bpfrt_shape_zero_fields(enum bpfrt_shape shape)
{
	return bpfrt_zero_tab[shape];
}

/* The decoded op of `insn`, or BPFRT_OP_INVALID. */
BPFRT_HIDDEN enum bpfrt_op bpfrt_insn_decode(const struct bpfrt_insn *insn);

/* The first form with opcode byte `code` (BPFRT_OP_INVALID if none). */
BPFRT_HIDDEN enum bpfrt_op bpfrt_insn_first_form(uint8_t code);

/* Number of forms whose mnemonic is `mnem`; their ops go into ops[]. */
BPFRT_HIDDEN int bpfrt_insn_by_mnem(const char *mnem, size_t len, enum bpfrt_op *ops, int max);

/* Properties derived from the shape. */
static inline bool bpfrt_op_is_lddw(enum bpfrt_op op)
{
	/* the LDDW forms are one run of insn.def (test_insn checks it against
	 * the shapes) */
	return (unsigned)op - (unsigned)BPFRT_OP_LDDW <=
	       (unsigned)(BPFRT_OP_LDDW_MAP_IDX_VALUE - BPFRT_OP_LDDW);
}

/* Steps pc past an LDDW's second slot in a scan.  A branch on purpose:
 * written as `pc += is_lddw(...)` compilers go branchless, and then each
 * iteration's load waits for the one before it (a scan costs ~8 ns per
 * instruction on this machine class, ~2 with the branch).  The empty asm
 * keeps the branch. */
#define BPFRT_SKIP_LDDW(op, pc)                                                \
	do {                                                                   \
		if (unlikely(bpfrt_op_is_lddw(op))) {                          \
			__asm__ volatile("");                                  \
			(pc)++;                                                \
		}                                                              \
	} while (0)

/* Instruction classes (low 3 bits of the opcode), as <linux/bpf.h> has them
 * (when that header came first, its definitions serve). */
#ifndef BPF_LD
enum { BPF_LD = 0, BPF_LDX = 1, BPF_ST = 2, BPF_STX = 3, BPF_ALU = 4,
       BPF_JMP = 5, BPF_JMP32 = 6, BPF_ALU64 = 7 };
#endif
#ifndef BPF_CLASS
#define BPF_CLASS(code) ((code) & 7)
#define BPF_MODE(code)  ((code) & 0xe0)
#endif
enum { BPF_MODE_ABS = 0x20, BPF_MODE_IND = 0x40 };

#endif
