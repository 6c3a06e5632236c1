// SPDX-License-Identifier: GPL-2.0
/* arrlookup.bpf.c — an array lookup with a key from the caller: in range,
 * and past the end (NULL), with a value whose size is no power of two (the
 * inlined lookup multiplies by its stride). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct val {
	__u64 x;
	__u32 y, z;
	__u64 w;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 5);
	__type(key, __u32);
	__type(value, struct val);
} arr SEC(".maps");

struct args {
	__u32 key, pad;
	__u64 out;
};

SEC("syscall") int lookup(struct args *a)
{
	__u32 k = a->key;
	struct val *v = bpf_map_lookup_elem(&arr, &k);
	if (!v)
		return -1;
	a->out = v->x + v->w;
	return (int)v->y;
}

/* An array inside an array of maps: which one is known at run time only, so
 * its lookups stay helper calls. */
struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps") = { .values = { [0] = &inner_a } };

SEC("syscall") int lookup_inner(struct args *a)
{
	__u32 zero = 0, k = a->key;
	void *m = bpf_map_lookup_elem(&outer, &zero);
	if (!m)
		return -2;
	__u64 *v = bpf_map_lookup_elem(m, &k);
	if (!v)
		return -1;
	return (int)*v;
}

char LICENSE[] SEC("license") = "GPL";
