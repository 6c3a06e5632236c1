/*
 * tramp.c — fentry / fexit / fmod_ret: BPF programs attached to ordinary
 * functions of the process through trampolines, as the kernel's BPF
 * trampolines (kernel/bpf/trampoline.c, arch/x86/net/bpf_jit_comp.c).
 *
 * A traced function's patch site (its first 5 bytes, after an endbr64) is
 * one of:
 *   - a 5-byte nop (clang's -fpatchable-function-entry=5, gcc's
 *     -mfentry -mnop-mcount): the original goes on at site+5;
 *   - five 1-byte nops (gcc's -fpatchable-function-entry=5): the same;
 *   - anything else: its first instructions are moved into a stub
 *     (reloc.c), which is where the original goes on.
 * The site becomes `jmp trampoline`, written by the int3 protocol
 * (tpoke.c).  A jmp, not a call, as the kernel's 2025 "jmp mode": the
 * trampoline is entered with the caller's return address on the stack and
 * calls the original itself, so calls and returns stay paired and the
 * return-stack predictor keeps working (the kernel measured fexit +70% and
 * fmod_ret +103% over its call mode).
 *
 * The trampoline's frame (rbp as the trampoline's; the kernel's layout):
 *
 *   rbp + 16 + 8k   the function's stack arguments (args 6..11)
 *   rbp + 8         the caller's return address
 *   rbp - 8         ctx[nargs]: the return value (fexit, fmod_ret)
 *   rbp - 8 - 8n    ctx[0]: the arguments, ctx[0..nargs)   <- ctx (r1)
 *   ctx - 8         ctx[-1]: nargs (bpf_get_func_arg_cnt)
 *   ctx - 16        ctx[-2]: the function's address (bpf_get_func_ip)
 *   ctx - 24        ctx[-3]: 1 if ctx[nargs] is a return value (bpf_get_func_ret:
 *                   0 while fentry programs run, 1 for fmod_ret and fexit)
 *   ctx - 32, - 40  rax (a variadic call's vector count), r10 (static chain)
 *   ctx - 48        rdx of the return value (a 16-byte return)
 *   ctx - 56        the caller's bpfrt_current
 *   below           xmm0-7 (arguments and return values in vector registers,
 *                   unless the attach says there are none), the stack
 *                   arguments copied for the call of the original
 *
 * and its code:
 *
 *   push rbp; mov rbp, rsp; sub rsp, size
 *   inc dword fs:[depth]            this thread is inside a trampoline
 *   save rax, r10, the argument registers, xmm0-7; nargs, ip, flag (if a
 *   program calls a get_func_* helper)
 *   fentry programs, each: inline for a JITed program whose runs need
 *      nothing around them (recursion guard, bpfrt_current, call), else
 *      bpfrt_tramp_call(link, ctx)
 *   -- fentry only: restore the registers; dec fs:[depth]; leave;
 *      jmp original (its own return goes straight to the caller)
 *   fmod_ret programs: ctx[nargs] = 0; each as fentry's (r0 into ctx[nargs]),
 *      then `cmp qword [rbp-8], 0; jne do_fexit`: the first non-zero
 *      return skips the original and the other fmod_ret programs
 *   restore the registers, copy the stack arguments; call original;
 *   save rax, rdx, xmm0-1
 *   do_fexit: fexit programs (they see ctx[nargs])
 *   reload rax, rdx, xmm0-1; dec fs:[depth]; leave; ret
 *
 * Programs of one kind run most recently attached first (the kernel's
 * hlist_add_head).  A run has a per-thread recursion guard
 * (one slot per program: a program that calls a function traced by itself
 * is skipped there, counted as a miss, as the kernel's prog->active).
 *
 * A JIT function whose calls the JIT inlined has a nop5 alias site before
 * each inlined copy (bpfrt_jit_aliases): while the function is traced,
 * each is `jmp stub`, and the stub calls the function (through its site,
 * so the trampoline) and jumps back past the copy: every call is seen.
 *
 * Every attach and detach builds a new image and swaps the site to it.
 * An old image is freed once each thread has been seen, after the swap,
 * outside every trampoline (a thread scan: its depth counter is 0 and its
 * rip is in no retired image): the userspace form of the kernel's
 * RCU-tasks wait.  A thread parked inside a traced function (fexit) delays
 * the freeing, as the kernel's percpu_ref; a longjmp or exception out of a
 * function through its fexit trampoline frame is not supported (the depth
 * stays raised, so old images are then kept).
 */
#define _GNU_SOURCE
#include "internal.h"
#include "jit.h"
#include "tramp.h"
#include "x86_enc.h"

#include <linux/bpf.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define MAX_LINKS 38        /* programs per function: BPF_MAX_TRAMP_LINKS */
#define MAX_ARGS 12         /* MAX_BPF_FUNC_ARGS */
#define PATCH 5             /* jmp rel32 */

enum { K_FENTRY, K_FEXIT, K_FMOD_RET, K_KPROBE, K_KRETPROBE, NKIND };
#define K_TRAMP(k) ((k) <= K_FMOD_RET) /* a trampoline's kinds; the others are probes */

BPFRT_TLS struct tthread tt;

struct timage {
	struct bpfrt_jit_mem mem;
	struct bpfrt_probes *probes; /* the site's probe programs, or NULL */
	struct bpfrt_link *links[MAX_LINKS];
	size_t nlinks;
	struct timage *next;    /* retired, waiting */
};

struct tsite {
	uintptr_t func, at;     /* the function; its patch site (func, or func + 4 past endbr64) */
	uint8_t orig[PATCH];    /* the site's bytes before */
	uintptr_t body;         /* where the original goes on: at + 5, or the stub */
	struct bpfrt_jit_mem stub;  /* moved instructions, if any (kept for good) */
	uintptr_t redirect[16]; /* a thread stopped at at+k in the original: where it goes
				 * ([0]: where the original goes on) */
	uintptr_t *alias;       /* the inlined copies of a JIT function: their nop5 sites, */
	uintptr_t *alias_stub;  /* and where each goes while traced (bpfrt_jit_aliases) */
	size_t nalias;
	int nargs;
	bool fp;                /* xmm0-7 saved */
	char name[128];
	struct bpfrt_link *links[NKIND];
	size_t nlinks, ntramp;  /* links; those of the trampoline kinds */
	struct timage *cur;
	struct tsite *next;
};

static struct {
	pthread_mutex_t lock;
	struct tsite *sites;
	struct timage *retired;
	uint32_t next_slot;
} tr = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* --------------------------------------------------------------- runs ---- */

