/*
 * tailcall.c — ns per tail call: tests/bpf/tailcall.o's start_self tail-calls
 * `self`, which tail-calls itself until the limit: 33 tail calls a run.  The
 * run's cost minus an empty run's (t0), over 33, on bpfrt's JIT and
 * interpreter and in the kernel (BPF_PROG_TEST_RUN's own per-run average, its
 * JIT), side by side in one run; each the best of ROUNDS blocks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.h"

#define ROUNDS 5 /* each figure: the best of ROUNDS blocks of runs / ROUNDS */

static const char *const progs[] = { "t0", "t1", "t2", "self", "loopy", "deep", "start_self", "self_ind",
				     "start_self_ind" };
#define NP (sizeof(progs) / sizeof(progs[0]))

/* ns per run of program `name` (loaded with all of progs) on engine e */
static double bpfrt_ns(const char *path, bpfrt_engine e, const char *name, unsigned runs)
{
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_obj *obj;
	double ns = -1;
	if (bpfrt_obj_open(vm, path, &obj) != BPFRT_OK) {
		bpfrt_vm_free(vm);
		return -1;
	}
	bpfrt_prog *p[NP] = { 0 }, *run = NULL;
	struct bpfrt_load_opts o = { .sz = sizeof(o), .engine = e };
	for (size_t i = 0; i < NP; i++) {
		if (bpfrt_obj_load_prog(obj, progs[i], &o, &p[i]) != BPFRT_OK)
			goto out;
		if (!strcmp(progs[i], name))
			run = p[i];
	}
	uint8_t pkt[64] = { 0 };
	uint64_t r0;
	for (unsigned i = 0; i < 1000; i++)
		bpfrt_prog_run_packet(run, pkt, sizeof(pkt), &r0);
	for (int round = 0; round < ROUNDS; round++) { /* the best of a few: the machine is shared */
		double t0 = now_ns();
		for (unsigned i = 0; i < runs / ROUNDS; i++)
			bpfrt_prog_run_packet(run, pkt, sizeof(pkt), &r0);
		double t = (now_ns() - t0) / (runs / ROUNDS);
		if (ns < 0 || t < ns)
			ns = t;
	}
out:
	for (size_t i = 0; i < NP; i++)
		bpfrt_prog_free(p[i]);
	bpfrt_obj_free(obj);
	bpfrt_vm_free(vm);
	return ns;
}

static double kernel_ns(struct bpf_object *kobj, const char *name, unsigned runs)
{
	struct bpf_program *kp = bpf_object__find_program_by_name(kobj, name);
	uint8_t pkt[64] = { 0 };
	double best = -1;
	for (int round = 0; round < ROUNDS; round++) {
		LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .data_size_in = sizeof(pkt), .repeat = runs / ROUNDS);
		if (!kp || bpf_prog_test_run_opts(bpf_program__fd(kp), &t))
			return -1;
		if (best < 0 || t.duration < best)
			best = t.duration;
	}
	return best;
}

int bench_tailcall(bool quick, const char *path)
{
	unsigned runs = quick ? 20000 : 200000;
	printf("\n== tail calls: a chain of 33 in one run (%s) ==\n", path);
	libbpf_set_print(NULL);
	struct bpf_object *kobj = bpf_object__open_file(path, NULL);
	bool kernel = kobj && !bpf_object__load(kobj);
	if (!kernel)
		printf("  (the kernel refused the object: %s)\n", strerror(errno));
	printf("  %-22s %12s %12s %14s\n", "engine, form", "ns per run", "empty run", "ns/tail call");
	for (int form = 0; form < 2; form++) { /* direct: a constant key; indirect: a key from memory */
		const char *chain_prog = form ? "start_self_ind" : "start_self", *fname = form ? "indirect" : "direct";
		double jit_tc = -1, k_tc = -1;
		static const struct { const char *name; bpfrt_engine e; } engines[] = {
			{ "bpfrt jit", BPFRT_ENGINE_JIT }, { "bpfrt interp", BPFRT_ENGINE_INTERP },
		};
		for (size_t i = 0; i < 2; i++) {
			double chain = bpfrt_ns(path, engines[i].e, chain_prog, runs);
			double empty = bpfrt_ns(path, engines[i].e, "t0", runs);
			if (chain < 0 || empty < 0) {
				printf("  %-22s could not load the object\n", engines[i].name);
				continue;
			}
			double tc = (chain - empty) / 33;
			if (!i)
				jit_tc = tc;
			printf("  %-12s %-9s %12.1f %12.1f %14.2f\n", engines[i].name, fname, chain, empty, tc);
		}
		if (kernel) {
			double chain = kernel_ns(kobj, chain_prog, runs), empty = kernel_ns(kobj, "t0", runs);
			if (chain >= 0 && empty >= 0) {
				k_tc = (chain - empty) / 33;
				printf("  %-12s %-9s %12.1f %12.1f %14.2f   (jit enabled: %d)\n", "kernel", fname, chain,
				       empty, k_tc, kernel_jit_enabled());
			}
		}
		if (jit_tc > 0 && k_tc > 0)
			printf("  ratio bpfrt jit / kernel per %s tail call: %.2f\n", fname, jit_tc / k_tc);
	}
	/* a slot update with N direct sites pointing at it (N copies of direct0) */
	printf("  prog_array update (replace slot 0), direct sites re-patched:\n");
	for (int n = 1; n <= 100; n *= 10) {
		bpfrt_vm *vm = bpfrt_vm_new();
		bpfrt_obj *obj;
		if (bpfrt_obj_open(vm, path, &obj) != BPFRT_OK) {
			bpfrt_vm_free(vm);
			break;
		}
		struct bpfrt_load_opts o = { .sz = sizeof(o), .engine = BPFRT_ENGINE_JIT };
		bpfrt_prog *t[2], *d[100];
		int ok = bpfrt_obj_load_prog(obj, "t0", &o, &t[0]) == BPFRT_OK &&
			 bpfrt_obj_load_prog(obj, "t1", &o, &t[1]) == BPFRT_OK;
		int loaded = 0;
		for (; ok && loaded < n; loaded++)
			ok = bpfrt_obj_load_prog(obj, "direct0", &o, &d[loaded]) == BPFRT_OK;
		bpfrt_map *jmp = bpfrt_obj_map_by_name(obj, "jmp");
		if (ok && jmp) {
			unsigned updates = quick ? 200 : 2000;
			double t0 = now_ns();
			for (unsigned i = 0; i < updates; i++)
				bpfrt_map_update_prog(jmp, 0, t[i & 1]);
			printf("    %3d sites: %8.2f us per update\n", n, (now_ns() - t0) / updates / 1e3);
		}
		for (int i = 0; i < loaded; i++)
			bpfrt_prog_free(d[i]);
		if (ok) {
			bpfrt_prog_free(t[0]);
			bpfrt_prog_free(t[1]);
		}
		bpfrt_obj_free(obj);
		bpfrt_vm_free(vm);
	}
	bpf_object__close(kobj);
	return 0;
}
