#define _GNU_SOURCE
/*
 * test_obj.c — BPF objects built by clang from tests/bpf/ (*.bpf.c): loading,
 * maps through the API, global data, subprograms, on every engine; and the
 * same object in the kernel (libbpf + BPF_PROG_TEST_RUN), which must give
 * the same r0 and map contents (skipped where bpf() is refused).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpfrt.h"

struct args {
	uint32_t key, n;
	uint64_t out;
};

static char path[4096];

static const char *obj_path(const char *name)
{
	const char *dir = getenv("BPFRT_BPF_OBJS");
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "build/bpf", name);
	return path;
}

static void maps_program(void **state)
{
	(void)state;
	static const struct { bpfrt_engine e; uint32_t flags; } engines[] = {
		{ BPFRT_ENGINE_INTERP, BPFRT_LOAD_SAFE }, { BPFRT_ENGINE_INTERP, 0 },
		{ BPFRT_ENGINE_JIT, 0 }, { BPFRT_ENGINE_JIT, BPFRT_LOAD_BLIND },
	};
	for (size_t e = 0; e < sizeof(engines) / sizeof(engines[0]); e++) {
		bpfrt_vm *vm = bpfrt_vm_new();
		bpfrt_obj *obj;
		if (bpfrt_obj_open(vm, obj_path("maps.o"), &obj) != BPFRT_OK)
			fail_msg("open: %s", bpfrt_vm_errmsg(vm));
		assert_int_equal(bpfrt_obj_prog_count(obj), 1);
		struct bpfrt_obj_prog_info pi;
		assert_int_equal(bpfrt_obj_prog_info(obj, 0, &pi), BPFRT_OK);
		assert_string_equal(pi.name, "count");
		assert_string_equal(pi.section, "syscall");
		assert_string_equal(pi.type, "syscall");
		assert_int_equal(pi.nmaps, 7);
		assert_string_equal(bpfrt_obj_license(obj), "GPL");
		struct bpfrt_load_opts o = { .sz = sizeof(o), .flags = engines[e].flags, .engine = engines[e].e };
		bpfrt_prog *p;
		if (bpfrt_obj_load_prog(obj, "count", &o, &p) != BPFRT_OK)
			fail_msg("load: %s", bpfrt_vm_errmsg(vm));
		struct args a = { .key = 1, .n = 5 };
		uint64_t r0 = 0;
		assert_int_equal(bpfrt_prog_run_ctx(p, &a, sizeof(a), &r0), BPFRT_OK);
		assert_int_equal(r0, 7 + 10 + 19 + 34 + 55);
		assert_int_equal(a.out, 125);
		a.key = 2;
		assert_int_equal(bpfrt_prog_run_ctx(p, &a, sizeof(a), &r0), BPFRT_OK);
		assert_int_equal(a.out, 250); /* .bss total kept between runs */
		/* maps through the API */
		bpfrt_map *table = bpfrt_obj_map_by_name(obj, "table");
		bpfrt_map *counters = bpfrt_obj_map_by_name(obj, "counters");
		bpfrt_map *bss = bpfrt_obj_map_by_name(obj, ".bss");
		bpfrt_map *hits = bpfrt_obj_map_by_name(obj, "hits");
		assert_non_null(table);
		uint32_t k = 4;
		uint64_t v = 0;
		assert_int_equal(bpfrt_map_lookup(table, &k, &v), 0);
		assert_int_equal(v, 16 * 3 + 7);
		k = 9;
		assert_int_equal(bpfrt_map_lookup(table, &k, &v), -ENOENT);
		k = 1;
		assert_int_equal(bpfrt_map_lookup(counters, &k, &v), 0);
		assert_int_equal(v, 1);
		k = 0;
		assert_int_equal(bpfrt_map_lookup(bss, &k, &v), 0);
		assert_int_equal(v, 250);
		struct bpfrt_map_info hi;
		bpfrt_map_info(hits, &hi);
		uint64_t *per = calloc(hi.ncpu, 8), sum = 0;
		assert_int_equal(bpfrt_map_lookup(hits, &k, per), 0);
		for (uint32_t c = 0; c < hi.ncpu; c++)
			sum += per[c];
		assert_int_equal(sum, 2); /* two runs, on whatever slots */
		free(per);
		/* the program deletes key+1000: put one there and see it go */
		k = 1002;
		v = 5;
		assert_int_equal(bpfrt_map_update(table, &k, &v, BPF_NOEXIST), 0);
		assert_int_equal(bpfrt_map_update(table, &k, &v, BPF_NOEXIST), -EEXIST);
		a.key = 2;
		assert_int_equal(bpfrt_prog_run_ctx(p, &a, sizeof(a), &r0), BPFRT_OK);
		assert_int_equal(bpfrt_map_lookup(table, &k, &v), -ENOENT);
		/* iteration sees every key once */
		uint32_t key, next;
		int count = 0;
		bool have = false;
		while (bpfrt_map_get_next_key(table, have ? &key : NULL, &next) == 0) {
			key = next;
			have = true;
			count++;
		}
		assert_int_equal(count, 5);
		bpfrt_prog_free(p);
		bpfrt_obj_free(obj);
		bpfrt_vm_free(vm);
	}
}

/* The same object in the kernel. */
static void kernel_agrees(void **state)
{
	(void)state;
	libbpf_set_print(NULL);
	struct bpf_object *kobj = bpf_object__open_file(obj_path("maps.o"), NULL);
	if (!kobj || bpf_object__load(kobj)) {
		printf("SKIP kernel comparison: the kernel refused the object (%s)\n", strerror(errno));
		bpf_object__close(kobj);
		skip();
	}
	struct bpf_program *kp = bpf_object__find_program_by_name(kobj, "count");
	assert_non_null(kp);
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_obj *obj;
	assert_int_equal(bpfrt_obj_open(vm, obj_path("maps.o"), &obj), BPFRT_OK);
	bpfrt_prog *p;
	struct bpfrt_load_opts o = { .sz = sizeof(o), .engine = BPFRT_ENGINE_JIT };
	assert_int_equal(bpfrt_obj_load_prog(obj, "count", &o, &p), BPFRT_OK);
	static const struct args inputs[] = { { 1, 5, 0 }, { 2, 16, 0 }, { 3, 0, 0 }, { 1, 20, 0 } };
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct args ka = inputs[i], ua = inputs[i];
		/* a syscall program's context comes back in ctx_in */
		LIBBPF_OPTS(bpf_test_run_opts, topts, .ctx_in = &ka, .ctx_size_in = sizeof(ka));
		if (bpf_prog_test_run_opts(bpf_program__fd(kp), &topts)) {
			printf("SKIP kernel comparison: BPF_PROG_TEST_RUN: %s\n", strerror(errno));
			bpfrt_prog_free(p);
			bpfrt_obj_free(obj);
			bpfrt_vm_free(vm);
			bpf_object__close(kobj);
			skip();
		}
		uint64_t r0;
		assert_int_equal(bpfrt_prog_run_ctx(p, &ua, sizeof(ua), &r0), BPFRT_OK);
		assert_int_equal((uint32_t)r0, topts.retval);
		assert_int_equal(ua.out, ka.out);
	}
	/* every map's contents, element by element */
	static const char *const names[] = { "table", "counters", "recent", ".bss", ".data" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct bpf_map *km = bpf_object__find_map_by_name(kobj, names[i]);
		bpfrt_map *um = bpfrt_obj_map_by_name(obj, names[i]);
		assert_non_null(km);
		assert_non_null(um);
		uint32_t key, next;
		uint8_t kv[64], uv[64];
		int kcount = 0;
		bool have = false;
		while (bpf_map_get_next_key(bpf_map__fd(km), have ? &key : NULL, &next) == 0) {
			key = next;
			have = true;
			kcount++;
			assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(km), &key, kv), 0);
			if (bpfrt_map_lookup(um, &key, uv))
				fail_msg("map %s: key %u is in the kernel's map, not in bpfrt's", names[i], key);
			assert_memory_equal(kv, uv, bpf_map__value_size(km));
		}
		int ucount = 0;
		have = false;
		while (bpfrt_map_get_next_key(um, have ? &key : NULL, &next) == 0) {
			key = next;
			have = true;
			ucount++;
		}
		assert_int_equal(ucount, kcount);
	}
	bpfrt_prog_free(p);
	bpfrt_obj_free(obj);
	bpfrt_vm_free(vm);
	bpf_object__close(kobj);
}

/* An XDP program on packets: bpfrt against the kernel, on every engine:
 * r0, the rewritten packet, the maps. */
static void xdp_program(void **state)
{
	(void)state;
	uint8_t pkts[4][64];
	memset(pkts, 0, sizeof(pkts));
	for (int i = 0; i < 4; i++) {
		for (int b = 0; b < 12; b++)
			pkts[i][b] = (uint8_t)(b + 16 * i); /* dst, src MACs */
		pkts[i][12] = i == 3 ? 0x86 : 0x08;      /* ethertype: IPv4, or IPv6 for the last */
		pkts[i][13] = i == 3 ? 0xdd : 0x00;
		pkts[i][14] = 0x45;
		pkts[i][14 + 9] = i == 1 ? 17 : 6;       /* protocol: UDP for packet 1, TCP */
	}
	int kfd = -1;
	struct bpf_object *kobj = bpf_object__open_file(obj_path("xdp_count.o"), NULL);
	if (kobj && !bpf_object__load(kobj))
		kfd = bpf_program__fd(bpf_object__find_program_by_name(kobj, "xdp_count"));
	else
		printf("SKIP kernel comparison: the kernel refused the object (%s)\n", strerror(errno));
	/* verified programs read bpfrt's context (their accesses converted) over the packet
	 * where it is; trusted ones the UAPI struct over a copy below 4 GiB (ctx.c) */
	static const struct { bpfrt_engine e; uint32_t flags; } engines[] = {
		{ BPFRT_ENGINE_INTERP, BPFRT_LOAD_SAFE }, { BPFRT_ENGINE_JIT, 0 }, { BPFRT_ENGINE_INTERP, 0 },
		{ BPFRT_ENGINE_INTERP, BPFRT_LOAD_SAFE | BPFRT_LOAD_TRUSTED }, { BPFRT_ENGINE_JIT, BPFRT_LOAD_TRUSTED },
	};
	for (size_t e = 0; e < sizeof(engines) / sizeof(engines[0]); e++) {
		bpfrt_vm *vm = bpfrt_vm_new();
		bpfrt_obj *obj;
		assert_int_equal(bpfrt_obj_open(vm, obj_path("xdp_count.o"), &obj), BPFRT_OK);
		struct bpfrt_load_opts o = { .sz = sizeof(o), .flags = engines[e].flags, .engine = engines[e].e };
		bpfrt_prog *p;
		if (bpfrt_obj_load_prog(obj, NULL, &o, &p) != BPFRT_OK)
			fail_msg("load: %s", bpfrt_vm_errmsg(vm));
		assert_int_equal(bpfrt_prog_type(p), BPF_PROG_TYPE_XDP);
		struct bpfrt_stats st;
		bpfrt_prog_stats(p, &st);
		if (engines[e].flags & BPFRT_LOAD_TRUSTED)
			assert_int_equal(st.ctx_converted, 0);
		else
			assert_int_equal(st.ctx_converted, 2); /* data, data_end */
		static const uint64_t want[4] = { XDP_TX, XDP_DROP, XDP_TX, XDP_PASS };
		for (int i = 0; i < 4; i++) {
			uint8_t mine[64];
			memcpy(mine, pkts[i], 64);
			uint64_t r0;
			assert_int_equal(bpfrt_prog_run_packet(p, mine, 64, &r0), BPFRT_OK);
			assert_int_equal(r0, want[i]);
			if (i < 3) /* the MACs are swapped */
				assert_memory_equal(mine, pkts[i] + 6, 6);
			if (kfd >= 0 && e == 0) {
				uint8_t out[64];
				LIBBPF_OPTS(bpf_test_run_opts, topts, .data_in = pkts[i], .data_size_in = 64,
					    .data_out = out, .data_size_out = sizeof(out));
				assert_int_equal(bpf_prog_test_run_opts(kfd, &topts), 0);
				assert_int_equal(topts.retval, r0);
				assert_memory_equal(out, mine, 64);
			}
		}
		/* 2 TCP, 1 UDP; 192 IPv4 bytes, 64 other */
		bpfrt_map *protos = bpfrt_obj_map_by_name(obj, "protos"), *bytes = bpfrt_obj_map_by_name(obj, "bytes");
		uint32_t k = 6;
		uint64_t v;
		assert_int_equal(bpfrt_map_lookup(protos, &k, &v), 0);
		assert_int_equal(v, 2);
		k = 17;
		assert_int_equal(bpfrt_map_lookup(protos, &k, &v), 0);
		assert_int_equal(v, 1);
		k = 0;
		assert_int_equal(bpfrt_map_lookup(bytes, &k, &v), 0);
		assert_int_equal(v, 192);
		if (kfd >= 0 && e == 0) { /* the kernel's maps hold the same */
			uint64_t kv;
			k = 6;
			assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(bpf_object__find_map_by_name(kobj, "protos")),
							     &k, &kv), 0);
			assert_int_equal(kv, 2);
			k = 1;
			assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(bpf_object__find_map_by_name(kobj, "bytes")),
							     &k, &kv), 0);
			assert_int_equal(bpfrt_map_lookup(bytes, &k, &v), 0);
			assert_int_equal(kv, v);
		}
		bpfrt_prog_free(p);
		bpfrt_obj_free(obj);
		bpfrt_vm_free(vm);
	}
	bpf_object__close(kobj);
}

