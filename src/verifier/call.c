/*
 * call.c — calls: helpers checked against their prototypes, subprogram
 * calls and returns, callbacks, and references.
 *
 * A helper call checks r1..r5 against the prototype's argument kinds (a
 * memory argument against the size in the next one), then: releases the
 * reference its release argument holds, invalidates packet pointers if it
 * may move the packet, clobbers r1..r5 and sets r0 from the return kind
 * (a pointer that may be NULL gets a fresh id, shared by its copies, so a
 * NULL check refines them all; an acquiring helper's pointer also holds a
 * reference, which every path must release before exit).
 *
 * A subprogram call pushes a frame (r1..r5 passed, r10 its own stack); exit
 * pops it, r0 carrying the result.  A callback helper (bpf_loop,
 * bpf_for_each_map_elem) calls its callback like a subprogram, with the
 * helper's arguments; when the callback returns, the walk resumes at the
 * helper call itself, which may run the callback again or be done: the
 * state at the call converges, and is pruned there (verify.c).
 */
#include "vf.h"

#include <linux/bpf.h>

struct meta {
	int32_t map;          /* the A_MAP argument's map, or -1 */
	int mem_reg;          /* the pending memory argument (its size comes next) */
	bool mem_write, mem_null_ok;
	uint32_t release;     /* the reference released */
	int64_t alloc_size;
	int32_t cb;           /* the callback's subprogram, or -1 */
	struct vreg cb_ctx;
	bool have_cb_ctx;
	uint64_t key;         /* r3 of bpf_tail_call when constant */
	bool key_const;
};

/* A raw program's context is plain memory helpers may take, and a syscall
 * program's on bpfrt's platform; Linux refuses the latter (R1 type=ctx
 * expected=fp, ...). */
bool vf_ctx_is_mem(const struct vf_env *e)
{
	return e->pt->ctx_any && (e->in->platform != VF_PLATFORM_LINUX || e->in->prog_type == 0);
}

void vf_clobber_caller_saved(struct vframe *f)
{
	for (int r = 1; r <= 5; r++)
		memset(&f->regs[r], 0, sizeof(f->regs[r]));
}

void vf_clear_pkt_pointers(struct vf_env *e)
{
	VF_FOR_EACH_REG(e->cur, r, {
		if (vreg_is_pkt(r) || r->type == T_PACKET_END)
			vreg_unknown(r);
	});
}

void vf_mark_null_checked(struct vf_env *e, uint32_t id, bool is_null)
{
	uint32_t ref = 0;
	VF_FOR_EACH_REG(e->cur, r, {
		if (r->id == id && (r->flags & VF_NULL) && vreg_is_ptr(r)) {
			if (is_null) {
				ref = r->ref ? r->ref : ref;
				vreg_const(r, 0);
			} else {
				r->flags &= (uint8_t)~VF_NULL;
			}
		}
	});
	if (is_null && ref) /* NULL holds nothing: no reference to release */
		vstate_drop_ref(e->cur, ref);
}

static void invalidate_ref(struct vf_env *e, uint32_t ref)
{
	VF_FOR_EACH_REG(e->cur, r, {
		if (r->ref == ref && vreg_is_ptr(r))
			memset(r, 0, sizeof(*r));
	});
}

static int size_arg(struct vf_env *e, const struct vhelper *h, int regno, bool zero_ok, struct meta *m)
{
	struct vreg *r = vf_reg(e, regno);
	if (r->type != T_SCALAR)
		return vf_reject(e, "%s type=%s expected=scalar (the size of %s)", vf_regname(regno),
				 vtype_name(r->type, r->flags), vf_regname(m->mem_reg));
	vf_mark_precise(e, regno);
	if (r->smin < 0)
		return vf_reject(e, "%s min value is negative, either use unsigned or 'var &= const' (%s size)",
				 vf_regname(regno), h->name);
	if (!zero_ok && r->umin == 0)
		return vf_reject(e, "%s invalid zero-sized read: u64=[%" PRIu64 ",%" PRIu64 "] (%s)", vf_regname(regno),
				 r->umin, r->umax, h->name);
	if (r->umax >= VF_BIG)
		return vf_reject(e, "%s unbounded memory access, use 'var &= const' or 'if (var < const)' (%s)",
				 vf_regname(regno), h->name);
	if (m->mem_reg < 0)
		return vf_bug(e, "helper %s: a size argument without a memory argument", h->name);
	struct vreg *p = vf_reg(e, m->mem_reg);
	int mr = m->mem_reg;
	m->mem_reg = -1;
	if (m->mem_null_ok && p->type == T_SCALAR && vreg_is_const(p) && !p->var.value) {
		if (r->umax)
			return vf_reject(e, "%s: NULL memory with a non-zero size (%s)", vf_regname(mr), h->name);
		return BPFRT_OK;
	}
	/* printf data: the helper reads the pointers it holds as strings (the
	 * kernel lets privileged programs pass them: bpfrt's run in the process
	 * whose memory they point to) */
	e->mem_ptrs_ok = (h->flags & HF_FMT_DATA) && mr == 4;
	int rc = vf_check_helper_mem(e, mr, r->umax, m->mem_write);
	e->mem_ptrs_ok = false;
	return rc;
}

