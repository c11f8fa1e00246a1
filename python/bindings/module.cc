// edgerun._core: the compiled half of the edgerun package.
#include "bindings.h"

PYBIND11_MODULE(_core, m) {
  m.doc() = "edgerun C++ core (use the edgerun package, not this module)";
  // The C++ runtime library the extension was built with. libLiteRt.so uses
  // libstdc++; the released wheels (zig's clang) link libc++ and LLVM's unwinder
  // statically, so a C++ exception the runtime throws through its C API cannot
  // be caught here (the process dies): only source builds with g++ turn those
  // into ModelError. The verifier keeps every known trigger away (docs/security.md).
#if defined(_LIBCPP_VERSION)
  m.attr("_cxx_runtime") = "libc++";
#else
  m.attr("_cxx_runtime") = "libstdc++";
#endif
  edgerun_py::register_errors(m);
  edgerun_py::bind_session(m);
  bind_preprocess(m);
  bind_heads(m);
  edgerun_py::bind_pipeline(m);
}
