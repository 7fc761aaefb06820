#!/usr/bin/env bash
# Runs the end-to-end suite (or the demo) in a qemu VM with Debian's stock
# kernel, which has CUSE. See docs/testing.md.
set -euo pipefail

usage() {
	cat <<'EOF'
usage: tests/vm/run.sh [--select LIST] [--demo | --smoke | --bench | --suite qemu]
                       [--build DIR] [--timeout SEC]

Builds DIR (default: build/ in the source tree; configured if needed, and
for the suite with -DVUC_INSTALL_E2E=ON), installs it into DIR/vm/stage,
packs that with Debian's kernel and busybox into an initramfs and boots it
in qemu. Prints what the VM prints.

  --select LIST   run only the end-to-end tests whose names contain one of
                  the comma-separated patterns in LIST
  --demo          run examples/demo-steps.sh instead of the suite
  --smoke         check the harness itself: modules load, /dev/cuse appears,
                  the installed programs start
  --bench         run the benchmark (tests/bench/bench-suite.sh), with strace
                  in the image; tests/bench/run.sh uses this
  --suite qemu    run the QEMU suite (tests/vm/qemu) instead: Debian's QEMU
                  10.0 and 7.2 (downloaded once, not installed) in the VM
  --build DIR     the CMake build directory to use
  --timeout SEC   hard limit for the VM run (default 3600; demo and smoke 300;
                  qemu 5400)

Exit status: 0 when every test passed (or the demo succeeded) and the kernel
reported no fault; 1 on a failed test, a missing summary, a hang, or a kernel
report such as an OOM kill, BUG or panic (shown with the test it happened
in); 2 on bad usage.
Environment: VUC_VM_ACCEL=kvm|tcg overrides the accelerator choice;
VUC_VM_CACHE=DIR keeps the downloaded kernel there instead of DIR/vm/cache;
VUC_BENCH_RUNS, VUC_BENCH_OPS and VUC_BENCH_PART are the benchmark's runs,
operations and part (main, threads), VUC_VM_SMP its vCPUs (default 1).
Files: DIR/vm/results.log (what the VM printed), DIR/vm/console.log (kernel).
EOF
}

die() {
	echo "vm: $*" >&2
	exit 1
}

src=$(cd "$(dirname "$0")/../.." && pwd)
here=$src/tests/vm
build=$src/build
mode='test'
select=
limit=

while [ $# -gt 0 ]; do
	case $1 in
	--select)
		[ $# -ge 2 ] || { usage >&2; exit 2; }
		select=$2
		shift
		;;
	--select=*) select=${1#--select=} ;;
	--demo) mode=demo ;;
	--smoke) mode=smoke ;;
	--bench) mode=bench ;;
	--suite)
		if [ $# -lt 2 ] || [ "$2" != qemu ]; then usage >&2; exit 2; fi
		mode=qemu
		shift
		;;
	--suite=qemu) mode=qemu ;;
	--build)
		[ $# -ge 2 ] || { usage >&2; exit 2; }
		build=$2
		shift
		;;
	--build=*) build=${1#--build=} ;;
	--timeout)
		[ $# -ge 2 ] || { usage >&2; exit 2; }
		limit=$2
		shift
		;;
	--timeout=*) limit=${1#--timeout=} ;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "vm: unknown argument '$1'" >&2
		usage >&2
		exit 2
		;;
	esac
	shift
done

# The selection travels on the kernel command line: no spaces or quotes.
case $select in
*[!A-Za-z0-9_.,*-]*)
	echo "vm: --select takes letters, digits and _ . , * - only" >&2
	exit 2
	;;
esac
case $limit in
'') case $mode in
	test | bench) limit=3600 ;;
	qemu) limit=5400 ;;
	*) limit=300 ;;
	esac ;;
*[!0-9]* | 0)
	echo "vm: --timeout takes a positive number of seconds" >&2
	exit 2
	;;
esac

for tool in qemu-system-x86_64 busybox cpio dpkg-deb apt-get cmake; do
	command -v $tool >/dev/null || die "$tool not found; tests/run-all.sh installs what is needed"
done

mkdir -p "$build"
build=$(cd "$build" && pwd)
vm=$build/vm
mkdir -p "$vm"

# The suite runs from the install tree, which has it only with VUC_INSTALL_E2E.
configure=()
[ -f "$build/CMakeCache.txt" ] || configure=(-S "$src" -B "$build")
if { [ $mode = test ] || [ $mode = bench ]; } &&
	! grep -q '^VUC_INSTALL_E2E:BOOL=ON$' "$build/CMakeCache.txt" 2>/dev/null; then
	configure=(-S "$src" -B "$build" -DVUC_INSTALL_E2E=ON)
