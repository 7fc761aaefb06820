# shellcheck shell=bash disable=SC2034 # the lists are used by the scripts that source this
# Sourced by tests/run-all.sh, examples/demo.sh and tests/fuzz/run.sh (bash):
# the Debian packages the project needs and how it is built. One place, so the
# commands agree; each installs only the lists it uses.

# What building and the native tests need (--no-install-recommends: gcc then
# lacks libc6-dev and make, so they are named).
VUC_BUILD_PACKAGES="cmake make gcc libc6-dev pkg-config libfuse3-dev libjson-c-dev libcmocka-dev"
# The fuzz targets (tests/fuzz/run.sh) build with clang; libFuzzer is in
# libclang-rt-dev, only a recommendation of clang.
VUC_FUZZ_PACKAGES="clang libclang-rt-dev"
# What the VM harness (tests/vm) needs to boot Debian's kernel with CUSE.
VUC_VM_PACKAGES="qemu-system-x86 busybox-static cpio"
# The benchmark (tests/bench/run.sh): callgrind natively, strace in the VM.
VUC_BENCH_PACKAGES="valgrind strace"

vuc_missing_packages() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q ' installed$' || echo "$p"
	done
}

# vuc_install_packages PKG...: apt-get update, then install what is missing.
# Refreshing the lists also lets tests/vm find the current kernel package.
vuc_install_packages() {
	local missing
	missing=$(vuc_missing_packages "$@" | tr '\n' ' ')
	if [ "$(id -u)" -ne 0 ]; then
		if [ -n "$missing" ]; then
			echo "Missing packages: $missing; run as root to install them." >&2
			return 1
		fi
		return 0
	fi
	if [ -z "${vuc_apt_updated:-}" ]; then
		echo "Updating apt lists"
		vuc_apt update || return 1
		vuc_apt_updated=1
	fi
	[ -z "$missing" ] && return 0
	echo "Installing: $missing"
	# shellcheck disable=SC2086 # one word per package
	vuc_apt install -y --no-install-recommends $missing
}

# vuc_apt ARG...: apt-get, quiet unless it fails.
vuc_apt() {
	local log rc=0
	log=$(mktemp)
	DEBIAN_FRONTEND=noninteractive apt-get -q "$@" >"$log" 2>&1 || rc=$?
	[ $rc -eq 0 ] || { cat "$log" >&2; echo "apt-get $1 failed" >&2; }
	rm -f "$log"
	return $rc
}

# vuc_build SRC DIR [CMAKE_ARG...]: configure and build, output to DIR/build.log
# (its tail is shown on failure).
vuc_build() {
	local src=$1 dir=$2
	shift 2
	mkdir -p "$dir"
	if cmake -S "$src" -B "$dir" "$@" >"$dir/build.log" 2>&1 &&
		cmake --build "$dir" -j "$(nproc)" >>"$dir/build.log" 2>&1; then
		return 0
	fi
	tail -n 40 "$dir/build.log" >&2
	echo "Build in $dir failed; full log: $dir/build.log" >&2
	return 1
}
