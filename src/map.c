/*
 * map.c — maps, with the kernel's semantics, flags and errors (negative
 * errno): array, percpu_array, hash, percpu_hash, lru_hash,
 * lru_percpu_hash, prog_array, array_of_maps, hash_of_maps.
 *
 * Concurrency.  Hash maps are tables of max_entries buckets (rounded up to
 * a power of two, as the kernel's htab), each an RCU-published singly linked
 * list with a spin lock for its writers: a lookup takes no lock and writes
 * nothing (one load of the bucket, a compare per element), an update or a
 * delete locks one bucket.  Program runs that use maps are RCU read-side
 * critical sections, so a value a lookup returned stays valid until the run
 * ends: deleted and replaced elements are freed with call_rcu, after every
 * run that could see them has ended.  (liburcu's rculfhash did this job
 * first; its lookup cost 4x this table's: 120 instructions and a callback.)
 * Array values are never freed while the map lives; an update copies the
 * value in place, as the kernel's does.  Threads join RCU
 * by themselves, at their first run or map call.
 *
 * Per-CPU maps.  Userspace threads migrate and are preempted at any point,
 * so "the current CPU" cannot name an exclusive slot.  bpfrt gives each
 * map ncpu copies (the configured CPUs), and each *run* of a program that
 * uses per-CPU maps (or asks for its CPU) owns one of ncpu slots for its
 * whole duration: it takes a free slot at entry, starting at the one of its
 * current CPU, and gives it back at exit.  Two runs can therefore never
 * share a slot; when more runs than slots are in flight, the next one waits
 * for a slot (yielding).  bpf_get_smp_processor_id returns that slot.
 *
 * LRU maps evict, when full, the least recently used of 16 elements
 * sampled from the table (an approximation, as the kernel's is too).
 */
#include "map.h"
#include "obj.h"

#include <errno.h>
#include <linux/bpf.h>
#include <sched.h>
#include <unistd.h>
#include <urcu/urcu-memb.h>

/* ThreadSanitizer cannot see the happens-before that an RCU grace period
 * gives (liburcu is not instrumented): tell it, from call_rcu to the free. */
#if defined(__SANITIZE_THREAD__)
#define TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN 1
#endif
#endif
#ifdef TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define GP_RELEASE(p) __tsan_release(p)
#define GP_ACQUIRE(p) __tsan_acquire(p)
#else
#define GP_RELEASE(p) ((void)(p))
#define GP_ACQUIRE(p) ((void)(p))
#endif

static char rcu_tsan_sync; /* read-side exits release it; frees acquire it */

/* ------------------------------------------------------------------ RCU */

static BPFRT_TLS bool rcu_registered;
static pthread_key_t rcu_key;
static struct bpfrt_once rcu_once = BPFRT_ONCE_INIT;

static void batch_flush(void);

/* A thread's end: its batch of freed elements to call_rcu, then leave RCU
 * (one destructor, so that the order is right). */
static void rcu_thread_exit(void *arg)
{
	(void)arg;
	if (rcu_registered) {
		batch_flush();
		urcu_memb_unregister_thread();
		rcu_registered = false;
	}
}

static void rcu_init(void)
{
	pthread_key_create(&rcu_key, rcu_thread_exit);
}

static void rcu_join(void)
{
	if (likely(rcu_registered))
		return;
	bpfrt_once(&rcu_once, rcu_init);
	urcu_memb_register_thread();
	rcu_registered = true;
	pthread_setspecific(rcu_key, (void *)1);
}

void bpfrt_rcu_enter(void)
{
	rcu_join();
	urcu_memb_read_lock();
}

static void tsan_exit(void);

void bpfrt_rcu_exit(void)
{
	tsan_exit();
	urcu_memb_read_unlock();
}

/* -------------------------------------------------------- per-CPU slots */

static uint32_t ncpus;
static uint8_t *slot_busy;
static struct bpfrt_once cpu_once = BPFRT_ONCE_INIT;
static BPFRT_TLS int32_t my_slot = -1;
static BPFRT_TLS int slot_depth;

static void cpu_init(void)
{
	long n = sysconf(_SC_NPROCESSORS_CONF);
	ncpus = n > 0 && n < 4096 ? (uint32_t)n : 1;
	slot_busy = calloc(ncpus, 1);
}

static uint32_t cpu_count(void)
{
	bpfrt_once(&cpu_once, cpu_init);
	return ncpus;
}

uint32_t bpfrt_cpu_slot(void)
{
	return my_slot >= 0 ? (uint32_t)my_slot : 0;
}

BPFRT_HIDDEN void bpfrt_cpu_slot_take(void);
BPFRT_HIDDEN void bpfrt_cpu_slot_give(void);

void bpfrt_cpu_slot_take(void)
{
	if (slot_depth++) /* nested runs (a helper running a program) keep the slot */
		return;
	uint32_t n = cpu_count();
	int cpu = sched_getcpu();
	uint32_t start = cpu >= 0 ? (uint32_t)cpu % n : 0;
	for (;;) {
		for (uint32_t i = 0; i < n; i++) {
			uint32_t s = (start + i) % n;
			uint8_t expected = 0;
			if (__atomic_compare_exchange_n(&slot_busy[s], &expected, 1, false, __ATOMIC_ACQUIRE,
							__ATOMIC_RELAXED)) {
				my_slot = (int32_t)s;
				return;
			}
		}
		sched_yield();
	}
}

void bpfrt_cpu_slot_give(void)
{
	if (--slot_depth)
		return;
	__atomic_store_n(&slot_busy[my_slot], 0, __ATOMIC_RELEASE);
	my_slot = -1;
}

/* ----------------------------------------------------------- elements */

struct hpool;
struct hnode {
	struct hnode *next;    /* in its bucket (RCU-published) */
	uint64_t hash;
	union {
		struct rcu_head rcu;
		struct hnode *free_next; /* in the pool's free list */
	};
	struct hpool *pool;    /* where it goes back after its grace period */
	uint64_t used;         /* LRU: the map's clock at the last use */
	uint8_t data[];        /* key (rounded to 8), then the value(s) */
};

struct hbucket {
	struct hnode *head;
	int lock;              /* its writers' */
};

struct htab {
	size_t mask;           /* buckets - 1 */
	size_t evict;          /* LRU: the bucket where the next eviction's sample starts */
	struct hbucket b[];
};

