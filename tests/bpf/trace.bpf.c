// SPDX-License-Identifier: GPL-2.0
/*
 * trace.bpf.c — fentry / fexit / fmod_ret programs on functions of the test
 * process (tests/unit/test_trace.c defines them), with the oracles of the
 * kernel's tracing tests: bpf_fentry_test1..N and their known sums, the
 * modify_return sequence and its (side_effect << 16) | ret encoding, the
 * get_func_args and get_func_ip tests.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <asm/ptrace.h>
#include <bpf/bpf_tracing.h>

char _license[] SEC("license") = "GPL";

/* Everything the programs find, in one .bss struct (test_trace.c mirrors it). */
struct results {
	__u64 fentry_ok[9], fexit_ok[9];
	__u64 mr_fentry_ok, mr_fmod_ok, mr_fexit_ok;
	__u64 args_fentry_ok, args_fexit_ok, func_ip;
	__u64 hits, recursed, wide_ret_lo, wide_ret_seen, dbl_seen;
	int sequence, input_retval;
	__u64 kp_hits, kp_args, kp_ip, kret_hits, kret_last, kret_sum;
	__u64 btf_ok, btf_pair;
} res;

/* ---- fentry: each sees its arguments ---- */

SEC("fentry/bpf_fentry_test1")
int BPF_PROG(fentry1, int a)
{
	res.fentry_ok[1] += a == 1;
	return 0;
}

SEC("fentry/bpf_fentry_test2")
int BPF_PROG(fentry2, int a, __u64 b)
{
	res.fentry_ok[2] += a == 2 && b == 3;
	return 0;
}

SEC("fentry/bpf_fentry_test3")
int BPF_PROG(fentry3, char a, int b, __u64 c)
{
	res.fentry_ok[3] += a == 4 && b == 5 && c == 6;
	return 0;
}

SEC("fentry/bpf_fentry_test4")
int BPF_PROG(fentry4, void *a, char b, int c, __u64 d)
{
	res.fentry_ok[4] += a == (void *)7 && b == 8 && c == 9 && d == 10;
	return 0;
}

SEC("fentry/bpf_fentry_test5")
int BPF_PROG(fentry5, __u64 a, void *b, short c, int d, __u64 e)
{
	res.fentry_ok[5] += a == 11 && b == (void *)12 && c == 13 && d == 14 && e == 15;
	return 0;
}

SEC("fentry/bpf_fentry_test6")
int BPF_PROG(fentry6, __u64 a, void *b, short c, int d, void *e, __u64 f)
{
	res.fentry_ok[6] += a == 16 && b == (void *)17 && c == 18 && d == 19 && e == (void *)20 && f == 21;
	return 0;
}

/* stack arguments: 7 and 8 */
SEC("fentry/bpf_fentry_test7")
int BPF_PROG(fentry7, __u64 a, void *b, short c, int d, void *e, char f, int g)
{
	res.fentry_ok[7] += a == 16 && b == (void *)17 && c == 18 && d == 19 && e == (void *)20 && f == 21 &&
			g == 22;
	return 0;
}

SEC("fentry/bpf_fentry_test8")
int BPF_PROG(fentry8, __u64 a, __u64 b, __u64 c, __u64 d, __u64 e, __u64 f, __u64 g, __u64 h)
{
	res.fentry_ok[8] += a == 1 && b == 2 && c == 3 && d == 4 && e == 5 && f == 6 && g == 7 && h == 8;
	return 0;
}

/* ---- fexit: arguments and the return value ---- */

SEC("fexit/bpf_fentry_test1")
int BPF_PROG(fexit1, int a, int ret)
{
	res.fexit_ok[1] += a == 1 && ret == 2;
	return 0;
}

SEC("fexit/bpf_fentry_test2")
int BPF_PROG(fexit2, int a, __u64 b, int ret)
{
	res.fexit_ok[2] += a == 2 && b == 3 && ret == 5;
	return 0;
}

SEC("fexit/bpf_fentry_test3")
int BPF_PROG(fexit3, char a, int b, __u64 c, int ret)
{
	res.fexit_ok[3] += a == 4 && b == 5 && c == 6 && ret == 15;
	return 0;
}

SEC("fexit/bpf_fentry_test4")
int BPF_PROG(fexit4, void *a, char b, int c, __u64 d, int ret)
{
	res.fexit_ok[4] += a == (void *)7 && b == 8 && c == 9 && d == 10 && ret == 34;
	return 0;
}

SEC("fexit/bpf_fentry_test5")
int BPF_PROG(fexit5, __u64 a, void *b, short c, int d, __u64 e, int ret)
{
	res.fexit_ok[5] += a == 11 && b == (void *)12 && c == 13 && d == 14 && e == 15 && ret == 65;
	return 0;
}

