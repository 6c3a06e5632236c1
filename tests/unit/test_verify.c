/*
 * test_verify.c — the verifier, case by case: small programs (assembly)
 * with the verdict and the reason expected, one concern at a time (ranges,
 * stack, ctx, map values, packets, helpers, references, calls, loops,
 * pruning, the stack rules), plus the scalar domain's transfer functions
 * checked against concrete values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "internal.h"
#include "verifier.h"
#include "verifier/vf.h"

#include <linux/bpf.h>

/* maps the cases refer to by index */
static const struct vf_map maps[] = {
	{ BPF_MAP_TYPE_ARRAY, 4, 16, 4, 0, -1, false, NULL, "arr" },       /* 0 */
	{ BPF_MAP_TYPE_HASH, 4, 8, 64, 0, -1, false, NULL, "hash" },       /* 1 */
	{ BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0, -1, false, NULL, "rb" },    /* 2 */
	{ BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 8, 0, -1, false, NULL, "progs" }, /* 3 */
	{ BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0, -1, true, NULL, ".rodata" },     /* 4 */
	/* 5: a frozen map whose contents the verifier knows: bytes 0..7 = 1..8 */
	{ BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0, -1, true, (const uint8_t *)"\x01\x02\x03\x04\x05\x06\x07\x08",
	  ".rodata.known" },
};

struct vcase {
	const char *name;
	uint32_t type;     /* 0: raw memory of 64 bytes */
	const char *text;
	const char *refuse; /* NULL: accepted; else a substring of the reason */
};

#define XDP BPF_PROG_TYPE_XDP
#define TC BPF_PROG_TYPE_SCHED_CLS
#define SOCK BPF_PROG_TYPE_SOCKET_FILTER

