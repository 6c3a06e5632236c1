/*
 * insn.c — the tables derived from insn.def: forms, decoding, mnemonics.
 */
#include "insn.h"

#include <pthread.h>

const struct bpfrt_form bpfrt_forms[BPFRT_OP__COUNT] = {
#define INSN(ID, CODE, SEL, SELV, M, SHAPE, SEM) \
	[BPFRT_OP_##ID] = { M, SEM, CODE, SEL_##SEL, SHAPE_##SHAPE, SELV },
#include "insn.def"
#undef INSN
};

const uint8_t bpfrt_zero_tab[SHAPE_TAIL_CALL + 1] = {
	[SHAPE_ALU_K] = F_SRC | F_OFF,
	[SHAPE_ALU_X] = F_IMM | F_OFF,
	[SHAPE_NEG] = F_SRC | F_OFF | F_IMM,
	[SHAPE_END] = F_SRC | F_OFF,
	[SHAPE_JA] = F_DST | F_SRC | F_IMM,
	[SHAPE_JA32] = F_DST | F_SRC | F_OFF,
	[SHAPE_JCC_K] = F_SRC,
	[SHAPE_JCC_X] = F_IMM,
	[SHAPE_CALL_HELPER] = F_DST | F_OFF,
	[SHAPE_CALL_LOCAL] = F_DST | F_OFF,
	[SHAPE_CALL_KFUNC] = F_DST | F_OFF,
	[SHAPE_CALLX] = F_SRC | F_OFF | F_IMM,
	[SHAPE_EXIT] = F_DST | F_SRC | F_OFF | F_IMM,
	[SHAPE_LDX] = F_IMM,
	[SHAPE_ST] = F_SRC,
	[SHAPE_STX] = F_IMM,
	[SHAPE_ATOMIC] = 0,
	[SHAPE_ATOMIC_FETCH] = 0,
	[SHAPE_ATOMIC_CMPXCHG] = 0,
	[SHAPE_LDDW] = F_OFF,
	[SHAPE_LDDW_PSEUDO] = F_OFF,
	[SHAPE_TAIL_CALL] = F_DST | F_SRC | F_OFF,
};

/* Forms by opcode byte: code_first[code] is the first form with that code,
 * next_form[op] the next one (BPFRT_OP_INVALID ends a chain).  Mnemonics
 * sorted for binary search. */
static uint8_t code_first[256];
static uint8_t next_form[BPFRT_OP__COUNT];
static uint8_t by_mnem[BPFRT_OP__COUNT];
static struct bpfrt_once tables_once = BPFRT_ONCE_INIT;

static int mnem_cmp(const void *a, const void *b)
{
	const struct bpfrt_form *x = &bpfrt_forms[*(const uint8_t *)a];
	const struct bpfrt_form *y = &bpfrt_forms[*(const uint8_t *)b];
	int c = strcmp(x->mnem, y->mnem);
	return c ? c : (int)*(const uint8_t *)a - (int)*(const uint8_t *)b;
}

static void build_tables(void)
{
	memset(code_first, BPFRT_OP_INVALID, sizeof(code_first));
	for (int op = BPFRT_OP__COUNT - 1; op >= 0; op--) {
		uint8_t code = bpfrt_forms[op].code;
		next_form[op] = code_first[code];
		code_first[code] = (uint8_t)op;
		by_mnem[op] = (uint8_t)op;
	}
	qsort(by_mnem, BPFRT_OP__COUNT, 1, mnem_cmp);
}

static inline void tables(void)
{
	bpfrt_once(&tables_once, build_tables);
}

static int32_t sel_field(const struct bpfrt_insn *insn, enum bpfrt_sel sel)
{
	switch (sel) {
	case SEL_OFF: return insn->off;
	case SEL_IMM: return insn->imm;
	case SEL_SRC: return insn->src;
	case SEL_NONE: break;
	}
	return 0;
}

enum bpfrt_op bpfrt_insn_decode(const struct bpfrt_insn *insn)
{
	tables();
	for (uint8_t op = code_first[insn->code]; op != BPFRT_OP_INVALID; op = next_form[op]) {
		const struct bpfrt_form *f = &bpfrt_forms[op];
		if (f->sel == SEL_NONE || sel_field(insn, f->sel) == f->selval)
			return op;
	}
	return BPFRT_OP_INVALID;
}

enum bpfrt_op bpfrt_insn_first_form(uint8_t code)
{
	tables();
	return code_first[code];
}

int bpfrt_insn_by_mnem(const char *mnem, size_t len, enum bpfrt_op *ops, int max)
{
	tables();
	size_t lo = 0, hi = BPFRT_OP__COUNT;
	while (lo < hi) { /* the first form whose mnemonic starts >= mnem */
		size_t mid = (lo + hi) / 2;
		const char *m = bpfrt_forms[by_mnem[mid]].mnem;
		if (strncmp(m, mnem, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	int n = 0;
	for (size_t i = lo; i < BPFRT_OP__COUNT; i++) {
		const char *m = bpfrt_forms[by_mnem[i]].mnem;
		if (strncmp(m, mnem, len) != 0)
			break;
		if (m[len] == '\0' && n < max)
			ops[n++] = by_mnem[i];
	}
	return n;
}
