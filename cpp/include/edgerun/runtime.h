// Loading the LiteRT runtime (libLiteRt.so). Public part: where it came from,
// which version; the function table itself stays private to cpp/src/runtime.
#pragma once

#include <string>

#include "edgerun/status.h"

namespace edgerun {
namespace runtime {

struct RuntimeInfo {
  std::string library_path;  // the file that was dlopen'ed ("" before loading)
  std::string version;       // distribution version as reported by the caller ("" = unknown)
};

// The supported ai-edge-litert version range (minor-pinned), e.g. "2.3".
const char* SupportedLiteRtMinor();

// Loads libLiteRt.so once per process. `library_path` is where the caller found
// the library (the Python layer finds it in the installed ai_edge_litert
// package); the environment variable EDGERUN_LITERT_LIB overrides it.
// `version` is the installed distribution's version; when it is known and not
// in the supported range, loading fails. Later calls return the first result.
Status LoadLiteRt(const std::string& library_path, const std::string& version);

RuntimeInfo LoadedRuntime();

}  // namespace runtime
}  // namespace edgerun