static const struct vcase cases[] = {
	/* registers */
	{ "exit with r0 set", 0, "mov %r0, 0\nexit\n", NULL },
	{ "exit without r0", 0, "exit\n", "R0 !read_ok" },
	{ "read of an unset register", 0, "mov %r0, %r5\nexit\n", "R5 !read_ok" },
	{ "return a pointer", 0, "mov %r0, %r10\nexit\n", "leaks addr as return value" },
	{ "32-bit pointer arithmetic", 0, "mov %r0, %r10\nadd32 %r0, 1\nmov %r0, 0\nexit\n", "32-bit pointer arithmetic" },
	{ "pointer * scalar", 0, "mov %r0, %r10\nmul %r0, 2\nmov %r0, 0\nexit\n", "pointer arithmetic with" },
	{ "shift by 64", 0, "mov %r0, 1\nlsh %r0, 64\nexit\n", "invalid shift" },
	{ "div by zero immediate", 0, "mov %r0, 1\ndiv %r0, 0\nexit\n", "div by zero" },
	{ "div by a zero register is defined", 0, "mov %r0, 1\nmov %r1, 0\ndiv %r0, %r1\nexit\n", NULL },
	/* stack */
	{ "stack store and load", 0, "stdw [%r10-8], 7\nldxdw %r0, [%r10-8]\nexit\n", NULL },
	{ "uninitialised stack read", 0, "ldxdw %r0, [%r10-8]\nexit\n", "invalid read from stack" },
	{ "partly initialised stack read", 0, "stw [%r10-8], 1\nldxdw %r0, [%r10-8]\nexit\n", "not initialised" },
	{ "stack below the frame", 0, "stdw [%r10-520], 1\nmov %r0, 0\nexit\n", "stack access" },
	{ "stack above the frame", 0, "stdw [%r10+0], 1\nmov %r0, 0\nexit\n", "stack access" },
	{ "misaligned stack", 0, "stw [%r10-6], 1\nmov %r0, 0\nexit\n", "misaligned stack access" },
	{ "spill and fill a pointer", 0, "stxdw [%r10-8], %r10\nldxdw %r1, [%r10-8]\nldxdw %r0, [%r1-8]\n"
	  "mov %r0, 0\nexit\n", NULL },
	{ "partial fill of a spilled pointer", 0, "stxdw [%r10-8], %r10\nldxw %r0, [%r10-8]\nexit\n",
	  "invalid size of register fill" },
	{ "spilled scalar keeps its bounds", 0,
	  "ldxb %r2, [%r1+0]\nstxdw [%r10-8], %r2\nldxdw %r3, [%r10-8]\nmov %r4, %r10\nadd %r4, -256\n"
	  "add %r4, %r3\nstb [%r4+0], 1\nmov %r0, 0\nexit\n", NULL },
	{ "variable stack offset out of the frame", 0,
	  "ldxb %r2, [%r1+0]\nmov %r4, %r10\nadd %r4, -200\nadd %r4, %r2\nstb [%r4+0], 1\nmov %r0, 0\nexit\n",
	  "variable-offset stack access" },
	/* raw memory context (r1, size 64) */
	{ "ctx in bounds", 0, "ldxdw %r0, [%r1+56]\nexit\n", NULL },
	{ "ctx out of bounds", 0, "ldxdw %r0, [%r1+60]\nexit\n", "context access" },
	{ "ctx write", 0, "stdw [%r1+0], 1\nmov %r0, 0\nexit\n", NULL },
	{ "bounded index into ctx", 0,
	  "ldxb %r2, [%r1+0]\nand %r2, 31\nmov %r3, %r1\nadd %r3, %r2\nldxdw %r0, [%r3+0]\nexit\n",
	  "variable ctx access" },
	/* map values */
	{ "lookup without NULL check", 0,
	  "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nld_map_idx %r1, 1, 0\ncall 1\nldxdw %r0, [%r0+0]\nexit\n",
	  "map_value_or_null" },
	/* an array lookup with a constant key in range cannot fail (the kernel since 6.14) */
	{ "array lookup, constant key in range: not NULL", 0,
	  "stw [%r10-4], 3\nmov %r2, %r10\nadd %r2, -4\nld_map_idx %r1, 0, 0\ncall 1\nldxdw %r0, [%r0+0]\nexit\n",
	  NULL },
	{ "array lookup, constant key out of range: may be NULL", 0,
	  "stw [%r10-4], 4\nmov %r2, %r10\nadd %r2, -4\nld_map_idx %r1, 0, 0\ncall 1\nldxdw %r0, [%r0+0]\nexit\n",
	  "map_value_or_null" },
	{ "array lookup, unknown key: may be NULL", 0,
	  "call 7\nstxw [%r10-4], %r0\nmov %r2, %r10\nadd %r2, -4\nld_map_idx %r1, 0, 0\ncall 1\nldxdw %r0, [%r0+0]\nexit\n",
	  "map_value_or_null" },
	/* the key decided it: a state with another key must not be pruned against it */
	{ "array lookup, key precise for pruning", 0,
	  "call 7\nmov %r6, 2\njeq %r0, 0, +1\nmov %r6, 9\nstxw [%r10-4], %r6\nmov %r2, %r10\nadd %r2, -4\n"
	  "ld_map_idx %r1, 0, 0\ncall 1\nldxdw %r0, [%r0+0]\nexit\n",
	  "map_value_or_null" },
	{ "lookup with NULL check", 0,
	  "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nld_map_idx %r1, 0, 0\ncall 1\njeq %r0, 0, +1\n"
	  "ldxdw %r0, [%r0+8]\nexit\n", NULL },
	{ "map value overrun", 0,
	  "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nld_map_idx %r1, 0, 0\ncall 1\njeq %r0, 0, +1\n"
	  "ldxdw %r0, [%r0+12]\nexit\n", "invalid access to map value" },
	{ "bounded variable index into a map value", 0,
	  "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nld_map_idx %r1, 0, 0\ncall 1\njeq %r0, 0, +4\n"
	  "ldxdw %r1, [%r0+0]\nand %r1, 7\nadd %r0, %r1\nldxdw %r0, [%r0+0]\nexit\n", NULL },
	{ "unbounded index into a map value", 0,
	  "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nld_map_idx %r1, 0, 0\ncall 1\njeq %r0, 0, +4\n"
	  "ldxdw %r1, [%r0+0]\nand %r1, 15\nadd %r0, %r1\nldxdw %r0, [%r0+0]\nexit\n",
	  "invalid access to map value" },
	{ "index checked by a branch", 0,
	  "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nld_map_idx %r1, 0, 0\ncall 1\njeq %r0, 0, out\n"
	  "ldxdw %r1, [%r0+0]\njgt %r1, 8, out\nadd %r0, %r1\nldxdw %r0, [%r0+0]\nexit\nout:\nmov %r0, 0\nexit\n",
	  NULL },
	{ "copy refined with its register", 0,
	  "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nld_map_idx %r1, 0, 0\ncall 1\njeq %r0, 0, out\n"
	  "ldxdw %r1, [%r0+0]\nmov %r3, %r1\njgt %r3, 8, out\nadd %r0, %r1\nldxdw %r0, [%r0+0]\nexit\n"
	  "out:\nmov %r0, 0\nexit\n", NULL },
	{ "pointer stored into a map value", 0,
	  "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nld_map_idx %r1, 0, 0\ncall 1\njeq %r0, 0, +1\n"
	  "stxdw [%r0+0], %r10\nmov %r0, 0\nexit\n", "leak into map" },
	{ "pointer copied into a map by a helper", 0,
	  "stxdw [%r10-8], %r10\nstw [%r10-12], 0\nmov %r2, %r10\nadd %r2, -12\nmov %r3, %r10\nadd %r3, -8\n"
	  "ld_map_idx %r1, 1, 0\nmov %r4, 0\ncall 2\nmov %r0, 0\nexit\n", "spilled pointer" },
	{ "uninitialised key", 0,
	  "mov %r2, %r10\nadd %r2, -4\nld_map_idx %r1, 0, 0\ncall 1\nmov %r0, 0\nexit\n", "invalid read from stack" },
	{ "write into .rodata", 0, "ld_map_idx_value %r1, 4, 0\nstdw [%r1+0], 1\nmov %r0, 0\nexit\n", "read-only" },
	{ "read .rodata", 0, "ld_map_idx_value %r1, 4, 0\nldxdw %r0, [%r1+0]\nexit\n", NULL },
	/* a frozen map's known bytes are constants: the dead branch is not walked */
	{ "known .rodata byte decides a branch", 0,
	  "ld_map_idx_value %r1, 5, 0\nldxb %r2, [%r1+3]\nmov %r0, 0\njeq %r2, 4, +1\nldxdw %r0, [%r0]\nexit\n", NULL },
	{ "known .rodata: a 32-bit load", 0,
	  "ld_map_idx_value %r1, 5, 0\nldxw %r2, [%r1+4]\nmov %r0, 0\njeq %r2, 0x08070605, +1\nldxdw %r0, [%r0]\nexit\n",
	  NULL },
	{ "unknown .rodata contents decide nothing", 0,
	  "ld_map_idx_value %r1, 4, 0\nldxb %r2, [%r1+3]\nmov %r0, 0\njeq %r2, 4, +1\nldxdw %r0, [%r0]\nexit\n",
	  "invalid mem access 'scalar'" },
	{ "wrong map type for the helper", 0,
	  "ld_map_idx %r1, 2, 0\nmov %r2, %r10\ncall 1\nmov %r0, 0\nexit\n", "cannot pass map_type" },
	/* packets */
	{ "packet read without a check", XDP, "ldxw %r2, [%r1+0]\nldxb %r0, [%r2+0]\nexit\n", "invalid access to packet" },
	{ "packet read after a check", XDP,
	  "ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r4, %r2\nadd %r4, 14\njgt %r4, %r3, +2\nldxb %r0, [%r2+13]\n"
	  "exit\nmov %r0, 1\nexit\n", NULL },
	{ "packet read past the check", XDP,
	  "ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r4, %r2\nadd %r4, 14\njgt %r4, %r3, +2\nldxb %r0, [%r2+14]\n"
	  "exit\nmov %r0, 1\nexit\n", "invalid access to packet" },
	{ "packet check the other way", XDP,
	  "ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r4, %r2\nadd %r4, 8\njle %r4, %r3, +2\nmov %r0, 1\nexit\n"
	  "ldxdw %r0, [%r2+0]\nexit\n", NULL },
	{ "packet pointers die when the packet moves", XDP,
	  "mov %r6, %r1\nldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r4, %r2\nadd %r4, 8\njgt %r4, %r3, +5\n"
	  "stxdw [%r10-8], %r2\nmov %r2, 4\ncall 44\nldxdw %r2, [%r10-8]\nldxb %r0, [%r2+0]\nmov %r0, 1\nexit\n",
	  "invalid mem access 'scalar'" },
	{ "xdp ctx field of the wrong size", XDP, "ldxdw %r0, [%r1+0]\nexit\n", "invalid bpf_context access" },
	{ "socket filter may not touch packet pointers", SOCK, "ldxw %r0, [%r1+76]\nexit\n", "invalid bpf_context access" },
	{ "socket filter writes cb", SOCK, "stw [%r1+48], 1\nmov %r0, 0\nexit\n", NULL },
	{ "socket filter may not write mark", SOCK, "stw [%r1+8], 1\nmov %r0, 0\nexit\n", "invalid bpf_context access" },
	{ "tc writes mark", TC, "stw [%r1+8], 1\nmov %r0, 0\nexit\n", NULL },
	/* references */
	{ "ringbuf record submitted", 0,
	  "ld_map_idx %r1, 2, 0\nmov %r2, 8\nmov %r3, 0\ncall 131\njeq %r0, 0, +4\nstdw [%r0+0], 1\nmov %r1, %r0\n"
	  "mov %r2, 0\ncall 132\nmov %r0, 0\nexit\n", NULL },
	{ "ringbuf record leaked", 0,
	  "ld_map_idx %r1, 2, 0\nmov %r2, 8\nmov %r3, 0\ncall 131\njeq %r0, 0, +1\nstdw [%r0+0], 1\nmov %r0, 0\nexit\n",
	  "Unreleased reference" },
	{ "ringbuf record used after submit", 0,
	  "ld_map_idx %r1, 2, 0\nmov %r2, 8\nmov %r3, 0\ncall 131\njeq %r0, 0, +5\nmov %r6, %r0\nmov %r1, %r0\n"
	  "mov %r2, 0\ncall 132\nstdw [%r6+0], 1\nmov %r0, 0\nexit\n", "!read_ok" },
	{ "ringbuf record overrun", 0,
	  "ld_map_idx %r1, 2, 0\nmov %r2, 8\nmov %r3, 0\ncall 131\njeq %r0, 0, +4\nstdw [%r0+4], 1\nmov %r1, %r0\n"
	  "mov %r2, 0\ncall 132\nmov %r0, 0\nexit\n", "invalid access to memory" },
	/* loops */
	{ "bounded loop", 0, "mov %r0, 0\nmov %r1, 0\nadd %r0, %r1\nadd %r1, 1\njlt %r1, 100, -3\nexit\n", NULL },
	{ "infinite loop", 0, "mov %r0, 0\nl:\nja l\n", "infinite loop" },
	{ "loop whose state repeats", 0, "mov %r0, 0\nldxdw %r1, [%r1+0]\nadd %r1, 1\njne %r1, 0, -2\nexit\n",
	  "infinite loop" },
	/* calls */
	{ "local call", 0, "mov %r1, 5\ncall local f\nexit\nf:\nmov %r0, %r1\nexit\n", NULL },
	{ "r1-r5 clobbered by a call", 0, "mov %r1, 5\ncall local f\nmov %r0, %r1\nexit\nf:\nmov %r0, 0\nexit\n",
	  "R1 !read_ok" },
	{ "callee's stack returned", 0, "call local f\nldxdw %r0, [%r0+0]\nexit\nf:\nmov %r0, %r10\nexit\n",
	  "callee's stack" },
	{ "caller's stack passed down", 0,
	  "stdw [%r10-8], 3\nmov %r1, %r10\nadd %r1, -8\ncall local f\nexit\nf:\nldxdw %r0, [%r1+0]\nexit\n", NULL },
	{ "recursion", 0, "call local f\nexit\nf:\ncall local f\nmov %r0, 0\nexit\n", "recursive" },
	{ "stack over 512 bytes in a chain", 0,
	  "stdw [%r10-512], 0\ncall local f\nmov %r0, 0\nexit\nf:\nstdw [%r10-8], 0\nmov %r0, 0\nexit\n",
	  "combined stack size" },
	{ "tail call from a subprogram under 256 bytes of callers' stack", 0,
	  "stdw [%r10-304], 0\ncall local f\nmov %r0, 0\nexit\nf:\nld_map_idx %r2, 3, 0\nmov %r3, 0\ncall 12\n"
	  "mov %r0, 0\nexit\n", "tail_calls are not allowed" },
	{ "tail call holding a reference", 0,
	  "mov %r6, %r1\nld_map_idx %r1, 2, 0\nmov %r2, 8\nmov %r3, 0\ncall 131\njeq %r0, 0, +9\nmov %r7, %r0\n"
	  "mov %r1, %r6\nld_map_idx %r2, 3, 0\nmov %r3, 0\ncall 12\nmov %r1, %r7\nmov %r2, 0\ncall 133\n"
	  "mov %r0, 0\nexit\n", "reference leak" },
	/* pruning must keep what checks depend on (precision, stack liveness) */
	{ "join of 0 and 100 used as an offset (0 first)", 0,
	  "ldxdw %r2, [%r1+0]\nmov %r3, 0\njeq %r2, 0, +1\nmov %r3, 100\nja +0\nmov %r4, %r1\nadd %r4, %r3\n"
	  "ldxb %r0, [%r4+0]\nexit\n", "context" },
	{ "join of 0 and 100 used as an offset (100 first)", 0,
	  "ldxdw %r2, [%r1+0]\nmov %r3, 100\njeq %r2, 0, +1\nmov %r3, 0\nja +0\nmov %r4, %r10\nadd %r4, -8\n"
	  "add %r4, %r3\nstb [%r4+0], 1\nmov %r0, 0\nexit\n", "stack access" },
	{ "join of spilled 0 and 100, filled, used as an offset", 0,
	  "ldxdw %r2, [%r1+0]\nstdw [%r10-8], 0\njeq %r2, 0, +1\nstdw [%r10-8], 100\nja +0\nldxdw %r3, [%r10-8]\n"
	  "mov %r4, %r10\nadd %r4, -8\nadd %r4, %r3\nstb [%r4+0], 1\nmov %r0, 0\nexit\n", "stack access" },
	{ "join of spills through a copied register", 0,
	  "ldxdw %r2, [%r1+0]\nmov %r5, 0\njeq %r2, 0, +1\nmov %r5, 100\nstxdw [%r10-8], %r5\nja +0\n"
	  "ldxdw %r3, [%r10-8]\nmov %r4, %r10\nadd %r4, -8\nadd %r4, %r3\nstb [%r4+0], 1\nmov %r0, 0\nexit\n",
	  "stack access" },
	/* the shape */
	{ "unreachable code", 0, "mov %r0, 0\nexit\nmov %r0, 1\nexit\n", "unreachable insn 2" },
	{ "too many branches for the budget", 0,
	  "mov %r0, 0\nldxdw %r1, [%r1+0]\nmov %r2, 0\nloop:\nadd %r2, 1\njeq %r2, 0, +1\nja loop\nexit\n", "too large" },
};

