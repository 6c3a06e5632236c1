/*
 * patch.c — the patchable-instruction list and its linearisation.  See
 * patch.h for the semantics of each operation.
 *
 * The nodes live in one array, named by index: the original instructions'
 * first (node 1 + i is instruction i), those that patches add after them.
 * A node is 16 bytes (the instruction and two 32-bit links) and 4 of meta
 * in a parallel array; an LDDW's second-slot imm is in a third, touched only
 * where there are LDDWs.  The arrays grow by moving pages (mremap), not by
 * copying.  Nothing is freed before the list is: a deleted node stays in the
 * chain, flagged, so that links to it stay valid (a jump to it lands on the
 * next live node at linearisation).
 */
#include "internal.h"
#include "patch.h"

_Static_assert(sizeof(struct bpfrt_pnode) == 16, "a list node is 16 bytes (and 4 of meta)");
/* orig holds indices too: programs stay far below 2^27 instructions */
#define PATCH_MAX_SLOTS (1u << 27)
#define PATCH_MAX_NODES (1u << 28)

#define META(orig, flags) (((uint32_t)(int32_t)(orig) << PN_ORIG_SHIFT) | (flags))
#define WIDE(nd) ((nd)->insn.code == 0x18)

static void set_orig(struct bpfrt_plist *l, uint32_t x, int32_t orig)
{
	l->meta[x] = META(orig, l->meta[x] & ((1u << PN_ORIG_SHIFT) - 1));
}

/* Room for n nodes in all. */
static bool reserve(struct bpfrt_plist *l, size_t n)
{
	if (n <= l->cap)
		return true;
	if (n > PATCH_MAX_NODES)
		return false;
	size_t cap = l->cap * 2 > n ? l->cap * 2 : n;
	if (cap > PATCH_MAX_NODES)
		cap = PATCH_MAX_NODES;
	/* (not zeroed: init and build_chain write every field they read) */
	struct bpfrt_pnode *nd = bpfrt_big_realloc(l->node, cap * sizeof(*nd));
	if (!nd)
		return false;
	l->node = nd;
	uint32_t *m = bpfrt_big_realloc(l->meta, cap * sizeof(*m));
	if (!m)
		return false;
	l->meta = m;
	int32_t *h = bpfrt_big_realloc(l->hi, cap * sizeof(*h));
	if (!h)
		return false;
	l->hi = h;
	l->cap = cap;
	return true;
}

/* k new nodes, contiguous (not zeroed: the caller fills them): the first's index, or 0. */
static uint32_t nodes_new(struct bpfrt_plist *l, size_t k)
{
	if (unlikely(l->nodes + k > l->cap) && !reserve(l, l->nodes + k))
		return 0;
	uint32_t x = (uint32_t)l->nodes;
	l->nodes += k;
	return x;
}

