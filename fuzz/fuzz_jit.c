/*
 * fuzz_jit.c — differential libFuzzer target: the interpreter against the
 * JIT.
 *
 * The input drives a generator of programs that are safe by construction,
 * so that both engines can run them without run-time checks:
 *   - r1 holds the memory (MEM bytes) and r9 a copy of it; neither is ever
 *     written by the body;
 *   - loads and stores go through r1 or r10 with in-range offsets (atomics
 *     aligned);
 *   - jumps only go forward, but for loops that count down a stack slot
 *     the body cannot reach, so every program terminates;
 *   - a subprogram may be called; a deterministic helper may be called,
 *     after which r1..r5 are set again (a helper call clobbers them);
 *   - the stack is zeroed first, and copied into the memory at the end.
 * Both engines must agree on r0 and on the memory (which then holds the
 * stack).  The JIT runs under a register map, call mode and rewrite flags
 * (blinding, zero-extension, retpoline) chosen by the input, and the
 * safe-mode interpreter under other rewrite flags, so all of those are
 * fuzzed too.  The safe-mode interpreter
 * runs as well, and must not fault.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpfrt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM 128          /* [0, 64) data, [64, 128) the stack copy */
#define MAX_BODY 256

struct gen {
	const uint8_t *p;
	size_t n;
	struct bpfrt_insn *out;
	size_t len;
	uint8_t *tail; /* per slot: how far back a loop's count-down starts (jumps land there) */
};

static uint32_t take(struct gen *g, int bytes)
{
	uint32_t v = 0;
	for (int i = 0; i < bytes; i++) {
		v = v << 8 | (g->n ? *g->p : 0);
		if (g->n) {
			g->p++;
			g->n--;
		}
	}
	return v;
}

static void put(struct gen *g, uint8_t code, int dst, int src, int16_t off, int32_t imm)
{
	g->out[g->len++] = (struct bpfrt_insn){ .code = code, .dst = (uint8_t)dst,
						 .src = (uint8_t)src, .off = off, .imm = imm };
}

static const int writable[] = { 0, 2, 3, 4, 5, 6, 7, 8 }; /* never r1, r9, r10 */

static int wreg(struct gen *g) { return writable[take(g, 1) % 8]; }
static int rreg(struct gen *g) { return (int)(take(g, 1) % 10); }

static int32_t imm32(struct gen *g)
{
	static const int32_t special[] = { 0, 1, -1, 2, 31, 32, 63, 64, INT32_MIN, INT32_MAX,
					   0x80, 0xff, 0xffff, -0x80 };
	uint32_t sel = take(g, 1);
	if (sel < 128)
		return special[sel % (sizeof(special) / sizeof(special[0]))];
	return (int32_t)take(g, 4);
}

static void set_args(struct gen *g)
{
	put(g, 0xbf, 1, 9, 0, 0); /* mov r1, r9 */
	for (int r = 2; r <= 5; r++)
		put(g, 0xb7, r, 0, 0, imm32(g));
}

/* Memory operand: base 1 (data) or 10 (stack), offset in range for size. */
static void mem_operand(struct gen *g, int size, bool aligned, int *base, int16_t *off)
{
	bool stack = take(g, 1) & 1;
	int slots = 64 / size;
	int k = (int)(take(g, 1) % (uint32_t)slots);
	int o = aligned ? k * size : (int)(take(g, 1) % (uint32_t)(64 - size + 1));
	*base = stack ? 10 : 1;
	*off = (int16_t)(stack ? o - 64 : o);
}

static const uint8_t alu_ops[] = { 0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90,
				   0xa0, 0xb0, 0xc0 };
static const uint8_t sizes[] = { 0x10, 0x08, 0x00, 0x18 }; /* b h w dw */
static const int bytes[] = { 1, 2, 4, 8 };

