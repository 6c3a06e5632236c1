/*
 * test_jit.c — the x86-64 JIT: the seed's prologue bytes, saved registers,
 * frames, W^X executable memory, packs, faults, refusals and fallback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>

#include "internal.h"
#include "jit.h"
#include "x86_enc.h"

static bpfrt_prog *jit_load(bpfrt_vm *vm, const char *text, uint32_t flags, int expect)
{
	struct bpfrt_insn *in;
	size_t n;
	char err[256];
	assert_int_equal(bpfrt_asm(text, &in, &n, err, sizeof(err)), BPFRT_OK);
	struct bpfrt_load_opts o = { .sz = sizeof(o), .flags = flags, .engine = BPFRT_ENGINE_JIT };
	bpfrt_prog *p = NULL;
	int rc = bpfrt_prog_load(vm, in, n, &o, &p);
	free(in);
	if (rc != expect)
		fail_msg("load: %d (%s), expected %d", rc, bpfrt_vm_errmsg(vm), expect);
	return p;
}

/* r0 of a run of p on no memory (the run must succeed). */
static uint64_t run(bpfrt_prog *p)
{
	uint64_t r0 = 0;
	assert_int_equal(bpfrt_prog_run_mem(p, NULL, 0, &r0), BPFRT_OK);
	return r0;
}

static void prologue_bytes(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_prog *p = jit_load(vm, "mov %r0, 7\nexit", 0, BPFRT_OK);
	static const uint8_t want[] = {
		0x0f, 0x1f, 0x44, 0x00, 0x00, /* nop5 */
		0x0f, 0x1f, 0x00,             /* nop3 */
		0x55,                         /* push rbp */
		0x48, 0x89, 0xe5,             /* mov rbp, rsp */
		0xb8, 0x07, 0x00, 0x00, 0x00, /* mov eax, 7 */
		0xc9, 0xc3,                   /* leave; ret */
	};
	assert_int_equal(p->jit->code_size, sizeof(want));
	assert_memory_equal(p->jit->mem.rx, want, sizeof(want));
	assert_int_equal(run(p), 7);
	bpfrt_prog_free(p);
	bpfrt_vm_free(vm);
}

static void saves_only_used_registers(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	/* r6 and r8: rbx and r14, an even count, so no padding */
	bpfrt_prog *p = jit_load(vm, "mov %r6, 1\nmov %r8, 2\nmov %r0, %r6\nadd %r0, %r8\nexit", 0, 0);
	const struct bpfrt_jit_func *f = &p->jit->fn[0];
	assert_int_equal(f->nsaved, 2);
	assert_int_equal(f->saved[0], RBX);
	assert_int_equal(f->saved[1], R14);
	assert_int_equal(f->depth, 0);
	/* the pushes follow the 12-byte entry region directly (no sub rsp) */
	assert_int_equal(p->jit->mem.rx[12], 0x53);                                /* push rbx */
	assert_int_equal(p->jit->mem.rx[13], 0x41);
	assert_int_equal(p->jit->mem.rx[14], 0x56);                                /* push r14 */
	assert_int_equal(run(p), 3);
	bpfrt_prog_free(p);
	/* all four, plus a stack: the frame keeps rsp 16-byte aligned */
	p = jit_load(vm, "mov %r6, 1\nmov %r7, 1\nmov %r8, 1\nmov %r9, 1\nstdw [%r10-24], 5\n"
		     "ldxdw %r0, [%r10-24]\nexit", 0, 0);
	f = &p->jit->fn[0];
	assert_int_equal(f->nsaved, 4);
	assert_int_equal(f->depth, 32);
	bpfrt_prog_free(p);
	/* one register and a stack of 8: 16 + 8 padding */
	p = jit_load(vm, "mov %r9, 1\nstdw [%r10-8], 5\nldxdw %r0, [%r10-8]\nexit", 0, 0);
	assert_int_equal(p->jit->fn[0].nsaved, 1);
	assert_int_equal(p->jit->fn[0].saved[0], R15);
	assert_int_equal(p->jit->fn[0].depth, 24);
	/* r10 escaping (passed as a pointer) gives the full 512 bytes */
	bpfrt_prog_free(p);
	p = jit_load(vm, "mov %r1, %r10\nmov %r0, 0\nexit", 0, 0);
	assert_int_equal(p->jit->fn[0].depth, 512);
	bpfrt_prog_free(p);
	bpfrt_vm_free(vm);
}

