/*
 * mem.c — memory access: every load, store and atomic operation, and the
 * memory arguments of helpers, checked against what the pointer may reach.
 *
 *   stack      [-512, 0) of its frame; fixed offsets aligned to the size;
 *              stores track each byte (uninitialised, data, zero, spilled
 *              register), loads need every byte initialised and get back a
 *              spilled register whole; variable offsets within bounds
 *   ctx        fixed offsets only, per the program type's field rules
 *   map value  [0, value_size) for every possible offset; read-only maps
 *   packet     [0, range) where range was proven against data_end
 *   memory     [0, size) of helper-returned memory
 */
#include "vf.h"

#define PKT_MAX_OFF 0xffff

const char *vf_regname(int regno)
{
	static const char *const names[] = { "R0", "R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8",
					     "R9", "R10", "AX" };
	return regno >= 0 && regno < (int)ARRAY_SIZE(names) ? names[regno] : "R?";
}

/* Pointer types whose accesses the rewrite passes convert (ctx fields) or
 * that the kernel tracks per object: an instruction that reaches one of them
 * must see that same type on every path (the kernel's reg_type_mismatch). */
static bool converted_type(uint8_t t)
{
	return t == T_CTX || t == T_SOCKET || t == T_SOCK_COMMON || t == T_TCP_SOCK || t == T_BTF_ID;
}

_Static_assert(T_CTX == VF_AUX_PTR_CTX, "verifier.h's VF_AUX_PTR_CTX");

static int note_ptr(struct vf_env *e, uint8_t type)
{
	struct vf_aux *a = &e->aux[e->insn];
	if (!a->ptr_type) {
		a->ptr_type = type;
	} else if (a->ptr_type != type) {
		if (converted_type(type) || converted_type(a->ptr_type))
			return vf_reject(e, "same insn cannot be used with different pointers (%s and %s)",
					 vtype_name(a->ptr_type, 0), vtype_name(type, 0));
		a->ptr_mixed = 1;
	}
	return BPFRT_OK;
}

static void sub_depth(struct vf_env *e, uint32_t frameno, int64_t lowest)
{
	struct vframe *f = e->cur->frame[frameno];
	struct vsubprog *s = &e->sub[f->subprog];
	if ((uint64_t)-lowest > s->stack_depth)
		s->stack_depth = (uint32_t)-lowest;
}

/* ---------------------------------------------------------------- stack */

/* an unknown value of size bytes, zero- or sign-extended */
static void load_scalar(struct vreg *val, uint32_t size, bool sext)
{
	vreg_unknown(val);
	if (sext)
		vreg_sext(val, size);
	else
		vreg_cast(val, size);
}


/* The spill covering byte b of slot s becomes plain data. */
static void unspill(struct vslot *s)
{
	uint8_t t = vreg_is_const(&s->spill) && !s->spill.var.value ? S_ZERO : S_MISC;
	for (unsigned i = 0; i < 8; i++)
		if (s->type[i] == S_SPILL)
			s->type[i] = t;
}

static bool overlaps_spill(const struct vslot *s, unsigned b, unsigned size)
{
	for (unsigned i = b; i < b + size; i++)
		if (s->type[i] == S_SPILL)
			return true;
	return false;
}

static int stack_var_range(struct vf_env *e, int regno, const struct vreg *p, int32_t off, uint64_t size,
			   int64_t *lo, int64_t *hi)
{
	if (p->smin < -VF_BIG || p->smax > VF_BIG)
		return vf_reject(e, "%s unbounded variable offset into the stack (smin=%" PRId64 ", smax=%" PRId64 ")",
				 vf_regname(regno), p->smin, p->smax);
	*lo = (int64_t)p->off + off + p->smin;
	*hi = (int64_t)p->off + off + p->smax + (int64_t)size; /* exclusive */
	if (*lo < -VF_STACK || *hi > 0)
		return vf_reject(e, "invalid%s stack access: %s off=%" PRId64 " size=%" PRIu64 " (the frame is [-%d, 0))",
				 tnum_is_const(p->var) ? "" : " variable-offset", vf_regname(regno), *lo, size, VF_STACK);
	return BPFRT_OK;
}

