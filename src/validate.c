/*
 * validate.c — structural validation, the first stage after loading.
 *
 * Before any verifier runs, every program is checked for what can be decided
 * from the instructions alone: each instruction is a known form with its
 * reserved fields zero and its registers valid; r10 is never written; every
 * LDDW has its second slot; every jump lands on an instruction of its own
 * subprogram (never on the second slot of an LDDW); every local call lands on
 * an instruction; every subprogram ends in exit or an unconditional jump;
 * every helper called is registered.  Each refusal is one message naming the
 * instruction index.
 *
 * The output is the decoded program: the same instructions with the opcode
 * byte replaced by the decoded operation (enum bpfrt_op), which is what the
 * interpreter dispatches on.
 */
#include "internal.h"

enum { K_LDDW_HI = 1, K_SUBPROG = 2 };

static const char *field_name(unsigned f)
{
	switch (f) {
	case F_DST: return "dst";
	case F_SRC: return "src";
	case F_OFF: return "off";
	default: return "imm";
	}
}

static int32_t field_value(const struct bpfrt_insn *insn, unsigned f)
{
	switch (f) {
	case F_DST: return insn->dst;
	case F_SRC: return insn->src;
	case F_OFF: return insn->off;
	default: return insn->imm;
	}
}

static unsigned sel_bit(enum bpfrt_sel sel)
{
	switch (sel) {
	case SEL_OFF: return F_OFF;
	case SEL_IMM: return F_IMM;
	case SEL_SRC: return F_SRC;
	case SEL_NONE: break;
	}
	return 0;
}

/* The register fields an instruction uses. */
static unsigned used_regs(enum bpfrt_shape shape)
{
	unsigned zero = bpfrt_shape_zero_fields(shape);
	unsigned used = (F_DST | F_SRC) & ~zero;
	if (shape == SHAPE_CALL_HELPER || shape == SHAPE_CALL_LOCAL ||
	    shape == SHAPE_CALL_KFUNC || shape == SHAPE_LDDW || shape == SHAPE_LDDW_PSEUDO)
		used &= ~F_SRC; /* src is the selector there */
	if (shape == SHAPE_END)
		used &= ~F_SRC;
	return used;
}

/* The register an instruction writes, or -1. */
static int written_reg(const struct bpfrt_insn *insn, enum bpfrt_shape shape)
{
	switch (shape) {
	case SHAPE_ALU_K: case SHAPE_ALU_X: case SHAPE_NEG: case SHAPE_END:
	case SHAPE_LDX: case SHAPE_LDDW: case SHAPE_LDDW_PSEUDO:
		return insn->dst;
	case SHAPE_ATOMIC_FETCH:
		return insn->src;
	default:
		return -1;
	}
}

/* Per decoded op: the fields that must be zero, the register fields used,
 * the register written (1 dst, 2 src), and whether it needs more checks.
 * Derived once from insn.def's shapes. */
static struct op_rule {
	uint8_t zero, regs, writes, special;
} rules[BPFRT_OP__COUNT];
static struct bpfrt_once rules_once = BPFRT_ONCE_INIT;
static void build_rules(void);
static inline void rules_init(void)
{
	bpfrt_once(&rules_once, build_rules);
}

static void build_rules(void)
{
	for (int op = 0; op < BPFRT_OP__COUNT; op++) {
		const struct bpfrt_form *f = &bpfrt_forms[op];
		enum bpfrt_shape sh = f->shape;
		struct bpfrt_insn probe = { 0 };
		probe.dst = 1;
		probe.src = 2;
		rules[op].zero = (uint8_t)(bpfrt_shape_zero_fields(sh) & ~sel_bit(f->sel));
		rules[op].regs = (uint8_t)used_regs(sh);
		int w = written_reg(&probe, sh);
		rules[op].writes = w == 1 ? 1 : w == 2 ? 2 : 0;
		rules[op].special = sh == SHAPE_LDDW || sh == SHAPE_LDDW_PSEUDO || sh == SHAPE_TAIL_CALL ||
				    sh == SHAPE_CALL_HELPER || sh == SHAPE_CALL_KFUNC || sh == SHAPE_CALLX;
	}
}

