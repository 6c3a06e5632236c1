/*
 * test_rewrite.c — the rewrite passes: what each changes, that programs
 * keep their results, and the linearisation's offset rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "internal.h"
#include "patch.h"

static bpfrt_prog *load(bpfrt_vm *vm, const char *text, uint32_t flags, bpfrt_engine e)
{
	struct bpfrt_insn *in;
	size_t n;
	char err[256];
	if (bpfrt_asm(text, &in, &n, err, sizeof(err)) != BPFRT_OK)
		fail_msg("asm: %s", err);
	struct bpfrt_load_opts o = { .sz = sizeof(o), .flags = flags, .engine = e };
	bpfrt_prog *p = NULL;
	if (bpfrt_prog_load(vm, in, n, &o, &p) != BPFRT_OK)
		fail_msg("load: %s", bpfrt_vm_errmsg(vm));
	free(in);
	return p;
}

static uint64_t run(bpfrt_prog *p)
{
	uint64_t r0 = 0;
	assert_int_equal(bpfrt_prog_run_mem(p, NULL, 0, &r0), BPFRT_OK);
	return r0;
}

static void dead_code_and_nops(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_prog *p = load(vm, "mov %r0, 1\nja +0\nja +2\nmov %r0, 2\nmov %r0, 3\nexit", 0,
			     BPFRT_ENGINE_INTERP);
	struct bpfrt_stats st;
	bpfrt_prog_stats(p, &st);
	assert_int_equal(st.dead_removed, 2);
	assert_int_equal(st.nops_removed, 1);
	size_t n;
	const int32_t *orig;
	const struct bpfrt_insn *x = bpfrt_prog_xlated(p, &n, &orig);
	assert_int_equal(n, 3); /* mov, ja (now +0: the removed code is gone), exit */
	assert_int_equal(x[0].code, 0xb7);
	assert_int_equal(x[1].code, 0x05);
	assert_int_equal(x[1].off, 0);
	assert_int_equal(orig[1], 2);
	assert_int_equal(x[2].code, 0x95);
	assert_int_equal(orig[2], 5);
	assert_int_equal(run(p), 1);
	bpfrt_prog_free(p);
	/* a subprogram nothing calls is removed whole */
	p = load(vm, "mov %r0, 4\nexit\nf:\nmov %r0, 5\nexit\ng:\ncall local f\nexit", 0,
		 BPFRT_ENGINE_JIT);
	bpfrt_prog_stats(p, &st);
	assert_int_equal(st.dead_removed, 4);
	assert_int_equal(st.insns_out, 2);
	assert_int_equal(run(p), 4);
	bpfrt_prog_free(p);
	/* nothing to do: the program is left as it is */
	p = load(vm, "mov %r0, 6\nexit", 0, BPFRT_ENGINE_INTERP);
	bpfrt_prog_xlated(p, &n, &orig);
	assert_null(orig);
	assert_int_equal(n, 2);
	bpfrt_prog_free(p);
	bpfrt_vm_free(vm);
}

/* Verified: branches the verifier proved one-sided are wired, the dead side
 * removed (even a write to r10 there, which the structural checks alone
 * refuse), on every engine. */
static void verified_dead_branches(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	static const bpfrt_engine engines[] = { BPFRT_ENGINE_INTERP, BPFRT_ENGINE_JIT };
	for (size_t e = 0; e < 2; e++) {
		/* never taken: r0 is 1; always taken: r1 is 7 */
		bpfrt_prog *p = load(vm, "mov %r0, 1\njeq %r0, 2, +1\nja +1\nmov %r10, 5\n"
				     "mov %r1, 7\njgt %r1, 3, +1\nmov %r0, 9\nexit", BPFRT_LOAD_VERIFY, engines[e]);
		struct bpfrt_stats st;
		bpfrt_prog_stats(p, &st);
		size_t n;
		const int32_t *orig;
		const struct bpfrt_insn *x = bpfrt_prog_xlated(p, &n, &orig);
		for (size_t i = 0; i < n; i++) /* no conditional jump, no write to r10 is left */
			assert_true((x[i].code & 0x07) != 0x05 || x[i].code == 0x05 || x[i].code == 0x95);
		for (size_t i = 0; i < n; i++)
			assert_true(x[i].dst != 10);
		assert_int_equal(run(p), 1);
		bpfrt_prog_free(p);
	}
	bpfrt_vm_free(vm);
}