static void gen_body(struct gen *g, size_t count, bool in_subprog, int depth)
{
	static const uint8_t jmp_ops[] = { 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0,
					   0xc0, 0xd0 };
	static const int32_t atomic_ops[] = { 0x00, 0x40, 0x50, 0xa0, 0x01, 0x41, 0x51, 0xa1,
					      0xe1, 0xf1 };
	size_t end = g->len + count;
	while (g->len < end && g->n) {
		size_t left = end - g->len;
		uint32_t kind = take(g, 1) % 17;
		int d = wreg(g), s = rreg(g);
		switch (kind) {
		case 0: case 1: case 2: case 3: { /* ALU */
			uint8_t op = alu_ops[take(g, 1) % sizeof(alu_ops)];
			bool x = take(g, 1) & 1, w = take(g, 1) & 1;
			int16_t off = 0;
			if ((op == 0x30 || op == 0x90) && (take(g, 1) & 1))
				off = 1; /* sdiv / smod */
			if (op == 0xb0 && x && (take(g, 1) & 1)) { /* movsx */
				static const int16_t w64[] = { 8, 16, 32 }, w32[] = { 8, 16 };
				off = w ? w64[take(g, 1) % 3] : w32[take(g, 1) % 2];
			}
			put(g, (uint8_t)((w ? 0x07 : 0x04) | (x ? 0x08 : 0) | op), d, x ? s : 0, off,
			    x ? 0 : imm32(g));
			break;
		}
		case 4: { /* neg, byte swaps */
			static const int32_t sz[] = { 16, 32, 64 };
			uint32_t which = take(g, 1) % 5;
			if (which == 0)
				put(g, 0x87, d, 0, 0, 0);
			else if (which == 1)
				put(g, 0x84, d, 0, 0, 0);
			else
				put(g, which == 2 ? 0xd4 : which == 3 ? 0xdc : 0xd7, d, 0, 0,
				    sz[take(g, 1) % 3]);
			break;
		}
		case 5: case 6: { /* loads */
			int si = (int)(take(g, 1) % 4);
			bool sx = si < 3 && (take(g, 1) & 1);
			int base;
			int16_t off;
			mem_operand(g, bytes[si], false, &base, &off);
			put(g, (uint8_t)((sx ? 0x81 : 0x61) | sizes[si]), d, base, off, 0);
			break;
		}
		case 7: case 8: { /* stores */
			int si = (int)(take(g, 1) % 4);
			int base;
			int16_t off;
			mem_operand(g, bytes[si], false, &base, &off);
			if (take(g, 1) & 1)
				put(g, (uint8_t)(0x62 | sizes[si]), base, 0, off, imm32(g));
			else
				put(g, (uint8_t)(0x63 | sizes[si]), base, s, off, 0);
			break;
		}
		case 9: { /* atomics: the source of a fetch is written */
			bool w = take(g, 1) & 1;
			int32_t aop = atomic_ops[take(g, 1) % 10];
			int base;
			int16_t off;
			mem_operand(g, w ? 8 : 4, true, &base, &off);
			put(g, w ? 0xdb : 0xc3, base, (aop & 1) ? d : s, off, aop);
			break;
		}
		case 10: case 11: { /* forward conditional jumps */
			if (left < 2)
				break;
			uint8_t op = jmp_ops[take(g, 1) % sizeof(jmp_ops)];
			bool x = take(g, 1) & 1, j32 = take(g, 1) & 1;
			int16_t off = (int16_t)(take(g, 1) % (uint32_t)(left - 1));
			put(g, (uint8_t)((j32 ? 0x06 : 0x05) | (x ? 0x08 : 0) | op), s, x ? rreg(g) : 0,
			    off, x ? 0 : imm32(g));
			break;
		}
		case 12: { /* ja / ja32 forward */
			if (left < 2)
				break;
			int32_t off = (int32_t)(take(g, 1) % (uint32_t)(left - 1));
			if (take(g, 1) & 1)
				put(g, 0x05, 0, 0, (int16_t)off, 0);
			else
				put(g, 0x06, 0, 0, 0, off);
			break;
		}
		case 13: { /* lddw */
			if (left < 2)
				break;
			put(g, 0x18, d, 0, 0, (int32_t)take(g, 4));
			put(g, 0x00, 0, 0, 0, (int32_t)take(g, 4));
			break;
		}
		case 14: /* a local call to the subprogram or to the leaf (imm fixed up later) */
			if (!in_subprog)
				put(g, 0x85, 0, 1, 0, (int32_t)(take(g, 1) & 1));
			break;
		case 16: { /* a loop, 1..5 times round: its count in a stack slot below the
			    * body's reach, a body, the count down and a backward jump */
			if (left < 7 || depth > 1)
				break;
			size_t inner = take(g, 1) % (left - 5 < 24 ? left - 5 : 24);
			int16_t slot = (int16_t)(-72 - 8 * depth);
			put(g, 0x7a, 10, 0, slot, (int32_t)(take(g, 1) % 5 + 1)); /* stdw [r10+slot], n */
			size_t head = g->len;
			gen_body(g, inner, in_subprog, depth + 1);
			put(g, 0x79, 8, 10, slot, 0);                             /* ldxdw r8, [r10+slot] */
			for (uint8_t k = 1; k <= 3; k++) /* a jump from before lands on the ldxdw */
				g->tail[g->len + k - 1] = k;
			put(g, 0x17, 8, 0, 0, 1);                                 /* sub r8, 1 */
			put(g, 0x7b, 10, 8, slot, 0);                             /* stxdw [r10+slot], r8 */
			put(g, 0x65, 8, 0, (int16_t)((int64_t)head - (int64_t)(g->len + 1)), 0); /* jsgt r8, 0 */
			break;
		}
		case 15: /* the deterministic helper 100 */
			if (left < 6)
				break;
			put(g, 0x85, 0, 0, 0, 100);
			set_args(g);
			break;
		}
	}
	while (g->len < end) /* jumps may target any slot up to end */
		put(g, 0x07, 0, 0, 0, 0); /* add r0, 0 */
}

