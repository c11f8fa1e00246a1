// Accelerator environments: LiteRT environments with delegate plugins
// (Edge TPU, any classic external-delegate plugin) registered as custom
// accelerators (proxy_delegate.h), or with the GPU accelerator loaded.
//
// Why environments: in LiteRT 2.3 an accelerator is registered into an
// environment and is applied to every model compiled in it, and its callbacks
// get no user data. So each distinct configuration (accelerator kind, plugin
// paths and options) gets its own environment, shared by the sessions that use
// that configuration and destroyed with the last of them. Plain CPU sessions
// never come here: they keep the process-wide CPU-only environment
// (runtime/environment.h). Plugins are registered before the CPU accelerator,
// so they see the whole graph before XNNPACK takes what it supports.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "edgerun/accelerators.h"
#include "edgerun/session.h"
#include "edgerun/status.h"
#include "runtime/accelerators/proxy_delegate.h"
#include "runtime/litert_api.h"

namespace edgerun {
namespace runtime {

// SessionOptions::accelerator, parsed.
enum class AcceleratorKind { kCpu, kEdgeTpu, kGpu };
// False for a name that is not "cpu", "edgetpu" or "gpu".
bool ParseAccelerator(const std::string& name, AcceleratorKind* kind);
// The kind of validated options (ValidateAcceleratorOptions).
AcceleratorKind KindOf(const SessionOptions& options);

struct PluginInfo {
  std::string label;    // "edgetpu" or "delegate:<file name>"
  bool edgetpu = false;  // Coral's Edge TPU runtime (accelerator "edgetpu")
  std::string library;  // the path that was loaded
  std::string version;  // libedgetpu's edgetpu_version(), else ""
  KeyValues options;
  const PluginLibrary* lib = nullptr;
};

struct ModelOp {
  int subgraph = 0;
  int index = 0;
  int code = -1;
  std::string custom;
};

class AcceleratorEnv {
 public:
  ~AcceleratorEnv();
  AcceleratorEnv(const AcceleratorEnv&) = delete;
  AcceleratorEnv& operator=(const AcceleratorEnv&) = delete;

  LiteRtEnvironment env() const { return env_; }
  // Hardware bits to request in the compilation options.
  int hardware() const { return hardware_; }
  // kEdgeTpu, kGpu, or kCpu (the CPU with delegate plugins).
  AcceleratorKind kind() const { return kind_; }
  const std::vector<PluginInfo>& plugins() const { return plugins_; }
  // e.g. "the Edge TPU (libedgetpu /usr/lib/.../libedgetpu.so.1, device 'usb:0')"
  std::string Describe() const;

  // Errors for a failed compilation or warm-up run, naming the plugins and
  // what they reported.
  Status CompileFailure(const CompileReport& report, const Status& status) const;
  Status WarmupFailure(const CompileReport& report, const Status& status) const;
  // After a successful compilation: every operator that only a delegate can
  // run (edgetpu-custom-op) was claimed; DelegateError otherwise.
  Status CheckClaims(const CompileReport& report, const std::vector<ModelOp>& ops,
                     const std::string& origin) const;

 private:
  friend Expected<std::shared_ptr<AcceleratorEnv>> AcquireAcceleratorEnv(const LiteRtApi*,
                                                                         const SessionOptions&);
  AcceleratorEnv() = default;
  const LiteRtApi* api_ = nullptr;
  LiteRtEnvironment env_ = nullptr;
  int hardware_ = kLiteRtHwAcceleratorCpu;
  AcceleratorKind kind_ = AcceleratorKind::kCpu;
  std::vector<PluginInfo> plugins_;
  std::string key_;
};

// True when the options need an accelerator environment (not plain CPU).
bool UsesAcceleratorEnv(const SessionOptions& options);
// InputError for unknown accelerators, bad option combinations.
Status ValidateAcceleratorOptions(const SessionOptions& options);
// The environment for these options (created, or shared with live sessions).
Expected<std::shared_ptr<AcceleratorEnv>> AcquireAcceleratorEnv(const LiteRtApi* api,
                                                               const SessionOptions& options);

// Every operator of the model.
std::vector<ModelOp> ListModelOps(const LiteRtApi* api, LiteRtModel model);
// Before compiling without a plugin: a model that needs the Edge TPU gets a
// DelegateError saying so and how to get the runtime.
Status CheckModelNeedsNoDelegate(const std::vector<ModelOp>& ops, const std::string& origin);
// Placement of every operator; `env`/`report` null for CPU sessions.
std::vector<OpPlacement> Placement(const std::vector<ModelOp>& ops, const AcceleratorEnv* env,
                                   const CompileReport* report);

}  // namespace runtime
}  // namespace edgerun
