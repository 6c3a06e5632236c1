/*
 * x86_enc.h — x86-64 encoding, in three layers (style.md rule 6):
 *
 *   1. a byte sink with a sticky error: emit1/2/4/8;
 *   2. encoding primitives: REX, ModRM, and the memory operand [base+disp]
 *      that handles the RSP/R12 SIB byte and the RBP/R13 disp8 case once;
 *   3. instruction helpers named by operand shape: emit_mov_rr,
 *      emit_alu_ri, emit_load, emit_store_r, emit_jcc, ...
 *
 * Registers are x86 numbers (0 rax .. 15 r15).  `w` selects 64-bit operand
 * size (REX.W); without it an operation is 32-bit and zero-extends its
 * destination, which is exactly BPF's ALU32 rule.
 */
#ifndef BPFRT_X86_ENC_H
#define BPFRT_X86_ENC_H

#include "common.h"

enum x86_reg {
	RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7,
	R8 = 8, R9 = 9, R10 = 10, R11 = 11, R12 = 12, R13 = 13, R14 = 14, R15 = 15
};

/* Group-1 ALU operations: the /digit of 81/83 and the base of the r/m,r form. */
enum x86_alu { X_ADD = 0, X_OR = 1, X_AND = 4, X_SUB = 5, X_XOR = 6, X_CMP = 7 };
/* Group-2 shifts: the /digit of c1/d1/d3. */
enum x86_shift { X_SHL = 4, X_SHR = 5, X_SAR = 7 };
/* Condition codes (low nibble of 7x / 0f 8x). */
enum x86_cc {
	CC_B = 0x2, CC_AE = 0x3, CC_E = 0x4, CC_NE = 0x5, CC_BE = 0x6, CC_A = 0x7,
	CC_L = 0xc, CC_GE = 0xd, CC_LE = 0xe, CC_G = 0xf
};

struct x86_buf {
	uint8_t *p;   /* NULL while sizing */
	size_t len;   /* bytes emitted so far */
	size_t cap;
	bool err;     /* sticky: set by the first overflow */
};

#ifdef X86_ENC_ROOMY
/* The user makes room before each instruction it emits (the JIT: see
 * JIT_INSN_ROOM) and never sizes: no test per byte. */
static inline void emit1(struct x86_buf *b, uint8_t x)
{
	b->p[b->len++] = x;
}
#else
static inline void emit1(struct x86_buf *b, uint8_t x)
{
	if (b->p) {
		if (unlikely(b->len >= b->cap)) {
			b->err = true;
			return;
		}
		b->p[b->len] = x;
	}
	b->len++;
}
#endif

static inline void emit2(struct x86_buf *b, uint8_t x, uint8_t y) { emit1(b, x); emit1(b, y); }
static inline void emit3(struct x86_buf *b, uint8_t x, uint8_t y, uint8_t z)
{
	emit1(b, x);
	emit1(b, y);
	emit1(b, z);
}

static inline void emit4(struct x86_buf *b, uint32_t x)
{
	for (int i = 0; i < 4; i++)
		emit1(b, (uint8_t)(x >> (8 * i)));
}

static inline void emit8(struct x86_buf *b, uint64_t x)
{
	emit4(b, (uint32_t)x);
	emit4(b, (uint32_t)(x >> 32));
}

static inline bool is_imm8(int64_t v) { return v >= -128 && v <= 127; }
static inline bool is_imm32(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }

/* REX prefix: W (64-bit), R (reg field), X (index), B (rm/base).  `force`
 * emits it even when empty: byte access to sil/dil/bpl/spl needs it. */
static inline void emit_rex(struct x86_buf *b, bool w, int reg, int rm, bool force)
{
	uint8_t rex = 0x40 | (w ? 8 : 0) | ((reg & 8) ? 4 : 0) | ((rm & 8) ? 1 : 0);
	if (rex != 0x40 || force)
		emit1(b, rex);
}