/*
 * A hash map's free elements. An element leaving the table waits for a grace
 * period (a run may still read it or walk past it), then comes
 * back here instead of to malloc: after warm-up, updates allocate nothing,
 * as the kernel's preallocated hash maps do. The pool outlives its map while
 * elements are waiting: refs = 1 for the map + 1 per waiting element.
 */
struct hpool {
	int lock;               /* a spin lock: held for a push or a pop */
	long refs;
	struct hnode *free;     /* linked through rcu.next */
};

static void spin_lock(int *lock)
{
	while (__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(lock, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
}
static void spin_unlock(int *lock)
{
	__atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}

static void pool_unref(struct hpool *p, long n)
{
	if (__atomic_sub_fetch(&p->refs, n, __ATOMIC_ACQ_REL))
		return;
	for (struct hnode *e = p->free, *next; e; e = next) {
		next = e->free_next;
		free(e);
	}
	free(p);
}

static struct hnode *pool_get(struct hpool *p, size_t bytes)
{
	struct hnode *n = NULL;
	if (__atomic_load_n(&p->free, __ATOMIC_RELAXED)) {
		spin_lock(&p->lock);
		n = p->free;
		if (n)
			__atomic_store_n(&p->free, n->free_next, __ATOMIC_RELAXED);
		spin_unlock(&p->lock);
	}
	if (!n && !(n = malloc(bytes)))
		return NULL;
	memset(n, 0, bytes);
	n->pool = p;
	return n;
}

/* Elements first..last (linked through free_next), k of them, of one pool,
 * that no reader can see any more (never published, or past their grace
 * period); waited: each held a reference to the pool while it waited. */
static void pool_put_chain(struct hnode *first, struct hnode *last, long k, bool waited)
{
	struct hpool *p = first->pool;
	spin_lock(&p->lock);
	last->free_next = p->free;
	__atomic_store_n(&p->free, first, __ATOMIC_RELAXED);
	spin_unlock(&p->lock);
	if (waited)
		pool_unref(p, k);
}

static void pool_put(struct hnode *n, bool waited)
{
	pool_put_chain(n, n, 1, waited);
}

static inline uint32_t key_room(const struct bpfrt_map *m) { return (m->key_size + 7) & ~7u; }
static inline uint8_t *hvalue(const struct bpfrt_map *m, struct hnode *n) { return n->data + key_room(m); }

static inline uint64_t mix(uint64_t h)
{
	h ^= h >> 31;
	h *= 0x7fb5d329728ea185ull;
	h ^= h >> 27;
	h *= 0x81dadef4bc2dd44dull;
	return h ^ (h >> 33);
}

/* 8 bytes at a time, then the tail, each word mixed in */
static inline __attribute__((always_inline)) uint64_t hash_key(const void *key, uint32_t len)
{
	const uint8_t *p = key;
	uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
	if (len == 4) { /* the usual keys, straight to one mix (the same value as below) */
		uint32_t x;
		memcpy(&x, p, 4);
		return mix(h ^ x);
	}
	if (len == 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		return mix(h ^ w);
	}
	for (; len >= 8; len -= 8, p += 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = mix(h ^ w);
	}
	if (len) { /* 1..7 bytes, as up to three fixed-size loads */
		uint64_t w = 0;
		unsigned sh = 0;
		if (len & 4) {
			uint32_t x;
			memcpy(&x, p, 4);
			w = x, p += 4, sh = 32;
		}
		if (len & 2) {
			uint16_t x;
			memcpy(&x, p, 2);
			w |= (uint64_t)x << sh, p += 2, sh += 16;
		}
		if (len & 1)
			w |= (uint64_t)*p << sh;
		h = mix(h ^ w);
	}
	return h;
}

static void tsan_exit(void)
{
	GP_RELEASE(&rcu_tsan_sync);
}

static inline bool key_eq(const struct bpfrt_map *m, const void *a, const void *b)
{
	if (m->key_size == 4) { /* the usual keys: one compare, not a call to memcmp */
		uint32_t x, y;
		memcpy(&x, a, 4);
		memcpy(&y, b, 4);
		return x == y;
	}
	if (m->key_size == 8) {
		uint64_t x, y;
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		return x == y;
	}
	return !memcmp(a, b, m->key_size);
}

static inline struct hbucket *hbucket(const struct bpfrt_map *m, uint64_t h)
{
	return &m->ht->b[h & m->ht->mask];
}

/* Readers (RCU): the element with key, or NULL. */
static inline __attribute__((always_inline)) struct hnode *hfind_h(const struct bpfrt_map *m,
									  const void *key, uint64_t h)
{
	for (struct hnode *n = __atomic_load_n(&hbucket(m, h)->head, __ATOMIC_ACQUIRE); n;
	     n = __atomic_load_n(&n->next, __ATOMIC_ACQUIRE))
		if (n->hash == h && key_eq(m, n->data, key)) {
			GP_ACQUIRE(n); /* published by the update (GP_RELEASE there) */
			return n;
		}
	return NULL;
}

/* Writers, with the bucket's lock: the link to the element with key, or the
 * NULL link at the end of the bucket. */
static struct hnode **hlink(const struct bpfrt_map *m, struct hbucket *bk, const void *key, uint64_t h)
{
	struct hnode **l = &bk->head;
	for (struct hnode *n; (n = *l); l = &n->next)
		if (n->hash == h && key_eq(m, n->data, key))
			break;
	return l;
}

static void hfree_cb(struct rcu_head *head)
{
	struct hnode *n = caa_container_of(head, struct hnode, rcu);
	GP_ACQUIRE(&rcu_tsan_sync);
	GP_ACQUIRE(n);
	pool_put(n, true);
}

/* Freed elements wait for a grace period in batches: one call_rcu per 64
 * (call_rcu may wake liburcu's worker thread: a system call). */
#define FREE_BATCH 64
struct free_batch {
	struct rcu_head rcu;
	size_t n;
	struct hnode *node[FREE_BATCH];
};
static __thread struct free_batch *tls_batch;

static void batch_free_cb(struct rcu_head *head)
{
	struct free_batch *b = caa_container_of(head, struct free_batch, rcu);
	GP_ACQUIRE(&rcu_tsan_sync);
	GP_ACQUIRE(b);
	/* runs of elements of one pool go back in one locked push */
	for (size_t i = 0, j; i < b->n; i = j) {
		GP_ACQUIRE(b->node[i]);
		for (j = i + 1; j < b->n && b->node[j]->pool == b->node[i]->pool; j++) {
			GP_ACQUIRE(b->node[j]);
			b->node[j - 1]->free_next = b->node[j];
		}
		pool_put_chain(b->node[i], b->node[j - 1], (long)(j - i), true);
	}
	free(b);
}

static void batch_flush(void)
{
	struct free_batch *b = tls_batch;
	if (!b)
		return;
	if (!b->n) {
		free(b);
		tls_batch = NULL;
		return;
	}
	tls_batch = NULL;
	GP_RELEASE(b);
	urcu_memb_call_rcu(&b->rcu, batch_free_cb);
}

static void hfree_later(struct hnode *n)
{
	GP_RELEASE(n);
	__atomic_add_fetch(&n->pool->refs, 1, __ATOMIC_RELAXED);
	struct free_batch *b = tls_batch;
	if (!b) {
		b = malloc(sizeof(*b));
		if (!b) { /* no batch: this one alone */
			urcu_memb_call_rcu(&n->rcu, hfree_cb);
			return;
		}
		b->n = 0;
		tls_batch = b; /* flushed at the thread's end by rcu_thread_exit */
	}
	b->node[b->n++] = n;
	if (b->n == FREE_BATCH)
		batch_flush();
}

static bool is_hash(uint32_t t)
{
	return t == BPF_MAP_TYPE_HASH || t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_LRU_HASH ||
	       t == BPF_MAP_TYPE_LRU_PERCPU_HASH || t == BPF_MAP_TYPE_HASH_OF_MAPS;
}
static bool is_percpu(uint32_t t)
{
	return t == BPF_MAP_TYPE_PERCPU_ARRAY || t == BPF_MAP_TYPE_PERCPU_HASH ||
	       t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}
static bool is_lru(uint32_t t)
{
	return t == BPF_MAP_TYPE_LRU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}
static bool is_ptr_array(uint32_t t)
{
	return t == BPF_MAP_TYPE_PROG_ARRAY || t == BPF_MAP_TYPE_ARRAY_OF_MAPS;
}
/* A hash map whose values are one word, stored and read atomically */
static bool word_value(const struct bpfrt_map *m)
{
	return m->ht && m->ncpu == 1 && m->value_size <= 8 && m->type != BPF_MAP_TYPE_HASH_OF_MAPS;
}

/* Userspace's copy of a hash element's value(s) */
static void copy_value(const struct bpfrt_map *m, void *dst, struct hnode *n)
{
	if (word_value(m)) {
		uint64_t w = __atomic_load_n((uint64_t *)hvalue(m, n), __ATOMIC_ACQUIRE);
		memcpy(dst, &w, m->value_size);
		return;
	}
	memcpy(dst, hvalue(m, n), m->ncpu > 1 ? (size_t)m->stride * m->ncpu : m->value_size);
}

/* ------------------------------------------------------ queue, stack */

/*
 * A queue or a stack: max_entries + 1 slots in a ring, head (the next push)
 * and tail (the oldest); head == tail when empty. A queue pops at the tail, a
 * stack at head - 1. A spin lock covers each operation (a value copy).
 */
struct qstack {
	int lock;
	uint32_t head, tail, size;
	uint8_t slots[];
};

static int qstack_create(uint32_t type, uint32_t key_size, uint32_t value_size, uint32_t max_entries,
			 uint32_t flags, const char *name, struct bpfrt_map **out, struct bpfrt_err *err)
{
	if (key_size || !value_size || !max_entries || value_size > (1u << 20) || max_entries > (1u << 26))
		return bpfrt_err_set(err, BPFRT_EINVAL, "map %s: bad definition for a %s (key %u: must be 0, "
				     "value %u, max_entries %u)", name, bpfrt_map_type_name(type), key_size,
				     value_size, max_entries);
	struct bpfrt_map *m = calloc(1, sizeof(*m));
	size_t stride = (value_size + 7) & ~7u;
	struct qstack *q = m ? calloc(1, sizeof(*q) + (size_t)(max_entries + 1) * stride) : NULL;
	if (!q) {
		free(m);
		return bpfrt_err_set(err, BPFRT_ENOMEM, "map %s: out of memory", name);
	}
	q->size = max_entries + 1;
	m->type = type;
	m->value_size = value_size;
	m->max_entries = max_entries;
	m->flags = flags;
	m->refs = 1;
	m->ncpu = 1;
	m->stride = (uint32_t)stride;
	m->vcopy = value_size;
	m->qs = q;
	snprintf(m->name, sizeof(m->name), "%s", name ? name : "");
	*out = m;
	return BPFRT_OK;
}

int bpfrt_map_push(struct bpfrt_map *m, const void *value, uint64_t flags)
{
	struct qstack *q = m->qs;
	if (!q || (flags & ~(uint64_t)BPF_EXIST))
		return -EINVAL;
	int rc = 0;
	spin_lock(&q->lock);
	if ((q->head + 1) % q->size == q->tail) { /* full */
		if (flags & BPF_EXIST)
			q->tail = (q->tail + 1) % q->size; /* the oldest goes */
		else
			rc = -E2BIG;
	}
	if (!rc) {
		memcpy(q->slots + (size_t)q->head * m->stride, value, m->value_size);
		q->head = (q->head + 1) % q->size;
	}
	spin_unlock(&q->lock);
	return rc;
}

int bpfrt_map_pop(struct bpfrt_map *m, void *value, bool remove)
{
	struct qstack *q = m->qs;
	if (!q)
		return -EINVAL;
	int rc = 0;
	spin_lock(&q->lock);
	if (q->head == q->tail) {
		rc = -ENOENT;
	} else if (m->type == BPF_MAP_TYPE_QUEUE) {
		memcpy(value, q->slots + (size_t)q->tail * m->stride, m->value_size);
		if (remove)
			q->tail = (q->tail + 1) % q->size;
	} else {
		uint32_t top = (q->head + q->size - 1) % q->size;
		memcpy(value, q->slots + (size_t)top * m->stride, m->value_size);
		if (remove)
			q->head = top;
	}
	spin_unlock(&q->lock);
	return rc;
}

int bpfrt_map_peek_at(bpfrt_map *m, uint32_t i, void *value)
{
	struct qstack *q = m ? m->qs : NULL;
	if (!q || !value)
		return -EINVAL;
	int rc = 0;
	spin_lock(&q->lock);
	uint32_t n = (q->head + q->size - q->tail) % q->size;
	if (i >= n)
		rc = -ENOENT;
	else if (m->type == BPF_MAP_TYPE_QUEUE) /* oldest first */
		memcpy(value, q->slots + (size_t)((q->tail + i) % q->size) * m->stride, m->value_size);
	else                                    /* newest first */
		memcpy(value, q->slots + (size_t)((q->head + q->size - 1 - i) % q->size) * m->stride, m->value_size);
	spin_unlock(&q->lock);
	return rc;
}

/* ----------------------------------------------------------- create */

int bpfrt_map_create(uint32_t type, uint32_t key_size, uint32_t value_size, uint32_t max_entries,
		     uint32_t flags, const char *name, struct bpfrt_map **out, struct bpfrt_err *err)
{
	*out = NULL;
	if (type == BPF_MAP_TYPE_RINGBUF) {
		struct bpfrt_map *m = calloc(1, sizeof(*m));
		if (!m)
			return bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
		m->type = type;
		m->max_entries = max_entries;
		m->flags = flags;
		m->refs = 1;
		m->ncpu = 1;
		snprintf(m->name, sizeof(m->name), "%s", name ? name : "");
		int rc = bpfrt_ringbuf_init(m, err);
		if (rc != BPFRT_OK) {
			free(m);
			return rc;
		}
		*out = m;
		return BPFRT_OK;
	}
	if (type == BPF_MAP_TYPE_QUEUE || type == BPF_MAP_TYPE_STACK)
		return qstack_create(type, key_size, value_size, max_entries, flags, name, out, err);
	bool array = type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY || is_ptr_array(type);
	if (!array && !is_hash(type))
		return bpfrt_err_set(err, BPFRT_ENOTSUP, "map %s: type %u (%s) is not supported", name, type,
				     bpfrt_map_type_name(type));
	if (!max_entries || !value_size || (array && key_size != 4) || (!array && !key_size))
		return bpfrt_err_set(err, BPFRT_EINVAL, "map %s: bad definition (key %u, value %u, "
				     "max_entries %u)", name, key_size, value_size, max_entries);
	if ((is_ptr_array(type) || type == BPF_MAP_TYPE_HASH_OF_MAPS) && value_size != 4)
		return bpfrt_err_set(err, BPFRT_EINVAL, "map %s: a %s has 4-byte values", name,
				     bpfrt_map_type_name(type));
	if (value_size > (1u << 20) || key_size > 512 || max_entries > (1u << 26))
		return bpfrt_err_set(err, BPFRT_EINVAL, "map %s: too large (key %u, value %u, max_entries %u)",
				     name, key_size, value_size, max_entries);
	struct bpfrt_map *m = calloc(1, sizeof(*m));
	if (!m)
		return bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
	m->type = type;
	m->key_size = key_size;
	m->value_size = value_size;
	m->max_entries = max_entries;
	m->flags = flags;
	m->refs = 1;
	snprintf(m->name, sizeof(m->name), "%s", name ? name : "");
	m->stride = (value_size + 7) & ~7u;
	m->vcopy = type == BPF_MAP_TYPE_HASH_OF_MAPS ? 8 : value_size;
	if (type == BPF_MAP_TYPE_HASH_OF_MAPS)
		m->stride = 8;
	m->ncpu = is_percpu(type) ? cpu_count() : 1;
	if (is_ptr_array(type)) {
		m->ptrs = calloc(max_entries, sizeof(void *));
		if (type == BPF_MAP_TYPE_PROG_ARRAY && m->ptrs &&
		    !(m->entries = calloc(max_entries, sizeof(void *)))) {
			free(m->ptrs);
			m->ptrs = NULL;
		}
	} else if (array) {
		m->values = bpfrt_big_alloc((size_t)max_entries * m->stride * m->ncpu);
	} else {
		rcu_join();
		unsigned long buckets = 1;
		while (buckets < max_entries) /* as the kernel: max_entries, rounded up */
			buckets <<= 1;
		m->pool = calloc(1, sizeof(*m->pool));
		if (m->pool)
			m->pool->refs = 1;
		m->ht = calloc(1, sizeof(*m->ht) + buckets * sizeof(struct hbucket));
		if (m->ht)
			m->ht->mask = buckets - 1;
	}
	if ((is_ptr_array(type) && !m->ptrs) || (array && !is_ptr_array(type) && !m->values) ||
	    (!array && (!m->ht || !m->pool))) {
		bpfrt_map_put(m);
		return bpfrt_err_set(err, BPFRT_ENOMEM, "map %s: out of memory", name);
	}
	*out = m;
	return BPFRT_OK;
}

void bpfrt_map_put(struct bpfrt_map *m)
{
	if (!m || __atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL))
		return;
	if (m->ht) {
		rcu_join();
		for (size_t i = 0; i <= m->ht->mask; i++)
			for (struct hnode *n = m->ht->b[i].head, *next; n; n = next) {
				next = n->next;
				hfree_later(n);
			}
		/* the elements wait for their grace period holding the pool,
		 * not the map: no run uses the map any more */
		batch_flush();
		free(m->ht);
	}
	if (m->pool)
		pool_unref(m->pool, 1);
	if (m->type == BPF_MAP_TYPE_ARRAY_OF_MAPS && m->ptrs)
		for (uint32_t i = 0; i < m->max_entries; i++)
			bpfrt_map_put(m->ptrs[i]);
	if (m->type == BPF_MAP_TYPE_PROG_ARRAY && m->ptrs)
		for (uint32_t i = 0; i < m->max_entries; i++)
			bpfrt_prog_unref(m->ptrs[i]);
	bpfrt_ringbuf_free(m);
	free(m->qs);
	bpfrt_big_free(m->values);
	free(m->ptrs);
	free(m->entries);
	free(m);
}

/* ------------------------------------------------------------ lookups */

static struct hnode *hfind(struct bpfrt_map *m, const void *key)
{
	return hfind_h(m, key, hash_key(key, m->key_size));
}

void *bpfrt_map_lookup_prog(struct bpfrt_map *m, const void *key)
{
	if (m->ht) { /* (ring buffers, queues and stacks have none) */
		struct hnode *n = hfind(m, key);
		if (!n)
			return NULL;
		if (is_lru(m->type)) {
			/* a lookup stamps the element with the clock as it is (updates
			 * advance it): no shared write per lookup, and none to the
			 * element once it carries this stamp (the kernel sets a ref bit) */
			uint64_t now = __atomic_load_n(&m->clock, __ATOMIC_RELAXED);
			if (__atomic_load_n(&n->used, __ATOMIC_RELAXED) != now)
				__atomic_store_n(&n->used, now, __ATOMIC_RELAXED);
		}
		uint8_t *v = hvalue(m, n);
		if (m->type == BPF_MAP_TYPE_HASH_OF_MAPS)
			return *(void **)v;
		return m->ncpu > 1 ? v + (size_t)bpfrt_cpu_slot() * m->stride : v;
	}
	if (unlikely(m->rb || m->qs))
		return NULL;
	uint32_t i;
	memcpy(&i, key, 4);
	if (i >= m->max_entries)
		return NULL;
	if (m->type == BPF_MAP_TYPE_ARRAY_OF_MAPS)
		return __atomic_load_n(&m->ptrs[i], __ATOMIC_ACQUIRE);
	if (m->type == BPF_MAP_TYPE_PROG_ARRAY)
		return NULL; /* not readable by programs: bpf_tail_call uses it */
	return m->values + ((size_t)i * m->ncpu + (m->ncpu > 1 ? bpfrt_cpu_slot() : 0)) * m->stride;
}

long bpfrt_map_for_each(struct bpfrt_map *m, int (*fn)(void *arg, void *key, void *value), void *arg)
{
	size_t cpu = m->ncpu > 1 ? (size_t)bpfrt_cpu_slot() : 0;
	long n = 0;
	if (m->ht) {
		if (m->type == BPF_MAP_TYPE_HASH_OF_MAPS)
			return -EINVAL;
		bpfrt_rcu_enter(); /* nested in the run's: the walk needs one whatever the run took */
		for (size_t i = 0; i <= m->ht->mask; i++) /* a deleted element keeps its next */
			for (struct hnode *e = __atomic_load_n(&m->ht->b[i].head, __ATOMIC_ACQUIRE); e;
			     e = __atomic_load_n(&e->next, __ATOMIC_ACQUIRE)) {
				GP_ACQUIRE(e);
				n++;
				if (fn(arg, e->data, hvalue(m, e) + cpu * m->stride))
					goto out;
			}
out:
		bpfrt_rcu_exit();
		return n;
	}
	if (m->type != BPF_MAP_TYPE_ARRAY && m->type != BPF_MAP_TYPE_PERCPU_ARRAY)
		return -EINVAL;
	for (uint32_t i = 0; i < m->max_entries; i++) {
		uint32_t key = i; /* the callback may not write it: a copy */
		n++;
		if (fn(arg, &key, m->values + ((size_t)i * m->ncpu + cpu) * m->stride))
			break;
	}
	return n;
}

/* Takes bk's lock if it is free (or bk is the one held already). */
static bool bucket_trylock(struct hbucket *bk, const struct hbucket *held)
{
	return bk == held || !__atomic_exchange_n(&bk->lock, 1, __ATOMIC_ACQUIRE);
}

static void bucket_unlock(struct hbucket *bk, const struct hbucket *held)
{
	if (bk != held)
		spin_unlock(&bk->lock);
}

/* LRU: evicts the least recently used of a sample of 16 elements, from
 * buckets taken in turn (a rotating start); returns whether one was
 * evicted.  The caller holds the lock of bucket `held`; others are only
 * tried (two updaters evicting from each other's bucket must not wait for
 * each other). */
static bool lru_evict(struct bpfrt_map *m, struct hbucket *held)
{
	struct htab *t = m->ht;
	struct hbucket *vb = NULL;
	struct hnode *victim = NULL;
	uint64_t best = UINT64_MAX;
	int seen = 0;
	size_t start = __atomic_fetch_add(&t->evict, 1, __ATOMIC_RELAXED);
	for (size_t k = 0; k <= t->mask && seen < 16; k++) {
		struct hbucket *bk = &t->b[(start + k) & t->mask];
		if (!__atomic_load_n(&bk->head, __ATOMIC_RELAXED) || !bucket_trylock(bk, held))
			continue;
		for (struct hnode *n = bk->head; n && seen < 16; n = n->next, seen++) {
			uint64_t used = __atomic_load_n(&n->used, __ATOMIC_RELAXED); /* lookups stamp it */
			if (used < best) {
				best = used;
				victim = n;
				vb = bk;
			}
		}
		bucket_unlock(bk, held);
	}
	if (!victim || !bucket_trylock(vb, held))
		return false;
	bool done = false;
	for (struct hnode **l = &vb->head; *l; l = &(*l)->next)
		if (*l == victim) { /* still there */
			__atomic_store_n(l, victim->next, __ATOMIC_RELEASE);
			__atomic_sub_fetch(&m->count, 1, __ATOMIC_RELAXED);
			hfree_later(victim);
			done = true;
			break;
		}
	bucket_unlock(vb, held);
	return done;
}

/* value: for a per-CPU map from userspace, ncpu values of stride bytes;
 * from a program, one (written to every CPU's copy of a new element, and
 * to this run's copy of an existing one). */
int bpfrt_map_update_raw(struct bpfrt_map *m, const void *key, const void *value, uint64_t flags,
			 bool from_prog)
{
	if (flags > BPF_EXIST || m->rb || m->qs)
		return -EINVAL; /* queues and stacks: bpfrt_map_push */
	if ((m->type == BPF_MAP_TYPE_HASH_OF_MAPS && from_prog) || is_ptr_array(m->type))
		return from_prog ? -EINVAL : -EOPNOTSUPP; /* bpfrt_map_update_inner, _prog */
	if (!m->ht) {
		uint32_t i;
		memcpy(&i, key, 4);
		if (i >= m->max_entries)
			return -E2BIG;
		if (flags == BPF_NOEXIST)
			return -EEXIST;
		uint8_t *v = m->values + (size_t)i * m->ncpu * m->stride;
		if (m->ncpu > 1 && from_prog)
			memcpy(v + (size_t)bpfrt_cpu_slot() * m->stride, value, m->value_size);
		else
			for (uint32_t c = 0; c < m->ncpu; c++)
				memcpy(v + (size_t)c * m->stride, (const uint8_t *)value + (from_prog ? 0 : c * m->stride),
				       m->value_size);
		return 0;
	}
	if (word_value(m) && flags != BPF_NOEXIST) {
		/* a value of one word is written in place, atomically: a reader
		 * sees the old value or the new one, as after a replacement */
		if (!from_prog)
			bpfrt_rcu_enter();
		struct hnode *old = hfind(m, key);
		if (old) {
			uint64_t w = 0;
			memcpy(&w, value, m->value_size);
			__atomic_store_n((uint64_t *)hvalue(m, old), w, __ATOMIC_RELEASE);
			if (is_lru(m->type))
				__atomic_store_n(&old->used, __atomic_add_fetch(&m->clock, 1, __ATOMIC_RELAXED),
						 __ATOMIC_RELAXED);
		}
		if (!from_prog)
			bpfrt_rcu_exit();
		if (old)
			return 0;
		if (flags == BPF_EXIST)
			return -ENOENT;
	}
	size_t vbytes = (size_t)m->stride * m->ncpu;
	struct hnode *n = pool_get(m->pool, sizeof(*n) + key_room(m) + vbytes);
	if (!n)
		return -ENOMEM;
	memcpy(n->data, key, m->key_size);
	uint8_t *v = hvalue(m, n);
	for (uint32_t c = 0; c < m->ncpu; c++)
		memcpy(v + (size_t)c * m->stride,
		       (const uint8_t *)value + (from_prog || m->ncpu == 1 ? 0 : (size_t)c * m->stride),
		       m->vcopy);
	if (is_lru(m->type))
		n->used = __atomic_add_fetch(&m->clock, 1, __ATOMIC_RELAXED);
	uint64_t h = hash_key(key, m->key_size);
	n->hash = h;
	GP_RELEASE(n); /* its contents, before the table publishes it */
	bool entered = !from_prog;
	if (entered)
		bpfrt_rcu_enter();
	int rc = 0;
	struct hbucket *bk = hbucket(m, h);
	spin_lock(&bk->lock);
	struct hnode **l = hlink(m, bk, key, h), *old = *l;
	if (old) {
		if (flags == BPF_NOEXIST) {
			rc = -EEXIST;
		} else if (m->ncpu > 1 && from_prog) { /* a program updates only its own copy */
			memcpy(hvalue(m, old) + (size_t)bpfrt_cpu_slot() * m->stride, value, m->value_size);
		} else { /* replaced: readers see the old element or the new one */
			n->next = old->next;
			__atomic_store_n(l, n, __ATOMIC_RELEASE);
			hfree_later(old);
			n = NULL;
		}
	} else if (flags == BPF_EXIST) {
		rc = -ENOENT;
	} else {
		bool full = __atomic_add_fetch(&m->count, 1, __ATOMIC_RELAXED) > (long)m->max_entries;
		if (full && !(is_lru(m->type) && lru_evict(m, bk))) {
			__atomic_sub_fetch(&m->count, 1, __ATOMIC_RELAXED);
			rc = -E2BIG;
		} else { /* added at the end of its bucket */
			if (full) /* the eviction may have taken this bucket's last element */
				l = hlink(m, bk, key, h);
			n->next = NULL;
			__atomic_store_n(l, n, __ATOMIC_RELEASE);
			n = NULL;
		}
	}
	spin_unlock(&bk->lock);
	if (entered)
		bpfrt_rcu_exit();
	if (n)
		pool_put(n, false);
	return rc;
}

/* Unlinks the element with key (with the bucket's lock); NULL if none. */
static struct hnode *hunlink(struct bpfrt_map *m, const void *key)
{
	uint64_t h = hash_key(key, m->key_size);
	struct hbucket *bk = hbucket(m, h);
	spin_lock(&bk->lock);
	struct hnode **l = hlink(m, bk, key, h), *n = *l;
	if (n) {
		__atomic_store_n(l, n->next, __ATOMIC_RELEASE); /* n->next stays: readers on n go on */
		__atomic_sub_fetch(&m->count, 1, __ATOMIC_RELAXED);
	}
	spin_unlock(&bk->lock);
	return n;
}

int bpfrt_map_delete_raw(struct bpfrt_map *m, const void *key)
{
	if (!m->ht || m->rb)
		return -EINVAL; /* array elements cannot be deleted */
	rcu_join();
	bool entered = !urcu_memb_read_ongoing();
	if (entered)
		bpfrt_rcu_enter();
	int rc = -ENOENT;
	struct hnode *n = hunlink(m, key);
	if (n) {
		hfree_later(n);
		rc = 0;
	}
	if (entered)
		bpfrt_rcu_exit();
	return rc;
}

/* ------------------------------------------------------- userspace API */

int bpfrt_map_lookup(bpfrt_map *m, const void *key, void *value)
{
	if (m && m->qs && value)
		return bpfrt_map_pop(m, value, false); /* peek; the key is ignored */
	if (!m || !key || !value)
		return -EINVAL;
	if (m->type == BPF_MAP_TYPE_PROG_ARRAY || m->type == BPF_MAP_TYPE_ARRAY_OF_MAPS ||
	    m->type == BPF_MAP_TYPE_HASH_OF_MAPS || m->rb)
		return -EOPNOTSUPP;
	bpfrt_rcu_enter();
	int rc = -ENOENT;
	if (m->ht) {
		struct hnode *n = hfind(m, key);
		if (n) {
			copy_value(m, value, n);
			rc = 0;
		}
	} else {
		uint32_t i;
		memcpy(&i, key, 4);
		if (i < m->max_entries) {
			memcpy(value, m->values + (size_t)i * m->ncpu * m->stride,
			       m->ncpu > 1 ? (size_t)m->stride * m->ncpu : m->value_size);
			rc = 0;
		}
	}
	bpfrt_rcu_exit();
	return rc;
}

int bpfrt_map_update(bpfrt_map *m, const void *key, const void *value, uint64_t flags)
{
	if (m && ((m->flags & BPF_F_RDONLY) || __atomic_load_n(&m->frozen, __ATOMIC_ACQUIRE)))
		return -EPERM;
	if (m && m->qs && value)
		return bpfrt_map_push(m, value, flags); /* the key is ignored */
	if (!m || !key || !value)
		return -EINVAL;
	return bpfrt_map_update_raw(m, key, value, flags, false);
}

int bpfrt_map_freeze(bpfrt_map *m)
{
	if (!m)
		return -EINVAL;
	__atomic_store_n(&m->frozen, true, __ATOMIC_RELEASE);
	return 0;
}

int bpfrt_map_delete(bpfrt_map *m, const void *key)
{
	if (!m || !key)
		return -EINVAL;
	if (__atomic_load_n(&m->frozen, __ATOMIC_ACQUIRE))
		return -EPERM;
	return bpfrt_map_delete_raw(m, key);
}

int bpfrt_map_get_next_key(bpfrt_map *m, const void *key, void *next)
{
	if (!m || !next || m->rb || m->qs)
		return -EINVAL; /* queues and stacks have no keys */
	if (!m->ht) {
		uint32_t i = 0, k;
		if (key) {
			memcpy(&k, key, 4);
			i = k >= m->max_entries ? 0 : k + 1;
		}
		if (i >= m->max_entries)
			return -ENOENT;
		memcpy(next, &i, 4);
		return 0;
	}
	bpfrt_rcu_enter();
	int rc = -ENOENT;
	struct hnode *n = NULL;
	size_t i = 0;
	if (key) { /* the element after it: in its bucket, else the next one's first */
		uint64_t h = hash_key(key, m->key_size);
		struct hnode *at = hfind_h(m, key, h);
		if (at) {
			n = __atomic_load_n(&at->next, __ATOMIC_ACQUIRE);
			i = (h & m->ht->mask) + 1;
		}
	} /* no key, or not found: the first */
	for (; !n && i <= m->ht->mask; i++)
		n = __atomic_load_n(&m->ht->b[i].head, __ATOMIC_ACQUIRE);
	if (n) {
		GP_ACQUIRE(n);
		memcpy(next, n->data, m->key_size);
		rc = 0;
	}
	bpfrt_rcu_exit();
	return rc;
}

int bpfrt_map_lookup_and_delete(bpfrt_map *m, const void *key, void *value)
{
	if (m && m->qs && value)
		return bpfrt_map_pop(m, value, true); /* pop; the key is ignored */
	if (!m || !key || !value)
		return -EINVAL;
	if (!m->ht)
		return -EOPNOTSUPP;
	bpfrt_rcu_enter();
	int rc = -ENOENT;
	struct hnode *n = hunlink(m, key);
	if (n) {
		copy_value(m, value, n);
		hfree_later(n);
		rc = 0;
	}
	bpfrt_rcu_exit();
	return rc;
}

int bpfrt_map_info(const bpfrt_map *m, struct bpfrt_map_info *info)
{
	if (!m || !info)
		return -EINVAL;
	*info = (struct bpfrt_map_info){ m->name, bpfrt_map_type_name(m->type), m->type, m->key_size,
					 m->value_size, m->max_entries, m->flags, m->ncpu };
	return 0;
}

int bpfrt_map_update_inner(bpfrt_map *m, const void *key, bpfrt_map *inner)
{
	if (!m || !key || (m->type != BPF_MAP_TYPE_ARRAY_OF_MAPS && m->type != BPF_MAP_TYPE_HASH_OF_MAPS))
		return -EINVAL;
	if (inner && m->inner && (inner->type != m->inner->type || inner->key_size != m->inner->key_size ||
				  inner->value_size != m->inner->value_size))
		return -EINVAL; /* the kernel's map-in-map compatibility rule */
	if (inner)
		__atomic_add_fetch(&inner->refs, 1, __ATOMIC_RELAXED);
	if (m->type == BPF_MAP_TYPE_ARRAY_OF_MAPS) {
		uint32_t i;
		memcpy(&i, key, 4);
		if (i >= m->max_entries) {
			bpfrt_map_put(inner);
			return -E2BIG;
		}
		void *old = __atomic_exchange_n(&m->ptrs[i], inner, __ATOMIC_ACQ_REL);
		if (old) {
			rcu_join();
			urcu_memb_synchronize_rcu(); /* no run still uses it */
			bpfrt_map_put(old);
		}
		return 0;
	}
	if (!inner)
		return bpfrt_map_delete_raw(m, key); /* (the inner map's reference is kept: a small leak) */
	uint8_t v[8] = { 0 };
	memcpy(v, &inner, sizeof(inner)); /* the element holds the pointer (vcopy is 8) */
	return bpfrt_map_update_raw(m, key, v, BPF_ANY, false);
}

/* ----------------------------------------------------------- prog_array */

/*
 * Direct tail calls: the JIT's patch sites (map.h).  A site is 5 bytes
 * inside one naturally aligned 8-byte word, written with one atomic store
 * of the word through the code's RW view: a thread fetching it sees the old
 * or the new instruction, never a mix (an aligned 8-byte block never
 * straddles a fetch line).  (The int3 protocol of tpoke.c would patch any
 * 5 bytes, at the cost of a trap handler and three synchronisations per
 * write; the JIT can place its sites, so it does.)  Both old and new are valid at every step of the state
 * machine, so a thread that still runs the old one is fine; membarrier's
 * SYNC_CORE, where the kernel has it, makes every core see the new one before
 * we go on.  A target removed is freed only after an RCU grace period: every
 * run that could still jump to it has ended by then.
 */
#include <linux/membarrier.h>
#include <sys/syscall.h>

static int sync_core_ok = -1;

static void sync_cores(void)
{
	if (sync_core_ok < 0)
		sync_core_ok = syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0) == 0;
	if (sync_core_ok)
		syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0);
}

