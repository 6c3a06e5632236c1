/*
 * verify.c — the verifier's driver.
 *
 * Theory.  A program is safe if no execution can read uninitialised
 * registers or stack, touch memory outside what it was given, leak a
 * pointer where it may not, run forever, or exit holding a reference.  The
 * verifier decides this by abstract interpretation, as the kernel's does:
 * it walks every path from the entry, instruction by instruction, keeping
 * an abstract state — for each register its type (scalar, pointer to ctx,
 * stack, map value, packet, ...), the fixed and variable parts of a
 * pointer's offset, a scalar's possible values (tnum and bounds, range.c);
 * for each stack byte whether it holds data, zero or part of a spilled
 * register (mem.c); the call frames; the references held (call.c).  Each
 * instruction is checked against the state and transforms it.  A
 * conditional jump whose outcome the state does not decide splits the walk:
 * one side is pushed (with its operands refined by the condition) and
 * walked later.  Loops need no special rule: the walk follows each
 * iteration with its own state, so a bounded loop ends and an unbounded one
 * either returns to a state it is still inside (refused: an infinite loop)
 * or exhausts the 1M-instruction budget.
 *
 * Pruning keeps this tractable: at prune points (jump targets, cfg.c) the
 * state is stored once the walk below it is complete; a later arrival
 * whose state the stored one subsumes (state.c) is already proven safe.
 * Stored states count their unfinished paths (`branches`); only finished
 * ones prune, and an unfinished one equal to the current state is a loop.
 *
 * The walk records per-instruction facts (struct vf_aux) for the rewrite
 * passes and the JIT, and each subprogram's stack depth; after it, the call
 * graph is checked for stack use and the tail-call rule (cfg.c).
 */
#include "vf.h"
#include "obj.h"

#include <linux/bpf.h>
#include <time.h>

/* ------------------------------------------------------------- platforms */

/*
 * Which program types may call a helper: the kernel gives each type its own
 * set (its *_func_proto).  Described here are the families whose misuse a
 * real object shows: the helpers that change a socket buffer (tc, lwt
 * xmit and sk_skb programs only; socket filters and cgroup programs read
 * packets, they do not rewrite them) and the XDP buffer's own.  Every other
 * helper is allowed to every type.
 */
static bool linux_helper_allowed(uint32_t id, uint32_t type)
{
	bool tc = type == BPF_PROG_TYPE_SCHED_CLS || type == BPF_PROG_TYPE_SCHED_ACT;
	switch (id) {
	case BPF_FUNC_skb_store_bytes: case BPF_FUNC_skb_pull_data: case BPF_FUNC_skb_change_tail:
	case BPF_FUNC_skb_change_head: case BPF_FUNC_skb_adjust_room:
		return tc || type == BPF_PROG_TYPE_SK_SKB || type == BPF_PROG_TYPE_LWT_XMIT;
	case BPF_FUNC_l3_csum_replace: case BPF_FUNC_l4_csum_replace: case BPF_FUNC_clone_redirect:
	case BPF_FUNC_skb_vlan_push: case BPF_FUNC_skb_vlan_pop: case BPF_FUNC_skb_change_proto:
	case BPF_FUNC_skb_change_type: case BPF_FUNC_csum_update: case BPF_FUNC_set_hash_invalid:
	case BPF_FUNC_set_hash:
		return tc || type == BPF_PROG_TYPE_LWT_XMIT;
	case BPF_FUNC_xdp_adjust_head: case BPF_FUNC_xdp_adjust_meta: case BPF_FUNC_xdp_adjust_tail:
		return type == BPF_PROG_TYPE_XDP;
	default:
		return true;
	}
}

static const struct vhelper *linux_helper(const struct vplatform *p, uint32_t id, uint32_t type)
{
	(void)p;
	return linux_helper_allowed(id, type) ? vf_linux_helper(id) : NULL;
}

static const struct vprogtype *linux_progtype(const struct vplatform *p, uint32_t type)
{
	(void)p;
	return vf_linux_progtype(type);
}

/* bpfrt: registered helpers only; the defaults (named as Linux's) keep
 * their Linux prototypes, an embedder's get the generic one */
static const struct vhelper generic_int = { "helper", R_INT, { A_ANY, A_ANY, A_ANY, A_ANY, A_ANY }, 0, 0, 0 };
static __thread struct vhelper generic_mem;

static __thread struct vhelper declared;

static const struct vhelper *bpfrt_helper(const struct vplatform *p, uint32_t id, uint32_t type)
{
	(void)type;
	const struct bpfrt_helper_slot *s = p->helpers ? bpfrt_helper_get(p->helpers, id) : NULL;
	if (!s)
		return NULL;
	if (s->has_proto) { /* the embedder's prototype (bpfrt_vm_register_helper_proto) */
		static const uint8_t arg_kind[] = {
			[BPFRT_ARG_NONE] = A_NONE, [BPFRT_ARG_ANY] = A_ANY, [BPFRT_ARG_MEM] = A_MEM,
			[BPFRT_ARG_MEM_OR_NULL] = A_MEM_NULL, [BPFRT_ARG_MEM_WRITE] = A_UNINIT_MEM,
			[BPFRT_ARG_SIZE] = A_SIZE, [BPFRT_ARG_SIZE_OR_ZERO] = A_SIZE0, [BPFRT_ARG_CTX] = A_CTX,
			[BPFRT_ARG_MAP] = A_MAP, [BPFRT_ARG_MAP_KEY] = A_KEY, [BPFRT_ARG_MAP_VALUE] = A_VALUE,
			[BPFRT_ARG_CONST_STR] = A_CONST_STR,
		};
		declared = (struct vhelper){ s->name ? s->name : "helper", R_INT, { 0 }, 0, 0, 0 };
		declared.ret = s->proto_ret == BPFRT_RET_VOID ? R_VOID : s->proto_ret == BPFRT_RET_MEM_OR_NULL ? R_MEM_NULL : R_INT;
		declared.ret_size = s->ret_mem_size;
		for (int i = 0; i < 5; i++)
			declared.args[i] = s->proto_args[i] < sizeof(arg_kind) ? arg_kind[s->proto_args[i]] : A_ANY;
		return &declared;
	}
	const struct vhelper *lh = vf_linux_helper(id);
	if (lh && s->name && !strncmp(s->name, "bpf_", 4) && !strcmp(s->name + 4, lh->name))
		return lh;
	if (s->ret_mem_size) {
		generic_mem = generic_int;
		generic_mem.ret = R_MEM_NULL;
		generic_mem.ret_size = s->ret_mem_size;
		return &generic_mem;
	}
	return &generic_int;
}

