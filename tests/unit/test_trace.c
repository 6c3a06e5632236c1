#define _GNU_SOURCE
/*
 * test_trace.c — fentry / fexit / fmod_ret on this process's functions
 * (tests/bpf/trace.bpf.c): the kernel's tracing oracles on interpreter and
 * JIT, every kind of patch site (5-byte nop, five 1-byte nops, moved
 * instructions of each kind), refusals, the recursion guard, attach and
 * detach while threads call the function, image retirement.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpfrt.h"
#include "tramp.h"

/* ---- the traced functions (extern, noinline, called through volatile
 * pointers: the compiler neither inlines nor specialises them) ---- */
#define TRACED __attribute__((noinline, used, patchable_function_entry(5, 0)))
#pragma GCC diagnostic ignored "-Wmissing-prototypes"

TRACED int bpf_fentry_test0(void) { return 42; }
TRACED int bpf_fentry_test1(int a) { return a + 1; }
TRACED int bpf_fentry_test2(int a, uint64_t b) { return a + (int)b; }
TRACED int bpf_fentry_test3(char a, int b, uint64_t c) { return a + b + (int)c; }
TRACED int bpf_fentry_test4(void *a, char b, int c, uint64_t d) { return (int)(long)a + b + c + (int)d; }
TRACED int bpf_fentry_test5(uint64_t a, void *b, short c, int d, uint64_t e)
{
	return (int)a + (int)(long)b + c + d + (int)e;
}
TRACED int bpf_fentry_test6(uint64_t a, void *b, short c, int d, void *e, uint64_t f)
{
	return (int)a + (int)(long)b + c + d + (int)(long)e + (int)f;
}
TRACED int bpf_fentry_test7(uint64_t a, void *b, short c, int d, void *e, char f, int g)
{
	return (int)a + (int)(long)b + c + d + (int)(long)e + f + g;
}
TRACED uint64_t bpf_fentry_test8(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, uint64_t f,
				 uint64_t g, uint64_t h)
{
	return a + b + c + d + e + f + g + h;
}
TRACED int bpf_modify_return_test(int a, int *b)
{
	*b += 1;
	return a + *b;
}
TRACED int bpf_trace_target(int a) { return a + 1; }
struct wide { uint64_t lo, hi; };
TRACED struct wide bpf_trace_wide(uint64_t a) { return (struct wide){ a + 1, a + 2 }; }
TRACED double bpf_trace_double(double a) { return a * 2.5; }

TRACED long bpf_probe_target(long a, long b) { return a * b + 1; }
TRACED long bpf_probe_recurse(long n)
{
	static long (*volatile self)(long) = bpf_probe_recurse;
	return n ? n + self(n - 1) : 0;
}
#include <setjmp.h>
static jmp_buf probe_jb;
/* returns n, or longjmps out when n is odd */
TRACED long bpf_probe_jumper(long n)
{
	if (n & 1)
		longjmp(probe_jb, 1);
	return n;
}

/* The same body at each kind of site, in assembly so that the bytes are
 * known: rax = rdi + rsi. */
__asm__(".text\n"
	".globl asm_nop5\n.type asm_nop5,@function\nasm_nop5:\n"
	"  .byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n  lea (%rdi,%rsi), %rax\n  ret\n.size asm_nop5, .-asm_nop5\n"
	".globl asm_nops\n.type asm_nops,@function\nasm_nops:\n"
	"  nop; nop; nop; nop; nop\n  lea (%rdi,%rsi), %rax\n  ret\n.size asm_nops, .-asm_nops\n"
	/* moved: push rbp; mov rbp,rsp (4 bytes) and lea (4) */
	".globl asm_frame\n.type asm_frame,@function\nasm_frame:\n"
	"  push %rbp\n  mov %rsp, %rbp\n  lea (%rdi,%rsi), %rax\n  pop %rbp\n  ret\n.size asm_frame, .-asm_frame\n"
	/* moved: a RIP-relative load first (7 bytes) */
	".globl asm_riprel\n.type asm_riprel,@function\nasm_riprel:\n"
	"  mov asm_zero(%rip), %rax\n  add %rdi, %rax\n  add %rsi, %rax\n  ret\n.size asm_riprel, .-asm_riprel\n"
	/* moved: a short jcc among the first bytes (to rel32) */
	".globl asm_jcc\n.type asm_jcc,@function\nasm_jcc:\n"
	"  test %rdi, %rdi\n  je 1f\n  lea (%rdi,%rsi), %rax\n  ret\n1:  mov %rsi, %rax\n  ret\n"
	".size asm_jcc, .-asm_jcc\n"
	/* moved: a call among the first bytes */
	".globl asm_call\n.type asm_call,@function\nasm_call:\n"
	"  call asm_nop5\n  ret\n.size asm_call, .-asm_call\n"
	/* refused: a loop back into the first 5 bytes */
	".globl asm_loop\n.type asm_loop,@function\nasm_loop:\n"
	"  xor %eax, %eax\n1: inc %eax\n  cmp %edi, %eax\n  jl 1b\n  ret\n.size asm_loop, .-asm_loop\n"
	/* refused: shorter than the patch */
	".globl asm_short\n.type asm_short,@function\nasm_short:\n"
	"  mov %rdi, %rax\n  ret\n.size asm_short, .-asm_short\n"
	".data\n.globl asm_zero\nasm_zero: .quad 0\n.text\n");
