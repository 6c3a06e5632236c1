/*
 * patch.c — the patchable-instruction list and its linearisation.  See
 * patch.h for the semantics of each operation.
 *
 * Nodes of the original instructions live in one array (l->anchor), so a
 * node's original index is its place in it; nodes that patches add come
 * from chunks.  Nothing is freed before the list is: a deleted node stays
 * in the chain, flagged, so that pointers to it stay valid (a jump to it
 * lands on the next live node at linearisation).
 */
#include "internal.h"
#include "patch.h"

_Static_assert(sizeof(struct bpfrt_pnode) == 32, "a list node is 32 bytes");
/* orig holds indices too: programs stay far below 2^27 instructions */
#define PATCH_MAX_SLOTS (1u << 27)

/* Chunks of nodes for patches: the first small, each next twice as large,
 * up to 3 MiB (huge pages). */
#define CHUNK_MIN 64
#define CHUNK_MAX 65536

struct chunk {
	struct chunk *next;
	size_t cap;
	struct bpfrt_pnode node[];
};

/* k new nodes, contiguous (zeroed), or NULL. */
static struct bpfrt_pnode *nodes_new(struct bpfrt_plist *l, size_t k)
{
	if (!l->chunks || l->chunk_used + k > l->chunks->cap) {
		size_t cap = l->chunks ? l->chunks->cap * 2 : CHUNK_MIN;
		if (cap > CHUNK_MAX)
			cap = CHUNK_MAX;
		if (cap < k)
			cap = k;
		struct chunk *c = bpfrt_big_alloc(sizeof(*c) + cap * sizeof(c->node[0]));
		if (!c)
			return NULL;
		c->cap = cap;
		c->next = l->chunks;
		l->chunks = c;
		l->chunk_used = 0;
	}
	struct bpfrt_pnode *nd = &l->chunks->node[l->chunk_used]; /* zeroed; set_insn fills them */
	l->chunk_used += k;
	l->nodes += k;
	return nd;
}

int bpfrt_plist_init(struct bpfrt_plist *l, const struct bpfrt_insn *insns, size_t n,
		     void *const *aux, const struct bpfrt_linfo *linfo, size_t nlinfo,
		     struct bpfrt_err *err)
{
	memset(l, 0, sizeof(*l));
	l->anchor = bpfrt_big_alloc((n ? n : 1) * sizeof(*l->anchor));
	l->linfo = malloc((nlinfo ? nlinfo : 1) * sizeof(*l->linfo));
	void **a = aux ? bpfrt_big_alloc((n ? n : 1) * sizeof(*a)) : NULL;
	l->aux = a;
	if (!l->anchor || !l->linfo || (aux && !a)) {
		bpfrt_plist_free(l);
		return bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
	}
	if (nlinfo)
		memcpy(l->linfo, linfo, nlinfo * sizeof(*linfo));
	if (aux && n)
		memcpy(a, aux, n * sizeof(*a));
	l->nlinfo = nlinfo;
	l->norig = n;
	/* One walk: the nodes, their branch targets (anchors are an array: a
	 * forward target's node is known before it is filled; the fields are
	 * written one by one, so a subprogram mark set early stays), and the
	 * subprograms that calls start. */
	struct bpfrt_pnode *prev = &l->head;
	if (n)
		l->anchor[0].subprog = 1;
	l->nsub = n ? 1 : 0;
	size_t nodes = 0, slots = 0;
	for (size_t i = 0; i < n; i++) {
		struct bpfrt_pnode *nd = &l->anchor[i];
		nd->insn = insns[i];
		nd->orig = (int32_t)i;
		prev->next = nd;
		prev = nd;
		nodes++;
		slots++;
		bool in_imm;
		if (unlikely(bpfrt_insn_branch(&insns[i], &in_imm))) {
			int64_t t = (int64_t)i + 1 + (in_imm ? insns[i].imm : insns[i].off);
			/* (a target right after an lddw's first slot is its second
			 * slot; second slots have code 0) */
			if (t < 0 || t >= (int64_t)n || (t > 0 && insns[t - 1].code == 0x18)) {
				l->nodes = nodes;
				bpfrt_plist_free(l);
				return bpfrt_err_set(err, BPFRT_EINTERNAL,
						     "internal error: insn %zu: bad branch target %" PRId64, i, t);
			}
			nd->target = &l->anchor[t];
			if (in_imm && (insns[i].code & 7) != BPF_JMP32 && !nd->target->subprog) {
				nd->target->subprog = 1; /* a call or ld_func target */
				l->nsub++;
			}
		}
		if (insns[i].code == 0x18 && i + 1 < n) { /* the second slot joins its node */
			nd->wide = 1;
			nd->imm_hi = insns[++i].imm;
			slots++;
		}
	}
	l->nodes = nodes;
	l->live = nodes;
	l->slots = slots;
	return BPFRT_OK;
}