/* Called by trampolines: fentry and fexit programs, */
BPFRT_HIDDEN void bpfrt_tramp_call(struct bpfrt_link *l, uint64_t *ctx);
void bpfrt_tramp_call(struct bpfrt_link *l, uint64_t *ctx)
{
	uint64_t r0;
	bpfrt_link_run(l, ctx, &r0);
}

/* fmod_ret programs: their return value goes to ctx[nargs] */
BPFRT_HIDDEN void bpfrt_tramp_call_ret(struct bpfrt_link *l, uint64_t *ctx);
void bpfrt_tramp_call_ret(struct bpfrt_link *l, uint64_t *ctx)
{
	uint64_t r0;
	if (bpfrt_link_run(l, ctx, &r0))
		ctx[l->nargs] = r0;
}

/* ----------------------------------------------------------- the image ---- */

struct frame {
	int32_t ret, ctx, nargs, ip, flag, rax, r10, rdx, cur, xmm;
	uint32_t size, nstack;
};

static void layout(struct frame *f, int nargs, bool fp)
{
	f->ret = -8;
	f->ctx = -8 - 8 * nargs;
	f->nargs = f->ctx - 8;
	f->ip = f->ctx - 16;
	f->flag = f->ctx - 24;
	f->rax = f->ctx - 32;
	f->r10 = f->ctx - 40;
	f->rdx = f->ctx - 48;
	f->cur = f->ctx - 56;
	int32_t lo = f->cur;
	if (fp) {
		lo = (lo - 128) & ~15;
		f->xmm = lo;
	}
	f->nstack = nargs > 6 ? (uint32_t)nargs - 6 : 0;
	lo -= (int32_t)(8 * f->nstack);
	f->size = (uint32_t)(-lo + 15) & ~15u;
}

struct tgen {
	struct x86_buf b;
	uintptr_t base;         /* the image's address (0: sizing) */
	int32_t tls_depth;      /* fs-relative offsets of tt.depth, */
	int32_t tls_active;     /* tt.active[0], */
	int32_t tls_current;    /* bpfrt_current, */
	int32_t tls_probe_ip;   /* bpfrt_probe_ip */
	const struct bpfrt_probes *probes;
};

/* mov rax, fs:[disp32] (64 48 8b 04 25) / mov fs:[disp32], rax (64 48 89 04 25) */
static void emit_fs_rax(struct tgen *g, bool store, int32_t disp)
{
	emit3(&g->b, 0x64, 0x48, store ? 0x89 : 0x8b);
	emit2(&g->b, 0x04, 0x25);
	emit4(&g->b, (uint32_t)disp);
}

/* cmp byte fs:[disp32], imm8 (64 80 /7) / mov byte fs:[disp32], imm8 (64 c6 /0) */
static void emit_fs_byte(struct tgen *g, bool cmp, int32_t disp, uint8_t imm)
{
	emit3(&g->b, 0x64, cmp ? 0x80 : 0xc6, cmp ? 0x3c : 0x04);
	emit1(&g->b, 0x25);
	emit4(&g->b, (uint32_t)disp);
	emit1(&g->b, imm);
}

/* a rel32 jump or jcc whose target comes later: returns where to patch */
static size_t emit_jfwd(struct tgen *g, int cc)
{
	if (cc < 0)
		emit1(&g->b, 0xe9);
	else
		emit2(&g->b, 0x0f, (uint8_t)(0x80 | cc));
	emit4(&g->b, 0);
	return g->b.len;
}

static void fix_jfwd(struct tgen *g, size_t at)
{
	uint32_t rel = (uint32_t)(g->b.len - at);
	if (g->b.p && at <= g->b.cap)
		memcpy(g->b.p + at - 4, &rel, 4);
}

static const uint8_t arg_reg[6] = { RDI, RSI, RDX, RCX, R8, R9 };

static uintptr_t here(const struct tgen *g)
{
	return g->base + g->b.len;
}

/* call or jmp to an absolute address: rel32 where it reaches, else through
 * r11 (scratch wherever the images branch: at a function's entry, or
 * between calls) */
static void emit_branch_abs(struct tgen *g, bool call, uintptr_t to)
{
	if (g->base && bpfrt_jit_mem_in_reach(here(g) + 5, to)) {
		emit1(&g->b, call ? 0xe8 : 0xe9);
		emit4(&g->b, (uint32_t)(to - (here(g) + 4)));
		return;
	}
	emit_rex(&g->b, true, 0, R11, false);
	emit1(&g->b, 0xb8 + (R11 & 7)); /* movabs r11, to (always 10 bytes: sizing's bound) */
	emit8(&g->b, to);
	if (call) {
		emit_call_r(&g->b, R11);
	} else {
		emit3(&g->b, 0x41, 0xff, 0xe3); /* jmp r11 */
	}
}

static void emit_call_abs(struct tgen *g, uintptr_t fn)
{
	emit_branch_abs(g, true, fn);
}

/* inc / dec dword fs:[disp32]: 64 ff /0 (/1) with SIB 25 (no base, no index) */
static void emit_depth(struct tgen *g, bool inc)
{
	emit3(&g->b, 0x64, 0xff, inc ? 0x04 : 0x0c);
	emit1(&g->b, 0x25);
	emit4(&g->b, (uint32_t)g->tls_depth);
}

/* movdqu [rbp+off], xmmN (f3 0f 7f /r) or movdqu xmmN, [rbp+off] (f3 0f 6f /r) */
static void emit_xmm(struct tgen *g, bool store, int n, int base, int32_t off)
{
	emit3(&g->b, 0xf3, 0x0f, store ? 0x7f : 0x6f);
	emit_mem(&g->b, n, base, off);
}

/* xmm0 .. xmm(n-1) to or from [base+off], 16 bytes each */
static void emit_xmms(struct tgen *g, bool store, int n, int base, int32_t off)
{
	for (int i = 0; i < n; i++)
		emit_xmm(g, store, i, base, off + 16 * i);
}

/* add / sub rsp, imm32 (48 81 /0, /5) */
static void emit_rsp_adjust(struct x86_buf *b, enum x86_alu op, int32_t n)
{
	emit_rex(b, true, 0, RSP, false);
	emit1(b, 0x81);
	emit_modrm(b, 3, op, RSP);
	emit4(b, (uint32_t)n);
}

