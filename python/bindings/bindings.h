// Shared declarations of the binding layer (python/bindings). The bindings do
// type conversion, GIL handling and error translation only; all logic lives in
// the C++ core (cpp/).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "edgerun/session.h"
#include "edgerun/status.h"

namespace py = pybind11;

namespace edgerun_py {

// Raises the edgerun.Error subclass matching status.code() (errors.cc).
[[noreturn]] void throw_status(const edgerun::Status& status);

// numpy dtype <-> edgerun::DType (kUnknown when edgerun has no equivalent).
edgerun::DType dtype_from_numpy(const py::dtype& dt);
py::dtype dtype_to_numpy(edgerun::DType dt);

// Text from a model (tensor names, signature keys, messages quoting them) may
// be any bytes: decode as UTF-8 with U+FFFD for invalid sequences, never raise.
py::str text(const std::string& s);

void register_errors(py::module_& m);
void bind_session(py::module_& m);

}  // namespace edgerun_py

// Implemented by preprocess.cc.
void bind_preprocess(pybind11::module_& m);