void bpfrt_plist_free(struct bpfrt_plist *l)
{
	for (struct chunk *c = l->chunks, *next; c; c = next) {
		next = c->next;
		bpfrt_big_free(c);
	}
	bpfrt_big_free(l->anchor);
	bpfrt_big_free((void *)l->aux);
	free(l->linfo);
	memset(l, 0, sizeof(*l));
}

/* A patch's nodes: the first is given (it takes the place of the node
 * patched), the others run[0..len-1). */
#define SEQ_NODE(first, run, i) ((i) ? &(run)[(i) - 1] : (first))

/* Fills node nd from pi; relative targets resolve against the sequence's
 * nodes and `after` (the node after the sequence). */
static int set_insn(struct bpfrt_pnode *nd, const struct bpfrt_pinsn *pi, size_t i, size_t len,
		    struct bpfrt_pnode *first, struct bpfrt_pnode *run, struct bpfrt_pnode *after,
		    struct bpfrt_err *err)
{
	if (i) { /* a new node: all of it at once */
		*nd = (struct bpfrt_pnode){ .insn = pi->insn, .imm_hi = pi->imm_hi, .orig = PATCH_INSERTED,
					    .wide = pi->insn.code == 0x18 };
	} else { /* the patched node: its place (subprogram start, deleted state) stays */
		nd->insn = pi->insn;
		nd->imm_hi = pi->imm_hi;
		nd->wide = pi->insn.code == 0x18;
		nd->target = NULL;
	}
	bool in_imm;
	if (!bpfrt_insn_branch(&pi->insn, &in_imm))
		return BPFRT_OK;
	if (pi->to) {
		nd->target = pi->to;
		return BPFRT_OK;
	}
	int64_t t = (int64_t)i + 1 + (in_imm ? pi->insn.imm : pi->insn.off);
	if (t < 0 || t > (int64_t)len || (t == (int64_t)len && !after))
		return bpfrt_err_set(err, BPFRT_EINTERNAL,
				     "internal error: patch instruction %zu jumps to %" PRId64
				     ", outside its sequence of %zu", i, t, len);
	nd->target = t == (int64_t)len ? after : SEQ_NODE(first, run, t);
	return BPFRT_OK;
}

/* Makes the nodes of seq[1..len) (first is seq[0]'s), links them in a
 * chain ending at `after`, fills every node from seq. */
static int build_chain(struct bpfrt_plist *l, struct bpfrt_pnode *first, const struct bpfrt_pinsn *seq,
		       size_t len, struct bpfrt_pnode *after, struct bpfrt_pnode **last,
		       struct bpfrt_err *err)
{
	struct bpfrt_pnode *run = len > 1 ? nodes_new(l, len - 1) : NULL;
	if (len > 1 && !run)
		return bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
	for (size_t i = 0; i < len; i++) {
		struct bpfrt_pnode *nd = SEQ_NODE(first, run, i);
		int rc = set_insn(nd, &seq[i], i, len, first, run, after, err);
		if (rc != BPFRT_OK)
			return rc;
		nd->next = i + 1 < len ? &run[i] : after;
		l->live += i > 0;
		l->slots += nd->wide ? 2 : 1;
	}
	*last = SEQ_NODE(first, run, len - 1);
	return BPFRT_OK;
}

int bpfrt_plist_replace(struct bpfrt_plist *l, struct bpfrt_pnode *x, const struct bpfrt_pinsn *seq,
			size_t len, struct bpfrt_err *err)
{
	if (!len || x->deleted)
		return bpfrt_err_set(err, BPFRT_EINTERNAL, "internal error: bad replace");
	int32_t orig = x->orig;
	struct bpfrt_pnode *after = x->next, *last;
	l->slots -= x->wide ? 2 : 1;
	int rc = build_chain(l, x, seq, len, after, &last, err);
	if (rc != BPFRT_OK)
		return rc;
	/* the original's facts go to the last instruction of its replacement */
	x->orig = PATCH_INSERTED;
	last->orig = orig;
	return BPFRT_OK;
}

