/*
 * tpoke.c — patching the process's own code while its threads run it.
 *
 * The kernel's text_poke_bp protocol, in userspace.  To replace the bytes
 * of one site (a function's first instruction or instructions) by a new
 * instruction of up to 16 bytes:
 *
 *   1. the site's "emulation target" is set: where a thread that hits the
 *      site during the change must go (what the new instruction does);
 *   2. int3 is written over the first byte, then every core of the process
 *      is serialised (membarrier SYNC_CORE);
 *   3. threads stopped inside the old bytes (at an instruction boundary
 *      past the first byte: a relocated prologue, gcc's five 1-byte nops)
 *      are moved to the equivalent place of the new code (a thread scan);
 *   4. the bytes after the first are written, then cores serialised;
 *   5. the first byte is written, then cores serialised.
 *
 * A thread that executes the int3 meanwhile gets SIGTRAP; our handler
 * finds the site (rip - 1) and continues at its emulation target, so no
 * thread ever runs a half-written instruction and no thread is stopped.  A
 * site keeps its record for good (the handler may run late, after the
 * change: the target then still names what the site does).  SIGTRAPs that
 * are not ours go to the handler that was installed before ours (or the
 * default action).
 *
 * Writes go through /proc/self/mem, which writes into a read-execute page
 * without the process ever mapping it writable (a private file page is
 * copied on the write, as a debugger's breakpoint); where that is refused,
 * the page is made writable for the write (mprotect) and executable again.
 *
 * The thread scan (also used to retire trampolines: tramp.c) signals every
 * other thread of the process with BPFRT_SCAN_SIGNAL; each runs a callback
 * on its own interrupted context (its rip, its thread-local data) in the
 * handler, which may also move its rip, and acknowledges.  A thread that
 * blocks the signal (liburcu's worker blocks them all) is judged from
 * outside instead, if it is parked in a system call: /proc gives its pc
 * and stack pointer (read twice: it must not have moved meanwhile); one
 * that runs with the signal blocked fails the scan.
 * The handler is installed with SA_RESTART, so most interrupted system
 * calls restart; a few (nanosleep, epoll_wait, ...) return EINTR, as for
 * any signal.
 */
#define _GNU_SOURCE
#include "internal.h"
#include "jit.h"
#include "tramp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <linux/membarrier.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define MAX_SITES 4096
#define SCAN_PATIENCE 500000000ull /* ns a patch waits for every thread's answer */

static struct {
	pthread_mutex_t lock;     /* one patch or scan at a time */
	bool inited;
	int memfd;                /* /proc/self/mem, or -1 */
	bool membarrier;          /* SYNC_CORE registered */
	struct sigaction old_trap;
	/* sites ever patched: the SIGTRAP handler reads them without a lock */
	uintptr_t site_addr[MAX_SITES];
	uintptr_t site_target[MAX_SITES];
	uint32_t nsites;
	/* the scan in progress */
	bpfrt_scan_fn scan_fn;
	void *scan_arg;
	uint32_t scan_acks;
	uint64_t scan_seq;        /* the scan's generation (its signals carry it) */
	uint32_t in_handlers;     /* scan handlers running */
	pid_t culprit;            /* the thread a failed scan could not judge */
} tp = { .lock = PTHREAD_MUTEX_INITIALIZER, .memfd = -1 };

/* ------------------------------------------------------------ signals ---- */

static void scan_noop(void *uc, void *arg)
{
	(void)uc;
	(void)arg;
}