static void subprograms_have_their_own_frames(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_prog *p = jit_load(vm, "mov %r6, 2\ncall local f\nadd %r0, %r6\nexit\n"
				 "f:\nstdw [%r10-16], 40\nldxdw %r0, [%r10-16]\nexit", 0, 0);
	assert_int_equal(p->jit->nfn, 2);
	assert_int_equal(p->jit->fn[0].nsaved, 1);
	assert_int_equal(p->jit->fn[1].nsaved, 0);
	assert_int_equal(p->jit->fn[1].depth, 16);
	assert_int_equal(p->jit->fn[1].start, 4);
	assert_int_equal(run(p), 42);
	bpfrt_prog_free(p);
	bpfrt_vm_free(vm);
}

/* No mapping of the process is writable and executable at once. */
static void no_wx_mapping(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_prog *p = jit_load(vm, "mov %r0, 1\nexit", 0, 0);
	FILE *f = fopen("/proc/self/maps", "r");
	assert_non_null(f);
	char line[512];
	bool found_code = false;
	uintptr_t code = (uintptr_t)p->jit->mem.rx;
	while (fgets(line, sizeof(line), f)) {
		uintptr_t lo, hi;
		char perm[5];
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perm) != 3)
			continue;
		if (perm[1] == 'w' && perm[2] == 'x')
			fail_msg("writable and executable mapping: %s", line);
		if (code >= lo && code < hi) {
			found_code = true;
			assert_int_equal(perm[0], 'r');
			assert_int_equal(perm[1], '-');
			assert_int_equal(perm[2], 'x');
		}
	}
	fclose(f);
	assert_true(found_code);
	bpfrt_prog_free(p);
	bpfrt_vm_free(vm);
}

static void small_programs_share_a_pack(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_prog *a = jit_load(vm, "mov %r0, 1\nexit", 0, 0);
	bpfrt_prog *b = jit_load(vm, "mov %r0, 2\nexit", 0, 0);
	assert_ptr_equal(a->jit->mem.pack, b->jit->mem.pack);
	assert_ptr_not_equal(a->jit->mem.rx, b->jit->mem.rx);
	uint8_t *code = a->jit->mem.rx;
	size_t size = a->jit->mem.size;
	assert_int_equal(size % 64, 0);
	/* the rest of a's chunk is int3 */
	for (size_t i = a->jit->code_size; i < size; i++)
		assert_int_equal(code[i], 0xcc);
	bpfrt_prog_free(a);
	for (size_t i = 0; i < size; i++) /* freed code becomes int3 */
		assert_int_equal(code[i], 0xcc);
	uint64_t r0;
	assert_int_equal(bpfrt_prog_run_mem(b, NULL, 0, &r0), BPFRT_OK);
	assert_int_equal(r0, 2);
	/* the freed chunk is reused */
	bpfrt_prog *c = jit_load(vm, "mov %r0, 3\nexit", 0, 0);
	assert_ptr_equal(c->jit->mem.rx, code);
	bpfrt_prog_free(b);
	bpfrt_prog_free(c);
	bpfrt_vm_free(vm);
}

static void callx_fault(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_prog *p = jit_load(vm, "mov %r2, 1000\ncall %r2\nexit", 0, 0);
	uint64_t r0;
	assert_int_equal(bpfrt_prog_run_mem(p, NULL, 0, &r0), BPFRT_EFAULT);
	assert_non_null(strstr(bpfrt_prog_errmsg(p), "insn 1: callx to 0x3e8, which is not a registered helper"));
	bpfrt_prog_free(p);
	/* and a good one: 8 is bpf_get_smp_processor_id */
	p = jit_load(vm, "mov %r2, 8\ncall %r2\nrsh %r0, 16\nexit", 0, 0);
	assert_int_equal(run(p), 0);
	bpfrt_prog_free(p);
	bpfrt_vm_free(vm);
}

