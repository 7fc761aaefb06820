#!/bin/sh
# End-to-end suite, run inside the VM (busybox sh) by tests/vm's /init:
#   run-suite.sh [SELECT]
# SELECT is a comma-separated list of patterns; a test runs when its name
# contains one of them (empty: all). Prints TAP-like lines "ok N - name"
# (followed by what the case noted, as '#   ' lines) / "not ok N - name"
# (with the failing test's output indented below it), the benchmark's
# figures as '# ' lines, and a last line "N passed, N failed".
#
# Shared fixture for the node tests: two example servers and one daemon,
#   e2e-a: default server,
#   e2e-b: server with --max-xfer=4096 --max-fds=2 (transfers split, fds batched).
# The life-cycle tests (eintr, timeout, server_kill...) start their own.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
E2E="$HERE/vuc-e2e"
BENCH="$HERE/vuc-e2e-bench"
SELECT=${1:-}
WORK=/tmp/vuc-e2e-suite
NODE_A=/dev/vfio-user/e2e-a
NODE_B=/dev/vfio-user/e2e-b
# Limits for a hang, far above what a case takes on a loaded host with the
# sanitized build (the slowest, nodes64 and bench, about 100 s there).
CASE_TIMEOUT=180
LIFE_TIMEOUT=480
# nodes64 does 64 times a node's work: with the sanitized build at load
# average 20 on 2 cores it had done 36 of its 64 nodes after 480 s.
NODES64_TIMEOUT=1500

n=0
passed=0
failed=0
fixture=""  # "", "up" or "broken"
daemon_pid=""
server_pids=""

log() {
	echo "# $*"
}

# kmsg LINE: a line in the kernel log. Each test runs between "test NAME" and
# "end NAME", so tests/vm/run.sh can tell which test was running when the
# kernel reported something (an OOM kill, a BUG, a hung task).
kmsg() {
	[ -w /dev/kmsg ] && echo "<5>vuc-e2e: $*" >/dev/kmsg
}

# begin NAME: a test starts (report ends it).
begin() {
	kmsg "test $1"
	started=$(cut -d' ' -f1 /proc/uptime)
}

# How long the test that begin started has run, in seconds.
took() {
	awk -v t0="$started" '{ printf "%.1f", $1 - t0 }' /proc/uptime
}

selected() {
	[ -z "$SELECT" ] && return 0
	old_ifs=$IFS
	IFS=,
	for pat in $SELECT; do
		case "$1" in
		*"$pat"*)
			IFS=$old_ifs
			return 0
			;;
		esac
	done
	IFS=$old_ifs
	return 1
}

# report NAME RC OUTPUT_FILE
report() {
	n=$((n + 1))
	secs=$(took)
	kmsg "end $1"
	if [ "$2" -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok $n - $1"
		echo "#   took ${secs} s"
		# What the case measured or noticed, as TAP comments.
		grep '^# ' "$3" | sed 's/^# /#   /'
		return
	fi
	failed=$((failed + 1))
	case $2 in
	124 | 137 | 143) echo "not ok $n - $1 (timed out after ${secs} s)" ;;
	*) echo "not ok $n - $1 (exit $2 after ${secs} s)" ;;
	esac
	sed 's/^/    /' "$3"
	if [ "$fixture" = up ]; then
		for f in daemon server-a server-b; do
			[ -s "$WORK/$f.log" ] || continue
			echo "    --- $f.log, last lines:"
			tail -n 12 "$WORK/$f.log" | sed 's/^/    /'
		done
	fi
}

# wait_path TEST PATH [PID]: wait up to 60 s for test(1) TEST (-S, -c) on
# PATH, and no longer than PID (if given) runs.
wait_path() {
	i=0
	while ! [ "$1" "$2" ]; do
		i=$((i + 1))
		[ $i -gt 600 ] && return 1
		[ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null && return 1
		sleep 0.1
	done
	return 0
}

# wait_mode PATH MODE: until PATH has the permission bits MODE (octal, as
# stat prints them), for up to 60 s.
wait_mode() {
	i=0
	while [ "$(stat -c %a "$1" 2>/dev/null)" != "$2" ]; do
		i=$((i + 1))
		[ $i -gt 600 ] && return 1
		sleep 0.1
	done
	return 0
}

# stop_pid PID SIG: signal, then wait up to 30 s (a sanitized daemon checks
# for leaks as it exits, slowly on a loaded host); the exit status (or
# "timeout") goes to $stopped. Not for $(...): only this shell can wait.
stop_pid() {
	kill "-$2" "$1" 2>/dev/null
	i=0
	while [ -e "/proc/$1" ]; do
		state=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)
		[ "$state" = Z ] && break
		i=$((i + 1))
		if [ $i -gt 300 ]; then
			kill -KILL "$1" 2>/dev/null
			wait "$1" 2>/dev/null
			stopped=timeout
			return 1
		fi
		sleep 0.1
	done
	wait "$1"
	stopped=$?
}

