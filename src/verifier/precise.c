/*
 * precise.c — precision tracking: which scalars some check depends on.
 *
 * Pruning compares a scalar of the stored state only if it is marked
 * precise; any other scalar matches any scalar.  A value becomes precise
 * where a check uses it: added to a pointer, a helper's size, a jump the
 * walk decided from the bounds (the other side was never walked), r0 at an
 * exit with a return range.  The mark goes backward along the walked path
 * (each state keeps the instructions walked since its parent checkpoint):
 * an instruction that computed the value from other registers or stack
 * slots passes the mark to them (mov r, s passes it to s; add r, s keeps r
 * and adds s; a load from the frame's stack passes it to the slot; a store
 * into the slot passes it to the stored register; a constant ends it),
 * and at each checkpoint on the way the registers and spilled slots still
 * marked are set precise there.  Where the path is not simple to follow
 * (calls and returns between frames, stores through pointers other than
 * r10 while slots are marked), every scalar of every checkpoint above is
 * marked instead: less pruning, never unsound.
 *
 * When the walk prunes at a stored state, whatever that state's walk found
 * precise becomes precise along the current path too (the rest of the walk
 * is the stored state's).
 */
#include "vf.h"

bool vf_hist_push(struct vstate *st, uint32_t pc)
{
	if (st->nhist == st->caphist) {
		uint32_t cap = st->caphist ? st->caphist * 2 : 16;
		uint32_t *h = realloc(st->hist, cap * sizeof(*h));
		if (!h)
			return false;
		st->hist = h;
		st->caphist = cap;
	}
	st->hist[st->nhist++] = pc;
	return true;
}

static void mark_all(struct vstate *st)
{
	for (; st && !st->all_precise; st = st->parent) {
		st->all_precise = true;
		VF_FOR_EACH_REG(st, r, {
			if (r->type == T_SCALAR)
				r->precise = 1;
		});
	}
}

struct marks {
	uint16_t regs;   /* of the frame being followed */
	uint64_t slots;  /* its stack slots (slot k: [-(k+1)*8, -k*8)) */
};

enum { BT_OK, BT_GIVE_UP };

static unsigned insn_size(const struct bpfrt_insn *in)
{
	switch (in->code & 0x18) {
	case 0x18: return 8;
	case 0x00: return 4;
	case 0x08: return 2;
	default: return 1;
	}
}

/* the slot a fixed r10-relative access touches, or -1 */
static int fp_slot(int16_t off)
{
	if (off >= 0 || off < -VF_STACK)
		return -1;
	return (-off - 1) / 8;
}

/* whether the memory access at pc may have been to a stack (any frame's) */
static bool touches_stack(const struct vf_env *e, uint32_t pc)
{
	const struct vf_aux *a = &e->aux[pc];
	return a->ptr_mixed || a->ptr_type == T_STACK || !a->ptr_type;
}

/*
 * A history entry is the instruction's index (20 bits: BPFRT_MAX_INSNS) and,
 * for an access to one stack slot through a pointer other than r10, that
 * slot: bit 31 set, the frame in bits 28-30, the slot in bits 20-25.
 */
#define H_PC(h) ((h) & 0xfffffu)
#define H_STACK (1u << 31)
#define H_FRAME(h) (((h) >> 28) & 7u)
#define H_SLOT(h) (((h) >> 20) & 63u)
#define H_NOSTACK (1u << 26) /* a memory access on this path was not to a stack */

void vf_hist_note_stack(struct vstate *st, uint32_t frameno, uint32_t slot)
{
	if (st->nhist && slot < 64 && frameno < 8)
		st->hist[st->nhist - 1] = H_PC(st->hist[st->nhist - 1]) | H_STACK | frameno << 28 | slot << 20;
}

void vf_hist_note_nostack(struct vstate *st)
{
	if (st->nhist)
		st->hist[st->nhist - 1] |= H_NOSTACK;
}

/* the stack slot (of the frame followed) a history entry accessed, or -1 */
static int hist_slot(uint32_t h, uint32_t frame)
{
	return (h & H_STACK) && H_FRAME(h) == frame ? (int)H_SLOT(h) : -1;
}

/* One instruction backward: what the marked values after it depended on before it. */
static int back_one_(const struct vf_env *e, uint32_t h, uint32_t frame, struct marks *m);

/* r10 is the frame pointer: never a scalar, no mark stays on it */
static int back_one(const struct vf_env *e, uint32_t h, uint32_t frame, struct marks *m)
{
	int rc = back_one_(e, h, frame, m);
	m->regs &= 0x3ffu;
	return rc;
}

