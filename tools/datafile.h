/*
 * datafile.h — reading test and program files, shared by the CLI and the
 * test runners (not part of the library):
 *   - the bpf_conformance / uBPF `.data` format: sections `-- asm`, `-- raw`,
 *     `-- mem`, `-- result`, `-- error` (others are kept as unknown);
 *   - hex byte strings ("b4 00 ..." or "b40000..."), as the plugin protocol.
 */
#ifndef BPFRT_DATAFILE_H
#define BPFRT_DATAFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpfrt.h"

struct datafile {
	char *asm_text;            /* -- asm, or NULL */
	struct bpfrt_insn *raw;    /* -- raw, or NULL */
	size_t nraw;
	uint8_t *mem;              /* -- mem, or NULL */
	size_t nmem;
	bool has_mem, has_result, has_error, has_asm, has_raw;
	uint64_t result;
	char *error;               /* -- error text (may be empty) */
	char *error_pattern;       /* -- error pattern text */
	int nunknown;              /* sections not known */
	bool no_jit;               /* uBPF's `-- no jit` */
};

/* Reads a whole file (NUL-terminated); returns 0 or -errno. */
int df_read_file(const char *path, char **buf, size_t *len);

/* Parses a .data file; returns 0 or -1 with a message in err. */
int df_parse(const char *text, struct datafile *df, char *err, size_t errlen);
void df_free(struct datafile *df);

/* Decodes hex digit pairs, skipping white space, commas, an optional 0x
 * per token and tokens ending in ':' (offsets in a tcpdump -xx dump);
 * returns 0 or -1 on a bad digit or an odd count. */
int df_hex_decode(const char *s, uint8_t **out, size_t *n);

/* The program of a .data file: assembled from -- raw if present, else -- asm.
 * Returns a bpfrt status; *insns is malloc'd. */
int df_program(const struct datafile *df, struct bpfrt_insn **insns, size_t *n,
	       char *err, size_t errlen);

#endif
