/*
 * bpfrt.h — the public API of bpfrt, a userspace eBPF runtime.
 *
 * This is the only public header.  Every handle is opaque; every function
 * that can fail returns a bpfrt_status (0 on success, a negative code
 * otherwise) and leaves a human-readable message on the handle it was called
 * on, readable with bpfrt_vm_errmsg() / bpfrt_prog_errmsg() until the next
 * failing call on that handle.
 *
 * The life cycle:
 *
 *     bpfrt_vm *vm = bpfrt_vm_new();             // helper registry, options
 *     bpfrt_prog *p;
 *     if (bpfrt_prog_load(vm, insns, n, NULL, &p) != BPFRT_OK)
 *             fprintf(stderr, "%s\n", bpfrt_vm_errmsg(vm));
 *     uint64_t r0;
 *     bpfrt_prog_run_mem(p, buf, len, &r0);       // r1 = buf, r2 = len
 *     bpfrt_prog_free(p);
 *     bpfrt_vm_free(vm);                          // after all its programs
 *
 * A loaded program is immutable: any number of threads may run it at once.
 * A vm's helper registry must be complete before programs are loaded from it
 * (each program takes a snapshot of the registry when it is loaded).
 */
#ifndef BPFRT_H
#define BPFRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define BPFRT_API __attribute__((visibility("default")))
#else
#define BPFRT_API
#endif

#define BPFRT_VERSION_MAJOR 0
#define BPFRT_VERSION_MINOR 1
#define BPFRT_VERSION_PATCH 0

/* Status codes.  User errors (bad input) and internal bugs are distinct. */
typedef enum bpfrt_status {
	BPFRT_OK = 0,
	BPFRT_EINVAL = -1,    /* bad argument to an API call */
	BPFRT_EREJECT = -2,   /* the program was refused at load (message has the insn index) */
	BPFRT_EFAULT = -3,    /* the program faulted at run time (safe mode, bad callx, ...) */
	BPFRT_EBUDGET = -4,   /* the run exceeded its instruction budget */
	BPFRT_ENOMEM = -5,    /* out of memory */
	BPFRT_ENOTSUP = -6,   /* valid input that this build cannot handle */
	BPFRT_EASM = -7,      /* assembler error (message names the line) */
	BPFRT_EEXIST = -8,    /* already registered */
	BPFRT_E2BIG = -9,     /* over a limit */
	BPFRT_EINTERNAL = -100 /* a bug in bpfrt: please report it */
} bpfrt_status;

/* Short name of a status code ("ok", "rejected", ...). */
BPFRT_API const char *bpfrt_status_str(int status);

/* One BPF instruction, as in the Linux UAPI and RFC 9669. */
struct bpfrt_insn {
	uint8_t code;    /* opcode */
	uint8_t dst : 4; /* destination register */
	uint8_t src : 4; /* source register */
	int16_t off;     /* signed offset */
	int32_t imm;     /* signed immediate */
};

#define BPFRT_MAX_INSNS       (1u << 20) /* 1M instructions, as the kernel */
#define BPFRT_STACK_SIZE      512        /* bytes of stack per call frame */
#define BPFRT_MAX_CALL_FRAMES 8          /* main program + 7 nested local calls */
#define BPFRT_MAX_TAIL_CALLS  33         /* tail calls in one run (the kernel's MAX_TAIL_CALL_CNT) */

/* ---------------------------------------------------------------- vm ---- */

typedef struct bpfrt_vm bpfrt_vm;

/* A helper: called with BPF registers r1..r5, returns r0. */
typedef uint64_t (*bpfrt_helper_fn)(uint64_t r1, uint64_t r2, uint64_t r3,
				    uint64_t r4, uint64_t r5);

