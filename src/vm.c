/*
 * vm.c — the public API: vms, the helper registry, and the load driver.
 *
 * The pipeline of a load, in order (each stage its own file):
 *
 *     copy → validate (validate.c) → [verify] → [rewrite]
 *          → engine: interpret (interp.c) | JIT (jit_x86.c)
 *
 * The verifier, rewrite passes and JIT slot in here as they land.
 */
#include "internal.h"
#include "jit.h"
#include "map.h"
#include "verifier.h"

#include <linux/bpf.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

_Noreturn void bpfrt_panic(const char *file, int line, const char *what)
{
	fprintf(stderr, "bpfrt: internal error at %s:%d: %s\n", file, line, what);
	abort();
}

#define BIG_HDR 64 /* keeps the block's alignment */
#define BIG_MIN (2u << 20)

/*
 * Freed mapped blocks are kept, a few, for the next big allocation that
 * does not need zeroed memory (bpfrt_big_alloc_raw: the patch list, the
 * linearisation's outputs): a fresh page costs a fault and the kernel's
 * clearing, about a quarter of a 1M-instruction rewrite.  A kept block is
 * MADV_FREE: the kernel takes its pages back whenever it needs memory; until
 * then writing them costs nothing.
 */
#define BIG_KEEP 8
#define BIG_KEEP_BYTES ((size_t)128 << 20)
static struct {
	pthread_mutex_t lock;
	struct { uint8_t *p; size_t total; } blk[BIG_KEEP];
	size_t n, bytes;
} big_kept = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* A kept block of total..2*total bytes, or NULL. */
static uint8_t *big_take(size_t *total)
{
	uint8_t *p = NULL;
	pthread_mutex_lock(&big_kept.lock);
	size_t best = SIZE_MAX;
	for (size_t i = 0; i < big_kept.n; i++)
		if (big_kept.blk[i].total >= *total && big_kept.blk[i].total / 2 <= *total &&
		    (best == SIZE_MAX || big_kept.blk[i].total < big_kept.blk[best].total))
			best = i;
	if (best != SIZE_MAX) {
		p = big_kept.blk[best].p;
		*total = big_kept.blk[best].total;
		big_kept.bytes -= *total;
		big_kept.blk[best] = big_kept.blk[--big_kept.n];
	}
	pthread_mutex_unlock(&big_kept.lock);
	return p;
}

/* Keeps the mapped block p (total bytes) for reuse, or says no; smaller
 * kept blocks make room for it (the newest large blocks are the likeliest
 * to be asked for again). */
static bool big_keep(uint8_t *p, size_t total)
{
	bool kept = false;
	uint8_t *drop[BIG_KEEP];
	size_t dropsz[BIG_KEEP], ndrop = 0;
	pthread_mutex_lock(&big_kept.lock);
	while ((big_kept.n == BIG_KEEP || big_kept.bytes + total > BIG_KEEP_BYTES) && big_kept.n) {
		size_t small = 0;
		for (size_t i = 1; i < big_kept.n; i++)
			if (big_kept.blk[i].total < big_kept.blk[small].total)
				small = i;
		if (big_kept.blk[small].total >= total)
			break;
		drop[ndrop] = big_kept.blk[small].p;
		dropsz[ndrop++] = big_kept.blk[small].total;
		big_kept.bytes -= big_kept.blk[small].total;
		big_kept.blk[small] = big_kept.blk[--big_kept.n];
	}
	if (big_kept.n < BIG_KEEP && big_kept.bytes + total <= BIG_KEEP_BYTES) {
		big_kept.blk[big_kept.n].p = p;
		big_kept.blk[big_kept.n].total = total;
		big_kept.n++;
		big_kept.bytes += total;
		kept = true;
	}
	pthread_mutex_unlock(&big_kept.lock);
	for (size_t i = 0; i < ndrop; i++)
		munmap(drop[i], dropsz[i]);
	if (kept)
		madvise(p, total, MADV_FREE);
	return kept;
}

static void *big_alloc(size_t size, bool zero)
{
	size_t total = size + BIG_HDR;
	uint8_t *p;
	if (total < BIG_MIN) {
		p = zero ? calloc(1, total) : malloc(total);
		if (!p)
			return NULL;
	} else {
		total = (total + BIG_MIN - 1) & ~(size_t)(BIG_MIN - 1);
		p = zero ? NULL : big_take(&total);
		if (!p) {
			p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED)
				return NULL;
			madvise(p, total, MADV_HUGEPAGE);
		}
	}
	memcpy(p, &total, sizeof(total));
	return p + BIG_HDR;
}

void *bpfrt_big_alloc(size_t size)
{
	return big_alloc(size, true);
}

