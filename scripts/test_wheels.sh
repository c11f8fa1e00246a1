#!/usr/bin/env bash
# Installs the built wheels (scripts/build_wheels.sh -> dist/) into clean Pythons, with no
# compiler reachable, and runs them; the aarch64 wheel under qemu-aarch64.
#
#   scripts/test_wheels.sh            # x86_64 and aarch64 wheels for $PYTHON's version
#   EDGERUN_SKIP_AARCH64=1 scripts/test_wheels.sh
#
# x86_64: a fresh venv; `pip install --only-binary :all:` of the wheel (with compilers,
#   cmake and ninja shadowed on PATH by commands that fail, CC/CXX=false); then
#   `edgerun doctor`, `edgerun bench --frames 50`, `edgerun verify` on a real model, a
#   pytest subset run against the installed wheel, and tests/tools/wheel_check.py run.
# aarch64: Debian's arm64 python3.X and its libraries unpacked into a sysroot, the aarch64
#   wheels of numpy / ai-edge-litert / flatbuffers (pip download --platform) and ours
#   unpacked onto PYTHONPATH; under qemu-aarch64 (ARM /proc/cpuinfo bind-mounted in a
#   private mount namespace: XNNPACK's CPU detection needs it, DESIGN.md section 5):
#   `edgerun doctor`, `edgerun bench`, `edgerun verify` on the real model, and
#   wheel_check.py run, whose recording must match the x86_64 one (preprocessing bytes
#   exact, model outputs within 1 LSB / 1e-5).
set -euo pipefail
shopt -s inherit_errexit  # a failure inside $(...) stops the script too
cd "$(dirname "$0")/.."
ROOT=$PWD
DIST=${DIST:-$ROOT/dist}
WORK=${EDGERUN_WHEEL_WORK:-$ROOT/build/wheels}
PY=${PYTHON:-python3}
V=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
TAG=cp${V/./}
# shellcheck source=scripts/lib/debian_arm64.sh
. "$ROOT/scripts/lib/debian_arm64.sh"

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'test_wheels: %s\n' "$*" >&2; exit 1; }

X86_WHEEL=$(ls "$DIST"/edgerun-*-"$TAG"-"$TAG"-manylinux_*_x86_64.whl 2>/dev/null | head -1)
[ -n "$X86_WHEEL" ] || die "no $TAG x86_64 wheel in $DIST (run scripts/build_wheels.sh --ci)"
T=$WORK/test
rm -rf "$T" && mkdir -p "$T/nocc"

# --- x86_64 ----------------------------------------------------------------------------
say "x86_64: $(basename "$X86_WHEEL") into a fresh venv, no compiler on PATH"
for tool in cc gcc g++ c++ clang clang++ cmake ninja make ld; do
  printf '#!/bin/sh\necho "test_wheels: %s was called: installing a wheel must not compile" >&2\nexit 97\n' "$tool" \
    > "$T/nocc/$tool"
  chmod +x "$T/nocc/$tool"
done
"$PY" -m venv "$T/venv-x86"
VX=$T/venv-x86/bin
NOCC_ENV=(PATH="$T/nocc:$VX:$PATH" CC=false CXX=false)
env "${NOCC_ENV[@]}" "$VX/python" -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
env "${NOCC_ENV[@]}" "$VX/python" -m pip install -q --only-binary :all: "$X86_WHEEL" pytest 2>&1 \
  | grep -v '^WARNING: Location' || true