static void chain(const struct sigaction *old, int sig, siginfo_t *si, void *uc)
{
	if (old->sa_flags & SA_SIGINFO) {
		if (old->sa_sigaction)
			old->sa_sigaction(sig, si, uc);
		return;
	}
	if (old->sa_handler == SIG_IGN)
		return;
	if (old->sa_handler != SIG_DFL) {
		old->sa_handler(sig);
		return;
	}
	/* the default action: die of it, as without us */
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Where on_trap sends a thread: with its depth still raised (a scan that
 * interrupts the handler, or the sigreturn after it, must not report the
 * thread outside an image it is about to enter), this drops the depth and
 * jumps to the site's target.  r11 is free: every target is a function's
 * entry (or its equivalent), where r11 is scratch.  A thread with rip in
 * here is inside (quiet scans check bpfrt_in_trap_landing). */
BPFRT_TLS uintptr_t bpfrt_trap_to;
BPFRT_HIDDEN void bpfrt_trap_landing(void);
BPFRT_HIDDEN void bpfrt_trap_landing_end(void);
__asm__(".text\n"
	".globl bpfrt_trap_landing\n.hidden bpfrt_trap_landing\n"
	".type bpfrt_trap_landing,@function\n"
	"bpfrt_trap_landing:\n"
	"	movq tt@gottpoff(%rip), %r11\n"
	"	decl %fs:(%r11)\n"                 /* tt.depth: its first field */
	"	movq bpfrt_trap_to@gottpoff(%rip), %r11\n"
	"	jmp *%fs:(%r11)\n"
	".globl bpfrt_trap_landing_end\n.hidden bpfrt_trap_landing_end\n"
	"bpfrt_trap_landing_end:\n"
	"	int3\n"
	".size bpfrt_trap_landing, .-bpfrt_trap_landing\n");

bool bpfrt_in_trap_landing(uintptr_t rip)
{
	return rip >= (uintptr_t)bpfrt_trap_landing && rip < (uintptr_t)bpfrt_trap_landing_end;
}

static void on_trap(int sig, siginfo_t *si, void *ucv)
{
	tt.depth++; /* dropped by bpfrt_trap_landing, or below if not ours */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	ucontext_t *uc = ucv;
	uintptr_t at = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP] - 1;
	uint32_t n = __atomic_load_n(&tp.nsites, __ATOMIC_ACQUIRE);
	for (uint32_t i = 0; i < n; i++) {
		if (__atomic_load_n(&tp.site_addr[i], __ATOMIC_RELAXED) != at)
			continue;
		uintptr_t to = __atomic_load_n(&tp.site_target[i], __ATOMIC_ACQUIRE);
		if (!to)
			break;
		bpfrt_trap_to = to;
		uc->uc_mcontext.gregs[REG_RIP] = (greg_t)bpfrt_trap_landing;
		return;
	}
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	tt.depth--;
	chain(&tp.old_trap, sig, si, ucv);
}

/* A scan's signal carries its generation: one sent by an earlier scan (that
 * timed out) does nothing, and a scan ends only when no handler of it runs. */
static void on_scan(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	int saved = errno;
	__atomic_add_fetch(&tp.in_handlers, 1, __ATOMIC_SEQ_CST);
	bpfrt_scan_fn fn = __atomic_load_n(&tp.scan_fn, __ATOMIC_SEQ_CST);
	if (fn && si->si_code == SI_QUEUE &&
	    (uint32_t)si->si_value.sival_int == (uint32_t)__atomic_load_n(&tp.scan_seq, __ATOMIC_ACQUIRE)) {
		fn(ucv, tp.scan_arg);
		__atomic_add_fetch(&tp.scan_acks, 1, __ATOMIC_RELEASE);
	}
	__atomic_sub_fetch(&tp.in_handlers, 1, __ATOMIC_RELEASE);
	errno = saved;
}

int bpfrt_tpoke_init_locked(struct bpfrt_err *err)
{
	if (tp.inited)
		return BPFRT_OK;
	tp.memfd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	tp.membarrier = syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0) == 0;
	struct sigaction sa = { 0 };
	sa.sa_sigaction = on_trap;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTRAP, &sa, &tp.old_trap))
		return bpfrt_err_set(err, BPFRT_ENOTSUP, "cannot install a SIGTRAP handler: %s", strerror(errno));
	sa.sa_sigaction = on_scan;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(BPFRT_SCAN_SIGNAL, &sa, NULL)) {
		sigaction(SIGTRAP, &tp.old_trap, NULL);
		return bpfrt_err_set(err, BPFRT_ENOTSUP, "cannot install the scan signal's handler: %s",
				     strerror(errno));
	}
	tp.inited = true;
	return BPFRT_OK;
}

static bool parked_any(pid_t tid, uintptr_t sp, uintptr_t pc, void *arg)
{
	(void)tid;
	(void)sp;
	(void)pc;
	(void)arg;
	return true; /* its return to userspace serialises it */
}