static void recursion_refused_or_interpreted(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	const char *rec = "mov %r0, 0\ncall local f\nexit\nf:\nadd %r0, 1\ncall local f\nexit";
	jit_load(vm, rec, 0, BPFRT_EREJECT);
	assert_non_null(strstr(bpfrt_vm_errmsg(vm), "insn 4: recursive call (to insn 3)"));
	bpfrt_prog *p = jit_load(vm, rec, BPFRT_LOAD_JIT_FALLBACK, BPFRT_OK);
	assert_int_equal(bpfrt_prog_engine(p), BPFRT_ENGINE_INTERP);
	assert_non_null(strstr(bpfrt_prog_errmsg(p), "runs on the interpreter"));
	uint64_t r0;
	assert_int_equal(bpfrt_prog_run_mem(p, NULL, 0, &r0), BPFRT_EFAULT);
	bpfrt_prog_free(p);
	/* a chain of 9 frames is refused too */
	char text[1024] = "mov %r0, 0\ncall local f1\nexit\n";
	for (int i = 1; i <= 8; i++) {
		char fn[64];
		if (i < 8)
			snprintf(fn, sizeof(fn), "f%d:\ncall local f%d\nexit\n", i, i + 1);
		else
			snprintf(fn, sizeof(fn), "f%d:\nexit\n", i);
		strcat(text, fn);
	}
	jit_load(vm, text, 0, BPFRT_EREJECT);
	assert_non_null(strstr(bpfrt_vm_errmsg(vm), "the call chain is 9 frames deep"));
	bpfrt_vm_free(vm);
}

static void safe_mode_is_interpreted(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	jit_load(vm, "mov %r0, 1\nexit", BPFRT_LOAD_SAFE, BPFRT_ENOTSUP);
	assert_non_null(strstr(bpfrt_vm_errmsg(vm), "safe mode runs on the interpreter"));
	bpfrt_vm_free(vm);
}

/* Jumps far enough to need rel32 in both directions, and the dump. */
static void long_jumps_and_dump(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	size_t cap = 1 << 16, len = 0;
	char *text = malloc(cap);
	len += (size_t)snprintf(text + len, cap - len, "mov %%r0, 0\nmov %%r1, 3\nloop:\n");
	for (int i = 0; i < 100; i++) /* 100 x 4 bytes: past rel8 */
		len += (size_t)snprintf(text + len, cap - len, "add %%r0, 1\n");
	/* the code ja skips is reachable (through the jeq), so it stays */
	len += (size_t)snprintf(text + len, cap - len,
				"sub %%r1, 1\njne %%r1, 0, loop\njeq %%r1, 77, mid\nja end\n");
	for (int i = 0; i < 100; i++)
		len += (size_t)snprintf(text + len, cap - len, "%sadd %%r0, 1000\n", i == 50 ? "mid:\n" : "");
	snprintf(text + len, cap - len, "end:\nexit\n");
	bpfrt_prog *p = jit_load(vm, text, 0, 0);
	free(text);
	assert_int_equal(run(p), 300);
	char *dump;
	assert_int_equal(bpfrt_prog_dump_jited(p, &dump), BPFRT_OK);
	assert_non_null(strstr(dump, "jnz 0x"));
	assert_non_null(strstr(dump, "0f 85 ")); /* the loop's jne is rel32 */
	assert_non_null(strstr(dump, "e9 "));    /* ja end is rel32 */
	assert_non_null(strstr(dump, "push rbp"));
	free(dump);
	struct bpfrt_jit_info info;
	bpfrt_prog_jit_info(p, &info);
	assert_int_equal(info.functions, 1);
	assert_true(info.passes >= 2);
	assert_int_equal(info.code_bytes, p->jit->code_size);
	bpfrt_prog_free(p);
	bpfrt_vm_free(vm);
}

/* A leaf subprogram without stack or r10 has no rbp frame: its nop5 patch
 * site, its pushes (if any), its body, ret.  One that calls a helper keeps
 * the frame (rsp alignment for C). */