struct hin {
	uint64_t good, bad, str;
	int64_t rc_good, rc_bad, rc_str, rc_bad_str, rc_cmp;
	uint64_t value, pid_tgid, t0, t1, boot;
	char copy[16];
	char comm[16];
	uint64_t uid_gid, cpu, coarse, rnd[2];
	int64_t rc_kernel, rc_kernel_str, rc_str_legacy;
	uint64_t kvalue;
	char kcopy[8];
};

static char traced[256];
static void trace_sink(void *arg, const char *line)
{
	(void)arg;
	snprintf(traced, sizeof(traced), "%s", line);
}

/* Helpers: bad addresses give -EFAULT, never a crash; trace_printk goes to
 * the vm's sink. */
static void helpers_program(void **state)
{
	(void)state;
	static const struct { bpfrt_engine e; uint32_t flags; } engines[] = {
		{ BPFRT_ENGINE_INTERP, BPFRT_LOAD_SAFE }, { BPFRT_ENGINE_JIT, 0 },
	};
	for (size_t e = 0; e < 2; e++) {
		bpfrt_vm *vm = bpfrt_vm_new();
		bpfrt_vm_set_trace(vm, trace_sink, NULL);
		bpfrt_obj *obj;
		assert_int_equal(bpfrt_obj_open(vm, obj_path("helpers.o"), &obj), BPFRT_OK);
		struct bpfrt_load_opts o = { .sz = sizeof(o), .flags = engines[e].flags, .engine = engines[e].e };
		bpfrt_prog *p;
		if (bpfrt_obj_load_prog(obj, NULL, &o, &p) != BPFRT_OK)
			fail_msg("load: %s", bpfrt_vm_errmsg(vm));
		static uint64_t secret = 0x1234567890abcdefull;
		struct hin in = { .good = (uintptr_t)&secret, .bad = 8, .str = (uintptr_t)"hello" };
		uint64_t r0;
		traced[0] = 0;
		if (bpfrt_prog_run_ctx(p, &in, sizeof(in), &r0) != BPFRT_OK)
			fail_msg("run: %s", bpfrt_prog_errmsg(p));
		assert_int_equal(in.rc_good, 0);
		assert_int_equal(in.value, secret);
		assert_int_equal(in.rc_bad, -EFAULT);
		assert_int_equal(in.rc_str, 6);
		assert_string_equal(in.copy, "hello");
		assert_int_equal(in.rc_bad_str, -EFAULT);
		assert_int_equal(in.rc_cmp, 0);
		assert_int_equal(in.pid_tgid >> 32, (uint64_t)getpid());
		assert_int_equal((uint32_t)in.pid_tgid, (uint32_t)gettid());
		assert_true(in.t1 >= in.t0 && in.t0 > 0 && in.boot > 0);
		assert_true(strlen(in.comm) > 0);
		assert_int_equal(in.uid_gid, (uint64_t)getgid() << 32 | getuid());
		assert_true(in.cpu < 4096);
		assert_true(in.coarse > 0);
		assert_true(in.rnd[0] != in.rnd[1] || in.rnd[0] == 0); /* (1 in 2^32 to fail) */
		assert_int_equal(in.rc_kernel, 0);   /* the process's memory is bpfrt's kernel memory */
		assert_int_equal(in.kvalue, secret);
		assert_int_equal(in.rc_kernel_str, 6);
		assert_string_equal(in.kcopy, "hello");
		assert_int_equal(in.rc_str_legacy, -EFAULT);
		char want[128];
		/* v was zeroed by the failed read, as the kernel does */
		snprintf(want, sizeof(want), "value 0, pid %u", (unsigned)getpid());
		assert_string_equal(traced, want);
		bpfrt_prog_free(p);
		bpfrt_obj_free(obj);
		bpfrt_vm_free(vm);
	}
}

struct ev {
	uint32_t seq, kind;
	uint64_t value;
};
struct evlog {
	struct ev e[64];
	int n;
};

static int on_event(void *ctx, void *data, size_t size)
{
	struct evlog *l = ctx;
	assert_int_equal(size, sizeof(struct ev));
	if (l->n < 64)
		memcpy(&l->e[l->n++], data, sizeof(struct ev));
	return 0;
}

/* A ring buffer: records in order, discarded ones skipped, the wakeup fd;
 * the kernel's ring buffer gets the same records from the same object. */
static void ringbuf_program(void **state)
{
	(void)state;
	static const struct { bpfrt_engine e; uint32_t flags; } engines[] = {
		{ BPFRT_ENGINE_INTERP, BPFRT_LOAD_SAFE }, { BPFRT_ENGINE_JIT, 0 },
	};
	struct evlog mine[2] = { 0 };
	for (size_t e = 0; e < 2; e++) {
		bpfrt_vm *vm = bpfrt_vm_new();
		bpfrt_obj *obj;
		assert_int_equal(bpfrt_obj_open(vm, obj_path("ringbuf.o"), &obj), BPFRT_OK);
		struct bpfrt_load_opts o = { .sz = sizeof(o), .flags = engines[e].flags, .engine = engines[e].e };
		bpfrt_prog *p;
		if (bpfrt_obj_load_prog(obj, NULL, &o, &p) != BPFRT_OK)
			fail_msg("load: %s", bpfrt_vm_errmsg(vm));
		bpfrt_map *rb = bpfrt_obj_map_by_name(obj, "events");
		assert_non_null(rb);
		assert_true(bpfrt_ringbuf_fd(rb) >= 0);
		uint32_t in[2] = { 5, 0 };
		uint64_t r0;
		if (bpfrt_prog_run_ctx(p, in, sizeof(in), &r0) != BPFRT_OK)
			fail_msg("run: %s", bpfrt_prog_errmsg(p));
		assert_int_equal(r0, 6 * 24); /* 5 reserved (1 discarded) + 1 output, 24 bytes each */
		struct pollfd pfd = { bpfrt_ringbuf_fd(rb), POLLIN, 0 };
		assert_int_equal(poll(&pfd, 1, 0), 1); /* the submission woke the fd */
		assert_int_equal(bpfrt_ringbuf_poll(rb, on_event, &mine[e], 0), 5);
		assert_int_equal(mine[e].n, 5);
		static const uint32_t seqs[5] = { 0, 1, 2, 4, 99 };
		for (int i = 0; i < 5; i++)
			assert_int_equal(mine[e].e[i].seq, seqs[i]);
		assert_int_equal(mine[e].e[4].value, 5);
		assert_int_equal(bpfrt_ringbuf_consume(rb, on_event, &mine[e]), 0); /* empty now */
		/* a full ring refuses records; consuming frees the space */
		for (int k = 0; k < 40; k++)
			bpfrt_prog_run_ctx(p, in, sizeof(in), &r0);
		assert_int_equal((int64_t)(int32_t)r0, -1); /* a reserve failed: full */
		struct evlog drain = { 0 };
		assert_true(bpfrt_ringbuf_consume(rb, on_event, &drain) > 0);
		assert_int_equal(bpfrt_prog_run_ctx(p, in, sizeof(in), &r0), BPFRT_OK);
		assert_true((int32_t)r0 > 0);
		bpfrt_prog_free(p);
		bpfrt_obj_free(obj);
		bpfrt_vm_free(vm);
	}
	/* the kernel */
	struct bpf_object *kobj = bpf_object__open_file(obj_path("ringbuf.o"), NULL);
	if (!kobj || bpf_object__load(kobj)) {
		printf("SKIP kernel comparison: the kernel refused the object (%s)\n", strerror(errno));
		bpf_object__close(kobj);
		return;
	}
	struct evlog kern = { 0 };
	struct ring_buffer *krb = ring_buffer__new(bpf_map__fd(bpf_object__find_map_by_name(kobj, "events")),
						   on_event, &kern, NULL);
	assert_non_null(krb);
	uint32_t in[2] = { 5, 0 };
	LIBBPF_OPTS(bpf_test_run_opts, topts, .ctx_in = in, .ctx_size_in = sizeof(in));
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(bpf_object__find_program_by_name(kobj, "report")),
						&topts), 0);
	assert_int_equal(topts.retval, 6 * 24);
	assert_int_equal(ring_buffer__consume(krb), 5);
	assert_int_equal(kern.n, mine[0].n);
	assert_memory_equal(kern.e, mine[0].e, sizeof(struct ev) * 5);
	ring_buffer__free(krb);
	bpf_object__close(kobj);
}

/* Queue and stack maps from a program, on each engine and in the kernel:
 * the same r0, then the same elements left, in the same order. */
struct qleft {
	uint32_t q[8];
	uint64_t st[8];
	int nq, nst;
};

static void qstack_program(void **state)
{
	(void)state;
	static const struct { bpfrt_engine e; uint32_t flags; } engines[] = {
		{ BPFRT_ENGINE_INTERP, BPFRT_LOAD_SAFE }, { BPFRT_ENGINE_INTERP, 0 }, { BPFRT_ENGINE_JIT, 0 },
	};
	uint64_t r0s[3];
	struct qleft mine = { 0 };
	for (size_t e = 0; e < 3; e++) {
		bpfrt_vm *vm = bpfrt_vm_new();
		bpfrt_obj *obj;
		if (bpfrt_obj_open(vm, obj_path("qstack.o"), &obj) != BPFRT_OK)
			fail_msg("open: %s", bpfrt_vm_errmsg(vm));
		struct bpfrt_load_opts o = { .sz = sizeof(o), .flags = engines[e].flags, .engine = engines[e].e };
		bpfrt_prog *p;
		if (bpfrt_obj_load_prog(obj, "qs", &o, &p) != BPFRT_OK)
			fail_msg("load: %s", bpfrt_vm_errmsg(vm));
		if (bpfrt_prog_run_ctx(p, NULL, 0, &r0s[e]) != BPFRT_OK)
			fail_msg("run: %s", bpfrt_prog_errmsg(p));
		struct qleft left = { 0 };
		bpfrt_map *q = bpfrt_obj_map_by_name(obj, "q"), *st = bpfrt_obj_map_by_name(obj, "st");
		assert_non_null(q);
		assert_non_null(st);
		uint32_t k;
		assert_int_equal(bpfrt_map_get_next_key(q, NULL, &k), -EINVAL); /* no keys */
		struct qleft peeked = { 0 }; /* what peek_at sees, the map left as it is */
		while (peeked.nq < 8 && bpfrt_map_peek_at(q, (uint32_t)peeked.nq, &peeked.q[peeked.nq]) == 0)
			peeked.nq++;
		while (peeked.nst < 8 && bpfrt_map_peek_at(st, (uint32_t)peeked.nst, &peeked.st[peeked.nst]) == 0)
			peeked.nst++;
		uint64_t v8;
		assert_int_equal(bpfrt_map_peek_at(bpfrt_obj_map_by_name(obj, ".bss"), 0, &v8), -EINVAL);
		while (left.nq < 8 && bpfrt_map_lookup_and_delete(q, NULL, &left.q[left.nq]) == 0)
			left.nq++;
		while (left.nst < 8 && bpfrt_map_lookup_and_delete(st, NULL, &left.st[left.nst]) == 0)
			left.nst++;
		assert_memory_equal(&peeked, &left, sizeof(left)); /* in pop order */
		assert_int_equal(bpfrt_map_peek_at(q, 0, &v8), -ENOENT);
		if (e == 0)
			mine = left;
		else
			assert_memory_equal(&left, &mine, sizeof(left));
		bpfrt_prog_free(p);
		bpfrt_obj_free(obj);
		bpfrt_vm_free(vm);
	}
	assert_true(r0s[0] != 0); /* 0: the bad-flag push was not refused */
	assert_int_equal(r0s[1], r0s[0]);
	assert_int_equal(r0s[2], r0s[0]);
	/* what the program must leave: the queue's last three, the stack's first three */
	assert_int_equal(mine.nq, 3);
	assert_int_equal(mine.q[0], 40);
	assert_int_equal(mine.q[2], 60);
	assert_int_equal(mine.nst, 3);
	assert_int_equal(mine.st[0], 300);
	assert_int_equal(mine.st[2], 100);
	struct bpf_object *kobj = bpf_object__open_file(obj_path("qstack.o"), NULL);
	if (!kobj || bpf_object__load(kobj)) {
		printf("SKIP kernel comparison: the kernel refused the object (%s)\n", strerror(errno));
		bpf_object__close(kobj);
		return;
	}
	LIBBPF_OPTS(bpf_test_run_opts, topts);
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(bpf_object__find_program_by_name(kobj, "qs")),
						&topts), 0);
	assert_int_equal(topts.retval, (uint32_t)r0s[0]);
	struct qleft kern = { 0 };
	int qfd = bpf_map__fd(bpf_object__find_map_by_name(kobj, "q"));
	int sfd = bpf_map__fd(bpf_object__find_map_by_name(kobj, "st"));
	while (kern.nq < 8 && bpf_map_lookup_and_delete_elem(qfd, NULL, &kern.q[kern.nq]) == 0)
		kern.nq++;
	while (kern.nst < 8 && bpf_map_lookup_and_delete_elem(sfd, NULL, &kern.st[kern.nst]) == 0)
		kern.nst++;
	assert_memory_equal(&kern, &mine, sizeof(kern));
	bpf_object__close(kobj);
}

