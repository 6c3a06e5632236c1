/*
 * sym.c — the process's functions by name and by address: the symbol
 * tables (.symtab, else .dynsym) of the executable and of every loaded
 * shared library, read with libelf from their files.
 */
#define _GNU_SOURCE
#include "internal.h"
#include "tramp.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <gelf.h>
#include <link.h>
#include <unistd.h>

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
		return bpfrt_sym_by_addr((uintptr_t)p, out) == BPFRT_OK ? BPFRT_OK : (out->addr = (uintptr_t)p, BPFRT_OK);
	}
	return BPFRT_OK;
}

int bpfrt_sym_by_addr(uintptr_t addr, struct bpfrt_sym *out)
{
	memset(out, 0, sizeof(*out));
	struct sym_query q = { NULL, addr, out, false };
	dl_iterate_phdr(each_module, &q);
	if (!q.found)
		return BPFRT_EINVAL;
	return BPFRT_OK;
}
