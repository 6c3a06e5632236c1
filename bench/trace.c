/*
 * trace.c — the cost of tracing a function: calls per second of a noinline
 * target in a batched loop, untraced and with fentry, fexit, fmod_ret,
 * fentry+fexit programs (tests/bpf/trace.o's counting programs, which do
 * one atomic add, as the kernel's trigger benchmark), at a reserved 5-byte
 * nop and at a site whose first instructions were moved; the added ns per
 * call over the untraced loop.  And the kernel's own trampolines, the same
 * programs on fentry/fexit/fmod_ret of getpgid(2) (the kernel's 2020
 * trig-* method: the syscall loop's time with and without the program),
 * side by side in the same run.  Best of 5 rounds each.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.h"

__attribute__((noinline, used, patchable_function_entry(5, 0))) int bench_trace_nop(int a);
int bench_trace_nop(int a)
{
	return a + 1;
}

/* a plain frame-pointer prologue, moved aside when traced */
__asm__(".text\n.globl bench_trace_moved\n.type bench_trace_moved,@function\nbench_trace_moved:\n"
	"  push %rbp\n  mov %rsp, %rbp\n  lea 1(%rdi), %eax\n  pop %rbp\n  ret\n"
	".size bench_trace_moved, .-bench_trace_moved\n");
int bench_trace_moved(int a);

/* The kernel's kernel-count method: the untraced loop that does the
 * counting program's work itself (one atomic add per call) is the
 * baseline of the counting programs; the empty programs' is the plain
 * untraced loop. */
static long c_hits;

static double loop_ns(int (*volatile *fp)(int), long n, bool count)
{
	int (*f)(int) = *fp;
	double best = 1e30;
	for (int r = 0; r < 5; r++) {
		long sum = 0;
		double t0 = now_ns();
		if (count) {
			for (long i = 0; i < n; i++) {
				sum += f((int)i);
				__atomic_add_fetch(&c_hits, 1, __ATOMIC_RELAXED);
			}
		} else {
			for (long i = 0; i < n; i++)
				sum += f((int)i);
		}
		double t = (now_ns() - t0) / (double)n;
		if (sum == 42)
			printf(" ");
		if (t < best)
			best = t;
	}
	return best;
}

struct cfg {
	const char *name;
	const char *progs[2];
};

static const struct cfg cfgs[] = {
	{ "fentry", { "count_fentry" } },
	{ "fexit", { "count_fexit" } },
	{ "fmod_ret", { "count_fmod_ret" } },
	{ "fentry+fexit", { "count_fentry", "count_fexit" } },
	{ "fentry empty", { "empty_fentry" } },
	{ "fexit empty", { "empty_fexit" } },
	{ "fmod_ret empty", { "empty_fmod_ret" } },
	{ "generic entry", { "count_kprobe" } },
	{ "generic entry+return", { "count_kprobe", "count_kretprobe" } },
	{ "generic entry empty", { "empty_kprobe" } },
	{ "generic e+r empty", { "empty_kprobe", "empty_kretprobe" } },
};
#define NCFG (sizeof(cfgs) / sizeof(cfgs[0]))

/* the kernel: ns per getpgid() with the program on the syscall, or -1 */
static double kernel_syscall_ns(long n)
{
	double best = 1e30;
	for (int r = 0; r < 5; r++) {
		double t0 = now_ns();
		for (long i = 0; i < n; i++)
			syscall(SYS_getpgid, 0);
		double t = (now_ns() - t0) / (double)n;
		if (t < best)
			best = t;
	}
	return best;
}

/* kernel figures for each cfg: added ns over the untraced syscall */
static int kernel_trace(const char *objpath, long n, double added[NCFG], double *base)
{
	static const char *const kprogs[] = { "k_fentry", "k_fexit", "k_fmod_ret" };
	struct bpf_object *kobj = bpf_object__open_file(objpath, NULL);
	if (!kobj)
		return -1;
	/* load only the kernel's programs */
	struct bpf_program *p;
	bpf_object__for_each_program(p, kobj) {
		bool k = false;
		for (size_t i = 0; i < 3; i++)
			k = k || !strcmp(bpf_program__name(p), kprogs[i]);
		bpf_program__set_autoload(p, k);
	}
	if (bpf_object__load(kobj)) {
		int e = errno;
		bpf_object__close(kobj);
		errno = e;
		return -1;
	}
	*base = kernel_syscall_ns(n); /* (its programs count: added includes their atomic add) */
	for (size_t c = 0; c < NCFG; c++) {
		struct bpf_link *l[2] = { NULL, NULL };
		for (int k = 0; k < 2 && cfgs[c].progs[k]; k++) {
			const char *pn = cfgs[c].progs[k];
			const char *kn = strstr(pn, "fentry") ? "k_fentry" : strstr(pn, "fexit") ? "k_fexit" :
					 strstr(pn, "fmod_ret") ? "k_fmod_ret" : NULL;
			if (!kn) { /* no kernel figure for the generic hook */
				added[c] = -1;
				break;
			}
			l[k] = bpf_program__attach(bpf_object__find_program_by_name(kobj, kn));
			if (!l[k])
				added[c] = -1;
		}
		if (added[c] >= 0)
			added[c] = kernel_syscall_ns(n) - *base;
		for (int k = 0; k < 2; k++)
			bpf_link__destroy(l[k]);
	}
	bpf_object__close(kobj);
	return 0;
}