/* Bytes [lo, hi) of a frame become data (helpers' outputs, variable stores). */
static int stack_mark_misc(struct vf_env *e, struct vframe *f, int64_t lo, int64_t hi)
{
	if (lo >= hi)
		return BPFRT_OK;
	uint32_t need = (uint32_t)((-lo + 7) / 8);
	if (!vframe_grow(f, need))
		return vf_nomem(e);
	for (int64_t a = lo; a < hi; a++) {
		uint32_t k = (uint32_t)((-a - 1) / 8);
		unsigned b = (unsigned)(a + (int64_t)(k + 1) * 8);
		struct vslot *s = &f->slot[k];
		if (s->type[b] == S_SPILL)
			unspill(s);
		s->type[b] = S_MISC;
	}
	return BPFRT_OK;
}

/* Every byte of [lo, hi) initialised (and no spilled pointer among them
 * when `no_ptr`): 0 or a refusal naming the first bad byte. */
static int stack_check_init(struct vf_env *e, const struct vframe *f, int64_t lo, int64_t hi, int regno,
			    bool no_ptr)
{
	for (int64_t a = lo; a < hi; a++) {
		uint32_t k = (uint32_t)((-a - 1) / 8);
		unsigned b = (unsigned)(a + (int64_t)(k + 1) * 8);
		uint8_t t = k < f->nslots ? f->slot[k].type[b] : S_INVALID;
		/* (Linux lets privileged programs read it, allow_uninit_stack; both
		 * platforms refuse, as the expectations and unprivileged Linux do) */
		if (t == S_INVALID)
			return vf_reject(e, "invalid read from stack: %s reads off %" PRId64 " (size %" PRId64
					 "), which is not initialised", vf_regname(regno), a, hi - lo);
		if (no_ptr && t == S_SPILL && f->slot[k].spill.type != T_SCALAR)
			return vf_reject(e, "%s: a spilled pointer at stack off %" PRId64 " would be read as data",
					 vf_regname(regno), a);
	}
	return BPFRT_OK;
}