void *bpfrt_big_alloc_raw(size_t size)
{
	return big_alloc(size, false);
}

void *bpfrt_big_realloc(void *q, size_t size)
{
	if (!q)
		return bpfrt_big_alloc_raw(size);
	uint8_t *p = (uint8_t *)q - BIG_HDR;
	size_t total, want = size + BIG_HDR;
	memcpy(&total, p, sizeof(total));
	if (total >= BIG_MIN && want >= BIG_MIN) { /* the pages move, nothing is copied */
		want = (want + BIG_MIN - 1) & ~(size_t)(BIG_MIN - 1);
		if (want == total)
			return q;
		uint8_t *np = mremap(p, total, want, MREMAP_MAYMOVE);
		if (np == MAP_FAILED)
			return NULL;
		memcpy(np, &want, sizeof(want));
		return np + BIG_HDR;
	}
	uint8_t *nq = bpfrt_big_alloc_raw(size);
	if (!nq)
		return NULL;
	memcpy(nq, q, (total - BIG_HDR) < size ? (total - BIG_HDR) : size);
	bpfrt_big_free(q);
	return nq;
}

void bpfrt_big_free(void *q)
{
	if (!q)
		return;
	uint8_t *p = (uint8_t *)q - BIG_HDR;
	size_t total;
	memcpy(&total, p, sizeof(total));
	if (total < BIG_MIN)
		free(p);
	else if (!big_keep(p, total))
		munmap(p, total);
}

void bpfrt_vfmt(char *buf, size_t len, const char *fmt, va_list ap)
{
	if (!len)
		return;
	int n = vsnprintf(buf, len, fmt, ap);
	if (n < 0)
		buf[0] = '\0';
}

void bpfrt_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bpfrt_vfmt(buf, len, fmt, ap);
	va_end(ap);
}