static void leaf_subprograms_are_frameless(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_prog *p = jit_load(vm, "mov %r1, 5\ncall local f\nexit\n"
				 "f:\nmov %r0, %r1\nadd %r0, 1\nexit", 0, 0);
	assert_int_equal(p->jit->nfn, 2);
	const uint8_t *f = p->jit->mem.rx + p->jit->fn[1].entry;
	static const uint8_t want[] = {
		0x0f, 0x1f, 0x44, 0x00, 0x00, /* nop5 */
		0x48, 0x89, 0xf8,             /* mov rax, rdi */
		0x48, 0x83, 0xc0, 0x01,       /* add rax, 1 */
		0xc3,                         /* ret */
	};
	assert_memory_equal(f, want, sizeof(want));
	assert_int_equal(run(p), 6);
	bpfrt_prog_free(p);
	/* callee-saved registers: pushed and popped, still no frame */
	p = jit_load(vm, "mov %r1, 5\nmov %r6, 100\ncall local f\nadd %r0, %r6\nexit\n"
		     "f:\nmov %r6, %r1\nmov %r0, %r6\nexit", 0, 0);
	f = p->jit->mem.rx + p->jit->fn[1].entry;
	assert_int_equal(p->jit->fn[1].nsaved, 1);
	assert_int_equal(f[5], 0x53); /* push rbx, right after the patch site */
	assert_int_equal(run(p), 105);
	bpfrt_prog_free(p);
	/* a helper call keeps the frame */
	p = jit_load(vm, "call local f\nexit\nf:\ncall 5\nmov %r0, 1\nexit", 0, 0);
	f = p->jit->mem.rx + p->jit->fn[1].entry;
	assert_int_equal(f[8], 0x55); /* push rbp after the 8-byte nop region */
	assert_int_equal(run(p), 1);
	bpfrt_prog_free(p);
	bpfrt_vm_free(vm);
}

/* jeq/jne r, 0 right after an add/sub/and/or/xor into r reuse its ZF (no
 * test), except where a jump lands on them or a 32-bit compare follows a
 * 64-bit operation. */
static void flags_reused_where_safe(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	bpfrt_prog *p = jit_load(vm, "mov %r0, 0\nmov %r1, 5\nloop:\nadd %r0, 2\nsub %r1, 1\n"
				 "jne %r1, 0, loop\nexit", 0, 0);
	char *dump;
	assert_int_equal(bpfrt_prog_dump_jited(p, &dump), BPFRT_OK);
	assert_null(strstr(dump, "test ")); /* sub rcx, 1 then jnz */
	free(dump);
	assert_int_equal(run(p), 10);
	bpfrt_prog_free(p);
	/* J is a jump target: reached from the jne above, whose flags say "not
	 * zero", it must test r1 (0) itself */
	p = jit_load(vm, "mov %r1, 0\nmov %r2, 1\njne %r2, 0, J\nadd %r1, 1\n"
		     "J:\njne %r1, 0, bad\nmov %r0, 1\nexit\nbad:\nmov %r0, 2\nexit", 0, 0);
	assert_int_equal(run(p), 1);
	bpfrt_prog_free(p);
	/* a 32-bit compare after a 64-bit add: the low half is 0, the whole is not */
	p = jit_load(vm, "lddw %r1, 0x100000000\nadd %r1, 0\njne32 %r1, 0, bad\nmov %r0, 1\nexit\n"
		     "bad:\nmov %r0, 2\nexit", 0, 0);
	assert_int_equal(run(p), 1);
	bpfrt_prog_free(p);
	bpfrt_vm_free(vm);
}

/* A multiplication right after `and r, 1` (r is 0 or 1) becomes neg + and,
 * either width; not where a jump lands on it (r may be anything there) or
 * when the and was on another register. */
static void bit_multiplies_become_masks(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		uint64_t r0;
		bool masked;
	} cases[] = {
		{ "mov %r1, 7\nand %r1, 1\nmul %r1, 0xedb88320\nmov %r0, %r1\nexit", 0xffffffffedb88320ull, true },
		{ "mov %r1, 7\nand32 %r1, 1\nmul32 %r1, 0xedb88320\nmov %r0, %r1\nexit", 0xedb88320ull, true },
		{ "lddw %r1, -1\nand32 %r1, 1\nmul %r1, -3\nmov %r0, %r1\nexit", (uint64_t)-3, true },
		{ "mov %r1, 6\nand %r1, 1\nmul32 %r1, 0xedb88320\nmov %r0, %r1\nexit", 0, true },
		/* M is a jump target: reached with r1 = 3, 3 * 5 */
		{ "mov %r1, 3\nmov %r2, 1\njne %r2, 0, M\nand %r1, 1\nM:\nmul %r1, 5\nmov %r0, %r1\nexit", 15, false },
		/* the and was on r2 */
		{ "mov %r1, 3\nmov %r2, 3\nand %r2, 1\nmul %r1, 5\nmov %r0, %r1\nexit", 15, false },
	};
	bpfrt_vm *vm = bpfrt_vm_new();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bpfrt_prog *p = jit_load(vm, cases[i].text, 0, 0);
		assert_int_equal(run(p), cases[i].r0);
		char *dump;
		assert_int_equal(bpfrt_prog_dump_jited(p, &dump), BPFRT_OK);
		if (cases[i].masked) {
			assert_non_null(strstr(dump, "neg "));
			assert_null(strstr(dump, "imul "));
		} else {
			assert_non_null(strstr(dump, "imul "));
		}
		free(dump);
		bpfrt_prog_free(p);
	}
	bpfrt_vm_free(vm);
}