/* ---------------------------------------------------------- the pending */

int vf_push_branch(struct vf_env *e, uint32_t insn, uint32_t prev, struct vstate **out)
{
	if (e->npend == e->cappend) {
		size_t cap = e->cappend ? e->cappend * 2 : 64;
		struct vpending *p = realloc(e->pend, cap * sizeof(*p));
		if (!p)
			return vf_nomem(e);
		e->pend = p;
		e->cappend = cap;
	}
	if (e->npend > 8192)
		return vf_reject(e, "the program has too many branches to explore (over %zu pending)", e->npend);
	struct vstate *st = vstate_copy(e->cur);
	if (!st)
		return vf_nomem(e);
	if (st->parent)
		st->parent->branches++;
	e->pend[e->npend++] = (struct vpending){ st, insn, prev };
	if (out)
		*out = st;
	return BPFRT_OK;
}

static size_t loop_bucket(const struct vf_env *e, uint32_t pc, uint64_t h)
{
	return (size_t)((h ^ (uint64_t)pc * 0x9e3779b97f4a7c15ull) % e->loop_nb);
}

/* A checkpoint's walk below is complete: from the loop structures to the
 * prune list. */
static void checkpoint_done(struct vf_env *e, struct vstate *st)
{
	struct vexplored *x = st->node;
	if (!x)
		return;
	*x->pprev = x->next;
	if (x->next)
		x->next->pprev = x->pprev;
	for (struct vexplored **pp = &e->loop_tab[loop_bucket(e, st->insn, st->hash)]; *pp; pp = &(*pp)->hnext)
		if (*pp == x) {
			*pp = x->hnext;
			break;
		}
	x->pprev = NULL;
	x->hnext = NULL;
	x->next = e->explored[st->insn];
	e->explored[st->insn] = x;
}

/* A path ended (exit or pruned): the checkpoints above it have one fewer. */
static void path_done(struct vf_env *e, struct vstate *st)
{
	for (struct vstate *p = st->parent; p; p = p->parent) {
		if (--p->branches)
			break;
		checkpoint_done(e, p);
	}
}

/* ------------------------------------------------------------- pruning */

static bool states_equal(struct vf_env *e, struct vstate *a, struct vstate *b)
{
	return vstate_subsumes(e, a, b, true) && vstate_subsumes(e, b, a, true);
}

/* splitmix64's finaliser: every input bit reaches every output bit */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* What equal states (mutual subsumption) share: the live registers of the
 * top frame, without ids.  A cheap filter before the comparison. */
static uint64_t state_hash(const struct vf_env *e, const struct vstate *st, uint32_t pc)
{
	const struct vframe *f = st->frame[st->curframe];
	uint64_t h = 0xcbf29ce484222325ull ^ st->curframe;
	for (int r = 0; r < 10; r++) {
		if (!(e->live[pc] & (1u << r)))
			continue;
		const struct vreg *g = &f->regs[r];
		uint64_t parts[4] = { g->type | (uint64_t)g->flags << 8 | (uint64_t)(uint32_t)g->off << 32, g->umin,
				      g->umax, (uint64_t)g->smin };
		for (int k = 0; k < 4; k++)
			h = mix64(h ^ mix64(parts[k]));
	}
	return h;
}

/* 1: cur is pruned; 0: go on (a checkpoint may have been stored); <0: refused */
static int visit(struct vf_env *e, uint32_t pc)
{
	struct vstate *cur = e->cur;
	cur->insn = pc;
	uint64_t h = state_hash(e, cur, pc);
	bool in_loop = e->progress[pc] != NULL;
	if (e->flags[pc] & VI_CALLBACK_CALL) {
		for (struct vexplored *x = e->progress[pc]; x; x = x->next)
			if (vstate_subsumes(e, x->st, cur, true))
				return 1; /* a callback loop converged */
		if (e->progress[pc])
			vstate_widen(e->progress[pc]->st, cur);
	} else if (in_loop) {
		for (struct vexplored *x = e->loop_tab[loop_bucket(e, pc, h)]; x; x = x->hnext)
			if (x->st->insn == pc && x->st->hash == h && states_equal(e, x->st, cur))
				return vf_reject(e, "infinite loop detected at insn %u", pc);
	}
	for (struct vexplored **pp = &e->explored[pc], *x; (x = *pp);) {
		if (vstate_subsumes(e, x->st, cur, false)) {
			x->hits++;
			e->pruned++;
			/* what the old state's walk read and needed precise, cur's ancestors need too */
			vf_propagate_liveness(e, x->st);
			vf_propagate_precision(e, x->st);
			return 1;
		}
		x->miss++;
		if (x->miss > x->hits * 3 + 32) { /* rarely useful: drop it */
			*pp = x->next;
			vstate_free(x->st);
			free(x);
			e->states--;
			continue;
		}
		pp = &x->next;
	}
	/* a new checkpoint only every few jumps and instructions along a path (as
	 * the kernel), fewer inside loops: short loops would otherwise store one
	 * per iteration */
	uint64_t want_j = in_loop ? 20 : 2, want_i = in_loop ? 100 : 8;
	if (!(e->flags[pc] & VI_CALLBACK_CALL) && e->jmps - cur->last_cp_jmps < want_j &&
	    e->processed - cur->last_cp_insns < want_i)
		return 0;
	cur->last_cp_jmps = e->jmps;
	cur->last_cp_insns = e->processed;
	struct vexplored *x = calloc(1, sizeof(*x));
	struct vstate *cp = x ? vstate_copy(cur) : NULL;
	if (!cp) {
		free(x);
		return vf_nomem(e);
	}
	vf_new_segment(cur, cp);
	free(cp->hist); /* the path from the parent to here moves to the checkpoint */
	cp->hist = cur->hist;
	cp->nhist = cur->nhist;
	cp->caphist = cur->caphist;
	cur->hist = NULL;
	cur->nhist = cur->caphist = 0;
	cp->insn = pc;
	cp->hash = h;
	cp->branches = 1;
	cp->parent = cur->parent;
	cp->node = x;
	cur->parent = cp;
	x->st = cp;
	x->next = e->progress[pc];
	if (x->next)
		x->next->pprev = &x->next;
	x->pprev = &e->progress[pc];
	e->progress[pc] = x;
	size_t b = loop_bucket(e, pc, h);
	x->hnext = e->loop_tab[b];
	e->loop_tab[b] = x;
	if (++e->states > e->peak_states)
		e->peak_states = e->states;
	return 0;
}