int bpfrt_plist_init(struct bpfrt_plist *l, const struct bpfrt_insn *insns, size_t n,
		     void *const *aux, const struct bpfrt_linfo *linfo, size_t nlinfo,
		     struct bpfrt_err *err)
{
	memset(l, 0, sizeof(*l));
	if (n >= PATCH_MAX_SLOTS)
		return bpfrt_err_set(err, BPFRT_EREJECT, "the program is too large to rewrite");
	/* room for a one-instruction patch per four instructions before the arrays move */
	bool ok = reserve(l, n + 1 + n / 4 + 64);
	l->linfo = malloc((nlinfo ? nlinfo : 1) * sizeof(*l->linfo));
	void **a = aux ? bpfrt_big_alloc((n ? n : 1) * sizeof(*a)) : NULL;
	l->aux = a;
	if (!ok || !l->linfo || (aux && !a)) {
		bpfrt_plist_free(l);
		return bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
	}
	if (nlinfo)
		memcpy(l->linfo, linfo, nlinfo * sizeof(*linfo));
	if (aux && n)
		memcpy(a, aux, n * sizeof(*a));
	l->nlinfo = nlinfo;
	l->norig = n;
	l->nodes = n + 1;
	/* One walk: the nodes, their branch targets (a forward target's node is
	 * known before it is filled: its meta is or-ed into, so a subprogram mark
	 * set early stays), and the subprograms that calls start. */
	struct bpfrt_pnode *node = l->node;
	uint32_t *meta = l->meta;
	uint32_t prev = 0;
	node[0] = (struct bpfrt_pnode){ .next = 0 };
	memset(meta, 0, (n + 1) * sizeof(*meta)); /* flags are or-ed in, forward ones early */
	if (n)
		meta[1] = PN_SUBPROG;
	l->nsub = n ? 1 : 0;
	size_t live = 0, slots = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t x = (uint32_t)i + 1;
		node[x] = (struct bpfrt_pnode){ .insn = insns[i] };
		meta[x] |= META(i, 0);
		node[prev].next = x;
		prev = x;
		live++;
		slots++;
		bool in_imm;
		if (unlikely(bpfrt_insn_branch(&insns[i], &in_imm))) {
			int64_t t = (int64_t)i + 1 + (in_imm ? insns[i].imm : insns[i].off);
			/* (a target right after an lddw's first slot is its second
			 * slot; second slots have code 0) */
			if (t < 0 || t >= (int64_t)n || (t > 0 && insns[t - 1].code == 0x18)) {
				bpfrt_plist_free(l);
				return bpfrt_err_set(err, BPFRT_EINTERNAL,
						     "internal error: insn %zu: bad branch target %" PRId64, i, t);
			}
			uint32_t tx = (uint32_t)t + 1;
			node[x].target = tx;
			meta[tx] |= PN_TARGET;
			if (in_imm && (insns[i].code & 7) != BPF_JMP32 && !(meta[tx] & PN_SUBPROG)) {
				meta[tx] |= PN_SUBPROG; /* a call or ld_func target */
				l->nsub++;
			}
		}
		if (insns[i].code == 0x18 && i + 1 < n) { /* the second slot joins its node */
			node[x + 1] = (struct bpfrt_pnode){ .next = 0 }; /* (its own stays unused) */
			l->hi[x] = insns[++i].imm;
			slots++;
		}
	}
	l->live = live;
	l->slots = slots;
	return BPFRT_OK;
}

void bpfrt_plist_free(struct bpfrt_plist *l)
{
	bpfrt_big_free(l->node);
	bpfrt_big_free(l->meta);
	bpfrt_big_free(l->hi);
	bpfrt_big_free((void *)l->aux);
	free(l->linfo);
	memset(l, 0, sizeof(*l));
}

static bool bad_node(const struct bpfrt_plist *l, uint32_t x)
{
	return !x || x >= l->nodes;
}

/* A patch's nodes: the first is given (it takes the place of the node
 * patched), the others are run, run + 1, ... */
#define SEQ_NODE(first, run, i) ((i) ? (run) + (uint32_t)(i) - 1 : (first))

/* Makes the nodes of seq[1..len) (first is seq[0]'s), links them in a
 * chain ending at `after` (0: the end of the list), fills every node from
 * seq: the patched node keeps its flags (subprogram start, deleted state),
 * new ones are inserted instructions.  Relative targets resolve against the
 * sequence's nodes and `after`. */
static inline __attribute__((always_inline)) int
build_chain(struct bpfrt_plist *l, uint32_t first, const struct bpfrt_pinsn *seq, size_t len, uint32_t after,
	    uint32_t *last, struct bpfrt_err *err)
{
	uint32_t run = 0;
	if (len > 1 && !(run = nodes_new(l, len - 1)))
		return bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
	struct bpfrt_pnode *node = l->node;
	for (size_t i = 1; i < len; i++) /* (before targets inside seq are flagged) */
		l->meta[run + i - 1] = META(PATCH_INSERTED, 0);
	for (size_t i = 0; i < len; i++) {
		const struct bpfrt_pinsn *pi = &seq[i];
		uint32_t x = SEQ_NODE(first, run, i);
		struct bpfrt_pnode *nd = &node[x];
		nd->insn = pi->insn;
		nd->next = i + 1 < len ? run + (uint32_t)i : after;
		nd->target = 0;
		bool wide = pi->insn.code == 0x18;
		if (wide)
			l->hi[x] = pi->imm_hi;
		l->live += i > 0;
		l->slots += wide ? 2 : 1;
		bool in_imm;
		if (!bpfrt_insn_branch(&pi->insn, &in_imm))
			continue;
		if (pi->to) {
			if (bad_node(l, pi->to))
				return bpfrt_err_set(err, BPFRT_EINTERNAL,
						     "internal error: patch instruction %zu targets no node", i);
			nd->target = pi->to;
			l->meta[pi->to] |= PN_TARGET;
			continue;
		}
		int64_t t = (int64_t)i + 1 + (in_imm ? pi->insn.imm : pi->insn.off);
		if (t < 0 || t > (int64_t)len || (t == (int64_t)len && !after))
			return bpfrt_err_set(err, BPFRT_EINTERNAL,
					     "internal error: patch instruction %zu jumps to %" PRId64
					     ", outside its sequence of %zu", i, t, len);
		nd->target = t == (int64_t)len ? after : SEQ_NODE(first, run, t);
		l->meta[nd->target] |= PN_TARGET;
	}
	*last = SEQ_NODE(first, run, len - 1);
	return BPFRT_OK;
}

