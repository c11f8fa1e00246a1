// Bindings of the decoding heads (edgerun::postprocess): option conversion,
// numpy outputs -> Decode() with the GIL released, Result -> numpy structured
// array. The Python API lives in python/edgerun/heads.py.
#include <pybind11/stl.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bindings.h"
#include "edgerun/postprocess.h"
#include "options.h"

namespace pp = edgerun::postprocess;

namespace {


std::string TypeName(py::handle o) { return py::str(py::type::of(o).attr("__name__")).cast<std::string>(); }

// Structured dtypes of results, one per keypoint count (leaked on purpose,
// like every object that must survive interpreter exit).
py::dtype DetectionDtype(int k) {
  static std::map<int, PyObject*> cache;
  auto it = cache.find(k);
  if (it != cache.end()) return py::reinterpret_borrow<py::dtype>(it->second);
  py::list fields;
  for (const char* f : {"x1", "y1", "x2", "y2", "score"}) fields.append(py::make_tuple(f, "<f4"));
  fields.append(py::make_tuple("class_id", "<i4"));
  if (k > 0) fields.append(py::make_tuple("keypoints", "<f4", py::make_tuple(k, 2)));
  py::dtype dt = py::dtype::from_args(fields);
  cache[k] = dt.release().ptr();
  return py::reinterpret_borrow<py::dtype>(cache[k]);
}

py::dtype ClassificationDtype() {
  static PyObject* cached = nullptr;
  if (!cached) {
    py::list fields;
    fields.append(py::make_tuple("class_id", "<i4"));
    fields.append(py::make_tuple("score", "<f4"));
    cached = py::dtype::from_args(fields).release().ptr();
  }
  return py::reinterpret_borrow<py::dtype>(cached);
}

// An output chosen by index (int >= 0) or name (str); None: chosen by the head.
pp::OutputRef Ref(py::handle o, const std::string& what) {
  pp::OutputRef r;
  if (o.is_none()) return r;
  if (py::isinstance<py::str>(o)) {
    r.name = edgerun_py::utf8_of(o, what);
    if (r.name.empty()) edgerun_py::fail_option(what, "an output index or a non-empty name", o);
    return r;
  }
  const long long v = edgerun_py::OptionValue<long long>::from(o, what);
  if (v < 0) edgerun_py::fail_option(what, "an output index >= 0 or a name", o);
  r.index = static_cast<int>(v);
  return r;
}

py::object RefObject(const pp::OutputRef& r) {
  if (!r.name.empty()) return py::str(r.name);
  if (r.index >= 0) return py::int_(r.index);
  return py::none();
}

// A TensorSpec-like object (attributes name, shape, dtype, scale, zero_point)
// as the core's TensorInfo.
edgerun::TensorInfo InfoFromSpec(py::handle h, const char* role, size_t i) {
  const std::string where = std::string(role) + " " + std::to_string(i);
  edgerun::TensorInfo t;
  py::object dtype;
  try {
    t.name = py::str(h.attr("name")).cast<std::string>();
    for (py::handle d : h.attr("shape")) t.shape.push_back(d.cast<int64_t>());
    dtype = h.attr("dtype");
    t.dtype = edgerun_py::dtype_from_numpy(py::dtype::from_args(dtype));
    t.scale = py::getattr(h, "scale", py::float_(0.0)).cast<float>();
    t.zero_point = py::getattr(h, "zero_point", py::int_(0)).cast<int64_t>();
  } catch (const py::error_already_set&) {
    edgerun_py::fail_input(where + ": expected a TensorSpec (name, shape, dtype, scale, zero_point), got " + TypeName(h));
  } catch (const py::cast_error&) {
    edgerun_py::fail_input(where + ": expected a TensorSpec (name, shape, dtype, scale, zero_point), got " + TypeName(h));
  }
  if (t.dtype == edgerun::DType::kUnknown)
    edgerun_py::fail_input(where + ": unsupported dtype " + py::str(dtype).cast<std::string>());
  size_t n = 1;
  for (int64_t d : t.shape) n *= static_cast<size_t>(d < 0 ? 0 : d);
  t.nbytes = n * edgerun::DTypeSize(t.dtype);
  return t;
}

std::vector<edgerun::TensorInfo> Infos(py::handle list, const char* role) {
  std::vector<edgerun::TensorInfo> v;
  if (list.is_none()) return v;
  size_t i = 0;
  for (py::handle h : list) v.push_back(InfoFromSpec(h, role, i++));
  return v;
}

// A bound decoder plus the tensors it was bound to (to check numpy outputs).
class PyDecoder {
 public:
  PyDecoder(std::shared_ptr<const pp::Decoder> d, std::vector<edgerun::TensorInfo> outs)
      : d_(std::move(d)), outs_(std::move(outs)) {}