static int back_one_(const struct vf_env *e, uint32_t h, uint32_t frame, struct marks *m)
{
	uint32_t pc = H_PC(h);
	const struct bpfrt_insn *in = &e->insns[pc];
	uint8_t op = e->dec[pc].code;
	uint16_t dst = (uint16_t)(1u << in->dst), src = (uint16_t)(1u << in->src);
	if (op == BPFRT_OP_INVALID) { /* LD_ABS/IND: r0 from the packet; r1-r5 clobbered */
		m->regs &= (uint16_t)~0x3fu;
		return BT_OK;
	}
	const struct bpfrt_form *f = &bpfrt_forms[op];
	switch ((enum bpfrt_shape)f->shape) {
	case SHAPE_ALU_K:
		if ((m->regs & dst) && (op == BPFRT_OP_MOV64_K || op == BPFRT_OP_MOV32_K))
			m->regs &= (uint16_t)~dst;
		return BT_OK;
	case SHAPE_ALU_X:
		if (!(m->regs & dst))
			return BT_OK;
		if (op == BPFRT_OP_MOV64_X || op == BPFRT_OP_MOV32_X || op == BPFRT_OP_MOVSX8_64 ||
		    op == BPFRT_OP_MOVSX16_64 || op == BPFRT_OP_MOVSX32_64 || op == BPFRT_OP_MOVSX8_32 ||
		    op == BPFRT_OP_MOVSX16_32)
			m->regs &= (uint16_t)~dst;
		m->regs |= src;
		return BT_OK;
	case SHAPE_NEG: case SHAPE_END: case SHAPE_JA: case SHAPE_JA32: case SHAPE_JCC_K:
		return BT_OK;
	case SHAPE_JCC_X: /* each side's range was refined from the other's */
		if (m->regs & (dst | src))
			m->regs |= dst | src;
		return BT_OK;
	case SHAPE_LDX:
		if (!(m->regs & dst))
			return BT_OK;
		m->regs &= (uint16_t)~dst;
		if (in->src == 10 || hist_slot(h, frame) >= 0) {
			int k = in->src == 10 ? fp_slot(in->off) : hist_slot(h, frame);
			if (k >= 0)
				m->slots |= 1ull << k;
			return BT_OK;
		}
		/* through another pointer: from memory other than the stack (the value
		 * is whatever it held: nothing to follow), or from a stack (untracked) */
		return !(h & H_NOSTACK) && touches_stack(e, pc) ? BT_GIVE_UP : BT_OK;
	case SHAPE_ST: case SHAPE_STX: {
		if (in->dst != 10 && hist_slot(h, frame) < 0)
			return m->slots && !(h & H_NOSTACK) && touches_stack(e, pc) ? BT_GIVE_UP : BT_OK;
		int k = in->dst == 10 ? fp_slot(in->off) : hist_slot(h, frame);
		if (k < 0 || !(m->slots & (1ull << k)))
			return BT_OK;
		if (insn_size(in) == 8)
			m->slots &= ~(1ull << k); /* the whole slot is this value */
		if (f->shape == SHAPE_STX)
			m->regs |= src;
		return BT_OK;
	}
	case SHAPE_ATOMIC: case SHAPE_ATOMIC_FETCH: case SHAPE_ATOMIC_CMPXCHG:
		if (m->slots && !(h & H_NOSTACK) && touches_stack(e, pc))
			return BT_GIVE_UP;
		if (f->shape == SHAPE_ATOMIC_FETCH)
			m->regs &= (uint16_t)~src;
		if (f->shape == SHAPE_ATOMIC_CMPXCHG)
			m->regs &= (uint16_t)~1u;
		return BT_OK;
	case SHAPE_LDDW: case SHAPE_LDDW_PSEUDO:
		m->regs &= (uint16_t)~dst;
		return BT_OK;
	case SHAPE_CALL_HELPER: {
		const struct vhelper *hp = e->plat->helper(e->plat, (uint32_t)in->imm, e->in->prog_type);
		if (hp && (hp->flags & HF_CB_LOOP))
			return BT_GIVE_UP; /* a callback ran (or will): frames change */
		m->regs &= (uint16_t)~0x3fu; /* r0: the helper's result; r1-r5 clobbered */
		return BT_OK;
	}
	case SHAPE_CALL_LOCAL: case SHAPE_CALL_KFUNC: case SHAPE_CALLX: case SHAPE_EXIT:
	case SHAPE_TAIL_CALL: /* (internal: never in what the verifier sees) */
		return BT_GIVE_UP; /* between frames */
	}
	return BT_GIVE_UP;
}

/* Sets the marks in checkpoint st (its current frame).  A register or slot
 * already precise there was followed above by the walk that marked it: it
 * leaves the marks, so each backtrack stops where earlier ones went. */
