/*
 * asm.c — the assembler for the bpf_conformance / uBPF syntax.
 *
 *     label:                       # a label names the next instruction slot
 *     mov32 %r0, 0                 # ALU: op dst, src|imm
 *     ldxdw %r0, [%r1+8]           # loads, stores: [%rN], [%rN+off], [%rN-off]
 *     lock fetch add [%r10-8], %r1 # atomics
 *     jeq %r1, 0x33, label         # jump targets: a label, +N or -N
 *     call 5 / call local f / call %r2 / call kfunc 7
 *     lddw %r0, 0x1122334455667788 # two slots
 *
 * A jump to the undefined label `exit` goes to the next exit instruction
 * (the convention of the bpf_conformance suite).
 *
 * One pass encodes; references to labels are recorded and resolved at the
 * end.  Every error names its line.  Immediates must fit their field:
 * decimal imm32 in [-2^31, 2^31), hexadecimal up to 0xffffffff (the bit
 * pattern), offsets in [-2^15, 2^15).
 */
#include "internal.h"

#include <ctype.h>

struct label {
	char *name;
	size_t slot;
	int line;
};

struct fixup {
	char *name;
	size_t slot; /* the instruction to patch */
	bool in_imm; /* target goes to imm (ja32, call local) rather than off */
	int line;
};

struct as {
	struct bpfrt_insn *insn;
	size_t n, cap;
	struct label *label;
	size_t nlabel, caplabel;
	uint32_t *index;        /* open addressing over label: number + 1, 0 empty */
	size_t nindex;          /* a power of two, over twice nlabel */
	struct fixup *fix;
	size_t nfix, capfix;
	int line;
	bool oom;
	char *err;
	size_t errlen;
	bool failed;
};

