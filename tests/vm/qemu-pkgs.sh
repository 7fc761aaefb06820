#!/usr/bin/env bash
# qemu-pkgs.sh CACHE_DIR stable|backports|sid
#
# Obtains Debian's qemu-system-x86 for the VM's QEMU suite without installing
# anything: `stable` is this release's own package (7.2 on Debian 12),
# `backports` the one in this release's -backports suite (10.0 on Debian 12),
# `sid` unstable's (11.1 at the time of writing; only the benchmark's anchor,
# tests/bench/run.sh --anchor, uses it). Sid's QEMU needs a newer C library
# than the host's: its apt configuration is a separate one (CACHE_DIR/qemu/
# apt-sid, the host's sources plus sid), and its libraries are in lib/sid
# with sid's loader, lib/sid/ld-linux-x86-64.so.2; bin/qemu-system-x86_64 is
# a /bin/sh script that runs the real binary (bin/qemu-system-x86_64.bin)
# through that loader with --library-path BUNDLE/lib/sid, so that it runs
# as the others do (LD_LIBRARY_PATH=BUNDLE/lib then names no library: the
# host's programs, the script's shell among them, keep the host's C library).
# Through a private apt configuration (sources list, preferences, state and
# cache under CACHE_DIR/qemu/apt) built at run time from the host's apt sources
# plus their -backports suite, it downloads qemu-system-x86, the packages it
# takes its accelerator modules and firmware from (qemu-system-common,
# qemu-system-data, seabios, ipxe-qemu) and whatever
# apt says this host lacks to run it, unpacks them, and makes a bundle:
#
#   BUNDLE/bin/qemu-system-x86_64
#   BUNDLE/lib/         every shared library it needs, but the loader
#   BUNDLE/lib/qemu/    its accelerator modules (7.2 builds TCG as one)
#   BUNDLE/share/qemu/  the firmware (qemu's data dir, seabios, ipxe), for -L
#   BUNDLE/version      the first line of its --version
#
# which runs as LD_LIBRARY_PATH=BUNDLE/lib QEMU_MODULE_DIR=BUNDLE/lib/qemu
# BUNDLE/bin/qemu-system-x86_64 -L BUNDLE/share/qemu. Prints BUNDLE. Reuses earlier downloads and bundles.
# Exit status 77 when the packages cannot be had (no network, no such suite)
# and nothing was cached: the tests that need them skip. 1 on other errors.
set -euo pipefail

die() {
	echo "qemu-pkgs.sh: $*" >&2
	exit 1
}

# The packages cannot be had: a reason to skip, not to fail.
unavailable() {
	echo "qemu-pkgs.sh: $*" >&2
	exit 77
}

[ $# -eq 2 ] || die "usage: qemu-pkgs.sh CACHE_DIR stable|backports|sid"
case $2 in
stable | backports | sid) kind=$2 ;;
*) die "usage: qemu-pkgs.sh CACHE_DIR stable|backports|sid" ;;
esac
mkdir -p "$1/qemu"
top=$(cd "$1/qemu" && pwd)

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$codename" ] || die "no VERSION_CODENAME in /etc/os-release"
case $kind in
stable) suite=$codename ;;
backports) suite=$codename-backports ;;
sid) suite=sid ;;
esac

# The suite added to the host's: -backports, or sid in an apt configuration
# of its own (with sid beside them, apt would take every library of the
# others from sid).
added=$codename-backports
apt_dir=$top/apt
if [ "$kind" = sid ]; then
	added=sid
	apt_dir=$top/apt-sid
fi
debs=$top/debs
# Apart from the suite's packages: the suite's bundles go before these exist.
[ "$kind" = sid ] && debs=$top/debs-sid
mkdir -p "$apt_dir/sources.list.d" "$apt_dir/preferences.d" "$apt_dir/state/lists/partial" \
	"$apt_dir/cache/archives/partial" "$debs"

# Everything apt reads or writes about packages is private; the host's apt.conf.d
# (proxies, validity checks) and keyrings still apply, and the host's dpkg status
# is read so that apt says what this host lacks. The sandbox user cannot write
# into a root-owned cache; downloads are still checked against the signed lists.
apt_opts=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list"
	-o "Dir::Etc::sourceparts=$apt_dir/sources.list.d"
	-o "Dir::Etc::preferences=$apt_dir/preferences"
	-o "Dir::Etc::preferencesparts=$apt_dir/preferences.d"
	-o "Dir::State=$apt_dir/state"
	-o "Dir::Cache=$apt_dir/cache"
	-o APT::Sandbox::User=root)

