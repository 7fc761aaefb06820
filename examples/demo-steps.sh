#!/bin/sh
# The demo's steps (POSIX sh: it also runs under busybox in the test VM).
# examples/demo.sh runs it on a host with CUSE, or in the VM otherwise. Needs
# root, /dev/cuse, and the project's programs on PATH.
#
# A vfio-user server emulates a PCI device; vfio-user-cuse turns it into
# /dev/vfio-user/0; ordinary VFIO programs then use that node as if the kernel
# served it.
set -u

node=/dev/vfio-user/0
dir=$(mktemp -d "${TMPDIR:-/tmp}/vuc-demo.XXXXXX") || exit 1
sock=$dir/example.sock
server=
daemon=

heading() {
	printf '\n=== %s\n' "$*"
}

explain() {
	printf '    %s\n' "$@"
}

cleanup() {
	[ -n "$daemon" ] && kill -TERM "$daemon" 2>/dev/null && wait "$daemon"
	[ -n "$server" ] && kill -TERM "$server" 2>/dev/null && wait "$server"
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	printf '\nDEMO FAILED: %s\n' "$*"
	exit 1
}

# wait_for WHAT PID TEST...: up to 60 s (a limit for a hang: it takes well
# under a second, even in an emulated VM on a loaded host) for TEST to
# succeed while PID runs.
wait_for() {
	what=$1
	pid=$2
	shift 2
	i=0
	until "$@"; do
		kill -0 "$pid" 2>/dev/null || fail "the program that should create $what exited"
		i=$((i + 1))
		[ $i -le 600 ] || fail "$what did not appear within 60 s"
		sleep 0.1
	done
}

[ -e $node ] && fail "$node already exists: another vfio-user-cuse is running"

heading "1. Start a vfio-user server"
explain "vfio-user-example-server emulates a PCI device (registers, 64 KiB of RAM," \
	"a DMA engine, MSI-X interrupts) and serves it on a unix socket:" \
	"vfio-user-example-server --socket-path=$sock"
vfio-user-example-server --socket-path="$sock" &
server=$!
wait_for "the server's socket" "$server" test -S "$sock"

heading "2. Ask the server what it offers"
explain "vfio-user-info speaks the vfio-user protocol directly; the first tool to" \
	"run when a server misbehaves:"
vfio-user-info "$sock" || fail "vfio-user-info could not query the server"

heading "3. Start vfio-user-cuse"
explain "The daemon connects to the server and creates $node through CUSE:" \
	"vfio-user-cuse 0=$sock"
vfio-user-cuse 0="$sock" &
daemon=$!
wait_for "$node" "$daemon" test -c $node
ls -l $node

heading "4. A VFIO program reads the device"
explain "vfio-lspci uses only <linux/vfio.h>: the same ioctls and pread calls it" \
	"would make on a kernel VFIO device. The daemon turns each into vfio-user" \
	"messages to the server. Compare BAR2 with step 2: the server offers it" \
	"mappable, but a CUSE node cannot be mmapped, so the node reports it without" \
	"the MMAP flag, as the kernel reports such a region, and programs use pread" \
	"and pwrite:"
vfio-lspci $node || fail "vfio-lspci failed"

heading "5. DMA and an interrupt, with shareable memory (memfd)"
explain "The program maps its buffers for DMA. Memory with a file behind it is" \
	"handed to the server as a file descriptor: the device then reads and" \
	"writes it directly."
vfio-dma-demo --memfd $node || fail "vfio-dma-demo --memfd failed"

heading "6. DMA and an interrupt, with private memory (anonymous)"
explain "Private memory cannot be shared: the server asks the daemon for each" \
	"access and the daemon copies into and out of the program's memory."
vfio-dma-demo --anon $node || fail "vfio-dma-demo --anon failed"

heading "7. Clean up"
explain "Stopping the daemon removes the node; then the server stops."
kill -TERM $daemon
wait $daemon || fail "vfio-user-cuse did not exit cleanly"
daemon=
[ -e $node ] && fail "$node is still there after the daemon exited"
echo "    $node is gone."
kill -TERM $server
wait $server || fail "the server did not exit cleanly"
server=

printf '\nDemo finished: every step worked.\n'
