#!/usr/bin/env bash
# The benchmark: the figures of docs/performance.md in one run. Not part of
# the test command (tests/run-all.sh); see docs/performance.md.
set -euo pipefail

usage() {
	cat <<'EOF'
usage: tests/bench/run.sh [--build DIR] [--runs N] [--ops N] [--out FILE]
                          [--no-vm] [--no-callgrind] [--anchor]

Builds DIR (default: build/), then
  1. natively, under callgrind: the instructions of one operation through
     the translation core (fake calling process, the example server over a
     socket) and through the protocol library alone;
  2. in a VM with CUSE (tests/vm/run.sh --bench), booted twice: on one
     vCPU every single-thread figure, on two the figures of 8 program
     threads; the node beside the protocol library used in-process
     against the same example server, each figure measured N times
     (default 3) with OPS operations per latency figure (default 2000).
Prints the table (min, median, max over the runs) and writes the JSON to
FILE (default DIR/bench/results.json).
With --anchor, only the anchor instead: one VM boot of the QEMU suite
(tests/vm/run.sh --suite qemu --select anchor) in which a tiny inner guest
times BAR0 reads and one DMA (vfio-dma-demo) under Debian 12's QEMU 7.2
through the daemon's nodes and under sid's QEMU 11.1 with its own vfio-user
client (vfio-user-pci on the example server's socket, no daemon); prints
both figures and their ratios, JSON in FILE (default DIR/bench/anchor.json).
As root it installs what it needs (scripts/setup.sh); as another user it
stops with the list of missing packages.
EOF
}

src=$(cd "$(dirname "$0")/../.." && pwd)
build=$src/build
runs=3
ops=2000
out=
vm=1
cg=1
anchor=
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift ;;
	--build=*) build=${1#--build=} ;;
	--runs) runs=$2; shift ;;
	--runs=*) runs=${1#--runs=} ;;
	--ops) ops=$2; shift ;;
	--ops=*) ops=${1#--ops=} ;;
	--out) out=$2; shift ;;
	--out=*) out=${1#--out=} ;;
	--no-vm) vm= ;;
	--no-callgrind) cg= ;;
	--anchor) anchor=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "bench: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
case $runs$ops in
*[!0-9]*) echo "bench: --runs and --ops take numbers" >&2; exit 2 ;;
esac

# shellcheck source=../../scripts/setup.sh
. "$src/scripts/setup.sh"
# shellcheck disable=SC2086 # one word per package
vuc_install_packages $VUC_BUILD_PACKAGES $VUC_VM_PACKAGES $VUC_BENCH_PACKAGES

mkdir -p "$build"
build=$(cd "$build" && pwd)
dir=$build/bench
mkdir -p "$dir"
if [ -n "$anchor" ]; then
	out=${out:-$dir/anchor.json}
	vm=
	cg=
fi
out=${out:-$dir/results.json}
[ -f "$build/CMakeCache.txt" ] || cmake -S "$src" -B "$build" >"$dir/build.log"
cmake --build "$build" -j "$(nproc)" >>"$dir/build.log" 2>&1 || {
	tail -n 30 "$dir/build.log"
	echo "bench: build of $build failed" >&2
	exit 1
}

