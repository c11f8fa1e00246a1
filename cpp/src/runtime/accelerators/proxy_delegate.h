// Delegate plugins as LiteRT custom accelerators, behind a proxy delegate.
//
// How a plugin is attached (facts probed against ai-edge-litert 2.3.0, see
// third_party/litert/README.md): a custom accelerator advertising the CPU bit
// whose create-delegate callback calls the plugin's tflite_plugin_create_delegate
// and hands the runtime a proxy TfLiteDelegate (LiteRtWrapDelegate with our
// deleter, which calls tflite_plugin_destroy_delegate). The proxy's Prepare
// calls the plugin's Prepare with a copy of the runtime's TfLiteContext in
// which ReplaceNodeSubsetsWithDelegateKernels and ReportError are interposed,
// so edgerun learns which nodes the plugin claimed (placement()) and what it
// reported when it fails. The callbacks get no user data: they find their
// plugin through the accelerator handle, and report into the compiling
// thread's CompileReport (ReportScope).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "edgerun/accelerators.h"
#include "edgerun/status.h"
#include "runtime/accelerators/plugin_library.h"
#include "runtime/litert_api.h"

namespace edgerun {
namespace runtime {

// What the accelerator callbacks observed during one compilation. They run on
// the compiling thread, which ReportScope points at its report.
struct CompileReport {
  struct Claim {
    size_t plugin = 0;     // index into AcceleratorEnv::plugins()
    int prepare_call = 0;  // n-th Prepare of that plugin's delegate (one per subgraph)
    std::vector<int> nodes;
  };
  // What plugins reported while creating their delegate or in Prepare:
  // (plugin index, text).
  std::vector<std::pair<size_t, std::string>> messages;
  std::vector<int> created;           // per plugin: delegates created
  std::vector<int> refused;           // per plugin: create calls that returned null
  std::vector<int> prepares;          // per plugin: Prepare calls
  std::vector<int> prepare_failures;  // per plugin: Prepare calls that failed
  std::vector<Claim> claims;
};

class ReportScope {
 public:
  explicit ReportScope(CompileReport* report);
  ~ReportScope();
  ReportScope(const ReportScope&) = delete;
  ReportScope& operator=(const ReportScope&) = delete;

 private:
  CompileReport* previous_;
};

// Registers `lib` as custom accelerator number `index` of `env` (`label` names
// it, `options` go to tflite_plugin_create_delegate).
Status RegisterPluginAccelerator(const LiteRtApi* api, LiteRtEnvironment env, size_t index,
                                 const std::string& label, const KeyValues& options,
                                 const PluginLibrary* lib);

// LiteRT's own CPU (XNNPACK) accelerator definition, when it is the layout
// probed for 2.3.0: registering it after the plugins lets them see the graph
// before XNNPACK takes what it supports. nullptr when unusable.
const EdgerunLiteRtAcceleratorDefPrefix* UsableCpuDef(const LiteRtApi* api);
Status RegisterCpuAccelerator(const LiteRtApi* api, LiteRtEnvironment env,
                              const EdgerunLiteRtAcceleratorDefPrefix* def);

}  // namespace runtime
}  // namespace edgerun