static int stack_access(struct vf_env *e, int regno, const struct vreg *p, int32_t off, uint32_t size,
			bool write, struct vreg *val, bool sext, bool atomic)
{
	struct vframe *f = e->cur->frame[p->aux];
	int64_t lo, hi;
	int rc = stack_var_range(e, regno, p, off, size, &lo, &hi);
	if (rc)
		return rc;
	if (write && val && val->type == T_STACK && p->aux != e->cur->curframe)
		return vf_reject(e, "cannot spill pointers to stack into stack frame of the caller");
	sub_depth(e, p->aux, lo);
	if (!write || atomic)
		vf_stack_read(e, p->aux, lo, hi);
	if (!tnum_is_const(p->var)) { /* a variable offset: bytes, not slots */
		if (write) {
			if (atomic && (rc = stack_check_init(e, f, lo, hi, regno, true)))
				return rc;
			return stack_mark_misc(e, f, lo, hi);
		}
		if ((rc = stack_check_init(e, f, lo, hi, regno, true)))
			return rc;
		load_scalar(val, size, false);
		return BPFRT_OK;
	}
	if (lo % size)
		return vf_reject(e, "misaligned stack access off %" PRId64 " size %u", lo, size);
	uint32_t k = (uint32_t)((-lo - 1) / 8);
	if (regno != 10)
		vf_hist_note_stack(e->cur, p->aux, k);
	unsigned b = (unsigned)(lo + (int64_t)(k + 1) * 8);
	if (!vframe_grow(f, k + 1))
		return vf_nomem(e);
	struct vslot *s = &f->slot[k];
	if (atomic) {
		if ((rc = stack_check_init(e, f, lo, hi, regno, true)))
			return rc;
		if (overlaps_spill(s, b, size))
			unspill(s);
		for (unsigned i = b; i < b + size; i++)
			s->type[i] = S_MISC;
		return BPFRT_OK;
	}
	if (write) {
		if (vreg_is_ptr(val) && size != 8)
			return vf_reject(e, "invalid size of register spill: %u bytes of a %s", size,
					 vtype_name(val->type, val->flags));
		if (overlaps_spill(s, b, size) || (s->type[s->spill_at] == S_SPILL &&
						   b < s->spill_at + s->spill_size && s->spill_at < b + size))
			unspill(s);
		/* zero: stored at the slot's start it is a spilled constant (which,
		 * imprecise, prunes like any number: the kernel's rule); elsewhere
		 * zero bytes */
		if (b != 0 && val->type == T_SCALAR && vreg_is_const(val) &&
		    !(size < 8 ? val->var.value & ((1ull << (size * 8)) - 1) : val->var.value)) {
			for (unsigned i = b; i < b + size; i++)
				s->type[i] = S_ZERO;
			if (size == 8)
				vf_stack_written(e, p->aux, k);
			return BPFRT_OK;
		}
		s->spill = *val;
		if (val->type == T_SCALAR)
			vreg_cast(&s->spill, size);
		s->spill_at = (uint8_t)b;
		s->spill_size = (uint8_t)size;
		for (unsigned i = b; i < b + size; i++)
			s->type[i] = S_SPILL;
		if (size == 8)
			vf_stack_written(e, p->aux, k);
		return BPFRT_OK;
	}
	/* a load */
	if ((rc = stack_check_init(e, f, lo, hi, regno, false)))
		return rc;
	bool spill = s->type[b] == S_SPILL;
	if (spill && s->spill_at == b && s->spill_size == size) {
		*val = s->spill;
		if (sext)
			vreg_sext(val, size);
		return BPFRT_OK;
	}
	if (overlaps_spill(s, b, size)) {
		if (s->spill.type != T_SCALAR)
			return vf_reject(e, "invalid size of register fill: %u bytes of a spilled %s", size,
					 vtype_name(s->spill.type, s->spill.flags));
		if (s->spill_at == b && size < s->spill_size) { /* the low bytes of a spilled scalar */
			*val = s->spill;
			val->id = 0;
			if (sext)
				vreg_sext(val, size);
			else
				vreg_cast(val, size);
			return BPFRT_OK;
		}
	}
	bool zero = true;
	for (unsigned i = b; i < b + size; i++)
		zero &= s->type[i] == S_ZERO;
	if (zero) {
		vreg_const(val, 0);
		return BPFRT_OK;
	}
	load_scalar(val, size, sext);
	return BPFRT_OK;
}

/* ------------------------------------------------------------------ ctx */

static const struct vctx_field *ctx_field(const struct vprogtype *pt, int64_t a)
{
	for (const struct vctx_field *f = pt->fields; f && f->size; f++)
		if (a >= f->off && a < f->off + f->size)
			return f;
	return NULL;
}