/* Returns a new vm with bpfrt's default helpers registered, under the
 * kernel's IDs and with its semantics: map_lookup_elem, map_update_elem,
 * map_delete_elem, probe_read[_str], ktime_get_ns, trace_printk,
 * get_prandom_u32, get_smp_processor_id, get_current_pid_tgid,
 * get_current_uid_gid, get_current_comm, probe_read_user[_str],
 * probe_read_kernel[_str], ktime_get_boot_ns, ktime_get_coarse_ns, strncmp;
 * or NULL when out of memory. */
BPFRT_API bpfrt_vm *bpfrt_vm_new(void);

/* Frees a vm.  Programs loaded from it must be freed first. */
BPFRT_API void bpfrt_vm_free(bpfrt_vm *vm);

/* The message of the last failing call on vm ("" if none). */
BPFRT_API const char *bpfrt_vm_errmsg(const bpfrt_vm *vm);

/*
 * Registers helper `id` (id < 65536) as `fn`, named `name` (copied; used
 * by the disassembler and in messages).  `ret_mem_size`, when non-zero,
 * declares that a non-NULL return value points to that many accessible bytes:
 * safe mode then lets the program access them until the run ends.
 * Replacing an existing id returns BPFRT_EEXIST unless `fn` is NULL, which
 * removes the helper.
 */
BPFRT_API int bpfrt_vm_register_helper(bpfrt_vm *vm, uint32_t id, const char *name,
				       bpfrt_helper_fn fn, uint32_t ret_mem_size);

/*
 * A helper's prototype, for the verifier (the kernel's bpf_func_proto): what
 * each argument must be and what the result is.  A helper registered
 * without one takes anything and returns a number (or memory, with
 * ret_mem_size): a verified program may hand it any pointer.
 */
enum bpfrt_arg {
	BPFRT_ARG_NONE = 0,     /* unused (and every later one) */
	BPFRT_ARG_ANY,          /* any initialised value */
	BPFRT_ARG_MEM,          /* memory the helper reads: the next argument is its size */
	BPFRT_ARG_MEM_OR_NULL,  /* ... or NULL (size 0) */
	BPFRT_ARG_MEM_WRITE,    /* memory the helper writes (need not be initialised) */
	BPFRT_ARG_SIZE,         /* the size (> 0, bounded) of the memory before it */
	BPFRT_ARG_SIZE_OR_ZERO, /* ... or 0 */
	BPFRT_ARG_CTX,          /* the program's context */
	BPFRT_ARG_MAP,          /* one of the program's maps */
	BPFRT_ARG_MAP_KEY,      /* a key of the map argument */
	BPFRT_ARG_MAP_VALUE,    /* a value of the map argument */
	BPFRT_ARG_CONST_STR,    /* a NUL-terminated string of a read-only map */
};
enum bpfrt_ret {
	BPFRT_RET_INT = 0,      /* a number */
	BPFRT_RET_VOID,         /* nothing the program may read */
	BPFRT_RET_MEM_OR_NULL,  /* NULL, or ret_size bytes the program may access */
};
struct bpfrt_helper_proto {
	size_t sz;              /* sizeof(struct bpfrt_helper_proto) */
	enum bpfrt_ret ret;
	uint32_t ret_size;      /* BPFRT_RET_MEM_OR_NULL */
	enum bpfrt_arg args[5];
};
/* bpfrt_vm_register_helper with a prototype (copied); BPFRT_EINVAL for a
 * prototype that does not hold together (a size without memory before it,
 * memory without its size, ...). */
BPFRT_API int bpfrt_vm_register_helper_proto(bpfrt_vm *vm, uint32_t id, const char *name, bpfrt_helper_fn fn,
					     const struct bpfrt_helper_proto *proto);

/*
 * A program type of the embedder's: the section prefix that names it in
 * objects (libbpf style: "myhook" or "myhook/" for "myhook/anything"), its
 * context (r1: ctx_size bytes the program may read; [writable_off,
 * writable_off + writable_size) it may also write) and the range of its
 * return value.  Programs of it are verified as such and run with
 * bpfrt_prog_run_ctx.  *type_id receives its id (BPFRT_PROG_TYPE_CUSTOM
 * and up).  Register before opening the objects that use it.
 */
