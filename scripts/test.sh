#!/usr/bin/env bash
# The whole test suite, from a fresh checkout: installs what it needs, builds the sdist
# and from it the x86_64 + aarch64 manylinux wheels (scripts/build_wheels.sh --ci), installs
# the x86_64 wheel, runs the static checks (stubtest, mypy, pyright type completeness, the API
# reference with mkdocs --strict), builds and runs the C++ tests (ctest), fuzzing and sanitizers
# (scripts/sanitizers.sh), the aarch64 (NEON) tests under qemu, pytest, and the wheel checks
# (scripts/test_wheels.sh: clean venv without a compiler, aarch64 wheel under qemu compared
# with x86_64). Used by newcomers (README) and by CI
# (.ci/run).
#
#   scripts/test.sh            # everything
#   EDGERUN_SKIP_AARCH64=1 scripts/test.sh   # skip the cross-compiled aarch64 tests
#   EDGERUN_SKIP_SANITIZERS=1 scripts/test.sh  # skip fuzzing + ASan/UBSan/TSan (scripts/sanitizers.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${JOBS:-2}

say() { printf '\n==> %s\n' "$*"; }

# System packages: a C++ compiler, and for the aarch64 tests a cross compiler and qemu.
need_pkgs=()
command -v g++ >/dev/null || need_pkgs+=(g++)
if [ "${EDGERUN_SKIP_AARCH64:-0}" != 1 ]; then
  command -v aarch64-linux-gnu-g++ >/dev/null || need_pkgs+=(g++-aarch64-linux-gnu)
  command -v qemu-aarch64 >/dev/null || need_pkgs+=(qemu-user)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  say "installing system packages: ${need_pkgs[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

# Wheels first: the sdist, and from it the manylinux wheels for this Python (x86_64, and
# aarch64 unless skipped). The suite below runs against the installed x86_64 wheel, so
# what is tested is what ships.
PY=${PYTHON:-python3}
if [ "${EDGERUN_SKIP_AARCH64:-0}" = 1 ]; then export ARM_PYTHONS=""; fi
say "building the sdist and the wheels (scripts/build_wheels.sh --ci)"
PYTHON=$PY scripts/build_wheels.sh --ci
V=$("$PY" -c 'import sys; print("%d%d" % sys.version_info[:2])')
WHEEL=$(ls dist/edgerun-*-cp$V-cp$V-manylinux_*_x86_64.whl | head -1)

# Python environment: a venv of our own unless one is active.
if [ -z "${VIRTUAL_ENV:-}" ]; then
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  # shellcheck disable=SC1091
  . .venv/bin/activate
fi
say "installing $(basename "$WHEEL")[dev,convert,plot,docs,typecheck] (convert = TensorFlow for the model tools, plot = matplotlib for bench --plot, docs = mkdocs, typecheck = mypy + pyright)"
python -m pip install -q --upgrade pip
python -m pip uninstall -q -y edgerun 2>/dev/null || true
python -m pip install -q "$WHEEL[dev,convert,plot,docs,typecheck]"

# Static checks first (seconds): the stubs of the compiled module against the installed
# module, the package's types, the public API's type completeness, and the API reference.
say "types: stubtest (_core.pyi vs the built module), mypy -p edgerun, pyright --verifytypes (>= 98%)"
python -m mypy.stubtest edgerun._core --allowlist scripts/stubtest_allowlist.txt
python -m mypy -p edgerun  # [tool.mypy] in pyproject.toml: the source tree, python/edgerun
# what users' type checkers infer (assert_type): heads -> Detections, FrameResult[...], TypedDicts
python -m mypy tests/typecheck/api_usage.py
pyright tests/typecheck/api_usage.py
mkdir -p build
# pyright exits 1 below 100%; scripts/verifytypes_check.py applies the threshold
pyright --verifytypes edgerun --ignoreexternal --outputjson \
  > build/verifytypes.json || true
python scripts/verifytypes_check.py build/verifytypes.json --min 98
say "API reference: mkdocs build --strict (a broken reference or link fails)"
NO_MKDOCS_2_WARNING=1 mkdocs build --strict --quiet

say "C++ tests (ctest)"
LITERT_LIB=$(python -c "import edgerun._runtime as r; print(r.find_litert()[0])")
cmake -S . -B build/cpp-tests -DEDGERUN_BUILD_TESTS=ON -DEDGERUN_BUILD_PYTHON=OFF \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/cpp-tests -j "$JOBS"
python -c "from edgerun.model import builder; open('build/cpp-tests/builtin.tflite','wb').write(builder.builtin_image_model())"
EDGERUN_LITERT_LIB="$LITERT_LIB" EDGERUN_TEST_MODEL="$ROOT/build/cpp-tests/builtin.tflite" ctest --test-dir build/cpp-tests --output-on-failure

# The SIMD kernel units must stay within g++'s inlining budget: past
# --param inline-unit-growth, plain-inline per-block helpers silently become calls
# (the area-rgb path once cost rotated and float16/int8 outputs 10-35%; callgrind saw
# nothing). Release flags, as g++ builds them (source installs, cibuildwheel); the zig/clang
# wheels follow clang's own heuristics, and EDGERUN_INLINE forces the helpers there too.
say "AVX2 kernels: no 'inline-unit-growth limit reached' (g++ -O3 -fopt-info-inline-missed)"
for src in cpp/src/preprocess/preprocess_avx2.cc cpp/src/preprocess/roi_crop_avx2.cc; do
  n=$(g++ -O3 -DNDEBUG -std=c++17 -DEDGERUN_ARCH_X86=1 -Icpp/include -Icpp/src -Ithird_party \
        -mavx2 -mfma -mf16c -fopt-info-inline-missed -c "$src" -o /dev/null 2>&1 |
      grep -c 'inline-unit-growth limit reached' || true)
  if [ "$n" != 0 ]; then
    echo "$src: $n inlining decisions hit --param inline-unit-growth; mark the hot helpers EDGERUN_INLINE" >&2
    exit 1
  fi
done

if [ "${EDGERUN_SKIP_SANITIZERS:-0}" != 1 ]; then
  say "fuzzing and sanitizers: fuzz_verify, ctest under ASan+UBSan, pipeline/session under TSan (scripts/sanitizers.sh)"
  PYTHON=python EDGERUN_LITERT_LIB="$LITERT_LIB" scripts/sanitizers.sh
fi

if [ "${EDGERUN_SKIP_AARCH64:-0}" != 1 ] && [ -x cpp/tests/aarch64/run.sh ]; then
  say "aarch64 tests under qemu (NEON kernels)"
  cpp/tests/aarch64/run.sh
  say "aarch64 runtime core + delegate plugin path under qemu"
  PYTHON=python cpp/tests/aarch64/delegates.sh
fi

say "pytest"
export EDGERUN_REQUIRE_REAL_MODELS=${EDGERUN_REQUIRE_REAL_MODELS:-${CI:+1}}
(cd "$ROOT/tests" && python -m pytest -q "$@")  # imports the installed wheel, not the source tree

say "the wheels in clean Pythons without a compiler; aarch64 under qemu (scripts/test_wheels.sh)"
PYTHON=$PY scripts/test_wheels.sh
