#!/usr/bin/env bash
# prepare.sh CACHE_DIR KERNEL_DIR OUT
#
# Lays out, under OUT, what the QEMU suite adds to the VM image (image.sh's
# extra tree), all at /opt/qemu:
#   backports/, stable/  Debian's QEMU 10.0 and 7.2, from qemu-pkgs.sh;
#   unavailable          "NAME: why" for each that could not be had (its
#                        cases skip with that line);
#   guest/kernel         the inner guest's kernel: the VM's own, uncompressed
#                        (an ELF booted through its PVH entry) where possible;
#   guest/initrd.cpio    its initramfs: busybox-static, guest-init as /init,
#                        pci-peek (built here, static);
#   suite.sh             the suite the VM's /init runs (vuc.mode=qemu).
set -euo pipefail

die() {
	echo "prepare.sh: $*" >&2
	exit 1
}

[ $# -eq 3 ] || die "usage: prepare.sh CACHE_DIR KERNEL_DIR OUT"
cache=$1
kdir=$2
out=$3
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$kdir/vmlinuz" ] || die "no vmlinuz in $kdir (run kernel.sh)"
busybox=$(command -v busybox) || die "busybox not found (apt-get install busybox-static)"
cc=${CC:-cc}
command -v "$cc" >/dev/null || die "no C compiler ($cc)"

rm -rf "$out"
q=$out/opt/qemu
mkdir -p "$q/guest"
: >"$q/unavailable"

for kind in backports stable; do
	rc=0
	bundle=$("$here/../qemu-pkgs.sh" "$cache" "$kind" 2>"$out/$kind.err") || rc=$?
	cat "$out/$kind.err" >&2
	case $rc in
	0) cp -a "$bundle" "$q/$kind" ;;
	77)
		echo "$kind: $(tail -n 1 "$out/$kind.err" | sed 's/^qemu-pkgs.sh: //')" >>"$q/unavailable"
		echo "prepare.sh: no $kind qemu; its cases will skip" >&2
		;;
	*) die "qemu-pkgs.sh $kind failed" ;;
	esac
	rm -f "$out/$kind.err"
done

# The inner guest: the VM's kernel, busybox and pci-peek; nothing else, so
# it needs no libraries. The PCI core and sysfs are built into the kernel.
groot=$out/guest-root
mkdir -p "$groot"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys}
cp "$busybox" "$groot/bin/busybox"
cp "$here/guest-init" "$groot/init"
chmod 0755 "$groot/init"
"$cc" -static -O2 -Wall -Wextra -Werror -o "$groot/bin/pci-peek" "$here/pci-peek.c" ||
	die "building pci-peek failed (static linking needs libc6-dev's libc.a)"
(cd "$groot" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc -R 0:0 --quiet) >"$q/guest/initrd.cpio"
rm -rf "$groot"

# Booted through its PVH entry, the uncompressed kernel skips the firmware's
# loader and the kernel's own decompressor: at one level of TCG that is more
# than half of the CPU time to the guest's /init (3 s instead of 7). Debian
# compresses it with xz; anything else boots as it is.
vmlinux=$cache/qemu/vmlinux-$(basename "$kdir")
if [ ! -f "$vmlinux" ]; then
	off=$(LC_ALL=C grep -abo $'\xfd7zXZ' "$kdir/vmlinuz" | awk -F: 'NR == 1 { print $1 }')
	# xz stops after its stream, ahead of what follows it in the file.
	if [ -n "$off" ] && tail -c +$((off + 1)) "$kdir/vmlinuz" >"$vmlinux.xz" &&
		xz -dc --single-stream "$vmlinux.xz" >"$vmlinux.tmp" 2>/dev/null &&
		readelf -n "$vmlinux.tmp" 2>/dev/null | grep -q 'Xen.*(0x00000012)'; then
		mv "$vmlinux.tmp" "$vmlinux"
		rm -f "$vmlinux.xz"
	else
		rm -f "$vmlinux.tmp" "$vmlinux.xz"
		echo "prepare.sh: no PVH kernel in $kdir/vmlinuz; the inner guest boots it compressed" >&2
		vmlinux=$kdir/vmlinuz
	fi
fi
cp "$vmlinux" "$q/guest/kernel"

cp "$here/suite.sh" "$q/suite.sh"
chmod 0755 "$q/suite.sh"
