// SPDX-License-Identifier: GPL-2.0
/*
 * malloc_count.bpf.c — counts the malloc, calloc, realloc and free calls of
 * a program and the bytes it asks for, and the sizes by power of two:
 *
 *     make build/examples/malloc_count.o
 *     build/bpfrt trace build/examples/malloc_count.o -- ls /
 *
 * written exactly as for the kernel (fentry programs, BPF_PROG, global
 * variables, a hash map); bpfrt trace prints the variables and the map when
 * `ls` exits.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char _license[] SEC("license") = "GPL";

__u64 malloc_calls, calloc_calls, realloc_calls, free_calls, bytes;

/* log2(size) -> calls */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} sizes SEC(".maps");

static __always_inline void account(__u64 size)
{
	__u32 bucket = 0;
	__sync_fetch_and_add(&bytes, size);
	while (size > 1 && bucket < 63) {
		size >>= 1;
		bucket++;
	}
	__u64 one = 1, *n = bpf_map_lookup_elem(&sizes, &bucket);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&sizes, &bucket, &one, BPF_NOEXIST);
}

SEC("fentry/malloc")
int BPF_PROG(on_malloc, __u64 size)
{
	__sync_fetch_and_add(&malloc_calls, 1);
	account(size);
	return 0;
}

SEC("fentry/calloc")
int BPF_PROG(on_calloc, __u64 n, __u64 size)
{
	__sync_fetch_and_add(&calloc_calls, 1);
	account(n * size);
	return 0;
}

SEC("fentry/realloc")
int BPF_PROG(on_realloc, void *p, __u64 size)
{
	__sync_fetch_and_add(&realloc_calls, 1);
	account(size);
	return 0;
}

SEC("fentry/free")
int BPF_PROG(on_free, void *p)
{
	if (p)
		__sync_fetch_and_add(&free_calls, 1);
	return 0;
}