static void zext_after_32bit_results(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	const char *text = "mov32 %r0, -1\nadd32 %r0, 2\nstw [%r10-4], 7\nldxw %r1, [%r10-4]\n"
			   "add %r0, %r1\nlsh %r0, 1\nexit";
	bpfrt_prog *p = load(vm, text, BPFRT_LOAD_ZEXT, BPFRT_ENGINE_INTERP);
	struct bpfrt_stats st;
	bpfrt_prog_stats(p, &st);
	assert_int_equal(st.zext_added, 3); /* mov32, add32, ldxw */
	size_t n;
	const int32_t *orig;
	const struct bpfrt_insn *x = bpfrt_prog_xlated(p, &n, &orig);
	assert_int_equal(n, 10);
	assert_int_equal(x[1].code, 0xbc); /* mov32 r0, r0 */
	assert_int_equal(x[1].dst, 0);
	assert_int_equal(x[1].src, 0);
	assert_int_equal(orig[0], PATCH_INSERTED); /* the facts go to the last: the zext */
	assert_int_equal(orig[1], 0);
	assert_int_equal(run(p), (1 + 7) * 2);
	bpfrt_prog_free(p);
	bpfrt_vm_free(vm);
}

static void blinding_hides_constants(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	const char *text = "mov %r0, 0x12345678\nadd %r0, 0x1111\nlddw %r2, 0x7777666655554444\n"
			   "add %r0, %r2\nstdw [%r10-8], 0x2222\nldxdw %r3, [%r10-8]\nadd %r0, %r3\n"
			   "jeq %r0, 0x4242, +1\nexit\nmov %r0, 0\nexit";
	uint64_t want = 0x12345678 + 0x1111 + 0x7777666655554444ull + 0x2222;
	for (int e = 0; e < 2; e++) {
		bpfrt_prog *p = load(vm, text, BPFRT_LOAD_BLIND, e ? BPFRT_ENGINE_JIT : BPFRT_ENGINE_INTERP);
		struct bpfrt_stats st;
		bpfrt_prog_stats(p, &st);
		assert_int_equal(st.blinded, 6);
		size_t n;
		const struct bpfrt_insn *x = bpfrt_prog_xlated(p, &n, NULL);
		for (size_t i = 0; i < n; i++) { /* no constant appears as it was */
			assert_int_not_equal(x[i].imm, 0x12345678);
			assert_int_not_equal(x[i].imm, 0x1111);
			assert_int_not_equal(x[i].imm, 0x55554444);
			assert_int_not_equal(x[i].imm, 0x77776666);
			assert_int_not_equal(x[i].imm, 0x2222);
			assert_int_not_equal(x[i].imm, 0x4242);
		}
		assert_int_equal(run(p), want);
		bpfrt_prog_free(p);
	}
	/* two loads use different keys */
	bpfrt_prog *a = load(vm, text, BPFRT_LOAD_BLIND, BPFRT_ENGINE_INTERP);
	bpfrt_prog *b = load(vm, text, BPFRT_LOAD_BLIND, BPFRT_ENGINE_INTERP);
	size_t na, nb;
	const struct bpfrt_insn *xa = bpfrt_prog_xlated(a, &na, NULL), *xb = bpfrt_prog_xlated(b, &nb, NULL);
	assert_int_equal(na, nb);
	assert_int_not_equal(memcmp(xa, xb, na * sizeof(*xa)), 0);
	bpfrt_prog_free(a);
	bpfrt_prog_free(b);
	bpfrt_vm_free(vm);
}

