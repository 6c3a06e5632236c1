/*
 * cfg.c — the program's shape, before and after the walk.
 *
 * Before (vf_cfg): subprograms (starts: insn 0, every local call target,
 * every function reference), every instruction reachable from the entry
 * (unreachable ones are refused, as the kernel does), prune points (jump
 * targets and fall-throughs of conditional jumps, where the walk stores
 * states), and static register liveness: which registers each instruction
 * may read before they are written, on some path to an exit.  Pruning
 * ignores dead registers.
 *
 * After (vf_check_stack_depth): the call graph with each subprogram's stack
 * depth (found by the walk): every chain of calls from the entry uses at
 * most 512 bytes (frames rounded to 32, as the kernel); recursion is
 * refused; a subprogram that tail-calls may not be reached while its
 * callers' frames hold 256 bytes or more (a tail call keeps them, seed
 * 004); every subprogram on a chain that reaches a tail call is marked
 * tail_call_reachable, which the JIT needs.
 */
#include "vf.h"

#include <linux/bpf.h>

static bool is_ldabs(const struct bpfrt_insn *insn)
{
	uint8_t c = insn->code;
	return BPF_CLASS(c) == BPF_LD && (BPF_MODE(c) == BPF_MODE_ABS || BPF_MODE(c) == BPF_MODE_IND);
}

static int32_t call_target(const struct vf_env *e, uint32_t pc)
{
	uint8_t op = e->dec[pc].code;
	if (op == BPFRT_OP_CALL_LOCAL || op == BPFRT_OP_LDDW_FUNC)
		return (int32_t)pc + 1 + e->insns[pc].imm;
	return -1;
}

/* successors of pc inside its subprogram: returns how many (0..2) */
static int successors(const struct vf_env *e, uint32_t pc, uint32_t s[2])
{
	if (is_ldabs(&e->insns[pc])) {
		s[0] = pc + 1;
		return 1;
	}
	const struct bpfrt_insn *d = &e->dec[pc];
	switch ((enum bpfrt_shape)bpfrt_forms[d->code].shape) {
	case SHAPE_EXIT:
		return 0;
	case SHAPE_JA:
		s[0] = (uint32_t)((int64_t)pc + 1 + d->off);
		return 1;
	case SHAPE_JA32:
		s[0] = (uint32_t)((int64_t)pc + 1 + d->imm);
		return 1;
	case SHAPE_JCC_K: case SHAPE_JCC_X:
		s[0] = pc + 1;
		s[1] = (uint32_t)((int64_t)pc + 1 + d->off);
		return 2;
	case SHAPE_LDDW: case SHAPE_LDDW_PSEUDO:
		s[0] = pc + 2;
		return 1;
	default:
		s[0] = pc + 1;
		return 1;
	}
}

static unsigned helper_nargs(const struct vf_env *e, int32_t id)
{
	const struct vhelper *h = e->plat->helper(e->plat, (uint32_t)id, e->in->prog_type);
	if (!h)
		return 5;
	unsigned n = 0;
	while (n < 5 && h->args[n] != A_NONE)
		n++;
	return n;
}

#define R(n) (1u << (n))
#define ARGS_MASK (R(1) | R(2) | R(3) | R(4) | R(5))
#define CALLER_SAVED (R(0) | ARGS_MASK)

static void use_def(const struct vf_env *e, uint32_t pc, uint16_t *use, uint16_t *def)
{
	const struct bpfrt_insn *in = &e->insns[pc];
	unsigned u = 0, d = 0;
	if (is_ldabs(in)) {
		u = R(6) | (BPF_MODE(in->code) == BPF_MODE_IND ? R(in->src) : 0);
		d = CALLER_SAVED;
		*use = (uint16_t)u;
		*def = (uint16_t)d;
		return;
	}
	uint8_t op = e->dec[pc].code;
	unsigned dst = R(in->dst), src = R(in->src);
	switch ((enum bpfrt_shape)bpfrt_forms[op].shape) {
	case SHAPE_ALU_K:
		u = (op == BPFRT_OP_MOV64_K || op == BPFRT_OP_MOV32_K) ? 0 : dst;
		d = dst;
		break;
	case SHAPE_ALU_X: {
		bool mov = op == BPFRT_OP_MOV64_X || op == BPFRT_OP_MOV32_X || op == BPFRT_OP_MOVSX8_64 ||
			   op == BPFRT_OP_MOVSX16_64 || op == BPFRT_OP_MOVSX32_64 || op == BPFRT_OP_MOVSX8_32 ||
			   op == BPFRT_OP_MOVSX16_32;
		u = src | (mov ? 0 : dst);
		d = dst;
		break;
	}
	case SHAPE_NEG: case SHAPE_END:
		u = d = dst;
		break;
	case SHAPE_JCC_K:
		u = dst;
		break;
	case SHAPE_JCC_X:
		u = dst | src;
		break;
	case SHAPE_CALL_HELPER: {
		unsigned n = helper_nargs(e, in->imm);
		for (unsigned i = 1; i <= n; i++)
			u |= R(i);
		d = CALLER_SAVED;
		break;
	}
	case SHAPE_CALL_LOCAL: case SHAPE_CALL_KFUNC:
		u = ARGS_MASK;
		d = CALLER_SAVED;
		break;
	case SHAPE_CALLX:
		u = dst | ARGS_MASK;
		d = CALLER_SAVED;
		break;
	case SHAPE_EXIT:
		u = R(0);
		break;
	case SHAPE_TAIL_CALL: /* internal: the rewrite's, never in what the verifier sees */
		u = ARGS_MASK;
		d = CALLER_SAVED;
		break;
	case SHAPE_LDX:
		u = src;
		d = dst;
		break;
	case SHAPE_ST:
		u = dst;
		break;
	case SHAPE_STX: case SHAPE_ATOMIC:
		u = dst | src;
		break;
	case SHAPE_ATOMIC_FETCH:
		u = dst | src;
		d = src;
		break;
	case SHAPE_ATOMIC_CMPXCHG:
		u = dst | src | R(0);
		d = R(0);
		break;
	case SHAPE_LDDW: case SHAPE_LDDW_PSEUDO:
		d = dst;
		break;
	case SHAPE_JA: case SHAPE_JA32:
		break;
	}
	*use = (uint16_t)(u & 0x7ff);
	*def = (uint16_t)(d & 0x7ff);
}

