// SPDX-License-Identifier: GPL-2.0
/* ringbuf.bpf.c — a program that reports events through a ring buffer:
 * reserve/submit, reserve/discard, output. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct event {
	__u32 seq;
	__u32 kind;
	__u64 value;
};

struct in {
	__u32 n;
	__u32 pad;
};

SEC("syscall")
int report(struct in *ctx)
{
	__u32 n = ctx->n;
	for (__u32 i = 0; i < 8; i++) {
		if (i >= n)
			break;
		struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
		if (!e)
			return -1;
		e->seq = i;
		e->kind = 1;
		e->value = (__u64)i * 100;
		if (i == 3)
			bpf_ringbuf_discard(e, 0); /* the consumer never sees it */
		else
			bpf_ringbuf_submit(e, 0);
	}
	struct event last = { .seq = 99, .kind = 2, .value = n };
	bpf_ringbuf_output(&events, &last, sizeof(last), 0);
	return (int)bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
}

char LICENSE[] SEC("license") = "GPL";