static bool is_sock(uint8_t t)
{
	return t == T_SOCKET || t == T_SOCK_COMMON || t == T_TCP_SOCK;
}

static int check_arg(struct vf_env *e, const struct vhelper *h, int regno, uint8_t kind, struct meta *m)
{
	struct vreg *r = vf_reg(e, regno);
	if (r->type == T_NOT_INIT)
		return vf_reject(e, "%s !read_ok: argument %d of %s is not initialised", vf_regname(regno),
				 regno, h->name);
	const char *tn = vtype_name(r->type, r->flags);
#define WANT(cond, what) do { if (!(cond)) return vf_reject(e, "%s type=%s expected=%s (argument %d of %s)", \
	vf_regname(regno), tn, what, regno, h->name); } while (0)
	switch (kind) {
	case A_ANY:
		return BPFRT_OK;
	case A_PTR:
		WANT(vreg_is_ptr(r) && !(r->flags & VF_NULL), "pointer");
		return BPFRT_OK;
	case A_MAP:
		WANT(r->type == T_MAP_PTR, "map_ptr");
		m->map = (int32_t)r->aux;
		if (h->map_types && (e->in->maps[r->aux].type >= 64 || !(h->map_types & (1ull << e->in->maps[r->aux].type))))
			return vf_reject(e, "cannot pass map_type %u (%s) into func %s", e->in->maps[r->aux].type,
					 e->in->maps[r->aux].name, h->name);
		return BPFRT_OK;
	case A_KEY: case A_VALUE: case A_UNINIT_VALUE: {
		if (m->map < 0)
			return vf_bug(e, "helper %s: a key or value argument without a map", h->name);
		const struct vf_map *mp = &e->in->maps[m->map];
		uint32_t sz = kind == A_KEY ? mp->key_size : mp->value_size;
		WANT(r->type == T_STACK || r->type == T_MAP_VALUE || vreg_is_pkt(r) || r->type == T_MEM ||
		     r->type == T_MAP_KEY, kind == A_KEY ? "map_key (fp, map_value, pkt)" : "map_value (fp, map_value, pkt)");
		return vf_check_helper_mem(e, regno, sz, kind == A_UNINIT_VALUE);
	}
	case A_MEM: case A_MEM_NULL: case A_UNINIT_MEM: case A_UNINIT_MEM_NULL:
		m->mem_reg = regno;
		m->mem_write = kind == A_UNINIT_MEM || kind == A_UNINIT_MEM_NULL;
		m->mem_null_ok = kind == A_MEM_NULL || kind == A_UNINIT_MEM_NULL;
		if (m->mem_null_ok && r->type == T_SCALAR && vreg_is_const(r) && !r->var.value)
			return BPFRT_OK;
		WANT(r->type == T_STACK || r->type == T_MAP_VALUE || vreg_is_pkt(r) || r->type == T_MEM ||
		     r->type == T_MAP_KEY || (r->type == T_CTX && vf_ctx_is_mem(e)), "fp, pkt, pkt_meta, map_key, map_value, mem");
		return BPFRT_OK;
	case A_SIZE: case A_SIZE0:
		return size_arg(e, h, regno, kind == A_SIZE0, m);
	case A_ALLOC_SIZE0:
		vf_mark_precise(e, regno);
		WANT(vreg_is_const(r), "a known constant size");
		if (r->var.value > VF_BIG)
			return vf_reject(e, "%s: size %" PRIu64 " is too large (%s)", vf_regname(regno), r->var.value, h->name);
		m->alloc_size = (int64_t)r->var.value;
		return BPFRT_OK;
	case A_CTX_NULL:
		if (r->type == T_SCALAR && vreg_is_const(r) && !r->var.value)
			return BPFRT_OK;
		/* fall through */
	case A_CTX:
		WANT(r->type == T_CTX, "ctx");
		/* the helper may read all of it (a tracing context's helpers read
		 * only the frame's own count, ip and the slots it bounds) */
		if (e->pt->type != BPF_PROG_TYPE_TRACING)
			e->ctx_max = e->pt->ctx_size;
		for (const struct vctx_field *f = e->pt->fields; f && f->size; f++)
			e->ctx_ptr_read |= f->kind != CF_SCALAR && f->kind != CF_CTX_NONE; /* pointers too */
		if (r->off || !tnum_is_const(r->var) || r->var.value)
			return vf_reject(e, "dereference of modified ctx ptr %s off=%d disallowed (%s)", vf_regname(regno),
					 r->off, h->name);
		return BPFRT_OK;
	case A_FUNC:
		WANT(r->type == T_FUNC, "func");
		m->cb = (int32_t)r->aux;
		return BPFRT_OK;
	case A_CB_CTX:
		WANT(r->type == T_STACK || (r->type == T_SCALAR && vreg_is_const(r) && !r->var.value) ||
		     (vreg_is_ptr(r) && !(r->flags & VF_NULL)), "fp or NULL");
		m->cb_ctx = *r;
		m->have_cb_ctx = true;
		return BPFRT_OK;
	case A_ALLOC_MEM:
		WANT(r->type == T_MEM && r->ref && !(r->flags & VF_NULL), "alloc_mem (a reserved ring buffer record)");
		if (r->off || !tnum_is_const(r->var) || r->var.value)
			return vf_reject(e, "%s must have zero offset when passed to release func %s", vf_regname(regno),
					 h->name);
		m->release = r->ref;
		return BPFRT_OK;
	case A_SOCK_COMMON: case A_SOCKET_ANY:
		WANT(is_sock(r->type) && !(r->flags & VF_NULL), "sock_common");
		return BPFRT_OK;
	case A_SOCKET:
		WANT(is_sock(r->type) && !(r->flags & VF_NULL) && r->ref, "sock (an acquired reference)");
		m->release = r->ref;
		return BPFRT_OK;
	case A_BTF:
		WANT(vreg_is_ptr(r) && !(r->flags & VF_NULL), "ptr_ (a kernel object)");
		return BPFRT_OK;
	case A_LONG: case A_INT:
		WANT(r->type == T_STACK || r->type == T_MAP_VALUE || r->type == T_MEM, "fp or map_value");
		return vf_check_helper_mem(e, regno, kind == A_LONG ? 8 : 4, true);
	case A_CONST_STR:
		WANT(r->type == T_MAP_VALUE && e->in->maps[r->aux].rdonly, "a read-only map value (const string)");
		if (!tnum_is_const(r->var))
			return vf_reject(e, "%s: a const string needs a constant offset", vf_regname(regno));
		return vf_check_helper_mem(e, regno, 1, false);
	case A_SPIN_LOCK:
		WANT(r->type == T_MAP_VALUE && !(r->flags & VF_NULL), "map_value (with a bpf_spin_lock)");
		if (!tnum_is_const(r->var))
			return vf_reject(e, "%s doesn't have constant offset. bpf_spin_lock has to be at the constant "
					 "offset", vf_regname(regno));
		return vf_check_helper_mem(e, regno, 4, false);
	case A_STACK:
		WANT(r->type == T_STACK, "fp");
		return BPFRT_OK;
	}