# 1. callgrind: one dump per operation, named in its "desc: Trigger" line.
cg_json='{}'
if [ -n "$cg" ]; then
	prog=$build/tests/bench/vuc-bench-callgrind
	[ -x "$prog" ] || { echo "bench: $prog not built (valgrind/callgrind.h missing?)" >&2; exit 1; }
	rm -rf "$dir/callgrind"
	mkdir -p "$dir/callgrind"
	n=1000
	echo "bench: callgrind, $n operations each (natively)"
	valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind/cg.%p" \
		--log-file="$dir/callgrind/valgrind.log" \
		"$prog" "$build/examples/server/vfio-user-example-server" $n >"$dir/callgrind/out.log" 2>&1 || {
		cat "$dir/callgrind/out.log" >&2
		echo "bench: callgrind run failed" >&2
		exit 1
	}
	cg_json=$(awk -v n=$n '
		FNR == 1 { name = "" }
		/^desc: Trigger: Client Request: / { name = $NF }
		/^summary: / && name != "" { v[name] = $2 / n; order[++k] = name }
		END {
			printf "{"
			for (i = 1; i <= k; i++)
				printf "%s\"%s\": %.0f", (i > 1 ? ", " : ""), order[i], v[order[i]]
			printf "}"
		}' "$dir"/callgrind/cg.*.*)
	echo "bench: instructions per operation (callgrind): $cg_json"
fi

# 2. the VM, twice: one vCPU for the single-thread figures (under TCG a
# second one only adds noise to them), two for the thread figures.
vm_json='{}'
if [ -n "$vm" ]; then
	figures=
	for part in main:1 threads:2; do
		VUC_BENCH_RUNS=$runs VUC_BENCH_OPS=$ops VUC_BENCH_PART=${part%:*} VUC_VM_SMP=${part#*:} \
			"$src/tests/vm/run.sh" --bench --build "$build" | tee "$dir/vm-${part%:*}.log"
		[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "bench: the VM run failed" >&2; exit 1; }
		cp "$build/vm/results.log" "$dir/results-${part%:*}.log"
		# One figure a line, between the markers.
		lines=$(tr -d '\r' <"$build/vm/results.log" |
			sed -n '/^vuc-bench: json begin$/,/^vuc-bench: json end$/p' |
			grep '^  "' | sed 's/,$//')
		[ -n "$lines" ] || { echo "bench: no figures in $build/vm/results.log" >&2; exit 1; }
		figures=${figures:+$figures$'\n'}$lines
	done
	vm_json=$(printf '{"figures": {\n%s\n}}' "$(printf '%s\n' "$figures" | sed '$!s/$/,/')")
	echo
	echo "bench: the figures (min, median, max over $runs runs):"
	for part in main threads; do
		sed -n '/^vuc-bench: json end$/,/^vuc: bench exited/p' "$dir/results-$part.log" |
			tr -d '\r' | sed '1d;$d' | { [ $part = main ] && cat || tail -n +2; }
	done
fi

# 3. the anchor: sid's QEMU is downloaded (not installed) by prepare.sh.
if [ -n "$anchor" ]; then
	VUC_QEMU_ANCHOR=1 "$src/tests/vm/run.sh" --suite qemu --select anchor --build "$build" |
		tee "$dir/vm-anchor.log"
	[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "bench: the anchor's VM run failed" >&2; exit 1; }
	# "#   anchor: BAR0 read p50 direct A ns, node B ns, node/direct R"
	figs=$(tr -d '\r' <"$dir/vm-anchor.log" | sed -n 's/^#   anchor: //p')
	[ -n "$figs" ] || { echo "bench: no anchor figures in $dir/vm-anchor.log" >&2; exit 1; }
	echo
	echo "bench: the anchor (inner guest; direct: QEMU 11.1 vfio-user-pci, node: QEMU 7.2 vfio-pci through the daemon):"
	printf '%s\n' "$figs" | sed 's/^/  /'
	json=$(printf '%s\n' "$figs" | awk '
		{
			if ($1 == "vfio-dma-demo") key = "dma_demo_s"
			else key = "bar0_read_" $3 "_ns"
			gsub(/,/, "")
			for (i = 1; i <= NF; i++) {
				if ($i == "direct") d = $(i + 1)
				if ($i == "node") n = $(i + 1)
				if ($i == "node/direct") r = $(i + 1)
			}
			printf "%s\"%s\": {\"direct\": %s, \"node\": %s, \"ratio\": %s}", (NR > 1 ? ", " : ""), key, d, n, r
		}')
	printf '{"date": "%s", "commit": "%s", "load": "%s",\n "anchor": {%s}}\n' \
		"$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
		"$(cut -d' ' -f1-3 /proc/loadavg)" "$json" >"$out"
	echo "bench: results in $out"
	exit 0
fi

{
	printf '{"date": "%s", "commit": "%s", "runs": %s, "ops": %s,\n' \
		"$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
		"$runs" "$ops"
	printf ' "callgrind_instructions_per_op": %s,\n' "$cg_json"
	printf ' "vm": %s}\n' "$vm_json"
} >"$out"
echo "bench: results in $out"
