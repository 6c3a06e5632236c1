/*
 * run_kverify.c — the kernel's own verifier tests (test_verifier's cases,
 * converted by tools/kvconvert into .kvt files) against bpfrt's verifier on
 * the Linux platform, and against this machine's kernel where bpf() works.
 *
 *   run_kverify [--known FILE] [--verbose] KVT... OBJ.o...
 *
 * OBJ.o: the newer tests (progs/verifier_*.c), BPF C built by clang, each
 * program a case whose expectations are BTF decl tags (bpf_misc.h's
 * __success, __failure, __retval(N), __description, __auxiliary); an
 * accepted case with a retval also runs, on bpfrt's interpreter and JIT and
 * in the kernel (BPF_PROG_TEST_RUN), and must return it.
 *
 * Each case is verified by bpfrt and, where the kernel can take it (bpf()
 * allowed; its kfuncs exist in this kernel), loaded by the kernel with real
 * maps for its fixups.  bpfrt must agree with the expected verdict; above
 * all it must never accept what the expectation or the kernel refuses.
 * --known lists disagreements understood for now (FILE<TAB>DESCRIPTION<TAB>
 * cause): reported, not failures; an entry that agrees again is an error.
 * The summary counts agreement with the expectations and with the kernel,
 * and how many refusals carry the kernel's message (informative: bpfrt
 * words its own messages).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "bpfrt.h"
#include "internal.h"
#include "verifier.h"
#include "testutil.h"

#ifndef ENOTSUPP
#define ENOTSUPP 524 /* the kernel's internal "operation not supported" */
#endif

enum { MAP_HASH_8B, MAP_HASH_16B, MAP_HASH_48B, MAP_ARRAY_48B, MAP_PROG1, MAP_PROG2, NKINDS };
static const struct {
	const char *name;
	uint32_t type, key, value, max;
} kinds[NKINDS] = {
	[MAP_HASH_8B] = { "map_hash_8b", BPF_MAP_TYPE_HASH, 8, 8, 1 },
	[MAP_HASH_16B] = { "map_hash_16b", BPF_MAP_TYPE_HASH, 8, 16, 1 },
	[MAP_HASH_48B] = { "map_hash_48b", BPF_MAP_TYPE_HASH, 8, 48, 1 },
	[MAP_ARRAY_48B] = { "map_array_48b", BPF_MAP_TYPE_ARRAY, 4, 48, 1 },
	[MAP_PROG1] = { "prog1", BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4 },
	[MAP_PROG2] = { "prog2", BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 8 },
};

struct fixup {
	int kind; /* MAP_*, or -1: a kfunc */
	char *kfunc;
	int insn;
};

struct kcase {
	char *descr, *errstr, *fill, *skip, *why;
	char *pre[40];         /* PREVAIL fragments: the initial state */
	int npre;
	bool div0_error;       /* PREVAIL's !allow_division_by_zero */
	uint32_t type, flags;
	bool reject;
	struct fixup fix[32];
	int nfix;
	struct bpfrt_insn *insns;
	size_t n, cap;
};

static struct tu_known_list known;

/*
 * A class of understood disagreements (a known entry whose description
 * starts with "~"): "~refused:TEXT" bpfrt refuses with TEXT in its reason,
 * "~accepted:TEXT" bpfrt accepts a case whose expected message has TEXT,
 * "~tag:TAG" the converter tagged the case TAG.  Exact entries go first.
 */
static struct tu_known *find_class(const char *file, bool ours_reject, const char *ourwhy, const char *errstr,
				   const char *tag)
{
	for (size_t i = 0; i < known.n; i++) {
		const struct tu_known *k = &known.v[i];
		const char *d = k->b;
		if (strcmp(k->a, file) || d[0] != '~')
			continue;
		if ((!strncmp(d, "~refused:", 9) && ours_reject && strstr(ourwhy, d + 9)) ||
		    (!strncmp(d, "~accepted:", 10) && !ours_reject && errstr && strstr(errstr, d + 10)) ||
		    (!strncmp(d, "~tag:", 5) && tag && !strcmp(tag, d + 5)))
			return &known.v[i];
	}
	return NULL;
}

