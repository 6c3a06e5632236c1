/*
 * run_conformance.c — runs a bpf_conformance test directory through
 * `bpfrt plugin`, one process per test, as the suite's own runner does.
 *
 *   run_conformance BPFRT DIR [--negative] [PLUGIN_OPTIONS...]
 *
 * A test passes when the plugin prints the expected r0 (or fails, for a test
 * with `-- error`).  With --negative every test must be refused — by the
 * assembler, or by the plugin (refused at load or faulted) — or, where it
 * states a result, run to a different one; tests named invalid_* exercise the
 * assembler and must be refused by it.  --xfail NAME marks a test known to
 * fail, with the reason after a colon (NAME:REASON); it is reported, and an
 * expected failure that passes is an error (the list must stay true).
 * --allow-refused (with --verify): a test the verifier refuses passes, and is
 * listed and counted; every test it accepts must still give its result.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s BPFRT DIR [--negative] [PLUGIN_OPTIONS...]\n", argv[0]);
		return 2;
	}
	const char *bpfrt = argv[1], *dir = argv[2];
	bool negative = false, allow_refused = false;
	int refused = 0;
	const char *xfail[16];
	int nxfail = 0, xfailed = 0;
	char *opts[16];
	int nopts = 0;
	char optstr[256] = "";
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--negative"))
			negative = true;
		else if (!strcmp(argv[i], "--allow-refused"))
			allow_refused = true;
		else if (!strcmp(argv[i], "--xfail") && i + 1 < argc && nxfail < 16)
			xfail[nxfail++] = argv[++i];
		else if (nopts < 15) {
			opts[nopts++] = argv[i];
			strncat(optstr, " ", sizeof(optstr) - strlen(optstr) - 1);
			strncat(optstr, argv[i], sizeof(optstr) - strlen(optstr) - 1);
		}
	}
	char **files;
	int nf = tu_list(dir, ".data", &files);
	if (nf < 0) {
		fprintf(stderr, "%s: cannot list %s\n", argv[0], dir);
		return 2;
	}
	int passed = 0, failed = 0, by_asm = 0, by_plugin = 0, by_result = 0;
	for (int i = 0; i < nf; i++) {
		const char *name = strrchr(files[i], '/') + 1;
		struct datafile df;
		char err[512];
		bool ok;
		const char *why = "";
		char whybuf[700];
		if (tu_load_data(files[i], &df, err, sizeof(err))) {
			ok = negative;
			snprintf(whybuf, sizeof(whybuf), "bad test file: %s", err);
			why = whybuf;
			if (negative) by_asm++;
			goto done;
		}
		struct bpfrt_insn *insns = NULL;
		size_t n = 0;
		if (df_program(&df, &insns, &n, err, sizeof(err)) != BPFRT_OK) {
			ok = negative;
			snprintf(whybuf, sizeof(whybuf), "assembler: %s", err);
			why = whybuf;
			if (negative) by_asm++;
			df_free(&df);
			goto done;
		}
		if (negative && !strncmp(name, "invalid_", 8)) {
			ok = false;
			why = "an assembler-only negative test was accepted by the assembler";
			free(insns);
			df_free(&df);
			goto done;
		}
		char *prog = tu_hex(insns, n * sizeof(*insns));
		char *mem = df.has_mem ? tu_hex(df.mem, df.nmem) : NULL;
		char *av[24];
		int ac = 0;
		av[ac++] = (char *)bpfrt;
		av[ac++] = "plugin";
		for (int k = 0; k < nopts; k++)
			av[ac++] = opts[k];
		if (mem)
			av[ac++] = mem;
		av[ac] = NULL;
		char *out = NULL, *errout = NULL;
		int status = -1;
		if (tu_run(av, prog, &out, &errout, &status)) {
			ok = false;
			why = "could not run the plugin";
		} else {
			bool want_error = df.has_error || !df.has_result;
			unsigned long long r0 = strtoull(out, NULL, 16);
			bool normal_pass = want_error ? status != 0 : status == 0 && r0 == df.result;
			/* A negative test is refused, or runs to a result other than the stated one. */
			ok = negative ? status != 0 || (!want_error && r0 != df.result) : normal_pass;
			if (!ok && allow_refused && status != 0 && strstr(errout, "refused by the verifier")) {
				ok = true; /* a safety verifier may refuse what the ISA defines */
				refused++;
				printf("REFUSED %s: %.200s", name, errout);
			}
			if (negative && ok) {
				if (status != 0) by_plugin++; else by_result++;
			}
			if (want_error && status == 0)
				snprintf(whybuf, sizeof(whybuf), "expected an error, got r0 = %#llx", r0);
			else if (status != 0)
				snprintf(whybuf, sizeof(whybuf), "plugin exited %d: %.300s", status, errout);
			else
				snprintf(whybuf, sizeof(whybuf), "r0 = %#llx, expected %#llx", r0,
					 (unsigned long long)df.result);
			why = whybuf;
		}
		free(out);
		free(errout);
		free(prog);
		free(mem);
		free(insns);
		df_free(&df);
done:;
		const char *xf = NULL;
		for (int k = 0; k < nxfail; k++) {
			size_t l = strcspn(xfail[k], ":");
			if (strlen(name) == l && !strncmp(name, xfail[k], l))
				xf = xfail[k];
		}
		if (xf) {
			if (ok) {
				failed++;
				printf("FAIL %s%s: expected to fail (%s) but passed\n", files[i], optstr, xf);
			} else {
				xfailed++;
				printf("XFAIL %s%s: %s (%s)\n", files[i], optstr, why, xf);
			}
		} else if (ok) {
			passed++;
		} else {
			failed++;
			printf("FAIL %s%s: %s\n", files[i], optstr, why);
		}
	}
	if (negative)
		printf("negative tests refused: %d by the assembler, %d by the plugin, %d by a wrong r0\n",
		       by_asm, by_plugin, by_result);
	if (xfailed)
		printf("%d expected failure(s), listed above\n", xfailed);
	if (allow_refused)
		printf("%d refused by the verifier (listed above), %d accepted and run\n", refused, passed - refused);
	printf("conformance %s%s: %d passed, %d failed\n", dir, optstr, passed, failed);
	tu_free_list(files, nf);
	return failed ? 1 : 0;
}
