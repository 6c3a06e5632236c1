// SPDX-License-Identifier: GPL-2.0
/* callback.bpf.c — helpers that call back into the program: bpf_loop,
 * bpf_for_each_map_elem (arrays, hashes, per-CPU arrays), nested and
 * early-stopping callbacks, a callback that calls a subprogram, and
 * bpf_snprintf.  Each program is a syscall program over struct io. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map;

struct io {
	__u32 n, stop;       /* in: iterations, where the callback stops */
	__s64 rc[6];         /* out: helper results */
	__u64 sum[4];
	char buf[64];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} pcpu SEC(".maps");

struct loop_ctx {
	__u64 sum, calls;
	__u32 stop;
};

static long add_cb(__u32 i, void *c)
{
	struct loop_ctx *l = c;
	l->calls++;
	if (i == l->stop)
		return 1;
	l->sum += i;
	return 0;
}

SEC("syscall")
int loop(struct io *io)
{
	struct loop_ctx l = { .stop = io->stop };
	io->rc[0] = bpf_loop(io->n, add_cb, &l, 0);
	io->sum[0] = l.sum;
	io->sum[1] = l.calls;
	io->rc[1] = bpf_loop(3, add_cb, &l, 1);          /* flags: -EINVAL */
	io->rc[2] = bpf_loop(1 << 24, add_cb, &l, 0);    /* too many: -E2BIG */
	io->rc[3] = bpf_loop(0, add_cb, &l, 0);
	if (l.sum > 100) /* the sum decides a branch: the verifier must keep it precise */
		io->sum[2] = 1;
	return l.calls == io->sum[1] ? 0 : 1;
}

static long twice_cb(__u32 i, void *c)
{
	((struct loop_ctx *)c)->sum += 2 * i;
	return 0;
}

/* one of two callbacks: not inlined (by the kernel or bpfrt), the helper runs them */
SEC("syscall")
int pick(struct io *io)
{
	struct loop_ctx l = { .stop = 1u << 31 };
	io->rc[0] = bpf_loop(io->n, io->stop & 1 ? add_cb : twice_cb, &l, 0);
	io->sum[0] = l.sum;
	return 0;
}

/* nested: each outer iteration runs an inner loop of i + 1 iterations */
struct nest_ctx {
	__u64 inner, outer;
};

static long inner_cb(__u32 i, void *c)
{
	((struct nest_ctx *)c)->inner += i + 1;
	return 0;
}

static __attribute__((noinline)) __u64 square(__u64 x)
{
	return x * x;
}

static long outer_cb(__u32 i, void *c)
{
	struct nest_ctx *n = c;
	bpf_loop(i + 1, inner_cb, c, 0);
	n->outer += square(i); /* a subprogram called from a callback */
	return 0;
}

SEC("syscall")
int nested(struct io *io)
{
	struct nest_ctx n = {};
	io->rc[0] = bpf_loop(io->n & 31, outer_cb, &n, 0);
	io->sum[0] = n.inner;
	io->sum[1] = n.outer;
	return 0;
}

struct each_ctx {
	__u64 sum, keys, seen;
	__u32 stop;
};

static long arr_cb(struct bpf_map *map, __u32 *key, __u64 *val, struct each_ctx *c)
{
	c->seen++;
	c->sum += *val;
	c->keys += *key;
	*val = *val * 2; /* values are writable */
	return *key == c->stop;
}

static long hash_cb(struct bpf_map *map, __u32 *key, __u64 *val, struct each_ctx *c)
{
	c->seen++;
	c->sum += *val;
	c->keys += *key;
	if (*key == c->stop)
		bpf_map_delete_elem(map, key); /* deleting the element being visited */
	return 0;
}

static long pcpu_cb(struct bpf_map *map, __u32 *key, __u64 *val, struct each_ctx *c)
{
	*val += *key + 1;
	c->sum += *val;
	return 0;
}

SEC("syscall")
int each(struct io *io)
{
	struct each_ctx a = { .stop = io->stop }, h = { .stop = io->stop }, p = {};
	io->rc[0] = bpf_for_each_map_elem(&arr, arr_cb, &a, 0);
	io->rc[1] = bpf_for_each_map_elem(&hash, hash_cb, &h, 0);
	io->rc[2] = bpf_for_each_map_elem(&pcpu, pcpu_cb, &p, 0);
	io->rc[3] = bpf_for_each_map_elem(&arr, arr_cb, &a, 1); /* flags: -EINVAL */
	io->sum[0] = a.sum + (a.keys << 32);
	io->sum[1] = a.seen + (h.seen << 16);
	io->sum[2] = h.sum + (h.keys << 32);
	io->sum[3] = p.sum;
	return 0;
}

SEC("syscall")
int print(struct io *io)
{
	static const char fmt[] = "%d|%5u|%-4x|%llx|%c%%|%s|%03d";
	static const char name[] = "bpfrt";
	__u64 args[7] = { (__u64)-42, io->n, 0xab, 0x123456789abcull, 'Z', (__u64)name, 7 };
	char buf[64] = {}, small[8] = {};
	io->rc[0] = bpf_snprintf(buf, sizeof(buf), fmt, args, sizeof(args));
	__builtin_memcpy(io->buf, buf, sizeof(buf));
	io->rc[1] = bpf_snprintf(small, sizeof(small), fmt, args, sizeof(args)); /* cut */
	__builtin_memcpy(&io->sum[0], small, 8);
	static const char bad[] = "[%s]%x";
	__u64 bad_args[2] = { 16, 0xfeed }; /* a string at an address that does not read: empty */
	io->rc[2] = bpf_snprintf(small, sizeof(small), bad, bad_args, sizeof(bad_args));
	__builtin_memcpy(&io->sum[1], small, 8);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