long asm_nop5(long, long), asm_nops(long, long), asm_frame(long, long), asm_riprel(long, long);
long asm_jcc(long, long), asm_call(long, long), asm_loop(long, long), asm_short(long, long);

struct results {
	uint64_t fentry_ok[9], fexit_ok[9];
	uint64_t mr_fentry_ok, mr_fmod_ok, mr_fexit_ok;
	uint64_t args_fentry_ok, args_fexit_ok, func_ip;
	uint64_t hits, recursed, wide_ret_lo, wide_ret_seen, dbl_seen;
	int sequence, input_retval;
	uint64_t kp_hits, kp_args, kp_ip, kret_hits, kret_last, kret_sum;
	uint64_t btf_ok, btf_pair;
};

static char path[4096];

static const char *obj_path(const char *name)
{
	const char *dir = getenv("BPFRT_BPF_OBJS");
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "build/bpf", name);
	return path;
}

static const struct { bpfrt_engine e; uint32_t flags; const char *name; } engines[] = {
	{ BPFRT_ENGINE_INTERP, 0, "interp" }, { BPFRT_ENGINE_JIT, 0, "jit" },
	{ BPFRT_ENGINE_INTERP, BPFRT_LOAD_SAFE, "interp-safe" },
};
#define NENGINES (sizeof(engines) / sizeof(engines[0]))

static uint64_t h_call_traced(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e);

struct env {
	bpfrt_vm *vm;
	bpfrt_obj *obj;
	bpfrt_map *bss;
	size_t engine;
};

static void env_open(struct env *t, size_t engine)
{
	t->vm = bpfrt_vm_new();
	assert_non_null(t->vm);
	assert_int_equal(bpfrt_vm_register_helper(t->vm, 1000, "call_traced", h_call_traced, 0), BPFRT_OK);
	if (bpfrt_obj_open(t->vm, obj_path("trace.o"), &t->obj) != BPFRT_OK)
		fail_msg("open: %s", bpfrt_vm_errmsg(t->vm));
	t->bss = bpfrt_obj_map_by_name(t->obj, ".bss");
	assert_non_null(t->bss);
	t->engine = engine;
}

static bpfrt_prog *load(struct env *t, const char *name)
{
	struct bpfrt_load_opts o = { .sz = sizeof(o), .flags = engines[t->engine].flags,
				     .engine = engines[t->engine].e };
	bpfrt_prog *p;
	if (bpfrt_obj_load_prog(t->obj, name, &o, &p) != BPFRT_OK)
		fail_msg("load %s: %s", name, bpfrt_vm_errmsg(t->vm));
	return p;
}

static bpfrt_link *attach_n(struct env *t, bpfrt_prog *p, int nargs)
{
	struct bpfrt_attach_opts ao = { .sz = sizeof(ao), .nargs = nargs };
	bpfrt_link *l;
	if (bpfrt_prog_attach_symbol(p, NULL, &ao, &l) != BPFRT_OK)
		fail_msg("attach (%s): %s", engines[t->engine].name, bpfrt_prog_errmsg(p));
	return l;
}

static void results(struct env *t, struct results *r)
{
	uint32_t k = 0;
	assert_int_equal(bpfrt_map_lookup(t->bss, &k, r), 0);
}

static void results_set(struct env *t, const struct results *r)
{
	uint32_t k = 0;
	assert_int_equal(bpfrt_map_update(t->bss, &k, r, 0), 0);
}

static void env_close(struct env *t)
{
	bpfrt_obj_free(t->obj);
	bpfrt_vm_free(t->vm);
}

/* the calls, through pointers the compiler cannot see through */
static int (*volatile f1)(int) = bpf_fentry_test1;
static int (*volatile f2)(int, uint64_t) = bpf_fentry_test2;
static int (*volatile f3)(char, int, uint64_t) = bpf_fentry_test3;
static int (*volatile f4)(void *, char, int, uint64_t) = bpf_fentry_test4;
static int (*volatile f5)(uint64_t, void *, short, int, uint64_t) = bpf_fentry_test5;
static int (*volatile f6)(uint64_t, void *, short, int, void *, uint64_t) = bpf_fentry_test6;
static int (*volatile f7)(uint64_t, void *, short, int, void *, char, int) = bpf_fentry_test7;
static uint64_t (*volatile f8)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t,
			       uint64_t) = bpf_fentry_test8;
static int (*volatile fmr)(int, int *) = bpf_modify_return_test;
static int (*volatile ftarget)(int) = bpf_trace_target;

static uint64_t h_call_traced(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	(void)b; (void)c; (void)d; (void)e;
	return (uint64_t)ftarget((int)a);
}

/* the sums of test_run.c's bpf_fentry_test1..6, and ours for 7 and 8 */
static void call_all(void)
{
	assert_int_equal(f1(1), 2);
	assert_int_equal(f2(2, 3), 5);
	assert_int_equal(f3(4, 5, 6), 15);
	assert_int_equal(f4((void *)7, 8, 9, 10), 34);
	assert_int_equal(f5(11, (void *)12, 13, 14, 15), 65);
	assert_int_equal(f6(16, (void *)17, 18, 19, (void *)20, 21), 111);
	assert_int_equal(f7(16, (void *)17, 18, 19, (void *)20, 21, 22), 133);
	assert_int_equal(f8(1, 2, 3, 4, 5, 6, 7, 8), 36);
}

