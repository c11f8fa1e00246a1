#!/usr/bin/env bash
# The delegate-plugin route on aarch64, under qemu (DESIGN.md section 5): cross-
# compiles edgerun's runtime core, cpp/tests/test_delegates.cc and the stand-in
# plugin (tests/plugins/standin_delegate.cc), fetches libLiteRt.so from the
# aarch64 ai-edge-litert wheel (pip download, cached), writes the test models
# with the repository's tests/models.py, and runs the test with qemu-aarch64.
#
#   cpp/tests/aarch64/delegates.sh              # aarch64 under qemu
#   ARCH=native cpp/tests/aarch64/delegates.sh  # the same test on the host
#
# Needs: python with edgerun installed ($PYTHON, default python3), and for
# aarch64 g++-aarch64-linux-gnu and qemu-user (installed with apt-get when
# missing). XNNPACK's CPU detection crashes under qemu-user on an x86 host's
# /proc/cpuinfo, so the test runs in a private mount namespace (unshare, needs
# root or user namespaces) with an ARM cpuinfo (cpp/tests/aarch64/cpuinfo, a
# Cortex-A76 as Linux prints it) bind-mounted over it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
ARCH=${ARCH:-aarch64}
OUT=${EDGERUN_DELEGATE_BUILD:-/tmp/edgerun-delegates-$ARCH}
PY=${PYTHON:-python3}
LITERT_VERSION=${LITERT_VERSION:-$("$PY" -c "import importlib.metadata as m; print(m.version('ai-edge-litert'))")}
mkdir -p "$OUT/models"

if [ "$ARCH" = native ]; then
  CXX=${CXX:-g++}
  LITERT_LIB=$("$PY" -c "import edgerun._runtime as r; print(r.find_litert()[0])")
  RUN=()
else
  CXX=${AARCH64_CXX:-aarch64-linux-gnu-g++}
  SYSROOT=${AARCH64_SYSROOT:-/usr/aarch64-linux-gnu}
  need=()
  command -v "$CXX" >/dev/null 2>&1 || need+=(g++-aarch64-linux-gnu)
  command -v qemu-aarch64 >/dev/null 2>&1 || need+=(qemu-user)
  if ((${#need[@]})); then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  LITERT_LIB="$OUT/litert/ai_edge_litert/libLiteRt.so"
  if [ ! -f "$LITERT_LIB" ]; then
    mkdir -p "$OUT/wheel" "$OUT/litert"
    "$PY" -m pip download -q "ai-edge-litert==$LITERT_VERSION" --no-deps --only-binary=:all: \
      --platform manylinux_2_27_aarch64 --platform manylinux_2_34_aarch64 \
      --python-version 3.11 --implementation cp -d "$OUT/wheel"
    "$PY" -m zipfile -e "$(ls "$OUT"/wheel/ai_edge_litert-*aarch64*.whl | head -1)" "$OUT/litert"
  fi
  RUN=(qemu-aarch64 -cpu cortex-a76 -L "$SYSROOT")
fi

echo "== models"
"$PY" - "$OUT/models" "$ROOT/tests" <<'EOF'
import sys
sys.path.insert(0, sys.argv[2])  # tests/models.py
import models as mg
out = sys.argv[1]
ref = mg.residual_model()
for name, data in {"reference": ref, "rewritten": mg.builtin_ops_to_custom(ref),
                   "edgetpu": mg.edgetpu_model(), "edgetpu_ref": mg.add_model((1, 8), "uint8")}.items():
    open(f"{out}/{name}.tflite", "wb").write(data)
EOF

echo "== build ($CXX)"
FLAGS=(-O2 -std=c++17 -Wall -Wno-unused-parameter -I"$ROOT/cpp/include" -I"$ROOT/cpp/src"
       -I"$ROOT/cpp/tests" -I"$ROOT/third_party")
"$CXX" "${FLAGS[@]}" -fPIC -shared -fvisibility=hidden "$ROOT/tests/plugins/standin_delegate.cc" \
  -o "$OUT/models/libstandin.so"
objs=()
pids=()
for src in "$ROOT"/cpp/src/*.cc "$ROOT"/cpp/src/runtime/*.cc "$ROOT"/cpp/src/runtime/accelerators/*.cc \
           "$ROOT"/cpp/src/model/*.cc; do
  obj="$OUT/$(basename "${src%.cc}").o"
  objs+=("$obj")
  "$CXX" "${FLAGS[@]}" -c "$src" -o "$obj" &
  pids+=($!)
  if ((${#pids[@]} >= ${JOBS:-2})); then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
for pid in "${pids[@]}"; do wait "$pid"; done
"$CXX" "${FLAGS[@]}" "$ROOT/cpp/tests/test_delegates.cc" "${objs[@]}" -o "$OUT/test_delegates" -ldl -lpthread

echo "== run ($ARCH)"
export EDGERUN_LITERT_LIB="$LITERT_LIB" EDGERUN_TEST_DELEGATE_DIR="$OUT/models"
if [ "$ARCH" = native ]; then
  exec "$OUT/test_delegates"
fi
export GLIBC_TUNABLES=glibc.pthread.rseq=0
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -E"
exec $SUDO unshare --mount bash -c 'mount --bind "$0" /proc/cpuinfo && exec "${@}"' \
  "$ROOT/cpp/tests/aarch64/cpuinfo" "${RUN[@]}" "$OUT/test_delegates"