/* `.values = { [2] = &target }`: the slot holds the program once loaded. */
static void prog_array_init(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_obj *obj;
	if (bpfrt_obj_open(vm, obj_path("progarray.o"), &obj) != BPFRT_OK)
		fail_msg("open: %s", bpfrt_vm_errmsg(vm));
	bpfrt_map *jmp = bpfrt_obj_map_by_name(obj, "jmp");
	assert_non_null(jmp);
	assert_null(bpfrt_map_prog_at(jmp, 2));
	bpfrt_prog *p;
	assert_int_equal(bpfrt_obj_load_prog(obj, "target", NULL, &p), BPFRT_OK);
	assert_ptr_equal(bpfrt_map_prog_at(jmp, 2), p);
	assert_null(bpfrt_map_prog_at(jmp, 1));
	bpfrt_prog_free(p);
	uint64_t r0;
	assert_int_equal(bpfrt_prog_run_mem(bpfrt_map_prog_at(jmp, 2), NULL, 0, &r0), BPFRT_OK);
	assert_int_equal(r0, 42);
	bpfrt_obj_free(obj);
	bpfrt_vm_free(vm);
}

/* Array lookups the verifier pinned to one map are inlined (not in safe
 * mode, which keeps the helper); every engine gives the helper's result. */
static void array_lookup_inlined(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_obj *obj;
	if (bpfrt_obj_open(vm, obj_path("mapbench.o"), &obj) != BPFRT_OK)
		fail_msg("open: %s", bpfrt_vm_errmsg(vm));
	bpfrt_map *arr = bpfrt_obj_map_by_name(obj, "arr");
	assert_non_null(arr);
	for (uint32_t k = 0; k < 1024; k++) {
		uint64_t v = k * 3 + 1;
		assert_int_equal(bpfrt_map_update(arr, &k, &v, 0), 0);
	}
	static const struct { bpfrt_engine e; uint32_t flags; size_t inlined; } engines[] = {
		{ BPFRT_ENGINE_INTERP, 0, 1 }, { BPFRT_ENGINE_INTERP_SWITCH, 0, 1 },
		{ BPFRT_ENGINE_JIT, 0, 1 }, { BPFRT_ENGINE_JIT, BPFRT_LOAD_BLIND, 1 },
	};
	/* the program sums the values at keys 0, 7, 14, ... (256 of them, & 1023) */
	uint64_t want = 0;
	for (uint32_t i = 0; i < 256; i++)
		want += ((7 * i) & 1023) * 3 + 1;
	want = (uint32_t)want;
	for (size_t e = 0; e < sizeof(engines) / sizeof(engines[0]); e++) {
		struct bpfrt_load_opts o = { .sz = sizeof(o), .flags = engines[e].flags, .engine = engines[e].e };
		bpfrt_prog *p;
		if (bpfrt_obj_load_prog(obj, "arr_lookup", &o, &p) != BPFRT_OK)
			fail_msg("load: %s", bpfrt_vm_errmsg(vm));
		struct bpfrt_stats st;
		bpfrt_prog_stats(p, &st);
		assert_int_equal(st.lookups_inlined, engines[e].inlined);
		uint64_t r0 = 0;
		assert_int_equal(bpfrt_prog_run_ctx(p, NULL, 0, &r0), BPFRT_OK);
		assert_int_equal(r0, want);
		bpfrt_prog_free(p);
	}
	bpfrt_obj_free(obj);
	bpfrt_vm_free(vm);
}

/*
 * Tail calls (tests/bpf/tailcall.bpf.c): each scenario's r0 and counters on
 * every engine, and the kernel's for the same object (BPF_PROG_TEST_RUN on a
 * packet) where bpf() works.
 */
struct tc_case {
	const char *prog;
	uint8_t byte;          /* the packet's first byte (entry's index) */
};
static const struct tc_case tc_cases[] = {
	{ "entry", 0 }, { "entry", 1 }, { "entry", 2 }, { "entry", 6 }, { "entry", 12 },
	{ "start_self", 0 }, { "self", 0 }, { "from_sub", 0 }, { "from_sub_miss", 0 },
	{ "loopy", 0 }, { "to_deep", 0 }, { "direct0", 0 }, { "direct7", 0 },
	{ "chain3", 0 }, { "two_keys", 0 }, { "two_keys", 1 }, { "start_self_ind", 0 },
	{ "start_chain_sub", 0 }, { "two_deep", 0 }, { "two_deep_miss", 0 }, { "ring0", 0 }, { "ring0", 1 },
};
#define NTC (sizeof(tc_cases) / sizeof(tc_cases[0]))
static const char *const tc_progs[] = { "t0", "t1", "t2", "self", "loopy", "deep", "entry",
					"start_self", "from_sub", "from_sub_miss", "to_deep", "direct0", "direct7",
					"c0", "c1", "c2", "chain3", "two_keys", "self_ind", "start_self_ind",
					"chain_sub", "start_chain_sub", "two_deep", "two_deep_miss", "ring0", "ring1" };
#define NTP (sizeof(tc_progs) / sizeof(tc_progs[0]))
struct tc_result {
	uint32_t r0[NTC];
	uint32_t bss[NTC][8]; /* self_runs, loop_runs, hops, ind_runs, sub_runs, odd_done, zero, ring_runs:
			       * the .bss */
};

static void tc_bpfrt(bpfrt_engine e, uint32_t flags, struct tc_result *res)
{
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_obj *obj;
	if (bpfrt_obj_open(vm, obj_path("tailcall.o"), &obj) != BPFRT_OK)
		fail_msg("open: %s", bpfrt_vm_errmsg(vm));
	bpfrt_prog *p[NTP];
	struct bpfrt_load_opts o = { .sz = sizeof(o), .flags = flags, .engine = e };
	for (size_t i = 0; i < NTP; i++)
		if (bpfrt_obj_load_prog(obj, tc_progs[i], &o, &p[i]) != BPFRT_OK)
			fail_msg("load %s: %s", tc_progs[i], bpfrt_vm_errmsg(vm));
	bpfrt_map *bss = bpfrt_obj_map_by_name(obj, ".bss");
	for (size_t k = 0; k < NTC; k++) {
		size_t pi = 0;
		while (strcmp(tc_progs[pi], tc_cases[k].prog))
			pi++;
		uint8_t pkt[64] = { tc_cases[k].byte };
		uint64_t r0 = 0;
		if (bpfrt_prog_run_packet(p[pi], pkt, sizeof(pkt), &r0) != BPFRT_OK)
			fail_msg("%s: %s", tc_cases[k].prog, bpfrt_prog_errmsg(p[pi]));
		res->r0[k] = (uint32_t)r0;
		uint32_t zero = 0;
		assert_int_equal(bpfrt_map_lookup(bss, &zero, res->bss[k]), 0);
	}
	for (size_t i = 0; i < NTP; i++)
		bpfrt_prog_free(p[i]);
	bpfrt_obj_free(obj);
	bpfrt_vm_free(vm);
}

static bool tc_kernel(struct tc_result *res)
{
	libbpf_set_print(NULL);
	struct bpf_object *kobj = bpf_object__open_file(obj_path("tailcall.o"), NULL);
	if (!kobj || bpf_object__load(kobj)) {
		printf("SKIP kernel comparison: the kernel refused tailcall.o (%s)\n", strerror(errno));
		bpf_object__close(kobj);
		return false;
	}
	/* libbpf fills the prog_array from .values */
	struct bpf_map *bss = bpf_object__find_map_by_name(kobj, ".bss");
	for (size_t k = 0; k < NTC; k++) {
		struct bpf_program *kp = bpf_object__find_program_by_name(kobj, tc_cases[k].prog);
		uint8_t pkt[64] = { tc_cases[k].byte };
		LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .data_size_in = sizeof(pkt), .repeat = 1);
		if (!kp || bpf_prog_test_run_opts(bpf_program__fd(kp), &t)) {
			printf("SKIP kernel comparison: BPF_PROG_TEST_RUN: %s\n", strerror(errno));
			bpf_object__close(kobj);
			return false;
		}
		res->r0[k] = t.retval;
		uint32_t zero = 0;
		assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(bss), &zero, res->bss[k]), 0);
	}
	bpf_object__close(kobj);
	return true;
}

static void tail_calls(void **state)
{
	(void)state;
	/* the kernel's semantics, as prog_tests/tailcalls.c counts them */
	static const uint32_t want_r0[NTC] = { 10, 11, 11, 106, 112, 1, 1, 1010, 2007, 0, 307, 10, 107,
						20, 22, 21, 1, 0, 53, 55, 1, 1 };
	static const struct { bpfrt_engine e; uint32_t flags; } engines[] = {
		{ BPFRT_ENGINE_INTERP, BPFRT_LOAD_SAFE }, { BPFRT_ENGINE_INTERP, 0 },
		{ BPFRT_ENGINE_INTERP_SWITCH, 0 }, { BPFRT_ENGINE_JIT, 0 }, { BPFRT_ENGINE_JIT, BPFRT_LOAD_BLIND },
	};
	struct tc_result first = { 0 };
	for (size_t e = 0; e < sizeof(engines) / sizeof(engines[0]); e++) {
		struct tc_result r = { 0 };
		tc_bpfrt(engines[e].e, engines[e].flags, &r);
		for (size_t k = 0; k < NTC; k++)
			if (want_r0[k] && r.r0[k] != want_r0[k])
				fail_msg("engine %zu: %s(%u) returned %u, want %u", e, tc_cases[k].prog, tc_cases[k].byte,
					 r.r0[k], want_r0[k]);
		/* 33 tail calls into self from start_self, 34 runs when self starts */
		assert_int_equal(r.bss[5][0], 33);
		assert_int_equal(r.bss[6][0], 33 + 34);
		assert_int_equal(r.bss[2][2], 1);
		assert_int_equal(r.bss[9][1], 34);  /* loopy: one count for every frame */
		assert_int_equal(r.bss[NTC - 6][3], 33); /* the indirect chain: 33 tail calls */
		assert_int_equal(r.bss[NTC - 5][4], 33); /* with a local call before each */
		assert_int_equal(r.bss[NTC - 4][5], 6);  /* main's stack data survived */
		assert_int_equal(r.bss[NTC - 2][7], 34); /* the ring: 33 tail calls through subprograms */
		assert_int_equal(r.bss[NTC - 1][7], 68); /* again, with the inlined lookups */
		if (!e)
			first = r;
		assert_memory_equal(&r, &first, sizeof(r));
	}
	struct tc_result k = { 0 };
	if (!tc_kernel(&k))
		skip();
	for (size_t i = 0; i < NTC; i++)
		if (k.r0[i] != first.r0[i] || memcmp(k.bss[i], first.bss[i], sizeof(k.bss[i])))
			fail_msg("%s(%u): the kernel returns %u (self %u loop %u hops %u), bpfrt %u (%u %u %u)",
				 tc_cases[i].prog, tc_cases[i].byte, k.r0[i], k.bss[i][0], k.bss[i][1], k.bss[i][2],
				 first.r0[i], first.bss[i][0], first.bss[i][1], first.bss[i][2]);
}

