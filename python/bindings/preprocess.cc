// Bindings of edgerun::preprocess::Preprocessor: the Spec bound once
// (PreprocessSpec), numpy arrays described as ArrayDesc (interpreted and
// checked by the core: FrameFromArray / OutputFromArray), GIL released around
// the kernel, Status -> edgerun.InputError via throw_status. The Python API lives in
// python/edgerun/preprocess.py.
#include <cmath>
#include <pybind11/stl.h>

#include <array>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bindings.h"
#include "edgerun/roi_crop.h"
#include "edgerun/cpu.h"
#include "options.h"
#include "edgerun/preprocess.h"

namespace pp = edgerun::preprocess;

namespace {


// Bytes readable from `a`'s first element: its own extent, or (when `a` is a
// view of a contiguous numpy array) up to the end of that array's memory.
size_t ReadableBytes(const void* ctx, size_t own_extent) {
  const py::array& a = *static_cast<const py::array*>(ctx);
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

// numpy's description of `a` (no interpretation: the core does that).
pp::ArrayDesc Desc(const py::array& a) {
  pp::ArrayDesc d;
  d.data = const_cast<void*>(a.data());
  const py::dtype dt = a.dtype();
  const char k = dt.kind();
  d.kind = (k == 'u' || k == 'i' || k == 'f' || k == 'b' || k == 'c') ? k : '?';
  d.itemsize = static_cast<int>(dt.itemsize());
  const char bo = dt.byteorder();
  static const bool little = [] {
    const uint16_t one = 1;
    return *reinterpret_cast<const uint8_t*>(&one) == 1;
  }();
  d.native_order = bo == '=' || bo == '|' || bo == (little ? '<' : '>');
  d.writable = a.writeable();
  d.c_contiguous = (a.flags() & py::array::c_style) != 0;
  d.ndim = static_cast<int>(a.ndim());
  for (int i = 0; i < d.ndim && i < pp::ArrayDesc::kMaxDims; ++i) {
    d.shape[i] = a.shape(i);
    d.strides[i] = a.strides(i);
  }
  d.nbytes = static_cast<size_t>(a.nbytes());
  d.readable = &ReadableBytes;
  d.readable_ctx = &a;
  return d;
}

bool SameTransform(const pp::Transform& a, const pp::Transform& b) {
  return std::memcmp(a.m, b.m, sizeof a.m) == 0 && a.input_width == b.input_width &&
         a.input_height == b.input_height && std::memcmp(a.content, b.content, sizeof a.content) == 0 &&
         std::memcmp(a.source_roi, b.source_roi, sizeof a.source_roi) == 0;
}

void BindTransform(py::module_& m) {
  using T = pp::Transform;
  py::class_<T>(m, "Transform", "preprocess::Transform: model input <-> source frame (edgerun.Transform wraps it).")
      .def(py::init([](py::handle matrix_obj, py::handle input_size_obj, py::handle content_obj,
                       py::handle source_roi_obj) {
             auto nums = [](py::handle v, const char* name, size_t n) {
               auto r = edgerun_py::OptionValue<std::vector<double>>::from(v, name);
               if (r.size() != n) edgerun_py::fail_option(name, std::to_string(n) + " numbers", v);
               return r;
             };
             auto ints = [](py::handle v, const char* name, size_t n) {
               auto r = edgerun_py::OptionValue<std::vector<int>>::from(v, name);
               if (r.size() != n) edgerun_py::fail_option(name, std::to_string(n) + " ints", v);
               return r;
             };
             const auto matrix = nums(matrix_obj, "matrix", 6);
             const auto input_size = ints(input_size_obj, "input_size", 2);
             const auto content = ints(content_obj, "content", 4);
             const auto source_roi = ints(source_roi_obj, "source_roi", 4);
             T t;
             for (int k = 0; k < 6; ++k) t.m[k] = matrix[k];
             t.input_width = input_size[0];
             t.input_height = input_size[1];
             for (int k = 0; k < 4; ++k) {
               t.content[k] = content[k];
               t.source_roi[k] = source_roi[k];
             }
             return t;
           }),
           py::arg("matrix"), py::arg("input_size"), py::arg("content"), py::arg("source_roi"))
      .def_property_readonly("matrix",
                             [](const T& t) { return py::make_tuple(t.m[0], t.m[1], t.m[2], t.m[3], t.m[4], t.m[5]); })
      .def_property_readonly("input_size", [](const T& t) { return py::make_tuple(t.input_width, t.input_height); })
      .def_property_readonly(
          "content", [](const T& t) { return py::make_tuple(t.content[0], t.content[1], t.content[2], t.content[3]); })
      .def_property_readonly("source_roi", [](const T& t) {
        return py::make_tuple(t.source_roi[0], t.source_roi[1], t.source_roi[2], t.source_roi[3]);
      });
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
            // Four integers (int, numpy integer, or a float with an integral
            // value such as 10.0): a fractional 10.5 is refused, not
            // truncated, and a value beyond int range is an InputError.
            std::vector<int> r;
            if (!PyUnicode_Check(v.ptr()) && !PyBytes_Check(v.ptr()) && py::isinstance<py::iterable>(v)) {
              static const char* const kNames[] = {"x", "y", "w", "h"};
              for (py::handle x : v) {
                if (r.size() == 4) { r.push_back(0); break; }
                const std::string what = std::string("roi ") + kNames[r.size()];
                py::object item = py::reinterpret_borrow<py::object>(x);
                if (PyFloat_Check(x.ptr())) {
                  const double d = PyFloat_AsDouble(x.ptr());
                  if (!std::isfinite(d) || std::floor(d) != d)
                    edgerun_py::fail_option(what, "an integer number of pixels (roi is (x, y, w, h) in pixels)", x);
                  if (std::fabs(d) > 9e15) edgerun_py::fail_option(what, "an int in [-2147483648, 2147483647]", x);
                  item = py::int_(static_cast<long long>(d));
                } else if (PyBool_Check(x.ptr()) || !PyIndex_Check(x.ptr())) {
                  edgerun_py::fail_option("roi", "(x, y, w, h) integers or None", v);
                }
                r.push_back(edgerun_py::int_in_range<int>(item, what));
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

  // Numbers arrive as Python objects and are converted here: an out-of-range
  // int is a one-line InputError naming the argument, not pybind11's dump.
  py::object Run(const py::array& frame, py::array& out, py::handle scale_obj, py::handle zero_point_obj) {
    const double scale = edgerun_py::OptionValue<double>::from(scale_obj, "scale");
    const int zero_point = edgerun_py::int_in_range<int>(zero_point_obj, "zero_point");
    const pp::Spec& s = impl_->spec();
    pp::Image img = edgerun_py::check_value(pp::FrameFromArray(s.format, Desc(frame)));
    pp::Output o = edgerun_py::check_value(pp::OutputFromArray(s, Desc(out)));
    o.scale = static_cast<float>(scale);
    o.zero_point = zero_point;
    edgerun::Expected<pp::Transform> r = edgerun::InputError("not run");
    {
      py::gil_scoped_release release;  // frame/out stay referenced by the caller's arguments
      r = impl_->Run(img, o);
    }
    if (!r.ok()) edgerun_py::throw_status(r.status());
    return last_.get(r.value());
  }

  // A rotated rectangle of `frame` into `out` (edgerun/roi_crop.h); roi = (cx, cy, w, h, angle degrees).
  pp::Transform CropRotated(const py::array& frame, py::array& out, const std::vector<double>& roi,
                            py::handle scale_obj, py::handle zero_point_obj) {
    if (roi.size() != 5)
      edgerun_py::fail_input("roi: expected (cx, cy, width, height, angle), got " + std::to_string(roi.size()) +
                             " value(s)");
    const double scale = edgerun_py::OptionValue<double>::from(scale_obj, "scale");
    const int zero_point = edgerun_py::int_in_range<int>(zero_point_obj, "zero_point");
    const pp::Spec& s = impl_->spec();
    pp::Image img = edgerun_py::check_value(pp::FrameFromArray(s.format, Desc(frame)));
    pp::Output o = edgerun_py::check_value(pp::OutputFromArray(s, Desc(out)));
    o.scale = static_cast<float>(scale);
    o.zero_point = zero_point;
    const pp::RotatedRoi r{roi[0], roi[1], roi[2], roi[3], roi[4]};
    edgerun::Expected<pp::Transform> t = edgerun::InputError("not run");
    {
      py::gil_scoped_release release;  // frame/out stay referenced by the caller's arguments
      t = pp::CropRotatedRoi(s, img, r, o);
    }
    return edgerun_py::check_value(std::move(t));
  }

  pp::Transform GetTransform(py::handle sw, py::handle sh, py::handle ow, py::handle oh) {
    using edgerun_py::int_in_range;
    return edgerun_py::check_value(impl_->GetTransform(int_in_range<int>(sw, "frame_size width"),
                                                       int_in_range<int>(sh, "frame_size height"),
                                                       int_in_range<int>(ow, "input_size width"),
                                                       int_in_range<int>(oh, "input_size height")));
  }

  std::string kernel() const { return impl_->kernel_name(); }
  // The kernel path the plan for this frame/output geometry runs ("avx2/area", "scalar", ...).
  std::string KernelPath(const py::array& frame, py::array& out) {
    const pp::Spec& s = impl_->spec();
    pp::Image img = edgerun_py::check_value(pp::FrameFromArray(s.format, Desc(frame)));
    pp::Output o = edgerun_py::check_value(pp::OutputFromArray(s, Desc(out)));
    return edgerun_py::check_value(impl_->KernelPath(img.width, img.height, o.width, o.height, o.type));
  }
  pp::Spec spec() const { return impl_->spec(); }
  const std::shared_ptr<pp::Preprocessor>& shared() const { return impl_; }

 private:
  std::shared_ptr<pp::Preprocessor> impl_;
  edgerun_py::TransformCache last_;
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
  const auto a = py::reinterpret_borrow<py::array>(frame);
  return check_value(pp::FrameFromArray(format, Desc(a)));
}

py::object TransformCache::get(const pp::Transform& t) {
  if (!obj_ || !SameTransform(t, last_)) {
    obj_ = py::cast(t);
    last_ = t;
  }
  return obj_;
}

}  // namespace edgerun_py

void bind_preprocess(pybind11::module_& m) {
  BindSpec(m);
  BindTransform(m);
  py::class_<PyPreprocessor>(m, "_Preprocessor")
      .def(py::init<const pp::Spec&>(), py::arg("spec"), "Validates the spec (InputError naming the option).")
      .def("run", &PyPreprocessor::Run, py::arg("frame"), py::arg("out"), py::arg("scale"), py::arg("zero_point"),
           "Convert `frame` into `out` (GIL released); returns the Transform (the same object while the geometry "
           "does not change).")
      .def("crop_rotated", &PyPreprocessor::CropRotated, py::arg("frame"), py::arg("out"), py::arg("roi"),
           py::arg("scale"), py::arg("zero_point"),
           "Sample the rotated rectangle roi = (cx, cy, w, h, angle degrees) of `frame` into `out` (GIL released).")
      .def("transform", &PyPreprocessor::GetTransform, py::arg("src_width"), py::arg("src_height"),
           py::arg("out_width"), py::arg("out_height"))
      .def_property_readonly("kernel", &PyPreprocessor::kernel)
      .def("kernel_path", &PyPreprocessor::KernelPath, py::arg("frame"), py::arg("out"),
           "The kernel path a call with this frame and output geometry runs: 'scalar' or '<isa>/<path>' "
           "(path: 'area', 'area-uniform', 'windows', 'packed', 'packed-uniform'); chosen once per geometry.")
      .def_property_readonly("spec", &PyPreprocessor::spec, "A copy of the validated spec.");
  m.def("_preprocess_active_isa", [] { return std::string(pp::ActiveIsa()); },
        "Kernel ISA preprocessing uses on this machine ('avx2', 'neon' or 'scalar').");
  m.def("_cpu_features", [] { return edgerun::CpuFeatureString(); },
        "CPU features detected at run time, space separated ('sse4.1 avx avx2 fma f16c', 'neon dotprod').");
}