static char *unescape(const char *s)
{
	char *o = malloc(strlen(s) + 1), *p = o;
	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			*p++ = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s;
		} else {
			*p++ = *s;
		}
	}
	*p = 0;
	return o;
}

static void case_free(struct kcase *c)
{
	free(c->descr);
	free(c->errstr);
	free(c->fill);
	free(c->skip);
	free(c->why);
	for (int i = 0; i < c->npre; i++)
		free(c->pre[i]);
	for (int i = 0; i < c->nfix; i++)
		free(c->fix[i].kfunc);
	free(c->insns);
	memset(c, 0, sizeof(*c));
}

/* Reads the next case of f; false at the end.  Exits on a malformed file. */
static bool read_case(FILE *f, const char *path, struct kcase *c)
{
	char line[8192];
	memset(c, 0, sizeof(*c));
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		char *sp = strchr(line, ' ');
		const char *arg = sp ? sp + 1 : "";
		if (sp)
			*sp = 0;
		if (!strcmp(line, "test")) {
			c->descr = unescape(arg);
		} else if (!strcmp(line, "type")) {
			c->type = (uint32_t)strtoul(arg, NULL, 0);
		} else if (!strcmp(line, "result")) {
			c->reject = !strcmp(arg, "reject");
		} else if (!strcmp(line, "errstr")) {
			c->errstr = unescape(arg);
		} else if (!strcmp(line, "flags")) {
			c->flags = (uint32_t)strtoul(arg, NULL, 0);
		} else if (!strcmp(line, "fill")) {
			c->fill = strdup(arg);
		} else if (!strcmp(line, "skip")) {
			c->skip = strdup(arg);
		} else if (!strcmp(line, "why")) {
			c->why = strdup(arg);
		} else if (!strcmp(line, "option")) {
			c->div0_error |= !strcmp(arg, "!allow_division_by_zero");
		} else if (!strcmp(line, "pre")) {
			if (c->npre == 40)
				goto bad;
			c->pre[c->npre++] = strdup(arg);
		} else if (!strcmp(line, "fixup")) {
			char kind[256];
			int at;
			if (sscanf(arg, "%255s %d", kind, &at) != 2 || c->nfix == 32)
				goto bad;
			struct fixup *x = &c->fix[c->nfix++];
			x->insn = at;
			x->kind = -1;
			if (!strncmp(kind, "kfunc:", 6)) {
				x->kfunc = strdup(kind + 6);
			} else {
				for (int k = 0; k < NKINDS; k++)
					if (!strcmp(kind, kinds[k].name))
						x->kind = k;
				if (x->kind < 0)
					goto bad;
			}
		} else if (!strcmp(line, "insn")) {
			uint8_t b[8];
			if (strlen(arg) != 16)
				goto bad;
			for (int k = 0; k < 8; k++) {
				unsigned v;
				if (sscanf(arg + 2 * k, "%2x", &v) != 1)
					goto bad;
				b[k] = (uint8_t)v;
			}
			if (c->n == c->cap) {
				c->cap = c->cap ? 2 * c->cap : 64;
				c->insns = realloc(c->insns, c->cap * sizeof(*c->insns));
			}
			memcpy(&c->insns[c->n++], b, 8);
		} else if (!strcmp(line, "end")) {
			if (!c->descr)
				goto bad;
			return true;
		}
		/* retval, unpriv: not used by this runner */
	}
	if (c->descr)
		goto bad;
	return false;
bad:
	fprintf(stderr, "%s: malformed case near \"%s\"\n", path, line);
	exit(2);
}

/* ------------------------------------------------------------ the kernel */
static int kernel_ok = -1; /* -1 unknown, 0 bpf() refused, 1 usable */
static struct btf *vmlinux;

