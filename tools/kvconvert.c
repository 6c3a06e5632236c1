/*
 * kvconvert.c — converts the kernel's test_verifier cases (the files of
 * tools/testing/selftests/bpf/verifier/, a list of `struct bpf_test`
 * initialisers) into bpfrt's verifier-test format (.kvt), read by
 * tests/run_kverify.
 *
 * The cases are C: the simplest faithful parser is the C compiler.  This
 * file is built once per case file, with KV_SRC naming it: our own
 * definitions of the instruction macros and of the test structure turn
 * the initialisers into data, and main() prints them.
 *
 * The .kvt format, one record per case, one item per line:
 *
 *   test DESCRIPTION
 *   type N                  enum bpf_prog_type (0 in the source: socket filter)
 *   result accept|reject    (verbose_accept counts as accept)
 *   unpriv accept|reject    result_unpriv, when given
 *   errstr TEXT             C escapes for \n \t \\ (tab-separated substrings)
 *   flags N                 F_* (1 unaligned access needed, 2 strict alignment)
 *   fixup KIND INSN         map_hash_8b, map_hash_16b, map_hash_48b,
 *                           map_array_48b, prog1, prog2: the lddw at INSN
 *                           takes that map; kfunc:NAME: the call at INSN
 *                           calls that kernel function
 *   fill NAME               built at run time by the kernel's generator NAME
 *   retval N [DATA64...]    expected r0 (u32) for one run, with its data
 *   insn HEX16              one instruction, as its 8 bytes
 *   end
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>

/* ---- instruction macros (the kernel's include/linux/filter.h names) ---- */
#define KV_INSN(CODE, DST, SRC, OFF, IMM) \
	((struct bpf_insn){ .code = (CODE), .dst_reg = (DST), .src_reg = (SRC), .off = (OFF), .imm = (IMM) })
#define BPF_RAW_INSN(CODE, DST, SRC, OFF, IMM) KV_INSN(CODE, DST, SRC, OFF, IMM)
#define BPF_ALU64_REG(OP, DST, SRC) KV_INSN(BPF_ALU64 | BPF_OP(OP) | BPF_X, DST, SRC, 0, 0)
#define BPF_ALU32_REG(OP, DST, SRC) KV_INSN(BPF_ALU | BPF_OP(OP) | BPF_X, DST, SRC, 0, 0)
#define BPF_ALU64_IMM(OP, DST, IMM) KV_INSN(BPF_ALU64 | BPF_OP(OP) | BPF_K, DST, 0, 0, IMM)
#define BPF_ALU32_IMM(OP, DST, IMM) KV_INSN(BPF_ALU | BPF_OP(OP) | BPF_K, DST, 0, 0, IMM)
#define BPF_MOV64_REG(DST, SRC) KV_INSN(BPF_ALU64 | BPF_MOV | BPF_X, DST, SRC, 0, 0)
#define BPF_MOV32_REG(DST, SRC) KV_INSN(BPF_ALU | BPF_MOV | BPF_X, DST, SRC, 0, 0)
#define BPF_MOV64_IMM(DST, IMM) KV_INSN(BPF_ALU64 | BPF_MOV | BPF_K, DST, 0, 0, IMM)
#define BPF_MOV32_IMM(DST, IMM) KV_INSN(BPF_ALU | BPF_MOV | BPF_K, DST, 0, 0, IMM)
#define BPF_ENDIAN(TYPE, DST, LEN) KV_INSN(BPF_ALU | BPF_END | BPF_SRC(TYPE), DST, 0, 0, LEN)
#define BPF_ZEXT_REG(DST) KV_INSN(BPF_ALU | BPF_MOV | BPF_X, DST, DST, 0, 1)
#define BPF_LD_IMM64_RAW(DST, SRC, IMM) \
	KV_INSN(BPF_LD | BPF_DW | BPF_IMM, DST, SRC, 0, (uint32_t)(IMM)), \
	KV_INSN(0, 0, 0, 0, (uint64_t)(IMM) >> 32)
