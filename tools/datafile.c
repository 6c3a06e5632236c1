/*
 * datafile.c — see datafile.h.
 */
#define _GNU_SOURCE
#include "datafile.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int df_read_file(const char *path, char **buf, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f)
		return -errno;
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);
	if (!b) {
		if (f != stdin)
			fclose(f);
		return -ENOMEM;
	}
	for (;;) {
		if (n + 1 >= cap) {
			char *nb = realloc(b, cap *= 2);
			if (!nb) {
				free(b);
				if (f != stdin)
					fclose(f);
				return -ENOMEM;
			}
			b = nb;
		}
		size_t r = fread(b + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
	}
	int err = ferror(f) ? -EIO : 0;
	if (f != stdin)
		fclose(f);
	if (err) {
		free(b);
		return err;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

int df_hex_decode(const char *s, uint8_t **out, size_t *n)
{
	size_t cap = strlen(s) / 2 + 1, k = 0;
	uint8_t *b = malloc(cap);
	if (!b)
		return -1;
	while (*s) {
		if (isspace((unsigned char)*s) || *s == ',') {
			s++;
			continue;
		}
		/* a token ending in ':' is an offset label (tcpdump -xx dumps) */
		size_t tl = strcspn(s, " \t\r\n,");
		if (tl && s[tl - 1] == ':') {
			s += tl;
			continue;
		}
		if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
			s += 2;
		int hi = hexval(s[0]), lo = hi < 0 ? -1 : hexval(s[1]);
		if (hi < 0 || lo < 0) {
			free(b);
			return -1;
		}
		b[k++] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	*out = b;
	*n = k;
	return 0;
}

/* Appends a line to a growing string. */
static int append(char **dst, size_t *len, const char *line, size_t ll)
{
	char *p = realloc(*dst, *len + ll + 2);
	if (!p)
		return -1;
	memcpy(p + *len, line, ll);
	*len += ll;
	p[(*len)++] = '\n';
	p[*len] = '\0';
	*dst = p;
	return 0;
}

enum section { S_NONE, S_ASM, S_RAW, S_MEM, S_RESULT, S_ERROR, S_ERROR_PATTERN, S_OTHER };

int df_parse(const char *text, struct datafile *df, char *err, size_t errlen)
{
	memset(df, 0, sizeof(*df));
	char *asmb = NULL, *rawb = NULL, *memb = NULL, *resb = NULL, *errb = NULL, *patb = NULL;
	size_t asml = 0, rawl = 0, meml = 0, resl = 0, errl = 0, patl = 0;
	enum section sec = S_NONE;
	int rc = 0;
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t ll = nl ? (size_t)(nl - p) : strlen(p);
		if (ll >= 2 && p[0] == '-' && p[1] == '-' && (ll == 2 || p[2] == ' ')) {
			char name[64];
			size_t k = 0;
			for (size_t i = 3; i < ll && k + 1 < sizeof(name); i++)
				if (p[i] != '\r')
					name[k++] = p[i];
			name[k] = '\0';
			if (!strcmp(name, "asm")) { sec = S_ASM; df->has_asm = true; }
			else if (!strcmp(name, "raw")) { sec = S_RAW; df->has_raw = true; }
			else if (!strcmp(name, "mem")) { sec = S_MEM; df->has_mem = true; }
			else if (!strcmp(name, "result")) { sec = S_RESULT; df->has_result = true; }
			else if (!strcmp(name, "error")) { sec = S_ERROR; df->has_error = true; }
			else if (!strcmp(name, "error pattern")) { sec = S_ERROR_PATTERN; df->has_error = true; }
			else if (!strcmp(name, "no jit")) { sec = S_OTHER; df->no_jit = true; }
			else { sec = S_OTHER; df->nunknown++; }
		} else {
			int r = 0;
			bool comment = ll && p[0] == '#';
			switch (sec) {
			case S_ASM: r = append(&asmb, &asml, p, ll); break;
			case S_RAW: if (!comment) r = append(&rawb, &rawl, p, ll); break;
			case S_MEM: if (!comment) r = append(&memb, &meml, p, ll); break;
			case S_RESULT: if (!comment) r = append(&resb, &resl, p, ll); break;
			case S_ERROR: r = append(&errb, &errl, p, ll); break;
			case S_ERROR_PATTERN: r = append(&patb, &patl, p, ll); break;
			default: break;
			}
			if (r) {
				snprintf(err, errlen, "out of memory");
				rc = -1;
				goto out;
			}
		}
		p += ll + (nl ? 1 : 0);
	}
	if (df->has_asm)
		df->asm_text = asmb ? asmb : strdup("");
	else
		free(asmb);
	asmb = NULL;
	if (rawb) {
		/* one 64-bit word per line (0x...), or 8 hex bytes per line */
		size_t cap = rawl / 8 + 1, k = 0;
		df->raw = calloc(cap, sizeof(*df->raw));
		if (!df->raw) { rc = -1; snprintf(err, errlen, "out of memory"); goto out; }
		for (char *line = strtok(rawb, "\n"); line; line = strtok(NULL, "\n")) {
			char *q = line;
			while (isspace((unsigned char)*q))
				q++;
			if (!*q)
				continue;
			uint8_t bytes[8];
			if (q[0] == '0' && (q[1] == 'x' || q[1] == 'X') && !strchr(q, ' ')) {
				char *end;
				unsigned long long w = strtoull(q, &end, 16);
				for (int i = 0; i < 8; i++)
					bytes[i] = (uint8_t)(w >> (8 * i));
			} else {
				uint8_t *b = NULL;
				size_t nb = 0;
				bool bad = df_hex_decode(q, &b, &nb) || nb != 8;
				if (!bad)
					memcpy(bytes, b, 8);
				free(b);
				if (bad) {
					snprintf(err, errlen, "bad raw line '%s'", q);
					rc = -1;
					goto out;
				}
			}
			if (k < cap)
				memcpy(&df->raw[k++], bytes, 8);
		}
		df->nraw = k;
	}
	if (df->has_mem) {
		if (df_hex_decode(memb ? memb : "", &df->mem, &df->nmem)) {
			snprintf(err, errlen, "bad hex in -- mem");
			rc = -1;
			goto out;
		}
	}
	if (df->has_result) {
		char *end;
		const char *q = resb ? resb : "";
		while (isspace((unsigned char)*q))
			q++;
		errno = 0;
		df->result = strtoull(q, &end, 0);
		if (end == q || errno) {
			snprintf(err, errlen, "bad -- result '%s'", q);
			rc = -1;
			goto out;
		}
	}
	df->error = errb ? errb : (df->has_error ? strdup("") : NULL);
	errb = NULL;
	df->error_pattern = patb;
	patb = NULL;
out:
	free(asmb);
	free(rawb);
	free(memb);
	free(resb);
	free(errb);
	free(patb);
	if (rc)
		df_free(df);
	return rc;
}

void df_free(struct datafile *df)
{
	free(df->asm_text);
	free(df->raw);
	free(df->mem);
	free(df->error);
	free(df->error_pattern);
	memset(df, 0, sizeof(*df));
}

int df_program(const struct datafile *df, struct bpfrt_insn **insns, size_t *n,
	       char *err, size_t errlen)
{
	if (df->has_raw) {
		*insns = malloc((df->nraw ? df->nraw : 1) * sizeof(**insns));
		if (!*insns)
			return BPFRT_ENOMEM;
		if (df->nraw)
			memcpy(*insns, df->raw, df->nraw * sizeof(**insns));
		*n = df->nraw;
		return BPFRT_OK;
	}
	if (!df->has_asm) {
		snprintf(err, errlen, "no program (-- asm or -- raw section)");
		return BPFRT_EINVAL;
	}
	return bpfrt_asm(df->asm_text, insns, n, err, errlen);
}
