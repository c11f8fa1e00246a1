// The one place where a core Status becomes a Python exception. The exception
// classes are defined in python/edgerun/errors.py so they can be documented,
// pickled and subclassed like any Python class.
#include <exception>
#include <string>

#include "bindings.h"

namespace edgerun_py {
namespace {

struct StatusError : std::exception {
  edgerun::Status status;
  explicit StatusError(edgerun::Status s) : status(std::move(s)) {}
  const char* what() const noexcept override { return status.message().c_str(); }
};

// Leaked on purpose: they must outlive module teardown.
PyObject* g_classes[8] = {};

PyObject* ClassFor(edgerun::Code code) {
  using edgerun::Code;
  switch (code) {
    case Code::kModelError: return g_classes[0];
    case Code::kInputError: return g_classes[1];
    case Code::kInferenceError: return g_classes[2];
    case Code::kDelegateError: return g_classes[3];
    case Code::kRuntimeError: return g_classes[4];
    case Code::kBusyError: return g_classes[5];
    case Code::kClosedError: return g_classes[7];
    default: return g_classes[6];
  }
}

}  // namespace

void throw_status(const edgerun::Status& status) { throw StatusError(status); }

py::object status_to_exception(const edgerun::Status& status) {
  if (status.ok()) return py::none();
  return py::reinterpret_borrow<py::object>(ClassFor(status.code()))(text(status.message()));
}

py::str text(const std::string& s) {
  PyObject* o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
  if (!o) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

void register_errors(py::module_& m) {
  py::module_ errors = py::module_::import("edgerun.errors");
  const char* names[] = {"ModelError",   "InputError", "InferenceError", "DelegateError",
                         "RuntimeLoadError", "BusyError", "Error", "ClosedError"};
  for (int i = 0; i < 8; ++i) g_classes[i] = py::object(errors.attr(names[i])).release().ptr();
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const StatusError& e) {
      const std::string& m = e.status.message();
      PyObject* msg = PyUnicode_DecodeUTF8(m.data(), static_cast<Py_ssize_t>(m.size()), "replace");
      if (msg) {
        PyErr_SetObject(ClassFor(e.status.code()), msg);
        Py_DECREF(msg);
      }
    } catch (const py::cast_error& e) {
      // Backstop: a Python value a binding could not convert (the bindings
      // convert arguments themselves and name them; this catches the rest)
      // is the caller's input, reported on one line, not a bare RuntimeError.
      std::string m = e.what();
      const size_t cut = m.find(" (#define");
      if (cut != std::string::npos) m.resize(cut);
      m = "an argument could not be converted: " + m;
      PyObject* msg = PyUnicode_DecodeUTF8(m.data(), static_cast<Py_ssize_t>(m.size()), "replace");
      if (msg) {
        PyErr_SetObject(ClassFor(edgerun::Code::kInputError), msg);
        Py_DECREF(msg);
      }
    }
  });
}

}  // namespace edgerun_py
