#!/bin/sh
# The demo's steps (POSIX sh: it also runs under busybox in the test VM).
# examples/demo.sh runs it on a host with CUSE, or in the VM otherwise. Needs
# root, /dev/cuse, and the project's programs on PATH.
#
# Written for someone who has never used VFIO: it says what each piece is,
# and labels every line of output with the program that printed it.
set -u

node=/dev/vfio-user/0
dir=$(mktemp -d "${TMPDIR:-/tmp}/vuc-demo.XXXXXX") || exit 1
sock=$dir/example.sock
server=
daemon=
readers=

heading() {
	printf '\n=== %s\n' "$*"
}

explain() {
	printf '    %s\n' "$@"
}

# The command line about to run, as one would type it.
show() {
	printf '    $ %s\n' "$*"
}

# label NAME: copy stdin to stdout, each line after "NAME |".
label() {
	while IFS= read -r line; do
		printf '  %15s | %s\n' "$1" "$line"
	done
}

# run NAME CMD...: CMD in the foreground, its output labelled; its status.
run() {
	name=$1
	shift
	show "$@"
	{
		"$@" 2>&1
		echo $? >"$dir/status"
	} | label "$name"
	return "$(cat "$dir/status")"
}

# background NAME CMD...: start CMD, its output labelled as it comes; its
# pid in $started.
background() {
	name=$1
	shift
	show "$@ &"
	mkfifo "$dir/$name.fifo" || fail "mkfifo"
	label "$name" <"$dir/$name.fifo" &
	readers="$readers $!"
	"$@" >"$dir/$name.fifo" 2>&1 &
	started=$!
}

cleanup() {
	[ -n "$daemon" ] && kill -TERM "$daemon" 2>/dev/null && wait "$daemon"
	[ -n "$server" ] && kill -TERM "$server" 2>/dev/null && wait "$server"
	for r in $readers; do
		wait "$r" 2>/dev/null
	done
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

cat <<'EOF'
What this demo shows

  VFIO is how Linux lets an ordinary program drive a PCI device itself, as
  DPDK, SPDK and QEMU do: the program opens a device file, asks with ioctls
  what the device has (memory regions, interrupts), reads and writes its
  registers with pread/pwrite, and maps its own memory so that the device can
  reach it by DMA. vfio-user is the same interface as messages on a unix
  socket, so that the device can be a program: an emulated device, a device
  model under test. vfio-user-cuse turns such a server back into a device
  file, /dev/vfio-user/NAME, that answers the VFIO calls itself, so programs
  written for VFIO use it unchanged.

  Below, each line of output starts with the name of the program that
  printed it: "server" (the emulated device), "daemon" (vfio-user-cuse),
  and the programs run in each step.
EOF

heading "1. Start a vfio-user server"
explain "vfio-user-example-server emulates a small PCI device (registers, 64 KiB" \
	"of RAM, a DMA engine, MSI-X interrupts) and waits for clients on a unix socket."
background server vfio-user-example-server --socket-path="$sock"
server=$started
wait_for "the server's socket" "$server" test -S "$sock"

heading "2. Ask the server what it offers"
explain "vfio-user-info speaks the vfio-user protocol directly (no device file, no" \
	"daemon): it is the first thing to run when a server misbehaves. Regions are" \
	"numbered as on a real PCI device: BAR0-BAR5, then the ROM, then config space."
run vfio-user-info vfio-user-info "$sock" || fail "vfio-user-info could not query the server"

heading "3. Start vfio-user-cuse"
explain "The daemon connects to the server and creates $node through CUSE (a" \
	"character device served by a program): container and device in one file." \
	"Beside it come the kernel's own two layouts, for programs such as QEMU that" \
	"open them: vfio and groups/0 (a container and a group), iommu and devices/0" \
	"(an iommufd and a device cdev). -v makes the daemon say what it does."
background daemon vfio-user-cuse -v 0="$sock"
daemon=$started
wait_for "$node" "$daemon" test -c $node
run ls ls -l $node

heading "4. A VFIO program reads the device"
explain "vfio-lspci knows nothing of vfio-user: it makes the same ioctls and pread" \
	"calls it would make on a kernel VFIO device, and the daemon turns each into a" \
	"vfio-user message. Like the kernel, the node reaches region N at file offset" \
	"N << 40 (BAR2 starts at 0x20000000000), so one pread names region and offset." \
	"BAR2 comes out without the mmap flag the server gave it in step 2: a CUSE" \
	"node cannot be mmapped, and the flag tells programs to use pread/pwrite."
run vfio-lspci vfio-lspci $node || fail "vfio-lspci failed"

heading "5. DMA and an interrupt, with shareable memory (memfd)"
explain "The program maps two buffers for DMA at IOVAs (I/O virtual addresses: the" \
	"addresses the device uses for the program's memory, which the program picks" \
	"in VFIO_IOMMU_MAP_DMA), has the device copy one into the other and waits for" \
	"its MSI-X interrupt on an eventfd. Memory with a file behind it is handed to" \
	"the server as a file descriptor, so the device reaches it directly."
run vfio-dma-demo vfio-dma-demo --memfd $node || fail "vfio-dma-demo --memfd failed"

heading "6. DMA and an interrupt, with private memory (anonymous)"
explain "Private memory cannot be handed over: the server asks the daemon for each" \
	"access, and the daemon copies into and out of the program's memory."
run vfio-dma-demo vfio-dma-demo --anon $node || fail "vfio-dma-demo --anon failed"

heading "7. Clean up"
explain "Stopping the daemon removes the node; then the server stops."
kill -TERM $daemon
wait $daemon || fail "vfio-user-cuse did not exit cleanly"
daemon=
[ -e $node ] && fail "$node is still there after the daemon exited"
explain "$node is gone."
kill -TERM $server
wait $server || fail "the server did not exit cleanly"
server=
for r in $readers; do
	wait "$r" 2>/dev/null
done
readers=

cat <<'EOF'

Demo finished: every step worked.

What to try next
  - Your own device: any vfio-user server works, e.g. libvfio-user's samples
    (vfio-user-cuse gpio=/tmp/gpio.sock) or SPDK's NVMe-oF vfio-user target;
    README.md has the command lines.
  - A program that is not root: vfio-user-cuse --mode=0666 (or --owner,
    --group) opens the node to other users.
  - Your own VFIO program: compat/vfio_open.h opens a node or a kernel VFIO
    device in one call; vfio-lspci and vfio-dma-demo are short examples.
  - As a service: vfio-user-cuse@NAME.service (man vfio-user-cuse), and
    --devnum for containers (docs/service.md).
  - QEMU: its vfio-pci device takes /dev/vfio-user/devices/0 and
    /dev/vfio-user/iommu as it would the kernel's; docs/qemu.md has the
    command line, and vfio-user-ns runs programs that want /dev/vfio.
EOF