static const int oracle_nargs[9] = { 0, 1, 2, 3, 4, 5, 6, 7, 8 };
static int (*volatile f0)(void) = bpf_fentry_test0;

/* fentry_test / fexit_test: every program sees its arguments (and the
 * return value); detached, nothing runs and the functions still work */
static void fentry_fexit_oracle(void **state)
{
	(void)state;
	for (size_t e = 0; e < NENGINES; e++) {
		struct env t;
		env_open(&t, e);
		bpfrt_prog *p[17];
		bpfrt_link *l[17];
		char name[16];
		for (int i = 1; i <= 8; i++) {
			snprintf(name, sizeof(name), "fentry%d", i);
			p[i] = load(&t, name);
			l[i] = attach_n(&t, p[i], oracle_nargs[i]);
			snprintf(name, sizeof(name), "fexit%d", i);
			p[8 + i] = load(&t, name);
			l[8 + i] = attach_n(&t, p[8 + i], oracle_nargs[i]);
		}
		bpfrt_prog *p0 = load(&t, "fexit0");
		bpfrt_link *l0 = attach_n(&t, p0, 0);
		for (int round = 0; round < 3; round++) {
			call_all();
			assert_int_equal(f0(), 42);
		}
		struct results r;
		results(&t, &r);
		assert_int_equal(r.fexit_ok[0], 3);
		assert_int_equal(bpfrt_link_detach(l0), BPFRT_OK);
		bpfrt_prog_free(p0);
		for (int i = 1; i <= 8; i++) {
			if (r.fentry_ok[i] != 3 || r.fexit_ok[i] != 3)
				fail_msg("%s: test%d: fentry %llu fexit %llu (want 3)", engines[e].name, i,
					 (unsigned long long)r.fentry_ok[i], (unsigned long long)r.fexit_ok[i]);
		}
		for (int i = 1; i <= 16; i++)
			assert_int_equal(bpfrt_link_detach(l[i]), BPFRT_OK);
		call_all();
		results(&t, &r);
		for (int i = 1; i <= 8; i++)
			assert_int_equal(r.fentry_ok[i] + r.fexit_ok[i], 6);
		for (int i = 1; i <= 16; i++)
			bpfrt_prog_free(p[i]);
		env_close(&t);
	}
}

/* modify_return: the order fentry, fmod_ret, fexit; fmod_ret's non-zero
 * return skips the function (no side effect) and becomes its return value;
 * retval = (side_effect << 16) | ret as test_run.c encodes it */
static uint32_t modify_return_run(void)
{
	int b = 2;
	int ret = fmr(1, &b);
	int side_effect = b != 2;
	return ((uint32_t)side_effect << 16) | (uint16_t)ret;
}

static void modify_return(void **state)
{
	(void)state;
	for (size_t e = 0; e < NENGINES; e++) {
		struct env t;
		env_open(&t, e);
		bpfrt_prog *pf = load(&t, "mr_fentry"), *pm = load(&t, "mr_fmod_ret"), *px = load(&t, "mr_fexit");
		bpfrt_link *lf = attach_n(&t, pf, 2), *lm = attach_n(&t, pm, 2), *lx = attach_n(&t, px, 2);
		static const struct { int input, side_effect, ret; } cases[] = { { 0, 1, 4 }, { -22, 0, -22 } };
		for (size_t c = 0; c < 2; c++) {
			struct results r = { 0 };
			r.input_retval = cases[c].input;
			results_set(&t, &r);
			uint32_t rv = modify_return_run();
			results(&t, &r);
			assert_int_equal(rv >> 16, cases[c].side_effect);
			assert_int_equal((int16_t)(rv & 0xffff), cases[c].ret);
			assert_int_equal(r.sequence, 3);
			assert_int_equal(r.mr_fentry_ok, 1);
			assert_int_equal(r.mr_fmod_ok, 1);
			assert_int_equal(r.mr_fexit_ok, 1);
		}
		bpfrt_link_detach(lf);
		bpfrt_link_detach(lm);
		bpfrt_link_detach(lx);
		assert_int_equal(modify_return_run(), (1u << 16) | 4);
		bpfrt_prog_free(pf);
		bpfrt_prog_free(pm);
		bpfrt_prog_free(px);
		env_close(&t);
	}
}

/* get_func_args_test / get_func_ip_test */
static void func_helpers(void **state)
{
	(void)state;
	for (size_t e = 0; e < NENGINES; e++) {
		struct env t;
		env_open(&t, e);
		bpfrt_prog *pa = load(&t, "args_fentry"), *px = load(&t, "args_fexit");
		bpfrt_link *la = attach_n(&t, pa, 2), *lx = attach_n(&t, px, 2);
		assert_int_equal(f2(2, 3), 5);
		struct results r;
		results(&t, &r);
		assert_int_equal(r.args_fentry_ok, 1);
		assert_int_equal(r.args_fexit_ok, 1);
		assert_int_equal(r.func_ip, (uint64_t)(uintptr_t)bpf_fentry_test2);
		bpfrt_link_detach(la);
		bpfrt_link_detach(lx);
		bpfrt_prog_free(pa);
		bpfrt_prog_free(px);
		env_close(&t);
	}
}