fi
if [ ${#configure[@]} -gt 0 ]; then
	cmake "${configure[@]}" >/dev/null || die "cmake configure of $build failed"
fi
cmake --build "$build" -j "$(nproc)" >"$vm/build.log" 2>&1 || {
	tail -n 40 "$vm/build.log"
	die "build of $build failed (log: $vm/build.log)"
}
rm -rf "$vm/stage"
mkdir -p "$vm/stage"
cmake --install "$build" --prefix "$vm/stage" >/dev/null || die "cmake --install failed"

kdir=$("$here/kernel.sh" "${VUC_VM_CACHE:-$vm/cache}")
extra=()
memory=1G
if [ $mode = qemu ]; then
	# The QEMUs and the inner guest; 2 GiB leaves room for a nested guest.
	"$here/qemu/prepare.sh" "${VUC_VM_CACHE:-$vm/cache}" "$kdir" "$vm/stage" "$vm/qemu-root" ||
		die "preparing the QEMU suite failed"
	extra=("$vm/qemu-root")
	memory=2G
elif [ $mode = bench ] && command -v strace >/dev/null; then
	# The benchmark counts the daemon's syscalls with strace; image.sh
	# adds the libraries of the programs in usr/bin.
	rm -rf "$vm/bench-root"
	mkdir -p "$vm/bench-root/usr/bin"
	cp -L "$(command -v strace)" "$vm/bench-root/usr/bin/"
	extra=("$vm/bench-root")
fi
"$here/image.sh" "$vm/stage" "$kdir" "$vm/initrd.cpio" "${extra[@]+"${extra[@]}"}"

# /dev/kvm on some hosts is a paravirtual KVM (kvm_pvm) that cannot run a stock
# kernel; there, and wherever KVM is not usable, emulate with TCG.
use_kvm() {
	case ${VUC_VM_ACCEL:-} in
	kvm) return 0 ;;
	tcg) return 1 ;;
	esac
	[ ! -d /sys/module/kvm_pvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] &&
		{ [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }
}
if use_kvm; then
	accel=(-enable-kvm -cpu host -smp 2)
	accel_name=KVM
elif [ $mode = bench ]; then
	# The benchmark's thread figures are about two CPUs.
	case ${VUC_VM_SMP:-1} in
	1 | 2 | 4) ;;
	*) die "VUC_VM_SMP takes 1, 2 or 4" ;;
	esac
	accel=(-accel tcg -smp "${VUC_VM_SMP:-1}")
	accel_name="TCG, ${VUC_VM_SMP:-1} vCPU(s)"
else
	# Under TCG a second vCPU costs more than it gives on a small host.
	accel=(-accel tcg -smp 1)
	accel_name=TCG
fi

# printk.devkmsg=on: the suite marks each test in the kernel log, more often
# than /dev/kmsg's default rate limit lets through.
append="console=ttyS0 quiet printk.devkmsg=on panic=-1 vuc.mode=$mode"
[ -n "$select" ] && append="$append vuc.select=$select"
if [ $mode = bench ]; then
	case ${VUC_BENCH_RUNS:-3}${VUC_BENCH_OPS:-2000} in
	*[!0-9]*) die "VUC_BENCH_RUNS and VUC_BENCH_OPS take numbers" ;;
	esac
	case ${VUC_BENCH_PART:-main} in
	main | threads) ;;
	*) die "VUC_BENCH_PART takes main or threads" ;;
	esac
	append="$append vuc.bench=${VUC_BENCH_RUNS:-3},${VUC_BENCH_OPS:-2000},${VUC_BENCH_PART:-main}"
fi

results=$vm/results.log
console=$vm/console.log
: >"$results"
: >"$console"
echo "vm: booting $(basename "$kdir") under $accel_name (${mode}${select:+ $select}, limit ${limit}s)"

start=$(date +%s)
timeout -k 10 "$limit" qemu-system-x86_64 -nodefaults -nographic -no-reboot -m "$memory" "${accel[@]}" \
	-kernel "$kdir/vmlinuz" -initrd "$vm/initrd.cpio" -append "$append" \
	-serial "file:$console" -serial "file:$results" -monitor none \
	>"$vm/qemu.log" 2>&1 &
qemu=$!
# Background jobs of a script ignore SIGINT: stop the VM with the script.
trap 'kill "$qemu" 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM
tail -n +1 -F --pid=$qemu "$results" 2>/dev/null | tr -d '\r'
rc=0
wait $qemu || rc=$?
elapsed=$(($(date +%s) - start))
echo "vm: boot to poweroff ${elapsed}s"

problem=
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	problem="the VM did not power off within ${limit}s (hang); killed"
elif [ $rc -ne 0 ]; then
	problem="qemu failed (status $rc): $(head -c 2000 "$vm/qemu.log")"
elif grep -q 'terminating on signal' "$vm/qemu.log"; then
	# qemu exits 0 on SIGTERM: something outside stopped the VM.
	problem="the VM was stopped from outside: $(head -c 2000 "$vm/qemu.log")"
fi
# The failing tests again, with what the kernel reported while they ran.
exec "$here/verdict.sh" --mode "$mode" --select "$select" --problem "$problem" "$results" "$console"
