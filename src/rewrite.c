/*
 * rewrite.c — the rewrite passes.  They share one patchable-instruction list
 * (patch.c) and the program is linearised once, after the last pass:
 *
 *     list ← program
 *     dead code removal        instructions no path reaches (and, for a
 *                              verified program, none the verifier walked)
 *     nop removal              ja +0, ja32 +0
 *     array lookup inlining    bpf_map_lookup_elem on an array map the
 *                              verifier proved the call always gets
 *                              (facts), as the kernel's map_gen_lookup
 *     [zero-extension]         mov32 r, r after each 32-bit result (flag)
 *     [constant blinding]      imm → AX = imm ^ key; AX ^= key; op r, AX (flag)
 *     program ← linearise(list)
 *
 * When no pass has anything to do, the program is left as it is and no list
 * is built.
 */
#include "internal.h"
#include "map.h"
#include "patch.h"
#include "verifier.h"

#include <errno.h>
#include <linux/bpf.h>

#include <time.h>

static uint64_t now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Reachability over the decoded original program: from the entry through
 * fallthroughs, jumps, calls and function references. */
static uint8_t *reachable(const struct bpfrt_insn *dec, size_t n, size_t *ndead)
{
	uint8_t *seen = calloc(n, 1);
	uint32_t *work = malloc(n * sizeof(*work));
	if (!seen || !work) {
		free(seen);
		free(work);
		return NULL;
	}
	size_t top = 0;
	work[top++] = 0;
	seen[0] = 1;
#define PUSH(t)                                            \
	do {                                               \
		size_t t_ = (t);                           \
		if (t_ < n && !seen[t_]) {                 \
			seen[t_] = 1;                      \
			work[top++] = (uint32_t)t_;        \
		}                                          \
	} while (0)
	/* Each popped start runs straight on (no stack traffic) until it meets
	 * an exit, an unconditional jump or an instruction already seen. */
	while (top) {
		size_t pc = work[--top];
		for (;;) {
			const struct bpfrt_insn *in = &dec[pc];
			enum bpfrt_shape sh = bpfrt_forms[in->code].shape;
			size_t next = pc + 1;
			if (sh == SHAPE_EXIT)
				break;
			if (sh == SHAPE_JA) {
				PUSH(pc + 1 + (size_t)(int64_t)in->off);
				break;
			}
			if (sh == SHAPE_JA32) {
				PUSH(pc + 1 + (size_t)(int64_t)in->imm);
				break;
			}
			if (sh == SHAPE_JCC_K || sh == SHAPE_JCC_X) {
				PUSH(pc + 1 + (size_t)(int64_t)in->off);
			} else if (sh == SHAPE_CALL_LOCAL) {
				PUSH(pc + 1 + (size_t)(int64_t)in->imm);
			} else if (sh == SHAPE_LDDW || sh == SHAPE_LDDW_PSEUDO) {
				if (in->code == BPFRT_OP_LDDW_FUNC)
					PUSH(pc + 1 + (size_t)(int64_t)in->imm);
				seen[pc + 1] = 1; /* the second slot */
				next = pc + 2;
			}
			if (next >= n || seen[next])
				break;
			seen[next] = 1;
			pc = next;
		}
	}
#undef PUSH
	free(work);
	*ndead = 0;
	for (size_t i = 0; i < n; i++)
		*ndead += !seen[i];
	return seen;
}

static bool is_nop(const struct bpfrt_insn *dec)
{
	return (dec->code == BPFRT_OP_JA && dec->off == 0) || (dec->code == BPFRT_OP_JA32 && dec->imm == 0);
}

/* The register holding a 32-bit result the instruction writes, or -1. */
static int def32(const struct bpfrt_insn *dec)
{
	const struct bpfrt_form *f = &bpfrt_forms[dec->code];
	switch ((enum bpfrt_shape)f->shape) {
	case SHAPE_ALU_K: case SHAPE_ALU_X: case SHAPE_NEG:
		return BPF_CLASS(f->code) == BPF_ALU ? dec->dst : -1;
	case SHAPE_END:
		return (dec->code == BPFRT_OP_LE16 || dec->code == BPFRT_OP_LE32 ||
			dec->code == BPFRT_OP_BE16 || dec->code == BPFRT_OP_BE32 ||
			dec->code == BPFRT_OP_BSWAP16 || dec->code == BPFRT_OP_BSWAP32) ? dec->dst : -1;
	case SHAPE_LDX:
		return (dec->code == BPFRT_OP_LDXW || dec->code == BPFRT_OP_LDXH ||
			dec->code == BPFRT_OP_LDXB) ? dec->dst : -1;
	case SHAPE_ATOMIC_FETCH:
		return f->code == 0xc3 ? dec->src : -1;
	case SHAPE_ATOMIC_CMPXCHG:
		return f->code == 0xc3 ? 0 : -1;
	default:
		return -1;
	}
}

