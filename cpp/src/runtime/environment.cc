#include "runtime/environment.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

namespace edgerun {
namespace runtime {

int LogSeverityFromEnv() {
  int severity = kLiteRtLogSeverityError;  // quiet by default
  if (const char* lvl = std::getenv("EDGERUN_LITERT_LOG")) {
    std::string l = lvl;
    if (l == "verbose") severity = kLiteRtLogSeverityVerbose;
    else if (l == "info") severity = kLiteRtLogSeverityInfo;
    else if (l == "warning") severity = kLiteRtLogSeverityWarning;
    else if (l == "silent") severity = kLiteRtLogSeveritySilent;
  }
  return severity;
}

Expected<LiteRtEnvironment> CreateEnvironment(const LiteRtApi* api, int auto_register,
                                              const std::string& library_dir) {
  LiteRtEnvOption opts[3];
  std::memset(opts, 0, sizeof(opts));
  opts[0].tag = kLiteRtEnvOptionTagAutoRegisterAccelerators;
  opts[0].value.type = kLiteRtAnyTypeInt;
  opts[0].value.int_value = auto_register;
  opts[1].tag = kLiteRtEnvOptionTagMinLoggerSeverity;
  opts[1].value.type = kLiteRtAnyTypeInt;
  opts[1].value.int_value = LogSeverityFromEnv();
  int nopts = 2;
  if (!library_dir.empty()) {
    opts[2].tag = kLiteRtEnvOptionTagRuntimeLibraryDir;
    opts[2].value.type = kLiteRtAnyTypeString;
    opts[2].value.str_value = library_dir.c_str();
    nopts = 3;
  }
  LiteRtEnvironment env = nullptr;
  LiteRtStatus st = api->LiteRtCreateEnvironment(nopts, opts, &env);
  if (st != kLiteRtStatusOk || env == nullptr)
    return RuntimeError("LiteRtCreateEnvironment failed: " + LiteRtStatusName(st));
  return env;
}

Expected<LiteRtEnvironment> SharedEnvironment(const LiteRtApi* api) {
  static std::mutex mu;
  static LiteRtEnvironment env = nullptr;
  static Status status;
  static bool done = false;
  std::lock_guard<std::mutex> lock(mu);
  if (!done) {
    done = true;
    auto created = CreateEnvironment(api, kLiteRtHwAcceleratorCpu);  // probe no GPU/NPU plugins
    if (created.ok()) env = *created;
    else status = created.status();
  }
  if (!status.ok()) return status;
  return env;
}

}  // namespace runtime
}  // namespace edgerun
