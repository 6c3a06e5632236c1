/*
 * jit.c — the JIT's benchmarks, side by side in one run:
 *   - programs on bpfrt's JIT, bpfrt's interpreter and the kernel (an XDP
 *     program through BPF_PROG_TEST_RUN, repeat >= 100k): ns per run and
 *     the ratio.  The programs are the same but for a 2-3 instruction
 *     prelude that finds the packet (xdp_md's data/data_end in the kernel,
 *     r1/r2 in bpfrt);
 *   - the seeds' prologue effect: a call to a subprogram that uses no
 *     callee-saved register against one that uses all four;
 *   - compile speed: ns per BPF instruction on a large program, the fixed
 *     cost of a tiny one, and native bytes per BPF instruction.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define PKT 1500

static const char prelude_kernel[] = "ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\n";
static const char prelude_bpfrt[] = "mov %r3, %r1\nadd %r3, %r2\nmov %r2, %r1\n";

static const char fnv_body[] =
	"mov32 %r0, 0x811c9dc5\nmov %r4, %r2\nmov %r7, 1500\n"
	"loop:\nmov %r5, %r4\nadd %r5, 1\njgt %r5, %r3, out\nldxb %r6, [%r4]\n"
	"xor32 %r0, %r6\nmul32 %r0, 0x01000193\nadd %r4, 1\nsub %r7, 1\njne %r7, 0, loop\n"
	"out:\nexit\n";

static const char calls_body[] =
	"mov %r6, 1000\nmov %r7, 0\nloop:\nmov %r1, %r6\ncall local f\nadd %r7, %r0\n"
	"sub %r6, 1\njne %r6, 0, loop\nmov %r0, %r7\nexit\n"
	"f:\nmov %r0, %r1\nadd %r0, 1\nexit\n";

/* the same, with a callee that uses r6..r9 (all four callee-saved registers) */
static const char calls4_body[] =
	"mov %r6, 1000\nmov %r7, 0\nloop:\nmov %r1, %r6\ncall local f\nadd %r7, %r0\n"
	"sub %r6, 1\njne %r6, 0, loop\nmov %r0, %r7\nexit\n"
	"f:\nmov %r6, %r1\nmov %r7, 1\nmov %r8, %r6\nmov %r9, %r7\nmov %r0, %r8\nadd %r0, %r9\nexit\n";

/* The mask (crc & 1) * poly, not -(crc & 1) & poly: the kernel's verifier
 * (6.18) splits a scalar in [0, 1] at neg/arsh into its two values, so the
 * branchless neg form explodes to 2^8 states per byte and is refused. */
static char *crc_body(void)
{
	static char buf[4096];
	char *p = buf;
	p += sprintf(p, "mov32 %%r0, -1\nmov %%r4, %%r2\nmov %%r7, 256\nloop:\nmov %%r5, %%r4\n"
		     "add %%r5, 1\njgt %%r5, %%r3, out\nldxb %%r6, [%%r4]\nxor32 %%r0, %%r6\n");
	for (int i = 0; i < 8; i++)
		p += sprintf(p, "mov32 %%r8, %%r0\nand32 %%r8, 1\nmul32 %%r8, 0xedb88320\n"
			     "rsh32 %%r0, 1\nxor32 %%r0, %%r8\n");
	sprintf(p, "add %%r4, 1\nsub %%r7, 1\njne %%r7, 0, loop\nout:\nxor32 %%r0, -1\nexit\n");
	return buf;
}

/* Assembles and frees text; a bench program that does not assemble is a bug. */
static struct bpfrt_insn *asm_text(char *text, size_t *n)
{
	struct bpfrt_insn *in;
	char err[256];
	if (bpfrt_asm(text, &in, n, err, sizeof(err)) != BPFRT_OK) {
		fprintf(stderr, "bench: %s\n", err);
		exit(1);
	}
	free(text);
	return in;
}

static struct bpfrt_insn *assemble(const char *prelude, const char *body, size_t *n)
{
	size_t l = strlen(prelude) + strlen(body) + 1;
	char *text = malloc(l);
	snprintf(text, l, "%s%s", prelude, body);
	return asm_text(text, n);
}

