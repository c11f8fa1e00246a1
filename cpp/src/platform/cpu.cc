#include "edgerun/cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define EDGERUN_CPU_X86 1
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#define EDGERUN_CPU_ARM64_LINUX 1
#endif

namespace edgerun {
namespace {

#if defined(EDGERUN_CPU_X86)
// XCR0 via xgetbv, written as an instruction so that no -mxsave flag is needed.
unsigned long long ReadXcr0() {
  unsigned int eax = 0, edx = 0;
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}
#endif

CpuFeatures Detect() {
  CpuFeatures f;
#if defined(EDGERUN_CPU_X86)
  unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  f.sse41 = (ecx >> 19) & 1;
  const bool osxsave = (ecx >> 27) & 1;
  const bool cpu_avx = (ecx >> 28) & 1;
  const bool cpu_fma = (ecx >> 12) & 1;
  const bool cpu_f16c = (ecx >> 29) & 1;
  // The OS must save XMM (bit 1) and YMM (bit 2) state for AVX to be usable;
  // opmask/ZMM state (bits 5-7) for AVX-512.
  const unsigned long long xcr0 = osxsave ? ReadXcr0() : 0;
  const bool os_ymm = (xcr0 & 0x6) == 0x6;
  const bool os_zmm = (xcr0 & 0xe6) == 0xe6;
  f.avx = cpu_avx && os_ymm;
  f.fma = cpu_fma && f.avx;
  f.f16c = cpu_f16c && f.avx;
  unsigned int max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    f.avx2 = ((ebx >> 5) & 1) && f.avx;
    f.avx512f = ((ebx >> 16) & 1) && os_zmm;
  }
#elif defined(EDGERUN_CPU_ARM64_LINUX)
  const unsigned long hw = getauxval(AT_HWCAP);
  const unsigned long hw2 = getauxval(AT_HWCAP2);
  // Bit numbers from the Linux arm64 uapi (asm/hwcap.h).
  f.neon = (hw >> 1) & 1;      // HWCAP_ASIMD
  f.fp16 = (hw >> 10) & 1;     // HWCAP_ASIMDHP
  f.dotprod = (hw >> 20) & 1;  // HWCAP_ASIMDDP
  f.i8mm = (hw2 >> 13) & 1;    // HWCAP2_I8MM
#elif defined(__aarch64__)
  f.neon = true;  // Advanced SIMD is mandatory on AArch64
#endif
  return f;
}

}  // namespace

const CpuFeatures& DetectCpu() {
  static const CpuFeatures features = Detect();
  return features;
}

std::string CpuFeatureString() {
  const CpuFeatures& f = DetectCpu();
  std::string s;
  auto add = [&s](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add(f.sse41, "sse4.1");
  add(f.avx, "avx");
  add(f.avx2, "avx2");
  add(f.fma, "fma");
  add(f.f16c, "f16c");
  add(f.avx512f, "avx512f");
  add(f.neon, "neon");
  add(f.fp16, "fp16");
  add(f.dotprod, "dotprod");
  add(f.i8mm, "i8mm");
  return s;
}

}  // namespace edgerun