#define BPF_LD_IMM64(DST, IMM) BPF_LD_IMM64_RAW(DST, 0, IMM)
#define BPF_LD_MAP_FD(DST, FD) BPF_LD_IMM64_RAW(DST, BPF_PSEUDO_MAP_FD, FD)
#define BPF_LD_ABS(SIZE, IMM) KV_INSN(BPF_LD | BPF_SIZE(SIZE) | BPF_ABS, 0, 0, 0, IMM)
#define BPF_LD_IND(SIZE, SRC, IMM) KV_INSN(BPF_LD | BPF_SIZE(SIZE) | BPF_IND, 0, SRC, 0, IMM)
#define BPF_LDX_MEM(SIZE, DST, SRC, OFF) KV_INSN(BPF_LDX | BPF_SIZE(SIZE) | BPF_MEM, DST, SRC, OFF, 0)
#define BPF_STX_MEM(SIZE, DST, SRC, OFF) KV_INSN(BPF_STX | BPF_SIZE(SIZE) | BPF_MEM, DST, SRC, OFF, 0)
#define BPF_ST_MEM(SIZE, DST, OFF, IMM) KV_INSN(BPF_ST | BPF_SIZE(SIZE) | BPF_MEM, DST, 0, OFF, IMM)
#define BPF_ATOMIC_OP(SIZE, OP, DST, SRC, OFF) KV_INSN(BPF_STX | BPF_SIZE(SIZE) | BPF_ATOMIC, DST, SRC, OFF, OP)
#define BPF_JMP_REG(OP, DST, SRC, OFF) KV_INSN(BPF_JMP | BPF_OP(OP) | BPF_X, DST, SRC, OFF, 0)
#define BPF_JMP_IMM(OP, DST, IMM, OFF) KV_INSN(BPF_JMP | BPF_OP(OP) | BPF_K, DST, 0, OFF, IMM)
#define BPF_JMP32_REG(OP, DST, SRC, OFF) KV_INSN(BPF_JMP32 | BPF_OP(OP) | BPF_X, DST, SRC, OFF, 0)
#define BPF_JMP32_IMM(OP, DST, IMM, OFF) KV_INSN(BPF_JMP32 | BPF_OP(OP) | BPF_K, DST, 0, OFF, IMM)
#define BPF_JMP_A(OFF) KV_INSN(BPF_JMP | BPF_JA, 0, 0, OFF, 0)
#define BPF_EMIT_CALL(FUNC) KV_INSN(BPF_JMP | BPF_CALL, 0, 0, 0, (FUNC) - BPF_FUNC_unspec)
#define BPF_CALL_REL(IMM) KV_INSN(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, IMM)
#define BPF_EXIT_INSN() KV_INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define BPF_REG_ARG1 BPF_REG_1
#define BPF_REG_ARG2 BPF_REG_2
#define BPF_REG_FP BPF_REG_10

/* the harness's compound macros (test_verifier.c) */
#define BPF_DIRECT_PKT_R2 \
	BPF_MOV64_IMM(BPF_REG_0, 0), \
	BPF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_1, offsetof(struct __sk_buff, data)), \
	BPF_LDX_MEM(BPF_W, BPF_REG_3, BPF_REG_1, offsetof(struct __sk_buff, data_end)), \
	BPF_MOV64_REG(BPF_REG_4, BPF_REG_2), \
	BPF_ALU64_IMM(BPF_ADD, BPF_REG_4, 8), \
	BPF_JMP_REG(BPF_JLE, BPF_REG_4, BPF_REG_3, 1), \
	BPF_EXIT_INSN()
#define BPF_RAND_UEXT_R7 \
	BPF_RAW_INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_prandom_u32), \
	BPF_MOV64_REG(BPF_REG_7, BPF_REG_0), \
	BPF_ALU64_IMM(BPF_LSH, BPF_REG_7, 33), \
	BPF_ALU64_IMM(BPF_RSH, BPF_REG_7, 33)
#define BPF_RAND_SEXT_R7 \
	BPF_RAW_INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_prandom_u32), \
	BPF_MOV64_REG(BPF_REG_7, BPF_REG_0), \
	BPF_ALU64_IMM(BPF_OR, BPF_REG_7, 0x80000000), \
	BPF_ALU64_IMM(BPF_LSH, BPF_REG_7, 32), \
	BPF_ALU64_IMM(BPF_ARSH, BPF_REG_7, 32)

#define POINTER_VALUE 0xcafe4a11
#define TEST_DATA_LEN 64
#define U32_MAX ((uint32_t)~0u)
#define S32_MAX INT32_MAX
#define S32_MIN INT32_MIN
#define S64_MAX INT64_MAX
#define S64_MIN INT64_MIN
#define F_NEEDS_EFFICIENT_UNALIGNED_ACCESS 1
#define F_LOAD_WITH_STRICT_ALIGNMENT 2
#define F_NEEDS_JIT_ENABLED 4
/* run-time generators are named, not run */
#define bpf_fill_torturous_jumps "torturous_jumps"

