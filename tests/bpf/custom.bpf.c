// SPDX-License-Identifier: GPL-2.0
/* custom.bpf.c — programs of a type the embedder registers (test_obj.c's
 * "myhook": a 24-byte context, out writable, results 0..1000). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct hook_ctx {
	__u64 a, b;    /* read-only */
	__u64 out;     /* writable */
};

SEC("myhook/mul")
int mul(struct hook_ctx *c)
{
	c->out = c->a * c->b;
	return (c->a + c->b) & 1023 ? 7 : 8;
}

SEC("myhook/bad_write")
int bad_write(struct hook_ctx *c)
{
	c->a = 1; /* refused: a is read-only */
	return 0;
}

SEC("myhook/bad_ret")
int bad_ret(struct hook_ctx *c)
{
	return -1 - (int)(c->a & 1); /* refused: outside 0..1000 */
}

SEC("myhook/past_end")
int past_end(struct hook_ctx *c)
{
	return *(__u8 *)((char *)c + 24) & 1; /* refused: past the context */
}

char LICENSE[] SEC("license") = "GPL";