#define BPFRT_PROG_TYPE_CUSTOM 0x10000u
struct bpfrt_prog_type {
	size_t sz;             /* sizeof(struct bpfrt_prog_type) */
	const char *name;      /* "myhook" (copied) */
	const char *section;   /* the section prefix (copied) */
	uint32_t ctx_size;     /* 1 .. 65535 */
	uint32_t writable_off, writable_size;
	int64_t ret_min, ret_max; /* min > max: any value */
};
BPFRT_API int bpfrt_vm_register_prog_type(bpfrt_vm *vm, const struct bpfrt_prog_type *type, uint32_t *type_id);

/* Where bpf_trace_printk writes: each line to fn(arg, line); NULL: standard
 * error (the default). */
BPFRT_API void bpfrt_vm_set_trace(bpfrt_vm *vm, void (*fn)(void *arg, const char *line), void *arg);

/* The name of helper `id` registered in vm, or NULL. */
BPFRT_API const char *bpfrt_vm_helper_name(const bpfrt_vm *vm, uint32_t id);

/* ---------------------------------------------------------- programs ---- */

typedef struct bpfrt_prog bpfrt_prog;

/* Execution engines. */
typedef enum bpfrt_engine {
	BPFRT_ENGINE_DEFAULT = 0,      /* the JIT where available (not in safe mode), else
					* the interpreter */
	BPFRT_ENGINE_INTERP = 1,       /* interpreter, computed-goto dispatch */
	BPFRT_ENGINE_INTERP_SWITCH = 2,/* interpreter, portable switch dispatch */
	BPFRT_ENGINE_JIT = 3           /* x86-64 JIT */
} bpfrt_engine;

/* Load flags. */
#define BPFRT_LOAD_SAFE (1u << 0)         /* bounds-check every memory access at run time
					   * (interpreter only) */
#define BPFRT_LOAD_JIT_FALLBACK (1u << 1) /* BPFRT_ENGINE_JIT: if the JIT cannot compile
					   * the program, use the interpreter */
#define BPFRT_LOAD_BLIND (1u << 3)        /* constant blinding: every immediate is XORed with
					   * a random key into a hidden register (JIT
					   * hardening, as the kernel's bpf_jit_harden) */
#define BPFRT_LOAD_ZEXT (1u << 4)         /* insert explicit 32-bit zero-extensions (for
					   * back ends that need them; testing on ours) */
#define BPFRT_LOAD_JIT_RETPOLINE (1u << 2) /* JIT: indirect-branch hardening: every
					   * indirect call (a helper out of rel32 reach,
					   * callx) goes through a retpoline */
#define BPFRT_LOAD_VERIFY (1u << 5)       /* raw instructions: verify them first, as a program
					   * whose r1 points to ctx_size bytes (r2 = ctx_size);
					   * runs then need at least that much memory */
#define BPFRT_LOAD_TRUSTED (1u << 6)      /* objects: skip the verifier (programs from a
					   * trusted source; the caller vouches for them) */
#define BPFRT_LOAD_JIT_NO_INLINE (1u << 7) /* JIT: compile every bpf-to-bpf call as a call
					   * (by default a call to a small straight-line
					   * leaf subprogram is inlined; tracing the
					   * subprogram still sees every call) */

/*
 * Load options; pass NULL for defaults.  Set `sz` to sizeof(struct
 * bpfrt_load_opts) so that later versions can append fields.
 */
struct bpfrt_load_opts {
	size_t sz;
	uint32_t flags;        /* BPFRT_LOAD_* */
	bpfrt_engine engine;
	uint64_t insn_budget;  /* safe mode: max instructions per run (0 = 1<<32) */
	const char *name;      /* program name for messages (copied), or NULL */
	unsigned jit_permute;  /* testing: bits 0-15 a permutation of the JIT's register
				* map (0 = the kernel's mapping; 1..2879 others); bit 16:
				* call every helper through a register */
	uint32_t ctx_size;     /* BPFRT_LOAD_VERIFY: bytes of memory r1 points to */
};