/* The FNV program in C, compiled by the C compiler (-O2): what native code
 * does with the same dependency chain (an xor, then a multiply, per byte). */
static __attribute__((noinline)) uint32_t fnv_native(const uint8_t *p, const uint8_t *end)
{
	uint32_t h = 0x811c9dc5;
	for (int k = 1500; k && p + 1 <= end; k--, p++) {
		h ^= *p;
		h *= 0x01000193;
	}
	return h;
}

static double time_native(const uint8_t *pkt, size_t len, int rounds, double budget, uint32_t *h)
{
	double best = 1e30;
	for (int r = 0; r < rounds; r++) {
		unsigned long runs = 0;
		double t0 = now_ns(), t;
		do {
			for (int k = 0; k < 64; k++) {
				__asm__ volatile("" : : "r"(pkt) : "memory"); /* a fresh run each time */
				*h = fnv_native(pkt, pkt + len);
			}
			runs += 64;
		} while ((t = now_ns() - t0) < budget);
		if (t / runs < best)
			best = t / runs;
	}
	return best;
}

/* Best-of-rounds mean ns per run of prog on pkt. */
static double time_bpfrt(bpfrt_prog *p, uint8_t *pkt, size_t len, int rounds, double budget,
			 uint64_t *r0)
{
	double best = 1e30;
	for (int r = 0; r < rounds; r++) {
		unsigned long runs = 0;
		double t0 = now_ns(), t;
		do {
			for (int k = 0; k < 64; k++)
				bpfrt_prog_run_mem(p, pkt, len, r0);
			runs += 64;
		} while ((t = now_ns() - t0) < budget);
		if (t / runs < best)
			best = t / runs;
	}
	return best;
}

static bpfrt_prog *load_flags(bpfrt_vm *vm, const struct bpfrt_insn *in, size_t n, bpfrt_engine e,
			      uint32_t flags)
{
	struct bpfrt_load_opts o = { .sz = sizeof(o), .engine = e, .flags = flags };
	bpfrt_prog *p;
	if (bpfrt_prog_load(vm, in, n, &o, &p) != BPFRT_OK) {
		fprintf(stderr, "bench: %s\n", bpfrt_vm_errmsg(vm));
		exit(1);
	}
	return p;
}

static bpfrt_prog *load(bpfrt_vm *vm, const struct bpfrt_insn *in, size_t n, bpfrt_engine e)
{
	return load_flags(vm, in, n, e, 0);
}

/* Programs with calls are timed on the JIT with its leaf inlining off too.
 * Returns the JIT's ns per run with every call a call. */
