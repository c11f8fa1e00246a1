#include "runtime/accelerators/plugin_library.h"

#include <dlfcn.h>
#include <link.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

namespace edgerun {
namespace runtime {
namespace {

// Google's prebuilt libedgetpu packages (runtime 13/14, up to the 2021 "16.0"
// release) were built with this toolchain against TensorFlow <= 2.5: their
// TfLiteRegistration is 64 bytes, the runtime reads 88 and crashes.
constexpr const char* kIncompatibleEdgeTpuBuild = "COMPILER=6.3.0 20170516";

std::mutex g_lib_mu;
std::map<std::string, PluginLibrary*>* g_libs = new std::map<std::string, PluginLibrary*>();

std::string EnvOr(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

const char* const kEdgeTpuHelp =
    "install a libedgetpu.so.1 built against TensorFlow >= 2.16 headers (docs/edgetpu.md "
    "in edgerun's sources says where) or set EDGERUN_EDGETPU_LIB to its path";

const char* const kNoEdgeTpuHelp =
    "check that it is attached and visible: a USB Accelerator shows up in `lsusb` as "
    "1a6e:089a (before the runtime first loads its firmware) or 18d1:9302 (after); your user "
    "needs the udev rule from the libedgetpu package (plugdev group) or root; a PCIe/M.2 "
    "module needs the gasket/apex driver (/dev/apex_0, apex group)";

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
              " usual library folders; EDGERUN_EDGETPU_LIB is not set): " +
              kEdgeTpuHelp);
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

}  // namespace edgerun