SEC("fexit/bpf_fentry_test6")
int BPF_PROG(fexit6, __u64 a, void *b, short c, int d, void *e, __u64 f, int ret)
{
	res.fexit_ok[6] += a == 16 && b == (void *)17 && c == 18 && d == 19 && e == (void *)20 && f == 21 &&
		       ret == 111;
	return 0;
}

SEC("fexit/bpf_fentry_test7")
int BPF_PROG(fexit7, __u64 a, void *b, short c, int d, void *e, char f, int g, int ret)
{
	res.fexit_ok[7] += a == 16 && b == (void *)17 && c == 18 && d == 19 && e == (void *)20 && f == 21 &&
		       g == 22 && ret == 133;
	return 0;
}

SEC("fexit/bpf_fentry_test8")
int BPF_PROG(fexit8, __u64 a, __u64 b, __u64 c, __u64 d, __u64 e, __u64 f, __u64 g, __u64 h, __u64 ret)
{
	res.fexit_ok[8] += a == 1 && b == 2 && c == 3 && d == 4 && e == 5 && f == 6 && g == 7 && h == 8 &&
		       ret == 36;
	return 0;
}

/* ---- modify_return: fentry, then fmod_ret, then fexit ---- */

SEC("fentry/bpf_modify_return_test")
int BPF_PROG(mr_fentry, int a, int *b)
{
	res.sequence++;
	res.mr_fentry_ok = res.sequence == 1;
	return 0;
}

SEC("fmod_ret/bpf_modify_return_test")
int BPF_PROG(mr_fmod_ret, int a, int *b, int ret)
{
	res.sequence++;
	/* the first fmod_ret program sees 0 */
	res.mr_fmod_ok = res.sequence == 2 && ret == 0;
	return res.input_retval;
}

SEC("fexit/bpf_modify_return_test")
int BPF_PROG(mr_fexit, int a, int *b, int ret)
{
	res.sequence++;
	/* the original ran (1 + *b, b from 2 to 3: 4), or the fmod_ret value */
	res.mr_fexit_ok = res.sequence == 3 && ret == (res.input_retval ? res.input_retval : 4);
	return 0;
}

/* ---- the helpers of tracing contexts ---- */

SEC("fentry/bpf_fentry_test2")
int args_fentry(void *ctx)
{
	__u64 a = 0, b = 0, z = 1, ret = 0;
	long e0 = bpf_get_func_arg(ctx, 0, &a), e1 = bpf_get_func_arg(ctx, 1, &b);
	long e2 = bpf_get_func_arg(ctx, 2, &z), er = bpf_get_func_ret(ctx, &ret);
	res.args_fentry_ok = bpf_get_func_arg_cnt(ctx) == 2 && !e0 && a == 2 && !e1 && b == 3 && e2 == -22 &&
			 z == 1 && er == -95;
	res.func_ip = bpf_get_func_ip(ctx);
	return 0;
}

SEC("fexit/bpf_fentry_test2")
int args_fexit(void *ctx)
{
	__u64 a = 0, b = 0, ret = 0;
	long e0 = bpf_get_func_arg(ctx, 0, &a), e1 = bpf_get_func_arg(ctx, 1, &b);
	long er = bpf_get_func_ret(ctx, &ret);
	res.args_fexit_ok = bpf_get_func_arg_cnt(ctx) == 2 && !e0 && a == 2 && !e1 && b == 3 && !er && ret == 5;
	return 0;
}

/* ---- counting, for the threads and the benchmark ---- */

SEC("fentry/bpf_trace_target")
int BPF_PROG(count_fentry, int a)
{
	__sync_fetch_and_add(&res.hits, 1);
	return 0;
}

SEC("fexit/bpf_trace_target")
int BPF_PROG(count_fexit, int a, int ret)
{
	__sync_fetch_and_add(&res.hits, 1);
	return 0;
}

SEC("fmod_ret/bpf_trace_target")
int BPF_PROG(count_fmod_ret, int a, int ret)
{
	__sync_fetch_and_add(&res.hits, 1);
	return 0;
}

/* a fmod_ret program that replaces the return value with 1000 + a */
SEC("fmod_ret/bpf_trace_target")
int BPF_PROG(override, int a, int ret)
{
	return 1000 + a;
}

/* a program that calls a function it traces (through the test's helper
 * 1000, which calls bpf_trace_target) is skipped there */

SEC("fentry/bpf_trace_target")
int BPF_PROG(recurse, int a)
{
	res.recursed++;
	((long (*)(long, long, long, long, long))1000)(a, 0, 0, 0, 0);
	return 0;
}