static inline void emit_modrm(struct x86_buf *b, int mod, int reg, int rm)
{
	emit1(b, (uint8_t)((mod << 6) | ((reg & 7) << 3) | (rm & 7)));
}

/* ModRM (+SIB, +disp) for [base + disp]. */
static inline __attribute__((always_inline)) void emit_mem(struct x86_buf *b, int reg, int base, int32_t disp)
{
	bool sib = (base & 7) == RSP; /* rsp and r12 need a SIB byte */
	if (disp == 0 && (base & 7) != RBP) { /* rbp and r13 have no disp-less form */
		emit_modrm(b, 0, reg, base);
		if (sib)
			emit1(b, 0x24);
	} else if (is_imm8(disp)) {
		emit_modrm(b, 1, reg, base);
		if (sib)
			emit1(b, 0x24);
		emit1(b, (uint8_t)disp);
	} else {
		emit_modrm(b, 2, reg, base);
		if (sib)
			emit1(b, 0x24);
		emit4(b, (uint32_t)disp);
	}
}

/* op r/m, reg  (register-direct): a generic two-register instruction. */
static inline __attribute__((always_inline)) void emit_op_rr(struct x86_buf *b, bool w, uint8_t op, int rm, int reg)
{
	emit_rex(b, w, reg, rm, false);
	emit1(b, op);
	emit_modrm(b, 3, reg, rm);
}

/* 0f op reg, r/m */
static inline void emit_op0f_rr(struct x86_buf *b, bool w, uint8_t op, int reg, int rm)
{
	emit_rex(b, w, reg, rm, false);
	emit2(b, 0x0f, op);
	emit_modrm(b, 3, reg, rm);
}

/* n bytes (0..8) of the recommended multi-byte nops, as one instruction */
static inline void emit_nop(struct x86_buf *b, unsigned n)
{
	static const uint8_t nops[9][8] = {
		{ 0 }, { 0x90 }, { 0x66, 0x90 }, { 0x0f, 0x1f, 0x00 }, { 0x0f, 0x1f, 0x40, 0x00 },
		{ 0x0f, 0x1f, 0x44, 0x00, 0x00 }, { 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00 },
		{ 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00 }, { 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 },
	};
	for (unsigned i = 0; i < n && n <= 8; i++)
		emit1(b, nops[n][i]);
}

/* mov dst, src */
static inline void emit_mov_rr(struct x86_buf *b, bool w, int dst, int src)
{
	emit_op_rr(b, w, 0x89, dst, src); /* 89 /r: mov r/m, r */
}

/* mov dst, imm: the shortest form that gives the 64-bit value (w) or the
 * zero-extended 32-bit value (!w). */
static inline void emit_mov_ri(struct x86_buf *b, bool w, int dst, int64_t imm)
{
	if (!w)
		imm = (uint32_t)imm;
	if (imm == 0) {
		emit_op_rr(b, false, 0x31, dst, dst); /* xor dst32, dst32 */
	} else if (imm > 0 && imm <= UINT32_MAX) {
		emit_rex(b, false, 0, dst, false);
		emit1(b, (uint8_t)(0xb8 + (dst & 7))); /* mov r32, imm32 */
		emit4(b, (uint32_t)imm);
	} else if (is_imm32(imm)) {
		emit_rex(b, true, 0, dst, false);
		emit1(b, 0xc7); /* mov r/m64, imm32 (sign-extended) */
		emit_modrm(b, 3, 0, dst);
		emit4(b, (uint32_t)imm);
	} else {
		emit_rex(b, true, 0, dst, false);
		emit1(b, (uint8_t)(0xb8 + (dst & 7))); /* movabs r64, imm64 */
		emit8(b, (uint64_t)imm);
	}
}

/* op dst, src for group-1 operations */
static inline void emit_alu_rr(struct x86_buf *b, bool w, enum x86_alu op, int dst, int src)
{
	emit_op_rr(b, w, (uint8_t)(op * 8 + 1), dst, src); /* 01/09/21/29/31/39 /r */
}

