/*
 * test_map.c — maps: the kernel's semantics and errors per type, and a
 * multithreaded stress test (threads updating, looking up and deleting a
 * fixed number of times while a program runs on the same map; the totals
 * must balance; clean under SAN=thread).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/bpf.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "map.h"

static struct bpfrt_map *mk(uint32_t type, uint32_t ks, uint32_t vs, uint32_t max)
{
	struct bpfrt_map *m;
	struct bpfrt_err err;
	if (bpfrt_map_create(type, ks, vs, max, 0, "t", &m, &err) != BPFRT_OK)
		fail_msg("create: %s", err.msg);
	return m;
}

static void array_semantics(void **state)
{
	(void)state;
	struct bpfrt_map *m = mk(BPF_MAP_TYPE_ARRAY, 4, 8, 4);
	uint32_t k = 2;
	uint64_t v = 7, out = 1;
	assert_int_equal(bpfrt_map_lookup(m, &k, &out), 0);
	assert_int_equal(out, 0); /* arrays start zeroed */
	assert_int_equal(bpfrt_map_update(m, &k, &v, BPF_ANY), 0);
	assert_int_equal(bpfrt_map_update(m, &k, &v, BPF_NOEXIST), -EEXIST);
	assert_int_equal(bpfrt_map_update(m, &k, &v, BPF_EXIST), 0);
	assert_int_equal(bpfrt_map_update(m, &k, &v, 7), -EINVAL);
	assert_int_equal(bpfrt_map_lookup(m, &k, &out), 0);
	assert_int_equal(out, 7);
	k = 4;
	assert_int_equal(bpfrt_map_update(m, &k, &v, BPF_ANY), -E2BIG);
	assert_int_equal(bpfrt_map_lookup(m, &k, &out), -ENOENT);
	assert_int_equal(bpfrt_map_delete(m, &k), -EINVAL);
	uint32_t next;
	assert_int_equal(bpfrt_map_get_next_key(m, NULL, &next), 0);
	assert_int_equal(next, 0);
	k = 3;
	assert_int_equal(bpfrt_map_get_next_key(m, &k, &next), -ENOENT);
	bpfrt_map_put(m);
}

static void hash_semantics(void **state)
{
	(void)state;
	struct bpfrt_map *m = mk(BPF_MAP_TYPE_HASH, 8, 4, 3);
	uint64_t k = 1;
	uint32_t v = 10, out;
	assert_int_equal(bpfrt_map_lookup(m, &k, &out), -ENOENT);
	assert_int_equal(bpfrt_map_update(m, &k, &v, BPF_EXIST), -ENOENT);
	assert_int_equal(bpfrt_map_update(m, &k, &v, BPF_NOEXIST), 0);
	assert_int_equal(bpfrt_map_update(m, &k, &v, BPF_NOEXIST), -EEXIST);
	v = 11;
	assert_int_equal(bpfrt_map_update(m, &k, &v, BPF_EXIST), 0);
	assert_int_equal(bpfrt_map_lookup(m, &k, &out), 0);
	assert_int_equal(out, 11);
	k = 2;
	assert_int_equal(bpfrt_map_update(m, &k, &v, BPF_ANY), 0);
	k = 3;
	assert_int_equal(bpfrt_map_update(m, &k, &v, BPF_ANY), 0);
	k = 4;
	assert_int_equal(bpfrt_map_update(m, &k, &v, BPF_ANY), -E2BIG); /* full */
	k = 3;
	assert_int_equal(bpfrt_map_update(m, &k, &v, BPF_ANY), 0); /* replacing is fine when full */
	assert_int_equal(bpfrt_map_lookup_and_delete(m, &k, &out), 0);
	assert_int_equal(bpfrt_map_delete(m, &k), -ENOENT);
	/* iteration: every key once; a missing key restarts */
	uint64_t key, next;
	int n = 0;
	bool have = false;
	while (bpfrt_map_get_next_key(m, have ? &key : NULL, &next) == 0) {
		key = next;
		have = true;
		n++;
	}
	assert_int_equal(n, 2);
	key = 99;
	assert_int_equal(bpfrt_map_get_next_key(m, &key, &next), 0);
	bpfrt_map_put(m);
}

static void lru_evicts(void **state)
{
	(void)state;
	struct bpfrt_map *m = mk(BPF_MAP_TYPE_LRU_HASH, 4, 4, 8);
	for (uint32_t k = 0; k < 100; k++)
		assert_int_equal(bpfrt_map_update(m, &k, &k, BPF_ANY), 0); /* never full */
	uint32_t out, k = 99;
	assert_int_equal(bpfrt_map_lookup(m, &k, &out), 0); /* the newest stays */
	assert_int_equal(out, 99);
	assert_true(m->count <= 8);
	bpfrt_map_put(m);
}