bool bpfrt_insn_writes_r10(const struct bpfrt_insn *insn, enum bpfrt_op op)
{
	rules_init();
	const struct op_rule *r = &rules[op];
	return r->writes && (r->writes == 1 ? insn->dst : insn->src) == 10;
}

static int check_one(const struct bpfrt_insn *insns, size_t n, size_t pc,
		     const struct bpfrt_helper_table *helpers, unsigned vflags, enum bpfrt_op *opp,
		     struct bpfrt_err *err)
{
	const struct bpfrt_insn *insn = &insns[pc];
	enum bpfrt_op op = bpfrt_insn_decode(insn);
	if (unlikely(op == BPFRT_OP_INVALID)) {
		uint8_t cls = BPF_CLASS(insn->code), mode = BPF_MODE(insn->code);
		if ((cls == BPF_LD) && (mode == BPF_MODE_ABS || mode == BPF_MODE_IND) &&
		    (vflags & BPFRT_VALIDATE_LDABS) && (insn->code & 0x18) != 0x18 && !insn->dst && !insn->off &&
		    (mode == BPF_MODE_IND ? insn->src <= 10 : !insn->src)) {
			*opp = BPFRT_OP_INVALID; /* the verifier knows them; engines do not run them */
			return BPFRT_OK;
		}
		if ((cls == BPF_LD) && (mode == BPF_MODE_ABS || mode == BPF_MODE_IND))
			return bpfrt_err_set(err, BPFRT_ENOTSUP,
				"insn %zu: legacy packet load (LD_ABS/LD_IND, opcode 0x%02x) is not supported",
				pc, insn->code);
		enum bpfrt_op first = bpfrt_insn_first_form(insn->code);
		if (first == BPFRT_OP_INVALID)
			return bpfrt_err_set(err, BPFRT_EREJECT, "insn %zu: unknown opcode 0x%02x",
					     pc, insn->code);
		const struct bpfrt_form *f = &bpfrt_forms[first];
		unsigned b = sel_bit(f->sel);
		return bpfrt_err_set(err, BPFRT_EREJECT, "insn %zu: opcode 0x%02x (%s) with invalid %s %d",
				     pc, insn->code, f->mnem, field_name(b), field_value(insn, b));
	}
	const struct op_rule *r = &rules[op];
	const struct bpfrt_form *f = &bpfrt_forms[op];
	unsigned nz = (insn->dst ? F_DST : 0) | (insn->src ? F_SRC : 0) | (insn->off ? F_OFF : 0) |
		      (insn->imm ? F_IMM : 0);
	if (unlikely(nz & r->zero)) {
		unsigned b = nz & r->zero & -(nz & r->zero); /* the first one */
		return bpfrt_err_set(err, BPFRT_EREJECT, "insn %zu: %s: reserved field %s is %d, must be 0",
				     pc, f->mnem, field_name(b), field_value(insn, b));
	}
	unsigned maxreg = (vflags & BPFRT_VALIDATE_AX) ? BPFRT_REG_AX : 10;
	if (unlikely(((r->regs & F_DST) && insn->dst > maxreg) || ((r->regs & F_SRC) && insn->src > maxreg)))
		return bpfrt_err_set(err, BPFRT_EREJECT, "insn %zu: %s: invalid register r%d",
				     pc, f->mnem, (r->regs & F_DST) && insn->dst > maxreg ? insn->dst : insn->src);
	if (unlikely(r->writes && (r->writes == 1 ? insn->dst : insn->src) == 10) && !(vflags & BPFRT_VALIDATE_R10_LATE))
		return bpfrt_err_set(err, BPFRT_EREJECT,
				     "insn %zu: %s writes r10, the read-only frame pointer", pc, f->mnem);
	if (likely(!r->special)) {
		*opp = op;
		return BPFRT_OK;
	}
	switch ((enum bpfrt_shape)f->shape) {
	case SHAPE_LDDW_PSEUDO:
		/* ld_func needs nothing from a loader: its target is relative */
		if (!(vflags & BPFRT_VALIDATE_PSEUDO) && op != BPFRT_OP_LDDW_FUNC)
			return bpfrt_err_set(err, BPFRT_ENOTSUP,
				"insn %zu: %s (lddw with src %d) needs maps or relocations, "
				"which raw instruction loads do not provide", pc, f->mnem, insn->src);
		/* fall through */
	case SHAPE_LDDW: {
		if (pc + 1 >= n)
			return bpfrt_err_set(err, BPFRT_EREJECT,
				"insn %zu: %s is cut off: its second slot is past the end", pc, f->mnem);
		const struct bpfrt_insn *hi = &insns[pc + 1];
		if (hi->code || hi->dst || hi->src || hi->off)
			return bpfrt_err_set(err, BPFRT_EREJECT,
				"insn %zu: second slot of %s at insn %zu must have opcode, registers and offset 0",
				pc, f->mnem, pc + 1);
		break;
	}
	case SHAPE_CALL_HELPER:
		if (!(vflags & BPFRT_VALIDATE_ANY_HELPER) && !bpfrt_helper_get(helpers, (uint32_t)insn->imm))
			return bpfrt_err_set(err, BPFRT_EREJECT, "insn %zu: call to unknown helper %d",
					     pc, insn->imm);
		break;
	case SHAPE_CALL_KFUNC:
		if (vflags & BPFRT_VALIDATE_KFUNC)
			break;
		return bpfrt_err_set(err, BPFRT_ENOTSUP,
				     "insn %zu: kfunc calls (BTF id %d) are not supported", pc, insn->imm);
	case SHAPE_TAIL_CALL: /* internal: what the rewrite made, never what a program holds */
		if (!(vflags & BPFRT_VALIDATE_AX))
			return bpfrt_err_set(err, BPFRT_EREJECT, "insn %zu: unknown opcode 0x%02x", pc, insn->code);
		break;
	case SHAPE_CALLX:
		if (insn->dst > 9)
			return bpfrt_err_set(err, BPFRT_EREJECT, "insn %zu: callx: invalid register r%d",
					     pc, insn->dst);
		break;
	default:
		break;
	}
	*opp = op;
	return BPFRT_OK;
}

