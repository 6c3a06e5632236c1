// SPDX-License-Identifier: GPL-2.0
/* qstack.bpf.c — a queue and a stack: pushes past the end (BPF_EXIST drops
 * the queue's oldest; the stack refuses with -E2BIG), peeks and pops. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 4);
	__type(value, __u32);
} q SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 4);
	__type(value, __u64);
} st SEC(".maps");

SEC("syscall")
int qs(void *ctx)
{
	__u64 acc = 0;
	for (__u32 i = 1; i <= 6; i++) {
		__u32 v = i * 10;
		__u64 w = i * 100;
		long r1 = bpf_map_push_elem(&q, &v, BPF_EXIST);
		long r2 = bpf_map_push_elem(&st, &w, 0);
		acc = acc * 3 + (r1 == 0) + 2 * (r2 == -7 /* E2BIG */);
	}
	__u32 v = 0;
	__u64 w = 0;
	if (bpf_map_peek_elem(&q, &v) == 0)
		acc = acc * 31 + v;
	if (bpf_map_pop_elem(&q, &v) == 0)
		acc = acc * 31 + v;
	if (bpf_map_pop_elem(&st, &w) == 0)
		acc = acc * 31 + w;
	if (bpf_map_peek_elem(&st, &w) == 0)
		acc = acc * 31 + w;
	if (bpf_map_push_elem(&q, &v, 1 << 3) != -22 /* EINVAL: a bad flag */)
		acc = 0;
	return (int)(acc & 0x7fffffff);
}

char LICENSE[] SEC("license") = "GPL";
