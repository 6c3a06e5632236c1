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
 *   below           xmm0-7 (arguments and return values in vector registers,
 *                   unless the attach says there are none), the stack
 *                   arguments copied for the call of the original
 *
 * and its code:
 *
 *   push rbp; mov rbp, rsp; sub rsp, size
 *   inc dword fs:[depth]            this thread is inside a trampoline
 *   save rax, r10, the argument registers, xmm0-7; nargs, ip, flag
 *   fentry programs: bpfrt_tramp_call(link, ctx) each
 *   -- fentry only: restore the registers; dec fs:[depth]; leave;
 *      jmp original (its own return goes straight to the caller)
 *   fmod_ret programs: ctx[nargs] = 0; bpfrt_tramp_call_ret(link, ctx) each,
 *      then `cmp qword [rbp-8], 0; jne do_fexit`: the first non-zero
 *      return skips the original and the other fmod_ret programs
 *   restore the registers, copy the stack arguments; call original;
 *   save rax, rdx, xmm0-1
 *   do_fexit: fexit programs (they see ctx[nargs])
 *   reload rax, rdx, xmm0-1; dec fs:[depth]; leave; ret
 *
 * Programs of one kind run most recently attached first (the kernel's
 * hlist_add_head).  bpfrt_tramp_call does the per-thread recursion guard
 * (one slot per program: a program that calls a function traced by itself
 * is skipped there, counted as a miss, as the kernel's prog->active) and
 * the run (bpfrt_run: RCU, per-CPU slot, interpreter or JIT).
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

#include <dirent.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define MAX_LINKS 38        /* programs per function: BPF_MAX_TRAMP_LINKS */
#define MAX_ARGS 12         /* MAX_BPF_FUNC_ARGS */
#define GUARD_SLOTS 256     /* recursion-guard slots (programs share one modulo this) */
#define PATCH 5             /* jmp rel32 */

enum { K_FENTRY, K_FEXIT, K_FMOD_RET, NKIND };
enum site_kind { SITE_NOP5, SITE_NOPS, SITE_RELOC };

/* What a thread knows of trampolines: initial-exec TLS, so that generated
 * code reaches `depth` at a fixed offset from fs. */
struct tthread {
	uint32_t depth;                 /* trampolines this thread is inside */
	uint8_t active[GUARD_SLOTS];    /* programs this thread is running from one */
};
static BPFRT_TLS struct tthread tt;

struct bpfrt_link {
	struct tsite *site;
	bpfrt_prog *prog;
	int kind;
	uint8_t slot;           /* its recursion-guard slot */
	uint32_t nargs;         /* the site's: ctx[nargs] is the return value */
	int refs;               /* attached (1) and each image that calls it */
	struct bpfrt_link *next;/* the site's links of its kind */
	bpfrt_jit_fn entry;     /* the JIT's code, where a run needs nothing around it */
};

struct timage {
	struct bpfrt_jit_mem mem;
	struct bpfrt_link *links[MAX_LINKS];
	size_t nlinks;
	struct timage *next;    /* retired, waiting */
};

struct tsite {
	uintptr_t func, at;     /* the function; its patch site (func, or func + 4 past endbr64) */
	enum site_kind kind;
	uint8_t orig[PATCH];    /* the site's bytes before */
	uintptr_t body;         /* where the original goes on: at + 5, or the stub */
	struct bpfrt_jit_mem stub;  /* SITE_RELOC: the moved instructions (kept for good) */
	uintptr_t redirect[16]; /* a thread stopped at at+k in the original: where it goes */
	int nargs;
	bool fp;                /* xmm0-7 saved */
	char name[128];
	struct bpfrt_link *links[NKIND];
	size_t nlinks;
	struct timage *cur;
	struct tsite *next;
};

static struct {
	pthread_mutex_t lock;
	struct tsite *sites;
	struct timage *retired;
	size_t nretired;
	uint32_t next_slot;
} tr = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* --------------------------------------------------------------- runs ---- */

static inline bool tramp_run(struct bpfrt_link *l, uint64_t *ctx, uint64_t *r0)
{
	uint8_t *a = &tt.active[l->slot];
	if (unlikely(*a)) {
		__atomic_add_fetch(&l->prog->misses, 1, __ATOMIC_RELAXED);
		return false;
	}
	*a = 1;
	bool ok = true;
	if (likely(l->entry)) { /* JITed, and its runs need no RCU, no per-CPU slot */
		struct bpfrt_prog *outer = bpfrt_current;
		bpfrt_current = l->prog;
		*r0 = l->entry((uintptr_t)ctx, 0);
		bpfrt_current = outer;
	} else {
		struct bpfrt_region r = { (uintptr_t)ctx, (uintptr_t)(ctx + l->nargs + 1) };
		ok = bpfrt_run(l->prog, (uintptr_t)ctx, 0, &r, NULL, r0) == BPFRT_OK;
	}
	*a = 0;
	return ok;
}

/* Called by trampolines: fentry and fexit programs, */
BPFRT_HIDDEN void bpfrt_tramp_call(struct bpfrt_link *l, uint64_t *ctx);
void bpfrt_tramp_call(struct bpfrt_link *l, uint64_t *ctx)
{
	uint64_t r0;
	tramp_run(l, ctx, &r0);
}

/* fmod_ret programs: their return value goes to ctx[nargs] */
BPFRT_HIDDEN void bpfrt_tramp_call_ret(struct bpfrt_link *l, uint64_t *ctx);
void bpfrt_tramp_call_ret(struct bpfrt_link *l, uint64_t *ctx)
{
	uint64_t r0;
	if (tramp_run(l, ctx, &r0))
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
	int32_t tls_current;    /* bpfrt_current */
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

/* call fn: rel32 where it reaches, else through r11 (free at a function's
 * entry: not an argument register) */
static void emit_call_abs(struct tgen *g, uintptr_t fn)
{
	if (g->base && bpfrt_jit_mem_in_reach(here(g) + 5, fn)) {
		emit1(&g->b, 0xe8);
		emit4(&g->b, (uint32_t)(fn - (here(g) + 4)));
		return;
	}
	emit_rex(&g->b, true, 0, R11, false);
	emit1(&g->b, 0xb8 + (R11 & 7)); /* movabs r11, fn (always 10 bytes: sizing's bound) */
	emit8(&g->b, fn);
	emit_call_r(&g->b, R11);
}

static void emit_jmp_abs(struct tgen *g, uintptr_t to)
{
	if (g->base && bpfrt_jit_mem_in_reach(here(g) + 5, to)) {
		emit1(&g->b, 0xe9);
		emit4(&g->b, (uint32_t)(to - (here(g) + 4)));
		return;
	}
	emit2(&g->b, 0xff, 0x25); /* jmp [rip+0]; .quad to */
	emit4(&g->b, 0);
	emit8(&g->b, to);
}

/* inc / dec dword fs:[disp32]: 64 ff /0 (/1) with SIB 25 (no base, no index) */
static void emit_depth(struct tgen *g, bool inc)
{
	emit3(&g->b, 0x64, 0xff, inc ? 0x04 : 0x0c);
	emit1(&g->b, 0x25);
	emit4(&g->b, (uint32_t)g->tls_depth);
}

/* movdqu [rbp+off], xmmN (f3 0f 7f /r) or movdqu xmmN, [rbp+off] (f3 0f 6f /r) */
static void emit_xmm(struct tgen *g, bool store, int n, int32_t off)
{
	emit3(&g->b, 0xf3, 0x0f, store ? 0x7f : 0x6f);
	emit_mem(&g->b, n, RBP, off);
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
	for (int i = 0; s->fp && i < 8; i++)
		emit_xmm(g, true, i, f->xmm + 16 * i);
}

static void restore_regs(struct tgen *g, const struct tsite *s, const struct frame *f)
{
	for (int i = 0; i < s->nargs && i < 6; i++)
		emit_load(&g->b, 8, false, arg_reg[i], RBP, f->ctx + 8 * i);
	for (int i = 0; s->fp && i < 8; i++)
		emit_xmm(g, false, i, f->xmm + 16 * i);
	emit_load(&g->b, 8, false, R10, RBP, f->r10);
	emit_load(&g->b, 8, false, RAX, RBP, f->rax);
}

static void emit_call_abs(struct tgen *g, uintptr_t fn);

/* One program's run.  A JITed program whose runs need nothing around them
 * runs inline: the recursion guard on its slot of this thread's tt.active,
 * bpfrt_current, a direct call of its code; the others through
 * bpfrt_tramp_call(_ret) (RCU, per-CPU slot, the interpreter). */
static void invoke(struct tgen *g, const struct bpfrt_link *l, const struct frame *f, bool ret)
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
		emit_lea(&g->b, RDI, RBP, f->ctx);
		emit_call_abs(g, (uintptr_t)l->entry);
		if (ret)
			emit_store_r(&g->b, 8, RBP, f->ret, RAX);
		emit_fs_byte(g, false, slot, 0);
		fix_jfwd(g, out);
		return;
	}
	emit_mov_ri(&g->b, true, RDI, (int64_t)(uintptr_t)l);
	emit_lea(&g->b, RSI, RBP, f->ctx);
	emit_call_abs(g, ret ? (uintptr_t)bpfrt_tramp_call_ret : (uintptr_t)bpfrt_tramp_call);
}