static double side_by_side(bpfrt_vm *vm, const char *name, const char *body, uint8_t *pkt,
			   int rounds, double budget)
{
	size_t n, nk;
	struct bpfrt_insn *in = assemble(prelude_bpfrt, body, &n);
	struct bpfrt_insn *kin = assemble(prelude_kernel, body, &nk);
	bpfrt_prog *jit = load(vm, in, n, BPFRT_ENGINE_JIT);
	bpfrt_prog *interp = load(vm, in, n, BPFRT_ENGINE_INTERP);
	struct bpfrt_jit_info info;
	bpfrt_prog_jit_info(jit, &info);
	bpfrt_prog *plain = info.inlined ? load_flags(vm, in, n, BPFRT_ENGINE_JIT, BPFRT_LOAD_JIT_NO_INLINE)
					 : NULL;
	uint64_t r_jit = 0, r_interp = 0, r_k = 0, r_plain = 0;
	double t_plain = 0;
	double t_k = -1;
	char *log = calloc(1, 1 << 16);
	int fd = kernel_load(BPF_PROG_TYPE_XDP, kin, nk, log, 1 << 16);
	const char *why = NULL;
	char whybuf[300];
	double t_jit = 0, t_interp = 0;
	for (int r = 0; r < rounds; r++) { /* interleaved rounds */
		double a = time_bpfrt(jit, pkt, PKT, 1, budget, &r_jit);
		double b = time_bpfrt(interp, pkt, PKT, 1, budget, &r_interp);
		if (!r || a < t_jit) t_jit = a;
		if (!r || b < t_interp) t_interp = b;
		if (plain) {
			double c = time_bpfrt(plain, pkt, PKT, 1, budget, &r_plain);
			if (!r || c < t_plain) t_plain = c;
		}
		if (fd >= 0) {
			double k = kernel_run(fd, pkt, PKT, 100000, &r_k);
			if (k < 0) {
				snprintf(whybuf, sizeof(whybuf), "BPF_PROG_TEST_RUN: %s", strerror(errno));
				why = whybuf;
				close(fd);
				fd = -1;
			} else if (t_k < 0 || k < t_k) {
				t_k = k;
			}
		}
	}
	if (fd < 0 && !why) {
		size_t ll = strlen(log);
		snprintf(whybuf, sizeof(whybuf), "bpf(BPF_PROG_LOAD): %s%s%.160s", strerror(errno),
			 ll ? ": " : "", ll > 160 ? log + ll - 160 : log);
		why = whybuf;
	}
	printf("\n%s (%zu insns; r0 %s)\n", name, n,
	       r_jit == r_interp && (!plain || r_plain == r_jit) &&
	       (t_k < 0 || (uint32_t)r_k == (uint32_t)r_jit) ? "agrees" : "DIFFERS");
	printf("  %-22s %9.1f ns/run%s\n", "bpfrt jit", t_jit, info.inlined ? "  (the calls inlined)" : "");
	if (plain)
		printf("  %-22s %9.1f ns/run  (BPFRT_LOAD_JIT_NO_INLINE)\n", "bpfrt jit, calls", t_plain);
	printf("  %-22s %9.1f ns/run  %6.2fx the JIT\n", "bpfrt interpreter", t_interp, t_interp / t_jit);
	if (t_k >= 0 && plain)
		printf("  %-22s %9.1f ns/run  bpfrt jit / kernel = %.2f (calls: %.2f)\n",
		       "kernel (XDP test run)", t_k, t_jit / t_k, t_plain / t_k);
	else if (t_k >= 0)
		printf("  %-22s %9.1f ns/run  bpfrt jit / kernel = %.2f\n", "kernel (XDP test run)", t_k,
		       t_jit / t_k);
	else
		printf("  %-22s skipped: %s\n", "kernel", why);
	if (fd >= 0)
		close(fd);
	free(log);
	bpfrt_prog_free(jit);
	bpfrt_prog_free(interp);
	bpfrt_prog_free(plain);
	free(in);
	free(kin);
	return plain ? t_plain : t_jit;
}

/* A large program for compile figures: a typical mix (stack loads and
 * stores, 64- and 32-bit ALU, a forward branch every 9 instructions),
 * `blocks` times. */
static struct bpfrt_insn *big_program(int blocks, size_t *n)
{
	char *text = malloc((size_t)blocks * 256 + 256), *p = text;
	p += sprintf(p, "mov %%r0, 0\nmov %%r3, 0\nmov %%r6, 1\nmov %%r8, 0\nstdw [%%r10-16], 0\n");
	for (int i = 0; i < blocks; i++)
		p += sprintf(p, "ldxdw %%r3, [%%r10-16]\nadd %%r3, %%r6\nmov32 %%r8, %%r0\nand32 %%r8, 1\n"
			     "jeq %%r8, 0, L%d\nneg32 %%r8\nrsh32 %%r0, 1\nxor32 %%r0, %%r8\n"
			     "stxdw [%%r10-16], %%r3\nL%d:\n", i, i);
	sprintf(p, "exit\n");
	return asm_text(text, n);
}

/* Best-of-reps ns to load; *jit: the best of the JIT stage's own time
 * (bpfrt_prog_stats), if not NULL. */
static double load_time(bpfrt_vm *vm, const struct bpfrt_insn *in, size_t n, bpfrt_engine e,
			int reps, size_t *code, double *jit)
{
	double best = 1e30;
	if (jit)
		*jit = 1e30;
	for (int r = 0; r < reps; r++) {
		double t0 = now_ns();
		bpfrt_prog *p = load(vm, in, n, e);
		double t = now_ns() - t0;
		if (jit) {
			struct bpfrt_stats st;
			bpfrt_prog_stats(p, &st);
			if ((double)st.jit_ns < *jit)
				*jit = (double)st.jit_ns;
		}
		if (code) {
			struct bpfrt_jit_info info;
			bpfrt_prog_jit_info(p, &info);
			*code = info.code_bytes;
		}
		bpfrt_prog_free(p);
		if (t < best)
			best = t;
	}
	return best;
}

