#!/bin/sh
# The QEMU suite, run inside the VM by tests/vm's /init (tests/vm/run.sh
# --suite qemu; prepare.sh puts it at /opt/qemu/suite.sh):
#   suite.sh [SELECT]
# Debian's own QEMUs (the bundles of tests/vm/qemu-pkgs.sh at /opt/qemu/NAME)
# run the example device (vfio-user-example-server) through the daemon's
# nodes with vfio-pci. The host side reads the monitor's `info pci`, quits
# QEMU through the monitor and checks that the daemon and the server outlive
# it. With guest RAM shared, QEMU also boots a tiny inner guest (the VM's
# kernel and a busybox initramfs, guest-init) that prints what it sees of the
# device: config space from sysfs, BAR0's ID register through resource0; QEMU's
# emulated edu device rides along as a control, read the same way. An inner
# boot takes minutes under nested TCG, so with guest RAM private QEMU runs no
# guest kernel: it has realized the device and mapped guest RAM through the
# daemon before the first instruction, and once the firmware has assigned
# the BARs, `info pci` shows them.
#   qemu10-iommufd-shared   QEMU 10.0, the iommufd and device cdev nodes by fd
#   qemu10-iommufd-private
#   qemu7-legacy-shared     QEMU 7.2, the container and group nodes, sysfsdev=,
#   qemu7-legacy-private    under vfio-user-ns
#   qemu7-inner-guest       the same, shared, behind an emulated IOMMU
#                           (intel-iommu, caching mode): the inner guest binds
#                           the device to its own vfio-pci and runs
#                           vfio-lspci and vfio-dma-demo on /dev/vfio/GROUP
#   anchor                  only when SELECT names it (tests/bench/run.sh
#                           --anchor; prepare.sh with VUC_QEMU_ANCHOR=1):
#                           the benchmark's anchor, the same inner guest
#                           timing BAR0 reads and vfio-dma-demo under QEMU 7.2
#                           through the nodes and under sid's QEMU 11.1 with
#                           its own vfio-user client, vfio-user-pci, on a
#                           socket of the same example server binary
# A case whose QEMU could not be downloaded, or whose nodes the daemon does not
# make, prints "ok N - NAME # SKIP why" and counts as skipped. Output as in
# tests/e2e/run-suite.sh: TAP-like lines, then "N passed, N failed, N skipped".
set -u

Q=/opt/qemu
G=$Q/guest
WORK=/tmp/vuc-qemu
SELECT=${1:-}
# An inner boot takes 75-100 s under nested TCG: allow for a slow machine.
GUEST_TIMEOUT=600
# The guest of qemu7-inner-guest loads modules and runs two programs more:
# 630 s from QEMU's start on a 2-core host at load average 8-23.
IOMMU_GUEST_TIMEOUT=1800
QUIT_TIMEOUT=60
# The anchor's timed BAR0 reads: each is a trap to QEMU and, through the
# nodes, a CUSE round trip (about 30 ms under nested TCG on a loaded host).
ANCHOR_READS=200
GUEST_MEM=256M

# The example device (examples/example-device.h) and its BARs' sizes.
EX_IDS=7565:0001
EX_BARS="0:0x1000 2:0x10000"
EX_PEEK=$EX_IDS@0x0
EX_ID_VALUE=0x45535556
# QEMU's edu device: BAR0 is 1 MiB, its register 0 reads 0x010000ed (version 1.0).
EDU_IDS=1234:11e8
EDU_BARS="0:0x100000"
EDU_PEEK=$EDU_IDS@0x0
EDU_ID_VALUE=0x010000ed

# The daemon's name for the example device and its nodes (README.md): the
# iommufd and the device cdev; the container and the sysfs-like directory
# whose iommu_group link names the device's group.
NAME="qemu-ex"
IOMMU_NODE=/dev/vfio-user/iommu
DEVICE_NODE=/dev/vfio-user/devices/$NAME
CONTAINER_NODE=/dev/vfio-user/vfio
SYSFS_DIR=/run/vfio-user/devices/$NAME
ONE_FD_NODE=/dev/vfio-user/$NAME

n=0
passed=0
failed=0
skipped=0
fixture=""
fixture_used=""
daemon_pid=""
server_pid=""

