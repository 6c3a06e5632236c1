/* kload.h — a bpfrt object's program in this machine's kernel (tests, benchmarks) */
#ifndef BPFRT_KLOAD_H
#define BPFRT_KLOAD_H
#include <stdint.h>
#include "bpfrt.h"

struct kload_result {
	double verify_ns;   /* accepted: the kernel's verification time */
	uint64_t insns;     /* accepted: instructions it processed */
	char why[512];      /* refused / not loaded: the reason */
};

/* 1 the kernel accepts program `name` as `type`, 0 it refuses it, -1 it
 * could not be tried (bpf() refused, a map the kernel cannot create). */
int kload_obj_prog(bpfrt_obj *obj, const char *name, uint32_t type, struct kload_result *res);
#endif
