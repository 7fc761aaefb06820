#!/bin/sh
# check-cli.sh VERSION PROGRAM...: every program takes --help (exit 0, a
# "Usage: NAME ..." first line on stdout, nothing on stderr) and --version
# ("NAME VERSION").
set -u
version=$1
shift
fail=0
for prog in "$@"; do
	name=$(basename "$prog")
	out=$("$prog" --help 2>/tmp/vuc-cli-err.$$)
	rc=$?
	first=$(printf '%s\n' "$out" | head -n 1)
	case "$rc:$first" in
	"0:Usage: $name "*) echo "ok: $name --help: $first" ;;
	*) echo "FAIL: $name --help exited $rc, first line '$first'"; fail=1 ;;
	esac
	[ -s /tmp/vuc-cli-err.$$ ] && { echo "FAIL: $name --help wrote to stderr"; fail=1; }
	out=$("$prog" --version 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && [ "$out" = "$name $version" ]; then
		echo "ok: $name --version: $out"
	else
		echo "FAIL: $name --version exited $rc: '$out' (want '$name $version')"
		fail=1
	fi
done
rm -f /tmp/vuc-cli-err.$$
exit $fail