void bpfrt_poke_write(uint8_t *rw, uintptr_t rx, unsigned off, uintptr_t target)
{
	/* the other bytes of the word are code that never changes (sites are
	 * apart by more than a word); the poke lock orders writers */
	uint64_t v = __atomic_load_n((uint64_t *)(void *)rw, __ATOMIC_RELAXED);
	uint8_t b[8], *s = b + off;
	memcpy(b, &v, 8);
	uintptr_t site = rx + off;
	if (!target) {
		memset(s, 0xcc, 5);                              /* int3 x5 */
	} else if (target == site + 5) {
		memcpy(s, (const uint8_t[5]){ 0x0f, 0x1f, 0x44, 0x00, 0x00 }, 5); /* nop5 */
	} else {
		int32_t rel = (int32_t)(intptr_t)(target - (site + 5));
		s[0] = 0xe9;                                     /* jmp rel32 */
		memcpy(s + 1, &rel, 4);
	}
	memcpy(&v, b, 8);
	__atomic_store_n((uint64_t *)(void *)rw, v, __ATOMIC_RELEASE);
}

#define POKE_A(k, t) bpfrt_poke_write((k)->rw_a, (k)->rx_a, (k)->off_a, (t))
#define POKE_B(k, t) bpfrt_poke_write((k)->rw_b, (k)->rx_b, (k)->off_b, (t))

