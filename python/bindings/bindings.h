// Shared declarations of the binding layer (python/bindings). The bindings do
// type conversion, GIL handling and error translation only; all logic lives in
// the C++ core (cpp/).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "edgerun/postprocess.h"
#include "edgerun/preprocess.h"
#include "edgerun/session.h"
#include "edgerun/status.h"

namespace py = pybind11;

namespace edgerun_py {

// Raises the edgerun.Error subclass matching status.code() (errors.cc).
[[noreturn]] void throw_status(const edgerun::Status& status);
// The value of an Expected, or raise its error.
template <class T>
T check_value(edgerun::Expected<T> e) {
  if (!e.ok()) throw_status(e.status());
  return std::move(e.value());
}

// InputError with `message` (bad arguments found by the bindings).
[[noreturn]] inline void fail_input(const std::string& message) { throw_status(edgerun::InputError(message)); }

// The edgerun.Error instance for a failed status (None for ok), not raised.
py::object status_to_exception(const edgerun::Status& status);

// numpy dtype <-> edgerun::DType (kUnknown when edgerun has no equivalent).
edgerun::DType dtype_from_numpy(const py::dtype& dt);
py::dtype dtype_to_numpy(edgerun::DType dt);

// Text from a model (tensor names, signature keys, messages quoting them) may
// be any bytes: decode as UTF-8 with U+FFFD for invalid sequences, never raise.
py::str text(const std::string& s);

void register_errors(py::module_& m);
void bind_session(py::module_& m);

// A C++ session handed to Python (edgerun._core._SessionHandle), e.g. the one
// a pipeline's hot swap created; edgerun.Session wraps it.
struct SessionHandle {
  std::shared_ptr<edgerun::Session> session;
};
// The C++ session behind an edgerun.Session (InputError for anything else,
// ClosedError for a closed one).
std::shared_ptr<edgerun::Session> session_of(py::handle obj);

// session.cc: a numpy array over a session-owned block (its base keeps the
// block alive); model bytes from a path (mapped) or a buffer (copied), GIL
// released while reading.
py::array BlockView(const std::shared_ptr<edgerun::AlignedBlock>& block, const edgerun::TensorInfo& info,
                    bool writable);
std::shared_ptr<edgerun::ModelBytes> model_bytes_from(py::handle model);

// preprocess.cc: the C++ Preprocessor behind an edgerun.Preprocessor; a numpy
// frame described as an Image (the core checks it: InputError naming what is
// wrong). Transforms cross as _core.Transform objects; TransformCache hands
// back the same object while the geometry does not change, so Python can
// reuse its edgerun.Transform (identity check) instead of rebuilding it per frame.
std::shared_ptr<edgerun::preprocess::Preprocessor> preprocessor_of(py::handle obj);
edgerun::preprocess::Image image_from_numpy(edgerun::preprocess::PixelFormat format, py::handle frame);
class TransformCache {
 public:
  py::object get(const edgerun::preprocess::Transform& t);  // call with the GIL held

 private:
  py::object obj_;
  edgerun::preprocess::Transform last_;
};

// pipeline.cc
void bind_pipeline(py::module_& m);

}  // namespace edgerun_py

// Implemented by preprocess.cc.
void bind_preprocess(pybind11::module_& m);

// Implemented by heads.cc: _core.Head (holder std::shared_ptr<edgerun::postprocess::Head>),
// the concrete heads, _core.Decoder and generate_ssd_anchors.
void bind_heads(pybind11::module_& m);
// A Result as a numpy structured array (call with the GIL held). Detection:
// fields x1, y1, x2, y2, score (float32), class_id (int32) and, when
// num_keypoints K > 0, keypoints (float32, shape (K, 2)); classification:
// class_id (int32), score (float32). Packed (no padding), one row per entry.
pybind11::object result_to_numpy(const edgerun::postprocess::Result& r);