  py::object Decode(py::sequence outputs, const edgerun::preprocess::Transform* transform) {
    const size_t n = outs_.size();
    if (py::len(outputs) != n)
      edgerun_py::fail_input("decode: the head was bound to " + std::to_string(n) + " output(s), got " +
           std::to_string(py::len(outputs)) + " array(s)");
    std::vector<py::array> keep(n);
    std::vector<const void*> ptrs(n);
    for (size_t i = 0; i < n; ++i) {
      py::handle o = outputs[i];
      const edgerun::TensorInfo& t = outs_[i];
      if (!py::isinstance<py::array>(o))
        edgerun_py::fail_input("output " + std::to_string(i) + ": expected a numpy array, got " + TypeName(o));
      py::array a = py::reinterpret_borrow<py::array>(o);
      if (edgerun_py::dtype_from_numpy(a.dtype()) != t.dtype)
        edgerun_py::fail_input("output " + std::to_string(i) + ": expected " + edgerun::DTypeName(t.dtype) + ", got " +
             py::str(a.dtype()).cast<std::string>());
      bool same = static_cast<size_t>(a.ndim()) == t.shape.size();
      for (size_t k = 0; same && k < t.shape.size(); ++k) same = a.shape(k) == t.shape[k];
      if (!same) {
        std::string got = "(";
        for (py::ssize_t k = 0; k < a.ndim(); ++k) got += (k ? ", " : "") + std::to_string(a.shape(k));
        std::string want = "(";
        for (size_t k = 0; k < t.shape.size(); ++k) want += (k ? ", " : "") + std::to_string(t.shape[k]);
        edgerun_py::fail_input("output " + std::to_string(i) + ": expected shape " + want + "), got " + got + ")");
      }
      if (!(a.flags() & py::array::c_style)) a = py::array::ensure(a, py::array::c_style);
      keep[i] = a;
      ptrs[i] = a.data();
    }
    pp::Result r;
    edgerun::Status st;
    {
      py::gil_scoped_release release;  // `transform` is a copy-free view of a Python-held object kept by the call
      st = d_->Decode(ptrs, transform, &r);
    }
    if (!st.ok()) edgerun_py::throw_status(st);
    return result_to_numpy(r);
  }

  size_t num_outputs() const { return outs_.size(); }

