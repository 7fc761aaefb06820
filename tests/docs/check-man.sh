#!/bin/sh
# check-man.sh PROGRAM PAGE: the generated man page renders without a
# warning and lists every option of PROGRAM --help. Exit 77 (skipped) when
# groff is not installed.
set -u
prog=$1
page=$2
if ! command -v groff >/dev/null; then
	echo "SKIP: groff is not installed (apt-get install groff-base): $page not rendered"
	exit 77
fi
warnings=$(groff -man -ww -z "$page" 2>&1)
if [ -n "$warnings" ]; then
	echo "FAIL: $page: groff says:"
	echo "$warnings"
	exit 1
fi
text=$(groff -man -Tutf8 -P-cbou "$page" 2>/dev/null | sed 's/\xe2\x80\x90/-/g; s/\xe2\x88\x92/-/g')
status=0
for o in $("$prog" --help | awk '/^Options:$/ { on = 1; next } on && /^$/ { exit }
	on && /^  -/ { print $1 }' | tr -d ','); do
	printf '%s\n' "$text" | grep -qF -- "$o" || {
		echo "FAIL: $page lacks $o"
		status=1
	}
done
[ $status -eq 0 ] && echo "ok: $page renders cleanly and lists every option of $(basename "$prog") --help"
exit $status
