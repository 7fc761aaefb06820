#!/usr/bin/env bash
# image.sh STAGE KERNEL_DIR OUT [EXTRA]
#
# Builds the VM's initramfs (an uncompressed newc cpio, which the kernel
# unpacks faster than a compressed one under TCG) from:
#   - busybox-static, which provides the shell and every tool /init uses;
#   - tests/vm/init as /init;
#   - the modules kernel.sh extracted, with their load order;
#   - the install tree STAGE (cmake --install BUILD --prefix STAGE) at /opt/vuc;
#   - every shared library the stage's programs need, and the loader;
#   - EXTRA, a tree copied as it is to / (the QEMU suite's, tests/vm/qemu/
#     prepare.sh: it carries its own libraries; the benchmark's strace in
#     usr/bin, whose libraries are added as the stage's are).
# Needs no root: cpio records every file as owned by root.
set -euo pipefail

die() {
	echo "image.sh: $*" >&2
	exit 1
}

[ $# -eq 3 ] || [ $# -eq 4 ] || die "usage: image.sh STAGE KERNEL_DIR OUT [EXTRA]"
stage=$1
kdir=$2
out=$3
extra=${4:-}
here=$(cd "$(dirname "$0")" && pwd)

[ -d "$stage" ] || die "no install tree at $stage"
[ -f "$kdir/modules.load" ] || die "no kernel modules in $kdir (run kernel.sh)"
busybox=$(command -v busybox) || die "busybox not found (apt-get install busybox-static)"

root=$(mktemp -d "${TMPDIR:-/tmp}/vuc-image.XXXXXX")
trap 'rm -rf "$root"' EXIT

mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,etc,lib/modules,opt/vuc}
cp "$busybox" "$root/bin/busybox"
cp "$here/init" "$root/init"
chmod 0755 "$root/init"
cp "$kdir/modules.load" "$kdir"/*.ko "$root/lib/modules/"
cp -a "$stage/." "$root/opt/vuc/"
if [ -n "$extra" ]; then
	[ -d "$extra" ] || die "no extra tree at $extra"
	cp -a "$extra/." "$root/"
fi

# Enough for programs that look up users and groups (--owner, --group).
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
	>"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

is_elf() {
	[ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]
}

# ldd lists each library as "name => /path (addr)" and the loader as
# "/path (addr)"; keep both kinds, in the same place as on the host so the
# loader's default search path finds them.
libs_of() {
	ldd "$1" 2>/dev/null | awk '
		$2 == "=>" && $3 == "not" { print "MISSING " $1; next }
		$2 == "=>" && $3 ~ /^\// { print $3; next }
		$1 ~ /^\// { print $1 }'
}

declare -A copied=()
copy_lib() {
	[ -n "${copied[$1]+x}" ] && return 0
	copied[$1]=1
	mkdir -p "$root$(dirname "$1")"
	cp -L "$1" "$root$1"
}

while IFS= read -r -d '' f; do
	is_elf "$f" || continue
	while IFS= read -r lib; do
		case $lib in
		MISSING*) die "$f needs ${lib#MISSING }, which is not installed" ;;
		esac
		copy_lib "$lib"
	done < <(libs_of "$f")
done < <(find "$stage" "$root/bin/busybox" "$root/usr/bin" -type f -print0)

# glibc loads libgcc_s at run time (not in ldd) to unwind threads on
# pthread_cancel and pthread_exit, which libfuse uses; without it they abort.
if [ -n "${copied[*]}" ]; then
	gcc_s=$(/sbin/ldconfig -p | awk '$1 == "libgcc_s.so.1" && /x86-64/ && !p { p = $NF } END { print p }')
	[ -n "$gcc_s" ] || die "libgcc_s.so.1 not found (ldconfig -p)"
	copy_lib "$gcc_s"
fi

(cd "$root" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc -R 0:0 --quiet) >"$out.tmp"
mv "$out.tmp" "$out"
