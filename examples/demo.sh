#!/usr/bin/env bash
# The demo (README.md): as root on Debian 12,
#
#   ./examples/demo.sh
#
# installs what it needs, builds, and runs examples/demo-steps.sh: an example
# vfio-user server becomes /dev/vfio-user/0 and unmodified VFIO programs use
# it. Where this kernel has no CUSE, the same steps run in a small VM with
# Debian's stock kernel (tests/vm/run.sh --demo).
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build
# shellcheck source=scripts/setup.sh
. "$src/scripts/setup.sh"

# shellcheck disable=SC2086 # a list of words
vuc_install_packages $VUC_BUILD_PACKAGES
echo "Building in $build (log: $build/build.log)"
vuc_build "$src" "$build"

if command -v modprobe >/dev/null; then
	modprobe cuse 2>/dev/null || true
fi
if [ "$(id -u)" -eq 0 ] && [ -c /dev/cuse ]; then
	stage=$build/demo-stage
	rm -rf "$stage"
	cmake --install "$build" --prefix "$stage" >/dev/null
	echo "This kernel has CUSE: running the demo here."
	PATH=$stage/bin:$PATH exec sh "$stage/libexec/vfio-user-cuse/demo-steps.sh"
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "Not running as root, so the demo cannot use /dev/cuse here."
else
	echo "This kernel has no CUSE ('modprobe cuse' did not give /dev/cuse)."
fi
echo "Running the same steps in a small VM with Debian's stock kernel instead:"
echo "the first run downloads that kernel (about 70 MB); the VM is emulated, so"
echo "allow a minute."
# shellcheck disable=SC2086 # a list of words
vuc_install_packages $VUC_VM_PACKAGES
exec "$src/tests/vm/run.sh" --demo --build "$build"
