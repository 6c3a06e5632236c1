/*
 * agent.c — libbpfrt-agent.so, the LD_PRELOAD agent of `bpfrt trace`.
 *
 * Loaded into an unmodified program before its main, it opens the object
 * named by BPFRT_TRACE_OBJ, loads each fentry / fexit / fmod_ret / kprobe /
 * kretprobe / uprobe / uretprobe program and attaches it to the function
 * its section names (the executable's or
 * a library's, by symbol), prints bpf_trace_printk lines as they come, and
 * at exit prints the object's maps: global variables by name (from BTF),
 * other maps as key: value.
 *
 *   BPFRT_TRACE_OBJ     the object (required)
 *   BPFRT_TRACE_NARGS   FUNC=N,...: argument counts (fexit and fmod_ret need them)
 *   BPFRT_TRACE_OUT     where to write (default: standard error, duplicated at
 *                       start, so that a program closing its stderr at exit
 *                       does not silence us)
 *   BPFRT_TRACE_FOLLOW  set: child processes are traced too (the agent
 *                       otherwise removes itself from their environment)
 *
 * Output is lost if the program ends by _exit or a signal (no atexit).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "bpfrt.h"

static FILE *out;
static bpfrt_obj *obj;
static const char *obj_path;

static void sink(void *arg, const char *line)
{
	(void)arg;
	size_t n = strlen(line);
	fprintf(out, "%s%s", line, n && line[n - 1] == '\n' ? "" : "\n");
	fflush(out);
}

static int nargs_of(const char *fn)
{
	const char *spec = getenv("BPFRT_TRACE_NARGS");
	size_t len = strlen(fn);
	for (const char *p = spec; p && *p;) {
		if (!strncmp(p, fn, len) && p[len] == '=')
			return atoi(p + len + 1);
		p = strchr(p, ',');
		p = p ? p + 1 : NULL;
	}
	return BPFRT_NARGS_UNKNOWN;
}

static void print_value(const unsigned char *v, size_t n)
{
	if (n == 1 || n == 2 || n == 4 || n == 8) {
		unsigned long long x = 0;
		memcpy(&x, v, n);
		fprintf(out, "%llu", x);
		return;
	}
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%02x", v[i]);
}

/* a global-data map: its variables by name, from the object's BTF */
static bool print_vars(const struct btf *btf, const char *sec, const unsigned char *val, size_t vlen)
{
	if (!btf)
		return false;
	int id = btf__find_by_name_kind(btf, sec, BTF_KIND_DATASEC);
	if (id < 0)
		return false;
	const struct btf_type *t = btf__type_by_id(btf, (unsigned)id);
	const struct btf_var_secinfo *vs = btf_var_secinfos(t);
	for (unsigned i = 0; i < btf_vlen(t); i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);
		if (vs->offset + vs->size > vlen)
			continue;
		fprintf(out, "  %s = ", btf__name_by_offset(btf, var->name_off));
		/* char arrays as strings */
		const struct btf_type *vt = btf__type_by_id(btf, btf__resolve_type(btf, var->type));
		const struct btf_type *et = vt && btf_is_array(vt) ?
			btf__type_by_id(btf, btf__resolve_type(btf, btf_array(vt)->type)) : NULL;
		if (et && btf_is_int(et) && et->size == 1)
			fprintf(out, "\"%.*s\"", (int)strnlen((const char *)val + vs->offset, vs->size),
				(const char *)val + vs->offset);
		else
			print_value(val + vs->offset, vs->size);
		fprintf(out, "\n");
	}
	return true;
}

