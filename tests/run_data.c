/*
 * run_data.c — data-driven program tests, run in-process on every engine.
 *
 *   run_data [--match-errors] [--ubpf-helpers] [--jit-permutations N]
 *            [--skip NAME:REASON]... PATH...
 *
 * Each PATH is a .data file or a directory of them (the bpf_conformance
 * format: -- asm / -- raw, -- mem, -- result, -- error).  A test with a
 * result runs on every engine in safe and in fast mode and must give that
 * r0; a test with -- error must be refused by the assembler or at load, or
 * fault — in safe mode only, since in fast mode a faulting program is
 * undefined behaviour.  With --match-errors (for bpfrt's own tests) the
 * first line of -- error must appear in bpfrt's message.  A file with both
 * -- asm and -- raw is also an assembler test: the assembly must encode to
 * exactly the raw instructions.  --ubpf-helpers
 * registers the helpers uBPF's test suite uses (0 gather_bytes, 1 memfrob,
 * 2 no_op, 3 sqrti, 4 strcmp_ext).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

static uint64_t u_gather_bytes(uint64_t a __attribute__((unused)), uint64_t b __attribute__((unused)), uint64_t c __attribute__((unused)), uint64_t d __attribute__((unused)), uint64_t e __attribute__((unused)))
{
	return ((a & 0xff) << 32) | ((b & 0xff) << 24) | ((c & 0xff) << 16) |
	       ((d & 0xff) << 8) | (e & 0xff);
}

static uint64_t u_memfrob(uint64_t a __attribute__((unused)), uint64_t b __attribute__((unused)), uint64_t c __attribute__((unused)), uint64_t d __attribute__((unused)), uint64_t e __attribute__((unused)))
{
	uint8_t *p = (uint8_t *)(uintptr_t)a;
	for (uint64_t i = 0; i < b; i++)
		p[i] ^= 42;
	return 0;
}

static uint64_t u_no_op(uint64_t a __attribute__((unused)), uint64_t b __attribute__((unused)), uint64_t c __attribute__((unused)), uint64_t d __attribute__((unused)), uint64_t e __attribute__((unused)))
{
	return 0;
}

static uint64_t u_sqrti(uint64_t a __attribute__((unused)), uint64_t b __attribute__((unused)), uint64_t c __attribute__((unused)), uint64_t d __attribute__((unused)), uint64_t e __attribute__((unused)))
{
	return (uint64_t)sqrt((double)a);
}

static uint64_t u_strcmp_ext(uint64_t a __attribute__((unused)), uint64_t b __attribute__((unused)), uint64_t c __attribute__((unused)), uint64_t d __attribute__((unused)), uint64_t e __attribute__((unused)))
{
	return (uint64_t)(int64_t)strcmp((const char *)(uintptr_t)a, (const char *)(uintptr_t)b);
}

static bool match_errors, ubpf_helpers;
static const char *skips[32];
static int nskips;
static int passed, failed;

struct config {
	bpfrt_engine engine;
	uint32_t flags;
	unsigned permute;
	char name[32];
};
static struct config configs[64] = {
	{ BPFRT_ENGINE_INTERP, BPFRT_LOAD_SAFE, 0, "interp/safe" },
	{ BPFRT_ENGINE_INTERP, 0, 0, "interp/fast" },
	{ BPFRT_ENGINE_INTERP_SWITCH, BPFRT_LOAD_SAFE, 0, "switch/safe" },
	{ BPFRT_ENGINE_INTERP_SWITCH, 0, 0, "switch/fast" },
	{ BPFRT_ENGINE_JIT, 0, 0, "jit" },
	{ BPFRT_ENGINE_JIT, BPFRT_LOAD_BLIND, 0, "jit/blind" },
	{ BPFRT_ENGINE_JIT, BPFRT_LOAD_ZEXT, 0, "jit/zext" },
	{ BPFRT_ENGINE_INTERP, BPFRT_LOAD_SAFE | BPFRT_LOAD_BLIND | BPFRT_LOAD_ZEXT, 0,
	  "interp/safe/blind/zext" },
	{ BPFRT_ENGINE_INTERP, BPFRT_LOAD_BLIND, 0, "interp/fast/blind" },
};
static size_t nconfigs = 9;

static bpfrt_vm *new_vm(void)
{
	bpfrt_vm *vm = bpfrt_vm_new();
	if (vm && ubpf_helpers) {
		for (uint32_t id = 0; id <= 4; id++) /* uBPF's numbers, not the kernel's */
			bpfrt_vm_register_helper(vm, id, NULL, NULL, 0);
		bpfrt_vm_register_helper(vm, 0, "gather_bytes", u_gather_bytes, 0);
		bpfrt_vm_register_helper(vm, 1, "memfrob", u_memfrob, 0);
		bpfrt_vm_register_helper(vm, 2, "no_op", u_no_op, 0);
		bpfrt_vm_register_helper(vm, 3, "sqrti", u_sqrti, 0);
		bpfrt_vm_register_helper(vm, 4, "strcmp_ext", u_strcmp_ext, 0);
	}
	return vm;
}

static void first_line(const char *s, char *buf, size_t len)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	size_t k = 0;
	while (s[k] && s[k] != '\n' && k + 1 < len) {
		buf[k] = s[k];
		k++;
	}
	while (k && isspace((unsigned char)buf[k - 1]))
		k--;
	buf[k] = '\0';
}

static void report(const char *path, const char *cfg, bool ok, const char *why)
{
	if (ok) {
		passed++;
		return;
	}
	failed++;
	printf("FAIL %s [%s]: %s\n", path, cfg, why);
}

