/*
 * fuzz_elf.c — libFuzzer target over the ELF object loader: any byte
 * string is refused with a message, or opens; every program of an object
 * that opens is loaded (refused with a message, or loaded) and, in safe
 * mode, run; no sanitizer report, no leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bpfrt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bpfrt_vm *vm;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!vm && !(vm = bpfrt_vm_new()))
		abort();
	bpfrt_obj *obj;
	if (bpfrt_obj_open_mem(vm, data, size, "fuzz", &obj) != BPFRT_OK) {
		if (!bpfrt_vm_errmsg(vm)[0])
			abort();
		return 0;
	}
	size_t np = bpfrt_obj_prog_count(obj);
	for (size_t i = 0; i < np && i < 8; i++) {
		struct bpfrt_obj_prog_info pi;
		if (bpfrt_obj_prog_info(obj, i, &pi) != BPFRT_OK)
			abort();
		struct bpfrt_load_opts o = { .sz = sizeof(o), .flags = BPFRT_LOAD_SAFE, .insn_budget = 4096 };
		bpfrt_prog *p;
		if (bpfrt_obj_load_prog(obj, pi.name, &o, &p) != BPFRT_OK) {
			if (!bpfrt_vm_errmsg(vm)[0])
				abort();
			continue;
		}
		uint8_t mem[256] = { 0 };
		uint64_t r0;
		bpfrt_prog_run_mem(p, mem, sizeof(mem), &r0);
		bpfrt_prog_free(p);
	}
	bpfrt_obj_free(obj);
	return 0;
}
