#include "runtime/accelerators/accelerator_env.h"

#include <dlfcn.h>

#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include "model/schema.h"
#include "runtime/environment.h"

namespace edgerun {
namespace runtime {
namespace {

constexpr const char* kEdgeTpuOp = "edgetpu-custom-op";

std::mutex g_env_mu;
std::map<std::string, std::weak_ptr<AcceleratorEnv>>* g_envs =
    new std::map<std::string, std::weak_ptr<AcceleratorEnv>>();

std::string KeyOf(const SessionOptions& o) {
  std::string k = o.accelerator + "\x1e";
  for (auto& kv : o.accelerator_options) k += kv.first + "\x1f" + kv.second + "\x1f";
  for (auto& d : o.delegates) {
    k += "\x1e" + d.library + "\x1d";
    for (auto& kv : d.options) k += kv.first + "\x1f" + kv.second + "\x1f";
  }
  return k;
}

const char* kGpuLibraries[] = {"libLiteRtGpuAccelerator.so", "libLiteRtWebGpuAccelerator.so",
                               "libLiteRtOpenClAccelerator.so", "libLiteRtVulkanAccelerator.so"};

// What the GPU accelerator needs before an environment is worth creating.
Status CheckGpuPrerequisites(const std::string& dir) {
  std::vector<std::string> present;
  for (const char* name : kGpuLibraries)
    if (FileExists(dir + "/" + name)) present.push_back(name);
  if (present.empty())
    return DelegateError("accelerator 'gpu': this ai-edge-litert installation (" + dir +
                         ") ships no LiteRT GPU accelerator library (looked for "
                         "libLiteRtGpuAccelerator.so, libLiteRtWebGpuAccelerator.so, "
                         "libLiteRtOpenClAccelerator.so, libLiteRtVulkanAccelerator.so)");
  const bool webgpu_only = present.size() == 1 && present[0] == "libLiteRtWebGpuAccelerator.so";
  if (webgpu_only) {
    // The Linux wheels ship the WebGPU accelerator, which runs on Vulkan (Dawn).
    void* vk = dlopen("libvulkan.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (!vk) {
      const char* e = dlerror();
      return DelegateError(
          "accelerator 'gpu': the LiteRT GPU accelerator in the ai-edge-litert wheel (" + dir +
          "/libLiteRtWebGpuAccelerator.so, WebGPU) needs Vulkan, and the Vulkan loader cannot be "
          "loaded (" + std::string(e ? e : "libvulkan.so.1 not found") +
          "): install it and your GPU's Vulkan driver (e.g. apt install libvulkan1 "
          "mesa-vulkan-drivers; NVIDIA: the driver's Vulkan ICD) and check with `vulkaninfo "
          "--summary`; or use accelerator='cpu'");
    }
    // Keep it loaded: the accelerator will load it again.
  }
  return Status::Ok();
}

}  // namespace

bool ParseAccelerator(const std::string& name, AcceleratorKind* kind) {
  if (name == "cpu") *kind = AcceleratorKind::kCpu;
  else if (name == "edgetpu") *kind = AcceleratorKind::kEdgeTpu;
  else if (name == "gpu") *kind = AcceleratorKind::kGpu;
  else return false;
  return true;
}

AcceleratorKind KindOf(const SessionOptions& o) {
  AcceleratorKind kind = AcceleratorKind::kCpu;
  ParseAccelerator(o.accelerator, &kind);
  return kind;
}

bool UsesAcceleratorEnv(const SessionOptions& o) {
  return KindOf(o) != AcceleratorKind::kCpu || !o.delegates.empty();
}

Status ValidateAcceleratorOptions(const SessionOptions& o) {
  AcceleratorKind kind;
  if (!ParseAccelerator(o.accelerator, &kind))
    return InputError("accelerator " + Quote(o.accelerator) +
                      " is not supported; supported: 'cpu', 'edgetpu', 'gpu' (other delegate "
                      "plugins: delegates=[Delegate(path, options)])");
  if (!o.accelerator_options.empty() && kind != AcceleratorKind::kEdgeTpu)
    return InputError("accelerator_options (" + JoinOptions(o.accelerator_options) +
                      ") apply to accelerator='edgetpu' only; accelerator is " +
                      Quote(o.accelerator));
  if (kind == AcceleratorKind::kGpu && !o.delegates.empty())
    return InputError("accelerator='gpu' cannot be combined with delegate plugins");
  if (!o.fallback.empty() && o.fallback != "cpu")
    return InputError("fallback must be 'cpu' or empty/None, got " + Quote(o.fallback));
  for (auto& d : o.delegates)
    if (d.library.empty()) return InputError("a delegate needs a library path");
  return Status::Ok();
}

AcceleratorEnv::~AcceleratorEnv() {
  if (env_) api_->LiteRtDestroyEnvironment(env_);
}

std::string AcceleratorEnv::Describe() const {
  if (kind_ == AcceleratorKind::kGpu) return "the LiteRT GPU accelerator";
  std::string s;
  for (auto& p : plugins_) {
    std::string one = p.edgetpu ? "the Edge TPU (" + p.library
                                           : "delegate plugin " + p.library + " (";
    if (p.edgetpu) {
      std::string dev;
      for (auto& kv : p.options)
        if (kv.first == "device") dev = kv.second;
      one += dev.empty() ? ", any device" : ", device " + Quote(dev);
    } else {
      one += p.options.empty() ? "no options" : "options " + JoinOptions(p.options);
    }
    s += (s.empty() ? "" : " and ") + one + ")";
  }
  return s;
}

Expected<std::shared_ptr<AcceleratorEnv>> AcquireAcceleratorEnv(const LiteRtApi* api,
                                                               const SessionOptions& options) {
  const std::string key = KeyOf(options);
  std::lock_guard<std::mutex> lock(g_env_mu);
  for (auto it = g_envs->begin(); it != g_envs->end();) {
    if (it->second.expired()) it = g_envs->erase(it);
    else ++it;
  }
  auto found = g_envs->find(key);
  if (found != g_envs->end())
    if (auto live = found->second.lock()) return live;

  std::shared_ptr<AcceleratorEnv> e(new AcceleratorEnv());
  e->api_ = api;
  e->key_ = key;
  e->kind_ = KindOf(options);
  if (e->kind_ == AcceleratorKind::kEdgeTpu) {
    auto lib = LoadEdgeTpuLibrary();
    if (!lib.ok()) return lib.status();
    PluginInfo p;
    p.label = "edgetpu";
    p.edgetpu = true;
    p.library = (*lib)->path;
    if ((*lib)->edgetpu_version) {
      const char* v = (*lib)->edgetpu_version();
      p.version = v ? v : "";
    }
    p.options = options.accelerator_options;
    p.lib = *lib;
    if ((*lib)->edgetpu_list && DevicesOf(*lib).empty())
      return DelegateError("the Edge TPU runtime " + p.library + " (" +
                           (p.version.empty() ? "unknown version" : p.version) +
                           ") finds no Edge TPU: " + kNoEdgeTpuHelp);
    e->plugins_.push_back(p);
  }
  for (auto& d : options.delegates) {
    auto lib = LoadPlugin(d.library, "delegate plugin");
    if (!lib.ok()) return lib.status();
    PluginInfo p;
    p.label = "delegate:" + Basename((*lib)->path);
    p.library = (*lib)->path;
    p.options = d.options;
    p.lib = *lib;
    e->plugins_.push_back(p);
  }

  int auto_register = kLiteRtHwAcceleratorCpu;
  std::string lib_dir;
  const EdgerunLiteRtAcceleratorDefPrefix* cpu_def = nullptr;
  if (e->kind_ == AcceleratorKind::kGpu) {
    lib_dir = Dirname(LoadedRuntime().library_path);
    EDGERUN_RETURN_IF_ERROR(CheckGpuPrerequisites(lib_dir));
    auto_register = kLiteRtHwAcceleratorCpu | kLiteRtHwAcceleratorGpu;
    e->hardware_ = kLiteRtHwAcceleratorCpu | kLiteRtHwAcceleratorGpu;
  } else {
    cpu_def = UsableCpuDef(api);
    // Plugins first, then XNNPACK: register the CPU accelerator ourselves.
    if (cpu_def) auto_register = kLiteRtHwAcceleratorNone;
  }

  auto env = CreateEnvironment(api, auto_register, lib_dir);
  if (!env.ok()) return env.status();
  e->env_ = *env;

  if (e->kind_ == AcceleratorKind::kGpu) {
    LiteRtParamIndex n = 0;
    bool gpu = false;
    api->LiteRtGetNumAccelerators(e->env_, &n);
    for (LiteRtParamIndex i = 0; i < n && !gpu; ++i) {
      LiteRtAccelerator a = nullptr;
      LiteRtHwAcceleratorSet hw = 0;
      if (api->LiteRtGetAccelerator(e->env_, i, &a) == kLiteRtStatusOk &&
          api->LiteRtGetAcceleratorHardwareSupport(a, &hw) == kLiteRtStatusOk)
        gpu = (hw & kLiteRtHwAcceleratorGpu) != 0;
    }
    if (!gpu)
      return DelegateError("accelerator 'gpu': the LiteRT GPU accelerator in " + lib_dir +
                           " could not be loaded (run with EDGERUN_LITERT_LOG=info to see the "
                           "runtime's reason)");
  }

  for (size_t i = 0; i < e->plugins_.size(); ++i) {
    const PluginInfo& p = e->plugins_[i];
    EDGERUN_RETURN_IF_ERROR(RegisterPluginAccelerator(api, e->env_, i, p.label, p.options, p.lib));
  }
  if (cpu_def) EDGERUN_RETURN_IF_ERROR(RegisterCpuAccelerator(api, e->env_, cpu_def));
  (*g_envs)[key] = e;
  return e;
}

Status AcceleratorEnv::CompileFailure(const CompileReport& r, const Status& status) const {
  auto messages_of = [&](size_t plugin) {
    std::string out;
    for (auto& m : r.messages)
      if (m.first == plugin) out += (out.empty() ? "" : "; ") + m.second;
    return out;
  };
  std::string msgs;
  for (auto& m : r.messages)
    msgs += (msgs.empty() ? "" : "; ") +
            (m.first < plugins_.size() ? plugins_[m.first].label + ": " : std::string()) + m.second;
  if (kind_ == AcceleratorKind::kGpu)
    return DelegateError(
        "the LiteRT GPU accelerator could not compile the model: it found no usable GPU "
        "(WebGPU/Vulkan adapter) or cannot run this model (" + status.message() +
        "); the runtime's log on stderr says which (EDGERUN_LITERT_LOG=info for more)");
  for (size_t i = 0; i < plugins_.size(); ++i) {
    const PluginInfo& p = plugins_[i];
    const bool refused = i < r.refused.size() && r.refused[i] > 0;
    const bool prep_failed = i < r.prepare_failures.size() && r.prepare_failures[i] > 0;
    const std::string mine = messages_of(i);
    if (refused) {
      if (p.edgetpu) {
        std::string dev;
        for (auto& kv : p.options)
          if (kv.first == "device") dev = kv.second;
        std::vector<EdgeTpuDevice> devs;
        if (p.lib) devs = DevicesOf(p.lib);
        return DelegateError("the Edge TPU runtime " + p.library + " could not open " +
                             (dev.empty() ? std::string("an Edge TPU") : "Edge TPU " + Quote(dev)) +
                             " (attached: " + DeviceList(devs) + ")" +
                             (mine.empty() ? "" : ": " + mine) +
                             "; device is '', 'usb', 'pci', ':N', 'usb:N' or 'pci:N' (N counts "
                             "devices of that type from 0); " + kNoEdgeTpuHelp);
      }
      return DelegateError("delegate plugin " + p.library + " refused to create a delegate" +
                           (p.options.empty() ? "" : " with options " + JoinOptions(p.options)) +
                           (mine.empty() ? " (it gave no reason)" : ": " + mine));
    }
    if (prep_failed)
      return DelegateError(std::string("the delegate of ") +
                           (p.edgetpu ? "the Edge TPU runtime " : "delegate plugin ") +
                           p.library + " failed while taking over the model's operators" +
                           (mine.empty() ? "" : ": " + mine));
  }
  return DelegateError("compiling the model with " + Describe() + " failed (" +
                       status.message() + ")" + (msgs.empty() ? "" : ": " + msgs) +
                       "; the runtime's log on stderr may say more");
}

Status AcceleratorEnv::WarmupFailure(const CompileReport& r, const Status& status) const {
  return DelegateError("the first (warm-up) run with " + Describe() + " failed: " +
                       status.message());
}

Status AcceleratorEnv::CheckClaims(const CompileReport& r, const std::vector<ModelOp>& ops,
                                   const std::string& origin) const {
  std::set<std::pair<int, int>> claimed;
  for (auto& c : r.claims)
    for (int n : c.nodes) claimed.insert({c.prepare_call, n});
  int unclaimed = 0, total = 0;
  for (auto& op : ops) {
    if (op.code != schema::BuiltinOperator_CUSTOM || op.custom != kEdgeTpuOp) continue;
    ++total;
    if (!claimed.count({op.subgraph, op.index})) ++unclaimed;
  }
  if (unclaimed == 0) return Status::Ok();
  return DelegateError("model " + origin + " was compiled for the Edge TPU (" +
                       std::to_string(total) + " edgetpu-custom-op operator(s)), but " +
                       std::to_string(unclaimed) + " of them were not taken by " + Describe() +
                       "; only the Edge TPU runtime can run them: use accelerator='edgetpu'");
}

std::vector<ModelOp> ListModelOps(const LiteRtApi* api, LiteRtModel model) {
  std::vector<ModelOp> out;
  LiteRtParamIndex nsub = 0;
  api->LiteRtGetNumModelSubgraphs(model, &nsub);
  for (LiteRtParamIndex g = 0; g < nsub; ++g) {
    LiteRtSubgraph sg = nullptr;
    LiteRtParamIndex nops = 0;
    if (api->LiteRtGetModelSubgraph(model, g, &sg) != kLiteRtStatusOk) continue;
    api->LiteRtGetNumSubgraphOps(sg, &nops);
    for (LiteRtParamIndex o = 0; o < nops; ++o) {
      LiteRtOp op = nullptr;
      ModelOp m;
      m.subgraph = static_cast<int>(g);
      m.index = static_cast<int>(o);
      if (api->LiteRtGetSubgraphOp(sg, o, &op) == kLiteRtStatusOk) {
        api->LiteRtGetOpCode(op, &m.code);
        const char* custom = nullptr;
        if (m.code == schema::BuiltinOperator_CUSTOM && api->LiteRtGetCustomCode(op, &custom) == kLiteRtStatusOk &&
            custom)
          m.custom = custom;
      }
      out.push_back(std::move(m));
    }
  }
  return out;
}

Status CheckModelNeedsNoDelegate(const std::vector<ModelOp>& ops, const std::string& origin) {
  int n = 0;
  for (auto& op : ops) n += op.code == schema::BuiltinOperator_CUSTOM && op.custom == kEdgeTpuOp;
  if (n == 0) return Status::Ok();
  return DelegateError("model " + origin + " was compiled for the Edge TPU: it contains " +
                       std::to_string(n) + " edgetpu-custom-op operator(s), which only Coral's "
                       "Edge TPU runtime can run. Create the session with accelerator='edgetpu' "
                       "on a machine with an Edge TPU, and " + std::string(kEdgeTpuHelp) +
                       "; or run the model as it was before edgetpu_compiler on the CPU");
}

std::vector<OpPlacement> Placement(const std::vector<ModelOp>& ops, const AcceleratorEnv* env,
                                   const CompileReport* report) {
  std::map<std::pair<int, int>, size_t> owner;
  if (env && report)
    for (auto& c : report->claims)
      for (int n : c.nodes) owner[{c.prepare_call, n}] = c.plugin;
  const std::string rest = env && env->kind() == AcceleratorKind::kGpu ? "gpu|cpu" : "cpu";
  std::vector<OpPlacement> out;
  out.reserve(ops.size());
  for (auto& op : ops) {
    OpPlacement p;
    p.subgraph = op.subgraph;
    p.index = op.index;
    p.builtin_code = op.code;
    p.custom_code = op.custom;
    auto it = owner.find({op.subgraph, op.index});
    p.accelerator = it != owner.end() && it->second < env->plugins().size()
                        ? env->plugins()[it->second].label
                        : rest;
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace runtime
}  // namespace edgerun
