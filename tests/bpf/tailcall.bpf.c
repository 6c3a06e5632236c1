// SPDX-License-Identifier: GPL-2.0
/* tailcall.bpf.c — tail calls, as the kernel's prog_tests/tailcalls.c:
 * through a prog_array initialised statically; a failed tail call goes on;
 * a self-tail-calling chain stops at 33 tail calls; a tail call from a
 * subprogram replaces only the subprogram's frame (its caller goes on when
 * the target returns) and shares the run's one count, so a subprogram that
 * tail-calls into a program calling it again cannot loop forever (seed 004's
 * endless-loop case). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u32 self_runs = 0, loop_runs = 0, hops = 0, ind_runs = 0, sub_runs = 0, odd_done = 0;
volatile __u32 zero = 0; /* a key the verifier cannot know: indirect tail calls */
__u32 ring_runs = 0;

SEC("tc") int t0(struct __sk_buff *skb) { return 10; }
SEC("tc") int t1(struct __sk_buff *skb) { return 11; }
SEC("tc") int t2(struct __sk_buff *skb);
SEC("tc") int self(struct __sk_buff *skb);
SEC("tc") int loopy(struct __sk_buff *skb);
SEC("tc") int deep(struct __sk_buff *skb);
SEC("tc") int self_ind(struct __sk_buff *skb);
SEC("tc") int chain_sub(struct __sk_buff *skb);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 10);
	__type(key, __u32);
	__array(values, int(struct __sk_buff *));
} jmp SEC(".maps") = {
	.values = { [0] = (void *)&t0, [1] = (void *)&t1, [2] = (void *)&t2, [3] = (void *)&self,
		    [4] = (void *)&loopy, [5] = (void *)&deep, [8] = (void *)&self_ind, [9] = (void *)&chain_sub },
};

/* t2 hops on to t1: tail calls chain */
SEC("tc") int t2(struct __sk_buff *skb)
{
	hops++;
	bpf_tail_call(skb, &jmp, 1);
	return 12;
}

/* index from the packet's first byte: 0..2 land, 6 is empty, 12 is past the end */
SEC("tc") int entry(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	if (data + 1 > end)
		return -1;
	__u32 i = *(__u8 *)data;
	bpf_tail_call(skb, &jmp, i);
	return 100 + i;
}

SEC("tc") int self(struct __sk_buff *skb)
{
	self_runs++;
	bpf_tail_call(skb, &jmp, 3);
	return 1;
}

/* tailcall_6: tailcall_3 through the indirect path */
SEC("tc") int self_ind(struct __sk_buff *skb)
{
	ind_runs++;
	bpf_tail_call(skb, &jmp, 8 + zero);
	return 1;
}

SEC("tc") int start_self_ind(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jmp, 8 + zero);
	return 2;
}

SEC("tc") int start_self(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jmp, 3);
	return 2;
}

static __attribute__((noinline)) int sub_tail(struct __sk_buff *skb, __u32 i)
{
	int r = 7;
	bpf_tail_call(skb, &jmp, i);
	asm volatile("" : "+r"(r)); /* callers must not assume 7: a tail call returns the target's r0 */
	return r;
}

/* the subprogram's frame goes, main's stays: t0's 10 + 1000 */
SEC("tc") int from_sub(struct __sk_buff *skb)
{
	volatile __u64 keep = 1000; /* main's stack survives the tail call below it */
	int r = sub_tail(skb, 0);
	return r + (int)keep;
}

/* a failed tail call in a subprogram: 7 + 2000 */
SEC("tc") int from_sub_miss(struct __sk_buff *skb)
{
	return sub_tail(skb, 6) + 2000;
}

/* loopy calls a subprogram that tail-calls loopy again: the one count stops it */
SEC("tc") int loopy(struct __sk_buff *skb)
{
	loop_runs++;
	return sub_tail(skb, 4) + 1;
}

/* a program with a deep stack tail-called from a subprogram */
SEC("tc") int deep(struct __sk_buff *skb)
{
	volatile char buf[400];
	buf[0] = 3;
	buf[399] = 4;
	return buf[0] + buf[399];
}

SEC("tc") int to_deep(struct __sk_buff *skb)
{
	return sub_tail(skb, 5) + 300;
}

/* tailcall_1: three direct sites in a row over their own array; deleting the
 * slots one by one moves the program on to the next */
SEC("tc") int c0(struct __sk_buff *skb) { return 20; }
SEC("tc") int c1(struct __sk_buff *skb) { return 21; }
SEC("tc") int c2(struct __sk_buff *skb) { return 22; }

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__array(values, int(struct __sk_buff *));
} jmp3 SEC(".maps") = {
	.values = { [0] = (void *)&c0, [1] = (void *)&c1, [2] = (void *)&c2 },
};

