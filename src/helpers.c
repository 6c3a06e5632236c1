/*
 * helpers.c — the helpers every vm starts with, under their Linux IDs.
 * Embedders add their own with bpfrt_vm_register_helper().
 */
#include "internal.h"
#include "tramp.h"
#include "map.h"

#include <errno.h>
#include <linux/bpf.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* 5: u64 bpf_ktime_get_ns(void) — CLOCK_MONOTONIC, as the kernel. */
static uint64_t h_ktime_get_ns(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	(void)a; (void)b; (void)c; (void)d; (void)e;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* 7: u32 bpf_get_prandom_u32(void) — a per-thread xorshift generator. */
static uint64_t h_get_prandom_u32(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	(void)a; (void)b; (void)c; (void)d; (void)e;
	static __thread uint64_t state;
	if (!state)
		state = h_ktime_get_ns(0, 0, 0, 0, 0) ^ (uintptr_t)&state ^ 0x9e3779b97f4a7c15ull;
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return (uint32_t)(state >> 16);
}

/* 8: u32 bpf_get_smp_processor_id(void): the run's per-CPU slot (map.c). */
static uint64_t h_get_smp_processor_id(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	(void)a; (void)b; (void)c; (void)d; (void)e;
	return bpfrt_cpu_slot();
}

/* 1: void *bpf_map_lookup_elem(map, key) */
static uint64_t h_map_lookup_elem(uint64_t map, uint64_t key, uint64_t c, uint64_t d, uint64_t e)
{
	(void)c; (void)d; (void)e;
	return (uintptr_t)bpfrt_map_lookup_prog((struct bpfrt_map *)(uintptr_t)map, (const void *)(uintptr_t)key);
}

/* 2: long bpf_map_update_elem(map, key, value, flags) */
static uint64_t h_map_update_elem(uint64_t map, uint64_t key, uint64_t value, uint64_t flags, uint64_t e)
{
	(void)e;
	return (uint64_t)(int64_t)bpfrt_map_update_raw((struct bpfrt_map *)(uintptr_t)map,
						       (const void *)(uintptr_t)key,
						       (const void *)(uintptr_t)value, flags, true);
}

/* 87: long bpf_map_push_elem(map, value, flags) */
static uint64_t h_map_push_elem(uint64_t map, uint64_t value, uint64_t flags, uint64_t d, uint64_t e)
{
	(void)d; (void)e;
	return (uint64_t)(int64_t)bpfrt_map_push((struct bpfrt_map *)(uintptr_t)map,
						 (const void *)(uintptr_t)value, flags);
}

/* 88: long bpf_map_pop_elem(map, value); 89: bpf_map_peek_elem(map, value) */
static uint64_t h_map_pop_elem(uint64_t map, uint64_t value, uint64_t c, uint64_t d, uint64_t e)
{
	(void)c; (void)d; (void)e;
	return (uint64_t)(int64_t)bpfrt_map_pop((struct bpfrt_map *)(uintptr_t)map, (void *)(uintptr_t)value, true);
}
static uint64_t h_map_peek_elem(uint64_t map, uint64_t value, uint64_t c, uint64_t d, uint64_t e)
{
	(void)c; (void)d; (void)e;
	return (uint64_t)(int64_t)bpfrt_map_pop((struct bpfrt_map *)(uintptr_t)map, (void *)(uintptr_t)value, false);
}

/* 3: long bpf_map_delete_elem(map, key) */
static uint64_t h_map_delete_elem(uint64_t map, uint64_t key, uint64_t c, uint64_t d, uint64_t e)
{
	(void)c; (void)d; (void)e;
	return (uint64_t)(int64_t)bpfrt_map_delete_raw((struct bpfrt_map *)(uintptr_t)map,
						       (const void *)(uintptr_t)key);
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* 125: u64 bpf_ktime_get_boot_ns(void) */
static uint64_t h_ktime_get_boot_ns(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	(void)a; (void)b; (void)c; (void)d; (void)e;
	return clock_ns(CLOCK_BOOTTIME);
}

/* 160: u64 bpf_ktime_get_coarse_ns(void) */
static uint64_t h_ktime_get_coarse_ns(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	(void)a; (void)b; (void)c; (void)d; (void)e;
	return clock_ns(CLOCK_MONOTONIC_COARSE);
}

/* Copies n bytes from src of this process without ever faulting: a bad
 * address gives -EFAULT (process_vm_readv on ourselves). */
static int safe_copy(void *dst, const void *src, size_t n)
{
	if (!n)
		return 0;
	struct iovec local = { dst, n }, remote = { (void *)(uintptr_t)src, n };
	ssize_t r = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	return r == (ssize_t)n ? 0 : -EFAULT;
}

/* 4, 112, 113: long bpf_probe_read[_user|_kernel](dst, size, src): on a
 * bad address, -EFAULT and dst zeroed (in userspace, "kernel" memory is the
 * process's too) */
static uint64_t h_probe_read(uint64_t dst, uint64_t size, uint64_t src, uint64_t d, uint64_t e)
{
	(void)d; (void)e;
	if (size > (1u << 20))
		return (uint64_t)-EINVAL;
	int rc = safe_copy((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, size);
	if (rc)
		memset((void *)(uintptr_t)dst, 0, size);
	return (uint64_t)(int64_t)rc;
}

/* 45, 114, 115: long bpf_probe_read[_user|_kernel]_str(dst, size, src):
 * the string's length with its NUL, at most size; -EFAULT if src is bad */
static uint64_t h_probe_read_str(uint64_t dst, uint64_t size, uint64_t src, uint64_t d, uint64_t e)
{
	(void)d; (void)e;
	uint8_t *out = (uint8_t *)(uintptr_t)dst;
	if (!size)
		return 0;
	if (size > (1u << 20))
		return (uint64_t)-EINVAL;
	size_t got = 0;
	while (got < size) {
		/* up to the end of src's page: a read that may not cross into a bad one */
		uintptr_t at = (uintptr_t)src + got;
		size_t chunk = 4096 - (at & 4095);
		if (chunk > size - got)
			chunk = size - got;
		if (safe_copy(out + got, (const void *)at, chunk)) {
			if (!got) {
				memset(out, 0, size);
				return (uint64_t)-EFAULT;
			}
			break;
		}
		void *nul = memchr(out + got, 0, chunk);
		if (nul)
			return (uint64_t)((uint8_t *)nul - out + 1);
		got += chunk;
	}
	out[size - 1] = 0;
	return size;
}

/* 14: u64 bpf_get_current_pid_tgid(void): tgid << 32 | tid */
static uint64_t h_get_current_pid_tgid(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	(void)a; (void)b; (void)c; (void)d; (void)e;
	return (uint64_t)(uint32_t)getpid() << 32 | (uint32_t)gettid();
}

/* 15: u64 bpf_get_current_uid_gid(void): gid << 32 | uid */
static uint64_t h_get_current_uid_gid(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	(void)a; (void)b; (void)c; (void)d; (void)e;
	return (uint64_t)(uint32_t)getgid() << 32 | (uint32_t)getuid();
}

/* 16: long bpf_get_current_comm(buf, size): the thread's name */
static uint64_t h_get_current_comm(uint64_t buf, uint64_t size, uint64_t c, uint64_t d, uint64_t e)
{
	(void)c; (void)d; (void)e;
	char name[17] = "";
	if (!size)
		return (uint64_t)-EINVAL;
	prctl(PR_GET_NAME, name, 0, 0, 0);
	size_t l = strnlen(name, 16);
	if (l >= size)
		l = size - 1;
	memcpy((void *)(uintptr_t)buf, name, l);
	memset((char *)(uintptr_t)buf + l, 0, size - l);
	return 0;
}

/* 182: long bpf_strncmp(s1, s1_sz, s2) */
static uint64_t h_strncmp(uint64_t s1, uint64_t sz, uint64_t s2, uint64_t d, uint64_t e)
{
	(void)d; (void)e;
	/* s2 is a string of a read-only map for a verified program; in safe mode
	 * (anything) each of its bytes up to the NUL or sz must be the run's */
	for (uint64_t i = 0; i < sz; i++) {
		if (!bpfrt_run_may_access(s2 + i, 1))
			return (uint64_t)-EFAULT;
		if (!((const char *)(uintptr_t)s2)[i])
			break;
	}
	return (uint64_t)(int64_t)strncmp((const char *)(uintptr_t)s1, (const char *)(uintptr_t)s2, sz);
}

/*
 * The kernel's bpf_bprintf format (trace_printk, snprintf): text, %%, and
 * conversions %[flags][width][l|ll]{d,i,u,x,X}, %c, %s (read as
 * probe_read_str would: a bad address prints nothing), %p / %px / %pK
 * (the value in hex); flags are 0 + - and space; no precision.  Writes at
 * most size bytes (NUL included) to out; returns the length of the whole
 * result (without the NUL), or -EINVAL for a bad format or too few
 * arguments.  With out NULL and args NULL it only checks the format (the
 * verifier's check of bpf_snprintf).
 */
static uint64_t h_probe_read_str(uint64_t dst, uint64_t size, uint64_t src, uint64_t d, uint64_t e);

int64_t bpfrt_bprintf(char *out, size_t size, const char *f, const uint64_t *args, int nargs)
{
	size_t o = 0;
	int na = 0;
#define PUT(c) do { if (o + 1 < size) out[o] = (c); o++; } while (0)
	for (size_t i = 0; f[i]; i++) {
		if (f[i] != '%') {
			PUT(f[i]);
			continue;
		}
		if (f[i + 1] == '%') {
			PUT('%');
			i++;
			continue;
		}
		char spec[24] = "%";
		size_t k = 1, start = ++i;
		while (f[i] == '0' || f[i] == '+' || f[i] == '-' || f[i] == ' ')
			i++;
		while (f[i] >= '0' && f[i] <= '9')
			i++;
		if (i - start > 12)
			return -EINVAL;
		memcpy(spec + k, f + start, i - start);
		k += i - start;
		int longs = 0;
		while (f[i] == 'l' && longs < 2) {
			longs++;
			i++;
		}
		char conv = f[i];
		if (na == nargs || !conv)
			return -EINVAL;
		uint64_t v = args ? args[na] : 0;
		na++;
		char tmp[512];
		int w;
		switch (conv) {
		case 'd': case 'i': case 'u': case 'x': case 'X': {
			memcpy(spec + k, "ll", 2);
			spec[k + 2] = conv;
			spec[k + 3] = '\0';
			bool sgn = conv == 'd' || conv == 'i';
			unsigned long long u = longs ? v : sgn ? (unsigned long long)(long long)(int32_t)v : (uint32_t)v;
			w = snprintf(tmp, sizeof(tmp), spec, u);
			break;
		}
		case 'p':
			if (f[i + 1] == 'x' || f[i + 1] == 'K')
				i++;
			else if (f[i + 1] && strchr("BSsIiMmRrhbEUeadg", f[i + 1]))
				return -EINVAL; /* the kernel's pointer formats bpfrt cannot give meaning */
			if (longs)
				return -EINVAL;
			memcpy(spec + k, "llx", 4);
			w = snprintf(tmp, sizeof(tmp), spec, (unsigned long long)v);
			break;
		case 'c':
			if (longs)
				return -EINVAL;
			spec[k] = 'c';
			w = snprintf(tmp, sizeof(tmp), spec, (int)(unsigned char)v);
			break;
		case 's': {
			if (longs)
				return -EINVAL;
			char sbuf[256];
			int64_t r = args ? (int64_t)h_probe_read_str((uintptr_t)sbuf, sizeof(sbuf), v, 0, 0) : -1;
			spec[k] = 's';
			w = snprintf(tmp, sizeof(tmp), spec, r < 0 ? "" : sbuf); /* a bad address: empty, as the kernel */
			break;
		}
		default:
			return -EINVAL;
		}
		if (w < 0)
			return -EINVAL;
		for (int j = 0; j < w && j < (int)sizeof(tmp) - 1; j++)
			PUT(tmp[j]);
	}
	if (size)
		out[o < size ? o : size - 1] = '\0';
#undef PUT
	return (int64_t)o;
}

/* 6: long bpf_trace_printk(fmt, fmt_size, a1, a2, a3): at most three
 * arguments; a line to the vm's sink; -EINVAL on a bad format, as the
 * kernel. */
static uint64_t h_trace_printk(uint64_t fmt, uint64_t fmt_size, uint64_t a1, uint64_t a2, uint64_t a3)
{
	const char *f = (const char *)(uintptr_t)fmt;
	if (!fmt_size || fmt_size > 1024 || f[fmt_size - 1] != '\0')
		return (uint64_t)-EINVAL;
	uint64_t args[3] = { a1, a2, a3 };
	char out[1024];
	int64_t o = bpfrt_bprintf(out, sizeof(out), f, args, 3);
	if (o < 0)
		return (uint64_t)o;
	if (o > (int64_t)sizeof(out) - 1)
		o = sizeof(out) - 1;
	bpfrt_vm *vm = bpfrt_current ? bpfrt_current->vm : NULL;
	if (vm && vm->trace)
		vm->trace(vm->trace_arg, out);
	else
		fprintf(stderr, "bpf_trace_printk: %s%s", out, o && out[o - 1] == '\n' ? "" : "\n");
	return (uint64_t)o;
}

/* 165: long bpf_snprintf(str, str_size, fmt, data, data_len): data holds
 * the arguments as u64s (at most 12); returns the length of the whole
 * result with its NUL (str gets what fits, NUL-terminated), or a negative
 * errno. */
static uint64_t h_snprintf(uint64_t str, uint64_t size, uint64_t fmt, uint64_t data, uint64_t len)
{
	if (len % 8 || (len && !data))
		return (uint64_t)-EINVAL;
	if (len / 8 > 12)
		return (uint64_t)-E2BIG;
	uint64_t args[12];
	if (len)
		memcpy(args, (const void *)(uintptr_t)data, len);
	if (!str)
		size = 0;
	char f[1024]; /* the format, read safely: programs the verifier did not see pass anything */
	int64_t fl = (int64_t)h_probe_read_str((uintptr_t)f, sizeof(f), fmt, 0, 0);
	if (fl < 0)
		return (uint64_t)fl;
	if (fl == (int64_t)sizeof(f) && f[sizeof(f) - 1])
		return (uint64_t)-EINVAL;
	int64_t o = bpfrt_bprintf((char *)(uintptr_t)str, size, f, args, (int)(len / 8));
	return o < 0 ? (uint64_t)o : (uint64_t)(o + 1);
}

/* 181: long bpf_loop(nr_loops, callback, ctx, flags): callback(i, ctx) for
 * i = 0 .. nr_loops - 1 until it returns non-zero; the iterations it
 * ran. */
static uint64_t h_loop(uint64_t nr, uint64_t fn, uint64_t ctx, uint64_t flags, uint64_t e)
{
	(void)e;
	if (flags)
		return (uint64_t)-EINVAL;
	uint32_t n = (uint32_t)nr;
	if (n > (1u << 23)) /* the kernel's BPF_MAX_LOOPS */
		return (uint64_t)-E2BIG;
	bool stop = false;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t r = bpfrt_callback(fn, i, ctx, 0, 0, 0, &stop);
		if (stop)
			return 0;
		if (r)
			return (uint64_t)i + 1;
	}
	return n;
}

/* 164: long bpf_for_each_map_elem(map, callback, ctx, flags):
 * callback(map, &key, &value, ctx) for each element (this run's copy of a
 * per-CPU value) until it returns non-zero; the elements it saw. */
struct each {
	uint64_t fn, map, ctx;
	uint32_t key_size, value_size;
	bool stop;
};

static int each_one(void *arg, void *key, void *value)
{
	struct each *a = arg;
	size_t mark = bpfrt_run_allow((uintptr_t)key, a->key_size);
	bpfrt_run_allow((uintptr_t)value, a->value_size);
	uint64_t r = bpfrt_callback(a->fn, a->map, (uintptr_t)key, (uintptr_t)value, a->ctx, 0, &a->stop);
	bpfrt_run_forget(mark);
	return a->stop || r;
}

static uint64_t h_for_each_map_elem(uint64_t map, uint64_t fn, uint64_t ctx, uint64_t flags, uint64_t e)
{
	(void)e;
	if (flags)
		return (uint64_t)-EINVAL;
	struct bpfrt_map *m = (struct bpfrt_map *)(uintptr_t)map;
	struct each a = { fn, map, ctx, m->key_size, m->value_size, false };
	long n = bpfrt_map_for_each(m, each_one, &a);
	return a.stop ? 0 : (uint64_t)(int64_t)n;
}

/* 130: long bpf_ringbuf_output(ringbuf, data, size, flags) */
static uint64_t h_ringbuf_output(uint64_t map, uint64_t data, uint64_t size, uint64_t flags, uint64_t e)
{
	(void)e;
	return (uint64_t)(int64_t)bpfrt_ringbuf_output((struct bpfrt_map *)(uintptr_t)map,
						       (const void *)(uintptr_t)data, size, flags);
}

/* 131: void *bpf_ringbuf_reserve(ringbuf, size, flags) */
static uint64_t h_ringbuf_reserve(uint64_t map, uint64_t size, uint64_t flags, uint64_t d, uint64_t e)
{
	(void)d; (void)e;
	return (uintptr_t)bpfrt_ringbuf_reserve((struct bpfrt_map *)(uintptr_t)map, size, flags);
}

/* 132, 133: void bpf_ringbuf_submit/discard(data, flags) */
static uint64_t h_ringbuf_submit(uint64_t data, uint64_t flags, uint64_t c, uint64_t d, uint64_t e)
{
	(void)c; (void)d; (void)e;
	bpfrt_ringbuf_submit((void *)(uintptr_t)data, flags, false);
	return 0;
}

static uint64_t h_ringbuf_discard(uint64_t data, uint64_t flags, uint64_t c, uint64_t d, uint64_t e)
{
	(void)c; (void)d; (void)e;
	bpfrt_ringbuf_submit((void *)(uintptr_t)data, flags, true);
	return 0;
}

/* 134: u64 bpf_ringbuf_query(ringbuf, flags) */
static uint64_t h_ringbuf_query(uint64_t map, uint64_t flags, uint64_t c, uint64_t d, uint64_t e)
{
	(void)c; (void)d; (void)e;
	return bpfrt_ringbuf_query((struct bpfrt_map *)(uintptr_t)map, flags);
}

/* 12: void bpf_tail_call(ctx, prog_array, index) — the engines carry it out
 * themselves (interp_loop.h, jit_x86.c); the slot names it for the checks.
 * Called at all, it is a tail call that failed: the program goes on. */
static uint64_t h_tail_call(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	(void)a; (void)b; (void)c; (void)d; (void)e;
	return 0;
}

/* Tracing contexts (tramp.c's frame): ctx[-1] the argument count, ctx[-2]
 * the function's address, ctx[-3] whether ctx[nargs] holds a return value. */
/* 173: u64 bpf_get_func_ip(ctx) */
static uint64_t h_get_func_ip(uint64_t ctx, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	(void)b; (void)c; (void)d; (void)e;
	if (bpfrt_current && bpfrt_current->type == BPF_PROG_TYPE_KPROBE)
		return bpfrt_probe_ip; /* a pt_regs context: the hooked function */
	if (!bpfrt_run_may_access(ctx - 24, 24))
		return 0; /* safe mode: not a trampoline's context */
	return ((const uint64_t *)(uintptr_t)ctx)[-2];
}

/* 183: long bpf_get_func_arg(ctx, n, *value) */
static uint64_t h_get_func_arg(uint64_t ctx, uint64_t n, uint64_t value, uint64_t d, uint64_t e)
{
	(void)d; (void)e;
	const uint64_t *c = (const uint64_t *)(uintptr_t)ctx;
	if (!bpfrt_run_may_access(ctx - 24, 24) || !bpfrt_run_may_access(value, 8))
		return (uint64_t)-EFAULT; /* safe mode: not a trampoline's context */
	if (n >= c[-1])
		return (uint64_t)-EINVAL; /* *value untouched, as the kernel's */
	if (!bpfrt_run_may_access(ctx + 8 * n, 8))
		return (uint64_t)-EFAULT;
	*(uint64_t *)(uintptr_t)value = c[n];
	return 0;
}

/* 184: long bpf_get_func_ret(ctx, *value): fexit and fmod_ret only */
static uint64_t h_get_func_ret(uint64_t ctx, uint64_t value, uint64_t c3, uint64_t d, uint64_t e)
{
	(void)c3; (void)d; (void)e;
	const uint64_t *c = (const uint64_t *)(uintptr_t)ctx;
	if (!bpfrt_run_may_access(ctx - 24, 24) || !bpfrt_run_may_access(value, 8))
		return (uint64_t)-EFAULT; /* safe mode: not a trampoline's context */
	if (!c[-3])
		return (uint64_t)-EOPNOTSUPP;
	if (c[-1] > 12 || !bpfrt_run_may_access(ctx + 8 * c[-1], 8))
		return (uint64_t)-EFAULT;
	*(uint64_t *)(uintptr_t)value = c[c[-1]];
	return 0;
}

/* 185: u64 bpf_get_func_arg_cnt(ctx) */
static uint64_t h_get_func_arg_cnt(uint64_t ctx, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	(void)b; (void)c; (void)d; (void)e;
	if (!bpfrt_run_may_access(ctx - 24, 24))
		return 0; /* safe mode: not a trampoline's context */
	return ((const uint64_t *)(uintptr_t)ctx)[-1];
}

int bpfrt_helpers_register_defaults(bpfrt_vm *vm)
{
	static const struct {
		uint32_t id;
		const char *name;
		bpfrt_helper_fn fn;
		uint8_t map_value, uses_cpu, map_args;
		uint8_t mem_arg[2], mem_size[2];
	} defaults[] = {
		{ BPF_FUNC_probe_read, "bpf_probe_read", h_probe_read, 0, 0, 0, { 1 }, { 2 } },
		{ BPF_FUNC_trace_printk, "bpf_trace_printk", h_trace_printk, 0, 0, 0, { 1 }, { 2 } },
		{ BPF_FUNC_get_current_pid_tgid, "bpf_get_current_pid_tgid", h_get_current_pid_tgid, 0, 0, 0, { 0 }, { 0 } },
		{ BPF_FUNC_get_current_uid_gid, "bpf_get_current_uid_gid", h_get_current_uid_gid, 0, 0, 0, { 0 }, { 0 } },
		{ BPF_FUNC_get_current_comm, "bpf_get_current_comm", h_get_current_comm, 0, 0, 0, { 1 }, { 2 } },
		{ BPF_FUNC_probe_read_str, "bpf_probe_read_str", h_probe_read_str, 0, 0, 0, { 1 }, { 2 } },
		{ BPF_FUNC_probe_read_user, "bpf_probe_read_user", h_probe_read, 0, 0, 0, { 1 }, { 2 } },
		{ BPF_FUNC_probe_read_kernel, "bpf_probe_read_kernel", h_probe_read, 0, 0, 0, { 1 }, { 2 } },
		{ BPF_FUNC_probe_read_user_str, "bpf_probe_read_user_str", h_probe_read_str, 0, 0, 0, { 1 }, { 2 } },
		{ BPF_FUNC_probe_read_kernel_str, "bpf_probe_read_kernel_str", h_probe_read_str, 0, 0, 0, { 1 }, { 2 } },
		{ BPF_FUNC_ktime_get_boot_ns, "bpf_ktime_get_boot_ns", h_ktime_get_boot_ns, 0, 0, 0, { 0 }, { 0 } },
		{ BPF_FUNC_ktime_get_coarse_ns, "bpf_ktime_get_coarse_ns", h_ktime_get_coarse_ns, 0, 0, 0, { 0 }, { 0 } },
		{ BPF_FUNC_strncmp, "bpf_strncmp", h_strncmp, 0, 0, 0, { 1 }, { 2 } },
		{ BPF_FUNC_ringbuf_output, "bpf_ringbuf_output", h_ringbuf_output, 0, 0, 4, { 2 }, { 3 } },
		{ BPF_FUNC_ringbuf_reserve, "bpf_ringbuf_reserve", h_ringbuf_reserve, 0, 0, 4, { 0 }, { 0 } },
		{ BPF_FUNC_ringbuf_submit, "bpf_ringbuf_submit", h_ringbuf_submit, 0, 0, 0, { 0 }, { 0 } },
		{ BPF_FUNC_ringbuf_discard, "bpf_ringbuf_discard", h_ringbuf_discard, 0, 0, 0, { 0 }, { 0 } },
		{ BPF_FUNC_ringbuf_query, "bpf_ringbuf_query", h_ringbuf_query, 0, 0, 4, { 0 }, { 0 } },
		{ 1, "bpf_map_lookup_elem", h_map_lookup_elem, 1, 1, 1 | 4, { 0 }, { 0 } },
		{ 2, "bpf_map_update_elem", h_map_update_elem, 0, 1, 1 | 2 | 4, { 0 }, { 0 } },
		{ 3, "bpf_map_delete_elem", h_map_delete_elem, 0, 0, 1 | 4, { 0 }, { 0 } },
		{ BPF_FUNC_map_push_elem, "bpf_map_push_elem", h_map_push_elem, 0, 0, 4 | 8, { 0 }, { 0 } },
		{ BPF_FUNC_map_pop_elem, "bpf_map_pop_elem", h_map_pop_elem, 0, 0, 4 | 8, { 0 }, { 0 } },
		{ BPF_FUNC_map_peek_elem, "bpf_map_peek_elem", h_map_peek_elem, 0, 0, 4 | 8, { 0 }, { 0 } },
		{ 5, "bpf_ktime_get_ns", h_ktime_get_ns, 0, 0, 0, { 0 }, { 0 } },
		{ 7, "bpf_get_prandom_u32", h_get_prandom_u32, 0, 0, 0, { 0 }, { 0 } },
		{ 8, "bpf_get_smp_processor_id", h_get_smp_processor_id, 0, 1, 0, { 0 }, { 0 } },
		{ BPF_FUNC_tail_call, "bpf_tail_call", h_tail_call, 0, 0, 0, { 0 }, { 0 } },
		{ BPF_FUNC_get_func_ip, "bpf_get_func_ip", h_get_func_ip, 0, 0, 0, { 0 }, { 0 } },
		{ BPF_FUNC_get_func_arg, "bpf_get_func_arg", h_get_func_arg, 0, 0, 0, { 0 }, { 0 } },
		{ BPF_FUNC_get_func_ret, "bpf_get_func_ret", h_get_func_ret, 0, 0, 0, { 0 }, { 0 } },
		{ BPF_FUNC_get_func_arg_cnt, "bpf_get_func_arg_cnt", h_get_func_arg_cnt, 0, 0, 0, { 0 }, { 0 } },
		{ BPF_FUNC_loop, "bpf_loop", h_loop, 0, 0, 0, { 0 }, { 0 } },
		{ BPF_FUNC_for_each_map_elem, "bpf_for_each_map_elem", h_for_each_map_elem, 0, 1, 4, { 0 }, { 0 } },
		{ BPF_FUNC_snprintf, "bpf_snprintf", h_snprintf, 0, 0, 0, { 1, 4 }, { 2, 5 } },
	};
	for (size_t i = 0; i < ARRAY_SIZE(defaults); i++) {
		int rc = bpfrt_vm_register_helper(vm, defaults[i].id, defaults[i].name,
						  defaults[i].fn, 0);
		if (rc != BPFRT_OK)
			return rc;
		vm->helpers.slot[defaults[i].id].ret_map_value = defaults[i].map_value;
		vm->helpers.slot[defaults[i].id].uses_cpu = defaults[i].uses_cpu;
		vm->helpers.slot[defaults[i].id].map_args = defaults[i].map_args;
		memcpy(vm->helpers.slot[defaults[i].id].mem_arg, defaults[i].mem_arg, 2);
		memcpy(vm->helpers.slot[defaults[i].id].mem_size, defaults[i].mem_size, 2);
		vm->helpers.slot[defaults[i].id].callbacks = defaults[i].id == BPF_FUNC_loop ||
							      defaults[i].id == BPF_FUNC_for_each_map_elem;
		if (defaults[i].id == BPF_FUNC_ringbuf_reserve)
			vm->helpers.slot[defaults[i].id].ret_size_arg = 2; /* the record: r2 bytes */
	}
	return BPFRT_OK;
}
