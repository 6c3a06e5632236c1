/*
 * main.c — the bpfrt command-line tool.
 *
 *   bpfrt asm FILE [-o OUT]       assemble; OUT gets raw instructions, else hex on stdout
 *   bpfrt disasm FILE             disassemble a program (.bin, .s, .data)
 *   bpfrt run FILE [options]      run a program on memory
 *   bpfrt plugin [options] [MEM]  the bpf_conformance plugin protocol
 *   bpfrt version | help
 *
 * An executable named bpfrt-plugin (e.g. a symlink) behaves as `bpfrt plugin`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bpfrt.h"
#include "datafile.h"

static const char *prog_name = "bpfrt";

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

static const char usage_main[] =
	"usage: bpfrt COMMAND [ARGS]\n"
	"\n"
	"commands:\n"
	"  asm FILE [-o OUT]      assemble FILE (uBPF/bpf_conformance syntax)\n"
	"  disasm FILE            disassemble FILE (.bin raw, .s assembly, .data test)\n"
	"  run FILE [OPTIONS]     run a program on memory and print r0\n"
	"  dump xlated FILE       the program after the rewrite passes\n"
	"  dump jited FILE        each instruction and the x86 code the JIT made of it\n"
	"  plugin [OPTIONS] [MEM] bpf_conformance plugin: program as hex on stdin\n"
	"  prog list OBJ.o        the programs and maps of a BPF ELF object\n"
	"  map dump OBJ.o NAME    the contents of a map of an object\n"
	"  verify OBJ.o           verify the programs of an object\n"
	"  trace OBJ.o -- CMD...  run CMD with the object's fentry/fexit/fmod_ret programs attached\n"
	"  version                print the version\n"
	"  help                   this text\n"
	"\n"
	"Every command takes --help.\n";

static const char usage_trace[] =
	"usage: bpfrt trace OBJ.o [OPTIONS] -- CMD [ARGS...]\n"
	"  Runs CMD (an unmodified dynamically linked program) with an LD_PRELOAD agent\n"
	"  that attaches each fentry/FUNC, fexit/FUNC and fmod_ret/FUNC program of OBJ.o\n"
	"  to FUNC of CMD or its libraries, prints bpf_trace_printk lines as they come\n"
	"  and the object's maps when CMD exits.\n"
	"  --nargs FUNC=N[,FUNC=N...]  argument counts (fexit and fmod_ret need them)\n"
	"  --out FILE                  write there instead of standard error\n"
	"  --follow                    trace CMD's child processes too\n";

static const char usage_asm[] =
	"usage: bpfrt asm FILE [-o OUT]\n"
	"Assembles FILE ('-' for stdin). With -o, writes the raw little-endian\n"
	"instructions to OUT; otherwise prints one 64-bit word per line in hex.\n";

static const char usage_disasm[] =
	"usage: bpfrt disasm FILE\n"
	"Disassembles FILE: raw instructions (.bin), assembly (.s, .asm) or a\n"
	"bpf_conformance test (.data).\n";

static const char usage_run[] =
	"usage: bpfrt run FILE [OPTIONS]\n"
	"Runs FILE (.s/.asm assembly, .data test, .bin raw instructions, or a BPF\n"
	"ELF object) with r1 = a copy of the memory, r2 = its length, and prints r0\n"
	"in hex.\n"
	"\n"
	"  --mem HEX        the memory, as hex bytes (default: a .data file's -- mem);\n"
	"                   also --data-hex HEX\n"
	"  --mem-file F     the memory, from a file; also --data F\n"
	"  --prog NAME      an object's program (default: the first)\n"
	"  --dump-maps      after the runs, print the object's maps\n"
	"  --json           one JSON object: r0, ns_per_run (and maps)\n"
	"  --repeat N       run N times and print the mean ns per run\n"
	"  --safe           bounds-check every memory access, on the interpreter (the\n"
	"                   default)\n"
	"  --trusted        skip the verifier (by default every program is verified\n"
	"                   first: objects as their program type, raw instructions as\n"
	"                   a program given the memory)\n"
	"  --fast           trust the program: no run-time checks; the JIT where it can\n"
	"                   compile the program, else the interpreter\n"
	"  --budget N       safe mode: stop after N instructions\n"
	"  --interp         the interpreter\n"
	"  --interp-switch  the interpreter built with switch dispatch\n"
	"  --jit            the x86-64 JIT (trusts the program: implies --fast)\n"
	"  --retpoline      JIT: indirect calls through a retpoline\n"
	"  --no-inline      JIT: every bpf-to-bpf call a call (no small leaf inlined)\n"
	"  --blind          constant blinding (JIT hardening)\n"
	"  --zext           insert explicit 32-bit zero-extensions\n"
	"  --stats          print the time of each load stage and instruction counts\n";

static const char usage_plugin[] =
	"usage: bpfrt plugin [--interp|--interp-switch|--jit] [--fast] [--verify] [MEMORY_HEX]\n"
	"The bpf_conformance plugin protocol: reads the program as hex bytes on\n"
	"stdin, runs it on a copy of MEMORY_HEX (the one argument not starting\n"
	"with --) and prints r0 in hex; exits non-zero with a message on stderr if\n"
	"the program is refused or faults.  The interpreter runs in safe mode\n"
	"unless --fast; --jit trusts the program.  The suite tests ISA semantics,\n"
	"so the safety verifier is off unless --verify (its programs include ones a\n"
	"verifier refuses by design: division by a register that may be zero is\n"
	"fine, reading r10's address is not).\n";

static const char usage_dump[] =
	"usage: bpfrt dump xlated|jited FILE [--prog NAME] [--blind] [--zext] [--retpoline] [--no-inline]\n"
	"                  [--stats]\n"
	"xlated: the program after the rewrite passes, each instruction with its\n"
	"original index (or 'added').  jited: compiles FILE (.s/.asm, .data, .bin)\n"
	"with the x86-64 JIT and prints each BPF instruction followed by its x86\n"
	"code (disassembled by Zydis), with each function's prologue and epilogue.\n"
	"FILE may be a BPF object: --prog NAME picks its program (default: the first).\n";

static bool has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && !strcmp(s + a - b, suf);
}

/* Loads a program file; a .data file's memory goes to *mem when asked. */
static int read_program(const char *path, struct bpfrt_insn **insns, size_t *n,
			uint8_t **mem, size_t *nmem, bool *has_mem)
{
	char *buf;
	size_t len;
	int e = df_read_file(path, &buf, &len);
	if (e)
		return die("%s: %s", path, strerror(-e));
	char err[512];
	int rc = 0;
	if (len >= 4 && !memcmp(buf, "\177ELF", 4)) {
		rc = die("%s: an ELF object: use bpfrt run (or prog list)", path);
	} else if (has_suffix(path, ".bin")) {
		if (len % 8) {
			rc = die("%s: %zu bytes is not a whole number of 8-byte instructions", path, len);
		} else {
			*insns = malloc(len ? len : 1);
			if (!*insns)
				rc = die("out of memory");
			else {
				memcpy(*insns, buf, len);
				*n = len / 8;
			}
		}
	} else if (has_suffix(path, ".data")) {
		struct datafile df;
		if (df_parse(buf, &df, err, sizeof(err))) {
			rc = die("%s: %s", path, err);
		} else {
			if (df_program(&df, insns, n, err, sizeof(err)) != BPFRT_OK)
				rc = die("%s: %s", path, err);
			if (!rc && mem && df.has_mem) {
				*mem = df.mem;
				*nmem = df.nmem;
				df.mem = NULL;
				*has_mem = true;
			}
			df_free(&df);
		}
	} else {
		if (bpfrt_asm(buf, insns, n, err, sizeof(err)) != BPFRT_OK)
			rc = die("%s: %s", path, err);
	}
	free(buf);
	return rc;
}

