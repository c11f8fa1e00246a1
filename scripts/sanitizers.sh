#!/usr/bin/env bash
# Fuzzing and sanitizers, as CI runs them (scripts/test.sh calls this after the ctest
# section; EDGERUN_SKIP_SANITIZERS=1 skips it). See docs/fuzzing.md. Steps:
#   1. fuzz_verify (libFuzzer + ASan + UBSan, structure-aware mutator) for
#      EDGERUN_FUZZ_SECONDS (default 120) from the test suite's models; any crash, leak,
#      timeout (10 s) or memory blow-up (2 GB) fails, and the reproducer is printed;
#   2. the C++ tests (ctest) built with -fsanitize=address,undefined (build/asan);
#   3. test_pipeline and test_session built with -fsanitize=thread (build/tsan);
#   4. a pytest subset (session, preprocess, pipeline, fuzz findings) against the _core
#      extension built with -fsanitize=address,undefined (build/asan-py), libasan preloaded.
# Needs: a Python with edgerun installed (PYTHON; the model generators and the path of
# libLiteRt.so), and clang 14 + libclang-rt-14-dev + llvm (installed here with apt-get
# when missing). Each step can be skipped: EDGERUN_SKIP_FUZZ=1, EDGERUN_SKIP_ASAN=1,
# EDGERUN_SKIP_TSAN=1, EDGERUN_SKIP_ASAN_PYTEST=1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${JOBS:-2}
PY=${PYTHON:-python}
say() { printf '\n==> %s\n' "$*"; }

# Debian 12: clang 14; libFuzzer and the sanitizer runtimes come apart from clang.
if ! command -v clang++ >/dev/null || ! command -v llvm-symbolizer >/dev/null \
   || [ -z "$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2>/dev/null)" ]; then
  say "installing system packages: clang llvm libclang-rt-14-dev"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clang llvm libclang-rt-14-dev >/dev/null
fi
export ASAN_SYMBOLIZER_PATH=$(command -v llvm-symbolizer)
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

LITERT_LIB=${EDGERUN_LITERT_LIB:-$("$PY" -c "import edgerun._runtime as r; print(r.find_litert()[0])")}
CMAKE_CLANG=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DEDGERUN_BUILD_PYTHON=OFF
             -DCMAKE_BUILD_TYPE=RelWithDebInfo)
mkdir -p build
"$PY" -c "from edgerun.model import builder; open('build/sanitizer-test-model.tflite','wb').write(builder.builtin_image_model())"
MODEL=$ROOT/build/sanitizer-test-model.tflite