/* Does constant blinding apply to this instruction? */
static bool blindable(const struct bpfrt_insn *dec)
{
	const struct bpfrt_form *f = &bpfrt_forms[dec->code];
	switch ((enum bpfrt_shape)f->shape) {
	case SHAPE_ALU_K: case SHAPE_JCC_K: case SHAPE_ST:
		return true;
	case SHAPE_LDDW:
		return true;
	default:
		return false;
	}
}

static uint64_t next_key(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

#define INSN(c, d, s_, o, i) ((struct bpfrt_insn){ .code = (c), .dst = (d), .src = (s_), .off = (o), .imm = (i) })

/* The blinded replacement of x (original decoded as dec) into seq; its length. */
static size_t blind_one(const struct bpfrt_plist *l, uint32_t x, const struct bpfrt_insn *dec,
			uint32_t key, struct bpfrt_pinsn *seq)
{
	const struct bpfrt_form *f = &bpfrt_forms[dec->code];
	const uint8_t AX = BPFRT_REG_AX;
	struct bpfrt_insn in = l->node[x].insn;
	memset(seq, 0, 7 * sizeof(*seq));
	if (f->shape == SHAPE_LDDW) {
		/* AX = hi; AX <<= 32; dst = AX; AX = (u32)lo; dst |= AX — each constant blinded */
		seq[0].insn = INSN(0xb7, AX, 0, 0, (int32_t)(key ^ (uint32_t)l->hi[x])); /* mov AX, k^hi */
		seq[1].insn = INSN(0xa7, AX, 0, 0, (int32_t)key);                         /* xor AX, k */
		seq[2].insn = INSN(0x67, AX, 0, 0, 32);                                   /* lsh AX, 32 */
		seq[3].insn = INSN(0xbf, in.dst, AX, 0, 0);                               /* mov dst, AX */
		seq[4].insn = INSN(0xb4, AX, 0, 0, (int32_t)(key ^ (uint32_t)in.imm));    /* mov32 AX, k^lo */
		seq[5].insn = INSN(0xa4, AX, 0, 0, (int32_t)key);                         /* xor32 AX, k */
		seq[6].insn = INSN(0x4f, in.dst, AX, 0, 0);                               /* or dst, AX */
		return 7;
	}
	bool w64 = BPF_CLASS(f->code) == BPF_ALU64 || BPF_CLASS(f->code) == BPF_JMP ||
		   f->shape == SHAPE_ST;
	/* AX = imm (sign-extended as the original would) */
	seq[0].insn = INSN(w64 ? 0xb7 : 0xb4, AX, 0, 0, (int32_t)(key ^ (uint32_t)in.imm));
	seq[1].insn = INSN(w64 ? 0xa7 : 0xa4, AX, 0, 0, (int32_t)key);
	if (f->shape == SHAPE_ST) { /* st [dst+off], imm → stx [dst+off], AX */
		seq[2].insn = INSN((uint8_t)((in.code & 0x18) | 0x63), in.dst, AX, in.off, 0);
	} else if (f->shape == SHAPE_ALU_K) { /* op dst, imm → op dst, AX (off: sdiv/smod) */
		seq[2].insn = INSN((uint8_t)(in.code | 0x08), in.dst, AX, in.off, 0);
	} else { /* jcc dst, imm, off → jcc dst, AX, off */
		seq[2].insn = INSN((uint8_t)(in.code | 0x08), in.dst, AX, 0, 0);
		seq[2].to = l->node[x].target;
	}
	return 3;
}

/* The array map a lookup call at pc always gets, or NULL: the verifier saw
 * the call, always with the same map, a plain array with 4-byte keys. */
static const struct bpfrt_map *inline_lookup_map(const bpfrt_prog *p, const struct bpfrt_rw_opts *o, size_t pc)
{
	const struct bpfrt_facts *f = o->facts;
	if (o->safe || !f || !f->vr || pc >= f->vr->n || bpfrt_forms[p->dec[pc].code].shape != SHAPE_CALL_HELPER ||
	    p->insns[pc].imm != BPF_FUNC_map_lookup_elem)
		return NULL;
	const struct vf_aux *a = &f->vr->aux[pc];
	if (!a->seen || a->map_mixed || a->map < 0 || (size_t)a->map >= f->nmaps)
		return NULL;
	const struct bpfrt_map *m = f->maps[a->map];
	if (!m || m->type != BPF_MAP_TYPE_ARRAY || m->ncpu != 1 || !m->values || m->key_size != 4 ||
	    m->max_entries > INT32_MAX || m->stride > INT32_MAX)
		return NULL;
	return m;
}

/*
 * r0 = lookup(r1 = map, r2 = &key) on an array, inline (r1-r5 are dead
 * after a call: the verifier refuses reads of them):
 *     ldxw r0, [r2]; jge r0, max_entries, +4; mul r0, stride (lsh where a
 *     power of two); lddw r1, values; add r0, r1; ja +1; mov r0, 0
 */
static size_t lookup_seq(const struct bpfrt_map *m, struct bpfrt_pinsn *seq)
{
	uint64_t values = (uintptr_t)m->values;
	memset(seq, 0, 7 * sizeof(*seq));
	seq[0].insn = INSN(0x61, 0, 2, 0, 0);                         /* ldxw r0, [r2+0] */
	seq[1].insn = INSN(0x35, 0, 0, 4, (int32_t)m->max_entries);   /* jge r0, max, +4 */
	if (!(m->stride & (m->stride - 1)))
		seq[2].insn = INSN(0x67, 0, 0, 0, __builtin_ctz(m->stride)); /* lsh r0, log2(stride) */
	else
		seq[2].insn = INSN(0x27, 0, 0, 0, (int32_t)m->stride); /* mul r0, stride */
	seq[3].insn = INSN(0x18, 1, 0, 0, (int32_t)(uint32_t)values); /* lddw r1, values */
	seq[3].imm_hi = (int32_t)(uint32_t)(values >> 32);
	seq[4].insn = INSN(0x0f, 0, 1, 0, 0);                         /* add r0, r1 */
	seq[5].insn = INSN(0x05, 0, 0, 1, 0);                         /* ja +1 */
	seq[6].insn = INSN(0xb7, 0, 0, 0, 0);                         /* mov r0, 0 */
	return 7;
}

/*
 * bpf_loop(r1 = n, r2 = callback, r3 = ctx, r4 = 0) with one callback on
 * every path, inline (the kernel's inline_bpf_loop, with its results: r0 =
 * (u32)-E2BIG when r1 > BPF_MAX_LOOPS as a 64-bit number, else the
 * iterations run): a loop that calls the callback as a subprogram, r6..r8
 * kept in three slots below the function's stack.  The callback's first
 * instruction, or -1.
 */
static int64_t inline_loop_cb(const bpfrt_prog *p, const struct bpfrt_rw_opts *o, size_t pc)
{
	const struct bpfrt_facts *f = o->facts;
	if (!f || !f->vr || !f->vr->aux || pc >= f->vr->n || p->dec[pc].code != BPFRT_OP_CALL ||
	    p->insns[pc].imm != BPF_FUNC_loop)
		return -1;
	const struct vf_aux *a = &f->vr->aux[pc];
	if (!a->seen || a->key_mixed || a->key < 0 || (uint64_t)a->key >= p->n)
		return -1;
	return a->key;
}

/* A load or store the verifier saw go to the context (on every path: it
 * refuses an instruction that reaches the context and other memory). */
static bool is_ctx_access(const bpfrt_prog *p, const struct vf_result *vr, size_t pc)
{
	enum bpfrt_shape sh = bpfrt_forms[p->dec[pc].code].shape;
	uint8_t cls = p->insns[pc].code & 7;
	uint8_t mode = p->insns[pc].code & 0xe0;
	return (sh == SHAPE_LDX || sh == SHAPE_ST || sh == SHAPE_STX) && cls != 6 /* not atomics */ &&
	       (mode == 0x60 /* BPF_MEM */ || (mode == 0x80 && cls == 1) /* BPF_MEMSX loads */) && vr->aux[pc].seen &&
	       vr->aux[pc].ptr_type == VF_AUX_PTR_CTX && !vr->aux[pc].ptr_mixed;
}

/* The subprogram (the verifier's) of instruction pc. */
static size_t sub_of(const struct vf_result *vr, size_t pc)
{
	size_t i = 0;
	while (i + 1 < vr->nsub && vr->sub[i + 1].start <= pc)
		i++;
	return i;
}

static size_t loop_seq(uint32_t cb, int16_t base, struct bpfrt_pinsn *seq)
{
	static const struct bpfrt_insn body[19] = {
		INSN(0xb5, 1, 0, 2, 1 << 23),   /* jle r1, BPF_MAX_LOOPS, +2 */
		INSN(0xb4, 0, 0, 0, -E2BIG),    /* mov32 r0, -E2BIG */
		INSN(0x05, 0, 0, 16, 0),        /* ja +16: past the end */
		INSN(0x7b, 10, 6, 0, 0),        /* stxdw [r10 + base], r6 */
		INSN(0x7b, 10, 7, 8, 0),        /* stxdw [r10 + base + 8], r7 */
		INSN(0x7b, 10, 8, 16, 0),       /* stxdw [r10 + base + 16], r8 */
		INSN(0xbf, 6, 1, 0, 0),         /* mov r6, r1: the count */
		INSN(0xb4, 7, 0, 0, 0),         /* mov32 r7, 0: the index */
		INSN(0xbf, 8, 3, 0, 0),         /* mov r8, r3: ctx */
		INSN(0x3d, 7, 6, 5, 0),         /* loop: jge r7, r6, +5 */
		INSN(0xbf, 1, 7, 0, 0),         /* mov r1, r7 */
		INSN(0xbf, 2, 8, 0, 0),         /* mov r2, r8 */
		INSN(0x85, 0, 1, 0, 0),         /* call callback */
		INSN(0x07, 7, 0, 0, 1),         /* add r7, 1 */
		INSN(0x15, 0, 0, -6, 0),        /* jeq r0, 0, loop */
		INSN(0xbf, 0, 7, 0, 0),         /* mov r0, r7: the iterations */
		INSN(0x79, 6, 10, 0, 0),        /* ldxdw r6, [r10 + base] */
		INSN(0x79, 7, 10, 8, 0),        /* ldxdw r7, [r10 + base + 8] */
		INSN(0x79, 8, 10, 16, 0),       /* ldxdw r8, [r10 + base + 16] */
	};
	for (size_t i = 0; i < 19; i++) {
		seq[i] = (struct bpfrt_pinsn){ .insn = body[i] };
		if ((i >= 3 && i <= 5) || i >= 16)
			seq[i].insn.off = (int16_t)(seq[i].insn.off + base);
	}
	seq[12].to = cb;
	return 19;
}

/* A tail call the verifier proved direct (the same prog_array and the same
 * constant key in range on every path): its map, or NULL. */
static struct bpfrt_map *direct_tail(const struct bpfrt_rw_opts *o, size_t pc, uint32_t *key)
{
	const struct bpfrt_facts *f = o->facts;
	if (o->safe || !f || !f->vr || !f->vr->aux || pc >= f->vr->n)
		return NULL;
	const struct vf_aux *a = &f->vr->aux[pc];
	if (!a->seen || a->map_mixed || a->key_mixed || a->map < 0 || (size_t)a->map >= f->nmaps ||
	    a->key == INT64_MIN)
		return NULL;
	struct bpfrt_map *m = f->maps[a->map];
	if (!m || m->type != BPF_MAP_TYPE_PROG_ARRAY || a->key < 0 || (uint64_t)a->key >= m->max_entries)
		return NULL; /* a key past the end: the tail call always fails, the general code says so */
	*key = (uint32_t)a->key;
	return m;
}

static bool is_tail_call(const bpfrt_prog *p, size_t pc)
{
	return p->dec[pc].code == BPFRT_OP_CALL && p->insns[pc].imm == BPF_FUNC_tail_call;
}

/* Each direct site's place in the rewritten program (its tail_call's imm
 * is the site's index + 1). */
static void place_tail_sites(bpfrt_prog *p)
{
	for (size_t i = 0; i < p->nx; i++)
		if (p->dec[i].code == BPFRT_OP_TAIL_CALL && p->dec[i].imm > 0 &&
		    (size_t)p->dec[i].imm <= p->ntail_sites)
			p->tail_sites[p->dec[i].imm - 1].pc = (uint32_t)i;
}

static int rewrite(bpfrt_prog *p, const struct bpfrt_rw_opts *o, struct bpfrt_err *err);

int bpfrt_rewrite(bpfrt_prog *p, const struct bpfrt_rw_opts *o, struct bpfrt_err *err)
{
	free(p->tail_sites);
	p->tail_sites = NULL;
	p->ntail_sites = 0;
	int rc = rewrite(p, o, err);
	if (rc == BPFRT_OK)
		place_tail_sites(p);
	p->stats.tail_calls_direct = p->ntail_sites;
	return rc;
}

static int rewrite(bpfrt_prog *p, const struct bpfrt_rw_opts *o, struct bpfrt_err *err)
{
	struct bpfrt_stats *st = &p->stats;
	uint64_t t0 = now();
	size_t n = p->n, ndead = 0, nnop = 0;
	uint8_t *seen = reachable(p->dec, n, &ndead);
	if (!seen)
		return bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
	/* verified: what no path the verifier walked reaches is dead too (the
	 * branches it proved never taken) */
	const struct vf_result *vr = o->facts ? o->facts->vr : NULL;
	if (vr && vr->aux && vr->n == n)
		for (size_t pc = 0; pc < n; pc++) {
			if (seen[pc] && !vr->aux[pc].seen) {
				seen[pc] = 0;
				ndead++;
				if (bpfrt_op_is_lddw(p->dec[pc].code) && pc + 1 < n)
					seen[++pc] = 0, ndead++;
			} else if (bpfrt_op_is_lddw(p->dec[pc].code)) {
				pc++;
			}
		}
	/* context accesses: converted in every verified program of a type
	 * that has a conversion (ctx.c); the others read the UAPI struct */
	bool conv = vr && vr->aux && vr->n == n && bpfrt_ctx_converts(p->type);
	p->ctx_conv = conv;
	size_t nctx = 0;
	for (size_t pc = 0; conv && pc < n; pc++) {
		nctx += seen[pc] && is_ctx_access(p, vr, pc);
		BPFRT_SKIP_LDDW(p->dec[pc].code, pc);
	}
	/* instructions the passes below patch (nothing to do without any) */
	size_t npatch = nctx;
	for (size_t pc = 0; pc < n; pc++) {
		enum bpfrt_op op = p->dec[pc].code;
		if (op == BPFRT_OP_JA || op == BPFRT_OP_JA32)
			nnop += seen[pc] && is_nop(&p->dec[pc]);
		else if (op == BPFRT_OP_CALL) /* the patches below are of helper calls */
			npatch += seen[pc] && (inline_lookup_map(p, o, pc) || inline_loop_cb(p, o, pc) >= 0 ||
						is_tail_call(p, pc));
		BPFRT_SKIP_LDDW(op, pc);
	}
	st->insns_in = n;
	if (!ndead && !nnop && !npatch && !o->zext && !o->blind) { /* nothing to do */
		free(seen);
		st->insns_out = n;
		st->rewrite_ns = now() - t0;
		return BPFRT_OK;
	}
	struct bpfrt_plist l;
	int rc = bpfrt_plist_init(&l, p->insns, n, NULL, NULL, 0, err);
	if (rc != BPFRT_OK) {
		free(seen);
		return rc;
	}
	/* dead code and nops; a conditional jump with a dead side becomes what
	 * it always does (the kernel's opt_hard_wire_dead_code_branches) */
	for (size_t pc = 0; pc < n && rc == BPFRT_OK; pc++) {
		enum bpfrt_shape sh = bpfrt_forms[p->dec[pc].code].shape;
		if (seen[pc] && (sh == SHAPE_JCC_K || sh == SHAPE_JCC_X)) {
			size_t t = (size_t)((int64_t)pc + 1 + p->dec[pc].off);
			if (t < n && !seen[t]) { /* never taken */
				bpfrt_plist_delete(&l, bpfrt_plist_anchor(pc));
				st->dead_removed++;
				continue;
			}
			if (pc + 1 < n && !seen[pc + 1] && t < n) { /* always taken */
				struct bpfrt_pinsn ja = { .insn = INSN(0x05, 0, 0, 0, 0), .to = bpfrt_plist_anchor(t) };
				rc = bpfrt_plist_replace(&l, bpfrt_plist_anchor(pc), &ja, 1, err);
				continue;
			}
		}
		if (!seen[pc]) {
			bpfrt_plist_delete(&l, bpfrt_plist_anchor(pc));
			st->dead_removed++;
		} else if (is_nop(&p->dec[pc])) {
			bpfrt_plist_delete(&l, bpfrt_plist_anchor(pc));
			st->nops_removed++;
		}
		BPFRT_SKIP_LDDW(p->dec[pc].code, pc);
	}
	/* array lookups */
	for (size_t pc = 0; pc < n && npatch && rc == BPFRT_OK; pc++) {
		const struct bpfrt_map *m = seen[pc] ? inline_lookup_map(p, o, pc) : NULL;
		if (m && !bpfrt_plist_deleted(&l, bpfrt_plist_anchor(pc))) {
			struct bpfrt_pinsn seq[7];
			size_t len = lookup_seq(m, seq);
			rc = bpfrt_plist_replace(&l, bpfrt_plist_anchor(pc), seq, len, err);
			st->lookups_inlined++;
		}
		BPFRT_SKIP_LDDW(p->dec[pc].code, pc);
	}
	/* bpf_tail_call -> the internal tail call: imm 0, or a direct site's index + 1 */
	for (size_t pc = 0; pc < n && rc == BPFRT_OK; pc++) {
		if (!seen[pc] || bpfrt_plist_deleted(&l, bpfrt_plist_anchor(pc)) || !is_tail_call(p, pc))
			continue;
		uint32_t key;
		struct bpfrt_map *m = direct_tail(o, pc, &key);
		struct bpfrt_pinsn tc = { .insn = INSN(0xf5, 0, 0, 0, 0) };
		if (m) {
			struct bpfrt_tail_site *t = realloc(p->tail_sites, (p->ntail_sites + 1) * sizeof(*t));
			if (!t) {
				rc = bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
				break;
			}
			p->tail_sites = t;
			t[p->ntail_sites++] = (struct bpfrt_tail_site){ 0, key, m };
			tc.insn.imm = (int32_t)p->ntail_sites;
		}
		rc = bpfrt_plist_replace(&l, bpfrt_plist_anchor(pc), &tc, 1, err);
	}
	/* context accesses: new offsets (and 64-bit loads of packet pointers) */
	for (size_t pc = 0; nctx && pc < n && rc == BPFRT_OK; pc++) {
		uint32_t x = bpfrt_plist_anchor(pc);
		if (seen[pc] && !bpfrt_plist_deleted(&l, x) && is_ctx_access(p, vr, pc)) {
			static const uint8_t sz[4] = { 4, 2, 1, 8 }; /* BPF_W, BPF_H, BPF_B, BPF_DW */
			struct bpfrt_insn in = l.node[x].insn;
			bool sx = (in.code & 0xe0) == 0x80;
			uint8_t size = sz[(in.code >> 3) & 3], nsize;
			int16_t noff;
			/* (a sign-extending load of a packet pointer reads its UAPI bytes: size 0 moves it) */
			bpfrt_ctx_convert(p->type, in.off, sx ? 0 : size, &noff, &nsize);
			struct bpfrt_pinsn seq = { .insn = in };
			seq.insn.off = noff;
			if (!sx && nsize != size) /* a packet pointer: ldxw -> ldxdw */
				seq.insn.code = (uint8_t)((seq.insn.code & ~0x18) | 0x18);
			rc = bpfrt_plist_replace(&l, x, &seq, 1, err);
			st->ctx_converted++;
		}
		BPFRT_SKIP_LDDW(p->dec[pc].code, pc);
	}
	/* bpf_loop: three slots below each function that inlines one (the
	 * frame grows by 24 bytes, once, if it stays within 512) */
	uint8_t *grown = npatch && vr && vr->nsub && p->sub_depth && p->nsub == vr->nsub ? calloc(vr->nsub, 1) : NULL;
	for (size_t pc = 0; grown && pc < n && rc == BPFRT_OK; pc++) {
		int64_t cb = seen[pc] ? inline_loop_cb(p, o, pc) : -1;
		size_t sub = cb >= 0 ? sub_of(vr, pc) : 0;
		uint32_t depth = cb >= 0 ? (vr->sub[sub].stack_depth + 7) & ~7u : 0;
		if (cb >= 0 && !bpfrt_plist_deleted(&l, bpfrt_plist_anchor(pc)) && depth + 24 <= BPFRT_STACK_SIZE) {
			struct bpfrt_pinsn seq[19];
			size_t len = loop_seq(bpfrt_plist_anchor((size_t)cb), (int16_t)-(int32_t)(depth + 24), seq);
			rc = bpfrt_plist_replace(&l, bpfrt_plist_anchor(pc), seq, len, err);
			if (!grown[sub])
				p->sub_depth[sub] = depth + 24;
			grown[sub] = 1;
			st->loops_inlined++;
		}
		BPFRT_SKIP_LDDW(p->dec[pc].code, pc);
	}
	free(grown);
	free(seen);
	/* zero-extension: [insn, mov32 r, r] */
	if (o->zext) {
		for (size_t pc = 0; pc < n && rc == BPFRT_OK; pc++) {
			uint32_t x = bpfrt_plist_anchor(pc);
			int r = bpfrt_plist_deleted(&l, x) ? -1 : def32(&p->dec[pc]);
			if (r >= 0) {
				struct bpfrt_pinsn seq[2] = { { .insn = l.node[x].insn, .to = l.node[x].target },
							      { .insn = INSN(0xbc, (uint8_t)r, (uint8_t)r, 0, 0) } };
				rc = bpfrt_plist_replace(&l, x, seq, 2, err);
				st->zext_added++;
			}
			BPFRT_SKIP_LDDW(p->dec[pc].code, pc);
		}
	}
	/* constant blinding: on the instructions as they are now (zext added none
	 * with an immediate) */
	if (o->blind && rc == BPFRT_OK) {
		uint64_t s = o->seed | 1;
		for (size_t pc = 0; pc < n && rc == BPFRT_OK; pc++) {
			uint32_t x = bpfrt_plist_anchor(pc);
			if (!bpfrt_plist_deleted(&l, x) && bpfrt_plist_orig(&l, x) == (int32_t)pc &&
			    blindable(&p->dec[pc])) {
				struct bpfrt_pinsn seq[7];
				size_t len = blind_one(&l, x, &p->dec[pc], (uint32_t)next_key(&s), seq);
				rc = bpfrt_plist_replace(&l, x, seq, len, err);
				st->blinded++;
			}
			BPFRT_SKIP_LDDW(p->dec[pc].code, pc);
		}
	}
	uint64_t t1 = now();
	st->rewrite_ns = t1 - t0;
	struct bpfrt_linear lin;
	if (rc == BPFRT_OK)
		rc = bpfrt_plist_linearize(&l, &lin, err);
	bpfrt_plist_free(&l);
	if (rc != BPFRT_OK)
		return rc;
	st->linearize_ns = now() - t1;
	/* the engines run the rewritten program */
	struct bpfrt_insn *x = malloc((lin.n ? lin.n : 1) * sizeof(*x));
	int32_t *orig = malloc((lin.n ? lin.n : 1) * sizeof(*orig));
	struct bpfrt_insn *dec = malloc((lin.n ? lin.n : 1) * sizeof(*dec));
	if (!x || !orig || !dec) {
		free(x);
		free(orig);
		free(dec);
		bpfrt_linear_free(&lin);
		return bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
	}
	memcpy(x, lin.insns, lin.n * sizeof(*x));
	memcpy(orig, lin.orig, lin.n * sizeof(*orig));
	size_t nx = lin.n;
	bpfrt_linear_free(&lin);
	uint64_t t2 = now();
	/* decode it, checking the passes' output as any program */
	rc = bpfrt_validate(x, nx, &p->helpers, BPFRT_VALIDATE_AX, dec, err);
	if (rc != BPFRT_OK) {
		free(x);
		free(orig);
		free(dec);
		return bpfrt_err_set(err, BPFRT_EINTERNAL, "internal error: the rewritten program is "
				     "invalid: %.400s", err->msg);
	}
	st->decode_ns = now() - t2;
	free(p->xlated);
	free(p->xlated_orig);
	free(p->dec);
	p->xlated = x;
	p->xlated_orig = orig;
	p->dec = dec;
	p->nx = nx;
	st->insns_out = nx;
	return BPFRT_OK;
}