static int run_case(const struct vcase *c, struct vf_result *r)
{
	struct bpfrt_insn *insns = NULL;
	size_t n = 0;
	char err[256];
	if (bpfrt_asm(c->text, &insns, &n, err, sizeof(err)) != BPFRT_OK)
		fail_msg("%s: assembler: %s", c->name, err);
	struct vf_input in = { .insns = insns, .n = n, .prog_type = c->type, .maps = maps, .nmaps = ARRAY_SIZE(maps),
			       .platform = VF_PLATFORM_LINUX, .ctx_size = 64 };
	int rc = bpfrt_verify(&in, r);
	free(insns);
	return rc;
}

static void test_cases(void **state)
{
	(void)state;
	int bad = 0;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct vcase *c = &cases[i];
		struct vf_result r;
		if (getenv("VERIFY_TRACE"))
			fprintf(stderr, "case %s\n", c->name);
		int rc = run_case(c, &r);
		bool ok = c->refuse ? rc == BPFRT_EREJECT && r.log && strstr(r.log, c->refuse) : rc == BPFRT_OK;
		if (!ok) {
			print_error("case '%s': expected %s%s%s, got %s: %s\n", c->name, c->refuse ? "refusal: " : "acceptance",
				    c->refuse ? c->refuse : "", "", rc == BPFRT_OK ? "accepted" : "refused",
				    r.log ? r.log : "");
			bad++;
		}
		bpfrt_verify_result_free(&r);
	}
	assert_int_equal(bad, 0);
}