int bpfrt_err_set(struct bpfrt_err *e, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bpfrt_vfmt(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	e->status = status;
	return status;
}

static void set_msg(pthread_mutex_t *lock, char *dst, const char *fmt, va_list ap)
{
	char tmp[BPFRT_ERRMSG_MAX];
	bpfrt_vfmt(tmp, sizeof(tmp), fmt, ap);
	pthread_mutex_lock(lock);
	memcpy(dst, tmp, sizeof(tmp));
	pthread_mutex_unlock(lock);
}

int bpfrt_vm_fail(bpfrt_vm *vm, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_msg(&vm->lock, vm->errmsg, fmt, ap);
	va_end(ap);
	return status;
}

int bpfrt_prog_fail(bpfrt_prog *prog, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_msg(&prog->lock, prog->errmsg, fmt, ap);
	va_end(ap);
	return status;
}

const char *bpfrt_status_str(int status)
{
	switch (status) {
	case BPFRT_OK: return "ok";
	case BPFRT_EINVAL: return "invalid argument";
	case BPFRT_EREJECT: return "program rejected";
	case BPFRT_EFAULT: return "run-time fault";
	case BPFRT_EBUDGET: return "instruction budget exceeded";
	case BPFRT_ENOMEM: return "out of memory";
	case BPFRT_ENOTSUP: return "not supported";
	case BPFRT_EASM: return "assembler error";
	case BPFRT_EEXIST: return "already exists";
	case BPFRT_E2BIG: return "over a limit";
	case BPFRT_EINTERNAL: return "internal error";
	}
	return "unknown status";
}

const char *bpfrt_version(void)
{
#define STR_(x) #x
#define STR(x) STR_(x)
	return STR(BPFRT_VERSION_MAJOR) "." STR(BPFRT_VERSION_MINOR) "." STR(BPFRT_VERSION_PATCH);
}

/* ------------------------------------------------------------------ vm */

bpfrt_vm *bpfrt_vm_new(void)
{
	bpfrt_vm *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return NULL;
	pthread_mutex_init(&vm->lock, NULL);
	if (bpfrt_helpers_register_defaults(vm) != BPFRT_OK) {
		bpfrt_vm_free(vm);
		return NULL;
	}
	return vm;
}

static void helper_table_free(struct bpfrt_helper_table *t)
{
	for (uint32_t i = 0; i < t->n; i++)
		free(t->slot[i].name);
	free(t->slot);
	t->slot = NULL;
	t->n = 0;
}

static int helper_table_copy(struct bpfrt_helper_table *dst, const struct bpfrt_helper_table *src)
{
	dst->n = 0;
	dst->slot = calloc(src->n ? src->n : 1, sizeof(*dst->slot));
	if (!dst->slot)
		return BPFRT_ENOMEM;
	dst->n = src->n;
	for (uint32_t i = 0; i < src->n; i++) {
		dst->slot[i] = src->slot[i];
		if (src->slot[i].name && !(dst->slot[i].name = strdup(src->slot[i].name))) {
			helper_table_free(dst);
			return BPFRT_ENOMEM;
		}
	}
	return BPFRT_OK;
}

void bpfrt_vm_free(bpfrt_vm *vm)
{
	if (!vm)
		return;
	helper_table_free(&vm->helpers);
	for (size_t i = 0; i < vm->ntypes; i++) {
		free(vm->types[i].name);
		free(vm->types[i].section);
	}
	free(vm->types);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
}

int bpfrt_vm_register_prog_type(bpfrt_vm *vm, const struct bpfrt_prog_type *t, uint32_t *type_id)
{
	if (!vm)
		return BPFRT_EINVAL;
	if (!t || t->sz < sizeof(*t) || !t->name || !*t->name || !t->section || !*t->section || !t->ctx_size ||
	    t->ctx_size > 65535 || t->writable_off > t->ctx_size || t->writable_size > t->ctx_size - t->writable_off)
		return bpfrt_vm_fail(vm, BPFRT_EINVAL, "bpfrt_vm_register_prog_type: bad description (a name, a "
				     "section, 1..65535 context bytes, a writable span inside them)");
	for (size_t i = 0; i < vm->ntypes; i++)
		if (!strcmp(vm->types[i].section, t->section) || !strcmp(vm->types[i].name, t->name))
			return bpfrt_vm_fail(vm, BPFRT_EEXIST, "program type %s (section %s) is already registered",
					     vm->types[i].name, vm->types[i].section);
	struct bpfrt_custom_type *ty = realloc(vm->types, (vm->ntypes + 1) * sizeof(*ty));
	if (!ty)
		return bpfrt_vm_fail(vm, BPFRT_ENOMEM, "out of memory");
	vm->types = ty;
	struct bpfrt_custom_type *c = &ty[vm->ntypes];
	*c = (struct bpfrt_custom_type){ BPFRT_PROG_TYPE_CUSTOM + (uint32_t)vm->ntypes, strdup(t->name),
					 strdup(t->section), t->ctx_size, t->writable_off, t->writable_size,
					 t->ret_min, t->ret_max };
	if (!c->name || !c->section) {
		free(c->name);
		free(c->section);
		return bpfrt_vm_fail(vm, BPFRT_ENOMEM, "out of memory");
	}
	vm->ntypes++;
	if (type_id)
		*type_id = c->id;
	return BPFRT_OK;
}

const struct bpfrt_custom_type *bpfrt_vm_custom_type(const bpfrt_vm *vm, uint32_t id)
{
	if (!vm || id < BPFRT_PROG_TYPE_CUSTOM || id - BPFRT_PROG_TYPE_CUSTOM >= vm->ntypes)
		return NULL;
	return &vm->types[id - BPFRT_PROG_TYPE_CUSTOM];
}

const struct bpfrt_custom_type *bpfrt_vm_custom_section(const bpfrt_vm *vm, const char *sec)
{
	const struct bpfrt_custom_type *best = NULL;
	for (size_t i = 0; vm && i < vm->ntypes; i++) {
		size_t l = strlen(vm->types[i].section);
		if (!strncmp(sec, vm->types[i].section, l) && (!best || l > strlen(best->section)))
			best = &vm->types[i];
	}
	return best;
}

const char *bpfrt_vm_errmsg(const bpfrt_vm *vm)
{
	return vm ? vm->errmsg : "no vm";
}

int bpfrt_vm_register_helper(bpfrt_vm *vm, uint32_t id, const char *name,
			     bpfrt_helper_fn fn, uint32_t ret_mem_size)
{
	if (!vm)
		return BPFRT_EINVAL;
	if (id > BPFRT_MAX_HELPER_ID)
		return bpfrt_vm_fail(vm, BPFRT_EINVAL, "helper id %u is out of range (0..%u)",
				     id, BPFRT_MAX_HELPER_ID);
	struct bpfrt_helper_table *t = &vm->helpers;
	if (!fn) {
		if (id < t->n) {
			free(t->slot[id].name);
			t->slot[id] = (struct bpfrt_helper_slot){ 0 };
		}
		return BPFRT_OK;
	}
	if (id < t->n && t->slot[id].fn)
		return bpfrt_vm_fail(vm, BPFRT_EEXIST, "helper %u (%s) is already registered",
				     id, t->slot[id].name ? t->slot[id].name : "?");
	char *copy = NULL;
	if (name && !(copy = strdup(name)))
		return bpfrt_vm_fail(vm, BPFRT_ENOMEM, "out of memory");
	if (id >= t->n) {
		uint32_t n = t->n ? t->n : 16;
		while (n <= id)
			n *= 2;
		struct bpfrt_helper_slot *s = realloc(t->slot, n * sizeof(*s));
		if (!s) {
			free(copy);
			return bpfrt_vm_fail(vm, BPFRT_ENOMEM, "out of memory");
		}
		memset(s + t->n, 0, (n - t->n) * sizeof(*s));
		t->slot = s;
		t->n = n;
	}
	t->slot[id] = (struct bpfrt_helper_slot){ .fn = fn, .ret_mem_size = ret_mem_size, .name = copy };
	return BPFRT_OK;
}

int bpfrt_vm_register_helper_proto(bpfrt_vm *vm, uint32_t id, const char *name, bpfrt_helper_fn fn,
				   const struct bpfrt_helper_proto *proto)
{
	if (!vm)
		return BPFRT_EINVAL;
	if (!proto || !fn || proto->sz < sizeof(*proto))
		return bpfrt_vm_fail(vm, BPFRT_EINVAL, "bpfrt_vm_register_helper_proto: bad argument");
	if (proto->ret > BPFRT_RET_MEM_OR_NULL || (proto->ret == BPFRT_RET_MEM_OR_NULL && !proto->ret_size))
		return bpfrt_vm_fail(vm, BPFRT_EINVAL, "helper %u: bad return kind (memory needs ret_size)", id);
	/* memory and sizes pair up; maps come before their keys and values */
	bool mem = false, map = false, ended = false;
	uint8_t mem_arg[2] = { 0 }, mem_size[2] = { 0 }, map_args = 0;
	int nmem = 0;
	for (int i = 0; i < 5; i++) {
		enum bpfrt_arg a = proto->args[i];
		bool size = a == BPFRT_ARG_SIZE || a == BPFRT_ARG_SIZE_OR_ZERO;
		if (a > BPFRT_ARG_CONST_STR || (ended && a != BPFRT_ARG_NONE) || size != mem ||
		    ((a == BPFRT_ARG_MAP_KEY || a == BPFRT_ARG_MAP_VALUE) && !map))
			return bpfrt_vm_fail(vm, BPFRT_EINVAL, "helper %u: argument %d (kind %d) does not fit the "
					     "ones before it", id, i + 1, (int)a);
		ended |= a == BPFRT_ARG_NONE;
		if (size && nmem < 2) { /* safe mode checks the first two memory arguments */
			mem_arg[nmem] = (uint8_t)i;
			mem_size[nmem++] = (uint8_t)(i + 1);
		}
		mem = a == BPFRT_ARG_MEM || a == BPFRT_ARG_MEM_OR_NULL || a == BPFRT_ARG_MEM_WRITE;
		map |= a == BPFRT_ARG_MAP;
		if (a == BPFRT_ARG_MAP && i == 0)
			map_args |= 4;
		if (map_args & 4) /* safe mode: r2 / r3 as the map's key or value */
			map_args |= (uint8_t)(a == BPFRT_ARG_MAP_KEY && i == 1 ? 1 : a == BPFRT_ARG_MAP_VALUE && i == 2 ? 2 :
					      a == BPFRT_ARG_MAP_VALUE && i == 1 ? 8 : 0);
	}
	if (mem)
		return bpfrt_vm_fail(vm, BPFRT_EINVAL, "helper %u: its last memory argument has no size", id);
	int rc = bpfrt_vm_register_helper(vm, id, name, fn,
					  proto->ret == BPFRT_RET_MEM_OR_NULL ? proto->ret_size : 0);
	if (rc != BPFRT_OK)
		return rc;
	struct bpfrt_helper_slot *s = &vm->helpers.slot[id];
	s->has_proto = true;
	s->proto_ret = (uint8_t)proto->ret;
	for (int i = 0; i < 5; i++)
		s->proto_args[i] = (uint8_t)proto->args[i];
	memcpy(s->mem_arg, mem_arg, 2);
	memcpy(s->mem_size, mem_size, 2);
	s->map_args = map_args;
	return BPFRT_OK;
}

const char *bpfrt_vm_helper_name(const bpfrt_vm *vm, uint32_t id)
{
	const struct bpfrt_helper_slot *h = vm ? bpfrt_helper_get(&vm->helpers, id) : NULL;
	return h ? h->name : NULL;
}

/* ------------------------------------------------------------ programs */

void bpfrt_prog_ref(bpfrt_prog *p)
{
	__atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
}

static void prog_destroy(bpfrt_prog *prog);

void bpfrt_prog_unref(bpfrt_prog *p)
{
	if (p && !__atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL))
		prog_destroy(p);
}