int bench_jit(bool quick)
{
	int rounds = quick ? 2 : 5;
	double budget = quick ? 1e7 : 5e7;
	bpfrt_vm *vm = bpfrt_vm_new();
	uint8_t *pkt = malloc(PKT);
	for (int i = 0; i < PKT; i++)
		pkt[i] = (uint8_t)(i * 31 + 7);
	printf("\n== the JIT, the interpreter and the kernel (bpf_jit_enable=%d): ns per run, "
	       "best of %d rounds ==\n", kernel_jit_enabled(), rounds);
	double t_fnv = side_by_side(vm, "byte-wise FNV-1a hash over a 1500-byte packet", fnv_body, pkt,
				    rounds, budget);
	uint32_t h;
	double t_native = time_native(pkt, PKT, rounds, budget, &h);
	printf("  %-22s %9.1f ns/run  bpfrt jit / native = %.2f (h %#x: the chain of an xor and a "
	       "multiply per byte bounds every compiler)\n", "the same loop in C", t_native, t_fnv / t_native, h);
	side_by_side(vm, "bitwise CRC-32 over 256 bytes of the packet", crc_body(), pkt, rounds, budget);
	double c0 = side_by_side(vm, "1000 bpf-to-bpf calls (callee uses no callee-saved register)",
				 calls_body, pkt, rounds, budget);
	double c4 = side_by_side(vm, "1000 bpf-to-bpf calls (callee uses r6..r9)", calls4_body, pkt,
				 rounds, budget);
	printf("\nthe seeds' prologue effect, every call a call: %.0f M calls/s with a callee that "
	       "saves no register, %.0f M calls/s with one that saves all four (%.2fx)\n",
	       1e6 / c0, 1e6 / c4, c4 / c0);
	printf("\n(the hash-map lookup/update loop comes with maps)\n");

	printf("\n== JIT compile ==\n");
	size_t big, code = 0;
	struct bpfrt_insn *in = big_program(quick ? 2000 : 11000, &big);
	int reps = quick ? 3 : 30; /* best of many: the machine is shared */
	double stage;
	double t_jit = load_time(vm, in, big, BPFRT_ENGINE_JIT, reps, &code, &stage);
	double t_int = load_time(vm, in, big, BPFRT_ENGINE_INTERP, reps, NULL, NULL);
	printf("  %zu-instruction program: load %.2f ms with the JIT, %.2f ms without: "
	       "%.1f ns per instruction to compile (the JIT stage alone: %.1f), %.2f bytes of code "
	       "per instruction\n", big, t_jit / 1e6, t_int / 1e6, (t_jit - t_int) / (double)big,
	       stage / (double)big, (double)code / (double)big);
	free(in);
	struct bpfrt_insn tiny[2] = { { .code = 0xb7 }, { .code = 0x95 } };
	double tt_jit = load_time(vm, tiny, 2, BPFRT_ENGINE_JIT, quick ? 200 : 2000, &code, NULL);
	double tt_int = load_time(vm, tiny, 2, BPFRT_ENGINE_INTERP, quick ? 200 : 2000, NULL, NULL);
	printf("  tiny program (2 insns): load %.2f us with the JIT (%.2f us without), %zu bytes\n",
	       tt_jit / 1e3, tt_int / 1e3, code);
	size_t n_fnv;
	struct bpfrt_insn *f = assemble(prelude_bpfrt, fnv_body, &n_fnv);
	load_time(vm, f, n_fnv, BPFRT_ENGINE_JIT, 1, &code, NULL);
	printf("  the FNV program: %zu insns, %zu bytes (%.2f bytes per instruction, prologue and "
	       "epilogue included)\n", n_fnv, code, (double)code / (double)n_fnv);
	free(f);
	free(pkt);
	bpfrt_vm_free(vm);
	return 0;
}
