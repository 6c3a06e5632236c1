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
 * handler, which may also move its rip, and acknowledges.  Threads that
 * block the signal cannot be examined: a scan that times out reports it.
 * The handler is installed with SA_RESTART, so most interrupted system
 * calls restart; a few (nanosleep, epoll_wait, ...) return EINTR, as for
 * any signal.
 */
#define _GNU_SOURCE
#include "internal.h"
#include "tramp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <signal.h>
#include <sys/mman.h>
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
	struct sigaction old_trap, old_scan;
	/* sites ever patched: the SIGTRAP handler reads them without a lock */
	uintptr_t site_addr[MAX_SITES];
	uintptr_t site_target[MAX_SITES];
	uint32_t nsites;
	/* the scan in progress */
	bpfrt_scan_fn scan_fn;
	void *scan_arg;
	uint32_t scan_acks;
	uint64_t scan_seq;
} tp = { .lock = PTHREAD_MUTEX_INITIALIZER, .memfd = -1 };

/* ------------------------------------------------------------ signals ---- */

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

static void on_trap(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	uintptr_t at = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP] - 1;
	uint32_t n = __atomic_load_n(&tp.nsites, __ATOMIC_ACQUIRE);
	for (uint32_t i = 0; i < n; i++) {
		if (__atomic_load_n(&tp.site_addr[i], __ATOMIC_RELAXED) != at)
			continue;
		uintptr_t to = __atomic_load_n(&tp.site_target[i], __ATOMIC_ACQUIRE);
		if (!to)
			break;
		uc->uc_mcontext.gregs[REG_RIP] = (greg_t)to;
		return;
	}
	chain(&tp.old_trap, sig, si, ucv);
}

static void on_scan(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	(void)si;
	int saved = errno;
	bpfrt_scan_fn fn = __atomic_load_n(&tp.scan_fn, __ATOMIC_ACQUIRE);
	if (fn) {
		fn(ucv, tp.scan_arg);
		__atomic_add_fetch(&tp.scan_acks, 1, __ATOMIC_RELEASE);
	}
	errno = saved;
}

/* Under tp.lock. */
static int init_locked(struct bpfrt_err *err)
{
	if (tp.inited)
		return BPFRT_OK;
	tp.memfd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	tp.membarrier = syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0) == 0;
	struct sigaction sa = { 0 };
	sa.sa_sigaction = on_trap;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NODEFER;
	/* a scan must not see a thread inside on_trap, between reading a site's
	 * target and going there: it could report the thread outside an image
	 * it is about to enter */
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, BPFRT_SCAN_SIGNAL);
	if (sigaction(SIGTRAP, &sa, &tp.old_trap))
		return bpfrt_err_set(err, BPFRT_ENOTSUP, "cannot install a SIGTRAP handler: %s", strerror(errno));
	sa.sa_sigaction = on_scan;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(BPFRT_SCAN_SIGNAL, &sa, &tp.old_scan)) {
		sigaction(SIGTRAP, &tp.old_trap, NULL);
		return bpfrt_err_set(err, BPFRT_ENOTSUP, "cannot install the scan signal's handler: %s",
				     strerror(errno));
	}
	tp.inited = true;
	return BPFRT_OK;
}

/* Every core of the process serialised: none runs an instruction it fetched
 * before.  Without membarrier SYNC_CORE, a signal to every thread does it
 * (the kernel's return to userspace is serialising). */
static void sync_cores(void)
{
	if (tp.membarrier && syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0) == 0)
		return;
	tp.membarrier = false;
	bpfrt_scan_threads_locked(NULL, 0, NULL, NULL, SCAN_PATIENCE);
}

/* ------------------------------------------------------------- writes ---- */

static int write_text(uintptr_t at, const uint8_t *bytes, size_t len)
{
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

int bpfrt_text_read(uintptr_t at, uint8_t *out, size_t len)
{
	memcpy(out, (const void *)at, len);
	return 0;
}

/* ---------------------------------------------------------------- scan ---- */

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int bpfrt_scan_threads_locked(const pid_t *tids, size_t ntids, bpfrt_scan_fn fn, void *arg, uint64_t timeout_ns)
{
	pid_t self = (pid_t)syscall(SYS_gettid), pid = getpid();
	tp.scan_arg = arg;
	__atomic_store_n(&tp.scan_acks, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&tp.scan_fn, fn ? fn : bpfrt_scan_noop, __ATOMIC_RELEASE);
	uint32_t sent = 0;
	if (tids) {
		for (size_t i = 0; i < ntids; i++)
			if (tids[i] != self && syscall(SYS_tgkill, pid, tids[i], BPFRT_SCAN_SIGNAL) == 0)
				sent++;
	} else {
		DIR *d = opendir("/proc/self/task");
		if (!d) {
			__atomic_store_n(&tp.scan_fn, NULL, __ATOMIC_RELEASE);
			return -errno;
		}
		struct dirent *e;
		while ((e = readdir(d))) {
			pid_t tid = (pid_t)atoi(e->d_name);
			if (tid > 0 && tid != self && syscall(SYS_tgkill, pid, tid, BPFRT_SCAN_SIGNAL) == 0)
				sent++;
		}
		closedir(d);
	}
	/* wait for each signalled thread (one that exits meanwhile never answers:
	 * the wait times out only if some thread blocks the signal or dies) */
	uint64_t t0 = mono_ns();
	int rc = 0;
	while (__atomic_load_n(&tp.scan_acks, __ATOMIC_ACQUIRE) < sent) {
		if (mono_ns() - t0 > timeout_ns) {
			rc = -ETIMEDOUT;
			break;
		}
		sched_yield();
	}
	__atomic_store_n(&tp.scan_fn, NULL, __ATOMIC_RELEASE);
	tp.scan_seq++;
	return rc;
}

void bpfrt_scan_noop(void *uc, void *arg)
{
	(void)uc;
	(void)arg;
}

void bpfrt_tpoke_lock(void)
{
	pthread_mutex_lock(&tp.lock);
}

void bpfrt_tpoke_unlock(void)
{
	pthread_mutex_unlock(&tp.lock);
}

int bpfrt_tpoke_init_locked(struct bpfrt_err *err)
{
	return init_locked(err);
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
		if (bpfrt_scan_threads_locked(NULL, 0, redirect_one, &a, SCAN_PATIENCE)) {
			/* a thread that does not answer (it blocks the signal) may be
			 * stopped inside the bytes: put the first one back, refuse */
			__atomic_store_n(&tp.site_target[si], redirect[0], __ATOMIC_RELEASE);
			write_text(at, &old0, 1);
			sync_cores();
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