int bpfrt_plist_insert_before(struct bpfrt_plist *l, struct bpfrt_pnode *x,
			      const struct bpfrt_pinsn *seq, size_t len, struct bpfrt_err *err)
{
	if (!len)
		return BPFRT_OK;
	/* x's node object becomes seq[0], so jumps to x land on the sequence;
	 * x's instruction and facts move to a new node after it */
	struct bpfrt_pnode *y = nodes_new(l, 1), *last;
	if (!y)
		return bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
	*y = *x;
	y->subprog = 0;
	if (!x->deleted) {
		l->slots -= x->wide ? 2 : 1; /* counted again below, and for y */
		l->slots += y->wide ? 2 : 1;
	} else {
		l->live++; /* x becomes live as seq[0]; y is the deleted one */
	}
	x->deleted = 0;
	x->orig = PATCH_INSERTED;
	int rc = build_chain(l, x, seq, len, y, &last, err);
	if (rc == BPFRT_OK && !y->deleted)
		l->live++;
	return rc;
}

int bpfrt_plist_insert_prologue(struct bpfrt_plist *l, struct bpfrt_pnode *x,
				const struct bpfrt_pinsn *seq, size_t len, struct bpfrt_err *err)
{
	int rc = bpfrt_plist_insert_before(l, x, seq, len, err);
	if (rc != BPFRT_OK || !len)
		return rc;
	struct bpfrt_pnode *y = x;
	for (size_t i = 0; i < len; i++)
		y = y->next; /* x's instruction, after the prologue */
	/* Jumps that land on x: those to x, and those to the deleted nodes just
	 * before it (they resolve to x).  Mark those. */
	x->mark = 1;
	for (struct bpfrt_pnode *nd = l->head.next, *run = NULL; nd && nd != x; nd = nd->next) {
		if (!nd->deleted) {
			run = NULL;
			continue;
		}
		if (!run)
			run = nd;
		if (nd->next == x)
			for (struct bpfrt_pnode *d = run; d != x; d = d->next)
				d->mark = 1;
	}
	bool in_imm;
	for (struct bpfrt_pnode *nd = l->head.next; nd; nd = nd->next) {
		if (nd == x) /* skip the prologue itself */
			nd = y;
		if (nd->target && nd->target->mark && bpfrt_insn_branch(&nd->insn, &in_imm) &&
		    !(in_imm && nd->insn.code != 0x06)) /* jumps and ja32, not calls or ld_func */
			nd->target = y;
	}
	for (struct bpfrt_pnode *nd = l->head.next; nd; nd = nd->next)
		nd->mark = 0;
	return BPFRT_OK;
}