/*
 * Validates and loads `n` instructions.  Structural validation refuses, with
 * one message naming the instruction index: unknown opcodes, non-zero
 * reserved fields, bad registers, writes to r10, jumps out of the program,
 * out of their subprogram or into the second half of an LDDW, an LDDW cut at
 * the end, falling off the end, calls to unknown helpers or bad local call
 * targets, empty programs and programs over BPFRT_MAX_INSNS.
 * On success *out is the new program.  Errors are reported on vm.
 */
BPFRT_API int bpfrt_prog_load(bpfrt_vm *vm, const struct bpfrt_insn *insns, size_t n,
			      const struct bpfrt_load_opts *opts, bpfrt_prog **out);

/* Frees a program (NULL is fine). */
BPFRT_API void bpfrt_prog_free(bpfrt_prog *prog);

/* The message of the last failing call on prog ("" if none). */
BPFRT_API const char *bpfrt_prog_errmsg(const bpfrt_prog *prog);

/* The instructions of a loaded program; *n receives their count. */
BPFRT_API const struct bpfrt_insn *bpfrt_prog_insns(const bpfrt_prog *prog, size_t *n);

/* The program after the rewrite passes, as the engines run it; orig, when
 * not NULL, receives each instruction's original index (-1: added by a
 * pass).  Register 11 is the passes' hidden register. */
BPFRT_API const struct bpfrt_insn *bpfrt_prog_xlated(const bpfrt_prog *prog, size_t *n,
						     const int32_t **orig);

/* What a load cost, stage by stage (nanoseconds) and in instructions. */
struct bpfrt_stats {
	uint64_t validate_ns, rewrite_ns, linearize_ns, decode_ns, jit_ns, total_ns;
	size_t insns_in, insns_out;   /* before and after the rewrite passes */
	size_t dead_removed, nops_removed, zext_added, blinded;
	size_t lookups_inlined;       /* array-map lookups turned into inline code */
	size_t tail_calls_direct;     /* tail calls the verifier proved direct (patched sites on the JIT) */
	size_t loops_inlined;         /* bpf_loop calls turned into a loop calling the callback */
	size_t ctx_converted;         /* context accesses turned into accesses of bpfrt's context */
};
BPFRT_API void bpfrt_prog_stats(const bpfrt_prog *prog, struct bpfrt_stats *stats);

/* The engine a program runs on (never BPFRT_ENGINE_DEFAULT). */
BPFRT_API bpfrt_engine bpfrt_prog_engine(const bpfrt_prog *prog);

/*
 * Runs the program on a memory buffer: r1 = mem, r2 = len (the convention of
 * the bpf_conformance suite).  On success *r0 receives r0.  In safe mode the
 * program may access exactly its stack, [mem, mem+len) and memory returned by
 * helpers that declared its size.  Thread-safe.
 */
BPFRT_API int bpfrt_prog_run_mem(bpfrt_prog *prog, void *mem, size_t len, uint64_t *r0);

/* Runs the program on a context: r1 = ctx; safe mode allows [ctx, ctx+size). */
BPFRT_API int bpfrt_prog_run_ctx(bpfrt_prog *prog, void *ctx, size_t ctx_size, uint64_t *r0);

/*
 * The JITed code of a program as text: each BPF instruction followed by its
 * x86-64 code, disassembled (and each function's prologue and epilogue).
 * *text is malloc'd; free it with free().  BPFRT_EINVAL if the program does
 * not run on the JIT.
 */
BPFRT_API int bpfrt_prog_dump_jited(bpfrt_prog *prog, char **text);

