/*
 * test_api.c — the public API: vms, helpers, load options, runs, errors,
 * limits and concurrent runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>
#include <stdlib.h>

#include "bpfrt.h"

static bpfrt_prog *load_asm(bpfrt_vm *vm, const char *text, uint32_t flags, int expect)
{
	struct bpfrt_insn *in;
	size_t n;
	char err[256];
	assert_int_equal(bpfrt_asm(text, &in, &n, err, sizeof(err)), BPFRT_OK);
	struct bpfrt_load_opts o = { .sz = sizeof(o), .flags = flags };
	bpfrt_prog *p = NULL;
	int rc = bpfrt_prog_load(vm, in, n, &o, &p);
	free(in);
	if (rc != expect)
		fail_msg("load returned %d (%s), expected %d", rc, bpfrt_vm_errmsg(vm), expect);
	return p;
}

static uint64_t h_sum(uint64_t a __attribute__((unused)), uint64_t b __attribute__((unused)), uint64_t c __attribute__((unused)), uint64_t d __attribute__((unused)), uint64_t e __attribute__((unused)))
{
	return a + 10 * b + 100 * c + 1000 * d + 10000 * e;
}

static void helpers_registry(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	assert_non_null(vm);
	assert_string_equal(bpfrt_vm_helper_name(vm, 5), "bpf_ktime_get_ns");
	assert_null(bpfrt_vm_helper_name(vm, 1000));
	assert_int_equal(bpfrt_vm_register_helper(vm, 1000, "sum", h_sum, 0), BPFRT_OK);
	assert_int_equal(bpfrt_vm_register_helper(vm, 1000, "sum", h_sum, 0), BPFRT_EEXIST);
	assert_non_null(strstr(bpfrt_vm_errmsg(vm), "helper 1000 (sum) is already registered"));
	assert_int_equal(bpfrt_vm_register_helper(vm, 70000, "x", h_sum, 0), BPFRT_EINVAL);
	bpfrt_prog *p = load_asm(vm, "mov %r1, 1\nmov %r2, 2\nmov %r3, 3\nmov %r4, 4\nmov %r5, 5\n"
				 "call 1000\nexit", BPFRT_LOAD_SAFE, BPFRT_OK);
	uint64_t r0;
	assert_int_equal(bpfrt_prog_run_mem(p, NULL, 0, &r0), BPFRT_OK);
	assert_int_equal(r0, 54321);
	/* programs keep the registry they were loaded with */
	assert_int_equal(bpfrt_vm_register_helper(vm, 1000, NULL, NULL, 0), BPFRT_OK);
	assert_null(bpfrt_vm_helper_name(vm, 1000));
	assert_int_equal(bpfrt_prog_run_mem(p, NULL, 0, &r0), BPFRT_OK);
	assert_int_equal(r0, 54321);
	bpfrt_prog_free(p);
	/* and new loads see the removal */
	load_asm(vm, "call 1000\nexit", 0, BPFRT_EREJECT);
	assert_non_null(strstr(bpfrt_vm_errmsg(vm), "insn 0: call to unknown helper 1000"));
	bpfrt_vm_free(vm);
}

static uint8_t helper_mem[16] = { [8] = 0x2a };
static uint64_t h_mem(uint64_t a __attribute__((unused)), uint64_t b __attribute__((unused)), uint64_t c __attribute__((unused)), uint64_t d __attribute__((unused)), uint64_t e __attribute__((unused)))
{
	return a ? (uintptr_t)helper_mem : 0;
}

/* sum_bytes(mem, len): the bytes' sum */
static uint64_t h_sum_bytes(uint64_t mem, uint64_t len, uint64_t c, uint64_t d, uint64_t e)
{
	(void)c; (void)d; (void)e;
	uint64_t s = 0;
	for (uint64_t i = 0; i < len; i++)
		s += ((const uint8_t *)(uintptr_t)mem)[i];
	return s;
}

/* An embedder's helper with a prototype: the verifier holds programs to it
 * (memory with its size, in bounds and initialised; no number as memory),
 * every engine runs it, safe mode checks the memory; prototypes that do not
 * hold together are refused. */