/* -------------------------------------------------------- instructions */

static int read_reg(struct vf_env *e, int regno, struct vreg **out)
{
	struct vreg *r = vf_reg(e, regno);
	if (r->type == T_NOT_INIT)
		return vf_reject(e, "%s !read_ok: the register is read before it is set", vf_regname(regno));
	*out = r;
	return BPFRT_OK;
}

/* copies of a refined scalar (same id) get its refinement */
static void sync_ids(struct vf_env *e, const struct vreg *src)
{
	if (src->type != T_SCALAR || !src->id)
		return;
	struct vreg copy = *src;
	VF_FOR_EACH_REG(e->cur, r, {
		if (r != src && r->type == T_SCALAR && r->id == copy.id)
			*r = copy;
	});
}

static bool ptr_math_ok(uint8_t t)
{
	return t == T_STACK || t == T_MAP_VALUE || t == T_MAP_KEY || t == T_PACKET || t == T_PACKET_META ||
	       t == T_MEM || t == T_CTX || t == T_BTF_ID;
}

static int ptr_alu(struct vf_env *e, const struct bpfrt_insn *in, struct vreg *d, const struct vreg *s,
		   unsigned op, bool is64)
{
	bool dp = vreg_is_ptr(d), sp = vreg_is_ptr(s);
	if (!is64) {
		/* a privileged Linux program may subtract (a meaningless number) */
		if (op == 0x10 && e->in->platform == VF_PLATFORM_LINUX) {
			vreg_unknown(d);
			vreg_zext32(d);
			return BPFRT_OK;
		}
		return vf_reject(e, "%s 32-bit pointer arithmetic prohibited", vf_regname(in->dst));
	}
	if (op != 0x00 && op != 0x10)
		return vf_reject(e, "%s pointer arithmetic with %s operator prohibited", vf_regname(in->dst),
				 bpfrt_forms[e->dec[e->insn].code].mnem);
	if (dp && sp) {
		/* the distance between two pointers is a number (the kernel allows it to
		 * privileged programs); nothing else mixes pointers */
		if (op != 0x10)
			return vf_reject(e, "%s pointer %s pointer prohibited", vf_regname(in->dst),
					 op == 0x10 ? "-=" : "+=");
		vreg_unknown(d);
		return BPFRT_OK;
	}
	if (!dp && op == 0x10)
		return vf_reject(e, "%s tried to subtract pointer from scalar", vf_regname(in->dst));
	/* the scalar becomes part of the pointer: its value matters */
	if (BPF_SRC(in->code) == BPF_X)
		vf_mark_precise(e, dp ? in->src : in->dst);
	struct vreg ptr = dp ? *d : *s, off = dp ? *s : *d;
	if (ptr.type == T_STACK && op == 0x10) /* the kernel's rule: stack offsets only grow by adding */
		return vf_reject(e, "%s subtraction from stack pointer prohibited", vf_regname(in->dst));
	if (ptr.flags & VF_NULL)
		return vf_reject(e, "%s pointer arithmetic on %s prohibited, null-check it first",
				 vf_regname(in->dst), vtype_name(ptr.type, ptr.flags));
	if (!ptr_math_ok(ptr.type)) {
		if (!(ptr.type == T_MAP_PTR && vreg_is_const(&off) && !off.var.value))
			return vf_reject(e, "%s pointer arithmetic on %s prohibited", vf_regname(in->dst),
					 vtype_name(ptr.type, ptr.flags));
		*d = ptr;
		return BPFRT_OK;
	}
	if (vreg_is_const(&off)) {
		int64_t v = (int64_t)off.var.value;
		if (op == 0x10)
			v = -v;
		int64_t no = (int64_t)ptr.off + v;
		if (v >= VF_BIG || v <= -VF_BIG || no >= VF_BIG || no <= -VF_BIG)
			return vf_reject(e, "math between %s pointer and %" PRId64 " is not allowed",
					 vtype_name(ptr.type, 0), (int64_t)off.var.value);
		ptr.off = (int32_t)no;
		*d = ptr;
		return BPFRT_OK;
	}
	if (off.smin == INT64_MIN)
		return vf_reject(e, "math between %s pointer and register with unbounded min value is not allowed",
				 vtype_name(ptr.type, 0));
	if (off.smin >= VF_BIG || off.smin <= -VF_BIG)
		return vf_reject(e, "value %" PRId64 " makes %s pointer be out of bounds", off.smin,
				 vtype_name(ptr.type, 0));
	struct vreg var = ptr;
	var.type = T_SCALAR;
	vrange_alu(&var, &off, op, true);
	ptr.var = var.var;
	ptr.smin = var.smin;
	ptr.smax = var.smax;
	ptr.umin = var.umin;
	ptr.umax = var.umax;
	ptr.s32min = var.s32min;
	ptr.s32max = var.s32max;
	ptr.u32min = var.u32min;
	ptr.u32max = var.u32max;
	if (vreg_is_pkt(&ptr)) { /* a new variable part: its range is unproven */
		ptr.id = ++e->next_id;
		ptr.range = 0;
	}
	*d = ptr;
	return BPFRT_OK;
}

