/*
 * disasm.c — the disassembler.  It prints the syntax asm.c reads, so that
 * asm(disasm(p)) == p for every valid program (tested over the conformance
 * suite); jump and call targets are relative (+off / -off).
 */
#include "internal.h"

static void imm_str(char *b, size_t len, int64_t v)
{
	if (v > -1024 && v < 1024)
		snprintf(b, len, "%" PRId64, v);
	else
		snprintf(b, len, "%#" PRIx32, (uint32_t)v);
}

static void mem_str(char *b, size_t len, int reg, int16_t off)
{
	if (off)
		snprintf(b, len, "[%%r%d%+d]", reg, off);
	else
		snprintf(b, len, "[%%r%d]", reg);
}

int bpfrt_disasm_one(const struct bpfrt_helper_table *helpers, const struct bpfrt_insn *insns,
		     size_t n, size_t pc, char *buf, size_t len)
{
	if (pc >= n) {
		snprintf(buf, len, "(past the end)");
		return 0;
	}
	const struct bpfrt_insn *in = &insns[pc];
	enum bpfrt_op op = bpfrt_insn_decode(in);
	if (op == BPFRT_OP_INVALID) {
		snprintf(buf, len, "(invalid: code %#04x dst %d src %d off %d imm %d)",
			 in->code, in->dst, in->src, in->off, in->imm);
		return 0;
	}
	const struct bpfrt_form *f = &bpfrt_forms[op];
	const char *m = f->mnem;
	char a[48], c[48];
	int d = in->dst, s = in->src;
	switch ((enum bpfrt_shape)f->shape) {
	case SHAPE_ALU_K:
		imm_str(a, sizeof(a), in->imm);
		snprintf(buf, len, "%s %%r%d, %s", m, d, a);
		break;
	case SHAPE_ALU_X:
		snprintf(buf, len, "%s %%r%d, %%r%d", m, d, s);
		break;
	case SHAPE_NEG:
	case SHAPE_END:
		snprintf(buf, len, "%s %%r%d", m, d);
		break;
	case SHAPE_JA:
		snprintf(buf, len, "%s %+d", m, in->off);
		break;
	case SHAPE_JA32:
		snprintf(buf, len, "%s %+d", m, in->imm);
		break;
	case SHAPE_JCC_K:
		imm_str(a, sizeof(a), in->imm);
		snprintf(buf, len, "%s %%r%d, %s, %+d", m, d, a, in->off);
		break;
	case SHAPE_JCC_X:
		snprintf(buf, len, "%s %%r%d, %%r%d, %+d", m, d, s, in->off);
		break;
	case SHAPE_CALL_HELPER: {
		const struct bpfrt_helper_slot *h =
			helpers ? bpfrt_helper_get(helpers, (uint32_t)in->imm) : NULL;
		if (h && h->name)
			snprintf(buf, len, "call %d # %s", in->imm, h->name);
		else
			snprintf(buf, len, "call %d", in->imm);
		break;
	}
	case SHAPE_CALL_LOCAL:
		snprintf(buf, len, "call local %+d", in->imm);
		break;
	case SHAPE_CALL_KFUNC:
		snprintf(buf, len, "call kfunc %d", in->imm);
		break;
	case SHAPE_CALLX:
		snprintf(buf, len, "call %%r%d", d);
		break;
	case SHAPE_EXIT:
		snprintf(buf, len, "exit");
		break;
	case SHAPE_TAIL_CALL:
		if (in->imm)
			snprintf(buf, len, "tail_call # direct, site %d", in->imm - 1);
		else
			snprintf(buf, len, "tail_call");
		break;
	case SHAPE_LDX:
		mem_str(a, sizeof(a), s, in->off);
		snprintf(buf, len, "%s %%r%d, %s", m, d, a);
		break;
	case SHAPE_ST:
		mem_str(a, sizeof(a), d, in->off);
		imm_str(c, sizeof(c), in->imm);
		snprintf(buf, len, "%s %s, %s", m, a, c);
		break;
	case SHAPE_STX:
	case SHAPE_ATOMIC:
	case SHAPE_ATOMIC_FETCH:
	case SHAPE_ATOMIC_CMPXCHG:
		mem_str(a, sizeof(a), d, in->off);
		snprintf(buf, len, "%s %s, %%r%d", m, a, s);
		break;
	case SHAPE_LDDW:
	case SHAPE_LDDW_PSEUDO: {
		if (pc + 1 >= n) {
			snprintf(buf, len, "(%s cut off at the end)", m);
			return 0;
		}
		uint32_t lo = (uint32_t)in->imm, hi = (uint32_t)insns[pc + 1].imm;
		if (f->shape == SHAPE_LDDW)
			snprintf(buf, len, "%s %%r%d, %#" PRIx64, m, d, ((uint64_t)hi << 32) | lo);
		else
			snprintf(buf, len, "%s %%r%d, %d, %d", m, d, (int32_t)lo, (int32_t)hi);
		return 2;
	}
	}
	return 1;
}
