/*
 * jit_x86.c — the x86-64 JIT.
 *
 *   decoded program ──► functions (main + subprograms), frame sizes, saved
 *   registers, call graph check ──► one emission into a scratch buffer, jumps
 *   short ──► relaxation over the jump records ──► allocate executable
 *   memory ──► copy: jumps in their final forms, address-dependent places
 *   rewritten, the layout checked ──► seal (RX view).
 *
 * Register mapping (the kernel's):
 *
 *   R0 rax   R1 rdi   R2 rsi   R3 rdx   R4 rcx   R5 r8
 *   R6 rbx   R7 r13   R8 r14   R9 r15   R10 rbp
 *   r10: BPF_REG_AX (blinding), r11 and r9: scratch
 *
 * R1..R5 are the SysV argument registers, so a helper call is a plain call;
 * R6..R9 are callee-saved, so they survive helper calls.  A test mode
 * permutes R1..R5 among themselves and R6..R9 among themselves (uBPF's
 * trick) to catch code that assumes the mapping.
 *
 * Each function (the main program and every subprogram) has its own frame,
 * laid out as seed 004 and the kernel's current JIT:
 *
 *   0f 1f 44 00 00   nop5            patch site (fentry / trampolines)
 *   0f 1f 00         nop3            (xor rax,rax when a tail call is reachable)
 *   55               push rbp
 *   48 89 e5         mov rbp, rsp    <- a tail call enters here (12 bytes in)
 *   48 81 ec imm32   sub rsp, depth  the function's stack (BPF R10 = rbp)
 *   push rbx/r13/r14/r15             only those the function uses
 *   ...
 *   pop  r15/r14/r13/rbx             the single epilogue, in reverse
 *   c9               leave
 *   c3               ret
 *
 * depth is rounded so that rsp is 16-byte aligned after the pushes: helpers
 * are ordinary C functions.  Every exit jumps to the epilogue (the last one
 * falls into it).  Local calls are `call rel32` (or, to a small leaf, its
 * body inlined: see "inlined calls"); helper calls `call rel32`
 * when the code window reaches the helper, else `movabs r11, fn; call r11`.
 *
 * Tail calls.  The run's count lives in r12, which no BPF register maps to:
 * one count per run, shared by every function and every program the run
 * tail-calls into, as the kernel's tail_call_cnt_ptr shares it (a
 * subprogram's tail calls count for its callers too: nothing restores r12
 * on a return), but in a register: no slots, no pointer handed to callees,
 * no memory traffic per tail call.  C code keeps r12 (callee-saved), so
 * helpers and trampolines do too; where C enters a program that has tail
 * calls, a stub at the end of its image saves C's r12, zeroes the count and
 * calls the main function (jit->entry is the stub); a helper calling a
 * callback hands it a spent count (bpfrt_jit_callback).  bpf_tail_call
 * checks the index against max_entries, the count against the limit, the
 * slot for NULL, raises the count, then unwinds this function only (pops its
 * callee-saved registers, rsp = rbp) and jumps 12 bytes into the target,
 * past its entry region: the target's frame takes this function's place,
 * the callers' frames stay (seed 002).
 *
 * One emission.  The code is emitted once, into a scratch buffer, with
 * every jump between instructions short; each jump, and each place whose
 * bytes depend on where the code ends up (calls to helpers, to functions
 * and to the thunk, a callback's address, the tail-call patch sites), is
 * recorded, and so is an alignment pad before each subprogram and each loop
 * head (grow: nops where they keep a small loop or callee in one 32-byte
 * window).  The relaxation over the records (no emission: only jumps and
 * pads change size) makes long the jumps that do not reach, sweeping until
 * no jump changes (jumps only grow, so it converges).  Then one copy into the
 * executable memory: the bytes between jumps as they are, each jump in its
 * final form, and the recorded places rewritten for the final address.
 */
#include "internal.h"
#include "jit.h"
#include "map.h"
#define X86_ENC_ROOMY /* room() before each instruction */
#include "x86_enc.h"

#include <linux/bpf.h>

#include <setjmp.h>

#define PATCH_SIZE 5          /* nop5 */
#define TAIL_CALL_OFFSET 12   /* nop5 + nop3 + push rbp + mov rbp,rsp */

struct jfunc {
	size_t start, end;      /* instructions [start, end) */
	uint32_t mask;          /* BPF registers the function names */
	bool calls;             /* it calls something (a helper, a function, a tail call) */
	bool frameless;         /* a leaf subprogram without stack: no rbp frame */
	bool inl;               /* calls to it are inlined (inlinable) */
	uint32_t ninl;          /* call sites inlined so far */
	uint32_t depth;         /* bytes subtracted from rsp */
	uint8_t nsaved;
	uint8_t saved[4];       /* x86 callee-saved registers pushed, in order */
	uint32_t entry;         /* code offset of the prologue */
	uint32_t epilogue;      /* code offset of the epilogue */
	uint32_t epi1;          /* the epilogue's offset in the scratch code */
	uint32_t entry_rank, epi_rank; /* the records (jumps, pads) before the prologue, the epilogue */
};

/* A jump between instructions (or to an epilogue), or an alignment pad
 * (before a function, before the target of a backward jump: see grow),
 * recorded by the emission in code order. */
struct jrec {
	uint32_t t;             /* target instruction, or JT_EPILOGUE - f (a pad: the bytes
				 * it aligns, the loop's or the function's) */
	uint32_t end;           /* scratch: where the short form ends (a pad: where it goes) */
	uint32_t t1, trank;     /* the target's scratch offset; records before it */
	uint32_t final;         /* the target's final offset */
	uint8_t delta;          /* how much longer the long form is (a pad: its size) */
	uint8_t is_long;        /* (a pad is long: it is written by the copy) */
	uint8_t pad;
};
#define ALIGN 32 /* the front end fetches and caches code by 32-byte windows */

/* Per instruction, from the emission: its offset and the jumps before it. */
struct jat {
	uint32_t ofs, rank;
};

/* A place whose bytes depend on the final address. */
enum jrel_kind {
	JR_CALL_ABS,   /* rel32 of a call to an absolute address (a helper) */
	JR_CALL_FN,    /* rel32 of a call to function `arg`'s entry */
	JR_CALL_THUNK, /* rel32 of a call to the retpoline thunk */
	JR_ADDR_FN,    /* imm64: the address of function `arg`'s entry */
	JR_POKE,       /* a patch area of direct tail-call site arg / 2 (A, or B if odd) */
	JR_POKE_OUT,   /* where direct tail-call site `arg` goes on when it does not jump */
	JR_ALIAS,      /* the patch site (nop5) before inlined call `arg` */
	JR_ALIAS_STUB, /* the stub of inlined call `arg`: call the function, jmp back */
};

/* An inlined call: its function, where the code after it goes on. */
struct jalias {
	uint32_t fn, resume;
};

struct jrel {
	uint32_t pos, rank;     /* scratch offset; jumps before it */
	uint32_t kind, arg;
	uint64_t target;        /* JR_CALL_ABS */
};

struct jctx {
	const struct bpfrt_prog *prog;
	const struct bpfrt_insn *in;
	size_t n;
	uint8_t reg[16];        /* BPF register (and AX, 11) -> x86 register; 12..15: 0 (a field that
				 * names no register reads as one, unused: no range check) */
	bool permuted_args;     /* R1..R5 are not in SysV order */
	bool tail_calls;        /* the program has a bpf_tail_call */
	uint32_t *site_ofs;     /* per direct tail-call site (place): site A, site B, cont, out */
	struct jfunc *fn;
	size_t nfn;
	const struct jfunc *curfn; /* the function being emitted */
	bool has_call;          /* a bpf-to-bpf call */
	bool has_callx;
	struct jat *at;         /* per instruction (n + 1) */
	struct jrec *j;         /* the jumps, in code order */
	size_t nj;
	struct jrel *rel;       /* the places to rewrite at the final address */
	size_t nrel, caprel;
	uint32_t *prefix;       /* after the relaxation: growth of the jumps before jump k */
	uint32_t code_end;      /* final: where the instructions' code ends */
	size_t nat_cap, nj_cap; /* the work buffers' capacities (work_get) */
	uint8_t *jtarget;       /* per instruction: a jump lands on it (NULL: no jumps) */
	size_t prev_pc;         /* the instruction emitted last in this function, or SIZE_MAX */
	bool force_far;         /* testing: call helpers through a register */
	bool retpoline;         /* indirect calls go through a retpoline thunk */
	const uint64_t *helper_tab;
	uint32_t nhelper_tab;
	bool no_inline;         /* every local call is a call */
	struct jalias *alias;   /* the inlined calls, in code order */
	size_t nalias, capalias;
	struct bpfrt_jit_alias *alias_ofs; /* place: their final offsets */
	uint32_t end1;          /* scratch: where the functions and the stubs end */
	struct x86_buf b;
};

/* ---- thread-local fault exit (callx to a bad id) ---- */

static __thread jmp_buf *fault_jb;
static __thread uint64_t fault_pc, fault_val;

static void __attribute__((noreturn, used)) jit_callx_fault(uint64_t pc, uint64_t val)
{
	fault_pc = pc;
	fault_val = val;
	longjmp(*fault_jb, 1);
}

/* ---- small emission helpers that know the register map ---- */

#define R(x) (c->reg[(x)])

/*
 * Jumps between instructions.  The emission writes each one short and
 * records it; the relaxation decides which are long and where each target
 * ends up; the copy (place) writes each in its final form.
 */
#define JT_EPILOGUE UINT32_MAX
#define JT_LOOP 2 /* jtarget: a backward jump lands here (a pad aligns it) */
static void j_jump(struct jctx *c, uint32_t t, uint8_t short_op, bool cond)
{
	struct x86_buf *b = &c->b;
	c->j[c->nj++] = (struct jrec){ .t = t, .end = (uint32_t)b->len + 2, .delta = cond ? 4 : 3 };
	emit2(b, short_op, 0); /* jmp/jcc rel8 (rel32: 3 / 4 bytes more) */
}

/* Records a place to rewrite at the final address (here: b->len). */
static void j_rel(struct jctx *c, enum jrel_kind kind, uint32_t arg, uint64_t target)
{
	if (c->nrel == c->caprel) {
		size_t cap = c->caprel ? 2 * c->caprel : 64;
		struct jrel *r = realloc(c->rel, cap * sizeof(*r));
		if (!r) {
			c->b.err = true;
			return;
		}
		c->rel = r;
		c->caprel = cap;
	}
	c->rel[c->nrel++] = (struct jrel){ (uint32_t)c->b.len, (uint32_t)c->nj, kind, arg, target };
}

/* An alignment pad here: its size is known once the jumps before it are. */
static void j_pad(struct jctx *c)
{
	c->j[c->nj++] = (struct jrec){ .end = (uint32_t)c->b.len, .is_long = 1, .pad = 1 };
}

