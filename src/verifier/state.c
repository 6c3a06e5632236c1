/*
 * state.c — verifier states: frames, stacks, references; copying, freeing,
 * and the comparison that prunes the walk.
 *
 * Stack liveness (read marks, as the kernel's): a checkpoint's stack slot
 * is marked read when some walk below it reads the slot before writing it
 * whole; pruning compares only slots so marked.  A read walks up the parent
 * checkpoints marking the slot until one whose own segment (the path from
 * its parent to it) wrote it whole.  A pruned path's continuation is the
 * stored state's, so that state's marks are propagated from the pruned one.
 *
 * Pruning: when the walk reaches an instruction with a state `cur` and an
 * earlier walk from the same instruction with a state `old` finished
 * without error, cur needs no walk of its own if every concrete machine
 * state cur describes is one old describes (old subsumes cur).  Registers
 * dead at the instruction (static liveness, cfg.c) are not compared; a
 * register or stack byte old holds as uninitialised was never read on
 * old's paths, so cur's may be anything.  Ids (NULL-check groups, packet
 * pointers, references) are compared through a consistent renaming.
 */
#include "vf.h"

struct vframe *vframe_new(uint32_t frameno, uint32_t callsite, uint32_t subprog)
{
	struct vframe *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->frameno = frameno;
	f->callsite = callsite;
	f->subprog = subprog;
	return f;
}

static void vframe_free(struct vframe *f)
{
	if (f) {
		free(f->slot);
		free(f);
	}
}

void vstate_free(struct vstate *st)
{
	if (!st)
		return;
	for (uint32_t i = 0; i <= st->curframe && i < VF_MAX_FRAMES; i++)
		vframe_free(st->frame[i]);
	free(st->refs);
	free(st->hist);
	free(st);
}

static struct vframe *vframe_copy(const struct vframe *f)
{
	struct vframe *c = malloc(sizeof(*c));
	if (!c)
		return NULL;
	*c = *f;
	c->slot = NULL;
	if (f->nslots) {
		c->slot = malloc(f->nslots * sizeof(*c->slot));
		if (!c->slot) {
			free(c);
			return NULL;
		}
		memcpy(c->slot, f->slot, f->nslots * sizeof(*c->slot));
	}
	return c;
}

struct vstate *vstate_copy(const struct vstate *st)
{
	struct vstate *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->curframe = st->curframe;
	c->active_lock = st->active_lock;
	c->parent = st->parent;
	c->depth = st->depth;
	c->last_cp_insns = st->last_cp_insns;
	c->last_cp_jmps = st->last_cp_jmps;
	for (uint32_t i = 0; i <= st->curframe; i++) {
		if (!(c->frame[i] = vframe_copy(st->frame[i]))) {
			c->curframe = i ? i - 1 : 0;
			if (!i)
				c->frame[0] = NULL;
			vstate_free(c);
			return NULL;
		}
	}
	if (st->nhist) {
		c->hist = malloc(st->nhist * sizeof(*c->hist));
		if (!c->hist) {
			vstate_free(c);
			return NULL;
		}
		memcpy(c->hist, st->hist, st->nhist * sizeof(*c->hist));
		c->nhist = c->caphist = st->nhist;
	}
	if (st->nrefs) {
		c->refs = malloc(st->nrefs * sizeof(*c->refs));
		if (!c->refs) {
			vstate_free(c);
			return NULL;
		}
		memcpy(c->refs, st->refs, st->nrefs * sizeof(*c->refs));
		c->nrefs = c->caprefs = st->nrefs;
	}
	return c;
}

bool vframe_grow(struct vframe *f, uint32_t nslots)
{
	if (nslots <= f->nslots)
		return true;
	struct vslot *s = realloc(f->slot, nslots * sizeof(*s));
	if (!s)
		return false;
	memset(s + f->nslots, 0, (nslots - f->nslots) * sizeof(*s));
	f->slot = s;
	f->nslots = nslots;
	return true;
}

bool vstate_add_ref(struct vstate *st, uint32_t id, uint32_t insn)
{
	if (st->nrefs == st->caprefs) {
		uint32_t cap = st->caprefs ? st->caprefs * 2 : 4;
		struct vref *r = realloc(st->refs, cap * sizeof(*r));
		if (!r)
			return false;
		st->refs = r;
		st->caprefs = cap;
	}
	st->refs[st->nrefs++] = (struct vref){ id, insn };
	return true;
}

bool vstate_drop_ref(struct vstate *st, uint32_t id)
{
	for (uint32_t i = 0; i < st->nrefs; i++)
		if (st->refs[i].id == id) {
			memmove(&st->refs[i], &st->refs[i + 1], (st->nrefs - i - 1) * sizeof(*st->refs));
			st->nrefs--;
			return true;
		}
	return false;
}

