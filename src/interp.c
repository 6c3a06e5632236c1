/*
 * interp.c — the interpreter.
 *
 * It runs the decoded program (validate.c replaced each opcode byte by its
 * decoded operation), so every form of insn.def — sdiv as well as div, each
 * atomic, each byte swap — has its own dispatch slot and no case decodes
 * further.  The loop is interp_loop.h, compiled four times: computed goto or
 * switch dispatch, each in a fast and a safe variant.  The safe variant
 * checks every memory access against the regions the run may touch (its
 * stack, the buffer or context it was given, memory returned by helpers that
 * declared its size), checks that atomics are aligned, and stops after an
 * instruction budget; a fault names the instruction index.
 *
 * Local calls: each frame has its own BPFRT_STACK_SIZE bytes below the
 * caller's; r6..r9 and r10 are saved and restored around the call, r1..r5
 * are passed as they are.  At most BPFRT_MAX_CALL_FRAMES frames are live
 * (more where tail calls from subprograms nest them: see TAIL_FRAMES).
 */
#include "internal.h"
#include "map.h"

#include <linux/bpf.h>

typedef uint64_t u64;
typedef int64_t s64;
typedef uint32_t u32;
typedef int32_t s32;

#define RUN_FIXED_REGIONS 3  /* the stack, the given buffer or context, a packet (and
			      * the program's own: global data) */
#define RUN_MAX_REGIONS   (RUN_FIXED_REGIONS + 64)
#define DEFAULT_BUDGET    (1ull << 32)

struct frame {
	const struct bpfrt_insn *ret;
	const struct bpfrt_prog *prog; /* the caller's program (a tail call may change it) */
	u64 saved[5]; /* r6..r10 */
};

struct run {
	const struct bpfrt_prog *prog;
	const struct bpfrt_prog *entry;    /* the program the run started with */
	u64 budget;                        /* safe mode: the run's budget, */
	u64 left;                          /*   what is left of it (at helper calls) */
	unsigned cb_depth;                 /* at a helper call: the caller's frame depth */
	u64 cb_r10;                        /*   its r10, */
	const struct bpfrt_insn *cb_pc;    /*   the call */
	const char *cb_name;               /*   and the helper's name */
	bool safe;
	int nregions;
	struct bpfrt_region region[RUN_MAX_REGIONS];
	uint32_t tail_calls;               /* this run's tail calls: one count for every frame */
	int ninner;                        /* safe mode: maps that map-in-map lookups gave */
	const struct bpfrt_map *inner[16];
	char msg[BPFRT_ERRMSG_MAX - 64];
	size_t fault_pc;
	int status;
	uint8_t *stack;                    /* frames of BPFRT_STACK_SIZE bytes, the first at the top */
	size_t stack_size;
	struct frame *frames;
	unsigned max_frames;
	struct frame small_frames[BPFRT_MAX_CALL_FRAMES];
	uint8_t small_stack[BPFRT_MAX_CALL_FRAMES * BPFRT_STACK_SIZE] __attribute__((aligned(16)));
};

/*
 * A tail call from a subprogram replaces the subprogram's frame, and the
 * target may call subprograms again: frames nest up to MAX_TAIL_CALLS times
 * deeper (the native stack of the JIT does the same).  Runs of programs with
 * tail calls take a thread's big stack; a nested run in the same thread (a
 * helper running a program) takes its own.
 */
#define TAIL_FRAMES (BPFRT_MAX_CALL_FRAMES + BPFRT_MAX_TAIL_CALLS * (BPFRT_MAX_CALL_FRAMES - 1))
struct big_stack {
	uint8_t stack[TAIL_FRAMES * BPFRT_STACK_SIZE] __attribute__((aligned(16)));
	struct frame frames[TAIL_FRAMES];
	bool busy;
};
static __thread struct big_stack *tls_big;
static pthread_key_t big_key;
static struct bpfrt_once big_once = BPFRT_ONCE_INIT;

static void big_free(void *p)
{
	free(p);
}

static void big_init(void)
{
	pthread_key_create(&big_key, big_free);
}

static struct big_stack *big_get(bool *owned)
{
	bpfrt_once(&big_once, big_init);
	*owned = false;
	if (!tls_big) {
		if (!(tls_big = aligned_alloc(16, sizeof(struct big_stack))))
			return NULL;
		tls_big->busy = false;
		pthread_setspecific(big_key, tls_big);
	}
	if (!tls_big->busy) {
		tls_big->busy = true;
		return tls_big;
	}
	*owned = true; /* nested: a stack of its own */
	return aligned_alloc(16, sizeof(struct big_stack));
}

static inline bool run_mem_ok(const struct run *rs, u64 a, u64 size)
{
	for (int i = 0; i < rs->nregions; i++) {
		const struct bpfrt_region *r = &rs->region[i];
		if (a >= r->lo && a < r->hi && size <= r->hi - a)
			return true;
	}
	return false;
}