/* aux facts: reached instructions, the pointer type of each access, the
 * map and constant key of a tail call; stack depths and tail_call_reachable */
static void test_facts(void **state)
{
	(void)state;
	const struct vcase c = { "facts", 0,
		"stdw [%r10-16], 0\nldxdw %r0, [%r1+0]\ncall local f\nmov %r0, 0\nexit\n"
		"f:\nstdw [%r10-40], 0\nld_map_idx %r2, 3, 0\nmov %r3, 2\ncall 12\nmov %r0, 0\nexit\n", NULL };
	struct vf_result r;
	assert_int_equal(run_case(&c, &r), BPFRT_OK);
	assert_true(r.aux[0].seen && r.aux[4].seen);
	assert_int_equal(r.aux[0].ptr_type, T_STACK);
	assert_int_equal(r.aux[1].ptr_type, T_CTX);
	assert_int_equal(r.aux[9].map, 3);
	assert_int_equal(r.aux[9].key, 2);
	assert_false(r.aux[9].key_mixed);
	assert_int_equal(r.nsub, 2);
	assert_int_equal(r.sub[0].stack_depth, 16);
	assert_int_equal(r.sub[1].stack_depth, 40);
	assert_true(r.sub[0].tail_call_reachable && r.sub[1].tail_call_reachable);
	assert_true(r.sub[1].has_tail_call && !r.sub[0].has_tail_call);
	bpfrt_verify_result_free(&r);
}

