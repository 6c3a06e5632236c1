/*
 * obj.c — the object API: open (elf.c parses), inspect, free.
 */
#include "obj.h"
#include "map.h"
#include "verifier.h"

#include <linux/bpf.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* The maps, created at open.  A map of a type bpfrt does not implement is
 * left NULL, with its reason kept: loading a program that uses it fails. */
static int create_maps(bpfrt_obj *o, struct bpfrt_err *err)
{
	o->live = calloc(o->nmaps ? o->nmaps : 1, sizeof(*o->live));
	o->why = calloc(o->nmaps ? o->nmaps : 1, sizeof(*o->why));
	if (!o->live || !o->why)
		return bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
	for (size_t i = 0; i < o->nmaps; i++) {
		struct obj_mapdef *d = &o->maps[i];
		struct bpfrt_err e = { 0 };
		int rc = bpfrt_map_create(d->type, d->key_size, d->value_size, d->max_entries, d->flags,
					  d->name, &o->live[i], &e);
		if (rc == BPFRT_ENOMEM)
			return bpfrt_err_set(err, rc, "%s", e.msg);
		if (rc != BPFRT_OK) {
			o->why[i] = strdup(e.msg);
			continue;
		}
		if (d->kind == MAPDEF_DATA) /* global data: its initial value */
			memcpy(o->live[i]->values, d->data, d->value_size);
	}
	/* map-in-map: the inner template, and `.values = { [i] = &map }` */
	for (size_t i = 0; i < o->nmaps; i++) {
		struct obj_mapdef *d = &o->maps[i];
		if (!o->live[i])
			continue;
		if (d->inner >= 0)
			o->live[i]->inner = o->live[d->inner];
		for (size_t k = 0; k < d->nslots; k++) {
			if (d->slots[k].is_prog)
				continue; /* prog_array slots are set as the programs load */
			bpfrt_map *target = bpfrt_obj_map_by_name(o, d->slots[k].target);
			if (!target) { /* an inner map bpfrt cannot make: the outer one is unusable too */
				char *why = NULL;
				if (asprintf(&why, "map %s: its .values[%u], map %s, is not available", d->name,
					     d->slots[k].slot, d->slots[k].target) < 0)
					return bpfrt_err_set(err, BPFRT_ENOMEM, "out of memory");
				bpfrt_map_put(o->live[i]);
				o->live[i] = NULL;
				o->why[i] = why;
				break;
			}
			uint32_t key = d->slots[k].slot;
			if (bpfrt_map_update_inner(o->live[i], &key, target) < 0)
				return bpfrt_err_set(err, BPFRT_EREJECT, "map %s: .values[%u] = %s: the inner "
						     "map does not match", d->name, key, target->name);
		}
	}
	return BPFRT_OK;
}

void bpfrt_obj_maps_free(bpfrt_obj *obj)
{
	/* prog_arrays first lose their programs: a program refers to the
	 * array it tail-calls through, which would otherwise keep both alive
	 * (the kernel clears them when their last user goes, likewise) */
	for (size_t i = 0; obj->live && i < obj->nmaps; i++)
		if (obj->live[i] && obj->live[i]->type == BPF_MAP_TYPE_PROG_ARRAY)
			for (uint32_t k = 0; k < obj->live[i]->max_entries; k++)
				bpfrt_map_update_prog(obj->live[i], k, NULL);
	for (size_t i = 0; obj->live && i < obj->nmaps; i++)
		bpfrt_map_put(obj->live[i]);
	for (size_t i = 0; obj->why && i < obj->nmaps; i++)
		free(obj->why[i]);
	free(obj->live);
	free(obj->why);
	obj->live = NULL;
	obj->why = NULL;
}

bpfrt_map *bpfrt_obj_map(bpfrt_obj *obj, size_t i)
{
	return obj && obj->live && i < obj->nmaps ? obj->live[i] : NULL;
}

bpfrt_map *bpfrt_obj_map_by_name(bpfrt_obj *obj, const char *name)
{
	for (size_t i = 0; obj && name && i < obj->nmaps; i++)
		if (!strcmp(obj->maps[i].name, name))
			return bpfrt_obj_map(obj, i);
	return NULL;
}

