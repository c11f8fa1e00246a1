// Delegate plugin libraries: shared libraries exporting the classic external
// delegate entry points (tflite_plugin_create_delegate /
// tflite_plugin_destroy_delegate), Coral's libedgetpu.so.1 among them. Loaded
// once per path and never unloaded (a delegate runtime may own threads and
// device handles until the process exits).
#pragma once

#include <string>
#include <vector>

#include "edgerun/accelerators.h"
#include "edgerun/status.h"
#include "litert/tflite_delegate_abi.h"

namespace edgerun {
namespace runtime {

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

// `what` names the library in messages ("delegate plugin", "Edge TPU runtime").
Expected<const PluginLibrary*> LoadPlugin(const std::string& requested, const std::string& what);
// $EDGERUN_EDGETPU_LIB, else libedgetpu.so.1 from the linker's path or the
// usual library directories; refuses builds known to be ABI-incompatible.
Expected<const PluginLibrary*> LoadEdgeTpuLibrary();
// The Edge TPUs a libedgetpu sees (none when it cannot list them).
std::vector<EdgeTpuDevice> DevicesOf(const PluginLibrary* lib);
// "usb:0 (/sys/...), pci:0 (/dev/apex_0)" or "none".
std::string DeviceList(const std::vector<EdgeTpuDevice>& devs);

// How to install a usable Edge TPU runtime / make an Edge TPU visible.
extern const char* const kEdgeTpuHelp;
extern const char* const kNoEdgeTpuHelp;

// Small helpers shared by the accelerator sources.
std::string Basename(const std::string& path);
std::string Dirname(const std::string& path);
std::string Quote(const std::string& s);  // 'text'
std::string JoinOptions(const KeyValues& kv);  // key='value', ...
bool FileExists(const std::string& path);

}  // namespace runtime
}  // namespace edgerun