static void save_regs(struct tgen *g, const struct tsite *s, const struct frame *f)
{
	emit_store_r(&g->b, 8, RBP, f->rax, RAX);
	emit_store_r(&g->b, 8, RBP, f->r10, R10);
	for (int i = 0; i < s->nargs && i < 6; i++)
		emit_store_r(&g->b, 8, RBP, f->ctx + 8 * i, arg_reg[i]);
	for (int i = 6; i < s->nargs; i++) { /* stack arguments into ctx too */
		emit_load(&g->b, 8, false, RAX, RBP, 16 + 8 * (i - 6));
		emit_store_r(&g->b, 8, RBP, f->ctx + 8 * i, RAX);
	}
	if (s->fp)
		emit_xmms(g, true, 8, RBP, f->xmm);
}

static void restore_regs(struct tgen *g, const struct tsite *s, const struct frame *f)
{
	for (int i = 0; i < s->nargs && i < 6; i++)
		emit_load(&g->b, 8, false, arg_reg[i], RBP, f->ctx + 8 * i);
	if (s->fp)
		emit_xmms(g, false, 8, RBP, f->xmm);
	emit_load(&g->b, 8, false, R10, RBP, f->r10);
	emit_load(&g->b, 8, false, RAX, RBP, f->rax);
}

/* One program's run.  A JITed program whose runs need nothing around them
 * runs inline: the recursion guard on its slot of this thread's tt.active,
 * bpfrt_current, a direct call of its code; the others through
 * bpfrt_tramp_call(_ret) (RCU, per-CPU slot, the interpreter). */
static void invoke_at(struct tgen *g, const struct bpfrt_link *l, int base, int32_t ctx, int32_t ret)
{
	if (l->entry) {
		int32_t slot = g->tls_active + l->slot;
		emit_fs_byte(g, true, slot, 0);
		size_t run = emit_jfwd(g, CC_E);
		emit_mov_ri(&g->b, true, R11, (int64_t)(uintptr_t)&l->prog->misses);
		emit3(&g->b, 0xf0, 0x49, 0xff); /* lock inc qword [r11] */
		emit1(&g->b, 0x03);
		size_t out = emit_jfwd(g, -1);
		fix_jfwd(g, run);
		emit_fs_byte(g, false, slot, 1);
		emit_mov_ri(&g->b, true, RAX, (int64_t)(uintptr_t)l->prog);
		emit_fs_rax(g, true, g->tls_current);
		emit_lea(&g->b, RDI, base, ctx);
		emit_call_abs(g, (uintptr_t)l->entry);
		if (ret)
			emit_store_r(&g->b, 8, base, ret, RAX);
		emit_fs_byte(g, false, slot, 0);
		fix_jfwd(g, out);
		return;
	}
	emit_mov_ri(&g->b, true, RDI, (int64_t)(uintptr_t)l);
	emit_lea(&g->b, RSI, base, ctx);
	emit_call_abs(g, ret ? (uintptr_t)bpfrt_tramp_call_ret : (uintptr_t)bpfrt_tramp_call);
}

/* ... in a trampoline's frame (ret: store r0 in ctx[nargs], fmod_ret) */
static void invoke(struct tgen *g, const struct bpfrt_link *l, const struct frame *f, bool ret)
{
	invoke_at(g, l, RBP, f->ctx, ret ? f->ret : 0);
}

/* pt_regs field offsets */
#define PT(f) ((int32_t)offsetof(struct bpfrt_pt_regs, f))

/* Every general register into the pt_regs at rsp (r11 first: then it is
 * scratch), its rsp field = rsp + rsp_off, the constant fields. */
static const struct { uint8_t reg; int32_t off; } pt_gprs[] = {
	{ R11, PT(r11) }, { R15, PT(r15) }, { R14, PT(r14) }, { R13, PT(r13) }, { R12, PT(r12) },
	{ RBP, PT(rbp) }, { RBX, PT(rbx) }, { R10, PT(r10) }, { R9, PT(r9) }, { R8, PT(r8) },
	{ RAX, PT(rax) }, { RCX, PT(rcx) }, { RDX, PT(rdx) }, { RSI, PT(rsi) }, { RDI, PT(rdi) },
};

static void emit_pt_regs(struct tgen *g, int32_t rsp_off)
{
	struct x86_buf *b = &g->b;
	for (size_t i = 0; i < ARRAY_SIZE(pt_gprs); i++)
		emit_store_r(b, 8, RSP, pt_gprs[i].off, pt_gprs[i].reg);
	emit_lea(b, R11, RSP, rsp_off);
	emit_store_r(b, 8, RSP, PT(rsp), R11);
	emit_store_i(b, 8, RSP, PT(orig_rax), -1);
	emit_store_i(b, 8, RSP, PT(cs), 0x33);
	emit_store_i(b, 8, RSP, PT(ss), 0x2b);
}

/* Saves bpfrt_current and bpfrt_probe_ip at [rsp+at], [rsp+at+8] and sets
 * the latter; or restores both. */
static void emit_probe_tls(struct tgen *g, bool save, int32_t at, uintptr_t func)
{
	struct x86_buf *b = &g->b;
	if (save) {
		emit_fs_rax(g, false, g->tls_current);
		emit_store_r(b, 8, RSP, at, RAX);
		emit_fs_rax(g, false, g->tls_probe_ip);
		emit_store_r(b, 8, RSP, at + 8, RAX);
		emit_mov_ri(b, true, RAX, (int64_t)func);
		emit_fs_rax(g, true, g->tls_probe_ip);
	} else {
		emit_load(b, 8, false, RAX, RSP, at + 8);
		emit_fs_rax(g, true, g->tls_probe_ip);
		emit_load(b, 8, false, RAX, RSP, at);
		emit_fs_rax(g, true, g->tls_current);
	}
}

/* The generic hook's entry: every register into a pt_regs on the stack,
 * the entry programs with ctx = the pt_regs, bpfrt_rethook_push if the site
 * has return programs, the registers back.  Frame (rsp at the function's
 * entry is 8 mod 16): pushfq (read into pt_regs, not popped back: flags do
 * not live across calls), then pt_regs [0,168), the outer bpfrt_current
 * and bpfrt_probe_ip [168,184), xmm0-7 [192,320) if saved. */
