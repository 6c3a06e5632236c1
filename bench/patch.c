/*
 * patch.c — the seed-001 table: P patches of a P-instruction program (each
 * instruction replaced by two, a jump every 8 instructions so that every
 * patch has branches to adjust), through the patchable-instruction list
 * (all patches, then one linearisation) and through the kernel's
 * one-patch-at-a-time algorithm (bpf_patch_insn_data's steps, written out
 * below), in the same run; the kernel algorithm is skipped above 195k
 * patches.  Then the bytes per list node and
 * the peak memory of the 1M case (in a child process).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "internal.h"
#include "patch.h"

static struct bpfrt_insn *program(size_t n)
{
	struct bpfrt_insn *in = calloc(n, sizeof(*in));
	for (size_t i = 0; i < n; i++)
		in[i] = (struct bpfrt_insn){ .code = 0x07, .imm = (int32_t)i }; /* add r0, i */
	for (size_t i = 0; i + 20 < n; i += 8)
		in[i] = (struct bpfrt_insn){ .code = 0x15, .dst = 1, .off = 12 }; /* jeq r1, 0, +12 */
	in[n - 1] = (struct bpfrt_insn){ .code = 0x95 };
	return in;
}

static double list_run(const struct bpfrt_insn *in, size_t n, size_t *out_n)
{
	struct bpfrt_plist l;
	struct bpfrt_err err;
	double t0 = now_ns();
	if (bpfrt_plist_init(&l, in, n, NULL, NULL, 0, &err) != BPFRT_OK) {
		fprintf(stderr, "%s\n", err.msg);
		exit(1);
	}
	for (uint32_t x = l.node[0].next, next; x; x = next) {
		next = l.node[x].next;
		struct bpfrt_pinsn seq[2] = { { .insn = l.node[x].insn, .to = l.node[x].target },
					      { .insn = { .code = 0x07 } } };
		if (bpfrt_plist_replace(&l, x, seq, 2, &err) != BPFRT_OK) {
			fprintf(stderr, "%s\n", err.msg);
			exit(1);
		}
	}
	struct bpfrt_linear lin;
	if (bpfrt_plist_linearize(&l, &lin, &err) != BPFRT_OK) {
		fprintf(stderr, "%s\n", err.msg);
		exit(1);
	}
	double t = now_ns() - t0;
	*out_n = lin.n;
	bpfrt_linear_free(&lin);
	bpfrt_plist_free(&l);
	return t;
}

/* The kernel's bpf_patch_insn_single + bpf_patch_insn_data, as they are:
 * grow the arrays, move the tail, write the patch, then adjust every
 * branch of the program (bpf_adj_branches) and move the aux data — O(N)
 * per patch. */
static void kernel_patch(struct bpfrt_insn **insns, void ***aux, size_t *n, size_t *cap,
			 size_t off, const struct bpfrt_insn *patch, size_t len)
{
	size_t delta = len - 1;
	if (*n + delta > *cap) { /* vrealloc, which the kernel does on every patch */
		*cap = *n + delta;
		*insns = realloc(*insns, *cap * sizeof(**insns));
		*aux = realloc(*aux, *cap * sizeof(**aux));
	}
	struct bpfrt_insn *in = *insns;
	memmove(&in[off + len], &in[off + 1], (*n - off - 1) * sizeof(*in));
	memmove(&(*aux)[off + delta], &(*aux)[off], (*n - off) * sizeof(**aux));
	memset(&(*aux)[off], 0, delta * sizeof(**aux));
	memcpy(&in[off], patch, len * sizeof(*in));
	*n += delta;
	/* bpf_adj_branches(prog, off, off + 1, off + len) */
	size_t end_old = off + 1, end_new = off + len;
	for (size_t i = 0; i < *n; i++) {
		if (i == off) { /* the patch itself is not adjusted */
			i = end_new - 1;
			continue;
		}
		uint8_t cls = in[i].code & 7, op = in[i].code & 0xf0;
		if ((cls != 5 && cls != 6) || op == 0x90 || op == 0x80)
			continue;
		int64_t t = (int64_t)i + in[i].off + 1;
		if (i < off && t >= (int64_t)end_old)
			in[i].off += (int16_t)delta;
		else if (i >= end_new && t < (int64_t)end_new)
			in[i].off -= (int16_t)delta;
	}
}

static double oracle_run(const struct bpfrt_insn *prog, size_t n, size_t *out_n)
{
	size_t cap = n, len = n;
	struct bpfrt_insn *in = malloc(n * sizeof(*in));
	void **aux = calloc(n, sizeof(*aux));
	memcpy(in, prog, n * sizeof(*in));
	double t0 = now_ns();
	for (size_t i = 0; i < 2 * n; i += 2) {
		struct bpfrt_insn patch[2] = { in[i], { .code = 0x07 } };
		kernel_patch(&in, &aux, &len, &cap, i, patch, 2);
	}
	double t = now_ns() - t0;
	*out_n = len;
	free(in);
	free(aux);
	return t;
}

int bench_patch(bool quick)
{
	static const size_t sizes[] = { 15000, 45000, 95000, 195000, 1000000 };
	printf("\n== instruction patching: every instruction replaced by two (seed 001's table) ==\n");
	printf("  %9s %14s %16s %8s\n", "patches", "list (ms)", "kernel algo (ms)", "ratio");
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k], nl, no;
		struct bpfrt_insn *in = program(n);
		double tl = list_run(in, n, &nl);
		if (n <= (quick ? 45000 : 195000)) {
			double to = oracle_run(in, n, &no);
			printf("  %9zu %14.2f %16.1f %7.0fx%s\n", n, tl / 1e6, to / 1e6, to / tl,
			       nl == no ? "" : "  (LENGTHS DIFFER)");
		} else { /* the first run of this size faults its memory in (huge pages: the kernel may
			  * compact memory first); a second one in the same process shows the list */
			double tw = list_run(in, n, &nl);
			printf("  %9zu %14.2f %16s   (first run; a second: %.2f ms)\n", n, tl / 1e6, "(skipped)",
			       tw / 1e6);
		}
		free(in);
	}
	/* the 1M case's memory, measured alone in a child */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		size_t n = 1000000, nl;
		struct bpfrt_insn *in = program(n);
		struct rusage r0, r1;
		getrusage(RUSAGE_SELF, &r0);
		list_run(in, n, &nl);
		getrusage(RUSAGE_SELF, &r1);
		printf("  1M case: %zu instructions out; peak RSS %.1f MiB (the program itself %.1f MiB); "
		       "%zu bytes per list node\n", nl, r1.ru_maxrss / 1024.0, n * 8 / 1048576.0,
		       sizeof(struct bpfrt_pnode) + sizeof(uint32_t));
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	return 0;
}
