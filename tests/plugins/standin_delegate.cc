// A stand-in external-delegate plugin for edgerun's tests (no Edge TPU or
// vendor delegate exists on a CI machine). It exports the classic plugin entry
// points that libedgetpu.so.1 and other delegate plugins export:
//
//   tflite_plugin_create_delegate(keys, values, n, report_error)
//   tflite_plugin_destroy_delegate(delegate)
//
// and, so that the Edge TPU code path can be tested with it too, the parts of
// libedgetpu's C API that edgerun uses: edgetpu_version(), edgetpu_list_devices(),
// edgetpu_free_devices().
//
// The delegate claims every node of the custom operators "EdgerunStandinAdd"
// and "edgetpu-custom-op" (the name libedgetpu claims) and computes them as an
// element-wise ADD of their two inputs (equal shapes or a one-element second
// input; float32, int32, or int8/uint8 with one shared quantization), followed
// by the fused activation in the first byte of the custom options (0 none,
// 1 RELU, 2 RELU_N1_TO_1, 3 RELU6; float32 only). Tests rewrite a real model's
// ADD operators into that custom op; the outputs must not change.
//
// Built by the test suite (fixture standin_plugin in tests/conftest.py) against edgerun's own
// declarations of the TFLite delegate ABI (third_party/litert/tflite_delegate_abi.h).
// It uses no symbol from the runtime: everything goes through the function
// pointers in TfLiteContext (libLiteRt.so exports no TfLite* function).
//
// Options (key -> value; anything else is refused, through report_error):
//   "fail"      "create": refuse to create the delegate;
//               "prepare": the delegate's Prepare returns an error;
//               "invoke": every kernel invocation returns an error.
//   "custom_op" claim this custom op name instead of the two defaults.
//   "builtin_add" "1": also claim the builtin ADD operators (float32, fused
//               activation from their options): shows that plugins see the
//               graph before XNNPACK, which would otherwise take every ADD.
//   "tag..."    any key starting with "tag", any value; recorded (see standin_options()).
//   "device"    Edge TPU style: "", "usb", "pci", ":N", "usb:N", "pci:N"; no
//               delegate (nullptr, no message: what libedgetpu does) when no
//               listed device matches.
//
// Environment (read at call time, so a test can change it in-process):
//   STANDIN_EDGETPU_VERSION  what edgetpu_version() returns
//   STANDIN_EDGETPU_DEVICES  comma-separated "usb:/path" / "pci:/path" entries
//                            (default: one USB device); "none" = no devices
//
// Counters readable from the test (ctypes): standin_invocations(),
// standin_delegates_created(), standin_delegates_alive(), standin_nodes_claimed(),
// standin_options() ("k=v" lines of the last create call), standin_reset().
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "litert/tflite_delegate_abi.h"

#define STANDIN_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

std::atomic<long long> g_invocations{0};
std::atomic<long long> g_created{0};
std::atomic<long long> g_alive{0};
std::atomic<long long> g_claimed{0};
std::mutex g_mu;
std::string g_options;  // of the last create call

struct StandinDelegate {
  EdgerunTfLiteDelegate base;  // first: the runtime sees a TfLiteDelegate*
  std::vector<std::string> ops;
  bool builtin_add = false;
  bool fail_prepare = false;
  bool fail_invoke = false;
};

struct Kernel {
  int in0 = -1, in1 = -1, out = -1;
  int activation = 0;
  bool fail_invoke = false;
};

const char* kKernelName = "EdgerunStandinDelegate";
constexpr int kBuiltinAdd = 0;

std::vector<std::pair<std::string, std::string>> ListedDevices() {
  std::vector<std::pair<std::string, std::string>> devs;
  const char* env = std::getenv("STANDIN_EDGETPU_DEVICES");
  std::string spec = env ? env : "usb:/sys/bus/usb/devices/standin-1";
  if (spec == "none" || spec.empty()) return devs;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t end = spec.find(',', start);
    if (end == std::string::npos) end = spec.size();
    std::string item = spec.substr(start, end - start);
    size_t colon = item.find(':');
    if (colon != std::string::npos) devs.push_back({item.substr(0, colon), item.substr(colon + 1)});
    start = end + 1;
  }
  return devs;
}

