#!/bin/sh
# The benchmark, run inside the VM (busybox sh) by tests/vm's /init in
# vuc.mode=bench (tests/bench/run.sh boots it):
#   bench-suite.sh [RUNS] [OPS] [PART]
# Starts two example servers, one behind the daemon's node and one for the
# protocol library used directly, then runs vuc-bench, which prints the
# figures as JSON between marker lines and as a table. PART "main" (the
# default) is every single-thread figure, the syscall counts of a few
# operations (strace, when the image has it) and the 64-device daemon;
# "threads" the figures of 8 program threads.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
BENCH="$HERE/vuc-bench"
RUNS=${1:-3}
OPS=${2:-2000}
PART=${3:-main}
WORK=/tmp/vuc-bench
NODE=/dev/vfio-user/bench
COUNT_OPS=1000

log() {
	echo "bench: $*"
}

wait_path() {
	i=0
	while ! [ "$1" "$2" ]; do
		i=$((i + 1))
		[ $i -gt 300 ] && return 1
		sleep 0.1
	done
}

rm -rf "$WORK"
mkdir -p "$WORK"
vfio-user-example-server --socket-path="$WORK/node.sock" >"$WORK/server-node.log" 2>&1 &
srv1=$!
vfio-user-example-server --socket-path="$WORK/direct.sock" >"$WORK/server-direct.log" 2>&1 &
srv2=$!
wait_path -S "$WORK/node.sock" && wait_path -S "$WORK/direct.sock" || {
	log "the example servers did not start"
	cat "$WORK"/server-*.log
	exit 1
}
vfio-user-cuse --mode=0666 "bench=$WORK/node.sock" >"$WORK/daemon.log" 2>&1 &
daemon=$!
wait_path -c "$NODE" || {
	log "$NODE did not appear"
	cat "$WORK/daemon.log"
	exit 1
}
log "daemon pid $daemon serves $NODE; $(nproc) CPUs"

# calls_of FILE SYSCALL: the calls column of strace -c's row (or total).
calls_of() {
	awk -v s="$2" '$NF == s { print $4; found = 1 } END { if (!found) print 0 }' "$1"
}

# count_node OP N: strace -c of the daemon while a program does N ops.
count_node() {
	strace -f -c -o "$WORK/st.txt" -p "$daemon" 2>"$WORK/st.err" &
	st=$!
	sleep 1
	"$BENCH" count node "$1" "$2" --node "$NODE" --socket "$WORK/direct.sock"
	rc=$?
	sleep 0.2
	kill -INT $st
	wait $st
	return $rc
}

# count_direct OP N: strace -c of a program that does N ops itself.
count_direct() {
	strace -f -c -o "$WORK/st.txt" "$BENCH" count direct "$1" "$2" --node "$NODE" \
		--socket "$WORK/direct.sock" 2>"$WORK/st.err"
}

# per_op KIND OP KEY WHAT: futex calls and all syscalls per op, N ops less 0.
per_op() {
	"count_$1" "$2" $COUNT_OPS || return 1
	f1=$(calls_of "$WORK/st.txt" futex)
	t1=$(calls_of "$WORK/st.txt" total)
	"count_$1" "$2" 0 || return 1
	f0=$(calls_of "$WORK/st.txt" futex)
	t0=$(calls_of "$WORK/st.txt" total)
	echo "futex_$3|futex calls per $4|$(awk -v a="$f1" -v b="$f0" -v n=$COUNT_OPS 'BEGIN { printf "%.2f", (a - b) / n }')" >>"$WORK/extra.txt"
	echo "syscalls_$3|syscalls per $4|$(awk -v a="$t1" -v b="$t0" -v n=$COUNT_OPS 'BEGIN { printf "%.2f", (a - b) / n }')" >>"$WORK/extra.txt"
}

: >"$WORK/extra.txt"
if [ "$PART" != main ]; then
	:
elif command -v strace >/dev/null; then
	per_op node bar0-read bar0_read_node "BAR0 pread, daemon side" &&
		per_op node api-version api_node "GET_API_VERSION, daemon side" &&
		per_op direct bar0-read bar0_read_direct "BAR0 read, direct (whole process)" ||
		log "strace counts failed: $(cat "$WORK/st.err")"
else
	log "no strace in the image: no syscall counts"
fi

nodes64=
[ "$PART" = main ] && nodes64=--nodes64
# shellcheck disable=SC2086 # $nodes64: one word or none
"$BENCH" run --node "$NODE" --socket "$WORK/direct.sock" --daemon "$daemon" \
	--runs "$RUNS" --ops "$OPS" --part "$PART" --extra "$WORK/extra.txt" $nodes64
rc=$?
[ $rc -eq 0 ] || {
	log "vuc-bench failed (status $rc); daemon log:"
	tail -n 20 "$WORK/daemon.log"
}
kill -TERM $daemon $srv1 $srv2 2>/dev/null
wait $daemon
exit $rc
