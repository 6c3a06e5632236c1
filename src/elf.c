/*
 * elf.c — the ELF loader: BPF objects as clang -target bpf and libbpf's
 * conventions make them.
 *
 *   sections    program sections (executable, not .text), .text (the
 *               subprograms), maps (legacy struct bpf_map_def), .maps (BTF
 *               map definitions), .data/.rodata/.bss[.*] (global data),
 *               license, .BTF, .BTF.ext (line info, for messages),
 *               .rel<section> (relocations)
 *   programs    each global function of a program section (or the whole
 *               section when it has no function symbol), with the .text
 *               subprograms it calls appended, as libbpf does
 *   relocations calls and function references into .text; map references
 *               (LDDW → src 5, imm = map index); global data (LDDW → src 6,
 *               map index and offset); `.values` of prog_array and
 *               map-in-map definitions
 *
 * Everything is read through libelf, and every offset, index and size is
 * checked before use: a malformed object is refused with a message naming
 * what is wrong, never read out of bounds.
 */
#include "obj.h"

#include <bpf/btf.h>
#include <gelf.h>
#include <libelf.h>
#include <linux/bpf.h>

#ifndef EM_BPF
#define EM_BPF 247
#endif
#define R_BPF_64_64 1
#define R_BPF_64_ABS64 2
#define R_BPF_64_ABS32 3
#define R_BPF_64_NODYLD32 4
#define R_BPF_64_32 10

struct sec {
	const char *name;
	GElf_Shdr sh;
	Elf_Data *data;
	int kind; /* S_* */
	int map;  /* data sections: the map index */
};
enum { S_OTHER, S_PROG, S_TEXT, S_LEGACY_MAPS, S_BTF_MAPS, S_DATA, S_REL };

struct ctx {
	bpfrt_obj *obj;
	Elf *elf;
	struct sec *sec;
	size_t nsec;
	Elf_Data *symtab;
	size_t nsym;
	int symtab_shndx;
	int strtab_shndx;
	struct btf *btf;
	const uint8_t *btf_ext;  /* .BTF.ext, or NULL */
	size_t btf_ext_len;
	struct bpfrt_err *err;
};

