#!/usr/bin/env bash
# The project's test command (README.md): as root on Debian 12,
#
#   ./tests/run-all.sh
#
# installs what the build and the tests need, then runs every suite:
#   1. unit and integration tests (ctest) in build/
#   2. the same under AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/
#   3. the end-to-end suite with real CUSE, in a qemu VM (tests/vm/run.sh)
#   4. the same with the sanitized build
#   5. the QEMU suite: Debian's QEMU 10.0 and 7.2 in the VM (tests/vm/qemu)
# and ends with one line, "N passed, N failed", over all of them. Exit status 0
# only when nothing failed. docs/testing.md says how to run a single suite.
set -uo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/setup.sh
. "$src/scripts/setup.sh"

total_passed=0
total_failed=0
total_skipped=0
report=()
run_start=$(date +%s)

# record NAME PASSED FAILED SECONDS [SKIPPED]
record() {
	local skipped=${5:-0}
	total_passed=$((total_passed + $2))
	total_failed=$((total_failed + $3))
	total_skipped=$((total_skipped + skipped))
	report+=("$(printf '%-44s %4d passed, %d failed%s (%ds)' "$1" "$2" "$3" \
		"$([ "$skipped" -gt 0 ] && echo ", $skipped skipped")" "$4")")
}

heading() {
	printf '\n== %s\n' "$*"
}

# ctest_suite NAME DIR: run DIR's tests; a test that hangs fails after 300 s.
ctest_suite() {
	local name=$1 dir=$2 start summary total failed
	start=$(date +%s)
	ctest --test-dir "$dir" --output-on-failure --timeout 300 2>&1 | tee "$dir/ctest.log"
	summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$dir/ctest.log" |
		tail -n 1)
	if [ -n "$summary" ]; then
		total=${summary##* out of }
		failed=${summary#*passed, }
		failed=${failed%% test*}
	elif grep -q 'No tests were found' "$dir/ctest.log"; then
		total=0
		failed=0
	else
		echo "ctest in $dir gave no summary" >&2
		total=1
		failed=1
	fi
	record "$name" $((total - failed)) "$failed" $(($(date +%s) - start))
}

# build_and_test NAME DIR [CMAKE_ARG...]: a build that fails counts as one failure.
build_and_test() {
	local name=$1 dir=$2 start
	shift 2
	heading "$name: build in $dir"
	start=$(date +%s)
	if vuc_build "$src" "$dir" "$@"; then
		heading "$name: ctest"
		ctest_suite "$name" "$dir"
	else
		record "$name (build failed)" 0 1 $(($(date +%s) - start))
	fi
}

heading "Packages"
# Not the fuzz packages: run-all.sh does not fuzz (tests/fuzz/run.sh installs them).
# shellcheck disable=SC2086 # lists of words
if ! vuc_install_packages $VUC_BUILD_PACKAGES $VUC_VM_PACKAGES; then
	echo "Could not install the packages the tests need." >&2
	echo "0 passed, 1 failed"
	exit 1
fi

# The VM suites below run the end-to-end suite from these builds' install trees.
build_and_test "Unit and integration tests" "$src/build" -DVUC_INSTALL_E2E=ON
build_and_test "Same, under ASan and UBSan" "$src/build-asan" -DSANITIZE=ON -DVUC_INSTALL_E2E=ON

# vm_suite NAME DIR LOG [ARG...]: tests/vm/run.sh --build DIR ARG... (by
# default the end-to-end suite from DIR's install tree), in the VM; its
# output goes to DIR/LOG too.
vm_suite() {
	local name=$1 dir=$2 log=$2/$3 start rc summary passed=0 failed=1 skipped=0
	shift 3
	heading "$name (tests/vm/run.sh --build $dir${*:+ $*})"
	start=$(date +%s)
	if [ ! -f "$dir/CMakeCache.txt" ]; then
		record "$name (no build)" 0 1 0
		return
	fi
	"$src/tests/vm/run.sh" --build "$dir" "$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$log" | tail -n 1)
	if [ -n "$summary" ]; then
		passed=${summary%% passed*}
		failed=${summary#*, }
		failed=${failed%% failed*}
		case $summary in *skipped) skipped=${summary##*, } && skipped=${skipped%% *} ;; esac
	fi
	[ "$rc" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
	record "$name" "$passed" "$failed" $(($(date +%s) - start)) "$skipped"
}

# Both runs use one kernel download (VUC_VM_CACHE, if set, says where).
export VUC_VM_CACHE=${VUC_VM_CACHE:-$src/build/vm/cache}
vm_suite "End-to-end tests in the VM" "$src/build" vm-suite.log
# The daemon's CUSE side runs for real only in the VM: sanitize it there too.
vm_suite "Same, under ASan and UBSan" "$src/build-asan" vm-suite.log
# Stock QEMU on the daemon's nodes; nested guests are slow, so one VM boot
# and only the plain build.
vm_suite "QEMU 10.0 and 7.2 in the VM" "$src/build" vm-qemu-suite.log --suite qemu

heading "Summary"
printf '%s\n' "${report[@]}"
echo "Total time: $(($(date +%s) - run_start))s"
echo "$total_passed passed, $total_failed failed$([ "$total_skipped" -gt 0 ] && echo ", $total_skipped skipped")"
[ "$total_failed" -eq 0 ]