# The host's own entries for this release (codename, -updates, -security) and,
# for each entry that serves the release itself, the same entry for $added
# (-backports or sid).
# One-line lists keep their options; deb822 stanzas are copied whole with only
# their Suites line rewritten, so Signed-By (a path or an inline key) stays.
write_sources() {
	local f
	: >"$apt_dir/sources.list.new"
	rm -f "$apt_dir/sources.list.d/"*
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk -v c="$codename" -v a="$added" '
			/^[ \t]*deb[ \t]/ {
				n = split($0, w, /[ \t]+/)
				i = 2
				if (w[i] ~ /^\[/) {
					while (w[i] !~ /\]$/) i++
					i++
				}
				# w[i] is the URI, w[i + 1] the suite
				s = w[i + 1]
				if (s != c && s != c "-updates" && s != c "-security")
					next
				print
				if (s == c) {
					line = ""
					for (k = 1; k <= n; k++)
						line = line (k > 1 ? " " : "") (k == i + 1 ? a : w[k])
					print line
				}
			}' "$f" >>"$apt_dir/sources.list.new"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v c="$codename" -v a="$added" '
			function flush(   keep, has_c, k, n, w, s) {
				if (nl == 0) return
				if (deb && enabled) {
					n = split(suites, w, /[ \t]+/)
					keep = ""
					for (k = 1; k <= n; k++) {
						s = w[k]
						if (s == c) has_c = 1
						if (s == c || s == c "-updates" || s == c "-security")
							keep = keep " " s
					}
					if (keep != "") emit("Suites:" keep)
					if (has_c) emit("Suites: " a)
				}
				nl = 0; deb = 0; enabled = 1; suites = ""
			}
			function emit(sline,   k) {
				for (k = 1; k <= nl; k++)
					print (k == suites_at ? sline : line[k])
				print ""
			}
			BEGIN { nl = 0; deb = 0; enabled = 1 }
			/^[ \t]*$/ { flush(); next }
			/^#/ { next }
			{
				line[++nl] = $0
				if (tolower($1) == "types:" && $0 ~ /[ \t]deb([ \t]|$)/) deb = 1
				if (tolower($1) == "enabled:" && tolower($2) == "no") enabled = 0
				if (tolower($1) == "suites:") {
					suites = $0
					sub(/^[^:]*:[ \t]*/, "", suites)
					suites_at = nl
				}
			}
			END { flush() }' "$f" >>"$apt_dir/sources.list.d/vuc.sources.new"
	done
	if [ -f "$apt_dir/sources.list.d/vuc.sources.new" ]; then
		mv "$apt_dir/sources.list.d/vuc.sources.new" "$apt_dir/sources.list.d/vuc.sources"
	fi
	mv "$apt_dir/sources.list.new" "$apt_dir/sources.list"
	grep -qs -- "$added" "$apt_dir/sources.list" "$apt_dir/sources.list.d/vuc.sources" ||
		die "the host's apt sources have no entry for $codename to add $added to"
}

# The lists are refreshed once a day at most; offline, older lists still serve
# to find what was downloaded before.
have_lists() {
	compgen -G "$apt_dir/state/lists/*_Packages*" >/dev/null
}
update_lists() {
	local stamp=$apt_dir/state/updated
	if [ -f "$stamp" ] && [ -n "$(find "$stamp" -mmin -1440)" ] && have_lists; then
		return 0
	fi
	write_sources
	echo "qemu-pkgs.sh: apt-get update ($codename, $added; private lists)" >&2
	# apt-get update exits 0 when it could fetch nothing but says so: W: or E:.
	if apt-get -q "${apt_opts[@]}" update >"$apt_dir/update.log" 2>&1 &&
		! grep -q '^[WE]: ' "$apt_dir/update.log"; then
		touch "$stamp"
		return 0
	fi
	have_lists || return 1
	echo "qemu-pkgs.sh: apt-get update failed; using the lists from earlier" >&2
}

# Newest complete bundle of this kind in the cache, if any.
cached_bundle() {
	local d
	# shellcheck disable=SC2012 # our own directory names
	d=$(ls -td "$top/$kind"-*/bundle 2>/dev/null | awk 'NR == 1' || true)
	[ -n "$d" ] && [ -f "$d/version" ] && echo "$d"
}

fallback() {
	local b
	b=$(cached_bundle) || unavailable "$1, and no $kind qemu was downloaded before"
	echo "qemu-pkgs.sh: $1; using $(cat "$b/version") from earlier" >&2
	echo "$b"
	exit 0
}

update_lists || fallback "apt-get update failed (log: $apt_dir/update.log)"

