/*
 * fuzz_verify.c — soundness target for the verifier.
 *
 * The input drives a generator of programs that are sometimes safe and
 * often not: ALU on any register (pointers included), loads and stores
 * through any register with offsets around the edges of the 64-byte
 * context and the 512-byte stack, pointer arithmetic with bounded and
 * unbounded scalars, masks, conditional jumps forward and backward (loops,
 * bounded or not), helper calls, exits with r0 set or not.  Each program
 * goes to the verifier (a raw program: r1 points to 64 bytes, r2 = 64).
 * Every program it accepts must then be safe: it runs on the safe-mode
 * interpreter, which checks every access at run time and must report no
 * fault and no budget overrun (the verifier promised termination), and on
 * the unchecked fast interpreter over a malloc'd buffer, where ASan sees
 * any stray access.  A violation aborts with the program's listing.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpfrt.h"
#include "internal.h"
#include "verifier.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CTX 64
#define MAX_BODY 96

struct gen {
	const uint8_t *p;
	size_t n;
	struct bpfrt_insn out[MAX_BODY + 4];
	size_t len;
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
	g->out[g->len++] = (struct bpfrt_insn){ .code = code, .dst = (uint8_t)dst, .src = (uint8_t)src,
						 .off = off, .imm = imm };
}

static const uint8_t alu_ops[] = { 0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0 };
static const uint8_t jmp_ops[] = { 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0 };
static const uint8_t sizes[] = { 0x00, 0x08, 0x10, 0x18 }; /* W H B DW */

static int32_t pick_imm(struct gen *g)
{
	switch (take(g, 1) % 5) {
	case 0: return (int32_t)(take(g, 1) % 16);
	case 1: return -(int32_t)(take(g, 1) % 16);
	case 2: return (int32_t)(take(g, 1) % 72);
	case 3: return (int32_t)take(g, 4);
	default: return (int32_t)(1u << (take(g, 1) % 31)) - 1;
	}
}

static void generate(struct gen *g)
{
	size_t want = 4 + take(g, 1) % MAX_BODY;
	while (g->len < want && g->n) {
		int dst = (int)(take(g, 1) % 10), src = (int)(take(g, 1) % 11);
		switch (take(g, 1) % 12) {
		case 0: case 1: { /* ALU, immediate */
			uint8_t op = alu_ops[take(g, 1) % sizeof(alu_ops)];
			bool is64 = take(g, 1) & 1;
			int32_t imm = pick_imm(g);
			if (op == 0x80)
				imm = 0;
			put(g, (uint8_t)(op | (is64 ? 0x07 : 0x04)), dst, 0, 0, imm);
			break;
		}
		case 2: case 3: { /* ALU, register */
			uint8_t op = alu_ops[take(g, 1) % sizeof(alu_ops)];
			if (op == 0x80)
				op = 0x00;
			bool is64 = take(g, 1) & 1;
			put(g, (uint8_t)(op | (is64 ? 0x0f : 0x0c)), dst, src, 0, 0);
			break;
		}
		case 4: { /* load through any register */
			uint8_t sz = sizes[take(g, 1) % 4];
			int16_t off = (int16_t)((int)(take(g, 1) % 96) - 16);
			if (take(g, 1) & 1)
				off = (int16_t)-(int)(take(g, 2) % 530);
			put(g, (uint8_t)(0x61 | sz), dst, src, off, 0);
			break;
		}
		case 5: { /* store a register */
			uint8_t sz = sizes[take(g, 1) % 4];
			int16_t off = (int16_t)-(int)(take(g, 2) % 530);
			if (take(g, 1) & 1)
				off = (int16_t)((int)(take(g, 1) % 96) - 16);
			put(g, (uint8_t)(0x63 | sz), (int)(take(g, 1) % 11), src, off, 0);
			break;
		}
		case 6: { /* store an immediate */
			uint8_t sz = sizes[take(g, 1) % 4];
			int16_t off = (int16_t)-(int)(take(g, 2) % 530);
			put(g, (uint8_t)(0x62 | sz), (int)(take(g, 1) % 11), 0, off, pick_imm(g));
			break;
		}
		case 7: { /* conditional jump, mostly forward */
			uint8_t op = jmp_ops[take(g, 1) % sizeof(jmp_ops)];
			bool x = take(g, 1) & 1, is64 = take(g, 1) & 3;
			int16_t off = (int16_t)(take(g, 1) % 8);
			if (!(take(g, 1) % 4))
				off = (int16_t)-(int)(take(g, 1) % 8) - 1;
			put(g, (uint8_t)(op | (x ? 0x08 : 0) | (is64 ? 0x05 : 0x06)), dst, x ? src : 0, off,
			    x ? 0 : pick_imm(g));
			break;
		}
		case 8: /* pointer arithmetic */
			put(g, 0xbf, dst, take(g, 1) & 1 ? 1 : 10, 0, 0);
			put(g, 0x0f, dst, (int)(take(g, 1) % 10), 0, 0);
			break;
		case 9: /* a helper: prandom, ktime */
			put(g, 0x85, 0, 0, 0, take(g, 1) & 1 ? 7 : 5);
			break;
		case 10: /* an atomic add */
			put(g, take(g, 1) & 1 ? 0xdb : 0xc3, (int)(take(g, 1) % 11), src,
			    (int16_t)-(int)(8 * (take(g, 1) % 66)), take(g, 1) & 1 ? 0x00 : 0x01);
			break;
		default: /* exit */
			if (take(g, 1) & 1)
				put(g, 0xb7, 0, 0, 0, pick_imm(g));
			put(g, 0x95, 0, 0, 0, 0);
			break;
		}
	}
	put(g, 0xb7, 0, 0, 0, 0);
	put(g, 0x95, 0, 0, 0, 0);
}