/* A backward jump to t, a loop head, ends here: the pad before t (the
 * record just before t's) learns the loop's length. */
static void j_loop(struct jctx *c, size_t t)
{
	if (!c->at[t].rank)
		return; /* (never: a pad is there) */
	struct jrec *p = &c->j[c->at[t].rank - 1];
	uint32_t len = (uint32_t)c->b.len - c->at[t].ofs;
	if (p->pad && len > p->t)
		p->t = len;
}

static void j_jmp(struct jctx *c, size_t t)
{
	j_jump(c, (uint32_t)t, 0xeb, false);
}

static void j_jcc(struct jctx *c, enum x86_cc cc, size_t t)
{
	j_jump(c, (uint32_t)t, (uint8_t)(0x70 | cc), true);
}

/* A forward jcc rel8 inside one instruction's code; patched by fwd_here. */
static size_t fwd_jcc(struct x86_buf *b, enum x86_cc cc)
{
	emit2(b, (uint8_t)(0x70 | cc), 0);
	return b->len - 1;
}

static size_t fwd_jmp(struct x86_buf *b)
{
	emit2(b, 0xeb, 0);
	return b->len - 1;
}

static void fwd_here(struct x86_buf *b, size_t at)
{
	size_t d = b->len - (at + 1);
	BPFRT_ASSERT(d < 128);
	if (b->p && at < b->cap)
		b->p[at] = (uint8_t)d;
}

/* movzx/movsx dst, src8/16 (0f b6/b7/be/bf) */
static void emit_movx_rr(struct x86_buf *b, bool w, uint8_t op, int dst, int src)
{
	bool byte = op == 0xb6 || op == 0xbe;
	emit_rex(b, w, dst, src, byte && src >= RSP && src <= RDI);
	emit2(b, 0x0f, op);
	emit_modrm(b, 3, dst, src);
}

/*
 * An indirect call through r11.  With the retpoline option it is a direct
 * call to this image's thunk (after the functions; the copy writes the
 * displacement):
 *
 *   thunk:  e8 07 00 00 00   call 1f
 *        2: f3 90            pause
 *           0f ae e8         lfence
 *           eb f9            jmp 2b
 *        1: 4c 89 1c 24      mov [rsp], r11
 *           c3               ret
 */
#define THUNK_SIZE 17
static void emit_icall_r11(struct jctx *c)
{
	if (c->retpoline) {
		emit1(&c->b, 0xe8); /* call thunk */
		j_rel(c, JR_CALL_THUNK, 0, 0);
		emit4(&c->b, 0);
	} else {
		emit_call_r(&c->b, R11);
	}
}

static void emit_thunk(struct x86_buf *b)
{
	emit1(b, 0xe8); emit4(b, 7);               /* call 1f */
	emit2(b, 0xf3, 0x90);                      /* 2: pause */
	emit3(b, 0x0f, 0xae, 0xe8);                /* lfence */
	emit2(b, 0xeb, 0xf9);                      /* jmp 2b */
	emit2(b, 0x4c, 0x89); emit2(b, 0x1c, 0x24); /* 1: mov [rsp], r11 */
	emit1(b, 0xc3);                            /* ret */
}

/* Calls a C function at fn: direct when the window reaches it. */
static void emit_call_abs(struct jctx *c, uintptr_t fn)
{
	if (!c->force_far && bpfrt_jit_mem_reaches(fn)) {
		emit1(&c->b, 0xe8); /* call rel32 */
		j_rel(c, JR_CALL_ABS, 0, fn);
		emit4(&c->b, 0);
	} else {
		emit_mov_ri(&c->b, true, R11, (int64_t)fn); /* movabs r11, fn */
		emit_icall_r11(c);
	}
}

/* Puts R1..R5 into the SysV argument registers when the mapping is permuted. */
static void emit_args_to_sysv(struct jctx *c)
{
	static const uint8_t sysv[5] = { RDI, RSI, RDX, RCX, R8 };
	if (!c->permuted_args)
		return;
	for (int r = 5; r >= 1; r--)
		emit_push(&c->b, R(r));
	for (int r = 1; r <= 5; r++)
		emit_pop(&c->b, sysv[r - 1]);
}

/* ---- ALU ---- */

static void emit_div(struct jctx *c, bool w, bool mod, bool sgn, int d, bool k, int s, int32_t imm)
{
	struct x86_buf *b = &c->b;
	size_t done1 = SIZE_MAX, done2 = SIZE_MAX;
	if (k) {
		if (imm == 0) { /* d / 0 = 0; d % 0 = d */
			if (!mod)
				emit_mov_ri(b, false, d, 0);
			else if (!w)
				emit_mov_rr(b, false, d, d);
			return;
		}
		if (sgn && imm == -1) { /* d / -1 = -d; d % -1 = 0 (no #DE on MIN / -1) */
			if (!mod)
				emit_grp3_r(b, w, 3, d); /* neg */
			else
				emit_mov_ri(b, false, d, 0);
			return;
		}
		emit_mov_ri(b, w, R11, w ? (int64_t)imm : (int64_t)(uint32_t)imm);
	} else {
		emit_mov_rr(b, w, R11, s);
		emit_test_rr(b, w, R11, R11);
		size_t nz = fwd_jcc(b, CC_NE);
		if (!mod)
			emit_mov_ri(b, false, d, 0);
		else if (!w)
			emit_mov_rr(b, false, d, d);
		done1 = fwd_jmp(b);
		fwd_here(b, nz);
		if (sgn) {
			emit_alu_ri(b, w, X_CMP, R11, -1);
			size_t ne = fwd_jcc(b, CC_NE);
			if (!mod)
				emit_grp3_r(b, w, 3, d);
			else
				emit_mov_ri(b, false, d, 0);
			done2 = fwd_jmp(b);
			fwd_here(b, ne);
		}
	}
	/* rdx:rax / r11; rax and rdx saved in r10 and r9 unless they are d */
	if (d != RAX)
		emit_mov_rr(b, true, R10, RAX);
	if (d != RDX)
		emit_mov_rr(b, true, R9, RDX);
	if (d != RAX)
		emit_mov_rr(b, w, RAX, d);
	if (sgn) {
		if (w)
			emit2(b, 0x48, 0x99); /* cqo */
		else
			emit1(b, 0x99); /* cdq */
	} else {
		emit_op_rr(b, false, 0x31, RDX, RDX); /* xor edx, edx */
	}
	emit_grp3_r(b, w, sgn ? 7 : 6, R11); /* idiv / div r11 (32-bit: results zero-extended) */
	if (d != (mod ? RDX : RAX))
		emit_mov_rr(b, w, d, mod ? RDX : RAX);
	if (d != RAX)
		emit_mov_rr(b, true, RAX, R10);
	if (d != RDX)
		emit_mov_rr(b, true, RDX, R9);
	if (done1 != SIZE_MAX)
		fwd_here(b, done1);
	if (done2 != SIZE_MAX)
		fwd_here(b, done2);
}

static void emit_shift_x(struct jctx *c, bool w, enum x86_shift op, int d, int s)
{
	struct x86_buf *b = &c->b;
	if (s == RCX) {
		emit_shift_rcl(b, w, op, d);
	} else if (d == RCX) {
		emit_mov_rr(b, true, R11, RCX);   /* r11 = d */
		emit_mov_rr(b, true, RCX, s);
		emit_shift_rcl(b, w, op, R11);
		emit_mov_rr(b, true, RCX, R11);   /* d = result */
	} else {
		emit_mov_rr(b, true, R11, RCX);   /* save rcx */
		emit_mov_rr(b, true, RCX, s);
		emit_shift_rcl(b, w, op, d);
		emit_mov_rr(b, true, RCX, R11);
	}
	if (!w && d == RCX)
		emit_mov_rr(b, false, RCX, RCX);  /* the 64-bit moves above kept bits 32..63 */
}

static void emit_shift_k(struct jctx *c, bool w, enum x86_shift op, int d, int32_t imm)
{
	uint8_t n = (uint8_t)(imm & (w ? 63 : 31));
	if (n)
		emit_shift_ri(&c->b, w, op, d, n);
	else if (!w)
		emit_mov_rr(&c->b, false, d, d);
}

/* ---- atomics ---- */

static void emit_atomic(struct jctx *c, enum bpfrt_op op, const struct bpfrt_insn *in)
{
	struct x86_buf *b = &c->b;
	bool w = bpfrt_forms[op].code == 0xdb;
	int d = R(in->dst), s = R(in->src);
	int32_t off = in->off;
	switch (op) {
	case BPFRT_OP_AADD64: case BPFRT_OP_AADD32:
		emit_mem_op(b, true, w, false, 0x01, d, off, s); /* lock add [d+off], s */
		return;
	case BPFRT_OP_AOR64: case BPFRT_OP_AOR32:
		emit_mem_op(b, true, w, false, 0x09, d, off, s); /* lock or */
		return;
	case BPFRT_OP_AAND64: case BPFRT_OP_AAND32:
		emit_mem_op(b, true, w, false, 0x21, d, off, s); /* lock and */
		return;
	case BPFRT_OP_AXOR64: case BPFRT_OP_AXOR32:
		emit_mem_op(b, true, w, false, 0x31, d, off, s); /* lock xor */
		return;
	case BPFRT_OP_AFADD64: case BPFRT_OP_AFADD32:
		emit_mem_op(b, true, w, true, 0xc1, d, off, s); /* lock xadd [d+off], s */
		return;
	case BPFRT_OP_AXCHG64: case BPFRT_OP_AXCHG32:
		emit_mem_op(b, false, w, false, 0x87, d, off, s); /* xchg [d+off], s */
		return;
	case BPFRT_OP_ACMPXCHG64: case BPFRT_OP_ACMPXCHG32:
		emit_mem_op(b, true, w, true, 0xb1, d, off, s); /* lock cmpxchg [d+off], s */
		if (!w)
			emit_mov_rr(b, false, RAX, RAX); /* r0 = (u32)old, on success too */
		return;
	default:
		break;
	}
	/* fetch or/and/xor: a cmpxchg loop with rax as the accumulator.
	 *   lea r9, [d+off]; mov r10, rax; mov rax, [r9]
	 * 1: mov r11, rax; op r11, s'; lock cmpxchg [r9], r11; jne 1b
	 *   mov s, rax; mov rax, r10 (unless s is rax: it takes the old value)
	 * where s' is r10 when s is rax (the program's R0, saved). */
	enum x86_alu alu = (op == BPFRT_OP_AFOR64 || op == BPFRT_OP_AFOR32) ? X_OR :
			   (op == BPFRT_OP_AFAND64 || op == BPFRT_OP_AFAND32) ? X_AND : X_XOR;
	emit_lea(b, R9, d, off);
	emit_mov_rr(b, true, R10, RAX);
	emit_load(b, w ? 8 : 4, false, RAX, R9, 0);
	size_t loop = b->len;
	emit_mov_rr(b, true, R11, RAX);
	emit_alu_rr(b, w, alu, R11, s == RAX ? R10 : s);
	emit_mem_op(b, true, w, true, 0xb1, R9, 0, R11);
	emit_jcc(b, CC_NE, loop);
	if (s != RAX) {
		emit_mov_rr(b, w, s, RAX); /* 32-bit: zero-extended old value */
		emit_mov_rr(b, true, RAX, R10);
	} else if (!w) {
		emit_mov_rr(b, false, RAX, RAX);
	}
}

