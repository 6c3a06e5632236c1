/*
 * embed.c — bpfrt embedded in a C program, through the public API only:
 * a helper of our own, a program assembled from text, loaded in safe mode,
 * run on a buffer.
 *
 *   cc embed.c $(pkg-config --cflags --libs bpfrt) -o embed && ./embed
 */
#include <stdio.h>
#include <stdlib.h>

#include <bpfrt.h>

/* helper 1000: returns r1 * r2 */
static uint64_t mul_helper(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	(void)r3; (void)r4; (void)r5;
	return r1 * r2;
}

int main(void)
{
	static const char text[] =
		"ldxw %r6, [%r1]      # the first word of the buffer\n"
		"ldxw %r2, [%r1+4]    # the second\n"
		"mov %r1, %r6\n"
		"call 1000            # r0 = r1 * r2\n"
		"exit\n";
	bpfrt_vm *vm = bpfrt_vm_new();
	if (!vm || bpfrt_vm_register_helper(vm, 1000, "mul", mul_helper, 0) != BPFRT_OK)
		return 1;
	struct bpfrt_insn *insns;
	size_t n;
	char err[256];
	if (bpfrt_asm(text, &insns, &n, err, sizeof(err)) != BPFRT_OK) {
		fprintf(stderr, "asm: %s\n", err);
		return 1;
	}
	struct bpfrt_load_opts opts = { .sz = sizeof(opts), .flags = BPFRT_LOAD_SAFE };
	bpfrt_prog *prog;
	if (bpfrt_prog_load(vm, insns, n, &opts, &prog) != BPFRT_OK) {
		fprintf(stderr, "load: %s\n", bpfrt_vm_errmsg(vm));
		return 1;
	}
	free(insns);
	uint32_t buf[2] = { 6, 7 };
	uint64_t r0;
	if (bpfrt_prog_run_mem(prog, buf, sizeof(buf), &r0) != BPFRT_OK) {
		fprintf(stderr, "run: %s\n", bpfrt_prog_errmsg(prog));
		return 1;
	}
	printf("6 * 7 = %llu\n", (unsigned long long)r0);
	bpfrt_prog_free(prog);
	bpfrt_vm_free(vm);
	return r0 == 42 ? 0 : 1;
}
