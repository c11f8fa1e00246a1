#!/usr/bin/env bash
# Cross-compiles edgerun's preprocessing core (cpp/src/preprocess, NEON kernel
# included, no libLiteRt), the decoding heads (cpp/src/postprocess) and the C++
# tests cpp/tests/test_preprocess*.cc and test_postprocess.cc for
# aarch64, and runs them under qemu-aarch64 (DESIGN.md section 5). Timings under
# emulation mean nothing; this checks the NEON kernels against the reference.
#
#   cpp/tests/aarch64/run.sh            # build dir: $EDGERUN_AARCH64_BUILD or /tmp/edgerun-aarch64
#
# Installs g++-aarch64-linux-gnu and qemu-user with apt-get when missing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
OUT=${EDGERUN_AARCH64_BUILD:-/tmp/edgerun-aarch64}
CXX=${AARCH64_CXX:-aarch64-linux-gnu-g++}
SYSROOT=${AARCH64_SYSROOT:-/usr/aarch64-linux-gnu}

need=()
command -v "$CXX" >/dev/null 2>&1 || need+=(g++-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null 2>&1 || need+=(qemu-user)
if ((${#need[@]})); then
  echo "aarch64: installing ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

mkdir -p "$OUT"
FLAGS=(-O2 -std=c++17 -Wall -Wextra -Wno-unused-parameter -DEDGERUN_ARCH_ARM64=1
       -I"$ROOT/cpp/include" -I"$ROOT/cpp/src" -I"$ROOT/cpp/tests" -I"$ROOT/third_party")

# Core sources: cpp/src/preprocess (except x86-only kernels), the decoding
# heads in cpp/src/postprocess, and the shared pieces at the top of cpp/src
# (tensor.cc: DType names, shape text) and cpp/src/platform (CPU features).
objs=()
pids=()
for src in "$ROOT"/cpp/src/*.cc "$ROOT"/cpp/src/preprocess/*.cc "$ROOT"/cpp/src/postprocess/*.cc \
           "$ROOT"/cpp/src/platform/*.cc; do
  case "$src" in *_avx2.cc) continue ;; esac
  obj="$OUT/$(basename "${src%.cc}").o"
  objs+=("$obj")
  "$CXX" "${FLAGS[@]}" -c "$src" -o "$obj" &
  pids+=($!)
  if ((${#pids[@]} >= ${JOBS:-2})); then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
for pid in "${pids[@]}"; do wait "$pid"; done

status=0
for test_src in "$ROOT"/cpp/tests/test_preprocess*.cc "$ROOT"/cpp/tests/test_postprocess.cc; do
  exe="$OUT/$(basename "${test_src%.cc}")"
  "$CXX" "${FLAGS[@]}" "$test_src" "${objs[@]}" -o "$exe" -lpthread -ldl
  echo "== qemu-aarch64 $(basename "$exe")"
  if ! qemu-aarch64 -cpu cortex-a76 -L "$SYSROOT" "$exe"; then
    status=1
  fi
done
exit $status