# The version of qemu-system-x86 the suite carries.
# madison lists the newest first; this release's own package may come from its
# -updates or -security suite.
case $kind in
stable) suites_re=" ($codename|$codename-updates|$codename-security)/" ;;
backports) suites_re=" $codename-backports/" ;;
sid) suites_re=" (sid|unstable)/" ;;
esac
version=$(apt-cache "${apt_opts[@]}" madison qemu-system-x86 2>/dev/null |
	awk -F' [|] ' -v re="$suites_re" '$3 ~ re { print $2; exit }')
[ -n "$version" ] || fallback "$suite has no qemu-system-x86"
out=$top/$kind-${version#*:}
if [ -f "$out/bundle/version" ]; then
	echo "$out/bundle"
	exit 0
fi

# What to download: apt's own answer to "install qemu-system-x86 from SUITE on
# this host" (the packages it would install or upgrade, libraries included),
# plus the packages whose files the bundle takes even when the host has them
# already: qemu itself and its firmware, at the version apt would use.
plan=$(apt-get "${apt_opts[@]}" -s -q install --no-install-recommends -t "$suite" \
	"qemu-system-x86=$version" 2>&1) || die "apt cannot resolve qemu-system-x86=$version: $plan"
declare -A want=()
while read -r pkg ver; do
	want[$pkg]=$ver
done < <(echo "$plan" | sed -n 's/^Inst \([^ ]*\) \(\[[^]]*\] \)\?(\([^ ]*\) .*/\1 \3/p')
want[qemu-system-x86]=$version
# Sid's bundle brings its C library's loader.
extra_pkgs=
[ "$kind" = sid ] && extra_pkgs=libc6
for pkg in qemu-system-common qemu-system-data seabios ipxe-qemu $extra_pkgs; do
	[ -n "${want[$pkg]+x}" ] && continue
	# Not in the plan: the host's installed version satisfies the dependency.
	ver=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true)
	[ -n "$ver" ] || die "apt plans no $pkg and the host has none"
	want[$pkg]=$ver
done