static void print_maps(void)
{
	/* libbpf's open (no kernel needed) fills in the variables' offsets */
	libbpf_set_print(NULL);
	struct bpf_object *lo = bpf_object__open_file(obj_path, NULL);
	const struct btf *btf = lo ? bpf_object__btf(lo) : NULL;
	for (size_t i = 0; i < bpfrt_obj_map_count(obj); i++) {
		struct bpfrt_obj_map_info oi;
		bpfrt_map *m = bpfrt_obj_map(obj, i);
		struct bpfrt_map_info mi;
		if (!m || bpfrt_obj_map_info(obj, i, &oi) || bpfrt_map_info(m, &mi) || !strcmp(mi.type, "prog_array") ||
		    strstr(mi.type, "of_maps") || !strcmp(mi.type, "ringbuf"))
			continue;
		size_t vlen = mi.ncpu > 1 ? ((mi.value_size + 7) & ~7u) * mi.ncpu : mi.value_size;
		unsigned char *key = calloc(1, mi.key_size + 1), *next = calloc(1, mi.key_size + 1),
			      *val = calloc(1, vlen + 1);
		fprintf(out, "map %s (%s):\n", mi.name, mi.type);
		bool have = false;
		while (key && next && val && bpfrt_map_get_next_key(m, have ? key : NULL, next) == 0) {
			memcpy(key, next, mi.key_size);
			have = true;
			if (bpfrt_map_lookup(m, key, val))
				continue;
			const char *sec = strchr(mi.name, '.');
			if (oi.is_global_data && sec && print_vars(btf, sec, val, vlen))
				continue;
			fprintf(out, "  ");
			print_value(key, mi.key_size);
			fprintf(out, ": ");
			print_value(val, vlen);
			fprintf(out, "\n");
		}
		free(key);
		free(next);
		free(val);
	}
	bpf_object__close(lo);
	fflush(out);
}

static void agent_exit(void)
{
	if (obj)
		print_maps();
}

__attribute__((constructor)) static void agent_init(void)
{
	obj_path = getenv("BPFRT_TRACE_OBJ");
	if (!obj_path)
		return;
	obj_path = strdup(obj_path);
	const char *to = getenv("BPFRT_TRACE_OUT");
	int fd = to && *to ? open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : fcntl(2, F_DUPFD_CLOEXEC, 3);
	out = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!out)
		out = stderr;
	if (!getenv("BPFRT_TRACE_FOLLOW")) {
		unsetenv("LD_PRELOAD");
		unsetenv("BPFRT_TRACE_OBJ");
	}
	bpfrt_vm *vm = bpfrt_vm_new();
	if (!vm)
		return;
	bpfrt_vm_set_trace(vm, sink, NULL);
	if (bpfrt_obj_open(vm, obj_path, &obj) != BPFRT_OK) {
		fprintf(out, "bpfrt trace: %s\n", bpfrt_vm_errmsg(vm));
		obj = NULL;
		return;
	}
	size_t attached = 0;
	for (size_t i = 0; i < bpfrt_obj_prog_count(obj); i++) {
		struct bpfrt_obj_prog_info pi;
		if (bpfrt_obj_prog_info(obj, i, &pi))
			continue;
		static const char *const kinds[] = { "fentry", "fexit", "fmod_ret", "kprobe", "kretprobe",
						     "uprobe", "uretprobe" };
		bool tracing = false;
		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
			tracing = tracing || !strncmp(pi.section, kinds[k], strlen(kinds[k]));
		const char *fn = strchr(pi.section, '/');
		if (!tracing || !fn)
			continue;
		fn = strrchr(fn, ':') ? strrchr(fn, ':') + 1 : fn + 1; /* uprobe/PATH:FUNC */
		bpfrt_prog *p;
		if (bpfrt_obj_load_prog(obj, pi.name, NULL, &p) != BPFRT_OK) {
			fprintf(out, "bpfrt trace: %s: %s\n", pi.name, bpfrt_vm_errmsg(vm));
			continue;
		}
		struct bpfrt_attach_opts ao = { .sz = sizeof(ao), .nargs = nargs_of(fn) };
		bpfrt_link *l;
		if (bpfrt_prog_attach_symbol(p, fn, &ao, &l) != BPFRT_OK) {
			fprintf(out, "bpfrt trace: %s: %s\n", pi.name, bpfrt_prog_errmsg(p));
			bpfrt_prog_free(p);
			continue;
		}
		attached++;
	}
	if (!attached)
		fprintf(out, "bpfrt trace: no program attached\n");
	fflush(out);
	atexit(agent_exit);
}