static void gen_probes(struct tgen *g, const struct tsite *s)
{
	const int32_t tls = 168, xmm = 192;
	struct x86_buf *b = &g->b;
	int32_t frame = s->fp ? 320 : 192;
	emit1(b, 0x9c); /* pushfq */
	emit_rsp_adjust(b, X_SUB, frame);
	emit_pt_regs(g, frame + 8);                       /* rsp at the function's entry */
	emit_load(b, 8, false, R11, RSP, frame);          /* the flags pushed */
	emit_store_r(b, 8, RSP, PT(eflags), R11);
	emit_mov_ri(b, true, R11, (int64_t)s->func);
	emit_store_r(b, 8, RSP, PT(rip), R11);
	if (s->fp)
		emit_xmms(g, true, 8, RSP, xmm);
	emit_depth(g, true);
	emit_probe_tls(g, true, tls, s->func);
	for (size_t i = 0; i < g->probes->nentry; i++)
		invoke_at(g, g->probes->links[i], RSP, 0, 0);
	emit_probe_tls(g, false, tls, 0);
	if (g->probes->nret) { /* r11 = pushed (r11 is not restored: scratch at entry) */
		emit_mov_rr(b, true, RDI, RSP);
		emit_call_abs(g, (uintptr_t)bpfrt_rethook_push);
		emit_op_rr(b, true, 0x89, R11, RAX); /* mov r11, rax */
	}
	emit_depth(g, false);
	if (s->fp)
		emit_xmms(g, false, 8, RSP, xmm);
	for (size_t i = 0; i < ARRAY_SIZE(pt_gprs); i++) { /* C kept the callee-saved ones */
		int r = pt_gprs[i].reg;
		bool callee_saved = r == RBX || r == RBP || (r >= R12 && r <= R15);
		if (!callee_saved && !(r == R11 && g->probes->nret))
			emit_load(b, 8, false, r, RSP, pt_gprs[i].off);
	}
	emit_rsp_adjust(b, X_ADD, frame + 8); /* the flags slot too */
}

/* The generic hook's return (the function called from its own slot has
 * returned here: rsp = slot + 8, the return value in rax, rdx, xmm0-1):
 * a pt_regs, bpfrt_rethook_pop (the real return address), the return
 * programs, `push the real return address; ret`.  Frame: pt_regs [0,168),
 * xmm0-1 [168,200), bpfrt_current and bpfrt_probe_ip [200,216), the real
 * return address [216]: 224 bytes, rsp stays 16-aligned. */
static void gen_probe_return(struct tgen *g, const struct tsite *s)
{
	struct x86_buf *b = &g->b;
	const int32_t frame = 224, xmm = 168, tls = 200, ret = 216;
	emit_rsp_adjust(b, X_SUB, frame);
	emit_pt_regs(g, frame);                           /* rsp as after the function's return */
	emit_store_i(b, 8, RSP, PT(eflags), 0x202);
	emit_xmms(g, true, 2, RSP, xmm);
	emit_depth(g, true);
	emit_mov_rr(b, true, RDI, RSP);
	emit_call_abs(g, (uintptr_t)bpfrt_rethook_pop);
	emit_store_r(b, 8, RSP, ret, RAX);
	emit_probe_tls(g, true, tls, s->func);
	for (size_t i = 0; i < g->probes->nret; i++)
		invoke_at(g, g->probes->links[g->probes->nentry + i], RSP, 0, 0);
	emit_probe_tls(g, false, tls, 0);
	emit_depth(g, false);
	emit_xmms(g, false, 2, RSP, xmm);
	emit_load(b, 8, false, RAX, RSP, PT(rax));
	emit_load(b, 8, false, RDX, RSP, PT(rdx));
	emit_load(b, 8, false, R11, RSP, ret);
	emit_rsp_adjust(b, X_ADD, frame);
	emit_push(b, R11);
	emit1(b, 0xc3); /* ret: pairs with the caller's call */
}

static void gen(struct tgen *g, const struct tsite *s)
{
	struct x86_buf *b = &g->b;
	size_t next = 0;
	if (g->probes) {
		gen_probes(g, s);
		if (g->probes->nret) {
			emit_test_rr(b, true, R11, R11);
			size_t plain = emit_jfwd(g, CC_E);   /* not pushed: no return hook */
			emit_alu_ri(b, true, X_ADD, RSP, 8); /* the return address is on the shadow stack */
			if (s->ntramp) {
				emit1(b, 0xe8); /* call next: the trampoline below */
				emit4(b, 0);
				next = b->len;
			} else {
				emit_call_abs(g, s->body);
			}
			gen_probe_return(g, s);
			fix_jfwd(g, plain);
		}
	}
	if (next)
		fix_jfwd(g, next);
	if (!s->ntramp) {
		emit_branch_abs(g, false, s->body);
		return;
	}
	bool has_ret = s->links[K_FEXIT] || s->links[K_FMOD_RET];
	struct frame f;
	layout(&f, s->nargs, s->fp);
	emit_push(b, RBP);
	emit_mov_rr(b, true, RBP, RSP);
	emit_rsp_adjust(b, X_SUB, (int32_t)f.size);
	emit_depth(g, true);
	save_regs(g, s, &f);
	emit_fs_rax(g, false, g->tls_current);
	emit_store_r(b, 8, RBP, f.cur, RAX);
	/* ctx[-1..-3], for the get_func_* helpers (the kernel's IP_ARG flag) */
	bool meta = false;
	for (int k = K_FENTRY; k <= K_FMOD_RET; k++)
		for (const struct bpfrt_link *l = s->links[k]; l; l = l->next)
			meta = meta || l->meta;
	if (meta) {
		emit_store_i(b, 8, RBP, f.nargs, s->nargs);
		emit_mov_ri(b, true, RAX, (int64_t)s->func);
		emit_store_r(b, 8, RBP, f.ip, RAX);
		emit_store_i(b, 8, RBP, f.flag, !s->links[K_FENTRY]); /* fentry programs: no return value */
	}
	for (const struct bpfrt_link *l = s->links[K_FENTRY]; l; l = l->next)
		invoke(g, l, &f, false);
	if (meta && has_ret && s->links[K_FENTRY])
		emit_store_i(b, 8, RBP, f.flag, 1);
	if (!has_ret) {
		emit_load(b, 8, false, RAX, RBP, f.cur);
		emit_fs_rax(g, true, g->tls_current);
		restore_regs(g, s, &f);
		emit_depth(g, false);
		emit1(b, 0xc9); /* leave */
		emit_branch_abs(g, false, s->body);
		return;
	}
	size_t fix[MAX_LINKS], nfix = 0;
	if (s->links[K_FMOD_RET]) {
		emit_store_i(b, 8, RBP, f.ret, 0);
		emit_store_i(b, 8, RBP, f.rdx, 0);
		for (const struct bpfrt_link *l = s->links[K_FMOD_RET]; l; l = l->next) {
			invoke(g, l, &f, true);
			emit_rex(b, true, 0, RBP, false);
			emit1(b, 0x83); /* cmp qword [rbp-8], 0 */
			emit_mem(b, X_CMP, RBP, f.ret);
			emit1(b, 0);
			fix[nfix++] = emit_jfwd(g, CC_NE); /* jne do_fexit */
		}
	}
	restore_regs(g, s, &f);
	for (uint32_t k = 0; k < f.nstack; k++) {
		emit_load(b, 8, false, R11, RBP, 16 + 8 * (int32_t)k);
		emit_store_r(b, 8, RSP, 8 * (int32_t)k, R11);
	}
	emit_call_abs(g, s->body);
	emit_store_r(b, 8, RBP, f.ret, RAX);
	emit_store_r(b, 8, RBP, f.rdx, RDX);
	if (s->fp)
		emit_xmms(g, true, 2, RBP, f.xmm);
	for (size_t i = 0; i < nfix; i++) /* do_fexit: */
		fix_jfwd(g, fix[i]);
	for (const struct bpfrt_link *l = s->links[K_FEXIT]; l; l = l->next)
		invoke(g, l, &f, false);
	emit_load(b, 8, false, RAX, RBP, f.cur);
	emit_fs_rax(g, true, g->tls_current);
	emit_load(b, 8, false, RAX, RBP, f.ret);
	emit_load(b, 8, false, RDX, RBP, f.rdx);
	if (s->fp)
		emit_xmms(g, false, 2, RBP, f.xmm);
	emit_depth(g, false);
	emit1(b, 0xc9); /* leave */
	emit1(b, 0xc3); /* ret */
}