static int do_alu(struct vf_env *e, const struct bpfrt_insn *in, enum bpfrt_op op)
{
	const struct bpfrt_form *f = &bpfrt_forms[op];
	bool is64 = BPF_CLASS(in->code) == BPF_ALU64;
	bool is_k = f->shape == SHAPE_ALU_K;
	unsigned aop = in->code & 0xf0;
	struct vreg *d = vf_reg(e, in->dst), *s = NULL, imm;
	int rc;
	if (f->shape == SHAPE_ALU_X && (rc = read_reg(e, in->src, &s)))
		return rc;
	if (is_k) {
		vreg_const(&imm, is64 ? (uint64_t)(int64_t)in->imm : (uint32_t)in->imm);
		s = &imm;
	}
	if (aop == 0xb0) { /* mov, movsx */
		if (is_k) {
			*d = imm;
			return BPFRT_OK;
		}
		if (in->off) { /* movsx */
			if (s->type != T_SCALAR)
				return vf_reject(e, "%s sign-extension of a pointer", vf_regname(in->src));
			struct vreg v = *s;
			v.id = 0;
			vreg_sext(&v, (unsigned)in->off / 8);
			if (!is64)
				vreg_zext32(&v);
			*d = v;
			return BPFRT_OK;
		}
		if (!is64) {
			if (s->type != T_SCALAR) {
				vreg_unknown(d);
				vreg_zext32(d);
				return BPFRT_OK;
			}
			struct vreg v = *s;
			v.id = 0;
			vreg_zext32(&v);
			*d = v;
			return BPFRT_OK;
		}
		if (s->type == T_SCALAR && !s->id && !tnum_is_const(s->var))
			s->id = ++e->next_id;
		*d = *s;
		return BPFRT_OK;
	}
	if (d->type == T_NOT_INIT)
		return vf_reject(e, "%s !read_ok: the register is read before it is set", vf_regname(in->dst));
	if (f->shape == SHAPE_NEG || f->shape == SHAPE_END) {
		if (d->type != T_SCALAR)
			return vf_reject(e, "%s pointer arithmetic prohibited (%s)", vf_regname(in->dst), f->mnem);
		if (f->shape == SHAPE_NEG) {
			vrange_alu(d, d, 0x80, is64);
			return BPFRT_OK;
		}
		unsigned bits = (unsigned)in->imm;
		bool swap = op != BPFRT_OP_LE16 && op != BPFRT_OP_LE32 && op != BPFRT_OP_LE64;
		d->id = 0;
		if (tnum_is_const(d->var)) {
			uint64_t v = d->var.value;
			if (swap)
				v = bits == 16 ? __builtin_bswap16((uint16_t)v) : bits == 32 ? __builtin_bswap32((uint32_t)v)
										 : __builtin_bswap64(v);
			else
				v = bits == 64 ? v : v & ((1ull << bits) - 1);
			vreg_bounds_const(d, v);
		} else if (swap) {
			vreg_bounds_unknown(d);
			vreg_cast(d, bits / 8);
		} else {
			vreg_cast(d, bits / 8);
		}
		return BPFRT_OK;
	}
	if (is_k) {
		if ((aop == 0x60 || aop == 0x70 || aop == 0xc0) && (in->imm < 0 || in->imm >= (is64 ? 64 : 32)))
			return vf_reject(e, "invalid shift %d", in->imm);
		if ((aop == 0x30 || aop == 0x90) && in->imm == 0)
			return vf_reject(e, "div by zero");
	}
	if (vreg_is_ptr(d) || vreg_is_ptr(s))
		return ptr_alu(e, in, d, s, aop, is64);
	vrange_alu(d, s, aop | (in->off == 1 && (aop == 0x30 || aop == 0x90) ? 0x100 : 0), is64);
	return BPFRT_OK;
}

/* packet range after `p <= end` (le) or `p < end` holds on a branch */
static void pkt_range(struct vstate *st, const struct vreg *p)
{
	if (p->off <= 0)
		return;
	int32_t range = p->off;
	uint32_t id = p->id;
	uint8_t type = p->type;
	VF_FOR_EACH_REG(st, r, {
		if (r->type == type && r->id == id && r->range < range)
			r->range = range;
	});
}

/* Packet comparisons: on which side (taken or not) is p <= end known. */
static int pkt_compare(const struct vreg *a, const struct vreg *b, uint8_t jop, int *side,
		       const struct vreg **p)
{
	bool a_pkt = vreg_is_pkt(a) && (b->type == T_PACKET_END || (a->type == T_PACKET_META && b->type == T_PACKET));
	bool b_pkt = vreg_is_pkt(b) && (a->type == T_PACKET_END || (b->type == T_PACKET_META && a->type == T_PACKET));
	if (!a_pkt && !b_pkt)
		return 0;
	*p = a_pkt ? a : b;
	switch (jop) { /* 1: the taken side knows p is in bounds; 0: the fall-through */
	case 0x20: *side = a_pkt ? 0 : 1; break; /* a > b */
	case 0x30: *side = a_pkt ? 0 : 1; break; /* a >= b */
	case 0xa0: *side = a_pkt ? 1 : 0; break; /* a < b */
	case 0xb0: *side = a_pkt ? 1 : 0; break; /* a <= b */
	default: return 0;
	}
	return 1;
}

/* Pointers whose comparison with 0 decides the branch: the kernel's
 * reg_not_null (ctx, stack and packet pointers are not on its list: both
 * sides are walked, as the kernel walks them) */