static void run_file(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (int i = 0; i < nskips; i++) {
		size_t l = strcspn(skips[i], ":");
		if (strlen(base) == l && !strncmp(base, skips[i], l)) {
			printf("SKIP %s: %s\n", path, skips[i][l] ? skips[i] + l + 1 : "");
			return;
		}
	}
	struct datafile df;
	char err[512];
	if (tu_load_data(path, &df, err, sizeof(err))) {
		report(path, "parse", false, err);
		return;
	}
	bool want_error = df.has_error;
	char expect[256] = "";
	if (want_error && df.error)
		first_line(df.error, expect, sizeof(expect));
	if (df.has_asm && df.has_raw) {
		/* an assembler test: the assembly must encode to the raw words */
		struct bpfrt_insn *a = NULL;
		size_t na = 0;
		char why[700];
		int rc = bpfrt_asm(df.asm_text, &a, &na, err, sizeof(err));
		bool ok = rc == BPFRT_OK && na == df.nraw && !memcmp(a, df.raw, na * sizeof(*a));
		if (rc != BPFRT_OK)
			snprintf(why, sizeof(why), "asm: %s", err);
		else
			snprintf(why, sizeof(why), "assembled %zu instructions differ from the %zu raw ones",
				 na, df.nraw);
		report(path, "asm=raw", ok, why);
		free(a);
		if (!df.has_result && !df.has_error) {
			df_free(&df);
			return;
		}
	}
	struct bpfrt_insn *insns = NULL;
	size_t n = 0;
	int rc = df_program(&df, &insns, &n, err, sizeof(err));
	if (rc != BPFRT_OK) {
		bool ok = want_error && (!match_errors || strstr(err, expect));
		report(path, "asm", ok, err);
		df_free(&df);
		return;
	}
	for (size_t c = 0; c < nconfigs; c++) {
		const struct config *cf = &configs[c];
		if (want_error && !(cf->flags & BPFRT_LOAD_SAFE))
			continue;
		bpfrt_vm *vm = new_vm();
		bpfrt_prog *p = NULL;
		struct bpfrt_load_opts o = { .sz = sizeof(o), .flags = cf->flags,
					     .engine = cf->engine, .insn_budget = 1u << 24,
					     .jit_permute = cf->permute };
		char why[700];
		bool ok;
		if (bpfrt_prog_load(vm, insns, n, &o, &p) != BPFRT_OK) {
			const char *m = bpfrt_vm_errmsg(vm);
			ok = want_error && (!match_errors || strstr(m, expect));
			snprintf(why, sizeof(why), "load: %s", m);
		} else {
			uint8_t *mem = df.nmem ? malloc(df.nmem) : NULL;
			if (mem)
				memcpy(mem, df.mem, df.nmem);
			uint64_t r0 = 0;
			int st = bpfrt_prog_run_mem(p, mem, df.nmem, &r0);
			if (st != BPFRT_OK) {
				const char *m = bpfrt_prog_errmsg(p);
				ok = want_error && (!match_errors || strstr(m, expect));
				snprintf(why, sizeof(why), "run: %s", m);
			} else if (want_error) {
				ok = false;
				snprintf(why, sizeof(why), "expected an error (%s), got r0 = %#llx",
					 expect, (unsigned long long)r0);
			} else {
				ok = df.has_result && r0 == df.result;
				snprintf(why, sizeof(why), "r0 = %#llx, expected %#llx",
					 (unsigned long long)r0, (unsigned long long)df.result);
			}
			free(mem);
		}
		report(path, cf->name, ok, why);
		bpfrt_prog_free(p);
		bpfrt_vm_free(vm);
	}
	free(insns);
	df_free(&df);
}

int main(int argc, char **argv)
{
	int npaths = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--match-errors"))
			match_errors = true;
		else if (!strcmp(argv[i], "--ubpf-helpers"))
			ubpf_helpers = true;
		else if (!strcmp(argv[i], "--jit-permutations") && i + 1 < argc) {
			/* N register maps spread over the 2880 permutations */
			int np = atoi(argv[++i]);
			for (int k = 1; k <= np && nconfigs < 64; k++) {
				struct config *cf = &configs[nconfigs++];
				cf->engine = BPFRT_ENGINE_JIT;
				cf->flags = k % 4 == 1 ? BPFRT_LOAD_JIT_RETPOLINE : 0;
				cf->permute = (unsigned)(k * 1019) % 2880 | (k % 2 ? 1u << 16 : 0);
				snprintf(cf->name, sizeof(cf->name), "jit/perm%u%s%s", cf->permute & 0xffff,
					 cf->permute >> 16 ? "/far" : "", cf->flags ? "/retpoline" : "");
			}
		} else if (!strcmp(argv[i], "--skip") && i + 1 < argc && nskips < 32)
			skips[nskips++] = argv[++i];
		else {
			struct stat st;
			npaths++;
			if (stat(argv[i], &st)) {
				report(argv[i], "stat", false, "no such file or directory");
			} else if (S_ISDIR(st.st_mode)) {
				char **files;
				int nf = tu_list(argv[i], ".data", &files);
				for (int k = 0; k < nf; k++)
					run_file(files[k]);
				if (nf > 0)
					tu_free_list(files, nf);
			} else {
				run_file(argv[i]);
			}
		}
	}
	if (!npaths) {
		fprintf(stderr, "usage: %s [--match-errors] [--ubpf-helpers] [--skip NAME]... PATH...\n",
			argv[0]);
		return 2;
	}
	printf("data tests: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