/* The leaf: straight-line code on r0..r5 and the memory (r1, never
 * written), no stack, no call, no jump, so the JIT inlines its calls. */
static void gen_leaf(struct gen *g, size_t count)
{
	static const int leaf_dst[] = { 0, 2, 3, 4, 5 };
	for (size_t k = 0; k < count && g->n; k++) {
		int d = leaf_dst[take(g, 1) % 5], s = (int)(take(g, 1) % 6);
		uint32_t kind = take(g, 1) % 4;
		int si = (int)(take(g, 1) % 4);
		int16_t off = (int16_t)(take(g, 1) % (uint32_t)(64 - bytes[si] + 1));
		if (kind == 0) {
			put(g, (uint8_t)(0x61 | sizes[si]), d, 1, off, 0);      /* ldx d, [r1+off] */
		} else if (kind == 1) {
			put(g, (uint8_t)(0x63 | sizes[si]), 1, s, off, 0);      /* stx [r1+off], s */
		} else {
			uint8_t op = alu_ops[take(g, 1) % sizeof(alu_ops)];
			bool x = take(g, 1) & 1, w = take(g, 1) & 1;
			put(g, (uint8_t)((w ? 0x07 : 0x04) | (x ? 0x08 : 0) | op), d, x ? s : 0, 0,
			    x ? 0 : imm32(g));
		}
	}
}

static uint64_t h_mix(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	(void)a; /* r1 is the memory's address: not deterministic */
	return (b * 0x9e3779b97f4a7c15ull) ^ (c << 7) ^ (d >> 3) ^ (e + 11);
}

static bpfrt_vm *vm;

static void dump_prog(const struct bpfrt_insn *in, size_t n)
{
	for (size_t pc = 0; pc < n; pc++) {
		char line[128];
		bpfrt_disasm_insn(vm, in, n, pc, line, sizeof(line));
		fprintf(stderr, "%4zu: %s\n", pc, line);
	}
}