int bpfrt_obj_reuse_map(bpfrt_obj *obj, const char *name, bpfrt_map *from)
{
	if (!obj || !name || !from)
		return BPFRT_EINVAL;
	for (size_t i = 0; i < obj->nmaps; i++) {
		struct obj_mapdef *d = &obj->maps[i];
		if (strcmp(d->name, name))
			continue;
		if (d->type != from->type || d->key_size != from->key_size ||
		    d->value_size != from->value_size || d->max_entries != from->max_entries)
			return bpfrt_vm_fail(obj->vm, BPFRT_EINVAL, "map %s: %s %u/%u/%u does not match the "
					     "shared map's %s %u/%u/%u", name, bpfrt_map_type_name(d->type),
					     d->key_size, d->value_size, d->max_entries,
					     bpfrt_map_type_name(from->type), from->key_size, from->value_size,
					     from->max_entries);
		__atomic_add_fetch(&from->refs, 1, __ATOMIC_RELAXED);
		bpfrt_map_put(obj->live[i]);
		obj->live[i] = from;
		return BPFRT_OK;
	}
	return bpfrt_vm_fail(obj->vm, BPFRT_EINVAL, "the object has no map %s", name);
}

int bpfrt_obj_load_prog(bpfrt_obj *obj, const char *name, const struct bpfrt_load_opts *opts,
			bpfrt_prog **out)
{
	if (!obj || !out)
		return BPFRT_EINVAL;
	*out = NULL;
	const struct obj_prog *p = NULL;
	for (size_t i = 0; i < obj->nprogs && !p; i++)
		if (!name || !strcmp(obj->progs[i].name, name))
			p = &obj->progs[i];
	if (!p)
		return bpfrt_vm_fail(obj->vm, BPFRT_EINVAL, "%s: no program %s", obj->name, name);
	if (p->link_err)
		return bpfrt_vm_fail(obj->vm, BPFRT_ENOTSUP, "%s: %s", obj->name, p->link_err);
	/* the verifier first, on the bpfrt platform (what this runtime can run) */
	struct vf_result vr = { 0 };
	bool trusted = opts && opts->sz >= offsetof(struct bpfrt_load_opts, engine) &&
		       (opts->flags & BPFRT_LOAD_TRUSTED);
	if (!trusted) {
		int vrc = bpfrt_obj_verify_internal(obj, (size_t)(p - obj->progs), VF_PLATFORM_BPFRT, 0, &vr);
		if (vrc != BPFRT_OK) {
			if (vr.log) {
				size_t l = strlen(vr.log);
				if (l && vr.log[l - 1] == '\n')
					vr.log[l - 1] = '\0';
			}
			bpfrt_vm_fail(obj->vm, vrc, "%s: program %s: refused by the verifier: %s", obj->name, p->name,
				      vr.log ? vr.log : "out of memory");
			bpfrt_verify_result_free(&vr);
			return vrc;
		}
	}
	struct bpfrt_insn *in = malloc((p->n ? p->n : 1) * sizeof(*in));
	struct bpfrt_region *regions = calloc(p->nmaps_used + 1, sizeof(*regions));
	bpfrt_map **maps = calloc(p->nmaps_used + 1, sizeof(*maps));
	size_t nregions = 0, nmaps = 0;
	bool percpu = false;
	int rc = BPFRT_OK;
	if (!in || !regions || !maps) {
		rc = bpfrt_vm_fail(obj->vm, BPFRT_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(in, p->insns, p->n * sizeof(*in));
	/* map references become plain lddw of the map or of the value's address */
	for (size_t pc = 0; pc + 1 < p->n; pc++) {
		if (in[pc].code != 0x18)
			continue;
		uint8_t src = in[pc].src;
		if (src == BPF_PSEUDO_MAP_IDX || src == BPF_PSEUDO_MAP_IDX_VALUE) {
			uint32_t mi = (uint32_t)in[pc].imm;
			bpfrt_map *m = bpfrt_obj_map(obj, mi);
			if (!m) {
				rc = bpfrt_vm_fail(obj->vm, BPFRT_ENOTSUP, "%s: program %s: insn %zu: %s", obj->name,
						   p->name, pc, mi < obj->nmaps && obj->why[mi] ? obj->why[mi] :
						   "no such map");
				goto out;
			}
			uintptr_t v = (uintptr_t)m;
			if (src == BPF_PSEUDO_MAP_IDX_VALUE) {
				uint32_t off = (uint32_t)in[pc + 1].imm;
				if (!m->values || m->ncpu > 1 || off >= m->value_size) {
					rc = bpfrt_vm_fail(obj->vm, BPFRT_EREJECT, "%s: program %s: insn %zu: direct "
							   "value access to map %s at offset %u", obj->name, p->name,
							   pc, m->name, off);
					goto out;
				}
				v = (uintptr_t)m->values + off;
			}
			in[pc].src = 0;
			in[pc].imm = (int32_t)(uint32_t)v;
			in[pc + 1].imm = (int32_t)(uint32_t)((uint64_t)v >> 32);
			bool seen = false;
			for (size_t k = 0; k < nmaps; k++)
				seen |= maps[k] == m;
			if (!seen && nmaps < p->nmaps_used) {
				maps[nmaps++] = m;
				percpu |= m->ncpu > 1;
				if (m->values && m->ncpu == 1) /* direct access: safe mode allows the values */
					regions[nregions++] = (struct bpfrt_region){ (uintptr_t)m->values,
						(uintptr_t)m->values + (size_t)m->stride * m->max_entries };
			}
		}
		pc++;
	}
	struct bpfrt_load_opts o = { .sz = sizeof(o) };
	if (opts)
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	o.sz = sizeof(o);
	o.flags &= ~BPFRT_LOAD_VERIFY; /* done above, on the object's form */
	if (!o.name)
		o.name = p->name;
	struct bpfrt_facts facts = { &vr, obj->live, obj->nmaps, p->type };
	rc = bpfrt_prog_load_verified(obj->vm, in, p->n, &o, trusted ? NULL : &facts, out);
	if (rc == BPFRT_OK) {
		bpfrt_prog *pr = *out;
		for (size_t k = 0; k < nmaps; k++)
			__atomic_add_fetch(&maps[k]->refs, 1, __ATOMIC_RELAXED);
		pr->maps = maps;
		pr->nmaps = nmaps;
		pr->regions = regions;
		pr->nregions = nregions;
		pr->needs_rcu = bpfrt_maps_need_rcu(maps, nmaps);
		pr->type = p->type;
		pr->sec = p->sec ? strdup(p->sec) : NULL;
		pr->verified = !trusted;
		pr->ctx_ptrs = vr.ctx_ptrs;
		pr->ctx_need = vr.ctx_max;
		/* line info, for dumps (best effort: none if memory runs out) */
		if (p->nlines && (pr->lines = calloc(p->nlines, sizeof(*pr->lines)))) {
			for (size_t k = 0; k < p->nlines; k++)
				if ((pr->lines[pr->nlines].text = strdup(p->lines[k].text)))
					pr->lines[pr->nlines++].insn = p->lines[k].insn;
		}
		/* its subprograms' names (best effort, as line info) */
		if (p->nfuncs && (pr->funcs = calloc(p->nfuncs, sizeof(*pr->funcs)))) {
			for (size_t k = 0; k < p->nfuncs; k++)
				if ((pr->funcs[pr->nfuncs].name = strdup(p->funcs[k].name)))
					pr->funcs[pr->nfuncs++].insn = p->funcs[k].insn;
		}
		/* `.values = { [i] = &this_program }` of the object's prog_arrays */
		for (size_t mi = 0; mi < obj->nmaps; mi++)
			for (size_t k = 0; k < obj->maps[mi].nslots; k++)
				if (obj->maps[mi].slots[k].is_prog && obj->live[mi] &&
				    !strcmp(obj->maps[mi].slots[k].target, p->name))
					bpfrt_map_update_prog(obj->live[mi], obj->maps[mi].slots[k].slot, pr);
		pr->needs_cpu_slot |= percpu;
		maps = NULL;
		regions = NULL;
	}
out:
	bpfrt_verify_result_free(&vr);
	free(in);
	free(regions);
	free(maps);
	return rc;
}

int bpfrt_obj_open_mem(bpfrt_vm *vm, const void *buf, size_t len, const char *name, bpfrt_obj **out)
{
	if (!vm)
		return BPFRT_EINVAL;
	if (!out || (!buf && len))
		return bpfrt_vm_fail(vm, BPFRT_EINVAL, "bpfrt_obj_open_mem: NULL argument");
	*out = NULL;
	bpfrt_obj *o = calloc(1, sizeof(*o));
	if (!o || !(o->name = strdup(name ? name : "object"))) {
		free(o);
		return bpfrt_vm_fail(vm, BPFRT_ENOMEM, "out of memory");
	}
	o->vm = vm;
	/* libelf reads the buffer in place (and may write to it): a copy */
	void *copy = malloc(len ? len : 1);
	struct bpfrt_err err = { 0 };
	int rc;
	if (!copy) {
		rc = bpfrt_err_set(&err, BPFRT_ENOMEM, "out of memory");
	} else {
		memcpy(copy, buf, len);
		rc = bpfrt_elf_parse(o, copy, len, &err);
		free(copy);
	}
	if (rc == BPFRT_OK)
		rc = create_maps(o, &err);
	if (rc != BPFRT_OK) {
		bpfrt_vm_fail(vm, rc, "%s: %s", o->name, err.msg);
		bpfrt_obj_free(o);
		return rc;
	}
	*out = o;
	return BPFRT_OK;
}

int bpfrt_obj_open(bpfrt_vm *vm, const char *path, bpfrt_obj **out)
{
	if (!vm)
		return BPFRT_EINVAL;
	if (!path || !out)
		return bpfrt_vm_fail(vm, BPFRT_EINVAL, "bpfrt_obj_open: NULL argument");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return bpfrt_vm_fail(vm, BPFRT_EINVAL, "%s: %s", path, fd < 0 || !e ? strerror(e ? e : EINVAL) :
				     strerror(e));
	}
	if (st.st_size > (1ll << 30)) {
		close(fd);
		return bpfrt_vm_fail(vm, BPFRT_EINVAL, "%s: too large", path);
	}
	size_t len = (size_t)st.st_size;
	uint8_t *buf = malloc(len ? len : 1);
	size_t got = 0;
	while (buf && got < len) {
		ssize_t r = read(fd, buf + got, len - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (!buf || got != len) {
		free(buf);
		return bpfrt_vm_fail(vm, buf ? BPFRT_EINVAL : BPFRT_ENOMEM, "%s: cannot read", path);
	}
	int rc = bpfrt_obj_open_mem(vm, buf, len, path, out);
	free(buf);
	return rc;
}

void bpfrt_obj_free(bpfrt_obj *obj)
{
	if (!obj)
		return;
	bpfrt_obj_maps_free(obj);
	bpfrt_obj_defs_free(obj);
	free(obj->name);
	free(obj);
}

size_t bpfrt_obj_prog_count(const bpfrt_obj *obj)
{
	return obj ? obj->nprogs : 0;
}

int bpfrt_obj_prog_info(const bpfrt_obj *obj, size_t i, struct bpfrt_obj_prog_info *info)
{
	if (!obj || !info || i >= obj->nprogs)
		return BPFRT_EINVAL;
	const struct obj_prog *p = &obj->progs[i];
	const struct bpfrt_custom_type *ct = bpfrt_vm_custom_type(obj->vm, p->type);
	*info = (struct bpfrt_obj_prog_info){ p->name, p->sec, ct ? ct->name : bpfrt_prog_type_name(p->type), p->type,
					      p->n, p->maps_used, p->nmaps_used };
	return BPFRT_OK;
}

size_t bpfrt_obj_map_count(const bpfrt_obj *obj)
{
	return obj ? obj->nmaps : 0;
}

int bpfrt_obj_map_info(const bpfrt_obj *obj, size_t i, struct bpfrt_obj_map_info *info)
{
	if (!obj || !info || i >= obj->nmaps)
		return BPFRT_EINVAL;
	const struct obj_mapdef *m = &obj->maps[i];
	*info = (struct bpfrt_obj_map_info){ m->name, bpfrt_map_type_name(m->type), m->type, m->key_size,
					     m->value_size, m->max_entries, m->flags, m->inner,
					     m->kind == MAPDEF_DATA };
	return BPFRT_OK;
}

const char *bpfrt_obj_license(const bpfrt_obj *obj)
{
	return obj ? obj->license : "";
}

/* ------------------------------------------------------------- verifier */

static int obj_prog_index(const bpfrt_obj *obj, const char *name)
{
	for (size_t i = 0; i < obj->nprogs; i++)
		if (!name || !strcmp(obj->progs[i].name, name))
			return (int)i;
	return -1;
}

static const char *prog_line(void *arg, size_t insn)
{
	return bpfrt_obj_line(arg, insn);
}

int bpfrt_obj_verify_internal(bpfrt_obj *obj, size_t pi, int platform, unsigned level, struct vf_result *vr)
{
	const struct obj_prog *p = &obj->progs[pi];
	struct vf_map *maps = calloc(obj->nmaps ? obj->nmaps : 1, sizeof(*maps));
	if (!maps)
		return BPFRT_ENOMEM;
	for (size_t i = 0; i < obj->nmaps; i++) {
		const struct obj_mapdef *d = &obj->maps[i];
		/* .rodata: the verifier folds loads from it into constants.  To run, the
		 * live map's contents count, frozen from now on; to verify only, the
		 * object's initial ones */
		const uint8_t *data = d->rodata ? d->data : NULL;
		if (d->rodata && platform == VF_PLATFORM_BPFRT) {
			data = NULL;
			bpfrt_map *live = obj->live ? obj->live[i] : NULL;
			if (live && live->type == BPF_MAP_TYPE_ARRAY && live->values && live->value_size == d->value_size) {
				bpfrt_map_freeze(live);
				data = live->values;
			}
		}
		maps[i] = (struct vf_map){ d->type, d->key_size, d->value_size, d->max_entries, d->flags,
					   d->inner, d->rodata, data, d->name };
	}
	/* a section libbpf does not name (old objects: "2/1", "from-netdev"): as XDP
	 * if the object's name says so, else as a tc classifier, the most permissive
	 * socket-buffer program (PREVAIL's rule) */
	uint32_t type = p->type;
	if (!type) {
		const char *base = strrchr(obj->name, '/');
		type = strstr(base ? base : obj->name, "xdp") ? BPF_PROG_TYPE_XDP : BPF_PROG_TYPE_SCHED_CLS;
	}
	struct vf_input in = { .insns = p->insns, .n = p->n, .prog_type = type, .maps = maps,
			       .nmaps = obj->nmaps, .platform = platform, .helpers = &obj->vm->helpers,
			       .log_level = level, .line = prog_line, .line_arg = (void *)p,
			       .custom = bpfrt_vm_custom_type(obj->vm, type) };
	int rc = bpfrt_verify(&in, vr);
	free(maps);
	return rc;
}

int bpfrt_obj_verify(bpfrt_obj *obj, const char *name, const struct bpfrt_verify_opts *opts,
		     struct bpfrt_verify_result *res)
{
	if (!obj || !res)
		return BPFRT_EINVAL;
	memset(res, 0, sizeof(*res));
	res->insn = UINT32_MAX;
	struct bpfrt_verify_opts o = { .sz = sizeof(o) };
	if (opts)
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	int pi = obj_prog_index(obj, name);
	if (pi < 0)
		return res->status = bpfrt_vm_fail(obj->vm, BPFRT_EINVAL, "%s: no program %s", obj->name,
						   name ? name : "");
	if (obj->progs[pi].link_err)
		return res->status = bpfrt_vm_fail(obj->vm, BPFRT_ENOTSUP, "%s: %s", obj->name,
						   obj->progs[pi].link_err);
	struct vf_result vr;
	int rc = bpfrt_obj_verify_internal(obj, (size_t)pi, o.platform == BPFRT_PLATFORM_LINUX ? VF_PLATFORM_LINUX
									: VF_PLATFORM_BPFRT, o.log_level, &vr);
	res->status = rc;
	res->insn = vr.err_insn;
	res->log = vr.log;
	vr.log = NULL;
	res->processed = vr.processed;
	res->states = vr.states;
	res->peak_states = vr.peak_states;
	res->pruned = vr.pruned;
	res->ns = vr.ns;
	res->stack_depth = vr.nsub ? vr.sub[0].stack_depth : 0;
	res->tail_call_reachable = vr.tail_call_reachable;
	bpfrt_verify_result_free(&vr);
	if (rc && rc != BPFRT_EREJECT && !res->log)
		bpfrt_vm_fail(obj->vm, rc, "%s: %s: could not verify", obj->name, obj->progs[pi].name);
	return rc;
}

void bpfrt_verify_result_fini(struct bpfrt_verify_result *res)
{
	if (res) {
		free(res->log);
		res->log = NULL;
	}
}