static int cmd_asm(int argc, char **argv)
{
	const char *in = NULL, *out = NULL;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage_asm, stdout);
			return 0;
		} else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			out = argv[++i];
		} else if (!in && (argv[i][0] != '-' || !strcmp(argv[i], "-"))) {
			in = argv[i];
		} else {
			fputs(usage_asm, stderr);
			return 2;
		}
	}
	if (!in) {
		fputs(usage_asm, stderr);
		return 2;
	}
	char *buf;
	size_t len;
	int e = df_read_file(in, &buf, &len);
	if (e)
		return die("%s: %s", in, strerror(-e));
	struct bpfrt_insn *insns;
	size_t n;
	char err[512];
	int rc = bpfrt_asm(buf, &insns, &n, err, sizeof(err));
	free(buf);
	if (rc != BPFRT_OK)
		return die("%s: %s", in, err);
	if (out) {
		FILE *f = fopen(out, "wb");
		if (!f) {
			free(insns);
			return die("%s: %s", out, strerror(errno));
		}
		bool ok = fwrite(insns, sizeof(*insns), n, f) == n;
		ok &= fclose(f) == 0;
		free(insns);
		return ok ? 0 : die("%s: write failed", out);
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t w;
		memcpy(&w, &insns[i], 8);
		printf("0x%016" PRIx64 "\n", w);
	}
	free(insns);
	return 0;
}

static int cmd_disasm(int argc, char **argv)
{
	if (argc != 1 || argv[0][0] == '-') {
		bool help = argc == 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"));
		fputs(usage_disasm, help ? stdout : stderr);
		return help ? 0 : 2;
	}
	struct bpfrt_insn *insns = NULL;
	size_t n = 0;
	if (read_program(argv[0], &insns, &n, NULL, NULL, NULL))
		return 1;
	bpfrt_vm *vm = bpfrt_vm_new();
	int rc = 0;
	for (size_t pc = 0; pc < n;) {
		char line[256];
		int k = bpfrt_disasm_insn(vm, insns, n, pc, line, sizeof(line));
		printf("%5zu: %s\n", pc, line);
		if (k == 0) {
			rc = 1;
			k = 1;
		}
		pc += (size_t)k;
	}
	bpfrt_vm_free(vm);
	free(insns);
	return rc;
}

