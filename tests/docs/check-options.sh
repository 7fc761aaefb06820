#!/bin/sh
# check-options.sh PROGRAM DOC.md HEADING: the options table under HEADING in
# DOC.md names exactly the options PROGRAM --help lists (each -x and --long,
# without its =VALUE). The man pages come from --help itself (gen-man.sh).
set -u
prog=$1
doc=$2
heading=$3

# --help: "  -v, --verbose  text" -> -v --verbose; the option ends at the
# first space not after a comma.
from_help=$("$prog" --help | awk '
	/^Options:$/ { on = 1; next }
	on && /^$/ { exit }
	on && /^  -/ {
		line = substr($0, 3)
		for (i = 1; i <= length(line); i++)
			if (substr(line, i, 1) == " " && substr(line, i - 1, 1) != ",")
				break
		n = split(substr(line, 1, i - 1), parts, ", ")
		for (j = 1; j <= n; j++) {
			sub(/=.*/, "", parts[j])
			print parts[j]
		}
	}' | sort -u)

# The doc: the first table after the heading, its first column's `-x` items.
from_doc=$(awk -v heading="$heading" '
	$0 == heading { found = 1; next }
	found && /^\|/ { intable = 1
		row = $0
		gsub(/\\\|/, "/", row)	# an escaped | inside a cell
		split(row, cols, "|")
		col = cols[2]
		while (match(col, /`-[^`]*`/)) {
			item = substr(col, RSTART + 1, RLENGTH - 2)
			col = substr(col, RSTART + RLENGTH)
			sub(/=.*/, "", item)
			print item
		}
		next }
	intable { exit }' "$doc" | sort -u)

if [ -z "$from_doc" ]; then
	echo "FAIL: no options table under '$heading' in $doc"
	exit 1
fi
missing=$(printf '%s\n' "$from_help" | grep -vxF -e "$from_doc")
extra=$(printf '%s\n' "$from_doc" | grep -vxF -e "$from_help")
status=0
for o in $missing; do
	echo "FAIL: $doc ($heading) lacks $o, which $(basename "$prog") --help lists"
	status=1
done
for o in $extra; do
	echo "FAIL: $doc ($heading) lists $o, which $(basename "$prog") --help does not"
	status=1
done
[ $status -eq 0 ] && echo "ok: $doc ($heading) and $(basename "$prog") --help list the same options:" \
	$from_help
exit $status