/* Threads compiling at once share the compile's work buffers through one
 * cache slot: every compile gets its own, and its result is right. */
struct compiler {
	bpfrt_vm *vm;
	int id, bad;
};

/* A call to a small straight-line leaf subprogram (no jump, call or stack,
 * no r6..r10, 16 instructions at most) is the subprogram's body after a
 * nop5 alias site, and a stub after the functions calls the function and
 * jumps back to after the body (tracing points the site at it).  Other
 * calls stay calls, and a function is inlined at 64 call sites at most. */
static void leaf_calls_inlined(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	const char *leaf = "mov %r1, 5\ncall local f\nexit\nf:\nmov %r0, %r1\nadd %r0, 1\nexit";
	bpfrt_prog *p = jit_load(vm, leaf, 0, 0);
	assert_int_equal(p->jit->nalias, 1);
	const uint8_t *m = p->jit->mem.rx;
	static const uint8_t main_body[] = {
		0xbf, 0x05, 0x00, 0x00, 0x00, /* mov edi, 5 (after the 12-byte entry region) */
		0x0f, 0x1f, 0x44, 0x00, 0x00, /* nop5: the alias site */
		0x48, 0x89, 0xf8,             /* mov rax, rdi */
		0x48, 0x83, 0xc0, 0x01,       /* add rax, 1 */
		0xc9, 0xc3,                   /* leave; ret */
	};
	assert_memory_equal(m + 12, main_body, sizeof(main_body));
	const struct bpfrt_jit_alias *a = &p->jit->alias[0];
	assert_int_equal(a->site, 17);
	assert_int_equal(a->fn, p->jit->fn[1].entry);
	assert_int_equal(m[a->stub], 0xe8); /* call f */
	int32_t rel;
	memcpy(&rel, m + a->stub + 1, 4);
	assert_int_equal(a->stub + 5 + rel, a->fn);
	assert_int_equal(m[a->stub + 5], 0xeb); /* jmp back: to the leave after the body */
	assert_int_equal(a->stub + 7 + (int8_t)m[a->stub + 6], 29);
	uintptr_t site, stub;
	assert_int_equal(bpfrt_jit_aliases((uintptr_t)m + a->fn, &site, &stub, 1), 1);
	assert_int_equal(site, (uintptr_t)m + a->site);
	assert_int_equal(stub, (uintptr_t)m + a->stub);
	assert_int_equal(bpfrt_jit_aliases((uintptr_t)m, &site, &stub, 1), 0); /* main: none */
	assert_int_equal(run(p), 6);
	bpfrt_prog_free(p);
	p = jit_load(vm, leaf, BPFRT_LOAD_JIT_NO_INLINE, 0);
	assert_int_equal(p->jit->nalias, 0);
	assert_int_equal(run(p), 6);
	bpfrt_prog_free(p);

	static const struct { const char *callee; uint32_t inlined; uint64_t r0; } cases[] = {
		{ "mov %r6, %r1\nmov %r0, %r6\nexit", 0, 5 },                   /* r6 */
		{ "stxdw [%r10-8], %r1\nldxdw %r0, [%r10-8]\nexit", 0, 5 },     /* stack */
		{ "mov %r0, %r1\njeq %r0, 0, z\nadd %r0, 1\nz:\nexit", 0, 6 },  /* a jump */
		{ "call 5\nmov %r0, 1\nexit", 0, 1 },                           /* a helper call */
		{ "mov %r0, %r1\nsub %r0, 5\nexit", 1, 7 },                     /* flags: the caller tests */
		{ "lddw %r0, 0x100000001\nadd %r0, %r1\nexit", 1, 0x100000006 }, /* an lddw */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512];
		snprintf(text, sizeof(text), "mov %%r1, 5\ncall local f\njne %%r0, 0, out\nmov %%r0, 7\n"
			 "out:\nexit\nf:\n%s", cases[i].callee);
		p = jit_load(vm, text, 0, 0);
		if (p->jit->nalias != cases[i].inlined || run(p) != cases[i].r0)
			fail_msg("case %zu: %u inlined, r0 %#llx", i, p->jit->nalias,
				 (unsigned long long)run(p));
		bpfrt_prog_free(p);
	}
	/* 16 instructions are inlined, 17 are not */
	for (int len = 16; len <= 17; len++) {
		char text[1024], *t = text;
		t += sprintf(t, "call local f\nexit\nf:\nmov %%r0, 0\n");
		for (int k = 0; k < len - 2; k++)
			t += sprintf(t, "add %%r0, 1\n");
		sprintf(t, "exit");
		p = jit_load(vm, text, 0, 0);
		assert_int_equal(p->jit->nalias, len == 16);
		assert_int_equal(run(p), len - 2);
		bpfrt_prog_free(p);
	}
	/* 70 call sites: 64 inlined, 6 calls */
	char big[4096], *t = big;
	t += sprintf(t, "mov %%r6, 0\n");
	for (int k = 0; k < 70; k++)
		t += sprintf(t, "mov %%r1, %d\ncall local f\nadd %%r6, %%r0\n", k);
	sprintf(t, "mov %%r0, %%r6\nexit\nf:\nmov %%r0, %%r1\nadd %%r0, 1\nexit");
	p = jit_load(vm, big, 0, 0);
	assert_int_equal(p->jit->nalias, 64);
	assert_int_equal(run(p), 69 * 70 / 2 + 70);
	bpfrt_prog_free(p);
	bpfrt_vm_free(vm);
}