/* JIT figures of a loaded program (zeros when it does not run on the JIT). */
struct bpfrt_jit_info {
	size_t code_bytes;  /* native code */
	size_t functions;   /* main program + subprograms */
	int passes;         /* relaxation sweeps until the jump sizes settled */
	size_t inlined;     /* bpf-to-bpf calls inlined */
};
BPFRT_API void bpfrt_prog_jit_info(const bpfrt_prog *prog, struct bpfrt_jit_info *info);

/*
 * The native code of the program's function `name`: the program itself
 * (NULL or its own name) or one of its subprograms (an object's .text
 * function), on the JIT; NULL otherwise.  Tracing programs attach to it
 * (bpfrt_prog_attach) as to any function: its first 5 bytes are the nop5
 * patch site; a tail call enters past them, so fentry on a program sees the
 * runs that start there, not the tail calls into it (as the kernel's).
 */
BPFRT_API void *bpfrt_prog_func(const bpfrt_prog *prog, const char *name);

/* ----------------------------------------------------------- objects ---- */

/*
 * A BPF ELF object, as clang -target bpf builds it with libbpf's headers:
 * its programs (each with the .text subprograms it calls), its maps (BTF
 * `.maps`, the legacy `maps` section, global data) and their relocations.
 */
typedef struct bpfrt_obj bpfrt_obj;

/* Opens an object from a file or from memory (copied).  Errors on vm. */
BPFRT_API int bpfrt_obj_open(bpfrt_vm *vm, const char *path, bpfrt_obj **out);
BPFRT_API int bpfrt_obj_open_mem(bpfrt_vm *vm, const void *buf, size_t len, const char *name,
				 bpfrt_obj **out);
/* Frees an object (programs loaded from it first). */
BPFRT_API void bpfrt_obj_free(bpfrt_obj *obj);

struct bpfrt_obj_prog_info {
	const char *name;      /* the function's name (or the section's, for old objects) */
	const char *section;   /* its ELF section: the SEC("...") name */
	const char *type;      /* the program type its section names ("xdp", ...) */
	uint32_t type_id;      /* enum bpf_prog_type */
	size_t insns;          /* instructions, subprograms included */
	const uint32_t *maps;  /* the maps it refers to, as indices for bpfrt_obj_map_info */
	size_t nmaps;
};
struct bpfrt_obj_map_info {
	const char *name;
	const char *type;      /* "hash", "array", ... */
	uint32_t type_id;      /* enum bpf_map_type */
	uint32_t key_size, value_size, max_entries, flags;
	int inner;             /* map-in-map: the inner map's index, or -1 */
	int is_global_data;    /* .data, .rodata, .bss and their named variants */
};
BPFRT_API size_t bpfrt_obj_prog_count(const bpfrt_obj *obj);
BPFRT_API int bpfrt_obj_prog_info(const bpfrt_obj *obj, size_t i, struct bpfrt_obj_prog_info *info);
BPFRT_API size_t bpfrt_obj_map_count(const bpfrt_obj *obj);
BPFRT_API int bpfrt_obj_map_info(const bpfrt_obj *obj, size_t i, struct bpfrt_obj_map_info *info);
/* The license the object declares ("" if none). */
BPFRT_API const char *bpfrt_obj_license(const bpfrt_obj *obj);

/*
 * Loads program `name` of the object (NULL: the first), with its map
 * references resolved to the object's maps.  opts as bpfrt_prog_load.
 */
BPFRT_API int bpfrt_obj_load_prog(bpfrt_obj *obj, const char *name,
				  const struct bpfrt_load_opts *opts, bpfrt_prog **out);

/* ------------------------------------------------------------ verifier ---- */

