/*
 * ringbuf.c — BPF_MAP_TYPE_RINGBUF, with the kernel's record format and
 * semantics: many producers (programs: ringbuf_reserve/submit/discard,
 * ringbuf_output), one consumer (userspace: bpfrt_ringbuf_consume/poll).
 *
 * The data area is max_entries bytes (a power of two, at least a page).
 * Each record is an 8-byte header — u32 len with BUSY (bit 31) while the
 * producer writes it and DISCARD (bit 30) if it was dropped, and u32 the
 * record's offset from the data area — then the data, rounded up to 8.
 * Producers reserve under a spinlock (as the kernel does), and commit by
 * clearing BUSY with a release store; the consumer reads records in order
 * and stops at the first still-BUSY one.  A submitted record wakes the
 * consumer through an eventfd (not with BPF_RB_NO_WAKEUP).
 */
#include "map.h"

#include <errno.h>
#include <linux/bpf.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define BUSY (1u << 31)
#define DISCARD (1u << 30)
#define HDR 8

struct bpfrt_ringbuf {
	uint64_t cons;          /* consumer position (bytes, monotonic) */
	uint64_t prod;          /* producer position */
	uint32_t lock;
	int efd;
	uint64_t mask;
	uint8_t *data;
};

int bpfrt_ringbuf_init(struct bpfrt_map *m, struct bpfrt_err *err)
{
	uint32_t size = m->max_entries;
	if (size < 4096 || (size & (size - 1)))
		return bpfrt_err_set(err, BPFRT_EINVAL, "map %s: a ringbuf's size (max_entries %u) must "
				     "be a power of two of at least 4096", m->name, size);
	struct bpfrt_ringbuf *rb = calloc(1, sizeof(*rb));
	if (!rb)
		return bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
	rb->data = bpfrt_big_alloc(size);
	rb->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!rb->data || rb->efd < 0) {
		bpfrt_big_free(rb->data);
		if (rb->efd >= 0)
			close(rb->efd);
		free(rb);
		return bpfrt_err_set(err, BPFRT_ENOMEM, "map %s: cannot make its ring buffer", m->name);
	}
	rb->mask = size - 1;
	m->rb = rb;
	return BPFRT_OK;
}

void bpfrt_ringbuf_free(struct bpfrt_map *m)
{
	if (!m->rb)
		return;
	close(m->rb->efd);
	bpfrt_big_free(m->rb->data);
	free(m->rb);
	m->rb = NULL;
}