// libedgetpu's "device" option: "", "usb", "pci", ":N", "usb:N", "pci:N".
bool DeviceMatches(const std::string& device) {
  auto devs = ListedDevices();
  if (device.empty()) return !devs.empty();
  std::string type = device, index;
  size_t colon = device.find(':');
  if (colon != std::string::npos) {
    type = device.substr(0, colon);
    index = device.substr(colon + 1);
  }
  if (type != "" && type != "usb" && type != "pci") return false;
  int want = -1;
  if (!index.empty()) {
    char* end = nullptr;
    long v = std::strtol(index.c_str(), &end, 10);
    if (*end != '\0' || v < 0) return false;
    want = static_cast<int>(v);
  }
  int seen = 0;
  for (auto& d : devs) {
    if (!type.empty() && d.first != type) continue;
    if (want < 0 || seen == want) return true;
    ++seen;
  }
  return false;
}

EdgerunTfLiteTensor* Tensor(EdgerunTfLiteContext* ctx, int i) { return &ctx->tensors[i]; }

size_t Elements(const EdgerunTfLiteTensor* t) {
  size_t n = 1;
  for (int d = 0; d < t->dims->size; ++d) n *= static_cast<size_t>(t->dims->data[d]);
  return n;
}

void* KernelInit(EdgerunTfLiteContext* ctx, const char* buffer, size_t) {
  const auto* params = reinterpret_cast<const EdgerunTfLiteDelegateParams*>(buffer);
  if (!params || params->nodes_to_replace->size != 1) return nullptr;
  EdgerunTfLiteNode* node = nullptr;
  EdgerunTfLiteRegistration* reg = nullptr;
  if (ctx->GetNodeAndRegistration(ctx, params->nodes_to_replace->data[0], &node, &reg) !=
      kEdgerunTfLiteOk)
    return nullptr;
  auto* k = new (std::nothrow) Kernel();
  if (!k) return nullptr;
  k->in0 = node->inputs->data[0];
  k->in1 = node->inputs->data[1];
  k->out = node->outputs->data[0];
  if (reg->builtin_code == kBuiltinAdd) {
    // TfLiteAddParams: the fused activation is its first field (an int enum
    // numbered like the schema's ActivationFunctionType).
    if (node->builtin_data) k->activation = *static_cast<const int*>(node->builtin_data);
  } else if (node->custom_initial_data_size >= 1) {
    k->activation = static_cast<const unsigned char*>(node->custom_initial_data)[0];
  }
  // data_, not a cast of the delegate pointer: the host may hand the runtime a
  // proxy TfLiteDelegate that shares our data_ (edgerun does).
  k->fail_invoke = static_cast<StandinDelegate*>(params->delegate->data_)->fail_invoke;
  return k;
}

void KernelFree(EdgerunTfLiteContext*, void* buffer) { delete static_cast<Kernel*>(buffer); }

EdgerunTfLiteStatus KernelPrepare(EdgerunTfLiteContext* ctx, EdgerunTfLiteNode* node) {
  auto* k = static_cast<Kernel*>(node->user_data);
  if (!k) {
    ctx->ReportError(ctx, "stand-in delegate: kernel was not initialized");
    return kEdgerunTfLiteError;
  }
  return kEdgerunTfLiteOk;
}

template <class T>
void AddInts(const T* a, const T* b, size_t nb, T* y, size_t n, int zp, int lo, int hi) {
  for (size_t i = 0; i < n; ++i) {
    int v = int(a[i]) + int(b[nb == 1 ? 0 : i]) - zp;
    y[i] = static_cast<T>(v < lo ? lo : v > hi ? hi : v);
  }
}

