/*
 * jit_mem.c — executable memory for JITed code, never writable and
 * executable at once.
 *
 * Code lives in a memfd mapped twice: a read-write view that bpfrt writes
 * (and will later patch) through, and a read-execute view that threads run.
 * The executable views are placed in one window of address space reserved
 * near bpfrt's own code, so that `call rel32` reaches bpfrt's helpers (and
 * the JIT knows, before it lays out a program, which helpers are in reach:
 * see bpfrt_jit_mem_reaches).  Small programs share packs of PACK_SIZE
 * bytes, allocated first-fit in 64-byte chunks as the kernel's
 * bpf_prog_pack; a program larger than a pack gets packs of its own.  The
 * pages programs occupy are filled with int3 around them, and freed code is
 * overwritten with int3; pages no program has used yet are left unbacked.
 *
 * Where memfd_create is refused, a program gets an anonymous mapping that is
 * written, then mprotect'ed to read-execute (single view: it cannot be
 * patched in place later).
 */
#include "internal.h"
#include "jit.h"

#include <sys/mman.h>
#include <unistd.h>

#define PACK_SIZE   (2u << 20)          /* 2 MiB */
#define CHUNK_SHIFT 6                    /* 64-byte chunks */
#define CHUNKS      (PACK_SIZE >> CHUNK_SHIFT)
#define WINDOW_SIZE (1ull << 30)         /* address space reserved for code */

struct pack {
	struct pack *next;
	uint8_t *rx, *rw;
	size_t size;        /* PACK_SIZE, or a multiple for a large program */
	size_t used_chunks;
	bool shared;        /* a pack of small programs, with a bitmap */
	bool busy;          /* a dedicated pack in use */
	bool near;          /* placed near some code, outside the window */
	uint64_t *filled;   /* pages written with int3 (a bit each) */
	uint64_t bitmap[CHUNKS / 64];
};

static struct bpfrt_once mem_once = BPFRT_ONCE_INIT;

static struct {
	pthread_mutex_t lock;
	bool have_memfd;
	int fd;
	uint8_t *window;    /* NULL: no reserved window */
	size_t window_used; /* bytes of the window given to packs (bump) */
	off_t file_used;    /* bytes of the memfd given to packs (bump) */
	struct pack *packs;
} mem = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1 };

static void mem_init(void)
{
	mem.fd = memfd_create("bpfrt-jit", MFD_CLOEXEC);
	mem.have_memfd = mem.fd >= 0;
	if (!mem.have_memfd)
		return;
	/* Reserve a window within reach of our own text: try below and above. */
	uintptr_t here = (uintptr_t)&mem_init & ~((uintptr_t)PACK_SIZE - 1);
	for (int i = 1; i <= 8 && !mem.window; i++) {
		for (int dir = -1; dir <= 1 && !mem.window; dir += 2) {
			uintptr_t want = here + (uintptr_t)((intptr_t)dir * i * (intptr_t)(128u << 20));
			if (dir < 0)
				want -= WINDOW_SIZE;
			void *p = mmap((void *)want, WINDOW_SIZE, PROT_NONE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
				       -1, 0);
			if (p == MAP_FAILED)
				continue;
			if (!bpfrt_jit_mem_in_reach((uintptr_t)p, (uintptr_t)&mem_init) ||
			    !bpfrt_jit_mem_in_reach((uintptr_t)p + WINDOW_SIZE, (uintptr_t)&mem_init)) {
				munmap(p, WINDOW_SIZE);
				continue;
			}
			mem.window = p;
		}
	}
}

bool bpfrt_jit_mem_in_reach(uintptr_t a, uintptr_t b)
{
	intptr_t d = (intptr_t)(a - b);
	return d > (intptr_t)INT32_MIN + 4096 && d < (intptr_t)INT32_MAX - 4096;
}

bool bpfrt_jit_mem_reaches(uintptr_t target)
{
	bpfrt_once(&mem_once, mem_init);
	uint8_t *w = mem.window; /* fixed once initialised */
	return w && bpfrt_jit_mem_in_reach((uintptr_t)w, target) &&
	       bpfrt_jit_mem_in_reach((uintptr_t)w + WINDOW_SIZE, target);
}

/* Maps a pack's executable view at `at` (NULL: anywhere), its writable
 * view anywhere; false if the kernel placed it elsewhere or refused. */