/*
 * Verifies program `name` of the object (NULL: the first) without loading
 * it: the path-sensitive verifier proves it cannot read uninitialised
 * registers or stack, touch memory it was not given, leak pointers, loop
 * forever or leak references.  Against the Linux platform (every program
 * type and helper the kernel describes, whatever bpfrt can run) or the
 * bpfrt platform (the vm's helpers).  Returns BPFRT_OK (accepted),
 * BPFRT_EREJECT (refused: res->insn and the log say where and why) or
 * another status (the program could not be verified).  res->log is the
 * kernel-style log (free it with bpfrt_verify_result_fini).
 */
enum { BPFRT_PLATFORM_BPFRT = 0, BPFRT_PLATFORM_LINUX = 1 };
struct bpfrt_verify_opts {
	size_t sz;
	int platform;          /* BPFRT_PLATFORM_* */
	unsigned log_level;    /* 0: the reason of a refusal; 1: + a summary; 2: + the state at each insn */
};
struct bpfrt_verify_result {
	int status;
	uint32_t insn;         /* a refusal's instruction (UINT32_MAX: none) */
	char *log;
	uint64_t processed;    /* instructions processed by the walk */
	uint64_t states, peak_states, pruned;
	uint64_t ns;           /* time taken */
	uint32_t stack_depth;  /* the entry function's */
	int tail_call_reachable;
};
BPFRT_API int bpfrt_obj_verify(bpfrt_obj *obj, const char *name, const struct bpfrt_verify_opts *opts,
			       struct bpfrt_verify_result *res);
BPFRT_API void bpfrt_verify_result_fini(struct bpfrt_verify_result *res);

/* ---------------------------------------------------------------- maps ---- */

/*
 * The maps of an object, created when it is opened, with the kernel's
 * semantics.  These calls return 0 or a negative errno, as the kernel's
 * (-ENOENT: no such element, -EEXIST: BPF_NOEXIST on an existing one, -E2BIG:
 * full, -EINVAL, -EPERM: read-only).  Per-CPU maps take and give
 * bpfrt_map_info().ncpu values, each rounded up to 8 bytes.  Thread-safe,
 * also while programs run.
 */
typedef struct bpfrt_map bpfrt_map;
struct bpfrt_map_info {
	const char *name, *type;
	uint32_t type_id, key_size, value_size, max_entries, flags;
	uint32_t ncpu;      /* per-CPU copies of each value (1 otherwise) */
};
BPFRT_API bpfrt_map *bpfrt_obj_map(bpfrt_obj *obj, size_t i);
BPFRT_API bpfrt_map *bpfrt_obj_map_by_name(bpfrt_obj *obj, const char *name);
BPFRT_API int bpfrt_map_info(const bpfrt_map *map, struct bpfrt_map_info *info);
BPFRT_API int bpfrt_map_lookup(bpfrt_map *map, const void *key, void *value);
BPFRT_API int bpfrt_map_update(bpfrt_map *map, const void *key, const void *value, uint64_t flags);
BPFRT_API int bpfrt_map_delete(bpfrt_map *map, const void *key);
/* Freezes a map for userspace: later updates and deletes fail with -EPERM
 * (programs still write it unless it is read-only for them).  Loading a
 * verified program freezes the .rodata maps it reads: the verifier knows
 * their contents (as the kernel's BPF_MAP_FREEZE, which libbpf applies). */
BPFRT_API int bpfrt_map_freeze(bpfrt_map *map);
/* The key after `key` (NULL, or a key not in the map: the first). */
BPFRT_API int bpfrt_map_get_next_key(bpfrt_map *map, const void *key, void *next);
BPFRT_API int bpfrt_map_lookup_and_delete(bpfrt_map *map, const void *key, void *value);
/* Queue and stack maps: a copy of the element `i` pops would give (0: the
 * next), leaving the map as it is; -ENOENT past the last, -EINVAL for other
 * maps. */
BPFRT_API int bpfrt_map_peek_at(bpfrt_map *map, uint32_t i, void *value);
/* prog_array: sets (prog != NULL) or clears slot `index`.  The program must
 * have the array's owner's program type (the first program set, or the
 * object's programs) and the same engine kind; the array keeps a reference
 * until the slot is replaced.  (bpf_tail_call itself is issue #8.) */