static void lock(struct bpfrt_ringbuf *rb)
{
	while (__atomic_exchange_n(&rb->lock, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&rb->lock, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
}

static void unlock(struct bpfrt_ringbuf *rb)
{
	__atomic_store_n(&rb->lock, 0, __ATOMIC_RELEASE);
}

/* 131: void *bpf_ringbuf_reserve(ringbuf, size, flags) */
void *bpfrt_ringbuf_reserve(struct bpfrt_map *m, uint64_t size, uint64_t flags)
{
	struct bpfrt_ringbuf *rb = m->rb;
	if (!rb || flags || size == 0 || size > (rb->mask + 1) / 2 - HDR)
		return NULL;
	uint64_t len = (size + HDR + 7) & ~7ull;
	lock(rb);
	uint64_t cons = __atomic_load_n(&rb->cons, __ATOMIC_ACQUIRE);
	uint64_t prod = rb->prod;
	/* a record never wraps: pad to the end with a discarded one if needed */
	uint64_t at = prod & rb->mask, room = rb->mask + 1 - at;
	if (room < len) {
		if (prod + room + len - cons > rb->mask + 1) {
			unlock(rb);
			return NULL;
		}
		uint32_t *pad = (uint32_t *)(rb->data + at);
		pad[1] = (uint32_t)at;
		__atomic_store_n(&pad[0], (uint32_t)(room - HDR) | DISCARD, __ATOMIC_RELEASE);
		prod += room;
		at = 0;
	}
	if (prod + len - cons > rb->mask + 1) {
		unlock(rb);
		return NULL; /* full */
	}
	uint32_t *hdr = (uint32_t *)(rb->data + at);
	hdr[1] = (uint32_t)at;
	__atomic_store_n(&hdr[0], (uint32_t)size | BUSY, __ATOMIC_RELAXED);
	__atomic_store_n(&rb->prod, prod + len, __ATOMIC_RELEASE);
	unlock(rb);
	return rb->data + at + HDR;
}

/* The ring buffer a record pointer belongs to, or NULL (a bad pointer). */
static struct bpfrt_ringbuf *of_record(struct bpfrt_map *m, void *data, uint32_t **hdr)
{
	struct bpfrt_ringbuf *rb = m->rb;
	uintptr_t p = (uintptr_t)data, base = (uintptr_t)rb->data;
	if (p < base + HDR || p > base + rb->mask + 1 || (p - base) % 8)
		return NULL;
	*hdr = (uint32_t *)(p - HDR);
	if (!(__atomic_load_n(&(*hdr)[0], __ATOMIC_RELAXED) & BUSY) || (*hdr)[1] != p - HDR - base)
		return NULL;
	return rb;
}

static void commit(struct bpfrt_map *m, void *data, uint64_t flags, bool discard)
{
	uint32_t *hdr;
	struct bpfrt_ringbuf *rb = of_record(m, data, &hdr);
	if (!rb)
		return;
	uint32_t len = hdr[0] & ~BUSY;
	__atomic_store_n(&hdr[0], len | (discard ? DISCARD : 0), __ATOMIC_RELEASE);
	if (!(flags & BPF_RB_NO_WAKEUP)) {
		uint64_t one = 1;
		ssize_t r = write(rb->efd, &one, sizeof(one));
		(void)r;
	}
}

/* The maps of the running program whose ring buffer holds data. */
static struct bpfrt_map *ringbuf_of(void *data)
{
	struct bpfrt_prog *p = bpfrt_current;
	for (size_t i = 0; p && i < p->nmaps; i++) {
		struct bpfrt_map *m = p->maps[i];
		uint32_t *hdr;
		if (m->rb && of_record(m, data, &hdr))
			return m;
	}
	return NULL;
}

void bpfrt_ringbuf_submit(void *data, uint64_t flags, bool discard)
{
	struct bpfrt_map *m = ringbuf_of(data);
	if (m)
		commit(m, data, flags, discard);
}

int bpfrt_ringbuf_output(struct bpfrt_map *m, const void *data, uint64_t size, uint64_t flags)
{
	if (flags & ~(uint64_t)(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP))
		return -EINVAL;
	void *rec = bpfrt_ringbuf_reserve(m, size, 0);
	if (!rec)
		return -EAGAIN;
	memcpy(rec, data, size);
	commit(m, rec, flags, false);
	return 0;
}

uint64_t bpfrt_ringbuf_query(struct bpfrt_map *m, uint64_t flags)
{
	struct bpfrt_ringbuf *rb = m->rb;
	uint64_t cons = __atomic_load_n(&rb->cons, __ATOMIC_ACQUIRE), prod = __atomic_load_n(&rb->prod, __ATOMIC_ACQUIRE);
	switch (flags) {
	case BPF_RB_AVAIL_DATA: return prod - cons;
	case BPF_RB_RING_SIZE: return rb->mask + 1;
	case BPF_RB_CONS_POS: return cons;
	case BPF_RB_PROD_POS: return prod;
	default: return 0;
	}
}

/* ------------------------------------------------------- the consumer */

int bpfrt_ringbuf_consume(bpfrt_map *m, int (*fn)(void *ctx, void *data, size_t size), void *ctx)
{
	if (!m || !m->rb || !fn)
		return -EINVAL;
	struct bpfrt_ringbuf *rb = m->rb;
	int n = 0;
	uint64_t cons = __atomic_load_n(&rb->cons, __ATOMIC_RELAXED);
	for (;;) {
		uint64_t prod = __atomic_load_n(&rb->prod, __ATOMIC_ACQUIRE);
		if (cons >= prod)
			break;
		uint32_t *hdr = (uint32_t *)(rb->data + (cons & rb->mask));
		uint32_t len = __atomic_load_n(&hdr[0], __ATOMIC_ACQUIRE);
		if (len & BUSY)
			break; /* not committed yet: later records wait for it */
		uint32_t size = len & ~(BUSY | DISCARD);
		uint64_t step = (size + HDR + 7) & ~7ull;
		if (!(len & DISCARD)) {
			int rc = fn(ctx, hdr + 2, size);
			if (rc) { /* the callback stops the consumption (as libbpf's) */
				__atomic_store_n(&rb->cons, cons + step, __ATOMIC_RELEASE);
				return rc < 0 ? rc : n + 1;
			}
			n++;
		}
		cons += step;
		__atomic_store_n(&rb->cons, cons, __ATOMIC_RELEASE);
	}
	return n;
}

int bpfrt_ringbuf_fd(const bpfrt_map *m)
{
	return m && m->rb ? m->rb->efd : -EINVAL;
}

int bpfrt_ringbuf_poll(bpfrt_map *m, int (*fn)(void *ctx, void *data, size_t size), void *ctx,
		       int timeout_ms)
{
	if (!m || !m->rb)
		return -EINVAL;
	int n = bpfrt_ringbuf_consume(m, fn, ctx);
	if (n != 0)
		return n;
	struct pollfd pfd = { m->rb->efd, POLLIN, 0 };
	int r = poll(&pfd, 1, timeout_ms);
	if (r < 0)
		return -errno;
	uint64_t v;
	ssize_t got = read(m->rb->efd, &v, sizeof(v)); /* reset the count */
	(void)got;
	return bpfrt_ringbuf_consume(m, fn, ctx);
}
