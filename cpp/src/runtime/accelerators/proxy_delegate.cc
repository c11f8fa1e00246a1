#include "runtime/accelerators/proxy_delegate.h"

#include <dlfcn.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <new>

namespace edgerun {
namespace runtime {
namespace {

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

const LiteRtApi* g_api_for_callbacks = nullptr;  // set before any plugin is registered

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

// One accelerator of `env` with these callbacks; `slot` (owned from here on)
// is null for LiteRT's own CPU accelerator.
Status Register(const LiteRtApi* api, LiteRtEnvironment env, LiteRtAcceleratorGetNameFn name,
                LiteRtAcceleratorGetVersionFn version, LiteRtAcceleratorGetHardwareSupportFn hw,
                LiteRtAcceleratorIsJitFn jit, LiteRtAcceleratorCreateDelegateFn create, Slot* slot) {
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
  s = api->LiteRtRegisterAccelerator(env, a, slot, slot ? ReleaseSlot : nullptr);
  if (s != kLiteRtStatusOk)
    return RuntimeError("LiteRtRegisterAccelerator failed: " + LiteRtStatusName(s));
  return Status::Ok();
}

}  // namespace

ReportScope::ReportScope(CompileReport* report) : previous_(t_report) { t_report = report; }
ReportScope::~ReportScope() { t_report = previous_; }

Status RegisterPluginAccelerator(const LiteRtApi* api, LiteRtEnvironment env, size_t index,
                                 const std::string& label, const KeyValues& options,
                                 const PluginLibrary* lib) {
  g_api_for_callbacks = api;
  auto* slot = new Slot();
  slot->lib = lib;
  slot->index = index;
  slot->label = label;
  slot->name = "edgerun " + slot->label;
  for (auto& kv : options) {
    slot->keys.push_back(kv.first);
    slot->values.push_back(kv.second);
  }
  return Register(api, env, SlotGetName, SlotGetVersion, SlotGetHardware, nullptr, SlotCreateDelegate,
                  slot);
}

Status RegisterCpuAccelerator(const LiteRtApi* api, LiteRtEnvironment env,
                              const EdgerunLiteRtAcceleratorDefPrefix* def) {
  return Register(api, env, def->get_name, def->get_version, def->get_hardware_support, def->is_jit,
                  def->create_delegate, nullptr);
}

// The CPU accelerator definition of 2.3.0, if it is what we probed: header
// word 0x000100C8 and function pointers into libLiteRt.so itself.
const EdgerunLiteRtAcceleratorDefPrefix* UsableCpuDef(const LiteRtApi* api) {
  void* h = LiteRtLibraryHandle();
  if (!h) return nullptr;
  auto* slot = static_cast<const EdgerunLiteRtAcceleratorDefPrefix* const*>(
      dlsym(h, EDGERUN_LITERT_CPU_ACCELERATOR_DEF));
  if (!slot || !*slot) return nullptr;
  const EdgerunLiteRtAcceleratorDefPrefix* def = *slot;
  if ((def->header & 0xffffffffu) != 0x000100C8u) return nullptr;
  Dl_info self{};
  if (!dladdr(reinterpret_cast<void*>(api->LiteRtCreateEnvironment), &self))
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

}  // namespace runtime
}  // namespace edgerun