start_fixture() {
	[ -n "$fixture" ] && return 0
	fixture=broken
	rm -rf "$WORK"
	mkdir -p "$WORK"
	vfio-user-example-server --socket-path="$WORK/a.sock" >"$WORK/server-a.log" 2>&1 &
	server_pids="$!"
	vfio-user-example-server --socket-path="$WORK/b.sock" --max-xfer=4096 --max-fds=2 \
		>"$WORK/server-b.log" 2>&1 &
	server_pids="$server_pids $!"
	if ! wait_path -S "$WORK/a.sock" || ! wait_path -S "$WORK/b.sock"; then
		log "fixture: the example servers did not start:"
		cat "$WORK"/server-*.log
		return 1
	fi
	# --timeout: a limit for a hang. On a loaded host a request, or the
	# VERSION exchange of a connect, can take longer than the default 5 s.
	vfio-user-cuse --mode=0666 --timeout=60000 "e2e-a=$WORK/a.sock" "e2e-b=$WORK/b.sock" \
		>"$WORK/daemon.log" 2>&1 &
	daemon_pid=$!
	# The kernel makes a node root's alone; the daemon gives it --mode after
	# (cases open it as other users too).
	if ! wait_path -c "$NODE_A" "$daemon_pid" || ! wait_path -c "$NODE_B" "$daemon_pid" ||
		! wait_mode "$NODE_A" 666 || ! wait_mode "$NODE_B" 666; then
		log "fixture: the nodes did not appear; daemon and server logs:"
		cat "$WORK/daemon.log" "$WORK"/server-*.log
		return 1
	fi
	fixture=up
	log "fixture: $NODE_A and $NODE_B served by vfio-user-cuse (pid $daemon_pid)"
	return 0
}

# node_case NAME CASE NODE [ARG]
node_case() {
	selected "$1" || return 0
	begin "$1"
	if ! start_fixture; then
		echo "fixture did not start" >"$WORK/out"
		report "$1" 1 "$WORK/out"
		return
	fi
	name=$1
	shift
	timeout "$CASE_TIMEOUT" "$E2E" "$@" >"$WORK/out" 2>&1
	report "$name" $? "$WORK/out"
}

life_case() {
	selected "$1" || return 0
	begin "$1"
	mkdir -p "$WORK"
	limit=$LIFE_TIMEOUT
	[ "$1" = nodes64 ] && limit=$NODES64_TIMEOUT
	timeout "$limit" "$E2E" "$1" >"$WORK/out" 2>&1
	report "$1" $? "$WORK/out"
}

# program NAME EXPECT CMD...: the command exits 0 and its output has EXPECT.
program() {
	selected "$1" || return 0
	begin "$1"
	name=$1
	expect=$2
	shift 2
	if ! start_fixture; then
		echo "fixture did not start" >"$WORK/out"
		report "$name" 1 "$WORK/out"
		return
	fi
	timeout "$CASE_TIMEOUT" "$@" >"$WORK/out" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && ! grep -q "$expect" "$WORK/out"; then
		echo "(exit 0, but the output lacks \"$expect\")" >>"$WORK/out"
		rc=1
	fi
	report "$name" $rc "$WORK/out"
}

# The daemon holds an fd per DMA mapping, so it must run with its open-file
# soft limit raised to the hard limit.
fd_limit_case() {
	selected fd_limit || return 0
	begin fd_limit
	if ! start_fixture; then
		echo "fixture did not start" >"$WORK/out"
		report fd_limit 1 "$WORK/out"
		return
	fi
	awk '/^Max open files/ { print "# soft limit " $4 ", hard limit " $5; exit $4 != $5 }' \
		"/proc/$daemon_pid/limits" >"$WORK/out" 2>&1
	report fd_limit $? "$WORK/out"
}

stop_fixture() {
	[ -n "$daemon_pid" ] || return 0
	selected fixture_shutdown && begin fixture_shutdown
	stop_pid "$daemon_pid" TERM
	status=$stopped
	for pid in $server_pids; do
		stop_pid "$pid" TERM
	done
	fixture=""
	selected fixture_shutdown || return 0
	{
		echo "daemon exit status after SIGTERM: $status"
		[ -e "$NODE_A" ] && echo "$NODE_A still exists"
	} >"$WORK/out"
	rc=1
	[ "$status" = 0 ] && ! [ -e "$NODE_A" ] && rc=0
	report fixture_shutdown $rc "$WORK/out"
}

