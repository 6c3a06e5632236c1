/*
 * test_asm.c — the assembler and disassembler: asm(disasm(p)) == p over the
 * whole conformance and uBPF suites, and the assembler's refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "internal.h"
#include "testutil.h"

static const char *corpus(void)
{
	const char *c = getenv("BPFRT_CORPUS");
	return c ? c : "../shared/corpus";
}

/* Disassembles a whole program into one text. */
static char *disasm_all(const struct bpfrt_insn *in, size_t n)
{
	size_t cap = n * 64 + 1, len = 0;
	char *text = malloc(cap);
	text[0] = '\0';
	for (size_t pc = 0; pc < n;) {
		char line[128];
		int k = bpfrt_disasm_insn(NULL, in, n, pc, line, sizeof(line));
		assert_true(k > 0);
		len += (size_t)snprintf(text + len, cap - len, "%s\n", line);
		pc += (size_t)k;
	}
	return text;
}

static int round_trip_dir(const char *dir)
{
	char **files;
	int nf = tu_list(dir, ".data", &files), checked = 0;
	assert_true(nf > 0);
	for (int i = 0; i < nf; i++) {
		struct datafile df;
		char err[512];
		if (tu_load_data(files[i], &df, err, sizeof(err)))
			continue;
		struct bpfrt_insn *a = NULL, *b = NULL;
		size_t na, nb;
		if (df_program(&df, &a, &na, err, sizeof(err)) == BPFRT_OK) {
			/* only valid instructions disassemble */
			bool valid = true;
			for (size_t pc = 0; pc < na; pc++) {
				enum bpfrt_op op = bpfrt_insn_decode(&a[pc]);
				valid &= op != BPFRT_OP_INVALID;
				if (bpfrt_op_is_lddw(op))
					pc++;
			}
			if (valid && !(na && bpfrt_op_is_lddw(bpfrt_insn_decode(&a[na - 1])))) {
				char *text = disasm_all(a, na);
				int rc = bpfrt_asm(text, &b, &nb, err, sizeof(err));
				if (rc != BPFRT_OK)
					fail_msg("%s: reassembly failed: %s\n%s", files[i], err, text);
				assert_int_equal(na, nb);
				if (memcmp(a, b, na * sizeof(*a)))
					fail_msg("%s: round trip differs:\n%s", files[i], text);
				char *text2 = disasm_all(b, nb);
				assert_string_equal(text, text2);
				free(text);
				free(text2);
				free(b);
				checked++;
			}
			free(a);
		}
		df_free(&df);
	}
	tu_free_list(files, nf);
	return checked;
}

static void round_trip_conformance(void **state)
{
	(void)state;
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s/conformance/tests", corpus());
	assert_int_equal(round_trip_dir(dir), 313);
}

static void round_trip_ubpf(void **state)
{
	(void)state;
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s/ubpf/tests", corpus());
	assert_true(round_trip_dir(dir) >= 40);
}

/* assembles text; expects failure with msg in the error */
static void refuse(const char *text, const char *msg)
{
	struct bpfrt_insn *in = NULL;
	size_t n = 0;
	char err[512];
	int rc = bpfrt_asm(text, &in, &n, err, sizeof(err));
	if (rc != BPFRT_EASM)
		fail_msg("'%s' was accepted (rc %d)", text, rc);
	if (!strstr(err, msg))
		fail_msg("'%s': message '%s' lacks '%s'", text, err, msg);
	assert_null(in);
}

static void refusals(void **state)
{
	(void)state;
	refuse("mov32 %r0, 2147483648\nexit\n", "line 1: immediate 2147483648 does not fit in 32 bits");
	refuse("mov32 %r0, 0x100000000\nexit", "does not fit in 32 bits");
	refuse("mov32 %r0, -2147483649\nexit", "does not fit in 32 bits");
	refuse("exit\nja NOT_A_LABEL\n", "line 2: unknown label 'NOT_A_LABEL'");
	refuse("lock or [%r10-8]\nexit", "line 1: invalid number of operands for lock or");
	refuse("lock\nexit", "invalid number of operands for lock");
	refuse("lock fetch\nexit", "invalid number of operands for lock fetch");
	refuse("ldxq %r0, %r1\nexit", "unknown mnemonic 'ldxq'");
	refuse("ldxb %r0, %r1\nexit", "expected a memory operand");
	refuse("ldxb %r0, [%r1+0x10000]\nexit", "offset 65536 is out of range");
	refuse("lddw %r0\nexit", "invalid number of operands for lddw: 1, expected 2");
	refuse("or %r0, %r50\nexit", "invalid register '%r50'");
	refuse("mov %r0, 1x\nexit", "bad number");
	refuse("ja +32768\nexit", "jump offset 32768 is out of range");
	refuse("lddw %r0, 0x10000000000000000\nexit", "does not fit in 64 bits");
	refuse("", "no instructions");
	refuse("# only a comment\n", "no instructions");
	refuse("mov %r0, 1,\nexit", "empty operand");
	refuse("add %r0, [%r1]\nexit", "invalid operands for add");
	refuse("jeq %r0, 1\nexit", "invalid number of operands for jeq");
	refuse("stxw [%r1+2 %r3\nexit", "expected ']'");
	refuse("mov %r0, 0\njeq %r0, 0, exit\n", "no exit instruction follows");
}

static void accepts(void **state)
{
	(void)state;
	struct bpfrt_insn *in;
	size_t n;
	char err[256];
	/* labels on their own line and before an instruction; comments; hex */
	assert_int_equal(bpfrt_asm("start: mov %r0, 0x10 # c\n  ja start\nexit\n", &in, &n, err,
				   sizeof(err)), BPFRT_OK);
	assert_int_equal(n, 3);
	assert_int_equal(in[0].code, 0xb7);
	assert_int_equal(in[0].imm, 16);
	assert_int_equal(in[1].off, -2);
	free(in);
	/* hex immediates are 32-bit patterns; lddw takes the full 64 bits */
	assert_int_equal(bpfrt_asm("mov32 %r0, 0xffffffff\nlddw %r1, 0xffffffffffffffff\nexit",
				   &in, &n, err, sizeof(err)), BPFRT_OK);
	assert_int_equal(in[0].imm, -1);
	assert_int_equal(in[1].imm, -1);
	assert_int_equal(in[2].imm, -1);
	free(in);
	/* call forms */
	assert_int_equal(bpfrt_asm("call local f\ncall 5\ncall %r3\nexit\nf:\nexit", &in, &n, err,
				   sizeof(err)), BPFRT_OK);
	assert_int_equal(in[0].src, 1);
	assert_int_equal(in[0].imm, 3);
	assert_int_equal(in[1].imm, 5);
	assert_int_equal(in[2].code, 0x8d);
	assert_int_equal(in[2].dst, 3);
	free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip_conformance),
		cmocka_unit_test(round_trip_ubpf),
		cmocka_unit_test(refusals),
		cmocka_unit_test(accepts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