struct run_opts {
	bpfrt_engine engine;
	bool fast, retpoline, no_inline, blind, zext, stats, trusted, verify;
	uint32_t ctx_size;
	uint64_t budget;
};

/* Common engine options; returns 1 if argv[i] was one. */
static int engine_opt(const char *a, struct run_opts *o)
{
	if (!strcmp(a, "--interp")) o->engine = BPFRT_ENGINE_INTERP;
	else if (!strcmp(a, "--interp-switch")) o->engine = BPFRT_ENGINE_INTERP_SWITCH;
	else if (!strcmp(a, "--jit")) { o->engine = BPFRT_ENGINE_JIT; o->fast = true; }
	else if (!strcmp(a, "--safe")) o->fast = false;
	else if (!strcmp(a, "--fast")) o->fast = true;
	else if (!strcmp(a, "--retpoline")) o->retpoline = true;
	else if (!strcmp(a, "--no-inline")) o->no_inline = true;
	else if (!strcmp(a, "--blind")) o->blind = true;
	else if (!strcmp(a, "--zext")) o->zext = true;
	else if (!strcmp(a, "--stats")) o->stats = true;
	else if (!strcmp(a, "--trusted")) o->trusted = true;
	else if (!strcmp(a, "--verify")) o->verify = true;
	else return 0;
	return 1;
}

/* The load options the command-line options ask for. */
static struct bpfrt_load_opts load_opts(const struct run_opts *o, const char *name)
{
	return (struct bpfrt_load_opts){
		.sz = sizeof(struct bpfrt_load_opts),
		.flags = (o->fast ? 0 : BPFRT_LOAD_SAFE) | (o->retpoline ? BPFRT_LOAD_JIT_RETPOLINE : 0) |
			 (o->no_inline ? BPFRT_LOAD_JIT_NO_INLINE : 0) |
			 (o->blind ? BPFRT_LOAD_BLIND : 0) | (o->zext ? BPFRT_LOAD_ZEXT : 0) |
			 (o->trusted ? BPFRT_LOAD_TRUSTED : 0) | (o->verify && !o->trusted ? BPFRT_LOAD_VERIFY : 0),
		.engine = o->engine,
		.insn_budget = o->budget,
		.name = name,
		.ctx_size = o->ctx_size,
	};
}

/* --stats: each load stage's time and what the rewrite passes did */
static void print_stats(const bpfrt_prog *p)
{
	struct bpfrt_stats st;
	bpfrt_prog_stats(p, &st);
	fprintf(stderr, "stats: validate %.1f us, rewrite %.1f us, linearise %.1f us, decode %.1f us, "
		"jit %.1f us, total %.1f us\n"
		"stats: %zu instructions in, %zu out (dead code %zu, nops %zu removed; zext %zu, "
		"blinded %zu; inlined: %zu array lookups, %zu bpf_loop; %zu direct tail calls; "
		"%zu context accesses converted)\n",
		st.validate_ns / 1e3, st.rewrite_ns / 1e3, st.linearize_ns / 1e3,
		st.decode_ns / 1e3, st.jit_ns / 1e3, st.total_ns / 1e3, st.insns_in, st.insns_out,
		st.dead_removed, st.nops_removed, st.zext_added, st.blinded, st.lookups_inlined,
		st.loops_inlined, st.tail_calls_direct, st.ctx_converted);
}

