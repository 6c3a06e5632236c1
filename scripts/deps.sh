#!/bin/sh
# deps.sh — the Debian packages bpfrt needs, and their installation.
#   deps.sh check    exit 0 if every package is installed
#   deps.sh install  apt-get update, then install the missing ones
#   deps.sh list     print the list
#
# gcc, make, pkg-config  the build
# libcmocka-dev          the unit-test framework
# libzydis-dev           x86 disassembly (dump jited), instruction lengths (hooks)
# libelf-dev             reading BPF ELF objects
# libbpf-dev             libbpf's BTF API (.BTF, .maps), and bpf_helpers.h for BPF C tests
# liburcu-dev            RCU for maps and program arrays
# clang-19 and libclang-rt-19-dev  libFuzzer and the sanitizers' runtimes
#                        (clang -fsanitize=fuzzer), and BPF C test programs
# python3, python3-yaml  tools/prevail2kvt.py: PREVAIL's YAML verifier cases
set -eu
PKGS="gcc make pkg-config libcmocka-dev libzydis-dev libelf-dev libbpf-dev liburcu-dev clang-19 libclang-rt-19-dev python3 python3-yaml"

missing() {
	for p in $PKGS; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
	done
}

case "${1:-check}" in
list) echo "$PKGS" ;;
check) [ -z "$(missing)" ] ;;
install)
	m=$(missing)
	if [ -z "$m" ]; then echo "deps: all installed ($PKGS)"; exit 0; fi
	echo "deps: installing:" $m
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO="sudo"
	$SUDO apt-get update
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $m
	;;
*) echo "usage: $0 check|install|list" >&2; exit 2 ;;
esac