#undef WANT
	return vf_bug(e, "helper %s: unknown argument kind %u", h->name, kind);
}

/* bpf_snprintf's format is known at load (a frozen map's string): it must
 * be valid for the arguments r5 gives, as the kernel checks. */
static int check_snprintf(struct vf_env *e)
{
	const struct vreg *f = vf_reg(e, 3), *len = vf_reg(e, 5);
	const struct vf_map *m = &e->in->maps[f->aux];
	int64_t off = f->off + (int64_t)f->var.value;
	if (!m->data || off < 0 || off >= m->value_size)
		return vf_reject(e, "bpf_snprintf: the format must be a string of a frozen read-only map");
	const char *s = (const char *)m->data + off;
	if (!memchr(s, 0, m->value_size - (size_t)off))
		return vf_reject(e, "bpf_snprintf: the format string is not NUL-terminated");
	if (!tnum_is_const(len->var))
		return vf_reject(e, "bpf_snprintf: R5 (the data size) must be a constant");
	if (len->var.value % 8 || len->var.value / 8 > 12)
		return vf_reject(e, "bpf_snprintf: R5 (%" PRIu64 ") must be a multiple of 8, at most 96",
				 len->var.value);
	if (bpfrt_bprintf(NULL, 0, s, NULL, (int)(len->var.value / 8)) < 0)
		return vf_reject(e, "Invalid format string");
	return BPFRT_OK;
}

