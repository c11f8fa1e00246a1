#include "runtime/accelerators.h"

#include <dlfcn.h>
#include <link.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include "litert/tflite_delegate_abi.h"

namespace edgerun {
namespace runtime {
namespace {

constexpr int kBuiltinCustom = 32;
constexpr const char* kEdgeTpuOp = "edgetpu-custom-op";
constexpr const char* kEdgeTpuHelp =
    "install a libedgetpu.so.1 built against TensorFlow >= 2.16 headers (docs/edgetpu.md "
    "in edgerun's sources says where) or set EDGERUN_EDGETPU_LIB to its path";
// Google's prebuilt libedgetpu packages (runtime 13/14, up to the 2021 "16.0"
// release) were built with this toolchain against TensorFlow <= 2.5: their
// TfLiteRegistration is 64 bytes, the runtime reads 88 and crashes.
constexpr const char* kIncompatibleEdgeTpuBuild = "COMPILER=6.3.0 20170516";

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string Dirname(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

std::string JoinOptions(const KeyValues& kv) {
  std::string out;
  for (auto& p : kv) out += (out.empty() ? "" : ", ") + p.first + "=" + Quote(p.second);
  return out;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// ---------------------------------------------------------------------------
// Plugin libraries: loaded once per path, never unloaded (a delegate runtime
// may own threads and device handles until the process exits).
// ---------------------------------------------------------------------------
struct PluginLibrary {
  std::string requested;
  std::string path;  // the file the dynamic linker loaded
  void* handle = nullptr;
  EdgerunPluginCreateFn create = nullptr;
  EdgerunPluginDestroyFn destroy = nullptr;
  EdgerunEdgeTpuVersionFn edgetpu_version = nullptr;
  EdgerunEdgeTpuListDevicesFn edgetpu_list = nullptr;
  EdgerunEdgeTpuFreeDevicesFn edgetpu_free = nullptr;
};

std::mutex g_lib_mu;
std::map<std::string, PluginLibrary*>* g_libs = new std::map<std::string, PluginLibrary*>();

// `what` names the library in messages ("delegate plugin", "Edge TPU runtime").
Expected<const PluginLibrary*> LoadPlugin(const std::string& requested, const std::string& what) {
  std::lock_guard<std::mutex> lock(g_lib_mu);
  auto it = g_libs->find(requested);
  if (it != g_libs->end()) return static_cast<const PluginLibrary*>(it->second);
  if (requested.empty()) return DelegateError(what + ": no library path given");
  if (requested.find('/') != std::string::npos) {
    struct stat st;
    if (::stat(requested.c_str(), &st) != 0) {
      const int err = errno;
      return DelegateError(what + " " + requested + " cannot be loaded: " + std::strerror(err));
    }
    if (!S_ISREG(st.st_mode))
      return DelegateError(what + " " + requested + " cannot be loaded: not a regular file");
  }
  dlerror();
  void* h = dlopen(requested.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* e = dlerror();
    std::string err = e ? e : "dlopen failed";
    std::string hint;
    if (err.find("undefined symbol: TfLite") != std::string::npos)
      hint = " (the plugin expects the host process to export the TensorFlow Lite C API; "
             "libLiteRt.so exports none of it, so only plugins that reach the runtime "
             "through TfLiteContext, as libedgetpu does, can be loaded)";
    else if (err.find("wrong ELF class") != std::string::npos)
      hint = " (built for another architecture)";
    if (err.find("libusb-1.0") != std::string::npos)
      hint = " (libedgetpu needs libusb: install libusb-1.0-0)";
    return DelegateError(what + " " + requested + " cannot be loaded: " + err + hint);
  }
  auto* lib = new PluginLibrary();
  lib->requested = requested;
  lib->handle = h;
  lib->path = requested;
  struct link_map* lm = nullptr;
  if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name && *lm->l_name) lib->path = lm->l_name;
  lib->create = reinterpret_cast<EdgerunPluginCreateFn>(dlsym(h, "tflite_plugin_create_delegate"));
  lib->destroy = reinterpret_cast<EdgerunPluginDestroyFn>(dlsym(h, "tflite_plugin_destroy_delegate"));
  lib->edgetpu_version = reinterpret_cast<EdgerunEdgeTpuVersionFn>(dlsym(h, "edgetpu_version"));
  lib->edgetpu_list = reinterpret_cast<EdgerunEdgeTpuListDevicesFn>(dlsym(h, "edgetpu_list_devices"));
  lib->edgetpu_free = reinterpret_cast<EdgerunEdgeTpuFreeDevicesFn>(dlsym(h, "edgetpu_free_devices"));
  if (!lib->create || !lib->destroy) {
    std::string missing = !lib->create && !lib->destroy
                              ? "tflite_plugin_create_delegate and tflite_plugin_destroy_delegate"
                              : !lib->create ? "tflite_plugin_create_delegate"
                                             : "tflite_plugin_destroy_delegate";
    // The library stays loaded (its constructors ran); it is not cached, so a
    // later attempt reports the same thing.
    std::string path = lib->path;
    delete lib;
    return DelegateError(what + " " + path +
                         " is not a TensorFlow Lite delegate plugin: it does not export " + missing);
  }
  (*g_libs)[requested] = lib;
  return static_cast<const PluginLibrary*>(lib);
}

std::string EnvOr(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

Expected<const PluginLibrary*> LoadEdgeTpuLibrary() {
  const std::string env = EnvOr("EDGERUN_EDGETPU_LIB");
  Expected<const PluginLibrary*> lib = DelegateError("unset");
  if (!env.empty()) {
    lib = LoadPlugin(env, "the Edge TPU runtime (EDGERUN_EDGETPU_LIB)");
    if (!lib.ok()) return DelegateError(lib.status().message() + "; " + kEdgeTpuHelp);
  } else {
    lib = LoadPlugin("libedgetpu.so.1", "the Edge TPU runtime");
    if (!lib.ok()) {
      // Not in the linker's cache or LD_LIBRARY_PATH: try where the packages put it.
      static const char* kDirs[] = {"/usr/lib/aarch64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
                                    "/usr/lib/arm-linux-gnueabihf", "/usr/local/lib", "/usr/lib",
                                    "/usr/lib64"};
      for (const char* d : kDirs) {
        const std::string candidate = std::string(d) + "/libedgetpu.so.1";
        if (!FileExists(candidate)) continue;
        lib = LoadPlugin(candidate, "the Edge TPU runtime");
        if (!lib.ok()) return DelegateError(lib.status().message() + "; " + kEdgeTpuHelp);
        break;
      }
      if (!lib.ok()) {
        const std::string err = lib.status().message();
        if (err.find("cannot open shared object file") != std::string::npos)
          return DelegateError(
              "the Edge TPU runtime libedgetpu.so.1 is not installed (not found by the dynamic "
              "linker nor in the " + std::to_string(sizeof(kDirs) / sizeof(kDirs[0])) +
              " usual library folders; EDGERUN_EDGETPU_LIB is not set): " + kEdgeTpuHelp);
        return DelegateError(err + "; " + kEdgeTpuHelp);
      }
    }
  }
  const PluginLibrary* l = *lib;
  if (l->edgetpu_version) {
    const char* v = l->edgetpu_version();
    const std::string version = v ? v : "";
    if (version.find(kIncompatibleEdgeTpuBuild) != std::string::npos &&
        EnvOr("EDGERUN_EDGETPU_ABI_CHECK") != "0")
      return DelegateError(
          "the Edge TPU runtime " + l->path + " is Google's prebuilt release (" + version +
          "), built against TensorFlow Lite 2.5 headers: its delegate passes the runtime a "
          "TfLiteRegistration of the old size and crashes LiteRT 2.3. edgerun needs a libedgetpu "
          "built against TensorFlow >= 2.16 headers (see docs/edgetpu.md); set "
          "EDGERUN_EDGETPU_ABI_CHECK=0 only if this build is known to be one");
  }
  return l;
}

std::vector<EdgeTpuDevice> DevicesOf(const PluginLibrary* lib) {
  std::vector<EdgeTpuDevice> out;
  if (!lib->edgetpu_list) return out;
  size_t n = 0;
  EdgerunEdgeTpuDevice* devs = lib->edgetpu_list(&n);
  for (size_t i = 0; devs && i < n; ++i)
    out.push_back({devs[i].type == kEdgerunEdgeTpuApexPci ? "pci" : "usb",
                   devs[i].path ? devs[i].path : ""});
  if (devs && lib->edgetpu_free) lib->edgetpu_free(devs);
  return out;
}

std::string DeviceList(const std::vector<EdgeTpuDevice>& devs) {
  if (devs.empty()) return "none";
  std::string s;
  int usb = 0, pci = 0;
  for (auto& d : devs) {
    const int idx = d.type == "pci" ? pci++ : usb++;
    s += (s.empty() ? "" : ", ") + d.type + ":" + std::to_string(idx) + " (" + d.path + ")";
  }
  return s;
}

constexpr const char* kNoEdgeTpuHelp =
    "check that it is attached and visible: a USB Accelerator shows up in `lsusb` as "
    "1a6e:089a (before the runtime first loads its firmware) or 18d1:9302 (after); your user "
    "needs the udev rule from the libedgetpu package (plugdev group) or root; a PCIe/M.2 "
    "module needs the gasket/apex driver (/dev/apex_0, apex group)";

// ---------------------------------------------------------------------------
// The current compilation's report (one per compiling thread).
// ---------------------------------------------------------------------------
thread_local CompileReport* t_report = nullptr;

CompileReport& CurrentReport() {
  static thread_local CompileReport scratch;
  return t_report ? *t_report : scratch;
}

void Grow(CompileReport& r, size_t plugin) {
  const size_t n = plugin + 1;
  for (auto* v : {&r.created, &r.refused, &r.prepares, &r.prepare_failures})
    if (v->size() < n) v->resize(n, 0);
}

// ---------------------------------------------------------------------------
// Custom accelerators: one per plugin of an environment.
// ---------------------------------------------------------------------------
struct Slot {
  const PluginLibrary* lib = nullptr;
  size_t index = 0;
  std::string name;   // accelerator name, e.g. "edgerun edgetpu"
  std::string label;  // PluginInfo::label
  std::vector<std::string> keys, values;
};

std::mutex g_slot_mu;
std::map<LiteRtAccelerator, Slot*>* g_slots = new std::map<LiteRtAccelerator, Slot*>();

Slot* FindSlot(LiteRtAccelerator a) {
  std::lock_guard<std::mutex> lock(g_slot_mu);
  auto it = g_slots->find(a);
  return it == g_slots->end() ? nullptr : it->second;
}

void ReleaseSlot(void* data) {
  auto* slot = static_cast<Slot*>(data);
  std::lock_guard<std::mutex> lock(g_slot_mu);
  for (auto it = g_slots->begin(); it != g_slots->end(); ++it)
    if (it->second == slot) {
      g_slots->erase(it);
      break;
    }
  delete slot;
}

// The delegate the runtime sees: the plugin's, with Prepare interposed.
struct ProxyDelegate {
  EdgerunTfLiteDelegate base;  // first member: &proxy->base == proxy
  EdgerunTfLiteDelegate* inner = nullptr;
  const PluginLibrary* lib = nullptr;
  size_t plugin = 0;
  std::string label;
  int prepare_calls = 0;
  // The context copy handed to the plugin's Prepare; spare zeroed room after
  // it in case the runtime's struct has grown (never read by edgerun).
  struct {
    EdgerunTfLiteContext ctx;
    unsigned char spare[512];
  } context_copy;
};

struct PrepareState {
  ProxyDelegate* proxy = nullptr;
  EdgerunTfLiteContext* real = nullptr;
  EdgerunTfLiteContext* copy = nullptr;
  int call = 0;
};
thread_local PrepareState t_prepare;

void RefreshCopy() {
  if (!t_prepare.real) return;
  t_prepare.copy->tensors = t_prepare.real->tensors;
  t_prepare.copy->tensors_size = t_prepare.real->tensors_size;
}

EdgerunTfLiteStatus InterposedReplace(EdgerunTfLiteContext* ctx, EdgerunTfLiteRegistration reg,
                                      const EdgerunTfLiteIntArray* nodes,
                                      EdgerunTfLiteDelegate* delegate) {
  PrepareState st = t_prepare;
  if (!st.real) return kEdgerunTfLiteError;
  if (delegate == st.proxy->inner) delegate = &st.proxy->base;
  EdgerunTfLiteStatus s =
      st.real->ReplaceNodeSubsetsWithDelegateKernels(st.real, reg, nodes, delegate);
  if (s == kEdgerunTfLiteOk && nodes) {
    CompileReport& r = CurrentReport();
    CompileReport::Claim c;
    c.plugin = st.proxy->plugin;
    c.prepare_call = st.call;
    c.nodes.assign(nodes->data, nodes->data + nodes->size);
    r.claims.push_back(std::move(c));
  }
  RefreshCopy();
  return s;
}

void InterposedReportError(EdgerunTfLiteContext* ctx, const char* format, ...) {
  char buf[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buf, sizeof(buf), format ? format : "", args);
  va_end(args);
  PrepareState st = t_prepare;
  if (st.proxy) CurrentReport().messages.push_back({st.proxy->plugin, buf});
  if (st.real && st.real->ReportError) st.real->ReportError(st.real, "%s", buf);
}

EdgerunTfLiteStatus ProxyPrepare(EdgerunTfLiteContext* ctx, EdgerunTfLiteDelegate* delegate) {
  auto* proxy = reinterpret_cast<ProxyDelegate*>(delegate);
  CompileReport& r = CurrentReport();
  Grow(r, proxy->plugin);
  r.prepares[proxy->plugin]++;
  if (!proxy->inner->Prepare) {
    r.messages.push_back({proxy->plugin, "its delegate has no Prepare function"});
    r.prepare_failures[proxy->plugin]++;
    return kEdgerunTfLiteError;
  }
  std::memset(&proxy->context_copy, 0, sizeof(proxy->context_copy));
  std::memcpy(&proxy->context_copy.ctx, ctx, sizeof(EdgerunTfLiteContext));
  proxy->context_copy.ctx.ReplaceNodeSubsetsWithDelegateKernels = InterposedReplace;
  proxy->context_copy.ctx.ReportError = InterposedReportError;
  PrepareState saved = t_prepare;
  t_prepare = {proxy, ctx, &proxy->context_copy.ctx, proxy->prepare_calls++};
  EdgerunTfLiteStatus s = proxy->inner->Prepare(&proxy->context_copy.ctx, proxy->inner);
  t_prepare = saved;
  if (s != kEdgerunTfLiteOk) r.prepare_failures[proxy->plugin]++;
  return s;
}

void DeleteProxy(void* d) {
  auto* proxy = static_cast<ProxyDelegate*>(d);
  proxy->lib->destroy(proxy->inner);
  delete proxy;
}

thread_local std::string* t_create_messages = nullptr;

void PluginReportError(const char* message) {
  if (t_create_messages && message)
    *t_create_messages += (t_create_messages->empty() ? "" : "; ") + std::string(message);
}

LiteRtStatus SlotGetName(LiteRtAccelerator a, const char** name) {
  Slot* s = FindSlot(a);
  if (!s || !name) return kLiteRtStatusErrorInvalidArgument;
  *name = s->name.c_str();
  return kLiteRtStatusOk;
}

LiteRtStatus SlotGetVersion(LiteRtAccelerator, LiteRtApiVersion* v) {
  if (!v) return kLiteRtStatusErrorInvalidArgument;
  v->major = 1;
  v->minor = 0;
  v->patch = 0;
  return kLiteRtStatusOk;
}

// CPU, not NPU: an accelerator advertising the NPU bit is never applied by
// LiteRT 2.3, and the plugin's delegate runs inside the CPU graph anyway.
LiteRtStatus SlotGetHardware(LiteRtAccelerator, LiteRtHwAcceleratorSet* hw) {
  if (!hw) return kLiteRtStatusErrorInvalidArgument;
  *hw = kLiteRtHwAcceleratorCpu;
  return kLiteRtStatusOk;
}

const LiteRtApi* g_api_for_callbacks = nullptr;

LiteRtStatus SlotCreateDelegate(LiteRtRuntimeContext*, LiteRtEnvironment, LiteRtAccelerator a,
                                LiteRtOptions, LiteRtDelegateWrapper* wrapper) {
  Slot* slot = FindSlot(a);
  if (!slot || !wrapper || !g_api_for_callbacks) return kLiteRtStatusErrorInvalidArgument;
  CompileReport& r = CurrentReport();
  Grow(r, slot->index);
  std::vector<char*> keys, values;
  for (auto& k : slot->keys) keys.push_back(const_cast<char*>(k.c_str()));
  for (auto& v : slot->values) values.push_back(const_cast<char*>(v.c_str()));
  std::string messages;
  t_create_messages = &messages;
  EdgerunTfLiteDelegate* d = slot->lib->create(keys.data(), values.data(), keys.size(), PluginReportError);
  t_create_messages = nullptr;
  if (!messages.empty()) r.messages.push_back({slot->index, messages});
  if (!d) {
    r.refused[slot->index]++;
    return kLiteRtStatusErrorRuntimeFailure;
  }
  r.created[slot->index]++;
  auto* proxy = new (std::nothrow) ProxyDelegate();
  if (!proxy) {
    slot->lib->destroy(d);
    return kLiteRtStatusErrorMemoryAllocationFailure;
  }
  proxy->base = *d;
  proxy->inner = d;
  proxy->lib = slot->lib;
  proxy->plugin = slot->index;
  proxy->label = slot->label;
  if (d->opaque_delegate_builder == nullptr) proxy->base.Prepare = ProxyPrepare;
  // else: an opaque (TfLiteOpaqueDelegateBuilder) delegate; the runtime calls
  // its builder, edgerun sees no claims (placement reports it as unknown work).
  LiteRtStatus s = g_api_for_callbacks->LiteRtWrapDelegate(&proxy->base, DeleteProxy, wrapper);
  if (s != kLiteRtStatusOk) DeleteProxy(proxy);
  return s;
}

// The CPU accelerator definition of 2.3.0, if it is what we probed: header
// word 0x000100C8 and function pointers into libLiteRt.so itself.
const EdgerunLiteRtAcceleratorDefPrefix* UsableCpuDef() {
  void* h = LiteRtLibraryHandle();
  if (!h) return nullptr;
  auto* slot = static_cast<const EdgerunLiteRtAcceleratorDefPrefix* const*>(
      dlsym(h, EDGERUN_LITERT_CPU_ACCELERATOR_DEF));
  if (!slot || !*slot) return nullptr;
  const EdgerunLiteRtAcceleratorDefPrefix* def = *slot;
  if ((def->header & 0xffffffffu) != 0x000100C8u) return nullptr;
  Dl_info self{};
  if (!dladdr(reinterpret_cast<void*>(g_api_for_callbacks->LiteRtCreateEnvironment), &self))
    return nullptr;
  const void* fns[] = {reinterpret_cast<const void*>(def->get_name),
                       reinterpret_cast<const void*>(def->get_version),
                       reinterpret_cast<const void*>(def->get_hardware_support),
                       reinterpret_cast<const void*>(def->create_delegate)};
  for (const void* f : fns) {
    Dl_info info{};
    if (!f || !dladdr(f, &info) || info.dli_fbase != self.dli_fbase) return nullptr;
  }
  return def;
}

// ---------------------------------------------------------------------------
// Environment cache
// ---------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------
// Public
// ---------------------------------------------------------------------------
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

ReportScope::ReportScope(CompileReport* report) : previous_(t_report) { t_report = report; }
ReportScope::~ReportScope() { t_report = previous_; }

bool UsesAcceleratorEnv(const SessionOptions& o) {
  return o.accelerator != "cpu" || !o.delegates.empty();
}

Status ValidateAcceleratorOptions(const SessionOptions& o) {
  if (o.accelerator != "cpu" && o.accelerator != "edgetpu" && o.accelerator != "gpu")
    return InputError("accelerator " + Quote(o.accelerator) +
                      " is not supported; supported: 'cpu', 'edgetpu', 'gpu' (other delegate "
                      "plugins: delegates=[Delegate(path, options)])");
  if (!o.accelerator_options.empty() && o.accelerator != "edgetpu")
    return InputError("accelerator_options (" + JoinOptions(o.accelerator_options) +
                      ") apply to accelerator='edgetpu' only; accelerator is " +
                      Quote(o.accelerator));
  if (o.accelerator == "gpu" && !o.delegates.empty())
    return InputError("accelerator='gpu' cannot be combined with delegate plugins");
  if (!o.fallback.empty() && o.fallback != "cpu")
    return InputError("fallback must be 'cpu' or empty/None, got " + Quote(o.fallback));
  for (auto& d : o.delegates)
    if (d.library.empty()) return InputError("a delegate needs a library path");
  return Status::Ok();
}

}  // namespace runtime

Expected<EdgeTpuRuntimeInfo> LoadEdgeTpuRuntime() {
  auto lib = runtime::LoadEdgeTpuLibrary();
  if (!lib.ok()) return lib.status();
  EdgeTpuRuntimeInfo info;
  info.library = (*lib)->path;
  if ((*lib)->edgetpu_version) {
    const char* v = (*lib)->edgetpu_version();
    info.version = v ? v : "";
  }
  return info;
}

Expected<std::vector<EdgeTpuDevice>> ListEdgeTpuDevices() {
  auto lib = runtime::LoadEdgeTpuLibrary();
  if (!lib.ok()) return lib.status();
  if (!(*lib)->edgetpu_list)
    return DelegateError("the Edge TPU runtime " + (*lib)->path +
                         " does not export edgetpu_list_devices(); it cannot list devices");
  return runtime::DevicesOf(*lib);
}

namespace runtime {

struct AcceleratorEnv::Impl {};

AcceleratorEnv::~AcceleratorEnv() {
  if (env_) api_->LiteRtDestroyEnvironment(env_);
}

std::string AcceleratorEnv::Describe() const {
  if (kind_ == "gpu") return "the LiteRT GPU accelerator";
  std::string s;
  for (auto& p : plugins_) {
    std::string one = p.label == "edgetpu" ? "the Edge TPU (" + p.library
                                           : "delegate plugin " + p.library + " (";
    if (p.label == "edgetpu") {
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
  g_api_for_callbacks = api;
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
  e->kind_ = options.accelerator == "cpu" ? "delegates" : options.accelerator;
  std::vector<const PluginLibrary*> libs;
  if (options.accelerator == "edgetpu") {
    auto lib = LoadEdgeTpuLibrary();
    if (!lib.ok()) return lib.status();
    PluginInfo p;
    p.label = "edgetpu";
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
    libs.push_back(*lib);
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
    libs.push_back(*lib);
  }

  int auto_register = kLiteRtHwAcceleratorCpu;
  std::string lib_dir;
  const EdgerunLiteRtAcceleratorDefPrefix* cpu_def = nullptr;
  if (e->kind_ == "gpu") {
    lib_dir = Dirname(LoadedRuntime().library_path);
    EDGERUN_RETURN_IF_ERROR(CheckGpuPrerequisites(lib_dir));
    auto_register = kLiteRtHwAcceleratorCpu | kLiteRtHwAcceleratorGpu;
    e->hardware_ = kLiteRtHwAcceleratorCpu | kLiteRtHwAcceleratorGpu;
  } else {
    cpu_def = UsableCpuDef();
    // Plugins first, then XNNPACK: register the CPU accelerator ourselves.
    if (cpu_def) auto_register = kLiteRtHwAcceleratorNone;
  }

  LiteRtEnvOption opts[3];
  std::memset(opts, 0, sizeof(opts));
  opts[0].tag = kLiteRtEnvOptionTagAutoRegisterAccelerators;
  opts[0].value.type = kLiteRtAnyTypeInt;
  opts[0].value.int_value = auto_register;
  opts[1].tag = kLiteRtEnvOptionTagMinLoggerSeverity;
  opts[1].value.type = kLiteRtAnyTypeInt;
  opts[1].value.int_value = LogSeverityFromEnv();
  int nopts = 2;
  if (!lib_dir.empty()) {
    opts[2].tag = kLiteRtEnvOptionTagRuntimeLibraryDir;
    opts[2].value.type = kLiteRtAnyTypeString;
    opts[2].value.str_value = lib_dir.c_str();
    nopts = 3;
  }
  LiteRtStatus st = api->LiteRtCreateEnvironment(nopts, opts, &e->env_);
  if (st != kLiteRtStatusOk || !e->env_) {
    e->env_ = nullptr;
    return RuntimeError("LiteRtCreateEnvironment failed: " + LiteRtStatusName(st));
  }

  if (e->kind_ == "gpu") {
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

  auto register_one = [&](LiteRtAcceleratorGetNameFn name, LiteRtAcceleratorGetVersionFn version,
                          LiteRtAcceleratorGetHardwareSupportFn hw, LiteRtAcceleratorIsJitFn jit,
                          LiteRtAcceleratorCreateDelegateFn create, Slot* slot) -> Status {
    LiteRtAccelerator a = nullptr;
    LiteRtStatus s = api->LiteRtCreateAccelerator(&a);
    if (s != kLiteRtStatusOk || !a) {
      delete slot;
      return RuntimeError("LiteRtCreateAccelerator failed: " + LiteRtStatusName(s));
    }
    if (slot) {
      std::lock_guard<std::mutex> l(g_slot_mu);
      (*g_slots)[a] = slot;
    }
    api->LiteRtSetAcceleratorGetName(a, name);
    api->LiteRtSetAcceleratorGetVersion(a, version);
    api->LiteRtSetAcceleratorGetHardwareSupport(a, hw);
    if (jit) api->LiteRtSetIsAcceleratorDelegateResponsibleForJitCompilation(a, jit);
    api->LiteRtSetDelegateFunction(a, create);
    // On failure the runtime releases the accelerator and the data.
    s = api->LiteRtRegisterAccelerator(e->env_, a, slot, slot ? ReleaseSlot : nullptr);
    if (s != kLiteRtStatusOk)
      return RuntimeError("LiteRtRegisterAccelerator failed: " + LiteRtStatusName(s));
    return Status::Ok();
  };
  for (size_t i = 0; i < e->plugins_.size(); ++i) {
    auto* slot = new Slot();
    slot->lib = libs[i];
    slot->index = i;
    slot->label = e->plugins_[i].label;
    slot->name = "edgerun " + slot->label;
    for (auto& kv : e->plugins_[i].options) {
      slot->keys.push_back(kv.first);
      slot->values.push_back(kv.second);
    }
    EDGERUN_RETURN_IF_ERROR(register_one(SlotGetName, SlotGetVersion, SlotGetHardware, nullptr,
                                         SlotCreateDelegate, slot));
  }
  if (cpu_def)
    EDGERUN_RETURN_IF_ERROR(register_one(cpu_def->get_name, cpu_def->get_version,
                                         cpu_def->get_hardware_support, cpu_def->is_jit,
                                         cpu_def->create_delegate, nullptr));
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
  if (kind_ == "gpu")
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
      if (p.label == "edgetpu") {
        std::string dev;
        for (auto& kv : p.options)
          if (kv.first == "device") dev = kv.second;
        std::vector<EdgeTpuDevice> devs;
        if (p.lib) devs = DevicesOf(static_cast<const PluginLibrary*>(p.lib));
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
                           (p.label == "edgetpu" ? "the Edge TPU runtime " : "delegate plugin ") +
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
    if (op.code != kBuiltinCustom || op.custom != kEdgeTpuOp) continue;
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
        if (m.code == kBuiltinCustom && api->LiteRtGetCustomCode(op, &custom) == kLiteRtStatusOk &&
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
  for (auto& op : ops) n += op.code == kBuiltinCustom && op.custom == kEdgeTpuOp;
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
  const std::string rest = env && env->kind() == "gpu" ? "gpu|cpu" : "cpu";
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