int bench_trace(bool quick, const char *objpath)
{
	long n = quick ? 200000 : 5000000;
	printf("\nTracing a function: ns per call of a noinline target, added over the untraced call "
	       "(best of 5 x %ld calls)\n", n);
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_obj *obj;
	if (bpfrt_obj_open(vm, objpath, &obj) != BPFRT_OK) {
		printf("  cannot open %s: %s\n", objpath, bpfrt_vm_errmsg(vm));
		bpfrt_vm_free(vm);
		return 1;
	}
	static int (*volatile fnop)(int) = bench_trace_nop, (*volatile fmoved)(int) = bench_trace_moved;
	struct { const char *name; int (*volatile *fp)(int); } sites[] = {
		{ "5-byte nop site", &fnop }, { "moved prologue", &fmoved },
	};
	double kadded[NCFG] = { 0 }, kbase = 0;
	int krc = kernel_trace(objpath, quick ? 20000 : 500000, kadded, &kbase);
	printf("  %-16s %-22s %10s %10s %12s\n", "site", "programs", "ns/call", "added ns", "M calls/s");
	for (size_t s = 0; s < 2; s++) {
		double base = loop_ns(sites[s].fp, n, false), base_count = loop_ns(sites[s].fp, n, true);
		printf("  %-16s %-22s %10.2f %10s %12.1f\n", sites[s].name, "none", base, "-", 1e3 / base);
		printf("  %-16s %-22s %10.2f %10s %12.1f\n", sites[s].name, "none + atomic add", base_count, "-",
		       1e3 / base_count);
		for (size_t c = 0; c < NCFG; c++) {
			bool empty = strstr(cfgs[c].name, "empty") != NULL;
			for (int e = 0; e < 2; e++) {
				struct bpfrt_load_opts o = { .sz = sizeof(o),
							     .engine = e ? BPFRT_ENGINE_INTERP : BPFRT_ENGINE_JIT };
				bpfrt_prog *p[2] = { NULL, NULL };
				bpfrt_link *l[2] = { NULL, NULL };
				struct bpfrt_attach_opts ao = { .sz = sizeof(ao), .nargs = 1,
								.flags = BPFRT_ATTACH_NO_FP };
				if (strstr(cfgs[c].name, "generic"))
					ao.nargs = BPFRT_NARGS_UNKNOWN;
				bool ok = true;
				for (int k = 0; k < 2 && cfgs[c].progs[k]; k++)
					ok = ok && bpfrt_obj_load_prog(obj, cfgs[c].progs[k], &o, &p[k]) == BPFRT_OK &&
					     bpfrt_prog_attach(p[k], (void *)*sites[s].fp, &ao, &l[k]) == BPFRT_OK;
				if (!ok) {
					printf("  %s %s: %s\n", sites[s].name, cfgs[c].name,
					       p[0] ? bpfrt_prog_errmsg(p[0]) : bpfrt_vm_errmsg(vm));
				} else {
					double t = loop_ns(sites[s].fp, n, false);
					/* over the loop that does the same atomic adds itself */
					double added = t - (empty ? base : base_count + (cfgs[c].progs[1] ? base_count - base : 0));
					char label[32];
					snprintf(label, sizeof(label), "%s%s", cfgs[c].name, e ? " (interp)" : "");
					printf("  %-16s %-22s %10.2f %10.2f %12.1f\n", sites[s].name, label, t, added, 1e3 / t);
				}
				for (int k = 0; k < 2; k++) {
					if (l[k])
						bpfrt_link_detach(l[k]);
					bpfrt_prog_free(p[k]);
				}
				if (s || c) /* the interpreter once, on the nop site's fentry */
					break;
			}
		}
	}
	if (krc)
		printf("  kernel: cannot load its programs (%s): no comparison\n", strerror(errno));
	else {
		printf("  kernel (getpgid: %.1f ns untraced)  added ns per call:", kbase);
		for (size_t c = 0; c < NCFG; c++)
			if (kadded[c] >= 0)
				printf("  %s %.2f", cfgs[c].name, kadded[c]);
		printf("\n");
	}
	bpfrt_obj_free(obj);
	bpfrt_vm_free(vm);
	return 0;
}