 private:
  std::shared_ptr<const pp::Decoder> d_;
  std::vector<edgerun::TensorInfo> outs_;
};

py::array AnchorsArray(const std::vector<pp::Anchor>& v) {
  py::array_t<float> arr({static_cast<py::ssize_t>(v.size()), static_cast<py::ssize_t>(4)});
  float* p = arr.mutable_data();
  for (size_t i = 0; i < v.size(); ++i) {
    p[i * 4 + 0] = v[i].y_center;
    p[i * 4 + 1] = v[i].x_center;
    p[i * 4 + 2] = v[i].h;
    p[i * 4 + 3] = v[i].w;
  }
  return arr;
}

std::vector<pp::Anchor> AnchorsFrom(py::handle v) {
  using Arr = py::array_t<float, py::array::c_style | py::array::forcecast>;
  Arr a;
  bool ok = !PyUnicode_Check(v.ptr()) && !PyBytes_Check(v.ptr());
  if (ok) {
    try {
      a = v.cast<Arr>();
    } catch (const py::cast_error&) {
      ok = false;
    } catch (const py::error_already_set&) {  // numpy's own conversion error (ValueError, TypeError)
      ok = false;
    }
  }
  if (!ok || a.ndim() != 2 || a.shape(1) != 4 || a.shape(0) < 1) {
    std::string got = ok ? "shape (" : "";
    if (ok)
      for (py::ssize_t k = 0; k < a.ndim(); ++k) got += (k ? ", " : "") + std::to_string(a.shape(k));
    got = ok ? got + (a.ndim() == 1 ? ",)" : ")") : TypeName(v);
    edgerun_py::fail_input("anchors: expected an (N, 4) array of (y_center, x_center, h, w), got " + got);
  }
  std::vector<pp::Anchor> out(static_cast<size_t>(a.shape(0)));
  const float* p = a.data();
  for (size_t i = 0; i < out.size(); ++i) out[i] = {p[i * 4], p[i * 4 + 1], p[i * 4 + 2], p[i * 4 + 3]};
  return out;
}

// An option where None stands for the C++ sentinel `none` (num_keypoints -1,
// max_detections 0 ...).
template <class S, class T, class Access>
void NoneIs(edgerun_py::OptionsClass<S>& c, const char* name, Access access, T none) {
  const std::string n = name;
  c.property(
      name,
      [access, none](const S& s) -> py::object {
        const T v = access(const_cast<S&>(s));
        return v == none ? py::object(py::none()) : edgerun_py::OptionValue<T>::to(v);
      },
      [access, none, n](S& s, py::handle v) { access(s) = v.is_none() ? none : edgerun_py::OptionValue<T>::from(v, n); });
}

template <class S>
void OutputField(edgerun_py::OptionsClass<S>& c, const char* name, pp::OutputRef S::*m) {
  const std::string n = name;
  c.property(
      name, [m](const S& s) { return RefObject(s.*m); }, [m, n](S& s, py::handle v) { s.*m = Ref(v, n); });
}

// NMS options appear flat in the Python API (iou_threshold, max_detections, nms, class_agnostic).
template <class S>
void NmsFields(edgerun_py::OptionsClass<S>& c, bool with_mode) {
  c.template field<float>("iou_threshold", [](S& s) -> float& { return s.nms.iou_threshold; });
  NoneIs<S, int>(c, "max_detections", [](S& s) -> int& { return s.nms.max_detections; }, 0);
  if (with_mode) c.template choice<pp::NmsMode>("nms", [](S& s) -> pp::NmsMode& { return s.nms.mode; });
  c.template field<bool>("class_agnostic", [](S& s) -> bool& { return s.nms.class_agnostic; });
}

void BindOptions(py::module_& m) {
  {
    using S = pp::ClassifierOptions;
    edgerun_py::OptionsClass<S> c(m, "ClassifierOptions", "postprocess::ClassifierOptions (defaults from C++).");
    c.field("top_k", &S::top_k).field("softmax", &S::softmax);
    OutputField(c, "output", &S::output);
    c.done();
  }
  {
    using S = pp::SsdAnchorOptions;
    edgerun_py::OptionsClass<S> c(m, "SsdAnchorOptions", "postprocess::SsdAnchorOptions (defaults from C++).");
    c.field("num_layers", &S::num_layers).field("min_scale", &S::min_scale).field("max_scale", &S::max_scale);
    c.field("strides", &S::strides);
    c.property(
        "input_size",
        [](const S& s) -> py::object {
          if (s.input_width == 0 && s.input_height == 0) return py::none();
          return py::make_tuple(s.input_width, s.input_height);
        },
        [](S& s, py::handle v) {
          if (v.is_none()) {
            s.input_width = s.input_height = 0;
            return;
          }
          std::vector<int> wh;
          if (!PyUnicode_Check(v.ptr()) && py::isinstance<py::iterable>(v)) {
            try {
              wh = edgerun_py::OptionValue<std::vector<int>>::from(v, "input_size");
            } catch (const std::exception&) {
              wh.clear();
            }
          }
          if (wh.size() != 2) edgerun_py::fail_option("input_size", "(width, height) or None", v);
          s.input_width = wh[0];
          s.input_height = wh[1];
        });
    c.field("feature_map_width", &S::feature_map_width).field("feature_map_height", &S::feature_map_height);
    c.field("aspect_ratios", &S::aspect_ratios);
    c.field("anchor_offset_x", &S::anchor_offset_x).field("anchor_offset_y", &S::anchor_offset_y);
    c.field("reduce_boxes_in_lowest_layer", &S::reduce_boxes_in_lowest_layer);
    c.field("interpolated_scale_aspect_ratio", &S::interpolated_scale_aspect_ratio);
    c.field("fixed_anchor_size", &S::fixed_anchor_size);
    c.done();
  }
  {
    using S = pp::SsdOptions;
    edgerun_py::OptionsClass<S> c(m, "SsdOptions", "postprocess::SsdOptions (defaults from C++).");
    c.property(
        "anchors",
        [](const S& s) -> py::object {
          if (s.anchors.empty()) return py::none();
          return AnchorsArray(s.anchors);
        },
        [](S& s, py::handle v) {
          if (v.is_none()) s.anchors.clear();
          else s.anchors = AnchorsFrom(v);
        });
    c.property(
        "anchor_options", [](const S& s) -> py::object { return py::cast(s.anchor_options); },
        [](S& s, py::handle v) {
          if (v.is_none()) {
            s.anchor_options = pp::SsdAnchorOptions();
            return;
          }
          if (!py::isinstance<pp::SsdAnchorOptions>(v))
            edgerun_py::fail_option("anchor_options", "SsdAnchorOptions or None", v);
          s.anchor_options = v.cast<pp::SsdAnchorOptions>();
        });
    c.choice("box_coder", &S::box_coder);
    c.property(
        "scales",
        [](const S& s) -> py::object {
          if (s.scales[0] == 0 && s.scales[1] == 0 && s.scales[2] == 0 && s.scales[3] == 0) return py::none();
          py::tuple t(4);
          for (int k = 0; k < 4; ++k) t[k] = edgerun_py::OptionValue<float>::to(s.scales[k]);
          return std::move(t);
        },
        [](S& s, py::handle v) {
          if (v.is_none()) {
            for (float& x : s.scales) x = 0;
            return;
          }
          std::vector<float> vals = edgerun_py::OptionValue<std::vector<float>>::from(v, "scales");
          if (vals.size() != 4) edgerun_py::fail_option("scales", "4 values (y_scale, x_scale, h_scale, w_scale)", v);
          for (int k = 0; k < 4; ++k) s.scales[k] = vals[k];
        });
    NoneIs<S, int>(c, "num_keypoints", [](S& s) -> int& { return s.num_keypoints; }, -1);
    c.choice("score_activation", &S::activation);
    NoneIs<S, float>(c, "score_clipping", [](S& s) -> float& { return s.score_clipping; }, 0.0f);
    c.field("score_threshold", &S::score_threshold);
    NmsFields(c, /*with_mode=*/true);
    c.field("background_class", &S::background_class);
    OutputField(c, "boxes_output", &S::boxes_output);
    OutputField(c, "scores_output", &S::scores_output);
    c.done().def_static("blazeface", &pp::BlazeFaceOptions,
                        "MediaPipe's short-range face detector (postprocess::BlazeFaceOptions).");
  }
  {
    using S = pp::YoloOptions;
    edgerun_py::OptionsClass<S> c(m, "YoloOptions", "postprocess::YoloOptions (defaults from C++).");
    c.field("version", &S::version).field("score_threshold", &S::score_threshold);
    NmsFields(c, /*with_mode=*/false);
    c.choice("layout", &S::layout).choice("coordinates", &S::coordinates);
    NoneIs<S, int>(c, "num_classes", [](S& s) -> int& { return s.num_classes; }, 0);
    c.field("num_keypoints", &S::num_keypoints);
    OutputField(c, "output", &S::output);
    c.done();
  }
  {
    using S = pp::DetectionPostProcessOptions;
    edgerun_py::OptionsClass<S> c(m, "DetectionPostProcessOptions",
                                  "postprocess::DetectionPostProcessOptions (defaults from C++).");
    c.property(
        "score_threshold",
        [](const S& s) -> py::object {
          return s.has_score_threshold ? edgerun_py::OptionValue<float>::to(s.score_threshold) : py::object(py::none());
        },
        [](S& s, py::handle v) {
          s.has_score_threshold = !v.is_none();
          s.score_threshold = v.is_none() ? 0.0f : edgerun_py::OptionValue<float>::from(v, "score_threshold");
        });
    NoneIs<S, int>(c, "max_detections", [](S& s) -> int& { return s.max_detections; }, 0);
    OutputField(c, "boxes_output", &S::boxes_output);
    OutputField(c, "classes_output", &S::classes_output);
    OutputField(c, "scores_output", &S::scores_output);
    OutputField(c, "count_output", &S::count_output);
    c.done();
  }
  {
    using S = pp::SegmentationOptions;
    edgerun_py::OptionsClass<S> c(m, "SegmentationOptions", "postprocess::SegmentationOptions (defaults from C++).");
    c.choice("score_activation", &S::activation).field("threshold", &S::threshold);
    c.choice("resolution", &S::resolution).choice("interpolation", &S::interpolation);
    OutputField(c, "output", &S::output);
    c.done();
  }
  {
    using S = pp::LandmarksOptions;
    edgerun_py::OptionsClass<S> c(m, "LandmarksOptions", "postprocess::LandmarksOptions (defaults from C++).");
    NoneIs<S, int>(c, "num_landmarks", [](S& s) -> int& { return s.num_landmarks; }, 0);
    c.field("dims", &S::dims).field("normalized", &S::normalized);
    c.choice("visibility_activation", &S::visibility_activation).choice("score_activation", &S::score_activation);
    c.property(
        "score_threshold",
        [](const S& s) -> py::object {
          return s.has_score_threshold ? edgerun_py::OptionValue<float>::to(s.score_threshold) : py::object(py::none());
        },
        [](S& s, py::handle v) {
          s.has_score_threshold = !v.is_none();
          s.score_threshold = v.is_none() ? 0.5f : edgerun_py::OptionValue<float>::from(v, "score_threshold");
        });
    OutputField(c, "landmarks_output", &S::landmarks_output);
    OutputField(c, "score_output", &S::score_output);
    c.done();
  }
}

}  // namespace