mkdir -p "$WORK"
log "vfio-user-cuse end-to-end suite${SELECT:+ (select: $SELECT)}"
for tool in vfio-user-cuse vfio-user-example-server vfio-lspci vfio-dma-demo; do
	command -v "$tool" >/dev/null || log "warning: $tool is not in PATH ($PATH)"
done

node_case node node "$NODE_A" 0666
node_case container container "$NODE_A"
node_case device_info device_info "$NODE_A"
node_case config config "$NODE_A"
node_case bar0 bar0 "$NODE_A"
node_case bar0_vec bar0_vec "$NODE_A"
node_case bar0_vec-small bar0_vec "$NODE_B"
node_case bar2_sizes bar2_sizes "$NODE_A"
node_case bar2_sizes-small bar2_sizes "$NODE_B"
node_case out_of_range out_of_range "$NODE_A"
node_case threads threads "$NODE_A"
node_case threads-small threads "$NODE_B"
node_case thread_churn thread_churn "$NODE_A"
node_case dma_memfd dma_memfd "$NODE_A"
node_case dma_memfd-small dma_memfd "$NODE_B"
node_case dma_anon dma_anon "$NODE_A"
node_case dma_anon-small dma_anon "$NODE_B"
node_case dma_span dma_span "$NODE_A"
node_case dma_cross_maps dma_cross_maps "$NODE_A"
node_case dma_unmap dma_unmap "$NODE_A"
node_case msix msix "$NODE_A"
node_case msix-small msix "$NODE_B"
node_case intx intx "$NODE_A"
node_case irq_deassign irq_deassign "$NODE_A"
node_case irq_deassign-small irq_deassign "$NODE_B"
node_case irq_disable irq_disable "$NODE_A"
node_case irq_trigger irq_trigger "$NODE_A"
node_case irq_trigger-small irq_trigger "$NODE_B"
node_case reset reset "$NODE_A"
node_case enotty enotty "$NODE_A"
node_case argsz argsz "$NODE_A"
node_case mmap mmap "$NODE_A"
node_case ebusy ebusy "$NODE_A"
node_case release release "$NODE_A"
node_case release-small release "$NODE_B"
node_case iommufd iommufd "$NODE_A" "$NODE_B"
node_case iommufd_excl iommufd_excl "$NODE_A"
node_case groups groups "$NODE_A" "$NODE_B"
node_case groups_unset groups_unset "$NODE_A"
node_case sec_map_race sec_map_race "$NODE_A"
node_case sec_pid_reuse sec_pid_reuse "$NODE_A"
node_case sec_not_eventfd sec_not_eventfd "$NODE_A"
node_case sec_memlock sec_memlock "$NODE_A"
node_case sec_dma_remap sec_dma_remap "$NODE_A"
fd_limit_case
program vfio-lspci "Capabilities: \[50\] MSI-X" vfio-lspci -x "$NODE_A"
program vfio-dma-demo "Result: OK" vfio-dma-demo "$NODE_A"
program vfio-dma-demo-anon "Result: OK" vfio-dma-demo --anon "$NODE_B"
program vfio-dma-demo-size "destination: all 4096 bytes match" \
	vfio-dma-demo --size=4096 --irq-timeout=60000 "$NODE_A"
# The legacy model at the kernel's paths: /dev/vfio/vfio and /dev/vfio/N.
program vfio-user-ns "Result: OK" sh -c 'g=$(readlink /run/vfio-user/devices/e2e-a/iommu_group) &&
	exec vfio-user-ns vfio-dma-demo "/dev/vfio/${g##*/}" e2e-a'
program vfio-user-ns-lspci "MSI-X" sh -c 'g=$(readlink /run/vfio-user/devices/e2e-b/iommu_group) &&
	exec vfio-user-ns vfio-lspci "/dev/vfio/${g##*/}" e2e-b'
life_case eintr
life_case timeout
life_case server_kill
life_case server_restart
life_case caller_killed
life_case sigterm
life_case nodes64
life_case devnum
life_case container_alias
life_case notify
life_case sighup
life_case journal
life_case capabilities
life_case one_line
life_case away_log
life_case fd_server
life_case namespaces
life_case sec_dma_hang
life_case sec_fd_exhaust
life_case sec_server_stopped

if selected bench; then
	begin bench
	if start_fixture; then
		timeout "$LIFE_TIMEOUT" "$BENCH" "$NODE_A" >"$WORK/out" 2>&1
		report bench $? "$WORK/out"
	else
		echo "fixture did not start" >"$WORK/out"
		report bench 1 "$WORK/out"
	fi
fi
stop_fixture

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