SEC("tc") int chain3(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jmp3, 0);
	bpf_tail_call(skb, &jmp3, 1);
	bpf_tail_call(skb, &jmp3, 2);
	return 3;
}

/* tailcall_5: constant keys, but a different one on each path: indirect */
SEC("tc") int two_keys(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	if (data + 1 > end)
		return -1;
	__u32 k = *(__u8 *)data ? 1 : 2;
	bpf_tail_call(skb, &jmp3, k);
	return 4;
}

/* direct tail calls: the key is a constant, the site is patched as slot 0 and
 * slot 7 change (7 starts empty) */
SEC("tc") int direct0(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jmp, 0);
	return 100;
}

SEC("tc") int direct7(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jmp, 7);
	return 107;
}

/* tailcall_bpf2bpf_2: a bpf-to-bpf call with stack data before each tail
 * call: the count's pointer survives the call, 33 */
static __attribute__((noinline)) int noise(struct __sk_buff *skb)
{
	volatile __u64 buf[3];
	buf[0] = skb->len;
	buf[2] = buf[0] + 1;
	return (int)buf[2] & 1;
}

SEC("tc") int chain_sub(struct __sk_buff *skb)
{
	sub_runs++;
	int r = noise(skb);
	bpf_tail_call(skb, &jmp, 9);
	return r;
}

SEC("tc") int start_chain_sub(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jmp, 9);
	return 5;
}

/* tailcall_bpf2bpf_3 / _6: subprograms two deep with stack data of sizes that
 * are not multiples of 8, a tail call from the inner one; the caller's data
 * survives and the target's answer comes back through both */
static __attribute__((noinline)) int inner(struct __sk_buff *skb, int k)
{
	volatile char pad[13];
	pad[0] = (char)k;
	pad[12] = 1;
	int r = sub_tail(skb, (__u32)k);
	return r + pad[0] + pad[12];
}

static __attribute__((noinline)) int outer(struct __sk_buff *skb, int k)
{
	volatile char data[21];
	data[20] = 40;
	int r = inner(skb, k);
	return r + data[20];
}

SEC("tc") int two_deep(struct __sk_buff *skb)
{
	volatile __u32 mine[3] = { 1, 2, 3 };
	int r = outer(skb, 1); /* t1: 11 comes back to inner: 11 + 2, then outer: + 40 */
	odd_done = mine[0] + mine[1] + mine[2];
	return r;
}

SEC("tc") int two_deep_miss(struct __sk_buff *skb)
{
	return outer(skb, 7); /* empty: inner's 7 + 7 + 1, then outer's 40 */
}

/* tailcall_bpf2bpf_4 / _5: two programs tail-call each other, each from a
 * subprogram of its own (direct sites), the count carried through every
 * frame: 33 tail calls, 34 runs, each run's frame kept under the next.
 * (clang sees the subprograms return 0, so each caller returns 1.)  With noise (the packet's first byte)
 * each subprogram first does array lookups, which the rewrite inlines: the
 * jumps around the tail calls move with the patched instructions. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} nop_tab SEC(".maps");

SEC("tc") int ring0(struct __sk_buff *skb);
SEC("tc") int ring1(struct __sk_buff *skb);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, int(struct __sk_buff *));
} ring SEC(".maps") = {
	.values = { [0] = (void *)&ring0, [1] = (void *)&ring1 },
};

static __attribute__((always_inline)) int noisy(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	if (data + 1 > end || !*(__u8 *)data)
		return 0;
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&nop_tab, &k);
	if (v)
		(*v)++;
	v = bpf_map_lookup_elem(&nop_tab, &k);
	return v ? (int)(*v & 0) : 0;
}

static __attribute__((noinline)) int ring_to1(struct __sk_buff *skb)
{
	int n = noisy(skb);
	bpf_tail_call(skb, &ring, 1);
	return n;
}

static __attribute__((noinline)) int ring_to0(struct __sk_buff *skb)
{
	int n = noisy(skb);
	bpf_tail_call(skb, &ring, 0);
	return n;
}

SEC("tc") int ring0(struct __sk_buff *skb)
{
	ring_runs++;
	return ring_to1(skb) + 1;
}

SEC("tc") int ring1(struct __sk_buff *skb)
{
	ring_runs++;
	return ring_to0(skb) + 1;
}

char LICENSE[] SEC("license") = "GPL";
