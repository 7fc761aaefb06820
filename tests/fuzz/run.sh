#!/usr/bin/env bash
# Build the protocol fuzz target with clang and run it.
#
#   tests/fuzz/run.sh [SECONDS] [JOBS]
#
# SECONDS defaults to 60, JOBS (parallel fuzzing processes) to 1. The build
# goes to build-fuzz/; the seed corpus is generated there afresh from
# fuzz_seeds, and the growing corpus and any crash files stay in
# build-fuzz/tests/fuzz/ (artifacts/ is emptied at the start of each run).
# Exits non-zero when the fuzzer found a failure.
set -euo pipefail

seconds=${1:-60}
jobs=${2:-1}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$src/build-fuzz
out=$build/tests/fuzz
# shellcheck source=scripts/setup.sh
. "$src/scripts/setup.sh"

# As root this installs clang and what the build needs; otherwise it only
# checks that they are there.
# shellcheck disable=SC2086 # lists of words
vuc_install_packages $VUC_BUILD_PACKAGES $VUC_FUZZ_PACKAGES ||
	{ echo "tests/fuzz/run.sh: the packages it needs are missing" >&2; exit 1; }

cmake -S "$src" -B "$build" -DFUZZ=ON -DCMAKE_C_COMPILER=clang \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target fuzz_proto fuzz_seeds -j"$(nproc)"

rm -rf "$out/seeds" "$out/artifacts"
mkdir -p "$out/seeds" "$out/corpus" "$out/artifacts"
"$out/fuzz_seeds" "$out/seeds"

# More than one job runs workers in the background, logging to fuzz-N.log.
parallel=()
if [ "$jobs" -gt 1 ]; then
	parallel=(-jobs="$jobs" -workers="$jobs")
fi

cd "$out"
status=0
"$out/fuzz_proto" -max_total_time="$seconds" -max_len=4096 -timeout=10 "${parallel[@]}" \
	-print_final_stats=1 -artifact_prefix="$out/artifacts/" "$out/corpus" "$out/seeds" ||
	status=$?
if [ -n "$(ls -A "$out/artifacts")" ]; then
	echo "fuzz_proto found failures: $out/artifacts" >&2
	ls -l "$out/artifacts" >&2
	exit 1
fi
exit "$status"
