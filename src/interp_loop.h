/*
 * interp_loop.h — the interpreter's loop, included by interp.c once per
 * variant with these macros set:
 *
 *   INTERP_NAME  the function's name
 *   INTERP_SAFE  1: bounds-check every memory access, count instructions
 *   INTERP_GOTO  1: computed-goto dispatch; 0: a portable switch
 *
 * Every operation of insn.def has exactly one case here; the goto table is
 * generated from insn.def, so a missing case does not compile.
 */

/*
 * Runs from entry (the program's start, or a callback's) with r1..r5 =
 * args and r10 = r10, in frames from depth0 on; returns at the exit of
 * that first frame.
 */
static int INTERP_NAME(struct run *rs, const struct bpfrt_insn *entry, const uint64_t *args, uint64_t r10,
		       unsigned depth0, uint64_t *r0)
{
	const struct bpfrt_prog *prog = rs->prog;
	const struct bpfrt_insn *pc = entry;
	const struct bpfrt_helper_slot *helper;
	uint64_t reg[12]; /* r0..r10 and AX (11), the rewrites' hidden register */
	struct frame *frames = rs->frames;
	unsigned depth = depth0;
	uint64_t budget = rs->left;
	(void)budget;

	memcpy(&reg[1], args, 5 * sizeof(*args));
	reg[10] = r10;
	uint64_t frame_top = reg[10]; /* this frame's r10 at entry (tail calls restart there) */
	/* registers the program did not get start at zero: runs are deterministic */
	reg[0] = reg[6] = reg[7] = reg[8] = reg[9] = 0;

#if INTERP_GOTO
	static const void *const labels[BPFRT_OP__COUNT] = {
#define INSN(ID, CODE, SEL, SELV, M, SHAPE, SEM) [BPFRT_OP_##ID] = &&L_##ID,
#include "insn.def"
#undef INSN
	};
#define vmcase(ID) L_##ID:
#define vmdispatch() goto *labels[pc->code]
#define vmnext()                                                       \
	do {                                                           \
		pc++;                                                  \
		if (INTERP_SAFE && unlikely(--budget == 0))            \
			goto out_of_budget;                            \
		vmdispatch();                                          \
	} while (0)
	if (INTERP_SAFE && unlikely(--budget == 0))
		goto out_of_budget;
	vmdispatch();
#else
#define vmcase(ID) case BPFRT_OP_##ID:
#define vmdispatch() continue
#define vmnext()                                                       \
	{                                                              \
		pc++;                                                  \
		if (INTERP_SAFE && unlikely(--budget == 0))            \
			goto out_of_budget;                            \
		continue;                                              \
	}
	if (INTERP_SAFE && unlikely(--budget == 0))
		goto out_of_budget;
	for (;;) switch (pc->code) {
	default:
		goto bad_op;
#endif

#define DST reg[pc->dst]
#define SRC reg[pc->src]
#define IMM pc->imm
#define OFF pc->off

/* Memory: A is the address. */
#define CHECK(A, SZ, WHAT)                                                                 \
	do {                                                                               \
		if (INTERP_SAFE && unlikely(!run_mem_ok(rs, (A), (SZ))))                     \
			FAULT("out-of-bounds %s of %d bytes at %#" PRIx64, WHAT, (int)(SZ),    \
			      (u64)(A));                                                     \
	} while (0)
/* d and s are the operands in the width of the form. */
#define ALU(N, EXPR)                                                                   \
	vmcase(N##64_K) { u64 d = DST, s = (u64)(s64)IMM; (void)d; (void)s; DST = (EXPR); vmnext(); } \
	vmcase(N##64_X) { u64 d = DST, s = SRC; (void)d; (void)s; DST = (EXPR); vmnext(); }          \
	vmcase(N##32_K) { u32 d = (u32)DST, s = (u32)IMM; (void)d; (void)s; DST = (u32)(EXPR); vmnext(); } \
	vmcase(N##32_X) { u32 d = (u32)DST, s = (u32)SRC; (void)d; (void)s; DST = (u32)(EXPR); vmnext(); }
#define BITS(x) (sizeof(x) * 8)
#define SIGNED(x) __typeof__(_Generic((x), u32: (s32)0, default: (s64)0))
#define SMIN(x) ((SIGNED(x))1 << (BITS(x) - 1))

	ALU(ADD, d + s)
	ALU(SUB, d - s)
	ALU(MUL, d * s)
	ALU(DIV, s ? d / s : 0)
	ALU(SDIV, s == 0 ? 0 : (SIGNED(s))s == -1 ? -d : (__typeof__(d))((SIGNED(d))d / (SIGNED(s))s))
	ALU(OR, d | s)
	ALU(AND, d & s)
	ALU(LSH, d << (s & (BITS(d) - 1)))
	ALU(RSH, d >> (s & (BITS(d) - 1)))
	ALU(MOD, s ? d % s : d)
	ALU(SMOD, s == 0 ? d : (SIGNED(s))s == -1 ? 0 : (__typeof__(d))((SIGNED(d))d % (SIGNED(s))s))
	ALU(XOR, d ^ s)
	ALU(MOV, s)
	ALU(ARSH, (__typeof__(d))((SIGNED(d))d >> (s & (BITS(d) - 1))))

	vmcase(NEG64) { DST = -DST; vmnext(); }
	vmcase(NEG32) { DST = (u32)-(u32)DST; vmnext(); }
	vmcase(MOVSX8_64) { DST = (u64)(s64)(int8_t)SRC; vmnext(); }
	vmcase(MOVSX16_64) { DST = (u64)(s64)(int16_t)SRC; vmnext(); }
	vmcase(MOVSX32_64) { DST = (u64)(s64)(s32)SRC; vmnext(); }
	vmcase(MOVSX8_32) { DST = (u32)(s32)(int8_t)SRC; vmnext(); }
	vmcase(MOVSX16_32) { DST = (u32)(s32)(int16_t)SRC; vmnext(); }
	vmcase(LE16) { DST = host_to_le16((uint16_t)DST); vmnext(); }
	vmcase(LE32) { DST = host_to_le32((u32)DST); vmnext(); }
	vmcase(LE64) { DST = host_to_le64(DST); vmnext(); }
	vmcase(BE16) { DST = host_to_be16((uint16_t)DST); vmnext(); }
	vmcase(BE32) { DST = host_to_be32((u32)DST); vmnext(); }
	vmcase(BE64) { DST = host_to_be64(DST); vmnext(); }
	vmcase(BSWAP16) { DST = __builtin_bswap16((uint16_t)DST); vmnext(); }
	vmcase(BSWAP32) { DST = __builtin_bswap32((u32)DST); vmnext(); }
	vmcase(BSWAP64) { DST = __builtin_bswap64(DST); vmnext(); }

/* Conditional jumps: T is u or s (the signedness of the comparison). */
#define JCC(N, OP, T)                                                                  \
	vmcase(N##_K)   { if ((T##64)DST OP (T##64)(s64)IMM) pc += OFF; vmnext(); }      \
	vmcase(N##_X)   { if ((T##64)DST OP (T##64)SRC) pc += OFF; vmnext(); }           \
	vmcase(N##32_K) { if ((T##32)DST OP (T##32)IMM) pc += OFF; vmnext(); }           \
	vmcase(N##32_X) { if ((T##32)DST OP (T##32)SRC) pc += OFF; vmnext(); }
	vmcase(JA) { pc += OFF; vmnext(); }
	vmcase(JA32) { pc += IMM; vmnext(); }
	JCC(JEQ, ==, u)
	JCC(JGT, >, u)
	JCC(JGE, >=, u)
	JCC(JNE, !=, u)
	JCC(JSGT, >, s)
	JCC(JSGE, >=, s)
	JCC(JLT, <, u)
	JCC(JLE, <=, u)
	JCC(JSLT, <, s)
	JCC(JSLE, <=, s)
	vmcase(JSET_K)   { if (DST & (u64)(s64)IMM) pc += OFF; vmnext(); }
	vmcase(JSET_X)   { if (DST & SRC) pc += OFF; vmnext(); }
	vmcase(JSET32_K) { if ((u32)DST & (u32)IMM) pc += OFF; vmnext(); }
	vmcase(JSET32_X) { if ((u32)DST & (u32)SRC) pc += OFF; vmnext(); }

	vmcase(CALL) {
		helper = &prog->helpers.slot[(u32)IMM]; /* validated at load */
		goto call_helper;
	}
	vmcase(TAIL_CALL) {
		/*
		 * bpf_tail_call(ctx, prog_array, index): on success the target runs
		 * in this frame (its own 512 bytes, whatever the caller's depth) and
		 * never returns here; callers' frames stay.  On failure (index past
		 * the end, an empty slot, MAX_TAIL_CALL_CNT reached: the count is
		 * per run, shared by every frame, raised after the NULL check) the
		 * program goes on.  The slot is read inside the run's RCU read-side
		 * section: a program removed from the array stays until it ends.
		 */
		const struct bpfrt_map *m = (const struct bpfrt_map *)(uintptr_t)reg[2];
		if (INTERP_SAFE) {
			bool own = false;
			for (size_t i = 0; i < prog->nmaps; i++)
				own |= (uintptr_t)prog->maps[i] == reg[2];
			if (unlikely(!own || m->type != BPF_MAP_TYPE_PROG_ARRAY))
				FAULT("bpf_tail_call: r2 (%#" PRIx64 ") is not a prog_array of the program", reg[2]);
		}
		u32 index = (u32)reg[3];
		if (index >= m->max_entries || rs->tail_calls >= BPFRT_MAX_TAIL_CALLS)
			vmnext();
		const struct bpfrt_prog *t = __atomic_load_n((bpfrt_prog **)&m->ptrs[index], __ATOMIC_ACQUIRE);
		if (!t)
			vmnext();
		rs->tail_calls++;
		if (INTERP_SAFE) /* the target's map values are memory this run may touch (once) */
			for (size_t i = 0; i < t->nregions; i++)
				if (unlikely(!run_has_region(rs, &t->regions[i]) &&
					     !run_add_region(rs, t->regions[i].lo, t->regions[i].hi - t->regions[i].lo)))
					FAULT("more than %d memory regions in one run", RUN_MAX_REGIONS);
		prog = rs->prog = t;
		pc = t->dec;
		reg[10] = frame_top;
		vmdispatch();
	}

	vmcase(CALLX) {
		helper = bpfrt_helper_get(&prog->helpers, DST);
		if (unlikely(!helper)) {
			FAULT("callx to %#" PRIx64 ", which is not a registered helper", DST);
		}
	call_helper:
		if (INTERP_SAFE && helper->map_args) {
			/* r1 must be one of the program's maps, r2 (and r3) its key (and value) */
			const struct bpfrt_map *m = NULL;
			for (size_t i = 0; i < prog->nmaps && !m; i++)
				if ((uintptr_t)prog->maps[i] == reg[1])
					m = prog->maps[i];
			for (int i = 0; i < rs->ninner && !m; i++) /* an inner map this run was given */
				if ((uintptr_t)rs->inner[i] == reg[1])
					m = rs->inner[i];
			if (unlikely(!m))
				FAULT("%s: r1 (%#" PRIx64 ") is not a map of the program", helper->name, reg[1]);
			if (helper->map_args & 1)
				CHECK(reg[2], m->key_size, "read of a map key");
			if (helper->map_args & 2)
				CHECK(reg[3], m->value_size, "read of a map value");
			if (helper->map_args & 8)
				CHECK(reg[2], m->value_size, "access to a map value");
		}
		if (INTERP_SAFE && helper->mem_arg[0]) {
			for (int k = 0; k < 2 && helper->mem_arg[k]; k++)
				if (reg[helper->mem_size[k]])
					CHECK(reg[helper->mem_arg[k]], reg[helper->mem_size[k]], "helper access");
		}
		if (unlikely(helper->callbacks)) {
			/* where the callbacks it runs take their frames, and the budget they share */
			rs->cb_depth = depth;
			rs->cb_r10 = reg[10];
			rs->cb_pc = pc;
			rs->cb_name = helper->name;
			rs->left = budget;
			reg[0] = helper->fn(reg[1], reg[2], reg[3], reg[4], reg[5]);
			if (unlikely(rs->status != BPFRT_OK)) /* a callback faulted: the run stops */
				return rs->status;
			budget = rs->left;
		} else {
			reg[0] = helper->fn(reg[1], reg[2], reg[3], reg[4], reg[5]);
		}
		if (INTERP_SAFE && helper->ret_map_value && reg[0] &&
		    (((struct bpfrt_map *)(uintptr_t)reg[1])->type == BPF_MAP_TYPE_ARRAY_OF_MAPS ||
		     ((struct bpfrt_map *)(uintptr_t)reg[1])->type == BPF_MAP_TYPE_HASH_OF_MAPS)) {
			/* a map-in-map lookup gives a map, not memory: later calls may take it */
			if (unlikely(rs->ninner == (int)(sizeof(rs->inner) / sizeof(rs->inner[0]))))
				FAULT("more than %d inner maps looked up in one run",
				      (int)(sizeof(rs->inner) / sizeof(rs->inner[0])));
			rs->inner[rs->ninner++] = (const struct bpfrt_map *)(uintptr_t)reg[0];
		} else if (INTERP_SAFE && (helper->ret_mem_size || helper->ret_map_value || helper->ret_size_arg) &&
		    reg[0]) {
			uint64_t size = helper->ret_map_value ? ((struct bpfrt_map *)(uintptr_t)reg[1])->value_size :
					helper->ret_size_arg ? reg[helper->ret_size_arg] : helper->ret_mem_size;
			struct bpfrt_region got = { reg[0], reg[0] + size };
			if (unlikely(!run_has_region(rs, &got) && !run_add_region(rs, reg[0], size)))
				FAULT("more than %d memory regions returned by helpers in one run",
				      RUN_MAX_REGIONS - RUN_FIXED_REGIONS);
		}
		vmnext();
	}
	vmcase(CALL_LOCAL) {
		if (unlikely(depth + 1 >= rs->max_frames))
			FAULT("call depth exceeds %u frames", rs->max_frames);
		struct frame *f = &frames[depth++];
		f->ret = pc;
		f->prog = prog;
		memcpy(f->saved, &reg[6], sizeof(f->saved)); /* r6..r10 */
		reg[10] -= BPFRT_STACK_SIZE;
		frame_top = reg[10];
		pc += IMM;
		vmnext();
	}
	vmcase(EXIT) {
		if (depth == depth0) {
			if (INTERP_SAFE)
				rs->left = budget;
			*r0 = reg[0];
			return BPFRT_OK;
		}
		struct frame *f = &frames[--depth];
		memcpy(&reg[6], f->saved, sizeof(f->saved));
		pc = f->ret;
		prog = rs->prog = f->prog;
		frame_top = reg[10];
		vmnext();
	}
	vmcase(CALL_KFUNC)
	vmcase(LDDW_MAP_FD)
	vmcase(LDDW_MAP_VALUE)
	vmcase(LDDW_BTF_ID)
	vmcase(LDDW_MAP_IDX)
	vmcase(LDDW_MAP_IDX_VALUE)
		goto bad_op; /* refused or resolved at load: never reaches the interpreter */
	vmcase(LDDW_FUNC) { /* a callback: its first instruction (bpfrt_callback runs it) */
		DST = (uintptr_t)(pc + 1 + IMM);
		pc++;
		vmnext();
	}
	vmcase(LDDW) {
		DST = (u64)(u32)pc[0].imm | ((u64)(u32)pc[1].imm << 32);
		pc++;
		vmnext();
	}

#define LDX(N, T, CAST)                                                                    \
	vmcase(N) {                                                                        \
		u64 a = SRC + (u64)(s64)OFF;                                               \
		T v;                                                                       \
		CHECK(a, sizeof(T), "load");                                               \
		memcpy(&v, (const void *)(uintptr_t)a, sizeof(T));                         \
		DST = (u64)(CAST)v;                                                        \
		vmnext();                                                                  \
	}
#define STORE(N, T, VAL)                                                                   \
	vmcase(N) {                                                                        \
		u64 a = DST + (u64)(s64)OFF;                                               \
		T v = (T)(VAL);                                                            \
		CHECK(a, sizeof(T), "store");                                              \
		memcpy((void *)(uintptr_t)a, &v, sizeof(T));                               \
		vmnext();                                                                  \
	}
	LDX(LDXW, u32, u64)
	LDX(LDXH, uint16_t, u64)
	LDX(LDXB, uint8_t, u64)
	LDX(LDXDW, u64, u64)
	LDX(LDXSW, s32, s64)
	LDX(LDXSH, int16_t, s64)
	LDX(LDXSB, int8_t, s64)
	STORE(STW, u32, IMM)
	STORE(STH, uint16_t, IMM)
	STORE(STB, uint8_t, IMM)
	STORE(STDW, u64, (s64)IMM)
	STORE(STXW, u32, SRC)
	STORE(STXH, uint16_t, SRC)
	STORE(STXB, uint8_t, SRC)
	STORE(STXDW, u64, SRC)

/* Atomics: FETCH is 1 when the old value goes to src. */
#define ATOMIC_CHECK(A, T)                                                                 \
	do {                                                                               \
		CHECK(A, sizeof(T), "atomic access");                                      \
		if (INTERP_SAFE && unlikely((A) & (sizeof(T) - 1)))                          \
			FAULT("misaligned atomic access of %d bytes at %#" PRIx64,           \
			      (int)sizeof(T), (u64)(A));                                     \
	} while (0)
#define ATOMIC(N, BUILTIN, FETCH)                                                          \
	vmcase(N##64) {                                                                    \
		u64 a = DST + (u64)(s64)OFF;                                               \
		ATOMIC_CHECK(a, u64);                                                      \
		u64 old = BUILTIN((u64 *)(uintptr_t)a, SRC, __ATOMIC_SEQ_CST);             \
		if (FETCH)                                                                 \
			SRC = old;                                                         \
		vmnext();                                                                  \
	}                                                                                  \
	vmcase(N##32) {                                                                    \
		u64 a = DST + (u64)(s64)OFF;                                               \
		ATOMIC_CHECK(a, u32);                                                      \
		u32 old = BUILTIN((u32 *)(uintptr_t)a, (u32)SRC, __ATOMIC_SEQ_CST);        \
		if (FETCH)                                                                 \
			SRC = old;                                                         \
		vmnext();                                                                  \
	}
	ATOMIC(AADD, __atomic_fetch_add, 0)
	ATOMIC(AOR, __atomic_fetch_or, 0)
	ATOMIC(AAND, __atomic_fetch_and, 0)
	ATOMIC(AXOR, __atomic_fetch_xor, 0)
	ATOMIC(AFADD, __atomic_fetch_add, 1)
	ATOMIC(AFOR, __atomic_fetch_or, 1)
	ATOMIC(AFAND, __atomic_fetch_and, 1)
	ATOMIC(AFXOR, __atomic_fetch_xor, 1)
	ATOMIC(AXCHG, __atomic_exchange_n, 1)
	vmcase(ACMPXCHG64) {
		u64 a = DST + (u64)(s64)OFF;
		ATOMIC_CHECK(a, u64);
		u64 expected = reg[0];
		__atomic_compare_exchange_n((u64 *)(uintptr_t)a, &expected, SRC, false,
					    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		reg[0] = expected; /* the old value, whether or not it matched */
		vmnext();
	}
	vmcase(ACMPXCHG32) {
		u64 a = DST + (u64)(s64)OFF;
		ATOMIC_CHECK(a, u32);
		u32 expected = (u32)reg[0];
		__atomic_compare_exchange_n((u32 *)(uintptr_t)a, &expected, (u32)SRC, false,
					    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		reg[0] = expected;
		vmnext();
	}
#if !INTERP_GOTO
	} /* switch */
#endif

bad_op:
	return run_fault(rs, pc, BPFRT_EINTERNAL,
			 "internal error: op %u reached the interpreter", pc->code);
out_of_budget:
	return run_fault(rs, pc, BPFRT_EBUDGET,
			 "the run exceeded its budget of %" PRIu64 " instructions", rs->budget);
fault:
	return run_fault(rs, pc, BPFRT_EFAULT, "%s", rs->msg);

#undef vmcase
#undef vmdispatch
#undef vmnext
#undef DST
#undef SRC
#undef IMM
#undef OFF
#undef ALU
#undef BITS
#undef SIGNED
#undef SMIN
#undef JCC
#undef CHECK
#undef LDX
#undef STORE
#undef ATOMIC_CHECK
#undef ATOMIC
}
