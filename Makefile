# bpfrt — GNU make build.
#
#   make             build/libbpfrt.a, build/libbpfrt.so, build/bpfrt
#   make check       every test (installs missing packages first)
#   make bench       the benchmarks
#   make fuzz        run a libFuzzer target (FUZZER=load|jit|elf|verify, FUZZ_TIME seconds, default 600)
#   make deps        install the Debian packages we need
#   make install     PREFIX=/usr/local DESTDIR=
#   make SAN=address|undefined|thread|address,undefined ...   in build/san-NAME
#   make CC=clang    any C11 compiler with GNU extensions

CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
SAN     ?=
FUZZ_TIME ?= 600
FUZZ_CC ?= clang-19

comma := ,
BUILD := build
ifneq ($(SAN),)
BUILD := build/san-$(subst $(comma),-,$(SAN))
SANFLAGS := -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS  ?= -O2 -g
ALL_CFLAGS := -std=gnu11 $(CFLAGS) $(WARN) -fPIC -fvisibility=hidden -Iinclude -Isrc -Itools -Itests \
	$(SANFLAGS) -MMD -MP
LDLIBS  := -lbpf -lelf -lurcu-memb -lurcu-common -lZydis -lpthread -lm
ALL_LDFLAGS := $(LDFLAGS) $(SANFLAGS)

