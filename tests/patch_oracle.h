/*
 * patch_oracle.h — the kernel's one-patch-at-a-time instruction patching
 * (bpf_patch_insn_data, bpf_remove_insns), over plain arrays: the oracle
 * that the patchable-instruction list is tested and measured against.
 * Test code only.
 */
#ifndef BPFRT_PATCH_ORACLE_H
#define BPFRT_PATCH_ORACLE_H

#include "internal.h"
#include "patch.h"

struct oprog {
	struct bpfrt_insn *in;
	void **aux;
	int32_t *orig;
	size_t n;
	struct bpfrt_linfo *linfo;
	size_t nlinfo;
	uint32_t *sub;
	size_t nsub;
};

/* an instruction of a patch: relative target, or an absolute old index */
struct opatch {
	struct bpfrt_insn insn;
	int32_t imm_hi;
	int64_t abs; /* -1: relative */
};

bool o_is_wide(const struct bpfrt_insn *in);
int64_t o_target_of(const struct oprog *o, size_t i);
void o_set_target(struct bpfrt_insn *in, int64_t from, int64_t to);
/* replace the w slots at off by buf[0..len); last_insn: the slot in buf of its last instruction */
void o_patch(struct oprog *o, size_t off, size_t w, const struct opatch *buf, size_t len,
	     size_t last_insn);
void o_delete(struct oprog *o, size_t off, size_t w);

#endif
