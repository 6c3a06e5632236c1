/*
 * test_patch.c — the patchable-instruction list against an oracle: the
 * kernel's one-patch-at-a-time algorithm (bpf_patch_insn_data,
 * bpf_remove_insns, adjust_jmp_off), written here over plain arrays.
 * Random programs get the same random scripts of replace / insert-before /
 * insert-prologue / delete through both, which must then agree on every
 * instruction, the aux data, the original indices, line info and
 * subprogram starts.  BPFRT_PATCH_SCRIPTS sets the number of scripts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "internal.h"
#include "patch.h"

#include "patch_oracle.h"
#define is_wide o_is_wide
#define target_of o_target_of
#define set_target o_set_target
static bool branch(const struct bpfrt_insn *in, bool *in_imm) { return bpfrt_insn_branch(in, in_imm); }

/* ------------------------------------------------------------ the script */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? (uint32_t)(rng % n) : 0;
}

static int aux_objects[1024];

/* first slots of the current program (positions of instructions) */
static size_t starts(const struct oprog *o, size_t *pos)
{
	size_t k = 0;
	for (size_t i = 0; i < o->n; i++) {
		pos[k++] = i;
		if (is_wide(&o->in[i]))
			i++;
	}
	return k;
}

static struct bpfrt_insn rand_insn(bool allow_wide)
{
	uint32_t r = rnd(10);
	if (r < 4)
		return (struct bpfrt_insn){ .code = 0x07, .dst = (uint8_t)rnd(10), .imm = (int32_t)rnd(100) };
	if (r < 5)
		return (struct bpfrt_insn){ .code = 0x95 };
	if (r < 6 && allow_wide)
		return (struct bpfrt_insn){ .code = 0x18, .dst = 1, .imm = (int32_t)rnd(1000) };
	if (r < 8)
		return (struct bpfrt_insn){ .code = 0x15, .dst = 1, .imm = 3 }; /* jeq: target set later */
	if (r < 9)
		return (struct bpfrt_insn){ .code = 0x05 };                       /* ja */
	return (struct bpfrt_insn){ .code = 0x85, .src = 1 };                     /* call local */
}

/* node of the instruction at slot pos of the list (walk) */
static uint32_t node_at(struct bpfrt_plist *l, size_t pos)
{
	size_t i = 0;
	plist_for_each(x, l) {
		if (i == pos)
			return x;
		i += l->node[x].insn.code == 0x18 ? 2 : 1;
	}
	return 0;
}

static bool trace;

static void dump(const char *what, const struct bpfrt_insn *in, void *const *aux, const int32_t *orig,
		 size_t n)
{
	fprintf(stderr, "%s:\n", what);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "  %3zu: %02x off %4d imm %6d  aux %3ld orig %3d\n", i, in[i].code, in[i].off,
			in[i].imm, aux[i] ? (long)((int *)aux[i] - aux_objects) : -1L, orig[i]);
}

static void compare(struct oprog *o, struct bpfrt_plist *l, int script)
{
	struct bpfrt_linear lin;
	struct bpfrt_err err = { 0 };
	int rc = bpfrt_plist_linearize(l, &lin, &err);
	if (rc != BPFRT_OK)
		fail_msg("script %d: linearize: %s", script, err.msg);
	if (trace) {
		dump("list", lin.insns, lin.aux, lin.orig, lin.n);
		dump("oracle", o->in, o->aux, o->orig, o->n);
	}
	if (lin.n != o->n)
		fail_msg("script %d: %zu instructions, oracle %zu", script, lin.n, o->n);
	for (size_t i = 0; i < o->n; i++) {
		if (memcmp(&lin.insns[i], &o->in[i], sizeof(o->in[i])))
			fail_msg("script %d: insn %zu differs: %02x/%d/%d vs oracle %02x/%d/%d", script, i,
				 lin.insns[i].code, lin.insns[i].off, lin.insns[i].imm, o->in[i].code,
				 o->in[i].off, o->in[i].imm);
		if (lin.aux[i] != o->aux[i])
			fail_msg("script %d: aux of insn %zu differs", script, i);
		if (lin.orig[i] != o->orig[i])
			fail_msg("script %d: orig of insn %zu: %d vs oracle %d", script, i, lin.orig[i], o->orig[i]);
	}
	if (lin.nsubprog != o->nsub)
		fail_msg("script %d: %zu subprograms, oracle %zu", script, lin.nsubprog, o->nsub);
	for (size_t i = 0; i < o->nsub; i++)
		if (lin.subprog[i] != o->sub[i])
			fail_msg("script %d: subprogram %zu starts at %u, oracle %u", script, i,
				 lin.subprog[i], o->sub[i]);
	if (lin.nlinfo != o->nlinfo)
		fail_msg("script %d: %zu line entries, oracle %zu", script, lin.nlinfo, o->nlinfo);
	for (size_t i = 0; i < o->nlinfo; i++)
		if (lin.linfo[i].insn != o->linfo[i].insn || lin.linfo[i].line != o->linfo[i].line)
			fail_msg("script %d: line entry %zu: %u:%u vs oracle %u:%u", script, i, lin.linfo[i].insn,
				 lin.linfo[i].line, o->linfo[i].insn, o->linfo[i].line);
	bpfrt_linear_free(&lin);
}

