/*
 * verify.c — the verifier's speed on the real-world objects of the corpus
 * (ebpf-samples: Cilium, Suricata, OVS, Falco, Linux samples, ...): every
 * program bpfrt can load verified on the Linux platform, instructions
 * processed per second and total time; and, in the same run, the kernel
 * verifying the same programs (tests/kload.c: bpfrt's linked program with
 * kernel maps, log level BPF_LOG_STATS, whose "verification time N usec" is
 * the kernel's own measure of its verifier).  The side-by-side ratio is
 * over the programs both accept.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.h"
#include "kload.h"

struct slow {
	double ns;
	uint64_t insns;
	bool ok;
	char name[200];
};

struct tally {
	struct slow top[5]; /* the slowest */
	size_t progs, accepted, both;
	double ns, both_ns, kern_both_ns;
	uint64_t insns, both_insns, kern_both_insns;
	size_t kern_loaded, kern_refused, kern_accepts_refused;
};

static void one_object(const char *path, struct tally *t, bool kernel)
{
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_obj *obj;
	if (bpfrt_obj_open(vm, path, &obj) != BPFRT_OK) {
		bpfrt_vm_free(vm);
		return;
	}
	for (size_t i = 0; i < bpfrt_obj_prog_count(obj); i++) {
		struct bpfrt_obj_prog_info pi;
		bpfrt_obj_prog_info(obj, i, &pi);
		struct bpfrt_verify_opts o = { .sz = sizeof(o), .platform = BPFRT_PLATFORM_LINUX };
		struct bpfrt_verify_result r;
		double t0 = now_ns();
		int rc = bpfrt_obj_verify(obj, pi.name, &o, &r);
		double ns = now_ns() - t0;
		bpfrt_verify_result_fini(&r);
		if (rc != BPFRT_OK && rc != BPFRT_EREJECT)
			continue; /* not loadable: an extern symbol */
		t->progs++;
		t->ns += ns;
		for (int k = 0; k < 5; k++)
			if (ns > t->top[k].ns) {
				memmove(&t->top[k + 1], &t->top[k], (4 - (size_t)k) * sizeof(t->top[0]));
				const char *base = strstr(path, "ebpf-samples/");
				t->top[k] = (struct slow){ ns, r.processed, rc == BPFRT_OK, "" };
				snprintf(t->top[k].name, sizeof(t->top[k].name), "%s %s", base ? base + 13 : path, pi.name);
				break;
			}
		t->insns += r.processed;
		t->accepted += rc == BPFRT_OK;
		if (!kernel)
			continue;
		uint64_t kn = 0;
		/* the type bpfrt verified it as, for sections libbpf does not know */
		uint32_t type = pi.type_id ? pi.type_id
			      : strstr(path, "xdp") ? BPF_PROG_TYPE_XDP : BPF_PROG_TYPE_SCHED_CLS;
		struct kload_result kr;
		int kv = kload_obj_prog(obj, pi.name, type, &kr);
		const char *base = strstr(path, "ebpf-samples/");
		if (rc != BPFRT_OK) {
			if (kv == 1 && t->kern_accepts_refused++ < 10)
				printf("  note: %s %s: the kernel accepts, bpfrt refuses\n", base ? base + 13 : path, pi.name);
			continue;
		}
		if (kv == 0 && t->kern_refused++ < 10)
			printf("  note: %s %s: the kernel refuses (%s), bpfrt accepts\n", base ? base + 13 : path, pi.name,
			       kr.why);
		if (kv != 1)
			continue;
		double kt = kr.verify_ns;
		kn = kr.insns;
		if (getenv("BPFRT_BENCH_VERBOSE"))
			printf("  prog %s %s: bpfrt %llu insns %.1f ms, kernel %llu insns %.1f ms\n", base ? base + 13 : path,
			       pi.name, (unsigned long long)r.processed, ns / 1e6, (unsigned long long)kn, kt / 1e6);
		t->kern_loaded++;
		t->both++;
		t->both_ns += ns;
		t->both_insns += r.processed;
		t->kern_both_ns += kt;
		t->kern_both_insns += kn;
	}
	bpfrt_obj_free(obj);
	bpfrt_vm_free(vm);
}

static void walk(const char *dir, struct tally *t, bool kernel)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !strcmp(de->d_name, "invalid"))
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		if (asprintf(&names[n], "%s/%s", dir, de->d_name) < 0)
			break;
		n++;
	}
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		size_t l = strlen(names[i]);
		if (!stat(names[i], &st) && S_ISDIR(st.st_mode))
			walk(names[i], t, kernel);
		else if (l > 2 && !strcmp(names[i] + l - 2, ".o"))
			one_object(names[i], t, kernel);
		free(names[i]);
	}
	free(names);
}

int bench_verify(bool quick)
{
	(void)quick;
	const char *c = getenv("BPFRT_CORPUS");
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/ebpf-samples", c ? c : "../shared/corpus");
	/* is the kernel usable? a one-instruction program */
	struct bpfrt_insn ret0[] = { { .code = 0xb7 }, { .code = 0x95 } };
	char log[256];
	int fd = kernel_load(BPF_PROG_TYPE_SOCKET_FILTER, ret0, 2, log, sizeof(log));
	bool kernel = fd >= 0;
	if (fd >= 0)
		close(fd);
	struct tally t = { 0 };
	walk(dir, &t, kernel);
	printf("\n== verifier: the corpus's real-world objects (%s), Linux platform ==\n", dir);
	if (!t.progs) {
		printf("  no objects found (set BPFRT_CORPUS)\n");
		return 0;
	}
	printf("  bpfrt: %zu programs (%zu accepted), %.3f s, %.2f M insns processed, %.2f M insns/s\n", t.progs,
	       t.accepted, t.ns / 1e9, t.insns / 1e6, t.ns > 0 ? t.insns / (t.ns / 1e9) / 1e6 : 0);
	for (int k = 0; k < 5 && t.top[k].ns > 0; k++)
		printf("    slowest: %-50s %7.1f ms %8.2f M insns (%s)\n", t.top[k].name, t.top[k].ns / 1e6,
		       t.top[k].insns / 1e6, t.top[k].ok ? "accepted" : "refused");
	if (!kernel) {
		printf("  kernel: bpf() refused here (%s): no comparison\n", strerror(errno));
		return 0;
	}
	printf("  both accept %zu programs (the kernel loads %zu of bpfrt's accepted ones):\n", t.both, t.kern_loaded);
	printf("    bpfrt  %8.1f ms  %9.2f M insns processed  %6.2f M insns/s\n", t.both_ns / 1e6,
	       t.both_insns / 1e6, t.both_ns > 0 ? t.both_insns / (t.both_ns / 1e9) / 1e6 : 0);
	printf("    kernel %8.1f ms  %9.2f M insns processed  %6.2f M insns/s  (its own verification time)\n",
	       t.kern_both_ns / 1e6, t.kern_both_insns / 1e6,
	       t.kern_both_ns > 0 ? t.kern_both_insns / (t.kern_both_ns / 1e9) / 1e6 : 0);
	printf("    time ratio bpfrt/kernel: %.2f\n", t.kern_both_ns > 0 ? t.both_ns / t.kern_both_ns : 0);
	printf("  the kernel refuses %zu programs bpfrt accepts, accepts %zu bpfrt refuses\n", t.kern_refused,
	       t.kern_accepts_refused);
	return 0;
}
