/*
 * jit_dump.c — `dump jited`: each BPF instruction followed by the x86 code
 * the JIT made of it, disassembled by Zydis; prologues and epilogues
 * between them.
 */
#include "internal.h"
#include "jit.h"

#include <Zydis/Zydis.h>

struct text {
	char *p;
	size_t len, cap;
	bool oom;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		size_t room = t->cap - t->len;
		va_start(ap, fmt);
		int n = t->p ? vsnprintf(t->p + t->len, room, fmt, ap) : -1;
		va_end(ap);
		if (n >= 0 && (size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap ? t->cap * 2 : 4096;
		while (n >= 0 && cap < t->len + (size_t)n + 1)
			cap *= 2;
		char *q = realloc(t->p, cap);
		if (!q) {
			t->oom = true;
			return;
		}
		t->p = q;
		t->cap = cap;
	}
}

static void x86(struct text *t, const struct bpfrt_jit *jit, uint32_t from, uint32_t to)
{
	const uint8_t *code = jit->mem.rx;
	uint32_t off = from;
	while (off < to) {
		ZydisDisassembledInstruction in;
		if (!ZYAN_SUCCESS(ZydisDisassembleIntel(ZYDIS_MACHINE_MODE_LONG_64,
							(uintptr_t)code + off, code + off, to - off, &in))) {
			put(t, "        %5x: %02x                    (undecodable)\n", off, code[off]);
			off++;
			continue;
		}
		char hex[64] = "";
		for (unsigned i = 0; i < in.info.length && i < 10; i++)
			snprintf(hex + 3 * i, sizeof(hex) - 3 * i, "%02x ", code[off + i]);
		put(t, "        %5x: %-30s %s\n", off, hex, in.text);
		off += in.info.length;
	}
}

static const char *xreg(int r)
{
	static const char *names[16] = { "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
					 "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" };
	return names[r & 15];
}

int bpfrt_jit_dump(const struct bpfrt_prog *prog, char **out)
{
	const struct bpfrt_jit *jit = prog->jit;
	struct text t = { 0 };
	*out = NULL;
	if (!jit)
		return BPFRT_EINVAL;
	const struct bpfrt_insn *insns = prog->xlated ? prog->xlated : prog->insns;
	size_t n = prog->nx;
	/* each instruction's code offset: the compile's layout again (the
	 * program does not keep it) */
	uint32_t *insn_ofs = NULL;
	struct bpfrt_jit_opts o = jit->opts;
	struct bpfrt_err err = { 0 };
	o.layout = &insn_ofs;
	int rc = bpfrt_jit_compile((struct bpfrt_prog *)prog, &o, &err);
	if (rc != BPFRT_OK)
		return rc;
	put(&t, "; %zu BPF instructions, %zu bytes of x86 code (%.2f bytes per instruction), "
		"%zu function(s), %u inlined call(s), %d relaxation sweeps\n", n, jit->code_size,
	    (double)jit->code_size / (double)n, jit->nfn, jit->nalias, jit->passes);
	const char *last_src = NULL;
	uint32_t ka = 0; /* the next inlined call (they are in code order) */
	for (size_t f = 0; f < jit->nfn; f++) {
		const struct bpfrt_jit_func *fn = &jit->fn[f];
		put(&t, "\n; %s at insn %u: frame %u bytes, saves", f ? "subprogram" : "main program",
		    fn->start, fn->depth);
		for (int i = 0; i < fn->nsaved; i++)
			put(&t, " %s", xreg(fn->saved[i]));
		put(&t, "%s\n    prologue\n", fn->nsaved ? "" : " none");
		x86(&t, jit, fn->entry, insn_ofs[fn->start]);
		for (uint32_t pc = fn->start; pc < fn->end;) {
			char line[160];
			int k = bpfrt_disasm_one(&prog->helpers, insns, n, pc, line, sizeof(line));
			if (k <= 0)
				k = 1;
			uint32_t next = pc + (uint32_t)k;
			int32_t orig = prog->xlated_orig ? prog->xlated_orig[pc] : (int32_t)pc;
			const char *src = orig >= 0 ? bpfrt_line_at(prog->lines, prog->nlines, (size_t)orig) : NULL;
			if (src && (!last_src || strcmp(src, last_src)))
				put(&t, "; %s\n", src);
			if (src)
				last_src = src;
			while (ka < jit->nalias && jit->alias[ka].site < insn_ofs[pc])
				ka++;
			if (ka < jit->nalias && jit->alias[ka].site == insn_ofs[pc]) /* (the site starts its code) */
				snprintf(line + strlen(line), sizeof(line) - strlen(line), "  (inlined)");
			if (orig == (int32_t)pc)
				put(&t, "%5u: %s\n", pc, line);
			else if (orig >= 0)
				put(&t, "%5u: %-40s (insn %d)\n", pc, line, orig);
			else
				put(&t, "%5u: %-40s (added)\n", pc, line);
			x86(&t, jit, insn_ofs[pc], next < fn->end ? insn_ofs[next] : fn->epilogue);
			pc = next;
		}
		put(&t, "    epilogue\n");
		x86(&t, jit, fn->epilogue, f + 1 < jit->nfn ? jit->fn[f + 1].entry : insn_ofs[n]);
	}
	if (jit->nalias) {
		put(&t, "\n; the stubs of the %u inlined calls (where one goes while its function is "
			"traced)\n", jit->nalias);
		x86(&t, jit, insn_ofs[n], jit->stubs_end);
	}
	uint32_t tail = jit->stubs_end;
	if (tail < jit->code_size) { /* a retpoline thunk, the C entry of a program with tail
				      * calls: after the functions and the stubs */
		uint32_t entry = (uint32_t)((uint8_t *)(void *)jit->entry - jit->mem.rx);
		bool stub = jit->entry != (bpfrt_jit_fn)(void *)jit->main;
		if (!stub || entry > tail) {
			put(&t, "\n; retpoline thunk\n");
			x86(&t, jit, tail, stub ? entry : (uint32_t)jit->code_size);
		}
		if (stub) {
			put(&t, "\n; C entry: the tail-call count (r12) zeroed around the main function\n");
			x86(&t, jit, entry, (uint32_t)jit->code_size);
		}
	}
	free(insn_ofs);
	if (t.oom) {
		free(t.p);
		return BPFRT_ENOMEM;
	}
	*out = t.p;
	return BPFRT_OK;
}
