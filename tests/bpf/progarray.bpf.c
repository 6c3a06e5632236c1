// SPDX-License-Identifier: GPL-2.0
/* progarray.bpf.c — a prog_array initialised statically, as libbpf does:
 * slot 2 holds `target` once it is loaded. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("syscall")
int target(void *ctx)
{
	return 42;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, int(void *));
} jmp SEC(".maps") = {
	.values = { [2] = (void *)&target },
};

char LICENSE[] SEC("license") = "GPL";