static bool pack_map(struct pack *pk, uint8_t *at, bool fixed)
{
	int flags = MAP_SHARED | (fixed ? MAP_FIXED : at ? MAP_FIXED_NOREPLACE : 0);
	void *rx = mmap(at, pk->size, PROT_READ | PROT_EXEC, flags, mem.fd, mem.file_used);
	if (rx == MAP_FAILED)
		return false;
	if (at && rx != at) {
		munmap(rx, pk->size);
		return false;
	}
	void *rw = mmap(NULL, pk->size, PROT_READ | PROT_WRITE, MAP_SHARED, mem.fd, mem.file_used);
	if (rw == MAP_FAILED) {
		if (fixed) /* give the window space back as reserved */
			mmap(at, pk->size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
			     -1, 0);
		else
			munmap(rx, pk->size);
		return false;
	}
	pk->rx = rx;
	pk->rw = rw;
	return true;
}

/* Whether all of [lo, lo+size) is within rel32 reach of near (0: no constraint). */
static bool range_reaches(uintptr_t lo, size_t size, uintptr_t near)
{
	return !near || (bpfrt_jit_mem_in_reach(lo, near) && bpfrt_jit_mem_in_reach(lo + size, near));
}

/* A new pack of `size` bytes (a multiple of PACK_SIZE), filled with int3;
 * near != 0: within rel32 reach of that address (trampolines, stubs). */
static struct pack *pack_new(size_t size, bool shared, uintptr_t near)
{
	struct pack *pk = calloc(1, sizeof(*pk));
	if (!pk)
		return NULL;
	pk->size = size;
	pk->shared = shared;
	pk->filled = calloc(size / 4096 / 64 + 1, sizeof(uint64_t));
	if (!pk->filled) {
		free(pk);
		return NULL;
	}
	/* int3 is written where programs are placed (and back where they are
	 * freed): the rest of a pack stays untouched, unbacked */
	if (mem.have_memfd && ftruncate(mem.fd, mem.file_used + (off_t)size) == 0) {
		bool window_ok = mem.window && mem.window_used + size <= WINDOW_SIZE &&
				 range_reaches((uintptr_t)mem.window + mem.window_used, size, near);
		if (window_ok && pack_map(pk, mem.window + mem.window_used, true)) {
			mem.window_used += size;
			mem.file_used += (off_t)size;
			return pk;
		}
		/* near an address the window does not reach: below it, then above */
		uintptr_t base = near & ~((uintptr_t)PACK_SIZE - 1);
		for (int i = 1; near && i <= 64; i++) {
			for (int dir = -1; dir <= 1; dir += 2) {
				uintptr_t want = base + (uintptr_t)((intptr_t)dir * i * (intptr_t)(16u << 20));
				if (!range_reaches(want, size, near))
					continue;
				if (pack_map(pk, (uint8_t *)want, false)) {
					pk->near = true;
					mem.file_used += (off_t)size;
					return pk;
				}
			}
		}
	}
	free(pk->filled);
	free(pk);
	return NULL;
}

int bpfrt_jit_mem_alloc(size_t size, struct bpfrt_jit_mem *out)
{
	return bpfrt_jit_mem_alloc_near(size, 0, out);
}

/* Whether a pack serves an allocation near `near` (0: in the window). */
static bool pack_reaches(const struct pack *pk, uintptr_t near)
{
	return near ? range_reaches((uintptr_t)pk->rx, pk->size, near) : !pk->near;
}

/* Within rel32 reach of `near` (a traced function), or BPFRT_ENOMEM; near
 * 0: anywhere in the window (or, without one, a mapping of its own). */
