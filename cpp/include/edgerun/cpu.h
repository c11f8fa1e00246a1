// CPU feature detection, done once per process. Used by the preprocessor's
// dispatch and reported by `edgerun doctor`.
//
// x86 detection reads cpuid (and xgetbv for the OS's AVX state) directly rather
// than __builtin_cpu_supports: the latter needs libgcc's __cpu_model, which does
// not link into a shared object built with the wheel toolchain (zig/clang with an
// old glibc target). aarch64 reads the kernel's HWCAP bits.
#pragma once

#include <string>

namespace edgerun {

struct CpuFeatures {
  // x86
  bool sse41 = false;
  bool avx = false;     // AVX usable: CPU support and the OS saves YMM state
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  // aarch64
  bool neon = false;    // Advanced SIMD (mandatory on AArch64)
  bool fp16 = false;    // half-precision arithmetic (asimdhp)
  bool dotprod = false; // SDOT/UDOT (asimddp)
  bool i8mm = false;
};

// Detected once (thread-safe static), then cached.
const CpuFeatures& DetectCpu();

// The names of the detected features, space separated ("sse4.1 avx avx2 fma f16c").
std::string CpuFeatureString();

}  // namespace edgerun