void bpfrt_plist_delete(struct bpfrt_plist *l, struct bpfrt_pnode *x)
{
	if (x->deleted)
		return;
	x->deleted = 1;
	l->live--;
	l->slots -= x->wide ? 2 : 1;
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

static size_t anchor_index(const struct bpfrt_plist *l, const struct bpfrt_pnode *nd)
{
	return nd >= l->anchor && nd < l->anchor + l->norig ? (size_t)(nd - l->anchor) : SIZE_MAX;
}

/* The branch of node nd, emitted at `at`: its offset to its target. */
static int set_offset(struct bpfrt_linear *out, const struct bpfrt_pnode *nd, uint32_t at, int32_t orig, size_t n,
		      struct bpfrt_err *err)
{
	struct bpfrt_insn *in = &out->insns[at];
	bool in_imm = false;
	bpfrt_insn_branch(in, &in_imm);
	uint32_t t = (uint32_t)nd->target->orig; /* passed: its index */
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
	out->insns = bpfrt_big_alloc((n ? n : 1) * sizeof(*out->insns));
	out->aux = l->aux ? bpfrt_big_alloc((n ? n : 1) * sizeof(*out->aux)) : NULL;
	out->orig = bpfrt_big_alloc((n ? n : 1) * sizeof(*out->orig));
	out->new_of_orig = bpfrt_big_alloc((l->norig ? l->norig : 1) * sizeof(*out->new_of_orig));
	out->subprog = bpfrt_big_alloc((nsub ? nsub : 1) * sizeof(*out->subprog));
	out->linfo = bpfrt_big_alloc((l->nlinfo ? l->nlinfo : 1) * sizeof(*out->linfo));
	if (!out->insns || (l->aux && !out->aux) || !out->orig || !out->new_of_orig || !out->subprog || !out->linfo) {
		bpfrt_linear_free(out);
		return bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < l->norig; i++)
		out->new_of_orig[i] = -1;
	/* One walk gives each node its index (a deleted node the index of the
	 * next live one: it goes into orig, which is dead once emitted) and
	 * marks it passed, emits the live ones, and leaves branches to nodes
	 * not passed yet to a fixup list resolved at the end. */
	struct fixup { uint32_t at; int32_t orig; struct bpfrt_pnode *nd; } *fix = NULL;
	size_t nfix = 0, capfix = 0;
	uint32_t idx = 0;

	/* instructions, offsets, aux, subprograms, line info — one walk */
	bool pending_start = false, have_pending_line = false;
	struct bpfrt_linfo pending_line = { 0, 0 };
	size_t k = 0; /* next line info entry (sorted by instruction) */
	size_t nline = 0;
	for (struct bpfrt_pnode *nd = l->head.next; nd; nd = nd->next) {
		/* the walk chases pointers through two arrays (anchors, patch chunks) it
		 * mostly reads in order: fetch ahead in the node's own array */
		__builtin_prefetch(nd + 8, 1);
		size_t a = anchor_index(l, nd);
		int32_t orig = nd->orig;
		uint32_t at = idx;
		nd->orig = (int32_t)at;
		nd->mark = 1;
		if (!nd->deleted)
			idx += nd->wide ? 2 : 1;
		if (nd->subprog) {
			pending_start = true;
			have_pending_line = false; /* a deleted line does not cross into another subprogram */
		}
		/* line info anchored at this node */
		bool own_line = false;
		struct bpfrt_linfo line = { 0, 0 };
		while (a != SIZE_MAX && k < l->nlinfo && l->linfo[k].insn <= a) {
			if (l->linfo[k].insn == a) {
				line = l->linfo[k];
				own_line = true;
			}
			k++;
		}
		if (nd->deleted) {
			if (own_line) {
				pending_line = line;
				have_pending_line = true;
			}
			continue;
		}
		if (pending_start) {
			out->subprog[out->nsubprog++] = at;
			pending_start = false;
		}
		if (own_line || have_pending_line) {
			out->linfo[nline].insn = at;
			out->linfo[nline].line = own_line ? line.line : pending_line.line;
			nline++;
			have_pending_line = false;
		}
		if (a != SIZE_MAX)
			out->new_of_orig[a] = at;
		out->insns[at] = nd->insn;
		if (nd->target) { /* a branch (set_insn and init give every branch its target) */
			if (!nd->target->mark) { /* forward: later */
				if (nfix == capfix) {
					capfix = capfix ? capfix * 2 : 1024;
					struct fixup *f = realloc(fix, capfix * sizeof(*f));
					if (!f) {
						rc = bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
						goto fail;
					}
					fix = f;
				}
				fix[nfix++] = (struct fixup){ at, orig, nd };
			} else if ((rc = set_offset(out, nd, at, orig, n, err)) != BPFRT_OK) {
				goto fail;
			}
		}
		if (out->aux)
			out->aux[at] = orig >= 0 ? l->aux[orig] : NULL;
		out->orig[at] = orig;
		if (nd->wide) {
			out->insns[at + 1] = (struct bpfrt_insn){ .imm = nd->imm_hi };
			if (out->aux)
				out->aux[at + 1] = NULL;
			out->orig[at + 1] = orig >= 0 ? orig + 1 : PATCH_INSERTED;
			if (a != SIZE_MAX && a + 1 < l->norig)
				out->new_of_orig[a + 1] = at + 1;
		}
	}
	BPFRT_ASSERT(idx == n);
	for (size_t i = 0; i < nfix; i++)
		if ((rc = set_offset(out, fix[i].nd, fix[i].at, fix[i].orig, n, err)) != BPFRT_OK)
			goto fail;
	free(fix);
	out->n = n;
	out->nlinfo = nline;
	return BPFRT_OK;
fail:
	free(fix);
	bpfrt_linear_free(out);
	return rc;
}