BPFRT_API int bpfrt_map_update_prog(bpfrt_map *map, uint32_t index, bpfrt_prog *prog);
/* The program in a prog_array slot, or NULL. */
BPFRT_API bpfrt_prog *bpfrt_map_prog_at(bpfrt_map *map, uint32_t index);

/* Map-in-map: sets (inner != NULL) or clears the inner map at key. */
BPFRT_API int bpfrt_map_update_inner(bpfrt_map *map, const void *key, bpfrt_map *inner);
/*
 * Ring buffers (BPF_MAP_TYPE_RINGBUF): consumes the records programs have
 * submitted, in order, calling fn for each (a non-zero return stops, as
 * libbpf's ring_buffer__consume).  Returns the number of records consumed
 * or a negative errno.  _poll first waits up to timeout_ms (-1: forever)
 * for a submission.  _fd is an eventfd that becomes readable on a
 * submission, for the embedder's own event loop.  One consumer at a time.
 */
BPFRT_API int bpfrt_ringbuf_consume(bpfrt_map *map, int (*fn)(void *ctx, void *data, size_t size),
				    void *ctx);
BPFRT_API int bpfrt_ringbuf_poll(bpfrt_map *map, int (*fn)(void *ctx, void *data, size_t size),
				 void *ctx, int timeout_ms);
BPFRT_API int bpfrt_ringbuf_fd(const bpfrt_map *map);

/* Shares map `from` of another object with `obj` in place of its map
 * `name` (before that map's programs are loaded): the reuse-by-handle
 * counterpart of pinning. */
BPFRT_API int bpfrt_obj_reuse_map(bpfrt_obj *obj, const char *name, bpfrt_map *from);

/*
 * Runs the program on a packet, with the context its program type defines:
 * xdp programs get a struct xdp_md, socket_filter, sched_cls, sched_act and
 * cgroup_skb programs a struct __sk_buff (len, protocol, data, data_end, ...
 * the fields a userspace packet gives meaning), others r1 = the packet.
 * A verified program's context accesses were rewritten at load (as the
 * kernel's): it runs on the packet where it is, and may rewrite it.  A
 * trusted one (BPFRT_LOAD_TRUSTED) reads the UAPI struct itself: its packet
 * is copied below 4 GiB, so that the 32-bit data and data_end fields hold
 * real pointers, and copied back after the run.  (A helper given the
 * context of a rewritten program sees bpfrt's: u64 data, data_end,
 * data_meta, then the UAPI struct.)  Thread-safe.
 */
BPFRT_API int bpfrt_prog_run_packet(bpfrt_prog *prog, void *pkt, size_t len, uint64_t *r0);

/* The program type (enum bpf_prog_type) of a program loaded from an object
 * (0, unspec, for raw instructions). */
BPFRT_API uint32_t bpfrt_prog_type(const bpfrt_prog *prog);

/* ------------------------------------------------------------ tracing ---- */

/*
 * fentry / fexit / fmod_ret: a tracing program (SEC("fentry/FUNC"),
 * SEC("fexit/FUNC"), SEC("fmod_ret/FUNC")) attached to a function of this
 * process, with the kernel's semantics and context: ctx[0..nargs) are the
 * arguments (u64 each), ctx[nargs] the return value (fexit; fmod_ret sees
 * the previous fmod_ret's), bpf_get_func_arg / _ret / _arg_cnt / _ip work.
 * fentry programs run before the function; fmod_ret programs next, and the
 * first that returns non-zero replaces the function's return value: the
 * function and the other fmod_ret programs are skipped; fexit programs run
 * after it.  Pointers among the arguments are plain numbers to a program:
 * read through them with bpf_probe_read_user.
 *
 * The function is patched at its entry (a 5-byte nop reserved by
 * -fpatchable-function-entry=5 or -mfentry -mnop-mcount, else its first
 * instructions are moved aside; both while other threads run it).  Up to 38
 * programs per function; every attach and detach rebuilds its trampoline.
 * A program that calls a function it traces is skipped there (a recursion
 * miss).  The attachment holds a reference to the program.
 */
