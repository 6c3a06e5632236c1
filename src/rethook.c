/*
 * rethook.c — the generic hook's runtime: kprobe / uprobe programs at a
 * function's entry with a struct pt_regs context, kretprobe / uretprobe
 * programs at its return (seed 003's fprobe + rethook path), for where a
 * trampoline's calling-convention knowledge is not wanted.
 *
 * Entry (tramp.c emits all of it, at the head of a site's image): every
 * register into a pt_regs on the stack and the entry programs.  When the
 * site has return programs, bpfrt_rethook_push saves the return address
 * and its slot on this thread's shadow stack; the image drops it from the
 * stack and calls the function itself from that very slot, so the
 * function sees its stack exactly as its caller left it (the stack
 * arguments where they were) and returns into the image:
 * bpfrt_rethook_pop gives the real return address back, the return
 * programs run (called from the image), then `push it; ret`.  Every call
 * pairs with its return, so the return-stack predictor stays right,
 * unlike a plain return-address hijack (a mispredicted return: about 14 ns
 * more here).
 *
 * The shadow stack is per thread, pre-sized (1024 frames, mmap'ed at the
 * thread's first hooked call, never grown: no allocation per hit; when it
 * is full, that call has no return hook), and O(1) at both ends.
 *
 * longjmp and siglongjmp past a hooked frame are supported: the frame's
 * entry stays behind on the shadow stack and is dropped at the next hook
 * of the thread, which is at or above that frame's slot (stacks grow down:
 * an entry whose slot is at or below the current one is dead).  C++
 * exceptions and other unwinders that walk through a hooked frame are not:
 * they meet an address in the image as the return address, which has no
 * unwind information, and stop.  Backtraces taken inside a hooked function
 * show that address instead of its caller.
 */
#define _GNU_SOURCE
#include "internal.h"
#include "tramp.h"

#include <stdio.h>
#include <sys/mman.h>

#define SHADOW_FRAMES 1024

struct shadow_ent {
	uintptr_t slot;                    /* where the return address was */
	uintptr_t ret;                     /* the real return address */
};

struct shadow {
	uint32_t top;
	struct shadow_ent e[SHADOW_FRAMES];
};

static BPFRT_TLS struct shadow *tls_sh;
BPFRT_TLS uintptr_t bpfrt_probe_ip; /* the function a kprobe program runs for (bpf_get_func_ip) */
static pthread_key_t sh_key;
static struct bpfrt_once sh_once = BPFRT_ONCE_INIT;

static void sh_free(void *p)
{
	munmap(p, sizeof(struct shadow));
}

static void sh_init(void)
{
	pthread_key_create(&sh_key, sh_free);
}

/* (mmap, not malloc: malloc may be the function being hooked) */
static struct shadow *shadow_get(void)
{
	if (likely(tls_sh))
		return tls_sh;
	bpfrt_once(&sh_once, sh_init);
	void *p = mmap(NULL, sizeof(struct shadow), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	tls_sh = p;
	pthread_setspecific(sh_key, p);
	return tls_sh;
}

bool bpfrt_rethook_pending(void)
{
	return tls_sh && tls_sh->top;
}

bool bpfrt_rethook_push(struct bpfrt_pt_regs *regs)
{
	struct shadow *sh = shadow_get();
	uintptr_t slot = regs->rsp;
	if (unlikely(!sh))
		return false;
	while (sh->top && sh->e[sh->top - 1].slot <= slot) /* frames left by longjmp */
		sh->top--;
	if (unlikely(sh->top == SHADOW_FRAMES))
		return false;
	sh->e[sh->top] = (struct shadow_ent){ slot, *(uintptr_t *)slot };
	sh->top++;
	return true;
}

uintptr_t bpfrt_rethook_pop(struct bpfrt_pt_regs *regs)
{
	struct shadow *sh = tls_sh;
	uintptr_t slot = regs->rsp - 8;
	while (sh && sh->top && sh->e[sh->top - 1].slot < slot) /* deeper frames left by longjmp */
		sh->top--;
	if (unlikely(!sh || !sh->top || sh->e[sh->top - 1].slot != slot)) {
		/* the return address is lost: a bug of ours, or a stack switched
		 * under a hooked frame; nothing can go on correctly */
		fprintf(stderr, "bpfrt: internal error: a hooked function returned from %#lx with no shadow "
			"frame for it\n", (unsigned long)slot);
		abort();
	}
	regs->rip = sh->e[--sh->top].ret;
	return regs->rip;
}
