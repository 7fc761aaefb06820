#!/usr/bin/env bash
# Build the protocol fuzz target with clang and run it.
#
#   tests/fuzz/run.sh [SECONDS] [JOBS]
#
# SECONDS defaults to 60, JOBS (parallel fuzzing processes) to 1. The build
# goes to build-fuzz/; the seed corpus is generated there afresh from
# fuzz_seeds, and the growing corpus and any crash files stay in
# build-fuzz/tests/fuzz/. Exits non-zero when the fuzzer found a failure.
set -euo pipefail

seconds=${1:-60}
jobs=${2:-1}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$src/build-fuzz
out=$build/tests/fuzz

cmake -S "$src" -B "$build" -DFUZZ=ON -DCMAKE_C_COMPILER=clang \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target fuzz_proto fuzz_seeds -j"$(nproc)"

rm -rf "$out/seeds"
mkdir -p "$out/seeds" "$out/corpus" "$out/artifacts"
"$out/fuzz_seeds" "$out/seeds"

cd "$out"
"$out/fuzz_proto" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
	-jobs="$jobs" -workers="$jobs" -print_final_stats=1 \
	-artifact_prefix="$out/artifacts/" "$out/corpus" "$out/seeds"
