#!/usr/bin/env bash
# What tests/vm/run.sh concludes from a VM's logs (verdict.sh), over sample
# logs in samples/: oom.* is a real run (the sanitized suite without a bound
# on ASan's quarantine, in a VM given 560 MiB) whose bench case failed when
# the OOM killer took the example server; the others are shaped after it.
# Runs natively (ctest: vm/verdict).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
samples=$here/samples
fails=0

# expect NAME STATUS SAMPLE [--problem TEXT]: run verdict.sh on SAMPLE.results
# and SAMPLE.console (clean.console when there is none); it must exit with
# STATUS. The output is kept in $out for the checks that follow.
expect() {
	local name=$1 want=$2 sample=$3 console rc
	shift 3
	console=$samples/$sample.console
	[ -f "$console" ] || console=$samples/clean.console
	out=$("$here/verdict.sh" "$@" "$samples/$sample.results" "$console" 2>&1)
	rc=$?
	case=$name
	if [ "$rc" -ne "$want" ]; then
		fail "exit status $rc, expected $want"
	fi
}

fail() {
	echo "FAIL $case: $*"
	while IFS= read -r line; do
		echo "    | $line"
	done <<<"$out"
	fails=$((fails + 1))
}

# has TEXT: the output has a line containing TEXT.
has() {
	grep -qF -- "$1" <<<"$out" || fail "no line with: $1"
}

lacks() {
	! grep -qF -- "$1" <<<"$out" || fail "a line with: $1"
}

# count N TEXT: TEXT is on exactly N lines.
count() {
	local n
	n=$(grep -cF -- "$2" <<<"$out")
	[ "$n" -eq "$1" ] || fail "$n lines with '$2', expected $1"
}

# in_order A B: a line with A comes before a line with B.
in_order() {
	local a b
	a=$(grep -nF -- "$1" <<<"$out" | head -n 1 | cut -d: -f1)
	b=$(grep -nF -- "$2" <<<"$out" | tail -n 1 | cut -d: -f1)
	if [ -z "$a" ] || [ -z "$b" ] || [ "$a" -ge "$b" ]; then
		fail "'$1' not before '$2'"
	fi
}

expect "OOM kill during a failing test" 1 oom
has "not ok 3 - bench (exit 1 after 52.9 s)"
has "vuc-e2e-bench: Input/output error"
has "the kernel reported while bench ran:"
has "Out of memory: Killed process 102 (vfio-user-examp)"
has "vfio-user-cuse invoked oom-killer"
in_order "not ok 3 - bench" "the kernel reported while bench ran:"
in_order "peer left in the middle" "Out of memory: Killed process 102"
# Once, with its test: not again from the full log at the end, nor in the
# "outside failing tests" list.
count 1 "Out of memory: Killed process 102"
lacks "vm: the kernel reported:"
has "vm: FAILED: the kernel reported a fault while bench ran: vfio-user-cuse invoked oom-killer"
has "2 passed, 1 failed"

expect "hang: the VM stopped inside a test" 1 hang \
	--problem "the VM did not power off within 1800s (hang); killed"
has "vm: the VM stopped while caller_killed ran"
has "INFO: task vuc-e2e:212 blocked for more than 120 seconds."
in_order "vm: the VM stopped while caller_killed ran" "blocked for more than 120 seconds"
has "vm: FAILED: the VM did not power off within 1800s (hang); killed"
has "0 passed, 1 failed"

expect "a segfault fails a run whose tests passed" 1 segfault
has "vm: the kernel reported:"
has "outside any test: [    9.443310] vfio-user-examp[120]: segfault at 0"
count 1 "test: [    9.443310] vfio-user-examp[120]: segfault at 0"
has "while reset ran: [   31.200100] rcu: INFO: rcu_preempt self-detected stall on CPU"
has "vm: FAILED: the kernel reported a fault outside any test: vfio-user-examp[120]: segfault"
has "2 passed, 1 failed"

expect "a stall alone fails nothing" 0 clean
has "while reset ran: [   31.200100] rcu: INFO: rcu_preempt self-detected stall on CPU"
lacks "FAILED"
has "2 passed, 0 failed"

expect "more than 3/4 of the VM's memory used" 1 memory
has "vm: FAILED: the run used 770 MiB of the VM's 960 MiB, more than 3/4"
has "2 passed, 1 failed"

expect "nothing selected ran" 1 none --select nosuch
has 'vm: FAILED: no test ran (nothing matches "nosuch")'
has "0 passed, 1 failed"

if [ "$fails" -ne 0 ]; then
	echo "$fails checks failed"
	exit 1
fi
echo "all verdict checks passed"