/* Every core of the process serialised: none runs an instruction it fetched
 * before.  Without membarrier SYNC_CORE, a signal to every thread does it
 * (the kernel's return to userspace is serialising). */
static void sync_cores(void)
{
	if (tp.membarrier && syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0) == 0)
		return;
	tp.membarrier = false;
	bpfrt_scan_threads_locked(NULL, 0, NULL, parked_any, NULL, SCAN_PATIENCE);
}

/* ------------------------------------------------------------- writes ---- */

static int write_text(uintptr_t at, const uint8_t *bytes, size_t len)
{
	uint8_t *rw = bpfrt_jit_mem_rw_of(at); /* a JITed BPF function: through its RW view */
	if (rw) {
		for (size_t i = 0; i < len; i++)
			__atomic_store_n(rw + i, bytes[i], __ATOMIC_RELAXED);
		return 0;
	}
	if (tp.memfd >= 0) {
		if (pwrite(tp.memfd, bytes, len, (off_t)at) == (ssize_t)len)
			return 0;
		close(tp.memfd); /* refused (e.g. proc_mem.force_override=never): mprotect */
		tp.memfd = -1;
	}
	uintptr_t lo = at & ~(uintptr_t)4095, hi = (at + len + 4095) & ~(uintptr_t)4095;
	/* the page must stay executable: other threads may run it */
	if (mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE | PROT_EXEC))
		return -errno;
	for (size_t i = 0; i < len; i++)
		__atomic_store_n((uint8_t *)at + i, bytes[i], __ATOMIC_RELAXED);
	mprotect((void *)lo, hi - lo, PROT_READ | PROT_EXEC);
	return 0;
}

/* ---------------------------------------------------------------- scan ---- */

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Whether thread tid blocks the scan signal (/proc/self/task/TID/status). */
static bool blocks_scan(pid_t tid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	FILE *f = fopen(path, "re");
	bool blocked = false;
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "SigBlk:", 7)) {
			unsigned long long m = strtoull(line + 7, NULL, 16);
			blocked = m & (1ull << (BPFRT_SCAN_SIGNAL - 1));
			break;
		}
	}
	if (f)
		fclose(f);
	return blocked;
}

/* A thread parked in a system call: its stack pointer and pc (where it will
 * go on, in user code); false if it is running (or gone). */
static bool parked_at(pid_t tid, uintptr_t *sp, uintptr_t *pc)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	if (!strncmp(buf, "running", 7))
		return false;
	/* "NR a1 a2 a3 a4 a5 a6 SP PC", or "-1 SP PC" when stopped outside one */
	unsigned long long v[9];
	int k = 0;
	for (char *p = buf, *e; k < 9 && *p; p = e) {
		v[k] = strtoull(p, &e, 0);
		if (e == p)
			break;
		k++;
	}
	if (k != 9 && k != 3)
		return false;
	*sp = (uintptr_t)v[k - 2];
	*pc = (uintptr_t)v[k - 1];
	return true;
}

/* A thread that blocks the scan signal is judged by parked(sp, pc): it
 * must sit in a system call, at the same place before and after. */
/* A thread that blocks the scan signal, judged once: 1 passed, 0 failed,
 * -1 not parked now (running, or caught between two system calls). */
static int parked_once(pid_t tid, bpfrt_parked_fn parked, void *arg)
{
	uintptr_t sp, pc, sp2, pc2;
	if (!parked_at(tid, &sp, &pc))
		return -1;
	bool ok = parked && parked(tid, sp, pc, arg);
	if (!parked_at(tid, &sp2, &pc2) || sp2 != sp || pc2 != pc)
		return -1;
	return ok;
}

static bool send_scan(pid_t pid, pid_t tid)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	si.si_signo = BPFRT_SCAN_SIGNAL;
	si.si_code = SI_QUEUE;
	si.si_pid = pid;
	si.si_value.sival_int = (int)(uint32_t)tp.scan_seq;
	return syscall(SYS_rt_tgsigqueueinfo, pid, tid, BPFRT_SCAN_SIGNAL, &si) == 0;
}

#define SCAN_MAX_BLOCKERS 64