static void set_in(struct vstate *st, struct marks *m)
{
	struct vframe *f = st->frame[st->curframe];
	for (int r = 0; r < 10; r++) {
		if (!(m->regs & (1u << r)))
			continue;
		struct vreg *g = &f->regs[r];
		/* a pointer needs no precision (a mark reaches one through a
		 * comparison with a scalar): the mark ends there */
		if (g->type != T_SCALAR || g->precise)
			m->regs &= (uint16_t)~(1u << r);
		else
			g->precise = 1;
	}
	for (uint32_t k = 0; k < 64; k++) {
		if (!(m->slots & (1ull << k)))
			continue;
		if (k >= f->nslots) { /* uninitialised there: nothing to follow */
			m->slots &= ~(1ull << k);
			continue;
		}
		struct vslot *sl = &f->slot[k];
		if (sl->type[sl->spill_at] == S_SPILL && sl->spill.type == T_SCALAR) {
			if (sl->spill.precise)
				m->slots &= ~(1ull << k);
			else
				sl->spill.precise = 1;
		} else { /* a spilled pointer, zero or unknown bytes: nothing above matters */
			m->slots &= ~(1ull << k);
		}
	}
}

/* Follows marks m backward from the end of st's history (skipping the last
 * `skip` entries: the instruction doing the check). */
static void backtrack(struct vf_env *e, struct vstate *st, struct marks m, uint32_t skip)
{
	struct vstate *cp = st;
	uint32_t frame = st->curframe;
	for (;;) {
		uint32_t n = cp->nhist > skip ? cp->nhist - skip : 0;
		skip = 0;
		for (uint32_t i = n; i-- > 0 && (m.regs || m.slots);)
			if (back_one(e, cp->hist[i], frame, &m) == BT_GIVE_UP) {
				mark_all(cp->parent);
				return;
			}
		if (!(m.regs || m.slots))
			return;
		cp = cp->parent;
		if (!cp)
			return; /* the entry: r1 ctx, r10 fp, nothing else set */
		if (cp->curframe != frame) {
			mark_all(cp);
			return;
		}
		if (cp->all_precise)
			return;
		set_in(cp, &m);
		if (!(m.regs || m.slots))
			return;
	}
}

void vf_mark_precise(struct vf_env *e, int regno)
{
	struct vreg *r = vf_reg(e, regno);
	if (r->type != T_SCALAR || regno >= 10)
		return;
	struct marks m = { (uint16_t)(1u << regno), 0 };
	/* linked copies (same id) were refined together */
	if (r->id) {
		struct vframe *f = vf_curframe(e);
		for (int i = 0; i < 10; i++)
			if (f->regs[i].type == T_SCALAR && f->regs[i].id == r->id)
				m.regs |= (uint16_t)(1u << i);
	}
	backtrack(e, e->cur, m, 1);
}

void vf_mark_precise_slot(struct vf_env *e, uint32_t frameno, uint32_t k)
{
	if (frameno != e->cur->curframe || k >= 64) { /* a caller's slot: not followed */
		mark_all(e->cur);
		return;
	}
	struct vframe *f = e->cur->frame[frameno];
	if (k < f->nslots && f->slot[k].spill.type == T_SCALAR)
		f->slot[k].spill.precise = 1;
	backtrack(e, e->cur, (struct marks){ 0, 1ull << k }, 1);
}

void vf_propagate_precision(struct vf_env *e, const struct vstate *old)
{
	if (old->all_precise || old->curframe != e->cur->curframe) {
		mark_all(e->cur->parent);
		return;
	}
	/* callers' frames: their precise values must stay so too */
	for (uint32_t i = 0; i < old->curframe; i++) {
		const struct vframe *f = old->frame[i];
		for (int r = 0; r < 10; r++)
			if (f->regs[r].type == T_SCALAR && f->regs[r].precise) {
				mark_all(e->cur->parent);
				return;
			}
	}
	const struct vframe *f = old->frame[old->curframe];
	struct marks m = { 0, 0 };
	for (int r = 0; r < 10; r++)
		if (f->regs[r].type == T_SCALAR && f->regs[r].precise)
			m.regs |= (uint16_t)(1u << r);
	for (uint32_t k = 0; k < f->nslots && k < 64; k++)
		if (f->slot[k].type[f->slot[k].spill_at] == S_SPILL && f->slot[k].spill.type == T_SCALAR &&
		    f->slot[k].spill.precise)
			m.slots |= 1ull << k;
	if (!m.regs && !m.slots)
		return;
	backtrack(e, e->cur, m, 0);
}