static int kernel_verdict(const struct kcase *c, char *why, size_t whylen)
{
	if (kernel_ok == 0)
		return -1;
	int fds[32], nfd = 0, rc = -1;
	struct bpf_insn *in = calloc(c->n ? c->n : 1, sizeof(*in));
	memcpy(in, c->insns, c->n * sizeof(*in));
	for (int i = 0; i < c->nfix; i++) {
		const struct fixup *x = &c->fix[i];
		if ((size_t)x->insn >= c->n)
			goto out;
		if (x->kind < 0) { /* a kfunc: its BTF id in this kernel */
			if (!vmlinux)
				goto out;
			int id = btf__find_by_name_kind(vmlinux, x->kfunc, BTF_KIND_FUNC);
			if (id <= 0)
				goto out;
			in[x->insn].imm = id;
			continue;
		}
		int fd = bpf_map_create(kinds[x->kind].type, NULL, kinds[x->kind].key, kinds[x->kind].value,
					kinds[x->kind].max, NULL);
		if (fd < 0) {
			if (kernel_ok < 0 && (errno == EPERM || errno == ENOSYS)) {
				kernel_ok = 0;
				printf("kernel: bpf() refused (%s): the kernel column is skipped\n", strerror(errno));
			}
			goto out;
		}
		kernel_ok = 1;
		fds[nfd++] = fd;
		in[x->insn].src_reg = BPF_PSEUDO_MAP_FD;
		in[x->insn].imm = fd;
	}
	static char log[1 << 20];
	log[0] = 0;
	LIBBPF_OPTS(bpf_prog_load_opts, o, .log_buf = log, .log_size = sizeof(log), .log_level = 1,
		    .prog_flags = (c->flags & 2) ? BPF_F_STRICT_ALIGNMENT : 0);
	int pfd = bpf_prog_load(c->type, NULL, "GPL", in, c->n, &o);
	if (pfd < 0 && errno == ENOSPC) { /* the log overflowed: load again without one */
		o.log_buf = NULL;
		o.log_size = 0;
		o.log_level = 0;
		pfd = bpf_prog_load(c->type, NULL, "GPL", in, c->n, &o);
	}
	if (pfd >= 0) {
		kernel_ok = 1;
		close(pfd);
		rc = 1;
	} else if (errno == EPERM && kernel_ok < 0) {
		kernel_ok = 0;
		printf("kernel: bpf() refused (%s): the kernel column is skipped\n", strerror(errno));
	} else if (errno == EINVAL || errno == EACCES || errno == E2BIG || errno == EFAULT || errno == ENOSPC ||
		   errno == ENOTSUPP || errno == EOPNOTSUPP) {
		kernel_ok = 1;
		rc = 0;
		/* the last line of the log: the kernel's reason */
		size_t l = strlen(log);
		while (l && log[l - 1] == '\n')
			log[--l] = 0;
		char *last = strrchr(log, '\n');
		last = last ? last + 1 : log;
		if (!strncmp(last, "processed ", 10) && last > log) { /* the line before the summary */
			*--last = 0;
			char *prev = strrchr(log, '\n');
			last = prev ? prev + 1 : log;
		}
		snprintf(why, whylen, "%s", last);
	}
out:
	for (int i = 0; i < nfd; i++)
		close(fds[i]);
	free(in);
	return rc;
}

/* ------------------------------------------- PREVAIL fragments' pre-state */
#include "verifier/vf.h"

struct prestate {
	const struct kcase *c;
	int shared_map[8];     /* register -> map index of its region */
	uint32_t packet_size;
	bool has_packet_size;
};

static void set_bytes(struct vframe *f, int64_t lo, int64_t hi, uint8_t type)
{
	for (int64_t a = lo; a < hi && a < 0 && a >= -512; a++) {
		uint32_t k = (uint32_t)((-a - 1) / 8);
		if (!vframe_grow(f, k + 1))
			return;
		f->slot[k].type[a + (int64_t)(k + 1) * 8] = type;
	}
}