/* A program's lookup makes an element recent: it outlives older ones. */
static void lru_lookup_keeps(void **state)
{
	(void)state;
	struct bpfrt_map *m = mk(BPF_MAP_TYPE_LRU_HASH, 4, 4, 8);
	for (uint32_t k = 0; k < 8; k++)
		assert_int_equal(bpfrt_map_update(m, &k, &k, BPF_ANY), 0);
	uint32_t zero = 0, out;
	bpfrt_rcu_enter();
	assert_non_null(bpfrt_map_lookup_prog(m, &zero));
	bpfrt_rcu_exit();
	for (uint32_t k = 8; k < 12; k++) /* four evictions: of the least recently used */
		assert_int_equal(bpfrt_map_update(m, &k, &k, BPF_ANY), 0);
	assert_int_equal(bpfrt_map_lookup(m, &zero, &out), 0);
	uint32_t one = 1;
	assert_int_equal(bpfrt_map_lookup(m, &one, &out), -ENOENT);
	bpfrt_map_put(m);
}

static void percpu_values(void **state)
{
	(void)state;
	struct bpfrt_map *m = mk(BPF_MAP_TYPE_PERCPU_HASH, 4, 4, 4);
	uint32_t n = m->ncpu, k = 1;
	uint64_t *v = calloc(n, 8), *out = calloc(n, 8);
	for (uint32_t c = 0; c < n; c++)
		v[c] = 100 + c; /* each value rounded up to 8 bytes */
	assert_int_equal(bpfrt_map_update(m, &k, v, BPF_ANY), 0);
	assert_int_equal(bpfrt_map_lookup(m, &k, out), 0);
	for (uint32_t c = 0; c < n; c++)
		assert_int_equal((uint32_t)out[c], 100 + c);
	free(v);
	free(out);
	bpfrt_map_put(m);
}

/* ----------------------------------------------------------- stress */

#define THREADS 4
#define OPS 20000

struct stress {
	struct bpfrt_map *m;
	int id;
	long added, removed;
};

static void *stress_thread(void *arg)
{
	struct stress *s = arg;
	uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(s->id + 1);
	for (int i = 0; i < OPS; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint32_t k = (uint32_t)(x % 64), v[4] = { k * 3, k, ~k, k * 5 }, out[4];
		switch (x >> 60) {
		case 0: case 1: case 2: case 3: case 4:
			if (bpfrt_map_update(s->m, &k, v, BPF_NOEXIST) == 0)
				s->added++;
			break;
		case 5: /* rewrites an element: in place (4-byte values) or replaced */
			bpfrt_map_update(s->m, &k, v, BPF_EXIST);
			break;
		case 6: case 7: case 8: case 9:
			if (bpfrt_map_delete(s->m, &k) == 0)
				s->removed++;
			break;
		default: /* values stay consistent with their keys */
			if (bpfrt_map_lookup(s->m, &k, out) == 0 &&
			    memcmp(out, v, s->m->value_size))
				abort();
			break;
		}
	}
	return NULL;
}

static void stress_hash(void **state)
{
	(void)state;
	for (int run = 0; run < 8; run++) {
		bool lru = run & 1;
		uint32_t vsize = run & 2 ? 16 : 4;
		/* runs 4..7: 16 entries for 64 keys, full most of the time: E2BIG,
		 * and LRU evictions racing with updates and deletes in other buckets */
		uint32_t max = run & 4 ? 16 : 1024;
		struct bpfrt_map *m = mk(lru ? BPF_MAP_TYPE_LRU_HASH : BPF_MAP_TYPE_HASH, 4, vsize, max);
		struct stress s[THREADS];
		pthread_t t[THREADS];
		for (int i = 0; i < THREADS; i++) {
			s[i] = (struct stress){ m, i, 0, 0 };
			pthread_create(&t[i], NULL, stress_thread, &s[i]);
		}
		long added = 0, removed = 0;
		for (int i = 0; i < THREADS; i++) {
			pthread_join(t[i], NULL);
			added += s[i].added;
			removed += s[i].removed;
		}
		/* what is left is what was added and not removed */
		uint32_t key, next;
		long left = 0;
		bool have = false;
		while (bpfrt_map_get_next_key(m, have ? &key : NULL, &next) == 0) {
			key = next;
			have = true;
			left++;
		}
		if (!(lru && max == 16)) /* evictions remove what no thread counted */
			assert_int_equal(left, added - removed);
		assert_true(left <= (long)max);
		assert_int_equal(m->count, left);
		bpfrt_map_put(m);
	}
}

/* Queue and stack maps from userspace: push = update, peek = lookup,
 * pop = lookup_and_delete (the key is ignored, as in the kernel). */