static int ctx_access(struct vf_env *e, int regno, const struct vreg *p, int32_t off, uint32_t size,
		      bool write, struct vreg *val, bool sext, bool atomic)
{
	const struct vprogtype *pt = e->pt;
	if (!tnum_is_const(p->var) || p->var.value)
		return vf_reject(e, "variable ctx access: %s has a variable offset", vf_regname(regno));
	int64_t a = (int64_t)p->off + off;
	if (atomic)
		return vf_reject(e, "atomic operation on the context (%s)", pt->name);
	if (a >= 0 && a + size <= pt->ctx_size && a + size > e->ctx_max)
		e->ctx_max = (uint32_t)(a + size);
	if (write && vreg_is_ptr(val))
		return vf_reject(e, "a pointer would leak into the context at off %" PRId64, a);
	if (pt->ctx_any) {
		if (a < 0 || a + size > pt->ctx_size)
			return vf_reject(e, "invalid %s context access off=%" PRId64 " size=%u (the context has %u bytes)",
					 write ? "write to" : "read from", a, size, pt->ctx_size);
		if (!write) {
			load_scalar(val, size, sext);
		}
		return BPFRT_OK;
	}
	uint8_t sz = (uint8_t)size;
	if (a < 0 || a + size > pt->ctx_size || a % size)
		goto bad;
	const struct vctx_field *f = ctx_field(pt, a);
	if (f) {
		if (a + size > f->off + f->size || !((write ? f->write_sizes : f->read_sizes) & sz))
			goto bad;
		if (f->kind != CF_SCALAR && (write || a != f->off || size != f->size || sext))
			goto bad;
		if (!write && f->kind != CF_SCALAR) {
			e->ctx_ptr_read = true;
			memset(val, 0, sizeof(*val));
			vreg_bounds_const(val, 0);
			switch (f->kind) {
			case CF_PKT: val->type = T_PACKET; break;
			case CF_PKT_END: val->type = T_PACKET_END; break;
			case CF_PKT_META: val->type = T_PACKET_META; break;
			case CF_SOCK_NULL:
				val->type = T_SOCK_COMMON;
				val->flags = VF_NULL;
				val->id = ++e->next_id;
				break;
			case CF_BTF: val->type = T_BTF_ID; break;
			default: goto bad;
			}
			return BPFRT_OK;
		}
	} else {
		if (a < pt->min_off || !((write ? pt->default_write : pt->default_read) & sz))
			goto bad;
	}
	if (!write) {
		load_scalar(val, size, sext);
	}
	return BPFRT_OK;
bad:
	return vf_reject(e, "invalid bpf_context access off=%" PRId64 " size=%u (%s of %s)", a, size,
			 write ? "write" : "read", pt->name);
}

/* ------------------------------------------------- bounded memory regions */

static const char *region_name(uint8_t type)
{
	switch (type) {
	case T_MAP_VALUE: return "map value";
	case T_MAP_KEY: return "map key";
	case T_MEM: return "memory";
	case T_PACKET: case T_PACKET_META: return "packet";
	default: return "memory";
	}
}

/* [off + var, off + var + size) within [0, limit) for every var */
static int region_check(struct vf_env *e, int regno, const struct vreg *p, int32_t off, uint64_t size,
			uint64_t limit)
{
	if (p->smin < 0 && !tnum_is_const(p->var))
		return vf_reject(e, "%s min value is negative, either use unsigned index or do a if (index >=0) "
				 "check (%s access)", vf_regname(regno), region_name(p->type));
	if (p->umax > VF_BIG)
		return vf_reject(e, "%s unbounded memory access, make sure to bounds check any such access "
				 "(%s)", vf_regname(regno), region_name(p->type));
	int64_t lo = (int64_t)p->off + off + (tnum_is_const(p->var) ? (int64_t)p->var.value : p->smin);
	int64_t hi = (int64_t)p->off + off + (int64_t)p->umax + (int64_t)size;
	if (lo < 0 || (uint64_t)hi > limit)
		return vf_reject(e, "invalid access to %s: %s off=%" PRId64 "%s size=%" PRIu64 ", the %s has %" PRIu64
				 " bytes", region_name(p->type), vf_regname(regno), lo,
				 tnum_is_const(p->var) ? "" : " (variable)", size, region_name(p->type), limit);
	return BPFRT_OK;
}