int bpfrt_plist_replace(struct bpfrt_plist *l, uint32_t x, const struct bpfrt_pinsn *seq,
			size_t len, struct bpfrt_err *err)
{
	if (!len || bad_node(l, x) || bpfrt_plist_deleted(l, x))
		return bpfrt_err_set(err, BPFRT_EINTERNAL, "internal error: bad replace");
	int32_t orig = bpfrt_plist_orig(l, x);
	uint32_t last = 0;
	l->slots -= WIDE(&l->node[x]) ? 2 : 1;
	int rc = build_chain(l, x, seq, len, l->node[x].next, &last, err);
	if (rc != BPFRT_OK)
		return rc;
	/* the original's facts go to the last instruction of its replacement */
	set_orig(l, x, PATCH_INSERTED);
	set_orig(l, last, orig);
	return BPFRT_OK;
}

int bpfrt_plist_insert_before(struct bpfrt_plist *l, uint32_t x, const struct bpfrt_pinsn *seq,
			      size_t len, struct bpfrt_err *err)
{
	if (bad_node(l, x))
		return bpfrt_err_set(err, BPFRT_EINTERNAL, "internal error: bad insert");
	if (!len)
		return BPFRT_OK;
	/* x's node becomes seq[0], so jumps to x land on the sequence; x's
	 * instruction and facts move to a new node y after it (its slots are
	 * x's, counted already when x is live) */
	uint32_t y = nodes_new(l, 1), last = 0;
	if (!y)
		return bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
	l->node[y] = l->node[x];
	l->hi[y] = l->hi[x];
	l->meta[y] = l->meta[x] & ~PN_SUBPROG;
	if (bpfrt_plist_deleted(l, x))
		l->live++; /* x becomes live as seq[0]; y is the deleted one */
	l->meta[x] = META(PATCH_INSERTED, l->meta[x] & (PN_SUBPROG | PN_TARGET));
	int rc = build_chain(l, x, seq, len, y, &last, err);
	if (rc == BPFRT_OK && !bpfrt_plist_deleted(l, y))
		l->live++;
	return rc;
}

int bpfrt_plist_insert_prologue(struct bpfrt_plist *l, uint32_t x, const struct bpfrt_pinsn *seq,
				size_t len, struct bpfrt_err *err)
{
	int rc = bpfrt_plist_insert_before(l, x, seq, len, err);
	if (rc != BPFRT_OK || !len)
		return rc;
	struct bpfrt_pnode *node = l->node;
	uint32_t *meta = l->meta;
	uint32_t y = x;
	for (size_t i = 0; i < len; i++)
		y = node[y].next; /* x's instruction, after the prologue */
	/* Jumps that land on x: those to x, and those to the deleted nodes just
	 * before it (they resolve to x).  Mark those. */
	meta[x] |= PN_MARK;
	for (uint32_t nd = node[0].next, run = 0; nd && nd != x; nd = node[nd].next) {
		if (!(meta[nd] & PN_DELETED)) {
			run = 0;
			continue;
		}
		if (!run)
			run = nd;
		if (node[nd].next == x)
			for (uint32_t d = run; d != x; d = node[d].next)
				meta[d] |= PN_MARK;
	}
	bool in_imm;
	for (uint32_t nd = node[0].next; nd; nd = node[nd].next) {
		if (nd == x) /* skip the prologue itself */
			nd = y;
		uint32_t t = node[nd].target;
		if (t && (meta[t] & PN_MARK) && bpfrt_insn_branch(&node[nd].insn, &in_imm) &&
		    !(in_imm && node[nd].insn.code != 0x06)) { /* jumps and ja32, not calls or ld_func */
			node[nd].target = y;
			meta[y] |= PN_TARGET;
		}
	}
	for (uint32_t nd = node[0].next; nd; nd = node[nd].next)
		meta[nd] &= ~PN_MARK;
	return BPFRT_OK;
}

