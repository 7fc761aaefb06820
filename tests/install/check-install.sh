#!/bin/sh
# check-install.sh BUILD LIBDIR INSTALL_E2E SANITIZE: what `cmake --install BUILD`
# puts in a prefix of one's choosing, and in a DESTDIR staging tree, is
# whole and names the paths it was installed at.
set -u
build=$1
libdir=$2
e2e=$3
# A sanitized library needs its runtime in the programs that link it.
cflags=
[ "$4" = ON ] && cflags="-fsanitize=address,undefined"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vuc-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail=0

ok() { echo "ok: $*"; }
bad() {
	echo "FAIL: $*"
	fail=1
}

if ! cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1; then
	cat "$tmp/install.log"
	bad "cmake --install --prefix $prefix"
	exit 1
fi

for f in bin/vfio-user-cuse bin/vfio-user-info bin/vfio-user-example-server bin/vfio-lspci \
	bin/vfio-dma-demo share/man/man8/vfio-user-cuse.8 share/man/man1/vfio-user-info.1 \
	share/man/man1/vfio-user-example-server.1 include/vfio-user-proto/client.h \
	include/vfio-user-proto/diag.h include/vfio-user-compat/vfio_open.h \
	"$libdir/libvfio-user-proto.a" "$libdir/libvfio-user-proto.so.0" \
	"$libdir/libvfio-user-compat.a" "$libdir/pkgconfig/vfio-user-proto.pc" \
	"$libdir/pkgconfig/vfio-user-compat.pc" lib/systemd/system/vfio-user-cuse@.service \
	share/vfio-user/50-vfio-user-example-server.json libexec/vfio-user-cuse/demo-steps.sh; do
	[ -e "$prefix/$f" ] || bad "$f is not installed"
done

# Paths inside installed files: the prefix given to cmake --install.
json=$prefix/share/vfio-user/50-vfio-user-example-server.json
want="\"binary\": \"$prefix/bin/vfio-user-example-server\""
grep -qF "$want" "$json" && ok "the backend JSON names $prefix/bin" ||
	bad "$json does not say $want: $(grep binary "$json")"
unit=$prefix/lib/systemd/system/vfio-user-cuse@.service
grep -qx "ExecStart=$prefix/bin/vfio-user-cuse \$OPTIONS %i=\${SERVER}" "$unit" &&
	ok "the unit runs $prefix/bin/vfio-user-cuse" || bad "$unit: $(grep ExecStart= "$unit")"

# The end-to-end suite only when asked for.
if [ "$e2e" = ON ]; then
	[ -x "$prefix/libexec/vfio-user-cuse/e2e/run-suite.sh" ] &&
		ok "VUC_INSTALL_E2E=ON: the e2e suite is installed" || bad "the e2e suite is missing"
else
	[ ! -e "$prefix/libexec/vfio-user-cuse/e2e" ] &&
		ok "VUC_INSTALL_E2E=OFF: no e2e suite in the prefix" ||
		bad "the e2e suite is installed without VUC_INSTALL_E2E"
fi

# The shared protocol library: its soname, and only the installed API.
so=$prefix/$libdir/libvfio-user-proto.so.0
soname=$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = libvfio-user-proto.so.0 ] && ok "soname $soname" || bad "soname '$soname'"
for sym in $(nm -D --defined-only "$so" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }'); do
	grep -qw "$sym" "$prefix"/include/vfio-user-proto/*.h ||
		bad "$sym is exported but in no installed header"
done

# A program of one's own, built with pkg-config against the install.
cat >"$tmp/prog.c" <<'PROG'
#include <errno.h>
#include <stdio.h>
#include <vfio-user-compat/vfio_open.h>
#include <vfio-user-proto/diag.h>

int main(void)
{
	struct vfio_handle h;
	char why[256];
	int ret = vfio_open("/dev/null", NULL, 0, &h);

	vu_connect_explain("/nonexistent/s.sock", -ENOENT, NULL, 0, why, sizeof(why));
	printf("%s|%d|%s\n", why, ret < 0, h.failed ? h.failed : "?");
	return 0;
}
PROG
export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
# shellcheck disable=SC2046,SC2086 # pkg-config and cflags give words
if cc $cflags -o "$tmp/prog" "$tmp/prog.c" $(pkg-config --cflags --libs vfio-user-proto vfio-user-compat) \
	2>"$tmp/cc.log"; then
	out=$(LD_LIBRARY_PATH=$prefix/$libdir "$tmp/prog")
	case $out in
	"no such file: is the server running, and is that its socket path?|1|"*)
		ok "a program built with pkg-config runs: $out" ;;
	*) bad "the pkg-config program says '$out'" ;;
	esac
	readelf -d "$tmp/prog" | grep -qF 'Shared library: [libvfio-user-proto.so.0]' &&
		ok "it runs on the shared library" || bad "it does not use libvfio-user-proto.so.0"
else
	cat "$tmp/cc.log"
	bad "cannot build a program with pkg-config --cflags --libs vfio-user-proto vfio-user-compat"
fi

# A staging install for a package: the files name the final prefix.
if DESTDIR=$tmp/dest cmake --install "$build" --prefix /usr >"$tmp/destdir.log" 2>&1; then
	grep -qF '"binary": "/usr/bin/vfio-user-example-server"' \
		"$tmp/dest/usr/share/vfio-user/50-vfio-user-example-server.json" &&
		ok "DESTDIR: the JSON names /usr/bin" || bad "DESTDIR: the JSON names the staging tree"
	grep -qx 'ExecStart=/usr/bin/vfio-user-cuse $OPTIONS %i=${SERVER}' \
		"$tmp/dest/usr/lib/systemd/system/vfio-user-cuse@.service" &&
		ok "DESTDIR: the unit runs /usr/bin/vfio-user-cuse" || bad "DESTDIR: the unit's ExecStart"
else
	cat "$tmp/destdir.log"
	bad "DESTDIR=... cmake --install --prefix /usr"
fi
exit $fail