log() {
	echo "# $*"
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
	if [ "$2" -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok $n - $1"
		grep '^# ' "$3" | sed 's/^# /#   /'
		return
	fi
	failed=$((failed + 1))
	echo "not ok $n - $1 (exit $2)"
	sed 's/^/    /' "$3"
}

# skip NAME WHY
skip() {
	n=$((n + 1))
	skipped=$((skipped + 1))
	echo "ok $n - $1 # SKIP $2"
}

# wait_path TEST PATH SECONDS: wait for test(1) TEST (-S, -c, -e) on PATH.
wait_path() {
	i=0
	while ! test "$1" "$2"; do
		i=$((i + 1))
		[ $i -gt $(($3 * 10)) ] && return 1
		sleep 0.1
	done
	return 0
}

# gone PID: the process has exited (or is a zombie waiting for us).
gone() {
	[ ! -e "/proc/$1" ] || [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" = Z ]
}

# stop_pid PID SIG: signal, wait up to 10 s; the exit status (or "timeout")
# goes to $stopped.
stop_pid() {
	kill "-$2" "$1" 2>/dev/null
	i=0
	while ! gone "$1"; do
		i=$((i + 1))
		if [ $i -gt 100 ]; then
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

# ---- one QEMU run --------------------------------------------------------

# boot DIR BUNDLE APPEND QEMU_ARG...: runs the bundle's QEMU (through $wrap,
# a command word or empty) with the inner guest (APPEND added to its kernel
# command line: vuc.peek=..., vuc.vfio=..., see guest-init), the guest's
# two serial ports in DIR/console.log and DIR/guest.log, the monitor on the
# pipes DIR/mon.{in,out} (copied to DIR/monitor.log); waits for "guest: done"
# ($guest_timeout seconds at most, GUEST_TIMEOUT unless set), asks the
# monitor for `info pci`, quits through it and waits for QEMU to exit. With
# APPEND empty there is no guest kernel: `info pci` once the firmware has
# given every BAR its address (QEMU 10.0 shows no size before).
# QEMU inherits fds 3 and up. Status 0 when QEMU exited 0 after all that;
# the times go out as "# " lines.
boot() {
	dir=$1
	bundle=$2
	append=$3
	shift 3
	if [ -n "$append" ]; then
		set -- -kernel "$G/kernel" -initrd "$G/initrd.cpio" \
			-append "console=ttyS0 quiet panic=-1 cryptomgr.notests $append" "$@"
	fi
	limit=${guest_timeout:-$GUEST_TIMEOUT}
	rm -rf "$dir"
	mkdir -p "$dir"
	mkfifo "$dir/mon.in" "$dir/mon.out"
	# The reader must not hold the fds meant for QEMU.
	cat "$dir/mon.out" >"$dir/monitor.raw" 3>&- 4>&- &
	reader=$!
	start=$(date +%s)
	# shellcheck disable=SC2086 # $wrap: a word or none
	LD_LIBRARY_PATH=$bundle/lib QEMU_MODULE_DIR=$bundle/lib/qemu \
		$wrap "$bundle/bin/qemu-system-x86_64" -L "$bundle/share/qemu" \
		-name vuc-inner -nodefaults -no-user-config -display none -no-reboot \
		-accel tcg -smp 1 -m $GUEST_MEM \
		-serial "file:$dir/console.log" -serial "file:$dir/guest.log" \
		-monitor "pipe:$dir/mon" "$@" >"$dir/qemu.log" 2>&1 &
	qemu=$!

	status=0
	i=0
	while [ -n "$append" ] && ! grep -q '^guest: done' "$dir/guest.log" 2>/dev/null; do
		if gone "$qemu"; then
			echo "QEMU exited before the guest was done; its output:"
			sed 's/^/  /' "$dir/qemu.log"
			status=1
			break
		fi
		i=$((i + 1))
		if [ $i -gt "$limit" ]; then
			echo "the guest did not finish within ${limit}s"
			status=1
			break
		fi
		sleep 1
	done
	booted=$(date +%s)
	[ $status -eq 0 ] && [ -n "$append" ] &&
		log "inner guest done $((booted - start)) s after QEMU started"

	asked=0
	while [ $status -eq 0 ]; do
		ask_info_pci "$dir" || status=1
		[ $status -eq 0 ] && [ -n "$append" ] && break
		last_answer "$dir" | grep -q -e 'not mapped' -e 'at 0xffffffffffffffff' || break
		if [ $(($(date +%s) - start)) -gt "$limit" ]; then
			echo "the firmware did not assign the BARs within ${limit}s"
			status=1
		fi
		sleep 5
	done
	[ $status -eq 0 ] && [ -z "$append" ] &&
		log "the firmware had assigned the BARs $(($(date +%s) - start)) s after QEMU started"
	# Quit through the monitor, also after a failure: QEMU must still obey.
	quit_at=$(date +%s)
	gone "$qemu" || echo quit >"$dir/mon.in"

	i=0
	while ! gone "$qemu"; do
		i=$((i + 1))
		if [ $i -gt $((QUIT_TIMEOUT * 10)) ]; then
			echo "QEMU did not quit within ${QUIT_TIMEOUT}s; killed"
			kill -KILL "$qemu"
			status=1
			break
		fi
		sleep 0.1
	done
	wait "$qemu"
	rc=$?
	if [ $status -eq 0 ] && [ $rc -ne 0 ]; then
		echo "QEMU exited with status $rc after quit; its output:"
		sed 's/^/  /' "$dir/qemu.log"
		status=1
	fi
	[ $status -eq 0 ] && log "QEMU quit $(($(date +%s) - quit_at)) s after it was told to"
	kill "$reader" 2>/dev/null
	wait "$reader" 2>/dev/null
	tr -d '\r' <"$dir/monitor.raw" >"$dir/monitor.log"
	return $status
}

# ask_info_pci DIR: one more `info pci`, followed by `info name`, whose answer
# (-name's value) marks the end of it; waits for that.
ask_info_pci() {
	asked=$((asked + 1))
	printf 'info pci\ninfo name\n' >"$1/mon.in"
	i=0
	while [ "$(tr -d '\r' <"$1/monitor.raw" | grep -c '^vuc-inner')" -lt $asked ]; do
		i=$((i + 1))
		if [ $i -gt 600 ] || gone "$qemu"; then
			echo "the monitor did not answer info pci; QEMU's output:"
			sed 's/^/  /' "$1/qemu.log"
			return 1
		fi
		sleep 0.1
	done
}

# last_answer DIR: what the monitor said after the last but one mark.
last_answer() {
	tr -d '\r' <"$1/monitor.raw" | awk -v n=$((asked - 1)) '
		/^vuc-inner/ { seen++; next }
		seen == n'
}

# monitor_has DIR VENDOR:DEVICE BARS: `info pci` lists the device, and its BARs
# as BAR:SIZE words ("0:0x1000 2:0x10000") with exactly those sizes. Shows
# what it read as "# " lines unless $quiet is set.
monitor_has() {
	# The last answer of `info pci` that lists it.
	block=$(awk -v ids="PCI device $2" '
		/^ *Bus +[0-9]+, device/ { on = 0 }
		index($0, ids) { on = 1; b = "" }
		on { b = b $0 "\n" }
		END { printf "%s", b }' "$1/monitor.log")
	if [ -z "$block" ]; then
		echo "info pci does not list $2; the monitor said:"
		sed 's/^/  /' "$1/monitor.log"
		return 1
	fi
	[ -n "${quiet:-}" ] || echo "$block" | sed 's/^ */# info pci: /'
	for bar in $3; do
		# "BAR0: 32 bit memory at 0xfebf0000 [0xfebf0fff]."
		range=$(echo "$block" | sed -n "s/^ *BAR${bar%%:*}: .* at \(0x[0-9a-f]*\) \[\(0x[0-9a-f]*\)\].*/\1 \2/p")
		if [ -z "$range" ]; then
			echo "info pci shows no BAR${bar%%:*} for $2"
			return 1
		fi
		size=$(printf '0x%x' $((${range#* } - ${range% *} + 1)))
		if [ "$size" != "${bar#*:}" ]; then
			echo "BAR${bar%%:*} of $2 is $size bytes in info pci, expected ${bar#*:}"
			return 1
		fi
	done
}

# guest_saw DIR VENDOR:DEVICE REG0_VALUE: the inner guest found the device in
# sysfs, its config space starts with the ids, and BAR0's register 0 read
# through resource0 gave REG0_VALUE. Shows the guest's lines unless $quiet.
guest_saw() {
	v=${2%:*}
	d=${2#*:}
	[ -n "${quiet:-}" ] || tr -d '\r' <"$1/guest.log" | grep '^guest: ' | sed 's/^/# /'
	bdf=$(tr -d '\r' <"$1/guest.log" | awk -v id="0x$v:0x$d" '$2 == "pci" && $4 == id { print $3; exit }')
	if [ -z "$bdf" ]; then
		echo "the guest's sysfs has no $2"
		return 1
	fi
	# Config space bytes 0-3: the ids, little-endian.
	want="$(echo "$v" | cut -c3-4) $(echo "$v" | cut -c1-2) $(echo "$d" | cut -c3-4) $(echo "$d" | cut -c1-2)"
	got=$(tr -d '\r' <"$1/guest.log" | awk -v b="$bdf" '$2 == "config" && $3 == b { print $4, $5, $6, $7; exit }')
	if [ "$got" != "$want" ]; then
		echo "config space of $bdf starts with '$got', expected '$want'"
		return 1
	fi
	reg=$(tr -d '\r' <"$1/guest.log" | awk -v b="$bdf" '$2 == "bar0" && $3 == b && $4 == "0x0" { print $5; exit }')
	if [ "$reg" != "$3" ]; then
		echo "BAR0 register 0 of $bdf read '$reg' in the guest, expected $3"
		return 1
	fi
}

# ---- the daemon and the example server, for the cases through the nodes --

start_fixture() {
	[ -n "$fixture" ] && [ "$fixture" = up ] && return 0
	[ -n "$fixture" ] && return 1
	fixture=broken
	mkdir -p "$WORK"
	vfio-user-example-server --socket-path="$WORK/ex.sock" >"$WORK/server.log" 2>&1 &
	server_pid=$!
	if ! wait_path -S "$WORK/ex.sock" 30; then
		echo "the example server did not start:"
		cat "$WORK/server.log"
		return 1
	fi
	vfio-user-cuse --mode=0666 "$NAME=$WORK/ex.sock" >"$WORK/daemon.log" 2>&1 &
	daemon_pid=$!
	# The nodes appear one after another: wait for all of them (30 s at
	# most), then the cases skip for what is missing.
	i=0
	until [ -c "$ONE_FD_NODE" ] && [ -c "$DEVICE_NODE" ] && [ -c "$IOMMU_NODE" ] &&
		[ -c "$CONTAINER_NODE" ] && [ -L "$SYSFS_DIR/iommu_group" ]; do
		if gone "$daemon_pid"; then
			echo "the daemon exited; its log:"
			cat "$WORK/daemon.log"
			return 1
		fi
		i=$((i + 1))
		[ $i -gt 300 ] && break
		sleep 0.1
	done
	if [ ! -c "$ONE_FD_NODE" ] && [ ! -c "$DEVICE_NODE" ]; then
		echo "the daemon made no node for $NAME; its log:"
		cat "$WORK/daemon.log"
		return 1
	fi
	fixture=up
}

# healthy: the daemon and the server still run after a QEMU came and went.
healthy() {
	ok=0
	gone "$server_pid" && { echo "the example server died; its log:"; cat "$WORK/server.log"; ok=1; }
	gone "$daemon_pid" && { echo "the daemon died; its log:"; cat "$WORK/daemon.log"; ok=1; }
	return $ok
}

# After a QEMU used them, the daemon must still stop cleanly.
stop_fixture() {
	[ "$fixture" = up ] || return 0
	stop_pid "$daemon_pid" TERM
	status=$stopped
	stop_pid "$server_pid" TERM
	fixture=""
	[ -n "$fixture_used" ] || return 0
	echo "daemon exit status after SIGTERM: $status" >"$WORK/out"
	rc=1
	[ "$status" = 0 ] && rc=0
	report qemu-fixture-shutdown $rc "$WORK/out"
}

# ---- the cases -----------------------------------------------------------

# bundle_of NAME CASE: the bundle's directory in $b, or skip CASE with the
# reason prepare.sh gave for not having it.
bundle_of() {
	b=$Q/$1
	[ -x "$b/bin/qemu-system-x86_64" ] && return 0
	why=$(sed -n "s/^$1: //p" "$Q/unavailable" 2>/dev/null)
	skip "$2" "no QEMU from $1: ${why:-not in the image}"
	return 1
}

# vfio_case CASE BUNDLE_NAME iommufd|legacy shared|private: the example device
# through the nodes of one model, guest RAM shared (and the inner guest) or
# private (and no guest run).
vfio_case() {
	selected "$1" || return 0
	bundle_of "$2" "$1" || return 0
	if ! start_fixture >"$WORK/$1.out" 2>&1; then
		report "$1" 1 "$WORK/$1.out"
		return
	fi
	case $3 in
	iommufd)
		# QEMU 8.2 and later: no sysfs, no group; both nodes passed as fds.
		if [ ! -c "$IOMMU_NODE" ] || [ ! -c "$DEVICE_NODE" ]; then
			skip "$1" "the daemon makes no $IOMMU_NODE and $DEVICE_NODE"
			return 0
		fi
		wrap=
		fd3=$IOMMU_NODE
		fd4=$DEVICE_NODE
		set -- "$1" -object iommufd,id=i0,fd=3 -device vfio-pci,iommufd=i0,fd=4 --ram "$4"
		;;
	legacy)
		# QEMU opens /dev/vfio/vfio and /dev/vfio/GROUP itself, from the
		# iommu_group link: vfio-user-ns puts the nodes there. Issue 9's
		# inner guest adds -device intel-iommu,caching-mode=on (and
		# kernel-irqchip=split on the machine, intel_iommu=on for the
		# guest), whose initramfs then needs the kernel's vfio modules and
		# the example programs to drive the device from inside.
		if [ ! -c "$CONTAINER_NODE" ] || [ ! -L "$SYSFS_DIR/iommu_group" ]; then
			skip "$1" "the daemon makes no $CONTAINER_NODE and $SYSFS_DIR"
			return 0
		fi
		wrap=vfio-user-ns
		fd3=/dev/null
		fd4=/dev/null
		set -- "$1" -device "vfio-pci,sysfsdev=$SYSFS_DIR" --ram "$4"
		;;
	esac
	fixture_used=1
	name=$1
	shift
	vfio_args=
	while [ "$1" != --ram ]; do
		vfio_args="$vfio_args $1"
		shift
	done
	ram=$2
	case $ram in
	shared)
		mem="memory-backend-memfd,id=m0,size=$GUEST_MEM,share=on"
		peek="vuc.peek=$EX_PEEK,$EDU_PEEK"
		control="-device edu"
		;;
	private)
		mem="memory-backend-ram,id=m0,size=$GUEST_MEM,share=off"
		peek=
		control=
		;;
	esac
	{
		log "$(cat "$b/version"), guest RAM $ram:${wrap:+ $wrap} qemu-system-x86_64" \
			"-machine q35,memory-backend=m0 -object $mem$vfio_args $control"
		# shellcheck disable=SC2086 # $vfio_args and $control: words
		boot "$WORK/$name" "$b" "$peek" -machine q35,memory-backend=m0 -object "$mem" \
			$vfio_args $control 3<>"$fd3" 4<>"$fd4" &&
			monitor_has "$WORK/$name" "$EX_IDS" "$EX_BARS" &&
			if [ -n "$peek" ]; then
				guest_saw "$WORK/$name" "$EX_IDS" "$EX_ID_VALUE" &&
					quiet=1 monitor_has "$WORK/$name" "$EDU_IDS" "$EDU_BARS" &&
					quiet=1 guest_saw "$WORK/$name" "$EDU_IDS" "$EDU_ID_VALUE"
			fi &&
			healthy
	} >>"$WORK/$name.out" 2>&1
	report "$name" $? "$WORK/$name.out"
}

# guest_drove DIR VENDOR:DEVICE: the inner guest bound the device to its
# own vfio-pci, and vfio-lspci and vfio-dma-demo ran on its /dev/vfio/GROUP
# and succeeded: lspci found the device's ids, the demo's DMA went both ways
# and its MSI-X interrupt came. Shows the guest's lines.
guest_drove() {
	tr -d '\r' <"$1/guest.log" >"$1/guest.txt"
	grep '^guest: ' "$1/guest.txt" | sed 's/^/# /'
	if ! grep -q '^guest: vfio [0-9a-f:.]* group [0-9]*$' "$1/guest.txt"; then
		echo "the guest did not bind $2 to its vfio-pci"
		return 1
	fi
	for p in vfio-lspci vfio-dma-demo; do
		if ! grep -qx "guest: $p exit 0" "$1/guest.txt"; then
			echo "$p did not succeed in the guest"
			return 1
		fi
	done
	if ! grep -q "^guest: vfio-lspci: .*Device $2 " "$1/guest.txt"; then
		echo "vfio-lspci in the guest did not show the device $2"
		return 1
	fi
	for want in 'all [0-9]* bytes match' 'Interrupt: the eventfd fired' \
		'Result: OK, DMA both ways and interrupts work.'; do
		if ! grep -q "^guest: vfio-dma-demo: .*$want" "$1/guest.txt"; then
			echo "vfio-dma-demo in the guest did not say '$want'"
			return 1
		fi
	done
}

# legacy_fixture CASE: starts the fixture for a case on the container and
# group nodes; fails or skips CASE, and returns 1, when they are not there.
legacy_fixture() {
	if ! start_fixture >"$WORK/$1.out" 2>&1; then
		report "$1" 1 "$WORK/$1.out"
		return 1
	fi
	if [ ! -c "$CONTAINER_NODE" ] || [ ! -L "$SYSFS_DIR/iommu_group" ]; then
		skip "$1" "the daemon makes no $CONTAINER_NODE and $SYSFS_DIR"
		return 1
	fi
	fixture_used=1
}

# iommu_case CASE BUNDLE_NAME: the example device through the container and
# group nodes (as qemu7-legacy-shared) behind an emulated IOMMU, intel-iommu
# with caching mode: QEMU maps and unmaps through the container what the
# guest's own driver maps in its IOMMU. The inner guest binds the device to
# its vfio-pci and runs the example programs on it.
iommu_case() {
	selected "$1" || return 0
	bundle_of "$2" "$1" || return 0
	legacy_fixture "$1" || return 0
	name=$1
	wrap=vfio-user-ns
	mem="memory-backend-memfd,id=m0,size=$GUEST_MEM,share=on"
	# Interrupt remapping (intremap) wants the split irqchip under KVM;
	# under TCG the machine takes the option and ignores it. With
	# remapping on, a guest kernel whose timer check sees too few ticks
	# panics ("timer doesn't work through Interrupt-remapped IO-APIC")
	# instead of trying another route, as it did on a loaded host:
	# no_timer_check skips the check.
	set -- -machine q35,memory-backend=m0,kernel-irqchip=split -object "$mem" \
		-device intel-iommu,caching-mode=on,intremap=on \
		-device "vfio-pci,sysfsdev=$SYSFS_DIR"
	{
		log "$(cat "$b/version"), guest RAM shared, emulated IOMMU: $wrap" \
			"qemu-system-x86_64 $*"
		guest_timeout=$IOMMU_GUEST_TIMEOUT boot "$WORK/$name" "$b" \
			"intel_iommu=on no_timer_check vuc.vfio=$EX_IDS" "$@" 3<>/dev/null 4<>/dev/null &&
			quiet=1 monitor_has "$WORK/$name" "$EX_IDS" "$EX_BARS" &&
			guest_drove "$WORK/$name" "$EX_IDS" &&
			healthy
	} >>"$WORK/$name.out" 2>&1
	report "$name" $? "$WORK/$name.out"
}

# anchor_boot NAME BUNDLE QEMU_ARG...: the inner guest of qemu7-inner-guest
# (intel-iommu, caching mode) with the device QEMU_ARG gives it; the guest
# times ANCHOR_READS reads of BAR0's register 0 through resource0, binds the
# device to its vfio-pci and times vfio-dma-demo (guest-init's vuc.time).
# Sets $anchor_p50 (ns), $anchor_mean (ns) and $anchor_dma (s).
anchor_boot() {
	name=$1
	b=$2
	shift 2
	set -- -machine q35,memory-backend=m0,kernel-irqchip=split \
		-object "memory-backend-memfd,id=m0,size=$GUEST_MEM,share=on" \
		-device intel-iommu,caching-mode=on,intremap=on "$@"
	log "$name: $(cat "$b/version"):${wrap:+ $wrap} qemu-system-x86_64 $*"
	guest_timeout=$IOMMU_GUEST_TIMEOUT boot "$WORK/$name" "$b" \
		"intel_iommu=on no_timer_check vuc.vfio=$EX_IDS vuc.time=$EX_PEEK:$ANCHOR_READS" \
		"$@" 3<>/dev/null 4<>/dev/null || return 1
	tr -d '\r' <"$WORK/$name/guest.log" >"$WORK/$name/guest.txt"
	grep -e '^guest: time' -e '^guest: vfio-dma-demo: Result' "$WORK/$name/guest.txt" |
		sed "s/^guest: /# $name: /"
	# "guest: time BDF 0x0 VALUE N reads, min A p50 B max C mean D ns"
	line=$(sed -n 's/^guest: time [0-9a-f:.]* 0x0 //p' "$WORK/$name/guest.txt")
	if [ "${line%% *}" != "$EX_ID_VALUE" ]; then
		echo "$name: the guest's timed reads of BAR0 gave '$line'"
		return 1
	fi
	anchor_p50=$(echo "$line" | sed -n 's/.* p50 \([0-9]*\) .*/\1/p')
	anchor_mean=$(echo "$line" | sed -n 's/.* mean \([0-9]*\) ns$/\1/p')
	anchor_dma=$(sed -n 's/^guest: time vfio-dma-demo \([0-9.]*\) s$/\1/p' "$WORK/$name/guest.txt")
	if ! grep -qx 'guest: vfio-dma-demo exit 0' "$WORK/$name/guest.txt" || [ -z "$anchor_dma" ]; then
		echo "$name: vfio-dma-demo did not succeed in the guest:"
		grep '^guest: ' "$WORK/$name/guest.txt" | sed 's/^/  /'
		return 1
	fi
}

# anchor_case CASE: the same guest workload through the nodes (QEMU 7.2's
# vfio-pci on the container and group nodes under vfio-user-ns, as
# qemu7-inner-guest) and directly (sid's QEMU 11.1, vfio-user-pci on the
# socket of a second example server, no daemon), then the figures of both
# and their ratios as "# anchor: " lines.
anchor_case() {
	case ",$SELECT," in
	*,"$1",*) ;;
	*) return 0 ;;
	esac
	bundle_of stable "$1" || return 0
	stock=$b
	bundle_of sid "$1" || return 0
	sid=$b
	legacy_fixture "$1" || return 0
	vfio-user-example-server --socket-path="$WORK/anchor.sock" >"$WORK/anchor-server.log" 2>&1 &
	anchor_srv=$!
	(
		rc=0
		if wait_path -S "$WORK/anchor.sock" 30; then
			wrap=
			anchor_boot "$1-direct" "$sid" -device \
				"{\"driver\": \"vfio-user-pci\", \"socket\": {\"path\": \"$WORK/anchor.sock\", \"type\": \"unix\"}}" &&
				direct="$anchor_p50 $anchor_mean $anchor_dma" || rc=1
		else
			echo "the second example server did not start:"
			cat "$WORK/anchor-server.log"
			rc=1
		fi
		wrap=vfio-user-ns
		anchor_boot "$1-node" "$stock" -device "vfio-pci,sysfsdev=$SYSFS_DIR" &&
			node="$anchor_p50 $anchor_mean $anchor_dma" || rc=1
		healthy || rc=1
		if [ $rc -eq 0 ]; then
			# shellcheck disable=SC2086 # three words each
			set -- $direct $node
			log "anchor: BAR0 read p50 direct $1 ns, node $4 ns, node/direct $(awk -v a="$4" -v b="$1" 'BEGIN { printf "%.2f", a / b }')"
			log "anchor: BAR0 read mean direct $2 ns, node $5 ns, node/direct $(awk -v a="$5" -v b="$2" 'BEGIN { printf "%.2f", a / b }')"
			log "anchor: vfio-dma-demo direct $3 s, node $6 s, node/direct $(awk -v a="$6" -v b="$3" 'BEGIN { printf "%.2f", a / b }')"
		fi
		exit $rc
	) >>"$WORK/$1.out" 2>&1
	rc=$?
	stop_pid "$anchor_srv" TERM
	report "$1" $rc "$WORK/$1.out"
}

rm -rf "$WORK"
mkdir -p "$WORK"
images=
for b in "$Q"/*/version; do
	[ -f "$b" ] && images="$images $(basename "$(dirname "$b")")"
done
log "QEMU suite${SELECT:+ (select: $SELECT)}; QEMUs in the image:${images:- none}"

vfio_case qemu10-iommufd-shared backports iommufd shared
vfio_case qemu10-iommufd-private backports iommufd private
vfio_case qemu7-legacy-shared stable legacy shared
vfio_case qemu7-legacy-private stable legacy private
iommu_case qemu7-inner-guest stable
anchor_case anchor
stop_fixture

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