static int load(bpfrt_vm *vm, const struct bpfrt_insn *insns, size_t n,
		const struct run_opts *o, const char *name, bpfrt_prog **p)
{
	struct bpfrt_load_opts lo = load_opts(o, name);
	if (bpfrt_prog_load(vm, insns, n, &lo, p) != BPFRT_OK)
		return die("%s", bpfrt_vm_errmsg(vm));
	if (o->stats)
		print_stats(*p);
	return 0;
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static bool is_elf(const char *path)
{
	FILE *f = fopen(path, "rb");
	char m[4] = { 0 };
	bool elf = f && fread(m, 1, 4, f) == 4 && !memcmp(m, "\177ELF", 4);
	if (f)
		fclose(f);
	return elf;
}

static void hex_out(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

static void dump_maps_named(bpfrt_obj *obj, const char *only, bool json)
{
	size_t nm = bpfrt_obj_map_count(obj);
	bool firstmap = true;
	if (json)
		printf(", \"maps\": {");
	for (size_t i = 0; i < nm; i++) {
		bpfrt_map *m = bpfrt_obj_map(obj, i);
		struct bpfrt_map_info mi;
		if (!m || bpfrt_map_info(m, &mi) || !strcmp(mi.type, "prog_array") ||
		    strstr(mi.type, "of_maps") || (only && strcmp(mi.name, only)))
			continue;
		size_t vlen = mi.ncpu > 1 ? ((mi.value_size + 7) & ~7u) * mi.ncpu : mi.value_size;
		uint8_t *key = calloc(1, mi.key_size), *next = calloc(1, mi.key_size), *val = calloc(1, vlen);
		if (json)
			printf("%s\"%s\": [", firstmap ? "" : ", ", mi.name);
		else
			printf("map %s (%s):\n", mi.name, mi.type);
		firstmap = false;
		bool first = true, have = false;
		if (!strcmp(mi.type, "queue") || !strcmp(mi.type, "stack")) { /* in pop order */
			for (uint32_t k = 0; val && bpfrt_map_peek_at(m, k, val) == 0; k++) {
				if (json) {
					printf("%s\"", k ? ", " : "");
					hex_out(val, vlen);
					printf("\"");
				} else {
					printf("  [%u]: ", k);
					hex_out(val, vlen);
					printf("\n");
				}
			}
			if (json)
				printf("]");
			free(key);
			free(next);
			free(val);
			continue;
		}
		while (key && next && val && bpfrt_map_get_next_key(m, have ? key : NULL, next) == 0) {
			memcpy(key, next, mi.key_size);
			have = true;
			if (bpfrt_map_lookup(m, key, val))
				continue;
			if (json) {
				printf("%s{\"key\": \"", first ? "" : ", ");
				hex_out(key, mi.key_size);
				printf("\", \"value\": \"");
				hex_out(val, vlen);
				printf("\"}");
			} else {
				printf("  ");
				hex_out(key, mi.key_size);
				printf(": ");
				hex_out(val, vlen);
				printf("\n");
			}
			first = false;
		}
		if (json)
			printf("]");
		free(key);
		free(next);
		free(val);
	}
	if (json)
		printf("}");
}

static void dump_maps(bpfrt_obj *obj, bool json)
{
	dump_maps_named(obj, NULL, json);
}

static int cmd_run(int argc, char **argv)
{
	struct run_opts o = { 0 };
	const char *file = NULL, *mem_hex = NULL, *mem_file = NULL, *pname = NULL;
	bool json = false, want_maps = false;
	unsigned long long repeat = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage_run, stdout);
			return 0;
		} else if (engine_opt(a, &o)) {
		} else if ((!strcmp(a, "--mem") || !strcmp(a, "--data-hex")) && i + 1 < argc) {
			mem_hex = argv[++i];
		} else if ((!strcmp(a, "--mem-file") || !strcmp(a, "--data")) && i + 1 < argc) {
			mem_file = argv[++i];
		} else if (!strcmp(a, "--prog") && i + 1 < argc) {
			pname = argv[++i];
		} else if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "--dump-maps")) {
			want_maps = true;
		} else if ((!strcmp(a, "--repeat") || !strcmp(a, "--budget")) && i + 1 < argc) {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(argv[++i], &end, 0);
			if (*end || errno || !v)
				return die("%s: bad count '%s'", a, argv[i]);
			if (a[2] == 'r')
				repeat = v;
			else
				o.budget = v;
		} else if (!file && a[0] != '-') {
			file = a;
		} else {
			fputs(usage_run, stderr);
			return 2;
		}
	}
	if (!file) {
		fputs(usage_run, stderr);
		return 2;
	}
	struct bpfrt_insn *insns = NULL;
	size_t n = 0;
	uint8_t *mem = NULL;
	size_t nmem = 0;
	bool has_mem = false;
	bool elf = is_elf(file);
	if (!elf && read_program(file, &insns, &n, &mem, &nmem, &has_mem))
		return 1;
	int rc = 0;
	if (mem_hex || mem_file) {
		free(mem);
		mem = NULL;
		if (mem_hex && df_hex_decode(mem_hex, &mem, &nmem)) {
			free(insns);
			return die("--mem: bad hex");
		}
		if (mem_file) {
			char *b;
			int e = df_read_file(mem_file, &b, &nmem);
			if (e) {
				free(insns);
				return die("%s: %s", mem_file, strerror(-e));
			}
			mem = (uint8_t *)b;
		}
	}
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_prog *p = NULL;
	bpfrt_obj *obj = NULL;
	if (!vm) {
		rc = die("out of memory");
		goto out;
	}
	if (elf) {
		if (bpfrt_obj_open(vm, file, &obj) != BPFRT_OK) {
			rc = die("%s", bpfrt_vm_errmsg(vm));
			goto out;
		}
		struct bpfrt_load_opts lo = load_opts(&o, NULL);
		if (bpfrt_obj_load_prog(obj, pname, &lo, &p) != BPFRT_OK) {
			rc = die("%s", bpfrt_vm_errmsg(vm));
			goto out;
		}
		if (o.stats)
			print_stats(p);
	} else {
		o.verify = true; /* raw instructions: verified for the memory they get */
		o.ctx_size = (uint32_t)nmem;
		if ((rc = load(vm, insns, n, &o, file, &p)))
			goto out;
	}
	/* Each run gets a fresh copy of the memory, as the conformance suite. */
	uint8_t *copy = malloc(nmem ? nmem : 1);
	if (!copy) {
		rc = die("out of memory");
		goto out;
	}
	uint64_t r0 = 0;
	unsigned long long runs = repeat ? repeat : 1;
	double total = 0;
	for (unsigned long long i = 0; i < runs; i++) {
		if (nmem)
			memcpy(copy, mem, nmem);
		double t0 = now_ns();
		int st = obj ? bpfrt_prog_run_packet(p, nmem ? copy : NULL, nmem, &r0)
			     : bpfrt_prog_run_mem(p, nmem ? copy : NULL, nmem, &r0);
		total += now_ns() - t0;
		if (st != BPFRT_OK) {
			rc = die("%s", bpfrt_prog_errmsg(p));
			break;
		}
	}
	free(copy);
	if (!rc && json) {
		printf("{\"r0\": %" PRIu64 ", \"ns_per_run\": %.1f", r0, total / (double)runs);
		if (want_maps && obj)
			dump_maps(obj, true);
		printf("}\n");
	} else if (!rc) {
		printf("0x%" PRIx64 "\n", r0);
		if (repeat)
			printf("%.1f ns per run (%llu runs)\n", total / (double)runs, runs);
		if (want_maps && obj)
			dump_maps(obj, false);
	}