/* ---- one instruction ---- */

/* The function starting at instruction t (a call's target). */
static const struct jfunc *func_at(const struct jctx *c, size_t t)
{
	size_t lo = 0, hi = c->nfn;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (c->fn[mid].start <= t)
			lo = mid;
		else
			hi = mid;
	}
	return &c->fn[lo];
}

/* Both kinds of tail call: out when the count (r12d) is spent. */
#define TAIL_COUNT R12
static size_t emit_tail_count_check(struct jctx *c)
{
	struct x86_buf *b = &c->b;
	emit_alu_ri(b, false, X_CMP, TAIL_COUNT, BPFRT_MAX_TAIL_CALLS);
	return fwd_jcc(b, CC_AE);
}

/* Both kinds, once the target is known: count the call, hand the callee
 * ctx where entries take it, and drop this frame; the jump to the target
 * follows. */
static void emit_tail_unwind(struct jctx *c, const struct jfunc *fn)
{
	struct x86_buf *b = &c->b;
	emit_alu_ri(b, false, X_ADD, TAIL_COUNT, 1);                        /* the count, raised */
	if (R(1) != RDI)
		emit_mov_rr(b, true, RDI, R(1));
	for (int i = fn->nsaved - 1; i >= 0; i--)
		emit_pop(b, fn->saved[i]);
	emit_mov_rr(b, true, RSP, RBP);                                     /* this frame is gone */
}

/* A patch site: POKE_AREA bytes, the 5-byte site at the first place where
 * it fits in one aligned 8-byte word (code offsets are addresses mod 8: the
 * code starts 64-byte aligned), nops around it.  A fixed size: the copy
 * lays it out again at the final address.  Returns the site's offset. */
#define POKE_AREA 12
static uint32_t emit_poke_area(struct x86_buf *b)
{
	unsigned pad = (b->len & 7) <= 3 ? 0 : 8 - (unsigned)(b->len & 7);
	emit_nop(b, pad);
	uint32_t site = (uint32_t)b->len;
	for (int i = 0; i < 5; i++)
		emit1(b, 0xcc);                                             /* int3: map.c writes it */
	emit_nop(b, POKE_AREA - 5 - pad);
	return site;
}

/* A tail call the verifier proved direct (map and key constant): the count
 * check, then site A (bypass), then the count, the unwinding and site B
 * (the target); see map.h for the sites' states. */
static void emit_tail_call_direct(struct jctx *c, int32_t site)
{
	struct x86_buf *b = &c->b;
	size_t out = emit_tail_count_check(c);
	j_rel(c, JR_POKE, 2 * (uint32_t)site, 0);
	emit_poke_area(b);
	emit_tail_unwind(c, c->curfn);
	j_rel(c, JR_POKE, 2 * (uint32_t)site + 1, 0);
	emit_poke_area(b);
	fwd_here(b, out);
	j_rel(c, JR_POKE_OUT, (uint32_t)site, 0);
}

/* bpf_tail_call(R1 = ctx, R2 = prog_array, R3 = index); see the top. */
static void emit_tail_call(struct jctx *c, size_t pc)
{
	struct x86_buf *b = &c->b;
	if (c->in[pc].imm > 0) { /* direct: site imm - 1 */
		emit_tail_call_direct(c, c->in[pc].imm - 1);
		return;
	}
	emit_mov_rr(b, false, R9, R(3));                                    /* r9d = index */
	emit_mem_op(b, false, false, false, 0x39, R(2), offsetof(struct bpfrt_map, max_entries),
		    R9);                                                    /* cmp [map + max_entries], r9d */
	size_t out1 = fwd_jcc(b, CC_BE);                                    /* max_entries <= index */
	size_t out2 = emit_tail_count_check(c);
	emit_load(b, 8, false, R11, R(2), offsetof(struct bpfrt_map, entries));
	emit4(b, 0xcb1c8b4f);                                               /* mov r11, [r11 + r9*8] */
	emit_test_rr(b, true, R11, R11);
	size_t out3 = fwd_jcc(b, CC_E);                                     /* an empty slot */
	emit_tail_unwind(c, c->curfn);
	emit3(b, 0x41, 0xff, 0xe3);                                         /* jmp r11 */
	fwd_here(b, out1);
	fwd_here(b, out2);
	fwd_here(b, out3);
}

/* The instruction emitted just before pc in this function, if control only
 * comes to pc from it (no jump lands on pc); else NULL. */
static const struct bpfrt_insn *only_pred(const struct jctx *c, size_t pc)
{
	if (c->prev_pc != pc - 1 || pc == 0 || (c->jtarget && c->jtarget[pc]))
		return NULL;
	return &c->in[pc - 1];
}

/*
 * Whether ZF already tells dst == 0 at a jeq/jne dst, 0 (pc): the
 * instruction emitted just before it, in this function, is an add, sub,
 * and, or or xor into dst whose x86 code ends with that operation (ZF from
 * its result; a 32-bit one zero-extends, so it serves a 64-bit compare too,
 * not the other way), and no jump lands on pc (from elsewhere the flags are
 * not that instruction's).  Saves the `test` of `sub r, 1; jne r, 0, loop`.
 */
static bool zf_of(const struct jctx *c, size_t pc, unsigned dst, bool w64)
{
	const struct bpfrt_insn *p = only_pred(c, pc);
	if (!p || p->dst != dst)
		return false;
	switch (p->code) {
	case BPFRT_OP_ADD64_K: case BPFRT_OP_ADD64_X: case BPFRT_OP_SUB64_K: case BPFRT_OP_SUB64_X:
	case BPFRT_OP_AND64_K: case BPFRT_OP_AND64_X: case BPFRT_OP_OR64_K: case BPFRT_OP_OR64_X:
	case BPFRT_OP_XOR64_K: case BPFRT_OP_XOR64_X:
		return w64;
	case BPFRT_OP_ADD32_K: case BPFRT_OP_ADD32_X: case BPFRT_OP_SUB32_K: case BPFRT_OP_SUB32_X:
	case BPFRT_OP_AND32_K: case BPFRT_OP_AND32_X: case BPFRT_OP_OR32_K: case BPFRT_OP_OR32_X:
	case BPFRT_OP_XOR32_K: case BPFRT_OP_XOR32_X:
		return true;
	default:
		return false;
	}
}

/*
 * Whether dst is 0 or 1 at a multiplication (pc) because the instruction
 * emitted just before it, in this function, is `and dst, 1` and no jump
 * lands on pc.  Then dst * k is -dst & k: neg and and, two 1-cycle
 * instructions instead of a 3-cycle imul (the bit-serial CRC's
 * `(crc & 1) * poly`).  Either width of the and serves either width of the
 * mul: dst is 0 or 1 in all 64 bits.
 */
static bool is_bit(const struct jctx *c, size_t pc, unsigned dst)
{
	const struct bpfrt_insn *p = only_pred(c, pc);
	return p && p->dst == dst && p->imm == 1 &&
	       (p->code == BPFRT_OP_AND64_K || p->code == BPFRT_OP_AND32_K);
}

/* Per operation, from insn.def at compile time (a load instead of tests on
 * the form in the per-instruction loops): whether its x86 code is 64-bit
 * (the ALU64 and JMP classes). */