static bool known_non_null(uint8_t t)
{
	return t == T_MAP_VALUE || t == T_MAP_KEY || t == T_MEM || t == T_SOCKET || t == T_SOCK_COMMON ||
	       t == T_TCP_SOCK || t == T_BTF_ID;
}

/* A branch the compared values decided (one side not walked): they must be precise */
static void mark_compared(struct vf_env *e, const struct bpfrt_insn *in, const struct bpfrt_form *f)
{
	vf_mark_precise(e, in->dst);
	if (f->shape == SHAPE_JCC_X)
		vf_mark_precise(e, in->src);
}

static int do_jcc(struct vf_env *e, const struct bpfrt_insn *in, enum bpfrt_op op, uint32_t pc)
{
	const struct bpfrt_form *f = &bpfrt_forms[op];
	bool is64 = BPF_CLASS(in->code) == BPF_JMP;
	uint8_t jop = in->code & 0xf0;
	uint32_t target = (uint32_t)((int64_t)pc + 1 + in->off);
	struct vreg *a = NULL, *b = NULL, imm;
	int rc;
	if ((rc = read_reg(e, in->dst, &a)))
		return rc;
	if (f->shape == SHAPE_JCC_X) {
		if ((rc = read_reg(e, in->src, &b)))
			return rc;
	} else {
		vreg_const(&imm, is64 ? (uint64_t)(int64_t)in->imm : (uint32_t)in->imm);
		b = &imm;
	}
	int taken = -1;
	if (a->type == T_SCALAR && b->type == T_SCALAR) {
		taken = vrange_branch(a, b, jop, is64);
		/* a register against itself: decided whatever its value (but jset) */
		if (taken < 0 && f->shape == SHAPE_JCC_X && in->dst == in->src && jop != 0x40)
			taken = jop == 0x10 || jop == 0x30 || jop == 0x70 || jop == 0xb0 || jop == 0xd0;
		if (taken >= 0) { /* the other side is not walked: these values decided it */
			mark_compared(e, in, f);
			e->insn = taken ? target : pc + 1;
			return BPFRT_OK;
		}
		struct vstate *other;
		if ((rc = vf_push_branch(e, target, pc, &other)))
			return rc;
		struct vframe *of = other->frame[other->curframe];
		struct vreg *oa = &of->regs[in->dst], ob_imm = imm;
		struct vreg *ob = f->shape == SHAPE_JCC_X ? &of->regs[in->src] : &ob_imm;
		bool ok_t = vrange_refine(oa, ob, jop, is64, true);
		bool ok_f = vrange_refine(a, b, jop, is64, false);
		/* a side is impossible: decided by these values (marking reads only type and id) */
		if (!ok_t || !ok_f)
			mark_compared(e, in, f);
		if (ok_t) {
			struct vstate *save = e->cur;
			e->cur = other;
			sync_ids(e, oa);
			if (f->shape == SHAPE_JCC_X)
				sync_ids(e, ob);
			e->cur = save;
		} else { /* the taken side cannot happen: drop it */
			path_done(e, other);
			vstate_free(other);
			e->npend--;
		}
		if (!ok_f) {
			/* the fall-through cannot happen: this path ends */
			return 1;
		}
		sync_ids(e, a);
		if (f->shape == SHAPE_JCC_X)
			sync_ids(e, b);
		e->insn = pc + 1;
		return BPFRT_OK;
	}
	/* pointers */
	bool a_null = vreg_is_ptr(a) && (a->flags & VF_NULL), b_zero = b->type == T_SCALAR && vreg_is_const(b) && !b->var.value;
	if ((jop == 0x10 || jop == 0x50) && vreg_is_ptr(a) && b_zero && is64 && (a_null || known_non_null(a->type))) {
		if (!a_null) { /* a non-NULL pointer is never 0 */
			e->insn = jop == 0x10 ? pc + 1 : target;
			return BPFRT_OK;
		}
		struct vstate *other;
		if ((rc = vf_push_branch(e, target, pc, &other)))
			return rc;
		uint32_t id = a->id;
		struct vstate *save = e->cur;
		e->cur = other;
		vf_mark_null_checked(e, id, jop == 0x10); /* taken: == 0 for jeq */
		e->cur = save;
		vf_mark_null_checked(e, id, jop != 0x10);
		e->insn = pc + 1;
		return BPFRT_OK;
	}
	int side;
	const struct vreg *p;
	if (is64 && pkt_compare(a, b, jop, &side, &p)) {
		struct vreg pc_copy = *p;
		struct vstate *other;
		if ((rc = vf_push_branch(e, target, pc, &other)))
			return rc;
		pkt_range(side ? other : e->cur, &pc_copy);
		e->insn = pc + 1;
		return BPFRT_OK;
	}
	/* anything else: both sides, nothing learnt */
	if ((rc = vf_push_branch(e, target, pc, NULL)))
		return rc;
	e->insn = pc + 1;
	return BPFRT_OK;
}

static int do_ldabs(struct vf_env *e, const struct bpfrt_insn *in)
{
	if (!e->pt->ld_abs)
		return vf_reject(e, "BPF_LD_[ABS|IND] instructions not allowed for this program type (%s)", e->pt->name);
	struct vreg *r6 = vf_reg(e, 6);
	if (r6->type != T_CTX || r6->off || !tnum_is_const(r6->var) || r6->var.value)
		return vf_reject(e, "at the time of BPF_LD_ABS|IND R6 != pointer to skb");
	if (e->cur->nrefs)
		return vf_reject(e, "BPF_LD_[ABS|IND] cannot be mixed with socket references");
	if (e->cur->active_lock)
		return vf_reject(e, "BPF_LD_[ABS|IND] cannot be used inside bpf_spin_lock-ed region");
	if (BPF_MODE(in->code) == BPF_MODE_IND) {
		struct vreg *s = NULL;
		int rc = read_reg(e, in->src, &s);
		if (rc)
			return rc;
		if (s->type != T_SCALAR)
			return vf_reject(e, "%s: the offset of BPF_LD_IND must be a scalar", vf_regname(in->src));
	}
	struct vframe *f = vf_curframe(e);
	vf_clobber_caller_saved(f);
	unsigned size = (in->code & 0x18) == 0x10 ? 1 : (in->code & 0x18) == 0x08 ? 2 : 4;
	vreg_unknown(&f->regs[0]);
	vreg_cast(&f->regs[0], size);
	e->insn++;
	return BPFRT_OK;
}