/* op dst, imm for group-1 operations (imm is sign-extended in 64-bit) */
static inline __attribute__((always_inline)) void emit_alu_ri(struct x86_buf *b, bool w, enum x86_alu op, int dst, int32_t imm)
{
	emit_rex(b, w, 0, dst, false);
	if (is_imm8(imm)) {
		emit1(b, 0x83); /* op r/m, imm8 */
		emit_modrm(b, 3, op, dst);
		emit1(b, (uint8_t)imm);
	} else {
		emit1(b, 0x81); /* op r/m, imm32 */
		emit_modrm(b, 3, op, dst);
		emit4(b, (uint32_t)imm);
	}
}

/* test dst, src */
static inline void emit_test_rr(struct x86_buf *b, bool w, int dst, int src)
{
	emit_op_rr(b, w, 0x85, dst, src);
}

/* test dst, imm32 */
static inline void emit_test_ri(struct x86_buf *b, bool w, int dst, int32_t imm)
{
	emit_rex(b, w, 0, dst, false);
	emit1(b, 0xf7); /* f7 /0 id */
	emit_modrm(b, 3, 0, dst);
	emit4(b, (uint32_t)imm);
}

/* shl/shr/sar dst, imm */
static inline void emit_shift_ri(struct x86_buf *b, bool w, enum x86_shift op, int dst, uint8_t n)
{
	emit_rex(b, w, 0, dst, false);
	if (n == 1) {
		emit1(b, 0xd1); /* shift r/m, 1 */
		emit_modrm(b, 3, op, dst);
	} else {
		emit1(b, 0xc1); /* shift r/m, imm8 */
		emit_modrm(b, 3, op, dst);
		emit1(b, n);
	}
}

/* shl/shr/sar dst, cl */
static inline void emit_shift_rcl(struct x86_buf *b, bool w, enum x86_shift op, int dst)
{
	emit_rex(b, w, 0, dst, false);
	emit1(b, 0xd3);
	emit_modrm(b, 3, op, dst);
}

/* f7 group-3: /2 not, /3 neg, /6 div, /7 idiv on a register */
static inline void emit_grp3_r(struct x86_buf *b, bool w, int digit, int rm)
{
	emit_rex(b, w, 0, rm, false);
	emit1(b, 0xf7);
	emit_modrm(b, 3, digit, rm);
}

/* imul dst, src */
static inline void emit_imul_rr(struct x86_buf *b, bool w, int dst, int src)
{
	emit_op0f_rr(b, w, 0xaf, dst, src);
}

/* imul dst, src, imm */
static inline void emit_imul_rri(struct x86_buf *b, bool w, int dst, int src, int32_t imm)
{
	emit_rex(b, w, dst, src, false);
	if (is_imm8(imm)) {
		emit1(b, 0x6b);
		emit_modrm(b, 3, dst, src);
		emit1(b, (uint8_t)imm);
	} else {
		emit1(b, 0x69);
		emit_modrm(b, 3, dst, src);
		emit4(b, (uint32_t)imm);
	}
}

/* Memory access sizes, in bytes. */
/* load: movzx/mov (zero-extending) or movsx (sign-extending) into dst */
static inline void emit_load(struct x86_buf *b, int size, bool sign, int dst, int base, int32_t off)
{
	switch (size) {
	case 1:
		emit_rex(b, sign, dst, base, false);
		emit2(b, 0x0f, sign ? 0xbe : 0xb6); /* movsx r64, m8 / movzx r32, m8 */
		break;
	case 2:
		emit_rex(b, sign, dst, base, false);
		emit2(b, 0x0f, sign ? 0xbf : 0xb7); /* movsx r64, m16 / movzx r32, m16 */
		break;
	case 4:
		emit_rex(b, sign, dst, base, false);
		emit1(b, sign ? 0x63 : 0x8b); /* movsxd r64, m32 / mov r32, m32 */
		break;
	default:
		emit_rex(b, true, dst, base, false);
		emit1(b, 0x8b); /* mov r64, m64 */
		break;
	}
	emit_mem(b, dst, base, off);
}