/* The map a lookup's value lives in: map-in-map lookups give the inner map. */
static int set_ret(struct vf_env *e, const struct vhelper *h, const struct meta *m, struct vreg *r0)
{
	memset(r0, 0, sizeof(*r0));
	switch (h->ret) {
	case R_INT:
		vreg_unknown(r0);
		return BPFRT_OK;
	case R_VOID:
		return BPFRT_OK;
	case R_MAP_VALUE_NULL: case R_MAP_VALUE: {
		if (m->map < 0)
			return vf_bug(e, "helper %s returns a map value without a map argument", h->name);
		const struct vf_map *mp = &e->in->maps[m->map];
		vreg_bounds_const(r0, 0);
		if (mp->type == BPF_MAP_TYPE_ARRAY_OF_MAPS || mp->type == BPF_MAP_TYPE_HASH_OF_MAPS) {
			if (mp->inner < 0)
				return vf_reject(e, "map %s: a map-in-map without an inner map definition", mp->name);
			r0->type = T_MAP_PTR;
			r0->aux = (uint32_t)mp->inner;
		} else {
			r0->type = T_MAP_VALUE;
			r0->aux = (uint32_t)m->map;
		}
		if (h->ret == R_MAP_VALUE_NULL) {
			r0->flags = VF_NULL;
			r0->id = ++e->next_id;
		}
		if (r0->type == T_MAP_PTR)
			r0->flags |= VF_INNER;
		return BPFRT_OK;
	}
	case R_MEM_NULL:
		vreg_bounds_const(r0, 0);
		r0->type = T_MEM;
		r0->aux = h->ret_size ? h->ret_size : (uint32_t)m->alloc_size;
		r0->flags = VF_NULL;
		r0->id = ++e->next_id;
		break;
	case R_SOCKET_NULL: case R_SOCK_COMMON_NULL: case R_TCP_SOCK_NULL:
		vreg_bounds_const(r0, 0);
		r0->type = h->ret == R_SOCKET_NULL ? T_SOCKET : h->ret == R_TCP_SOCK_NULL ? T_TCP_SOCK : T_SOCK_COMMON;
		r0->flags = VF_NULL;
		r0->id = ++e->next_id;
		break;
	case R_BTF_NULL: case R_BTF:
		vreg_bounds_const(r0, 0);
		r0->type = T_BTF_ID;
		if (h->ret == R_BTF_NULL) {
			r0->flags = VF_NULL;
			r0->id = ++e->next_id;
		}
		break;
	default:
		return vf_bug(e, "helper %s: unknown return kind %u", h->name, h->ret);
	}
	if (h->flags & HF_ACQUIRE) {
		r0->ref = r0->id;
		if (!vstate_add_ref(e->cur, r0->ref, e->insn))
			return vf_nomem(e);
	}
	return BPFRT_OK;
}

/* aux: the map of every visit, and its key where the call has one */
static void note_map_key(struct vf_env *e, const struct meta *m, bool want_key)
{
	struct vf_aux *a = &e->aux[e->insn];
	if (a->map == INT32_MIN)
		a->map = m->map;
	else if (a->map != m->map)
		a->map_mixed = 1;
	if (vf_reg(e, 1)->flags & VF_INNER) /* which map it is is known at run time only */
		a->map_mixed = 1;
	if (!want_key)
		return;
	if (!m->key_const)
		a->key_mixed = 1;
	else if (a->key == INT64_MIN)
		a->key = (int64_t)m->key;
	else if (a->key != (int64_t)m->key)
		a->key_mixed = 1;
}

static int enter_callback(struct vf_env *e, const struct vhelper *h, const struct meta *m, uint32_t callsite);

/* The 4-byte key r2 points to when the stack holds it as a constant: 1 all
 * zero bytes, 2 a spilled constant scalar (slot k of frame *frameno), 0 not
 * known. */