void bpfrt_plist_delete(struct bpfrt_plist *l, uint32_t x)
{
	if (bad_node(l, x) || bpfrt_plist_deleted(l, x))
		return;
	l->meta[x] |= PN_DELETED;
	l->live--;
	l->slots -= WIDE(&l->node[x]) ? 2 : 1;
}

void bpfrt_linear_free(struct bpfrt_linear *lin)
{
	bpfrt_big_free(lin->insns);
	bpfrt_big_free(lin->aux);
	bpfrt_big_free(lin->orig);
	bpfrt_big_free(lin->new_of_orig);
	bpfrt_big_free(lin->subprog);
	bpfrt_big_free(lin->linfo);
	memset(lin, 0, sizeof(*lin));
}

/* The branch of node x, emitted at `at`: its offset to its target. */
static int set_offset(const struct bpfrt_plist *l, struct bpfrt_linear *out, uint32_t x, uint32_t at,
		      int32_t orig, size_t n, struct bpfrt_err *err)
{
	struct bpfrt_insn *in = &out->insns[at];
	bool in_imm = false;
	bpfrt_insn_branch(in, &in_imm);
	uint32_t t = (uint32_t)bpfrt_plist_orig(l, l->node[x].target); /* passed: its index */
	if (t >= n)
		return bpfrt_err_set(err, BPFRT_EREJECT,
				     "insn %u: its jump target was deleted and nothing follows it", at);
	int64_t d = (int64_t)t - ((int64_t)at + 1);
	if (in_imm) {
		in->imm = (int32_t)d;
	} else if (d >= INT16_MIN && d <= INT16_MAX) {
		in->off = (int16_t)d;
	} else if (in->code == 0x05) { /* ja: becomes gotol */
		in->code = 0x06;
		in->off = 0;
		in->imm = (int32_t)d;
	} else {
		return bpfrt_err_set(err, BPFRT_EREJECT,
				     "insn %u (originally %d): after rewriting, its conditional jump spans "
				     "%" PRId64 " instructions, beyond the 16-bit offset", at, orig, d);
	}
	return BPFRT_OK;
}