py::object result_to_numpy(const pp::Result& r) {
  const py::ssize_t n = static_cast<py::ssize_t>(r.n);
  if (r.kind == pp::Result::Kind::kSegmentation) {
    const py::ssize_t h = r.mask_height, w = r.mask_width;
    py::array_t<int32_t> classes({h, w});
    if (!r.mask.empty()) std::memcpy(classes.mutable_data(), r.mask.data(), r.mask.size() * 4);
    py::object scores = py::none();
    if (!r.mask_scores.empty()) {
      py::array_t<float> sc({h, w});
      std::memcpy(sc.mutable_data(), r.mask_scores.data(), r.mask_scores.size() * 4);
      scores = std::move(sc);
    }
    py::tuple matrix(6);
    for (int k = 0; k < 6; ++k) matrix[k] = py::float_(r.mask_matrix[k]);
    py::dict d;
    d["kind"] = "segmentation";
    d["classes"] = classes;
    d["scores"] = scores;
    d["matrix"] = matrix;
    return std::move(d);
  }
  if (r.kind == pp::Result::Kind::kLandmarks) {
    py::array_t<float> pts({n, static_cast<py::ssize_t>(r.num_landmarks), static_cast<py::ssize_t>(r.landmark_dims)});
    if (!r.landmarks.empty()) std::memcpy(pts.mutable_data(), r.landmarks.data(), r.landmarks.size() * 4);
    py::array_t<float> sc(std::vector<py::ssize_t>{n});
    if (n) std::memcpy(sc.mutable_data(), r.scores.data(), r.scores.size() * 4);
    py::dict d;
    d["kind"] = "landmarks";
    d["points"] = pts;
    d["scores"] = sc;
    return std::move(d);
  }
  if (r.kind == pp::Result::Kind::kClassification) {
    py::array a(ClassificationDtype(), std::vector<py::ssize_t>{n});
    auto* p = static_cast<uint8_t*>(a.mutable_data());
    for (size_t i = 0; i < r.n; ++i) {
      std::memcpy(p + i * 8, &r.classes[i], 4);
      std::memcpy(p + i * 8 + 4, &r.scores[i], 4);
    }
    return std::move(a);
  }
  const int k = r.num_keypoints;
  py::array a(DetectionDtype(k), std::vector<py::ssize_t>{n});
  const size_t item = 24 + 8 * static_cast<size_t>(k);
  auto* p = static_cast<uint8_t*>(a.mutable_data());
  for (size_t i = 0; i < r.n; ++i) {
    uint8_t* row = p + i * item;
    std::memcpy(row, &r.boxes[i * 4], 16);
    std::memcpy(row + 16, &r.scores[i], 4);
    std::memcpy(row + 20, &r.classes[i], 4);
    if (k > 0) std::memcpy(row + 24, &r.keypoints[i * 2 * k], 8 * static_cast<size_t>(k));
  }
  return std::move(a);
}

