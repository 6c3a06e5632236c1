#!/bin/sh
# run-all.sh — runs every test suite of bpfrt and sums their counts.
# The last line is "N passed, N failed".  Called by `make check`.
#
#   BUILD=build           where the binaries are
#   BPFRT_CORPUS=DIR      the shared test corpus (default: ../shared/corpus)
set -u
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${BPFRT_CORPUS:-$top/../shared/corpus}
export BPFRT_CORPUS="$CORPUS"
BPFRT=$BUILD/bpfrt
# liburcu is not instrumented: its ordering is invisible to ThreadSanitizer
export TSAN_OPTIONS="${TSAN_OPTIONS:-suppressions=$top/tests/tsan.supp}"
total_pass=0
total_fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# add NAME PASS FAIL
add() {
	total_pass=$((total_pass + $2))
	total_fail=$((total_fail + $3))
	printf '  %-58s %5d passed, %d failed\n' "$1" "$2" "$3"
}

# suite NAME CMD...: runs CMD, shows its failures, takes its last "N passed, N failed"
suite() {
	name=$1
	shift
	"$@" >"$log" 2>&1
	rc=$?
	grep -E '^(FAIL|XFAIL|SKIP)|ERROR|runtime error|Sanitizer' "$log" | head -40
	line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		tail -20 "$log"
		add "$name (no summary, exit $rc)" 0 1
		return
	fi
	p=$(echo " $line" | sed -E 's/.*[^0-9]([0-9]+) passed, ([0-9]+) failed.*/\1/')
	f=$(echo " $line" | sed -E 's/.*[^0-9]([0-9]+) passed, ([0-9]+) failed.*/\2/')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	add "$name" "$p" "$f"
}

# cmocka NAME BIN: a cmocka binary's "[  PASSED  ] N" / "[  FAILED  ] N"
cmocka() {
	"$2" >"$log" 2>&1
	rc=$?
	grep -E '^\[  FAILED  \]|^\[  ERROR   \]|runtime error|Sanitizer' "$log" | head -40
	p=$(sed -n -E 's/^\[  PASSED  \] ([0-9]+) test.*/\1/p' "$log" | tail -n 1)
	f=$(sed -n -E 's/^\[  FAILED  \] ([0-9]+) test.*/\1/p' "$log" | tail -n 1)
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		tail -20 "$log"
		f=1
	fi
	add "$1" "$p" "$f"
}

echo "bpfrt tests ($BUILD)"
for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] && cmocka "unit: $(basename "$t")" "$t"
done

if [ ! -d "$CORPUS/conformance/tests" ]; then
	echo "the shared corpus is missing: set BPFRT_CORPUS (looked in $CORPUS)"
	add "corpus" 0 1
else
	C=$CORPUS/conformance
	for opts in "--interp" "--interp-switch" "--interp --fast" "--interp-switch --fast" "--jit" \
		"--jit --blind --zext" "--interp --blind --zext"; do
		# shellcheck disable=SC2086
		suite "conformance tests/ ($opts)" "$BUILD/tests/run_conformance" "$BPFRT" "$C/tests" $opts
	done
	suite "conformance negative/" "$BUILD/tests/run_conformance" "$BPFRT" "$C/negative" --negative \
		--xfail "error.data:returning r10 leaks a pointer: only the verifier (--verify) refuses it"
	suite "conformance negative/ (--verify)" "$BUILD/tests/run_conformance" "$BPFRT" "$C/negative" --negative \
		--verify
	suite "conformance tests/ (--verify): accepted ones still agree" "$BUILD/tests/run_conformance" "$BPFRT" \
		"$C/tests" --verify --allow-refused
	suite "real-world objects: prog list; malformed objects refused" sh "$top/tests/corpus.sh" "$BPFRT" "$CORPUS"
	suite "verifier vs expected verdicts of real objects" "$BUILD/tests/run_verify" \
		"$CORPUS/ebpf-samples/prevail_test_verify_expectations.tsv" "$CORPUS/ebpf-samples" \
		--known "$top/tests/verify_known.tsv"
	suite "kernel verifier tests (converted; vs expected and this kernel)" "$BUILD/tests/run_kverify" \
		--known "$top/tests/kverify_known.tsv" "$BUILD"/kverifier/*.kvt "$BUILD"/kverifier/*.o
	suite "PREVAIL's verifier cases (converted; accept/refuse)" "$BUILD/tests/run_kverify" \
		--known "$top/tests/prevail_known.tsv" "$BUILD"/prevail/prevail.kvt
	U=$CORPUS/ubpf/tests
	suite "conformance tests/ (JIT, 24 permuted register maps)" "$BUILD/tests/run_data" \
		--jit-permutations 24 "$C/tests"
	suite "uBPF tests (all engines)" "$BUILD/tests/run_data" --ubpf-helpers --jit-permutations 8 \
		--skip "reload.data:tests uBPF's load-twice API" \
		--skip "err-too-many-instructions.data:uBPF's limit is 65536 insns, bpfrt's is the kernel's 1M" \
		--skip "call_unwind.data:uBPF's unwind extension" \
		--skip "err-unknown-opcode.data:0x06 is gotol (ja32) since ISA v4" \
		"$U" "$U/errors" "$U/extensions" "$U/helpers" "$U/tcp-port-80" "$U/tcp-sack"
fi
suite "bpfrt data tests (all engines)" "$BUILD/tests/run_data" --match-errors --jit-permutations 8 \
	"$top/tests/data"
suite "fuzz corpus replay: load" "$BUILD/tests/fuzz_load_replay" "$top/fuzz/corpus/load"
suite "fuzz corpus replay: interpreter vs JIT" "$BUILD/tests/fuzz_jit_replay" "$top/fuzz/corpus/jit"
suite "fuzz corpus replay: ELF loader" "$BUILD/tests/fuzz_elf_replay" "$top/fuzz/corpus/elf"
suite "fuzz corpus replay: verifier soundness" "$BUILD/tests/fuzz_verify_replay" "$top/fuzz/corpus/verify"
suite "CLI" sh "$top/tests/cli.sh" "$BPFRT"
case "$BUILD" in
*san-*) echo "SKIP install + embed: a sanitizer build's library needs the sanitizer runtime to link" ;;
*) suite "install + embed via pkg-config" sh "$top/tests/install.sh" "$BUILD" ;;
esac

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
