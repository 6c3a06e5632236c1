/*
 * range.c — scalars: what a register's value may be.
 *
 * A scalar is described five ways at once: a tnum (known bits), unsigned
 * and signed 64-bit bounds, unsigned and signed bounds of its low 32 bits.
 * Every description holds every possible value; vreg_sync() lets each
 * tighten the others (tnum → bounds, 32 ↔ 64 where the upper half is
 * fixed, signed ↔ unsigned where no sign boundary is crossed, bounds →
 * tnum) until they agree.  Pointers use the same fields for the variable
 * part of their offset.
 *
 * ALU transfer functions compute a description of every result; 32-bit
 * operations work on the zero- (or, for signed operations, sign-) extended
 * low halves and truncate.  Conditional jumps are decided where the bounds
 * allow (vrange_branch) and refine both operands on each side
 * (vrange_refine); a side whose description becomes empty cannot happen.
 */
#include "vf.h"

#define S64_MIN INT64_MIN
#define S64_MAX INT64_MAX
#define U64_MAX UINT64_MAX
#define SIGN64 (1ull << 63)

static inline uint64_t umax2(uint64_t a, uint64_t b) { return a > b ? a : b; }
static inline uint64_t umin2(uint64_t a, uint64_t b) { return a < b ? a : b; }
static inline int64_t smax2(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t smin2(int64_t a, int64_t b) { return a < b ? a : b; }

static void bounds32_unknown(struct vreg *r)
{
	r->s32min = INT32_MIN;
	r->s32max = INT32_MAX;
	r->u32min = 0;
	r->u32max = UINT32_MAX;
}

static void bounds64_unknown(struct vreg *r)
{
	r->smin = S64_MIN;
	r->smax = S64_MAX;
	r->umin = 0;
	r->umax = U64_MAX;
}

void vreg_bounds_unknown(struct vreg *r)
{
	r->var = tnum_unknown();
	bounds64_unknown(r);
	bounds32_unknown(r);
}

void vreg_bounds_const(struct vreg *r, uint64_t v)
{
	r->var = tnum_const(v);
	r->smin = r->smax = (int64_t)v;
	r->umin = r->umax = v;
	r->s32min = r->s32max = (int32_t)v;
	r->u32min = r->u32max = (uint32_t)v;
}

void vreg_unknown(struct vreg *r)
{
	memset(r, 0, sizeof(*r));
	r->type = T_SCALAR;
	vreg_bounds_unknown(r);
}

void vreg_const(struct vreg *r, uint64_t v)
{
	memset(r, 0, sizeof(*r));
	r->type = T_SCALAR;
	vreg_bounds_const(r, v);
}

bool vreg_bounds_ok(const struct vreg *r)
{
	return r->smin <= r->smax && r->umin <= r->umax && r->s32min <= r->s32max &&
	       r->u32min <= r->u32max && !(r->var.value & r->var.mask);
}

static void make_empty(struct vreg *r)
{
	r->umin = 1;
	r->umax = 0;
}

/* tnum a ∩ b, or an empty register when they disagree on a known bit */
static void var_intersect(struct vreg *r, struct tnum t)
{
	if ((r->var.value ^ t.value) & ~r->var.mask & ~t.mask) {
		make_empty(r);
		return;
	}
	r->var = tnum_intersect(r->var, t);
}

static void sync_once(struct vreg *r)
{
	/* tnum → 64-bit bounds */
	uint64_t tmin = r->var.value, tmax = r->var.value | r->var.mask;
	r->umin = umax2(r->umin, tmin);
	r->umax = umin2(r->umax, tmax);
	if (r->var.mask & SIGN64) {
		r->smin = smax2(r->smin, (int64_t)(r->var.value | SIGN64));
		r->smax = smin2(r->smax, (int64_t)(tmax & ~SIGN64));
	} else {
		r->smin = smax2(r->smin, (int64_t)tmin);
		r->smax = smin2(r->smax, (int64_t)tmax);
	}
	/* tnum → 32-bit bounds */
	struct tnum sub = tnum_subreg(r->var);
	uint32_t t32min = (uint32_t)sub.value, t32max = (uint32_t)(sub.value | sub.mask);
	r->u32min = r->u32min > t32min ? r->u32min : t32min;
	r->u32max = r->u32max < t32max ? r->u32max : t32max;
	if (sub.mask & 0x80000000u) {
		int32_t lo = (int32_t)(t32min | 0x80000000u), hi = (int32_t)(t32max & 0x7fffffffu);
		r->s32min = r->s32min > lo ? r->s32min : lo;
		r->s32max = r->s32max < hi ? r->s32max : hi;
	} else {
		r->s32min = r->s32min > (int32_t)t32min ? r->s32min : (int32_t)t32min;
		r->s32max = r->s32max < (int32_t)t32max ? r->s32max : (int32_t)t32max;
	}
	/* 64 → 32 where the upper halves agree */
	if ((r->umin >> 32) == (r->umax >> 32)) {
		uint32_t lo = (uint32_t)r->umin, hi = (uint32_t)r->umax;
		r->u32min = r->u32min > lo ? r->u32min : lo;
		r->u32max = r->u32max < hi ? r->u32max : hi;
		if ((int32_t)lo <= (int32_t)hi) {
			r->s32min = r->s32min > (int32_t)lo ? r->s32min : (int32_t)lo;
			r->s32max = r->s32max < (int32_t)hi ? r->s32max : (int32_t)hi;
		}
	}
	if (((uint64_t)r->smin >> 32) == ((uint64_t)r->smax >> 32)) {
		uint32_t lo = (uint32_t)r->smin, hi = (uint32_t)r->smax;
		r->u32min = r->u32min > lo ? r->u32min : lo;
		r->u32max = r->u32max < hi ? r->u32max : hi;
		if ((int32_t)lo <= (int32_t)hi) {
			r->s32min = r->s32min > (int32_t)lo ? r->s32min : (int32_t)lo;
			r->s32max = r->s32max < (int32_t)hi ? r->s32max : (int32_t)hi;
		}
	}
	/* 32-bit signed ↔ unsigned where no sign boundary is crossed */
	if ((int32_t)r->u32min <= (int32_t)r->u32max) {
		r->s32min = r->s32min > (int32_t)r->u32min ? r->s32min : (int32_t)r->u32min;
		r->s32max = r->s32max < (int32_t)r->u32max ? r->s32max : (int32_t)r->u32max;
	}
	if ((uint32_t)r->s32min <= (uint32_t)r->s32max) {
		r->u32min = r->u32min > (uint32_t)r->s32min ? r->u32min : (uint32_t)r->s32min;
		r->u32max = r->u32max < (uint32_t)r->s32max ? r->u32max : (uint32_t)r->s32max;
	}
	/* 32 → 64 where the upper halves agree */
	if ((r->umin >> 32) == (r->umax >> 32) && r->u32min <= r->u32max) {
		uint64_t hi = r->umin & 0xffffffff00000000ull;
		r->umin = umax2(r->umin, hi | r->u32min);
		r->umax = umin2(r->umax, hi | r->u32max);
	}
	/* 64-bit signed ↔ unsigned */
	if ((int64_t)r->umin <= (int64_t)r->umax) {
		r->smin = smax2(r->smin, (int64_t)r->umin);
		r->smax = smin2(r->smax, (int64_t)r->umax);
	}
	if ((uint64_t)r->smin <= (uint64_t)r->smax) {
		r->umin = umax2(r->umin, (uint64_t)r->smin);
		r->umax = umin2(r->umax, (uint64_t)r->smax);
	}
	if (!vreg_bounds_ok(r))
		return;
	/* bounds → tnum */
	var_intersect(r, tnum_range(r->umin, r->umax));
	struct tnum s = tnum_subreg(r->var), rs = tnum_range(r->u32min, r->u32max);
	if ((s.value ^ rs.value) & ~s.mask & ~rs.mask) {
		make_empty(r);
		return;
	}
	r->var = tnum_with_subreg(r->var, tnum_intersect(s, rs));
}

void vreg_sync(struct vreg *r)
{
	sync_once(r);
	if (vreg_bounds_ok(r))
		sync_once(r);
}

void vreg_zext32(struct vreg *r)
{
	r->var = tnum_subreg(r->var);
	r->umin = r->u32min;
	r->umax = r->u32max;
	r->smin = r->u32min;
	r->smax = r->u32max;
	vreg_sync(r);
}

void vreg_cast(struct vreg *r, unsigned bytes)
{
	if (bytes >= 8)
		return;
	if (bytes == 4) {
		vreg_zext32(r);
		return;
	}
	uint64_t keep = (1ull << (bytes * 8)) - 1;
	r->var = tnum_cast(r->var, bytes);
	if (r->umax > keep || r->umin > r->umax) {
		r->umin = 0;
		r->umax = keep;
	}
	r->smin = (int64_t)r->umin;
	r->smax = (int64_t)r->umax;
	bounds32_unknown(r);
	vreg_sync(r);
}

void vreg_sext(struct vreg *r, unsigned bytes)
{
	if (bytes >= 8)
		return;
	int64_t lo = -(1ll << (bytes * 8 - 1)), hi = (1ll << (bytes * 8 - 1)) - 1;
	uint64_t keep = (1ull << (bytes * 8)) - 1, sign = 1ull << (bytes * 8 - 1);
	int64_t nlo = lo, nhi = hi;
	if (r->smin >= lo && r->smax <= hi) { /* the value does not change */
		nlo = r->smin;
		nhi = r->smax;
	} else if (bytes == 4) {
		nlo = r->s32min;
		nhi = r->s32max;
	}
	struct tnum t = tnum_cast(r->var, bytes);
	if (t.mask & sign)
		t = TNUM(t.value, t.mask | ~keep);
	else if (t.value & sign)
		t = TNUM(t.value | ~keep, t.mask);
	r->var = t;
	bounds64_unknown(r);
	bounds32_unknown(r);
	r->smin = nlo;
	r->smax = nhi;
	vreg_sync(r);
}

/* ---------------------------------------------------------------- ALU */

enum { OP_ADD = 0x00, OP_SUB = 0x10, OP_MUL = 0x20, OP_DIV = 0x30, OP_OR = 0x40, OP_AND = 0x50,
       OP_LSH = 0x60, OP_RSH = 0x70, OP_NEG = 0x80, OP_MOD = 0x90, OP_XOR = 0xa0, OP_ARSH = 0xc0,
       OP_SDIV = 0x130, OP_SMOD = 0x190 }; /* signed forms: the operation bits | 0x100 */

/* The exact result on constants (the interpreter's semantics, 64-bit). */
static uint64_t eval64(unsigned op, uint64_t a, uint64_t b)
{
	switch (op) {
	case OP_ADD: return a + b;
	case OP_SUB: return a - b;
	case OP_MUL: return a * b;
	case OP_DIV: return b ? a / b : 0;
	case OP_OR: return a | b;
	case OP_AND: return a & b;
	case OP_LSH: return a << (b & 63);
	case OP_RSH: return a >> (b & 63);
	case OP_NEG: return -a;
	case OP_MOD: return b ? a % b : a;
	case OP_XOR: return a ^ b;
	case OP_ARSH: return (uint64_t)((int64_t)a >> (b & 63));
	case OP_SDIV:
		if (!b)
			return 0;
		if ((int64_t)a == S64_MIN && (int64_t)b == -1)
			return a;
		return (uint64_t)((int64_t)a / (int64_t)b);
	case OP_SMOD:
		if (!b)
			return a;
		if ((int64_t)b == -1)
			return 0;
		return (uint64_t)((int64_t)a % (int64_t)b);
	}
	return 0;
}

static void alu64(struct vreg *d, const struct vreg *s, unsigned op, unsigned width)
{
	bool shift = op == OP_LSH || op == OP_RSH || op == OP_ARSH;
	/* a shift by width or more is undefined in the ISA (the CPUs mask the
	 * count, not every JIT's target does): unknown, as the kernel has it */
	if (tnum_is_const(d->var) && tnum_is_const(s->var) && !(shift && s->var.value >= width)) {
		vreg_bounds_const(d, eval64(op, d->var.value, s->var.value));
		return;
	}
	struct vreg r = *d;
	bounds32_unknown(&r);
	switch (op) {
	case OP_ADD: {
		int64_t lo, hi;
		if (__builtin_add_overflow(d->smin, s->smin, &lo) || __builtin_add_overflow(d->smax, s->smax, &hi)) {
			r.smin = S64_MIN;
			r.smax = S64_MAX;
		} else {
			r.smin = lo;
			r.smax = hi;
		}
		uint64_t ulo, uhi;
		if (__builtin_add_overflow(d->umin, s->umin, &ulo) || __builtin_add_overflow(d->umax, s->umax, &uhi)) {
			r.umin = 0;
			r.umax = U64_MAX;
		} else {
			r.umin = ulo;
			r.umax = uhi;
		}
		r.var = tnum_add(d->var, s->var);
		break;
	}
	case OP_SUB: {
		int64_t lo, hi;
		if (__builtin_sub_overflow(d->smin, s->smax, &lo) || __builtin_sub_overflow(d->smax, s->smin, &hi)) {
			r.smin = S64_MIN;
			r.smax = S64_MAX;
		} else {
			r.smin = lo;
			r.smax = hi;
		}
		if (d->umin < s->umax) {
			r.umin = 0;
			r.umax = U64_MAX;
		} else {
			r.umin = d->umin - s->umax;
			r.umax = d->umax - s->umin;
		}
		r.var = tnum_sub(d->var, s->var);
		break;
	}
	case OP_MUL: {
		uint64_t lo, hi;
		r.var = tnum_mul(d->var, s->var);
		if (__builtin_mul_overflow(d->umin, s->umin, &lo) || __builtin_mul_overflow(d->umax, s->umax, &hi)) {
			r.umin = 0;
			r.umax = U64_MAX;
		} else {
			r.umin = lo;
			r.umax = hi;
		}
		r.smin = S64_MIN;
		r.smax = S64_MAX;
		break;
	}
	case OP_AND:
		r.var = tnum_and(d->var, s->var);
		r.umin = r.var.value;
		r.umax = umin2(d->umax, s->umax);
		r.smin = S64_MIN;
		r.smax = S64_MAX;
		if (d->smin >= 0 || s->smin >= 0) {
			r.smin = 0;
			r.smax = smin2(d->smin >= 0 ? d->smax : S64_MAX, s->smin >= 0 ? s->smax : S64_MAX);
		}
		break;
	case OP_OR:
		r.var = tnum_or(d->var, s->var);
		r.umin = umax2(d->umin, s->umin);
		r.umax = r.var.value | r.var.mask;
		r.smin = S64_MIN;
		r.smax = S64_MAX;
		break;
	case OP_XOR:
		r.var = tnum_xor(d->var, s->var);
		r.umin = r.var.value;
		r.umax = r.var.value | r.var.mask;
		r.smin = S64_MIN;
		r.smax = S64_MAX;
		break;
	case OP_LSH: case OP_RSH: case OP_ARSH: {
		if (!tnum_is_const(s->var) || s->var.value >= width) {
			vreg_bounds_unknown(&r);
			if (op == OP_RSH && !tnum_is_const(s->var) && s->umin > 0 && s->umax < width)
				r.umax = d->umax >> s->umin; /* a logical right shift by ≥ 1 */
			if (op == OP_RSH && s->umax < width) /* a logical right shift never grows a value */
				r.umax = umin2(r.umax, d->umax);
			break;
		}
		unsigned k = (unsigned)s->var.value;
		bounds64_unknown(&r);
		if (op == OP_LSH) {
			r.var = tnum_lshift(d->var, k);
			if (k == 0 || !(d->umax >> (64 - k))) {
				r.umin = d->umin << k;
				r.umax = d->umax << k;
			}
		} else if (op == OP_RSH) {
			r.var = tnum_rshift(d->var, k);
			r.umin = d->umin >> k;
			r.umax = d->umax >> k;
		} else {
			r.var = tnum_arshift(d->var, k, 64);
			r.smin = d->smin >> k;
			r.smax = d->smax >> k;
		}
		break;
	}
	case OP_DIV:
		r.var = tnum_unknown();
		bounds64_unknown(&r);
		if (s->umin > 0) {
			r.umin = d->umin / s->umax;
			r.umax = d->umax / s->umin;
		} else {
			r.umax = d->umax;
		}
		break;
	case OP_MOD:
		r.var = tnum_unknown();
		bounds64_unknown(&r);
		r.umax = d->umax;
		if (s->umin > 0 && s->umax - 1 < r.umax)
			r.umax = s->umax - 1;
		break;
	case OP_NEG:
		r.var = tnum_sub(tnum_const(0), d->var);
		bounds64_unknown(&r);
		if (d->smin != S64_MIN) {
			r.smin = -d->smax;
			r.smax = -d->smin;
		}
		break;
	default: /* signed division: anything */
		vreg_bounds_unknown(&r);
		break;
	}
	d->var = r.var;
	d->smin = r.smin;
	d->smax = r.smax;
	d->umin = r.umin;
	d->umax = r.umax;
	bounds32_unknown(d);
	vreg_sync(d);
	if (!vreg_bounds_ok(d)) /* an imprecise transfer must never make a value impossible */
		vreg_bounds_unknown(d);
}

void vrange_alu(struct vreg *dst, const struct vreg *src, unsigned op, bool is64)
{
	struct vreg s = *src;
	if (!is64) {
		bool sign = op == OP_ARSH || op == OP_SDIV || op == OP_SMOD;
		if (sign) {
			vreg_sext(dst, 4);
			if (op != OP_ARSH)
				vreg_sext(&s, 4);
			else
				vreg_zext32(&s);
		} else {
			vreg_zext32(dst);
			vreg_zext32(&s);
		}
		alu64(dst, &s, op, 32);
		vreg_zext32(dst);
	} else {
		alu64(dst, &s, op, 64);
	}
	dst->id = 0;
}

/* ------------------------------------------------------------ branches */

enum { J_JEQ = 0x10, J_JGT = 0x20, J_JGE = 0x30, J_JSET = 0x40, J_JNE = 0x50, J_JSGT = 0x60,
       J_JSGE = 0x70, J_JLT = 0xa0, J_JLE = 0xb0, J_JSLT = 0xc0, J_JSLE = 0xd0, J_NSET = 0xf0 };

struct b64 { uint64_t umin, umax; int64_t smin, smax; struct tnum t; };

static struct b64 view(const struct vreg *r, bool is64)
{
	if (is64)
		return (struct b64){ r->umin, r->umax, r->smin, r->smax, r->var };
	return (struct b64){ r->u32min, r->u32max, r->s32min, r->s32max, tnum_subreg(r->var) };
}

int vrange_branch(const struct vreg *ra, const struct vreg *rb, uint8_t op, bool is64)
{
	struct b64 a = view(ra, is64), b = view(rb, is64);
	switch (op) {
	case J_JEQ: case J_JNE: {
		int eq = -1;
		if (tnum_is_const(a.t) && tnum_is_const(b.t))
			eq = a.t.value == b.t.value;
		else if (a.umin > b.umax || a.umax < b.umin || a.smin > b.smax || a.smax < b.smin ||
			 ((a.t.value ^ b.t.value) & ~a.t.mask & ~b.t.mask))
			eq = 0;
		if (eq < 0)
			return -1;
		return op == J_JEQ ? eq : !eq;
	}
	case J_JGT: return a.umin > b.umax ? 1 : a.umax <= b.umin ? 0 : -1;
	case J_JGE: return a.umin >= b.umax ? 1 : a.umax < b.umin ? 0 : -1;
	case J_JLT: return a.umax < b.umin ? 1 : a.umin >= b.umax ? 0 : -1;
	case J_JLE: return a.umax <= b.umin ? 1 : a.umin > b.umax ? 0 : -1;
	case J_JSGT: return a.smin > b.smax ? 1 : a.smax <= b.smin ? 0 : -1;
	case J_JSGE: return a.smin >= b.smax ? 1 : a.smax < b.smin ? 0 : -1;
	case J_JSLT: return a.smax < b.smin ? 1 : a.smin >= b.smax ? 0 : -1;
	case J_JSLE: return a.smax <= b.smin ? 1 : a.smin > b.smax ? 0 : -1;
	case J_JSET:
		if (a.t.value & b.t.value)
			return 1;
		if (!((a.t.value | a.t.mask) & (b.t.value | b.t.mask)))
			return 0;
		return -1;
	}
	return -1;
}

static uint8_t negate(uint8_t op)
{
	switch (op) {
	case J_JEQ: return J_JNE;
	case J_JNE: return J_JEQ;
	case J_JGT: return J_JLE;
	case J_JLE: return J_JGT;
	case J_JGE: return J_JLT;
	case J_JLT: return J_JGE;
	case J_JSGT: return J_JSLE;
	case J_JSLE: return J_JSGT;
	case J_JSGE: return J_JSLT;
	case J_JSLT: return J_JSGE;
	case J_JSET: return J_NSET;
	}
	return op;
}

/* Writes the refined view back into the register's fields of its width. */
static void put(struct vreg *r, const struct b64 *v, bool is64)
{
	if (is64) {
		r->umin = v->umin;
		r->umax = v->umax;
		r->smin = v->smin;
		r->smax = v->smax;
		var_intersect(r, v->t);
	} else {
		r->u32min = (uint32_t)v->umin;
		r->u32max = (uint32_t)v->umax;
		r->s32min = (int32_t)v->smin;
		r->s32max = (int32_t)v->smax;
		struct tnum s = tnum_subreg(r->var);
		if ((s.value ^ v->t.value) & ~s.mask & ~v->t.mask & 0xffffffffull) {
			make_empty(r);
			return;
		}
		r->var = tnum_with_subreg(r->var, tnum_intersect(s, v->t));
	}
}

bool vrange_refine(struct vreg *ra, struct vreg *rb, uint8_t op, bool is64, bool taken)
{
	if (!taken)
		op = negate(op);
	struct b64 a = view(ra, is64), b = view(rb, is64);
	uint64_t umaxv = is64 ? U64_MAX : UINT32_MAX;
	int64_t smaxv = is64 ? S64_MAX : INT32_MAX, sminv = is64 ? S64_MIN : INT32_MIN;
	bool empty = false;
	switch (op) {
	case J_JEQ:
		a.umin = b.umin = umax2(a.umin, b.umin);
		a.umax = b.umax = umin2(a.umax, b.umax);
		a.smin = b.smin = smax2(a.smin, b.smin);
		a.smax = b.smax = smin2(a.smax, b.smax);
		if ((a.t.value ^ b.t.value) & ~a.t.mask & ~b.t.mask)
			empty = true;
		a.t = b.t = tnum_intersect(a.t, b.t);
		break;
	case J_JNE:
		if (tnum_is_const(b.t)) {
			uint64_t c = b.t.value;
			if (a.umin == c) { if (c == umaxv) empty = true; else a.umin++; }
			if (a.umax == c) { if (c == 0) empty = true; else a.umax--; }
			if ((uint64_t)a.smin == c || (!is64 && (uint32_t)a.smin == (uint32_t)c)) {
				if (a.smin == smaxv) empty = true; else a.smin++;
			}
			if ((uint64_t)a.smax == c || (!is64 && (uint32_t)a.smax == (uint32_t)c)) {
				if (a.smax == sminv) empty = true; else a.smax--;
			}
			if (tnum_is_const(a.t) && a.t.value == c)
				empty = true;
		} else if (tnum_is_const(a.t)) {
			return vrange_refine(rb, ra, J_JNE, is64, true);
		}
		break;
	case J_JGT: /* a > b */
		if (b.umin == umaxv || a.umax == 0) { empty = true; break; }
		a.umin = umax2(a.umin, b.umin + 1);
		b.umax = umin2(b.umax, a.umax - 1);
		break;
	case J_JGE:
		a.umin = umax2(a.umin, b.umin);
		b.umax = umin2(b.umax, a.umax);
		break;
	case J_JLT: /* a < b */
		if (a.umin == umaxv || b.umax == 0) { empty = true; break; }
		b.umin = umax2(b.umin, a.umin + 1);
		a.umax = umin2(a.umax, b.umax - 1);
		break;
	case J_JLE:
		b.umin = umax2(b.umin, a.umin);
		a.umax = umin2(a.umax, b.umax);
		break;
	case J_JSGT:
		if (b.smin == smaxv || a.smax == sminv) { empty = true; break; }
		a.smin = smax2(a.smin, b.smin + 1);
		b.smax = smin2(b.smax, a.smax - 1);
		break;
	case J_JSGE:
		a.smin = smax2(a.smin, b.smin);
		b.smax = smin2(b.smax, a.smax);
		break;
	case J_JSLT:
		if (a.smin == smaxv || b.smax == sminv) { empty = true; break; }
		b.smin = smax2(b.smin, a.smin + 1);
		a.smax = smin2(a.smax, b.smax - 1);
		break;
	case J_JSLE:
		b.smin = smax2(b.smin, a.smin);
		a.smax = smin2(a.smax, b.smax);
		break;
	case J_JSET:
		if (tnum_is_const(b.t) && b.t.value && !(b.t.value & (b.t.value - 1))) {
			if ((a.t.value | a.t.mask) & b.t.value)
				a.t = tnum_intersect(a.t, TNUM(b.t.value, ~b.t.value));
			else
				empty = true;
		}
		break;
	case J_NSET:
		if (tnum_is_const(b.t)) {
			if (a.t.value & b.t.value)
				empty = true;
			else
				a.t = tnum_intersect(a.t, TNUM(0, ~b.t.value));
		}
		break;
	}
	if (empty)
		return false;
	put(ra, &a, is64);
	put(rb, &b, is64);
	if (!vreg_bounds_ok(ra) || !vreg_bounds_ok(rb))
		return false;
	vreg_sync(ra);
	vreg_sync(rb);
	return vreg_bounds_ok(ra) && vreg_bounds_ok(rb);
}

bool vrange_within(const struct vreg *o, const struct vreg *i)
{
	return o->umin <= i->umin && i->umax <= o->umax && o->smin <= i->smin && i->smax <= o->smax &&
	       o->u32min <= i->u32min && i->u32max <= o->u32max && o->s32min <= i->s32min &&
	       i->s32max <= o->s32max && tnum_in(o->var, i->var);
}
