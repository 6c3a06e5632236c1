// SPDX-License-Identifier: GPL-2.0
/* helpers.bpf.c — the helpers a tracing program uses: reading memory that
 * may be bad (probe_read, probe_read_str), the current task, time,
 * trace_printk, strncmp.  Run with struct in as its context. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct in {
	__u64 good;      /* an address that reads */
	__u64 bad;       /* one that does not */
	__u64 str;       /* a string's address */
	__s64 rc_good, rc_bad, rc_str, rc_bad_str, rc_cmp;
	__u64 value, pid_tgid, t0, t1, boot;
	char copy[16];
	char comm[16];
	__u64 uid_gid, cpu, coarse, rnd[2];
	__s64 rc_kernel, rc_kernel_str, rc_str_legacy;
	__u64 kvalue;
	char kcopy[8];
};

SEC("syscall")
int helpers(struct in *ctx)
{
	__u64 good = ctx->good, bad = ctx->bad, str = ctx->str, v = 0;
	char buf[16];
	ctx->rc_good = bpf_probe_read_user(&v, sizeof(v), (void *)good);
	ctx->value = v;
	ctx->rc_bad = bpf_probe_read_user(&v, sizeof(v), (void *)bad);
	ctx->rc_str = bpf_probe_read_user_str(buf, sizeof(buf), (void *)str);
	__builtin_memcpy(ctx->copy, buf, sizeof(buf));
	ctx->rc_bad_str = bpf_probe_read_user_str(buf, sizeof(buf), (void *)bad);
	char cmp[16], comm[16];
	__builtin_memcpy(cmp, ctx->copy, sizeof(cmp));
	ctx->rc_cmp = bpf_strncmp(cmp, sizeof(cmp), "hello"); /* (memory of the stack: the kernel
								 * takes no context as helper memory) */
	ctx->pid_tgid = bpf_get_current_pid_tgid();
	bpf_get_current_comm(comm, sizeof(comm));
	__builtin_memcpy(ctx->comm, comm, sizeof(comm));
	ctx->t0 = bpf_ktime_get_ns();
	ctx->boot = bpf_ktime_get_boot_ns();
	bpf_printk("value %llu, pid %u", v, (__u32)(ctx->pid_tgid >> 32));
	ctx->t1 = bpf_ktime_get_ns();
	ctx->uid_gid = bpf_get_current_uid_gid();
	ctx->cpu = bpf_get_smp_processor_id();
	ctx->coarse = 1; /* (bpf_ktime_get_coarse_ns: not for syscall programs; skb.o has it) */
	ctx->rnd[0] = bpf_get_prandom_u32();
	ctx->rnd[1] = bpf_get_prandom_u32();
	/* bpfrt's "kernel" memory is the process's; the kernel refuses user addresses */
	__u64 kv = 0;
	char kc[8];
	ctx->rc_kernel = bpf_probe_read_kernel(&kv, sizeof(kv), (void *)good);
	ctx->kvalue = kv;
	ctx->rc_kernel_str = bpf_probe_read_kernel_str(kc, sizeof(kc), (void *)str);
	__builtin_memcpy(ctx->kcopy, kc, sizeof(kc));
	ctx->rc_str_legacy = bpf_probe_read_str(kc, sizeof(kc), (void *)bad);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
