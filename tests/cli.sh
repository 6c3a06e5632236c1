#!/bin/sh
# cli.sh — tests of the bpfrt command-line tool.  Usage: cli.sh BPFRT
set -u
B=$1
top=$(cd "$(dirname "$0")/.." && pwd)
CORPUS_DIR=${BPFRT_CORPUS:-$top/../shared/corpus}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
pass=0
fail=0

# check NAME EXPECTED_EXIT EXPECTED_OUTPUT_SUBSTRING CMD...
check() {
	name=$1 want_rc=$2 want=$3
	shift 3
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$want_rc" ] && case "$out" in *"$want"*) true ;; *) false ;; esac; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL $name: exit $rc (wanted $want_rc), output: $out"
	fi
}

printf 'mov %%r0, 5\nadd %%r0, %%r2\nexit\n' > "$t/p.s"
check "run asm" 0 "0x9" "$B" run "$t/p.s" --mem "00 01 02 03"
check "run example" 0 "0xa" "$B" run "$top/examples/sum.s" --mem "01 02 03 04"
check "run fast" 0 "0xa" "$B" run "$top/examples/sum.s" --mem "01020304" --fast
check "run switch" 0 "0xa" "$B" run "$top/examples/sum.s" --mem "01020304" --interp-switch
printf '\001\002\003' > "$t/m.bin"
check "run mem-file" 0 "0x6" "$B" run "$top/examples/sum.s" --mem-file "$t/m.bin"
check "run repeat" 0 "ns per run" "$B" run "$top/examples/sum.s" --mem "01" --repeat 1000
check "asm -o" 0 "" "$B" asm "$t/p.s" -o "$t/p.bin"
check "run bin" 0 "0x5" "$B" run "$t/p.bin"
check "asm hex" 0 "0x00000005000000b7" "$B" asm "$t/p.s"
check "disasm bin" 0 "    1: add %r0, %r2" "$B" disasm "$t/p.bin"
check "disasm helper name" 0 "call 5 # bpf_ktime_get_ns" sh -c "printf 'call 5\nexit\n' > $t/h.s && $B disasm $t/h.s"
cp "$top/tests/data/sdiv-min.data" "$t/x.data"
check "run data" 0 "0x8000000000000000" "$B" run "$t/x.data"
check "run data mem" 0 "0x1" "$B" run "$top/tests/data/safe-inbounds-load.data"
# safe mode's run-time checks, on programs the verifier would refuse (hence --trusted)
check "safe fault" 1 "insn 0: out-of-bounds load of 4 bytes" "$B" run "$top/tests/data/safe-oob-load.data" --trusted
check "budget" 1 "exceeded its budget of 100 instructions" "$B" run "$top/tests/data/safe-budget.data" --budget 100 --trusted
check "verifier refuses at load" 1 "refused by the verifier: insn 0: invalid read from context" \
	"$B" run "$top/tests/data/safe-oob-load.data"
check "verifier refuses an endless loop" 1 "refused by the verifier" "$B" run "$top/tests/data/safe-budget.data"
# bpfrt verify
check "verify accepted" 0 "xdp_count (xdp): accepted" "$B" verify "$top/build/bpf/xdp_count.o"
check "verify bpfrt platform" 0 "accepted" "$B" verify "$top/build/bpf/maps.o" --platform bpfrt
check "verify json" 0 '"verdict": "accepted"' "$B" verify "$top/build/bpf/xdp_count.o" --json
check "verify log level 2" 0 "R6=pkt(r=14)" "$B" verify "$top/build/bpf/xdp_count.o" --log-level 2
check "verify refused" 1 "insn 4: R0 !read_ok" "$B" verify "$CORPUS_DIR/ebpf-samples/build/tail_call.o"
check "verify refused: section" 1 "which is not initialised" "$B" verify "$CORPUS_DIR/ebpf-samples/build/ringbuf_uninit.o" --section .text
check "verify refused: the source line (BTF line info)" 1 "; badmapptr.c:25: uint32_t* value = bpf_map_lookup_elem(map + 1, &key);" \
	"$B" verify "$CORPUS_DIR/ebpf-samples/build/badmapptr.o"