/* ---------------------------------------------------------- comparison */

#define IDMAP_MAX 128

struct idmap {
	uint32_t old[IDMAP_MAX], cur[IDMAP_MAX];
	unsigned n;
	bool exact;
};

/* old id a and cur id b stand for the same thing, consistently */
static bool ids_match(struct idmap *m, uint32_t a, uint32_t b)
{
	if (!a && !b)
		return true;
	if (!a || !b)
		return false;
	for (unsigned i = 0; i < m->n; i++) {
		if (m->old[i] == a)
			return m->cur[i] == b;
		if (m->cur[i] == b)
			return false;
	}
	if (m->n == IDMAP_MAX)
		return false;
	m->old[m->n] = a;
	m->cur[m->n++] = b;
	return true;
}

static bool reg_subsumes(const struct vreg *o, const struct vreg *c, struct idmap *m)
{
	if (o->type == T_NOT_INIT)
		return true;
	if (c->type != o->type)
		return false;
	if (o->type == T_SCALAR) {
		if (!o->precise && !m->exact) /* no check below depended on its value */
			return true;
		/* an id links copies refined together: the old state's links must hold in cur */
		if (o->id && !ids_match(m, o->id, c->id))
			return false;
		return vrange_within(o, c);
	}
	if (o->flags != c->flags || o->aux != c->aux || o->off != c->off)
		return false;
	if (!vrange_within(o, c))
		return false;
	switch (o->type) {
	case T_PACKET: case T_PACKET_META:
		if (c->range < o->range)
			return false;
		/* fall through */
	default:
		if (!ids_match(m, o->id, c->id) || !ids_match(m, o->ref, c->ref))
			return false;
	}
	return true;
}

static bool slot_byte_ok(const struct vslot *os, const struct vslot *cs, unsigned b, struct idmap *m)
{
	uint8_t ot = os ? os->type[b] : S_INVALID, ct = cs ? cs->type[b] : S_INVALID;
	switch (ot) {
	case S_INVALID:
		return true;
	case S_MISC:
		if (ct == S_MISC || ct == S_ZERO)
			return true;
		return ct == S_SPILL && cs->spill.type == T_SCALAR;
	case S_ZERO:
		if (ct == S_ZERO)
			return true;
		return ct == S_SPILL && vreg_is_const(&cs->spill) && !cs->spill.var.value;
	case S_SPILL:
		/* an imprecise spilled scalar is "some number": any bytes that read as
		 * a number do (misc, zero, a spilled scalar of any size) */
		if (os->spill.type == T_SCALAR && !os->spill.precise && !m->exact)
			return ct == S_MISC || ct == S_ZERO || (ct == S_SPILL && cs->spill.type == T_SCALAR);
		if (ct != S_SPILL || os->spill_at != cs->spill_at || os->spill_size != cs->spill_size)
			return false;
		return b != os->spill_at || reg_subsumes(&os->spill, &cs->spill, m);
	}
	return false;
}

static void read_slot(struct vstate *st, uint32_t frameno, uint32_t k)
{
	if (frameno > st->curframe)
		return;
	struct vframe *f = st->frame[frameno];
	if (k < f->nslots && (f->slot[k].live & VL_WRITTEN))
		return; /* this segment's own value */
	for (struct vstate *p = st->parent; p; p = p->parent) {
		if (frameno > p->curframe)
			return;
		struct vframe *pf = p->frame[frameno];
		if (k >= pf->nslots || (pf->slot[k].live & VL_READ))
			return;
		pf->slot[k].live |= VL_READ;
		if (pf->slot[k].live & VL_WRITTEN)
			return;
	}
}

void vf_stack_read(struct vf_env *e, uint32_t frameno, int64_t lo, int64_t hi)
{
	if (lo >= hi || lo < -VF_STACK || hi > 0)
		return;
	for (int64_t k = (-hi) / 8; k <= (-lo - 1) / 8; k++)
		read_slot(e->cur, frameno, (uint32_t)k);
}

void vf_stack_written(struct vf_env *e, uint32_t frameno, uint32_t k)
{
	struct vframe *f = e->cur->frame[frameno];
	if (k < f->nslots)
		f->slot[k].live |= VL_WRITTEN;
}

void vf_propagate_liveness(struct vf_env *e, const struct vstate *old)
{
	for (uint32_t fi = 0; fi <= old->curframe && fi <= e->cur->curframe; fi++) {
		const struct vframe *f = old->frame[fi];
		for (uint32_t k = 0; k < f->nslots; k++)
			if (f->slot[k].live & VL_READ)
				read_slot(e->cur, fi, k);
	}
}