static void one_script(int script)
{
	/* a random program */
	size_t n = 2 + rnd(40);
	struct bpfrt_insn *in = calloc(n + 2, sizeof(*in));
	size_t m = 0;
	while (m < n) {
		in[m] = rand_insn(m + 2 < n);
		if (is_wide(&in[m])) {
			in[m + 1] = (struct bpfrt_insn){ .imm = 7 };
			m += 2;
		} else {
			m++;
		}
	}
	n = m;
	size_t *pos = malloc(1024 * sizeof(*pos)); /* the program grows by at most 8 slots an op */
	struct oprog o = { 0 };
	o.in = in;
	o.n = n;
	o.aux = calloc(n, sizeof(*o.aux));
	o.orig = malloc(n * sizeof(*o.orig));
	for (size_t i = 0; i < n; i++) {
		bool second = i > 0 && is_wide(&in[i - 1]) && o.aux[i - 1];
		o.aux[i] = second ? NULL : &aux_objects[i % 1024];
		o.orig[i] = (int32_t)i;
	}
	/* targets: any instruction start */
	size_t k = starts(&o, pos);
	for (size_t j = 0; j < k; j++) {
		size_t i = pos[j];
		bool in_imm;
		if (!branch(&in[i], &in_imm))
			continue;
		set_target(&in[i], (int64_t)i, (int64_t)pos[rnd((uint32_t)k)]);
	}
	/* subprogram starts: 0 and call targets, sorted */
	o.sub = malloc((n + 1) * sizeof(*o.sub));
	uint8_t *is_sub = calloc(n, 1);
	is_sub[0] = 1;
	for (size_t j = 0; j < k; j++)
		if (in[pos[j]].code == 0x85)
			is_sub[target_of(&o, pos[j])] = 1;
	for (size_t i = 0; i < n; i++)
		if (is_sub[i])
			o.sub[o.nsub++] = (uint32_t)i;
	free(is_sub);
	/* line info on some instructions (all subprogram starts among them) */
	o.linfo = malloc((n + 1) * sizeof(*o.linfo));
	for (size_t j = 0; j < k; j++)
		if (rnd(3) == 0 || pos[j] == 0)
			o.linfo[o.nlinfo++] = (struct bpfrt_linfo){ (uint32_t)pos[j], (uint32_t)(1000 + pos[j]) };
	struct bpfrt_plist l;
	struct bpfrt_err err = { 0 };
	assert_int_equal(bpfrt_plist_init(&l, in, n, o.aux, o.linfo, o.nlinfo, &err), BPFRT_OK);
	if (trace)
		dump("initial", o.in, o.aux, o.orig, o.n);

	int ops = 1 + (int)rnd(12);
	for (int op = 0; op < ops; op++) {
		k = starts(&o, pos);
		size_t j = rnd((uint32_t)k), off = pos[j];
		size_t w = is_wide(&o.in[off]) ? 2 : 1;
		uint32_t kind = rnd(4);
		if (kind == 3 && (k <= 1 || off + w >= o.n))
			kind = 0; /* never delete the last instruction */
		uint32_t x = node_at(&l, off);
		assert_int_not_equal(x, 0);
		if (trace)
			fprintf(stderr, "op %s at %zu (w %zu)\n",
				(const char *[]){ "replace", "insert_before", "prologue", "delete" }[kind], off, w);
		if (kind == 3) {
			bpfrt_plist_delete(&l, x);
			o_delete(&o, off, w);
			continue;
		}
		/* a sequence of 1..4 instructions */
		size_t len = 1 + rnd(4), slots = 0, last = 0;
		struct bpfrt_pinsn seq[4];
		struct opatch buf[12];
		for (size_t i = 0; i < len; i++) {
			struct bpfrt_insn pi = rand_insn(true);
			if (pi.code == 0x85)
				pi = (struct bpfrt_insn){ .code = 0x07, .imm = 1 }; /* no new subprograms */
			seq[i] = (struct bpfrt_pinsn){ .insn = pi, .imm_hi = 5 };
			last = slots;
			buf[slots] = (struct opatch){ .insn = pi, .imm_hi = 5, .abs = -1 };
			slots++;
			if (is_wide(&pi))
				buf[slots++] = (struct opatch){ .insn = { .imm = 5 }, .abs = -1 };
		}
		/* branches: to an existing instruction, or inside the sequence (its
		 * end is the instruction after it); the list counts instructions,
		 * the oracle's buffer slots */
		size_t idx_slot[5], s2 = 0;
		for (size_t i = 0; i < len; i++) {
			idx_slot[i] = s2;
			s2 += is_wide(&seq[i].insn) ? 2 : 1;
		}
		idx_slot[len] = s2;
		for (size_t i = 0; i < len; i++) {
			bool in_imm;
			if (!branch(&seq[i].insn, &in_imm))
				continue;
			if (rnd(2)) {
				size_t t = pos[rnd((uint32_t)k)];
				seq[i].to = node_at(&l, t);
				buf[idx_slot[i]].abs = (int64_t)t;
			} else {
				size_t tt = rnd((uint32_t)len + 1);
				if (tt == len && kind == 0 && off + w >= o.n)
					tt = 0; /* nothing follows a replaced last instruction */
				set_target(&seq[i].insn, (int64_t)i, (int64_t)tt);
				buf[idx_slot[i]].insn = seq[i].insn;
				set_target(&buf[idx_slot[i]].insn, (int64_t)idx_slot[i], (int64_t)idx_slot[tt]);
			}
		}
		if (kind == 0) { /* replace */
			assert_int_equal(bpfrt_plist_replace(&l, x, seq, len, &err), BPFRT_OK);
			o_patch(&o, off, w, buf, slots, last);
		} else { /* insert before / prologue: the sequence, then the instruction */
			buf[slots] = (struct opatch){ .insn = o.in[off], .abs = target_of(&o, off) };
			if (w == 2)
				buf[slots + 1] = (struct opatch){ .insn = o.in[off + 1], .abs = -1 };
			if (kind == 1) {
				assert_int_equal(bpfrt_plist_insert_before(&l, x, seq, len, &err), BPFRT_OK);
				o_patch(&o, off, w, buf, slots + w, slots);
			} else {
				assert_int_equal(bpfrt_plist_insert_prologue(&l, x, seq, len, &err), BPFRT_OK);
				o_patch(&o, off, w, buf, slots + w, slots);
				/* adjust_jmp_off(off, slots): jumps (not calls) from outside the
				 * prologue that land on off go to the instruction */
				for (size_t i = 0; i < o.n; i++) {
					if (i >= off && i < off + slots)
						continue;
					if (i > 0 && is_wide(&o.in[i - 1]))
						continue;
					bool in_imm;
					if (!branch(&o.in[i], &in_imm) || (in_imm && o.in[i].code != 0x06))
						continue;
					if (target_of(&o, i) == (int64_t)off)
						set_target(&o.in[i], (int64_t)i, (int64_t)(off + slots));
				}
			}
		}
	}
	compare(&o, &l, script);
	bpfrt_plist_free(&l);
	free(o.in);
	free(o.aux);
	free(o.orig);
	free(o.linfo);
	free(o.sub);
	free(pos);
}

