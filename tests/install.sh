#!/bin/sh
# install.sh — `make install` into a temporary prefix, then build the
# embedding example against it through pkg-config (shared and static) and
# run it.  Usage: install.sh BUILD
set -u
BUILD=$1
top=$(cd "$(dirname "$0")/.." && pwd)
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL $1"; }

if make -s -C "$top" BUILD="$BUILD" install PREFIX="$t/p" >"$t/log" 2>&1; then ok; else ko "make install"; cat "$t/log"; fi
for f in lib/libbpfrt.a lib/libbpfrt.so lib/libbpfrt.so.0 lib/libbpfrt-agent.so include/bpfrt.h bin/bpfrt lib/pkgconfig/bpfrt.pc; do
	if [ -e "$t/p/$f" ]; then ok; else ko "installed $f"; fi
done
export PKG_CONFIG_PATH="$t/p/lib/pkgconfig"
if cc -std=c11 -Wall -Wextra -Werror "$top/examples/embed.c" $(pkg-config --cflags --libs bpfrt) \
	-o "$t/embed" 2>"$t/log" && LD_LIBRARY_PATH="$t/p/lib" "$t/embed" | grep -q '6 \* 7 = 42'; then
	ok
else
	ko "embed (shared)"; cat "$t/log"
fi
if cc -std=c11 "$top/examples/embed.c" $(pkg-config --cflags bpfrt) "$t/p/lib/libbpfrt.a" \
	$(pkg-config --static --libs-only-l bpfrt | sed 's/-lbpfrt//') -o "$t/embed-static" 2>"$t/log" &&
	"$t/embed-static" | grep -q '6 \* 7 = 42'; then
	ok
else
	ko "embed (static)"; cat "$t/log"
fi
# the shared library exports only the bpfrt_ API
bad=$(nm -D --defined-only "$t/p/lib/libbpfrt.so" | awk '{print $3}' | grep -v '^bpfrt_' | grep -v '^_' )
if [ -z "$bad" ]; then ok; else ko "exported symbols outside bpfrt_*: $bad"; fi
if "$t/p/bin/bpfrt" version >/dev/null; then ok; else ko "installed CLI"; fi
echo "install: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