/* A checkpoint cp was just copied from cur: its marks start empty (but keep
 * what its segment wrote); cur starts a new segment. */
void vf_new_segment(struct vstate *cur, struct vstate *cp)
{
	for (uint32_t fi = 0; fi <= cp->curframe; fi++) {
		struct vframe *f = cp->frame[fi], *g = cur->frame[fi];
		for (uint32_t k = 0; k < f->nslots; k++)
			f->slot[k].live &= (uint8_t)~VL_READ;
		for (uint32_t k = 0; k < g->nslots; k++)
			g->slot[k].live = 0;
	}
}

static bool frame_subsumes(const struct vf_env *e, const struct vframe *o, const struct vframe *c,
			   uint32_t live_at, bool top, struct idmap *m)
{
	if (o->callsite != c->callsite || o->subprog != c->subprog || o->callback != c->callback)
		return false;
	uint16_t live = e && e->live ? e->live[live_at] : 0xffff;
	if (!top) /* a caller's frame: what is live after its call returns (r0-r5 are set then) */
		live &= ~0x3fu;
	for (int r = 0; r < 11; r++) {
		if (r < 10 && !(live & (1u << r)))
			continue;
		if (!reg_subsumes(&o->regs[r], &c->regs[r], m))
			return false;
	}
	uint32_t n = o->nslots > c->nslots ? o->nslots : c->nslots;
	for (uint32_t k = 0; k < n; k++) {
		const struct vslot *os = k < o->nslots ? &o->slot[k] : NULL;
		const struct vslot *cs = k < c->nslots ? &c->slot[k] : NULL;
		if (!os || (!m->exact && !(os->live & VL_READ)))
			continue; /* never read below old before being written: dead */
		for (unsigned b = 0; b < 8; b++)
			if (!slot_byte_ok(os, cs, b, m))
				return false;
	}
	return true;
}

/* Widening at a callback call (the kernel's widen_imprecise_scalars): a
 * scalar no check depended on, that changed since the callback last ran,
 * becomes unknown, so that a loop accumulating into it converges (the
 * next iteration finds the same state) instead of growing it forever. */
static bool same_scalar(const struct vreg *a, const struct vreg *b)
{
	return a->var.value == b->var.value && a->var.mask == b->var.mask && a->smin == b->smin &&
	       a->smax == b->smax && a->umin == b->umin && a->umax == b->umax && a->s32min == b->s32min &&
	       a->s32max == b->s32max && a->u32min == b->u32min && a->u32max == b->u32max;
}

static void widen_reg(const struct vreg *o, struct vreg *c)
{
	if (o->type == T_SCALAR && c->type == T_SCALAR && !o->precise && !c->precise && !same_scalar(o, c))
		vreg_unknown(c);
}

void vstate_widen(const struct vstate *old, struct vstate *cur)
{
	if (old->curframe != cur->curframe)
		return;
	for (uint32_t i = 0; i <= cur->curframe; i++) {
		const struct vframe *o = old->frame[i];
		struct vframe *c = cur->frame[i];
		if (o->callsite != c->callsite || o->subprog != c->subprog)
			return;
		for (int r = 0; r < 10; r++)
			widen_reg(&o->regs[r], &c->regs[r]);
		uint32_t n = o->nslots < c->nslots ? o->nslots : c->nslots;
		for (uint32_t k = 0; k < n; k++) {
			const struct vslot *os = &o->slot[k];
			struct vslot *cs = &c->slot[k];
			if (os->spill_at == 0 && os->spill_size == 8 && cs->spill_at == 0 && cs->spill_size == 8 &&
			    os->type[0] == S_SPILL && cs->type[0] == S_SPILL)
				widen_reg(&os->spill, &cs->spill);
		}
	}
}

bool vstate_subsumes(const struct vf_env *e, const struct vstate *old, const struct vstate *cur, bool exact)
{
	if (old->curframe != cur->curframe || old->nrefs != cur->nrefs ||
	    !old->active_lock != !cur->active_lock)
		return false;
	struct idmap m;
	m.n = 0;
	m.exact = exact;
	for (uint32_t i = 0; i < old->nrefs; i++)
		if (old->refs[i].insn != cur->refs[i].insn || !ids_match(&m, old->refs[i].id, cur->refs[i].id))
			return false;
	for (uint32_t i = 0; i <= old->curframe; i++) {
		bool top = i == old->curframe;
		/* liveness: the instruction itself for the top frame, the return point for callers */
		uint32_t at = top ? old->insn : old->frame[i + 1]->callsite + 1;
		if (!frame_subsumes(e, old->frame[i], cur->frame[i], at, top, &m))
			return false;
	}
	return true;
}