/* Each instruction's code offset in p's image (as dumps get them). */
static uint32_t *layout_of(bpfrt_prog *p)
{
	uint32_t *ofs = NULL;
	struct bpfrt_jit_opts o = p->jit->opts;
	struct bpfrt_err err = { 0 };
	o.layout = &ofs;
	assert_int_equal(bpfrt_jit_compile(p, &o, &err), BPFRT_OK);
	return ofs;
}

/* A loop of at most 32 bytes, and a callee of at most 32, never straddle a
 * 32-byte window, wherever the code before them puts them: a pad of nops
 * aligns them where that is needed (and only there). */
static void small_loops_and_callees_in_one_window(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	int padded = 0;
	for (int k = 0; k < 16; k++) {
		char text[1024], *t = text;
		for (int i = 0; i < k; i++)
			t += sprintf(t, "mov %%r3, 0\n");
		sprintf(t, "mov %%r6, 10\nmov %%r7, 0\nloop:\nmov %%r1, %%r6\nadd %%r7, %%r1\nsub %%r6, 1\n"
			"jne %%r6, 0, loop\nmov %%r1, %%r7\ncall local f\nexit\n"
			"f:\nmov %%r0, %%r1\nmul %%r0, 3\nadd %%r0, 1\nexit");
		bpfrt_prog *p = jit_load(vm, text, BPFRT_LOAD_JIT_NO_INLINE, 0);
		uint32_t *ofs = layout_of(p);
		size_t head = (size_t)k + 2, after = (size_t)k + 6, n = (size_t)k + 13;
		if (ofs[head] / 32 != (ofs[after] - 1) / 32)
			fail_msg("%d: the loop spans %#x..%#x", k, ofs[head], ofs[after]);
		uint32_t fe = p->jit->fn[1].entry;
		if (fe / 32 != (ofs[n] - 1) / 32)
			fail_msg("%d: the callee spans %#x..%#x", k, fe, ofs[n]);
		padded += ofs[head] % 32 == 0;
		assert_int_equal(run(p), 3 * 55 + 1);
		free(ofs);
		bpfrt_prog_free(p);
	}
	assert_true(padded > 0 && padded < 16); /* aligned where needed, not everywhere */
	bpfrt_vm_free(vm);
}

