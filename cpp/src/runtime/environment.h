// LiteRT environments: the one place that builds environment options.
//
// Plain CPU sessions share one process-wide environment that auto-registers
// only the CPU accelerator (so the runtime does not probe its NPU / WebGPU /
// OpenVINO plugins); accelerator sessions get their own environments
// (runtime/accelerators/accelerator_env.h), built with the same options plus
// the accelerators they need.
#pragma once

#include <string>

#include "edgerun/status.h"
#include "runtime/litert_api.h"

namespace edgerun {
namespace runtime {

// Minimum log severity for LiteRT environments ($EDGERUN_LITERT_LOG: verbose,
// info, warning, silent; errors only by default).
int LogSeverityFromEnv();

// A new environment that auto-registers the accelerators in `auto_register`
// (kLiteRtHwAccelerator* bits), logs at LogSeverityFromEnv(), and loads
// accelerator libraries from `library_dir` when it is not empty.
Expected<LiteRtEnvironment> CreateEnvironment(const LiteRtApi* api, int auto_register,
                                              const std::string& library_dir = std::string());

// The process-wide CPU-only environment: created once, never destroyed (the
// runtime may keep threads and accelerator state tied to it until exit).
Expected<LiteRtEnvironment> SharedEnvironment(const LiteRtApi* api);

}  // namespace runtime
}  // namespace edgerun