static void gen(struct tgen *g, const struct tsite *s)
{
	struct x86_buf *b = &g->b;
	bool has_ret = s->links[K_FEXIT] || s->links[K_FMOD_RET];
	struct frame f;
	layout(&f, s->nargs, s->fp);
	emit_push(b, RBP);
	emit_mov_rr(b, true, RBP, RSP);
	emit_rex(b, true, 0, RSP, false);
	emit1(b, 0x81); /* sub rsp, imm32 */
	emit_modrm(b, 3, X_SUB, RSP);
	emit4(b, f.size);
	emit_depth(g, true);
	save_regs(g, s, &f);
	emit_fs_rax(g, false, g->tls_current);
	emit_store_r(b, 8, RBP, f.cur, RAX);
	emit_store_i(b, 8, RBP, f.nargs, s->nargs);
	emit_mov_ri(b, true, RAX, (int64_t)s->func);
	emit_store_r(b, 8, RBP, f.ip, RAX);
	emit_store_i(b, 8, RBP, f.flag, !s->links[K_FENTRY]); /* fentry programs: no return value */
	for (const struct bpfrt_link *l = s->links[K_FENTRY]; l; l = l->next)
		invoke(g, l, &f, false);
	if (has_ret && s->links[K_FENTRY])
		emit_store_i(b, 8, RBP, f.flag, 1);
	if (!has_ret) {
		emit_load(b, 8, false, RAX, RBP, f.cur);
		emit_fs_rax(g, true, g->tls_current);
		restore_regs(g, s, &f);
		emit_depth(g, false);
		emit1(b, 0xc9); /* leave */
		emit_jmp_abs(g, s->body);
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
			emit2(b, 0x0f, 0x85); /* jne do_fexit (rel32, fixed below) */
			emit4(b, 0);
			fix[nfix++] = b->len;
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
	for (int i = 0; s->fp && i < 2; i++)
		emit_xmm(g, true, i, f.xmm + 16 * i);
	/* do_fexit: */
	for (size_t i = 0; i < nfix; i++) {
		uint32_t rel = (uint32_t)(b->len - fix[i]);
		if (b->p && fix[i] <= b->cap)
			memcpy(b->p + fix[i] - 4, &rel, 4);
	}
	for (const struct bpfrt_link *l = s->links[K_FEXIT]; l; l = l->next)
		invoke(g, l, &f, false);
	emit_load(b, 8, false, RAX, RBP, f.cur);
	emit_fs_rax(g, true, g->tls_current);
	emit_load(b, 8, false, RAX, RBP, f.ret);
	emit_load(b, 8, false, RDX, RBP, f.rdx);
	for (int i = 0; s->fp && i < 2; i++)
		emit_xmm(g, false, i, f.xmm + 16 * i);
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

/* A new image for site s's links, or NULL (err says why). */
static struct timage *image_build(const struct tsite *s, struct bpfrt_err *err)
{
	struct tgen g = { .tls_depth = tls_offset(&tt.depth), .tls_active = tls_offset(&tt.active[0]),
			  .tls_current = tls_offset(&bpfrt_current) };
	gen(&g, s); /* sizing */
	struct timage *im = calloc(1, sizeof(*im));
	if (!im) {
		bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
		return NULL;
	}
	size_t size = g.b.len;
	if (bpfrt_jit_mem_alloc_near(size, s->at, &im->mem) != BPFRT_OK) {
		free(im);
		bpfrt_err_set(err, BPFRT_ENOMEM, "no executable memory within reach of %s", s->name);
		return NULL;
	}
	g = (struct tgen){ .b = { im->mem.rw, 0, im->mem.size, false }, .base = (uintptr_t)im->mem.rx,
			   .tls_depth = g.tls_depth, .tls_active = g.tls_active, .tls_current = g.tls_current };
	gen(&g, s);
	if (g.b.err || g.b.len > size || bpfrt_jit_mem_seal(&im->mem) != BPFRT_OK) {
		bpfrt_jit_mem_free(&im->mem);
		free(im);
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
	free(im);
}

/* ---------------------------------------------------------- retirement ---- */

struct quiet_scan {
	pid_t seen[1024];
	uint32_t nseen;
};

static void quiet_one(void *ucv, void *argv)
{
	ucontext_t *uc = ucv;
	struct quiet_scan *q = argv;
	uintptr_t rip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	if (tt.depth)
		return;
	for (const struct timage *im = tr.retired; im; im = im->next)
		if (rip >= (uintptr_t)im->mem.rx && rip < (uintptr_t)im->mem.rx + im->mem.size)
			return;
	uint32_t i = __atomic_fetch_add(&q->nseen, 1, __ATOMIC_RELAXED);
	if (i < ARRAY_SIZE(q->seen))
		q->seen[i] = (pid_t)syscall(SYS_gettid);
}

/* Frees the retired images if every thread is seen outside all trampolines
 * within a few scans.  Under tr.lock and the tpoke lock. */
static void gc_locked(void)
{
	if (!tr.retired || tt.depth)
		return;
	pid_t pending[1024];
	size_t np = 0;
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return;
	pid_t self = (pid_t)syscall(SYS_gettid);
	struct dirent *e;
	while ((e = readdir(d))) {
		pid_t tid = (pid_t)atoi(e->d_name);
		if (tid > 0 && tid != self) {
			if (np == ARRAY_SIZE(pending)) { /* too many threads to track: keep the images */
				closedir(d);
				return;
			}
			pending[np++] = tid;
		}
	}
	closedir(d);
	static struct quiet_scan q;
	/* A few scans, each sees some threads outside; the others are asked
	 * again at the next attach or detach (or bpfrt_trace_gc).  */
	for (int attempt = 0; np && attempt < 4; attempt++) {
		q.nseen = 0;
		bpfrt_scan_threads_locked(pending, np, quiet_one, &q);
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
	tr.nretired = 0;
}

size_t bpfrt_tramp_retired(void)
{
	pthread_mutex_lock(&tr.lock);
	size_t n = tr.nretired;
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
		s->kind = SITE_NOP5;
		s->body = s->at + PATCH;
	} else if (!memcmp(p, "\x90\x90\x90\x90\x90", PATCH)) {
		s->kind = SITE_NOPS;
		s->body = s->at + PATCH;
		for (int k = 1; k < PATCH; k++)
			s->redirect[k] = s->at + PATCH;
	} else {
		s->kind = SITE_RELOC;
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
		for (size_t k = 1; k < rl.len && k < PATCH; k++)
			if (rl.map[k])
				s->redirect[k] = s->body + rl.map[k];
	}
	return s;
}

/* Points the site at its new image (NULL: restores the original code). */
static int site_point(struct tsite *s, struct timage *im, struct bpfrt_err *err)
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

/* Rebuilds site s's image and swaps the site to it; the old image retires. */
static int site_update(struct tsite *s, struct bpfrt_err *err)
{
	struct timage *im = NULL;
	if (s->nlinks && !(im = image_build(s, err)))
		return err->status;
	int rc = site_point(s, im, err);
	if (rc != BPFRT_OK) {
		if (im)
			image_free(im);
		return rc;
	}
	if (s->cur) {
		s->cur->next = tr.retired;
		tr.retired = s->cur;
		tr.nretired++;
	}
	s->cur = im;
	gc_locked();
	return BPFRT_OK;
}

/* ---------------------------------------------------------------- API ---- */

static int kind_of_section(const char *sec, const char **target)
{
	static const struct { const char *prefix; int kind; } k[] = {
		{ "fentry/", K_FENTRY }, { "fentry.s/", K_FENTRY }, { "fexit/", K_FEXIT },
		{ "fexit.s/", K_FEXIT }, { "fmod_ret/", K_FMOD_RET }, { "fmod_ret.s/", K_FMOD_RET },
	};
	for (size_t i = 0; sec && i < ARRAY_SIZE(k); i++)
		if (!strncmp(sec, k[i].prefix, strlen(k[i].prefix))) {
			*target = sec + strlen(k[i].prefix);
			return k[i].kind;
		}
	return -1;
}

static int attach(bpfrt_prog *prog, uintptr_t func, const struct bpfrt_sym *sym,
		  const struct bpfrt_attach_opts *opts, bpfrt_link **out, struct bpfrt_err *err)
{
	const char *target = NULL;
	int kind = opts && opts->kind ? opts->kind - 1 : kind_of_section(prog->sec, &target);
	if (kind < 0 || kind >= NKIND)
		return bpfrt_err_set(err, BPFRT_EINVAL, "%s: not a fentry, fexit or fmod_ret program (section %s); "
				     "give the kind in the attach options", prog->name ? prog->name : "program",
				     prog->sec ? prog->sec : "none");
	if (prog->type && prog->type != BPF_PROG_TYPE_TRACING)
		return bpfrt_err_set(err, BPFRT_EINVAL, "%s: only tracing programs attach to functions (this one "
				     "is %s)", prog->name ? prog->name : "program", prog->sec ? prog->sec : "?");
	int nargs = opts ? opts->nargs : BPFRT_NARGS_UNKNOWN;
	bool has_ret = kind != K_FENTRY;
	if (nargs == BPFRT_NARGS_UNKNOWN) {
		if (has_ret)
			return bpfrt_err_set(err, BPFRT_EINVAL, "%s: the number of arguments of %s is unknown (no "
					     "BTF for it): fexit and fmod_ret need it in the attach options",
					     prog->name ? prog->name : "program", sym->name);
		nargs = 6; /* every argument register */
	}
	if (nargs < 0 || nargs > MAX_ARGS)
		return bpfrt_err_set(err, BPFRT_EINVAL, "%d arguments: at most %d", nargs, MAX_ARGS);
	uint32_t slots = (uint32_t)nargs + has_ret;
	if (prog->verified && prog->ctx_need > 8 * slots)
		return bpfrt_err_set(err, BPFRT_EREJECT, "%s reads ctx up to byte %u, but %s has %d argument%s%s "
				     "(ctx holds %u bytes)", prog->name ? prog->name : "program", prog->ctx_need,
				     sym->name, nargs, nargs == 1 ? "" : "s", has_ret ? " and a return value" : "",
				     8 * slots);
	bool fp = !(opts && (opts->flags & BPFRT_ATTACH_NO_FP));
	struct tsite *s;
	for (s = tr.sites; s && s->func != func; s = s->next)
		;
	bool fresh = !s;
	if (fresh) {
		if (!(s = site_new(func, sym, err)))
			return err->status;
		s->nargs = nargs;
		s->fp = fp;
	} else if (s->nlinks && s->nargs != nargs) {
		return bpfrt_err_set(err, BPFRT_EINVAL, "%s is traced with %d arguments already, not %d", s->name,
				     s->nargs, nargs);
	} else {
		if (!s->nlinks)
			s->nargs = nargs;
		s->fp = s->nlinks ? s->fp || fp : fp; /* saved if any attacher did not rule it out */
	}
	if (s->nlinks >= MAX_LINKS)
		return bpfrt_err_set(err, BPFRT_E2BIG, "%s has %d programs attached already (the limit)", s->name,
				     MAX_LINKS);
	for (int k = 0; k < NKIND; k++)
		for (struct bpfrt_link *l = s->links[k]; l; l = l->next)
			if (l->prog == prog)
				return bpfrt_err_set(err, BPFRT_EEXIST, "%s is attached to %s already",
						     prog->name ? prog->name : "program", s->name);
	struct bpfrt_link *l = calloc(1, sizeof(*l));
	if (!l) {
		if (fresh) {
			bpfrt_jit_mem_free(&s->stub);
			free(s);
		}
		return bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
	}
	if (!prog->tramp_slot_set) {
		prog->tramp_slot = (uint8_t)(tr.next_slot++ % GUARD_SLOTS);
		prog->tramp_slot_set = true;
	}
	*l = (struct bpfrt_link){ s, prog, kind, prog->tramp_slot, (uint32_t)nargs, 1, s->links[kind], NULL };
	if (prog->jit && !prog->jit->has_callx && !prog->needs_rcu && !prog->needs_cpu_slot)
		l->entry = prog->jit->entry;
	s->links[kind] = l;
	s->nlinks++;
	bpfrt_prog_ref(prog);
	if (fresh) {
		s->next = tr.sites;
		tr.sites = s;
	}
	int rc = site_update(s, err);
	if (rc != BPFRT_OK) {
		s->links[kind] = l->next;
		s->nlinks--;
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
	struct bpfrt_link **pp = &s->links[l->kind];
	while (*pp != l)
		pp = &(*pp)->next;
	*pp = l->next;
	s->nlinks--;
	int rc = site_update(s, &err);
	if (rc != BPFRT_OK) { /* the site still runs the old image, which holds l */
		l->next = s->links[l->kind];
		s->links[l->kind] = l;
		s->nlinks++;
	} else {
		link_unref(l);
	}
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