static int pkt_check(struct vf_env *e, int regno, const struct vreg *p, int32_t off, uint64_t size, bool write)
{
	if (write && !e->pt->pkt_write)
		return vf_reject(e, "cannot write into packet (%s programs may not)", e->pt->name);
	if (p->smin < 0 || p->umax > PKT_MAX_OFF)
		return vf_reject(e, "%s: packet pointer with an unbounded or negative variable offset",
				 vf_regname(regno));
	int64_t a = (int64_t)p->off + off;
	if (a < 0 || a + (int64_t)size > p->range)
		return vf_reject(e, "invalid access to packet, off=%" PRId64 " size=%" PRIu64 ", %s(id=%u,off=%d,r=%d): "
				 "check it against data_end first", a, size, vf_regname(regno), p->id, p->off, p->range);
	return BPFRT_OK;
}

int vf_check_mem(struct vf_env *e, int regno, int32_t off, uint32_t size, bool write, struct vreg *val,
		 bool sext, bool atomic)
{
	struct vreg p = *vf_reg(e, regno);
	if (p.type == T_NOT_INIT)
		return vf_reject(e, "%s !read_ok: the register is not initialised", vf_regname(regno));
	if (p.flags & VF_NULL)
		return vf_reject(e, "invalid mem access '%s': %s may be NULL, check it first",
				 vtype_name(p.type, p.flags), vf_regname(regno));
	int nrc = note_ptr(e, p.type);
	if (nrc)
		return nrc;
	if (write && val && val->type == T_NOT_INIT)
		return vf_bug(e, "store of an uninitialised register");
	if (atomic && size != 4 && size != 8)
		return vf_reject(e, "invalid atomic operand size %u", size);
	int rc;
	if (p.type != T_STACK)
		vf_hist_note_nostack(e->cur);
	switch (p.type) {
	case T_STACK:
		return stack_access(e, regno, &p, off, size, write, val, sext, atomic);
	case T_CTX:
		return ctx_access(e, regno, &p, off, size, write, val, sext, atomic);
	case T_MAP_VALUE: {
		const struct vf_map *m = &e->in->maps[p.aux];
		if (write && (m->rdonly || (p.flags & VF_RDONLY)))
			return vf_reject(e, "write into map %s forbidden: it is read-only for programs", m->name);
		if (write && vreg_is_ptr(val))
			return vf_reject(e, "a pointer (%s) would leak into map %s", vtype_name(val->type, val->flags),
					 m->name);
		if ((rc = region_check(e, regno, &p, off, size, m->value_size)))
			return rc;
		if (atomic && ((((int64_t)p.off + off + (int64_t)p.var.value) % size) || (p.var.mask & (size - 1))))
			return vf_reject(e, "misaligned atomic access to map value");
		/* a frozen map's contents are known: a load at a constant offset is
		 * that constant (the kernel's bpf_map_direct_read) */
		if (!write && !atomic && m->rdonly && m->data && tnum_is_const(p.var)) {
			uint64_t v = 0;
			memcpy(&v, m->data + p.off + off + (int64_t)p.var.value, size);
			vreg_const(val, v);
			if (sext)
				vreg_sext(val, size);
			return BPFRT_OK;
		}
		break;
	}
	case T_MAP_KEY:
		if (write)
			return vf_reject(e, "write into a map key forbidden");
		if ((rc = region_check(e, regno, &p, off, size, e->in->maps[p.aux].key_size)))
			return rc;
		break;
	case T_MEM:
		if (write && (p.flags & VF_RDONLY))
			return vf_reject(e, "write into read-only memory (%s)", vf_regname(regno));
		if (write && vreg_is_ptr(val))
			return vf_reject(e, "a pointer would leak into memory");
		if ((rc = region_check(e, regno, &p, off, size, p.aux)))
			return rc;
		break;
	case T_PACKET: case T_PACKET_META:
		if (atomic)
			return vf_reject(e, "atomic operation on packet data");
		if (write && vreg_is_ptr(val))
			return vf_reject(e, "a pointer would leak into the packet");
		if ((rc = pkt_check(e, regno, &p, off, size, write)))
			return rc;
		break;
	case T_SOCKET: case T_SOCK_COMMON: case T_TCP_SOCK: {
		int64_t a = (int64_t)p.off + off;
		uint32_t lim = p.type == T_TCP_SOCK ? 112 : 80; /* struct bpf_tcp_sock, struct bpf_sock */
		if (write || atomic || !tnum_is_const(p.var) || a < 0 || a + size > lim || a % size)
			return vf_reject(e, "invalid %s access off=%" PRId64 " size=%u", vtype_name(p.type, 0), a, size);
		break;
	}
	case T_BTF_ID:
		if (e->in->platform != VF_PLATFORM_LINUX)
			return vf_reject(e, "kernel objects (%s) cannot be dereferenced here", vf_regname(regno));
		if (write || atomic)
			return vf_reject(e, "write into a kernel object (%s)", vf_regname(regno));
		break;
	case T_SCALAR:
		return vf_reject(e, "invalid mem access 'scalar': %s is not a pointer", vf_regname(regno));
	default:
		return vf_reject(e, "invalid mem access '%s' (%s)", vtype_name(p.type, p.flags), vf_regname(regno));
	}
	if (!write)
		load_scalar(val, size, sext);
	return BPFRT_OK;
}