static int fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct ctx *c, const char *fmt, ...)
{
	char tmp[BPFRT_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	bpfrt_vfmt(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	return bpfrt_err_set(c->err, BPFRT_EREJECT, "%s", tmp);
}

static int oom(struct ctx *c)
{
	return bpfrt_err_set(c->err, BPFRT_ENOMEM, "out of memory");
}

static bool get_sym(struct ctx *c, size_t i, GElf_Sym *sym)
{
	return i < c->nsym && gelf_getsym(c->symtab, (int)i, sym) != NULL;
}

static const char *sym_name(struct ctx *c, const GElf_Sym *sym)
{
	const char *n = elf_strptr(c->elf, (size_t)c->strtab_shndx, sym->st_name);
	return n ? n : "";
}

/* ------------------------------------------------------------ map defs */

static int add_map(struct ctx *c, struct obj_mapdef **out)
{
	bpfrt_obj *o = c->obj;
	struct obj_mapdef *m = realloc(o->maps, (o->nmaps + 1) * sizeof(*m));
	if (!m)
		return oom(c);
	o->maps = m;
	*out = &m[o->nmaps++];
	memset(*out, 0, sizeof(**out));
	(*out)->inner = -1;
	(*out)->legacy_inner = -1;
	return BPFRT_OK;
}

static int legacy_maps(struct ctx *c, int shndx)
{
	struct sec *s = &c->sec[shndx];
	/* each symbol in the section is one map; their definitions share a size */
	size_t count = 0;
	for (size_t i = 0; i < c->nsym; i++) {
		GElf_Sym sym;
		if (get_sym(c, i, &sym) && sym.st_shndx == (size_t)shndx &&
		    GELF_ST_TYPE(sym.st_info) != STT_SECTION && sym_name(c, &sym)[0])
			count++;
	}
	if (!count)
		return BPFRT_OK;
	size_t size = s->data ? s->data->d_size : 0;
	size_t def = size / count;
	if (def < 20 || !s->data || !s->data->d_buf || s->sh.sh_type == SHT_NOBITS)
		return fail(c, "section %s: %zu map definitions in %zu bytes: too small (struct "
			    "bpf_map_def has 20)", s->name, count, size);
	for (size_t i = 0; i < c->nsym; i++) {
		GElf_Sym sym;
		if (!get_sym(c, i, &sym) || sym.st_shndx != (size_t)shndx ||
		    GELF_ST_TYPE(sym.st_info) == STT_SECTION || !sym_name(c, &sym)[0])
			continue;
		if (sym.st_value > size || size - sym.st_value < 20)
			return fail(c, "map %s: its definition at offset %" PRIu64 " is past the end of "
				    "section %s", sym_name(c, &sym), (uint64_t)sym.st_value, s->name);
		uint32_t f[5];
		memcpy(f, (const uint8_t *)s->data->d_buf + sym.st_value, sizeof(f));
		struct obj_mapdef *m;
		int rc = add_map(c, &m);
		if (rc)
			return rc;
		if (!(m->name = strdup(sym_name(c, &sym))))
			return oom(c);
		m->kind = MAPDEF_LEGACY;
		m->type = f[0];
		m->key_size = f[1];
		m->value_size = f[2];
		m->max_entries = f[3];
		m->flags = f[4];
		m->sec_off = sym.st_value;
		m->shndx = shndx;
		/* samples/bpf's struct bpf_load_map_def goes on with inner_map_idx:
		 * the index, in definition order, of a map-in-map's inner map */
		if (def >= 24 && (m->type == BPF_MAP_TYPE_ARRAY_OF_MAPS || m->type == BPF_MAP_TYPE_HASH_OF_MAPS)) {
			uint32_t idx;
			memcpy(&idx, (const uint8_t *)s->data->d_buf + sym.st_value + 20, sizeof(idx));
			m->legacy_inner = idx;
		}
	}
	return BPFRT_OK;
}

/* Legacy map-in-map definitions: inner_map_idx → the inner map, counting the
 * legacy definitions by section, then offset (the order samples/bpf loads them) */
/* The rank of legacy definition x among the object's legacy definitions */
static int64_t legacy_rank(const bpfrt_obj *o, const struct obj_mapdef *x)
{
	int64_t before = 0;
	for (size_t k = 0; k < o->nmaps; k++) {
		const struct obj_mapdef *y = &o->maps[k];
		before += y->kind == MAPDEF_LEGACY &&
			  (y->shndx < x->shndx || (y->shndx == x->shndx && y->sec_off < x->sec_off));
	}
	return before;
}

static int legacy_inner_maps(struct ctx *c)
{
	bpfrt_obj *o = c->obj;
	for (size_t i = 0; i < o->nmaps; i++) {
		struct obj_mapdef *m = &o->maps[i];
		if (m->legacy_inner < 0)
			continue;
		int found = -1;
		for (size_t j = 0; j < o->nmaps && found < 0; j++)
			if (o->maps[j].kind == MAPDEF_LEGACY && legacy_rank(o, &o->maps[j]) == m->legacy_inner)
				found = (int)j;
		if (found < 0 || found == (int)i)
			return fail(c, "map %s: inner_map_idx %" PRId64 " names no other map of the object", m->name,
				    m->legacy_inner);
		m->inner = found;
	}
	return BPFRT_OK;
}

/* BTF: skip typedefs and qualifiers */
static const struct btf_type *skip_mods(const struct btf *btf, uint32_t id, uint32_t *res_id)
{
	const struct btf_type *t = btf__type_by_id(btf, id);
	for (int guard = 0; t && guard < 32; guard++) {
		uint16_t k = btf_kind(t);
		if (k != BTF_KIND_TYPEDEF && k != BTF_KIND_VOLATILE && k != BTF_KIND_CONST &&
		    k != BTF_KIND_RESTRICT && k != BTF_KIND_TYPE_TAG)
			break;
		id = t->type;
		t = btf__type_by_id(btf, id);
	}
	if (res_id)
		*res_id = id;
	return t;
}

/* __uint(name, val): a pointer to an array of val elements */
static bool btf_uint(const struct btf *btf, uint32_t type, uint32_t *val)
{
	const struct btf_type *t = skip_mods(btf, type, NULL);
	if (!t || !btf_is_ptr(t))
		return false;
	const struct btf_type *a = skip_mods(btf, t->type, NULL);
	if (!a || !btf_is_array(a))
		return false;
	*val = btf_array(a)->nelems;
	return true;
}

static int btf_mapdef(struct ctx *c, struct obj_mapdef *m, uint32_t type_id, int depth)
{
	const struct btf *btf = c->btf;
	const struct btf_type *t = skip_mods(btf, type_id, NULL);
	if (!t || !btf_is_struct(t))
		return fail(c, "map %s: its BTF type is not a struct", m->name);
	const struct btf_member *mb = btf_members(t);
	for (uint16_t i = 0; i < btf_vlen(t); i++, mb++) {
		const char *name = btf__name_by_offset(btf, mb->name_off);
		uint32_t v = 0;
		if (!name)
			continue;
		if (!strcmp(name, "type") || !strcmp(name, "max_entries") || !strcmp(name, "map_flags") ||
		    !strcmp(name, "key_size") || !strcmp(name, "value_size")) {
			if (!btf_uint(btf, mb->type, &v))
				return fail(c, "map %s: member %s is not __uint(...)", m->name, name);
			if (name[0] == 't') m->type = v;
			else if (name[0] == 'm' && name[1] == 'a' && name[2] == 'x') m->max_entries = v;
			else if (name[0] == 'm') m->flags = v;
			else if (name[0] == 'k') m->key_size = v;
			else m->value_size = v;
		} else if (!strcmp(name, "key") || !strcmp(name, "value")) {
			const struct btf_type *p = skip_mods(btf, mb->type, NULL);
			if (!p || !btf_is_ptr(p))
				return fail(c, "map %s: member %s is not __type(...)", m->name, name);
			int64_t sz = btf__resolve_size(btf, p->type);
			if (sz < 0 || sz > UINT32_MAX)
				return fail(c, "map %s: cannot size its %s type", m->name, name);
			if (name[0] == 'k')
				m->key_size = (uint32_t)sz;
			else
				m->value_size = (uint32_t)sz;
		} else if (!strcmp(name, "values")) {
			/* __array(values, struct inner): an array of pointers */
			const struct btf_type *a = skip_mods(btf, mb->type, NULL);
			if (!a || !btf_is_array(a))
				return fail(c, "map %s: `values` is not an array", m->name);
			m->values_off = btf_member_bit_offset(t, i) / 8;
			const struct btf_type *p = skip_mods(btf, btf_array(a)->type, NULL);
			if (p && btf_is_ptr(p) && depth == 0) {
				uint32_t inner_id;
				const struct btf_type *it = skip_mods(btf, p->type, &inner_id);
				if (it && btf_is_struct(it) &&
				    (m->type == BPF_MAP_TYPE_ARRAY_OF_MAPS || m->type == BPF_MAP_TYPE_HASH_OF_MAPS)) {
					struct obj_mapdef *inner;
					size_t self = (size_t)(m - c->obj->maps);
					char *iname = NULL;
					if (asprintf(&iname, "%s.inner", m->name) < 0)
						return oom(c);
					int rc = add_map(c, &inner);
					if (rc) {
						free(iname);
						return rc;
					}
					m = &c->obj->maps[self]; /* add_map may have moved it */
					inner->name = iname;
					inner->kind = MAPDEF_BTF;
					inner->is_inner_template = true;
					m->inner = (int)(c->obj->nmaps - 1);
					if ((rc = btf_mapdef(c, inner, inner_id, depth + 1)))
						return rc;
					m = &c->obj->maps[self];
				}
			}
			if (m->type == BPF_MAP_TYPE_ARRAY_OF_MAPS || m->type == BPF_MAP_TYPE_HASH_OF_MAPS ||
			    m->type == BPF_MAP_TYPE_PROG_ARRAY) {
				m->key_size = m->key_size ? m->key_size : 4;
				m->value_size = m->value_size ? m->value_size : 4;
			}
		}
		/* pinning, numa_node, map_extra: accepted, no meaning here */
	}
	return BPFRT_OK;
}

static int btf_maps(struct ctx *c, int shndx)
{
	if (!c->btf)
		return fail(c, "section .maps needs BTF, and the object has no .BTF section");
	int32_t ds = btf__find_by_name_kind(c->btf, ".maps", BTF_KIND_DATASEC);
	if (ds < 0)
		return fail(c, "section .maps has no BTF DATASEC");
	const struct btf_type *t = btf__type_by_id(c->btf, (uint32_t)ds);
	const struct btf_var_secinfo *vs = btf_var_secinfos(t);
	for (uint16_t i = 0; i < btf_vlen(t); i++, vs++) {
		const struct btf_type *var = btf__type_by_id(c->btf, vs->type);
		if (!var || !btf_is_var(var))
			return fail(c, ".maps: entry %u is not a variable", i);
		const char *name = btf__name_by_offset(c->btf, var->name_off);
		struct obj_mapdef *m;
		int rc = add_map(c, &m);
		if (rc)
			return rc;
		if (!(m->name = strdup(name ? name : "")))
			return oom(c);
		m->kind = MAPDEF_BTF;
		m->shndx = shndx;
		/* the definition's offset is its symbol's value (libbpf's datasec fixup) */
		bool found = false;
		for (size_t k = 0; k < c->nsym && !found; k++) {
			GElf_Sym sym;
			if (get_sym(c, k, &sym) && sym.st_shndx == (size_t)shndx && !strcmp(sym_name(c, &sym), m->name)) {
				m->sec_off = sym.st_value;
				found = true;
			}
		}
		if (!found)
			return fail(c, "map %s: no symbol in .maps", m->name);
		size_t self = (size_t)(m - c->obj->maps);
		if ((rc = btf_mapdef(c, m, var->type, 0)))
			return rc;
		(void)self;
	}
	return BPFRT_OK;
}

static int data_map(struct ctx *c, int shndx)
{
	struct sec *s = &c->sec[shndx];
	struct obj_mapdef *m;
	int rc = add_map(c, &m);
	if (rc)
		return rc;
	if (!(m->name = strdup(s->name)))
		return oom(c);
	m->kind = MAPDEF_DATA;
	m->type = BPF_MAP_TYPE_ARRAY;
	m->key_size = 4;
	m->max_entries = 1;
	m->shndx = shndx;
	size_t size = (size_t)s->sh.sh_size;
	if (size > (256u << 20))
		return fail(c, "section %s: %zu bytes of global data is too large", s->name, size);
	m->value_size = (uint32_t)(size ? size : 1);
	m->rodata = !strncmp(s->name, ".rodata", 7);
	m->flags = m->rodata ? BPF_F_RDONLY_PROG : 0;
	m->data = calloc(1, m->value_size);
	if (!m->data)
		return oom(c);
	if (s->sh.sh_type != SHT_NOBITS && s->data && s->data->d_buf) {
		if (s->data->d_size > m->value_size)
			return fail(c, "section %s: bad data size", s->name);
		memcpy(m->data, s->data->d_buf, s->data->d_size);
	}
	s->map = (int)(c->obj->nmaps - 1);
	return BPFRT_OK;
}

/* ------------------------------------------------------------ programs */

static int add_prog(struct ctx *c, int shndx, const char *name, size_t off, size_t n)
{
	bpfrt_obj *o = c->obj;
	struct obj_prog *p = realloc(o->progs, (o->nprogs + 1) * sizeof(*p));
	if (!p)
		return oom(c);
	o->progs = p;
	p = &p[o->nprogs++];
	memset(p, 0, sizeof(*p));
	p->text_at = SIZE_MAX;
	p->shndx = shndx;
	p->sec_off = off;
	p->n = n;
	p->name = strdup(name);
	p->sec = strdup(c->sec[shndx].name);
	const struct bpfrt_custom_type *ct = bpfrt_vm_custom_section(c->obj->vm, c->sec[shndx].name);
	p->type = ct ? ct->id : bpfrt_prog_type_of_section(c->sec[shndx].name);
	p->insns = malloc((n ? n : 1) * sizeof(*p->insns));
	if (!p->name || !p->sec || !p->insns)
		return oom(c);
	memcpy(p->insns, (const uint8_t *)c->sec[shndx].data->d_buf + off * 8, n * 8);
	return BPFRT_OK;
}

static int find_progs(struct ctx *c)
{
	/* With no program section, the programs are in .text (objects built
	 * without SEC() annotations) */
	bool any = false;
	for (size_t s = 0; s < c->nsec; s++)
		any |= c->sec[s].kind == S_PROG;
	for (size_t s = 0; s < c->nsec && !any; s++)
		if (c->sec[s].kind == S_TEXT)
			c->sec[s].kind = S_PROG;
	for (size_t s = 0; s < c->nsec; s++) {
		if (c->sec[s].kind != S_PROG)
			continue;
		struct sec *sc = &c->sec[s];
		size_t ninsn = sc->data->d_size / 8;
		/* global functions of the section, sorted by offset */
		size_t nf = 0;
		for (size_t i = 0; i < c->nsym; i++) {
			GElf_Sym sym;
			if (get_sym(c, i, &sym) && sym.st_shndx == s && GELF_ST_TYPE(sym.st_info) == STT_FUNC &&
			    GELF_ST_BIND(sym.st_info) == STB_GLOBAL)
				nf++;
		}
		if (nf == 0) { /* old objects: the section is the program */
			int rc = add_prog(c, (int)s, sc->name, 0, ninsn);
			if (rc)
				return rc;
			continue;
		}
		for (size_t i = 0; i < c->nsym; i++) {
			GElf_Sym sym;
			if (!get_sym(c, i, &sym) || sym.st_shndx != s || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
			    GELF_ST_BIND(sym.st_info) != STB_GLOBAL)
				continue;
			size_t off = sym.st_value / 8, len = sym.st_size / 8;
			if (sym.st_value % 8 || off > ninsn || len > ninsn - off || (!len && nf > 1))
				return fail(c, "program %s: its symbol (offset %" PRIu64 ", size %" PRIu64
					    ") does not fit section %s", sym_name(c, &sym),
					    (uint64_t)sym.st_value, (uint64_t)sym.st_size, sc->name);
			int rc = add_prog(c, (int)s, sym_name(c, &sym), off, len ? len : ninsn - off);
			if (rc)
				return rc;
		}
	}
	return BPFRT_OK;
}

/* The number of entries of relocation section rs (REL or RELA). */
static size_t nrel_of(const struct sec *rs)
{
	if (!rs->data)
		return 0;
	return rs->data->d_size / (rs->sh.sh_type == SHT_RELA ? sizeof(Elf64_Rela) : sizeof(Elf64_Rel));
}

/*
 * Entry k of relocation section rs.  BPF objects use REL (the addend is in
 * the instruction); old clang releases wrote RELA: the addend, if any, moves
 * the symbol it relocates against, which is what REL's in-place addend does.
 */
static bool get_rel(const struct sec *rs, size_t k, GElf_Rel *rel, int64_t *addend)
{
	*addend = 0;
	if (rs->sh.sh_type != SHT_RELA)
		return gelf_getrel(rs->data, (int)k, rel) != NULL;
	GElf_Rela ra;
	if (!gelf_getrela(rs->data, (int)k, &ra))
		return false;
	*rel = (GElf_Rel){ .r_offset = ra.r_offset, .r_info = ra.r_info };
	*addend = ra.r_addend;
	return true;
}

/* A program that cannot be linked (an extern symbol): the object still opens,
 * loading or verifying that program fails with this message. */
#define LINK_LATER 1
static int prog_unlinked(struct ctx *c, struct obj_prog *p, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int prog_unlinked(struct ctx *c, struct obj_prog *p, const char *fmt, ...)
{
	char tmp[BPFRT_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	bpfrt_vfmt(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (!p->link_err && !(p->link_err = strdup(tmp)))
		return oom(c);
	return LINK_LATER;
}

/* The relocation section of section s, or -1. */
static int rel_of(struct ctx *c, size_t s)
{
	for (size_t r = 0; r < c->nsec; r++)
		if (c->sec[r].kind == S_REL && c->sec[r].sh.sh_info == s)
			return (int)r;
	return -1;
}

static int map_index(struct ctx *c, int shndx, uint64_t off)
{
	for (size_t i = 0; i < c->obj->nmaps; i++) {
		const struct obj_mapdef *m = &c->obj->maps[i];
		if (m->shndx == shndx && !m->is_inner_template && (m->kind == MAPDEF_DATA || m->sec_off == off))
			return (int)i;
	}
	return -1;
}

/*
 * Applies the relocations of section `sec` to the instructions `in`, which
 * hold that section's instructions [base, base + n) at in[at ..].  `text_at`
 * is where .text was appended (or SIZE_MAX); calls into .text are resolved
 * against it.
 */
static int relocate(struct ctx *c, struct obj_prog *p, size_t sec, size_t base, size_t n, size_t at,
		    size_t text_at, bool *needs_text)
{
	int r = rel_of(c, sec);
	if (r < 0)
		return BPFRT_OK;
	struct sec *rs = &c->sec[r];
	size_t nrel = nrel_of(rs);
	for (size_t k = 0; k < nrel; k++) {
		GElf_Rel rel;
		int64_t addend;
		if (!get_rel(rs, k, &rel, &addend))
			return fail(c, "%s: relocation %zu is unreadable", rs->name, k);
		if (rel.r_offset % 8)
			return fail(c, "%s: relocation %zu at offset %" PRIu64 " is not at an instruction",
				    rs->name, k, (uint64_t)rel.r_offset);
		size_t ii = rel.r_offset / 8;
		if (ii < base || ii >= base + n)
			continue; /* another program of the section */
		size_t pc = at + (ii - base);
		struct bpfrt_insn *in = &p->insns[pc];
		GElf_Sym sym;
		size_t si = GELF_R_SYM(rel.r_info);
		if (!get_sym(c, si, &sym))
			return fail(c, "%s: relocation %zu names symbol %zu, which does not exist", rs->name,
				    k, si);
		sym.st_value += (uint64_t)addend;
		uint32_t rtype = (uint32_t)GELF_R_TYPE(rel.r_info);
		size_t tsec = sym.st_shndx;
		const char *sname = sym_name(c, &sym);
		if (tsec == SHN_UNDEF)
			return prog_unlinked(c, p, "program %s: insn %zu refers to %s, which the object does not "
					     "define (extern symbols are not supported)", p->name, pc,
					     sname[0] ? sname : "a symbol");
		if (tsec >= c->nsec)
			return fail(c, "program %s: insn %zu refers to section %zu, which does not exist", p->name,
				    pc, tsec);
		int kind = c->sec[tsec].kind;
		if (in->code == 0x85 && in->src == 1) { /* a call into .text */
			if (kind != S_TEXT && tsec != sec)
				return fail(c, "program %s: insn %zu calls into section %s", p->name, pc,
					    c->sec[tsec].name);
			int64_t tgt = (int64_t)(sym.st_value / 8) + in->imm + 1;
			size_t tn = c->sec[tsec].data->d_size / 8;
			if (tgt < 0 || (size_t)tgt >= tn)
				return fail(c, "program %s: insn %zu calls outside section %s", p->name, pc,
					    c->sec[tsec].name);
			if (kind == S_TEXT) {
				*needs_text = true;
				if (text_at != SIZE_MAX)
					in->imm = (int32_t)((int64_t)(text_at + (size_t)tgt) - (int64_t)pc - 1);
			} else {
				if ((size_t)tgt < base || (size_t)tgt >= base + n)
					return fail(c, "program %s: insn %zu calls another program of section %s "
						    "(subprograms belong in .text)", p->name, pc, c->sec[tsec].name);
				in->imm = (int32_t)((int64_t)(at + (size_t)tgt - base) - (int64_t)pc - 1);
			}
			continue;
		}
		if (rtype == R_BPF_64_32 && kind == S_TEXT) {
			return fail(c, "program %s: insn %zu: a call relocation on an instruction that is "
				    "not a local call", p->name, pc);
		}
		if (in->code != 0x18 || pc + 1 >= p->n)
			return fail(c, "program %s: insn %zu: relocation %zu (to %s) is not on an lddw", p->name,
				    pc, k, sname);
		if (kind == S_TEXT) { /* a function reference: ld_func */
			int64_t tgt = (int64_t)((sym.st_value + (uint64_t)(int64_t)in->imm) / 8);
			size_t tn = c->sec[tsec].data->d_size / 8;
			if (tgt < 0 || (size_t)tgt >= tn)
				return fail(c, "program %s: insn %zu refers to a function outside .text", p->name, pc);
			*needs_text = true;
			in->src = BPF_PSEUDO_FUNC;
			if (text_at != SIZE_MAX)
				in->imm = (int32_t)((int64_t)(text_at + (size_t)tgt) - (int64_t)pc - 1);
			continue;
		}
		if (kind == S_LEGACY_MAPS || kind == S_BTF_MAPS) {
			int mi = map_index(c, (int)tsec, sym.st_value);
			if (mi < 0)
				return fail(c, "program %s: insn %zu refers to %s, which is not a map", p->name, pc, sname);
			in->src = BPF_PSEUDO_MAP_IDX;
			in->imm = mi;
			p->insns[pc + 1].imm = 0;
			continue;
		}
		if (kind == S_DATA) {
			int mi = c->sec[tsec].map;
			uint64_t off = (uint64_t)(uint32_t)in->imm + (GELF_ST_TYPE(sym.st_info) == STT_SECTION ? 0 :
								     sym.st_value);
			if (mi < 0 || off >= c->obj->maps[mi].value_size)
				return fail(c, "program %s: insn %zu: offset %" PRIu64 " is outside section %s",
					    p->name, pc, off, c->sec[tsec].name);
			in->src = BPF_PSEUDO_MAP_IDX_VALUE;
			in->imm = mi;
			p->insns[pc + 1].imm = (int32_t)off;
			continue;
		}
		return fail(c, "program %s: insn %zu refers to %s in section %s, which bpfrt cannot "
			    "relocate", p->name, pc, sname, c->sec[tsec].name);
	}
	return BPFRT_OK;
}

/*
 * The .text functions the program does not reach through calls (or
 * function references) go: libbpf appends only the subprograms a program
 * uses, and the verifier refuses code no path reaches.  .text is cut at its
 * function symbols; the kept functions keep their order, and every call
 * and function reference is set to the new distance.
 */
static bool is_call_ref(const struct bpfrt_insn *in)
{
	return (in->code == 0x85 && in->src == BPF_PSEUDO_CALL) || (in->code == 0x18 && in->src == BPF_PSEUDO_FUNC);
}

static int drop_unused_text(struct ctx *c, struct obj_prog *p, size_t ts)
{
	size_t at = p->text_at, tn = p->n - at, n = p->n;
	uint32_t *fid = malloc((tn ? tn : 1) * sizeof(*fid)), *newi = malloc((n + 1) * sizeof(*newi));
	uint8_t *start = calloc(tn + 1, 1), *keep = NULL;
	size_t *fbeg = NULL; /* function f is .text[fbeg[f], fbeg[f + 1]) */
	int rc = BPFRT_OK;
	if (!fid || !newi || !start) {
		rc = oom(c);
		goto out;
	}
	start[0] = 1;
	for (size_t i = 0; i < c->nsym; i++) {
		GElf_Sym sym;
		if (get_sym(c, i, &sym) && sym.st_shndx == ts && GELF_ST_TYPE(sym.st_info) == STT_FUNC &&
		    !(sym.st_value % 8) && sym.st_value / 8 < tn)
			start[sym.st_value / 8] = 1;
	}
	uint32_t nf = 0;
	for (size_t i = 0; i < tn; i++) {
		nf += start[i];
		fid[i] = nf - 1;
	}
	if (!(keep = calloc(nf, 1)) || !(fbeg = malloc((nf + 1) * sizeof(*fbeg)))) {
		rc = oom(c);
		goto out;
	}
	for (size_t i = 0, f = 0; i < tn; i++)
		if (start[i])
			fbeg[f++] = i;
	fbeg[nf] = tn;
	/* from the program's own code, through what each kept function calls */
	uint32_t *work = newi, top = 0; /* newi doubles as the work list for now */
#define REACH(pc)                                                                    \
	do {                                                                         \
		int64_t t_ = (int64_t)(pc) + 1 + p->insns[pc].imm;                   \
		if (t_ >= (int64_t)at && t_ < (int64_t)n && !keep[fid[t_ - at]]) {  \
			keep[fid[t_ - at]] = 1;                                      \
			work[top++] = fid[t_ - at];                                  \
		}                                                                    \
	} while (0)
	for (size_t pc = 0; pc < at; pc++)
		if (is_call_ref(&p->insns[pc]))
			REACH(pc);
	while (top) {
		uint32_t f = work[--top];
		for (size_t i = fbeg[f]; i < fbeg[f + 1]; i++)
			if (is_call_ref(&p->insns[at + i]))
				REACH(at + i);
	}
#undef REACH
	size_t kept = 0;
	for (uint32_t f = 0; f < nf; f++)
		kept += keep[f];
	if (kept == nf)
		goto out; /* every function is used */
	/* new indices, then the distances, then the move */
	uint32_t k = 0;
	for (size_t i = 0; i < n; i++)
		newi[i] = i < at || keep[fid[i - at]] ? k++ : UINT32_MAX;
	newi[n] = k;
	for (size_t i = 0; i < n; i++)
		if (newi[i] != UINT32_MAX && is_call_ref(&p->insns[i])) {
			int64_t t = (int64_t)i + 1 + p->insns[i].imm;
			if (t >= 0 && t < (int64_t)n && newi[t] != UINT32_MAX)
				p->insns[i].imm = (int32_t)((int64_t)newi[t] - (int64_t)newi[i] - 1);
		}
	if (!(p->text_map = malloc(tn * sizeof(*p->text_map)))) {
		rc = oom(c);
		goto out;
	}
	for (size_t i = 0; i < tn; i++)
		p->text_map[i] = newi[at + i];
	p->ntext_map = tn;
	for (size_t i = 0; i < n; i++)
		if (newi[i] != UINT32_MAX)
			p->insns[newi[i]] = p->insns[i];
	p->n = k;
out:
	free(fid);
	free(newi);
	free(start);
	free(keep);
	free(fbeg);
	return rc;
}

static int link_prog(struct ctx *c, struct obj_prog *p)
{
	bool needs_text = false;
	int rc = relocate(c, p, (size_t)p->shndx, p->sec_off, p->n, 0, SIZE_MAX, &needs_text);
	if (rc || !needs_text)
		return rc;
	/* append .text, then resolve the calls into it (and .text's own) */
	size_t ts = 0;
	while (ts < c->nsec && c->sec[ts].kind != S_TEXT)
		ts++;
	if (ts == c->nsec)
		return fail(c, "program %s calls into .text, which the object lacks", p->name);
	size_t tn = c->sec[ts].data->d_size / 8, at = p->n;
	p->text_at = at;
	if (tn > BPFRT_MAX_INSNS || at + tn > BPFRT_MAX_INSNS)
		return fail(c, "program %s: over %u instructions with its subprograms", p->name, BPFRT_MAX_INSNS);
	struct bpfrt_insn *in = realloc(p->insns, (at + tn) * sizeof(*in));
	if (!in)
		return oom(c);
	p->insns = in;
	memcpy(in + at, c->sec[ts].data->d_buf, tn * 8);
	/* re-read the program's own instructions and relocate them all again
	 * with .text in place */
	memcpy(in, (const uint8_t *)c->sec[p->shndx].data->d_buf + p->sec_off * 8, p->n * 8);
	p->n = at + tn;
	if ((rc = relocate(c, p, (size_t)p->shndx, p->sec_off, at, 0, at, &needs_text)) ||
	    (rc = relocate(c, p, ts, 0, tn, at, at, &needs_text)) || (rc = drop_unused_text(c, p, ts)))
		return rc;
	/* the names of the functions it kept (tracing programs attach to them) */
	for (size_t i = 0; i < c->nsym; i++) {
		GElf_Sym sym;
		if (!get_sym(c, i, &sym) || sym.st_shndx != ts || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
		    sym.st_value % 8 || sym.st_value / 8 >= tn)
			continue;
		size_t k = sym.st_value / 8;
		uint32_t idx = p->text_map ? p->text_map[k] : (uint32_t)(at + k);
		const char *name = sym_name(c, &sym);
		if (idx == UINT32_MAX || !name || !*name)
			continue;
		struct obj_func *f = realloc(p->funcs, (p->nfuncs + 1) * sizeof(*f));
		if (!f)
			return oom(c);
		p->funcs = f;
		if (!(f[p->nfuncs].name = strdup(name)))
			return oom(c);
		f[p->nfuncs++].insn = idx;
	}
	return BPFRT_OK;
}

/* Maps a program references: every LDDW src 5/6. */
static int maps_used(struct ctx *c, struct obj_prog *p)
{
	for (size_t i = 0; i < p->n; i++) {
		if (p->insns[i].code != 0x18)
			continue;
		if (p->insns[i].src == BPF_PSEUDO_MAP_IDX || p->insns[i].src == BPF_PSEUDO_MAP_IDX_VALUE) {
			uint32_t mi = (uint32_t)p->insns[i].imm;
			bool seen = false;
			for (size_t k = 0; k < p->nmaps_used; k++)
				seen |= p->maps_used[k] == mi;
			if (!seen) {
				uint32_t *u = realloc(p->maps_used, (p->nmaps_used + 1) * sizeof(*u));
				if (!u)
					return oom(c);
				p->maps_used = u;
				u[p->nmaps_used++] = mi;
			}
		}
		i++;
	}
	return BPFRT_OK;
}

/*
 * .BTF.ext line info: a header (magic 0xeb9f, its length, then the offset
 * and length of each part, from the header's end); the line-info part is a
 * record size, then per section its name (a BTF string), a count and that
 * many records {insn_off (bytes), file name, source line, line << 10 | col}.
 * Each program gets the records of its section's range and of .text where
 * it was appended.  Line info is for messages: a malformed part is ignored.
 */
static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static int add_line(struct ctx *c, struct obj_prog *p, uint32_t insn, uint32_t file_off, uint32_t line_off,
		    uint32_t line_col)
{
	const char *file = btf__name_by_offset(c->btf, file_off), *src = btf__name_by_offset(c->btf, line_off);
	if (!file || !src)
		return BPFRT_OK;
	const char *base = strrchr(file, '/');
	while (*src == ' ' || *src == '\t')
		src++;
	struct obj_line *l = realloc(p->lines, (p->nlines + 1) * sizeof(*l));
	if (!l)
		return oom(c);
	p->lines = l;
	l = &l[p->nlines];
	if (asprintf(&l->text, "%s:%u: %s", base ? base + 1 : file, line_col >> 10, src) < 0)
		return oom(c);
	l->insn = insn;
	p->nlines++;
	return BPFRT_OK;
}

static int line_cmp(const void *a, const void *b)
{
	const struct obj_line *x = a, *y = b;
	return x->insn < y->insn ? -1 : x->insn > y->insn;
}

static int line_info(struct ctx *c)
{
	const uint8_t *d = c->btf_ext;
	size_t len = c->btf_ext_len;
	if (!d || !c->btf || len < 32 || (d[0] | d[1] << 8) != 0xeb9f)
		return BPFRT_OK;
	uint32_t hdr = rd32(d + 4), off = rd32(d + 16), n = rd32(d + 20);
	if (hdr < 24 || hdr > len || off > len - hdr || n > len - hdr - off || n < 4)
		return BPFRT_OK;
	const uint8_t *q = d + hdr + off, *end = q + n;
	uint32_t rec = rd32(q);
	q += 4;
	if (rec < 16)
		return BPFRT_OK;
	while (end - q >= 8) {
		const char *sec = btf__name_by_offset(c->btf, rd32(q));
		uint32_t cnt = rd32(q + 4);
		q += 8;
		if (!sec || cnt > (size_t)(end - q) / rec)
			return BPFRT_OK;
		for (size_t i = 0; i < c->obj->nprogs; i++) {
			struct obj_prog *p = &c->obj->progs[i];
			bool own = !strcmp(sec, p->sec), text = !strcmp(sec, ".text") && p->text_at != SIZE_MAX;
			if (!own && !text)
				continue;
			for (uint32_t k = 0; k < cnt; k++) {
				const uint8_t *r = q + (size_t)k * rec;
				uint32_t at = rd32(r) / 8, idx;
				if (own) {
					if (at < p->sec_off || at - p->sec_off >= (p->text_at != SIZE_MAX ? p->text_at : p->n))
						continue;
					idx = (uint32_t)(at - p->sec_off);
				} else if (p->text_map) {
					if (at >= p->ntext_map || p->text_map[at] == UINT32_MAX)
						continue; /* a function this program does not use */
					idx = p->text_map[at];
				} else {
					if (p->text_at + at >= p->n)
						continue;
					idx = (uint32_t)(p->text_at + at);
				}
				int rc = add_line(c, p, idx, rd32(r + 4), rd32(r + 8), rd32(r + 12));
				if (rc)
					return rc;
			}
		}
		q += (size_t)cnt * rec;
	}
	for (size_t i = 0; i < c->obj->nprogs; i++)
		if (c->obj->progs[i].nlines)
			qsort(c->obj->progs[i].lines, c->obj->progs[i].nlines, sizeof(struct obj_line), line_cmp);
	return BPFRT_OK;
}

const char *bpfrt_line_at(const struct obj_line *lines, size_t n, size_t insn)
{
	/* the last entry at or before insn: its line covers the instructions after it */
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (lines[mid].insn <= insn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? lines[lo - 1].text : NULL;
}

const char *bpfrt_obj_line(const struct obj_prog *p, size_t insn)
{
	return bpfrt_line_at(p->lines, p->nlines, insn);
}

/* `.values = { [i] = &x }` of prog_array and map-in-map definitions */
static int slot_inits(struct ctx *c)
{
	for (size_t s = 0; s < c->nsec; s++) {
		if (c->sec[s].kind != S_BTF_MAPS)
			continue;
		int r = rel_of(c, s);
		if (r < 0)
			continue;
		struct sec *rs = &c->sec[r];
		size_t nrel = nrel_of(rs);
		for (size_t k = 0; k < nrel; k++) {
			GElf_Rel rel;
			GElf_Sym sym;
			int64_t addend;
			if (!get_rel(rs, k, &rel, &addend) || !get_sym(c, GELF_R_SYM(rel.r_info), &sym))
				return fail(c, "%s: relocation %zu is unreadable", rs->name, k);
			struct obj_mapdef *m = NULL;
			for (size_t i = 0; i < c->obj->nmaps; i++) {
				struct obj_mapdef *x = &c->obj->maps[i];
				if (x->shndx == (int)s && !x->is_inner_template && x->values_off &&
				    rel.r_offset >= x->sec_off + x->values_off &&
				    (!m || x->sec_off > m->sec_off))
					m = x;
			}
			if (!m)
				return fail(c, ".maps: relocation %zu at offset %" PRIu64 " is in no map's values",
					    k, (uint64_t)rel.r_offset);
			uint64_t slot = (rel.r_offset - m->sec_off - m->values_off) / 8;
			if (slot >= m->max_entries)
				return fail(c, "map %s: .values[%" PRIu64 "] is past max_entries %u", m->name, slot,
					    m->max_entries);
			struct obj_slot_init *si = realloc(m->slots, (m->nslots + 1) * sizeof(*si));
			if (!si)
				return oom(c);
			m->slots = si;
			si = &si[m->nslots++];
			si->slot = (uint32_t)slot;
			si->is_prog = m->type == BPF_MAP_TYPE_PROG_ARRAY;
			if (!(si->target = strdup(sym_name(c, &sym))))
				return oom(c);
		}
	}
	return BPFRT_OK;
}

int bpfrt_elf_parse(bpfrt_obj *obj, const void *buf, size_t len, struct bpfrt_err *err)
{
	struct ctx cx = { .obj = obj, .err = err, .symtab_shndx = -1, .strtab_shndx = -1 };
	struct ctx *c = &cx;
	int rc = BPFRT_OK;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return bpfrt_err_set(err, BPFRT_EINTERNAL, "internal error: libelf: %s", elf_errmsg(-1));
	c->elf = elf_memory((char *)buf, len);
	if (!c->elf)
		return fail(c, "not an ELF file: %s", elf_errmsg(-1));
	GElf_Ehdr eh;
	if (elf_kind(c->elf) != ELF_K_ELF || !gelf_getehdr(c->elf, &eh)) {
		rc = fail(c, "not an ELF object%s%s", elf_errno() ? ": " : "", elf_errno() ? elf_errmsg(-1) : "");
		goto out;
	}
	/* e_machine: EM_BPF, or EM_NONE from early clang releases */
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || (eh.e_machine != EM_BPF && eh.e_machine != EM_NONE) ||
	    eh.e_type != ET_REL) {
		rc = fail(c, "not a BPF object (class %d, machine %d, type %d: expected a 64-bit "
			  "relocatable EM_BPF object)", eh.e_ident[EI_CLASS], eh.e_machine, eh.e_type);
		goto out;
	}
	if (eh.e_ident[EI_DATA] != ELFDATA2LSB) {
		rc = fail(c, "big-endian BPF objects are not supported");
		goto out;
	}
	size_t shstrndx;
	if (elf_getshdrnum(c->elf, &c->nsec) || elf_getshdrstrndx(c->elf, &shstrndx)) {
		rc = fail(c, "bad section headers: %s", elf_errmsg(-1));
		goto out;
	}
	if (c->nsec > 65536) {
		rc = fail(c, "%zu sections: too many", c->nsec);
		goto out;
	}
	c->sec = calloc(c->nsec ? c->nsec : 1, sizeof(*c->sec));
	if (!c->sec) {
		rc = oom(c);
		goto out;
	}
	for (size_t s = 1; s < c->nsec; s++) {
		Elf_Scn *scn = elf_getscn(c->elf, s);
		struct sec *sc = &c->sec[s];
		sc->map = -1;
		if (!scn || !gelf_getshdr(scn, &sc->sh)) {
			rc = fail(c, "section %zu: bad header: %s", s, elf_errmsg(-1));
			goto out;
		}
		sc->name = elf_strptr(c->elf, shstrndx, sc->sh.sh_name);
		if (!sc->name) {
			rc = fail(c, "section %zu: bad name", s);
			goto out;
		}
		sc->data = elf_getdata(scn, NULL);
		if (!sc->data && sc->sh.sh_type != SHT_NOBITS && sc->sh.sh_size) {
			rc = fail(c, "section %s: unreadable: %s", sc->name, elf_errmsg(-1));
			goto out;
		}
		if (sc->sh.sh_type == SHT_SYMTAB) {
			if (c->symtab) {
				rc = fail(c, "more than one symbol table");
				goto out;
			}
			c->symtab = sc->data;
			c->symtab_shndx = (int)s;
			c->strtab_shndx = (int)sc->sh.sh_link;
			c->nsym = sc->data && sc->sh.sh_entsize ? sc->data->d_size / sizeof(Elf64_Sym) : 0;
			if (sc->sh.sh_link >= c->nsec) {
				rc = fail(c, "the symbol table's string table %u does not exist", sc->sh.sh_link);
				goto out;
			}
		} else if (sc->sh.sh_type == SHT_REL || sc->sh.sh_type == SHT_RELA) {
			sc->kind = S_REL;
			if (sc->sh.sh_info >= c->nsec) {
				rc = fail(c, "section %s relocates section %u, which does not exist", sc->name,
					  sc->sh.sh_info);
				goto out;
			}
		} else if (!strcmp(sc->name, "license")) {
			if (sc->data && sc->data->d_buf) {
				size_t l = sc->data->d_size < sizeof(obj->license) - 1 ? sc->data->d_size :
											  sizeof(obj->license) - 1;
				memcpy(obj->license, sc->data->d_buf, l);
				obj->license[l] = '\0';
			}
		} else if (!strcmp(sc->name, ".BTF")) {
			obj->has_btf = true;
			if (sc->data && sc->data->d_buf && sc->data->d_size < UINT32_MAX) {
				/* NULL if malformed: BTF is optional unless .maps needs it */
				c->btf = btf__new(sc->data->d_buf, (uint32_t)sc->data->d_size);
			}
		} else if (!strcmp(sc->name, ".BTF.ext")) {
			obj->has_btf_ext = true;
			if (sc->data && sc->data->d_buf) {
				c->btf_ext = sc->data->d_buf;
				c->btf_ext_len = sc->data->d_size;
			}
		} else if (!strcmp(sc->name, "maps") || !strncmp(sc->name, "maps/", 5)) {
			sc->kind = S_LEGACY_MAPS; /* maps/NAME: iproute2's one map a section */
		} else if (!strcmp(sc->name, ".maps")) {
			sc->kind = S_BTF_MAPS;
		} else if ((sc->sh.sh_type == SHT_PROGBITS || sc->sh.sh_type == SHT_NOBITS) &&
			   (sc->sh.sh_flags & SHF_ALLOC) && !(sc->sh.sh_flags & SHF_EXECINSTR) &&
			   (!strcmp(sc->name, ".data") || !strcmp(sc->name, ".bss") ||
			    !strcmp(sc->name, ".rodata") || !strncmp(sc->name, ".data.", 6) ||
			    !strncmp(sc->name, ".rodata.", 8) || !strncmp(sc->name, ".bss.", 5))) {
			sc->kind = S_DATA;
		} else if (sc->sh.sh_type == SHT_PROGBITS && (sc->sh.sh_flags & SHF_EXECINSTR)) {
			if (!sc->sh.sh_size)
				continue; /* an empty section: nothing in it */
			if (!sc->data || !sc->data->d_buf || sc->data->d_size % 8) {
				rc = fail(c, "section %s: %zu bytes is not a whole number of instructions", sc->name,
					  sc->data ? sc->data->d_size : 0);
				goto out;
			}
			sc->kind = strcmp(sc->name, ".text") ? S_PROG : S_TEXT;
		}
	}
	if (!c->symtab) {
		rc = fail(c, "the object has no symbol table");
		goto out;
	}
	for (size_t s = 1; s < c->nsec && !rc; s++) {
		if (c->sec[s].kind == S_LEGACY_MAPS)
			rc = legacy_maps(c, (int)s);
		else if (c->sec[s].kind == S_BTF_MAPS)
			rc = btf_maps(c, (int)s);
		else if (c->sec[s].kind == S_DATA)
			rc = data_map(c, (int)s);
	}
	if (!rc)
		rc = legacy_inner_maps(c);
	if (!rc)
		rc = find_progs(c);
	if (!rc && obj->nprogs == 0)
		rc = fail(c, "the object has no programs");
	for (size_t i = 0; i < obj->nprogs && !rc; i++)
		if ((rc = link_prog(c, &obj->progs[i])) == LINK_LATER)
			rc = BPFRT_OK;
	for (size_t i = 0; i < obj->nprogs && !rc; i++)
		if (!obj->progs[i].link_err)
			rc = maps_used(c, &obj->progs[i]);
	if (!rc)
		rc = slot_inits(c);
	if (!rc)
		rc = line_info(c);
out:
	btf__free(c->btf);
	free(c->sec);
	elf_end(c->elf);
	return rc;
}

void bpfrt_obj_defs_free(bpfrt_obj *obj)
{
	for (size_t i = 0; i < obj->nprogs; i++) {
		free(obj->progs[i].name);
		free(obj->progs[i].sec);
		free(obj->progs[i].insns);
		free(obj->progs[i].maps_used);
		free(obj->progs[i].link_err);
		free(obj->progs[i].text_map);
		for (size_t k = 0; k < obj->progs[i].nfuncs; k++)
			free(obj->progs[i].funcs[k].name);
		free(obj->progs[i].funcs);
		for (size_t k = 0; k < obj->progs[i].nlines; k++)
			free(obj->progs[i].lines[k].text);
		free(obj->progs[i].lines);
	}
	for (size_t i = 0; i < obj->nmaps; i++) {
		free(obj->maps[i].name);
		free(obj->maps[i].data);
		for (size_t k = 0; k < obj->maps[i].nslots; k++)
			free(obj->maps[i].slots[k].target);
		free(obj->maps[i].slots);
	}
	free(obj->progs);
	free(obj->maps);
	obj->progs = NULL;
	obj->maps = NULL;
	obj->nprogs = obj->nmaps = 0;
}
