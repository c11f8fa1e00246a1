// Bindings of edgerun::preprocess::Preprocessor: numpy arrays -> Image/Output
// (checked: dtype, shape, strides, extent), GIL released around the kernel,
// Status -> edgerun.InputError via throw_status. The Python API lives in
// python/edgerun/preprocess.py.
#include <pybind11/stl.h>

#include <array>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bindings.h"
#include "edgerun/cpu.h"
#include "options.h"
#include "edgerun/preprocess.h"

namespace pp = edgerun::preprocess;

namespace {


std::string ShapeStr(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  if (a.ndim() == 1) s += ",";
  return s + ")";
}

std::string DtypeStr(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

// Bytes readable from `a`'s first element: its own extent, or (when `a` is a
// view of a contiguous numpy array) up to the end of that array's memory.
size_t ReadableBytes(const py::array& a, size_t own_extent) {
  const auto* base_ptr = static_cast<const uint8_t*>(a.data());
  py::object cur = a.attr("base");
  py::object root;
  while (!cur.is_none() && py::isinstance<py::array>(cur)) {
    root = cur;
    cur = cur.attr("base");
  }
  if (!root) return own_extent;
  py::array r = py::reinterpret_borrow<py::array>(root);
  if (!(r.flags() & py::array::c_style)) return own_extent;
  const auto* rp = static_cast<const uint8_t*>(r.data());
  const size_t rn = static_cast<size_t>(r.nbytes());
  if (base_ptr < rp || base_ptr >= rp + rn) return own_extent;
  return std::max(own_extent, static_cast<size_t>(rp + rn - base_ptr));
}

pp::Image MakeImage(pp::PixelFormat f, const py::array& a) {
  const char* fname = pp::Name(f);
  if (a.dtype().kind() != 'u' || a.itemsize() != 1)
    edgerun_py::fail_input(std::string("frame: expected a uint8 array for format '") + fname + "', got " + DtypeStr(a));
  const int C = pp::PackedChannels(f);
  const bool yuv420 = pp::IsYuv420(f);
  py::ssize_t rows, W;
  bool ok;
  if (yuv420) {
    ok = a.ndim() == 2;
  } else if (f == pp::PixelFormat::kGray) {
    ok = a.ndim() == 2 || (a.ndim() == 3 && a.shape(2) == 1);
  } else {
    ok = a.ndim() == 3 && a.shape(2) == C;
  }
  if (!ok || a.shape(0) <= 0 || a.shape(1) <= 0) {
    std::string want = yuv420 ? "(H*3/2, W)" : f == pp::PixelFormat::kGray ? "(H, W) or (H, W, 1)"
                                                                            : "(H, W, " + std::to_string(C) + ")";
    edgerun_py::fail_input(std::string("frame: format '") + fname + "' expects a uint8 array of shape " + want + ", got " + ShapeStr(a));
  }
  rows = a.shape(0);
  W = a.shape(1);
  // Pixels of a row must be contiguous; rows may be padded (positive stride).
  const py::ssize_t inner = a.ndim() == 3 ? a.shape(2) : 1;
  if ((a.ndim() == 3 && a.strides(2) != 1 && a.shape(2) > 1) || (W > 1 && a.strides(1) != inner))
    edgerun_py::fail_input(std::string("frame: the pixels of a row must be contiguous (strides ") + "(row, " + std::to_string(a.strides(1)) +
         ", ...) were given, expected a column stride of " + std::to_string(inner) +
         " bytes); a row stride larger than the row is fine");
  const py::ssize_t S = a.strides(0);
  if (rows > 1 && S < W * inner)
    edgerun_py::fail_input("frame: expected rows stored top to bottom with a row stride >= " + std::to_string(W * inner) +
         " bytes, got a row stride of " + std::to_string(S));
  int H;
  if (yuv420) {
    if (rows % 3 != 0 || (W & 1))
      edgerun_py::fail_input(std::string("frame: format '") + fname + "' expects shape (H*3/2, W) with even H and W, got " + ShapeStr(a));
    H = static_cast<int>(rows / 3 * 2);
  } else {
    H = static_cast<int>(rows);
  }
  const py::ssize_t stride = rows > 1 ? S : W * inner;
  const size_t extent = static_cast<size_t>((rows - 1) * stride + W * inner);
  size_t readable = extent;
  if (f == pp::PixelFormat::kI420 && stride != W) readable = ReadableBytes(a, extent);
  auto img = pp::ImageFromBuffer(f, static_cast<const uint8_t*>(a.data()), static_cast<int>(W), H, stride, readable);
  if (!img.ok() && f == pp::PixelFormat::kI420 && stride != W)
    edgerun_py::fail_input("frame: an i420 array with padded rows (row stride " + std::to_string(stride) + " for width " +
         std::to_string(W) + ") places its chroma rows at stride/2 beyond the array's memory; pass the whole buffer "
         "(shape (H*3/2, stride)) sliced as a view, or a contiguous array");
  return edgerun_py::check_value(std::move(img));
}

pp::Output MakeOutput(const pp::Spec& s, py::array& out) {
  pp::Output o;
  const char kind = out.dtype().kind();
  const auto size = out.itemsize();
  if (out.dtype().byteorder() == '>') edgerun_py::fail_input("out: expected a native byte order array, got " + DtypeStr(out));
  if (kind == 'f' && size == 4) o.type = pp::ElemType::kFloat32;
  else if (kind == 'f' && size == 2) o.type = pp::ElemType::kFloat16;
  else if (kind == 'u' && size == 1) o.type = pp::ElemType::kUInt8;
  else if (kind == 'i' && size == 1) o.type = pp::ElemType::kInt8;
  else edgerun_py::fail_input("out: expected a float32, float16, uint8 or int8 array, got " + DtypeStr(out));
  if (!out.writeable()) edgerun_py::fail_input("out: the array is read-only");
  if (!(out.flags() & py::array::c_style)) edgerun_py::fail_input("out: expected a C-contiguous array (a dense tensor), got strides that are not");
  const bool gray = s.channels == pp::Channels::kGray;
  const int C = gray ? 1 : 3;
  const bool nchw = s.layout == pp::Layout::kNCHW;
  std::vector<py::ssize_t> sh(out.shape(), out.shape() + out.ndim());
  if (sh.size() == 4) {
    if (sh[0] != 1) edgerun_py::fail_input("out: a 4-D input must have batch 1, got shape " + ShapeStr(out));
    sh.erase(sh.begin());
  }
  int H = -1, W = -1;
  if (sh.size() == 3) {
    if (!nchw && sh[2] == C) { H = static_cast<int>(sh[0]); W = static_cast<int>(sh[1]); }
    if (nchw && sh[0] == C) { H = static_cast<int>(sh[1]); W = static_cast<int>(sh[2]); }
  } else if (sh.size() == 2 && gray && out.ndim() == 2) {
    H = static_cast<int>(sh[0]);
    W = static_cast<int>(sh[1]);
  }
  if (H <= 0 || W <= 0) {
    const std::string c = std::to_string(C);
    std::string want = nchw ? "(" + c + ", H, W) or (1, " + c + ", H, W)" : "(H, W, " + c + ") or (1, H, W, " + c + ")";
    if (gray) want += " or (H, W)";
    edgerun_py::fail_input("out: channels='" + std::string(pp::Name(s.channels)) + "' with layout='" + pp::Name(s.layout) +
         "' expects shape " + want + ", got " + ShapeStr(out));
  }
  o.data = out.mutable_data();
  o.width = W;
  o.height = H;
  o.channels = C;
  o.bytes = static_cast<size_t>(out.nbytes());
  return o;
}

py::tuple TransformTuple(const pp::Transform& t) {
  return py::make_tuple(py::make_tuple(t.m[0], t.m[1], t.m[2], t.m[3], t.m[4], t.m[5]),
                        py::make_tuple(t.input_width, t.input_height),
                        py::make_tuple(t.content[0], t.content[1], t.content[2], t.content[3]),
                        py::make_tuple(t.source_roi[0], t.source_roi[1], t.source_roi[2], t.source_roi[3]));
}

// mean / std / pad_value: a number or 1 or 3 numbers (one per output channel).
void SetTriple(float (&dst)[3], py::handle v, const char* name) {
  const std::string n = name;
  if (!PyBool_Check(v.ptr()) && (PyFloat_Check(v.ptr()) || PyIndex_Check(v.ptr()) ||
                                 (!py::isinstance<py::iterable>(v) && PyNumber_Check(v.ptr())))) {
    dst[0] = dst[1] = dst[2] = edgerun_py::OptionValue<float>::from(v, n);
    return;
  }
  if (PyUnicode_Check(v.ptr()) || !py::isinstance<py::iterable>(v))
    edgerun_py::fail_option(n, "a number or a sequence of 1 or 3 numbers", v);
  std::vector<float> vals = edgerun_py::OptionValue<std::vector<float>>::from(v, n);
  if (vals.size() != 1 && vals.size() != 3)
    edgerun_py::fail_option(n, "1 or 3 values (one per output channel)", v);
  for (int c = 0; c < 3; ++c) dst[c] = vals[vals.size() == 1 ? 0 : c];
}

py::object GetTriple(const float (&v)[3]) {
  return py::make_tuple(edgerun_py::short_float(v[0]), edgerun_py::short_float(v[1]), edgerun_py::short_float(v[2]));
}

void BindSpec(py::module_& m) {
  using S = pp::Spec;
  edgerun_py::OptionsClass<S>(m, "PreprocessSpec",
                              "preprocess::Spec: the options of an edgerun.Preprocessor (defaults and names from C++).")
      .choice("format", &S::format)
      .choice("fit", &S::fit)
      .property(
          "roi",
          [](const S& s) -> py::object {
            if (!s.has_roi) return py::none();
            return py::make_tuple(s.roi.x, s.roi.y, s.roi.width, s.roi.height);
          },
          [](S& s, py::handle v) {
            if (v.is_none()) {
              s.has_roi = false;
              s.roi = pp::Roi();
              return;
            }
            std::vector<int> r;  // int() of each value, as the Python API always did
            if (!PyUnicode_Check(v.ptr()) && py::isinstance<py::iterable>(v)) {
              for (py::handle x : v) {
                PyObject* i = PyBool_Check(x.ptr()) ? nullptr : PyNumber_Long(x.ptr());
                if (!i) {
                  PyErr_Clear();
                  r.clear();
                  break;
                }
                r.push_back(static_cast<int>(py::reinterpret_steal<py::int_>(i).cast<long long>()));
              }
            }
            if (r.size() != 4) edgerun_py::fail_option("roi", "(x, y, w, h) integers or None", v);
            s.has_roi = true;
            s.roi = pp::Roi{r[0], r[1], r[2], r[3]};
          })
      .field("rotate", &S::rotate)
      .field("flip", &S::flip)
      .choice("interpolation", &S::interpolation)
      .property(
          "mean", [](const S& s) { return GetTriple(s.mean); }, [](S& s, py::handle v) { SetTriple(s.mean, v, "mean"); })
      .property(
          "std", [](const S& s) { return GetTriple(s.stddev); },
          [](S& s, py::handle v) { SetTriple(s.stddev, v, "std"); })
      .choice("channels", &S::channels)
      .choice("layout", &S::layout)
      .choice("color", &S::yuv_matrix)
      .choice("yuv_range", &S::yuv_range)
      .choice("yuv_sampling", &S::yuv_sampling)
      .property(
          "pad_value", [](const S& s) { return GetTriple(s.pad_value); },
          [](S& s, py::handle v) { SetTriple(s.pad_value, v, "pad_value"); })
      .field("threads", &S::threads)
      .choice("isa", &S::isa)
      .done();
}

class PyPreprocessor {
 public:
  explicit PyPreprocessor(const pp::Spec& spec)
      : impl_(edgerun_py::check_value(pp::Preprocessor::Create(spec))) {}

  py::tuple Run(const py::array& frame, py::array& out, double scale, int zero_point) {
    const pp::Spec& s = impl_->spec();
    pp::Image img = MakeImage(s.format, frame);
    pp::Output o = MakeOutput(s, out);
    o.scale = static_cast<float>(scale);
    o.zero_point = zero_point;
    edgerun::Expected<pp::Transform> r = edgerun::InputError("not run");
    {
      py::gil_scoped_release release;  // frame/out stay referenced by the caller's arguments
      r = impl_->Run(img, o);
    }
    if (!r.ok()) edgerun_py::throw_status(r.status());
    return Cached(r.value());
  }

  py::tuple GetTransform(int sw, int sh, int ow, int oh) {
    return TransformTuple(edgerun_py::check_value(impl_->GetTransform(sw, sh, ow, oh)));
  }

  std::string kernel() const { return impl_->kernel_name(); }
  pp::Spec spec() const { return impl_->spec(); }
  const std::shared_ptr<pp::Preprocessor>& shared() const { return impl_; }

 private:
  // The same tuple object while the geometry does not change, so Python can
  // reuse its Transform (identity check) instead of rebuilding it per frame.
  py::tuple Cached(const pp::Transform& t) {
    const bool same = last_ && std::memcmp(last_t_.m, t.m, sizeof t.m) == 0 && last_t_.input_width == t.input_width &&
                      last_t_.input_height == t.input_height &&
                      std::memcmp(last_t_.content, t.content, sizeof t.content) == 0 &&
                      std::memcmp(last_t_.source_roi, t.source_roi, sizeof t.source_roi) == 0;
    if (!same) {
      last_ = TransformTuple(t);
      last_t_ = t;
    }
    return last_;
  }
  std::shared_ptr<pp::Preprocessor> impl_;
  py::tuple last_;
  pp::Transform last_t_;
};

}  // namespace

namespace edgerun_py {

std::shared_ptr<pp::Preprocessor> preprocessor_of(py::handle obj) {
  py::object impl = py::getattr(obj, "_impl", py::none());
  if (impl.is_none() || !py::isinstance<PyPreprocessor>(impl))
    throw_status(edgerun::InputError("expected an edgerun.Preprocessor, got " +
                                     std::string(py::str(py::type::of(obj).attr("__name__")))));
  return impl.cast<const PyPreprocessor&>().shared();
}

pp::Image image_from_numpy(pp::PixelFormat format, py::handle frame) {
  if (!py::isinstance<py::array>(frame))
    edgerun_py::fail_input(std::string("frame: expected a numpy uint8 array, got ") +
         std::string(py::str(py::type::of(frame).attr("__name__"))));
  return MakeImage(format, py::reinterpret_borrow<py::array>(frame));
}

py::tuple transform_tuple(const pp::Transform& t) { return TransformTuple(t); }

}  // namespace edgerun_py

void bind_preprocess(pybind11::module_& m) {
  BindSpec(m);
  py::class_<PyPreprocessor>(m, "_Preprocessor")
      .def(py::init<const pp::Spec&>(), py::arg("spec"), "Validates the spec (InputError naming the option).")
      .def("run", &PyPreprocessor::Run, py::arg("frame"), py::arg("out"), py::arg("scale"), py::arg("zero_point"),
           "Convert `frame` into `out` (GIL released); returns (matrix, input_size, content, source_roi).")
      .def("transform", &PyPreprocessor::GetTransform, py::arg("src_width"), py::arg("src_height"),
           py::arg("out_width"), py::arg("out_height"))
      .def_property_readonly("kernel", &PyPreprocessor::kernel)
      .def_property_readonly("spec", &PyPreprocessor::spec, "A copy of the validated spec.");
  m.def("_preprocess_active_isa", [] { return std::string(pp::ActiveIsa()); },
        "Kernel ISA preprocessing uses on this machine ('avx2', 'neon' or 'scalar').");
  m.def("_cpu_features", [] { return edgerun::CpuFeatureString(); },
        "CPU features detected at run time, space separated ('sse4.1 avx avx2 fma f16c', 'neon dotprod').");
}
