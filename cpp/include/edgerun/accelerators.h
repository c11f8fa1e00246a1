// Accelerators beyond the CPU: external TFLite delegate plugins (the classic
// tflite_plugin_create_delegate / tflite_plugin_destroy_delegate entry points),
// Coral's Edge TPU runtime (libedgetpu.so.1, such a plugin), and the LiteRT GPU
// accelerator shipped in the ai-edge-litert wheel.
//
// Selected through SessionOptions (session.h): `accelerator` ("cpu", "edgetpu",
// "gpu"), `accelerator_options`, `delegates`, `fallback`.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "edgerun/status.h"

namespace edgerun {

using KeyValues = std::vector<std::pair<std::string, std::string>>;

// A delegate plugin: a shared library exporting tflite_plugin_create_delegate
// and tflite_plugin_destroy_delegate (libedgetpu.so.1, ArmNN's delegate, a
// vendor NPU delegate...). `options` are passed through as key/value strings.
// The plugin must be built against TensorFlow Lite >= 2.16 headers (the
// TfLiteRegistration it hands the runtime by value changed size before that).
struct DelegateSpec {
  std::string library;  // a path, or a bare soname searched like dlopen does
  KeyValues options;
};

// Where one model operator runs after compilation.
struct OpPlacement {
  int subgraph = 0;
  int index = 0;            // operator index in the subgraph
  int builtin_code = 0;     // TFLite BuiltinOperator (32 = CUSTOM)
  std::string custom_code;  // for custom operators
  // "cpu" (XNNPACK or the runtime's own kernels), "edgetpu", "delegate:<name>"
  // (a plugin from SessionOptions::delegates), or "gpu|cpu" (accelerator "gpu":
  // the runtime does not report which operators its GPU delegate took).
  std::string accelerator;
};

struct EdgeTpuDevice {
  std::string type;  // "usb" or "pci"
  std::string path;  // e.g. "/sys/bus/usb/devices/2-1" or "/dev/apex_0"
};

struct EdgeTpuRuntimeInfo {
  std::string library;  // path of the libedgetpu that was loaded
  std::string version;  // its edgetpu_version() string ("" if it has none)
};

// Loads the Edge TPU runtime: $EDGERUN_EDGETPU_LIB if set, else libedgetpu.so.1
// from the dynamic linker's search path or the usual library directories.
// DelegateError (saying how to install it) when it is missing, unloadable,
// not a delegate plugin, or a build known to be ABI-incompatible.
Expected<EdgeTpuRuntimeInfo> LoadEdgeTpuRuntime();

// Edge TPUs the runtime can see (libedgetpu's edgetpu_list_devices()).
Expected<std::vector<EdgeTpuDevice>> ListEdgeTpuDevices();

}  // namespace edgerun