/* A ja that grows past 16 bits becomes ja32; a conditional jump is refused. */
static void offsets_past_16_bits(void **state)
{
	(void)state;
	size_t n = 20000;
	struct bpfrt_insn *in = calloc(n, sizeof(*in));
	for (size_t i = 0; i < n; i++)
		in[i] = (struct bpfrt_insn){ .code = 0x07, .imm = 1 };
	in[0] = (struct bpfrt_insn){ .code = 0x05, .off = (int16_t)(n - 3) }; /* ja to the exit */
	in[n - 2] = (struct bpfrt_insn){ .code = 0x95 };
	in[n - 1] = (struct bpfrt_insn){ .code = 0x95 };
	struct bpfrt_plist l;
	struct bpfrt_err err;
	assert_int_equal(bpfrt_plist_init(&l, in, n, NULL, NULL, 0, &err), BPFRT_OK);
	for (size_t i = 1; i < n - 2; i++) { /* each add becomes two */
		struct bpfrt_pinsn seq[2] = { { .insn = in[i] }, { .insn = in[i] } };
		assert_int_equal(bpfrt_plist_replace(&l, bpfrt_plist_anchor(i), seq, 2, &err), BPFRT_OK);
	}
	struct bpfrt_linear lin;
	assert_int_equal(bpfrt_plist_linearize(&l, &lin, &err), BPFRT_OK);
	assert_int_equal(lin.insns[0].code, 0x06); /* ja32 */
	assert_int_equal(lin.insns[0].imm, (int32_t)(2 * (n - 3)));
	assert_int_equal(lin.insns[1 + lin.insns[0].imm].code, 0x95);
	bpfrt_linear_free(&lin);
	bpfrt_plist_free(&l);
	/* the same with a conditional jump */
	in[0] = (struct bpfrt_insn){ .code = 0x15, .dst = 1, .off = (int16_t)(n - 3) };
	assert_int_equal(bpfrt_plist_init(&l, in, n, NULL, NULL, 0, &err), BPFRT_OK);
	for (size_t i = 1; i < n - 2; i++) {
		struct bpfrt_pinsn seq[2] = { { .insn = in[i] }, { .insn = in[i] } };
		assert_int_equal(bpfrt_plist_replace(&l, bpfrt_plist_anchor(i), seq, 2, &err), BPFRT_OK);
	}
	assert_int_equal(bpfrt_plist_linearize(&l, &lin, &err), BPFRT_EREJECT);
	assert_non_null(strstr(err.msg, "beyond the 16-bit offset"));
	bpfrt_plist_free(&l);
	free(in);
}

/* Line info: entries move with their instruction; a deleted one's goes to
 * the next survivor of its subprogram, or is dropped at a subprogram end. */
static void line_info(void **state)
{
	(void)state;
	struct bpfrt_insn in[] = {
		{ .code = 0x07, .imm = 1 },           /* 0: line 10 */
		{ .code = 0x07, .imm = 2 },           /* 1: line 11, deleted -> 2 */
		{ .code = 0x07, .imm = 3 },           /* 2 */
		{ .code = 0x85, .src = 1, .imm = 1 }, /* 3: call 5 */
		{ .code = 0x95 },                     /* 4: line 14, deleted: dropped */
		{ .code = 0xb7, .imm = 5 },           /* 5: subprogram, line 15 */
		{ .code = 0x95 },
	};
	struct bpfrt_linfo li[] = { { 0, 10 }, { 1, 11 }, { 4, 14 }, { 5, 15 } };
	struct bpfrt_plist l;
	struct bpfrt_err err;
	assert_int_equal(bpfrt_plist_init(&l, in, 7, NULL, li, 4, &err), BPFRT_OK);
	bpfrt_plist_delete(&l, bpfrt_plist_anchor(1));
	bpfrt_plist_delete(&l, bpfrt_plist_anchor(4));
	struct bpfrt_pinsn seq[2] = { { .insn = { .code = 0x07, .imm = 9 } }, { .insn = in[5] } };
	assert_int_equal(bpfrt_plist_insert_before(&l, bpfrt_plist_anchor(2), seq, 1, &err), BPFRT_OK);
	struct bpfrt_linear lin;
	assert_int_equal(bpfrt_plist_linearize(&l, &lin, &err), BPFRT_OK);
	/* 0 add1 | 1 add9 (inserted) | 2 add3 | 3 call | 4 mov5 | 5 exit */
	assert_int_equal(lin.n, 6);
	assert_int_equal(lin.nlinfo, 3);
	assert_int_equal(lin.linfo[0].insn, 0);
	assert_int_equal(lin.linfo[0].line, 10);
	assert_int_equal(lin.linfo[1].insn, 1); /* line 11 goes to the next survivor */
	assert_int_equal(lin.linfo[1].line, 11);
	assert_int_equal(lin.linfo[2].insn, 4);
	assert_int_equal(lin.linfo[2].line, 15);
	assert_int_equal(lin.nsubprog, 2);
	assert_int_equal(lin.subprog[1], 4);
	assert_int_equal(lin.insns[3].imm, 0); /* call +0: to insn 4 */
	assert_int_equal(lin.new_of_orig[1], -1);
	assert_int_equal(lin.new_of_orig[2], 1); /* where control for insn 2 now begins */
	bpfrt_linear_free(&lin);
	bpfrt_plist_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dead_code_and_nops),
		cmocka_unit_test(verified_dead_branches),
		cmocka_unit_test(zext_after_32bit_results),
		cmocka_unit_test(blinding_hides_constants),
		cmocka_unit_test(offsets_past_16_bits),
		cmocka_unit_test(line_info),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