check "verify log level 2: source lines" 0 "; xdp_count.bpf.c:" "$B" verify "$top/build/bpf/xdp_count.o" --log-level 2
check "verify no such program" 2 "no program named nope" "$B" verify "$top/build/bpf/xdp_count.o" --prog nope
check "verify bad object" 2 "" "$B" verify "$t/p.s"
check "reject" 1 "insn 0: jump to insn 6 is outside the program" "$B" run "$top/tests/data/reject-jump-out.data"
check "asm error" 1 "line 3: invalid register '%r11'" "$B" run "$top/tests/data/asm-error-line.data"
printf 'abc' > "$t/bad.bin"
check "bad bin" 1 "not a whole number of 8-byte instructions" "$B" run "$t/bad.bin"
check "missing file" 1 "No such file" "$B" run "$t/nope.s"
printf '\177ELFxxxx' > "$t/x.o"
check "elf" 1 "not an ELF object" "$B" run "$t/x.o"
check "jit" 0 "0x9" "$B" run "$t/p.s" --jit --mem "00 01 02 03"
check "jit safe" 1 "safe mode runs on the interpreter" "$B" run "$t/p.s" --jit --safe
check "bad mem" 1 "--mem: bad hex" "$B" run "$t/p.s" --mem "zz"
check "plugin" 0 "3" sh -c "echo 'b7 00 00 00 03 00 00 00 95 00 00 00 00 00 00 00' | $B plugin"
check "plugin mem" 0 "2211" sh -c "echo '69  10  00  00  00  00  00  00  95  00  00  00  00  00  00  00' | $B plugin --interp '11  22  '"
check "plugin mem last" 0 "2211" sh -c "echo '6910000000000000 9500000000000000' | $B plugin '11  22  ' --interp-switch"
check "plugin reject" 1 "reserved field" sh -c "echo '07 00 01 00 01 00 00 00 95 00 00 00 00 00 00 00' | $B plugin"
check "plugin bad hex" 1 "not hex" sh -c "echo 'xyz' | $B plugin"
ln -s "$(cd "$(dirname "$B")" && pwd)/$(basename "$B")" "$t/bpfrt-plugin"
check "plugin argv0" 0 "3" sh -c "echo 'b70000000300000095000000 00000000' | $t/bpfrt-plugin"
check "version" 0 "0.1.0" "$B" version
check "help" 0 "commands:" "$B" help
check "no args" 2 "usage" "$B"
check "unknown cmd" 2 "unknown command 'frob'" "$B" frob
for c in asm disasm run plugin; do
	check "$c --help" 0 "usage: bpfrt $c" "$B" "$c" --help
done
check "run usage" 2 "usage: bpfrt run" "$B" run
check "run bad opt" 2 "usage: bpfrt run" "$B" run "$t/p.s" --frob