static int32_t tls_offset(void *var)
{
	uintptr_t tp;
	__asm__("mov %%fs:0, %0" : "=r"(tp));
	return (int32_t)((intptr_t)var - (intptr_t)tp);
}

static void link_unref(struct bpfrt_link *l)
{
	if (--l->refs)
		return;
	bpfrt_prog_unref(l->prog);
	free(l);
}

static void image_free(struct timage *im)
{
	for (size_t i = 0; i < im->nlinks; i++)
		link_unref(im->links[i]);
	bpfrt_jit_mem_free(&im->mem);
	free(im->probes);
	free(im);
}

/* A new image for site s's links, or NULL (err says why). */
static struct timage *image_build(const struct tsite *s, struct bpfrt_err *err)
{
	struct timage *im = calloc(1, sizeof(*im));
	if (!im) {
		bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
		return NULL;
	}
	if (s->links[K_KPROBE] || s->links[K_KRETPROBE]) {
		size_t n = s->nlinks - s->ntramp;
		if (!(im->probes = calloc(1, sizeof(*im->probes) + n * sizeof(im->probes->links[0])))) {
			image_free(im);
			bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
			return NULL;
		}
		im->probes->func = s->func;
		for (const struct bpfrt_link *l = s->links[K_KPROBE]; l; l = l->next)
			im->probes->links[im->probes->nentry++] = (struct bpfrt_link *)l;
		for (const struct bpfrt_link *l = s->links[K_KRETPROBE]; l; l = l->next)
			im->probes->links[im->probes->nentry + im->probes->nret++] = (struct bpfrt_link *)l;
	}
	struct tgen g = { .tls_depth = tls_offset(&tt.depth), .tls_active = tls_offset(&tt.active[0]),
			  .tls_current = tls_offset(&bpfrt_current), .tls_probe_ip = tls_offset(&bpfrt_probe_ip),
			  .probes = im->probes };
	gen(&g, s); /* sizing */
	size_t size = g.b.len;
	if (bpfrt_jit_mem_alloc_near(size, s->at, &im->mem) != BPFRT_OK) {
		image_free(im);
		bpfrt_err_set(err, BPFRT_ENOMEM, "no executable memory within reach of %s", s->name);
		return NULL;
	}
	g.b = (struct x86_buf){ im->mem.rw, 0, im->mem.size, false };
	g.base = (uintptr_t)im->mem.rx;
	gen(&g, s);
	if (g.b.err || g.b.len > size || bpfrt_jit_mem_seal(&im->mem) != BPFRT_OK) {
		image_free(im);
		bpfrt_err_set(err, BPFRT_EINTERNAL, "trampoline image of %s: %zu bytes over its %zu", s->name,
			      g.b.len, size);
		return NULL;
	}
	for (int k = 0; k < NKIND; k++)
		for (struct bpfrt_link *l = s->links[k]; l; l = l->next) {
			l->refs++;
			im->links[im->nlinks++] = l;
		}
	return im;
}

/* ---------------------------------------------------------- retirement ---- */

struct quiet_scan {
	pid_t seen[BPFRT_MAX_THREADS];
	uint32_t nseen;
};

static bool in_retired(uintptr_t a)
{
	for (const struct timage *im = tr.retired; im; im = im->next)
		if (a >= (uintptr_t)im->mem.rx && a < (uintptr_t)im->mem.rx + im->mem.size)
			return true;
	return false;
}

static bool word_not_retired(uintptr_t w, void *arg)
{
	(void)arg;
	return !in_retired(w);
}

static void quiet_one(void *ucv, void *argv)
{
	ucontext_t *uc = ucv;
	struct quiet_scan *q = argv;
	uintptr_t rip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	if (tt.depth || bpfrt_rethook_pending() || bpfrt_in_trap_landing(rip))
		return;
	if (in_retired(rip))
		return;
	uint32_t i = __atomic_fetch_add(&q->nseen, 1, __ATOMIC_RELAXED);
	if (i < ARRAY_SIZE(q->seen))
		q->seen[i] = (pid_t)syscall(SYS_gettid);
}

/* A thread that blocks the scan signal, parked in a system call: quiet if
 * neither its pc nor any word of its stack (a return address) is in a
 * retired image. */
static bool parked_quiet(pid_t tid, uintptr_t sp, uintptr_t pc, void *argv)
{
	struct quiet_scan *q = argv;
	if (in_retired(pc) || bpfrt_in_trap_landing(pc) || !bpfrt_stack_words(sp, word_not_retired, NULL))
		return false;
	uint32_t i = __atomic_fetch_add(&q->nseen, 1, __ATOMIC_RELAXED);
	if (i < ARRAY_SIZE(q->seen))
		q->seen[i] = tid;
	return true;
}

/* Frees the retired images if every thread is seen outside all trampolines
 * within a few scans.  Under tr.lock and the tpoke lock. */