out:
	bpfrt_prog_free(p);
	bpfrt_obj_free(obj);
	bpfrt_vm_free(vm);
	free(insns);
	free(mem);
	return rc;
}

static int cmd_dump(int argc, char **argv)
{
	if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
		fputs(usage_dump, stdout);
		return 0;
	}
	if (argc < 2 || (strcmp(argv[0], "jited") && strcmp(argv[0], "xlated"))) {
		fputs(usage_dump, stderr);
		return 2;
	}
	bool jited = !strcmp(argv[0], "jited");
	struct run_opts o = { .engine = jited ? BPFRT_ENGINE_JIT : BPFRT_ENGINE_INTERP, .fast = true };
	const char *file = NULL, *pname = NULL;
	for (int i = 1; i < argc; i++) {
		if (engine_opt(argv[i], &o) && strcmp(argv[i], "--jit") && strcmp(argv[i], "--interp"))
			continue;
		if (!strcmp(argv[i], "--prog") && i + 1 < argc) {
			pname = argv[++i];
			continue;
		}
		if (argv[i][0] != '-' && !file)
			file = argv[i];
		else {
			fputs(usage_dump, stderr);
			return 2;
		}
	}
	if (!file) {
		fputs(usage_dump, stderr);
		return 2;
	}
	o.engine = jited ? BPFRT_ENGINE_JIT : BPFRT_ENGINE_INTERP;
	o.fast = true;
	struct bpfrt_insn *insns = NULL;
	size_t n = 0;
	bool elf = is_elf(file);
	if (!elf && read_program(file, &insns, &n, NULL, NULL, NULL))
		return 1;
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_prog *p = NULL;
	bpfrt_obj *obj = NULL;
	int rc = 0;
	if (!vm) {
		rc = die("out of memory");
	} else if (elf) {
		struct bpfrt_load_opts lo = load_opts(&o, NULL);
		if (bpfrt_obj_open(vm, file, &obj) != BPFRT_OK || bpfrt_obj_load_prog(obj, pname, &lo, &p) != BPFRT_OK)
			rc = die("%s", bpfrt_vm_errmsg(vm));
		else if (bpfrt_prog_insns(p, &n), o.stats)
			print_stats(p);
	} else {
		rc = load(vm, insns, n, &o, file, &p);
	}
	if (!rc && jited) {
		char *text;
		if (bpfrt_prog_dump_jited(p, &text) != BPFRT_OK)
			rc = die("%s", bpfrt_prog_errmsg(p));
		else {
			fputs(text, stdout);
			free(text);
		}
	} else if (!rc) {
		size_t nx;
		const int32_t *orig;
		const struct bpfrt_insn *x = bpfrt_prog_xlated(p, &nx, &orig);
		printf("; %zu instructions (%zu before the rewrite passes)\n", nx, n);
		for (size_t pc = 0; pc < nx;) {
			char line[256];
			int k = bpfrt_disasm_insn(vm, x, nx, pc, line, sizeof(line));
			if (!orig)
				printf("%5zu: %s\n", pc, line);
			else if (orig[pc] >= 0)
				printf("%5zu: %-44s ; insn %d\n", pc, line, orig[pc]);
			else
				printf("%5zu: %-44s ; added\n", pc, line);
			pc += k > 0 ? (size_t)k : 1;
		}
	}
	bpfrt_prog_free(p);
	bpfrt_obj_free(obj);
	bpfrt_vm_free(vm);
	free(insns);
	return rc;
}

