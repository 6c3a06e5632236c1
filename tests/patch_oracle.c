/*
 * patch_oracle.c — see patch_oracle.h.
 */
#include "patch_oracle.h"


bool o_is_wide(const struct bpfrt_insn *in) { return in->code == 0x18; }

static bool branch(const struct bpfrt_insn *in, bool *in_imm) { return bpfrt_insn_branch(in, in_imm); }
#define is_wide o_is_wide
#define target_of o_target_of
#define set_target o_set_target

int64_t o_target_of(const struct oprog *o, size_t i)
{
	bool in_imm;
	if (!branch(&o->in[i], &in_imm))
		return -1;
	return (int64_t)i + 1 + (in_imm ? o->in[i].imm : o->in[i].off);
}

void o_set_target(struct bpfrt_insn *in, int64_t from, int64_t to)
{
	bool in_imm = false;
	branch(in, &in_imm);
	if (in_imm)
		in->imm = (int32_t)(to - from - 1);
	else
		in->off = (int16_t)(to - from - 1);
}

/* bpf_patch_insn_data: replace the w slots at off by buf[0..len) (slots) */
void o_patch(struct oprog *o, size_t off, size_t w, const struct opatch *buf, size_t len,
		    size_t last_insn /* slot index in buf of the last instruction */)
{
	int64_t delta = (int64_t)len - (int64_t)w;
	size_t n2 = (size_t)((int64_t)o->n + delta);
	struct bpfrt_insn *in = malloc((n2 + 1) * sizeof(*in));
	void **aux = calloc(n2 + 1, sizeof(*aux));
	int32_t *orig = malloc((n2 + 1) * sizeof(*orig));
#define MAP(t) ((t) <= (int64_t)off ? (t) : (t) + delta)
	for (size_t i = 0; i < o->n; i++) {
		if (i >= off && i < off + w)
			continue;
		size_t i2 = (size_t)(i < off ? (int64_t)i : (int64_t)i + delta);
		in[i2] = o->in[i];
		aux[i2] = o->aux[i];
		orig[i2] = o->orig[i];
		int64_t t = (i > 0 && is_wide(&o->in[i - 1])) ? -1 : target_of(o, i);
		if (t >= 0)
			set_target(&in[i2], (int64_t)i2, MAP(t));
	}
	for (size_t k = 0; k < len; k++) {
		in[off + k] = buf[k].insn;
		aux[off + k] = NULL;
		orig[off + k] = PATCH_INSERTED;
		if (buf[k].abs >= 0)
			set_target(&in[off + k], (int64_t)(off + k), MAP(buf[k].abs));
	}
#undef MAP
	aux[off + last_insn] = o->aux[off];
	orig[off + last_insn] = o->orig[off];
	if (last_insn + 1 < len && is_wide(&in[off + last_insn]))
		orig[off + last_insn + 1] = o->orig[off] >= 0 && w == 2 ? o->orig[off + 1] :
					    (o->orig[off] >= 0 ? o->orig[off] + 1 : PATCH_INSERTED);
	for (size_t i = 0; i < o->nlinfo; i++)
		if (o->linfo[i].insn > off)
			o->linfo[i].insn = (uint32_t)((int64_t)o->linfo[i].insn + delta);
	for (size_t i = 0; i < o->nsub; i++)
		if (o->sub[i] > off)
			o->sub[i] = (uint32_t)((int64_t)o->sub[i] + delta);
	free(o->in);
	free(o->aux);
	free(o->orig);
	o->in = in;
	o->aux = aux;
	o->orig = orig;
	o->n = n2;
}

/* bpf_remove_insns(off, w) with the line info and subprogram rules */
void o_delete(struct oprog *o, size_t off, size_t w)
{
	/* line info: the deleted instruction's line moves to the next one if
	 * that is in the same subprogram and has none of its own */
	bool next_is_start = false;
	for (size_t i = 0; i < o->nsub; i++)
		next_is_start |= o->sub[i] == off + w;
	ssize_t own = -1, next_own = -1;
	for (size_t i = 0; i < o->nlinfo; i++) {
		if (o->linfo[i].insn == off) own = (ssize_t)i;
		if (o->linfo[i].insn == off + w) next_own = (ssize_t)i;
	}
	size_t k = 0;
	for (size_t i = 0; i < o->nlinfo; i++) {
		struct bpfrt_linfo e = o->linfo[i];
		if ((ssize_t)i == own) {
			if (next_is_start || next_own >= 0 || off + w >= o->n)
				continue; /* dropped */
			e.insn = (uint32_t)off;
		} else if (e.insn > off) {
			e.insn -= (uint32_t)w;
		}
		o->linfo[k++] = e;
	}
	o->nlinfo = k;
	/* subprograms: a start at off stays (unless the subprogram is now empty) */
	k = 0;
	for (size_t i = 0; i < o->nsub; i++) {
		uint32_t st = o->sub[i];
		if (st == off && (next_is_start || off + w >= o->n))
			continue;
		o->sub[k++] = st > off ? st - (uint32_t)w : st;
	}
	o->nsub = k;
	for (size_t i = 0; i < o->n; i++) {
		if (i >= off && i < off + w)
			continue;
		int64_t t = (i > 0 && is_wide(&o->in[i - 1])) ? -1 : target_of(o, i);
		size_t i2 = i < off ? i : i - w;
		if (t >= 0) {
			int64_t t2 = t <= (int64_t)off ? t : t - (int64_t)w;
			set_target(&o->in[i], (int64_t)i2, t2);
		}
	}
	memmove(&o->in[off], &o->in[off + w], (o->n - off - w) * sizeof(*o->in));
	memmove(&o->aux[off], &o->aux[off + w], (o->n - off - w) * sizeof(*o->aux));
	memmove(&o->orig[off], &o->orig[off + w], (o->n - off - w) * sizeof(*o->orig));
	o->n -= w;
}