/* fmod_ret replaces the return value; fentry-only and fexit-only images;
 * a 16-byte return in rax:rdx and a double in xmm0 survive the trampoline */
static void returns(void **state)
{
	(void)state;
	for (size_t e = 0; e < NENGINES; e++) {
		struct env t;
		env_open(&t, e);
		bpfrt_prog *po = load(&t, "override");
		bpfrt_link *lo = attach_n(&t, po, 1);
		assert_int_equal(ftarget(5), 1005);
		bpfrt_link_detach(lo);
		assert_int_equal(ftarget(5), 6);
		bpfrt_prog *pw = load(&t, "fexit_wide");
		bpfrt_link *lw = attach_n(&t, pw, 1);
		struct wide (*volatile fw)(uint64_t) = bpf_trace_wide;
		struct wide w = fw(40);
		assert_int_equal(w.lo, 41);
		assert_int_equal(w.hi, 42);
		bpfrt_prog *pd1 = load(&t, "fentry_double"), *pd2 = load(&t, "fexit_double");
		bpfrt_link *ld1 = attach_n(&t, pd1, 1), *ld2 = attach_n(&t, pd2, 1);
		double (*volatile fd)(double) = bpf_trace_double;
		assert_true(fd(4.0) == 10.0);
		struct results r;
		results(&t, &r);
		assert_int_equal(r.wide_ret_lo, 41);
		assert_int_equal(r.wide_ret_seen, 1);
		assert_int_equal(r.dbl_seen, 2);
		bpfrt_link_detach(ld2); /* fentry only now: the jmp path */
		assert_true(fd(2.0) == 5.0);
		bpfrt_link_detach(ld1);
		bpfrt_link_detach(lw);
		bpfrt_prog_free(po);
		bpfrt_prog_free(pw);
		bpfrt_prog_free(pd1);
		bpfrt_prog_free(pd2);
		env_close(&t);
	}
}

/* every kind of patch site: fentry + fexit on the same 2-argument body */
static void sites(void **state)
{
	(void)state;
	static const struct { const char *name; long (*fn)(long, long); } fns[] = {
		{ "asm_nop5", asm_nop5 }, { "asm_nops", asm_nops }, { "asm_frame", asm_frame },
		{ "asm_riprel", asm_riprel }, { "asm_jcc", asm_jcc }, { "asm_call", asm_call },
	};
	struct env t;
	env_open(&t, 1);
	bpfrt_prog *pf = load(&t, "count_fentry"), *px = load(&t, "count_fexit");
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		long (*volatile fn)(long, long) = fns[i].fn;
		long want0 = fn(3, 4), want1 = fn(0, 9);
		struct bpfrt_attach_opts ao = { .sz = sizeof(ao), .nargs = 2 };
		bpfrt_link *lf, *lx;
		if (bpfrt_prog_attach_symbol(pf, fns[i].name, &ao, &lf) != BPFRT_OK)
			fail_msg("%s: %s", fns[i].name, bpfrt_prog_errmsg(pf));
		assert_int_equal(bpfrt_prog_attach(px, (void *)fns[i].fn, &ao, &lx), BPFRT_OK);
		struct results r = { 0 };
		results_set(&t, &r);
		assert_int_equal(fn(3, 4), want0);
		assert_int_equal(fn(0, 9), want1);
		results(&t, &r);
		if (r.hits != 4)
			fail_msg("%s: %llu hits, want 4", fns[i].name, (unsigned long long)r.hits);
		bpfrt_link_detach(lf);
		bpfrt_link_detach(lx);
		assert_int_equal(fn(3, 4), want0);
		results(&t, &r);
		assert_int_equal(r.hits, 4);
	}
	bpfrt_prog_free(pf);
	bpfrt_prog_free(px);
	env_close(&t);
}

/* refusals, each with its reason */
static void refusals(void **state)
{
	(void)state;
	struct env t;
	env_open(&t, 1);
	bpfrt_prog *pf = load(&t, "count_fentry"), *px = load(&t, "count_fexit");
	bpfrt_link *l;
	struct bpfrt_attach_opts ao = { .sz = sizeof(ao), .nargs = 2 };
	static const struct { const char *fn, *why; } cases[] = {
		{ "asm_loop", "goes back into the first" },
		{ "asm_short", "ends (ret" },
	};
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(bpfrt_prog_attach_symbol(pf, cases[i].fn, &ao, &l), BPFRT_ENOTSUP);
		if (!strstr(bpfrt_prog_errmsg(pf), cases[i].why))
			fail_msg("%s: %s", cases[i].fn, bpfrt_prog_errmsg(pf));
	}
	assert_int_equal(asm_loop(3, 0), 3); /* untouched */
	assert_int_equal(bpfrt_prog_attach_symbol(pf, "no_such_function_here", &ao, &l), BPFRT_EINVAL);
	assert_non_null(strstr(bpfrt_prog_errmsg(pf), "no function"));
	/* fexit without the argument count */
	assert_int_equal(bpfrt_prog_attach_symbol(px, NULL, NULL, &l), BPFRT_EINVAL);
	assert_non_null(strstr(bpfrt_prog_errmsg(px), "number of arguments"));
	/* a program reading more arguments than the function has */
	bpfrt_prog *pm = load(&t, "too_many_args");
	struct bpfrt_attach_opts one = { .sz = sizeof(one), .nargs = 1 };
	assert_int_equal(bpfrt_prog_attach_symbol(pm, NULL, &one, &l), BPFRT_EREJECT);
	assert_non_null(strstr(bpfrt_prog_errmsg(pm), "reads ctx up to byte 24"));
	/* twice on one function; a different argument count */
	bpfrt_link *l1;
	assert_int_equal(bpfrt_prog_attach_symbol(pf, NULL, &one, &l1), BPFRT_OK);
	assert_int_equal(bpfrt_prog_attach_symbol(pf, NULL, &one, &l), BPFRT_EEXIST);
	struct bpfrt_attach_opts three = { .sz = sizeof(three), .nargs = 3 };
	assert_int_equal(bpfrt_prog_attach_symbol(px, NULL, &three, &l), BPFRT_EINVAL);
	assert_non_null(strstr(bpfrt_prog_errmsg(px), "already"));
	bpfrt_link_detach(l1);
	/* a socket filter is not a tracing program */
	bpfrt_prog_free(pf);
	bpfrt_prog_free(px);
	bpfrt_prog_free(pm);
	env_close(&t);
}