static void pre_init(void *arg, struct vstate *st)
{
	const struct prestate *ps = arg;
	struct vframe *f = st->frame[0];
	for (int r = 0; r < 10; r++) /* what the pre-condition does not name is not set */
		memset(&f->regs[r], 0, sizeof(f->regs[r]));
	for (int i = 0; i < ps->c->npre; i++) {
		char buf[256], *w[12];
		int n = 0;
		snprintf(buf, sizeof(buf), "%s", ps->c->pre[i]);
		for (char *t = strtok(buf, " "); t && n < 12; t = strtok(NULL, " "))
			w[n++] = t;
		if (n >= 2 && w[0][0] == 'r') {
			int r = atoi(w[0] + 1);
			if (r < 0 || r > 10)
				continue;
			struct vreg *g = &f->regs[r];
			memset(g, 0, sizeof(*g));
			vreg_bounds_const(g, 0);
			if (!strcmp(w[1], "number")) {
				vreg_unknown(g);
				for (int k = 2; k + 1 < n; k += 2) {
					if (!strcmp(w[k], "smin"))
						g->smin = strtoll(w[k + 1], NULL, 0);
					else if (!strcmp(w[k], "smax"))
						g->smax = strtoll(w[k + 1], NULL, 0);
					else if (!strcmp(w[k], "umin"))
						g->umin = strtoull(w[k + 1], NULL, 0);
					else if (!strcmp(w[k], "umax"))
						g->umax = strtoull(w[k + 1], NULL, 0);
				}
				if (g->smin == g->smax && (g->umin == 0 && g->umax == UINT64_MAX))
					vreg_const(g, (uint64_t)g->smin);
				else
					vreg_sync(g);
			} else if (!strcmp(w[1], "ctx") && n >= 3) {
				g->type = T_CTX;
				g->off = atoi(w[2]);
			} else if (!strcmp(w[1], "stack") && n >= 3) {
				g->type = T_STACK;
				g->off = atoi(w[2]);
				if (n >= 5 && !strcmp(w[3], "numeric"))
					set_bytes(f, g->off, g->off + atoi(w[4]), S_MISC);
			} else if (!strcmp(w[1], "packet") && n >= 3) {
				g->type = T_PACKET;
				g->off = atoi(w[2]);
				if (ps->has_packet_size) /* bytes from the packet's start known in bounds */
					g->range = (int32_t)ps->packet_size;
			} else if (!strcmp(w[1], "packet_end")) {
				g->type = T_PACKET_END;
			} else if (!strcmp(w[1], "shared") && n >= 4 && r < 8) {
				g->type = T_MAP_VALUE;
				g->off = atoi(w[2]);
				g->aux = (uint32_t)ps->shared_map[r];
			} else if (!strcmp(w[1], "map_fd")) {
				g->type = T_MAP_PTR;
				g->aux = 0; /* the fragments' map: see prevail_maps */
			}
		} else if (n >= 4 && !strcmp(w[0], "stack")) {
			set_bytes(f, strtoll(w[1], NULL, 0), strtoll(w[2], NULL, 0), S_MISC);
		}
	}
}

/* errstr's tab-separated substrings appear in order in the log */
static bool log_matches(const char *log, const char *errstr)
{
	char *e = strdup(errstr), *save = NULL;
	const char *at = log;
	bool ok = true;
	for (char *p = strtok_r(e, "\t", &save); p && ok; p = strtok_r(NULL, "\t", &save)) {
		const char *h = strstr(at, p);
		if (!h)
			ok = false;
		else
			at = h + strlen(p);
	}
	free(e);
	return ok;
}

/* ------------------------------------------------ BTF-tagged objects */
static int total, agree, known_hit, unlisted, unsafe, generated;
static int kern_n, kern_agree, kern_vs_exp, refusals, msg_match, runs, runs_ok;

struct tags {
	bool success, failure, auxiliary, has_retval;
	int64_t retval;
	char descr[256], msg[256];
};

static int64_t retval_of(const char *v)
{
	if (!strcmp(v, "INT_MIN"))
		return INT32_MIN;
	if (!strcmp(v, "POINTER_VALUE"))
		return 0xcafe4a11;
	if (!strcmp(v, "TEST_DATA_LEN"))
		return 64;
	return strtoll(v, NULL, 0);
}