"$VX/python" -c 'import edgerun' || die "the x86_64 wheel did not install"
cd "$T"  # nothing of the source tree on sys.path from here on
"$VX/python" -c 'import edgerun, sys; p = edgerun.__file__; print("imported from", p); sys.exit("site-packages" not in p)'
env "${NOCC_ENV[@]}" "$VX/edgerun" doctor
env "${NOCC_ENV[@]}" "$VX/edgerun" bench --frames 50
mapfile -t MODELS < <("$VX/python" "$ROOT/tests/realmodels.py" | grep -E '\.tflite$' || true)
[ ${#MODELS[@]} -gt 0 ] || die "no real model could be fetched (tests/realmodels.py)"
REAL=""
for m in "${MODELS[@]}"; do case $m in *image_classification*) REAL=$m ;; esac; done
REAL=${REAL:-${MODELS[0]}}
env "${NOCC_ENV[@]}" "$VX/edgerun" verify "${MODELS[@]}"
say "x86_64: pytest subset against the installed wheel"
(cd "$ROOT/tests" && env "${NOCC_ENV[@]}" "$VX/python" -m pytest -q -p no:cacheprovider \
  test_session.py test_stubs.py test_verify_cli.py test_layout.py)
"$VX/python" "$ROOT/tests/tools/wheel_check.py" run "$T/x86_64.npz" "$REAL"

if [ "${EDGERUN_SKIP_AARCH64:-0}" = 1 ]; then
  echo "aarch64 skipped (EDGERUN_SKIP_AARCH64=1)"
  exit 0
fi

# --- aarch64 under qemu ------------------------------------------------------------------
ARM_WHEEL=$(ls "$DIST"/edgerun-*-"$TAG"-"$TAG"-manylinux_*_aarch64.whl 2>/dev/null | head -1)
[ -n "$ARM_WHEEL" ] || die "no $TAG aarch64 wheel in $DIST (run scripts/build_wheels.sh --ci)"
case $V in
  3.11) SUITE=bookworm ;;
  3.13) SUITE=trixie ;;
  *) die "no Debian arm64 CPython $V to test the aarch64 wheel with (3.11: bookworm, 3.13: trixie)" ;;
esac
command -v qemu-aarch64 >/dev/null || {
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq qemu-user >/dev/null
}
say "aarch64: Debian $SUITE python$V sysroot"
SYSROOT=$WORK/aarch64-sysroot-$V
if [ ! -x "$SYSROOT/usr/bin/python$V" ]; then
  # libstdc++6 is not a Python dependency, but libLiteRt.so needs it.
  debian_arm64_extract "$WORK" "$SUITE" "$SYSROOT" --deps "python$V-minimal" "libpython$V-stdlib" libstdc++6
  # merged /usr (trixie): the loader is /lib/ld-linux-aarch64.so.1 via the /lib -> usr/lib
  # link that base-files would make
  for d in lib bin sbin; do [ -e "$SYSROOT/$d" ] || ln -s "usr/$d" "$SYSROOT/$d"; done
fi
SITE=$T/site-aarch64
mkdir -p "$SITE" "$T/pip-aarch64"
LITERT_VERSION=$("$VX/python" -c 'import importlib.metadata as m; print(m.version("ai-edge-litert"))')
NUMPY_VERSION=$("$VX/python" -c 'import numpy; print(numpy.__version__)')
FB_VERSION=$("$VX/python" -c 'import importlib.metadata as m; print(m.version("flatbuffers"))')
"$VX/python" -m pip download -q --no-deps --only-binary :all: --python-version "$V" --implementation cp \
  --platform manylinux_2_34_aarch64 --platform manylinux_2_28_aarch64 --platform manylinux_2_27_aarch64 \
  --platform manylinux_2_17_aarch64 --platform manylinux2014_aarch64 --platform any \
  -d "$T/pip-aarch64" "ai-edge-litert==$LITERT_VERSION" "numpy==$NUMPY_VERSION" "flatbuffers==$FB_VERSION" 2>&1 \
  | grep -v '^WARNING: Location' || true
for w in "$T"/pip-aarch64/*.whl "$ARM_WHEEL"; do "$VX/python" -m zipfile -e "$w" "$SITE"; done
ls "$SITE"/edgerun/_core.*aarch64*.so >/dev/null || die "the aarch64 wheel holds no aarch64 extension"
arm_python() {
  local SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -E"
  $SUDO unshare --mount bash -c 'mount --bind "$0" /proc/cpuinfo && exec "$@"' \
    "$ROOT/cpp/tests/aarch64/cpuinfo" \
    env PYTHONPATH="$SITE" PYTHONNOUSERSITE=1 GLIBC_TUNABLES=glibc.pthread.rseq=0 \
    qemu-aarch64 -cpu cortex-a76 -L "$SYSROOT" "$SYSROOT/usr/bin/python$V" "$@"
}
say "aarch64: $(basename "$ARM_WHEEL") under qemu-aarch64"
arm_python -c 'import platform, edgerun; print(platform.machine(), "edgerun", edgerun.__version__, "from", edgerun.__file__)'
arm_python -m edgerun doctor
arm_python -m edgerun bench --frames 20 --warmup 2
arm_python -m edgerun verify "${MODELS[@]}"
arm_python "$ROOT/tests/tools/wheel_check.py" run "$T/aarch64.npz" "$REAL"
say "aarch64 vs x86_64"
"$VX/python" "$ROOT/tests/tools/wheel_check.py" compare "$T/x86_64.npz" "$T/aarch64.npz"
