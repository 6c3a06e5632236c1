/*
 * bench.c — bpfrt's benchmarks: interpreter ns per BPF instruction on
 * workloads of different kinds, each measured side by side on the engines
 * (goto and switch dispatch, fast and safe mode) and, where the kernel lets
 * us load programs, against the Linux kernel running the same program with
 * BPF_PROG_TEST_RUN (JIT or interpreter, as /proc/sys/net/core/bpf_jit_enable
 * says).  The machine is shared and noisy: each figure is the best of 5
 * rounds, and the rounds of all engines are interleaved.
 *
 *   bench [--quick] [interp|jit|maps|patch|verify|tailcall|trace]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bpfrt.h"
#include "bench.h"

struct workload {
	const char *name;
	const char *text;        /* assembly; N is substituted */
	unsigned long n;         /* iterations */
	unsigned long (*insns)(unsigned long n, size_t memlen); /* executed per run */
	size_t memlen;
	bool kernel;             /* runs in the kernel as a socket filter */
	bool random;             /* r0 depends on bpf_get_prandom_u32 */
};

static unsigned long alu_insns(unsigned long n, size_t m) { (void)m; return 2 + 7 * n + 1; }
static unsigned long mem_insns(unsigned long n, size_t m) { (void)n; return 4 + 7 * m + 1; }
static unsigned long call_insns(unsigned long n, size_t m) { (void)m; return 2 + 8 * n + 2; }
static unsigned long helper_insns(unsigned long n, size_t m) { (void)m; return 2 + 4 * n + 2; }

static const struct workload workloads[] = {
	{ "alu loop", "mov %r0, 0\nmov %r3, N\nloop:\nadd %r0, %r3\nxor %r0, 0x5a\nlsh %r0, 1\n"
	  "rsh %r0, 1\nmul %r0, 3\nsub %r3, 1\njne %r3, 0, loop\nexit\n",
	  10000, alu_insns, 0, true, false },
	{ "memory loop", "mov %r0, 0\nmov %r4, %r1\nmov %r5, %r2\nstdw [%r10-8], 0\nloop:\n"
	  "ldxb %r3, [%r4]\nadd %r0, %r3\nstxdw [%r10-8], %r0\nldxdw %r0, [%r10-8]\n"
	  "add %r4, 1\nsub %r5, 1\njne %r5, 0, loop\nexit\n",
	  0, mem_insns, 4096, false, false },
	{ "local calls", "mov %r6, N\nmov %r7, 0\nloop:\nmov %r1, %r6\ncall local f\nadd %r7, %r0\n"
	  "sub %r6, 1\njne %r6, 0, loop\nmov %r0, %r7\nexit\nf:\nmov %r0, %r1\nadd %r0, 1\nexit\n",
	  10000, call_insns, 0, true, false },
	{ "helper calls", "mov %r6, N\nmov %r7, 0\nloop:\ncall 7\nadd %r7, %r0\nsub %r6, 1\n"
	  "jne %r6, 0, loop\nmov %r0, %r7\nexit\n",
	  10000, helper_insns, 0, true, true },
};

