// SPDX-License-Identifier: GPL-2.0
/* skb.bpf.c — __sk_buff fields: packet pointers, scalars read and written
 * (the context accesses the rewrite converts). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int fields(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	if (data + 14 > end)
		return 1;
	skb->mark = skb->len + ((__u8 *)data)[13];
	return skb->ingress_ifindex + 10 + (skb->mark << 8);
}

SEC("tc")
int mark(struct __sk_buff *skb)
{
	skb->mark = skb->priority * 2;
	skb->cb[1] = skb->len + skb->cb[0];
	return skb->mark;
}

SEC("tc")
int coarse(struct __sk_buff *skb)
{
	__u64 t = bpf_ktime_get_coarse_ns();
	return t > 0 && bpf_ktime_get_coarse_ns() >= t;
}

char LICENSE[] SEC("license") = "GPL";
