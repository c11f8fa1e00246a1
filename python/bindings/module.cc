// edgerun._core: the compiled half of the edgerun package.
#include "bindings.h"

#include <dlfcn.h>
#include <unwind.h>

#include <cstring>
#include <string>

namespace {
// The file that defines the _Unwind_RaiseException this module calls: "static"
// when it is linked into the module itself.
std::string UnwinderName() {
  Dl_info self{}, unwinder{};
  if (!dladdr(reinterpret_cast<void*>(&UnwinderName), &self) ||
      !dladdr(reinterpret_cast<void*>(&_Unwind_RaiseException), &unwinder) || !unwinder.dli_fname)
    return "unknown";
  if (self.dli_fname && std::strcmp(self.dli_fname, unwinder.dli_fname) == 0) return "static";
  const char* base = std::strrchr(unwinder.dli_fname, '/');
  return base ? base + 1 : unwinder.dli_fname;
}
}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "edgerun C++ core (use the edgerun package, not this module)";
  // The C++ runtime library the extension was built with, and the shared object
  // that provides its exception unwinder. libLiteRt.so throws with libstdc++
  // through libgcc_s.so.1: an exception from the runtime can be caught here only
  // when this module unwinds with the same libgcc_s (g++ builds; the released
  // zig/libc++ wheels link it on purpose). With LLVM's libunwind linked in
  // statically ("static") such an exception kills the process.
#if defined(_LIBCPP_VERSION)
  m.attr("_cxx_runtime") = "libc++";
#else
  m.attr("_cxx_runtime") = "libstdc++";
#endif
  m.attr("_unwinder") = UnwinderName();
  edgerun_py::register_errors(m);
  edgerun_py::bind_session(m);
  bind_preprocess(m);
  bind_heads(m);
  edgerun_py::bind_pipeline(m);
}
