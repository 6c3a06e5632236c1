/*
 * maps.c — map lookups and updates per second, for array, hash and LRU
 * hash maps, from a BPF program (tests/bpf/mapbench.bpf.c: 256 operations a
 * run): bpfrt's JIT on 1 and 2 threads, and the kernel (the same object
 * through libbpf and BPF_PROG_TEST_RUN) in the same run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.h"

#define OPS 256

struct worker {
	bpfrt_prog *p;
	double seconds;
	unsigned long runs;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	uint64_t r0;
	double t0 = now_ns();
	unsigned long runs = 0;
	do {
		for (int k = 0; k < 32; k++)
			bpfrt_prog_run_ctx(w->p, NULL, 0, &r0);
		runs += 32;
	} while (now_ns() - t0 < w->seconds * 1e9);
	w->runs = runs;
	return NULL;
}

static double mops(bpfrt_prog *p, int threads, double seconds)
{
	struct worker w[2] = { { p, seconds, 0 }, { p, seconds, 0 } };
	pthread_t t[2];
	double t0 = now_ns();
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, work, &w[i]);
	unsigned long runs = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		runs += w[i].runs;
	}
	double el = (now_ns() - t0) / 1e9;
	return (double)runs * OPS / el / 1e6;
}

int bench_maps(bool quick, const char *objpath)
{
	double seconds = quick ? 0.1 : 0.5;
	printf("\n== map operations from a BPF program: millions per second ==\n");
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_obj *obj;
	if (bpfrt_obj_open(vm, objpath, &obj) != BPFRT_OK) {
		printf("  skipped: %s\n", bpfrt_vm_errmsg(vm));
		bpfrt_vm_free(vm);
		return 0;
	}
	libbpf_set_print(NULL);
	struct bpf_object *kobj = bpf_object__open_file(objpath, NULL);
	bool kernel = kobj && !bpf_object__load(kobj);
	if (!kernel)
		printf("  (the kernel refused the object: %s; its column is empty)\n", strerror(errno));
	printf("  %-12s %14s %14s %14s %10s\n", "program", "bpfrt 1 thr", "bpfrt 2 thr", "kernel 1 thr",
	       "bpfrt/kern");
	static const char *const progs[] = { "arr_lookup", "arr_update", "hash_lookup", "hash_update",
					     "lru_lookup", "lru_update" };
	/* fill the hash maps first, so that lookups find something */
	for (int i = 0; i < 6; i++) {
		struct bpfrt_load_opts o = { .sz = sizeof(o), .engine = BPFRT_ENGINE_JIT };
		bpfrt_prog *p;
		if (bpfrt_obj_load_prog(obj, progs[i], &o, &p) != BPFRT_OK) {
			printf("  %s: %s\n", progs[i], bpfrt_vm_errmsg(vm));
			continue;
		}
		if (i % 2 == 0) { /* the update program of the same map, once */
			bpfrt_prog *u;
			if (bpfrt_obj_load_prog(obj, progs[i + 1], &o, &u) == BPFRT_OK) {
				uint64_t r0;
				bpfrt_prog_run_ctx(u, NULL, 0, &r0);
				bpfrt_prog_free(u);
			}
		}
		double one = mops(p, 1, seconds), two = mops(p, 2, seconds), k = -1;
		if (kernel) {
			struct bpf_program *kp = bpf_object__find_program_by_name(kobj, progs[i]);
			if (i % 2 == 0) {
				struct bpf_program *ku = bpf_object__find_program_by_name(kobj, progs[i + 1]);
				LIBBPF_OPTS(bpf_test_run_opts, once);
				bpf_prog_test_run_opts(bpf_program__fd(ku), &once);
			}
			/* syscall programs have no repeat: time the calls */
			double t0 = now_ns();
			unsigned long runs = 0;
			do {
				LIBBPF_OPTS(bpf_test_run_opts, topts);
				if (bpf_prog_test_run_opts(bpf_program__fd(kp), &topts))
					break;
				runs++;
			} while (now_ns() - t0 < seconds * 1e9);
			double el = (now_ns() - t0) / 1e9;
			if (runs)
				k = (double)runs * OPS / el / 1e6;
		}
		if (k > 0)
			printf("  %-12s %14.1f %14.1f %14.1f %9.2fx\n", progs[i], one, two, k, one / k);
		else
			printf("  %-12s %14.1f %14.1f %14s\n", progs[i], one, two, "-");
		bpfrt_prog_free(p);
	}
	printf("  (the kernel's figure includes one bpf() syscall per run of %d operations)\n", OPS);
	bpf_object__close(kobj);
	bpfrt_obj_free(obj);
	bpfrt_vm_free(vm);
	return 0;
}