/* pruning: 20 diamonds would be 2^20 paths without it (the joins see equal
 * states; precision tracking, which would also merge states differing only in
 * scalars no check depends on, is still to come) */
static void test_pruning(void **state)
{
	(void)state;
	char text[8192] = "ldxdw %r4, [%r1+0]\nldxdw %r5, [%r1+8]\nmov %r0, 0\n";
	for (int i = 0; i < 20; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 "jeq %%r4, %%r5, +1\nmov %%r3, %d\nmov %%r3, 1\n", i);
	strcat(text, "exit\n");
	const struct vcase c = { "diamonds", 0, text, NULL };
	struct vf_result r;
	int rc = run_case(&c, &r);
	if (rc)
		print_error("%s\n", r.log);
	assert_int_equal(rc, BPFRT_OK);
	if (r.pruned < 9 || r.processed >= 1000)
		print_error("pruned %" PRIu64 ", processed %" PRIu64 "\n", r.pruned, r.processed);
	assert_true(r.pruned >= 9);
	assert_true(r.processed < 1000);
	bpfrt_verify_result_free(&r);
}

/* precision: diamonds whose sides differ only in values no check uses
 * (a refined operand, a dead constant, a stack slot overwritten before it is
 * read) all merge */
static void test_pruning_precision(void **state)
{
	(void)state;
	for (int kind = 0; kind < 2; kind++) {
		char text[16384] = "ldxdw %r2, [%r1+0]\nmov %r0, 0\n";
		for (int i = 0; i < 24; i++)
			snprintf(text + strlen(text), sizeof(text) - strlen(text),
				 kind ? "jset %%r2, %d, +1\nstdw [%%r10-8], %d\nstdw [%%r10-16], 1\nstdw [%%r10-8], 1\n"
				      : "jset %%r2, %d, +1\nmov %%r3, %d\nmov %%r4, 1\n", 1 << (i % 30), i);
		strcat(text, "ldxdw %r0, [%r10-16]\nexit\n");
		if (!kind)
			strstr(text, "ldxdw %r0, [%r10-16]")[0] = 0, strcat(text, "mov %r0, 0\nexit\n");
		const struct vcase c = { kind ? "dead stack slots" : "imprecise scalars", 0, text, NULL };
		struct vf_result r;
		int rc = run_case(&c, &r);
		if (rc || r.processed > 2000)
			print_error("%s: rc %d, processed %" PRIu64 ", pruned %" PRIu64 "\n%s\n", c.name, rc, r.processed,
				    r.pruned, r.log);
		assert_int_equal(rc, BPFRT_OK);
		assert_true(r.processed <= 2000);
		bpfrt_verify_result_free(&r);
	}
}

