// libFuzzer target: model bytes -> edgerun::VerifyModel, in process.
//
// Built with clang -fsanitize=fuzzer,address,undefined (cmake
// -DEDGERUN_BUILD_FUZZERS=ON, see docs/fuzzing.md). The verifier must return a
// Status for any bytes: never read outside the buffer, never trip UBSan, never
// take long or allocate much. An error Status must say something (an empty
// message is a bug too). Mutations: libFuzzer's byte mutations, and half of the
// time the structure-aware mutator of model_mutator.h, which keeps the
// flatbuffer readable so that the semantic checks get exercised.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "edgerun/verify.h"
#include "model_mutator.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  if ((seed & 1) == 0 && edgerun::fuzz::MutateModel(data, size, seed >> 1)) return size;
  return LLVMFuzzerMutate(data, size, max_size);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  edgerun::Status st = edgerun::VerifyModel(data, size);
  if (!st.ok() && st.message().empty()) {
    std::fprintf(stderr, "VerifyModel returned an error without a message\n");
    std::abort();
  }
  if (!st.ok()) {
    // The checks after the data-flow pass, for models that only fail data flow.
    edgerun::VerifyOptions o;
    o.check_dataflow = false;
    (void)edgerun::VerifyModel(data, size, o);
  }
  return 0;
}
