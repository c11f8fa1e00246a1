#include "runtime/litert_api.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <vector>

namespace edgerun {
namespace runtime {
namespace {

std::mutex g_mu;
bool g_attempted = false;
Status g_status = RuntimeError("the LiteRT runtime has not been loaded yet");
LiteRtApi g_api;
RuntimeInfo g_info;
void* g_handle = nullptr;

bool VersionSupported(const std::string& version) {
  const std::string minor = SupportedLiteRtMinor();
  return version == minor || version.rfind(minor + ".", 0) == 0;
}

Status DoLoad(const std::string& library_path, const std::string& version) {
  std::string path = library_path;
  const char* env = std::getenv("EDGERUN_LITERT_LIB");
  const bool overridden = env != nullptr && *env != '\0';
  if (overridden) path = env;
  if (path.empty()) {
    return RuntimeError(
        "cannot find libLiteRt.so: the ai-edge-litert package is not installed "
        "(pip install 'ai-edge-litert==" + std::string(SupportedLiteRtMinor()) +
        ".*') and EDGERUN_LITERT_LIB is not set");
  }
  const std::string where = path + (overridden ? " (from EDGERUN_LITERT_LIB)" : "");
  const std::string found = version.empty() ? "unknown version" : "version " + version;
  if (!version.empty() && !overridden && !VersionSupported(version)) {
    return RuntimeError("ai-edge-litert " + version + " is installed, but edgerun supports " +
                        SupportedLiteRtMinor() + ".* only (its C API changes between minor "
                        "releases); install 'ai-edge-litert==" + SupportedLiteRtMinor() +
                        ".*' (library: " + where + ")");
  }
  // RTLD_LOCAL: keep the runtime's symbols (TFLite, absl, XNNPACK) out of the
  // global namespace so they cannot clash with other extensions in the process.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* err = dlerror();
    return RuntimeError("cannot load the LiteRT runtime " + where + " (" + found +
                        "): " + (err ? err : "dlopen failed"));
  }
  std::vector<std::string> missing;
#define EDGERUN_RESOLVE(ret, name, args)                                  \
  g_api.name = reinterpret_cast<decltype(g_api.name)>(dlsym(handle, #name)); \
  if (g_api.name == nullptr) missing.push_back(#name);
  EDGERUN_LITERT_FUNCTIONS(EDGERUN_RESOLVE)
#undef EDGERUN_RESOLVE
#define EDGERUN_RESOLVE_OPTIONAL(ret, name, args) \
  g_api.name = reinterpret_cast<decltype(g_api.name)>(dlsym(handle, #name));
  EDGERUN_LITERT_OPTIONAL_FUNCTIONS(EDGERUN_RESOLVE_OPTIONAL)
#undef EDGERUN_RESOLVE_OPTIONAL
  if (!missing.empty()) {
    std::string list;
    for (size_t i = 0; i < missing.size(); ++i) list += (i ? ", " : "") + missing[i];
    // The library stays loaded (never dlclose a runtime that may have started
    // threads); the API table is unusable and every later call reports this.
    g_api = LiteRtApi();
    return RuntimeError("the LiteRT runtime " + where + " (" + found + ") lacks " +
                        std::to_string(missing.size()) + " required symbol(s): " + list +
                        "; edgerun needs ai-edge-litert " + SupportedLiteRtMinor() + ".*");
  }
  g_info.library_path = path;
  g_info.version = version;
  g_handle = handle;
  return Status::Ok();
}

}  // namespace

const char* SupportedLiteRtMinor() { return "2.3"; }

Status LoadLiteRt(const std::string& library_path, const std::string& version) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_attempted) {
    g_attempted = true;
    g_status = DoLoad(library_path, version);
  }
  return g_status;
}

Expected<const LiteRtApi*> Api() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_status.ok()) return g_status;
  return static_cast<const LiteRtApi*>(&g_api);
}

void* LiteRtLibraryHandle() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_status.ok() ? g_handle : nullptr;
}

RuntimeInfo LoadedRuntime() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_info;
}

std::string LiteRtStatusName(int s) {
  switch (s) {
    case kLiteRtStatusOk: return "ok";
    case kLiteRtStatusErrorInvalidArgument: return "invalid argument";
    case kLiteRtStatusErrorMemoryAllocationFailure: return "memory allocation failure";
    case kLiteRtStatusErrorRuntimeFailure: return "runtime failure";
    case kLiteRtStatusErrorMissingInputTensor: return "missing input tensor";
    case kLiteRtStatusErrorUnsupported: return "unsupported";
    case kLiteRtStatusErrorNotFound: return "not found";
    case kLiteRtStatusErrorTimeoutExpired: return "timeout expired";
    case kLiteRtStatusErrorWrongVersion: return "wrong version";
    case kLiteRtStatusErrorUnknown: return "unknown error";
    case kLiteRtStatusErrorAlreadyExists: return "already exists";
    case kLiteRtStatusCancelled: return "cancelled";
    case kLiteRtStatusErrorFileIO: return "file I/O error";
    case kLiteRtStatusErrorInvalidFlatbuffer: return "invalid flatbuffer";
    case kLiteRtStatusErrorDynamicLoading: return "dynamic loading error";
    case kLiteRtStatusErrorSerialization: return "serialization error";
    case kLiteRtStatusErrorCompilation: return "compilation error";
    case kLiteRtStatusErrorIndexOOB: return "index out of bounds";
    default: return "status " + std::to_string(s);
  }
}

}  // namespace runtime
}  // namespace edgerun