static const char usage_prog[] =
	"usage: bpfrt prog list OBJ.o [--json]\n"
	"Opens the BPF object OBJ.o and lists its programs (name, ELF section,\n"
	"program type, instructions with subprograms, the maps each refers to) and\n"
	"its maps.  Exits 0 when the object loads.\n";

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static int cmd_prog(int argc, char **argv)
{
	if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
		fputs(usage_prog, stdout);
		return 0;
	}
	bool json = false;
	const char *file = NULL;
	if (argc < 2 || strcmp(argv[0], "list")) {
		fputs(usage_prog, stderr);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!file && argv[i][0] != '-')
			file = argv[i];
		else {
			fputs(usage_prog, stderr);
			return 2;
		}
	}
	if (!file) {
		fputs(usage_prog, stderr);
		return 2;
	}
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_obj *obj = NULL;
	if (!vm)
		return die("out of memory");
	if (bpfrt_obj_open(vm, file, &obj) != BPFRT_OK) {
		int rc = die("%s", bpfrt_vm_errmsg(vm));
		bpfrt_vm_free(vm);
		return rc;
	}
	size_t np = bpfrt_obj_prog_count(obj), nm = bpfrt_obj_map_count(obj);
	if (json) {
		printf("{\"object\": ");
		json_str(file);
		printf(", \"license\": ");
		json_str(bpfrt_obj_license(obj));
		printf(", \"programs\": [");
	} else {
		printf("%s: %zu program(s), %zu map(s), license \"%s\"\n", file, np, nm,
		       bpfrt_obj_license(obj));
	}
	for (size_t i = 0; i < np; i++) {
		struct bpfrt_obj_prog_info pi;
		bpfrt_obj_prog_info(obj, i, &pi);
		if (json) {
			printf("%s{\"name\": ", i ? ", " : "");
			json_str(pi.name);
			printf(", \"section\": ");
			json_str(pi.section);
			printf(", \"type\": ");
			json_str(pi.type);
			printf(", \"insns\": %zu, \"maps\": [", pi.insns);
			for (size_t k = 0; k < pi.nmaps; k++) {
				struct bpfrt_obj_map_info mi;
				bpfrt_obj_map_info(obj, pi.maps[k], &mi);
				printf("%s", k ? ", " : "");
				json_str(mi.name);
			}
			printf("]}");
		} else {
			printf("  prog %-28s section %-24s type %-14s %6zu insns", pi.name, pi.section, pi.type,
			       pi.insns);
			for (size_t k = 0; k < pi.nmaps; k++) {
				struct bpfrt_obj_map_info mi;
				bpfrt_obj_map_info(obj, pi.maps[k], &mi);
				printf("%s%s", k ? ", " : "  maps: ", mi.name);
			}
			printf("\n");
		}
	}
	if (json)
		printf("], \"maps\": [");
	for (size_t i = 0; i < nm; i++) {
		struct bpfrt_obj_map_info mi;
		bpfrt_obj_map_info(obj, i, &mi);
		if (json) {
			printf("%s{\"name\": ", i ? ", " : "");
			json_str(mi.name);
			printf(", \"type\": ");
			json_str(mi.type);
			printf(", \"key_size\": %u, \"value_size\": %u, \"max_entries\": %u, \"flags\": %u}",
			       mi.key_size, mi.value_size, mi.max_entries, mi.flags);
		} else {
			printf("  map  %-28s type %-16s key %4u value %6u max_entries %8u flags %#x%s\n", mi.name,
			       mi.type, mi.key_size, mi.value_size, mi.max_entries, mi.flags,
			       mi.is_global_data ? " (global data)" : "");
		}
	}
	if (json)
		printf("]}\n");
	bpfrt_obj_free(obj);
	bpfrt_vm_free(vm);
	return 0;
}

static const char usage_verify[] =
	"usage: bpfrt verify OBJ.o [--prog NAME | --section SEC] [--platform linux|bpfrt]\n"
	"                    [--log-level 0|1|2] [--json]\n"
	"  Verifies the programs of OBJ.o (all of them, or the one named) with the\n"
	"  path-sensitive verifier and prints a kernel-style log: the reason of a\n"
	"  refusal with its instruction, at level 2 the state at each instruction.\n"
	"  --platform linux (default) knows every Linux program type and helper;\n"
	"  bpfrt only what this runtime can run.\n"
	"  Exit status: 0 all accepted, 1 one refused, 2 could not load or verify.\n";