/* The target a JITed program in slot `p` gives a direct site, or 0. */
static uintptr_t poke_target(const bpfrt_prog *p)
{
	return p && p->tail_entry ? (uintptr_t)p->tail_entry : 0;
}

void bpfrt_pokes_attach(bpfrt_prog *prog)
{
	for (size_t i = 0; i < prog->npokes; i++) {
		struct bpfrt_poke *k = &prog->pokes[i];
		struct bpfrt_map *m = prog->tail_sites[i].map;
		pthread_mutex_lock(&m->poke_lock);
		uintptr_t t = poke_target(__atomic_load_n((bpfrt_prog **)&m->ptrs[k->key], __ATOMIC_ACQUIRE));
		POKE_B(k, t);
		POKE_A(k, t ? k->cont : k->out);
		k->next = m->pokes;
		m->pokes = k;
		pthread_mutex_unlock(&m->poke_lock);
	}
}

void bpfrt_pokes_detach(bpfrt_prog *prog)
{
	for (size_t i = 0; i < prog->npokes; i++) {
		struct bpfrt_poke *k = &prog->pokes[i];
		struct bpfrt_map *m = prog->tail_sites[i].map;
		pthread_mutex_lock(&m->poke_lock);
		for (struct bpfrt_poke **pp = &m->pokes; *pp; pp = &(*pp)->next)
			if (*pp == k) {
				*pp = k->next;
				break;
			}
		pthread_mutex_unlock(&m->poke_lock);
	}
}

