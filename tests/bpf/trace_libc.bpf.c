// SPDX-License-Identifier: GPL-2.0
/*
 * trace_libc.bpf.c — fexit and fmod_ret on libc functions of an unmodified
 * program (tests/cli.sh runs it under `bpfrt trace`): strlen is an ifunc
 * (the implementation the process uses is traced), getenv's return value
 * is replaced by fmod_ret (ls then sees no LS_COLORS... or anything).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <asm/ptrace.h>
#include <bpf/bpf_tracing.h>

char _license[] SEC("license") = "GPL";

__u64 strlen_calls, strlen_total;

SEC("fexit/strlen")
int BPF_PROG(strlen_exit, const char *s, __u64 ret)
{
	__sync_fetch_and_add(&strlen_calls, 1);
	__sync_fetch_and_add(&strlen_total, ret);
	return 0;
}

__u64 getenv_calls;

SEC("fmod_ret/getenv")
int BPF_PROG(no_env, const char *name, __u64 ret)
{
	char buf[8] = {};
	__sync_fetch_and_add(&getenv_calls, 1);
	bpf_probe_read_user_str(buf, sizeof(buf), name);
	if (buf[0] == 'C' && buf[1] == 'O' && buf[2] == 'L' && buf[3] == 'U')
		bpf_printk("getenv(COLUMNS) called");
	return 0;
}

/* uprobe / uretprobe, libbpf's section form */
__u64 opendir_calls, opendir_null;

SEC("uprobe//lib/x86_64-linux-gnu/libc.so.6:opendir")
int BPF_KPROBE(opendir_entry, const char *name)
{
	__sync_fetch_and_add(&opendir_calls, 1);
	return 0;
}

SEC("uretprobe//lib/x86_64-linux-gnu/libc.so.6:opendir")
int BPF_KRETPROBE(opendir_return, void *dir)
{
	if (!dir)
		__sync_fetch_and_add(&opendir_null, 1);
	return 0;
}