/* ---- the test structure (the fields test_verifier.c has) ---- */
#define MAX_INSNS 1024
#define MAX_FIXUPS 8
#define MAX_RUNS 8
enum { UNDEF, ACCEPT, REJECT, VERBOSE_ACCEPT };

struct kfunc_fixup {
	const char *kfunc;
	int insn_idx;
};

struct bpf_test {
	const char *descr;
	struct bpf_insn insns[MAX_INSNS];
	const char *fill_helper;
	int fixup_map_hash_8b[MAX_FIXUPS], fixup_map_hash_16b[MAX_FIXUPS], fixup_map_hash_48b[MAX_FIXUPS];
	int fixup_map_array_48b[MAX_FIXUPS], fixup_prog1[MAX_FIXUPS], fixup_prog2[MAX_FIXUPS];
	struct kfunc_fixup fixup_kfunc_btf_id[MAX_FIXUPS];
	const char *errstr, *errstr_unpriv;
	uint32_t insn_processed;
	int result, result_unpriv;
	uint32_t retval, retval_unpriv;
	enum bpf_prog_type prog_type;
	uint8_t flags;
	int runs;
	struct {
		uint64_t data64[TEST_DATA_LEN / 8];
		uint32_t retval, retval_unpriv;
	} retvals[MAX_RUNS];
};

static const struct bpf_test tests[] = {
#include KV_SRC
};

static void put_escaped(const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			fputs("\\n", stdout);
		else if (*s == '\t')
			fputs("\\t", stdout);
		else if (*s == '\\')
			fputs("\\\\", stdout);
		else
			putchar(*s);
	}
}

/* The kernel harness's rule: the program ends at its last non-zero insn. */
static size_t prog_len(const struct bpf_insn *in)
{
	size_t n = MAX_INSNS;
	while (n > 0 && !in[n - 1].code && !in[n - 1].imm && !in[n - 1].dst_reg && !in[n - 1].src_reg &&
	       !in[n - 1].off)
		n--;
	return n;
}

static void fixups(const char *kind, const int *idx)
{
	for (int i = 0; i < MAX_FIXUPS && idx[i]; i++)
		printf("fixup %s %d\n", kind, idx[i]);
}

int main(void)
{
	for (size_t t = 0; t < sizeof(tests) / sizeof(tests[0]); t++) {
		const struct bpf_test *x = &tests[t];
		printf("test ");
		put_escaped(x->descr);
		printf("\ntype %u\n", x->prog_type ? (unsigned)x->prog_type : (unsigned)BPF_PROG_TYPE_SOCKET_FILTER);
		printf("result %s\n", x->result == REJECT ? "reject" : "accept");
		if (x->result_unpriv != UNDEF)
			printf("unpriv %s\n", x->result_unpriv == REJECT ? "reject" : "accept");
		if (x->errstr) {
			printf("errstr ");
			put_escaped(x->errstr);
			putchar('\n');
		}
		if (x->flags)
			printf("flags %u\n", x->flags);
		fixups("map_hash_8b", x->fixup_map_hash_8b);
		fixups("map_hash_16b", x->fixup_map_hash_16b);
		fixups("map_hash_48b", x->fixup_map_hash_48b);
		fixups("map_array_48b", x->fixup_map_array_48b);
		fixups("prog1", x->fixup_prog1);
		fixups("prog2", x->fixup_prog2);
		for (int i = 0; i < MAX_FIXUPS && x->fixup_kfunc_btf_id[i].kfunc; i++)
			printf("fixup kfunc:%s %d\n", x->fixup_kfunc_btf_id[i].kfunc, x->fixup_kfunc_btf_id[i].insn_idx);
		if (x->fill_helper)
			printf("fill %s\n", x->fill_helper);
		if (x->runs > 0) {
			for (int r = 0; r < x->runs && r < MAX_RUNS; r++) {
				printf("retval %u", x->retvals[r].retval);
				for (int k = 0; k < TEST_DATA_LEN / 8; k++)
					printf(" %llx", (unsigned long long)x->retvals[r].data64[k]);
				putchar('\n');
			}
		} else if (x->retval || x->result != REJECT) {
			printf("retval %u\n", x->retval);
		}
		size_t n = prog_len(x->insns);
		for (size_t i = 0; i < n; i++) {
			const uint8_t *b = (const uint8_t *)&x->insns[i];
			printf("insn ");
			for (int k = 0; k < 8; k++)
				printf("%02x", b[k]);
			putchar('\n');
		}
		printf("end\n");
	}
	return 0;
}
