/*
 * ctx.c — program contexts: what a program of each type gets in r1 when it
 * runs on a packet.
 *
 * xdp: struct xdp_md; socket_filter, sched_cls, sched_act, cgroup_skb:
 * struct __sk_buff.  Their data, data_end and data_meta fields are 32 bits
 * wide as programs read them.  Two ways to give them real pointers:
 *
 *   - Converted (every verified program of these types): the rewrite turns
 *     each context access the verifier saw into an access of the context
 *     bpfrt builds, as the kernel does (its convert_ctx_access): the three
 *     pointer fields become 64-bit loads of
 *         struct real_ctx { u64 data, data_end, data_meta; UAPI struct; }
 *     and every other field moves by 24 bytes into the UAPI copy.  Runs
 *     then take the caller's packet where it is: no copy.
 *   - Not converted (trusted programs, which the verifier did not see):
 *     the UAPI struct itself, over a copy of the packet in a per-thread
 *     buffer below 4 GiB (MAP_32BIT), so the 32-bit fields hold the real
 *     addresses.
 *
 * Converted and unconverted programs never share a prog_array (map.c).
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
static struct bpfrt_once buf_once = BPFRT_ONCE_INIT;

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
	bpfrt_once(&buf_once, buf_init);
	b->p = p;
	b->cap = cap;
	pthread_setspecific(buf_key, b);
	return b->p;
}

static bool is_skb(uint32_t type)
{
	return type == BPF_PROG_TYPE_SOCKET_FILTER || type == BPF_PROG_TYPE_SCHED_CLS ||
	       type == BPF_PROG_TYPE_SCHED_ACT || type == BPF_PROG_TYPE_CGROUP_SKB;
}

struct real_ctx {
	uint64_t data, data_end, data_meta;
	union {
		struct xdp_md xdp;
		struct __sk_buff skb;
	} uapi;
};
#define REAL_SHIFT offsetof(struct real_ctx, uapi)

bool bpfrt_ctx_converts(uint32_t type)
{
	return type == BPF_PROG_TYPE_XDP || is_skb(type);
}

bool bpfrt_ctx_convert(uint32_t type, int16_t off, uint8_t size, int16_t *new_off, uint8_t *new_size)
{
	int16_t ptr[3];
	if (type == BPF_PROG_TYPE_XDP) {
		ptr[0] = offsetof(struct xdp_md, data);
		ptr[1] = offsetof(struct xdp_md, data_end);
		ptr[2] = offsetof(struct xdp_md, data_meta);
	} else if (is_skb(type)) {
		ptr[0] = offsetof(struct __sk_buff, data);
		ptr[1] = offsetof(struct __sk_buff, data_end);
		ptr[2] = offsetof(struct __sk_buff, data_meta);
	} else {
		return false;
	}
	for (int i = 0; i < 3; i++)
		if (off == ptr[i] && size == 4) {
			*new_off = (int16_t)(i * 8);
			*new_size = 8;
			return true;
		}
	*new_off = (int16_t)(off + (int16_t)REAL_SHIFT);
	*new_size = size;
	return true;
}

/* Zeroes n bytes (a multiple of 16) with 16-byte stores: a run's context is
 * cleared on every run, and for ~200 bytes the `rep stos` a memset becomes
 * costs more than the program (measured: 50 -> 20 ns per empty tc run). */
typedef uint64_t v16 __attribute__((vector_size(16), may_alias, aligned(8)));
static inline void zero16(void *p, size_t n)
{
	for (size_t i = 0; i < n / 16; i++)
		((v16 *)p)[i] = (v16){ 0, 0 };
}
_Static_assert(sizeof(struct __sk_buff) % 16 == 0 && sizeof(struct xdp_md) % 8 == 0, "ctx sizes");

/* The UAPI fields bpfrt gives meaning to, for a packet of len bytes at data. */
static void fill_uapi(uint32_t type, struct real_ctx *c, const uint8_t *data, size_t len)
{
	uint32_t lo = (uint32_t)(uintptr_t)data, hi = (uint32_t)((uintptr_t)data + len);
	if (type == BPF_PROG_TYPE_XDP) {
		c->uapi.xdp = (struct xdp_md){ .data = lo, .data_end = hi, .data_meta = lo, .ingress_ifindex = 1 };
		return;
	}
	struct __sk_buff *s = &c->uapi.skb;
	zero16(s, sizeof(*s));
	s->len = (uint32_t)len;
	s->data = lo;
	s->data_end = hi;
	s->data_meta = lo;
	s->ifindex = 1;
	s->ingress_ifindex = 0; /* as the kernel's test runs: skb_iif unset (ifindex: lo) */
	if (len >= 14) /* the Ethernet type, in network order as the kernel's skb->protocol */
		s->protocol = (uint32_t)data[12] | (uint32_t)data[13] << 8;
}

int bpfrt_ctx_run(bpfrt_prog *prog, void *uapi, size_t size, uint8_t *pkt, size_t len, uint64_t *r0)
{
	struct real_ctx c;
	size_t usize = prog->type == BPF_PROG_TYPE_XDP ? sizeof(struct xdp_md) : sizeof(struct __sk_buff);
	if (size > usize)
		size = usize;
	if (pkt) { /* fill_uapi sets every byte of the type's struct */
		c.data = c.data_meta = (uintptr_t)pkt;
		c.data_end = (uintptr_t)pkt + len;
		fill_uapi(prog->type, &c, pkt, len);
	} else {
		c.data = c.data_end = c.data_meta = 0;
		zero16(&c.uapi, sizeof(c.uapi));
		if (size)
			memcpy(&c.uapi, uapi, size);
	}
	struct bpfrt_region r = { (uintptr_t)&c, (uintptr_t)&c + REAL_SHIFT + usize };
	struct bpfrt_region packet = { (uintptr_t)pkt, (uintptr_t)pkt + len };
	int rc = bpfrt_run(prog, (uintptr_t)&c, 0, &r, pkt ? &packet : NULL, r0);
	if (!pkt && size)
		memcpy(uapi, &c.uapi, size);
	return rc;
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
	bool skb = is_skb(type);
	if (!xdp && !skb)
		return bpfrt_prog_run_mem(prog, pkt, len, r0);
	if (prog->ctx_conv) { /* the packet where it is */
		static uint8_t none;
		return bpfrt_ctx_run(prog, NULL, 0, len ? pkt : &none, len, r0);
	}
	uint8_t *data = low_buffer(len + 1);
	if (!data)
		return bpfrt_prog_fail(prog, BPFRT_ENOMEM, "cannot map a packet buffer below 4 GiB");
	if (len)
		memcpy(data, pkt, len);
	struct bpfrt_region packet = { (uintptr_t)data, (uintptr_t)data + len };
	struct real_ctx c;
	fill_uapi(type, &c, data, len);
	size_t usize = xdp ? sizeof(struct xdp_md) : sizeof(struct __sk_buff);
	struct bpfrt_region r = { (uintptr_t)&c.uapi, (uintptr_t)&c.uapi + usize };
	int rc = bpfrt_run(prog, (uintptr_t)&c.uapi, 0, &r, &packet, r0);
	if (len)
		memcpy(pkt, data, len);
	return rc;
}