static void gc_locked(void)
{
	if (!tr.retired || tt.depth || bpfrt_rethook_pending())
		return;
	static pid_t pending[BPFRT_MAX_THREADS];
	ssize_t n = bpfrt_threads(pending, ARRAY_SIZE(pending));
	if (n < 0) /* too many threads to track: keep the images */
		return;
	size_t np = (size_t)n;
	static struct quiet_scan q;
	/* A few scans, each sees some threads outside; if some stay unseen, the
	 * images wait for the next attach or detach. */
	for (int attempt = 0; np && attempt < 4; attempt++) {
		q.nseen = 0;
		bpfrt_scan_threads_locked(pending, np, quiet_one, parked_quiet, &q, 20000000ull); /* 20 ms: it comes back */
		size_t w = 0;
		for (size_t i = 0; i < np; i++) {
			bool seen = false;
			for (uint32_t k = 0; k < q.nseen && k < ARRAY_SIZE(q.seen) && !seen; k++)
				seen = q.seen[k] == pending[i];
			/* a thread that has exited is quiet too */
			if (!seen && syscall(SYS_tgkill, getpid(), pending[i], 0) == 0)
				pending[w++] = pending[i];
		}
		np = w;
	}
	if (np)
		return;
	while (tr.retired) {
		struct timage *im = tr.retired;
		tr.retired = im->next;
		image_free(im);
	}
}

static void retire(struct timage *im)
{
	im->next = tr.retired;
	tr.retired = im;
}

size_t bpfrt_tramp_retired(void)
{
	pthread_mutex_lock(&tr.lock);
	size_t n = 0;
	for (const struct timage *im = tr.retired; im; im = im->next)
		n++;
	pthread_mutex_unlock(&tr.lock);
	return n;
}

/* -------------------------------------------------------------- sites ---- */

static bool is_nop5(const uint8_t *p)
{
	return p[0] == 0x0f && p[1] == 0x1f && p[2] == 0x44 && p[3] == 0x00; /* nopl disp8(rax,rax) */
}

/* A new site for the function at func (its symbol: sym), or NULL. */
static struct tsite *site_new(uintptr_t func, const struct bpfrt_sym *sym, struct bpfrt_err *err)
{
	struct tsite *s = calloc(1, sizeof(*s));
	if (!s) {
		bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
		return NULL;
	}
	s->func = s->at = func;
	snprintf(s->name, sizeof(s->name), "%s", sym->name[0] ? sym->name : "function");
	const uint8_t *p = (const uint8_t *)func;
	if (p[0] == 0xf3 && p[1] == 0x0f && p[2] == 0x1e && p[3] == 0xfa) /* endbr64 stays first */
		s->at += 4;
	p = (const uint8_t *)s->at;
	memcpy(s->orig, p, PATCH);
	if (is_nop5(p)) {
		s->body = s->at + PATCH;
	} else if (!memcmp(p, "\x90\x90\x90\x90\x90", PATCH)) {
		s->body = s->at + PATCH;
		for (int k = 0; k < PATCH; k++)
			s->redirect[k] = s->at + PATCH;
	} else {
		struct bpfrt_reloc rl;
		if (bpfrt_jit_mem_alloc_near(RELOC_MAX, s->at, &s->stub) != BPFRT_OK) {
			free(s);
			bpfrt_err_set(err, BPFRT_ENOMEM, "no executable memory within reach of %s", s->name);
			return NULL;
		}
		size_t fsize = sym->size ? sym->size - (s->at - func) : 0;
		int rc = bpfrt_reloc(s->at, fsize, PATCH, (uintptr_t)s->stub.rx, &rl, err);
		if (rc != BPFRT_OK) {
			bpfrt_jit_mem_free(&s->stub);
			free(s);
			return NULL;
		}
		memcpy(s->stub.rw, rl.code, rl.code_len);
		bpfrt_jit_mem_seal(&s->stub);
		s->body = (uintptr_t)s->stub.rx;
		s->redirect[0] = s->body;
		for (size_t k = 1; k < rl.len && k < PATCH; k++)
			if (rl.map[k])
				s->redirect[k] = s->body + rl.map[k];
	}
	return s;
}

/* The function's inlined copies, found again as tracing starts (a site
 * outlives the JIT image its function was in: another may be there now). */
static int aliases_find(struct tsite *s, struct bpfrt_err *err)
{
	size_t n = s->at == s->func && is_nop5(s->orig) ? bpfrt_jit_aliases(s->func, NULL, NULL, 0) : 0;
	free(s->alias);
	s->alias = s->alias_stub = NULL;
	s->nalias = 0;
	if (!n)
		return BPFRT_OK;
	if (!(s->alias = malloc(2 * n * sizeof(*s->alias))))
		return bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
	s->alias_stub = s->alias + n;
	size_t m = bpfrt_jit_aliases(s->func, s->alias, s->alias_stub, n);
	s->nalias = m < n ? m : n;
	return BPFRT_OK;
}

/* Points alias site k at its stub (traced) or back to the nop5. */
static int alias_point(const struct tsite *s, size_t k, bool traced, struct bpfrt_err *err)
{
	uint8_t code[PATCH] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 }; /* nop5 */
	uintptr_t at = s->alias[k], emulate = at + PATCH;
	if (traced) {
		int32_t rel = (int32_t)(s->alias_stub[k] - (at + PATCH));
		code[0] = 0xe9; /* jmp rel32 */
		memcpy(code + 1, &rel, 4);
		emulate = s->alias_stub[k];
	}
	return bpfrt_tpoke_locked(at, code, PATCH, emulate, NULL, err);
}

/* Points every alias site at its stub (traced) or back; on a failure,
 * those done are put back as they were. */
static int aliases_point(const struct tsite *s, bool traced, struct bpfrt_err *err)
{
	for (size_t k = 0; k < s->nalias; k++) {
		int rc = alias_point(s, k, traced, err);
		if (rc != BPFRT_OK) {
			struct bpfrt_err ignored = { 0 };
			while (k--)
				alias_point(s, k, !traced, &ignored);
			return rc;
		}
	}
	return BPFRT_OK;
}

static int main_point(struct tsite *s, struct timage *im, struct bpfrt_err *err)
{
	uint8_t code[PATCH];
	uintptr_t emulate;
	const uintptr_t *redirect = NULL;
	if (im) {
		uintptr_t to = (uintptr_t)im->mem.rx;
		int32_t rel = (int32_t)(to - (s->at + PATCH));
		code[0] = 0xe9; /* jmp rel32 */
		memcpy(code + 1, &rel, 4);
		emulate = to;
		if (!s->cur) /* from the original code, which may have boundaries inside */
			redirect = s->redirect;
	} else {
		memcpy(code, s->orig, PATCH);
		emulate = s->body;
	}
	return bpfrt_tpoke_locked(s->at, code, PATCH, emulate, redirect, err);
}

