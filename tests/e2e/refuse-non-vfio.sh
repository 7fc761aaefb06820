#!/bin/sh
# The example programs, given something that is not a VFIO node, must say so
# and exit 1 (no crash, no hang). Usage: refuse-non-vfio.sh VFIO_LSPCI VFIO_DMA_DEMO
set -u
fail=0
for prog in "$1" "$2"; do
	out=$(timeout 10 "$prog" /dev/null 2>&1)
	rc=$?
	case "$rc:$out" in
	"1:"*"not a VFIO node"*) echo "ok: $(basename "$prog") /dev/null: $out" ;;
	*) echo "FAIL: $(basename "$prog") /dev/null exited $rc: $out"; fail=1 ;;
	esac
	out=$(timeout 10 "$prog" /nonexistent/vfio 2>&1)
	rc=$?
	case "$rc:$out" in
	"1:"*"No such file"*) echo "ok: $(basename "$prog") missing path: $out" ;;
	*) echo "FAIL: $(basename "$prog") missing path exited $rc: $out"; fail=1 ;;
	esac
done
exit $fail