static int cmd_verify(int argc, char **argv)
{
	const char *file = NULL, *prog = NULL, *sec = NULL;
	int platform = BPFRT_PLATFORM_LINUX;
	unsigned level = 0;
	bool json = false;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage_verify, stdout);
			return 0;
		} else if (!strcmp(a, "--prog") && i + 1 < argc) {
			prog = argv[++i];
		} else if (!strcmp(a, "--section") && i + 1 < argc) {
			sec = argv[++i];
		} else if (!strcmp(a, "--platform") && i + 1 < argc) {
			const char *p = argv[++i];
			if (!strcmp(p, "linux"))
				platform = BPFRT_PLATFORM_LINUX;
			else if (!strcmp(p, "bpfrt"))
				platform = BPFRT_PLATFORM_BPFRT;
			else {
				fputs(usage_verify, stderr);
				return 2;
			}
		} else if (!strcmp(a, "--log-level") && i + 1 < argc) {
			level = (unsigned)atoi(argv[++i]);
		} else if (!strcmp(a, "--json")) {
			json = true;
		} else if (!file && a[0] != '-') {
			file = a;
		} else {
			fputs(usage_verify, stderr);
			return 2;
		}
	}
	if (!file) {
		fputs(usage_verify, stderr);
		return 2;
	}
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_obj *obj = NULL;
	if (!vm)
		return die("out of memory");
	if (bpfrt_obj_open(vm, file, &obj) != BPFRT_OK) {
		die("%s", bpfrt_vm_errmsg(vm));
		bpfrt_vm_free(vm);
		return 2;
	}
	int worst = 0;
	size_t done = 0, np = bpfrt_obj_prog_count(obj);
	if (json)
		printf("[");
	for (size_t i = 0; i < np; i++) {
		struct bpfrt_obj_prog_info pi;
		bpfrt_obj_prog_info(obj, i, &pi);
		if ((prog && strcmp(prog, pi.name)) || (sec && strcmp(sec, pi.section)))
			continue;
		struct bpfrt_verify_opts o = { .sz = sizeof(o), .platform = platform, .log_level = level };
		struct bpfrt_verify_result r;
		int rc = bpfrt_obj_verify(obj, pi.name, &o, &r);
		int code = rc == BPFRT_OK ? 0 : rc == BPFRT_EREJECT ? 1 : 2;
		if (code > worst)
			worst = code;
		if (json) {
			printf("%s{\"program\": ", done ? ", " : "");
			json_str(pi.name);
			printf(", \"section\": ");
			json_str(pi.section);
			printf(", \"verdict\": \"%s\", \"insn\": %d, \"processed\": %" PRIu64 ", \"states\": %" PRIu64
			       ", \"ns\": %" PRIu64 ", \"log\": ", code == 0 ? "accepted" : code == 1 ? "refused" : "error",
			       r.insn == UINT32_MAX ? -1 : (int)r.insn, r.processed, r.states, r.ns);
			json_str(r.log ? r.log : bpfrt_vm_errmsg(vm));
			printf("}");
		} else {
			printf("%s (%s): %s\n", pi.name, pi.section,
			       code == 0 ? "accepted" : code == 1 ? "refused" : "could not verify");
			const char *text = r.log ? r.log : bpfrt_vm_errmsg(vm);
			fputs(text, stdout);
			if (text[0] && text[strlen(text) - 1] != '\n')
				putchar('\n');
		}
		bpfrt_verify_result_fini(&r);
		done++;
	}
	if (json)
		printf("]\n");
	if (!done) {
		fprintf(stderr, "bpfrt: %s: no program%s%s%s%s\n", file, prog ? " named " : "", prog ? prog : "",
			sec ? " in section " : "", sec ? sec : "");
		worst = 2;
	}
	bpfrt_obj_free(obj);
	bpfrt_vm_free(vm);
	return worst;
}

static const char usage_map[] =
	"usage: bpfrt map dump OBJ.o NAME [--json]\n"
	"Opens OBJ.o and prints the contents of its map NAME (global data maps hold\n"
	"the initial values of .data, .rodata, .bss).  After a run: bpfrt run OBJ.o\n"
	"--dump-maps.\n";

static int cmd_map(int argc, char **argv)
{
	if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
		fputs(usage_map, stdout);
		return 0;
	}
	bool json = argc == 4 && !strcmp(argv[3], "--json");
	if ((argc != 3 && !json) || strcmp(argv[0], "dump")) {
		fputs(usage_map, stderr);
		return 2;
	}
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_obj *obj = NULL;
	int rc = 0;
	if (!vm || bpfrt_obj_open(vm, argv[1], &obj) != BPFRT_OK) {
		rc = die("%s", vm ? bpfrt_vm_errmsg(vm) : "out of memory");
	} else if (!bpfrt_obj_map_by_name(obj, argv[2])) {
		rc = die("%s: no map %s (or its type is not supported)", argv[1], argv[2]);
	} else {
		if (json)
			printf("{\"object\": \"%s\"", argv[1]);
		dump_maps_named(obj, argv[2], json);
		if (json)
			printf("}\n");
	}
	bpfrt_obj_free(obj);
	bpfrt_vm_free(vm);
	return rc;
}

static int cmd_plugin(int argc, char **argv)
{
	struct run_opts o = { 0 };
	const char *mem_hex = NULL;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage_plugin, stdout);
			return 0;
		} else if (engine_opt(a, &o)) {
		} else if (a[0] == '-' && a[1] == '-') {
			return die("plugin: unknown option '%s'", a);
		} else if (!mem_hex) {
			mem_hex = a;
		} else {
			return die("plugin: more than one memory argument");
		}
	}
	char *text;
	size_t len;
	int e = df_read_file("-", &text, &len);
	if (e)
		return die("stdin: %s", strerror(-e));
	char *nl = strchr(text, '\n'); /* one line: the program */
	if (nl)
		*nl = '\0';
	uint8_t *code = NULL, *mem = NULL;
	size_t ncode = 0, nmem = 0;
	int rc = 0;
	bpfrt_vm *vm = NULL;
	bpfrt_prog *p = NULL;
	if (df_hex_decode(text, &code, &ncode)) {
		rc = die("stdin: the program is not hex bytes");
		goto out;
	}
	if (ncode % 8) {
		rc = die("stdin: %zu bytes is not a whole number of instructions", ncode);
		goto out;
	}
	if (mem_hex && df_hex_decode(mem_hex, &mem, &nmem)) {
		rc = die("memory argument is not hex bytes");
		goto out;
	}
	if (!(vm = bpfrt_vm_new())) {
		rc = die("out of memory");
		goto out;
	}
	struct bpfrt_insn *insns = (struct bpfrt_insn *)code;
	o.ctx_size = (uint32_t)nmem;
	if ((rc = load(vm, insns, ncode / 8, &o, NULL, &p)))
		goto out;
	uint64_t r0;
	if (bpfrt_prog_run_mem(p, nmem ? mem : NULL, nmem, &r0) != BPFRT_OK) {
		rc = die("%s", bpfrt_prog_errmsg(p));
		goto out;
	}
	printf("%" PRIx64 "\n", r0);