ssize_t bpfrt_threads(pid_t *out, size_t max)
{
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return -1;
	pid_t self = (pid_t)syscall(SYS_gettid);
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		pid_t tid = (pid_t)atoi(e->d_name);
		if (tid <= 0 || tid == self)
			continue;
		if (n == max) {
			closedir(d);
			return -1;
		}
		out[n++] = tid;
	}
	closedir(d);
	return (ssize_t)n;
}

int bpfrt_scan_threads_locked(const pid_t *tids, size_t ntids, bpfrt_scan_fn fn, bpfrt_parked_fn parked,
			      void *arg, uint64_t timeout_ns)
{
	pid_t pid = getpid();
	tp.scan_arg = arg;
	__atomic_store_n(&tp.scan_acks, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&tp.scan_fn, fn ? fn : scan_noop, __ATOMIC_RELEASE);
	uint32_t sent = 0;
	int rc = 0;
	pid_t blockers[SCAN_MAX_BLOCKERS];
	size_t nb = 0;
	static pid_t all[BPFRT_MAX_THREADS]; /* (under tp.lock) */
	if (!tids) {
		ssize_t n = bpfrt_threads(all, ARRAY_SIZE(all));
		if (n < 0) {
			__atomic_store_n(&tp.scan_fn, NULL, __ATOMIC_RELEASE);
			return -EAGAIN;
		}
		tids = all;
		ntids = (size_t)n;
	}
	for (size_t i = 0; i < ntids; i++) {
		if (blocks_scan(tids[i]) && nb < SCAN_MAX_BLOCKERS) /* (liburcu's worker blocks every signal) */
			blockers[nb++] = tids[i];
		else if (send_scan(pid, tids[i]))
			sent++;
	}
	/* Wait for each signalled thread's answer; judge each blocker once it
	 * is parked, or signal it once it no longer blocks (it was only inside
	 * a handler: those block the signal for their duration). */
	uint64_t t0 = mono_ns();
	for (;;) {
		for (size_t i = 0; i < nb;) {
			int v = blocks_scan(blockers[i]) ? parked_once(blockers[i], parked, arg) : 2;
			if (v == 2 && send_scan(pid, blockers[i]))
				sent++;
			if (v == 0) {
				rc = -EBUSY;
				tp.culprit = blockers[i];
			}
			if (v >= 0) /* judged or signalled: done with it */
				blockers[i] = blockers[--nb];
			else
				i++;
		}
		if (!nb && __atomic_load_n(&tp.scan_acks, __ATOMIC_ACQUIRE) >= sent)
			break;
		if (mono_ns() - t0 > timeout_ns) {
			if (nb) {
				rc = -EBUSY;
				tp.culprit = blockers[0];
			} else {
				rc = -ETIMEDOUT;
			}
			break;
		}
		if (nb)
			usleep(200);
		else
			sched_yield();
	}
	__atomic_store_n(&tp.scan_fn, NULL, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&tp.scan_seq, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&tp.in_handlers, __ATOMIC_SEQ_CST)) /* one may have read fn already */
		sched_yield();
	return rc;
}

void bpfrt_tpoke_lock(void)
{
	pthread_mutex_lock(&tp.lock);
}

void bpfrt_tpoke_unlock(void)
{
	pthread_mutex_unlock(&tp.lock);
}

/* ---------------------------------------------------------------- poke ---- */

static int site_index(uintptr_t at)
{
	for (uint32_t i = 0; i < tp.nsites; i++)
		if (tp.site_addr[i] == at)
			return (int)i;
	if (tp.nsites == MAX_SITES)
		return -1;
	tp.site_addr[tp.nsites] = at;
	tp.site_target[tp.nsites] = 0;
	__atomic_store_n(&tp.nsites, tp.nsites + 1, __ATOMIC_RELEASE);
	return (int)tp.nsites - 1;
}

/* The scan callback of step 3: a thread stopped at site+k (0 < k < len,
 * an instruction boundary of the old code) moves to redirect[k]. */
struct redirect_arg {
	uintptr_t at;
	size_t len;
	const uintptr_t *to;
};