/* tailcall_1 and tailcall_5: direct sites follow slot deletes and refills;
 * sites whose key differs by path stay indirect. */
static void tail_call_sites(void **state)
{
	(void)state;
	static const struct { bpfrt_engine e; uint32_t flags; } engines[] = {
		{ BPFRT_ENGINE_JIT, 0 }, { BPFRT_ENGINE_INTERP, 0 }, { BPFRT_ENGINE_JIT, BPFRT_LOAD_BLIND },
	};
	for (size_t e = 0; e < sizeof(engines) / sizeof(engines[0]); e++) {
		bpfrt_vm *vm = bpfrt_vm_new();
		bpfrt_obj *obj;
		if (bpfrt_obj_open(vm, obj_path("tailcall.o"), &obj) != BPFRT_OK)
			fail_msg("open: %s", bpfrt_vm_errmsg(vm));
		struct bpfrt_load_opts o = { .sz = sizeof(o), .flags = engines[e].flags, .engine = engines[e].e };
		static const char *const names[] = { "c0", "c1", "c2", "chain3", "two_keys" };
		bpfrt_prog *p[5];
		for (int i = 0; i < 5; i++)
			if (bpfrt_obj_load_prog(obj, names[i], &o, &p[i]) != BPFRT_OK)
				fail_msg("load %s: %s", names[i], bpfrt_vm_errmsg(vm));
		bpfrt_map *jmp3 = bpfrt_obj_map_by_name(obj, "jmp3");
		uint8_t pkt[64] = { 0 };
		uint64_t r0;
#define RUN(prog, want)                                                                  \
	do {                                                                             \
		assert_int_equal(bpfrt_prog_run_packet(prog, pkt, sizeof(pkt), &r0), BPFRT_OK); \
		assert_int_equal((int32_t)r0, want);                                     \
	} while (0)
		RUN(p[3], 20);
		assert_int_equal(bpfrt_map_update_prog(jmp3, 0, NULL), 0);
		RUN(p[3], 21);
		assert_int_equal(bpfrt_map_update_prog(jmp3, 1, NULL), 0);
		RUN(p[3], 22);
		assert_int_equal(bpfrt_map_update_prog(jmp3, 2, NULL), 0);
		RUN(p[3], 3);
		/* refill in reverse: each refill changes the answer at once */
		assert_int_equal(bpfrt_map_update_prog(jmp3, 2, p[0]), 0);
		RUN(p[3], 20);
		assert_int_equal(bpfrt_map_update_prog(jmp3, 1, p[1]), 0);
		RUN(p[3], 21);
		assert_int_equal(bpfrt_map_update_prog(jmp3, 0, p[2]), 0);
		RUN(p[3], 22);
		/* two keys: 1 on a non-zero first byte, 2 otherwise */
		RUN(p[4], 20);
		pkt[0] = 1;
		RUN(p[4], 21);
		assert_int_equal(bpfrt_map_update_prog(jmp3, 1, NULL), 0);
		RUN(p[4], 4);
#undef RUN
		struct bpfrt_stats st;
		bpfrt_prog_stats(p[3], &st);
		assert_int_equal(st.tail_calls_direct, 3);
		bpfrt_prog_stats(p[4], &st);
		assert_int_equal(st.tail_calls_direct, 0); /* two keys: indirect */
		for (int i = 0; i < 5; i++)
			bpfrt_prog_free(p[i]);
		bpfrt_obj_free(obj);
		bpfrt_vm_free(vm);
	}
}

/*
 * Stress: threads run `entry` and `direct0` (an indirect and a patched direct
 * tail call through slot 0) while the main thread sets the slot to t0, t1
 * and empty as fast as it can.  Every run
 * returns a value one of those allows (10, 11, or 100 when empty); a program
 * replaced in the slot is freed only after a grace period, so no run ever
 * jumps into freed code (ASan watches in the sanitizer build).
 */
struct stress_arg {
	bpfrt_prog *entry, *direct; /* an indirect and a direct (patched) tail call */
	bool stop;
	unsigned long runs, bad;
};