/* The target of a jump or local call at pc, or INT64_MIN if pc is neither. */
static inline int64_t branch_target(const struct bpfrt_insn *dec, size_t pc)
{
	if (dec[pc].code == BPFRT_OP_INVALID)
		return INT64_MIN;
	enum bpfrt_shape shape = bpfrt_forms[dec[pc].code].shape;
	switch (shape) {
	case SHAPE_JA: case SHAPE_JCC_K: case SHAPE_JCC_X:
		return (int64_t)pc + 1 + dec[pc].off;
	case SHAPE_JA32: case SHAPE_CALL_LOCAL:
		return (int64_t)pc + 1 + dec[pc].imm;
	case SHAPE_LDDW_PSEUDO:
		if (dec[pc].code == BPFRT_OP_LDDW_FUNC)
			return (int64_t)pc + 1 + dec[pc].imm;
		return INT64_MIN;
	default:
		return INT64_MIN;
	}
}

int bpfrt_validate(const struct bpfrt_insn *insns, size_t n,
		   const struct bpfrt_helper_table *helpers, unsigned vflags,
		   struct bpfrt_insn *dec, struct bpfrt_err *err)
{
	rules_init();
	if (n == 0)
		return bpfrt_err_set(err, BPFRT_EREJECT, "the program is empty");
	if (n > BPFRT_MAX_INSNS)
		return bpfrt_err_set(err, BPFRT_EREJECT,
				     "the program has %zu instructions, over the limit of %u",
				     n, BPFRT_MAX_INSNS);
	uint8_t *kind = calloc(n, 1);
	if (!kind)
		return bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
	int rc = BPFRT_OK;