static int do_lddw(struct vf_env *e, const struct bpfrt_insn *in, enum bpfrt_op op, uint32_t pc)
{
	struct vreg *d = vf_reg(e, in->dst);
	uint64_t imm64 = (uint32_t)in->imm | (uint64_t)(uint32_t)e->insns[pc + 1].imm << 32;
	memset(d, 0, sizeof(*d));
	vreg_bounds_const(d, 0);
	switch (op) {
	case BPFRT_OP_LDDW:
		vreg_const(d, imm64);
		break;
	case BPFRT_OP_LDDW_MAP_FD: case BPFRT_OP_LDDW_MAP_IDX:
	case BPFRT_OP_LDDW_MAP_VALUE: case BPFRT_OP_LDDW_MAP_IDX_VALUE: {
		uint32_t mi = (uint32_t)in->imm;
		if (mi >= e->in->nmaps)
			return vf_reject(e, "fd %d is not pointing to valid bpf_map", in->imm);
		const struct vf_map *m = &e->in->maps[mi];
		d->aux = mi;
		if (op == BPFRT_OP_LDDW_MAP_FD || op == BPFRT_OP_LDDW_MAP_IDX) {
			if (e->insns[pc + 1].imm) /* only a map value reference has an offset there */
				return vf_reject(e, "unrecognized bpf_ld_imm64 insn: a map reference with %d in its "
						 "second half", e->insns[pc + 1].imm);
			d->type = T_MAP_PTR;
			break;
		}
		uint32_t off = (uint32_t)e->insns[pc + 1].imm;
		if (m->type != BPF_MAP_TYPE_ARRAY || off >= m->value_size)
			return vf_reject(e, "direct value access on map %s at off %u is not allowed", m->name, off);
		d->type = T_MAP_VALUE;
		d->off = (int32_t)off;
		d->flags = m->rdonly ? VF_RDONLY : 0;
		break;
	}
	case BPFRT_OP_LDDW_FUNC: {
		uint32_t t = (uint32_t)((int64_t)pc + 1 + in->imm);
		d->type = T_FUNC;
		d->aux = e->subprog_of[t];
		break;
	}
	case BPFRT_OP_LDDW_BTF_ID:
		if (e->in->platform != VF_PLATFORM_LINUX)
			return vf_reject(e, "kernel variables (ld_btf_id) do not exist here");
		d->type = T_BTF_ID;
		break;
	default:
		return vf_bug(e, "lddw form %d", op);
	}
	e->insn = pc + 2;
	return BPFRT_OK;
}

/* One instruction: 0 go on at e->insn; 1 this path is done; <0 refused. */
static int step(struct vf_env *e)
{
	uint32_t pc = e->insn;
	const struct bpfrt_insn *in = &e->insns[pc];
	enum bpfrt_op op = (enum bpfrt_op)e->dec[pc].code;
	if (op != BPFRT_OP_INVALID && bpfrt_insn_writes_r10(in, op)) /* (dead ones pass, as in the kernel) */
		return vf_reject(e, "frame pointer is read only: %s writes r10", bpfrt_forms[op].mnem);
	if (op == BPFRT_OP_INVALID)
		return do_ldabs(e, in);
	const struct bpfrt_form *f = &bpfrt_forms[op];
	int rc;
	struct vreg *s = NULL, val;
	switch ((enum bpfrt_shape)f->shape) {
	case SHAPE_ALU_K: case SHAPE_ALU_X: case SHAPE_NEG: case SHAPE_END:
		rc = do_alu(e, in, op);
		e->insn = pc + 1;
		return rc;
	case SHAPE_JA:
		e->insn = (uint32_t)((int64_t)pc + 1 + in->off);
		return BPFRT_OK;
	case SHAPE_JA32:
		e->insn = (uint32_t)((int64_t)pc + 1 + in->imm);
		return BPFRT_OK;
	case SHAPE_JCC_K: case SHAPE_JCC_X:
		e->jmps++;
		return do_jcc(e, in, op, pc);
	case SHAPE_CALL_HELPER:
		rc = vf_helper_call(e, in);
		if (rc == 1)
			return BPFRT_OK; /* into a callback */
		e->insn = pc + 1;
		return rc;
	case SHAPE_CALL_LOCAL: {
		uint32_t t = (uint32_t)((int64_t)pc + 1 + in->imm);
		if ((rc = vf_local_call(e, t, pc)))
			return rc;
		e->insn = t;
		return BPFRT_OK;
	}
	case SHAPE_CALL_KFUNC:
		/* the Linux platform describes helpers, not the kernel's kfuncs */
		return vf_reject(e, "kfunc calls cannot be verified here: no prototype for BTF id %d", in->imm);
	case SHAPE_CALLX:
		return vf_reject(e, "callx (a call through %s) cannot be verified", vf_regname(in->dst));
	case SHAPE_TAIL_CALL: /* internal: validation refuses it in programs */
		return vf_bug(e, "an internal tail call in a program to verify");
	case SHAPE_EXIT: {
		bool done;
		rc = vf_return(e, &done);
		if (rc < 0)
			return rc;
		return done ? 1 : BPFRT_OK;
	}
	case SHAPE_LDX: {
		bool sext = op == BPFRT_OP_LDXSW || op == BPFRT_OP_LDXSH || op == BPFRT_OP_LDXSB;
		unsigned size = (in->code & 0x18) == 0x18 ? 8 : (in->code & 0x18) == 0x00 ? 4 :
				(in->code & 0x18) == 0x08 ? 2 : 1;
		if ((rc = read_reg(e, in->src, &s)))
			return rc;
		memset(&val, 0, sizeof(val));
		if ((rc = vf_check_mem(e, in->src, in->off, size, false, &val, sext, false)))
			return rc;
		*vf_reg(e, in->dst) = val;
		e->insn = pc + 1;
		return BPFRT_OK;
	}
	case SHAPE_ST: case SHAPE_STX: {
		unsigned size = (in->code & 0x18) == 0x18 ? 8 : (in->code & 0x18) == 0x00 ? 4 :
				(in->code & 0x18) == 0x08 ? 2 : 1;
		struct vreg *d;
		if ((rc = read_reg(e, in->dst, &d)))
			return rc;
		if (f->shape == SHAPE_STX) {
			if ((rc = read_reg(e, in->src, &s)))
				return rc;
			val = *s;
		} else {
			vreg_const(&val, (uint64_t)(int64_t)in->imm);
		}
		if ((rc = vf_check_mem(e, in->dst, in->off, size, true, &val, false, false)))
			return rc;
		e->insn = pc + 1;
		return BPFRT_OK;
	}
	case SHAPE_ATOMIC: case SHAPE_ATOMIC_FETCH: case SHAPE_ATOMIC_CMPXCHG: {
		unsigned size = BPF_CLASS(in->code) == BPF_STX && (in->code & 0x18) == 0x18 ? 8 : 4;
		struct vreg *d;
		if ((rc = read_reg(e, in->dst, &d)) || (rc = read_reg(e, in->src, &s)))
			return rc;
		if (s->type != T_SCALAR)
			return vf_reject(e, "%s leaks addr into mem (atomic operand)", vf_regname(in->src));
		if (f->shape == SHAPE_ATOMIC_CMPXCHG) {
			struct vreg *r0 = NULL;
			if ((rc = read_reg(e, 0, &r0)))
				return rc;
			if (r0->type != T_SCALAR)
				return vf_reject(e, "R0 leaks addr into mem (cmpxchg)");
		}
		val = *s;
		if ((rc = vf_check_mem(e, in->dst, in->off, size, true, &val, false, true)))
			return rc;
		if (f->shape != SHAPE_ATOMIC) {
			struct vreg *w = vf_reg(e, f->shape == SHAPE_ATOMIC_CMPXCHG ? 0 : in->src);
			vreg_unknown(w);
			vreg_cast(w, size);
		}
		e->insn = pc + 1;
		return BPFRT_OK;
	}
	case SHAPE_LDDW: case SHAPE_LDDW_PSEUDO:
		return do_lddw(e, in, op, pc);
	}
	return vf_bug(e, "unhandled instruction shape %d", f->shape);
}