static void read_tags(const struct btf *btf, const char *func, struct tags *t)
{
	memset(t, 0, sizeof(*t));
	for (uint32_t id = 1; id < btf__type_cnt(btf); id++) {
		const struct btf_type *x = btf__type_by_id(btf, id);
		if (!btf_is_decl_tag(x) || btf_decl_tag(x)->component_idx != -1)
			continue;
		const struct btf_type *fn = btf__type_by_id(btf, x->type);
		if (!fn || !btf_is_func(fn) || strcmp(btf__name_by_offset(btf, fn->name_off), func))
			continue;
		const char *tag = btf__name_by_offset(btf, x->name_off);
		if (!strcmp(tag, "comment:test_expect_success"))
			t->success = true;
		else if (!strcmp(tag, "comment:test_expect_failure"))
			t->failure = true;
		else if (!strcmp(tag, "comment:test_auxiliary"))
			t->auxiliary = true;
		else if (!strncmp(tag, "comment:test_retval=", 20)) {
			t->has_retval = true;
			t->retval = retval_of(tag + 20);
		} else if (!strncmp(tag, "comment:test_description=", 25))
			snprintf(t->descr, sizeof(t->descr), "%s", tag + 25);
		else if (!strncmp(tag, "comment:test_expect_msg=", 24) && !t->msg[0])
			snprintf(t->msg, sizeof(t->msg), "%s", tag + 24);
	}
}

/* The kernel's verdict on one program of the object (libbpf loads it alone);
 * with `ret`, also its BPF_PROG_TEST_RUN result on 64 zero bytes. */
static int kernel_obj_verdict(const char *path, const char *prog, bool want_run, int64_t *ret, bool *ran)
{
	*ran = false;
	if (kernel_ok == 0)
		return -1;
	struct bpf_object *o = bpf_object__open_file(path, NULL);
	if (!o)
		return -1;
	struct bpf_program *p, *me = NULL;
	bpf_object__for_each_program(p, o) {
		bool mine = !strcmp(bpf_program__name(p), prog);
		bpf_program__set_autoload(p, mine);
		if (mine)
			me = p;
	}
	int rc = -1;
	if (me) {
		errno = 0;
		if (!bpf_object__load(o)) {
			rc = 1;
			kernel_ok = 1;
			if (want_run) {
				uint8_t data[64] = { 0 };
				LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = data, .data_size_in = sizeof(data),
					    .repeat = 1);
				if (!bpf_prog_test_run_opts(bpf_program__fd(me), &t)) {
					*ret = (uint32_t)t.retval;
					*ran = true;
				}
			}
		} else if (errno == EPERM && kernel_ok < 0) {
			kernel_ok = 0;
		} else {
			rc = 0;
		}
	}
	bpf_object__close(o);
	return rc;
}