static void *stress_runner(void *arg)
{
	struct stress_arg *a = arg;
	uint8_t pkt[64] = { 0 };
	for (unsigned long i = 0; !__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE); i++) {
		uint64_t r0 = 0;
		if (bpfrt_prog_run_packet(i & 1 ? a->direct : a->entry, pkt, sizeof(pkt), &r0) != BPFRT_OK ||
		    (r0 != 10 && r0 != 11 && r0 != 100))
			__atomic_add_fetch(&a->bad, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&a->runs, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void tail_call_stress(void **state)
{
	(void)state;
	static const bpfrt_engine engines[] = { BPFRT_ENGINE_JIT, BPFRT_ENGINE_INTERP };
	for (size_t e = 0; e < 2; e++) {
		bpfrt_vm *vm = bpfrt_vm_new();
		bpfrt_obj *obj;
		if (bpfrt_obj_open(vm, obj_path("tailcall.o"), &obj) != BPFRT_OK)
			fail_msg("open: %s", bpfrt_vm_errmsg(vm));
		struct bpfrt_load_opts o = { .sz = sizeof(o), .engine = engines[e] };
		bpfrt_prog *t0, *t1;
		struct stress_arg a = { 0 };
		assert_int_equal(bpfrt_obj_load_prog(obj, "t0", &o, &t0), BPFRT_OK);
		assert_int_equal(bpfrt_obj_load_prog(obj, "t1", &o, &t1), BPFRT_OK);
		assert_int_equal(bpfrt_obj_load_prog(obj, "entry", &o, &a.entry), BPFRT_OK);
		assert_int_equal(bpfrt_obj_load_prog(obj, "direct0", &o, &a.direct), BPFRT_OK);
		bpfrt_map *jmp = bpfrt_obj_map_by_name(obj, "jmp");
		pthread_t th[2];
		for (int i = 0; i < 2; i++)
			pthread_create(&th[i], NULL, stress_runner, &a);
		for (int k = 0; k < 3000; k++) {
			/* a fresh program each time: the one it replaces must outlive the runs in it */
			bpfrt_prog *fresh;
			assert_int_equal(bpfrt_obj_load_prog(obj, k % 2 ? "t1" : "t0", &o, &fresh), BPFRT_OK);
			assert_int_equal(bpfrt_map_update_prog(jmp, 0, fresh), 0);
			bpfrt_prog_free(fresh); /* the slot holds it now */
			if (k % 3 == 0)
				assert_int_equal(bpfrt_map_update_prog(jmp, 0, NULL), 0);
		}
		__atomic_store_n(&a.stop, true, __ATOMIC_RELEASE);
		for (int i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		assert_true(a.runs > 0);
		assert_int_equal(a.bad, 0);
		bpfrt_prog_free(t0);
		bpfrt_prog_free(t1);
		bpfrt_prog_free(a.entry);
		bpfrt_prog_free(a.direct);
		bpfrt_obj_free(obj);
		bpfrt_vm_free(vm);
	}
}

/*
 * tailcall_poke: programs with a direct site are loaded (their slots set
 * from the array as it is then) while another thread changes the slot; every
 * run of every freshly loaded program is one the slot allows.
 */
struct poke_arg {
	bpfrt_obj *obj;
	bpfrt_map *jmp;
	bpfrt_prog *t[2];
	bool stop;
};

static void *poke_updater(void *arg)
{
	struct poke_arg *a = arg;
	for (unsigned k = 0; !__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE); k++)
		bpfrt_map_update_prog(a->jmp, 0, k % 3 == 2 ? NULL : a->t[k % 3]);
	return NULL;
}

static void tail_call_poke_race(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	struct poke_arg a = { 0 };
	if (bpfrt_obj_open(vm, obj_path("tailcall.o"), &a.obj) != BPFRT_OK)
		fail_msg("open: %s", bpfrt_vm_errmsg(vm));
	struct bpfrt_load_opts o = { .sz = sizeof(o), .engine = BPFRT_ENGINE_JIT };
	assert_int_equal(bpfrt_obj_load_prog(a.obj, "t0", &o, &a.t[0]), BPFRT_OK);
	assert_int_equal(bpfrt_obj_load_prog(a.obj, "t1", &o, &a.t[1]), BPFRT_OK);
	a.jmp = bpfrt_obj_map_by_name(a.obj, "jmp");
	pthread_t th;
	pthread_create(&th, NULL, poke_updater, &a);
	unsigned bad = 0;
	for (int i = 0; i < 300; i++) {
		bpfrt_prog *p;
		assert_int_equal(bpfrt_obj_load_prog(a.obj, "direct0", &o, &p), BPFRT_OK);
		uint8_t pkt[64] = { 0 };
		for (int r = 0; r < 20; r++) {
			uint64_t r0 = 0;
			if (bpfrt_prog_run_packet(p, pkt, sizeof(pkt), &r0) != BPFRT_OK || (r0 != 10 && r0 != 11 && r0 != 100))
				bad++;
		}
		bpfrt_prog_free(p);
	}
	__atomic_store_n(&a.stop, true, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	assert_int_equal(bad, 0);
	/* the slot as the updater left it, and a program loaded now, agree */
	bpfrt_prog *p, *now = bpfrt_map_prog_at(a.jmp, 0);
	assert_int_equal(bpfrt_obj_load_prog(a.obj, "direct0", &o, &p), BPFRT_OK);
	uint8_t pkt[64] = { 0 };
	uint64_t r0 = 0;
	assert_int_equal(bpfrt_prog_run_packet(p, pkt, sizeof(pkt), &r0), BPFRT_OK);
	assert_int_equal(r0, now == a.t[0] ? 10 : now == a.t[1] ? 11 : 100);
	bpfrt_prog_free(p);
	bpfrt_prog_free(a.t[0]);
	bpfrt_prog_free(a.t[1]);
	bpfrt_obj_free(a.obj);
	bpfrt_vm_free(vm);
}

/* The inlined lookup against the helper (safe mode) for keys in range and
 * past the end, with a 24-byte value (a stride that is no power of two). */
static void array_lookup_keys(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_obj *obj;
	if (bpfrt_obj_open(vm, obj_path("arrlookup.o"), &obj) != BPFRT_OK)
		fail_msg("open: %s", bpfrt_vm_errmsg(vm));
	bpfrt_map *arr = bpfrt_obj_map_by_name(obj, "arr");
	assert_non_null(arr);
	for (uint32_t k = 0; k < 5; k++) {
		uint64_t v[3] = { 100 + k, (uint64_t)(k * 11) | (uint64_t)77 << 32, 1000 * k };
		assert_int_equal(bpfrt_map_update(arr, &k, v, 0), 0);
	}
	static const struct { bpfrt_engine e; uint32_t flags; size_t inlined; } engines[] = {
		{ BPFRT_ENGINE_INTERP, BPFRT_LOAD_SAFE, 0 }, { BPFRT_ENGINE_INTERP, 0, 1 },
		{ BPFRT_ENGINE_JIT, 0, 1 }, { BPFRT_ENGINE_JIT, BPFRT_LOAD_BLIND, 1 },
	};
	static const uint32_t keys[] = { 0, 1, 4, 5, 6, 0x7fffffff, 0x80000000u, 0xffffffffu };
	for (size_t e = 0; e < sizeof(engines) / sizeof(engines[0]); e++) {
		struct bpfrt_load_opts o = { .sz = sizeof(o), .flags = engines[e].flags, .engine = engines[e].e };
		bpfrt_prog *p;
		if (bpfrt_obj_load_prog(obj, "lookup", &o, &p) != BPFRT_OK)
			fail_msg("load: %s", bpfrt_vm_errmsg(vm));
		struct bpfrt_stats st;
		bpfrt_prog_stats(p, &st);
		assert_int_equal(st.lookups_inlined, engines[e].inlined);
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			struct args a = { .key = keys[i] };
			uint64_t r0 = 0;
			assert_int_equal(bpfrt_prog_run_ctx(p, &a, sizeof(a), &r0), BPFRT_OK);
			if (keys[i] < 5) {
				assert_int_equal((int32_t)r0, (int32_t)(keys[i] * 11));
				assert_int_equal(a.out, 100 + keys[i] + 1000 * keys[i]);
			} else {
				assert_int_equal((int32_t)r0, -1);
			}
		}
		bpfrt_prog_free(p);
		/* the inner array is the one the outer map holds when the program runs */
		if (bpfrt_obj_load_prog(obj, "lookup_inner", &o, &p) != BPFRT_OK)
			fail_msg("load: %s", bpfrt_vm_errmsg(vm));
		bpfrt_prog_stats(p, &st);
		assert_int_equal(st.lookups_inlined, 0);
		bpfrt_map *outer = bpfrt_obj_map_by_name(obj, "outer");
		bpfrt_map *ia = bpfrt_obj_map_by_name(obj, "inner_a"), *ib = bpfrt_obj_map_by_name(obj, "inner_b");
		uint32_t zero = 0, one = 1;
		uint64_t va = 111, vb = 222;
		assert_int_equal(bpfrt_map_update(ia, &one, &va, 0), 0);
		assert_int_equal(bpfrt_map_update(ib, &one, &vb, 0), 0);
		struct args a = { .key = 1 };
		uint64_t r0 = 0;
		assert_int_equal(bpfrt_map_update_inner(outer, &zero, ia), 0);
		assert_int_equal(bpfrt_prog_run_ctx(p, &a, sizeof(a), &r0), BPFRT_OK);
		assert_int_equal(r0, 111);
		assert_int_equal(bpfrt_map_update_inner(outer, &zero, ib), 0);
		assert_int_equal(bpfrt_prog_run_ctx(p, &a, sizeof(a), &r0), BPFRT_OK);
		assert_int_equal(r0, 222);
		bpfrt_prog_free(p);
	}
	bpfrt_obj_free(obj);
	bpfrt_vm_free(vm);
}

/* .rodata is configuration: set before the program loads, frozen by the load
 * (the verifier folds its contents into constants), refused afterwards. */
static void rodata_frozen_at_load(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_obj *obj;
	if (bpfrt_obj_open(vm, obj_path("maps.o"), &obj) != BPFRT_OK)
		fail_msg("open: %s", bpfrt_vm_errmsg(vm));
	bpfrt_map *ro = bpfrt_obj_map_by_name(obj, ".rodata");
	assert_non_null(ro);
	uint32_t k = 0, mult = 5;
	assert_int_equal(bpfrt_map_update(ro, &k, &mult, 0), 0);
	bpfrt_prog *p;
	if (bpfrt_obj_load_prog(obj, "count", NULL, &p) != BPFRT_OK)
		fail_msg("load: %s", bpfrt_vm_errmsg(vm));
	mult = 6;
	assert_int_equal(bpfrt_map_update(ro, &k, &mult, 0), -EPERM);
	struct args a = { .key = 1, .n = 5 };
	uint64_t r0 = 0, v = 0;
	assert_int_equal(bpfrt_prog_run_ctx(p, &a, sizeof(a), &r0), BPFRT_OK);
	k = 4;
	assert_int_equal(bpfrt_map_lookup(bpfrt_obj_map_by_name(obj, "table"), &k, &v), 0);
	assert_int_equal(v, 16 * 5 + 7);
	bpfrt_prog_free(p);
	bpfrt_obj_free(obj);
	bpfrt_vm_free(vm);
}

/* Objects of the shared corpus the loader once refused: RELA relocations
 * (old clang), calls to an undefined memset in some programs only, a legacy
 * map-in-map whose inner map is given by samples/bpf's inner_map_idx. */
static bpfrt_obj *corpus_obj(bpfrt_vm *vm, const char *rel)
{
	const char *dir = getenv("BPFRT_CORPUS");
	char p[4096];
	snprintf(p, sizeof(p), "%s/ebpf-samples/%s", dir ? dir : "../shared/corpus", rel);
	bpfrt_obj *obj = NULL;
	if (access(p, R_OK))
		return NULL;
	if (bpfrt_obj_open(vm, p, &obj) != BPFRT_OK)
		fail_msg("open %s: %s", rel, bpfrt_vm_errmsg(vm));
	return obj;
}

static const char *prog_in(bpfrt_obj *obj, const char *section)
{
	for (size_t i = 0; i < bpfrt_obj_prog_count(obj); i++) {
		struct bpfrt_obj_prog_info pi;
		bpfrt_obj_prog_info(obj, i, &pi);
		if (!strcmp(pi.section, section))
			return pi.name;
	}
	fail_msg("no program in %s", section);
	return NULL;
}

static void corpus_loader_cases(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	struct bpfrt_verify_opts lo = { .sz = sizeof(lo), .platform = BPFRT_PLATFORM_LINUX };
	struct bpfrt_verify_result r;
	bpfrt_obj *obj = corpus_obj(vm, "ovs/datapath.o");
	if (!obj) {
		bpfrt_vm_free(vm);
		skip();
	}
	/* RELA: the map references of tail-33 are relocated */
	const char *name = prog_in(obj, "tail-33");
	struct bpfrt_obj_prog_info pi = { 0 };
	for (size_t i = 0; i < bpfrt_obj_prog_count(obj); i++)
		if (bpfrt_obj_prog_info(obj, i, &pi) == BPFRT_OK && !strcmp(pi.name, name))
			break;
	assert_true(pi.nmaps >= 5);
	assert_int_equal(bpfrt_obj_verify(obj, name, &lo, &r), BPFRT_OK);
	bpfrt_verify_result_fini(&r);
	bpfrt_obj_free(obj);

	/* an undefined memset: only the programs calling it fail, with its name */
	assert_non_null(obj = corpus_obj(vm, "falco/probe.o"));
	assert_int_equal(bpfrt_obj_verify(obj, prog_in(obj, "raw_tracepoint/sys_enter"), &lo, &r), BPFRT_ENOTSUP);
	bpfrt_verify_result_fini(&r);
	assert_non_null(strstr(bpfrt_vm_errmsg(vm), "refers to memset, which the object does not define"));
	bpfrt_prog *p = NULL;
	assert_int_equal(bpfrt_obj_load_prog(obj, prog_in(obj, "raw_tracepoint/sys_enter"), NULL, &p),
			 BPFRT_ENOTSUP);
	assert_null(p);
	assert_int_equal(bpfrt_obj_verify(obj, prog_in(obj, "raw_tracepoint/filler/sys_empty"), &lo, &r),
			 BPFRT_OK);
	bpfrt_verify_result_fini(&r);
	bpfrt_obj_free(obj);

	/* inner_map_idx 1: the second legacy definition */
	assert_non_null(obj = corpus_obj(vm, "build/map_in_map_legacy.o"));
	int outer = -1, inner = -1;
	for (size_t i = 0; i < bpfrt_obj_map_count(obj); i++) {
		struct bpfrt_obj_map_info mi;
		bpfrt_obj_map_info(obj, i, &mi);
		if (!strcmp(mi.name, "array_of_maps"))
			outer = mi.inner;
		if (!strcmp(mi.name, "inner_map"))
			inner = (int)i;
	}
	assert_true(inner >= 0);
	assert_int_equal(outer, inner);
	assert_int_equal(bpfrt_obj_verify(obj, prog_in(obj, ".text"), &lo, &r), BPFRT_OK);
	bpfrt_verify_result_fini(&r);
	bpfrt_obj_free(obj);
	bpfrt_vm_free(vm);
}

/* Malformed objects are refused with a message, never crash. */
static void malformed(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	FILE *f = fopen(obj_path("maps.o"), "rb");
	assert_non_null(f);
	static uint8_t buf[1 << 16];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	bpfrt_obj *obj;
	/* truncated at every 97 bytes, and single-byte corruptions */
	int refused = 0, opened = 0;
	for (size_t len = 0; len < n; len += 97) {
		if (bpfrt_obj_open_mem(vm, buf, len, "cut", &obj) == BPFRT_OK) {
			opened++;
			bpfrt_obj_free(obj);
		} else {
			assert_true(strlen(bpfrt_vm_errmsg(vm)) > 0);
			refused++;
		}
	}
	assert_true(refused > 0);
	uint64_t x = 12345;
	for (int i = 0; i < 2000; i++) {
		static uint8_t bad[1 << 16];
		memcpy(bad, buf, n);
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		bad[(x >> 33) % n] ^= (uint8_t)(1u << ((x >> 20) % 8));
		if (bpfrt_obj_open_mem(vm, bad, n, "flip", &obj) == BPFRT_OK) {
			/* loading its programs must not crash either */
			bpfrt_prog *p;
			struct bpfrt_load_opts o = { .sz = sizeof(o), .flags = BPFRT_LOAD_SAFE };
			if (bpfrt_obj_load_prog(obj, NULL, &o, &p) == BPFRT_OK)
				bpfrt_prog_free(p);
			bpfrt_obj_free(obj);
		}
	}
	(void)opened;
	bpfrt_vm_free(vm);
}

/* __sk_buff programs, converted (verified) and not (trusted): the same
 * results from packets, and from a UAPI context copied in and back out. */
static void skb_context(void **state)
{
	(void)state;
	static const struct { bpfrt_engine e; uint32_t flags; size_t conv_fields, conv_mark; } engines[] = {
		{ BPFRT_ENGINE_INTERP, BPFRT_LOAD_SAFE, 5, 5 }, { BPFRT_ENGINE_JIT, 0, 5, 5 },
		{ BPFRT_ENGINE_INTERP, BPFRT_LOAD_TRUSTED | BPFRT_LOAD_SAFE, 0, 0 },
		{ BPFRT_ENGINE_JIT, BPFRT_LOAD_TRUSTED, 0, 0 },
	};
	uint8_t pkt[60] = { 0 };
	pkt[12] = 0x08;
	pkt[13] = 0x06; /* ARP */
	for (size_t e = 0; e < sizeof(engines) / sizeof(engines[0]); e++) {
		bpfrt_vm *vm = bpfrt_vm_new();
		bpfrt_obj *obj;
		assert_int_equal(bpfrt_obj_open(vm, obj_path("skb.o"), &obj), BPFRT_OK);
		struct bpfrt_load_opts o = { .sz = sizeof(o), .flags = engines[e].flags, .engine = engines[e].e };
		bpfrt_prog *f = NULL, *m = NULL;
		if (bpfrt_obj_load_prog(obj, "fields", &o, &f) != BPFRT_OK ||
		    bpfrt_obj_load_prog(obj, "mark", &o, &m) != BPFRT_OK)
			fail_msg("load: %s", bpfrt_vm_errmsg(vm));
		struct bpfrt_stats st;
		bpfrt_prog_stats(f, &st);
		assert_int_equal(st.ctx_converted, engines[e].conv_fields);
		bpfrt_prog_stats(m, &st);
		assert_int_equal(st.ctx_converted, engines[e].conv_mark);
		uint64_t r0;
		assert_int_equal(bpfrt_prog_run_packet(f, pkt, sizeof(pkt), &r0), BPFRT_OK);
		assert_int_equal(r0, 10 + ((60 + 6) << 8)); /* ingress_ifindex 0, as the kernel's test runs */
		struct __sk_buff skb;
		memset(&skb, 0, sizeof(skb));
		skb.priority = 21;
		skb.len = 100;
		skb.cb[0] = 5;
		assert_int_equal(bpfrt_prog_run_ctx(m, &skb, sizeof(skb), &r0), BPFRT_OK);
		assert_int_equal(r0, 42);
		assert_int_equal(skb.mark, 42);
		assert_int_equal(skb.cb[1], 105);
		bpfrt_prog_free(f);
		bpfrt_prog_free(m);
		bpfrt_obj_free(obj);
		bpfrt_vm_free(vm);
	}
}

/* fentry / fexit on JITed BPF functions in a tail-call chain (the kernel's
 * tailcall_bpf2bpf_fentry, _fexit, _fentry_fexit, _fentry_entry): ring0 and
 * ring1 tail-call each other from their subprograms 33 times (34 runs).
 * fentry and fexit on ring0's subprogram ring_to1, which tail-calls: the
 * trampoline keeps the count's pointer (rax), so the ring still stops at 34
 * runs, and both count ring0's 17 calls.  fentry on ring0 itself sees the
 * run that starts there, not the 16 tail calls into it (they enter past the
 * patch site). */
static void tail_calls_traced(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_obj *tc, *tr;
	assert_int_equal(bpfrt_obj_open(vm, obj_path("tailcall.o"), &tc), BPFRT_OK);
	assert_int_equal(bpfrt_obj_open(vm, obj_path("tc_trace.o"), &tr), BPFRT_OK);
	struct bpfrt_load_opts o = { .sz = sizeof(o), .engine = BPFRT_ENGINE_JIT };
	bpfrt_prog *r0 = NULL, *r1 = NULL, *on_call = NULL, *on_return = NULL, *on_entry = NULL;
	if (bpfrt_obj_load_prog(tc, "ring0", &o, &r0) != BPFRT_OK || bpfrt_obj_load_prog(tc, "ring1", &o, &r1) != BPFRT_OK ||
	    bpfrt_obj_load_prog(tr, "on_call", &o, &on_call) != BPFRT_OK ||
	    bpfrt_obj_load_prog(tr, "on_return", &o, &on_return) != BPFRT_OK ||
	    bpfrt_obj_load_prog(tr, "on_entry", &o, &on_entry) != BPFRT_OK)
		fail_msg("load: %s", bpfrt_vm_errmsg(vm));
	void *sub = bpfrt_prog_func(r0, "ring_to1"), *main0 = bpfrt_prog_func(r0, NULL);
	assert_non_null(sub);
	assert_ptr_equal(main0, bpfrt_prog_func(r0, "ring0"));
	assert_true(sub != main0);
	assert_null(bpfrt_prog_func(r0, "no_such_function"));
	assert_null(bpfrt_prog_func(r0, "ring_to0")); /* ring1's, not ring0's */
	bpfrt_map *tbss = bpfrt_obj_map_by_name(tc, ".bss"), *rbss = bpfrt_obj_map_by_name(tr, ".bss");
	struct { uint64_t fentry, fexit, entry; } hits;
	uint32_t zero = 0;
	struct bpfrt_attach_opts fe = { .sz = sizeof(fe), .kind = BPFRT_ATTACH_FENTRY, .nargs = 1 };
	struct bpfrt_attach_opts fx = { .sz = sizeof(fx), .kind = BPFRT_ATTACH_FEXIT, .nargs = 1 };
	bpfrt_link *l1, *l2, *l3;
	if (bpfrt_prog_attach(on_call, sub, &fe, &l1) != BPFRT_OK)
		fail_msg("attach: %s", bpfrt_prog_errmsg(on_call));
	if (bpfrt_prog_attach(on_return, sub, &fx, &l2) != BPFRT_OK)
		fail_msg("attach: %s", bpfrt_prog_errmsg(on_return));
	if (bpfrt_prog_attach(on_entry, main0, &fe, &l3) != BPFRT_OK)
		fail_msg("attach: %s", bpfrt_prog_errmsg(on_entry));
	for (int round = 1; round <= 2; round++) {
		uint8_t pkt[64] = { (uint8_t)(round - 1) }; /* the second round with the inlined lookups */
		uint64_t ret;
		assert_int_equal(bpfrt_prog_run_packet(r0, pkt, sizeof(pkt), &ret), BPFRT_OK);
		assert_int_equal(ret, 1);
		uint32_t b[8];
		assert_int_equal(bpfrt_map_lookup(tbss, &zero, b), 0);
		assert_int_equal(b[7], 34 * round); /* ring_runs */
		assert_int_equal(bpfrt_map_lookup(rbss, &zero, &hits), 0);
		assert_int_equal(hits.fentry, 17 * round);
		assert_int_equal(hits.fexit, 17 * round);
		assert_int_equal(hits.entry, round);
	}
	/* detached: the functions run as before, nothing counts */
	assert_int_equal(bpfrt_link_detach(l1), BPFRT_OK);
	assert_int_equal(bpfrt_link_detach(l2), BPFRT_OK);
	assert_int_equal(bpfrt_link_detach(l3), BPFRT_OK);
	uint8_t pkt[64] = { 0 };
	uint64_t ret;
	assert_int_equal(bpfrt_prog_run_packet(r0, pkt, sizeof(pkt), &ret), BPFRT_OK);
	uint32_t b[8];
	assert_int_equal(bpfrt_map_lookup(tbss, &zero, b), 0);
	assert_int_equal(b[7], 34 * 3);
	assert_int_equal(bpfrt_map_lookup(rbss, &zero, &hits), 0);
	assert_int_equal(hits.fentry, 34);
	assert_int_equal(hits.entry, 2);
	bpfrt_prog_free(on_call);
	bpfrt_prog_free(on_return);
	bpfrt_prog_free(on_entry);
	bpfrt_prog_free(r0);
	bpfrt_prog_free(r1);
	bpfrt_obj_free(tr);
	bpfrt_obj_free(tc);
	bpfrt_vm_free(vm);
}

/* inline.o: calls_step calls the leaf step 10 times, and the JIT inlines
 * each call.  fentry and fexit on step (bpfrt_prog_func) still see all 10,
 * with the argument and the return value; detached, nothing counts; a
 * second image of the program is not traced by the first's attachment;
 * attached again, the copies are found again.  With
 * BPFRT_LOAD_JIT_NO_INLINE nothing is inlined and the result is the same. */
static void inlined_calls_traced(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_obj *obj;
	assert_int_equal(bpfrt_obj_open(vm, obj_path("inline.o"), &obj), BPFRT_OK);
	struct bpfrt_load_opts o = { .sz = sizeof(o), .engine = BPFRT_ENGINE_JIT };
	struct bpfrt_load_opts no = { .sz = sizeof(o), .engine = BPFRT_ENGINE_JIT,
				      .flags = BPFRT_LOAD_JIT_NO_INLINE };
	bpfrt_prog *p = NULL, *p2 = NULL, *plain = NULL, *on = NULL, *onret = NULL;
	if (bpfrt_obj_load_prog(obj, "calls_step", &o, &p) != BPFRT_OK ||
	    bpfrt_obj_load_prog(obj, "calls_step", &o, &p2) != BPFRT_OK ||
	    bpfrt_obj_load_prog(obj, "calls_step", &no, &plain) != BPFRT_OK ||
	    bpfrt_obj_load_prog(obj, "on_step", &o, &on) != BPFRT_OK ||
	    bpfrt_obj_load_prog(obj, "on_step_ret", &o, &onret) != BPFRT_OK)
		fail_msg("load: %s", bpfrt_vm_errmsg(vm));
	struct bpfrt_jit_info info;
	bpfrt_prog_jit_info(p, &info);
	assert_int_equal(info.inlined, 10);
	bpfrt_prog_jit_info(plain, &info);
	assert_int_equal(info.inlined, 0);
	bpfrt_map *bss = bpfrt_obj_map_by_name(obj, ".bss");
	assert_non_null(bss);
	uint32_t zero = 0;
	struct { uint64_t result, entries, exits, last_arg, last_ret; } v;
	const uint64_t want = 3 * (5 + 6 + 7 + 8 + 9 + 10 + 11 + 12 + 13 + 14) + 10;
	uint8_t pkt[64] = { 0 };
	uint64_t ret;
#define RUN(prog)                                                                         \
	do {                                                                              \
		assert_int_equal(bpfrt_prog_run_packet(prog, pkt, sizeof(pkt), &ret), BPFRT_OK); \
		assert_int_equal(bpfrt_map_lookup(bss, &zero, &v), 0);                    \
		assert_int_equal(v.result, want);                                         \
	} while (0)
	RUN(plain);
	RUN(p);
	assert_int_equal(v.entries, 0);
	void *step = bpfrt_prog_func(p, "step");
	assert_non_null(step);
	struct bpfrt_attach_opts fe = { .sz = sizeof(fe), .kind = BPFRT_ATTACH_FENTRY, .nargs = 1 };
	struct bpfrt_attach_opts fx = { .sz = sizeof(fx), .kind = BPFRT_ATTACH_FEXIT, .nargs = 1 };
	for (int round = 1; round <= 2; round++) {
		bpfrt_link *l1, *l2;
		if (bpfrt_prog_attach(on, step, &fe, &l1) != BPFRT_OK)
			fail_msg("attach: %s", bpfrt_prog_errmsg(on));
		if (bpfrt_prog_attach(onret, step, &fx, &l2) != BPFRT_OK)
			fail_msg("attach: %s", bpfrt_prog_errmsg(onret));
		RUN(p);
		assert_int_equal(v.entries, 10 * round);
		assert_int_equal(v.exits, 10 * round);
		assert_int_equal(v.last_arg, 14);
		assert_int_equal(v.last_ret, 43);
		RUN(p2); /* its own copies: not traced */
		RUN(plain);
		assert_int_equal(v.entries, 10 * round);
		assert_int_equal(bpfrt_link_detach(l2), BPFRT_OK); /* fentry only */
		RUN(p);
		assert_int_equal(v.entries, 10 * round + 10);
		assert_int_equal(v.exits, 10 * round);
		assert_int_equal(bpfrt_link_detach(l1), BPFRT_OK);
		RUN(p);
		assert_int_equal(v.entries, 10 * round + 10);
		v.entries = 10 * round; /* the next round counts from here */
		assert_int_equal(bpfrt_map_update(bss, &zero, &v, 0), 0);
	}
#undef RUN
	bpfrt_prog_free(on);
	bpfrt_prog_free(onret);
	bpfrt_prog_free(p);
	bpfrt_prog_free(p2);
	bpfrt_prog_free(plain);
	bpfrt_obj_free(obj);
	bpfrt_vm_free(vm);
}

/* A thread runs calls_step (its 10 inlined calls) without pause while
 * fentry on step is attached and detached 40 times: every run finishes
 * with the right result, and some runs were traced. */
struct inline_runner {
	bpfrt_prog *p;
	bpfrt_map *bss;
	int stop;
	uint64_t runs, bad;
};

static void *inline_runner(void *arg)
{
	struct inline_runner *a = arg;
	const uint64_t want = 3 * (5 + 6 + 7 + 8 + 9 + 10 + 11 + 12 + 13 + 14) + 10;
	uint8_t pkt[64] = { 0 };
	uint32_t zero = 0;
	while (!__atomic_load_n(&a->stop, __ATOMIC_RELAXED)) {
		uint64_t ret, v[5] = { 0 }; /* .bss: result, entries, exits, last_arg, last_ret */
		if (bpfrt_prog_run_packet(a->p, pkt, sizeof(pkt), &ret) != BPFRT_OK ||
		    bpfrt_map_lookup(a->bss, &zero, v) || v[0] != want)
			a->bad++;
		a->runs++;
	}
	return NULL;
}

static void inlined_calls_traced_while_running(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_obj *obj;
	assert_int_equal(bpfrt_obj_open(vm, obj_path("inline.o"), &obj), BPFRT_OK);
	struct bpfrt_load_opts o = { .sz = sizeof(o), .engine = BPFRT_ENGINE_JIT };
	bpfrt_prog *p = NULL, *on = NULL;
	if (bpfrt_obj_load_prog(obj, "calls_step", &o, &p) != BPFRT_OK ||
	    bpfrt_obj_load_prog(obj, "on_step", &o, &on) != BPFRT_OK)
		fail_msg("load: %s", bpfrt_vm_errmsg(vm));
	struct inline_runner a = { p, bpfrt_obj_map_by_name(obj, ".bss"), 0, 0, 0 };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, inline_runner, &a), 0);
	struct bpfrt_attach_opts fe = { .sz = sizeof(fe), .kind = BPFRT_ATTACH_FENTRY, .nargs = 1 };
	const char *failed = NULL;
	for (int i = 0; i < 40 && !failed; i++) {
		bpfrt_link *l;
		if (bpfrt_prog_attach(on, bpfrt_prog_func(p, "step"), &fe, &l) != BPFRT_OK) {
			failed = "attach";
			break;
		}
		usleep(200);
		if (bpfrt_link_detach(l) != BPFRT_OK)
			failed = "detach";
	}
	__atomic_store_n(&a.stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL); /* (before any failure: the thread must not outlive the test) */
	if (failed)
		fail_msg("%s: %s", failed, bpfrt_prog_errmsg(on));
	uint32_t zero = 0;
	uint64_t v[5];
	assert_int_equal(bpfrt_map_lookup(a.bss, &zero, v), 0);
	assert_int_equal(a.bad, 0);
	assert_true(a.runs > 0);
	assert_true(v[1] > 0 && v[1] <= 10 * a.runs); /* entries: some runs were traced */
	bpfrt_prog_free(on);
	bpfrt_prog_free(p);
	bpfrt_obj_free(obj);
	bpfrt_vm_free(vm);
}