static void oracle_scripts(void **state)
{
	(void)state;
	const char *e = getenv("BPFRT_PATCH_SCRIPTS");

	int scripts = e ? atoi(e) : 10000;
	const char *only = getenv("BPFRT_PATCH_TRACE");
	for (int s = 0; s < scripts; s++) {
		trace = only && atoi(only) == s;
		one_script(s);
	}
}

/* Big blocks: a raw allocation may reuse a freed block (its old bytes and
 * all); a zeroed one never does; a block that grows keeps its bytes. */
static void big_blocks(void **state)
{
	(void)state;
	size_t sz = 6u << 20;
	uint8_t *a = bpfrt_big_alloc_raw(sz);
	assert_non_null(a);
	memset(a, 0xab, sz);
	bpfrt_big_free(a);
	uint8_t *z = bpfrt_big_alloc(sz);
	assert_non_null(z);
	for (size_t i = 0; i < sz; i += 4096)
		assert_int_equal(z[i], 0);
	uint8_t *r = bpfrt_big_alloc_raw(sz); /* the kept block, most likely: written at will */
	assert_non_null(r);
	memset(r, 1, sz);
	r = bpfrt_big_realloc(r, 3 * sz);
	assert_non_null(r);
	assert_int_equal(r[0], 1);
	assert_int_equal(r[sz - 1], 1);
	r[3 * sz - 1] = 2; /* the new part is there */
	bpfrt_big_free(r);
	bpfrt_big_free(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(oracle_scripts),
		cmocka_unit_test(big_blocks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
