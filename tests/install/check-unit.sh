#!/bin/sh
# check-unit.sh BUILD: the installed systemd unit, as vfio-user-cuse@test,
# passes systemd-analyze verify (its man page found in the same install).
# Exit 77 (skipped) where systemd-analyze is not installed.
set -u
build=$1
if ! command -v systemd-analyze >/dev/null; then
	echo "SKIP: systemd-analyze is not installed (apt-get install systemd): unit not verified"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vuc-unit.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 || {
	cat "$tmp/install.log"
	exit 1
}
mkdir "$tmp/units"
cp "$tmp/prefix/lib/systemd/system/vfio-user-cuse@.service" "$tmp/units/vfio-user-cuse@test.service"
cd "$tmp/units" || exit 1
if out=$(MANPATH=$tmp/prefix/share/man systemd-analyze verify ./vfio-user-cuse@test.service 2>&1) &&
	[ -z "$out" ]; then
	echo "ok: systemd-analyze verify vfio-user-cuse@test.service: no complaint"
	exposure=$(systemd-analyze security --offline=yes ./vfio-user-cuse@test.service 2>/dev/null |
		sed -n 's/.*Overall exposure level for [^:]*: //p')
	[ -n "$exposure" ] && echo "# systemd-analyze security: $exposure"
	exit 0
fi
echo "FAIL: systemd-analyze verify says:"
echo "$out"
exit 1