/* The owner's reference goes; prog_array slots may keep the program alive. */
void bpfrt_prog_free(bpfrt_prog *prog)
{
	bpfrt_prog_unref(prog);
}

static void prog_destroy(bpfrt_prog *prog)
{
	if (!prog)
		return;
	helper_table_free(&prog->helpers);
	bpfrt_pokes_detach(prog); /* before its code goes */
	free(prog->pokes);
	free(prog->tail_sites);
	free(prog->cb_pcs);
	for (size_t i = 0; i < prog->nfuncs; i++)
		free(prog->funcs[i].name);
	free(prog->funcs);
	bpfrt_jit_free(prog->jit);
	for (size_t i = 0; i < prog->nmaps; i++)
		bpfrt_map_put(prog->maps[i]);
	free(prog->maps);
	free(prog->regions);
	free(prog->insns);
	free(prog->xlated);
	free(prog->xlated_orig);
	for (size_t i = 0; i < prog->nlines; i++)
		free(prog->lines[i].text);
	free(prog->lines);
	free(prog->sub_depth);
	free(prog->dec);
	free(prog->name);
	free(prog->sec);
	pthread_mutex_destroy(&prog->lock);
	free(prog);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t random_seed(void)
{
	uint64_t s = 0;
	if (getrandom(&s, sizeof(s), 0) != sizeof(s))
		s = now_ns() ^ (uintptr_t)&s;
	return s;
}

/* the verifier's facts a loaded program keeps */
static int keep_facts(bpfrt_prog *p, const struct vf_result *vr)
{
	if (!vr->nsub)
		return BPFRT_OK;
	free(p->sub_depth);
	if (!(p->sub_depth = malloc(vr->nsub * sizeof(*p->sub_depth))))
		return BPFRT_ENOMEM;
	for (size_t i = 0; i < vr->nsub; i++)
		p->sub_depth[i] = vr->sub[i].stack_depth;
	p->nsub = vr->nsub;
	return BPFRT_OK;
}

int bpfrt_prog_load(bpfrt_vm *vm, const struct bpfrt_insn *insns, size_t n,
		    const struct bpfrt_load_opts *opts, bpfrt_prog **out)
{
	return bpfrt_prog_load_verified(vm, insns, n, opts, NULL, out);
}

int bpfrt_prog_load_verified(bpfrt_vm *vm, const struct bpfrt_insn *insns, size_t n,
			     const struct bpfrt_load_opts *opts, const struct bpfrt_facts *facts, bpfrt_prog **out)
{
	const struct vf_result *given = facts ? facts->vr : NULL;
	if (!vm)
		return BPFRT_EINVAL;
	if (!out || (!insns && n))
		return bpfrt_vm_fail(vm, BPFRT_EINVAL, "bpfrt_prog_load: NULL argument");
	*out = NULL;
	struct bpfrt_load_opts o = { 0 };
	if (opts) {
		if (opts->sz < offsetof(struct bpfrt_load_opts, jit_permute) || opts->sz > sizeof(o))
			return bpfrt_vm_fail(vm, BPFRT_EINVAL, "bpfrt_load_opts: bad sz %zu", opts->sz);
		memcpy(&o, opts, opts->sz);
	}
	if (o.flags & ~(BPFRT_LOAD_SAFE | BPFRT_LOAD_JIT_FALLBACK | BPFRT_LOAD_JIT_RETPOLINE |
			BPFRT_LOAD_BLIND | BPFRT_LOAD_ZEXT | BPFRT_LOAD_VERIFY | BPFRT_LOAD_TRUSTED |
			BPFRT_LOAD_JIT_NO_INLINE))
		return bpfrt_vm_fail(vm, BPFRT_EINVAL, "unknown load flags %#x", o.flags);
	if (o.engine == BPFRT_ENGINE_DEFAULT) {
		o.engine = (o.flags & BPFRT_LOAD_SAFE) ? BPFRT_ENGINE_INTERP : BPFRT_ENGINE_JIT;
		o.flags |= BPFRT_LOAD_JIT_FALLBACK;
	}
	if (o.engine != BPFRT_ENGINE_INTERP && o.engine != BPFRT_ENGINE_INTERP_SWITCH &&
	    o.engine != BPFRT_ENGINE_JIT)
		return bpfrt_vm_fail(vm, BPFRT_ENOTSUP, "engine %d is not available", o.engine);
	if (o.engine == BPFRT_ENGINE_JIT && (o.flags & BPFRT_LOAD_SAFE))
		return bpfrt_vm_fail(vm, BPFRT_ENOTSUP,
				     "safe mode runs on the interpreter: the JIT trusts the program");

	struct bpfrt_err err = { 0 };
	bpfrt_prog *p = calloc(1, sizeof(*p));
	if (!p)
		return bpfrt_vm_fail(vm, BPFRT_ENOMEM, "out of memory");
	pthread_mutex_init(&p->lock, NULL);
	p->refs = 1;
	p->vm = vm;
	p->n = n;
	p->flags = o.flags;
	p->engine = o.engine;
	p->insn_budget = o.insn_budget;
	int rc = BPFRT_ENOMEM;
	if ((o.name && !(p->name = strdup(o.name))) ||
	    !(p->insns = malloc((n ? n : 1) * sizeof(*insns))) ||
	    !(p->dec = malloc((n ? n : 1) * sizeof(*insns))) ||
	    helper_table_copy(&p->helpers, &vm->helpers) != BPFRT_OK) {
		bpfrt_err_set(&err, rc, "out of memory");
		goto fail;
	}
	if (n)
		memcpy(p->insns, insns, n * sizeof(*insns));

	/* The pipeline: validate → [verify] → rewrite → engine. */
	uint64_t t0 = now_ns();
	p->nx = n;
	/* a verified program may write r10 in code no path reaches: the verifier
	 * refuses reached writes, the rewrite removes the dead code */
	bool verified = (o.flags & BPFRT_LOAD_VERIFY) || given;
	rc = bpfrt_validate(p->insns, n, &p->helpers, verified ? BPFRT_VALIDATE_R10_LATE : 0, p->dec, &err);
	uint64_t t1 = now_ns();
	p->stats.validate_ns = t1 - t0;
	struct vf_result vr = { 0 };
	struct bpfrt_facts own = { 0 };
	if (rc == BPFRT_OK && (o.flags & BPFRT_LOAD_VERIFY)) {
		struct vf_input in = { .insns = p->insns, .n = n, .platform = VF_PLATFORM_BPFRT,
				       .helpers = &p->helpers, .ctx_size = o.ctx_size };
		rc = bpfrt_verify(&in, &vr);
		if (rc != BPFRT_OK)
			bpfrt_err_set(&err, rc, "refused by the verifier: %s", vr.log ? vr.log : "");
		size_t l = strlen(err.msg);
		if (l && err.msg[l - 1] == '\n')
			err.msg[l - 1] = '\0';
		p->verified = rc == BPFRT_OK;
		p->ctx_need = vr.ctx_max;
		if (rc == BPFRT_OK && keep_facts(p, &vr))
			rc = bpfrt_err_set(&err, BPFRT_ENOMEM, "out of memory");
		own.vr = &vr;
		facts = &own;
	} else if (rc == BPFRT_OK && given && keep_facts(p, given)) {
		rc = bpfrt_err_set(&err, BPFRT_ENOMEM, "out of memory");
	}
	if (facts)
		p->type = facts->prog_type;
	if (rc == BPFRT_OK) {
		struct bpfrt_rw_opts ro = { .zext = o.flags & BPFRT_LOAD_ZEXT,
					    .blind = o.flags & BPFRT_LOAD_BLIND,
					    .safe = o.flags & BPFRT_LOAD_SAFE,
					    .facts = facts };
		if (ro.blind)
			ro.seed = random_seed();
		rc = bpfrt_rewrite(p, &ro, &err);
	}
	bpfrt_verify_result_free(&vr);
	for (size_t i = 0; rc == BPFRT_OK && i < p->nx; i++) {
		p->tail_calls |= p->dec[i].code == BPFRT_OP_TAIL_CALL;
		if (p->dec[i].code == BPFRT_OP_LDDW_FUNC) { /* a callback (validated: in range) */
			uint32_t t = (uint32_t)((int64_t)i + 1 + p->dec[i].imm), *c;
			bool known = false;
			for (size_t k = 0; k < p->ncb; k++)
				known |= p->cb_pcs[k] == t;
			if (!known && !(c = realloc(p->cb_pcs, (p->ncb + 1) * sizeof(*c))))
				rc = bpfrt_err_set(&err, BPFRT_ENOMEM, "out of memory");
			else if (!known)
				(p->cb_pcs = c)[p->ncb++] = t;
		}
	}
	uint64_t t2 = now_ns();
	if (rc == BPFRT_OK && p->engine == BPFRT_ENGINE_JIT) {
		struct bpfrt_jit_opts jo = { .permute = o.jit_permute & 0xffff,
					     .force_far = o.jit_permute & (1u << 16),
					     .retpoline = o.flags & BPFRT_LOAD_JIT_RETPOLINE,
					     .no_inline = o.flags & BPFRT_LOAD_JIT_NO_INLINE };
		rc = bpfrt_jit_compile(p, &jo, &err);
		if (rc != BPFRT_OK && (o.flags & BPFRT_LOAD_JIT_FALLBACK)) {
			bpfrt_prog_fail(p, BPFRT_OK, "the JIT could not compile the program, so it "
					"runs on the interpreter: %s", err.msg);
			p->engine = BPFRT_ENGINE_INTERP;
			rc = BPFRT_OK;
		}
	}
	if (rc != BPFRT_OK)
		goto fail;
	for (size_t pc = 0; pc < n; pc++) { /* helpers that need the run's per-CPU slot */
		const struct bpfrt_helper_slot *h = p->insns[pc].code == 0x85 && p->insns[pc].src == 0 ?
			bpfrt_helper_get(&p->helpers, (uint32_t)p->insns[pc].imm) : NULL;
		if ((h && h->uses_cpu) || p->insns[pc].code == 0x8d)
			p->needs_cpu_slot = p->needs_cpu_slot || (h && h->uses_cpu);
	}
	p->stats.jit_ns = p->jit ? now_ns() - t2 : 0;
	p->stats.total_ns = now_ns() - t0;
	*out = p;
	return BPFRT_OK;
fail:
	bpfrt_vm_fail(vm, rc, "%s%s%s", o.name ? o.name : "", o.name ? ": " : "", err.msg);
	bpfrt_prog_free(p);
	return rc;
}

const char *bpfrt_prog_errmsg(const bpfrt_prog *prog)
{
	return prog ? prog->errmsg : "no program";
}

const struct bpfrt_insn *bpfrt_prog_insns(const bpfrt_prog *prog, size_t *n)
{
	if (n)
		*n = prog ? prog->n : 0;
	return prog ? prog->insns : NULL;
}

bpfrt_engine bpfrt_prog_engine(const bpfrt_prog *prog)
{
	return prog ? prog->engine : BPFRT_ENGINE_DEFAULT;
}

BPFRT_HIDDEN void bpfrt_cpu_slot_take(void);
BPFRT_HIDDEN void bpfrt_cpu_slot_give(void);

/* A run (bpfrt_run): an RCU read-side section when the program uses maps (values its
 * lookups return stay valid until the run ends), owning a per-CPU slot
 * when it uses per-CPU data (map.c explains). */
BPFRT_TLS struct bpfrt_prog *bpfrt_current;

int bpfrt_run(bpfrt_prog *prog, uint64_t r1, uint64_t r2, const struct bpfrt_region *r,
	      const struct bpfrt_region *extra, uint64_t *r0)
{
	struct bpfrt_prog *outer = bpfrt_current;
	bpfrt_current = prog;
	if (likely(!prog->needs_rcu && !prog->needs_cpu_slot)) {
		int rc = prog->jit ? bpfrt_jit_run(prog, r1, r2, r0) : bpfrt_interp_run(prog, r1, r2, r, extra, r0);
		bpfrt_current = outer;
		return rc;
	}
	if (prog->needs_cpu_slot)
		bpfrt_cpu_slot_take();
	if (prog->needs_rcu)
		bpfrt_rcu_enter();
	int rc = prog->jit ? bpfrt_jit_run(prog, r1, r2, r0) : bpfrt_interp_run(prog, r1, r2, r, extra, r0);
	if (prog->needs_rcu)
		bpfrt_rcu_exit();
	if (prog->needs_cpu_slot)
		bpfrt_cpu_slot_give();
	bpfrt_current = outer;
	return rc;
}

void bpfrt_vm_set_trace(bpfrt_vm *vm, void (*fn)(void *arg, const char *line), void *arg)
{
	if (vm) {
		vm->trace = fn;
		vm->trace_arg = arg;
	}
}

/* A verified program's guarantees hold only if it gets the context it was
 * verified for: enough bytes, and for contexts holding pointers (packets)
 * the real one (bpfrt_prog_run_packet).  Safe mode checks at run time instead. */
static int ctx_ok(bpfrt_prog *prog, size_t len)
{
	if (!prog->verified || (prog->flags & BPFRT_LOAD_SAFE))
		return BPFRT_OK;
	if (prog->ctx_ptrs)
		return bpfrt_prog_fail(prog, BPFRT_EINVAL, "a %s program runs on packets "
				       "(bpfrt_prog_run_packet) or in safe mode: its context holds pointers",
				       prog->type ? "typed" : "raw");
	if (len < prog->ctx_need)
		return bpfrt_prog_fail(prog, BPFRT_EINVAL, "the program was verified to access %u bytes of "
				       "its context; this run gives %zu", prog->ctx_need, len);
	return BPFRT_OK;
}

int bpfrt_prog_run_mem(bpfrt_prog *prog, void *mem, size_t len, uint64_t *r0)
{
	if (!prog || !r0 || (!mem && len))
		return prog ? bpfrt_prog_fail(prog, BPFRT_EINVAL, "bpfrt_prog_run_mem: bad argument")
			    : BPFRT_EINVAL;
	int rc = ctx_ok(prog, len);
	if (rc)
		return rc;
	if (prog->ctx_conv) /* mem is the UAPI context: the program reads bpfrt's */
		return bpfrt_ctx_run(prog, mem, len, NULL, 0, r0);
	struct bpfrt_region r = { (uintptr_t)mem, (uintptr_t)mem + len };
	return bpfrt_run(prog, (uintptr_t)mem, len, &r, NULL, r0);
}

int bpfrt_prog_run_ctx(bpfrt_prog *prog, void *ctx, size_t ctx_size, uint64_t *r0)
{
	if (!prog || !r0 || (!ctx && ctx_size))
		return prog ? bpfrt_prog_fail(prog, BPFRT_EINVAL, "bpfrt_prog_run_ctx: bad argument")
			    : BPFRT_EINVAL;
	int rc = ctx_ok(prog, ctx_size);
	if (rc)
		return rc;
	if (prog->ctx_conv)
		return bpfrt_ctx_run(prog, ctx, ctx_size, NULL, 0, r0);
	if (prog->type == BPF_PROG_TYPE_TRACING && ctx_size <= 13 * 8) {
		/* a tracing program outside a trampoline: the arguments in a frame
		 * with the hidden slots its helpers read (no return value, no ip) */
		uint64_t f[3 + 13] = { 0, 0, ctx_size / 8 };
		memcpy(f + 3, ctx, ctx_size);
		struct bpfrt_region r = { (uintptr_t)f, (uintptr_t)(f + 3) + ctx_size };
		rc = bpfrt_run(prog, (uintptr_t)(f + 3), 0, &r, NULL, r0);
		memcpy(ctx, f + 3, ctx_size);
		return rc;
	}
	struct bpfrt_region r = { (uintptr_t)ctx, (uintptr_t)ctx + ctx_size };
	return bpfrt_run(prog, (uintptr_t)ctx, 0, &r, NULL, r0);
}

int bpfrt_disasm_insn(const bpfrt_vm *vm, const struct bpfrt_insn *insns, size_t n,
		      size_t pc, char *buf, size_t buflen)
{
	return bpfrt_disasm_one(vm ? &vm->helpers : NULL, insns, n, pc, buf, buflen);
}

int bpfrt_prog_dump_jited(bpfrt_prog *prog, char **text)
{
	if (!prog || !text)
		return BPFRT_EINVAL;
	*text = NULL;
	if (!prog->jit)
		return bpfrt_prog_fail(prog, BPFRT_EINVAL, "the program does not run on the JIT");
	int rc = bpfrt_jit_dump(prog, text);
	return rc == BPFRT_OK ? rc : bpfrt_prog_fail(prog, rc, "out of memory");
}

void bpfrt_prog_jit_info(const bpfrt_prog *prog, struct bpfrt_jit_info *info)
{
	memset(info, 0, sizeof(*info));
	if (prog && prog->jit) {
		info->code_bytes = prog->jit->code_size;
		info->functions = prog->jit->nfn;
		info->passes = prog->jit->passes;
		info->inlined = prog->jit->nalias;
	}
}

void *bpfrt_prog_func(const bpfrt_prog *prog, const char *name)
{
	if (!prog || !prog->jit)
		return NULL;
	if (!name || (prog->name && !strcmp(name, prog->name)))
		return prog->jit->main;
	for (size_t i = 0; i < prog->nfuncs; i++) {
		if (strcmp(prog->funcs[i].name, name))
			continue;
		/* the JIT function whose first instruction came from the subprogram's */
		for (size_t f = 1; f < prog->jit->nfn; f++)
			if (bpfrt_orig_pc(prog, prog->jit->fn[f].start) == prog->funcs[i].insn)
				return prog->jit->mem.rx + prog->jit->fn[f].entry;
	}
	return NULL;
}

const struct bpfrt_insn *bpfrt_prog_xlated(const bpfrt_prog *prog, size_t *n, const int32_t **orig)
{
	if (orig)
		*orig = prog ? prog->xlated_orig : NULL;
	if (n)
		*n = prog ? prog->nx : 0;
	return prog ? (prog->xlated ? prog->xlated : prog->insns) : NULL;
}

void bpfrt_prog_stats(const bpfrt_prog *prog, struct bpfrt_stats *stats)
{
	if (prog)
		*stats = prog->stats;
	else
		memset(stats, 0, sizeof(*stats));
}
