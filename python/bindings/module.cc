// edgerun._core: the compiled half of the edgerun package.
#include "bindings.h"

PYBIND11_MODULE(_core, m) {
  m.doc() = "edgerun C++ core (use the edgerun package, not this module)";
  edgerun_py::register_errors(m);
  edgerun_py::bind_session(m);
  bind_preprocess(m);
  bind_heads(m);
  edgerun_py::bind_pipeline(m);
}
