/*
 * fuzz_load.c — libFuzzer target over load, validation, safe-mode
 * interpretation, the disassembler and the assembler.
 *
 * Input: one mode byte, then either raw instructions (mode bit 0 clear) or
 * assembly text (bit 0 set).  Every input must be refused with a message, or
 * run to completion / a fault / the budget, with no sanitizer report.  Valid
 * programs also run on both interpreter builds (goto and switch), which must
 * agree on status, r0 and memory; and disassemble, reassemble to the same
 * instructions.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpfrt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM_SIZE 64

static bpfrt_vm *vm;

static int run(const struct bpfrt_insn *in, size_t n, bpfrt_engine engine, uint8_t *mem,
	       uint64_t *r0, int *load_rc)
{
	struct bpfrt_load_opts o = { .sz = sizeof(o), .flags = BPFRT_LOAD_SAFE, .engine = engine,
				     .insn_budget = 4096 };
	bpfrt_prog *p = NULL;
	*load_rc = bpfrt_prog_load(vm, in, n, &o, &p);
	if (*load_rc != BPFRT_OK) {
		if (!bpfrt_vm_errmsg(vm)[0])
			abort(); /* every refusal has a message */
		return *load_rc;
	}
	for (int i = 0; i < MEM_SIZE; i++)
		mem[i] = (uint8_t)(i * 7 + 1);
	*r0 = 0;
	int rc = bpfrt_prog_run_mem(p, mem, MEM_SIZE, r0);
	if (rc != BPFRT_OK && !bpfrt_prog_errmsg(p)[0])
		abort();
	bpfrt_prog_free(p);
	return rc;
}

static void round_trip(const struct bpfrt_insn *in, size_t n)
{
	size_t cap = n * 80 + 1, len = 0;
	char *text = malloc(cap);
	if (!text)
		return;
	text[0] = '\0';
	for (size_t pc = 0; pc < n;) {
		char line[128];
		int k = bpfrt_disasm_insn(NULL, in, n, pc, line, sizeof(line));
		if (k == 0)
			abort(); /* a loaded program disassembles */
		len += (size_t)snprintf(text + len, cap - len, "%s\n", line);
		pc += (size_t)k;
	}
	struct bpfrt_insn *back = NULL;
	size_t nb = 0;
	char err[256];
	if (bpfrt_asm(text, &back, &nb, err, sizeof(err)) != BPFRT_OK || nb != n ||
	    memcmp(back, in, n * sizeof(*in)))
		abort(); /* asm(disasm(p)) == p */
	free(back);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!vm && !(vm = bpfrt_vm_new()))
		abort();
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	data++;
	size--;
	struct bpfrt_insn *in = NULL;
	size_t n = 0;
	if (mode & 1) {
		char *text = malloc(size + 1);
		if (!text)
			return 0;
		memcpy(text, data, size);
		text[size] = '\0';
		char err[256];
		int rc = bpfrt_asm(text, &in, &n, err, sizeof(err));
		free(text);
		if (rc != BPFRT_OK) {
			if (!err[0])
				abort();
			return 0;
		}
	} else {
		n = size / sizeof(*in);
		in = malloc(n ? n * sizeof(*in) : 1);
		if (!in)
			return 0;
		memcpy(in, data, n * sizeof(*in));
	}
	/* both runs use the same buffer: programs may compute with its address */
	static uint8_t mem[MEM_SIZE];
	uint8_t m1[MEM_SIZE];
	uint64_t r1, r2;
	int l1, l2;
	int s1 = run(in, n, BPFRT_ENGINE_INTERP, mem, &r1, &l1);
	memcpy(m1, mem, MEM_SIZE);
	int s2 = run(in, n, BPFRT_ENGINE_INTERP_SWITCH, mem, &r2, &l2);
	if (l1 != l2)
		abort();
	if (l1 == BPFRT_OK) {
		/* Compare where the result is a function of the program: not with
		 * helpers (5 is time, 7 random), nor where r10 is used as a value
		 * (the stack's address differs between runs) rather than as the
		 * base of a load or store. */
		bool compare = true;
		for (size_t i = 0; i < n; i++) {
			uint8_t cls = in[i].code & 7;
			bool mem_base = cls == 1 ? in[i].src == 10 : (cls == 2 || cls == 3) && in[i].dst == 10;
			compare &= !((in[i].code == 0x85 && in[i].src == 0) || in[i].code == 0x8d);
			compare &= mem_base ? !(cls == 3 && in[i].src == 10) : in[i].src != 10 && in[i].dst != 10;
		}
		if (compare && (s1 != s2 || r1 != r2 || memcmp(m1, mem, MEM_SIZE)))
			abort();
		round_trip(in, n);
	}
	free(in);
	return 0;
}
