/*
 * kload.c — loads a program of a bpfrt object into this machine's kernel,
 * for the tests and benchmarks that compare bpfrt's verifier with the
 * kernel's.  bpfrt's loader has already linked the program (subprograms
 * appended, map references as map indices); here each map of the object
 * becomes a kernel map, its references are patched to the map's fd, and the
 * program goes to bpf(BPF_PROG_LOAD) with log level BPF_LOG_STATS, whose
 * summary gives the kernel's own verification time.  Objects that libbpf
 * refuses (old iproute2 map definitions, unknown sections) load this way
 * too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "kload.h"
#include "obj.h"

static int make_map(const bpfrt_obj *obj, size_t i, int *fds)
{
	const struct obj_mapdef *m = &obj->maps[i];
	if (fds[i] >= 0)
		return fds[i];
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = m->flags);
	uint32_t max = m->max_entries, key = m->key_size, value = m->value_size;
	if (m->type == BPF_MAP_TYPE_PERF_EVENT_ARRAY) {
		key = value = 4;
		if (!max)
			max = (uint32_t)sysconf(_SC_NPROCESSORS_CONF);
	}
	if (m->type == BPF_MAP_TYPE_ARRAY_OF_MAPS || m->type == BPF_MAP_TYPE_HASH_OF_MAPS) {
		if (m->inner < 0 || (size_t)m->inner == i)
			return -1;
		int in = make_map(obj, (size_t)m->inner, fds);
		if (in < 0)
			return -1;
		o.inner_map_fd = (uint32_t)in;
		value = 4;
	}
	if (m->type == BPF_MAP_TYPE_LPM_TRIE)
		o.map_flags |= BPF_F_NO_PREALLOC;
	int fd = bpf_map_create(m->type, NULL, key, value, max ? max : 1, &o);
	if (fd < 0)
		return -1;
	if (m->kind == MAPDEF_DATA && m->data) {
		uint32_t zero = 0;
		if (bpf_map_update_elem(fd, &zero, m->data, 0) || (m->rodata && bpf_map_freeze(fd))) {
			close(fd);
			return -1;
		}
	}
	return fds[i] = fd;
}

int kload_obj_prog(bpfrt_obj *obj, const char *name, uint32_t type, struct kload_result *res)
{
	memset(res, 0, sizeof(*res));
	const struct obj_prog *p = NULL;
	for (size_t i = 0; i < obj->nprogs && !p; i++)
		if (!strcmp(obj->progs[i].name, name))
			p = &obj->progs[i];
	if (!p || p->link_err)
		return -1;
	int *fds = malloc((obj->nmaps + 1) * sizeof(*fds));
	struct bpf_insn *in = malloc((p->n + 1) * sizeof(*in));
	int rc = -1;
	if (!fds || !in)
		goto out;
	for (size_t i = 0; i < obj->nmaps; i++)
		fds[i] = -1;
	memcpy(in, p->insns, p->n * sizeof(*in));
	for (size_t k = 0; k + 1 < p->n; k++) {
		if (in[k].code != (BPF_LD | BPF_DW | BPF_IMM))
			continue;
		if (in[k].src_reg == BPF_PSEUDO_MAP_IDX || in[k].src_reg == BPF_PSEUDO_MAP_IDX_VALUE) {
			uint32_t mi = (uint32_t)in[k].imm;
			int fd = mi < obj->nmaps ? make_map(obj, mi, fds) : -1;
			if (fd < 0) {
				snprintf(res->why, sizeof(res->why), "map %s: the kernel cannot create it: %s",
					 mi < obj->nmaps ? obj->maps[mi].name : "?", strerror(errno));
				goto out;
			}
			in[k].src_reg = in[k].src_reg == BPF_PSEUDO_MAP_IDX ? BPF_PSEUDO_MAP_FD : BPF_PSEUDO_MAP_VALUE;
			in[k].imm = fd;
		}
		k++;
	}
	static char log[1 << 22];
	log[0] = 0;
	LIBBPF_OPTS(bpf_prog_load_opts, o, .log_buf = log, .log_size = sizeof(log), .log_level = 4);
	/* the attach type the section names (cgroup/connect4: BPF_CGROUP_INET4_CONNECT) */
	enum bpf_prog_type st;
	enum bpf_attach_type at;
	if (p->sec && !libbpf_prog_type_by_name(p->sec, &st, &at) && (uint32_t)st == type)
		o.expected_attach_type = at;
	if (type == BPF_PROG_TYPE_KPROBE || type == BPF_PROG_TYPE_TRACEPOINT)
		o.kern_version = 0xffffffff; /* old kernels checked it; current ones ignore it */
	int fd = bpf_prog_load(type, NULL, obj->license[0] ? obj->license : "GPL", in, p->n, &o);
	const char *dump = getenv("KLOAD_LOG"), *only = getenv("KLOAD_PROG");
	if (dump && only && !strcmp(only, name)) { /* debugging: the kernel's full log, level 2 */
		o.log_level = 2;
		log[0] = 0;
		int f2 = bpf_prog_load(type, NULL, obj->license[0] ? obj->license : "GPL", in, p->n, &o);
		if (f2 >= 0)
			close(f2);
		FILE *lf = fopen(dump, "w");
		if (lf) {
			fputs(log, lf);
			fclose(lf);
		}
	}
	if (fd >= 0) {
		close(fd);
		rc = 1;
		const char *v = strstr(log, "verification time ");
		const char *q = strstr(log, "processed ");
		unsigned long long us = 0, n = 0;
		if (v && sscanf(v, "verification time %llu usec", &us) == 1)
			res->verify_ns = (double)us * 1e3;
		if (q && sscanf(q, "processed %llu insns", &n) == 1)
			res->insns = n;
	} else if (errno == EPERM || errno == ENOSYS) {
		snprintf(res->why, sizeof(res->why), "bpf() refused: %s", strerror(errno));
	} else {
		rc = 0;
		/* again with the full log, for the reason */
		o.log_level = 1;
		log[0] = 0;
		fd = bpf_prog_load(type, NULL, obj->license[0] ? obj->license : "GPL", in, p->n, &o);
		if (fd >= 0)
			close(fd);
		size_t l = strlen(log);
		while (l && log[l - 1] == '\n')
			log[--l] = 0;
		char *last = strrchr(log, '\n');
		if (last && !strncmp(last + 1, "processed ", 10)) {
			*last = 0;
			last = strrchr(log, '\n');
		}
		snprintf(res->why, sizeof(res->why), "%s", last ? last + 1 : log);
	}
out:
	for (size_t i = 0; fds && i < obj->nmaps; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	free(in);
	return rc;
}