/* ------------------------------------------------ helper memory arguments */

int vf_check_helper_mem(struct vf_env *e, int regno, uint64_t size, bool write)
{
	struct vreg p = *vf_reg(e, regno);
	if (size > VF_BIG)
		return vf_reject(e, "%s: memory argument of unbounded size", vf_regname(regno));
	if (p.flags & VF_NULL)
		return vf_reject(e, "%s may be NULL: check it before passing it as memory", vf_regname(regno));
	switch (p.type) {
	case T_STACK: {
		struct vframe *f = e->cur->frame[p.aux];
		int64_t lo, hi;
		int rc;
		if (!size)
			return BPFRT_OK;
		if ((rc = stack_var_range(e, regno, &p, 0, size, &lo, &hi)))
			return rc;
		sub_depth(e, p.aux, lo);
		if (write)
			return stack_mark_misc(e, f, lo, hi);
		vf_stack_read(e, p.aux, lo, hi);
		/* a helper reading a spilled pointer would copy it out (into a map, ...) */
		return stack_check_init(e, f, lo, hi, regno, !e->mem_ptrs_ok);
	}
	case T_MAP_VALUE: {
		const struct vf_map *m = &e->in->maps[p.aux];
		if (write && (m->rdonly || (p.flags & VF_RDONLY)))
			return vf_reject(e, "write into map %s forbidden: it is read-only for programs", m->name);
		return region_check(e, regno, &p, 0, size, m->value_size);
	}
	case T_MAP_KEY:
		if (write)
			return vf_reject(e, "write into a map key forbidden");
		return region_check(e, regno, &p, 0, size, e->in->maps[p.aux].key_size);
	case T_MEM:
		if (write && (p.flags & VF_RDONLY))
			return vf_reject(e, "write into read-only memory (%s)", vf_regname(regno));
		return region_check(e, regno, &p, 0, size, p.aux);
	case T_PACKET: case T_PACKET_META:
		return pkt_check(e, regno, &p, 0, size, write);
	case T_CTX:
		if (vf_ctx_is_mem(e)) {
			int64_t a = p.off;
			if (a < 0 || a + (int64_t)size > e->pt->ctx_size)
				return vf_reject(e, "%s: context memory out of bounds", vf_regname(regno));
			if (a + size > e->ctx_max)
				e->ctx_max = (uint32_t)(a + size);
			return BPFRT_OK;
		}
		/* fall through */
	default:
		if (p.type == T_SCALAR && vreg_is_const(&p) && !p.var.value && !size)
			return BPFRT_OK;
		return vf_reject(e, "%s type=%s expected=fp, pkt, pkt_meta, map_key, map_value, mem",
				 vf_regname(regno), vtype_name(p.type, p.flags));
	}
}