/* An embedder's program type: objects name it by section, the verifier
 * holds its programs to its context and return range, they run on every
 * engine with bpfrt_prog_run_ctx. */
static void custom_prog_type(void **state)
{
	(void)state;
	static const struct { bpfrt_engine e; uint32_t flags; } engines[] = {
		{ BPFRT_ENGINE_INTERP, BPFRT_LOAD_SAFE }, { BPFRT_ENGINE_INTERP, 0 }, { BPFRT_ENGINE_JIT, 0 },
	};
	for (size_t e = 0; e < sizeof(engines) / sizeof(engines[0]); e++) {
		bpfrt_vm *vm = bpfrt_vm_new();
		struct bpfrt_prog_type t = { .sz = sizeof(t), .name = "myhook", .section = "myhook/", .ctx_size = 24,
					     .writable_off = 16, .writable_size = 8, .ret_min = 0, .ret_max = 1000 };
		uint32_t id = 0;
		assert_int_equal(bpfrt_vm_register_prog_type(vm, &t, &id), BPFRT_OK);
		assert_int_equal(id, BPFRT_PROG_TYPE_CUSTOM);
		assert_int_equal(bpfrt_vm_register_prog_type(vm, &t, NULL), BPFRT_EEXIST);
		struct bpfrt_prog_type bad = t;
		bad.name = "other";
		bad.section = "other";
		bad.writable_off = 20; /* past the context with its size */
		assert_int_equal(bpfrt_vm_register_prog_type(vm, &bad, NULL), BPFRT_EINVAL);
		bpfrt_obj *obj;
		assert_int_equal(bpfrt_obj_open(vm, obj_path("custom.o"), &obj), BPFRT_OK);
		struct bpfrt_obj_prog_info pi;
		assert_int_equal(bpfrt_obj_prog_info(obj, 0, &pi), BPFRT_OK);
		assert_string_equal(pi.type, "myhook");
		assert_int_equal(pi.type_id, id);
		struct bpfrt_load_opts o = { .sz = sizeof(o), .flags = engines[e].flags, .engine = engines[e].e };
		bpfrt_prog *p;
		if (bpfrt_obj_load_prog(obj, "mul", &o, &p) != BPFRT_OK)
			fail_msg("load: %s", bpfrt_vm_errmsg(vm));
		assert_int_equal(bpfrt_prog_type(p), id);
		uint64_t c[3] = { 6, 7, 0 }, r0;
		assert_int_equal(bpfrt_prog_run_ctx(p, c, sizeof(c), &r0), BPFRT_OK);
		assert_int_equal(c[2], 42);
		assert_int_equal(r0, 7);
		/* less than it reads: refused (safe mode: the access faults) */
		assert_int_equal(bpfrt_prog_run_ctx(p, c, 16, &r0),
				 engines[e].flags & BPFRT_LOAD_SAFE ? BPFRT_EFAULT : BPFRT_EINVAL);
		bpfrt_prog_free(p);
		static const char *const refused[][2] = {
			{ "bad_write", "invalid bpf_context access off=0 size=8 (write of myhook)" },
			{ "bad_ret", "should have been in [0, 1000]" },
			{ "past_end", "invalid bpf_context access off=24 size=1 (read of myhook)" },
		};
		for (size_t i = 0; i < 3; i++) {
			assert_int_equal(bpfrt_obj_load_prog(obj, refused[i][0], &o, &p), BPFRT_EREJECT);
			if (!strstr(bpfrt_vm_errmsg(vm), refused[i][1]))
				fail_msg("%s: %s", refused[i][0], bpfrt_vm_errmsg(vm));
		}
		bpfrt_obj_free(obj);
		bpfrt_vm_free(vm);
	}
}

