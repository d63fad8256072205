#!/bin/sh
# Install the Debian packages that building and testing shootdown needs,
# if any is missing.  Silent when everything is there, so `make run` and
# `make test` can call it every time.
#
#     sh tools/install-deps.sh
#
# Runs apt-get as root, or through sudo; without either it prints the
# command to run and fails.  Exit status: 0 when everything is installed.
set -eu

# One package per line: the name, then why we need it.
packages() {
	cat <<'LIST'
gcc                 compiles the kernel (freestanding) and the host tests
clang               the other compiler: make CC=clang
lld                 clang's linker
libclang-rt-14-dev  clang's libFuzzer and sanitizer runtimes: make fuzz, the fuzzers in make test
binutils            ld and nm: the kernel link and its symbol table
make                the build
python3             tools/: the QEMU runner, the KTAP summary, gen_ksyms
grub-common         grub-mkrescue (builds the ISO) and grub-file
grub-pc-bin         GRUB for BIOS boots
grub-efi-amd64-bin  GRUB for UEFI boots
xorriso             grub-mkrescue writes the ISO with it
mtools              grub-mkrescue builds the ISO's EFI partition with it
qemu-system-x86     the emulator (depends on seabios, the BIOS firmware)
ovmf                UEFI firmware for QEMU
gdb                 make gdb, and tests/gdb/test_gdb.py in make test
spin                make model: the SPIN model checker (tools/model/)
LIST
}

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "install-deps.sh: not a Debian-like system; install by hand:" >&2
	packages | sed 's/^/    /' >&2
	exit 1
fi

missing=$(packages | while read -r pkg _; do
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null) || true
	case "$status" in
	ii*) ;;                         # installed and configured
	*) printf '%s ' "$pkg" ;;
	esac
done)
[ -z "$missing" ] && exit 0

missing=${missing% }
install="apt-get install -y -q --no-install-recommends"
if [ "$(id -u)" -eq 0 ]; then
	as_root=""
elif command -v sudo >/dev/null 2>&1; then
	as_root="sudo"
else
	echo "install-deps.sh: missing packages: $missing" >&2
	echo "as root, run:" >&2
	echo "    apt-get update && DEBIAN_FRONTEND=noninteractive $install $missing" >&2
	exit 1
fi

echo "install-deps.sh: installing $missing"
# noninteractive: no prompts, since CI runs this with no terminal.  The
# package lists may be stale or absent on a fresh machine: update first.
# $as_root, $install and $missing are unquoted on purpose: each splits
# into words (an empty $as_root into none).
# shellcheck disable=SC2086
{
	$as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
	$as_root env DEBIAN_FRONTEND=noninteractive $install $missing
}