/* the scalar domain holds every concrete result (random operands drawn
 * from random ranges) */
static uint64_t rng = 0x243f6a8885a308d3ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t pick(void)
{
	switch (rnd() % 4) {
	case 0: return rnd() % 16;
	case 1: return (uint64_t)-(int64_t)(rnd() % 16);
	case 2: return rnd() & 0xffffffff;
	default: return rnd();
	}
}

static uint64_t concrete(unsigned op, uint64_t a, uint64_t b, bool is64)
{
	if (!is64) {
		uint32_t x = (uint32_t)a, y = (uint32_t)b;
		switch (op) {
		case 0x00: return (uint32_t)(x + y);
		case 0x10: return (uint32_t)(x - y);
		case 0x20: return (uint32_t)(x * y);
		case 0x30: return y ? x / y : 0;
		case 0x40: return x | y;
		case 0x50: return x & y;
		case 0x60: return (uint32_t)(x << (y & 31));
		case 0x70: return x >> (y & 31);
		case 0x90: return y ? x % y : x;
		case 0xa0: return x ^ y;
		case 0xc0: return (uint32_t)((int32_t)x >> (y & 31));
		}
		return 0;
	}
	switch (op) {
	case 0x00: return a + b;
	case 0x10: return a - b;
	case 0x20: return a * b;
	case 0x30: return b ? a / b : 0;
	case 0x40: return a | b;
	case 0x50: return a & b;
	case 0x60: return a << (b & 63);
	case 0x70: return a >> (b & 63);
	case 0x90: return b ? a % b : a;
	case 0xa0: return a ^ b;
	case 0xc0: return (uint64_t)((int64_t)a >> (b & 63));
	}
	return 0;
}