EdgerunTfLiteStatus KernelInvoke(EdgerunTfLiteContext* ctx, EdgerunTfLiteNode* node) {
  auto* k = static_cast<Kernel*>(node->user_data);
  g_invocations.fetch_add(1, std::memory_order_relaxed);
  if (k->fail_invoke) {
    ctx->ReportError(ctx, "stand-in delegate: invoke failed as requested (fail=invoke)");
    return kEdgerunTfLiteError;
  }
  const EdgerunTfLiteTensor* a = Tensor(ctx, k->in0);
  const EdgerunTfLiteTensor* b = Tensor(ctx, k->in1);
  EdgerunTfLiteTensor* y = Tensor(ctx, k->out);
  const size_t n = Elements(y), nb = Elements(b);
  if (Elements(a) != n || (nb != n && nb != 1) || a->type != y->type || b->type != y->type) {
    ctx->ReportError(ctx, "stand-in delegate: unsupported shapes or types");
    return kEdgerunTfLiteError;
  }
  switch (y->type) {
    case kEdgerunTfLiteFloat32: {
      const float* pa = static_cast<const float*>(a->data);
      const float* pb = static_cast<const float*>(b->data);
      float* py = static_cast<float*>(y->data);
      for (size_t i = 0; i < n; ++i) {
        float v = pa[i] + pb[nb == 1 ? 0 : i];
        switch (k->activation) {
          case 1: v = v < 0.f ? 0.f : v; break;
          case 2: v = v < -1.f ? -1.f : v > 1.f ? 1.f : v; break;
          case 3: v = v < 0.f ? 0.f : v > 6.f ? 6.f : v; break;
          default: break;
        }
        py[i] = v;
      }
      return kEdgerunTfLiteOk;
    }
    case kEdgerunTfLiteInt32: {
      const int32_t* pa = static_cast<const int32_t*>(a->data);
      const int32_t* pb = static_cast<const int32_t*>(b->data);
      int32_t* py = static_cast<int32_t*>(y->data);
      for (size_t i = 0; i < n; ++i) py[i] = pa[i] + pb[nb == 1 ? 0 : i];
      return kEdgerunTfLiteOk;
    }
    case kEdgerunTfLiteInt8:
      AddInts(static_cast<const int8_t*>(a->data), static_cast<const int8_t*>(b->data), nb,
              static_cast<int8_t*>(y->data), n, y->zero_point, -128, 127);
      return kEdgerunTfLiteOk;
    case kEdgerunTfLiteUInt8:
      AddInts(static_cast<const uint8_t*>(a->data), static_cast<const uint8_t*>(b->data), nb,
              static_cast<uint8_t*>(y->data), n, y->zero_point, 0, 255);
      return kEdgerunTfLiteOk;
    default:
      ctx->ReportError(ctx, "stand-in delegate: unsupported tensor type %d", y->type);
      return kEdgerunTfLiteError;
  }
}

EdgerunTfLiteStatus DelegatePrepare(EdgerunTfLiteContext* ctx, EdgerunTfLiteDelegate* delegate) {
  auto* self = static_cast<StandinDelegate*>(delegate->data_);
  if (self->fail_prepare) {
    ctx->ReportError(ctx, "stand-in delegate: Prepare failed as requested (fail=prepare)");
    return kEdgerunTfLiteError;
  }
  EdgerunTfLiteIntArray* plan = nullptr;
  if (ctx->GetExecutionPlan(ctx, &plan) != kEdgerunTfLiteOk) return kEdgerunTfLiteError;
  std::vector<int> claim;
  for (int i = 0; i < plan->size; ++i) {
    EdgerunTfLiteNode* node = nullptr;
    EdgerunTfLiteRegistration* reg = nullptr;
    if (ctx->GetNodeAndRegistration(ctx, plan->data[i], &node, &reg) != kEdgerunTfLiteOk)
      return kEdgerunTfLiteError;
    bool ours = false;
    if (reg->builtin_code == kBuiltinAdd) {
      ours = self->builtin_add && node->inputs->size == 2 &&
             ctx->tensors[node->inputs->data[0]].type == kEdgerunTfLiteFloat32;
    } else if (reg->builtin_code == kEdgerunTfLiteBuiltinCustom && reg->custom_name) {
      for (auto& op : self->ops) ours = ours || op == reg->custom_name;
    }
    if (ours && node->inputs->size == 2 && node->outputs->size == 1) claim.push_back(plan->data[i]);
  }
  EdgerunTfLiteRegistration kernel;
  std::memset(&kernel, 0, sizeof(kernel));
  kernel.init = KernelInit;
  kernel.free = KernelFree;
  kernel.prepare = KernelPrepare;
  kernel.invoke = KernelInvoke;
  kernel.builtin_code = kEdgerunTfLiteBuiltinCustom;
  kernel.custom_name = kKernelName;
  kernel.version = 1;
  // One delegate kernel per claimed node, as libedgetpu does.
  alignas(EdgerunTfLiteIntArray) unsigned char storage[sizeof(EdgerunTfLiteIntArray) + sizeof(int)];
  auto* nodes = reinterpret_cast<EdgerunTfLiteIntArray*>(storage);
  nodes->size = 1;
  for (int index : claim) {
    nodes->data[0] = index;
    if (ctx->ReplaceNodeSubsetsWithDelegateKernels(ctx, kernel, nodes, delegate) != kEdgerunTfLiteOk)
      return kEdgerunTfLiteError;
    g_claimed.fetch_add(1, std::memory_order_relaxed);
  }
  return kEdgerunTfLiteOk;
}

}  // namespace