int bpfrt_jit_mem_alloc_near(size_t size, uintptr_t near, struct bpfrt_jit_mem *out)
{
	memset(out, 0, sizeof(*out));
	if (size == 0)
		return BPFRT_EINVAL;
	bpfrt_once(&mem_once, mem_init);
	pthread_mutex_lock(&mem.lock);
	size_t chunks = (size + (1u << CHUNK_SHIFT) - 1) >> CHUNK_SHIFT;
	struct pack *pk = NULL;
	size_t first = 0;
	if (chunks <= CHUNKS / 2) {
		/* first fit in an existing shared pack */
		for (pk = mem.packs; pk; pk = pk->next) {
			if (!pk->shared || pk->used_chunks + chunks > CHUNKS || !pack_reaches(pk, near))
				continue;
			size_t run = 0;
			for (size_t c = 0; c < CHUNKS; c++) {
				if (pk->bitmap[c / 64] & (1ull << (c % 64))) {
					run = 0;
					continue;
				}
				if (++run == chunks) {
					first = c + 1 - chunks;
					goto found;
				}
			}
		}
		pk = pack_new(PACK_SIZE, true, near);
		first = 0;
	} else {
		size_t sz = (size + PACK_SIZE - 1) / PACK_SIZE * PACK_SIZE;
		for (pk = mem.packs; pk; pk = pk->next)
			if (!pk->shared && !pk->busy && pk->size >= sz && pack_reaches(pk, near))
				break;
		if (pk) {
			pk->busy = true;
			goto found;
		}
		if ((pk = pack_new(sz, false, near)))
			pk->busy = true;
	}
	if (!pk && near) {
		pthread_mutex_unlock(&mem.lock);
		return BPFRT_ENOMEM;
	}
	if (!pk) {
		pthread_mutex_unlock(&mem.lock);
		/* fallback: one anonymous mapping, made executable when sealed */
		size_t sz = (size + 4095) & ~(size_t)4095;
		void *p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return BPFRT_ENOMEM;
		memset(p, 0xcc, sz);
		out->rw = out->rx = p;
		out->size = sz;
		out->single = true;
		return BPFRT_OK;
	}
	pk->next = mem.packs;
	mem.packs = pk;
found:
	{
		/* int3 over the whole pages the program will occupy */
		size_t off = first << CHUNK_SHIFT, len = pk->shared ? chunks << CHUNK_SHIFT : pk->size;
		size_t lo = off & ~(size_t)4095, hi = (off + len + 4095) & ~(size_t)4095;
		if (hi > pk->size)
			hi = pk->size;
		for (size_t pg = lo; pg < hi; pg += 4096)
			if (!(pk->filled[pg / 4096 / 64] & (1ull << (pg / 4096 % 64)))) {
				memset(pk->rw + pg, 0xcc, 4096);
				pk->filled[pg / 4096 / 64] |= 1ull << (pg / 4096 % 64);
			}
	}
	if (pk->shared) {
		for (size_t c = first; c < first + chunks; c++)
			pk->bitmap[c / 64] |= 1ull << (c % 64);
		pk->used_chunks += chunks;
	}
	out->pack = pk;
	out->rw = pk->rw + (first << CHUNK_SHIFT);
	out->rx = pk->rx + (first << CHUNK_SHIFT);
	out->size = pk->shared ? chunks << CHUNK_SHIFT : pk->size;
	pthread_mutex_unlock(&mem.lock);
	return BPFRT_OK;
}

int bpfrt_jit_mem_seal(struct bpfrt_jit_mem *m)
{
	if (m->single && mprotect(m->rw, m->size, PROT_READ | PROT_EXEC))
		return BPFRT_ENOMEM;
	__builtin___clear_cache((char *)m->rx, (char *)m->rx + m->size);
	return BPFRT_OK;
}

void bpfrt_jit_mem_free(struct bpfrt_jit_mem *m)
{
	if (!m->rx)
		return;
	if (m->single) {
		munmap(m->rw, m->size);
	} else {
		pthread_mutex_lock(&mem.lock);
		struct pack *pk = m->pack;
		memset(m->rw, 0xcc, m->size); /* int3 where the program was */
		if (pk->shared) {
			size_t first = (size_t)(m->rw - pk->rw) >> CHUNK_SHIFT;
			size_t chunks = m->size >> CHUNK_SHIFT;
			for (size_t c = first; c < first + chunks; c++)
				pk->bitmap[c / 64] &= ~(1ull << (c % 64));
			pk->used_chunks -= chunks;
		}
		/* Packs are kept for reuse, a large program's too: the window is
		 * bump-allocated. */
		pk->busy = false;
		pthread_mutex_unlock(&mem.lock);
	}
	memset(m, 0, sizeof(*m));
}

uint8_t *bpfrt_jit_mem_rw_of(uintptr_t rx)
{
	uint8_t *rw = NULL;
	pthread_mutex_lock(&mem.lock);
	for (struct pack *pk = mem.packs; pk && !rw; pk = pk->next)
		if (pk->rw != pk->rx && rx >= (uintptr_t)pk->rx && rx < (uintptr_t)pk->rx + pk->size)
			rw = pk->rw + (rx - (uintptr_t)pk->rx);
	pthread_mutex_unlock(&mem.lock);
	return rw;
}