# objects
OBJ=${BPFRT_BPF_OBJS:-$top/build/bpf}/maps.o
if [ -f "$OBJ" ]; then
	check "prog list" 0 "prog count" "$B" prog list "$OBJ"
	check "prog list json" 0 '"name": "count", "section": "syscall"' "$B" prog list "$OBJ" --json
	check "run obj" 0 "0x7d" "$B" run "$OBJ" --mem "01000000 05000000 0000000000000000"
	check "run obj jit maps" 0 '"r0": 125' "$B" run "$OBJ" --jit --json --dump-maps --mem "01000000 05000000 0000000000000000"
	check "run obj dump maps" 0 "04000000: 3700000000000000" "$B" run "$OBJ" --dump-maps --mem "01000000 05000000 0000000000000000"
	check "run obj bad prog" 1 "no program nope" "$B" run "$OBJ" --prog nope
	check "prog list usage" 2 "usage: bpfrt prog" "$B" prog
	check "map dump" 0 "00000000: 0700000000000000" "$B" map dump "$OBJ" .data
	check "map dump json" 0 '".rodata": [{"key": "00000000", "value": "03000000"}]' "$B" map dump "$OBJ" .rodata --json
	check "map dump missing" 1 "no map nope" "$B" map dump "$OBJ" nope
	check "dump jited obj" 0 "main program at insn 0" "$B" dump jited "$OBJ" --prog count
	check "dump xlated obj" 0 "; added" "$B" dump xlated "$OBJ" --blind
	IOBJ=${BPFRT_BPF_OBJS:-$top/build/bpf}/inline.o
	check "dump jited inlined" 0 "  (inlined)" "$B" dump jited "$IOBJ" --prog calls_step
	check "dump jited stubs" 0 "the stubs of the 10 inlined calls" "$B" dump jited "$IOBJ" --prog calls_step
	check "dump jited no-inline" 0 "2 function(s), 0 inlined call(s)" "$B" dump jited "$IOBJ" --prog calls_step --no-inline
	check "run no-inline" 0 "00000000: 2701000000000000" "$B" run "$IOBJ" --prog calls_step --jit --no-inline --dump-maps
fi

# bpfrt trace: an unmodified system binary with the LD_PRELOAD agent (not
# under a sanitizer: its runtime would have to come first in the program)
MC="$top/build/examples/malloc_count.o"
AGENT="$(dirname "$B")/libbpfrt-agent.so"
if [ -f "$MC" ] && ! ldd "$AGENT" 2>/dev/null | grep -q 'libasan\|libtsan\|libubsan'; then
	check "trace ls: counts" 0 "free_calls = " "$B" trace "$MC" -- ls /
	check "trace ls: sizes map" 0 "map sizes (hash):" "$B" trace "$MC" -- ls /
	out=$("$B" trace "$MC" -- ls / 2>&1 >/dev/null)
	n=$(echo "$out" | sed -n 's/^  malloc_calls = //p')
	if [ -n "$n" ] && [ "$n" -gt 10 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL trace ls: malloc_calls '$n'"; fi
	check "trace: ls output intact" 0 "usr" "$B" trace "$MC" -- ls /
	check "trace --out" 0 "malloc_calls" sh -c "$B trace $MC --out $t/tr.txt -- ls / >/dev/null && cat $t/tr.txt"
	check "trace: no command" 2 "no command after --" "$B" trace "$MC"
	check "trace: bad object" 2 "bpfrt trace:" "$B" trace "$t/p.s" -- true
	check "trace: unknown command" 127 "No such file" "$B" trace "$MC" -- /nonexistent/cmd
	TL="$top/build/bpf/trace_libc.o"
	check "trace: fexit needs nargs" 0 "number of arguments of" "$B" trace "$TL" -- true
	check "trace: fexit on an ifunc" 0 "strlen_calls = " "$B" trace "$TL" --nargs strlen=1,getenv=1 -- ls /
	out=$("$B" trace "$TL" --nargs strlen=1,getenv=1 -- ls / 2>&1 >/dev/null)
	n=$(echo "$out" | sed -n 's/^  strlen_total = //p')
	if [ -n "$n" ] && [ "$n" -gt 10 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL trace ls strlen_total '$n': $out"; fi
	n=$(echo "$out" | sed -n 's/^  opendir_calls = //p')
	if [ -n "$n" ] && [ "$n" -ge 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL trace ls uprobe opendir '$n': $out"; fi
	check "trace: trace_printk lines" 0 "getenv(COLUMNS) called" "$B" trace "$TL" --nargs strlen=1,getenv=1 -- ls -C /
	check "trace: missing function" 0 "no function bpf_fentry_test1" "$B" trace "$top/build/bpf/trace.o" -- true
else
	echo "SKIP bpfrt trace tests: no $MC or a sanitized agent"
fi

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
