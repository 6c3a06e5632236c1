// SPDX-License-Identifier: GPL-2.0
/* inline.bpf.c — a program that calls a small straight-line leaf
 * subprogram, which the JIT inlines at each call, and fentry / fexit
 * programs on that subprogram: test_obj.c checks that tracing still sees
 * every call, with its argument and its return value. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 base = 5, result = 0;
__u64 entries = 0, exits = 0, last_arg = 0, last_ret = 0;

static __attribute__((noinline)) __u64 step(__u64 x)
{
	return x * 3 + 1;
}

SEC("tc")
int calls_step(struct __sk_buff *skb)
{
	__u64 acc = 0;
	for (__u64 i = 0; i < 10; i++)
		acc += step(base + i);
	result = acc;
	return 0;
}

SEC("fentry/step")
int on_step(__u64 *ctx)
{
	entries++;
	last_arg = ctx[0];
	return 0;
}

SEC("fexit/step")
int on_step_ret(__u64 *ctx)
{
	exits++;
	last_ret = ctx[1];
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
