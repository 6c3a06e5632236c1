/*
 * test_insn.c — the instruction table: every form decodes to itself, no two
 * forms collide, every opcode byte is classified, mnemonics are found.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "bpfrt.h"
#include "insn.h"

#include <string.h>

/* An instruction of form op with its selector set and other fields zero. */
static struct bpfrt_insn make(enum bpfrt_op op)
{
	const struct bpfrt_form *f = &bpfrt_forms[op];
	struct bpfrt_insn in = { .code = f->code };
	if (f->sel == SEL_OFF) in.off = (int16_t)f->selval;
	if (f->sel == SEL_IMM) in.imm = f->selval;
	if (f->sel == SEL_SRC) in.src = (uint8_t)f->selval;
	return in;
}

static void every_form_decodes_to_itself(void **state)
{
	(void)state;
	for (int op = 0; op < BPFRT_OP__COUNT; op++) {
		struct bpfrt_insn in = make(op);
		assert_int_equal(bpfrt_insn_decode(&in), op);
		assert_non_null(bpfrt_forms[op].mnem);
		assert_non_null(bpfrt_forms[op].sem);
	}
}

static void forms_are_distinct(void **state)
{
	(void)state;
	for (int a = 0; a < BPFRT_OP__COUNT; a++)
		for (int b = a + 1; b < BPFRT_OP__COUNT; b++) {
			const struct bpfrt_form *x = &bpfrt_forms[a], *y = &bpfrt_forms[b];
			if (x->code != y->code)
				continue;
			/* same code: both need the same selector field, different values */
			assert_int_equal(x->sel, y->sel);
			assert_int_not_equal(x->sel, SEL_NONE);
			assert_int_not_equal(x->selval, y->selval);
		}
}

static void counts_match_rfc9669(void **state)
{
	(void)state;
	/* Opcode bytes with at least one form. */
	int codes = 0;
	for (int c = 0; c < 256; c++)
		codes += bpfrt_insn_first_form((uint8_t)c) != BPFRT_OP_INVALID;
	/* ALU/ALU64: 12 two-operand ops x 4 (with div/mod's signed forms sharing
	 * bytes) + neg x2 + end 3 bytes; JMP: 11 conditionals x 4 + ja + ja32 + call
	 * + callx + exit; loads 7, stores 8, atomics 2, lddw 1; and bpfrt's internal
	 * tail call (0xf5, which only the rewrite makes). */
	assert_int_equal(codes, 12 * 4 + 2 + 3 + 11 * 4 + 5 + 7 + 8 + 2 + 1 + 1);
	/* Forms: 14 ALU ops x 4 + neg 2 + movsx 5 + byte swaps 9; ja, ja32, 11 x 4
	 * conditionals, 3 calls, callx, exit; 7 loads, 8 stores, 10 atomics x 2,
	 * lddw and its 6 pseudo forms; the internal tail call. */
	assert_int_equal(BPFRT_OP__COUNT, 14 * 4 + 2 + 5 + 9 + 2 + 44 + 3 + 1 + 1 + 7 + 8 + 20 + 7 + 1);
}

/* The internal tail call is the rewrite's: a program holding it is refused. */
static void internal_ops_refused(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	struct bpfrt_insn in[2] = { { .code = 0xf5 }, { .code = 0x95 } };
	bpfrt_prog *p = NULL;
	assert_int_equal(bpfrt_prog_load(vm, in, 2, NULL, &p), BPFRT_EREJECT);
	assert_null(p);
	assert_non_null(strstr(bpfrt_vm_errmsg(vm), "insn 0: unknown opcode 0xf5"));
	bpfrt_vm_free(vm);
}

/* bpfrt_op_is_lddw takes the LDDW forms as one run of the table: exactly
 * the forms of the two LDDW shapes (and nothing past the table). */
static void lddw_forms_are_one_run(void **state)
{
	(void)state;
	for (int op = 0; op < BPFRT_OP__COUNT + 8; op++) {
		bool want = op < BPFRT_OP__COUNT && (bpfrt_forms[op].shape == SHAPE_LDDW ||
						     bpfrt_forms[op].shape == SHAPE_LDDW_PSEUDO);
		assert_int_equal(bpfrt_op_is_lddw((enum bpfrt_op)op), want);
	}
	assert_false(bpfrt_op_is_lddw((enum bpfrt_op)-1));
}

static void unknown_codes_do_not_decode(void **state)
{
	(void)state;
	static const uint8_t bad[] = { 0x00, 0x20, 0x28, 0x30, 0x40, 0x8e, 0x9d, 0xdf, 0xff, 0x96 };
	for (size_t i = 0; i < sizeof(bad); i++) {
		struct bpfrt_insn in = { .code = bad[i] };
		assert_int_equal(bpfrt_insn_decode(&in), BPFRT_OP_INVALID);
	}
	/* a known code with a selector that matches no form */
	struct bpfrt_insn sdiv2 = { .code = 0x3f, .off = 2 };
	assert_int_equal(bpfrt_insn_decode(&sdiv2), BPFRT_OP_INVALID);
	struct bpfrt_insn atomic_bad = { .code = 0xdb, .imm = 0x02 };
	assert_int_equal(bpfrt_insn_decode(&atomic_bad), BPFRT_OP_INVALID);
}

static void mnemonics_are_found(void **state)
{
	(void)state;
	enum bpfrt_op ops[8];
	assert_int_equal(bpfrt_insn_by_mnem("add", 3, ops, 8), 2); /* K and X */
	assert_int_equal(bpfrt_insn_by_mnem("add32", 5, ops, 8), 2);
	assert_int_equal(bpfrt_insn_by_mnem("call", 4, ops, 8), 4); /* helper, local, kfunc, callx */
	assert_int_equal(bpfrt_insn_by_mnem("lock fetch add32", 16, ops, 8), 1);
	assert_int_equal(ops[0], BPFRT_OP_AFADD32);
	assert_int_equal(bpfrt_insn_by_mnem("ad", 2, ops, 8), 0);
	assert_int_equal(bpfrt_insn_by_mnem("addx", 4, ops, 8), 0);
	/* every form is found under its own mnemonic */
	for (int op = 0; op < BPFRT_OP__COUNT; op++) {
		const char *m = bpfrt_forms[op].mnem;
		int n = bpfrt_insn_by_mnem(m, strlen(m), ops, 8);
		bool found = false;
		for (int i = 0; i < n; i++)
			found |= (int)ops[i] == op;
		assert_true(found);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_form_decodes_to_itself),
		cmocka_unit_test(forms_are_distinct),
		cmocka_unit_test(counts_match_rfc9669),
		cmocka_unit_test(internal_ops_refused),
		cmocka_unit_test(lddw_forms_are_one_run),
		cmocka_unit_test(unknown_codes_do_not_decode),
		cmocka_unit_test(mnemonics_are_found),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