if [ "${EDGERUN_SKIP_FUZZ:-0}" != 1 ]; then
  T=${EDGERUN_FUZZ_SECONDS:-120}
  say "fuzz_verify for ${T} s (libFuzzer + ASan + UBSan; structure-aware mutator)"
  cmake -S . -B build/fuzz "${CMAKE_CLANG[@]}" -DEDGERUN_BUILD_FUZZERS=ON >/dev/null
  cmake --build build/fuzz -j "$JOBS" --target fuzz_verify
  W=build/fuzz-ci
  rm -rf "$W"; mkdir -p "$W/corpus" "$W/seeds" "$W/artifacts"
  "$PY" scripts/fuzz_seeds.py "$W/seeds"
  # Checked-in reproducers of past verifier crashes, if any, join the seeds.
  [ -d tests/data/fuzz ] && cp tests/data/fuzz/* "$W/seeds/" 2>/dev/null || true
  rc=0
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 build/fuzz/fuzz_verify -max_total_time="$T" -rss_limit_mb=2048 \
      -timeout=10 -print_final_stats=1 -artifact_prefix="$W/artifacts/" "$W/corpus" "$W/seeds" \
      >"$W/log.txt" 2>&1 || rc=$?
  grep -E '^#[0-9]+\s+(INITED|DONE|pulse)|^stat::|^Done' "$W/log.txt" | tail -6 || true
  if [ "$rc" != 0 ] || [ -n "$(ls -A "$W/artifacts")" ]; then
    tail -60 "$W/log.txt"
    for f in "$W"/artifacts/*; do
      [ -e "$f" ] || continue
      echo "--- reproducer $f ($(stat -c %s "$f") bytes), base64:"
      head -c 65536 "$f" | base64 -w 100
      echo "--- reproduce with: build/fuzz/fuzz_verify $f"
    done
    echo "fuzz_verify FAILED (exit $rc): the verifier crashed, leaked, hung or blew memory up" >&2
    exit 1
  fi
fi

if [ "${EDGERUN_SKIP_ASAN:-0}" != 1 ]; then
  say "C++ tests under ASan + UBSan (build/asan)"
  cmake -S . -B build/asan "${CMAKE_CLANG[@]}" -DEDGERUN_SANITIZE=address,undefined -DEDGERUN_BUILD_TESTS=ON >/dev/null
  cmake --build build/asan -j "$JOBS"
  # detect_leaks=1: our code must not leak. libLiteRt.so is not instrumented (ASan still
  # checks its malloc/free); see docs/fuzzing.md.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1 \
  EDGERUN_LITERT_LIB="$LITERT_LIB" EDGERUN_TEST_MODEL="$MODEL" \
    ctest --test-dir build/asan --output-on-failure
fi

if [ "${EDGERUN_SKIP_TSAN:-0}" != 1 ]; then
  say "test_pipeline and test_session under ThreadSanitizer (build/tsan)"
  cmake -S . -B build/tsan "${CMAKE_CLANG[@]}" -DEDGERUN_SANITIZE=thread -DEDGERUN_BUILD_TESTS=ON >/dev/null
  cmake --build build/tsan -j "$JOBS" --target test_pipeline test_session
  # No suppressions needed: libLiteRt.so (not instrumented, own thread pool) reported nothing.
  export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
  for t in test_pipeline test_session; do
    echo "--- $t"
    EDGERUN_LITERT_LIB="$LITERT_LIB" EDGERUN_TEST_MODEL="$MODEL" build/tsan/$t
  done
fi
if [ "${EDGERUN_SKIP_ASAN_PYTEST:-0}" != 1 ]; then
  say "pytest subset (sessions, lifetimes, threads, preprocessing bounds) against an ASan+UBSan _core"
  # pybind11's CMake files (the wheel build gets them in its isolated environment).
  PYBIND11_DIR=$("$PY" -c "import pybind11; print(pybind11.get_cmake_dir())" 2>/dev/null) || {
    "$PY" -m pip install -q "pybind11>=2.13"
    PYBIND11_DIR=$("$PY" -c "import pybind11; print(pybind11.get_cmake_dir())")
  }
  # -shared-libasan: the extension uses the ASan runtime that LD_PRELOAD puts first in the
  # process (python itself is not instrumented).
  cmake -S . -B build/asan-py "${CMAKE_CLANG[@]}" -DEDGERUN_BUILD_PYTHON=ON -DEDGERUN_SANITIZE=address,undefined \
        -DCMAKE_MODULE_LINKER_FLAGS=-shared-libasan -DPython_EXECUTABLE="$(command -v "$PY")" \
        -Dpybind11_DIR="$PYBIND11_DIR" >/dev/null
  cmake --build build/asan-py -j "$JOBS" --target _core
  rm -rf build/asan-py/pkg && mkdir -p build/asan-py/pkg
  cp -r python/edgerun build/asan-py/pkg/ && cp build/asan-py/_core*.so build/asan-py/pkg/edgerun/
  # detect_leaks=0: the interpreter keeps its own allocations to exit (LSan would list them all).
  # The RSS-growth test is left out: under ASan, RSS counts the quarantine of freed blocks
  # (up to 256 MB) and shadow memory, so growth says nothing about leaks there.
  (cd tests && LD_PRELOAD="$(clang -print-file-name=libclang_rt.asan-x86_64.so)" \
     ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 PYTHONPATH="$ROOT/build/asan-py/pkg" \
     "$PY" -c "import edgerun._core as c, sys; sys.exit(0 if '/asan-py/' in c.__file__ else 'not the ASan build: ' + c.__file__)" && \
   LD_PRELOAD="$(clang -print-file-name=libclang_rt.asan-x86_64.so)" \
     ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 PYTHONPATH="$ROOT/build/asan-py/pkg" \
     "$PY" -m pytest -q -p no:cacheprovider test_session.py test_preprocess.py test_pipeline.py test_fuzz_findings.py \
       -k "not test_no_memory_growth_across_session_recreation")
fi
say "sanitizers: all passed"
