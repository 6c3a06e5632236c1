/*
 * verifier.h — the verifier's interface to the rest of bpfrt: what it is
 * given, what it finds.  (Its internals: src/verifier/vf.h.)
 */
#ifndef BPFRT_VERIFIER_H
#define BPFRT_VERIFIER_H

#include "internal.h"

enum { VF_PLATFORM_BPFRT = 0, VF_PLATFORM_LINUX = 1 };

/* A map the program refers to (LDDW src 1/5: imm = index; src 2/6: index
 * and value offset). */
struct vf_map {
	uint32_t type, key_size, value_size, max_entries, flags;
	int32_t inner;     /* map-in-map: index of the inner template, or -1 */
	bool rdonly;       /* frozen (.rodata): the program cannot write it */
	const uint8_t *data; /* rdonly: its contents (value_size bytes), or NULL */
	const char *name;
};

struct vstate;

struct vf_input {
	const struct bpfrt_insn *insns;
	size_t n;
	uint32_t prog_type;            /* enum bpf_prog_type; 0: raw memory */
	const struct vf_map *maps;
	size_t nmaps;
	int platform;                  /* VF_PLATFORM_* */
	const struct bpfrt_helper_table *helpers; /* the bpfrt platform's helpers */
	unsigned log_level;            /* 0: the refusal only; 1: + summary; 2: + state per insn */
	/* the source line of an instruction, for messages (NULL: none) */
	const char *(*line)(void *arg, size_t insn);
	void *line_arg;
	uint32_t ctx_size;             /* prog_type 0: r1 points to this many bytes, r2 holds it */
	const struct bpfrt_custom_type *custom; /* prog_type is this embedder's type */
	uint32_t insn_limit;           /* processed-insn limit; 0: VF_COMPLEXITY_LIMIT */
	/* tests of code fragments: changes the initial state (verifier/vf.h) */
	void (*init)(void *arg, struct vstate *st);
	void *init_arg;
};

/* What the verifier learnt of each instruction, for the passes and the JIT. */
struct vf_aux {
	uint8_t seen;          /* reached on some path */
	uint8_t ptr_type;      /* memory access: enum vtype of the pointer (first seen) */
	uint8_t ptr_mixed;     /* ... different types on different paths */
	uint8_t map_mixed;     /* helper call: r1 is not always the same map */
	uint8_t key_mixed;     /* tail call / lookup: the key is not always the same constant */
	int32_t map;           /* ... the map index, or -1 */
	int64_t key;           /* ... the constant key; bpf_loop: its callback's first insn
				* (key_mixed: another callback, or flags not 0, on some path) */
};

/* vf_aux.ptr_type of a context access (the rewrite converts those) */
#define VF_AUX_PTR_CTX 2

struct vf_subinfo {
	uint32_t start, stack_depth;
	bool tail_call_reachable, has_tail_call;
};

struct vf_result {
	int status;            /* BPFRT_OK accepted, BPFRT_EREJECT refused, other: could not verify */
	char *log;             /* the log (NUL-terminated, malloc'd) */
	size_t loglen;
	uint32_t err_insn;     /* refusals: the instruction, or UINT32_MAX */
	uint64_t processed;    /* instructions processed */
	uint64_t states, peak_states, pruned;
	uint64_t ns;           /* time taken */
	struct vf_aux *aux;    /* [n] */
	size_t n;
	struct vf_subinfo *sub;
	uint32_t nsub;
	bool tail_call_reachable;
	uint32_t ctx_max;      /* the context bytes the program may touch: [0, ctx_max) */
	bool ctx_ptrs;         /* its context holds pointers (packet, socket): only a real one will do */
};

#define VF_COMPLEXITY_LIMIT 1000000u

BPFRT_HIDDEN int bpfrt_verify(const struct vf_input *in, struct vf_result *out);
BPFRT_HIDDEN void bpfrt_verify_result_free(struct vf_result *r);

#endif
