#!/usr/bin/env bash
# prepare.sh CACHE_DIR KERNEL_DIR STAGE OUT
#
# Lays out, under OUT, what the QEMU suite adds to the VM image (image.sh's
# extra tree), all at /opt/qemu:
#   backports/, stable/  Debian's QEMU 10.0 and 7.2, from qemu-pkgs.sh;
#   sid/                 with VUC_QEMU_ANCHOR=1 (tests/bench/run.sh
#                        --anchor): sid's QEMU 11.1 for the anchor case,
#                        in place of backports/ (its case does not run);
#   unavailable          "NAME: why" for each that could not be had (its
#                        cases skip with that line);
#   guest/kernel         the inner guest's kernel: the VM's own, uncompressed
#                        (an ELF booted through its PVH entry) where possible;
#   guest/initrd.cpio    its initramfs: busybox-static, guest-init as /init,
#                        pci-peek (built here, static), the kernel's vfio
#                        modules (from the same kernel package, with their
#                        load order) and the example programs of the install
#                        tree STAGE with their libraries;
#   suite.sh             the suite the VM's /init runs (vuc.mode=qemu).
set -euo pipefail

die() {
	echo "prepare.sh: $*" >&2
	exit 1
}

[ $# -eq 4 ] || die "usage: prepare.sh CACHE_DIR KERNEL_DIR STAGE OUT"
cache=$1
kdir=$2
stage=$3
out=$4
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$kdir/vmlinuz" ] || die "no vmlinuz in $kdir (run kernel.sh)"
for p in vfio-lspci vfio-dma-demo; do
	[ -x "$stage/bin/$p" ] || die "no $p in $stage/bin (cmake --install first)"
done
busybox=$(command -v busybox) || die "busybox not found (apt-get install busybox-static)"
cc=${CC:-cc}
command -v "$cc" >/dev/null || die "no C compiler ($cc)"

rm -rf "$out"
q=$out/opt/qemu
mkdir -p "$q/guest"
: >"$q/unavailable"

kinds="backports stable"
[ "${VUC_QEMU_ANCHOR:-}" = 1 ] && kinds="stable sid"
for kind in $kinds; do
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

# The inner guest: the VM's kernel, busybox, pci-peek, the vfio modules and
# the example programs. The PCI core, sysfs and intel-iommu are built into
# the kernel; vfio is modules.
groot=$out/guest-root
mkdir -p "$groot"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,lib/modules}
cp "$busybox" "$groot/bin/busybox"
cp "$here/guest-init" "$groot/init"
chmod 0755 "$groot/init"
"$cc" -static -O2 -Wall -Wextra -Werror -o "$groot/bin/pci-peek" "$here/pci-peek.c" ||
	die "building pci-peek failed (static linking needs libc6-dev's libc.a)"

# vfio-pci and what it needs, from the package kernel.sh downloaded (it
# keeps only fuse and cuse): modules.dep is not in the package, so the load
# order comes from each module's depends=, as kernel.sh does for cuse.
# shellcheck disable=SC2012 # package file names are plain words
deb=$(ls -t "$cache/linux-image-$(basename "$kdir")"_*.deb 2>/dev/null | awk 'NR == 1')
[ -n "$deb" ] || die "no kernel package for $(basename "$kdir") in $cache (run kernel.sh)"
mods=$out/vfio-modules
mkdir -p "$mods"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$mods" --wildcards \
	'./lib/modules/*/kernel/drivers/vfio/*' './lib/modules/*/kernel/virt/lib/*' ||
	die "$deb has no drivers/vfio or virt/lib modules"
declare -A ko_of=()
while IFS= read -r -d '' ko; do
	name=$(basename "$ko")
	name=${name%%.ko*}
	ko_of[$name]=$ko
done < <(find "$mods" -name '*.ko*' -print0)
order=()
visit() {
	local m=$1 d seen
	for seen in "${order[@]+"${order[@]}"}"; do
		[ "$seen" = "$m" ] && return 0
	done
	[ -n "${ko_of[$m]+x}" ] || die "module $m (needed for vfio-pci) is not in $deb"
	case ${ko_of[$m]} in
	*.ko) cp "${ko_of[$m]}" "$groot/lib/modules/$m.ko" ;;
	*.ko.xz) xz -dc "${ko_of[$m]}" >"$groot/lib/modules/$m.ko" ;;
	*.ko.gz) gzip -dc "${ko_of[$m]}" >"$groot/lib/modules/$m.ko" ;;
	*) die "unexpected module file ${ko_of[$m]}" ;;
	esac
	for d in $(tr '\0' '\n' <"$groot/lib/modules/$m.ko" | sed -n 's/^depends=//p' | tr ',' ' '); do
		visit "$d"
	done
	order+=("$m")
}
# vfio asks for its IOMMU backend by request_module, which the guest cannot
# serve (no modprobe): the backend is loaded by name.
visit vfio_iommu_type1
visit vfio-pci
printf '%s\n' "${order[@]}" >"$groot/lib/modules/modules.load"
rm -rf "$mods"

# The example programs as installed, with every library ldd names and the
# loader, at the same paths.
for p in vfio-lspci vfio-dma-demo; do
	cp "$stage/bin/$p" "$groot/bin/$p"
	while IFS= read -r lib; do
		case $lib in
		MISSING*) die "$p needs ${lib#MISSING }, which is not installed" ;;
		esac
		mkdir -p "$groot$(dirname "$lib")"
		cp -L "$lib" "$groot$lib"
	done < <(ldd "$stage/bin/$p" | awk '
		$2 == "=>" && $3 == "not" { print "MISSING " $1; next }
		$2 == "=>" && $3 ~ /^\// { print $3; next }
		$1 ~ /^\// { print $1 }')
done
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
