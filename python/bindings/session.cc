// Bindings of edgerun::Session and the runtime loader: type conversion, GIL
// release and zero-copy numpy views. No inference logic here.
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bindings.h"
#include "options.h"
#include "edgerun/verify.h"
#include "edgerun/runtime.h"

namespace edgerun_py {

using edgerun::AlignedBlock;
using edgerun::DType;
using edgerun::HostArray;
using edgerun::ModelBytes;
using edgerun::Session;
using edgerun::SessionOptions;
using edgerun::TensorInfo;

DType dtype_from_numpy(const py::dtype& dt) {
  if (dt.byteorder() == '>') return DType::kUnknown;  // non-native byte order
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  switch (kind) {
    case 'f':
      return size == 4 ? DType::kFloat32 : size == 2 ? DType::kFloat16
                                          : size == 8 ? DType::kFloat64 : DType::kUnknown;
    case 'i':
      return size == 1 ? DType::kInt8 : size == 2 ? DType::kInt16
           : size == 4 ? DType::kInt32 : size == 8 ? DType::kInt64 : DType::kUnknown;
    case 'u':
      return size == 1 ? DType::kUInt8 : size == 2 ? DType::kUInt16
           : size == 4 ? DType::kUInt32 : size == 8 ? DType::kUInt64 : DType::kUnknown;
    case 'b':
      return DType::kBool;
    case 'c':
      return size == 8 ? DType::kComplex64 : DType::kUnknown;
    default:
      return DType::kUnknown;
  }
}

py::dtype dtype_to_numpy(DType dt) {
  // Parsing a dtype string costs about a microsecond: cache one object per type
  // (leaked on purpose, like every object that must survive interpreter exit).
  static PyObject* cache[static_cast<int>(DType::kComplex64) + 1] = {};
  const int k = static_cast<int>(dt);
  if (!cache[k]) cache[k] = py::dtype(edgerun::DTypeName(dt)).release().ptr();
  return py::reinterpret_borrow<py::dtype>(cache[k]);
}

// A numpy array over a session block; its base owns a reference to the block,
// so the memory outlives the session if the view does.
py::array BlockView(const std::shared_ptr<AlignedBlock>& block, const TensorInfo& info,
                    bool writable) {
  auto* holder = new std::shared_ptr<AlignedBlock>(block);
  py::capsule base(holder, [](void* p) { delete static_cast<std::shared_ptr<AlignedBlock>*>(p); });
  std::vector<py::ssize_t> shape(info.shape.begin(), info.shape.end());
  py::array arr(dtype_to_numpy(info.dtype), shape, block->data(), base);
  if (!writable) {
    py::detail::array_proxy(arr.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  }
  return arr;
}

std::shared_ptr<ModelBytes> model_bytes_from(py::handle model) {
  edgerun::Expected<std::shared_ptr<ModelBytes>> bytes = edgerun::InternalError("unset");
  if (py::isinstance<py::str>(model)) {
    std::string path = fs_path_of(model, "model");
    py::gil_scoped_release release;
    bytes = ModelBytes::MapFile(path);
  } else {
    py::buffer buf = model.cast<py::buffer>();
    py::buffer_info info = buf.request();
    const size_t size = static_cast<size_t>(info.size * info.itemsize);
    py::gil_scoped_release release;
    bytes = ModelBytes::Copy(info.ptr, size);
  }
  return check_value(std::move(bytes));
}

namespace {

py::tuple SpecTuple(const TensorInfo& t) {
  py::tuple shape(t.shape.size());
  for (size_t i = 0; i < t.shape.size(); ++i) shape[i] = py::int_(t.shape[i]);
  return py::make_tuple(text(t.name), shape, dtype_to_numpy(t.dtype), t.scale, t.zero_point,
                        t.scales, t.zero_points, t.quantized_dimension);
}

class PySession {
 public:
  // Conversion only: Session::Create checks the values (threads >= 1, the
  // accelerator and fallback names, the signature).
  PySession(py::object model, py::object threads, py::object accelerator, py::object signature, py::object verify,
            const edgerun::KeyValues& accelerator_options,
            const std::vector<std::pair<std::string, edgerun::KeyValues>>& delegates, py::object fallback,
            py::object input_shapes, py::object profile) {
    SessionOptions opts;
    opts.profile = OptionValue<bool>::from(profile, "profile");
    if (!input_shapes.is_none()) {
      if (!PyDict_Check(input_shapes.ptr()))
        fail_option("input_shapes", "a dict {input name or index: shape}", input_shapes);
      for (auto item : py::reinterpret_borrow<py::dict>(input_shapes)) {
        edgerun::InputShape in;
        std::string key;
        if (PyUnicode_Check(item.first.ptr())) {
          in.name = utf8_of(item.first, "input_shapes key");
          if (in.name.empty())
            throw_status(edgerun::InputError("input_shapes: an input name must not be empty"));
          key = "'" + in.name + "'";
        } else if (!PyBool_Check(item.first.ptr()) && PyIndex_Check(item.first.ptr())) {
          in.index = OptionValue<int>::from(item.first, "input_shapes key");
          key = std::to_string(in.index);
        } else {
          throw_status(edgerun::InputError(
              "input_shapes: keys are input names (str) or indices (int), got " +
              std::string(py::str(py::type::of(item.first).attr("__name__")))));
        }
        in.shape = OptionValue<std::vector<int64_t>>::from(item.second, ("input_shapes[" + key + "]").c_str());
        opts.input_shapes.push_back(std::move(in));
      }
    }
    if (!threads.is_none()) opts.threads = OptionValue<int>::from(threads, "threads");
    opts.accelerator = OptionValue<std::string>::from(accelerator, "accelerator");
    opts.verify = OptionValue<bool>::from(verify, "verify");
    opts.accelerator_options = accelerator_options;
    for (const auto& d : delegates) opts.delegates.push_back({d.first, d.second});
    if (!fallback.is_none()) {
      if (!PyUnicode_Check(fallback.ptr())) fail_option("fallback", "'cpu' or None", fallback);
      opts.fallback = utf8_of(fallback, "fallback");
    }
    if (PyUnicode_Check(signature.ptr())) {
      opts.signature = utf8_of(signature, "signature");
    } else if (!signature.is_none()) {
      if (PyBool_Check(signature.ptr()) || !PyIndex_Check(signature.ptr()))
        fail_option("signature", "a str (key), an int (index) or None", signature);
      opts.signature_index = OptionValue<int>::from(signature, "signature");
    }
    std::shared_ptr<ModelBytes> bytes = model_bytes_from(model);
    edgerun::Expected<std::unique_ptr<Session>> s = edgerun::InternalError("unset");
    {
      py::gil_scoped_release release;
      s = Session::Create(std::move(bytes), opts);
    }
    if (!s.ok()) throw_status(s.status());
    session_ = std::shared_ptr<Session>(std::move(s).value());
    out_cache_.resize(session_->outputs().size());
  }

  // Wraps a session created in C++ (e.g. by a pipeline's hot swap).
  explicit PySession(const SessionHandle& h) : session_(h.session) {
    if (!session_) throw_status(edgerun::InputError("empty session handle"));
    out_cache_.resize(session_->outputs().size());
  }

  // Every method takes its own reference to the session first (with the GIL
  // held): close() on another thread only drops the binding's reference, so a
  // run in flight finishes on a live session and later calls raise ClosedError.
  size_t ResolveInput(const Session& s, py::handle key) const {
    if (py::isinstance<py::str>(key)) {
      auto i = s.InputIndex(utf8_of(key, "input name"));
      if (!i.ok()) throw_status(i.status());
      return *i;
    }
    if (!py::isinstance<py::int_>(key))
      throw_status(edgerun::InputError("an input is selected by index (int) or name (str), got " +
                                       std::string(py::str(py::type::of(key).attr("__name__")))));
    const long long n = static_cast<long long>(s.inputs().size());  // the count never changes
    long long i = 0;
    int overflow = 0;
    i = PyLong_AsLongLongAndOverflow(key.ptr(), &overflow);
    if (overflow != 0 || (i == -1 && PyErr_Occurred())) {
      PyErr_Clear();
      i = n;  // out of range either way
    }
    if (i < 0) i += n;
    if (i < 0 || i >= n)
      throw_status(edgerun::InputError("input index " + std::string(py::str(key)) +
                                       " is out of range; the model has " + std::to_string(n) +
                                       " input(s)"));
    return static_cast<size_t>(i);
  }

  py::array Input(py::handle key) {
    std::shared_ptr<Session> s = shared();
    const size_t i = ResolveInput(*s, key);
    auto buf = s->InputBuffer(i);  // block + shape under the session lock
    return BlockView(buf.first, buf.second, /*writable=*/true);
  }

  py::list Run(py::args args, py::handle copy_obj) {
    // True/False (numpy bools and 0/1 too); anything else is a one-line InputError.
    bool copy = false;
    if (PyBool_Check(copy_obj.ptr())) {
      copy = copy_obj.ptr() == Py_True;
    } else {
      const std::string tn = py::str(py::type::of(copy_obj).attr("__name__"));
      if (tn != "bool_" && tn != "bool" && !PyIndex_Check(copy_obj.ptr())) fail_option("copy", "True or False", copy_obj);
      const int t = PyObject_IsTrue(copy_obj.ptr());
      if (t < 0) {
        PyErr_Clear();
        fail_option("copy", "True or False", copy_obj);
      }
      if (PyIndex_Check(copy_obj.ptr()) && tn != "bool_" && tn != "bool") {
        const long long v = int_in_range<long long>(copy_obj, "copy");
        if (v != 0 && v != 1) fail_option("copy", "True or False", copy_obj);
      }
      copy = t != 0;
    }
    std::shared_ptr<Session> s = shared();
    const size_t nin = s->inputs().size();  // counts and dtypes never change
    std::vector<HostArray> arrays;
    if (args.size() > 0) {
      if (args.size() != nin)
        throw_status(edgerun::InputError("the model takes " + std::to_string(nin) +
                                         " input(s), got " + std::to_string(args.size()) +
                                         " array(s)"));
      arrays.resize(nin);
      for (size_t i = 0; i < nin; ++i) {
        py::handle obj = args[i];
        if (obj.is_none()) continue;  // keep what is in the session buffer
        if (!py::isinstance<py::array>(obj))
          throw_status(edgerun::InputError(
              "input " + std::to_string(i) + " ('" + s->inputs()[i].name +
              "'): expected a numpy array, got " +
              std::string(py::str(py::type::of(obj).attr("__name__")))));
        auto a = py::reinterpret_borrow<py::array>(obj);
        HostArray& h = arrays[i];
        h.data = a.data();
        h.dtype = dtype_from_numpy(a.dtype());
        // The spelling is only needed for an error message: skip it per frame.
        if (h.dtype != s->inputs()[i].dtype || h.dtype == DType::kUnknown)
          h.dtype_name = py::str(a.dtype()).cast<std::string>();
        const auto nd = a.ndim();
        h.shape.assign(a.shape(), a.shape() + nd);
        h.byte_strides.assign(a.strides(), a.strides() + nd);
      }
    }
    edgerun::Status st;
    if (copy) {
      // Copies are taken under the session lock: with several threads on one
      // session, each gets the results of its own run. The destinations are
      // sized from shapes read before that lock; if resize_input() changes
      // them meanwhile, Run() refuses (BusyError, nothing ran) and we retry.
      for (int attempt = 0;; ++attempt) {
        const std::vector<TensorInfo> outs = s->OutputInfos();
        py::list result(outs.size());
        std::vector<edgerun::OutputDest> dst(outs.size());
        for (size_t i = 0; i < outs.size(); ++i) {
          std::vector<py::ssize_t> shape(outs[i].shape.begin(), outs[i].shape.end());
          py::array a(dtype_to_numpy(outs[i].dtype), shape);
          dst[i].data = a.mutable_data();
          dst[i].shape = outs[i].shape;
          result[i] = a;
        }
        {
          py::gil_scoped_release release;
          st = s->Run(arrays, &dst);
        }
        if (st.code() == edgerun::Code::kBusyError && attempt < 8) continue;
        if (!st.ok()) throw_status(st);
        return result;
      }
    }
    edgerun::OutputBlocks views;
    {
      // The arrays stay referenced by `args` for the whole call.
      py::gil_scoped_release release;
      st = s->Run(arrays, nullptr, &views);
    }
    if (!st.ok()) throw_status(st);
    return Outputs(views);
  }

  py::list Outputs(const edgerun::OutputBlocks& v) {
    py::list result(v.info.size());
    if (out_cache_.size() != v.info.size()) out_cache_.resize(v.info.size());
    for (size_t i = 0; i < v.info.size(); ++i) {
      const auto& block = v.blocks[i];
      Cached& c = out_cache_[i];
      if (c.block != block || c.shape != v.info[i].shape) {
        c.view = BlockView(block, v.info[i], /*writable=*/false);
        c.block = block;
        c.shape = v.info[i].shape;
      }
      result[i] = c.view;
    }
    return result;
  }

  void ResizeInput(py::handle key, py::handle shape_obj) {
    std::shared_ptr<Session> s = shared();
    const std::vector<int64_t> shape = OptionValue<std::vector<int64_t>>::from(shape_obj, "shape");
    const size_t i = ResolveInput(*s, key);
    edgerun::Status st;
    {
      py::gil_scoped_release release;
      st = s->ResizeInput(i, shape);
    }
    if (!st.ok()) throw_status(st);
  }

  py::list Specs(bool inputs) const {
    std::shared_ptr<Session> s = shared();
    const auto v = inputs ? s->InputInfos() : s->OutputInfos();
    py::list l;
    for (const auto& t : v) l.append(SpecTuple(t));
    return l;
  }

  void Close() {
    // Runs in flight on other threads hold their own reference: the session
    // is destroyed when the last of them returns (never under their feet).
    std::shared_ptr<Session> s = std::move(session_);
    session_.reset();
    out_cache_.clear();
    py::gil_scoped_release release;
    s.reset();
  }

  bool closed() const { return !session_; }

  // (runs, [(name, kind, node, start_us, elapsed_us), ...]) of the runs since the last call.
  py::tuple TakeProfile() {
    std::shared_ptr<Session> s = shared();
    edgerun::Expected<edgerun::Profile> p = edgerun::InternalError("unset");
    {
      py::gil_scoped_release release;
      p = s->TakeProfile();
    }
    if (!p.ok()) throw_status(p.status());
    py::list events;
    for (const auto& e : p->events) {
      const char* kind = e.kind == edgerun::ProfileEvent::Kind::kOperator           ? "operator"
                         : e.kind == edgerun::ProfileEvent::Kind::kDelegateOperator ? "delegate_operator"
                                                                                    : "runtime";
      events.append(py::make_tuple(text(e.name), kind, e.node, e.start_us, e.elapsed_us));
    }
    return py::make_tuple(p->runs, events);
  }

  void Check() const {
    if (!session_) throw_status(edgerun::ClosedError("the session is closed"));
  }

  Session& get() const {
    Check();
    return *session_;
  }

  std::shared_ptr<Session> shared() const {
    Check();
    return session_;
  }

 private:
  struct Cached {
    std::shared_ptr<AlignedBlock> block;  // identity of the cached view's block (kept alive by the view anyway)
    std::vector<int64_t> shape;
    py::object view;
  };
  std::shared_ptr<Session> session_;
  std::vector<Cached> out_cache_;
};

}  // namespace

std::shared_ptr<Session> session_of(py::handle obj) {
  if (!py::isinstance<PySession>(obj))
    throw_status(edgerun::InputError("expected an edgerun.Session, got " +
                                     std::string(py::str(py::type::of(obj).attr("__name__")))));
  return obj.cast<const PySession&>().shared();
}

void bind_session(py::module_& m) {
  m.def("load_runtime",
        [](const std::string& path, const std::string& version) {
          edgerun::Status st = edgerun::runtime::LoadLiteRt(path, version);
          if (!st.ok()) throw_status(st);
        },
        py::arg("path"), py::arg("version"),
        "Load libLiteRt.so once per process (EDGERUN_LITERT_LIB overrides path).");
  m.def("runtime_info", []() {
    auto info = edgerun::runtime::LoadedRuntime();
    return py::make_tuple(info.library_path, info.version);
  });
  m.def("supported_litert", []() { return std::string(edgerun::runtime::SupportedLiteRtMinor()); });
  m.def("default_threads", &edgerun::DefaultThreadCount);
  m.def("verify_model",
        [](py::buffer data) {
          py::buffer_info info = data.request();
          edgerun::Status st;
          {
            py::gil_scoped_release release;
            st = edgerun::VerifyModel(static_cast<const uint8_t*>(info.ptr),
                                      static_cast<size_t>(info.size * info.itemsize));
          }
          if (!st.ok()) throw_status(st);
        },
        py::arg("data"), "Raise ModelError if the bytes are not a valid .tflite model.");
  m.def("verify_file",
        [](py::handle path_obj) {
          const std::string path = fs_path_of(path_obj, "path");
          edgerun::Status st;
          {
            py::gil_scoped_release release;
            auto bytes = ModelBytes::MapFile(path);
            st = bytes.ok() ? edgerun::VerifyModel((*bytes)->data(), (*bytes)->size())
                            : bytes.status();
          }
          if (!st.ok()) throw_status(st);
        },
        py::arg("path"));

  m.def("_edgetpu_devices", []() {
    edgerun::Expected<std::vector<edgerun::EdgeTpuDevice>> devs = edgerun::InternalError("unset");
    {
      py::gil_scoped_release release;
      devs = edgerun::ListEdgeTpuDevices();
    }
    if (!devs.ok()) throw_status(devs.status());
    py::list out;
    for (const auto& d : *devs) out.append(py::make_tuple(d.type, d.path));
    return out;
  });
  m.def("_edgetpu_runtime", []() {
    edgerun::Expected<edgerun::EdgeTpuRuntimeInfo> info = edgerun::InternalError("unset");
    {
      py::gil_scoped_release release;
      info = edgerun::LoadEdgeTpuRuntime();
    }
    if (!info.ok()) throw_status(info.status());
    return py::make_tuple(info->library, info->version);
  });

  py::class_<SessionHandle>(m, "_SessionHandle");

  py::class_<PySession>(m, "Session", py::dynamic_attr())
      .def(py::init<const SessionHandle&>(), py::arg("handle"))
      .def(py::init<py::object, py::object, py::object, py::object, py::object, const edgerun::KeyValues&,
                    const std::vector<std::pair<std::string, edgerun::KeyValues>>&, py::object, py::object,
                    py::object>(),
           py::arg("model"), py::arg("threads") = py::none(), py::arg("accelerator") = "cpu",
           py::arg("signature") = py::none(), py::arg("verify") = true,
           py::arg("accelerator_options") = edgerun::KeyValues(),
           py::arg("delegates") = std::vector<std::pair<std::string, edgerun::KeyValues>>(),
           py::arg("fallback") = py::none(), py::arg("input_shapes") = py::none(), py::arg("profile") = false)
      .def("input", &PySession::Input, py::arg("key"),
           "Writable zero-copy view of the session-owned buffer of an input.")
      .def("run", &PySession::Run, py::arg("copy") = false)  // copy: py::handle, converted by Run
      .def("resize_input", &PySession::ResizeInput, py::arg("key"), py::arg("shape"))
      .def("_specs", &PySession::Specs, py::arg("inputs"))
      .def("close", &PySession::Close)
      .def("_take_profile", &PySession::TakeProfile)
      .def_property_readonly("closed", &PySession::closed)
      .def_property_readonly("signatures",
                             [](const PySession& s) {
                               py::list l;
                               for (const auto& k : s.get().signatures()) l.append(text(k));
                               return l;
                             })
      .def_property_readonly("signature",
                             [](const PySession& s) -> py::object {
                               const Session& session = s.get();
                               if (session.signatures().empty()) return py::none();
                               return text(session.signature());
                             })
      .def_property_readonly("input_shape_signatures",
                             [](const PySession& s) {
                               py::list l;
                               for (const auto& shape : s.get().input_shape_signatures()) {
                                 py::tuple t(shape.size());
                                 for (size_t i = 0; i < shape.size(); ++i) t[i] = py::int_(shape[i]);
                                 l.append(t);
                               }
                               return l;
                             })
      .def_property_readonly("threads", [](const PySession& s) { return s.get().threads(); })
      .def_property_readonly("stateful", [](const PySession& s) { return s.get().stateful(); })
      .def_property_readonly("accelerator",
                             [](const PySession& s) { return s.get().accelerator(); })
      .def_property_readonly("_fallback_reason",
                             [](const PySession& s) { return s.get().fallback_reason(); })
      .def("_placement",
           [](const PySession& s) {
             std::shared_ptr<Session> session = s.shared();  // close() may run meanwhile
             std::vector<edgerun::OpPlacement> p;
             {
               py::gil_scoped_release release;
               p = session->placement();
             }
             py::list out;
             for (const auto& o : p)
               out.append(py::make_tuple(o.subgraph, o.index, o.builtin_code, o.custom_code,
                                         o.accelerator));
             return out;
           })
      .def_property_readonly("run_count", [](const PySession& s) { return s.get().run_count(); })
      .def("_io_stats",
           [](const PySession& s) {
             return py::dict(py::arg("zero_copy_inputs") = s.get().zero_copy_inputs(),
                             py::arg("copied_inputs") = s.get().copied_inputs());
           })
      .def_property_readonly("_model_bytes",
                             [](const PySession& s) {
                               auto bytes = s.get().model_bytes_ptr();
                               auto* holder = new std::shared_ptr<ModelBytes>(bytes);
                               py::capsule base(holder, [](void* p) {
                                 delete static_cast<std::shared_ptr<ModelBytes>*>(p);
                               });
                               py::array arr(py::dtype("uint8"), {static_cast<py::ssize_t>(bytes->size())},
                                             bytes->data(), base);
                               py::detail::array_proxy(arr.ptr())->flags &=
                                   ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
                               return arr;
                             })
      .def_property_readonly("_origin",
                             [](const PySession& s) { return text(s.get().model_bytes().origin()); })
      .def("_memory", [](const PySession& s) {
        const edgerun::SessionMemory m = s.get().memory();
        return py::make_tuple(m.model_bytes, m.model_mapped, m.io_bytes, m.load_rss_bytes);
      });
}

}  // namespace edgerun_py