/* A program out of a prog_array: its last reference goes after a grace period
 * (every run that could still be in it, or jump to it, has ended). */
struct prog_later {
	struct rcu_head rcu;
	bpfrt_prog *prog;
};

static void prog_later_cb(struct rcu_head *h)
{
	struct prog_later *l = caa_container_of(h, struct prog_later, rcu);
	GP_ACQUIRE(&rcu_tsan_sync); /* the runs that could be in it have ended */
	GP_ACQUIRE(l);
	GP_ACQUIRE(l->prog);
	bpfrt_prog_unref(l->prog);
	free(l);
}

bool bpfrt_maps_need_rcu(struct bpfrt_map *const *maps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (maps[i]->type) {
		case BPF_MAP_TYPE_ARRAY:
		case BPF_MAP_TYPE_PERCPU_ARRAY:
		case BPF_MAP_TYPE_RINGBUF:
		case BPF_MAP_TYPE_QUEUE:
		case BPF_MAP_TYPE_STACK:
			break;
		default:
			return true;
		}
	}
	return false;
}

static void prog_unref_later(bpfrt_prog *p)
{
	if (!p)
		return;
	rcu_join();
	struct prog_later *l = malloc(sizeof(*l));
	if (!l) { /* no memory for the callback: wait here */
		urcu_memb_synchronize_rcu();
		bpfrt_prog_unref(p);
		return;
	}
	l->prog = p;
	GP_RELEASE(l);
	GP_RELEASE(p); /* what this thread did to it, for the callback's thread */
	urcu_memb_call_rcu(&l->rcu, prog_later_cb);
}