static void violation(const struct gen *g, const char *what, const char *msg)
{
	fprintf(stderr, "verifier soundness violation: %s: %s\n", what, msg);
	for (size_t i = 0; i < g->len; i++) {
		char buf[128];
		bpfrt_disasm_insn(NULL, g->out, g->len, i, buf, sizeof(buf));
		fprintf(stderr, "%4zu: %s\n", i, buf);
	}
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bpfrt_vm *vm;
	if (!vm)
		vm = bpfrt_vm_new();
	struct gen g = { .p = data, .n = size };
	generate(&g);
	if (getenv("FUZZ_VERIFY_DUMP")) /* triage: the generated program */
		for (size_t i = 0; i < g.len; i++) {
			char buf[128];
			bpfrt_disasm_insn(NULL, g.out, g.len, i, buf, sizeof(buf));
			fprintf(stderr, "%4zu: %s\n", i, buf);
		}
	struct vf_input in = { .insns = g.out, .n = g.len, .platform = VF_PLATFORM_BPFRT, .helpers = &vm->helpers,
			       .ctx_size = CTX, .insn_limit = 20000 };
	struct vf_result vr;
	int rc = bpfrt_verify(&in, &vr);
	bpfrt_verify_result_free(&vr);
	if (rc == BPFRT_EINTERNAL)
		violation(&g, "verifier bug", "internal error");
	if (rc != BPFRT_OK)
		return 0;
	uint8_t *mem = malloc(CTX);
	for (int i = 0; i < CTX; i++)
		mem[i] = (uint8_t)(i * 37 + size);
	bpfrt_prog *p = NULL;
	/* loaded as verified programs are (dead code, writes to r10 in it included, goes) */
	struct bpfrt_load_opts o = { .sz = sizeof(o), .flags = BPFRT_LOAD_SAFE | BPFRT_LOAD_VERIFY,
				     .engine = BPFRT_ENGINE_INTERP, .insn_budget = 1u << 24, .ctx_size = CTX };
	uint64_t r0;
	if (bpfrt_prog_load(vm, g.out, g.len, &o, &p) != BPFRT_OK)
		violation(&g, "accepted but not loadable", bpfrt_vm_errmsg(vm));
	rc = bpfrt_prog_run_mem(p, mem, CTX, &r0);
	if (rc != BPFRT_OK)
		violation(&g, "accepted but unsafe (safe mode)", bpfrt_prog_errmsg(p));
	bpfrt_prog_free(p);
	/* unchecked: ASan watches the buffer */
	o.flags = BPFRT_LOAD_VERIFY;
	o.insn_budget = 0;
	if (bpfrt_prog_load(vm, g.out, g.len, &o, &p) != BPFRT_OK)
		violation(&g, "accepted but not loadable (fast)", bpfrt_vm_errmsg(vm));
	rc = bpfrt_prog_run_mem(p, mem, CTX, &r0);
	if (rc != BPFRT_OK)
		violation(&g, "accepted but failed (fast)", bpfrt_prog_errmsg(p));
	bpfrt_prog_free(p);
	free(mem);
	return 0;
}