void bind_heads(py::module_& m) {
  py::class_<PyDecoder>(m, "Decoder")
      .def("decode", &PyDecoder::Decode, py::arg("outputs"), py::arg("transform") = py::none(),
           "Decode numpy outputs (GIL released); returns a structured array.")
      .def_property_readonly("num_outputs", &PyDecoder::num_outputs);

  py::class_<pp::Head, std::shared_ptr<pp::Head>>(m, "Head")
      .def("describe", &pp::Head::Describe)
      .def("__repr__", &pp::Head::Describe)
      .def(
          "_bind",
          [](const pp::Head& h, py::object inputs, py::object outputs) {
            auto ins = Infos(inputs, "input");
            auto outs = Infos(outputs, "output");
            edgerun::Expected<std::shared_ptr<const pp::Decoder>> d = edgerun::InternalError("unset");
            {
              py::gil_scoped_release release;
              d = h.Bind(ins, outs);
            }
            if (!d.ok()) edgerun_py::throw_status(d.status());
            return PyDecoder(std::move(d).value(), std::move(outs));
          },
          py::arg("inputs"), py::arg("outputs"),
          "Bind to tensors given as TensorSpec-like objects (name, shape, dtype, scale, zero_point attributes).");

  BindOptions(m);
  py::class_<pp::Classifier, pp::Head, std::shared_ptr<pp::Classifier>>(m, "ClassifierHead")
      .def(py::init([](const pp::ClassifierOptions& o) { return edgerun_py::check_value(pp::Classifier::Create(o)); }),
           py::arg("options"))
      .def_property_readonly("options", [](const pp::Classifier& h) { return h.options(); }, "A copy of the validated options.");

  py::class_<pp::Ssd, pp::Head, std::shared_ptr<pp::Ssd>>(m, "SsdHead")
      .def(py::init([](const pp::SsdOptions& o) { return edgerun_py::check_value(pp::Ssd::Create(o)); }),
           py::arg("options"))
      .def_property_readonly("options", [](const pp::Ssd& h) { return h.options(); }, "A copy of the validated options.")
      .def_property_readonly("anchors", [](const pp::Ssd& h) -> py::object {
        if (h.options().anchors.empty()) return py::none();
        return AnchorsArray(h.options().anchors);
      });

  py::class_<pp::Yolo, pp::Head, std::shared_ptr<pp::Yolo>>(m, "YoloHead")
      .def(py::init([](const pp::YoloOptions& o) { return edgerun_py::check_value(pp::Yolo::Create(o)); }),
           py::arg("options"))
      .def_property_readonly("options", [](const pp::Yolo& h) { return h.options(); }, "A copy of the validated options.");

  py::class_<pp::DetectionPostProcess, pp::Head, std::shared_ptr<pp::DetectionPostProcess>>(
      m, "DetectionPostProcessHead")
      .def(py::init([](const pp::DetectionPostProcessOptions& o) {
             return edgerun_py::check_value(pp::DetectionPostProcess::Create(o));
           }),
           py::arg("options"))
      .def_property_readonly("options", [](const pp::DetectionPostProcess& h) { return h.options(); }, "A copy of the validated options.");

  py::class_<pp::Segmentation, pp::Head, std::shared_ptr<pp::Segmentation>>(m, "SegmentationHead")
      .def(py::init([](const pp::SegmentationOptions& o) {
             return edgerun_py::check_value(pp::Segmentation::Create(o));
           }),
           py::arg("options"))
      .def_property_readonly("options", [](const pp::Segmentation& h) { return h.options(); }, "A copy of the validated options.");

  py::class_<pp::Landmarks, pp::Head, std::shared_ptr<pp::Landmarks>>(m, "LandmarksHead")
      .def(py::init([](const pp::LandmarksOptions& o) { return edgerun_py::check_value(pp::Landmarks::Create(o)); }),
           py::arg("options"))
      .def_property_readonly("options", [](const pp::Landmarks& h) { return h.options(); }, "A copy of the validated options.");

  m.def(
      "generate_ssd_anchors",
      [](const pp::SsdAnchorOptions& o) { return AnchorsArray(edgerun_py::check_value(pp::GenerateSsdAnchors(o))); },
      py::arg("options"), "MediaPipe SsdAnchorsCalculator anchors as an (N, 4) float32 array (y, x, h, w).");
}
