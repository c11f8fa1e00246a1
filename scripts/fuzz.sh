#!/usr/bin/env bash
# Runs one of edgerun's libFuzzer targets (cpp/fuzz/) for a while. See docs/fuzzing.md.
#
#   scripts/fuzz.sh verify [SECONDS] [libFuzzer flags...]   # the verifier alone (what CI runs, 120 s)
#   scripts/fuzz.sh session [SECONDS] [libFuzzer flags...]  # verify + Session::Create + one run
#
# Builds build/fuzz with clang (-fsanitize=fuzzer,address,undefined), writes the seed corpus
# (scripts/fuzz_seeds.py: the test suite's models) and keeps what the fuzzer finds in
# $FUZZ_DIR (default build/fuzz-work/TARGET): corpus/ grows from run to run, crashes land
# in artifacts/. Exit status: libFuzzer's (0 = nothing found). Needs clang, libclang-rt-dev,
# and a Python with edgerun installed (PYTHON, default: .venv/bin/python, else python3).
# Reproduce a finding:  build/fuzz/fuzz_TARGET ARTIFACT
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET=${1:?usage: scripts/fuzz.sh verify|session [SECONDS] [libFuzzer flags...]}
SECONDS_=${2:-600}
shift $(( $# >= 2 ? 2 : $# ))
case "$TARGET" in verify|session) ;; *) echo "unknown target $TARGET (verify or session)" >&2; exit 2;; esac
JOBS=${JOBS:-2}
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
CC=${FUZZ_CC:-clang}
CXX=${FUZZ_CXX:-clang++}

cmake -S . -B build/fuzz -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" -DEDGERUN_BUILD_FUZZERS=ON \
      -DEDGERUN_BUILD_TESTS=OFF -DEDGERUN_BUILD_PYTHON=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/fuzz -j "$JOBS" --target "fuzz_$TARGET"

WORK=${FUZZ_DIR:-build/fuzz-work/$TARGET}
mkdir -p "$WORK/corpus" "$WORK/seeds" "$WORK/artifacts"
# Seeds: small models by default (libFuzzer's speed falls with input size); FUZZ_MAX_BYTES raises it.
"$PYTHON" scripts/fuzz_seeds.py "$WORK/seeds" --max-bytes "${FUZZ_MAX_BYTES:-262144}" >/dev/null

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:symbolize=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
command -v llvm-symbolizer >/dev/null && export ASAN_SYMBOLIZER_PATH=$(command -v llvm-symbolizer)
if [ "$TARGET" = session ]; then
  EDGERUN_LITERT_LIB=${EDGERUN_LITERT_LIB:-$("$PYTHON" -c "import edgerun._runtime as r; print(r.find_litert()[0])")}
  export EDGERUN_LITERT_LIB
  # The runtime (not instrumented) keeps caches and thread pools alive to exit: no leak reports.
  export ASAN_OPTIONS=$ASAN_OPTIONS:detect_leaks=0
fi
EXTRA=()
# session: keep going after a crash (-fork), so that one run finds several crash classes.
if [ "$TARGET" = session ]; then EXTRA+=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1); fi
set -x
exec "build/fuzz/fuzz_$TARGET" -max_total_time="$SECONDS_" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
     -artifact_prefix="$WORK/artifacts/" "${EXTRA[@]}" "$@" "$WORK/corpus" "$WORK/seeds"