# Downloads are kept in CACHE/qemu/debs, named as apt names them.
deb_of() {
	local v=${2//:/%3a}
	compgen -G "$debs/${1}_${v}_*.deb" | awk 'NR == 1' || true
}
fetch=()
for pkg in "${!want[@]}"; do
	[ -n "$(deb_of "$pkg" "${want[$pkg]}")" ] || fetch+=("$pkg=${want[$pkg]}")
done
if [ ${#fetch[@]} -gt 0 ]; then
	echo "qemu-pkgs.sh: downloading for qemu $version (once): ${fetch[*]}" >&2
	(cd "$debs" && apt-get -qq "${apt_opts[@]}" download "${fetch[@]}") >"$apt_dir/download.log" 2>&1 ||
		fallback "apt-get download failed (log: $apt_dir/download.log)"
fi

tmp=$(mktemp -d "$top/unpack.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for pkg in "${!want[@]}"; do
	deb=$(deb_of "$pkg" "${want[$pkg]}")
	[ -n "$deb" ] || die "no package file for $pkg=${want[$pkg]} in $debs"
	dpkg-deb -x "$deb" "$tmp/root"
	basename "$deb" >>"$tmp/debs.list"
done

root=$tmp/root
bundle=$tmp/bundle
bin=$root/usr/bin/qemu-system-x86_64
[ -x "$bin" ] || die "qemu-system-x86 $version has no usr/bin/qemu-system-x86_64"
mkdir -p "$bundle/bin" "$bundle/lib/qemu" "$bundle/share/qemu"
libout=$bundle/lib
[ "$kind" = sid ] && libout=$bundle/lib/sid
mkdir -p "$libout"
cp "$bin" "$bundle/bin/"
# Only the accelerator modules: the others (display, audio, spice) are not
# used with -display none and need libraries the host may not have.
moddir=$root/usr/lib/x86_64-linux-gnu/qemu
if compgen -G "$moddir/accel-*.so" >/dev/null; then
	cp "$moddir"/accel-*.so "$bundle/lib/qemu/"
fi

# Libraries: the unpacked ones first (what apt says the host lacks or has too
# old), then the host's. ldd names the loader by its absolute path and no
# "=>": the image has it already (every program of the stage needs it).
# Sid's QEMU is listed by sid's loader, which the bundle then carries.
libdirs=$(find "$root" -name '*.so*' -printf '%h\n' | sort -u | paste -sd: -)
loader=
if [ "$kind" = sid ]; then
	loader=$root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
	[ -f "$loader" ] || die "sid's libc6 has no usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
	cp -L "$loader" "$libout/ld-linux-x86-64.so.2"
fi
list_libs() {
	if [ -n "$loader" ]; then
		"$loader" --library-path "$libdirs" --list "$1"
	else
		LD_LIBRARY_PATH=$libdirs ldd "$1"
	fi
}
for elf in "$bin" "$bundle"/lib/qemu/*.so; do
	[ -f "$elf" ] || continue
	lddout=$(list_libs "$elf" 2>&1) || die "ldd $elf failed: $lddout"
	if echo "$lddout" | grep -q 'not found'; then
		die "qemu $version: $(basename "$elf") needs libraries neither apt's plan nor the host has: $(echo "$lddout" | grep 'not found')"
	fi
	while read -r lib; do
		[ -f "$libout/$(basename "$lib")" ] || cp -L "$lib" "$libout/"
	done < <(echo "$lddout" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }')
done

# Firmware: qemu's data dir and the dirs its Debian build also searches
# (seabios, ipxe), merged so one -L finds all; symlinks in the packages are
# absolute (to /usr/share/...), so resolve them inside the unpacked tree.
for d in usr/share/qemu usr/share/seabios usr/lib/ipxe/qemu; do
	# Sid's ipxe-qemu puts its ROMs in usr/share/qemu itself.
	[ "$kind" = sid ] && [ "$d" = usr/lib/ipxe/qemu ] && [ ! -d "$root/$d" ] && continue
	[ -d "$root/$d" ] || die "no $d in the unpacked packages"
	(cd "$root/$d" && find . -mindepth 1 \( -type f -o -type l \) -print) | while read -r f; do
		src=$root/$d/$f
		while [ -L "$src" ]; do
			t=$(readlink "$src")
			case $t in
			/*) src=$root$t ;;
			*) src=$(dirname "$src")/$t ;;
			esac
		done
		[ -f "$src" ] || continue
		mkdir -p "$bundle/share/qemu/$(dirname "$f")"
		cp "$src" "$bundle/share/qemu/$f"
	done
done
[ -f "$bundle/share/qemu/bios-256k.bin" ] || die "no bios-256k.bin among the firmware"

# Sid's: the binary through the bundle's loader, found from the script's own
# path wherever the bundle is copied to.
if [ -n "$loader" ]; then
	mv "$bundle/bin/qemu-system-x86_64" "$bundle/bin/qemu-system-x86_64.bin"
	cat >"$bundle/bin/qemu-system-x86_64" <<'EOF'
#!/bin/sh
# sid's QEMU, through sid's loader and the bundle's libraries (qemu-pkgs.sh).
b=${0%/*}/..
exec "$b/lib/sid/ld-linux-x86-64.so.2" --library-path "$b/lib/sid" "$b/bin/qemu-system-x86_64.bin" "$@"
EOF
	chmod 0755 "$bundle/bin/qemu-system-x86_64"
fi

# It must run here as it will in the VM: the bundle's libraries, the loader.
LD_LIBRARY_PATH=$bundle/lib "$bundle/bin/qemu-system-x86_64" --version >"$tmp/version.out" 2>&1 ||
	die "the bundled qemu does not run: $(cat "$tmp/version.out")"
# And it makes a machine with its firmware and TCG accelerator (built in, or a
# module), stopped before the first instruction, and quits.
echo quit | LD_LIBRARY_PATH=$bundle/lib QEMU_MODULE_DIR=$bundle/lib/qemu timeout 60 \
	"$bundle/bin/qemu-system-x86_64" -L "$bundle/share/qemu" -nodefaults -display none \
	-accel tcg -machine q35 -S -monitor stdio >"$tmp/start.out" 2>&1 ||
	die "the bundled qemu does not start a machine: $(cat "$tmp/start.out")"
head -n 1 "$tmp/version.out" >"$bundle/version"

rm -rf "$out"
mkdir -p "$out"
mv "$bundle" "$out/bundle"
mv "$tmp/debs.list" "$out/debs.list"
# Older bundles of this kind are no longer needed once a newer one is here, nor
# the packages that no bundle was made from.
find "$top" -maxdepth 1 -name "$kind-*" ! -path "$out" -exec rm -rf {} +
cat "$top"/*/debs.list | sort -u >"$tmp/keep"
find "$debs" -maxdepth 1 -name '*.deb' -printf '%f\n' | sort | comm -23 - "$tmp/keep" |
	while read -r f; do rm -f "$debs/$f"; done
echo "qemu-pkgs.sh: $(cat "$out/bundle/version") in $out/bundle" >&2
echo "$out/bundle"