/* The kernel on the remaining objects of tests/bpf (what it can run: not
 * the tracing ones, which it refuses here, nor custom.o's embedder type):
 * helpers.o's deterministic results (the probe reads of this process's
 * memory, the string compare, pid/tgid), arrlookup.o's lookups in and past
 * the array, progarray.o's target, skb.o's programs on a packet.  The same r0
 * and results as bpfrt's JIT. */
static bool kload(const char *name, struct bpf_object **out)
{
	libbpf_set_print(NULL);
	struct bpf_object *k = bpf_object__open_file(obj_path(name), NULL);
	if (!k || bpf_object__load(k)) {
		printf("SKIP kernel comparison: the kernel refused %s (%s)\n", name, strerror(errno));
		bpf_object__close(k);
		return false;
	}
	*out = k;
	return true;
}

static bpfrt_prog *bload(bpfrt_obj **obj, bpfrt_vm *vm, const char *name, const char *prog)
{
	if (bpfrt_obj_open(vm, obj_path(name), obj) != BPFRT_OK)
		fail_msg("open %s: %s", name, bpfrt_vm_errmsg(vm));
	struct bpfrt_load_opts o = { .sz = sizeof(o), .engine = BPFRT_ENGINE_JIT };
	bpfrt_prog *p;
	if (bpfrt_obj_load_prog(*obj, prog, &o, &p) != BPFRT_OK)
		fail_msg("load %s: %s", prog, bpfrt_vm_errmsg(vm));
	return p;
}

static void kernel_agrees_more(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_vm_set_trace(vm, trace_sink, NULL);
	struct bpf_object *k;
	bpfrt_obj *obj;
	/* helpers.o */
	static uint64_t secret = 0x1234567890abcdefull;
	struct hin mine = { .good = (uintptr_t)&secret, .bad = 8, .str = (uintptr_t)"hello" }, kern = mine;
	bpfrt_prog *p = bload(&obj, vm, "helpers.o", NULL);
	uint64_t r0;
	assert_int_equal(bpfrt_prog_run_ctx(p, &mine, sizeof(mine), &r0), BPFRT_OK);
	bpfrt_prog_free(p);
	bpfrt_obj_free(obj);
	if (!kload("helpers.o", &k))
		goto out;
	LIBBPF_OPTS(bpf_test_run_opts, th, .ctx_in = &kern, .ctx_size_in = sizeof(kern));
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(bpf_object__find_program_by_name(k, "helpers")), &th), 0);
	assert_int_equal(th.retval, (uint32_t)r0);
	assert_int_equal(kern.rc_good, mine.rc_good);
	assert_int_equal(kern.value, mine.value);
	assert_int_equal(kern.rc_bad, mine.rc_bad);
	assert_int_equal(kern.rc_str, mine.rc_str);
	assert_string_equal(kern.copy, mine.copy);
	assert_int_equal(kern.rc_bad_str, mine.rc_bad_str);
	assert_int_equal(kern.rc_cmp, mine.rc_cmp);
	assert_int_equal(kern.pid_tgid, mine.pid_tgid);
	assert_int_equal(kern.uid_gid, mine.uid_gid);
	assert_int_equal(kern.rc_str_legacy, mine.rc_str_legacy);
	bpf_object__close(k);
	/* arrlookup.o: the same values in both arrays, keys in range and past it */
	if (!kload("arrlookup.o", &k))
		goto out;
	p = bload(&obj, vm, "arrlookup.o", "lookup");
	bpfrt_map *arr = bpfrt_obj_map_by_name(obj, "arr");
	int karr = bpf_map__fd(bpf_object__find_map_by_name(k, "arr"));
	for (uint32_t key = 0; key < 5; key++) {
		uint64_t v[3] = { 100 + key, (uint64_t)(7 * key) | (uint64_t)9 << 32, 1000 * key };
		assert_int_equal(bpfrt_map_update(arr, &key, v, 0), 0);
		assert_int_equal(bpf_map_update_elem(karr, &key, v, 0), 0);
	}
	for (uint32_t key = 0; key < 8; key++) {
		struct args a = { .key = key }, ka = a;
		assert_int_equal(bpfrt_prog_run_ctx(p, &a, sizeof(a), &r0), BPFRT_OK);
		LIBBPF_OPTS(bpf_test_run_opts, ta, .ctx_in = &ka, .ctx_size_in = sizeof(ka));
		assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(bpf_object__find_program_by_name(k, "lookup")), &ta), 0);
		assert_int_equal(ta.retval, (uint32_t)r0);
		assert_int_equal(ka.out, a.out);
	}
	bpfrt_prog_free(p);
	bpfrt_obj_free(obj);
	bpf_object__close(k);
	/* progarray.o */
	if (!kload("progarray.o", &k))
		goto out;
	p = bload(&obj, vm, "progarray.o", "target");
	assert_int_equal(bpfrt_prog_run_ctx(p, NULL, 0, &r0), BPFRT_OK);
	LIBBPF_OPTS(bpf_test_run_opts, tp);
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(bpf_object__find_program_by_name(k, "target")), &tp), 0);
	assert_int_equal(tp.retval, (uint32_t)r0);
	bpfrt_prog_free(p);
	bpfrt_obj_free(obj);
	bpf_object__close(k);
	/* skb.o on packets (the kernel's skb: len, protocol, ingress_ifindex 1 as bpfrt's) */
	if (!kload("skb.o", &k))
		goto out;
	static const char *const skb_progs[] = { "fields", "mark", "coarse" };
	for (size_t i = 0; i < 3; i++) {
		p = bload(&obj, vm, "skb.o", skb_progs[i]);
		uint8_t pkt[60] = { 0 };
		pkt[12] = 0x08;
		pkt[13] = 0x06;
		uint8_t kpkt[60];
		memcpy(kpkt, pkt, sizeof(pkt));
		assert_int_equal(bpfrt_prog_run_packet(p, pkt, sizeof(pkt), &r0), BPFRT_OK);
		LIBBPF_OPTS(bpf_test_run_opts, ts, .data_in = kpkt, .data_size_in = sizeof(kpkt));
		assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(bpf_object__find_program_by_name(k, skb_progs[i])),
							&ts), 0);
		if (ts.retval != (uint32_t)r0)
			fail_msg("skb.o %s: the kernel returns %u, bpfrt %u", skb_progs[i], ts.retval, (uint32_t)r0);
		if (i == 2)
			assert_int_equal(r0, 1);
		bpfrt_prog_free(p);
		bpfrt_obj_free(obj);
	}
	bpf_object__close(k);
	/* mapbench.o: updates then lookups of each map kind, their sums */
	if (!kload("mapbench.o", &k))
		goto out;
	static const char *const mb[] = { "arr_update", "arr_lookup", "hash_update", "hash_lookup",
					  "lru_update", "lru_lookup" };
	assert_int_equal(bpfrt_obj_open(vm, obj_path("mapbench.o"), &obj), BPFRT_OK);
	for (size_t i = 0; i < 6; i++) {
		struct bpfrt_load_opts o = { .sz = sizeof(o), .engine = BPFRT_ENGINE_JIT };
		assert_int_equal(bpfrt_obj_load_prog(obj, mb[i], &o, &p), BPFRT_OK);
		assert_int_equal(bpfrt_prog_run_ctx(p, NULL, 0, &r0), BPFRT_OK);
		bpfrt_prog_free(p);
		LIBBPF_OPTS(bpf_test_run_opts, tm);
		assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(bpf_object__find_program_by_name(k, mb[i])), &tm), 0);
		if (tm.retval != (uint32_t)r0)
			fail_msg("mapbench.o %s: the kernel returns %u, bpfrt %u", mb[i], tm.retval, (uint32_t)r0);
		if (i & 1) /* the sum of what the updates stored at 256 of the keys */
			assert_int_equal(r0, 256 * 255 / 2);
	}
	bpfrt_obj_free(obj);
	bpf_object__close(k);
out:
	bpfrt_vm_free(vm);
}

/* ------------------------------------------------------------ callbacks */

/* callback.bpf.c's context */
struct cb_io {
	uint32_t n, stop;
	int64_t rc[6];
	uint64_t sum[4];
	char buf[64];
};

struct cb_case {
	const char *prog;
	uint32_t n, stop;
};

static const struct cb_case cb_cases[] = {
	{ "loop", 10, 100 }, { "loop", 10, 4 }, { "loop", 0, 0 }, { "loop", 1000, 999 }, { "loop", 100000, 1u << 30 },
	{ "nested", 6, 0 }, { "nested", 31, 0 },
	{ "each", 0, 5 }, { "each", 0, 100 },
	{ "print", 77, 0 },
	{ "pick", 10, 1 }, { "pick", 10, 0 }, { "pick", 1u << 24, 0 },
};
#define NCB (sizeof(cb_cases) / sizeof(cb_cases[0]))

/* What a run leaves: the context, then the maps. */
struct cb_out {
	struct cb_io io;
	uint64_t r0;
	uint64_t arr[8], hash_sum, hash_n, pcpu[4];
};

static void cb_fill_maps(bpfrt_map *arr, bpfrt_map *hash, int karr, int khash)
{
	for (uint32_t k = 0; k < 8; k++) {
		uint64_t v = 10 + k * k;
		if (arr)
			assert_int_equal(bpfrt_map_update(arr, &k, &v, 0), 0);
		if (karr >= 0)
			assert_int_equal(bpf_map_update_elem(karr, &k, &v, 0), 0);
	}
	for (uint32_t k = 1; k <= 40; k += 3) {
		uint64_t v = k * 1000;
		if (hash)
			assert_int_equal(bpfrt_map_update(hash, &k, &v, 0), 0);
		if (khash >= 0)
			assert_int_equal(bpf_map_update_elem(khash, &k, &v, 0), 0);
	}
}