typedef struct bpfrt_link bpfrt_link;
enum bpfrt_attach_kind {
	BPFRT_ATTACH_AUTO = 0,     /* from the program's section name */
	BPFRT_ATTACH_FENTRY = 1,
	BPFRT_ATTACH_FEXIT = 2,
	BPFRT_ATTACH_FMOD_RET = 3,
	BPFRT_ATTACH_KPROBE = 4,   /* the generic hook: at entry, ctx a struct pt_regs */
	BPFRT_ATTACH_KRETPROBE = 5 /* ... at return (pt_regs with the return value in rax) */
};
#define BPFRT_NARGS_UNKNOWN (-1)
#define BPFRT_ATTACH_NO_FP (1u << 0) /* the function takes and returns nothing in vector
				      * registers: they are not saved around programs */
struct bpfrt_attach_opts {
	size_t sz;
	int kind;              /* enum bpfrt_attach_kind */
	int nargs;             /* the function's argument slots (0..12; a struct of 9-16
				* bytes takes two), or BPFRT_NARGS_UNKNOWN: fentry then
				* sees the 6 argument registers; fexit/fmod_ret refuse */
	uint32_t flags;        /* BPFRT_ATTACH_* */
};
/* Attaches prog to the function at func.  opts NULL: kind from the section,
 * nargs unknown.  Errors on prog. */
BPFRT_API int bpfrt_prog_attach(bpfrt_prog *prog, void *func, const struct bpfrt_attach_opts *opts,
				bpfrt_link **out);
/* ... to the function named `symbol` (NULL: the one its section names), in
 * the executable or a loaded library (their symbol tables, static functions
 * included). */
BPFRT_API int bpfrt_prog_attach_symbol(bpfrt_prog *prog, const char *symbol,
				       const struct bpfrt_attach_opts *opts, bpfrt_link **out);
/* Detaches and frees the link; the function runs unpatched once its last
 * link goes.  Threads inside the trampoline finish with the old one. */
BPFRT_API int bpfrt_link_detach(bpfrt_link *link);
/* Runs of prog skipped by the recursion guard. */
BPFRT_API uint64_t bpfrt_prog_recursion_misses(const bpfrt_prog *prog);

/* ------------------------------------------------ assembler / disasm ---- */

/*
 * Assembles `text` (the bpf_conformance / uBPF syntax: `mov32 %r0, 0`,
 * `ldxdw %r0, [%r1+8]`, `lock fetch add [%r10-8], %r1`, labels `name:`,
 * `call local f`, `call %r2`, `#` comments).  On success *out is a malloc'd
 * array of *n instructions (free it with free()).  On failure returns
 * BPFRT_EASM and writes "line N: ..." into err (errlen bytes).
 */
BPFRT_API int bpfrt_asm(const char *text, struct bpfrt_insn **out, size_t *n,
			char *err, size_t errlen);

/*
 * Disassembles one instruction at index `pc` of `insns` (n in total) into
 * buf, in the syntax bpfrt_asm reads (jump targets as +off / -off).  Returns
 * the number of instruction slots it used (2 for LDDW, else 1), or 0 if the
 * instruction is not valid (buf then holds a description).  `vm` may be NULL;
 * when given, helper calls are annotated with the helper's name.
 */
BPFRT_API int bpfrt_disasm_insn(const bpfrt_vm *vm, const struct bpfrt_insn *insns, size_t n,
				size_t pc, char *buf, size_t buflen);

/* The version string, "MAJOR.MINOR.PATCH". */
BPFRT_API const char *bpfrt_version(void);

#ifdef __cplusplus
}
#endif
#endif /* BPFRT_H */
