/*
 * ctx.c — program contexts: what a program of each type gets in r1 when it
 * runs on a packet.
 *
 * xdp: struct xdp_md; socket_filter, sched_cls, sched_act, cgroup_skb:
 * struct __sk_buff.  Their data and data_end fields are 32 bits wide, as the
 * programs read them; the kernel rewrites those loads into loads of 64-bit
 * pointers.  bpfrt keeps each thread's packet buffer below 4 GiB instead
 * (MAP_32BIT), so that the 32-bit fields hold the real addresses and every
 * program, verified or not, rewritten or not, reads correct pointers.
 */
#include "internal.h"

#include <linux/bpf.h>
#include <sys/mman.h>

struct pktbuf {
	uint8_t *p;
	size_t cap;
};
static __thread struct pktbuf tls_buf;
static pthread_key_t buf_key;
static pthread_once_t buf_once = PTHREAD_ONCE_INIT;

static void buf_free(void *arg)
{
	struct pktbuf *b = arg;
	if (b && b->p)
		munmap(b->p, b->cap);
}

static void buf_init(void)
{
	pthread_key_create(&buf_key, buf_free);
}

/* This thread's packet buffer, below 4 GiB, of at least len bytes. */
static uint8_t *low_buffer(size_t len)
{
	struct pktbuf *b = &tls_buf;
	if (b->p && b->cap >= len)
		return b->p;
	size_t cap = 65536;
	while (cap < len)
		cap *= 2;
	void *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (p == MAP_FAILED || (uintptr_t)p + cap > UINT32_MAX) {
		if (p != MAP_FAILED)
			munmap(p, cap);
		return NULL;
	}
	if (b->p)
		munmap(b->p, b->cap);
	pthread_once(&buf_once, buf_init);
	b->p = p;
	b->cap = cap;
	pthread_setspecific(buf_key, b);
	return b->p;
}

uint32_t bpfrt_prog_type(const bpfrt_prog *prog)
{
	return prog ? prog->type : 0;
}

int bpfrt_prog_run_packet(bpfrt_prog *prog, void *pkt, size_t len, uint64_t *r0)
{
	if (!prog || !r0 || (!pkt && len) || len > (64u << 20))
		return prog ? bpfrt_prog_fail(prog, BPFRT_EINVAL, "bpfrt_prog_run_packet: bad argument")
			    : BPFRT_EINVAL;
	uint32_t type = prog->type;
	bool xdp = type == BPF_PROG_TYPE_XDP;
	bool skb = type == BPF_PROG_TYPE_SOCKET_FILTER || type == BPF_PROG_TYPE_SCHED_CLS ||
		   type == BPF_PROG_TYPE_SCHED_ACT || type == BPF_PROG_TYPE_CGROUP_SKB;
	if (!xdp && !skb)
		return bpfrt_prog_run_mem(prog, pkt, len, r0);
	uint8_t *data = low_buffer(len + 1);
	if (!data)
		return bpfrt_prog_fail(prog, BPFRT_ENOMEM, "cannot map a packet buffer below 4 GiB");
	if (len)
		memcpy(data, pkt, len);
	uint32_t lo = (uint32_t)(uintptr_t)data, hi = (uint32_t)((uintptr_t)data + len);
	struct bpfrt_region packet = { (uintptr_t)data, (uintptr_t)data + len };
	int rc;
	if (xdp) {
		struct xdp_md ctx = { .data = lo, .data_end = hi, .data_meta = lo, .ingress_ifindex = 1 };
		struct bpfrt_region r = { (uintptr_t)&ctx, (uintptr_t)&ctx + sizeof(ctx) };
		rc = bpfrt_run(prog, (uintptr_t)&ctx, 0, &r, &packet, r0);
	} else {
		struct __sk_buff ctx;
		memset(&ctx, 0, sizeof(ctx));
		ctx.len = (uint32_t)len;
		ctx.data = lo;
		ctx.data_end = hi;
		ctx.data_meta = lo;
		ctx.ifindex = 1;
		ctx.ingress_ifindex = 1;
		if (len >= 14) /* the Ethernet type, in network order as the kernel's skb->protocol */
			ctx.protocol = (uint32_t)data[12] | (uint32_t)data[13] << 8;
		struct bpfrt_region r = { (uintptr_t)&ctx, (uintptr_t)&ctx + sizeof(ctx) };
		rc = bpfrt_run(prog, (uintptr_t)&ctx, 0, &r, &packet, r0);
	}
	if (len)
		memcpy(pkt, data, len);
	return rc;
}