LIB_SRC := src/insn.c src/validate.c src/interp.c src/jit_x86.c src/jit_mem.c src/jit_dump.c src/patch.c src/rewrite.c src/elf.c src/obj.c src/progtype.c src/map.c src/ringbuf.c src/ctx.c src/asm.c src/disasm.c \
	src/helpers.c src/vm.c src/tpoke.c src/reloc.c src/sym.c src/tramp.c src/rethook.c $(wildcard src/verifier/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(BUILD)/cli/main.o $(BUILD)/tools/datafile.o
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZERS := load jit elf verify
TOOL_BIN := $(BUILD)/tests/run_conformance $(BUILD)/tests/run_data $(BUILD)/tests/run_verify \
	$(BUILD)/tests/run_kverify \
	$(FUZZERS:%=$(BUILD)/tests/fuzz_%_replay)
BENCH_BIN := $(BUILD)/bench/bench
BPF_SRC := $(wildcard tests/bpf/*.bpf.c)
BPF_OBJ := $(BPF_SRC:tests/bpf/%.bpf.c=$(BUILD)/bpf/%.o) \
	$(patsubst examples/%.bpf.c,$(BUILD)/examples/%.o,$(wildcard examples/*.bpf.c))
BPF_CC ?= clang-19
BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -I/usr/include/$(shell gcc -print-multiarch 2>/dev/null)
# the shared corpus: the kernel's verifier tests are converted from it at build time
CORPUS ?= $(or $(BPFRT_CORPUS),../shared/corpus)
KV_DIR := $(CORPUS)/kernel-verifier/verifier
KVT := $(patsubst $(KV_DIR)/%.c,$(BUILD)/kverifier/%.kvt,$(wildcard $(KV_DIR)/*.c))
# PREVAIL's YAML cases -> one .kvt (tools/prevail2kvt.py, Debian's python3-yaml)
PV_YAML := $(wildcard $(CORPUS)/prevail/test-data/*.yaml)
PVT := $(if $(PV_YAML),$(BUILD)/prevail/prevail.kvt)
# ... and the newer ones, BPF C whose expectations are BTF decl tags
KVP_DIR := $(CORPUS)/kernel-verifier/progs
KVT += $(patsubst $(KVP_DIR)/%.c,$(BUILD)/kverifier/%.o,$(wildcard $(KVP_DIR)/verifier_*.c))

.PHONY: all check bench fuzz deps install clean tests verifier-cases check-build
# keep intermediate files (objects of pattern chains, converted test copies)
.SECONDARY:
all: $(BUILD)/libbpfrt.a $(BUILD)/libbpfrt.so $(BUILD)/bpfrt $(BUILD)/libbpfrt-agent.so

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libbpfrt.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

SOMAJOR := $(shell sed -n 's/^\#define BPFRT_VERSION_MAJOR //p' include/bpfrt.h)
$(BUILD)/libbpfrt.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libbpfrt.so.$(SOMAJOR) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

# the LD_PRELOAD agent of `bpfrt trace` (the library inside, nothing exported
# but its constructor's effects)
$(BUILD)/libbpfrt-agent.so: $(BUILD)/cli/agent.o $(LIB_OBJ)
	$(CC) -shared $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bpfrt: $(CLI_OBJ) $(BUILD)/libbpfrt.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

# Tests link the static library, so they can reach internal functions.
$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(BUILD)/tests/testutil.o $(BUILD)/tools/datafile.o \
		$(BUILD)/tests/patch_oracle.o $(BUILD)/libbpfrt.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS)
$(BUILD)/tests/run_%: $(BUILD)/tests/run_%.o $(BUILD)/tests/testutil.o $(BUILD)/tests/kload.o \
		$(BUILD)/tools/datafile.o $(BUILD)/libbpfrt.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tests/fuzz_%_replay: $(BUILD)/fuzz/fuzz_%.o $(BUILD)/fuzz/replay.o $(BUILD)/libbpfrt.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/bench/bench: $(BUILD)/bench/bench.o $(BUILD)/bench/jit.o $(BUILD)/bench/patch.o \
		$(BUILD)/bench/maps.o $(BUILD)/bench/verify.o $(BUILD)/bench/tailcall.o $(BUILD)/bench/trace.o \
		$(BUILD)/tests/kload.o \
		$(BUILD)/libbpfrt.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

# a library with BTF (gcc -gbtf, whatever CC is) for the tracing tests
$(BUILD)/tests/libtrace_btf.so: tests/data/trace_btf.c
	@mkdir -p $(dir $@)
	gcc -O2 -gbtf -fPIC -shared -fpatchable-function-entry=5 $< -o $@

# BPF C test programs and examples, as a kernel developer builds them
$(BUILD)/bpf/%.o: tests/bpf/%.bpf.c
	@mkdir -p $(dir $@)
	$(BPF_CC) $(BPF_CFLAGS) -c $< -o $@
$(BUILD)/examples/%.o: examples/%.bpf.c
	@mkdir -p $(dir $@)
	$(BPF_CC) $(BPF_CFLAGS) -c $< -o $@

# The kernel's test_verifier cases -> .kvt (tools/kvconvert.c).  The copies
# fix the three strings the corpus README lists as corrupted ("no" -> "yes").
$(BUILD)/kverifier/%.c: $(KV_DIR)/%.c
	@mkdir -p $(dir $@)
	sed -e 's/yesn-invalid fp/non-invalid fp/' -e 's/yest pointing to valid/not pointing to valid/' \
		-e 's/within bounds, yes prog/within bounds, no prog/' $< > $@
$(BUILD)/kverifier/%.kvt: $(BUILD)/kverifier/%.c tools/kvconvert.c
	$(CC) -std=gnu11 -O0 -w -DKV_SRC='"$(abspath $<)"' tools/kvconvert.c -o $(BUILD)/kverifier/conv-$*
	$(BUILD)/kverifier/conv-$* > $@.tmp && mv $@.tmp $@

$(BUILD)/prevail/prevail.kvt: $(PV_YAML) tools/prevail2kvt.py
	@mkdir -p $(dir $@)
	/usr/bin/python3 tools/prevail2kvt.py $@.tmp $(PV_YAML) && mv $@.tmp $@
$(BUILD)/kverifier/verifier_%.o: $(KVP_DIR)/verifier_%.c
	@mkdir -p $(dir $@)
	$(BPF_CC) -O2 -g -target bpf -mcpu=v4 -D__TARGET_ARCH_x86 -I$(KVP_DIR) \
		-I/usr/include/$(shell gcc -print-multiarch 2>/dev/null) -c $< -o $@

deps:
	@scripts/deps.sh install

# Installs missing packages when a fresh machine lacks them.
$(BUILD)/.deps-ok: scripts/deps.sh
	@scripts/deps.sh check || scripts/deps.sh install
	@mkdir -p $(BUILD) && touch $@

tests: all $(UNIT_BIN) $(TOOL_BIN) $(BENCH_BIN) $(BPF_OBJ) $(BUILD)/tests/libtrace_btf.so verifier-cases
# the converted verifier cases (kernel selftests, PREVAIL)
verifier-cases: $(KVT) $(PVT)
check-build: all $(UNIT_BIN) $(TOOL_BIN) $(BPF_OBJ) $(BUILD)/tests/libtrace_btf.so verifier-cases

check: $(BUILD)/.deps-ok
	@$(MAKE) --no-print-directory -s check-build
	@BUILD=$(BUILD) BPFRT_BPF_OBJS=$(BUILD)/bpf tests/run-all.sh

bench: all $(BENCH_BIN) $(BPF_OBJ)
	BPFRT_MAPBENCH=$(BUILD)/bpf/mapbench.o BPFRT_TAILBENCH=$(BUILD)/bpf/tailcall.o \
		BPFRT_TRACEBENCH=$(BUILD)/bpf/trace.o $(BENCH_BIN)

# make fuzz FUZZER=load|jit|elf|verify FUZZ_TIME=seconds: new inputs go to build/fuzz/corpus-NAME
FUZZER ?= load
fuzz: $(BUILD)/.deps-ok
	@mkdir -p build/fuzz/corpus-$(FUZZER)
	$(FUZZ_CC) -std=gnu11 -O1 -g -fsanitize=fuzzer,address,undefined -Iinclude -Isrc \
		-o build/fuzz/fuzz_$(FUZZER) fuzz/fuzz_$(FUZZER).c $(LIB_SRC) $(LDLIBS)
	build/fuzz/fuzz_$(FUZZER) -max_total_time=$(FUZZ_TIME) -max_len=4096 -print_final_stats=1 \
		build/fuzz/corpus-$(FUZZER) fuzz/corpus/$(FUZZER)

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(BUILD)/libbpfrt.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libbpfrt.so $(DESTDIR)$(PREFIX)/lib/libbpfrt.so.$(SOMAJOR)
	ln -sf libbpfrt.so.$(SOMAJOR) $(DESTDIR)$(PREFIX)/lib/libbpfrt.so
	install -m 644 include/bpfrt.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(BUILD)/bpfrt $(DESTDIR)$(PREFIX)/bin/
	install -m 755 $(BUILD)/libbpfrt-agent.so $(DESTDIR)$(PREFIX)/lib/
	sed -e 's|@PREFIX@|$(PREFIX)|' \
		-e "s|@VERSION@|$$(sed -n 's/^#define BPFRT_VERSION_\(MAJOR\|MINOR\|PATCH\) //p' include/bpfrt.h | paste -sd.)|" \
		bpfrt.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/bpfrt.pc

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
