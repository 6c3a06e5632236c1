/*
 * testutil.h — shared by bpfrt's test programs.
 */
#ifndef BPFRT_TESTUTIL_H
#define BPFRT_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpfrt.h"
#include "datafile.h"

/* The .data files of dir, sorted; returns the count or -1. Free with tu_free_list. */
int tu_list(const char *dir, const char *suffix, char ***paths);
void tu_free_list(char **paths, int n);

/* Runs argv with stdin_text on standard input; captures stdout and stderr
 * (malloc'd, NUL-terminated) and the exit status (-1 if killed). */
int tu_run(char *const argv[], const char *stdin_text, char **out, char **err, int *status);

/* Hex-encodes bytes as the plugin protocol: "b4  00  ..." */
char *tu_hex(const void *p, size_t n);

/* Reads a .data file and, for "-- asm @ FILE", the included file. */
int tu_load_data(const char *path, struct datafile *df, char *err, size_t errlen);

/* Known disagreements of the verifier tests: lines KEY1<TAB>KEY2<TAB>cause of
 * FILE ('#' comments).  `used` counts the cases an entry covered. */
struct tu_known {
	char *a, *b, *why;
	int used;
};
struct tu_known_list {
	struct tu_known *v;
	size_t n;
};
/* Exits with status 2 if FILE cannot be read. */
void tu_known_load(struct tu_known_list *l, const char *path);
struct tu_known *tu_known_find(struct tu_known_list *l, const char *a, const char *b);

/* The verifier log's last line (its verdict or reason), into buf. */
void tu_log_last_line(char *log, char *buf, size_t len);

#endif
