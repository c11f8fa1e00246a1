// libFuzzer target: model bytes -> VerifyModel -> Session::Create (load,
// compile, warm-up run) -> one Run on zero inputs, in process.
//
// Needs EDGERUN_LITERT_LIB = path of libLiteRt.so (scripts/fuzz.sh finds it).
// Not run in CI: the runtime still crashes on some models the verifier accepts
// (issue 11 items 1, 2, 4, 5; see docs/fuzzing.md). Run it with
//   scripts/fuzz.sh session 600
// Every crash it finds is either a verifier gap (a check to add to verify.cc)
// or a runtime bug the verifier must keep away from the runtime.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "edgerun/runtime.h"
#include "edgerun/session.h"
#include "edgerun/verify.h"
#include "model_mutator.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  // Mostly structure-aware here: byte mutants rarely get past the verifier.
  if ((seed & 3) != 0 && edgerun::fuzz::MutateModel(data, size, seed >> 2)) return size;
  return LLVMFuzzerMutate(data, size, max_size);
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* lib = std::getenv("EDGERUN_LITERT_LIB");
  if (!lib || !*lib) {
    std::fprintf(stderr, "fuzz_session: set EDGERUN_LITERT_LIB to the path of libLiteRt.so\n");
    std::exit(2);
  }
  edgerun::Status st = edgerun::runtime::LoadLiteRt(lib, "");
  if (!st.ok()) {
    std::fprintf(stderr, "fuzz_session: cannot load the runtime: %s\n", st.message().c_str());
    std::exit(2);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!edgerun::VerifyModel(data, size).ok()) return -1;  // not added to the corpus
  auto bytes = edgerun::ModelBytes::Copy(data, size);
  if (!bytes.ok()) return 0;
  edgerun::SessionOptions o;
  o.threads = 1;
  o.verify = false;  // verified above
  auto s = edgerun::Session::Create(std::move(bytes).value(), o);
  if (!s.ok()) return 0;
  (void)s.value()->Run();  // inputs are zero-filled blocks
  return 0;
}