static int stack_const_key(struct vf_env *e, const struct vreg *r, uint32_t *key, uint32_t *frameno, uint32_t *k)
{
	if (r->type != T_STACK || !tnum_is_const(r->var) || r->var.value)
		return 0;
	int64_t a = r->off;
	if (a >= 0 || a < -512 || (-a) % 4)
		return 0;
	struct vframe *f = e->cur->frame[r->aux];
	uint32_t slot = (uint32_t)((-a - 1) / 8);
	unsigned b = (unsigned)(a + (int64_t)(slot + 1) * 8);
	if (slot >= f->nslots || b + 4 > 8)
		return 0;
	const struct vslot *sl = &f->slot[slot];
	bool zero = true;
	for (unsigned i = b; i < b + 4; i++)
		zero &= sl->type[i] == S_ZERO;
	if (zero) {
		*key = 0;
		return 1;
	}
	if (sl->type[b] == S_SPILL && sl->spill_at == b && sl->spill_size >= 4 && sl->spill.type == T_SCALAR &&
	    tnum_is_const(sl->spill.var)) {
		*key = (uint32_t)sl->spill.var.value;
		*frameno = r->aux;
		*k = slot;
		return 2;
	}
	return 0;
}

int vf_helper_call(struct vf_env *e, const struct bpfrt_insn *insn)
{
	uint32_t id = (uint32_t)insn->imm;
	const struct vhelper *h = e->plat->helper(e->plat, id, e->in->prog_type);
	if (!h)
		return vf_reject(e, "program of type %s may not call helper %u%s%s", e->pt->name, id,
				 vf_linux_helper(id) ? ", bpf_" : "", vf_linux_helper(id) ? vf_linux_helper(id)->name : "");
	if (e->cur->active_lock && !(h->flags & HF_UNLOCK))
		return vf_reject(e, "function calls are not allowed while holding a lock (bpf_%s)", h->name);
	struct meta m = { .map = -1, .mem_reg = -1, .cb = -1 };
	for (int i = 0; i < 5 && h->args[i] != A_NONE; i++) {
		int rc = check_arg(e, h, i + 1, h->args[i], &m);
		if (rc)
			return rc;
	}
	if (m.mem_reg >= 0)
		return vf_bug(e, "helper %s: a memory argument without its size", h->name);
	struct vframe *f = vf_curframe(e);
	if (h->flags & HF_TAIL_CALL) {
		if (e->cur->nrefs)
			return vf_reject(e, "tail_call would lead to reference leak (id=%u acquired at insn %u)",
					 e->cur->refs[0].id, e->cur->refs[0].insn);
		if (e->cur->active_lock)
			return vf_reject(e, "tail_call while holding a lock");
		if (m.map < 0 || e->in->maps[m.map].type != BPF_MAP_TYPE_PROG_ARRAY)
			return vf_reject(e, "bpf_tail_call needs a prog_array map");
		struct vreg *k = vf_reg(e, 3);
		vf_mark_precise(e, 3); /* the key decides a direct tail call */
		m.key_const = vreg_is_const(k);
		m.key = k->var.value;
		e->sub[f->subprog].has_tail_call = true;
	}
	/* an array lookup whose key is a constant in range cannot fail: r0 is
	 * not NULL (as the kernel since 6.14); the key's value decides it */
	bool never_null = false;
	if (id == BPF_FUNC_map_lookup_elem && m.map >= 0 &&
	    (e->in->maps[m.map].type == BPF_MAP_TYPE_ARRAY || e->in->maps[m.map].type == BPF_MAP_TYPE_PERCPU_ARRAY)) {
		uint32_t key, frameno, k;
		int kind = stack_const_key(e, vf_reg(e, 2), &key, &frameno, &k);
		if (kind && key < e->in->maps[m.map].max_entries) {
			if (kind == 2)
				vf_mark_precise_slot(e, frameno, k);
			never_null = true;
			m.key_const = true;
			m.key = key;
		}
	}
	if (id == BPF_FUNC_snprintf) {
		int rc = check_snprintf(e);
		if (rc)
			return rc;
	}
	if (m.map >= 0)
		note_map_key(e, &m, h->flags & HF_TAIL_CALL);
	if (h->flags & HF_LOCK) {
		if (e->cur->active_lock)
			return vf_reject(e, "calling bpf_spin_lock while holding a lock");
		e->cur->active_lock = 1;
	}
	if (h->flags & HF_UNLOCK) {
		if (!e->cur->active_lock)
			return vf_reject(e, "bpf_spin_unlock without taking a lock");
		e->cur->active_lock = 0;
	}
	if (h->flags & HF_RELEASE) {
		if (!m.release || !vstate_drop_ref(e->cur, m.release))
			return vf_reject(e, "%s: release of a reference that was not acquired (or was released)",
					 h->name);
		invalidate_ref(e, m.release);
	}
	if (h->flags & HF_PKT_CHANGE)
		vf_clear_pkt_pointers(e);
	if (id == BPF_FUNC_loop) { /* inlinable (rewrite.c) when flags are 0 and the callback always one */
		struct vf_aux *a = &e->aux[e->insn];
		const struct vreg *fl = vf_reg(e, 4);
		int64_t cb = m.cb >= 0 ? (int64_t)e->sub[m.cb].start : -1;
		vf_mark_precise(e, 4);
		if (cb < 0 || !vreg_is_const(fl) || fl->var.value)
			a->key_mixed = 1;
		else if (a->key == INT64_MIN)
			a->key = cb;
		else if (a->key != cb)
			a->key_mixed = 1;
	}
	if (m.cb >= 0)
		return enter_callback(e, h, &m, e->insn);
	struct vreg r0;
	int rc = set_ret(e, h, &m, &r0);
	if (rc)
		return rc;
	if (never_null && r0.type == T_MAP_VALUE) {
		r0.flags &= (uint8_t)~VF_NULL;
		r0.id = 0;
	}
	vf_clobber_caller_saved(f);
	f->regs[0] = r0;
	return BPFRT_OK;
}

