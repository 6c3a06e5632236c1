/*
 * obj.h — BPF ELF objects: what the loader (elf.c) finds in them.
 */
#ifndef BPFRT_OBJ_H
#define BPFRT_OBJ_H

#include "internal.h"

/* Map definitions, from the legacy `maps` section, BTF `.maps`, or global
 * data sections (.data, .rodata, .bss, .data.*, .rodata.*). */
enum obj_map_kind { MAPDEF_LEGACY, MAPDEF_BTF, MAPDEF_DATA };

struct obj_slot_init {   /* `.values = { [slot] = &prog_or_map }` */
	uint32_t slot;
	bool is_prog;
	char *target;        /* the program's or map's name */
};

struct obj_mapdef {
	char *name;
	enum obj_map_kind kind;
	uint32_t type, key_size, value_size, max_entries, flags;
	size_t sec_off;            /* offset of its definition in its section */
	int inner;                 /* index of the inner map template in maps[], or -1 */
	bool is_inner_template;    /* an `__array(values, ...)` inner definition */
	uint8_t *data;             /* MAPDEF_DATA: the initial value (value_size bytes) */
	bool rodata;
	struct obj_slot_init *slots;
	size_t nslots;
	size_t values_off;         /* BTF: offset of `values` in the definition */
	int shndx;                 /* the ELF section it lives in */
	int64_t legacy_inner;      /* legacy map-in-map: inner_map_idx of samples/bpf's
				    * struct bpf_load_map_def, or -1 */
};

struct obj_prog {
	char *name, *sec;
	struct bpfrt_insn *insns;  /* the program with its subprograms appended; map
				    * references as LDDW src 5/6 with imm = map index */
	size_t n;
	uint32_t type;             /* enum bpf_prog_type */
	size_t nmaps_used;
	uint32_t *maps_used;
	size_t sec_off;            /* offset of the function in its section, in insns */
	int shndx;
	char *link_err;            /* non-NULL: cannot be linked (why); loading it fails */
	size_t text_at;            /* where .text was appended, or SIZE_MAX */
	uint32_t *text_map;        /* .text insn -> its index here (UINT32_MAX: dropped), or NULL */
	size_t ntext_map;
	struct obj_line *lines;    /* .BTF.ext line info, by instruction (sorted) */
	size_t nlines;
	struct obj_func *funcs;    /* its .text functions (subprograms), by name */
	size_t nfuncs;
};

/* The source line of instruction `insn` of program p, or NULL. */
BPFRT_HIDDEN const char *bpfrt_obj_line(const struct obj_prog *p, size_t insn);

struct bpfrt_obj {
	bpfrt_vm *vm;
	char *name;
	char license[128];
	struct obj_prog *progs;
	size_t nprogs;
	struct obj_mapdef *maps;
	size_t nmaps;
	struct bpfrt_map **live;   /* the maps, created at open (NULL: not supported) */
	char **why;                /* for each NULL map, why */
	bool has_btf, has_btf_ext;
};

BPFRT_HIDDEN int bpfrt_elf_parse(bpfrt_obj *obj, const void *buf, size_t len, struct bpfrt_err *err);
BPFRT_HIDDEN void bpfrt_obj_defs_free(bpfrt_obj *obj);
struct vf_result;
BPFRT_HIDDEN int bpfrt_obj_verify_internal(bpfrt_obj *obj, size_t pi, int platform, unsigned level,
					   struct vf_result *vr);
BPFRT_HIDDEN void bpfrt_obj_maps_free(bpfrt_obj *obj);
BPFRT_HIDDEN uint32_t bpfrt_prog_type_of_section(const char *sec);
BPFRT_HIDDEN const char *bpfrt_prog_type_name(uint32_t type);
BPFRT_HIDDEN const char *bpfrt_map_type_name(uint32_t type);

#endif