/* 38 programs on one function, the 39th refused (trampoline_count) */
static void limit(void **state)
{
	(void)state;
	struct env t;
	env_open(&t, 1);
	bpfrt_prog *p[39];
	bpfrt_link *l[39];
	struct bpfrt_attach_opts ao = { .sz = sizeof(ao), .nargs = 1 };
	for (int i = 0; i < 39; i++) {
		p[i] = load(&t, i % 3 == 0 ? "count_fentry" : i % 3 == 1 ? "count_fexit" : "count_fmod_ret");
		int rc = bpfrt_prog_attach_symbol(p[i], NULL, &ao, &l[i]);
		assert_int_equal(rc, i < 38 ? BPFRT_OK : BPFRT_E2BIG);
	}
	struct results r = { 0 };
	results_set(&t, &r);
	assert_int_equal(ftarget(1), 2);
	results(&t, &r);
	assert_int_equal(r.hits, 38);
	for (int i = 0; i < 38; i++)
		assert_int_equal(bpfrt_link_detach(l[i]), BPFRT_OK);
	for (int i = 0; i < 39; i++)
		bpfrt_prog_free(p[i]);
	env_close(&t);
}

/* a program that calls the function it traces: the inner call runs the
 * function but not the program again, and counts a miss */
static void recursion(void **state)
{
	(void)state;
	for (size_t e = 0; e < NENGINES; e++) {
		struct env t;
		env_open(&t, e);
		bpfrt_prog *p = load(&t, "recurse");
		bpfrt_link *l = attach_n(&t, p, 1);
		struct results r = { 0 };
		results_set(&t, &r);
		for (int i = 0; i < 5; i++)
			assert_int_equal(ftarget(i), i + 1);
		results(&t, &r);
		assert_int_equal(r.recursed, 5);
		assert_int_equal(bpfrt_prog_recursion_misses(p), 5);
		bpfrt_link_detach(l);
		bpfrt_prog_free(p);
		env_close(&t);
	}
}

/* attach and detach, fentry, fexit and fmod_ret, while 2 threads call the
 * function in a tight loop for a fixed count: every call returns right,
 * and the programs ran at most once per call each */
struct caller {
	long calls, bad;
	volatile int *stop;
};

static void *call_loop(void *arg)
{
	struct caller *c = arg;
	while (!*c->stop) {
		int v = (int)(c->calls & 1023);
		if (ftarget(v) != v + 1)
			c->bad++;
		c->calls++;
	}
	return NULL;
}

static void *call_fixed(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100000; i++)
		if (ftarget(i) != i + 1)
			abort();
	return NULL;
}

