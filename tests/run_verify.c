/*
 * run_verify.c — bpfrt's verifier against the expected verdicts of real
 * objects: ../shared/corpus/ebpf-samples/prevail_test_verify_expectations.tsv
 * (PREVAIL's test list: every program of a section accepted, or refused,
 * or the object refused at load), on the Linux platform.
 *
 *   run_verify TSV SAMPLES_DIR [--known FILE] [--verbose]
 *
 * Prints one line per disagreement with its cause (the verifier's message)
 * and a summary.  --known lists disagreements understood and accepted for
 * now (file<TAB>section<TAB>reason lines): they are reported, not counted as
 * failures; an entry that agrees again is an error, so the list stays true.
 * The exit status is 1 if an unlisted disagreement exists, above all a
 * program accepted that the expectations mark unsafe.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <inttypes.h>
#include <stdbool.h>
#include "bpfrt.h"
#include "testutil.h"

static struct tu_known_list known;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s TSV SAMPLES_DIR [--known FILE] [--verbose]\n", argv[0]);
		return 2;
	}
	bool verbose = false;
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--known") && i + 1 < argc)
			tu_known_load(&known, argv[++i]);
		else if (!strcmp(argv[i], "--verbose"))
			verbose = true;
	}
	FILE *tsv = fopen(argv[1], "r");
	if (!tsv) {
		perror(argv[1]);
		return 2;
	}
	bpfrt_vm *vm = bpfrt_vm_new();
	char line[2048];
	int total = 0, agree = 0, unlisted = 0, unsafe_accepted = 0, known_hit = 0;
	uint64_t processed = 0;
	double vtime = 0;
	size_t nprogs = 0;
	while (fgets(line, sizeof(line), tsv)) {
		if (line[0] == '#')
			continue;
		line[strcspn(line, "\n")] = 0;
		char *macro = strtok(line, "\t"), *dir = strtok(NULL, "\t"), *file = strtok(NULL, "\t");
		char *sec = strtok(NULL, "\t"), *prog = strtok(NULL, "\t");
		if (!macro || !dir || !file || !sec)
			continue;
		if (!strcmp(macro, "TEST_SECTION_FAIL") || !strcmp(macro, "TEST_SECTION_REJECT_IF_STRICT"))
			continue; /* PREVAIL's own false positives / strict-mode-only: no expectation */
		/* FAIL_UNMARSHAL: PREVAIL's decoder refuses what bpfrt's structural checks, the
		 * verifier's first stage, refuse: either a load failure or a refusal agrees */
		bool expect_load_fail = !strcmp(macro, "FAIL_LOAD_ELF");
		bool unmarshal = !strcmp(macro, "FAIL_UNMARSHAL");
		bool expect_reject = !strcmp(macro, "TEST_SECTION_REJECT") || !strcmp(macro, "FAIL_ANALYZE");
		char path[1024], key[512];
		snprintf(path, sizeof(path), "%s/%s/%s", argv[2], dir, file);
		snprintf(key, sizeof(key), "%s/%s", dir, file);
		total++;
		const char *verdict = "accepted", *why = "";
		char whybuf[700] = "";
		bpfrt_obj *obj = NULL;
		bool found = false;
		if (bpfrt_obj_open(vm, path, &obj) != BPFRT_OK) {
			verdict = "load-failed";
			snprintf(whybuf, sizeof(whybuf), "%s", bpfrt_vm_errmsg(vm));
		} else {
			for (size_t i = 0; i < bpfrt_obj_prog_count(obj); i++) {
				struct bpfrt_obj_prog_info pi;
				bpfrt_obj_prog_info(obj, i, &pi);
				if (strcmp(pi.section, sec) || (prog && strcmp(pi.name, prog)))
					continue;
				found = true;
				struct bpfrt_verify_opts o = { .sz = sizeof(o), .platform = BPFRT_PLATFORM_LINUX };
				struct bpfrt_verify_result r;
				double t0 = now();
				int rc = bpfrt_obj_verify(obj, pi.name, &o, &r);
				vtime += now() - t0;
				nprogs++;
				processed += r.processed;
				if (rc != BPFRT_OK) {
					/* ENOTSUP: the program could not be linked (an extern) */
					verdict = rc == BPFRT_EREJECT ? "refused" : rc == BPFRT_ENOTSUP ? "load-failed" : "error";
					snprintf(whybuf, sizeof(whybuf), "%s: %s", pi.name,
						 r.log ? r.log : bpfrt_vm_errmsg(vm));
					whybuf[strcspn(whybuf, "\n")] = 0;
					bpfrt_verify_result_fini(&r);
					break;
				}
				bpfrt_verify_result_fini(&r);
			}
			if (!found) {
				verdict = "load-failed";
				snprintf(whybuf, sizeof(whybuf), "no program in section %s", sec);
			}
			bpfrt_obj_free(obj);
		}
		why = whybuf;
		bool ok = unmarshal ? strcmp(verdict, "accepted") != 0
			: expect_load_fail ? !strcmp(verdict, "load-failed")
			: expect_reject ? (!strcmp(verdict, "refused") || !strcmp(verdict, "load-failed"))
			: !strcmp(verdict, "accepted");
		struct tu_known *k = tu_known_find(&known, key, sec);
		if (ok) {
			agree++;
			if (k)
				printf("FIXED (drop it from the known list): %s %s\n", key, sec);
			if (verbose)
				printf("ok %s %s %s\n", key, sec, verdict);
			continue;
		}
		if (expect_reject && !strcmp(verdict, "accepted"))
			unsafe_accepted++;
		if (k) {
			k->used = 1;
			known_hit++;
			printf("known: %s %s: expected %s, got %s: %s [%s]\n", key, sec,
			       expect_load_fail ? "load failure" : expect_reject ? "refusal" : "acceptance", verdict, why,
			       k->why);
			continue;
		}
		unlisted++;
		printf("FAIL disagree: %s %s: expected %s, got %s: %s\n", key, sec,
		       expect_load_fail ? "load failure" : expect_reject ? "refusal" : "acceptance", verdict, why);
	}
	fclose(tsv);
	for (size_t i = 0; i < known.n; i++)
		if (!known.v[i].used) { /* listed but not met: agrees now, or the entry is stale */
			printf("FAIL stale known entry: %s %s\n", known.v[i].a, known.v[i].b);
			unlisted++;
		}
	printf("verifier vs expectations: %d/%d agree (%.1f%%), %d known disagreements, %d unlisted, "
	       "%d unsafe accepted; %zu programs verified in %.3f s, %" PRIu64 " insns processed (%.1f M/s)\n",
	       agree, total, total ? 100.0 * agree / total : 0, known_hit, unlisted, unsafe_accepted, nprogs, vtime,
	       processed, vtime > 0 ? processed / vtime / 1e6 : 0);
	printf("%d passed, %d failed\n", agree + known_hit, unlisted + unsafe_accepted);
	bpfrt_vm_free(vm);
	return unlisted || unsafe_accepted;
}