/* Points the site at its new image (NULL: restores the original code); the
 * function's inlined copies, if any, go through their stubs while it is
 * traced: the site first on the way in, last on the way out. */
static int site_point(struct tsite *s, struct timage *im, struct bpfrt_err *err)
{
	int rc;
	if (im && !s->cur && (rc = aliases_find(s, err)) != BPFRT_OK)
		return rc;
	if (!s->nalias || (im && s->cur))
		return main_point(s, im, err);
	struct bpfrt_err ignored = { 0 }; /* undoing the first step when the second fails */
	if (im) {
		if ((rc = main_point(s, im, err)) == BPFRT_OK && (rc = aliases_point(s, true, err)) != BPFRT_OK)
			main_point(s, NULL, &ignored);
	} else if ((rc = aliases_point(s, false, err)) == BPFRT_OK &&
		   (rc = main_point(s, NULL, err)) != BPFRT_OK) {
		aliases_point(s, true, &ignored);
	}
	return rc;
}

/* A link into (out of) its site's list of its kind. */
static void link_add(struct tsite *s, struct bpfrt_link *l)
{
	l->next = s->links[l->kind];
	s->links[l->kind] = l;
	s->nlinks++;
	s->ntramp += K_TRAMP(l->kind);
}

static void link_remove(struct tsite *s, struct bpfrt_link *l)
{
	struct bpfrt_link **pp = &s->links[l->kind];
	while (*pp != l)
		pp = &(*pp)->next;
	*pp = l->next;
	s->nlinks--;
	s->ntramp -= K_TRAMP(l->kind);
}

/* Rebuilds site s's image and swaps the site to it; the old image retires. */
static int site_update(struct tsite *s, struct bpfrt_err *err)
{
	struct timage *im = NULL;
	if (s->nlinks && !(im = image_build(s, err)))
		return err->status;
	int rc = site_point(s, im, err);
	if (rc != BPFRT_OK) {
		/* threads that met the int3 before the patch was undone went to
		 * the new image: it retires as any other */
		if (im)
			retire(im);
		return rc;
	}
	if (s->cur)
		retire(s->cur);
	s->cur = im;
	gc_locked();
	return BPFRT_OK;
}

/* ---------------------------------------------------------------- API ---- */

/* Whether a program may read ctx[-1..-3] (it calls a get_func_* helper, or
 * any helper through callx: then assume so). */
static bool uses_func_meta(const bpfrt_prog *p)
{
	size_t n;
	const struct bpfrt_insn *x = bpfrt_prog_xlated(p, &n, NULL);
	for (size_t i = 0; x && i < n; i++) {
		const struct bpfrt_insn *in = &x[i];
		if (in->code == (BPF_JMP | BPF_CALL) && in->src == 0 &&
		    (in->imm == BPF_FUNC_get_func_ip || in->imm == BPF_FUNC_get_func_arg ||
		     in->imm == BPF_FUNC_get_func_ret || in->imm == BPF_FUNC_get_func_arg_cnt))
			return true;
		if (in->code == (BPF_JMP | BPF_CALL | BPF_X))
			return true;
	}
	return false;
}

/* The kind a section names, and its function: fentry/FUNC, kprobe/FUNC,
 * uprobe/PATH:FUNC (libbpf's form; the path is not checked: the function
 * is looked up in this process), uprobe/FUNC. */
static int kind_of_section(const char *sec, const char **target)
{
	static const struct { const char *prefix; int kind; } k[] = {
		{ "fentry/", K_FENTRY }, { "fentry.s/", K_FENTRY }, { "fexit/", K_FEXIT },
		{ "fexit.s/", K_FEXIT }, { "fmod_ret/", K_FMOD_RET }, { "fmod_ret.s/", K_FMOD_RET },
		{ "kprobe/", K_KPROBE }, { "kretprobe/", K_KRETPROBE }, { "uprobe/", K_KPROBE },
		{ "uprobe.s/", K_KPROBE }, { "uretprobe/", K_KRETPROBE }, { "uretprobe.s/", K_KRETPROBE },
	};
	for (size_t i = 0; sec && i < ARRAY_SIZE(k); i++)
		if (!strncmp(sec, k[i].prefix, strlen(k[i].prefix))) {
			*target = sec + strlen(k[i].prefix);
			if (k[i].kind >= K_KPROBE && strrchr(*target, ':'))
				*target = strrchr(*target, ':') + 1;
			return k[i].kind;
		}
	return -1;
}