/* reads past the arguments of a 1-argument function: refused at attach */
SEC("fentry/bpf_fentry_test1")
int BPF_PROG(too_many_args, __u64 a, __u64 b, __u64 c)
{
	return a + b + c;
}

/* wider returns: a 16-byte struct (rax:rdx) and a double (xmm0) */

SEC("fexit/bpf_trace_wide")
int BPF_PROG(fexit_wide, __u64 a, __u64 ret)
{
	res.wide_ret_lo = ret;
	res.wide_ret_seen++;
	return 0;
}

SEC("fentry/bpf_trace_double")
int BPF_PROG(fentry_double, __u64 a)
{
	res.dbl_seen++;
	return 0;
}

SEC("fexit/bpf_trace_double")
int BPF_PROG(fexit_double, __u64 a, __u64 ret)
{
	res.dbl_seen++;
	return 0;
}

/* the same counting programs on the kernel's getpgid(2), for the benchmark's
 * side-by-side figures (bench/trace.c loads them into the kernel) */
SEC("fentry/__x64_sys_getpgid")
int BPF_PROG(k_fentry)
{
	__sync_fetch_and_add(&res.hits, 1);
	return 0;
}

SEC("fexit/__x64_sys_getpgid")
int BPF_PROG(k_fexit)
{
	__sync_fetch_and_add(&res.hits, 1);
	return 0;
}

SEC("fmod_ret/__x64_sys_getpgid")
int BPF_PROG(k_fmod_ret)
{
	__sync_fetch_and_add(&res.hits, 1);
	return 0;
}

/* empty programs: what the trampoline itself costs */
SEC("fentry/bpf_trace_target")
int BPF_PROG(empty_fentry)
{
	return 0;
}

SEC("fexit/bpf_trace_target")
int BPF_PROG(empty_fexit)
{
	return 0;
}

SEC("fmod_ret/bpf_trace_target")
int BPF_PROG(empty_fmod_ret)
{
	return 0;
}

/* the generic hook: uprobe / uretprobe programs, pt_regs contexts */
SEC("uprobe//proc/self/exe:bpf_probe_target")
int BPF_KPROBE(probe_entry, long a, long b)
{
	res.kp_hits++;
	res.kp_args = a * 1000 + b;
	res.kp_ip = bpf_get_func_ip(ctx);
	return 0;
}

SEC("uretprobe//proc/self/exe:bpf_probe_target")
int BPF_KRETPROBE(probe_return, long ret)
{
	res.kret_hits++;
	res.kret_last = ret;
	res.kret_sum += ret;
	return 0;
}

SEC("kretprobe/bpf_probe_recurse")
int BPF_KRETPROBE(recurse_return, long ret)
{
	res.kret_hits++;
	res.kret_sum += ret;
	return 0;
}

SEC("kprobe/bpf_probe_jumper")
int BPF_KPROBE(jumper_entry)
{
	res.kp_hits++;
	return 0;
}

SEC("kretprobe/bpf_probe_jumper")
int BPF_KRETPROBE(jumper_return, long ret)
{
	res.kret_hits++;
	res.kret_sum += ret;
	return 0;
}

/* the generic hook's counting and empty programs (bench/trace.c) */
SEC("kprobe/bpf_trace_target")
int BPF_KPROBE(count_kprobe)
{
	__sync_fetch_and_add(&res.hits, 1);
	return 0;
}

SEC("kretprobe/bpf_trace_target")
int BPF_KRETPROBE(count_kretprobe)
{
	__sync_fetch_and_add(&res.hits, 1);
	return 0;
}

SEC("kprobe/bpf_trace_target")
int BPF_KPROBE(empty_kprobe)
{
	return 0;
}

SEC("kretprobe/bpf_trace_target")
int BPF_KRETPROBE(empty_kretprobe)
{
	return 0;
}

/* functions of a library with BTF: the argument count comes from it */
SEC("fexit/btf_add3")
int BPF_PROG(btf_add3_exit, long a, int b, char c, long ret)
{
	res.btf_ok = a == 1 && b == 2 && c == 3 && ret == 6;
	return 0;
}

/* a 16-byte struct argument takes two slots */
SEC("fexit/btf_pair")
int BPF_PROG(btf_pair_exit, __u64 lo, __u64 hi, long k, long ret)
{
	res.btf_pair = lo * 1000 + hi * 100 + k * 10 + ret;
	return 0;
}

SEC("fexit/btf_dbl")
int BPF_PROG(btf_dbl_exit)
{
	return 0;
}

/* no arguments: the return value is ctx[0] */
SEC("fexit/bpf_fentry_test0")
int BPF_PROG(fexit0, int ret)
{
	res.fexit_ok[0] += ret == 42 && bpf_get_func_arg_cnt(ctx) == 0;
	return 0;
}