static void attach_while_called(void **state)
{
	(void)state;
	struct env t;
	env_open(&t, 1);
	bpfrt_prog *pf = load(&t, "count_fentry"), *px = load(&t, "count_fexit"), *pm = load(&t, "count_fmod_ret");
	volatile int stop = 0;
	struct caller c[2] = { { 0, 0, &stop }, { 0, 0, &stop } };
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, call_loop, &c[i]);
	struct bpfrt_attach_opts ao = { .sz = sizeof(ao), .nargs = 1 };
	for (int round = 0; round < 300; round++) {
		bpfrt_link *l[3] = { NULL, NULL, NULL };
		bpfrt_prog *ps[3] = { pf, px, pm };
		for (int k = 0; k < 3; k++)
			if (((round >> k) & 1 || k == round % 3) &&
			    bpfrt_prog_attach_symbol(ps[k], NULL, &ao, &l[k]) != BPFRT_OK)
				fail_msg("round %d: %s", round, bpfrt_prog_errmsg(ps[k]));
		for (int k = 0; k < 3; k++)
			if (l[k])
				assert_int_equal(bpfrt_link_detach(l[k]), BPFRT_OK);
	}
	stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	struct results r;
	results(&t, &r);
	assert_int_equal(c[0].bad + c[1].bad, 0);
	assert_true(c[0].calls > 0 && c[1].calls > 0);
	assert_true(r.hits <= 3 * (uint64_t)(c[0].calls + c[1].calls));
	printf("attach_while_called: %ld calls, %llu program runs, %zu images waiting\n", c[0].calls + c[1].calls,
	       (unsigned long long)r.hits, bpfrt_tramp_retired());
	/* exact counts while the attachments stay: 2 threads x 100000 calls,
	 * each call runs the 3 programs once */
	{
		bpfrt_link *l3[3];
		bpfrt_prog *ps[3] = { pf, px, pm };
		for (int k = 0; k < 3; k++)
			assert_int_equal(bpfrt_prog_attach_symbol(ps[k], NULL, &ao, &l3[k]), BPFRT_OK);
		results(&t, &r);
		uint64_t before = r.hits;
		pthread_t th2[2];
		for (int i = 0; i < 2; i++)
			pthread_create(&th2[i], NULL, call_fixed, NULL);
		for (int i = 0; i < 2; i++)
			pthread_join(th2[i], NULL);
		results(&t, &r);
		assert_int_equal(r.hits - before, 3 * 2 * 100000);
		for (int k = 0; k < 3; k++)
			assert_int_equal(bpfrt_link_detach(l3[k]), BPFRT_OK);
	}
	/* with the callers gone, every old image can go */
	bpfrt_link *l;
	assert_int_equal(bpfrt_prog_attach_symbol(pf, NULL, &ao, &l), BPFRT_OK);
	assert_int_equal(bpfrt_link_detach(l), BPFRT_OK);
	assert_int_equal(bpfrt_tramp_retired(), 0);
	bpfrt_prog_free(pf);
	bpfrt_prog_free(px);
	bpfrt_prog_free(pm);
	env_close(&t);
}

static long jump_loop(long n)
{
	long (*volatile fj)(long) = bpf_probe_jumper;
	volatile long sum = 0;
	for (volatile long i = 0; i < n; i++) {
		if (setjmp(probe_jb) == 0)
			sum += fj(i);
	}
	return sum;
}

/* the generic hook: uprobe at entry (pt_regs: the arguments in rdi, rsi;
 * bpf_get_func_ip), uretprobe at return (rax), on both engines; nested
 * calls (a recursive function: every frame's return), with an fexit
 * program on the same function; longjmp out of a hooked frame */
static void generic_hook(void **state)
{
	(void)state;
	for (volatile size_t e = 0; e < NENGINES; e++) {
		struct env t;
		env_open(&t, e);
		bpfrt_prog *pe = load(&t, "probe_entry"), *pr = load(&t, "probe_return");
		bpfrt_link *le, *lr;
		assert_int_equal(bpfrt_prog_attach_symbol(pe, NULL, NULL, &le), BPFRT_OK);
		if (bpfrt_prog_attach_symbol(pr, NULL, NULL, &lr) != BPFRT_OK)
			fail_msg("%s", bpfrt_prog_errmsg(pr));
		long (*volatile fp)(long, long) = bpf_probe_target;
		struct results r = { 0 };
		results_set(&t, &r);
		assert_int_equal(fp(6, 7), 43);
		assert_int_equal(fp(3, 4), 13);
		results(&t, &r);
		assert_int_equal(r.kp_hits, 2);
		assert_int_equal(r.kp_args, 3004);
		assert_int_equal(r.kp_ip, (uint64_t)(uintptr_t)bpf_probe_target);
		assert_int_equal(r.kret_hits, 2);
		assert_int_equal(r.kret_last, 13);
		assert_int_equal(r.kret_sum, 56);
		bpfrt_link_detach(le);
		bpfrt_link_detach(lr);
		assert_int_equal(fp(2, 2), 5);
		results(&t, &r);
		assert_int_equal(r.kp_hits + r.kret_hits, 4);

		/* recursion: 11 frames, each return seen; with a fentry too */
		bpfrt_prog *prr = load(&t, "recurse_return");
		bpfrt_link *lrr;
		assert_int_equal(bpfrt_prog_attach_symbol(prr, NULL, NULL, &lrr), BPFRT_OK);
		long (*volatile fr)(long) = bpf_probe_recurse;
		r = (struct results){ 0 };
		results_set(&t, &r);
		assert_int_equal(fr(10), 55);
		results(&t, &r);
		assert_int_equal(r.kret_hits, 11);
		assert_int_equal(r.kret_sum, 0 + 1 + 3 + 6 + 10 + 15 + 21 + 28 + 36 + 45 + 55);
		bpfrt_link_detach(lrr);
		bpfrt_prog_free(prr);

		/* longjmp out of hooked frames: later calls return right */
		bpfrt_prog *pj1 = load(&t, "jumper_entry"), *pj2 = load(&t, "jumper_return");
		bpfrt_link *lj1, *lj2;
		assert_int_equal(bpfrt_prog_attach_symbol(pj1, NULL, NULL, &lj1), BPFRT_OK);
		assert_int_equal(bpfrt_prog_attach_symbol(pj2, NULL, NULL, &lj2), BPFRT_OK);
		r = (struct results){ 0 };
		results_set(&t, &r);
		long sum = jump_loop(200);
		assert_int_equal(sum, 2 * (99 * 100 / 2));
		results(&t, &r);
		assert_int_equal(r.kp_hits, 200);
		assert_int_equal(r.kret_hits, 100);
		assert_int_equal(r.kret_sum, sum);
		bpfrt_link_detach(lj1);
		bpfrt_link_detach(lj2);
		bpfrt_prog_free(pj1);
		bpfrt_prog_free(pj2);
		bpfrt_prog_free(pe);
		bpfrt_prog_free(pr);
		env_close(&t);
	}
}