static bool holds(const struct vreg *r, uint64_t v)
{
	return v >= r->umin && v <= r->umax && (int64_t)v >= r->smin && (int64_t)v <= r->smax &&
	       (uint32_t)v >= r->u32min && (uint32_t)v <= r->u32max && (int32_t)v >= r->s32min &&
	       (int32_t)v <= r->s32max && (v & ~r->var.mask) == r->var.value;
}

static void range_of(struct vreg *r, uint64_t a, uint64_t b)
{
	vreg_unknown(r);
	uint64_t lo = a < b ? a : b, hi = a < b ? b : a;
	r->umin = lo;
	r->umax = hi;
	vreg_sync(r);
}

static void test_domain(void **state)
{
	(void)state;
	static const unsigned ops[] = { 0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0, 0xc0 };
	int bad = 0;
	for (int iter = 0; iter < 200000 && bad < 10; iter++) {
		unsigned op = ops[rnd() % ARRAY_SIZE(ops)];
		bool is64 = rnd() & 1;
		uint64_t a1 = pick(), a2 = rnd() & 1 ? a1 : pick(), b1 = pick(), b2 = rnd() & 1 ? b1 : pick();
		if ((op == 0x60 || op == 0x70 || op == 0xc0) && (rnd() & 1))
			b1 = b2 = rnd() % (is64 ? 64 : 32);
		struct vreg a, b;
		range_of(&a, a1, a2);
		range_of(&b, b1, b2);
		uint64_t x = a.umax - a.umin == UINT64_MAX ? rnd() : a.umin + rnd() % (a.umax - a.umin + 1);
		uint64_t y = b.umax - b.umin == UINT64_MAX ? rnd() : b.umin + rnd() % (b.umax - b.umin + 1);
		if (!holds(&a, x) || !holds(&b, y))
			continue; /* the tnum of the range excludes it */
		struct vreg d = a;
		vrange_alu(&d, &b, op, is64);
		uint64_t v = concrete(op, x, y, is64);
		if (!holds(&d, v)) {
			print_error("op %#x%s: %#" PRIx64 " op %#" PRIx64 " = %#" PRIx64 " not in [%#" PRIx64 ", %#" PRIx64
				    "] s[%" PRId64 ", %" PRId64 "] var (%#" PRIx64 "; %#" PRIx64 ")\n", op, is64 ? "" : "32",
				    x, y, v, d.umin, d.umax, d.smin, d.smax, d.var.value, d.var.mask);
			bad++;
		}
		/* branch refinement keeps the values that take each side */
		static const uint8_t jops[] = { 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0 };
		uint8_t j = jops[rnd() % ARRAY_SIZE(jops)];
		bool taken;
		uint64_t p = is64 ? x : (uint32_t)x, q = is64 ? y : (uint32_t)y;
		int64_t sp = is64 ? (int64_t)x : (int32_t)x, sq = is64 ? (int64_t)y : (int32_t)y;
		switch (j) {
		case 0x10: taken = p == q; break;
		case 0x20: taken = p > q; break;
		case 0x30: taken = p >= q; break;
		case 0x40: taken = (p & q) != 0; break;
		case 0x50: taken = p != q; break;
		case 0x60: taken = sp > sq; break;
		case 0x70: taken = sp >= sq; break;
		case 0xa0: taken = p < q; break;
		case 0xb0: taken = p <= q; break;
		case 0xc0: taken = sp < sq; break;
		default: taken = sp <= sq; break;
		}
		int dec = vrange_branch(&a, &b, j, is64);
		if (dec >= 0 && dec != taken) {
			print_error("branch %#x%s decided %d for %#" PRIx64 ", %#" PRIx64 "\n", j, is64 ? "" : "32", dec, x, y);
			bad++;
		}
		struct vreg ra = a, rb = b;
		if (!vrange_refine(&ra, &rb, j, is64, taken) || !holds(&ra, x) || !holds(&rb, y)) {
			print_error("refine %#x%s taken=%d lost %#" PRIx64 ", %#" PRIx64 "\n", j, is64 ? "" : "32", taken, x, y);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_facts),
		cmocka_unit_test(test_pruning),
		cmocka_unit_test(test_pruning_precision),
		cmocka_unit_test(test_domain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
