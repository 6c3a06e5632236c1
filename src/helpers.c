/*
 * helpers.c — the helpers every vm starts with, under their Linux IDs.
 * Embedders add their own with bpfrt_vm_register_helper().
 */
#include "internal.h"
#include "map.h"

#include <sched.h>
#include <time.h>

/* 5: u64 bpf_ktime_get_ns(void) — CLOCK_MONOTONIC, as the kernel. */
static uint64_t h_ktime_get_ns(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	(void)a; (void)b; (void)c; (void)d; (void)e;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* 7: u32 bpf_get_prandom_u32(void) — a per-thread xorshift generator. */
static uint64_t h_get_prandom_u32(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	(void)a; (void)b; (void)c; (void)d; (void)e;
	static __thread uint64_t state;
	if (!state)
		state = h_ktime_get_ns(0, 0, 0, 0, 0) ^ (uintptr_t)&state ^ 0x9e3779b97f4a7c15ull;
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return (uint32_t)(state >> 16);
}

/* 8: u32 bpf_get_smp_processor_id(void): the run's per-CPU slot (map.c). */
static uint64_t h_get_smp_processor_id(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	(void)a; (void)b; (void)c; (void)d; (void)e;
	return bpfrt_cpu_slot();
}

/* 1: void *bpf_map_lookup_elem(map, key) */
static uint64_t h_map_lookup_elem(uint64_t map, uint64_t key, uint64_t c, uint64_t d, uint64_t e)
{
	(void)c; (void)d; (void)e;
	return (uintptr_t)bpfrt_map_lookup_prog((struct bpfrt_map *)(uintptr_t)map, (const void *)(uintptr_t)key);
}

/* 2: long bpf_map_update_elem(map, key, value, flags) */
static uint64_t h_map_update_elem(uint64_t map, uint64_t key, uint64_t value, uint64_t flags, uint64_t e)
{
	(void)e;
	return (uint64_t)(int64_t)bpfrt_map_update_raw((struct bpfrt_map *)(uintptr_t)map,
						       (const void *)(uintptr_t)key,
						       (const void *)(uintptr_t)value, flags, true);
}

/* 3: long bpf_map_delete_elem(map, key) */
static uint64_t h_map_delete_elem(uint64_t map, uint64_t key, uint64_t c, uint64_t d, uint64_t e)
{
	(void)c; (void)d; (void)e;
	return (uint64_t)(int64_t)bpfrt_map_delete_raw((struct bpfrt_map *)(uintptr_t)map,
						       (const void *)(uintptr_t)key);
}

int bpfrt_helpers_register_defaults(bpfrt_vm *vm)
{
	static const struct {
		uint32_t id;
		const char *name;
		bpfrt_helper_fn fn;
		uint8_t map_value, uses_cpu, map_args;
	} defaults[] = {
		{ 1, "bpf_map_lookup_elem", h_map_lookup_elem, 1, 1, 1 | 4 },
		{ 2, "bpf_map_update_elem", h_map_update_elem, 0, 1, 1 | 2 | 4 },
		{ 3, "bpf_map_delete_elem", h_map_delete_elem, 0, 0, 1 | 4 },
		{ 5, "bpf_ktime_get_ns", h_ktime_get_ns, 0, 0, 0 },
		{ 7, "bpf_get_prandom_u32", h_get_prandom_u32, 0, 0, 0 },
		{ 8, "bpf_get_smp_processor_id", h_get_smp_processor_id, 0, 1, 0 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(defaults); i++) {
		int rc = bpfrt_vm_register_helper(vm, defaults[i].id, defaults[i].name,
						  defaults[i].fn, 0);
		if (rc != BPFRT_OK)
			return rc;
		vm->helpers.slot[defaults[i].id].ret_map_value = defaults[i].map_value;
		vm->helpers.slot[defaults[i].id].uses_cpu = defaults[i].uses_cpu;
		vm->helpers.slot[defaults[i].id].map_args = defaults[i].map_args;
	}
	return BPFRT_OK;
}