static void queue_stack(void **state)
{
	(void)state;
	struct bpfrt_map *bad;
	struct bpfrt_err err = { 0 };
	assert_int_equal(bpfrt_map_create(BPF_MAP_TYPE_QUEUE, 4, 4, 3, 0, "bad", &bad, &err), BPFRT_EINVAL);
	assert_non_null(strstr(err.msg, "key 4: must be 0"));
	for (int stack = 0; stack < 2; stack++) {
		struct bpfrt_map *m = mk(stack ? BPF_MAP_TYPE_STACK : BPF_MAP_TYPE_QUEUE, 0, 4, 3);
		uint32_t v, out;
		assert_int_equal(bpfrt_map_lookup(m, NULL, &out), -ENOENT);
		assert_int_equal(bpfrt_map_lookup_and_delete(m, NULL, &out), -ENOENT);
		for (v = 1; v <= 3; v++)
			assert_int_equal(bpfrt_map_update(m, NULL, &v, 0), 0);
		assert_int_equal(bpfrt_map_update(m, NULL, &v, 0), -E2BIG);   /* full */
		assert_int_equal(bpfrt_map_update(m, NULL, &v, 8), -EINVAL);  /* a bad flag */
		assert_int_equal(bpfrt_map_update(m, NULL, &v, BPF_EXIST), 0); /* 1 goes, 4 comes */
		assert_int_equal(bpfrt_map_delete(m, &v), -EINVAL);
		assert_int_equal(bpfrt_map_lookup(m, NULL, &out), 0);
		assert_int_equal(out, stack ? 4 : 2);
		static const uint32_t qorder[] = { 2, 3, 4 }, sorder[] = { 4, 3, 2 };
		for (int i = 0; i < 3; i++) {
			assert_int_equal(bpfrt_map_lookup_and_delete(m, NULL, &out), 0);
			assert_int_equal(out, stack ? sorder[i] : qorder[i]);
		}
		assert_int_equal(bpfrt_map_lookup_and_delete(m, NULL, &out), -ENOENT);
		/* the ring wraps: many rounds through 4 slots */
		for (v = 0; v < 1000; v++) {
			assert_int_equal(bpfrt_map_update(m, NULL, &v, 0), 0);
			assert_int_equal(bpfrt_map_lookup_and_delete(m, NULL, &out), 0);
			assert_int_equal(out, v);
		}
		bpfrt_map_put(m);
	}
}

static void prog_array_slots(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	struct bpfrt_map *pa = mk(BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4);
	struct bpfrt_insn in[] = { { .code = 0xb7, .imm = 1 }, { .code = 0x95 } };
	struct bpfrt_load_opts jit = { .sz = sizeof(jit), .engine = BPFRT_ENGINE_JIT };
	struct bpfrt_load_opts interp = { .sz = sizeof(interp), .engine = BPFRT_ENGINE_INTERP };
	bpfrt_prog *a, *b, *c;
	assert_int_equal(bpfrt_prog_load(vm, in, 2, &jit, &a), BPFRT_OK);
	assert_int_equal(bpfrt_prog_load(vm, in, 2, &jit, &b), BPFRT_OK);
	assert_int_equal(bpfrt_prog_load(vm, in, 2, &interp, &c), BPFRT_OK);
	assert_int_equal(bpfrt_map_update_prog(pa, 0, a), 0);
	assert_int_equal(bpfrt_map_update_prog(pa, 4, a), -E2BIG);
	assert_int_equal(bpfrt_map_update_prog(pa, 1, c), -EINVAL); /* JIT and interpreter never mix */
	assert_ptr_equal(bpfrt_map_prog_at(pa, 0), a);
	/* the array keeps its program alive after the owner lets go */
	bpfrt_prog_free(a);
	uint64_t r0;
	assert_int_equal(bpfrt_prog_run_mem(bpfrt_map_prog_at(pa, 0), NULL, 0, &r0), BPFRT_OK);
	assert_int_equal(r0, 1);
	assert_int_equal(bpfrt_map_update_prog(pa, 0, b), 0); /* a goes after a grace period */
	assert_int_equal(bpfrt_map_update_prog(pa, 0, NULL), 0);
	assert_null(bpfrt_map_prog_at(pa, 0));
	uint32_t k = 0, v = 0;
	assert_int_equal(bpfrt_map_update(pa, &k, &v, BPF_ANY), -EOPNOTSUPP);
	bpfrt_prog_free(b);
	bpfrt_prog_free(c);
	bpfrt_map_put(pa);
	bpfrt_vm_free(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(array_semantics),
		cmocka_unit_test(hash_semantics),
		cmocka_unit_test(lru_evicts),
		cmocka_unit_test(lru_lookup_keeps),
		cmocka_unit_test(percpu_values),
		cmocka_unit_test(stress_hash),
		cmocka_unit_test(prog_array_slots),
		cmocka_unit_test(queue_stack),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