/* ----------------------------------------------------- subprogram calls */

static int push_frame(struct vf_env *e, uint32_t target, uint32_t callsite, struct vframe **out)
{
	struct vstate *st = e->cur;
	if (st->curframe + 1 >= VF_MAX_FRAMES)
		return vf_reject(e, "the sequence of %u calls is too long (at most %d frames)", st->curframe + 1,
				 VF_MAX_FRAMES);
	uint32_t sp = e->subprog_of[target];
	for (uint32_t i = 0; i <= st->curframe; i++)
		if (st->frame[i]->subprog == sp && !st->frame[i]->callback)
			return vf_reject(e, "recursive call of the subprogram at insn %u", e->sub[sp].start);
	struct vframe *f = vframe_new(st->curframe + 1, callsite, sp);
	if (!f)
		return vf_nomem(e);
	f->regs[10].type = T_STACK;
	f->regs[10].aux = f->frameno;
	vreg_bounds_const(&f->regs[10], 0);
	st->frame[++st->curframe] = f;
	e->sub[sp].reached = true;
	*out = f;
	return BPFRT_OK;
}

int vf_local_call(struct vf_env *e, uint32_t target, uint32_t callsite)
{
	if (e->cur->active_lock)
		return vf_reject(e, "function calls are not allowed while holding a lock");
	struct vframe *caller = vf_curframe(e), *f;
	int rc = push_frame(e, target, callsite, &f);
	if (rc)
		return rc;
	for (int r = 1; r <= 5; r++)
		f->regs[r] = caller->regs[r];
	return BPFRT_OK;
}

static int enter_callback(struct vf_env *e, const struct vhelper *h, const struct meta *m, uint32_t callsite)
{
	uint32_t target = e->sub[m->cb].start;
	struct vreg args[5];
	memset(args, 0, sizeof(args));
	if (h->flags & HF_CB_MAP) { /* callback(map, key, value, ctx) */
		if (m->map < 0)
			return vf_bug(e, "helper %s: a map callback without a map", h->name);
		args[0].type = T_MAP_PTR;
		args[0].aux = (uint32_t)m->map;
		vreg_bounds_const(&args[0], 0);
		args[1].type = T_MAP_KEY;
		args[1].aux = (uint32_t)m->map;
		vreg_bounds_const(&args[1], 0);
		args[2].type = T_MAP_VALUE;
		args[2].aux = (uint32_t)m->map;
		vreg_bounds_const(&args[2], 0);
		args[3] = m->cb_ctx;
	} else { /* callback(u32 index, void *ctx) */
		vreg_unknown(&args[0]);
		vreg_cast(&args[0], 4);
		args[1] = m->cb_ctx;
	}
	/* the walk where the callback is not (or no more) called: after the helper */
	struct vstate *after;
	int rc = vf_push_branch(e, callsite + 1, callsite, &after);
	if (rc)
		return rc;
	struct vframe *af = after->frame[after->curframe];
	vf_clobber_caller_saved(af);
	vreg_unknown(&af->regs[0]);
	struct vframe *f;
	if ((rc = push_frame(e, target, callsite, &f)))
		return rc;
	f->callback = 1;
	f->cb_helper_insn = callsite;
	for (int r = 1; r <= 5; r++)
		f->regs[r] = args[r - 1];
	e->sub[m->cb].is_callback = true;
	e->insn = target;
	return 1;
}