double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static char *subst(const char *text, unsigned long n)
{
	char num[32], *out = malloc(strlen(text) + 64), *o = out;
	snprintf(num, sizeof(num), "%lu", n);
	for (const char *p = text; *p; p++) {
		if (*p == 'N' && (p == text || p[-1] == ' ')) {
			o = stpcpy(o, num);
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

/* ---- the kernel, through bpf(2) ---- */

int kernel_load(int type, const struct bpfrt_insn *in, size_t n, char *log, size_t loglen)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = (uint32_t)type;
	a.insns = (uintptr_t)in;
	a.insn_cnt = (uint32_t)n;
	a.license = (uintptr_t)"GPL";
	int fd = (int)syscall(__NR_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	if (fd < 0 && errno != EPERM && errno != ENOSYS) { /* again, for the verifier's message */
		int e = errno;
		a.log_buf = (uintptr_t)log;
		a.log_size = (uint32_t)loglen;
		a.log_level = 1;
		syscall(__NR_bpf, BPF_PROG_LOAD, &a, sizeof(a));
		errno = e;
	}
	return fd;
}

/* Mean ns per run over `repeat` runs, measured by the kernel; -1 on error. */
double kernel_run(int fd, const void *pkt, uint32_t len, uint32_t repeat, uint64_t *r0)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)fd;
	a.test.data_in = (uintptr_t)pkt;
	a.test.data_size_in = len;
	a.test.repeat = repeat;
	if (syscall(__NR_bpf, BPF_PROG_TEST_RUN, &a, sizeof(a)))
		return -1;
	*r0 = a.test.retval;
	return (double)a.test.duration;
}

static int bench_interp(bool quick);

int kernel_jit_enabled(void)
{
	FILE *jf = fopen("/proc/sys/net/core/bpf_jit_enable", "r");
	int jit = -1;
	if (jf) {
		if (fscanf(jf, "%d", &jit) != 1)
			jit = -1;
		fclose(jf);
	}
	return jit;
}

struct engine {
	const char *name;
	bpfrt_engine engine;
	uint32_t flags;
};

static const struct engine engines[] = {
	{ "interp (goto, fast)", BPFRT_ENGINE_INTERP, 0 },
	{ "interp (switch, fast)", BPFRT_ENGINE_INTERP_SWITCH, 0 },
	{ "interp (goto, safe)", BPFRT_ENGINE_INTERP, BPFRT_LOAD_SAFE },
	{ "jit", BPFRT_ENGINE_JIT, 0 },
};
#define NENG (sizeof(engines) / sizeof(engines[0]))

int main(int argc, char **argv)
{
	bool quick = argc > 1 && !strcmp(argv[1], "--quick");
	const char *only = argc > 2 ? argv[2] : (argc > 1 && argv[1][0] != '-' ? argv[1] : NULL);
	if ((!only || !strcmp(only, "interp")) && bench_interp(quick))
		return 1;
	if ((!only || !strcmp(only, "jit")) && bench_jit(quick))
		return 1;
	if ((!only || !strcmp(only, "maps")) && bench_maps(quick, getenv("BPFRT_MAPBENCH") ?
							       getenv("BPFRT_MAPBENCH") : "build/bpf/mapbench.o"))
		return 1;
	if ((!only || !strcmp(only, "patch")) && bench_patch(quick))
		return 1;
	if ((!only || !strcmp(only, "verify")) && bench_verify(quick))
		return 1;
	if ((!only || !strcmp(only, "tailcall")) &&
	    bench_tailcall(quick, getenv("BPFRT_TAILBENCH") ? getenv("BPFRT_TAILBENCH") : "build/bpf/tailcall.o"))
		return 1;
	if ((!only || !strcmp(only, "trace")) &&
	    bench_trace(quick, getenv("BPFRT_TRACEBENCH") ? getenv("BPFRT_TRACEBENCH") : "build/bpf/trace.o"))
		return 1;
	return 0;
}

static int bench_interp(bool quick)
{
	int rounds = quick ? 2 : 5;
	double budget_ns = quick ? 2e7 : 1e8; /* per engine per round */
	bpfrt_vm *vm = bpfrt_vm_new();
	int jit = kernel_jit_enabled();
	printf("bpfrt %s benchmarks\n\n== the interpreter: ns per BPF instruction (best of %d "
	       "rounds) ==\n", bpfrt_version(), rounds);
	for (size_t w = 0; w < sizeof(workloads) / sizeof(workloads[0]); w++) {
		const struct workload *wl = &workloads[w];
		char *text = subst(wl->text, wl->n);
		struct bpfrt_insn *in;
		size_t n;
		char err[512];
		if (bpfrt_asm(text, &in, &n, err, sizeof(err)) != BPFRT_OK) {
			fprintf(stderr, "%s: %s\n", wl->name, err);
			return 1;
		}
		free(text);
		uint8_t *mem = wl->memlen ? calloc(1, wl->memlen) : NULL;
		for (size_t i = 0; i < wl->memlen; i++)
			mem[i] = (uint8_t)i;
		double per_run = wl->insns(wl->n, wl->memlen);
		bpfrt_prog *p[NENG];
		double best[NENG];
		uint64_t r0s[NENG];
		for (size_t e = 0; e < NENG; e++) {
			struct bpfrt_load_opts o = { .sz = sizeof(o), .flags = engines[e].flags,
						     .engine = engines[e].engine };
			if (bpfrt_prog_load(vm, in, n, &o, &p[e]) != BPFRT_OK) {
				fprintf(stderr, "%s: %s\n", wl->name, bpfrt_vm_errmsg(vm));
				return 1;
			}
			best[e] = 1e30;
		}
		for (int r = 0; r < rounds; r++)
			for (size_t e = 0; e < NENG; e++) {
				unsigned long runs = 0;
				double t0 = now_ns(), t;
				do {
					if (bpfrt_prog_run_mem(p[e], mem, wl->memlen, &r0s[e]) != BPFRT_OK) {
						fprintf(stderr, "%s: %s\n", wl->name, bpfrt_prog_errmsg(p[e]));
						return 1;
					}
					runs++;
				} while ((t = now_ns() - t0) < budget_ns);
				double ns = t / runs / per_run;
				if (ns < best[e])
					best[e] = ns;
			}
		printf("\n%s (%.0f instructions per run)\n", wl->name, per_run);
		for (size_t e = 0; e < NENG; e++)
			printf("  %-24s %6.2f ns/insn  %7.2fx goto-fast\n", engines[e].name, best[e],
			       best[e] / best[0]);
		if (wl->kernel) {
			char *log = calloc(1, 1 << 16);
			int fd = kernel_load(BPF_PROG_TYPE_SOCKET_FILTER, in, n, log, 1 << 16);
			if (fd < 0) {
				size_t ll = strlen(log);
				printf("  %-24s skipped: bpf(BPF_PROG_LOAD): %s%s%.200s\n", "kernel",
				       strerror(errno), ll ? ": " : "", ll > 200 ? log + ll - 200 : log);
			} else {
				double kb = 1e30;
				uint64_t kr0 = 0;
				uint32_t repeat = (uint32_t)(budget_ns / (per_run * 1.0) + 1);
				for (int r = 0; r < rounds; r++) {
					static uint8_t pkt[64];
					double d = kernel_run(fd, pkt, sizeof(pkt), repeat, &kr0);
					if (d < 0) {
						kb = -1;
						break;
					}
					if (d / per_run < kb)
						kb = d / per_run;
				}
				if (kb < 0)
					printf("  %-24s skipped: BPF_PROG_TEST_RUN: %s\n", "kernel", strerror(errno));
				else
					printf("  %-24s %6.2f ns/insn  %7.2fx goto-fast  (bpf_jit_enable=%d; "
					       "r0 %s)\n", "kernel", kb, kb / best[0], jit,
					       wl->random ? "random" :
					       (uint32_t)kr0 == (uint32_t)r0s[0] ? "agrees" : "DIFFERS");
				close(fd);
			}
			free(log);
		}
		for (size_t e = 0; e < NENG; e++)
			bpfrt_prog_free(p[e]);
		free(in);
		free(mem);
	}
	bpfrt_vm_free(vm);
	return 0;
}