static bool fail(struct as *as, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(struct as *as, const char *fmt, ...)
{
	if (as->failed)
		return false;
	as->failed = true;
	as->oom = !strcmp(fmt, "out of memory");
	char tmp[BPFRT_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	bpfrt_vfmt(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (as->err && as->errlen)
		snprintf(as->err, as->errlen, "line %d: %s", as->line, tmp);
	return false;
}

/* Labels by name: a hash index, so that a program of n labels assembles in
 * O(n), not O(n^2) (a 99k-instruction program spent 0.5 s in strcmp). */
static size_t name_hash(const char *s)
{
	size_t h = 14695981039346656037ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static const struct label *label_find(const struct as *as, const char *name)
{
	if (!as->nindex)
		return NULL;
	for (size_t i = name_hash(name) & (as->nindex - 1);; i = (i + 1) & (as->nindex - 1)) {
		uint32_t k = as->index[i];
		if (!k)
			return NULL;
		if (!strcmp(as->label[k - 1].name, name))
			return &as->label[k - 1];
	}
}

static void index_put(struct as *as, size_t k)
{
	size_t i = name_hash(as->label[k].name) & (as->nindex - 1);
	while (as->index[i])
		i = (i + 1) & (as->nindex - 1);
	as->index[i] = (uint32_t)(k + 1);
}

/* After label[nlabel - 1] was added. */
static bool index_add(struct as *as)
{
	if (2 * as->nlabel >= as->nindex) {
		size_t n = as->nindex ? 2 * as->nindex : 64;
		uint32_t *ix = calloc(n, sizeof(*ix));
		if (!ix)
			return false;
		free(as->index);
		as->index = ix;
		as->nindex = n;
		for (size_t k = 0; k + 1 < as->nlabel; k++)
			index_put(as, k);
	}
	index_put(as, as->nlabel - 1);
	return true;
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return true;
	size_t c = *cap ? *cap * 2 : 64;
	while (c < need)
		c *= 2;
	void *q = realloc(*p, c * elem);
	if (!q)
		return false;
	*p = q;
	*cap = c;
	return true;
}

static struct bpfrt_insn *emit(struct as *as)
{
	if (as->n >= BPFRT_MAX_INSNS + 1) {
		fail(as, "more than %u instructions", BPFRT_MAX_INSNS);
		return NULL;
	}
	if (!grow((void **)&as->insn, &as->cap, as->n + 1, sizeof(*as->insn))) {
		fail(as, "out of memory");
		return NULL;
	}
	struct bpfrt_insn *in = &as->insn[as->n++];
	memset(in, 0, sizeof(*in));
	return in;
}

/* ------------------------------------------------------------ operands */

enum opnd_kind { O_REG, O_NUM, O_MEM, O_LABEL, O_LOCAL, O_KFUNC };

struct num {
	bool neg, hex, has_sign;
	uint64_t mag;
};

struct opnd {
	enum opnd_kind kind;
	int reg;        /* O_REG, O_MEM */
	struct num num; /* O_NUM, O_MEM (offset), O_LOCAL/O_KFUNC with a number */
	bool has_num;   /* O_LOCAL: a number (+N) rather than a label */
	char name[64];  /* O_LABEL, O_LOCAL */
	const char *text;
};

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

static bool is_ident_start(int c) { return isalpha(c) || c == '_' || c == '.'; }
static bool is_ident(int c) { return isalnum(c) || c == '_' || c == '.'; }

/* Parses a number at *pp: [+-] (0x hex | decimal). */
static bool parse_num(struct as *as, const char **pp, struct num *out)
{
	const char *p = *pp;
	memset(out, 0, sizeof(*out));
	if (*p == '+' || *p == '-') {
		out->neg = *p == '-';
		out->has_sign = true;
		p = skip_ws(p + 1);
	}
	if (!isdigit((unsigned char)*p))
		return fail(as, "expected a number at '%.20s'", *pp);
	uint64_t v = 0;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		out->hex = true;
		p += 2;
		if (!isxdigit((unsigned char)*p))
			return fail(as, "bad hexadecimal number '%.20s'", *pp);
		for (; isxdigit((unsigned char)*p); p++) {
			int dgt = isdigit((unsigned char)*p) ? *p - '0' : (tolower(*p) - 'a' + 10);
			if (v >> 60)
				return fail(as, "number '%.24s' does not fit in 64 bits", *pp);
			v = v * 16 + (uint64_t)dgt;
		}
	} else {
		for (; isdigit((unsigned char)*p); p++) {
			uint64_t dgt = (uint64_t)(*p - '0');
			if (v > (UINT64_MAX - dgt) / 10)
				return fail(as, "number '%.24s' does not fit in 64 bits", *pp);
			v = v * 10 + dgt;
		}
	}
	if (is_ident(*p))
		return fail(as, "bad number '%.20s'", *pp);
	out->mag = v;
	*pp = p;
	return true;
}

/* A 32-bit immediate: decimal in [-2^31, 2^31), hex as a 32-bit pattern. */
static bool num_imm32(struct as *as, const struct num *n, int32_t *out)
{
	if (n->neg) {
		if (n->mag > 0x80000000ull)
			return fail(as, "immediate -%" PRIu64 " does not fit in 32 bits", n->mag);
		*out = (int32_t)(uint32_t)(0u - (uint32_t)n->mag);
		return true;
	}
	if (n->hex ? n->mag > 0xffffffffull : n->mag > 0x7fffffffull)
		return fail(as, "immediate %s%" PRIu64 " does not fit in 32 bits",
			    n->hex ? "0x" : "", n->mag);
	*out = (int32_t)(uint32_t)n->mag;
	return true;
}

static bool num_signed(struct as *as, const struct num *n, int64_t lo, int64_t hi,
		       const char *what, int64_t *out)
{
	if (n->neg ? n->mag > (uint64_t)-lo : n->mag > (uint64_t)hi)
		return fail(as, "%s %s%" PRIu64 " is out of range [%" PRId64 ", %" PRId64 "]",
			    what, n->neg ? "-" : "", n->mag, lo, hi);
	*out = n->neg ? -(int64_t)n->mag : (int64_t)n->mag;
	return true;
}

static bool parse_reg(struct as *as, const char **pp, int *reg)
{
	const char *p = *pp;
	if (p[0] != '%' || p[1] != 'r' || !isdigit((unsigned char)p[2]))
		return fail(as, "expected a register at '%.20s'", p);
	long r = 0;
	for (p += 2; isdigit((unsigned char)*p); p++)
		if ((r = r * 10 + (*p - '0')) > 1000)
			break;
	if (r > 10 || is_ident(*p))
		return fail(as, "invalid register '%.8s'", *pp);
	*reg = (int)r;
	*pp = p;
	return true;
}

static bool parse_name(struct as *as, const char **pp, char *name, size_t len)
{
	const char *p = *pp;
	if (!is_ident_start((unsigned char)*p))
		return fail(as, "expected a label at '%.20s'", p);
	size_t i = 0;
	for (; is_ident((unsigned char)*p); p++) {
		if (i + 1 >= len)
			return fail(as, "label too long at '%.20s'", *pp);
		name[i++] = *p;
	}
	name[i] = '\0';
	*pp = p;
	return true;
}

static bool parse_opnd(struct as *as, const char *text, struct opnd *o)
{
	const char *p = skip_ws(text);
	memset(o, 0, sizeof(*o));
	o->text = text;
	if (*p == '%') {
		o->kind = O_REG;
		if (!parse_reg(as, &p, &o->reg))
			return false;
	} else if (*p == '[') {
		o->kind = O_MEM;
		p = skip_ws(p + 1);
		if (!parse_reg(as, &p, &o->reg))
			return false;
		p = skip_ws(p);
		if (*p == '+' || *p == '-') {
			if (!parse_num(as, &p, &o->num))
				return false;
			o->has_num = true;
			p = skip_ws(p);
		}
		if (*p != ']')
			return fail(as, "expected ']' in memory operand '%s'", text);
		p++;
	} else if (*p == '+' || *p == '-' || isdigit((unsigned char)*p)) {
		o->kind = O_NUM;
		if (!parse_num(as, &p, &o->num))
			return false;
	} else if (is_ident_start((unsigned char)*p)) {
		o->kind = O_LABEL;
		if (!parse_name(as, &p, o->name, sizeof(o->name)))
			return false;
		bool local = !strcmp(o->name, "local"), kfunc = !strcmp(o->name, "kfunc");
		if (local || kfunc) {
			o->kind = local ? O_LOCAL : O_KFUNC;
			p = skip_ws(p);
			if (*p == '+' || *p == '-' || isdigit((unsigned char)*p)) {
				if (!parse_num(as, &p, &o->num))
					return false;
				o->has_num = true;
			} else if (local) {
				if (!parse_name(as, &p, o->name, sizeof(o->name)))
					return false;
			} else {
				return fail(as, "expected a BTF id after 'kfunc'");
			}
		}
	} else {
		return fail(as, "bad operand '%s'", text);
	}
	p = skip_ws(p);
	if (*p)
		return fail(as, "unexpected '%s' after operand", p);
	return true;
}

/* --------------------------------------------------------- instructions */

static bool add_fixup(struct as *as, const char *name, bool in_imm)
{
	if (!grow((void **)&as->fix, &as->capfix, as->nfix + 1, sizeof(*as->fix)))
		return fail(as, "out of memory");
	char *copy = strdup(name);
	if (!copy)
		return fail(as, "out of memory");
	as->fix[as->nfix++] = (struct fixup){ copy, as->n - 1, in_imm, as->line };
	return true;
}

/* A branch target: a label (fixed up later) or a relative +N / -N. */
static bool target(struct as *as, const struct opnd *o, bool in_imm, struct bpfrt_insn *in)
{
	if (o->kind == O_LABEL || (o->kind == O_LOCAL && !o->has_num))
		return add_fixup(as, o->name, in_imm);
	if (o->kind != O_NUM && o->kind != O_LOCAL)
		return fail(as, "expected a label or +offset, got '%s'", o->text);
	int64_t v;
	if (in_imm) {
		if (!num_signed(as, &o->num, INT32_MIN, INT32_MAX, "offset", &v))
			return false;
		in->imm = (int32_t)v;
	} else {
		if (!num_signed(as, &o->num, INT16_MIN, INT16_MAX, "jump offset", &v))
			return false;
		in->off = (int16_t)v;
	}
	return true;
}

static bool mem_opnd(struct as *as, const struct opnd *o, uint8_t *reg, int16_t *off)
{
	if (o->kind != O_MEM)
		return fail(as, "expected a memory operand [%%rN+off], got '%s'", o->text);
	int64_t v = 0;
	if (o->has_num && !num_signed(as, &o->num, INT16_MIN, INT16_MAX, "offset", &v))
		return false;
	*reg = (uint8_t)o->reg;
	*off = (int16_t)v;
	return true;
}

static int shape_nopnds(enum bpfrt_shape s)
{
	switch (s) {
	case SHAPE_NEG: case SHAPE_END: case SHAPE_JA: case SHAPE_JA32:
	case SHAPE_CALL_HELPER: case SHAPE_CALL_LOCAL: case SHAPE_CALL_KFUNC: case SHAPE_CALLX:
		return 1;
	case SHAPE_EXIT: case SHAPE_TAIL_CALL:
		return 0;
	case SHAPE_JCC_K: case SHAPE_JCC_X: case SHAPE_LDDW_PSEUDO:
		return 3;
	default:
		return 2;
	}
}

/* Does operand list o[] suit the shape?  (Picks K or X, the kind of call.) */
static bool shape_fits(enum bpfrt_shape s, const struct opnd *o, int n)
{
	if (n != shape_nopnds(s))
		return false;
	switch (s) {
	case SHAPE_ALU_K: return o[0].kind == O_REG && o[1].kind == O_NUM;
	case SHAPE_ALU_X: return o[0].kind == O_REG && o[1].kind == O_REG;
	case SHAPE_JCC_K: return o[1].kind == O_NUM;
	case SHAPE_JCC_X: return o[1].kind == O_REG;
	case SHAPE_CALL_HELPER: return o[0].kind == O_NUM;
	case SHAPE_CALL_LOCAL: return o[0].kind == O_LOCAL;
	case SHAPE_CALL_KFUNC: return o[0].kind == O_KFUNC;
	case SHAPE_CALLX: return o[0].kind == O_REG;
	default: return true;
	}
}

static bool reg_opnd(struct as *as, const struct opnd *o, uint8_t *reg)
{
	if (o->kind != O_REG)
		return fail(as, "expected a register, got '%s'", o->text);
	*reg = (uint8_t)o->reg;
	return true;
}

static bool encode(struct as *as, enum bpfrt_op op, const struct opnd *o)
{
	const struct bpfrt_form *f = &bpfrt_forms[op];
	struct bpfrt_insn *in = emit(as);
	if (!in)
		return false;
	in->code = f->code;
	switch (f->sel) {
	case SEL_OFF: in->off = (int16_t)f->selval; break;
	case SEL_IMM: in->imm = f->selval; break;
	case SEL_SRC: in->src = (uint8_t)f->selval; break;
	default: break;
	}
	uint8_t r = 0;
	int32_t imm;
	switch ((enum bpfrt_shape)f->shape) {
	case SHAPE_ALU_K:
		if (!reg_opnd(as, &o[0], &r) || !num_imm32(as, &o[1].num, &imm))
			return false;
		in->dst = r;
		in->imm = imm;
		return true;
	case SHAPE_ALU_X:
		if (!reg_opnd(as, &o[0], &r))
			return false;
		in->dst = r;
		if (!reg_opnd(as, &o[1], &r))
			return false;
		in->src = r;
		return true;
	case SHAPE_NEG:
	case SHAPE_END:
	case SHAPE_CALLX:
		if (!reg_opnd(as, &o[0], &r))
			return false;
		in->dst = r;
		return true;
	case SHAPE_JA:
		return target(as, &o[0], false, in);
	case SHAPE_JA32:
	case SHAPE_CALL_LOCAL:
		return target(as, &o[0], true, in);
	case SHAPE_JCC_K:
	case SHAPE_JCC_X:
		if (!reg_opnd(as, &o[0], &r))
			return false;
		in->dst = r;
		if (f->shape == SHAPE_JCC_K) {
			if (!num_imm32(as, &o[1].num, &imm))
				return false;
			in->imm = imm;
		} else {
			if (!reg_opnd(as, &o[1], &r))
				return false;
			in->src = r;
		}
		return target(as, &o[2], false, in);
	case SHAPE_CALL_HELPER:
	case SHAPE_CALL_KFUNC:
		if (!num_imm32(as, &o[0].num, &imm))
			return false;
		in->imm = imm;
		return true;
	case SHAPE_EXIT: case SHAPE_TAIL_CALL:
		return true;
	case SHAPE_LDX:
	{
		uint8_t base;
		if (!reg_opnd(as, &o[0], &r) || !mem_opnd(as, &o[1], &base, &in->off))
			return false;
		in->dst = r;
		in->src = base;
		return true;
	}
	case SHAPE_ST:
		if (!mem_opnd(as, &o[0], &r, &in->off))
			return false;
		in->dst = r;
		if (o[1].kind != O_NUM)
			return fail(as, "expected an immediate, got '%s'", o[1].text);
		if (!num_imm32(as, &o[1].num, &imm))
			return false;
		in->imm = imm;
		return true;
	case SHAPE_STX:
	case SHAPE_ATOMIC:
	case SHAPE_ATOMIC_FETCH:
	case SHAPE_ATOMIC_CMPXCHG:
		if (!mem_opnd(as, &o[0], &r, &in->off))
			return false;
		in->dst = r;
		if (!reg_opnd(as, &o[1], &r))
			return false;
		in->src = r;
		return true;
	case SHAPE_LDDW:
	case SHAPE_LDDW_PSEUDO: {
		if (!reg_opnd(as, &o[0], &r))
			return false;
		in->dst = r;
		uint32_t lo, hi;
		if (o[1].kind != O_NUM)
			return fail(as, "expected an immediate, got '%s'", o[1].text);
		if (f->shape == SHAPE_LDDW) {
			const struct num *nm = &o[1].num;
			if (nm->neg && nm->mag > (1ull << 63))
				return fail(as, "immediate -%" PRIu64 " does not fit in 64 bits", nm->mag);
			uint64_t v = nm->neg ? 0 - nm->mag : nm->mag;
			lo = (uint32_t)v;
			hi = (uint32_t)(v >> 32);
		} else {
			int32_t a, b;
			if (o[2].kind != O_NUM)
				return fail(as, "expected an immediate, got '%s'", o[2].text);
			if (!num_imm32(as, &o[1].num, &a) || !num_imm32(as, &o[2].num, &b))
				return false;
			lo = (uint32_t)a;
			hi = (uint32_t)b;
		}
		in->imm = (int32_t)lo;
		struct bpfrt_insn *in2 = emit(as);
		if (!in2)
			return false;
		in2->imm = (int32_t)hi;
		return true;
	}
	}
	return fail(as, "internal error: shape %d", f->shape);
}

static const struct { const char *alias, *name; } aliases[] = {
	{ "swap16", "bswap16" }, { "swap32", "bswap32" }, { "swap64", "bswap64" },
	{ "mov64", "mov" }, { "add64", "add" }, { "sub64", "sub" }, { "mul64", "mul" },
	{ "div64", "div" }, { "or64", "or" }, { "and64", "and" }, { "lsh64", "lsh" },
	{ "rsh64", "rsh" }, { "neg64", "neg" }, { "mod64", "mod" }, { "xor64", "xor" },
	{ "arsh64", "arsh" }, { "sdiv64", "sdiv" }, { "smod64", "smod" },
	{ "gotol", "ja32" },
};

static bool assemble_line(struct as *as, char *line)
{
	char *hash = strchr(line, '#');
	if (hash)
		*hash = '\0';
	char *p = (char *)skip_ws(line);
	/* labels: "name:" */
	for (;;) {
		char *q = p;
		while (is_ident((unsigned char)*q))
			q++;
		if (q > p && *q == ':' && is_ident_start((unsigned char)*p)) {
			*q = '\0';
			const struct label *dup = label_find(as, p);
			if (dup)
				return fail(as, "label '%s' is already defined on line %d", p, dup->line);
			if (!grow((void **)&as->label, &as->caplabel, as->nlabel + 1,
				  sizeof(*as->label)))
				return fail(as, "out of memory");
			char *copy = strdup(p);
			if (!copy)
				return fail(as, "out of memory");
			as->label[as->nlabel++] = (struct label){ copy, as->n, as->line };
			if (!index_add(as))
				return fail(as, "out of memory");
			p = (char *)skip_ws(q + 1);
			continue;
		}
		break;
	}
	/* trailing white space */
	size_t len = strlen(p);
	while (len && isspace((unsigned char)p[len - 1]))
		p[--len] = '\0';
	if (!*p)
		return true;

	/* the mnemonic: one word, or "lock [fetch] op" */
	char mnem[48];
	size_t ml = 0;
	char *q = p;
	for (int words = 0;; words++) {
		char *w = q;
		while (isalnum((unsigned char)*q) || *q == '_')
			q++;
		if (q == w)
			return fail(as, "expected a mnemonic at '%.20s'", w);
		size_t wl = (size_t)(q - w);
		if (ml + wl + 2 > sizeof(mnem))
			return fail(as, "unknown mnemonic '%.40s'", p);
		if (words)
			mnem[ml++] = ' ';
		memcpy(mnem + ml, w, wl);
		ml += wl;
		mnem[ml] = '\0';
		q = (char *)skip_ws(q);
		bool more = !strcmp(mnem, "lock") || !strcmp(mnem, "lock fetch");
		if (!more)
			break;
		if (!isalpha((unsigned char)*q))
			return fail(as, "invalid number of operands for %s", mnem);
	}
	for (size_t i = 0; i < ARRAY_SIZE(aliases); i++)
		if (!strcmp(mnem, aliases[i].alias)) {
			snprintf(mnem, sizeof(mnem), "%s", aliases[i].name);
			ml = strlen(mnem);
		}

	/* operands, separated by commas */
	struct opnd o[4];
	int nopnd = 0;
	if (*q) {
		char *s = q;
		for (;;) {
			char *comma = strchr(s, ',');
			if (comma)
				*comma = '\0';
			if (nopnd == (int)ARRAY_SIZE(o))
				return fail(as, "too many operands for %s", mnem);
			if (!*skip_ws(s))
				return fail(as, "empty operand for %s", mnem);
			if (!parse_opnd(as, s, &o[nopnd++]))
				return false;
			if (!comma)
				break;
			s = comma + 1;
		}
	}

	enum bpfrt_op ops[8];
	int nops = bpfrt_insn_by_mnem(mnem, ml, ops, (int)ARRAY_SIZE(ops));
	if (nops == 0)
		return fail(as, "unknown mnemonic '%s'", mnem);
	for (int i = 0; i < nops; i++)
		if (shape_fits(bpfrt_forms[ops[i]].shape, o, nopnd))
			return encode(as, ops[i], o);
	/* Report against the first form: wrong count, or wrong operand kind. */
	int want = shape_nopnds(bpfrt_forms[ops[0]].shape);
	bool counts = false;
	for (int i = 0; i < nops; i++)
		counts |= shape_nopnds(bpfrt_forms[ops[i]].shape) == nopnd;
	if (!counts)
		return fail(as, "invalid number of operands for %s: %d, expected %d",
			    mnem, nopnd, want);
	return fail(as, "invalid operands for %s", mnem);
}

static bool resolve(struct as *as)
{
	for (size_t i = 0; i < as->nfix; i++) {
		struct fixup *fx = &as->fix[i];
		as->line = fx->line;
		const struct label *l = label_find(as, fx->name);
		size_t slot;
		if (l) {
			slot = l->slot;
		} else if (!strcmp(fx->name, "exit")) {
			/* the suite's convention: "exit" names the next exit instruction */
			for (slot = fx->slot + 1; slot < as->n; slot++)
				if (as->insn[slot].code == bpfrt_forms[BPFRT_OP_EXIT].code &&
				    !(slot && bpfrt_op_is_lddw(bpfrt_insn_decode(&as->insn[slot - 1]))))
					break;
			if (slot == as->n)
				return fail(as, "jump to 'exit', but no exit instruction follows");
		} else {
			return fail(as, "unknown label '%s'", fx->name);
		}
		int64_t d = (int64_t)slot - (int64_t)fx->slot - 1;
		if (fx->in_imm) {
			as->insn[fx->slot].imm = (int32_t)d;
		} else {
			if (d < INT16_MIN || d > INT16_MAX)
				return fail(as, "jump to '%s' is %" PRId64 " instructions away, "
					    "over the 16-bit offset (use ja32)", fx->name, d);
			as->insn[fx->slot].off = (int16_t)d;
		}
	}
	return true;
}

int bpfrt_asm(const char *text, struct bpfrt_insn **out, size_t *n, char *err, size_t errlen)
{
	if (!text || !out || !n) {
		if (err && errlen)
			snprintf(err, errlen, "bpfrt_asm: NULL argument");
		return BPFRT_EINVAL;
	}
	*out = NULL;
	*n = 0;
	if (err && errlen)
		err[0] = '\0';
	struct as as = { .err = err, .errlen = errlen };
	char *buf = strdup(text);
	if (!buf) {
		if (err && errlen)
			snprintf(err, errlen, "out of memory");
		return BPFRT_ENOMEM;
	}
	char *line = buf;
	as.line = 1;
	bool ok = true;
	while (ok && line) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		ok = assemble_line(&as, line);
		line = nl ? nl + 1 : NULL;
		as.line++;
	}
	if (ok) {
		if (as.n == 0)
			ok = fail(&as, "no instructions");
		else
			ok = resolve(&as);
	}
	for (size_t i = 0; i < as.nlabel; i++)
		free(as.label[i].name);
	for (size_t i = 0; i < as.nfix; i++)
		free(as.fix[i].name);
	free(as.label);
	free(as.index);
	free(as.fix);
	free(buf);
	if (!ok) {
		free(as.insn);
		return as.oom ? BPFRT_ENOMEM : BPFRT_EASM;
	}
	*out = as.insn;
	*n = as.n;
	return BPFRT_OK;
}