static int liveness(struct vf_env *e)
{
	size_t n = e->n;
	uint16_t *use = calloc(n, sizeof(*use)), *def = calloc(n, sizeof(*def));
	if (!use || !def) {
		free(use);
		free(def);
		return vf_nomem(e);
	}
	for (uint32_t pc = 0; pc < n; pc++)
		if (!(e->flags[pc] & VI_LDDW_HI))
			use_def(e, pc, &use[pc], &def[pc]);
	/* backward to a fixed point; the reverse sweep converges in few rounds */
	bool changed = true;
	while (changed) {
		changed = false;
		for (size_t i = n; i-- > 0;) {
			uint32_t pc = (uint32_t)i;
			if (e->flags[pc] & VI_LDDW_HI)
				continue;
			uint32_t s[2];
			int k = successors(e, pc, s);
			uint16_t out = 0;
			for (int j = 0; j < k; j++)
				if (s[j] < n)
					out |= e->live[s[j]];
			uint16_t in = (uint16_t)(use[pc] | (out & ~def[pc]));
			if (in != e->live[pc]) {
				e->live[pc] = in;
				changed = true;
			}
		}
	}
	free(use);
	free(def);
	return BPFRT_OK;
}

int vf_cfg(struct vf_env *e)
{
	size_t n = e->n;
	/* subprograms */
	uint8_t *start = calloc(n, 1);
	if (!start)
		return vf_nomem(e);
	start[0] = 1;
	for (uint32_t pc = 0; pc < n; pc++) {
		if (e->flags[pc] & VI_LDDW_HI)
			continue;
		int32_t t = call_target(e, pc);
		if (t >= 0 && (size_t)t < n)
			start[t] = 1;
	}
	uint32_t ns = 0;
	for (size_t pc = 0; pc < n; pc++)
		ns += start[pc];
	e->sub = calloc(ns, sizeof(*e->sub));
	if (!e->sub) {
		free(start);
		return vf_nomem(e);
	}
	e->nsub = 0;
	for (uint32_t pc = 0; pc < n; pc++) {
		if (start[pc]) {
			if (e->nsub)
				e->sub[e->nsub - 1].end = pc;
			e->sub[e->nsub++].start = pc;
		}
		e->subprog_of[pc] = e->nsub - 1;
	}
	e->sub[e->nsub - 1].end = (uint32_t)n;
	free(start);
	for (uint32_t pc = 0; pc < n; pc++)
		if (!(e->flags[pc] & VI_LDDW_HI) && is_ldabs(&e->insns[pc]))
			e->sub[e->subprog_of[pc]].has_ld_abs = true;

	/* reachability from the entry (calls reach their targets), prune points */
	uint8_t *seen = calloc(n, 1);
	uint32_t *stack = malloc(n * sizeof(*stack));
	if (!seen || !stack) {
		free(seen);
		free(stack);
		return vf_nomem(e);
	}
	size_t sp = 0;
	stack[sp++] = 0;
	seen[0] = 1;
	while (sp) {
		uint32_t pc = stack[--sp];
		uint32_t s[3];
		int k = successors(e, pc, s);
		int32_t t = call_target(e, pc);
		if (t >= 0)
			s[k++] = (uint32_t)t;
		for (int j = 0; j < k; j++) {
			if (s[j] < n && !seen[s[j]]) {
				seen[s[j]] = 1;
				stack[sp++] = s[j];
			}
		}
	}
	for (uint32_t pc = 0; pc < n; pc++) { /* prune points */
		if (e->flags[pc] & VI_LDDW_HI)
			continue;
		const struct bpfrt_insn *d = &e->dec[pc];
		enum bpfrt_shape sh = is_ldabs(&e->insns[pc]) ? SHAPE_LDX : (enum bpfrt_shape)bpfrt_forms[d->code].shape;
		uint32_t s[2];
		int k = successors(e, pc, s);
		if (sh == SHAPE_JA || sh == SHAPE_JA32 || sh == SHAPE_JCC_K || sh == SHAPE_JCC_X)
			for (int j = 0; j < k; j++)
				if (s[j] < n)
					e->flags[s[j]] |= VI_PRUNE | VI_JMP_TARGET;
		if (sh == SHAPE_CALL_LOCAL && pc + 1 < n)
			e->flags[pc + 1] |= VI_PRUNE;
		if (sh == SHAPE_CALL_HELPER) {
			const struct vhelper *h = e->plat->helper(e->plat, (uint32_t)d->imm, e->in->prog_type);
			if (h && (h->flags & HF_CB_LOOP))
				e->flags[pc] |= VI_PRUNE | VI_CALLBACK_CALL;
		}
	}
	for (uint32_t i = 0; i < e->nsub; i++) /* subprogram entries: where calls store states */
		e->flags[e->sub[i].start] |= VI_PRUNE;
	int rc = BPFRT_OK;
	for (uint32_t pc = 0; pc < n; pc++) {
		if (e->flags[pc] & VI_LDDW_HI)
			continue;
		if (!seen[pc]) {
			e->insn = pc;
			rc = vf_reject(e, "unreachable insn %u", pc);
			break;
		}
	}
	free(seen);
	free(stack);
	if (rc)
		return rc;
	return liveness(e);
}