static bool run_has_region(const struct run *rs, const struct bpfrt_region *r)
{
	for (int i = 0; i < rs->nregions; i++)
		if (rs->region[i].lo == r->lo && rs->region[i].hi == r->hi)
			return true;
	return false;
}

static bool run_add_region(struct run *rs, u64 lo, u64 size)
{
	if (rs->nregions == RUN_MAX_REGIONS)
		return false;
	if (lo + size < lo) /* wraps: only the part below the top of memory */
		size = UINTPTR_MAX - lo;
	rs->region[rs->nregions++] = (struct bpfrt_region){ lo, lo + size };
	return true;
}

static int run_fault(struct run *rs, const struct bpfrt_insn *pc, int status,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int run_fault(struct run *rs, const struct bpfrt_insn *pc, int status,
		     const char *fmt, ...)
{
	char tmp[sizeof(rs->msg)];
	va_list ap;
	va_start(ap, fmt);
	bpfrt_vfmt(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	rs->status = status;
	rs->fault_pc = (size_t)(pc - rs->prog->dec);
	memcpy(rs->msg, tmp, sizeof(tmp));
	return status;
}

#define FAULT(...)                                                     \
	do {                                                           \
		bpfrt_fmt(rs->msg, sizeof(rs->msg), __VA_ARGS__);      \
		goto fault;                                            \
	} while (0)

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define host_to_le16(x) (x)
#define host_to_le32(x) (x)
#define host_to_le64(x) (x)
#define host_to_be16(x) __builtin_bswap16(x)
#define host_to_be32(x) __builtin_bswap32(x)
#define host_to_be64(x) __builtin_bswap64(x)
#else
#define host_to_le16(x) __builtin_bswap16(x)
#define host_to_le32(x) __builtin_bswap32(x)
#define host_to_le64(x) __builtin_bswap64(x)
#define host_to_be16(x) (x)
#define host_to_be32(x) (x)
#define host_to_be64(x) (x)
#endif

#if defined(__GNUC__)
#define INTERP_GOTO 1
#define INTERP_SAFE 0
#define INTERP_NAME run_goto_fast
#include "interp_loop.h"
#undef INTERP_SAFE
#undef INTERP_NAME
#define INTERP_SAFE 1
#define INTERP_NAME run_goto_safe
#include "interp_loop.h"
#undef INTERP_SAFE
#undef INTERP_NAME
#undef INTERP_GOTO
#endif

#define INTERP_GOTO 0
#define INTERP_SAFE 0
#define INTERP_NAME run_switch_fast
#include "interp_loop.h"
#undef INTERP_SAFE
#undef INTERP_NAME
#define INTERP_SAFE 1
#define INTERP_NAME run_switch_safe
#include "interp_loop.h"
#undef INTERP_SAFE
#undef INTERP_NAME
#undef INTERP_GOTO

/* The interpreted run this thread is in, if its innermost run is one (a
 * JIT run of a program with callbacks clears it): bpfrt_callback's. */
BPFRT_TLS void *bpfrt_interp_active;

typedef int (*loop_fn)(struct run *, const struct bpfrt_insn *, const uint64_t *, uint64_t, unsigned, uint64_t *);

static loop_fn pick_loop(const struct bpfrt_prog *prog, bool safe)
{
#if defined(__GNUC__)
	if (prog->engine != BPFRT_ENGINE_INTERP_SWITCH)
		return safe ? run_goto_safe : run_goto_fast;
#endif
	return safe ? run_switch_safe : run_switch_fast;
}

/* Is a the first instruction of one of p's callbacks (an ld_func target)? */
static bool is_callback(const struct bpfrt_prog *p, uint64_t a)
{
	uintptr_t lo = (uintptr_t)p->dec;
	if (a < lo || a >= lo + p->nx * sizeof(*p->dec) || (a - lo) % sizeof(*p->dec))
		return false;
	uint32_t pc = (uint32_t)((a - lo) / sizeof(*p->dec));
	for (size_t i = 0; i < p->ncb; i++)
		if (p->cb_pcs[i] == pc)
			return true;
	return false;
}

/*
 * A helper runs the callback fn (the value of an ld_func) with r1..r5 =
 * a1..a5.  On the interpreter it runs in a frame below the helper's caller
 * (a callback is a frame, as the verifier counts it), with the run's budget
 * and regions; a tail call from it fails (the verifier refuses them; see
 * cfg.c).  A fault stops the run: *stop is set and the helper returns at
 * once.  On the JIT, fn is the callback's code.
 */
uint64_t bpfrt_callback(uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, bool *stop)
{
	struct run *rs = bpfrt_interp_active;
	if (!rs)
		return bpfrt_jit_callback(fn, a1, a2, a3, a4, a5);
	if (!is_callback(rs->prog, fn)) {
		run_fault(rs, rs->cb_pc, BPFRT_EFAULT, "%s was given %#" PRIx64 " as a callback, which is not "
			  "a function of the program", rs->cb_name, fn);
		*stop = true;
		return 0;
	}
	if (rs->cb_depth + 1 >= rs->max_frames) {
		run_fault(rs, rs->cb_pc, BPFRT_EFAULT, "call depth exceeds %u frames (%s's callback)",
			  rs->max_frames, rs->cb_name);
		*stop = true;
		return 0;
	}
	const struct bpfrt_insn *cb_pc = rs->cb_pc;
	const char *cb_name = rs->cb_name;
	unsigned depth = rs->cb_depth;
	u64 r10 = rs->cb_r10;
	uint32_t tail_calls = rs->tail_calls;
	rs->tail_calls = BPFRT_MAX_TAIL_CALLS;
	const uint64_t args[5] = { a1, a2, a3, a4, a5 };
	uint64_t r0 = 0;
	int rc = pick_loop(rs->prog, rs->safe)(rs, (const struct bpfrt_insn *)(uintptr_t)fn, args,
					       r10 - BPFRT_STACK_SIZE, depth + 1, &r0);
	rs->tail_calls = tail_calls;
	rs->cb_depth = depth; /* for the helper's next callback */
	rs->cb_r10 = r10;
	rs->cb_pc = cb_pc;
	rs->cb_name = cb_name;
	if (rc != BPFRT_OK)
		*stop = true;
	return r0;
}

/* May a helper of this run touch [a, a + size)?  Yes outside safe mode (a
 * verified or trusted program), and in a JIT run inside a safe one's helper;
 * in safe mode only memory the run may touch. */
bool bpfrt_run_may_access(uint64_t a, uint64_t size)
{
	struct run *rs = bpfrt_interp_active;
	if (!rs || !rs->safe || rs->entry != bpfrt_current)
		return true;
	return a + size >= a && run_mem_ok(rs, a, size);
}

/* A helper's memory (a callback's key and value) the run may touch, until
 * bpfrt_run_forget(mark): safe mode checks accesses against it. */
size_t bpfrt_run_allow(uint64_t lo, uint64_t size)
{
	struct run *rs = bpfrt_interp_active;
	if (!rs)
		return 0;
	size_t mark = (size_t)rs->nregions;
	if (rs->safe && size)
		run_add_region(rs, lo, size);
	return mark;
}

void bpfrt_run_forget(size_t mark)
{
	struct run *rs = bpfrt_interp_active;
	if (rs && rs->safe && mark <= (size_t)rs->nregions)
		rs->nregions = (int)mark;
}

int bpfrt_interp_run(bpfrt_prog *prog, uint64_t r1, uint64_t r2,
		     const struct bpfrt_region *given, const struct bpfrt_region *extra, uint64_t *r0)
{
	struct run rs;
	bool safe = prog->flags & BPFRT_LOAD_SAFE;
	rs.prog = rs.entry = prog;
	rs.tail_calls = 0;
	struct big_stack *big = NULL;
	bool big_owned = false;
	if (prog->tail_calls && !(big = big_get(&big_owned)))
		return bpfrt_prog_fail(prog, BPFRT_ENOMEM, "out of memory (the tail-call stack)");
	rs.stack = big ? big->stack : rs.small_stack;
	rs.stack_size = big ? sizeof(big->stack) : sizeof(rs.small_stack);
	rs.frames = big ? big->frames : rs.small_frames;
	rs.max_frames = big ? TAIL_FRAMES : BPFRT_MAX_CALL_FRAMES;
	rs.status = BPFRT_OK;
	rs.budget = rs.left = prog->insn_budget ? prog->insn_budget : DEFAULT_BUDGET;
	rs.safe = safe;
	if (safe) {
		memset(rs.stack, 0, rs.stack_size);
		rs.nregions = 0;
		rs.ninner = 0;
		run_add_region(&rs, (uintptr_t)rs.stack, rs.stack_size);
		if (given && given->hi > given->lo)
			rs.region[rs.nregions++] = *given;
		if (extra && extra->hi > extra->lo)
			rs.region[rs.nregions++] = *extra;
		for (size_t i = 0; i < prog->nregions && rs.nregions < RUN_MAX_REGIONS; i++)
			rs.region[rs.nregions++] = prog->regions[i];
	}
	const uint64_t args[5] = { r1, r2, 0, 0, 0 };
	void *outer = bpfrt_interp_active;
	bpfrt_interp_active = &rs;
	int rc = pick_loop(prog, safe)(&rs, prog->dec, args, (uintptr_t)rs.stack + rs.stack_size, 0, r0);
	bpfrt_interp_active = outer;
	if (big_owned)
		free(big);
	else if (big)
		big->busy = false;
	if (rc != BPFRT_OK)
		return bpfrt_prog_fail(prog, rc, "%s: insn %zu: %s",
				       prog->name ? prog->name : "program", bpfrt_orig_pc(prog, rs.fault_pc),
				       rs.msg);
	return BPFRT_OK;
}