int bpfrt_map_update_prog(bpfrt_map *m, uint32_t index, bpfrt_prog *prog)
{
	if (!m || m->type != BPF_MAP_TYPE_PROG_ARRAY)
		return -EINVAL;
	if (index >= m->max_entries)
		return -E2BIG;
	if (prog) {
		/* the owner: the first program's type and engine kind */
		if (!m->owner_set) {
			m->owner_type = prog->type;
			m->owner_jit = prog->jit != NULL;
			m->owner_conv = prog->ctx_conv;
			m->owner_set = true;
		} else if (prog->type != m->owner_type || (prog->jit != NULL) != m->owner_jit ||
			   prog->ctx_conv != m->owner_conv) { /* (and one context layout: ctx.c) */
			return -EINVAL; /* the kernel's prog_array compatibility rule */
		}
		bpfrt_prog_ref(prog);
	}
	pthread_mutex_lock(&m->poke_lock);
	bpfrt_prog *old = __atomic_exchange_n((bpfrt_prog **)&m->ptrs[index], prog, __ATOMIC_ACQ_REL);
	uintptr_t t = poke_target(prog);
	__atomic_store_n(&m->entries[index], (void *)t, __ATOMIC_RELEASE);
	bool any = false;
	/* install (C -> D -> B) or replace (B -> B'): every target first, then
	 * (every core seeing them) every bypass opens.  remove (B -> D): the
	 * bypasses close; B keeps its jump: no thread reaches it past a closed
	 * bypass, one already past finds its target alive until the grace period
	 * ends, and an install rewrites B before it opens the bypass. */
	for (struct bpfrt_poke *k = m->pokes; k; k = k->next)
		if (k->key == index) {
			any = true;
			if (t)
				POKE_B(k, t);
			else
				POKE_A(k, k->out);
		}
	if (any && t) {
		sync_cores();
		for (struct bpfrt_poke *k = m->pokes; k; k = k->next)
			if (k->key == index)
				POKE_A(k, k->cont);
	}
	if (any)
		sync_cores();
	pthread_mutex_unlock(&m->poke_lock);
	prog_unref_later(old);
	return 0;
}

bpfrt_prog *bpfrt_map_prog_at(bpfrt_map *m, uint32_t index)
{
	if (!m || m->type != BPF_MAP_TYPE_PROG_ARRAY || index >= m->max_entries)
		return NULL;
	return __atomic_load_n((bpfrt_prog **)&m->ptrs[index], __ATOMIC_ACQUIRE);
}