out:
	bpfrt_prog_free(p);
	bpfrt_vm_free(vm);
	free(text);
	free(code);
	free(mem);
	return rc;
}

/* The agent: next to this binary (the build tree), or in ../lib (installed). */
static int agent_path(char *buf, size_t len)
{
	char self[2048];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	static const char *const rel[] = { "/libbpfrt-agent.so", "/../lib/libbpfrt-agent.so" };
	for (size_t i = 0; i < 2; i++) {
		if (snprintf(buf, len, "%s%s", self, rel[i]) >= (int)len)
			return -1;
		if (access(buf, R_OK) == 0)
			return 0;
	}
	return -1;
}

static int cmd_trace(int argc, char **argv)
{
	if (argc < 1 || !strcmp(argv[0], "--help")) {
		fputs(usage_trace, argc < 1 ? stderr : stdout);
		return argc < 1 ? 2 : 0;
	}
	const char *objf = argv[0], *nargs = NULL, *outf = NULL;
	bool follow = false;
	int i = 1;
	for (; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--nargs") && i + 1 < argc)
			nargs = argv[++i];
		else if (!strcmp(argv[i], "--out") && i + 1 < argc)
			outf = argv[++i];
		else if (!strcmp(argv[i], "--follow"))
			follow = true;
		else {
			fprintf(stderr, "bpfrt trace: unknown option '%s'\n%s", argv[i], usage_trace);
			return 2;
		}
	}
	if (i + 1 >= argc) {
		fprintf(stderr, "bpfrt trace: no command after --\n%s", usage_trace);
		return 2;
	}
	char agent[4096], *abs = realpath(objf, NULL);
	if (!abs) {
		fprintf(stderr, "bpfrt trace: %s: %s\n", objf, strerror(errno));
		return 2;
	}
	if (agent_path(agent, sizeof(agent))) {
		fprintf(stderr, "bpfrt trace: cannot find libbpfrt-agent.so next to bpfrt or in ../lib\n");
		return 2;
	}
	/* the agent checks the object itself; refuse early what cannot load */
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_obj *obj;
	if (bpfrt_obj_open(vm, abs, &obj) != BPFRT_OK) {
		fprintf(stderr, "bpfrt trace: %s\n", bpfrt_vm_errmsg(vm));
		return 2;
	}
	bpfrt_obj_free(obj);
	bpfrt_vm_free(vm);
	const char *pre = getenv("LD_PRELOAD");
	char *preload;
	if (asprintf(&preload, "%s%s%s", agent, pre && *pre ? ":" : "", pre ? pre : "") < 0)
		return 2;
	setenv("LD_PRELOAD", preload, 1);
	setenv("BPFRT_TRACE_OBJ", abs, 1);
	if (nargs)
		setenv("BPFRT_TRACE_NARGS", nargs, 1);
	if (outf)
		setenv("BPFRT_TRACE_OUT", outf, 1);
	if (follow)
		setenv("BPFRT_TRACE_FOLLOW", "1", 1);
	execvp(argv[i + 1], argv + i + 1);
	fprintf(stderr, "bpfrt trace: %s: %s\n", argv[i + 1], strerror(errno));
	return 127;
}

int main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	if (!strcmp(base, "bpfrt-plugin")) {
		prog_name = "bpfrt-plugin";
		return cmd_plugin(argc - 1, argv + 1);
	}
	if (argc < 2) {
		fputs(usage_main, stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "asm")) return cmd_asm(argc - 2, argv + 2);
	if (!strcmp(cmd, "disasm")) return cmd_disasm(argc - 2, argv + 2);
	if (!strcmp(cmd, "run")) return cmd_run(argc - 2, argv + 2);
	if (!strcmp(cmd, "plugin")) return cmd_plugin(argc - 2, argv + 2);
	if (!strcmp(cmd, "dump")) return cmd_dump(argc - 2, argv + 2);
	if (!strcmp(cmd, "prog")) return cmd_prog(argc - 2, argv + 2);
	if (!strcmp(cmd, "map")) return cmd_map(argc - 2, argv + 2);
	if (!strcmp(cmd, "verify")) return cmd_verify(argc - 2, argv + 2);
	if (!strcmp(cmd, "trace")) return cmd_trace(argc - 2, argv + 2);
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("%s\n", bpfrt_version());
		return 0;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		fputs(usage_main, stdout);
		return 0;
	}
	fprintf(stderr, "bpfrt: unknown command '%s'\n\n%s", cmd, usage_main);
	return 2;
}