/* a uretprobe and fentry + fexit on one function: both kinds run */
static void probes_with_trampoline(void **state)
{
	(void)state;
	struct env t;
	env_open(&t, 1);
	bpfrt_prog *pf = load(&t, "count_fentry"), *px = load(&t, "count_fexit");
	bpfrt_prog *pe = load(&t, "probe_entry"), *pr = load(&t, "probe_return");
	struct bpfrt_attach_opts two = { .sz = sizeof(two), .nargs = 2 };
	bpfrt_link *l[4];
	assert_int_equal(bpfrt_prog_attach_symbol(pe, NULL, NULL, &l[0]), BPFRT_OK);
	assert_int_equal(bpfrt_prog_attach_symbol(pf, "bpf_probe_target", &two, &l[1]), BPFRT_OK);
	assert_int_equal(bpfrt_prog_attach_symbol(pr, NULL, NULL, &l[2]), BPFRT_OK);
	assert_int_equal(bpfrt_prog_attach_symbol(px, "bpf_probe_target", &two, &l[3]), BPFRT_OK);
	long (*volatile fp)(long, long) = bpf_probe_target;
	struct results r = { 0 };
	results_set(&t, &r);
	for (int i = 0; i < 10; i++)
		assert_int_equal(fp(i, 2), 2 * i + 1);
	results(&t, &r);
	assert_int_equal(r.hits, 20);
	assert_int_equal(r.kp_hits, 10);
	assert_int_equal(r.kret_hits, 10);
	assert_int_equal(r.kret_last, 19);
	for (int i = 0; i < 4; i++)
		assert_int_equal(bpfrt_link_detach(l[i]), BPFRT_OK);
	assert_int_equal(fp(5, 5), 26);
	bpfrt_prog_free(pf);
	bpfrt_prog_free(px);
	bpfrt_prog_free(pe);
	bpfrt_prog_free(pr);
	env_close(&t);
}

/* argument counts from the BTF of a library built with gcc -gbtf
 * (build/tests/libtrace_btf.so, next to this test) */
static void btf_nargs(void **state)
{
	(void)state;
	char self[4096], lib[4200];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(lib, sizeof(lib), "%s/libtrace_btf.so", self);
	void *h = dlopen(lib, RTLD_NOW);
	if (!h)
		fail_msg("dlopen %s: %s", lib, dlerror());
	struct pair2 { long a, b; };
	long (*add3)(long, int, char) = (long (*)(long, int, char))dlsym(h, "btf_add3");
	long (*pairf)(struct pair2, long) = (long (*)(struct pair2, long))dlsym(h, "btf_pair");
	assert_non_null(add3);
	assert_non_null(pairf);
	struct env t;
	env_open(&t, 1);
	bpfrt_prog *pa = load(&t, "btf_add3_exit"), *pp = load(&t, "btf_pair_exit"), *pd = load(&t, "btf_dbl_exit");
	bpfrt_link *la, *lp, *ld;
	if (bpfrt_prog_attach_symbol(pa, NULL, NULL, &la) != BPFRT_OK)
		fail_msg("%s", bpfrt_prog_errmsg(pa));
	assert_int_equal(bpfrt_prog_attach_symbol(pp, NULL, NULL, &lp), BPFRT_OK);
	/* a double argument has no ctx slot */
	assert_int_equal(bpfrt_prog_attach_symbol(pd, NULL, NULL, &ld), BPFRT_ENOTSUP);
	assert_non_null(strstr(bpfrt_prog_errmsg(pd), "floating-point"));
	struct results r = { 0 };
	results_set(&t, &r);
	assert_int_equal(add3(1, 2, 3), 6);
	assert_int_equal(pairf((struct pair2){ 4, 5 }, 6), 29);
	results(&t, &r);
	assert_int_equal(r.btf_ok, 1);
	assert_int_equal(r.btf_pair, 4 * 1000 + 5 * 100 + 6 * 10 + 29);
	bpfrt_link_detach(la);
	bpfrt_link_detach(lp);
	bpfrt_prog_free(pa);
	bpfrt_prog_free(pp);
	bpfrt_prog_free(pd);
	env_close(&t);
	/* (the library stays loaded: a traced image may not be retired yet) */
}

/* a SIGTRAP that is not ours goes to the handler installed before */
static volatile int foreign_traps;
static void foreign_trap(int sig)
{
	(void)sig;
	foreign_traps++;
}