static void helper_prototypes(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	struct bpfrt_helper_proto pr = { .sz = sizeof(pr), .args = { BPFRT_ARG_MEM, BPFRT_ARG_SIZE } };
	assert_int_equal(bpfrt_vm_register_helper_proto(vm, 3000, "sum_bytes", h_sum_bytes, &pr), BPFRT_OK);
	static const char *good = "lddw %r1, 0x0403020100000000\n"
				  "stxdw [%r10-8], %r1\nmov %r1, %r10\nadd %r1, -8\nmov %r2, 8\ncall 3000\nexit\n";
	static const uint32_t flags[] = { BPFRT_LOAD_VERIFY | BPFRT_LOAD_SAFE, BPFRT_LOAD_VERIFY };
	for (size_t i = 0; i < 2; i++) {
		bpfrt_prog *p = load_asm(vm, good, flags[i], BPFRT_OK);
		uint64_t r0;
		assert_int_equal(bpfrt_prog_run_mem(p, NULL, 0, &r0), BPFRT_OK);
		assert_int_equal(r0, 10);
		bpfrt_prog_free(p);
	}
	/* past the initialised bytes, a number as memory, a size that is not bounded */
	load_asm(vm, "mov %r1, 0\nstxw [%r10-8], %r1\nmov %r1, %r10\nadd %r1, -8\nmov %r2, 8\n"
		     "call 3000\nexit\n", BPFRT_LOAD_VERIFY, BPFRT_EREJECT);
	assert_non_null(strstr(bpfrt_vm_errmsg(vm), "not initialised"));
	load_asm(vm, "mov %r1, 4096\nmov %r2, 8\ncall 3000\nexit\n", BPFRT_LOAD_VERIFY, BPFRT_EREJECT);
	load_asm(vm, "ldxdw %r2, [%r1]\nmov %r1, %r10\nadd %r1, -8\ncall 3000\nexit\n", BPFRT_LOAD_VERIFY,
		 BPFRT_EREJECT);
	/* without a prototype the same number passes the verifier (it takes anything) */
	assert_int_equal(bpfrt_vm_register_helper(vm, 3001, "anything", h_sum, 0), BPFRT_OK);
	bpfrt_prog_free(load_asm(vm, "mov %r1, 4096\nmov %r2, 8\nmov %r3, 0\nmov %r4, 0\nmov %r5, 0\n"
				 "call 3001\nexit\n", BPFRT_LOAD_VERIFY, BPFRT_OK));
	/* prototypes that do not hold together */
	struct bpfrt_helper_proto bad[] = {
		{ .sz = sizeof(pr), .args = { BPFRT_ARG_SIZE } },                   /* a size first */
		{ .sz = sizeof(pr), .args = { BPFRT_ARG_MEM, BPFRT_ARG_ANY } },     /* memory without size */
		{ .sz = sizeof(pr), .args = { BPFRT_ARG_MEM } },                    /* ... at the end */
		{ .sz = sizeof(pr), .args = { BPFRT_ARG_MAP_KEY } },                /* a key without a map */
		{ .sz = sizeof(pr), .args = { BPFRT_ARG_NONE, BPFRT_ARG_ANY } },    /* a gap */
		{ .sz = sizeof(pr), .ret = BPFRT_RET_MEM_OR_NULL },                 /* memory of no size */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(bpfrt_vm_register_helper_proto(vm, 3100 + (uint32_t)i, "bad", h_sum, &bad[i]),
				 BPFRT_EINVAL);
	assert_null(bpfrt_vm_helper_name(vm, 3100));
	bpfrt_vm_free(vm);
}

/* The tracing helpers read a trampoline's hidden slots below ctx: in safe
 * mode, a program that is not in a trampoline gets nothing (no read outside
 * its memory; the fuzzer found one). */
static void tracing_helpers_in_safe_mode(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	static const char *const progs[] = {
		"call 173\nexit\n",                                                 /* get_func_ip(mem) */
		"call 185\nexit\n",                                                 /* get_func_arg_cnt(mem) */
		"mov %r2, 0\nmov %r3, %r10\nadd %r3, -8\ncall 183\nexit\n",         /* get_func_arg(mem, 0, fp-8) */
		"mov %r2, %r10\nadd %r2, -8\ncall 184\nexit\n",                     /* get_func_ret(mem, fp-8) */
	};
	static const uint64_t want[] = { 0, 0, (uint64_t)-14, (uint64_t)-14 };
	for (size_t i = 0; i < 4; i++) {
		bpfrt_prog *p = load_asm(vm, progs[i], BPFRT_LOAD_SAFE, BPFRT_OK);
		uint8_t mem[8] = { 0 };
		uint64_t r0;
		assert_int_equal(bpfrt_prog_run_mem(p, mem, sizeof(mem), &r0), BPFRT_OK);
		assert_int_equal(r0, want[i]);
		bpfrt_prog_free(p);
	}
	bpfrt_vm_free(vm);
}

static void helper_memory_in_safe_mode(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	assert_int_equal(bpfrt_vm_register_helper(vm, 2000, "mem", h_mem, sizeof(helper_mem)), 0);
	uint64_t r0;
	bpfrt_prog *ok = load_asm(vm, "mov %r1, 1\ncall 2000\nldxb %r0, [%r0+8]\nexit",
				  BPFRT_LOAD_SAFE, BPFRT_OK);
	assert_int_equal(bpfrt_prog_run_mem(ok, NULL, 0, &r0), BPFRT_OK);
	assert_int_equal(r0, 0x2a);
	bpfrt_prog *past = load_asm(vm, "mov %r1, 1\ncall 2000\nldxw %r0, [%r0+13]\nexit",
				    BPFRT_LOAD_SAFE, BPFRT_OK);
	assert_int_equal(bpfrt_prog_run_mem(past, NULL, 0, &r0), BPFRT_EFAULT);
	assert_non_null(strstr(bpfrt_prog_errmsg(past), "insn 2: out-of-bounds load of 4 bytes"));
	/* NULL returns add no region */
	bpfrt_prog *null = load_asm(vm, "mov %r1, 0\ncall 2000\nldxb %r0, [%r0]\nexit",
				    BPFRT_LOAD_SAFE, BPFRT_OK);
	assert_int_equal(bpfrt_prog_run_mem(null, NULL, 0, &r0), BPFRT_EFAULT);
	bpfrt_prog_free(ok);
	bpfrt_prog_free(past);
	bpfrt_prog_free(null);
	bpfrt_vm_free(vm);
}

static void run_on_context(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	uint64_t ctx[2] = { 7, 9 }, r0;
	bpfrt_prog *p = load_asm(vm, "ldxdw %r0, [%r1+8]\nadd %r0, %r2\nexit", BPFRT_LOAD_SAFE, 0);
	assert_int_equal(bpfrt_prog_run_ctx(p, ctx, sizeof(ctx), &r0), BPFRT_OK);
	assert_int_equal(r0, 9); /* r2 is 0 for a context run */
	assert_int_equal(bpfrt_prog_run_ctx(p, ctx, 8, &r0), BPFRT_EFAULT);
	assert_int_equal(bpfrt_prog_run_mem(p, ctx, sizeof(ctx), &r0), BPFRT_OK);
	assert_int_equal(r0, 9 + 16); /* r2 = len for a memory run */
	bpfrt_prog_free(p);
	bpfrt_vm_free(vm);
}

static void load_options_and_arguments(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	struct bpfrt_insn prog[] = { { .code = 0xb7, .imm = 3 }, { .code = 0x95 } };
	bpfrt_prog *p = NULL;
	assert_int_equal(bpfrt_prog_load(vm, prog, 2, NULL, &p), BPFRT_OK);
	assert_int_equal(bpfrt_prog_engine(p), BPFRT_ENGINE_JIT); /* the default, not in safe mode */
	size_t n;
	const struct bpfrt_insn *back = bpfrt_prog_insns(p, &n);
	assert_int_equal(n, 2);
	assert_memory_equal(back, prog, sizeof(prog));
	bpfrt_prog_free(p);
	struct bpfrt_load_opts o = { .sz = 3 };
	assert_int_equal(bpfrt_prog_load(vm, prog, 2, &o, &p), BPFRT_EINVAL);
	assert_non_null(strstr(bpfrt_vm_errmsg(vm), "bad sz"));
	o = (struct bpfrt_load_opts){ .sz = sizeof(o), .flags = 1u << 30 };
	assert_int_equal(bpfrt_prog_load(vm, prog, 2, &o, &p), BPFRT_EINVAL);
	o = (struct bpfrt_load_opts){ .sz = sizeof(o), .engine = 99 };
	assert_int_equal(bpfrt_prog_load(vm, prog, 2, &o, &p), BPFRT_ENOTSUP);
	o = (struct bpfrt_load_opts){ .sz = sizeof(o), .name = "myprog" };
	assert_int_equal(bpfrt_prog_load(vm, prog, 0, &o, &p), BPFRT_EREJECT);
	assert_string_equal(bpfrt_vm_errmsg(vm), "myprog: the program is empty");
	assert_null(p);
	assert_int_equal(bpfrt_prog_load(vm, NULL, 2, NULL, &p), BPFRT_EINVAL);
	assert_int_equal(bpfrt_prog_load(NULL, prog, 2, NULL, &p), BPFRT_EINVAL);
	assert_int_equal(bpfrt_prog_load(vm, prog, 2, NULL, NULL), BPFRT_EINVAL);
	assert_int_equal(bpfrt_prog_run_mem(NULL, NULL, 0, NULL), BPFRT_EINVAL);
	bpfrt_prog_free(NULL);
	bpfrt_vm_free(NULL);
	assert_string_equal(bpfrt_status_str(BPFRT_EREJECT), "program rejected");
	assert_string_equal(bpfrt_version(), "0.1.0");
	bpfrt_vm_free(vm);
}

static void size_limit(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	size_t n = BPFRT_MAX_INSNS + 1;
	struct bpfrt_insn *in = calloc(n, sizeof(*in));
	for (size_t i = 0; i < n; i++)
		in[i] = (struct bpfrt_insn){ .code = 0x07, .imm = 1 }; /* add r0, 1 */
	in[0] = (struct bpfrt_insn){ .code = 0xb7, .imm = 1 };      /* mov r0, 1 */
	in[BPFRT_MAX_INSNS - 1] = (struct bpfrt_insn){ .code = 0x95 };
	bpfrt_prog *p = NULL;
	assert_int_equal(bpfrt_prog_load(vm, in, BPFRT_MAX_INSNS, NULL, &p), BPFRT_OK);
	uint64_t r0 = 0;
	assert_int_equal(bpfrt_prog_run_mem(p, NULL, 0, &r0), BPFRT_OK);
	assert_int_equal(r0, BPFRT_MAX_INSNS - 1);
	bpfrt_prog_free(p);
	in[n - 1] = (struct bpfrt_insn){ .code = 0x95 };
	assert_int_equal(bpfrt_prog_load(vm, in, n, NULL, &p), BPFRT_EREJECT);
	assert_non_null(strstr(bpfrt_vm_errmsg(vm), "1048577 instructions, over the limit of 1048576"));
	free(in);
	bpfrt_vm_free(vm);
}

static void budget(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	struct bpfrt_insn in[] = { { .code = 0x07, .imm = 1 }, { .code = 0x05, .off = -2 } };
	struct bpfrt_load_opts o = { .sz = sizeof(o), .flags = BPFRT_LOAD_SAFE, .insn_budget = 1000 };
	bpfrt_prog *p;
	assert_int_equal(bpfrt_prog_load(vm, in, 2, &o, &p), BPFRT_OK);
	uint64_t r0;
	assert_int_equal(bpfrt_prog_run_mem(p, NULL, 0, &r0), BPFRT_EBUDGET);
	assert_non_null(strstr(bpfrt_prog_errmsg(p), "exceeded its budget of 1000 instructions"));
	bpfrt_prog_free(p);
	bpfrt_vm_free(vm);
}

struct shared {
	bpfrt_prog *p;
	uint64_t *counter;
	int runs;
	int bad;
};

static void *runner(void *arg)
{
	struct shared *s = arg;
	for (int i = 0; i < s->runs; i++) {
		uint64_t r0;
		if (bpfrt_prog_run_mem(s->p, s->counter, 8, &r0) != BPFRT_OK || r0 != 55)
			__atomic_fetch_add(&s->bad, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void concurrent_runs(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	/* sum 1..10 on the stack, then an atomic increment of the shared counter */
	const char *text =
		"mov %r0, 0\nmov %r2, 1\nstdw [%r10-8], 0\n"
		"loop:\nldxdw %r3, [%r10-8]\nadd %r3, %r2\nstxdw [%r10-8], %r3\nadd %r2, 1\n"
		"jle %r2, 10, loop\nmov %r4, 1\nlock add [%r1], %r4\nldxdw %r0, [%r10-8]\nexit";
	for (int safe = 0; safe < 2; safe++) {
		bpfrt_prog *p = load_asm(vm, text, safe ? BPFRT_LOAD_SAFE : 0, BPFRT_OK);
		uint64_t counter = 0;
		struct shared s = { p, &counter, 20000, 0 };
		pthread_t t[4];
		for (int i = 0; i < 4; i++)
			pthread_create(&t[i], NULL, runner, &s);
		for (int i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
		assert_int_equal(s.bad, 0);
		assert_int_equal(counter, 4 * 20000);
		bpfrt_prog_free(p);
	}
	bpfrt_vm_free(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(helpers_registry),
		cmocka_unit_test(helper_memory_in_safe_mode),
		cmocka_unit_test(helper_prototypes),
		cmocka_unit_test(tracing_helpers_in_safe_mode),
		cmocka_unit_test(run_on_context),
		cmocka_unit_test(load_options_and_arguments),
		cmocka_unit_test(size_limit),
		cmocka_unit_test(budget),
		cmocka_unit_test(concurrent_runs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