STANDIN_EXPORT EdgerunTfLiteDelegate* tflite_plugin_create_delegate(
    char** keys, char** values, size_t n, EdgerunPluginErrorHandler report_error) {
  std::string recorded;
  auto* d = new (std::nothrow) StandinDelegate();
  if (!d) return nullptr;
  std::memset(&d->base, 0, sizeof(d->base));
  d->base.data_ = d;
  d->base.Prepare = DelegatePrepare;
  // As libedgetpu does. Without this flag the runtime allocates (prepares) the
  // whole graph before calling Prepare, and the custom op that only this
  // delegate understands fails there as an unresolved custom op.
  d->base.flags = 1;  // kTfLiteDelegateFlagsAllowDynamicTensors
  std::string custom_op, device;
  bool has_device = false, fail_create = false;
  for (size_t i = 0; i < n; ++i) {
    const std::string k = keys[i], v = values[i];
    recorded += k + "=" + v + "\n";
    if (k == "fail") {
      if (v == "create") fail_create = true;
      else if (v == "prepare") d->fail_prepare = true;
      else if (v == "invoke") d->fail_invoke = true;
      else {
        if (report_error) report_error(("stand-in delegate: bad value for 'fail': '" + v + "'").c_str());
        delete d;
        return nullptr;
      }
    } else if (k == "custom_op") {
      custom_op = v;
    } else if (k == "builtin_add") {
      d->builtin_add = v == "1";
    } else if (k.rfind("tag", 0) == 0) {
    } else if (k == "device") {
      has_device = true;
      device = v;
    } else {
      if (report_error) report_error(("stand-in delegate: unknown option '" + k + "'").c_str());
      delete d;
      return nullptr;
    }
  }
  {
    std::lock_guard<std::mutex> lock(g_mu);
    g_options = recorded;
  }
  if (fail_create) {
    if (report_error) report_error("stand-in delegate: refusing to create a delegate (fail=create)");
    delete d;
    return nullptr;
  }
  if (has_device && !DeviceMatches(device)) {
    delete d;  // libedgetpu returns nullptr without a message here
    return nullptr;
  }
  if (custom_op.empty()) d->ops = {"EdgerunStandinAdd", "edgetpu-custom-op"};
  else d->ops = {custom_op};
  g_created.fetch_add(1);
  g_alive.fetch_add(1);
  return &d->base;
}

STANDIN_EXPORT void tflite_plugin_destroy_delegate(EdgerunTfLiteDelegate* delegate) {
  if (!delegate) return;
  g_alive.fetch_sub(1);
  delete reinterpret_cast<StandinDelegate*>(delegate);
}

// ---- libedgetpu C API look-alikes --------------------------------------------
STANDIN_EXPORT const char* edgetpu_version() {
  static thread_local std::string v;
  const char* env = std::getenv("STANDIN_EDGETPU_VERSION");
  v = env ? env : "BuildLabel(COMPILER=edgerun-standin,DATE=redacted,TIME=redacted), RuntimeVersion(14)";
  return v.c_str();
}

STANDIN_EXPORT EdgerunEdgeTpuDevice* edgetpu_list_devices(size_t* num_devices) {
  auto devs = ListedDevices();
  *num_devices = devs.size();
  if (devs.empty()) return nullptr;
  size_t size = sizeof(EdgerunEdgeTpuDevice) * devs.size();
  for (auto& d : devs) size += d.second.size() + 1;
  char* memory = new char[size];
  auto* out = reinterpret_cast<EdgerunEdgeTpuDevice*>(memory);
  char* paths = memory + sizeof(EdgerunEdgeTpuDevice) * devs.size();
  for (size_t i = 0; i < devs.size(); ++i) {
    out[i].type = devs[i].first == "pci" ? kEdgerunEdgeTpuApexPci : kEdgerunEdgeTpuApexUsb;
    out[i].path = paths;
    std::memcpy(paths, devs[i].second.c_str(), devs[i].second.size() + 1);
    paths += devs[i].second.size() + 1;
  }
  return out;
}

STANDIN_EXPORT void edgetpu_free_devices(EdgerunEdgeTpuDevice* devices) {
  delete[] reinterpret_cast<char*>(devices);
}

// ---- test hooks ----------------------------------------------------------------
STANDIN_EXPORT long long standin_invocations() { return g_invocations.load(); }
STANDIN_EXPORT long long standin_delegates_created() { return g_created.load(); }
STANDIN_EXPORT long long standin_delegates_alive() { return g_alive.load(); }
STANDIN_EXPORT long long standin_nodes_claimed() { return g_claimed.load(); }
STANDIN_EXPORT const char* standin_options() {
  static thread_local std::string copy;
  std::lock_guard<std::mutex> lock(g_mu);
  copy = g_options;
  return copy.c_str();
}
STANDIN_EXPORT void standin_reset() {
  g_invocations = 0;
  g_created = 0;
  g_claimed = 0;
  std::lock_guard<std::mutex> lock(g_mu);
  g_options.clear();
}
