// TEMPORARY (replaced by the heads work on its branch): the Head base class
// and a minimal Result -> numpy conversion so the pipeline binding links.
#include "bindings.h"

namespace edgerun_py {

py::object result_to_numpy(const edgerun::postprocess::Result& r) {
  py::list fields;
  if (r.kind == edgerun::postprocess::Result::Kind::kClassification) {
    fields.append(py::make_tuple("class_id", "i4"));
    fields.append(py::make_tuple("score", "f4"));
  } else {
    for (const char* f : {"x1", "y1", "x2", "y2", "score"}) fields.append(py::make_tuple(f, "f4"));
    fields.append(py::make_tuple("class_id", "i4"));
  }
  py::array a(py::dtype::from_args(fields), {static_cast<py::ssize_t>(r.n)});
  return a;
}

void bind_heads(py::module_& m) {
  py::class_<edgerun::postprocess::Head, std::shared_ptr<edgerun::postprocess::Head>>(m, "Head");
}

}  // namespace edgerun_py
