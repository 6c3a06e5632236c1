/*
 * sym.c — the process's functions by name and by address: the symbol
 * tables (.symtab, else .dynsym) of the executable and of every loaded
 * shared library, read with libelf from their files; where they say
 * nothing (stripped libraries, an ifunc's implementation), the unwind
 * tables: the FDE that covers an address gives its function's start and
 * size (through libgcc's _Unwind_Find_FDE).
 */
#define _GNU_SOURCE
#include "internal.h"
#include "tramp.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <gelf.h>
#include <link.h>
#include <unistd.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

struct sym_query {
	const char *name;   /* by name, or */
	uintptr_t addr;     /* by address */
	struct bpfrt_sym *out;
	bool found;
};

/* Looks in one module's file; a FUNC symbol defined in it. */
static void scan_file(const char *path, uintptr_t base, struct sym_query *q)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	elf_version(EV_CURRENT);
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	Elf_Scn *scn = NULL;
	Elf_Scn *tabs[2] = { NULL, NULL }; /* .symtab, .dynsym */
	while (elf && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_SYMTAB)
			tabs[0] = scn;
		else if (sh.sh_type == SHT_DYNSYM)
			tabs[1] = scn;
	}
	for (int t = 0; t < 2 && !q->found; t++) {
		if (!tabs[t])
			continue;
		GElf_Shdr sh;
		Elf_Data *data = elf_getdata(tabs[t], NULL);
		if (!gelf_getshdr(tabs[t], &sh) || !data || !sh.sh_entsize)
			continue;
		size_t n = sh.sh_size / sh.sh_entsize;
		for (size_t i = 0; i < n; i++) {
			GElf_Sym s;
			if (!gelf_getsym(data, (int)i, &s) || GELF_ST_TYPE(s.st_info) != STT_FUNC ||
			    s.st_shndx == SHN_UNDEF || !s.st_value)
				continue;
			uintptr_t a = base + s.st_value;
			if (q->name) {
				const char *nm = elf_strptr(elf, sh.sh_link, s.st_name);
				if (!nm || strcmp(nm, q->name))
					continue;
			} else if (!(q->addr >= a && q->addr < a + (s.st_size ? s.st_size : 1))) {
				continue;
			}
			q->out->addr = a;
			q->out->size = s.st_size;
			const char *nm = elf_strptr(elf, sh.sh_link, s.st_name);
			snprintf(q->out->name, sizeof(q->out->name), "%s", nm ? nm : "?");
			q->found = true;
			break;
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
}

static int each_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct sym_query *q = arg;
	const char *path = info->dlpi_name;
	if (!path || !*path)
		path = "/proc/self/exe";
	if (!q->name) { /* by address: only the module that maps it */
		bool in = false;
		for (int i = 0; i < info->dlpi_phnum && !in; i++) {
			const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
			uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
			in = ph->p_type == PT_LOAD && q->addr >= lo && q->addr < lo + ph->p_memsz;
		}
		if (!in)
			return 0;
	}
	if (strstr(path, "linux-vdso"))
		return 0;
	scan_file(path, info->dlpi_addr, q);
	return q->found;
}

int bpfrt_sym_by_name(const char *name, struct bpfrt_sym *out)
{
	memset(out, 0, sizeof(*out));
	struct sym_query q = { name, 0, out, false };
	dl_iterate_phdr(each_module, &q);
	if (!q.found) {
		/* a symbol of no module file we can read (or an ifunc's result) */
		void *p = dlsym(RTLD_DEFAULT, name);
		if (!p)
			return BPFRT_EINVAL;
		if (bpfrt_sym_by_addr((uintptr_t)p, out) != BPFRT_OK || out->addr != (uintptr_t)p) {
			memset(out, 0, sizeof(*out));
			out->addr = (uintptr_t)p;
		}
		snprintf(out->name, sizeof(out->name), "%s", name);
	}
	return BPFRT_OK;
}

/* libgcc's lookup of the FDE covering pc (a GNU extension, exported by
 * libgcc_s); bases->func is the function's start. */
struct dwarf_eh_bases {
	void *tbase, *dbase, *func;
};
extern const void *_Unwind_Find_FDE(void *pc, struct dwarf_eh_bases *bases);

static uint64_t uleb(const uint8_t **p, const uint8_t *end)
{
	uint64_t v = 0;
	for (int sh = 0; *p < end && sh < 64; sh += 7) {
		uint8_t b = *(*p)++;
		v |= (uint64_t)(b & 0x7f) << sh;
		if (!(b & 0x80))
			break;
	}
	return v;
}

/* The size of a DW_EH_PE pointer of this encoding (0: not handled). */
static size_t pe_size(uint8_t enc)
{
	switch (enc & 0x0f) {
	case 0x00: case 0x04: case 0x0c: return 8;
	case 0x02: case 0x0a: return 2;
	case 0x03: case 0x0b: return 4;
	default: return 0;
	}
}

/* The range of the function whose FDE covers addr, from its FDE's
 * pc_range (the encoding the CIE's 'R' augmentation gives). */
