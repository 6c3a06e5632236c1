// SPDX-License-Identifier: GPL-2.0
/* maps.bpf.c — a program as written for the kernel: BTF maps (array,
 * hash, percpu array, LRU hash), global data (.bss, .data, .rodata), a
 * .text subprogram, a bounded loop, atomics.  Run with struct args as its
 * context (SEC("syscall"): r1 = the context). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, __u64);
} table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} recent SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

__u64 total = 0;               /* .bss */
__u64 seed = 7;                /* .data */
const volatile __u32 mult = 3; /* .rodata */

struct args {
	__u32 key;
	__u32 n;
	__u64 out;
};

static __attribute__((noinline)) __u64 square(__u64 x)
{
	return x * x;
}

SEC("syscall")
int count(struct args *a)
{
	__u32 key = a->key, n = a->n; /* the kernel: no access through a moved ctx pointer */
	__u32 k = key & 3, zero = 0;
	__u64 *v = bpf_map_lookup_elem(&counters, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
	__u64 *h = bpf_map_lookup_elem(&hits, &zero);
	if (h)
		*h += 1;
	__u64 sum = 0;
	for (__u64 i = 0; i < 16; i++) { /* a bounded loop */
		if (i >= n)
			break;
		__u32 ik = (__u32)i;
		__u64 val = square(i) * mult + seed;
		bpf_map_update_elem(&table, &ik, &val, BPF_ANY);
		sum += val;
	}
	bpf_map_update_elem(&recent, &key, &n, BPF_ANY);
	__u32 gone = key + 1000;
	bpf_map_delete_elem(&table, &gone);
	total += sum;
	a->out = total;
	return (int)(sum & 0xffff);
}

char LICENSE[] SEC("license") = "GPL";
