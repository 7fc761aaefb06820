#!/usr/bin/env bash
# verdict.sh [--mode test|demo|smoke|qemu|bench] [--select LIST] [--problem TEXT] RESULTS CONSOLE
#
# What tests/vm/run.sh says once the VM has stopped, from what the VM printed
# (RESULTS, its second serial port) and the kernel's console (CONSOLE):
#   - each failing test's output again, followed by what the kernel reported
#     while that test ran (an OOM kill, a BUG, a hung task...), so a failure
#     the VM caused is not blamed on the daemon;
#   - the test that was running when the VM stopped, if one was;
#   - kernel reports made outside failing tests;
#   - "vm: FAILED: ..." and the suite's "N passed, N failed" (not for the demo;
#     ", N skipped" follows where the suite skipped some).
# PROBLEM is what run.sh already found wrong (a hang, qemu failing). Exit
# status 0 only when every test passed (or the demo succeeded), the kernel
# reported no fault, and the run used at most 3/4 of the VM's memory. Stalls
# (RCU, soft lockups) are shown but fail nothing by themselves: they tell of
# a starved VM on a loaded host, which the tests must survive.
set -uo pipefail

usage() {
	echo "usage: verdict.sh [--mode test|demo|smoke|qemu|bench] [--select LIST] [--problem TEXT] RESULTS CONSOLE" >&2
	exit 2
}

mode='test'
select=
problem=
while [ $# -gt 2 ]; do
	case $1 in
	--mode) mode=$2 ;;
	--select) select=$2 ;;
	--problem) problem=$2 ;;
	*) usage ;;
	esac
	shift 2
done
[ $# -eq 2 ] || usage
results=$1
console=$2

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vuc-verdict.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
tr -d '\r' <"$results" >"$tmp/results"
tr -d '\r' <"$console" >"$tmp/console"

# The kernel's reports, one per line: TEST<tab>KIND<tab>LINE, where TEST is
# the test between run-suite.sh's "vuc-e2e: test NAME" and "vuc-e2e: end NAME"
# marks ("-" outside tests) and KIND is fault or stall. Only what the kernel
# printed as it ran counts: the full log /init prints at the end repeats it.
# The last line is "running<tab>TEST" when the log stops inside a test.
awk '
	/vuc: the whole kernel log follows/ { stopped = 1; exit }
	/vuc-e2e: test / { sub(/.*vuc-e2e: test /, ""); test = $0; next }
	/vuc-e2e: end / { test = ""; next }
	/soft lockup|rcu.*stall/ { print (test == "" ? "-" : test) "\tstall\t" $0; next }
	/Out of memory|oom-kill|Killed process|BUG:|Oops|general protection|segfault at|traps:|blocked for more than|Kernel panic|WARNING: CPU/ {
		print (test == "" ? "-" : test) "\tfault\t" $0
	}
	END { if (!stopped && test != "") print "running\t" test }
' "$tmp/console" >"$tmp/reports"
running=$(awk -F '\t' '$1 == "running" { print $2 }' "$tmp/reports")
sed -i '/^running\t/d' "$tmp/reports"

# reports_of TEST: its reports, indented.
reports_of() {
	awk -F '\t' -v t="$1" '$1 == t { print "        " $3 }' "$tmp/reports"
}

# Each failing test's output, then the kernel's reports while it ran.
print_failures() {
	awk -F '\t' '
		FILENAME == ARGV[1] { k[$1] = k[$1] "        " $3 "\n"; next }
		function flush() {
			if (name != "" && name in k)
				printf "    the kernel reported while %s ran:\n%s", name, k[name]
			name = ""
		}
		/^not ok [0-9]+ - / { flush(); show = 1; print; split($0, w, " "); name = w[5]; next }
		/^ok [0-9]+/ || /^[0-9]+ passed, [0-9]+ failed/ { flush(); show = 0; next }
		show { print "    " $0 }
		END { flush() }
	' "$tmp/reports" "$tmp/results"
}

status=0
if [ -n "$problem" ]; then
	echo "vm: the kernel's console ($console) ends with:"
	grep -av '^\s*$' "$tmp/console" | tail -n 30 | sed 's/^/    /'
fi

notok=$(grep -c '^not ok [0-9]' "$tmp/results")
if [ "$notok" -gt 0 ]; then
	echo "vm: failing tests:"
	print_failures
	status=1
fi
if [ -n "$running" ]; then
	echo "vm: the VM stopped while $running ran"
	reports_of "$running"
fi
# Reports not shown with a failing test or the one that was running.
failing=$(sed -n 's/^not ok [0-9]* - \([^ ]*\).*/\1/p' "$tmp/results")
others=$(awk -F '\t' -v skip="$(printf '%s\n' "$failing" "$running")" '
	BEGIN { n = split(skip, s, "\n"); for (i = 1; i <= n; i++) if (s[i] != "") x[s[i]] = 1 }
	!($1 in x) { print "    " ($1 == "-" ? "outside any test" : "while " $1 " ran") ": " $3 }
' "$tmp/reports")
if [ -n "$others" ]; then
	echo "vm: the kernel reported:"
	echo "$others"
fi
fault=$(awk -F '\t' '$2 == "fault" {
	sub(/^\[[^]]*\] */, "", $3)
	print ($1 == "-" ? "outside any test" : "while " $1 " ran") ": " $3
	exit
}' "$tmp/reports")
if [ -n "$fault" ]; then
	problem=${problem:-"the kernel reported a fault $fault"}
fi
# /init's "vuc: peak memory use N MiB of M MiB": a run that comes near the
# end of the VM's memory fails on every machine, before it fails at random
# with OOM kills on the faster ones (where ASan's quarantines fill up).
peak=$(sed -n 's/^vuc: peak memory use \([0-9]*\) MiB of \([0-9]*\) MiB.*/\1 \2/p' "$tmp/results")
if [ -n "$peak" ] && [ $((${peak% *} * 4)) -gt $((${peak#* } * 3)) ]; then
	problem=${problem:-"the run used ${peak% *} MiB of the VM's ${peak#* } MiB, more than 3/4"}
fi

case $mode in
demo | bench)
	line=$(sed -n "s/^vuc: $mode exited with status \\([0-9]*\\)\$/\\1/p" "$tmp/results")
	if [ -z "$line" ]; then
		problem=${problem:-"the $mode did not finish"}
	elif [ "$line" != 0 ]; then
		problem=${problem:-"the $mode failed (status $line)"}
	fi
	;;
*)
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$tmp/results" | tail -n 1)
	if [ -z "$summary" ]; then
		problem=${problem:-"no summary line (N passed, N failed) from the VM"}
	else
		passed=${summary%% passed*}
		failed=${summary#*, }
		failed=${failed%% failed*}
		skipped=0
		case $summary in *skipped) skipped=${summary##*, } && skipped=${skipped%% *} ;; esac
		[ "$failed" -gt 0 ] && status=1
		if [ "$notok" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$passed" -eq 0 ] && [ "$skipped" -eq 0 ]; then
			problem=${problem:-"no test ran${select:+ (nothing matches \"$select\")}"}
		fi
	fi
	;;
esac

if [ -n "$problem" ]; then
	echo "vm: FAILED: $problem"
	echo "vm: logs: $results $console"
	status=1
fi
if [ "$mode" != demo ] && [ "$mode" != bench ]; then
	if [ -n "${summary:-}" ]; then
		[ -n "$problem" ] && [ "$failed" -eq 0 ] && summary="$passed passed, 1 failed${summary#*failed}"
		echo "$summary"
	else
		echo "0 passed, 1 failed"
	fi
fi
exit $status