/* The linearisation's walk; `extra`: line info and aux to carry. */
static inline __attribute__((always_inline)) int walk(struct bpfrt_plist *l, struct bpfrt_linear *out,
							size_t n, const bool extra, struct bpfrt_err *err)
{
	int rc;
	/* One walk gives each node that a branch targets its index (a deleted
	 * node the index of the next live one: it goes into orig, which is dead
	 * once emitted) and marks it passed, emits the live nodes, and leaves
	 * branches to nodes not passed yet to a fixup list resolved at the end. */
	struct fixup { uint32_t at; int32_t orig; uint32_t x; } *fix = NULL;
	size_t nfix = 0, capfix = 0;
	uint32_t idx = 0;

	/* instructions, offsets, aux, subprograms, line info — one walk */
	bool pending_start = false, have_pending_line = false;
	struct bpfrt_linfo pending_line = { 0, 0 };
	size_t k = 0; /* next line info entry (sorted by instruction) */
	size_t nline = 0;
	const struct bpfrt_pnode *node = l->node;
	uint32_t *meta = l->meta;
	const uint32_t norig = (uint32_t)l->norig;
	for (uint32_t x = node[0].next; x; x = node[x].next) {
		/* the walk chases links through two runs of the array (original
		 * instructions, patches) it mostly reads in order: fetch ahead */
		__builtin_prefetch(&node[x + 8]);
		__builtin_prefetch(&meta[x + 16], 1);
		const struct bpfrt_pnode *nd = &node[x];
		uint32_t m = meta[x];
		int32_t orig = (int32_t)m >> PN_ORIG_SHIFT;
		uint32_t at = idx;
		if (m & PN_TARGET) /* its index, for the branches to it */
			meta[x] = META(at, (m & ((1u << PN_ORIG_SHIFT) - 1)) | PN_MARK);
		bool deleted = m & PN_DELETED, wide = WIDE(nd);
		if (!deleted)
			idx += wide ? 2 : 1;
		if (m & PN_SUBPROG) {
			pending_start = true;
			have_pending_line = false; /* a deleted line does not cross into another subprogram */
		}
		size_t a = x - 1u < norig ? x - 1u : SIZE_MAX; /* an original instruction's node */
		/* line info anchored at this node */
		bool own_line = false;
		struct bpfrt_linfo line = { 0, 0 };
		while (extra && a != SIZE_MAX && k < l->nlinfo && l->linfo[k].insn <= a) {
			if (l->linfo[k].insn == a) {
				line = l->linfo[k];
				own_line = true;
			}
			k++;
		}
		if (deleted) {
			if (extra && own_line) {
				pending_line = line;
				have_pending_line = true;
			}
			continue;
		}
		if (pending_start) {
			out->subprog[out->nsubprog++] = at;
			pending_start = false;
		}
		if (extra && (own_line || have_pending_line)) {
			out->linfo[nline].insn = at;
			out->linfo[nline].line = own_line ? line.line : pending_line.line;
			nline++;
			have_pending_line = false;
		}
		if (a != SIZE_MAX)
			out->new_of_orig[a] = at;
		out->insns[at] = nd->insn;
		if (nd->target) { /* a branch (build_chain and init give every branch its target) */
			if (!(meta[nd->target] & PN_MARK)) { /* forward: later */
				if (nfix == capfix) {
					capfix = capfix ? capfix * 2 : 1024;
					struct fixup *f = realloc(fix, capfix * sizeof(*f));
					if (!f) {
						rc = bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
						goto fail;
					}
					fix = f;
				}
				fix[nfix++] = (struct fixup){ at, orig, x };
			} else if ((rc = set_offset(l, out, x, at, orig, n, err)) != BPFRT_OK) {
				goto fail;
			}
		}
		if (extra && out->aux)
			out->aux[at] = orig >= 0 ? l->aux[orig] : NULL;
		out->orig[at] = orig;
		if (wide) {
			out->insns[at + 1] = (struct bpfrt_insn){ .imm = l->hi[x] };
			if (extra && out->aux)
				out->aux[at + 1] = NULL;
			out->orig[at + 1] = orig >= 0 ? orig + 1 : PATCH_INSERTED;
			if (a != SIZE_MAX && a + 1 < l->norig)
				out->new_of_orig[a + 1] = at + 1;
		}
	}
	BPFRT_ASSERT(idx == n);
	for (size_t i = 0; i < nfix; i++)
		if ((rc = set_offset(l, out, fix[i].x, fix[i].at, fix[i].orig, n, err)) != BPFRT_OK)
			goto fail;
	free(fix);
	out->n = n;
	out->nlinfo = nline;
	return BPFRT_OK;
fail:
	free(fix);
	return rc;
}

int bpfrt_plist_linearize(struct bpfrt_plist *l, struct bpfrt_linear *out, struct bpfrt_err *err)
{
	int rc;
	memset(out, 0, sizeof(*out));
	if (l->linearized)
		return bpfrt_err_set(err, BPFRT_EINTERNAL, "internal error: a list linearises once");
	size_t n = l->slots;
	if (n >= PATCH_MAX_SLOTS)
		return bpfrt_err_set(err, BPFRT_EREJECT, "the rewritten program is too large");
	l->linearized = true;
	size_t nsub = l->nsub;
	/* (not zeroed: the walk writes every entry up to the counts) */
	out->insns = bpfrt_big_alloc_raw((n ? n : 1) * sizeof(*out->insns));
	out->aux = l->aux ? bpfrt_big_alloc_raw((n ? n : 1) * sizeof(*out->aux)) : NULL;
	out->orig = bpfrt_big_alloc_raw((n ? n : 1) * sizeof(*out->orig));
	out->new_of_orig = bpfrt_big_alloc_raw((l->norig ? l->norig : 1) * sizeof(*out->new_of_orig));
	out->subprog = bpfrt_big_alloc_raw((nsub ? nsub : 1) * sizeof(*out->subprog));
	out->linfo = bpfrt_big_alloc_raw((l->nlinfo ? l->nlinfo : 1) * sizeof(*out->linfo));
	if (!out->insns || (l->aux && !out->aux) || !out->orig || !out->new_of_orig || !out->subprog || !out->linfo) {
		bpfrt_linear_free(out);
		return bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
	}
	memset(out->new_of_orig, 0xff, l->norig * sizeof(*out->new_of_orig)); /* -1 */
	/* (the passes' lists have neither line info nor aux: that walk has
	 * fewer live values) */
	if (l->nlinfo || l->aux)
		rc = walk(l, out, n, true, err);
	else
		rc = walk(l, out, n, false, err);
	if (rc != BPFRT_OK)
		bpfrt_linear_free(out);
	return rc;
}