	/* Each instruction on its own; LDDW second slots marked. */
	kind[0] |= K_SUBPROG;
	for (size_t pc = 0; pc < n; pc++) {
		enum bpfrt_op op = BPFRT_OP_INVALID;
		if ((rc = check_one(insns, n, pc, helpers, vflags, &op, err)) != BPFRT_OK)
			goto out;
		dec[pc] = insns[pc];
		dec[pc].code = (uint8_t)op;
		if (bpfrt_op_is_lddw(op)) {
			dec[pc + 1] = insns[pc + 1];
			kind[++pc] |= K_LDDW_HI;
		}
	}

	/* Branch targets in range and on an instruction; subprogram starts. */
	for (size_t pc = 0; pc < n; pc++) {
		if (kind[pc] & K_LDDW_HI)
			continue;
		int64_t t = branch_target(dec, pc);
		if (t == INT64_MIN)
			continue;
		const char *what = bpfrt_forms[dec[pc].code].shape == SHAPE_CALL_LOCAL ? "call" :
				   dec[pc].code == BPFRT_OP_LDDW_FUNC ? "function reference" : "jump";
		if (t < 0 || t >= (int64_t)n) {
			rc = bpfrt_err_set(err, BPFRT_EREJECT, "insn %zu: %s to insn %" PRId64
					   " is outside the program (0..%zu)", pc, what, t, n - 1);
			goto out;
		}
		if (kind[t] & K_LDDW_HI) {
			rc = bpfrt_err_set(err, BPFRT_EREJECT,
					   "insn %zu: %s to insn %" PRId64 ", the second slot of an lddw",
					   pc, what, t);
			goto out;
		}
		if (*what != 'j')
			kind[t] |= K_SUBPROG;
	}

	/* Per subprogram: jumps stay inside it; it ends in exit or ja. */
	for (size_t start = 0, end; start < n; start = end) {
		for (end = start + 1; end < n && !(kind[end] & K_SUBPROG); end++)
			;
		const char *what = start ? "subprogram" : "program";
		for (size_t pc = start; pc < end; pc++) {
			if ((kind[pc] & K_LDDW_HI) || dec[pc].code == BPFRT_OP_INVALID)
				continue;
			enum bpfrt_shape shape = bpfrt_forms[dec[pc].code].shape;
			if (shape != SHAPE_JA && shape != SHAPE_JA32 && shape != SHAPE_JCC_K &&
			    shape != SHAPE_JCC_X)
				continue;
			int64_t t = branch_target(dec, pc);
			if (t < (int64_t)start || t >= (int64_t)end) {
				rc = bpfrt_err_set(err, BPFRT_EREJECT,
					"insn %zu: jump to insn %" PRId64 " leaves its %s (insns %zu..%zu)",
					pc, t, what, start, end - 1);
				goto out;
			}
		}
		size_t last = end - 1;
		if (kind[last] & K_LDDW_HI) {
			rc = bpfrt_err_set(err, BPFRT_EREJECT,
				"insn %zu: the %s ends in an lddw: execution would fall off its end",
				last - 1, what);
			goto out;
		}
		enum bpfrt_shape shape = dec[last].code == BPFRT_OP_INVALID ? SHAPE_LDX :
					 (enum bpfrt_shape)bpfrt_forms[dec[last].code].shape;
		if (shape != SHAPE_EXIT && shape != SHAPE_JA && shape != SHAPE_JA32) {
			rc = bpfrt_err_set(err, BPFRT_EREJECT,
				"insn %zu: the %s does not end in exit or an unconditional jump: "
				"execution would fall off its end", last, what);
			goto out;
		}
	}
out:
	free(kind);
	return rc;
}
