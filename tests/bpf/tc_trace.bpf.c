// SPDX-License-Identifier: GPL-2.0
/* tc_trace.bpf.c — fentry / fexit programs on JITed BPF functions (the
 * kernel's tailcall_bpf2bpf_fentry / _fexit / _fentry_fexit / _fentry_entry
 * and the hierarchy variants): test_obj.c attaches them to tailcall.o's
 * programs and subprograms (bpfrt_prog_func) and counts. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 fentry_hits = 0, fexit_hits = 0, entry_hits = 0;

SEC("fentry/ring_to1")
int on_call(__u64 *ctx)
{
	fentry_hits++;
	return 0;
}

SEC("fexit/ring_to1")
int on_return(__u64 *ctx)
{
	fexit_hits++;
	return 0;
}

SEC("fentry/ring0")
int on_entry(__u64 *ctx)
{
	entry_hits++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