/* ------------------------------------------------------------- the walk */

static int walk(struct vf_env *e)
{
	struct vstate *st = calloc(1, sizeof(*st));
	if (!st || !(st->frame[0] = vframe_new(0, 0, 0))) {
		free(st);
		return vf_nomem(e);
	}
	e->cur = st;
	struct vframe *f = st->frame[0];
	f->regs[1].type = T_CTX;
	vreg_bounds_const(&f->regs[1], 0);
	f->regs[10].type = T_STACK;
	vreg_bounds_const(&f->regs[10], 0);
	if (e->pt->ctx_any && e->in->prog_type == 0)
		vreg_const(&f->regs[2], e->in->ctx_size);
	if (e->in->init)
		e->in->init(e->in->init_arg, st);
	e->sub[0].reached = true;
	e->insn = 0;
	int rc = BPFRT_OK;
	for (;;) {
		uint32_t pc = e->insn;
		if (pc >= e->n) {
			rc = vf_bug(e, "the walk left the program at insn %u", pc);
			break;
		}
		if (++e->processed > (e->in->insn_limit ? e->in->insn_limit : VF_COMPLEXITY_LIMIT)) {
			rc = vf_reject(e, "BPF program is too large. Processed %" PRIu64 " insn", e->processed - 1);
			break;
		}
		e->aux[pc].seen = 1;
		e->cur->depth++;
		int r = 0;
		if (e->flags[pc] & VI_PRUNE) {
			r = visit(e, pc);
			if (r < 0) {
				rc = r;
				break;
			}
			if (r == 1 && e->level >= 2)
				vf_log(e, "%u: safe (pruned)\n", pc);
		}
		if (r == 0) {
			if (!vf_hist_push(e->cur, pc)) {
				rc = vf_nomem(e);
				break;
			}
			if (e->level >= 2) {
				vf_log_state(e, e->cur);
				vf_log_insn(e, pc);
			}
			r = step(e);
			if (r < 0) {
				rc = r;
				break;
			}
		}
		if (r == 0)
			continue;
		/* this path is done: the next pending one */
		path_done(e, e->cur);
		vstate_free(e->cur);
		e->cur = NULL;
		if (!e->npend)
			break;
		struct vpending p = e->pend[--e->npend];
		e->cur = p.st;
		e->insn = p.insn;
		if (e->level >= 2)
			vf_log(e, "from %u to %u:\n", p.prev, p.insn);
	}
	return rc;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void env_free(struct vf_env *e)
{
	vstate_free(e->cur);
	for (size_t i = 0; i < e->npend; i++)
		vstate_free(e->pend[i].st);
	free(e->pend);
	for (int list = 0; list < 2; list++) {
		struct vexplored **l = list ? e->progress : e->explored;
		for (size_t i = 0; l && i < e->n; i++)
			for (struct vexplored *x = l[i], *nx; x; x = nx) {
				nx = x->next;
				vstate_free(x->st);
				free(x);
			}
	}
	free(e->explored);
	free(e->progress);
	free(e->loop_tab);
	free(e->flags);
	free(e->live);
	free(e->subprog_of);
	free(e->sub);
	free((void *)e->dec);
}

int bpfrt_verify(const struct vf_input *in, struct vf_result *out)
{
	uint64_t t0 = now_ns();
	memset(out, 0, sizeof(*out));
	out->err_insn = UINT32_MAX;
	struct bpfrt_err err = { 0 };
	struct vf_env e;
	memset(&e, 0, sizeof(e));
	e.in = in;
	e.insns = in->insns;
	e.n = in->n;
	e.err = &err;
	e.level = in->log_level;
	struct vplatform plat = { in->platform == VF_PLATFORM_LINUX ? "linux" : "bpfrt",
				  in->platform == VF_PLATFORM_LINUX ? linux_helper : bpfrt_helper,
				  linux_progtype, in->platform != VF_PLATFORM_LINUX, in->helpers };
	e.plat = &plat;
	struct vprogtype raw = { 0, "raw", in->ctx_size, NULL, 1 | 2 | 4 | 8, 1 | 2 | 4 | 8, 0, false, false,
				 false, 0, 0, true };
	/* an embedder's type: its context readable, its span writable, its return range */
	struct vctx_field span[2] = { { 0 } };
	struct vprogtype custom = { 0 };
	if (in->custom) {
		const struct bpfrt_custom_type *c = in->custom;
		span[0] = (struct vctx_field){ (uint16_t)c->writable_off, (uint16_t)c->writable_size, CF_SCALAR,
					       1 | 2 | 4 | 8, 1 | 2 | 4 | 8 };
		custom = (struct vprogtype){ c->id, c->name, c->ctx_size, c->writable_size ? span : NULL, 1 | 2 | 4 | 8,
					     0, 0, false, false, c->ret_min <= c->ret_max, c->ret_min, c->ret_max,
					     false };
	}
	e.pt = in->custom ? &custom : in->prog_type ? plat.progtype(&plat, in->prog_type) : &raw;
	int rc;
	size_t n = in->n;
	if (!e.pt) {
		rc = vf_reject(&e, "program type %u (%s) is not described by the %s platform", in->prog_type,
			       bpfrt_prog_type_name(in->prog_type), plat.name);
		goto out;
	}
	struct bpfrt_insn *dec = malloc((n ? n : 1) * sizeof(*dec));
	e.dec = dec;
	e.aux = calloc(n ? n : 1, sizeof(*e.aux));
	e.flags = calloc(n ? n : 1, 1);
	e.live = calloc(n ? n : 1, sizeof(*e.live));
	e.subprog_of = calloc(n ? n : 1, sizeof(*e.subprog_of));
	e.explored = calloc(n ? n : 1, sizeof(*e.explored));
	e.progress = calloc(n ? n : 1, sizeof(*e.progress));
	e.loop_nb = 4096;
	e.loop_tab = calloc(e.loop_nb, sizeof(*e.loop_tab));
	if (!dec || !e.aux || !e.flags || !e.live || !e.subprog_of || !e.explored || !e.progress || !e.loop_tab) {
		rc = vf_nomem(&e);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		e.aux[i].map = INT32_MIN;
		e.aux[i].key = INT64_MIN;
	}
	unsigned vflags = BPFRT_VALIDATE_PSEUDO | BPFRT_VALIDATE_LDABS |
			  BPFRT_VALIDATE_R10_LATE |
			  (in->platform == VF_PLATFORM_LINUX ? BPFRT_VALIDATE_ANY_HELPER | BPFRT_VALIDATE_KFUNC : 0);
	rc = bpfrt_validate(in->insns, n, in->helpers ? in->helpers : &(struct bpfrt_helper_table){ 0 }, vflags,
			    dec, &err);
	if (rc) {
		e.status = rc;
		vf_log(&e, "%s\n", err.msg);
		goto out;
	}
	for (size_t i = 0; i + 1 < n; i++)
		if (bpfrt_op_is_lddw(dec[i].code))
			e.flags[++i] |= VI_LDDW_HI;
	if ((rc = vf_cfg(&e)))
		goto out;
	if ((rc = walk(&e)))
		goto out;
	rc = vf_check_stack_depth(&e);
out:
	if (rc && !e.status) {
		e.status = rc;
		if (!err.msg[0])
			bpfrt_err_set(&err, rc, "verification failed");
	}
	out->status = rc ? (e.status ? e.status : rc) : BPFRT_OK;
	out->processed = e.processed;
	out->ctx_max = e.ctx_max;
	out->ctx_ptrs = e.ctx_ptr_read;
	out->states = e.states;
	out->peak_states = e.peak_states;
	out->pruned = e.pruned;
	if (rc)
		out->err_insn = e.err_insn;
	if (e.level >= 1 || !rc) {
		vf_log(&e, "%s: processed %" PRIu64 " insns, %" PRIu64 " states (peak %" PRIu64 "), %" PRIu64
		       " pruned\n", rc ? "refused" : "accepted", e.processed, e.states, e.peak_states, e.pruned);
	}
	if (e.sub && !rc) {
		out->nsub = e.nsub;
		out->sub = calloc(e.nsub, sizeof(*out->sub));
		for (uint32_t i = 0; out->sub && i < e.nsub; i++) {
			out->sub[i] = (struct vf_subinfo){ e.sub[i].start, e.sub[i].stack_depth,
							   e.sub[i].tail_call_reachable, e.sub[i].has_tail_call };
			out->tail_call_reachable |= e.sub[i].tail_call_reachable;
		}
	}
	if (e.aux) {
		for (size_t i = 0; i < n; i++) {
			if (e.aux[i].map == INT32_MIN)
				e.aux[i].map = -1;
		}
		out->aux = e.aux;
		out->n = n;
		e.aux = NULL;
	}
	if (!e.log) {
		e.log = strdup(rc ? err.msg : "");
		e.loglen = e.log ? strlen(e.log) : 0;
	}
	out->log = e.log;
	out->loglen = e.loglen;
	env_free(&e);
	out->ns = now_ns() - t0;
	return out->status;
}

void bpfrt_verify_result_free(struct vf_result *r)
{
	if (!r)
		return;
	free(r->log);
	free(r->aux);
	free(r->sub);
	memset(r, 0, sizeof(*r));
}