static int attach(bpfrt_prog *prog, uintptr_t func, const struct bpfrt_sym *sym,
		  const struct bpfrt_attach_opts *opts, bpfrt_link **out, struct bpfrt_err *err)
{
	const char *target = NULL, *name = prog->name ? prog->name : "program";
	int kind = opts && opts->kind ? opts->kind - 1 : kind_of_section(prog->sec, &target);
	if (kind < 0 || kind >= NKIND)
		return bpfrt_err_set(err, BPFRT_EINVAL, "%s: not a fentry, fexit, fmod_ret, kprobe or uprobe program "
				     "(section %s); give the kind in the attach options", name,
				     prog->sec ? prog->sec : "none");
	uint32_t want = K_TRAMP(kind) ? BPF_PROG_TYPE_TRACING : BPF_PROG_TYPE_KPROBE;
	if (prog->type && prog->type != want)
		return bpfrt_err_set(err, BPFRT_EINVAL, "%s: a %s attachment takes a %s program (this one is "
				     "from section %s)", name, K_TRAMP(kind) ? "trampoline" : "probe",
				     K_TRAMP(kind) ? "tracing" : "kprobe", prog->sec ? prog->sec : "?");
	int nargs = opts ? opts->nargs : BPFRT_NARGS_UNKNOWN;
	bool has_ret = kind == K_FEXIT || kind == K_FMOD_RET;
	uint32_t ctx_bytes = PT_REGS_BYTES;
	if (K_TRAMP(kind)) {
		if (nargs == BPFRT_NARGS_UNKNOWN) { /* the process's BTF for it */
			char why[200];
			nargs = bpfrt_sym_nargs(func, sym->addr == func ? sym->name : NULL, why, sizeof(why));
			if (nargs == -2)
				return bpfrt_err_set(err, BPFRT_ENOTSUP, "%s: %s: its arguments are not a tracing context",
						     name, why);
		}
		if (nargs == BPFRT_NARGS_UNKNOWN) {
			if (has_ret)
				return bpfrt_err_set(err, BPFRT_EINVAL, "%s: the number of arguments of %s is unknown (no "
						     "BTF for it): fexit and fmod_ret need it in the attach options",
						     name, sym->name);
			nargs = 6; /* every argument register */
		}
		if (nargs < 0 || nargs > MAX_ARGS)
			return bpfrt_err_set(err, BPFRT_EINVAL, "%d arguments: at most %d", nargs, MAX_ARGS);
		ctx_bytes = 8 * ((uint32_t)nargs + has_ret);
		if (prog->verified && prog->ctx_need > ctx_bytes)
			return bpfrt_err_set(err, BPFRT_EREJECT, "%s reads ctx up to byte %u, but %s has %d argument%s%s "
					     "(ctx holds %u bytes)", name, prog->ctx_need, sym->name, nargs,
					     nargs == 1 ? "" : "s", has_ret ? " and a return value" : "", ctx_bytes);
	}
	bool fp = !(opts && (opts->flags & BPFRT_ATTACH_NO_FP));
	struct tsite *s;
	for (s = tr.sites; s && s->func != func; s = s->next)
		;
	bool fresh = !s;
	if (fresh && !(s = site_new(func, sym, err)))
		return err->status;
	if (K_TRAMP(kind) && s->ntramp && s->nargs != nargs)
		return bpfrt_err_set(err, BPFRT_EINVAL, "%s is traced with %d arguments already, not %d", s->name,
				     s->nargs, nargs);
	if (K_TRAMP(kind) && !s->ntramp)
		s->nargs = nargs;
	s->fp = s->nlinks ? s->fp || fp : fp; /* saved if any attacher did not rule it out */
	if (s->nlinks >= MAX_LINKS)
		return bpfrt_err_set(err, BPFRT_E2BIG, "%s has %d programs attached already (the limit)", s->name,
				     MAX_LINKS);
	for (int k = 0; k < NKIND; k++)
		for (struct bpfrt_link *l = s->links[k]; l; l = l->next)
			if (l->prog == prog)
				return bpfrt_err_set(err, BPFRT_EEXIST, "%s is attached to %s already", name, s->name);
	struct bpfrt_link *l = calloc(1, sizeof(*l));
	if (!l) {
		if (fresh) {
			bpfrt_jit_mem_free(&s->stub);
			free(s->alias);
			free(s);
		}
		return bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
	}
	if (!prog->tramp_slot_set) {
		prog->tramp_slot = (uint8_t)(tr.next_slot++ % GUARD_SLOTS);
		prog->tramp_slot_set = true;
	}
	*l = (struct bpfrt_link){ s, prog, kind, prog->tramp_slot, (uint32_t)nargs, ctx_bytes, 1, NULL, NULL,
				  uses_func_meta(prog) };
	if (prog->jit && !prog->jit->has_callx && !prog->jit->has_callbacks && !prog->needs_rcu && !prog->needs_cpu_slot)
		l->entry = prog->jit->entry;
	link_add(s, l);
	bpfrt_prog_ref(prog);
	if (fresh) {
		s->next = tr.sites;
		tr.sites = s;
	}
	int rc = site_update(s, err);
	if (rc != BPFRT_OK) {
		link_remove(s, l);
		link_unref(l);
		return rc;
	}
	*out = l;
	return BPFRT_OK;
}

static int attach_locked(bpfrt_prog *prog, uintptr_t func, const struct bpfrt_sym *sym,
			 const struct bpfrt_attach_opts *opts, bpfrt_link **out)
{
	struct bpfrt_err err = { 0 };
	pthread_mutex_lock(&tr.lock);
	bpfrt_tpoke_lock();
	int rc = bpfrt_tpoke_init_locked(&err);
	if (rc == BPFRT_OK)
		rc = attach(prog, func, sym, opts, out, &err);
	bpfrt_tpoke_unlock();
	pthread_mutex_unlock(&tr.lock);
	if (rc != BPFRT_OK)
		return bpfrt_prog_fail(prog, rc, "%s", err.msg);
	return BPFRT_OK;
}

int bpfrt_prog_attach(bpfrt_prog *prog, void *func, const struct bpfrt_attach_opts *opts, bpfrt_link **out)
{
	if (!prog || !func || !out)
		return prog ? bpfrt_prog_fail(prog, BPFRT_EINVAL, "attach: NULL argument") : BPFRT_EINVAL;
	*out = NULL;
	struct bpfrt_sym sym;
	if (bpfrt_sym_by_addr((uintptr_t)func, &sym) != BPFRT_OK || sym.addr != (uintptr_t)func) {
		memset(&sym, 0, sizeof(sym));
		snprintf(sym.name, sizeof(sym.name), "function %p", func);
	}
	return attach_locked(prog, (uintptr_t)func, &sym, opts, out);
}

int bpfrt_prog_attach_symbol(bpfrt_prog *prog, const char *symbol, const struct bpfrt_attach_opts *opts,
			     bpfrt_link **out)
{
	if (!prog || !out)
		return prog ? bpfrt_prog_fail(prog, BPFRT_EINVAL, "attach: NULL argument") : BPFRT_EINVAL;
	*out = NULL;
	const char *target = NULL;
	if (!symbol && (kind_of_section(prog->sec, &target) < 0 || !*target))
		return bpfrt_prog_fail(prog, BPFRT_EINVAL, "%s: no function to attach to (section %s)",
				       prog->name ? prog->name : "program", prog->sec ? prog->sec : "none");
	if (!symbol)
		symbol = target;
	struct bpfrt_sym sym;
	if (bpfrt_sym_by_name(symbol, &sym) != BPFRT_OK)
		return bpfrt_prog_fail(prog, BPFRT_EINVAL, "no function %s in this process", symbol);
	return attach_locked(prog, sym.addr, &sym, opts, out);
}

int bpfrt_link_detach(bpfrt_link *l)
{
	if (!l)
		return BPFRT_EINVAL;
	struct bpfrt_err err = { 0 };
	pthread_mutex_lock(&tr.lock);
	bpfrt_tpoke_lock();
	struct tsite *s = l->site;
	link_remove(s, l);
	int rc = site_update(s, &err);
	if (rc != BPFRT_OK) /* the site still runs the old image, which holds l */
		link_add(s, l);
	else
		link_unref(l);
	bpfrt_tpoke_unlock();
	pthread_mutex_unlock(&tr.lock);
	if (rc != BPFRT_OK)
		return bpfrt_prog_fail(l->prog, rc, "%s", err.msg);
	return BPFRT_OK;
}

uint64_t bpfrt_prog_recursion_misses(const bpfrt_prog *prog)
{
	return prog ? __atomic_load_n(&prog->misses, __ATOMIC_RELAXED) : 0;
}