static void sigtrap_chain(void **state)
{
	(void)state;
	/* the first test of this process: its handler comes before bpfrt's */
	signal(SIGTRAP, foreign_trap);
	struct env t;
	env_open(&t, 1);
	bpfrt_prog *p = load(&t, "count_fentry");
	struct bpfrt_attach_opts ao = { .sz = sizeof(ao), .nargs = 1 };
	bpfrt_link *l;
	assert_int_equal(bpfrt_prog_attach_symbol(p, NULL, &ao, &l), BPFRT_OK);
	struct sigaction now;
	sigaction(SIGTRAP, NULL, &now);
	assert_true((void *)now.sa_handler != (void *)foreign_trap); /* bpfrt's is in front */
	__asm__ volatile("int3");
	__asm__ volatile("int3");
	assert_int_equal(foreign_traps, 2);
	assert_int_equal(ftarget(1), 2);
	assert_int_equal(bpfrt_link_detach(l), BPFRT_OK);
	bpfrt_prog_free(p);
	env_close(&t);
}

/* a thread that blocks the scan signal and runs cannot be examined:
 * patching a site with instruction boundaries inside (moved instructions)
 * is refused, and the function keeps working; parked in a system call, it
 * is judged from outside (/proc: its pc) and the attach succeeds */
static sem_t blocked_go;
static volatile int blocked_stop, blocked_parks;
static void *blocking_thread(void *arg)
{
	(void)arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, BPFRT_SCAN_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sem_post(&blocked_go);
	while (!blocked_stop) /* running: it cannot be judged */
		if (blocked_parks)
			poll(NULL, 0, 100); /* parked in a system call: it can */
	return NULL;
}

struct frame_caller {
	long calls, bad;
	volatile int *stop;
};

static void *frame_loop(void *arg)
{
	struct frame_caller *c = arg;
	long (*volatile fn)(long, long) = asm_frame;
	while (!*c->stop) {
		if (fn(c->calls, 1) != c->calls + 1)
			c->bad++;
		c->calls++;
	}
	return NULL;
}

static void unanswered_scan(void **state)
{
	(void)state;
	struct env t;
	env_open(&t, 1);
	bpfrt_prog *pf = load(&t, "count_fentry");
	struct bpfrt_attach_opts ao = { .sz = sizeof(ao), .nargs = 2 };
	sem_init(&blocked_go, 0, 0);
	pthread_t th;
	pthread_create(&th, NULL, blocking_thread, NULL);
	sem_wait(&blocked_go);
	bpfrt_link *l;
	/* threads calling it meanwhile meet the int3 of the undone patch: the
	 * image they were sent to must stay valid */
	volatile int stop = 0;
	struct frame_caller c[2] = { { 0, 0, &stop }, { 0, 0, &stop } };
	pthread_t cth[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&cth[i], NULL, frame_loop, &c[i]);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(bpfrt_prog_attach_symbol(pf, "asm_frame", &ao, &l), BPFRT_ENOTSUP);
		assert_non_null(strstr(bpfrt_prog_errmsg(pf), "did not park"));
	}
	stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(cth[i], NULL);
	assert_int_equal(c[0].bad + c[1].bad, 0);
	assert_int_equal(asm_frame(2, 3), 5);
	/* the same thread parked in a system call: judged from outside, fine */
	blocked_parks = 1;
	usleep(20000);
	assert_int_equal(bpfrt_prog_attach_symbol(pf, "asm_frame", &ao, &l), BPFRT_OK);
	assert_int_equal(bpfrt_link_detach(l), BPFRT_OK);
	blocked_stop = 1;
	pthread_join(th, NULL);
	assert_int_equal(bpfrt_prog_attach_symbol(pf, "asm_frame", &ao, &l), BPFRT_OK);
	struct results r = { 0 };
	results_set(&t, &r);
	assert_int_equal(asm_frame(2, 3), 5);
	results(&t, &r);
	assert_int_equal(r.hits, 1);
	assert_int_equal(bpfrt_link_detach(l), BPFRT_OK);
	bpfrt_prog_free(pf);
	env_close(&t);
}

/* A tracing program run outside a trampoline (bpfrt_prog_run_ctx with its
 * arguments): its helpers see the arguments, no return value, no ip. */
static void tracing_run_ctx(void **state)
{
	(void)state;
	for (size_t e = 0; e < NENGINES; e++) {
		struct env t;
		env_open(&t, e);
		bpfrt_prog *p = load(&t, "args_fentry");
		struct results r = { 0 };
		results_set(&t, &r);
		uint64_t args[2] = { 2, 3 }, r0;
		assert_int_equal(bpfrt_prog_run_ctx(p, args, sizeof(args), &r0), BPFRT_OK);
		results(&t, &r);
		assert_int_equal(r.args_fentry_ok, 1);
		assert_int_equal(r.func_ip, 0);
		bpfrt_prog_free(p);
		env_close(&t);
	}
}

int main(int argc, char **argv)
{
	if (argc > 1) /* one test, by name (debugging) */
		cmocka_set_test_filter(argv[1]);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sigtrap_chain), /* first: before bpfrt's handler exists */
		cmocka_unit_test(fentry_fexit_oracle),
		cmocka_unit_test(tracing_run_ctx),
		cmocka_unit_test(modify_return),
		cmocka_unit_test(func_helpers),
		cmocka_unit_test(returns),
		cmocka_unit_test(sites),
		cmocka_unit_test(refusals),
		cmocka_unit_test(limit),
		cmocka_unit_test(recursion),
		cmocka_unit_test(attach_while_called),
		cmocka_unit_test(generic_hook),
		cmocka_unit_test(probes_with_trampoline),
		cmocka_unit_test(btf_nargs),
		cmocka_unit_test(unanswered_scan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