/* ------------------------------------------------------------------ exit */

int vf_return(struct vf_env *e, bool *done)
{
	struct vstate *st = e->cur;
	struct vframe *f = vf_curframe(e);
	struct vreg *r0 = &f->regs[0];
	*done = false;
	/* a subprogram may leave r0 unset: the caller may not read it then (the
	 * kernel's rule); the program and callbacks must set it */
	if (r0->type == T_NOT_INIT && (st->curframe == 0 || f->callback))
		return vf_reject(e, "R0 !read_ok: r0 is not set at exit");
	if (st->active_lock)
		return vf_reject(e, "bpf_spin_unlock is missing: the lock is held at exit");
	if (st->curframe == 0) {
		if (st->nrefs)
			return vf_reject(e, "Unreleased reference id=%u alloc_insn=%u", st->refs[0].id, st->refs[0].insn);
		const struct vprogtype *pt = e->pt;
		/* a pointer returned: bpfrt's platform refuses the leak (as the kernel
		 * does for unprivileged programs); Linux's lets a privileged program
		 * return one where its type does not check the value */
		if (r0->type != T_SCALAR && (e->in->platform != VF_PLATFORM_LINUX || !e->in->prog_type || pt->ret_range))
			return vf_reject(e, "R0 leaks addr as return value (%s)", vtype_name(r0->type, r0->flags));
		if (pt->ret_range)
			vf_mark_precise(e, 0);
		if (pt->ret_range && (r0->smin < pt->ret_min || r0->smax > pt->ret_max))
			return vf_reject(e, "At program exit the register R0 has smin=%" PRId64 " smax=%" PRId64
					 " should have been in [%" PRId64 ", %" PRId64 "]", r0->smin, r0->smax,
					 pt->ret_min, pt->ret_max);
		*done = true;
		return BPFRT_OK;
	}
	if (r0->type == T_STACK && r0->aux == f->frameno)
		return vf_reject(e, "cannot return a pointer to the callee's stack");
	/* nothing may point into the dying frame */
	for (uint32_t i = 0; i < st->curframe; i++) {
		struct vframe *g = st->frame[i];
		for (int r = 0; r < 11; r++)
			if (g->regs[r].type == T_STACK && g->regs[r].aux == f->frameno)
				return vf_bug(e, "a caller's register points into a callee's stack");
		for (uint32_t k = 0; k < g->nslots; k++)
			if (g->slot[k].type[g->slot[k].spill_at] == S_SPILL && g->slot[k].spill.type == T_STACK &&
			    g->slot[k].spill.aux == f->frameno)
				return vf_reject(e, "a pointer into the callee's stack outlives the call (caller stack "
						 "off %d)", -(int)(k + 1) * 8 + g->slot[k].spill_at);
	}
	struct vframe *caller = st->frame[st->curframe - 1];
	if (f->callback) {
		vf_mark_precise(e, 0);
		if (r0->type != T_SCALAR || r0->smin < 0 || r0->smax > 1)
			return vf_reject(e, "callback return value must be 0 or 1 (R0 smin=%" PRId64 " smax=%" PRId64 ")",
					 r0->smin, r0->smax);
		uint32_t call = f->cb_helper_insn;
		free(f->slot);
		free(f);
		st->frame[st->curframe--] = NULL;
		/* again: the helper may call it once more (the state converges at the call) */
		e->insn = call;
		return 1;
	}
	struct vreg ret = *r0;
	uint32_t back = f->callsite + 1;
	free(f->slot);
	free(f);
	st->frame[st->curframe--] = NULL;
	vf_clobber_caller_saved(caller);
	caller->regs[0] = ret;
	e->insn = back;
	return 1;
}
