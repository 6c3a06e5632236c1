/* bench.h — shared by bpfrt's benchmarks */
#ifndef BPFRT_BENCH_H
#define BPFRT_BENCH_H
#include <stdbool.h>
#include <stdint.h>
#include "bpfrt.h"

double now_ns(void);
/* bpf(BPF_PROG_LOAD) of a program of `type`; -1 with errno and the verifier's log */
int kernel_load(int type, const struct bpfrt_insn *in, size_t n, char *log, size_t loglen);
/* BPF_PROG_TEST_RUN: mean ns per run as the kernel measures it, or -1 */
double kernel_run(int fd, const void *pkt, uint32_t len, uint32_t repeat, uint64_t *r0);
int kernel_jit_enabled(void);
int bench_jit(bool quick);
int bench_patch(bool quick);
int bench_maps(bool quick, const char *objpath);
int bench_verify(bool quick);
int bench_tailcall(bool quick, const char *objpath);
int bench_trace(bool quick, const char *objpath);
#endif
