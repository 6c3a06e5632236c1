// SPDX-License-Identifier: GPL-2.0
/* mapbench.bpf.c — map lookups and updates in a loop, for `make bench`:
 * each program does 256 operations on one map type. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MAP(name, kind)                                   \
	struct {                                          \
		__uint(type, kind);                       \
		__uint(max_entries, 1024);                \
		__type(key, __u32);                       \
		__type(value, __u64);                     \
	} name SEC(".maps")

MAP(arr, BPF_MAP_TYPE_ARRAY);
MAP(hash, BPF_MAP_TYPE_HASH);
MAP(lru, BPF_MAP_TYPE_LRU_HASH);

#define OPS 256

#define LOOKUP(name, map)                                         \
	SEC("syscall") int name(void *ctx)                         \
	{                                                          \
		__u64 sum = 0;                                     \
		for (__u32 i = 0; i < OPS; i++) {                  \
			__u32 k = (i * 7) & 1023;                  \
			__u64 *v = bpf_map_lookup_elem(&map, &k); \
			if (v)                                     \
				sum += *v;                         \
		}                                                  \
		return (int)sum;                                   \
	}
#define UPDATE(name, map)                                         \
	SEC("syscall") int name(void *ctx)                         \
	{                                                          \
		for (__u32 i = 0; i < OPS; i++) {                  \
			__u32 k = (i * 7) & 1023;                  \
			__u64 v = i;                               \
			bpf_map_update_elem(&map, &k, &v, BPF_ANY);\
		}                                                  \
		return 0;                                          \
	}

LOOKUP(arr_lookup, arr)
UPDATE(arr_update, arr)
LOOKUP(hash_lookup, hash)
UPDATE(hash_update, hash)
LOOKUP(lru_lookup, lru)
UPDATE(lru_update, lru)

char LICENSE[] SEC("license") = "GPL";