static int run(const struct bpfrt_insn *in, size_t n, bpfrt_engine engine, uint32_t flags,
	       unsigned permute, uint8_t *mem, const uint8_t *init, uint64_t *r0)
{
	struct bpfrt_load_opts o = { .sz = sizeof(o), .flags = flags, .engine = engine,
				     .jit_permute = permute, .insn_budget = 1u << 20 };
	bpfrt_prog *p;
	int rc = bpfrt_prog_load(vm, in, n, &o, &p);
	if (rc != BPFRT_OK) {
		fprintf(stderr, "generated program refused: %s\n", bpfrt_vm_errmsg(vm));
		dump_prog(in, n);
		abort();
	}
	memcpy(mem, init, MEM);
	rc = bpfrt_prog_run_mem(p, mem, MEM, r0);
	if (rc != BPFRT_OK) {
		fprintf(stderr, "generated program faulted: %s\n", bpfrt_prog_errmsg(p));
		dump_prog(in, n);
		abort();
	}
	bpfrt_prog_free(p);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!vm) {
		vm = bpfrt_vm_new();
		if (!vm || bpfrt_vm_register_helper(vm, 100, "mix", h_mix, 0) != BPFRT_OK)
			abort();
	}
	struct bpfrt_insn prog[3 * MAX_BODY + 128];
	static uint8_t tail[3 * MAX_BODY + 128];
	memset(tail, 0, sizeof(tail));
	struct gen g = { data, size, prog, 0, tail };
	unsigned permute = take(&g, 2) % 2880 | ((take(&g, 1) & 1) ? 1u << 16 : 0);
	uint32_t mode = take(&g, 1); /* rewrite flags for the JIT run and the safe run */
	uint32_t jit_flags = ((mode & 1) ? BPFRT_LOAD_BLIND : 0) | ((mode & 2) ? BPFRT_LOAD_ZEXT : 0) |
			     ((mode & 4) ? BPFRT_LOAD_JIT_RETPOLINE : 0);
	uint32_t safe_flags = BPFRT_LOAD_SAFE | ((mode & 8) ? BPFRT_LOAD_BLIND : 0) |
			      ((mode & 16) ? BPFRT_LOAD_ZEXT : 0);
	uint8_t init[MEM];
	for (int i = 0; i < 64; i++)
		init[i] = (uint8_t)take(&g, 1);
	memset(init + 64, 0, 64);
	/* main: r9 = r1; zero the stack (the loop counts too); set r0, r2..r8 */
	put(&g, 0xbf, 9, 1, 0, 0);
	for (int k = 1; k <= 10; k++)
		put(&g, 0x7a, 10, 0, (int16_t)(-8 * k), 0);
	put(&g, 0xb7, 0, 0, 0, (int32_t)take(&g, 4));
	for (int r = 2; r <= 8; r++)
		put(&g, 0xb7, r, 0, 0, (int32_t)take(&g, 4));
	size_t body = take(&g, 1) % MAX_BODY + 1;
	size_t body_start = g.len;
	gen_body(&g, body, false, 0);
	size_t body_end = g.len;
	/* copy the stack into mem[64..128) and exit */
	for (int k = 0; k < 8; k++) {
		put(&g, 0x79, 6, 10, (int16_t)(-64 + 8 * k), 0);  /* ldxdw r6, [r10-64+8k] */
		put(&g, 0x7b, 9, 6, (int16_t)(64 + 8 * k), 0);    /* stxdw [r9+64+8k], r6 */
	}
	put(&g, 0x95, 0, 0, 0, 0);
	/* the subprogram: its own stack, r6 and r7 used (saved by the callee) */
	size_t sub = g.len;
	for (int k = 1; k <= 10; k++) /* its own frame is zeroed too */
		put(&g, 0x7a, 10, 0, (int16_t)(-8 * k), 0);
	put(&g, 0xbf, 6, 2, 0, 0);
	put(&g, 0xbf, 7, 3, 0, 0);
	gen_body(&g, take(&g, 1) % 32, true, 0);
	put(&g, 0xbf, 0, 6, 0, 0);
	put(&g, 0x0f, 0, 7, 0, 0);
	put(&g, 0x95, 0, 0, 0, 0);
	size_t leaf = g.len;
	gen_leaf(&g, take(&g, 1) % 15);
	put(&g, 0x95, 0, 0, 0, 0);
	/* no jump may land on an lddw's second slot: move it to the first; nor
	 * inside a loop's count-down (r8 is not the count there): move it to its
	 * start */
	static bool hi[3 * MAX_BODY + 128];
	memset(hi, 0, sizeof(hi));
	for (size_t pc = 0; pc < g.len; pc++)
		if (prog[pc].code == 0x18)
			hi[++pc] = true;
	for (size_t pc = 0; pc < g.len; pc++) {
		uint8_t cls = prog[pc].code & 7, op = prog[pc].code & 0xf0;
		if ((cls != 5 && cls != 6) || op == 0x80 || op == 0x90 || hi[pc])
			continue;
		bool ja32 = prog[pc].code == 0x06;
		size_t t = pc + 1 + (size_t)(ja32 ? prog[pc].imm : prog[pc].off), to = t;
		if (to < g.len && hi[to])
			to--;
		if (to < g.len)
			to -= tail[to];
		if (ja32)
			prog[pc].imm -= (int32_t)(t - to);
		else
			prog[pc].off = (int16_t)(prog[pc].off - (int16_t)(t - to));
	}
	/* fix up the calls: imm = sub (or leaf) - (pc + 1) */
	for (size_t pc = body_start; pc < body_end; pc++)
		if (prog[pc].code == 0x85 && prog[pc].src == 1)
			prog[pc].imm = (int32_t)((prog[pc].imm ? leaf : sub) - (pc + 1));

	/* one buffer for the three runs: programs may compute with its address */
	static uint8_t mem[MEM];
	uint8_t m_interp[MEM], m_jit[MEM], m_safe[MEM];
	uint64_t r_interp, r_jit, r_safe;
	run(prog, g.len, BPFRT_ENGINE_INTERP, 0, 0, mem, init, &r_interp);
	memcpy(m_interp, mem, MEM);
	run(prog, g.len, BPFRT_ENGINE_JIT, jit_flags, permute, mem, init, &r_jit);
	memcpy(m_jit, mem, MEM);
	run(prog, g.len, BPFRT_ENGINE_INTERP, safe_flags, 0, mem, init, &r_safe);
	memcpy(m_safe, mem, MEM);
	if (r_interp != r_jit || memcmp(m_interp, m_jit, MEM) || r_interp != r_safe ||
	    memcmp(m_interp, m_safe, MEM)) {
		fprintf(stderr, "DIVERGENCE (permute %#x, mode %#x): interp r0=%#llx jit r0=%#llx safe r0=%#llx\n",
			permute, mode, (unsigned long long)r_interp, (unsigned long long)r_jit,
			(unsigned long long)r_safe);
		dump_prog(prog, g.len);
		abort();
	}
	return 0;
}
