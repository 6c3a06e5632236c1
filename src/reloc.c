/*
 * reloc.c — moving a function's first instructions elsewhere, so that a
 * 5-byte jmp can take their place (patch sites of functions that were not
 * built with a reserved nop).
 *
 * The instructions covering the first `need` bytes are decoded (Zydis) and
 * re-emitted into a stub, each rewritten for its new address:
 *   - RIP-relative memory operands get a new displacement (the stub is
 *     placed within 2 GiB of the function, so it fits, or we refuse);
 *   - jmp/jcc/call with a relative target become their rel32 forms aimed
 *     at the same absolute target;
 * and the stub ends with `jmp func+len`.  Refused, with the reason: an
 * instruction that cannot move (loop/jrcxz, an int3 already there), a
 * function that ends (ret, jmp) before `need` bytes, a jump from the rest
 * of the function back into the moved bytes (it would land inside the new
 * jmp), and a function whose size is unknown (that check needs it).
 */
#include "internal.h"
#include "jit.h"
#include "tramp.h"

#include <Zydis/Zydis.h>

static bool decode(const ZydisDecoder *dec, uintptr_t at, size_t max, ZydisDecodedInstruction *in,
		   ZydisDecodedOperand *ops)
{
	return ZYAN_SUCCESS(ZydisDecoderDecodeFull(dec, (const void *)at, max, in, ops));
}

/* Whether in is a relative branch; *target its absolute target. */
static bool rel_branch(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops, uintptr_t at,
		       uintptr_t *target)
{
	if (!(in->attributes & ZYDIS_ATTRIB_IS_RELATIVE))
		return false;
	for (unsigned i = 0; i < in->operand_count_visible; i++)
		if (ops[i].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && ops[i].imm.is_relative) {
			*target = at + in->length + (uintptr_t)ops[i].imm.value.s;
			return true;
		}
	return false;
}

static void put32(uint8_t *p, int64_t v)
{
	uint32_t u = (uint32_t)v;
	memcpy(p, &u, 4);
}

int bpfrt_reloc(uintptr_t func, size_t fsize, size_t need, uintptr_t stub, struct bpfrt_reloc *out,
		struct bpfrt_err *err)
{
	ZydisDecoder dec;
	ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	memset(out, 0, sizeof(*out));
	if (!fsize)
		return bpfrt_err_set(err, BPFRT_ENOTSUP, "the function's size is unknown (no symbol): cannot "
				     "check that its first %zu bytes may be moved", need);
	size_t at = 0, o = 0;
	while (at < need) {
		ZydisDecodedInstruction in;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		uintptr_t ip = func + at;
		if (at >= fsize || !decode(&dec, ip, fsize - at, &in, ops))
			return bpfrt_err_set(err, BPFRT_ENOTSUP, "the function is shorter than the %zu-byte patch "
					     "(or its byte +%zu does not decode)", need, at);
		if (at)
			out->map[at] = (uint8_t)o;
		if (o + 16 + 5 > RELOC_MAX)
			return bpfrt_err_set(err, BPFRT_EINTERNAL, "relocated prologue too long");
		uintptr_t target;
		uintptr_t new_ip = stub + o;
		const uint8_t *src = (const uint8_t *)ip;
		if (in.mnemonic == ZYDIS_MNEMONIC_INT3)
			return bpfrt_err_set(err, BPFRT_ENOTSUP, "an int3 at +%zu (a breakpoint, or another tool's "
					     "patch)", at);
		if (rel_branch(&in, ops, ip, &target)) {
			if (in.mnemonic == ZYDIS_MNEMONIC_JMP) {
				out->code[o] = 0xe9;
				put32(out->code + o + 1, (int64_t)(target - (new_ip + 5)));
				o += 5;
			} else if (in.mnemonic == ZYDIS_MNEMONIC_CALL) {
				out->code[o] = 0xe8;
				put32(out->code + o + 1, (int64_t)(target - (new_ip + 5)));
				o += 5;
			} else if (in.meta.category == ZYDIS_CATEGORY_COND_BR && in.opcode_map == ZYDIS_OPCODE_MAP_DEFAULT &&
				   (in.opcode & 0xf0) == 0x70) {
				out->code[o] = 0x0f;
				out->code[o + 1] = (uint8_t)(0x80 | (in.opcode & 0x0f));
				put32(out->code + o + 2, (int64_t)(target - (new_ip + 6)));
				o += 6;
			} else if (in.meta.category == ZYDIS_CATEGORY_COND_BR && in.opcode_map == ZYDIS_OPCODE_MAP_0F) {
				out->code[o] = 0x0f;
				out->code[o + 1] = (uint8_t)in.opcode;
				put32(out->code + o + 2, (int64_t)(target - (new_ip + 6)));
				o += 6;
			} else {
				return bpfrt_err_set(err, BPFRT_ENOTSUP, "instruction at +%zu (%s) cannot be moved",
						     at, ZydisMnemonicGetString(in.mnemonic));
			}
			if (!bpfrt_jit_mem_in_reach(new_ip, target))
				return bpfrt_err_set(err, BPFRT_ENOTSUP, "the branch at +%zu is out of reach of the stub",
						     at);
			if (target > func && target < func + need)
				return bpfrt_err_set(err, BPFRT_ENOTSUP, "the branch at +%zu goes into the first %zu bytes",
						     at, need);
		} else {
			memcpy(out->code + o, src, in.length);
			if (in.attributes & ZYDIS_ATTRIB_IS_RELATIVE) {
				/* a RIP-relative memory operand: new displacement */
				if (in.raw.disp.size != 32)
					return bpfrt_err_set(err, BPFRT_ENOTSUP, "instruction at +%zu cannot be moved", at);
				uintptr_t abs = ip + in.length + (uintptr_t)in.raw.disp.value;
				int64_t nd = (int64_t)(abs - (new_ip + in.length));
				if (nd < INT32_MIN || nd > INT32_MAX)
					return bpfrt_err_set(err, BPFRT_ENOTSUP, "the RIP-relative operand at +%zu is out "
							     "of reach of the stub", at);
				put32(out->code + o + in.raw.disp.offset, nd);
			}
			o += in.length;
		}
		at += in.length;
		bool ends = in.mnemonic == ZYDIS_MNEMONIC_RET || in.mnemonic == ZYDIS_MNEMONIC_JMP ||
			    in.mnemonic == ZYDIS_MNEMONIC_UD2 || in.mnemonic == ZYDIS_MNEMONIC_HLT;
		if (ends && at < need)
			return bpfrt_err_set(err, BPFRT_ENOTSUP, "the function ends (%s at +%zu) before %zu bytes",
					     ZydisMnemonicGetString(in.mnemonic), at - in.length, need);
	}
	/* no branch from the rest of the function into the moved bytes */
	for (size_t k = at; k < fsize;) {
		ZydisDecodedInstruction in;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		if (!decode(&dec, func + k, fsize - k, &in, ops)) {
			k++; /* padding or data: step over it */
			continue;
		}
		uintptr_t target;
		if (rel_branch(&in, ops, func + k, &target) && target > func && target < func + need)
			return bpfrt_err_set(err, BPFRT_ENOTSUP, "the branch at +%zu goes back into the first %zu "
					     "bytes", k, need);
		k += in.length;
	}
	out->code[o] = 0xe9; /* jmp func+len */
	put32(out->code + o + 1, (int64_t)(func + at - (stub + o + 5)));
	out->code_len = o + 5;
	out->len = at;
	return BPFRT_OK;
}