/* store a register of `size` bytes: mov [base+off], src */
static inline void emit_store_r(struct x86_buf *b, int size, int base, int32_t off, int src)
{
	if (size == 2)
		emit1(b, 0x66);
	/* byte stores of sil/dil/bpl/spl need a REX prefix */
	emit_rex(b, size == 8, src, base, size == 1 && src >= RSP && src <= RDI);
	emit1(b, size == 1 ? 0x88 : 0x89);
	emit_mem(b, src, base, off);
}

/* store an immediate: mov size [base+off], imm (sign-extended for 8) */
static inline void emit_store_i(struct x86_buf *b, int size, int base, int32_t off, int32_t imm)
{
	if (size == 2)
		emit1(b, 0x66);
	emit_rex(b, size == 8, 0, base, false);
	emit1(b, size == 1 ? 0xc6 : 0xc7);
	emit_mem(b, 0, base, off);
	if (size == 1)
		emit1(b, (uint8_t)imm);
	else if (size == 2)
		emit2(b, (uint8_t)imm, (uint8_t)(imm >> 8));
	else
		emit4(b, (uint32_t)imm);
}

/* [lock] op [base+off], reg — 4 or 8 bytes; op is the opcode after 0f if two_byte */
static inline void emit_mem_op(struct x86_buf *b, bool lock, bool w, bool two_byte, uint8_t op,
			       int base, int32_t off, int reg)
{
	if (lock)
		emit1(b, 0xf0);
	emit_rex(b, w, reg, base, false);
	if (two_byte)
		emit1(b, 0x0f);
	emit1(b, op);
	emit_mem(b, reg, base, off);
}

/* lea dst, [base+off] */
static inline void emit_lea(struct x86_buf *b, int dst, int base, int32_t off)
{
	emit_rex(b, true, dst, base, false);
	emit1(b, 0x8d);
	emit_mem(b, dst, base, off);
}

static inline void emit_push(struct x86_buf *b, int r)
{
	emit_rex(b, false, 0, r, false);
	emit1(b, (uint8_t)(0x50 + (r & 7)));
}

static inline void emit_pop(struct x86_buf *b, int r)
{
	emit_rex(b, false, 0, r, false);
	emit1(b, (uint8_t)(0x58 + (r & 7)));
}

/* jmp/jcc/call with a rel32 or rel8 displacement, relative to the end of
 * the instruction at offset `from` (the current length). */
static inline void emit_jmp(struct x86_buf *b, int64_t target)
{
	int64_t rel8 = target - (int64_t)(b->len + 2);
	if (is_imm8(rel8)) {
		emit2(b, 0xeb, (uint8_t)rel8); /* jmp rel8 */
	} else {
		emit1(b, 0xe9); /* jmp rel32 */
		emit4(b, (uint32_t)(target - (int64_t)(b->len + 4)));
	}
}

static inline void emit_jcc(struct x86_buf *b, enum x86_cc cc, int64_t target)
{
	int64_t rel8 = target - (int64_t)(b->len + 2);
	if (is_imm8(rel8)) {
		emit2(b, (uint8_t)(0x70 | cc), (uint8_t)rel8); /* jcc rel8 */
	} else {
		emit2(b, 0x0f, (uint8_t)(0x80 | cc)); /* jcc rel32 */
		emit4(b, (uint32_t)(target - (int64_t)(b->len + 4)));
	}
}

/* call rel32 to an offset in the same image */
static inline void emit_call_rel(struct x86_buf *b, int64_t target)
{
	emit1(b, 0xe8);
	emit4(b, (uint32_t)(target - (int64_t)(b->len + 4)));
}

/* call reg */
static inline void emit_call_r(struct x86_buf *b, int r)
{
	emit_rex(b, false, 0, r, false);
	emit2(b, 0xff, (uint8_t)(0xd0 | (r & 7))); /* ff /2 */
}

#endif