static const bool op_w64[BPFRT_OP__COUNT] = {
#define INSN(ID, CODE, SEL, SELV, M, SHAPE, SEM) \
	[BPFRT_OP_##ID] = ((CODE) & 7) == BPF_ALU64 || ((CODE) & 7) == BPF_JMP,
#include "insn.def"
#undef INSN
};
/* What the planning scan needs of an operation, in one load: bits 0-15 a
 * mask that keeps src's register bit where src names a register (not a
 * selector: calls, LDDW forms); above them, what it does with it. */
enum {
	P_SRC = 0xffff,
	P_JUMP = 1 << 16, P_JA32 = 1 << 17, P_FUNC = 1 << 18, P_CALL = 1 << 19, P_LDDW = 1 << 20,
	P_PLAN = 0x1f << 16, /* one of those: more than its registers */
	P_CALLS = 1 << 21,   /* a call of any kind: a function with one is no leaf */
	P_CALLX = 1 << 22,
};
#define IS(SHAPE, S) (SHAPE_##SHAPE == SHAPE_##S)
#define SCAN_OF(ID, SEL, SHAPE)                                                                \
	((SEL_##SEL == SEL_SRC ? 0 : P_SRC) |                                                   \
	 (IS(SHAPE, JA) || IS(SHAPE, JA32) || IS(SHAPE, JCC_K) || IS(SHAPE, JCC_X)) * P_JUMP |  \
	 IS(SHAPE, JA32) * P_JA32 |                                                             \
	 (IS(SHAPE, CALL_LOCAL) || BPFRT_OP_##ID == BPFRT_OP_LDDW_FUNC) * P_FUNC |              \
	 IS(SHAPE, CALL_LOCAL) * P_CALL | (IS(SHAPE, LDDW) || IS(SHAPE, LDDW_PSEUDO)) * P_LDDW | \
	 (IS(SHAPE, CALL_HELPER) || IS(SHAPE, CALL_LOCAL) || IS(SHAPE, CALL_KFUNC) ||           \
	  IS(SHAPE, CALLX) || IS(SHAPE, TAIL_CALL)) * P_CALLS |                                \
	 IS(SHAPE, CALLX) * P_CALLX)
static const uint32_t op_scan[BPFRT_OP__COUNT] = {
#define INSN(ID, CODE, SEL, SELV, M, SHAPE, SEM) [BPFRT_OP_##ID] = SCAN_OF(ID, SEL, SHAPE),
#include "insn.def"
#undef INSN
};
#undef SCAN_OF
#undef IS

static bool emit_inlined(struct jctx *c, size_t pc, struct jfunc *g);

/* inlined into emit_all: one loop, no call per instruction (12% of the emission) */
static inline __attribute__((always_inline)) void emit_insn(struct jctx *c, size_t pc)
{
	struct x86_buf *b = &c->b;
	const struct bpfrt_insn *in = &c->in[pc];
	enum bpfrt_op op = in->code;
	const struct bpfrt_form *f = &bpfrt_forms[op];
	int d = R(in->dst), s = R(in->src);
	int32_t imm = in->imm;
	bool w = op_w64[op];

	switch (op) {
#define ALU_CASES(N, X)                                                        \
	case BPFRT_OP_##N##64_K: case BPFRT_OP_##N##32_K:                      \
		emit_alu_ri(b, w, X, d, imm);                                  \
		return;                                                        \
	case BPFRT_OP_##N##64_X: case BPFRT_OP_##N##32_X:                      \
		emit_alu_rr(b, w, X, d, s);                                    \
		return;
	ALU_CASES(ADD, X_ADD)
	ALU_CASES(SUB, X_SUB)
	ALU_CASES(OR, X_OR)
	ALU_CASES(AND, X_AND)
	ALU_CASES(XOR, X_XOR)
#undef ALU_CASES
	case BPFRT_OP_MUL64_K: case BPFRT_OP_MUL32_K:
		if (is_bit(c, pc, in->dst)) {
			emit_grp3_r(b, w, 3, d); /* neg: 0 or all ones */
			emit_alu_ri(b, w, X_AND, d, imm);
		} else {
			emit_imul_rri(b, w, d, d, imm);
		}
		return;
	case BPFRT_OP_MUL64_X: case BPFRT_OP_MUL32_X:
		emit_imul_rr(b, w, d, s);
		return;
	case BPFRT_OP_DIV64_K: case BPFRT_OP_DIV32_K: case BPFRT_OP_DIV64_X: case BPFRT_OP_DIV32_X:
	case BPFRT_OP_MOD64_K: case BPFRT_OP_MOD32_K: case BPFRT_OP_MOD64_X: case BPFRT_OP_MOD32_X:
	case BPFRT_OP_SDIV64_K: case BPFRT_OP_SDIV32_K: case BPFRT_OP_SDIV64_X: case BPFRT_OP_SDIV32_X:
	case BPFRT_OP_SMOD64_K: case BPFRT_OP_SMOD32_K: case BPFRT_OP_SMOD64_X: case BPFRT_OP_SMOD32_X: {
		bool mod = (f->code & 0xf0) == 0x90;
		bool k = !(f->code & 0x08);
		emit_div(c, w, mod, in->off == 1, d, k, s, imm);
		return;
	}
#define SHIFT_CASES(N, X)                                                      \
	case BPFRT_OP_##N##64_K: case BPFRT_OP_##N##32_K:                      \
		emit_shift_k(c, w, X, d, imm);                                 \
		return;                                                        \
	case BPFRT_OP_##N##64_X: case BPFRT_OP_##N##32_X:                      \
		emit_shift_x(c, w, X, d, s);                                   \
		return;
	SHIFT_CASES(LSH, X_SHL)
	SHIFT_CASES(RSH, X_SHR)
	SHIFT_CASES(ARSH, X_SAR)
#undef SHIFT_CASES
	case BPFRT_OP_NEG64: case BPFRT_OP_NEG32:
		emit_grp3_r(b, w, 3, d); /* neg */
		return;
	case BPFRT_OP_MOV64_K:
		emit_mov_ri(b, true, d, imm);
		return;
	case BPFRT_OP_MOV32_K:
		emit_mov_ri(b, false, d, imm);
		return;
	case BPFRT_OP_MOV64_X:
		if (d != s)
			emit_mov_rr(b, true, d, s);
		return;
	case BPFRT_OP_MOV32_X:
		emit_mov_rr(b, false, d, s);
		return;
	case BPFRT_OP_MOVSX8_64:  emit_movx_rr(b, true, 0xbe, d, s); return;
	case BPFRT_OP_MOVSX16_64: emit_movx_rr(b, true, 0xbf, d, s); return;
	case BPFRT_OP_MOVSX32_64: /* movsxd d, s32 */
		emit_rex(b, true, d, s, false);
		emit1(b, 0x63);
		emit_modrm(b, 3, d, s);
		return;
	case BPFRT_OP_MOVSX8_32:  emit_movx_rr(b, false, 0xbe, d, s); return;
	case BPFRT_OP_MOVSX16_32: emit_movx_rr(b, false, 0xbf, d, s); return;
	case BPFRT_OP_LE16:
		emit_movx_rr(b, false, 0xb7, d, d); /* movzx d32, d16 */
		return;
	case BPFRT_OP_LE32:
		emit_mov_rr(b, false, d, d);
		return;
	case BPFRT_OP_LE64:
		return;
	case BPFRT_OP_BE16: case BPFRT_OP_BSWAP16:
		emit1(b, 0x66); /* rol d16, 8 */
		emit_rex(b, false, 0, d, false);
		emit1(b, 0xc1);
		emit_modrm(b, 3, 0, d);
		emit1(b, 8);
		emit_movx_rr(b, false, 0xb7, d, d);
		return;
	case BPFRT_OP_BE32: case BPFRT_OP_BSWAP32:
		emit_rex(b, false, 0, d, false);
		emit2(b, 0x0f, (uint8_t)(0xc8 + (d & 7))); /* bswap d32 */
		return;
	case BPFRT_OP_BE64: case BPFRT_OP_BSWAP64:
		emit_rex(b, true, 0, d, false);
		emit2(b, 0x0f, (uint8_t)(0xc8 + (d & 7))); /* bswap d64 */
		return;

	case BPFRT_OP_JA: case BPFRT_OP_JA32: {
		int32_t off = op == BPFRT_OP_JA ? in->off : imm;
		if (off)
			j_jmp(c, pc + 1 + (size_t)(int64_t)off);
		if (off < 0)
			j_loop(c, pc + 1 + (size_t)(int64_t)off);
		return;
	}
	case BPFRT_OP_TAIL_CALL:
		emit_tail_call(c, pc);
		return;
	case BPFRT_OP_CALL: {
		const struct bpfrt_helper_slot *h = bpfrt_helper_get(&c->prog->helpers, (uint32_t)imm);
		emit_args_to_sysv(c);
		emit_call_abs(c, (uintptr_t)h->fn);
		return;
	}
	case BPFRT_OP_CALLX: {
		/* r11 = id; if (id >= n || !tab[id]) fault; call tab[id] */
		emit_mov_rr(b, true, R11, d);
		emit_alu_ri(b, true, X_CMP, R11, (int32_t)c->nhelper_tab);
		size_t bad1 = fwd_jcc(b, CC_AE);
		emit_mov_ri(b, true, R9, (int64_t)(uintptr_t)c->helper_tab);
		/* mov r11, [r9 + r11*8] */
		emit3(b, 0x4f, 0x8b, 0x1c);
		emit1(b, 0xd9);
		emit_test_rr(b, true, R11, R11);
		size_t bad2 = fwd_jcc(b, CC_E);
		if (c->permuted_args) {
			emit_push(b, R11);
			emit_push(b, R11); /* keep rsp aligned */
			emit_args_to_sysv(c);
			emit_pop(b, R11);
			emit_pop(b, R11);
		}
		emit_icall_r11(c);
		size_t done = fwd_jmp(b);
		fwd_here(b, bad1);
		fwd_here(b, bad2);
		emit_mov_rr(b, true, RSI, d);
		emit_mov_ri(b, true, RDI, (int64_t)pc);
		emit_mov_ri(b, true, R11, (int64_t)(uintptr_t)jit_callx_fault);
		emit_icall_r11(c);
		fwd_here(b, done);
		return;
	}
	case BPFRT_OP_CALL_LOCAL: {
		size_t t = pc + 1 + (size_t)(int64_t)imm;
		struct jfunc *g = &c->fn[func_at(c, t) - c->fn];
		if (g->inl && emit_inlined(c, pc, g))
			return;
		emit1(b, 0xe8); /* call rel32 */
		j_rel(c, JR_CALL_FN, (uint32_t)(g - c->fn), 0);
		emit4(b, 0);
		return;
	}
	case BPFRT_OP_EXIT: {
		const struct jfunc *fn = c->curfn;
		if (pc + 1 != fn->end)
			j_jump(c, JT_EPILOGUE - (uint32_t)(fn - c->fn), 0xeb, false); /* to the epilogue */
		return;
	}
	case BPFRT_OP_CALL_KFUNC:
	case BPFRT_OP_LDDW_MAP_FD: case BPFRT_OP_LDDW_MAP_VALUE: case BPFRT_OP_LDDW_BTF_ID:
	case BPFRT_OP_LDDW_MAP_IDX: case BPFRT_OP_LDDW_MAP_IDX_VALUE:
		b->err = true; /* refused at load: never reaches the JIT */
		return;
	case BPFRT_OP_LDDW_FUNC: { /* a callback: the address of its function's code (movabs, the
				    * same size in every pass) */
		size_t t = pc + 1 + (size_t)(int64_t)imm;
		emit_rex(b, true, 0, d, false);
		emit1(b, (uint8_t)(0xb8 + (d & 7)));
		j_rel(c, JR_ADDR_FN, (uint32_t)(func_at(c, t) - c->fn), 0);
		emit8(b, 0);
		return;
	}
	case BPFRT_OP_LDDW:
		emit_mov_ri(b, true, d, (int64_t)((uint64_t)(uint32_t)in[0].imm |
						  ((uint64_t)(uint32_t)in[1].imm << 32)));
		return;

	case BPFRT_OP_LDXB:  emit_load(b, 1, false, d, s, in->off); return;
	case BPFRT_OP_LDXH:  emit_load(b, 2, false, d, s, in->off); return;
	case BPFRT_OP_LDXW:  emit_load(b, 4, false, d, s, in->off); return;
	case BPFRT_OP_LDXDW: emit_load(b, 8, false, d, s, in->off); return;
	case BPFRT_OP_LDXSB: emit_load(b, 1, true, d, s, in->off); return;
	case BPFRT_OP_LDXSH: emit_load(b, 2, true, d, s, in->off); return;
	case BPFRT_OP_LDXSW: emit_load(b, 4, true, d, s, in->off); return;
	case BPFRT_OP_STB:   emit_store_i(b, 1, d, in->off, imm); return;
	case BPFRT_OP_STH:   emit_store_i(b, 2, d, in->off, imm); return;
	case BPFRT_OP_STW:   emit_store_i(b, 4, d, in->off, imm); return;
	case BPFRT_OP_STDW:  emit_store_i(b, 8, d, in->off, imm); return;
	case BPFRT_OP_STXB:  emit_store_r(b, 1, d, in->off, s); return;
	case BPFRT_OP_STXH:  emit_store_r(b, 2, d, in->off, s); return;
	case BPFRT_OP_STXW:  emit_store_r(b, 4, d, in->off, s); return;
	case BPFRT_OP_STXDW: emit_store_r(b, 8, d, in->off, s); return;
	default:
		break;
	}
	if (f->shape == SHAPE_ATOMIC || f->shape == SHAPE_ATOMIC_FETCH ||
	    f->shape == SHAPE_ATOMIC_CMPXCHG) {
		emit_atomic(c, op, in);
		return;
	}
	if (f->shape == SHAPE_JCC_K || f->shape == SHAPE_JCC_X) {
		bool k = f->shape == SHAPE_JCC_K;
		bool w64 = (f->code & 7) == BPF_JMP;
		enum x86_cc cc;
		bool test = false;
		switch (f->code & 0xf0) {
		case 0x10: cc = CC_E; break;
		case 0x20: cc = CC_A; break;
		case 0x30: cc = CC_AE; break;
		case 0x40: cc = CC_NE; test = true; break;
		case 0x50: cc = CC_NE; break;
		case 0x60: cc = CC_G; break;
		case 0x70: cc = CC_GE; break;
		case 0xa0: cc = CC_B; break;
		case 0xb0: cc = CC_BE; break;
		case 0xc0: cc = CC_L; break;
		default:   cc = CC_LE; break;
		}
		if (test)
			k ? emit_test_ri(b, w64, d, imm) : emit_test_rr(b, w64, d, s);
		else if (k && imm == 0 && (cc == CC_E || cc == CC_NE) && zf_of(c, pc, in->dst, w64))
			; /* the instruction before set ZF for this value: no test */
		else if (k && imm == 0)
			emit_test_rr(b, w64, d, d); /* same flags as cmp d, 0 */
		else
			k ? emit_alu_ri(b, w64, X_CMP, d, imm) : emit_alu_rr(b, w64, X_CMP, d, s);
		j_jcc(c, cc, pc + 1 + (size_t)(int64_t)in->off);
		if (in->off < 0)
			j_loop(c, pc + 1 + (size_t)(int64_t)in->off);
		return;
	}
	b->err = true;
}

/* Room for the longest code one BPF instruction (or a prologue, an
 * epilogue, the thunk) emits: the buffer grows between instructions, and
 * the bytes are stored without a test each (X86_ENC_ROOMY; the longest
 * seen, a callx, is 57 bytes). */
#define JIT_INSN_ROOM 256

static bool room(struct x86_buf *b)
{
	if (b->cap - b->len >= JIT_INSN_ROOM)
		return true;
	size_t cap = 2 * b->cap + JIT_INSN_ROOM;
	uint8_t *p = realloc(b->p, cap);
	if (!p) {
		b->err = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

/* ---- inlined calls ---- */

/*
 * A call to a small straight-line leaf subprogram (plan_functions: no
 * jump, no call, no stack, no r6..r10; INLINE_MAX instructions at most) is
 * its body in place of the call, after a nop5 patch site of its own:
 *
 *   0f 1f 44 00 00   nop5          alias site: `jmp stub` while the function is traced
 *   ...              the callee's instructions but its exit
 *
 * and a stub after all the functions: `call f; jmp <after the body>`.
 * The function itself is still compiled (an attach point, a callback, a
 * call site past the limit).  The body's registers are the function's:
 * R1..R5 as the call left them, R0 its result; R1..R5 after it are dead
 * for the caller (the verifier's rule for a call), so nothing is saved.
 * Tracing the function (tramp.c) points every alias site at its stub
 * (bpfrt_jit_aliases), so each call runs the traced function: a trace sees
 * the calls an inlined copy would hide, as without inlining.  Untraced,
 * an inlined call costs a nop5 instead of a call, a return and the
 * callee's nop5 (1000 calls: 0.45 us against 1.5, the kernel's JIT 2.2).
 */
#define INLINE_MAX 16   /* instructions of an inlined function, its exit included */
#define INLINE_SITES 64 /* inlined calls per function: each is a site tracing patches */

static bool inlinable(const struct jctx *c, const struct jfunc *fn)
{
	if (!fn->frameless || fn->calls || (fn->mask & 0x7c0) /* r6..r10 */ ||
	    fn->end - fn->start > INLINE_MAX || c->in[fn->end - 1].code != BPFRT_OP_EXIT)
		return false;
	for (size_t pc = fn->start; pc + 1 < fn->end; pc++) {
		uint8_t code = c->in[pc].code;
		if ((op_scan[code] & P_JUMP) || code == BPFRT_OP_EXIT)
			return false;
		BPFRT_SKIP_LDDW(code, pc);
	}
	return true;
}

static __attribute__((noinline)) void emit_insn_out(struct jctx *c, size_t pc)
{
	emit_insn(c, pc);
}

/* Call pc to g, inlined; false if it stays a call (g's sites are used up). */
static __attribute__((noinline)) bool emit_inlined(struct jctx *c, size_t pc, struct jfunc *g)
{
	struct x86_buf *b = &c->b;
	if (g->ninl == INLINE_SITES)
		return false;
	if (c->nalias == c->capalias) {
		size_t cap = c->capalias ? 2 * c->capalias : 16;
		struct jalias *a = realloc(c->alias, cap * sizeof(*a));
		if (!a) {
			b->err = true;
			return true;
		}
		c->alias = a;
		c->capalias = cap;
	}
	j_rel(c, JR_ALIAS, (uint32_t)c->nalias, 0);
	emit_nop(b, PATCH_SIZE);
	c->prev_pc = SIZE_MAX; /* no flags from before the body */
	for (size_t q = g->start; q + 1 < g->end; q++) {
		if (!room(b))
			return true;
		emit_insn_out(c, q);
		c->prev_pc = q;
		BPFRT_SKIP_LDDW(c->in[q].code, q);
	}
	c->alias[c->nalias++] = (struct jalias){ (uint32_t)(g - c->fn), (uint32_t)pc + 1 };
	g->ninl++;
	return true;
}

/* ---- functions ---- */

static void emit_prologue(struct jctx *c, const struct jfunc *fn, bool main)
{
	struct x86_buf *b = &c->b;
	emit_nop(b, 5); /* patch site */
	if (fn->frameless) {
		for (int i = 0; i < fn->nsaved; i++)
			emit_push(b, fn->saved[i]);
		return;
	}
	emit_nop(b, 3); /* the entry region: 12 bytes in every main function */
	emit_push(b, RBP);
	emit_mov_rr(b, true, RBP, RSP);
	if (fn->depth) {
		emit_rex(b, true, 0, RSP, false);
		if (is_imm8(fn->depth)) {
			emit2(b, 0x83, 0xec); /* sub rsp, imm8 */
			emit1(b, (uint8_t)fn->depth);
		} else {
			emit2(b, 0x81, 0xec); /* sub rsp, imm32 */
			emit4(b, fn->depth);
		}
	}
	for (int i = 0; i < fn->nsaved; i++)
		emit_push(b, fn->saved[i]);
	if (main && c->permuted_args) { /* C passes R1, R2 in rdi, rsi */
		emit_push(b, RDI);
		emit_push(b, RSI);
		emit_pop(b, R(2));
		emit_pop(b, R(1));
	}
}

static void emit_epilogue(struct jctx *c, const struct jfunc *fn)
{
	for (int i = fn->nsaved - 1; i >= 0; i--)
		emit_pop(&c->b, fn->saved[i]);
	if (!fn->frameless)
		emit1(&c->b, 0xc9); /* leave */
	emit1(&c->b, 0xc3); /* ret */
}

/* Where C enters a program with tail calls: C's r12 saved, the count
 * zeroed, the main function called (rsp: 8 mod 16 here, 0 after the push,
 * 8 again in the callee, as C calls).  C_ENTRY_SIZE bytes. */
#define C_ENTRY_SIZE 13
static void emit_c_entry(struct jctx *c)
{
	struct x86_buf *b = &c->b;
	emit_push(b, TAIL_COUNT);
	emit_op_rr(b, false, 0x31, TAIL_COUNT, TAIL_COUNT); /* xor r12d, r12d */
	emit1(b, 0xe8);                                      /* call main */
	j_rel(c, JR_CALL_FN, 0, 0);
	emit4(b, 0);
	emit_pop(b, TAIL_COUNT);
	emit1(b, 0xc3);                                      /* ret */
}

/* The one emission, into the scratch buffer; records each instruction's
 * offset and the jumps before it.  Returns false on an emission error. */
static bool emit_all(struct jctx *c)
{
	struct x86_buf *b = &c->b;
	for (size_t f = 0; f < c->nfn; f++) {
		struct jfunc *fn = &c->fn[f];
		c->curfn = fn;
		if (!room(b))
			return false;
		if (f)
			j_pad(c);
		fn->entry = (uint32_t)b->len;
		fn->entry_rank = (uint32_t)c->nj;
		emit_prologue(c, fn, f == 0);
		c->prev_pc = SIZE_MAX;
		for (size_t pc = fn->start; pc < fn->end; pc++) {
			if (unlikely(b->cap - b->len < JIT_INSN_ROOM) && !room(b))
				return false;
			if (c->jtarget && unlikely(c->jtarget[pc] & JT_LOOP))
				j_pad(c);
			c->at[pc] = (struct jat){ (uint32_t)b->len, (uint32_t)c->nj };
			emit_insn(c, pc);
			c->prev_pc = pc;
			if (bpfrt_op_is_lddw(c->in[pc].code)) {
				pc++;
				c->at[pc] = (struct jat){ (uint32_t)b->len, (uint32_t)c->nj };
			}
		}
		if (NEVER(b->len > b->cap)) /* (an instruction over JIT_INSN_ROOM: fuzzed under ASan) */
			return false;
		if (!room(b))
			return false;
		fn->epi1 = fn->epilogue = (uint32_t)b->len;
		fn->epi_rank = (uint32_t)c->nj;
		emit_epilogue(c, fn);
		if (f)
			c->j[fn->entry_rank - 1].t = (uint32_t)b->len - fn->entry; /* its pad's span */
	}
	c->at[c->n] = (struct jat){ (uint32_t)b->len, (uint32_t)c->nj };
	for (size_t k = 0; k < c->nalias; k++) { /* the inlined calls' stubs */
		if (!room(b))
			return false;
		j_rel(c, JR_ALIAS_STUB, (uint32_t)k, 0);
		emit1(b, 0xe8); /* call rel32 */
		j_rel(c, JR_CALL_FN, c->alias[k].fn, 0);
		emit4(b, 0);
		j_jmp(c, c->alias[k].resume); /* (the jump its call did not emit: one per instruction still) */
	}
	c->end1 = (uint32_t)b->len;
	if (c->retpoline && room(b))
		emit_thunk(b);
	if (c->tail_calls && room(b))
		emit_c_entry(c);
	return !b->err && b->len < UINT32_MAX / 2;
}

/* Frame size without the verifier: the deepest r10-relative access; 512
 * where r10 escapes.  `in` names r10; returns the depth with it. */
static uint32_t r10_depth(const struct bpfrt_insn *in, uint32_t depth)
{
	const struct bpfrt_form *f = &bpfrt_forms[in->code];
	bool base_is_fp = false;
	switch (f->shape) {
	case SHAPE_LDX:
		base_is_fp = in->src == 10;
		if (in->dst == 10)
			return BPFRT_STACK_SIZE;
		break;
	case SHAPE_ST: case SHAPE_STX: case SHAPE_ATOMIC: case SHAPE_ATOMIC_FETCH:
	case SHAPE_ATOMIC_CMPXCHG:
		base_is_fp = in->dst == 10;
		if (f->shape != SHAPE_ST && in->src == 10)
			return BPFRT_STACK_SIZE; /* the frame pointer is stored: it escapes */
		break;
	case SHAPE_LDDW: case SHAPE_LDDW_PSEUDO:
		return depth;
	default: {
		unsigned zero = bpfrt_shape_zero_fields(f->shape);
		if ((!(zero & F_SRC) && in->src == 10 && f->sel != SEL_SRC) ||
		    (!(zero & F_DST) && in->dst == 10))
			return BPFRT_STACK_SIZE; /* r10 used as a value */
		return depth;
	}
	}
	if (base_is_fp && -(int32_t)in->off > (int32_t)depth)
		depth = (uint32_t)-(int32_t)in->off;
	return depth > BPFRT_STACK_SIZE ? BPFRT_STACK_SIZE : depth;
}

/* Register maps: the kernel's, and permutations of it for testing. */
static void make_reg_map(unsigned permute, uint8_t reg[16], bool *permuted_args)
{
	static const uint8_t args[5] = { RDI, RSI, RDX, RCX, R8 };
	static const uint8_t saved[4] = { RBX, R13, R14, R15 };
	uint8_t a[5], s[4];
	memcpy(a, args, 5);
	memcpy(s, saved, 4);
	unsigned p6 = permute % 24, p1 = (permute / 24) % 120;
	for (int i = 0; i < 4; i++) { /* Lehmer code: pick the (p6 % (4-i))th remaining */
		int k = (int)(p6 % (unsigned)(4 - i));
		p6 /= (unsigned)(4 - i);
		uint8_t t = s[i + k];
		memmove(&s[i + 1], &s[i], (size_t)k);
		s[i] = t;
	}
	for (int i = 0; i < 5; i++) {
		int k = (int)(p1 % (unsigned)(5 - i));
		p1 /= (unsigned)(5 - i);
		uint8_t t = a[i + k];
		memmove(&a[i + 1], &a[i], (size_t)k);
		a[i] = t;
	}
	reg[0] = RAX;
	memcpy(&reg[1], a, 5);
	memcpy(&reg[6], s, 4);
	reg[10] = RBP;
	reg[BPFRT_REG_AX] = R10;
	*permuted_args = memcmp(a, args, 5) != 0;
}

/* Subprograms, their frames and saved registers; refuses recursion and call
 * chains deeper than BPFRT_MAX_CALL_FRAMES (the JIT uses the native stack).
 * One scan of the program: the registers it names (a mask: no stores to
 * memory in the loop), what it calls, its stack depth without the
 * verifier's, and the functions' starts; a program with subprograms is
 * scanned again for each function's share. */
static int check_call_graph(struct jctx *c, struct bpfrt_err *err);

/* The registers insn names, as a mask; what it is (op_scan) ORed into
 * *acc; the depth with it where want_depth. */
static inline uint32_t scan_insn(const struct bpfrt_insn *in, uint32_t *acc, uint32_t *depth,
				 bool want_depth)
{
	uint32_t info = op_scan[in->code];
	uint32_t bits = (1u << in->dst) | ((1u << in->src) & info & P_SRC);
	*acc |= info;
	if (unlikely(bits & (1u << 10)) && want_depth)
		*depth = r10_depth(in, *depth);
	return bits;
}

static int plan_functions(struct jctx *c, struct bpfrt_err *err)
{
	size_t n = c->n, nfn = 1, loops = 0;
	uint8_t *start = NULL; /* function starts, once there is a call */
	uint32_t mask = 0, depth = 0, shapes = 0;
	bool depth1 = !(c->prog->sub_depth && c->prog->nsub == 1);
	for (size_t pc = 0; pc < n; pc++) {
		const struct bpfrt_insn *in = &c->in[pc];
		uint32_t plan = op_scan[in->code];
		mask |= scan_insn(in, &shapes, &depth, depth1);
		if (!(plan & P_PLAN))
			continue;
		if (plan & P_JUMP) { /* where jumps land (flags reuse, loop heads) */
			if (!c->jtarget && !(c->jtarget = calloc(n + 1, 1)))
				return bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
			size_t t = pc + 1 + (size_t)(int64_t)(plan & P_JA32 ? in->imm : in->off);
			if (t <= pc) {
				loops += !(c->jtarget[t] & JT_LOOP);
				c->jtarget[t] |= JT_LOOP;
			}
			if (t <= n)
				c->jtarget[t] |= 1;
		}
		if (unlikely(plan & P_FUNC)) {
			if (!start && !(start = calloc(n + 1, 1)))
				return bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
			size_t t = pc + 1 + (size_t)(int64_t)in->imm;
			nfn += t && !start[t];
			start[t] = 1;
			c->has_call |= (plan & P_CALL) != 0;
		}
		if (plan & P_LDDW) /* (a branch, not an add: loads of pc do not wait on it) */
			pc++;
	}
	c->has_callx = shapes & P_CALLX;
	size_t nrec = n + 1 + loops + nfn; /* a jump per instruction at most, and the pads */
	if (nrec > c->nj_cap) {
		struct jrec *j = realloc(c->j, nrec * sizeof(*j));
		if (!j) {
			free(start);
			return bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
		}
		c->j = j;
		c->nj_cap = nrec;
	}
	if (!(c->fn = calloc(nfn, sizeof(*c->fn)))) {
		free(start);
		return bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
	}
	bool known = c->prog->sub_depth && c->prog->nsub == nfn;
	struct jfunc *fn = c->fn;
	if (nfn > 1) { /* each function's share */
		mask = depth = shapes = 0;
		for (size_t pc = 0; pc < n; pc++) {
			if (start[pc] && pc) {
				fn->end = pc;
				fn->mask = mask;
				fn->depth = depth;
				fn->calls = shapes & P_CALLS;
				(++fn)->start = pc;
				mask = depth = shapes = 0;
			}
			mask |= scan_insn(&c->in[pc], &shapes, &depth, !known);
			BPFRT_SKIP_LDDW(c->in[pc].code, pc);
		}
	}
	fn->end = n;
	fn->mask = mask;
	fn->depth = depth;
	fn->calls = shapes & P_CALLS;
	c->nfn = nfn;
	free(start);

	static const uint8_t callee_saved[4] = { RBX, R13, R14, R15 };
	for (size_t f = 0; f < c->nfn; f++) {
		fn = &c->fn[f];
		bool used[16] = { false };
		for (int r = 6; r <= 9; r++)
			if (fn->mask & (1u << r))
				used[c->reg[r]] = true;
		for (int i = 0; i < 4; i++)
			if (used[callee_saved[i]])
				fn->saved[fn->nsaved++] = callee_saved[i];
		/* the verifier's depth for the function where it ran (it follows r10
		 * through copies and spills); else the deepest r10-relative access */
		uint32_t frame = ((known ? c->prog->sub_depth[f] : fn->depth) + 15) & ~15u;
		/* a leaf subprogram that names no r10 and has no stack needs no
		 * frame: no rbp to set up (and no rsp alignment: it calls nothing) */
		fn->frameless = f > 0 && !fn->calls && !(fn->mask & (1u << 10)) && !frame;
		if (fn->frameless) {
			fn->depth = 0;
			continue;
		}
		if (fn->nsaved & 1)
			frame += 8; /* rsp 16-aligned after the pushes */
		fn->depth = frame;
	}
	for (size_t f = 1; f < c->nfn && c->has_call && !c->no_inline; f++)
		c->fn[f].inl = inlinable(c, &c->fn[f]);
	return c->has_call ? check_call_graph(c, err) : BPFRT_OK;
}

/* The call graph: no cycle, at most BPFRT_MAX_CALL_FRAMES deep.  An
 * iterative depth-first search with an explicit stack. */
static int check_call_graph(struct jctx *c, struct bpfrt_err *err)
{
	uint8_t *state = calloc(c->nfn, 1); /* 0 new, 1 on the path, 2 done */
	uint32_t *height = calloc(c->nfn, sizeof(*height)); /* frames below, incl. itself */
	struct { uint32_t f; size_t pc; } *stk = malloc(c->nfn * sizeof(*stk) + sizeof(*stk));
	int rc = BPFRT_OK;
	if (!state || !height || !stk) {
		rc = bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
		goto out;
	}
	for (uint32_t root = 0; root < c->nfn && rc == BPFRT_OK; root++) {
		if (state[root])
			continue;
		size_t sp = 0;
		stk[sp].f = root;
		stk[sp].pc = c->fn[root].start;
		state[root] = 1;
		height[root] = 1;
		sp++;
		while (sp && rc == BPFRT_OK) {
			uint32_t f = stk[sp - 1].f;
			size_t pc = stk[sp - 1].pc;
			const struct jfunc *fn = &c->fn[f];
			while (pc < fn->end && c->in[pc].code != BPFRT_OP_CALL_LOCAL)
				pc++;
			if (pc >= fn->end) {
				state[f] = 2;
				sp--;
				if (sp && height[f] + 1 > height[stk[sp - 1].f])
					height[stk[sp - 1].f] = height[f] + 1;
				continue;
			}
			stk[sp - 1].pc = pc + 1;
			uint32_t g = (uint32_t)(func_at(c, pc + 1 + (size_t)(int64_t)c->in[pc].imm) - c->fn);
			if (state[g] == 1) {
				rc = bpfrt_err_set(err, BPFRT_EREJECT,
					"insn %zu: recursive call (to insn %zu): the JIT needs a bounded "
					"call chain", pc, c->fn[g].start);
			} else if (state[g] == 0) {
				state[g] = 1;
				height[g] = 1;
				stk[sp].f = g;
				stk[sp].pc = c->fn[g].start;
				sp++;
			} else if (height[g] + 1 > height[f]) {
				height[f] = height[g] + 1;
			}
		}
	}
	if (rc == BPFRT_OK && height[0] > BPFRT_MAX_CALL_FRAMES)
		rc = bpfrt_err_set(err, BPFRT_EREJECT, "the call chain is %u frames deep, over the "
				   "limit of %d", height[0], BPFRT_MAX_CALL_FRAMES);
out:
	free(state);
	free(height);
	free(stk);
	return rc;
}

/*
 * prefix[k]: how much the records before record k add: long jumps, and
 * pads.  A pad aligns a loop (from its head to its last backward jump) or a
 * function to ALIGN where that puts it in fewer ALIGN-byte windows than
 * where it lands, else is empty: a small loop or callee that straddles a
 * window costs the front end a second fetch each time round (1000 calls
 * ran 30% slower, an inlined loop 2x, when they straddled one here).
 */
static void grow(struct jctx *c, uint32_t *prefix)
{
	prefix[0] = 0;
	for (size_t k = 0; k < c->nj; k++) {
		struct jrec *r = &c->j[k];
		if (unlikely(r->pad)) {
			uint32_t at = r->end + prefix[k], last = r->t ? r->t - 1 : 0;
			bool fewer = (at + last) / ALIGN - at / ALIGN > last / ALIGN;
			r->delta = fewer ? (uint8_t)(-at & (ALIGN - 1)) : 0;
		}
		prefix[k + 1] = prefix[k] + (r->is_long ? r->delta : 0);
	}
}

/*
 * The relaxation.  The emission laid everything out with short jumps; only
 * jumps change size, so the final offset of anything is its scratch offset
 * plus the growth of the long jumps and pads before it (a prefix sum over the
 * records, indexed by the rank the emission recorded: grow).  Sweep: make long
 * every short jump that does not reach; repeat until a sweep changes
 * nothing.  Each sweep is O(jumps): no code is emitted, no instruction
 * visited.  Sets each jump's final target, the functions' final entries and
 * epilogues and the code's end; returns the number of sweeps.
 */
static int relax(struct jctx *c)
{
	size_t nj = c->nj;
	uint32_t *prefix = malloc((nj + 1) * sizeof(*prefix));
	if (!prefix)
		return -1;
	for (size_t k = 0; k < nj; k++) {
		struct jrec *r = &c->j[k];
		if (r->pad) {
			r->t1 = r->trank = 0;
		} else if (r->t > JT_EPILOGUE - c->nfn) {
			const struct jfunc *fn = &c->fn[JT_EPILOGUE - r->t];
			r->t1 = fn->epi1;
			r->trank = fn->epi_rank;
		} else {
			r->t1 = c->at[r->t].ofs;
			r->trank = c->at[r->t].rank;
		}
	}
	int sweeps = 0;
	bool changed = true;
	while (changed) {
		changed = false;
		sweeps++;
		grow(c, prefix);
		for (size_t k = 0; k < nj; k++) {
			struct jrec *r = &c->j[k];
			if (r->is_long)
				continue;
			int64_t end = (int64_t)r->end + prefix[k];
			int64_t target = (int64_t)r->t1 + prefix[r->trank];
			if (!is_imm8(target - end)) {
				r->is_long = 1;
				changed = true;
			}
		}
	}
	grow(c, prefix);
	for (size_t k = 0; k < nj; k++)
		c->j[k].final = c->j[k].t1 + prefix[c->j[k].trank];
	for (size_t f = 0; f < c->nfn; f++) {
		struct jfunc *fn = &c->fn[f];
		fn->entry += prefix[fn->entry_rank];
		fn->epilogue = fn->epi1 + prefix[fn->epi_rank];
	}
	c->code_end = c->end1 + prefix[nj];
	c->prefix = prefix;
	return sweeps;
}

/*
 * The copy into executable memory at rw (running at rx): the scratch
 * bytes between jumps as they are, each jump in its final form, then the
 * recorded places for this address.  Checks, as it goes, that each jump
 * starts where the relaxation put it and reaches.  Returns false if the
 * layout does not add up (an internal error).
 */
static bool place(struct jctx *c, uint8_t *rw, uintptr_t rx, size_t size)
{
	const uint8_t *src = c->b.p;
	size_t s = 0, d = 0, k0 = 0; /* copied up to s (to d); short jumps from k0 on not yet set */
	for (size_t k = 0; k <= c->nj; k++) {
		const struct jrec *r = k < c->nj ? &c->j[k] : NULL;
		size_t js = !r ? c->b.len : r->pad ? r->end : r->end - 2;
		if (js < s || js > c->b.len || (r && !r->pad && js + 2 > c->b.len))
			return false; /* (never: the records are in code order, in the code) */
		if (r && !r->is_long)
			continue;
		/* the bytes up to this long jump (or the end), short jumps included, in
		 * one copy; then the short jumps' displacements */
		if (d + (js - s) > size)
			return false;
		memcpy(rw + d, src + s, js - s);
		d += js - s;
		for (; k0 < k; k0++) {
			const struct jrec *q = &c->j[k0];
			size_t at = q->end - 2 + c->prefix[k0];
			int64_t disp = (int64_t)q->final - (int64_t)(at + 2);
			if (q->is_long || at + 2 > d || !is_imm8(disp))
				return false;
			rw[at + 1] = (uint8_t)disp;                 /* jmp/jcc rel8 */
		}
		k0 = k + 1;
		if (!r)
			break;
		if (r->pad) { /* nops (executed where a loop is entered from above) */
			struct x86_buf pb = { rw, d, size, false };
			if (d != js + c->prefix[k] || d + r->delta > size)
				return false;
			for (unsigned left = r->delta; left; left -= left > 8 ? 8 : left)
				emit_nop(&pb, left > 8 ? 8 : left);
			if (pb.err)
				return false;
			d = pb.len;
			s = js;
			continue;
		}
		if (d != js + c->prefix[k] || d + (src[js] == 0xeb ? 5 : 6) > size)
			return false;
		uint8_t op = src[js];
		if (op == 0xeb) {
			rw[d++] = 0xe9;                             /* jmp rel32 */
		} else {
			rw[d++] = 0x0f;                             /* jcc rel32 */
			rw[d++] = (uint8_t)(0x80 | (op & 0xf));
		}
		int64_t disp = (int64_t)r->final - (int64_t)(d + 4);
		memcpy(rw + d, &(int32_t){ (int32_t)disp }, 4);
		d += 4;
		s = r->end;
	}
	if (d != size)
		return false;
	for (size_t k = 0; k < c->nrel; k++) {
		const struct jrel *r = &c->rel[k];
		uint32_t at = r->pos + c->prefix[r->rank];
		static const uint8_t bytes[] = { [JR_CALL_ABS] = 4, [JR_CALL_FN] = 4, [JR_CALL_THUNK] = 4,
						 [JR_ADDR_FN] = 8, [JR_POKE] = POKE_AREA, [JR_POKE_OUT] = 0,
						 [JR_ALIAS] = PATCH_SIZE, [JR_ALIAS_STUB] = 7 };
		if (r->kind > JR_ALIAS_STUB || (size_t)at + bytes[r->kind] > size)
			return false;
		int64_t to;
		switch ((enum jrel_kind)r->kind) {
		case JR_CALL_ABS:
			to = (int64_t)r->target;
			goto rel32;
		case JR_CALL_FN:
			to = (int64_t)(rx + c->fn[r->arg].entry);
			goto rel32;
		case JR_CALL_THUNK:
			to = (int64_t)(rx + c->code_end);
		rel32:
			memcpy(rw + at, &(int32_t){ (int32_t)(to - (int64_t)(rx + at + 4)) }, 4);
			break;
		case JR_ADDR_FN:
			memcpy(rw + at, &(uint64_t){ rx + c->fn[r->arg].entry }, 8);
			break;
		case JR_POKE: { /* its layout depends on the address mod 8 */
			struct x86_buf pb = { rw, at, at + POKE_AREA, false }; /* in place: nothing past it */
			uint32_t site = emit_poke_area(&pb);
			uint32_t *o = &c->site_ofs[4 * (size_t)(r->arg / 2)];
			if (pb.err)
				return false;
			if (r->arg & 1) {
				o[1] = site;
			} else {
				o[0] = site;
				o[2] = site + 5; /* installed: A is a nop5 */
			}
			break;
		}
		case JR_POKE_OUT:
			c->site_ofs[4 * (size_t)r->arg + 3] = at;
			break;
		case JR_ALIAS:
			c->alias_ofs[r->arg] = (struct bpfrt_jit_alias){ c->fn[c->alias[r->arg].fn].entry, at, 0 };
			break;
		case JR_ALIAS_STUB:
			c->alias_ofs[r->arg].stub = at;
			break;
		}
	}
	return true;
}

/*
 * The compile's per-instruction work buffers (offsets, jump records, the
 * scratch code), kept for the next compile: fresh memory costs a page fault
 * per 4 KiB at first touch (~2 us each in this kind of VM: a 100k-
 * instruction compile touched 2 MiB).  One set, process-wide; a compile
 * that finds it taken allocates its own.  Sets over WORK_KEEP are freed.
 */
struct jwork {
	struct jat *at;
	struct jrec *j;
	uint8_t *code;
	size_t nat, nj, ncode;  /* capacities: entries, entries, bytes */
};
#define WORK_KEEP (16u << 20)
static pthread_mutex_t work_lock = PTHREAD_MUTEX_INITIALIZER;
static struct jwork work_cache;

static void work_take(struct jwork *w)
{
	pthread_mutex_lock(&work_lock);
	*w = work_cache;
	work_cache = (struct jwork){ 0 };
	pthread_mutex_unlock(&work_lock);
}

static void work_give(struct jwork *w)
{
	size_t bytes = w->nat * sizeof(*w->at) + w->nj * sizeof(*w->j) + w->ncode;
	pthread_mutex_lock(&work_lock);
	if (bytes <= WORK_KEEP && !work_cache.at && !work_cache.j && !work_cache.code) {
		work_cache = *w;
		*w = (struct jwork){ 0 };
	}
	pthread_mutex_unlock(&work_lock);
	free(w->at);
	free(w->j);
	free(w->code);
}

/* Buffers for n instructions, from the cache where it has them. */
static bool work_get(struct jctx *c)
{
	struct jwork w;
	work_take(&w);
	size_t n = c->n + 1, code = 8 * c->n + JIT_INSN_ROOM;
	if (w.nat < n) {
		free(w.at);
		w.at = malloc(n * sizeof(*w.at));
		w.nat = w.at ? n : 0;
	}
	if (w.nj < n) { /* at most one jump per instruction: untouched pages stay untouched */
		free(w.j);
		w.j = malloc(n * sizeof(*w.j));
		w.nj = w.j ? n : 0;
	}
	if (w.ncode < code) {
		free(w.code);
		w.code = malloc(code);
		w.ncode = w.code ? code : 0;
	}
	c->at = w.at;
	c->j = w.j;
	c->b.p = w.code;
	c->b.cap = w.ncode;
	c->nat_cap = w.nat;
	c->nj_cap = w.nj;
	return w.at && w.j && w.code;
}

static void jctx_free(struct jctx *c)
{
	struct jwork w = { c->at, c->j, c->b.p, c->nat_cap, c->nj_cap, c->b.cap };
	work_give(&w);
	free(c->site_ofs);
	free(c->fn);
	free(c->rel);
	free(c->prefix);
	free(c->jtarget);
	free(c->alias);
	free(c->alias_ofs);
}

static void aliased_add(struct bpfrt_jit *jit);

int bpfrt_jit_compile(struct bpfrt_prog *prog, const struct bpfrt_jit_opts *opts,
		      struct bpfrt_err *err)
{
	struct jctx cx = { .prog = prog, .in = prog->dec, .n = prog->nx };
	struct jctx *c = &cx;
	struct bpfrt_jit *jit = calloc(1, sizeof(*jit));
	int rc = BPFRT_ENOMEM;
	if (!jit)
		return bpfrt_err_set(err, rc, "out of memory");
	make_reg_map(opts->permute, c->reg, &c->permuted_args);
	c->tail_calls = prog->tail_calls;
	size_t nsites = prog->ntail_sites;
	c->force_far = opts->force_far;
	c->retpoline = opts->retpoline;
	c->no_inline = opts->no_inline;
	if (!work_get(c) ||
	    (nsites && !(c->site_ofs = calloc(4 * nsites, sizeof(*c->site_ofs))))) {
		bpfrt_err_set(err, rc, "out of memory");
		goto fail;
	}
	if ((rc = plan_functions(c, err)) != BPFRT_OK)
		goto fail;
	jit->has_callx = c->has_callx;
	jit->has_callbacks = prog->ncb > 0;
	if (jit->has_callbacks && c->permuted_args) { /* C calls them with R1..R5 in SysV order */
		rc = bpfrt_err_set(err, BPFRT_ENOTSUP, "callbacks need the JIT's standard register map");
		goto fail;
	}
	if (jit->has_callx) {
		jit->nhelper_tab = prog->helpers.n;
		jit->helper_tab = calloc(prog->helpers.n ? prog->helpers.n : 1, sizeof(uint64_t));
		if (!jit->helper_tab) {
			rc = bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
			goto fail;
		}
		for (uint32_t i = 0; i < prog->helpers.n; i++)
			jit->helper_tab[i] = (uintptr_t)prog->helpers.slot[i].fn;
		c->helper_tab = jit->helper_tab;
		c->nhelper_tab = jit->nhelper_tab;
	}

	/* One emission with every jump short, then the relaxation. */
	if (!emit_all(c)) {
		rc = bpfrt_err_set(err, BPFRT_EINTERNAL, "internal error: JIT emission failed");
		goto fail;
	}
	int sweeps = relax(c);
	if (sweeps < 0) {
		rc = bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
		goto fail;
	}
	size_t size = c->code_end + (c->retpoline ? THUNK_SIZE : 0) + (c->tail_calls ? C_ENTRY_SIZE : 0);
	if (opts->layout) { /* each instruction's final offset, and nothing else */
		uint32_t *ofs = malloc((c->n + 1) * sizeof(*ofs));
		if (!ofs) {
			rc = bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
			goto fail;
		}
		for (size_t pc = 0; pc <= c->n; pc++)
			ofs[pc] = c->at[pc].ofs + c->prefix[c->at[pc].rank];
		*opts->layout = ofs;
		jctx_free(c);
		bpfrt_jit_free(jit);
		return BPFRT_OK;
	}
	if ((rc = bpfrt_jit_mem_alloc(size, &jit->mem)) != BPFRT_OK) {
		bpfrt_err_set(err, rc, "cannot allocate %zu bytes of executable memory", size);
		goto fail;
	}
	BPFRT_ASSERT(((uintptr_t)jit->mem.rx & 7) == 0); /* (emit_poke_area) */
	if (nsites && jit->mem.single) {
		rc = bpfrt_err_set(err, BPFRT_ENOTSUP, "direct tail calls need code memory that can be "
				   "patched (a double mapping), and none is left");
		goto fail;
	}
	if (c->nalias && !(c->alias_ofs = calloc(c->nalias, sizeof(*c->alias_ofs)))) {
		rc = bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
		goto fail;
	}
	if (!place(c, jit->mem.rw, (uintptr_t)jit->mem.rx, size)) {
		rc = bpfrt_err_set(err, BPFRT_EINTERNAL, "internal error: the JIT's layout does not "
				   "add up (%zu bytes)", size);
		goto fail;
	}
	/* the sites; their state comes from the maps (bpfrt_pokes_attach) */
	if (nsites && !(prog->pokes = calloc(nsites, sizeof(*prog->pokes)))) {
		rc = bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t k = 0; k < nsites; k++) {
		const uint32_t *o = &c->site_ofs[4 * k];
		uint32_t wa = o[0] & ~7u, wb = o[1] & ~7u;
		uintptr_t rx = (uintptr_t)jit->mem.rx;
		struct bpfrt_poke *pk = &prog->pokes[k];
		*pk = (struct bpfrt_poke){ .key = prog->tail_sites[k].key, .rw_a = jit->mem.rw + wa,
					   .rw_b = jit->mem.rw + wb, .rx_a = rx + wa, .rx_b = rx + wb,
					   .off_a = (uint8_t)(o[0] & 7), .off_b = (uint8_t)(o[1] & 7),
					   .cont = rx + o[2], .out = rx + o[3] };
		bpfrt_poke_write(pk->rw_a, pk->rx_a, pk->off_a, pk->out);
	}
	prog->npokes = nsites;
	if ((rc = bpfrt_jit_mem_seal(&jit->mem)) != BPFRT_OK) {
		bpfrt_err_set(err, rc, "cannot make JIT memory executable");
		goto fail;
	}
	jit->main = jit->mem.rx + c->fn[0].entry;
	jit->entry = (bpfrt_jit_fn)(void *)(c->tail_calls ? jit->mem.rx + size - C_ENTRY_SIZE : jit->main);
	jit->code_size = size;
	jit->passes = sweeps;
	jit->opts = *opts;
	jit->opts.layout = NULL;
	jit->fn = calloc(c->nfn, sizeof(*jit->fn));
	if (!jit->fn) {
		rc = bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
		goto fail;
	}
	jit->nfn = c->nfn;
	for (size_t f = 0; f < c->nfn; f++) {
		const struct jfunc *fn = &c->fn[f];
		jit->fn[f] = (struct bpfrt_jit_func){ (uint32_t)fn->start, (uint32_t)fn->end, fn->entry,
						      fn->epilogue, fn->depth, fn->nsaved, { 0 } };
		memcpy(jit->fn[f].saved, fn->saved, sizeof(fn->saved));
	}
	jit->alias = c->alias_ofs;
	jit->nalias = (uint32_t)c->nalias;
	jit->stubs_end = c->code_end;
	c->alias_ofs = NULL;
	if (jit->nalias)
		aliased_add(jit);
	jctx_free(c);
	prog->jit = jit;
	prog->tail_entry = jit->main + TAIL_CALL_OFFSET;
	bpfrt_pokes_attach(prog); /* the slots follow the prog_arrays from now on */
	return BPFRT_OK;
fail:
	free(prog->pokes);
	prog->pokes = NULL;
	prog->npokes = 0;
	jctx_free(c);
	bpfrt_jit_free(jit);
	return rc;
}

/* The images with inlined calls, for bpfrt_jit_aliases. */
static pthread_mutex_t aliased_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bpfrt_jit *aliased;

static void aliased_add(struct bpfrt_jit *jit)
{
	pthread_mutex_lock(&aliased_lock);
	jit->next_aliased = aliased;
	aliased = jit;
	pthread_mutex_unlock(&aliased_lock);
}

size_t bpfrt_jit_aliases(uintptr_t func, uintptr_t *site, uintptr_t *stub, size_t max)
{
	size_t n = 0;
	pthread_mutex_lock(&aliased_lock);
	for (const struct bpfrt_jit *j = aliased; j; j = j->next_aliased) {
		uintptr_t rx = (uintptr_t)j->mem.rx;
		if (func < rx || func >= rx + j->code_size)
			continue;
		for (uint32_t k = 0; k < j->nalias; k++) {
			if (rx + j->alias[k].fn != func)
				continue;
			if (n < max) {
				site[n] = rx + j->alias[k].site;
				stub[n] = rx + j->alias[k].stub;
			}
			n++;
		}
	}
	pthread_mutex_unlock(&aliased_lock);
	return n;
}

void bpfrt_jit_free(struct bpfrt_jit *jit)
{
	if (!jit)
		return;
	if (jit->nalias) {
		pthread_mutex_lock(&aliased_lock);
		struct bpfrt_jit **pp = &aliased;
		while (*pp && *pp != jit)
			pp = &(*pp)->next_aliased;
		if (*pp)
			*pp = jit->next_aliased;
		pthread_mutex_unlock(&aliased_lock);
		free(jit->alias);
	}
	bpfrt_jit_mem_free(&jit->mem);
	free(jit->fn);
	free(jit->helper_tab);
	free(jit);
}

/* clang's -fsanitize=function reads a type signature just before the callee:
 * JITed code has none. */
#if defined(__clang__)
__attribute__((no_sanitize("function")))
#endif
int bpfrt_jit_run(struct bpfrt_prog *prog, uint64_t r1, uint64_t r2, uint64_t *r0)
{
	struct bpfrt_jit *jit = prog->jit;
	if (likely(!jit->has_callx && !jit->has_callbacks)) {
		*r0 = jit->entry(r1, r2);
		return BPFRT_OK;
	}
	void *interp = bpfrt_interp_active; /* callbacks from here on are JITed code */
	bpfrt_interp_active = NULL;
	if (!jit->has_callx) {
		*r0 = jit->entry(r1, r2);
		bpfrt_interp_active = interp;
		return BPFRT_OK;
	}
	jmp_buf jb, *outer = fault_jb;
	fault_jb = &jb;
	if (setjmp(jb)) {
		fault_jb = outer;
		bpfrt_interp_active = interp;
		return bpfrt_prog_fail(prog, BPFRT_EFAULT, "%s: insn %" PRIu64 ": callx to %#" PRIx64
				       ", which is not a registered helper",
				       prog->name ? prog->name : "program",
				       (uint64_t)bpfrt_orig_pc(prog, fault_pc), fault_val);
	}
	*r0 = jit->entry(r1, r2);
	fault_jb = outer;
	bpfrt_interp_active = interp;
	return BPFRT_OK;
}

/*
 * bpfrt_jit_callback(fn, a1..a5): a helper calls a JITed callback.  Its
 * function takes R1..R5 in rdi, rsi, rdx, rcx, r8 as C passes them, and, in
 * a program with tail calls, the count in r12: here a spent one, so a tail
 * call from a callback fails (the verifier refuses them; trusted programs
 * get this).  C's r12 is kept around the call.
 */
__asm__(".text\n"
	".globl bpfrt_jit_callback\n"
	".hidden bpfrt_jit_callback\n"
	".type bpfrt_jit_callback, @function\n"
	"bpfrt_jit_callback:\n"
	"	push %r12\n"
	"	mov $" BPFRT_STR(BPFRT_MAX_TAIL_CALLS) ", %r12d\n"
	"	mov %rdi, %r11\n"
	"	mov %rsi, %rdi\n"
	"	mov %rdx, %rsi\n"
	"	mov %rcx, %rdx\n"
	"	mov %r8, %rcx\n"
	"	mov %r9, %r8\n"
	"	call *%r11\n"
	"	pop %r12\n"
	"	ret\n"
	".size bpfrt_jit_callback, .-bpfrt_jit_callback\n");