static bool fde_range(uintptr_t addr, uintptr_t *start, size_t *size)
{
	struct dwarf_eh_bases b = { 0 };
	const uint8_t *fde = _Unwind_Find_FDE((void *)addr, &b);
	if (!fde || !b.func)
		return false;
	uint32_t len, cie_off;
	memcpy(&len, fde, 4);
	if (len == 0xffffffffu || len < 8)
		return false;
	memcpy(&cie_off, fde + 4, 4);
	const uint8_t *cie = fde + 4 - cie_off, *end;
	uint32_t clen;
	memcpy(&clen, cie, 4);
	end = cie + 4 + clen;
	const uint8_t *p = cie + 8; /* past length and id */
	uint8_t version = *p++;
	const char *aug = (const char *)p;
	p += strlen(aug) + 1;
	uleb(&p, end);                /* code alignment */
	uleb(&p, end);                /* data alignment (sleb: only skipped) */
	if (version == 1)
		p++;
	else
		uleb(&p, end);            /* return address register */
	uint8_t enc = 0;              /* absptr unless 'R' says otherwise */
	if (aug[0] == 'z') {
		uleb(&p, end);
		for (const char *a = aug + 1; *a && p < end; a++) {
			if (*a == 'R') {
				enc = *p++;
			} else if (*a == 'L') {
				p++;
			} else if (*a == 'P') {
				uint8_t penc = *p++;
				size_t n = pe_size(penc);
				if (!n)
					return false;
				p += n;
			} else if (*a != 'S') {
				return false;
			}
		}
	}
	size_t n = pe_size(enc);
	if (!n)
		return false;
	uint64_t range = 0;
	memcpy(&range, fde + 8 + n, n); /* pc_range: the size, unsigned, no pcrel */
	*start = (uintptr_t)b.func;
	*size = (size_t)range;
	return addr >= *start && addr < *start + *size;
}

int bpfrt_sym_by_addr(uintptr_t addr, struct bpfrt_sym *out)
{
	memset(out, 0, sizeof(*out));
	struct sym_query q = { NULL, addr, out, false };
	dl_iterate_phdr(each_module, &q);
	uintptr_t start;
	size_t size;
	if ((!q.found || !out->size) && fde_range(addr, &start, &size)) {
		if (!q.found)
			snprintf(out->name, sizeof(out->name), "function at %#lx", (unsigned long)start);
		out->addr = start;
		out->size = size;
		q.found = true;
	}
	if (!q.found)
		return BPFRT_EINVAL;
	return BPFRT_OK;
}

static bool has_btf(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	elf_version(EV_CURRENT);
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	size_t shstrndx;
	bool found = false;
	if (elf && !elf_getshdrstrndx(elf, &shstrndx)) {
		for (Elf_Scn *scn = NULL; !found && (scn = elf_nextscn(elf, scn));) {
			GElf_Shdr sh;
			const char *nm = gelf_getshdr(scn, &sh) ? elf_strptr(elf, shstrndx, sh.sh_name) : NULL;
			found = nm && !strcmp(nm, ".BTF");
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return found;
}

/* The argument slots of a function, from the BTF of the module that holds
 * it (a .BTF section: gcc -gbtf, or pahole -J): each argument of up to 8
 * bytes takes one, of 9 to 16 two (the kernel's struct arguments), as the
 * registers carry them.  BPFRT_NARGS_UNKNOWN without BTF for it; -2 (why
 * in why) when the arguments cannot be laid out as ctx slots. */
int bpfrt_sym_nargs(uintptr_t func, const char *name, char *why, size_t whylen)
{
	Dl_info di;
	if (!name || !dladdr((void *)func, &di))
		return BPFRT_NARGS_UNKNOWN;
	const char *path = di.dli_fname;
	char exe[4096];
	if (!path || !strchr(path, '/')) { /* the executable's name is not a path */
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n <= 0)
			return BPFRT_NARGS_UNKNOWN;
		exe[n] = '\0';
		path = exe;
	}
	if (!has_btf(path)) /* (libbpf would complain on stderr) */
		return BPFRT_NARGS_UNKNOWN;
	struct btf *btf = btf__parse_elf(path, NULL);
	if (!btf || libbpf_get_error(btf))
		return BPFRT_NARGS_UNKNOWN;
	int rc = BPFRT_NARGS_UNKNOWN;
	int id = btf__find_by_name_kind(btf, name, BTF_KIND_FUNC);
	const struct btf_type *fn = id > 0 ? btf__type_by_id(btf, (unsigned)id) : NULL;
	const struct btf_type *proto = fn ? btf__type_by_id(btf, fn->type) : NULL;
	if (proto && btf_is_func_proto(proto)) {
		const struct btf_param *pa = btf_params(proto);
		int slots = 0;
		for (unsigned i = 0; i < btf_vlen(proto) && rc != -2; i++) {
			if (!pa[i].type) {
				snprintf(why, whylen, "%s is variadic", name);
				rc = -2;
				break;
			}
			const struct btf_type *t = btf__type_by_id(btf, (unsigned)btf__resolve_type(btf, pa[i].type));
			long size = btf__resolve_size(btf, pa[i].type);
			if (!t || size <= 0 || size > 16 || btf_is_float(t)) {
				snprintf(why, whylen, "argument %u of %s (%ld bytes%s) is not passed in integer registers",
					 i, name, size, t && btf_is_float(t) ? ", floating-point" : "");
				rc = -2;
				break;
			}
			if (btf_is_composite(t)) { /* a struct of floats goes in vector registers */
				const struct btf_member *m = btf_members(t);
				for (unsigned k = 0; k < btf_vlen(t); k++) {
					const struct btf_type *mt = btf__type_by_id(btf, (unsigned)btf__resolve_type(btf, m[k].type));
					if (mt && btf_is_float(mt)) {
						snprintf(why, whylen, "argument %u of %s is a struct with floating-point "
							 "members (vector registers)", i, name);
						rc = -2;
					}
				}
			}
			slots += size > 8 ? 2 : 1;
		}
		if (rc != -2)
			rc = slots;
	}
	btf__free(btf);
	return rc;
}
