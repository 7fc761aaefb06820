#!/usr/bin/env bash
# kernel.sh CACHE_DIR
#
# Fetches Debian's stock kernel (the one linux-image-amd64 points at) into
# CACHE_DIR and extracts only what the VM needs: vmlinuz and the fuse and cuse
# modules, decompressed, with a load order worked out from their depends= lines.
# Prints the directory holding them. Reuses earlier downloads; needs no root and
# installs nothing on the host.
set -euo pipefail

die() {
	echo "kernel.sh: $*" >&2
	exit 1
}

[ $# -eq 1 ] || die "usage: kernel.sh CACHE_DIR"
cache=$1
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

# The ABI name (6.1.0-NN) moves with security updates, so ask apt each time.
resolve_package() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | awk 'NR == 1'
}

# Newest of the files given, by modification time; empty if none exist.
# shellcheck disable=SC2012 # package file names are plain words
newest() {
	ls -t "$@" 2>/dev/null | awk 'NR == 1' || true
}

pkg=$(resolve_package || true)
if [ -z "$pkg" ]; then
	# Offline, or apt has no lists yet: fall back to a kernel fetched earlier.
	deb=$(newest "$cache"/linux-image-*-amd64_*.deb)
	[ -n "$deb" ] || die "apt-cache knows no linux-image-amd64; run 'apt-get update' first"
	echo "kernel.sh: apt-cache gave no kernel package; using cached $(basename "$deb")" >&2
	pkg=$(basename "$deb" | sed 's/_.*//')
fi
abi=${pkg#linux-image-}
out=$cache/$abi
if [ -f "$out/modules.load" ] && [ -f "$out/vmlinuz" ]; then
	echo "$out"
	exit 0
fi

deb=$(newest "$cache/${pkg}"_*.deb)
if [ -z "$deb" ]; then
	echo "kernel.sh: downloading $pkg (about 70 MB, once)" >&2
	# The sandbox user cannot write into a root-owned cache; the download is
	# still verified against apt's signed lists.
	(cd "$cache" && apt-get download -qq -o APT::Sandbox::User=root "$pkg") >&2 ||
		die "apt-get download $pkg failed"
	deb=$(newest "$cache/${pkg}"_*.deb)
	[ -n "$deb" ] || die "apt-get download left no $pkg package in $cache"
	# Older kernels are no longer needed once a newer one is here.
	find "$cache" -maxdepth 1 -name 'linux-image-*.deb' ! -path "$deb" -delete
fi

tmp=$(mktemp -d "$cache/extract.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dpkg-deb --fsys-tarfile "$deb" |
	tar -x -C "$tmp" --wildcards "./boot/vmlinuz-$abi" "./lib/modules/$abi/kernel/fs/fuse/*" ||
	die "$deb has no vmlinuz or fs/fuse modules"

mkdir -p "$tmp/out"
cp "$tmp/boot/vmlinuz-$abi" "$tmp/out/vmlinuz"

# Store each module uncompressed: busybox insmod does not read .ko.xz. Debian
# 12's modules are not compressed; where they are, busybox (which the VM needs
# anyway) decompresses them, so no other package is needed.
for ko in "$tmp/lib/modules/$abi/kernel/fs/fuse/"*; do
	name=$(basename "$ko")
	case $name in
	*.ko) cp "$ko" "$tmp/out/$name" ;;
	*.ko.xz) busybox xzcat "$ko" >"$tmp/out/${name%.xz}" ;;
	*.ko.gz) gzip -dc "$ko" >"$tmp/out/${name%.gz}" ;;
	*) die "unexpected module file $name" ;;
	esac
done

# modules.dep is not in the package: read each module's depends= from its
# .modinfo strings and load dependencies first.
depends_of() {
	tr '\0' '\n' <"$tmp/out/$1.ko" | sed -n 's/^depends=//p' | tr ',' ' '
}

order=()
visit() {
	local m=$1 d seen
	for seen in "${order[@]+"${order[@]}"}"; do
		[ "$seen" = "$m" ] && return 0
	done
	[ -f "$tmp/out/$m.ko" ] || die "module $m (needed for cuse) is not in fs/fuse"
	for d in $(depends_of "$m"); do
		visit "$d"
	done
	order+=("$m")
}
visit cuse

printf '%s\n' "${order[@]}" >"$tmp/out/modules.load"
for ko in "$tmp/out/"*.ko; do
	grep -qx "$(basename "$ko" .ko)" "$tmp/out/modules.load" || rm -f "$ko"
done

rm -rf "$out"
mv "$tmp/out" "$out"
echo "$out"