/* ... and a thread that blocks the signal must not be there */
static bool parked_outside(pid_t tid, uintptr_t sp, uintptr_t pc, void *argv)
{
	(void)tid;
	(void)sp;
	const struct redirect_arg *a = argv;
	return !(pc > a->at && pc < a->at + a->len);
}

static void redirect_one(void *ucv, void *argv)
{
	ucontext_t *uc = ucv;
	const struct redirect_arg *a = argv;
	uintptr_t rip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	if (rip > a->at && rip < a->at + a->len && a->to[rip - a->at])
		uc->uc_mcontext.gregs[REG_RIP] = (greg_t)a->to[rip - a->at];
}

int bpfrt_tpoke_locked(uintptr_t at, const uint8_t *bytes, size_t len, uintptr_t emulate,
		       const uintptr_t *redirect, struct bpfrt_err *err)
{
	int si = site_index(at);
	if (si < 0)
		return bpfrt_err_set(err, BPFRT_ENOMEM, "too many patched sites (%d)", MAX_SITES);
	uint8_t old0 = *(const volatile uint8_t *)at;
	__atomic_store_n(&tp.site_target[si], emulate, __ATOMIC_RELEASE);
	static const uint8_t int3 = 0xcc;
	int rc = write_text(at, &int3, 1);
	if (rc)
		return bpfrt_err_set(err, BPFRT_ENOTSUP, "cannot write the code at %#lx: %s", (unsigned long)at,
				     strerror(-rc));
	sync_cores();
	if (redirect) {
		struct redirect_arg a = { at, len, redirect };
		int src = bpfrt_scan_threads_locked(NULL, 0, redirect_one, parked_outside, &a, SCAN_PATIENCE);
		if (src) {
			/* a thread that does not answer (it blocks the signal) may be
			 * stopped inside the bytes: put the first one back, refuse */
			__atomic_store_n(&tp.site_target[si], redirect[0], __ATOMIC_RELEASE);
			write_text(at, &old0, 1);
			sync_cores();
			if (src == -EBUSY)
				return bpfrt_err_set(err, BPFRT_ENOTSUP, "thread %d blocks the scan signal (%d) and did "
						     "not park in a system call within 0.5 s: cannot patch %#lx safely",
						     (int)tp.culprit, BPFRT_SCAN_SIGNAL, (unsigned long)at);
			return bpfrt_err_set(err, BPFRT_ENOTSUP, "a thread of the process did not answer the scan "
					     "signal (%d) within 0.5 s: cannot patch %#lx safely", BPFRT_SCAN_SIGNAL,
					     (unsigned long)at);
		}
	}
	if (len > 1) {
		if ((rc = write_text(at + 1, bytes + 1, len - 1)))
			return bpfrt_err_set(err, BPFRT_EINTERNAL, "writing the code at %#lx failed: %s",
					     (unsigned long)at, strerror(-rc));
		sync_cores();
	}
	if ((rc = write_text(at, bytes, 1)))
		return bpfrt_err_set(err, BPFRT_EINTERNAL, "writing the code at %#lx failed: %s",
				     (unsigned long)at, strerror(-rc));
	sync_cores();
	return BPFRT_OK;
}

/* The words of a parked thread's stack, from sp to the end of the mapping
 * that holds it: fn(word, arg) for each until it returns false; false if
 * fn did (or the stack could not be read). */
bool bpfrt_stack_words(uintptr_t sp, bool (*fn)(uintptr_t word, void *arg), void *arg)
{
	FILE *f = fopen("/proc/self/maps", "re");
	uintptr_t hi = 0;
	char line[512];
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long lo, h;
		if (sscanf(line, "%lx-%lx", &lo, &h) == 2 && sp >= lo && sp < h) {
			hi = h;
			break;
		}
	}
	if (f)
		fclose(f);
	if (!hi)
		return false;
	uintptr_t buf[512];
	for (uintptr_t at = sp & ~(uintptr_t)7; at < hi;) {
		size_t len = hi - at < sizeof(buf) ? hi - at : sizeof(buf);
		struct iovec local = { buf, len }, remote = { (void *)at, len };
		ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
		if (n <= 0)
			return false;
		for (size_t i = 0; i < (size_t)n / 8; i++)
			if (!fn(buf[i], arg))
				return false;
		at += (size_t)n;
	}
	return true;
}