static void cb_bpfrt(bpfrt_engine engine, uint32_t flags, struct cb_out *out)
{
	for (size_t c = 0; c < NCB; c++) {
		bpfrt_vm *vm = bpfrt_vm_new();
		bpfrt_obj *obj;
		if (bpfrt_obj_open(vm, obj_path("callback.o"), &obj) != BPFRT_OK)
			fail_msg("open: %s", bpfrt_vm_errmsg(vm));
		struct bpfrt_load_opts o = { .sz = sizeof(o), .flags = flags, .engine = engine };
		bpfrt_prog *p;
		if (bpfrt_obj_load_prog(obj, cb_cases[c].prog, &o, &p) != BPFRT_OK)
			fail_msg("load %s: %s", cb_cases[c].prog, bpfrt_vm_errmsg(vm));
		bpfrt_map *arr = bpfrt_obj_map_by_name(obj, "arr"), *hash = bpfrt_obj_map_by_name(obj, "hash");
		bpfrt_map *pcpu = bpfrt_obj_map_by_name(obj, "pcpu");
		cb_fill_maps(arr, hash, -1, -1);
		struct cb_out *r = &out[c];
		memset(r, 0, sizeof(*r));
		r->io.n = cb_cases[c].n;
		r->io.stop = cb_cases[c].stop;
		if (bpfrt_prog_run_ctx(p, &r->io, sizeof(r->io), &r->r0) != BPFRT_OK)
			fail_msg("run %s: %s", cb_cases[c].prog, bpfrt_prog_errmsg(p));
		struct bpfrt_stats st;
		bpfrt_prog_stats(p, &st);
		if (!strcmp(cb_cases[c].prog, "loop"))
			assert_int_equal(st.loops_inlined, 3); /* every call but the one with flags 1 */
		if (!strcmp(cb_cases[c].prog, "pick"))
			assert_int_equal(st.loops_inlined, 0);
		for (uint32_t k = 0; k < 8; k++)
			assert_int_equal(bpfrt_map_lookup(arr, &k, &r->arr[k]), 0);
		uint32_t k, *prev = NULL, key;
		for (; bpfrt_map_get_next_key(hash, prev, &key) == 0; prev = &k) {
			uint64_t v;
			k = key;
			assert_int_equal(bpfrt_map_lookup(hash, &k, &v), 0);
			r->hash_sum += v + k;
			r->hash_n++;
		}
		for (k = 0; k < 4; k++) { /* per-CPU: the sum over the copies */
			uint64_t v[1024] = { 0 };
			assert_int_equal(bpfrt_map_lookup(pcpu, &k, v), 0);
			for (int i = 0; i < 1024; i++)
				r->pcpu[k] += v[i];
		}
		bpfrt_prog_free(p);
		bpfrt_obj_free(obj);
		bpfrt_vm_free(vm);
	}
}

static bool cb_kernel(struct cb_out *out)
{
	for (size_t c = 0; c < NCB; c++) {
		struct bpf_object *kobj = bpf_object__open_file(obj_path("callback.o"), NULL);
		if (!kobj || bpf_object__load(kobj)) {
			printf("SKIP kernel comparison: the kernel refused callback.o (%s)\n", strerror(errno));
			bpf_object__close(kobj);
			return false;
		}
		int karr = bpf_map__fd(bpf_object__find_map_by_name(kobj, "arr"));
		int khash = bpf_map__fd(bpf_object__find_map_by_name(kobj, "hash"));
		int kpcpu = bpf_map__fd(bpf_object__find_map_by_name(kobj, "pcpu"));
		cb_fill_maps(NULL, NULL, karr, khash);
		struct cb_out *r = &out[c];
		memset(r, 0, sizeof(*r));
		r->io.n = cb_cases[c].n;
		r->io.stop = cb_cases[c].stop;
		LIBBPF_OPTS(bpf_test_run_opts, topts, .ctx_in = &r->io, .ctx_size_in = sizeof(r->io));
		struct bpf_program *kp = bpf_object__find_program_by_name(kobj, cb_cases[c].prog);
		if (bpf_prog_test_run_opts(bpf_program__fd(kp), &topts)) {
			printf("SKIP kernel comparison: BPF_PROG_TEST_RUN: %s\n", strerror(errno));
			bpf_object__close(kobj);
			return false;
		}
		r->r0 = topts.retval;
		for (uint32_t k = 0; k < 8; k++)
			assert_int_equal(bpf_map_lookup_elem(karr, &k, &r->arr[k]), 0);
		uint32_t k, *prev = NULL, key;
		for (; bpf_map_get_next_key(khash, prev, &key) == 0; prev = &k) {
			uint64_t v;
			k = key;
			assert_int_equal(bpf_map_lookup_elem(khash, &k, &v), 0);
			r->hash_sum += v + k;
			r->hash_n++;
		}
		int ncpu = libbpf_num_possible_cpus();
		for (k = 0; k < 4; k++) {
			uint64_t *v = calloc((size_t)ncpu, 8);
			assert_int_equal(bpf_map_lookup_elem(kpcpu, &k, v), 0);
			for (int i = 0; i < ncpu; i++)
				r->pcpu[k] += v[i];
			free(v);
		}
		bpf_object__close(kobj);
	}
	return true;
}

static void cb_print(const char *who, const struct cb_out *r)
{
	printf("  %s: r0 %" PRIu64 " rc %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " sum %" PRIu64 " %" PRIu64
	       " %" PRIu64 " %" PRIu64 " buf '%s' arr[0] %" PRIu64 " hash %" PRIu64 "/%" PRIu64 " pcpu %" PRIu64 "\n",
	       who, r->r0, r->io.rc[0], r->io.rc[1], r->io.rc[2], r->io.rc[3], r->io.sum[0], r->io.sum[1],
	       r->io.sum[2], r->io.sum[3], r->io.buf, r->arr[0], r->hash_n, r->hash_sum, r->pcpu[0]);
}

/* bpf_loop, bpf_for_each_map_elem and bpf_snprintf on every engine, and
 * in the kernel: the same contexts and maps after each case. */
static void callbacks_program(void **state)
{
	(void)state;
	static const struct { bpfrt_engine e; uint32_t flags; } engines[] = {
		{ BPFRT_ENGINE_INTERP, BPFRT_LOAD_SAFE }, { BPFRT_ENGINE_INTERP, 0 },
		{ BPFRT_ENGINE_INTERP_SWITCH, 0 }, { BPFRT_ENGINE_JIT, 0 }, { BPFRT_ENGINE_JIT, BPFRT_LOAD_BLIND },
	};
	struct cb_out mine[NCB], other[NCB];
	for (size_t e = 0; e < sizeof(engines) / sizeof(engines[0]); e++) {
		cb_bpfrt(engines[e].e, engines[e].flags, e ? other : mine);
		for (size_t c = 0; e && c < NCB; c++)
			if (memcmp(&mine[c], &other[c], sizeof(mine[c]))) {
				cb_print("safe", &mine[c]);
				cb_print("this", &other[c]);
				fail_msg("%s(%u, %u): engine %zu differs from the safe interpreter", cb_cases[c].prog,
					 cb_cases[c].n, cb_cases[c].stop, e);
			}
	}
	/* what the kernel's semantics give */
	assert_int_equal(mine[0].io.rc[0], 10);              /* loop(10): 10 iterations */
	assert_int_equal(mine[0].io.sum[0], 45);
	assert_int_equal(mine[0].io.rc[1], -EINVAL);
	assert_int_equal(mine[0].io.rc[2], (uint32_t)-E2BIG); /* inlined, as the kernel: a 32-bit -E2BIG */
	assert_int_equal(mine[0].io.rc[3], 0);
	assert_int_equal(mine[1].io.rc[0], 5);               /* stops at i == 4: 5 iterations */
	assert_int_equal(mine[1].io.sum[0], 6);
	assert_int_equal(mine[4].io.rc[0], 100000);
	assert_int_equal(mine[4].io.sum[2], 1);
	assert_int_equal(mine[5].io.sum[0], 56);             /* sum over i < 6 of (i+1)(i+2)/2 */
	assert_int_equal(mine[5].io.sum[1], 55);             /* sum of squares below 6 */
	assert_int_equal(mine[7].io.rc[0], 6);               /* the array, stopped at key 5 */
	assert_int_equal(mine[7].io.rc[1], 14);              /* every hash element */
	assert_int_equal(mine[7].io.rc[2], 4);
	assert_int_equal(mine[7].io.rc[3], -EINVAL);
	assert_int_equal(mine[7].hash_n, 14);
	assert_int_equal(mine[8].io.rc[0], 8);
	assert_int_equal(mine[8].arr[7], 2 * (10 + 49));     /* doubled by the callback */
	assert_int_equal(mine[7].pcpu[3], 4);
	assert_int_equal(mine[10].io.sum[0], 45);            /* not inlined: the helper runs add_cb */
	assert_int_equal(mine[11].io.sum[0], 90);            /* ... or twice_cb */
	assert_int_equal(mine[12].io.rc[0], -E2BIG);         /* the helper's 64-bit -E2BIG */
	assert_string_equal(mine[9].io.buf, "-42|   77|ab  |123456789abc|Z%|bpfrt|007");
	assert_int_equal(mine[9].io.rc[0], 41);              /* its length with the NUL */
	assert_int_equal(mine[9].io.rc[1], 41);              /* the same, cut to 8 bytes */
	assert_memory_equal(&mine[9].io.sum[0], "-42|   ", 8);
	assert_int_equal(mine[9].io.rc[2], 7);               /* "[]feed" */
	struct cb_out kern[NCB];
	if (!cb_kernel(kern))
		return;
	for (size_t c = 0; c < NCB; c++) {
		/* a hash map's iteration order is its own: compare what does not depend on it */
		if (memcmp(&mine[c], &kern[c], sizeof(mine[c]))) {
			cb_print("bpfrt ", &mine[c]);
			cb_print("kernel", &kern[c]);
			fail_msg("%s(%u, %u): the kernel's result differs", cb_cases[c].prog, cb_cases[c].n,
				 cb_cases[c].stop);
		}
	}
}

/* A callback value that is not a function of the program (a trusted
 * program passes anything): the safe interpreter faults with the reason. */
static void callback_bad_function(void **state)
{
	(void)state;
	/* r2 = 12345 (not an ld_func); bpf_loop(1, r2, 0, 0) */
	static const char *src = "mov %r1, 1\nmov %r2, 12345\nmov %r3, 0\nmov %r4, 0\ncall 181\nexit\n";
	bpfrt_vm *vm = bpfrt_vm_new();
	struct bpfrt_insn *insns;
	size_t n;
	char err[256];
	assert_int_equal(bpfrt_asm(src, &insns, &n, err, sizeof(err)), BPFRT_OK);
	struct bpfrt_load_opts o = { .sz = sizeof(o), .flags = BPFRT_LOAD_SAFE, .engine = BPFRT_ENGINE_INTERP };
	bpfrt_prog *p;
	assert_int_equal(bpfrt_prog_load(vm, insns, n, &o, &p), BPFRT_OK);
	free(insns);
	uint64_t r0;
	assert_int_equal(bpfrt_prog_run_mem(p, NULL, 0, &r0), BPFRT_EFAULT);
	assert_non_null(strstr(bpfrt_prog_errmsg(p), "insn 4: bpf_loop was given 0x3039 as a callback"));
	bpfrt_prog_free(p);
	bpfrt_vm_free(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(maps_program),
		cmocka_unit_test(kernel_agrees),
		cmocka_unit_test(xdp_program),
		cmocka_unit_test(helpers_program),
		cmocka_unit_test(ringbuf_program),
		cmocka_unit_test(prog_array_init),
		cmocka_unit_test(qstack_program),
		cmocka_unit_test(rodata_frozen_at_load),
		cmocka_unit_test(array_lookup_inlined),
		cmocka_unit_test(tail_calls),
		cmocka_unit_test(tail_call_sites),
		cmocka_unit_test(tail_call_stress),
		cmocka_unit_test(tail_call_poke_race),
		cmocka_unit_test(array_lookup_keys),
		cmocka_unit_test(corpus_loader_cases),
		cmocka_unit_test(malformed),
		cmocka_unit_test(tail_calls_traced),
		cmocka_unit_test(inlined_calls_traced),
		cmocka_unit_test(inlined_calls_traced_while_running),
		cmocka_unit_test(skb_context),
		cmocka_unit_test(kernel_agrees_more),
		cmocka_unit_test(custom_prog_type),
		cmocka_unit_test(callbacks_program),
		cmocka_unit_test(callback_bad_function),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
