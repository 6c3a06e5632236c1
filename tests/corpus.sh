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
# objects with programs that call functions they do not define: the object
# opens, those programs fail to load with the symbol's name (libbpf and the
# kernel refuse the whole object; the others here are fine to use)
unlinked="build/badrelo.o:ebpf_map_update_elem
build/externalfunction.o:bpf_map_lookup_elem
falco/probe.o:memset"
listed=0
refused=0
for f in $(find "$E" -name '*.o' -not -path '*/invalid/*' | sort); do
	rel=${f#$E/}
	sym=$(printf '%s\n' "$unlinked" | sed -n "s|^$rel:||p")
	if "$B" prog list "$f" >/dev/null 2>/tmp/corpus.$$; then
		listed=$((listed + 1))
		pass=$((pass + 1))
	else
		refused=$((refused + 1))
		echo "FAIL $rel: $(cat /tmp/corpus.$$)"
		fail=$((fail + 1))
	fi
	if [ -n "$sym" ]; then
		"$B" verify "$f" >/tmp/corpus.$$ 2>&1
		rc=$?
		if [ $rc -eq 2 ] && grep -q "refers to $sym, which the object does not define" /tmp/corpus.$$; then
			pass=$((pass + 1))
		else
			echo "FAIL $rel: expected programs that cannot be linked ($sym), got exit $rc"
			fail=$((fail + 1))
		fi
	fi
done
total=$((listed + refused))
echo "corpus: $listed of $total objects open ($refused refused)"
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