static void run_object(bpfrt_vm *vm, const char *path, bool verbose)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	char file[256];
	snprintf(file, sizeof(file), "%.*s", (int)strcspn(base, "."), base);
	struct btf *btf = btf__parse_elf(path, NULL);
	bpfrt_obj *obj = NULL;
	if (libbpf_get_error(btf) || bpfrt_obj_open(vm, path, &obj) != BPFRT_OK) {
		printf("FAIL %s: cannot open: %s\n", path, bpfrt_vm_errmsg(vm));
		unlisted++;
		if (!libbpf_get_error(btf))
			btf__free(btf);
		return;
	}
	for (size_t i = 0; i < bpfrt_obj_prog_count(obj); i++) {
		struct bpfrt_obj_prog_info pi;
		bpfrt_obj_prog_info(obj, i, &pi);
		struct tags t;
		read_tags(btf, pi.name, &t);
		if (t.auxiliary || (!t.success && !t.failure))
			continue; /* a helper program of the file, or one with no expectation */
		const char *descr = t.descr[0] ? t.descr : pi.name;
		total++;
		struct bpfrt_verify_opts vo = { .sz = sizeof(vo), .platform = BPFRT_PLATFORM_LINUX };
		struct bpfrt_verify_result r;
		int rc = bpfrt_obj_verify(obj, pi.name, &vo, &r);
		bool ours_reject = rc != BPFRT_OK;
		char ourwhy[600];
		tu_log_last_line(r.log, ourwhy, sizeof(ourwhy));
		if (ours_reject && t.failure) {
			refusals++;
			msg_match += t.msg[0] && r.log && strstr(r.log, t.msg);
		}
		bpfrt_verify_result_fini(&r);
		int64_t kret = 0;
		bool kran = false;
		int kern = kernel_obj_verdict(path, pi.name, t.success && t.has_retval, &kret, &kran);
		if (kern >= 0) {
			kern_n++;
			kern_agree += (kern == 0) == ours_reject;
			kern_vs_exp += (kern == 0) == t.failure;
		}
		bool ok = ours_reject == t.failure, unsafe_here = !ours_reject && (t.failure || kern == 0);
		/* the result, on every engine (and the kernel's, where it ran) */
		char runerr[300] = "";
		if (ok && !ours_reject && t.has_retval) {
			static const bpfrt_engine engines[] = { BPFRT_ENGINE_INTERP, BPFRT_ENGINE_JIT };
			for (size_t k = 0; k < 2 && !runerr[0]; k++) {
				struct bpfrt_load_opts lo = { .sz = sizeof(lo), .engine = engines[k] };
				bpfrt_prog *bp;
				uint64_t r0 = 0;
				uint8_t data[64] = { 0 };
				runs++;
				if (bpfrt_obj_load_prog(obj, pi.name, &lo, &bp) != BPFRT_OK) {
					snprintf(runerr, sizeof(runerr), "load: %s", bpfrt_vm_errmsg(vm));
					break;
				}
				if (bpfrt_prog_run_mem(bp, data, sizeof(data), &r0) != BPFRT_OK)
					snprintf(runerr, sizeof(runerr), "run: %s", bpfrt_prog_errmsg(bp));
				else if ((uint32_t)r0 != (uint32_t)t.retval)
					snprintf(runerr, sizeof(runerr), "%s returned %#x, expected %#x",
						 k ? "the JIT" : "the interpreter", (uint32_t)r0, (uint32_t)t.retval);
				else
					runs_ok++;
				bpfrt_prog_free(bp);
			}
			if (!runerr[0] && kran && (uint32_t)kret != (uint32_t)t.retval)
				snprintf(runerr, sizeof(runerr), "the kernel returned %#x, expected %#x", (uint32_t)kret,
					 (uint32_t)t.retval);
		}
		struct tu_known *k = tu_known_find(&known, file, descr);
		const char *kname = kern < 0 ? "n/a" : kern ? "accepts" : "refuses";
		if (ok && !unsafe_here && !runerr[0]) {
			agree++;
			if (k) {
				printf("FAIL fixed (drop it from the known list): %s: %s\n", file, descr);
				k->used = 1;
				unlisted++;
			} else if (verbose) {
				printf("ok %s: %s: %s\n", file, descr, ours_reject ? "refused" : "accepted");
			}
		} else if (k) {
			k->used = 1;
			known_hit++;
			printf("known: %s: %s: expected %s, bpfrt %s (kernel %s) %s%s [%s]\n", file, descr,
			       t.failure ? "refusal" : "acceptance", ours_reject ? "refuses" : "accepts", kname, ourwhy,
			       runerr, k->why);
		} else {
			unlisted++;
			unsafe += unsafe_here;
			printf("FAIL %s%s: %s: expected %s, bpfrt %s (kernel %s): %s%s\n", unsafe_here ? "unsafe accepted: " : "",
			       file, descr, t.failure ? "refusal" : "acceptance", ours_reject ? "refuses" : "accepts", kname,
			       ourwhy, runerr);
		}
	}
	bpfrt_obj_free(obj);
	btf__free(btf);
}

