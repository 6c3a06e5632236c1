/*
 * map.h — maps: the kernel's semantics in userspace.
 */
#ifndef BPFRT_MAP_H
#define BPFRT_MAP_H

#include "internal.h"

struct bpfrt_map {
	uint32_t type, key_size, value_size, max_entries, flags;
	char name[64];
	uint32_t stride;             /* value_size rounded up to 8 */
	uint32_t vcopy;              /* bytes an element stores: value_size (8: a map pointer) */
	uint32_t ncpu;               /* per-CPU maps: copies of each value */
	uint8_t *values;             /* arrays: max_entries * stride (* ncpu) */
	void **ptrs;                 /* prog_array / array_of_maps: the slots */
	void **entries;              /* prog_array: each slot's JIT tail-call entry, or NULL (the
				      * JIT's indirect tail calls read it: one load less) */
	struct htab *ht;             /* hash maps (map.c) */
	struct hpool *pool;          /* hash maps: free elements (map.c) */
	long count;                  /* hash maps: elements */
	uint64_t clock;              /* LRU: the use counter */
	const struct bpfrt_map *inner; /* map-in-map: the template inner maps must match */
	struct bpfrt_ringbuf *rb;    /* ring buffers */
	struct qstack *qs;           /* queue and stack maps (map.c) */
	bool owner_set, owner_jit;   /* prog_array: the owner's program type and engine, */
	bool owner_conv;             /*   and its context layout (ctx.c) */
	uint32_t owner_type;
	bool frozen;                 /* no more updates from userspace (bpfrt_map_freeze) */
	pthread_mutex_t poke_lock;   /* prog_array: slot updates and the sites below */
	struct bpfrt_poke *pokes;    /* prog_array: direct tail-call sites of JITed programs */
	int refs;
};

/*
 * A direct tail-call site (jit_x86.c): two 5-byte patch sites in the code,
 * each inside one naturally aligned 8-byte word: A (the bypass: `jmp out`
 * while the array's slot `key` is empty, a nop5 once it holds a program: on
 * to the count, the unwinding and B) and B (`jmp target`), as seed 004 and
 * the kernel lay them out.  map.c rewrites them when the slot changes, in
 * an order that never lets a thread unwind its frame and then find no
 * target (seed 004's state machine).
 */
struct bpfrt_poke {
	struct bpfrt_poke *next;     /* in the map's list */
	uint32_t key;
	uint8_t *rw_a, *rw_b;        /* the words holding the sites, where bpfrt writes them */
	uintptr_t rx_a, rx_b;        /* ... where threads run them */
	uint8_t off_a, off_b;        /* each site's place in its word (0..3) */
	uintptr_t cont, out;         /* where A goes: installed (just past it), empty */
};
/* Writes the site at byte `off` of word `rw` (running at rx) as `jmp target`
 * (a nop5 when target is the next instruction; 0: int3s). */
BPFRT_HIDDEN void bpfrt_poke_write(uint8_t *rw, uintptr_t rx, unsigned off, uintptr_t target);
/* Registers / removes a program's sites with their maps (their state set
 * from the slots as they are now). */
BPFRT_HIDDEN void bpfrt_pokes_attach(struct bpfrt_prog *prog);
BPFRT_HIDDEN void bpfrt_pokes_detach(struct bpfrt_prog *prog);

BPFRT_HIDDEN int bpfrt_map_create(uint32_t type, uint32_t key_size, uint32_t value_size,
				  uint32_t max_entries, uint32_t flags, const char *name,
				  struct bpfrt_map **out, struct bpfrt_err *err);
BPFRT_HIDDEN void bpfrt_map_put(struct bpfrt_map *m);
/* Whether runs of a program using these maps must be RCU read-side
 * sections: some map frees what a run may hold (hash elements, inner maps,
 * prog_array programs); arrays, global data, ring buffers, queues do not. */
BPFRT_HIDDEN bool bpfrt_maps_need_rcu(struct bpfrt_map *const *maps, size_t n);

/* Program side (inside an RCU read-side section): the value, or NULL. */
BPFRT_HIDDEN void *bpfrt_map_lookup_prog(struct bpfrt_map *m, const void *key);
/* Both sides: 0 or a negative errno. */
BPFRT_HIDDEN int bpfrt_map_update_raw(struct bpfrt_map *m, const void *key, const void *value,
				      uint64_t flags, bool from_prog);
BPFRT_HIDDEN int bpfrt_map_delete_raw(struct bpfrt_map *m, const void *key);
/* Program side: fn(arg, key, value) for each element of an array or hash
 * map (this run's copy of a per-CPU value) until fn returns non-zero; the
 * calls made. */
BPFRT_HIDDEN long bpfrt_map_for_each(struct bpfrt_map *m, int (*fn)(void *arg, void *key, void *value), void *arg);
/* Queue and stack maps: push (flags 0 or BPF_EXIST: drop the oldest when
 * full), pop, peek. 0 or a negative errno; -EINVAL for other maps. */
BPFRT_HIDDEN int bpfrt_map_push(struct bpfrt_map *m, const void *value, uint64_t flags);
BPFRT_HIDDEN int bpfrt_map_pop(struct bpfrt_map *m, void *value, bool remove);

/* ringbuf.c */
BPFRT_HIDDEN int bpfrt_ringbuf_init(struct bpfrt_map *m, struct bpfrt_err *err);
BPFRT_HIDDEN void bpfrt_ringbuf_free(struct bpfrt_map *m);
BPFRT_HIDDEN void *bpfrt_ringbuf_reserve(struct bpfrt_map *m, uint64_t size, uint64_t flags);
BPFRT_HIDDEN void bpfrt_ringbuf_submit(void *data, uint64_t flags, bool discard);
BPFRT_HIDDEN int bpfrt_ringbuf_output(struct bpfrt_map *m, const void *data, uint64_t size,
				      uint64_t flags);
BPFRT_HIDDEN uint64_t bpfrt_ringbuf_query(struct bpfrt_map *m, uint64_t flags);

/* RCU: program runs that use maps are read-side sections. */
BPFRT_HIDDEN void bpfrt_rcu_enter(void);
BPFRT_HIDDEN void bpfrt_rcu_exit(void);
/* The per-CPU slot of this run (see map.c). */
BPFRT_HIDDEN uint32_t bpfrt_cpu_slot(void);

#endif
