#!/bin/sh
# corpus.sh — the real-world BPF objects of the shared corpus through
# `bpfrt prog list`: each must open, but for the few listed here with the
# reason bpfrt refuses them; and the malformed objects of invalid/ must be
# refused (at open, or when their programs load or run in safe mode), with
# a message and never a crash.  Usage: corpus.sh BPFRT CORPUS
set -u
B=$1
E=$2/ebpf-samples
pass=0
fail=0
# objects bpfrt refuses, and why (the kernel refuses the first three too)
known="build/badrelo.o:calls an undefined function (ebpf_map_update_elem)
build/externalfunction.o:calls an undefined function (bpf_map_lookup_elem as a symbol)
falco/probe.o:calls memset, an undefined symbol
ovs/datapath.o:RELA relocations on a program section"
listed=0
refused=0
for f in $(find "$E" -name '*.o' -not -path '*/invalid/*' | sort); do
	rel=${f#$E/}
	why=$(printf '%s\n' "$known" | sed -n "s|^$rel:||p")
	if "$B" prog list "$f" >/dev/null 2>/tmp/corpus.$$; then
		listed=$((listed + 1))
		if [ -n "$why" ]; then
			echo "FAIL $rel: expected to be refused ($why), but it opened"
			fail=$((fail + 1))
		else
			pass=$((pass + 1))
		fi
	else
		refused=$((refused + 1))
		if [ -n "$why" ]; then
			pass=$((pass + 1))
		else
			echo "FAIL $rel: $(cat /tmp/corpus.$$)"
			fail=$((fail + 1))
		fi
	fi
done
total=$((listed + refused))
echo "corpus: $listed of $total objects open ($refused refused, each for the reason listed in corpus.sh)"
for f in "$E"/invalid/*; do
	"$B" prog list "$f" >/dev/null 2>/tmp/corpus.$$
	rc=$?
	if [ $rc -gt 1 ]; then
		echo "FAIL invalid/$(basename "$f"): exit $rc"
		fail=$((fail + 1))
		continue
	fi
	if [ $rc -eq 1 ]; then
		pass=$((pass + 1))
		continue
	fi
	# it opened: every program must be refused at load or fault in safe mode
	ok=1
	for p in $("$B" prog list "$f" | sed -n 's/^  prog \([^ ]*\) .*/\1/p'); do
		"$B" run "$f" --prog "$p" --mem "00000000000000000000000000000000" >/dev/null 2>/tmp/corpus.$$
		rc=$?
		if [ $rc -ne 1 ] && [ $rc -ne 0 ]; then ok=0; echo "FAIL invalid/$(basename "$f") $p: exit $rc"; fi
	done
	if [ $ok -eq 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
rm -f /tmp/corpus.$$
echo "corpus: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