/* ------------------------------------------------------ stack over chains */

static uint32_t frame_size(const struct vsubprog *s)
{
	uint32_t d = s->stack_depth ? s->stack_depth : 1;
	return (d + 31) & ~31u;
}

struct walk {
	uint32_t *frames;   /* subprogram on the chain at each depth */
	uint8_t *on_chain;
};

/* Depth-first over the call graph from sub `i` at chain depth `d` (size so far `below`). */
static int walk_calls(struct vf_env *e, struct walk *w, uint32_t i, uint32_t d, uint32_t below)
{
	struct vsubprog *s = &e->sub[i];
	if (d >= 64)
		return vf_reject(e, "the call graph is too deep (%u levels)", d);
	uint32_t total = below + frame_size(s);
	if (total > VF_STACK) {
		e->insn = s->start;
		return vf_reject(e, "combined stack size of %u calls is %u. Too large (at most %d bytes)", d + 1,
				 total, VF_STACK);
	}
	if (s->has_tail_call) {
		if (below >= 256 && d > 0) {
			e->insn = s->start;
			return vf_reject(e, "tail_calls are not allowed when call stack of previous frames is %u "
					 "bytes. Too large (the subprogram at insn %u tail-calls)", below, s->start);
		}
		for (uint32_t k = 0; k <= d; k++)
			e->sub[w->frames[k]].tail_call_reachable = true;
	}
	w->on_chain[i] = 1;
	for (uint32_t pc = s->start; pc < s->end; pc++) {
		if (e->flags[pc] & VI_LDDW_HI)
			continue;
		int32_t t = call_target(e, pc);
		if (t < 0) /* every call, dead ones too, as the kernel's check_max_stack_depth */
			continue;
		uint32_t callee = e->subprog_of[t];
		if (d + 2 > VF_MAX_FRAMES) {
			e->insn = pc;
			w->on_chain[i] = 0;
			return vf_reject(e, "the call stack of %u frames is too deep !", d + 2);
		}
		if (w->on_chain[callee]) {
			e->insn = pc;
			w->on_chain[i] = 0;
			return vf_reject(e, "recursive call from the subprogram at insn %u to the one at insn %u",
					 s->start, e->sub[callee].start);
		}
		w->frames[d + 1] = callee;
		int rc = walk_calls(e, w, callee, d + 1, total);
		if (rc) {
			w->on_chain[i] = 0;
			return rc;
		}
		/* a callee that can reach a tail call makes its callers reach it too */
		if (e->sub[callee].tail_call_reachable)
			for (uint32_t k = 0; k <= d; k++)
				e->sub[w->frames[k]].tail_call_reachable = true;
	}
	w->on_chain[i] = 0;
	return BPFRT_OK;
}

int vf_check_stack_depth(struct vf_env *e)
{
	struct walk w;
	w.frames = calloc(65, sizeof(*w.frames));
	w.on_chain = calloc(e->nsub, 1);
	int rc;
	if (!w.frames || !w.on_chain)
		rc = vf_nomem(e);
	else
		rc = walk_calls(e, &w, 0, 0, 0);
	/* a callback runs from a helper, which has no tail-call count to hand it */
	for (uint32_t i = 0; rc == BPFRT_OK && i < e->nsub; i++)
		if (e->sub[i].is_callback && e->sub[i].tail_call_reachable) {
			e->insn = e->sub[i].start;
			rc = vf_reject(e, "a tail call is reachable from the callback at insn %u: bpfrt does not "
				       "support tail calls in callbacks", e->sub[i].start);
		}
	free(w.frames);
	free(w.on_chain);
	return rc;
}