static void *compile_loop(void *arg)
{
	struct compiler *cp = arg;
	char *text = malloc(1 << 20);
	for (int i = 0; i < 60; i++) {
		int blocks = (i * 7 + cp->id * 13) % 40 == 0 ? 20000 : (i + cp->id) % 50 + 1;
		size_t len = (size_t)sprintf(text, "mov %%r0, 0\n");
		for (int b = 0; b < blocks; b++)
			len += (size_t)sprintf(text + len, "jeq %%r1, 7, L%d\nadd %%r0, %d\nL%d:\n", b, b % 5 + 1, b);
		sprintf(text + len, "exit\n");
		struct bpfrt_insn *in;
		size_t n;
		char err[256];
		if (bpfrt_asm(text, &in, &n, err, sizeof(err)) != BPFRT_OK) {
			cp->bad++;
			continue;
		}
		struct bpfrt_load_opts o = { .sz = sizeof(o), .engine = BPFRT_ENGINE_JIT };
		bpfrt_prog *p;
		uint64_t r0 = 0, want = 0;
		for (int b = 0; b < blocks; b++)
			want += (uint64_t)(b % 5 + 1);
		if (bpfrt_prog_load(cp->vm, in, n, &o, &p) != BPFRT_OK || !p->jit ||
		    bpfrt_prog_run_mem(p, NULL, 0, &r0) != BPFRT_OK || r0 != want)
			cp->bad++;
		bpfrt_prog_free(p);
		free(in);
	}
	free(text);
	return NULL;
}

static void concurrent_compiles(void **state)
{
	(void)state;
	struct compiler cp[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		cp[i] = (struct compiler){ bpfrt_vm_new(), i, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, compile_loop, &cp[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(cp[i].bad, 0);
		bpfrt_vm_free(cp[i].vm);
	}
}

static uint64_t h_add(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	return a + b + c + d + e;
}

/* Retpoline: every indirect call goes through the image's thunk. */
static void retpoline_thunk(void **state)
{
	(void)state;
	bpfrt_vm *vm = bpfrt_vm_new();
	assert_int_equal(bpfrt_vm_register_helper(vm, 300, "add", h_add, 0), BPFRT_OK);
	struct bpfrt_insn *in;
	size_t n;
	char err[256];
	assert_int_equal(bpfrt_asm("mov %r1, 1\nmov %r2, 2\nmov %r3, 3\nmov %r4, 4\nmov %r5, 5\n"
				   "call 300\nmov %r6, %r0\nmov %r1, 300\nmov %r2, 2\nmov %r3, 3\nmov %r4, 4\n"
				   "mov %r5, 5\ncall %r1\nadd %r0, %r6\nexit", &in, &n, err,
				   sizeof(err)), BPFRT_OK);
	/* far helper calls (bit 16) so that the helper call is indirect too */
	struct bpfrt_load_opts o = { .sz = sizeof(o), .engine = BPFRT_ENGINE_JIT,
				     .flags = BPFRT_LOAD_JIT_RETPOLINE, .jit_permute = 1u << 16 };
	bpfrt_prog *p;
	assert_int_equal(bpfrt_prog_load(vm, in, n, &o, &p), BPFRT_OK);
	free(in);
	assert_int_equal(run(p), 15 + 314); /* call 300 gives 15; callx with r1 = 300 gives 314 */
	char *dump;
	assert_int_equal(bpfrt_prog_dump_jited(p, &dump), BPFRT_OK);
	assert_non_null(strstr(dump, "pause"));
	assert_non_null(strstr(dump, "lfence"));
	assert_null(strstr(dump, "call r11")); /* no indirect call is left */
	free(dump);
	bpfrt_prog_free(p);
	bpfrt_vm_free(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(prologue_bytes),
		cmocka_unit_test(saves_only_used_registers),
		cmocka_unit_test(subprograms_have_their_own_frames),
		cmocka_unit_test(no_wx_mapping),
		cmocka_unit_test(small_programs_share_a_pack),
		cmocka_unit_test(callx_fault),
		cmocka_unit_test(recursion_refused_or_interpreted),
		cmocka_unit_test(safe_mode_is_interpreted),
		cmocka_unit_test(long_jumps_and_dump),
		cmocka_unit_test(retpoline_thunk),
		cmocka_unit_test(leaf_subprograms_are_frameless),
		cmocka_unit_test(concurrent_compiles),
		cmocka_unit_test(flags_reused_where_safe),
		cmocka_unit_test(bit_multiplies_become_masks),
		cmocka_unit_test(leaf_calls_inlined),
		cmocka_unit_test(small_loops_and_callees_in_one_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