int main(int argc, char **argv)
{
	bool verbose = false;
	int first = 1;
	for (; first < argc && argv[first][0] == '-'; first++) {
		if (!strcmp(argv[first], "--known") && first + 1 < argc)
			tu_known_load(&known, argv[++first]);
		else if (!strcmp(argv[first], "--verbose"))
			verbose = true;
		else
			break;
	}
	if (first >= argc) {
		fprintf(stderr, "usage: %s [--known FILE] [--verbose] KVT...\n", argv[0]);
		return 2;
	}
	libbpf_set_print(NULL);
	vmlinux = btf__load_vmlinux_btf();
	if (libbpf_get_error(vmlinux))
		vmlinux = NULL;
	bpfrt_vm *vm = bpfrt_vm_new();
	for (int a = first; a < argc; a++) {
		size_t al = strlen(argv[a]);
		if (al > 2 && !strcmp(argv[a] + al - 2, ".o")) {
			run_object(vm, argv[a], verbose);
			continue;
		}
		FILE *f = fopen(argv[a], "r");
		if (!f) {
			perror(argv[a]);
			return 2;
		}
		const char *base = strrchr(argv[a], '/');
		base = base ? base + 1 : argv[a];
		char file[256];
		snprintf(file, sizeof(file), "%.*s", (int)strcspn(base, "."), base);
		struct kcase c;
		while (read_case(f, argv[a], &c)) {
			if (c.fill) { /* the kernel builds these at run time */
				generated++;
				if (verbose)
					printf("skip %s: %s: built by the kernel's %s generator\n", file, c.descr, c.fill);
				case_free(&c);
				continue;
			}
			if (c.skip) { /* the converter could not express it */
				generated++;
				if (verbose)
					printf("skip %s: %s: %s\n", file, c.descr, c.skip);
				case_free(&c);
				continue;
			}
			total++;
			/* the maps of the fixups, one per fixup as the kernel's harness */
			struct vf_map maps[32];
			struct prestate ps = { .c = &c };
			struct bpfrt_insn *in = malloc((c.n ? c.n : 1) * sizeof(*in));
			memcpy(in, c.insns, c.n * sizeof(*in));
			size_t nmaps = 0;
			for (int i = 0; i < c.nfix; i++) {
				const struct fixup *x = &c.fix[i];
				if (x->kind < 0 || (size_t)x->insn >= c.n)
					continue;
				maps[nmaps] = (struct vf_map){ kinds[x->kind].type, kinds[x->kind].key, kinds[x->kind].value,
							       kinds[x->kind].max, 0, -1, false, NULL, kinds[x->kind].name };
				in[x->insn].src = BPF_PSEUDO_MAP_IDX;
				in[x->insn].imm = (int32_t)nmaps++;
			}
			if (c.npre) {
				/* PREVAIL's fragments: map 0 the map of map_fd registers (its tests' map
				 * 1: 4-byte keys and values), then one array per shared region */
				maps[nmaps++] = (struct vf_map){ BPF_MAP_TYPE_HASH, 4, 4, 16, 0, -1, false, NULL, "map1" };
				for (int i = 0; i < c.npre; i++) {
					int r, off, size;
					if (sscanf(c.pre[i], "r%d shared %d %d", &r, &off, &size) == 3 && r >= 0 && r < 8 &&
					    nmaps < 32) {
						ps.shared_map[r] = (int)nmaps;
						maps[nmaps++] = (struct vf_map){ BPF_MAP_TYPE_ARRAY, 4, (uint32_t)size, 1, 0, -1,
										 false, NULL, "shared" };
					}
					unsigned psz;
					if (sscanf(c.pre[i], "packet_size %u", &psz) == 1) {
						ps.packet_size = psz;
						ps.has_packet_size = true;
					}
				}
			}
			struct vf_input vi = { .insns = in, .n = c.n, .prog_type = c.type, .maps = maps, .nmaps = nmaps,
					       .platform = VF_PLATFORM_LINUX, .helpers = &vm->helpers, .ctx_size = 64,
					       .init = c.npre ? pre_init : NULL, .init_arg = &ps };
			struct vf_result vr;
			int rc = bpfrt_verify(&vi, &vr);
			bool ours_reject = rc != BPFRT_OK;
			char ourwhy[600];
			tu_log_last_line(vr.log, ourwhy, sizeof(ourwhy));
			if (rc != BPFRT_OK && rc != BPFRT_EREJECT) {
				printf("FAIL %s: %s: the verifier failed (%d): %s\n", file, c.descr, rc, ourwhy);
				unlisted++;
			}
			if (ours_reject && c.reject) {
				refusals++;
				msg_match += c.errstr && vr.log && log_matches(vr.log, c.errstr);
			}
			char kwhy[600] = "";
			/* a fragment with a pre-state means nothing to the kernel */
			int kern = c.npre || c.type == 0 ? -1 : kernel_verdict(&c, kwhy, sizeof(kwhy));
			if (kern >= 0) {
				kern_n++;
				kern_agree += (kern == 0) == ours_reject;
				kern_vs_exp += (kern == 0) == c.reject;
				if ((kern == 0) != ours_reject)
					printf("note: %s: %s: this kernel %s%s%s, bpfrt %s (expected: %s)\n", file, c.descr,
					       kern ? "accepts" : "refuses", kwhy[0] ? ": " : "", kwhy,
					       ours_reject ? "refuses" : "accepts", c.reject ? "refusal" : "acceptance");
			}
			bool ok = ours_reject == c.reject;
			/* never accept what the kernel refuses, whatever the expectation says */
			bool unsafe_here = !ours_reject && (c.reject || kern == 0);
			struct tu_known *k = tu_known_find(&known, file, c.descr);
			if (!k && !(ok && !unsafe_here))
				k = find_class(file, ours_reject, ourwhy, c.errstr, c.why);
			const char *kname = kern < 0 ? "n/a" : kern ? "accepts" : "refuses";
			if (ok && !unsafe_here) {
				agree++;
				if (k) {
					printf("FAIL fixed (drop it from the known list): %s: %s\n", file, c.descr);
					k->used = 1;
					unlisted++;
				} else if (verbose) {
					printf("ok %s: %s: %s\n", file, c.descr, ours_reject ? "refused" : "accepted");
				}
			} else if (k) {
				k->used++;
				known_hit++;
				if (verbose || k->b[0] != '~')
				printf("known: %s: %s: expected %s, bpfrt %s (kernel %s%s%s): %s [%s]\n", file, c.descr,
				       c.reject ? "refusal" : "acceptance", ours_reject ? "refuses" : "accepts", kname,
				       kwhy[0] ? ": " : "", kwhy, ourwhy, k->why);
			} else {
				unlisted++;
				unsafe += unsafe_here;
				printf("FAIL %s%s: %s: expected %s, bpfrt %s (kernel %s%s%s): %s\n",
				       unsafe_here ? "unsafe accepted: " : "", file, c.descr,
				       c.reject ? "refusal" : "acceptance", ours_reject ? "refuses" : "accepts", kname,
				       kwhy[0] ? ": " : "", kwhy, ourwhy);
			}
			bpfrt_verify_result_free(&vr);
			free(in);
			case_free(&c);
		}
		fclose(f);
	}
	for (size_t i = 0; i < known.n; i++) {
		const struct tu_known *k = &known.v[i];
		if (!k->used) {
			printf("FAIL stale known entry: %s: %s\n", k->a, k->b);
			unlisted++;
		} else if (k->b[0] == '~') {
			printf("known class: %s %s: %d cases [%s]\n", k->a, k->b, k->used, k->why);
		}
	}
	printf("verifier tests: %d/%d agree with the expected verdicts (%.1f%%), %d known, %d unlisted, "
	       "%d unsafe accepted; %d not converted (built at run time, or not expressible)\n",
	       agree, total, total ? 100.0 * agree / total : 0, known_hit, unlisted, unsafe, generated);
	if (kern_n)
		printf("this kernel: loaded %d of them; bpfrt agrees with it on %d (%.1f%%); the kernel with the "
		       "expectations on %d\n", kern_n, kern_agree, 100.0 * kern_agree / kern_n, kern_vs_exp);
	else
		printf("this kernel: not used (bpf() refused, or no case it can load)\n");
	printf("refusals carrying the kernel's message: %d of %d; results checked on bpfrt's engines: %d of %d "
	       "runs right\n", msg_match, refusals, runs_ok, runs);
	printf("%d passed, %d failed\n", agree + known_hit, unlisted);
	btf__free(vmlinux);
	bpfrt_vm_free(vm);
	return unlisted != 0;
}
