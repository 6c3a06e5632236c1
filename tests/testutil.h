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

#endif
