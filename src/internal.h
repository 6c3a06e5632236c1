/*
 * internal.h — bpfrt's internal types and the prototypes of each stage,
 * grouped by the file that defines them.
 */
#ifndef BPFRT_INTERNAL_H
#define BPFRT_INTERNAL_H

#include "common.h"
#include "insn.h"

#include <pthread.h>

#define BPFRT_MAX_HELPER_ID 65535

struct bpfrt_helper_slot {
	bpfrt_helper_fn fn;
	uint32_t ret_mem_size;
	char *name;
};

struct bpfrt_helper_table {
	struct bpfrt_helper_slot *slot; /* indexed by helper id */
	uint32_t n;                     /* ids 0 .. n-1 */
};

struct bpfrt_vm {
	struct bpfrt_helper_table helpers;
	pthread_mutex_t lock; /* guards errmsg */
	char errmsg[BPFRT_ERRMSG_MAX];
};

struct bpfrt_prog {
	bpfrt_vm *vm;
	char *name;
	struct bpfrt_insn *insns; /* as loaded */
	struct bpfrt_insn *dec;   /* decoded: code replaced by enum bpfrt_op */
	size_t n;
	struct bpfrt_helper_table helpers; /* snapshot of the vm's registry */
	uint32_t flags;                    /* BPFRT_LOAD_* */
	bpfrt_engine engine;
	uint64_t insn_budget;
	struct bpfrt_jit *jit;             /* JIT engine: the compiled code */
	pthread_mutex_t lock; /* guards errmsg */
	char errmsg[BPFRT_ERRMSG_MAX];
};

/* An error being reported: a status and a message. */
struct bpfrt_err {
	int status;
	char msg[BPFRT_ERRMSG_MAX];
};
BPFRT_HIDDEN int bpfrt_err_set(struct bpfrt_err *e, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* vm.c */
BPFRT_HIDDEN int bpfrt_vm_fail(bpfrt_vm *vm, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
BPFRT_HIDDEN int bpfrt_prog_fail(bpfrt_prog *prog, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline const struct bpfrt_helper_slot *
bpfrt_helper_get(const struct bpfrt_helper_table *t, uint64_t id)
{
	return id < t->n && t->slot[id].fn ? &t->slot[id] : NULL;
}

/* helpers.c: the default helpers every vm starts with */
BPFRT_HIDDEN int bpfrt_helpers_register_defaults(bpfrt_vm *vm);

/* validate.c: structural validation; fills dec[] with decoded ops */
#define BPFRT_VALIDATE_PSEUDO 1u /* allow LDDW pseudo forms (an object loader resolves them) */
BPFRT_HIDDEN int bpfrt_validate(const struct bpfrt_insn *insns, size_t n,
				const struct bpfrt_helper_table *helpers, unsigned vflags,
				struct bpfrt_insn *dec, struct bpfrt_err *err);

/* interp.c */
struct bpfrt_region {
	uintptr_t lo, hi; /* [lo, hi) */
};
BPFRT_HIDDEN int bpfrt_interp_run(bpfrt_prog *prog, uint64_t r1, uint64_t r2,
				  const struct bpfrt_region *region, uint64_t *r0);

/* disasm.c */
BPFRT_HIDDEN int bpfrt_disasm_one(const struct bpfrt_helper_table *helpers,
				  const struct bpfrt_insn *insns, size_t n, size_t pc,
				  char *buf, size_t len);

#endif
