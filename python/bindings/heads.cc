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

pp::OutputRef Ref(py::handle o, const char* what) {
  pp::OutputRef r;
  if (o.is_none()) return r;
  if (py::isinstance<py::str>(o)) {
    r.name = o.cast<std::string>();
    if (r.name.empty()) edgerun_py::fail_input(std::string(what) + ": expected an output index or a non-empty name, got ''");
    return r;
  }
  if (py::isinstance<py::bool_>(o) || !py::isinstance<py::int_>(o))
    edgerun_py::fail_input(std::string(what) + ": expected an output index (int) or name (str), got " + TypeName(o));
  const long long v = o.cast<long long>();
  if (v < 0) edgerun_py::fail_input(std::string(what) + ": expected an output index >= 0, got " + std::to_string(v));
  r.index = static_cast<int>(v);
  return r;
}

edgerun::TensorInfo InfoFromTuple(py::handle h, const char* role, size_t i) {
  const std::string where = std::string(role) + " " + std::to_string(i);
  if (!py::isinstance<py::sequence>(h) || py::len(h) < 3)
    edgerun_py::fail_input(where + ": expected a spec (name, shape, dtype[, scale, zero_point]), got " + TypeName(h));
  py::sequence s = py::reinterpret_borrow<py::sequence>(h);
  edgerun::TensorInfo t;
  t.name = py::str(s[0]).cast<std::string>();
  for (py::handle d : py::reinterpret_borrow<py::sequence>(s[1])) t.shape.push_back(d.cast<int64_t>());
  t.dtype = edgerun_py::dtype_from_numpy(py::dtype::from_args(s[2]));
  if (t.dtype == edgerun::DType::kUnknown)
    edgerun_py::fail_input(where + ": unsupported dtype " + py::str(s[2]).cast<std::string>());
  if (py::len(s) >= 5) {
    t.scale = s[3].cast<float>();
    t.zero_point = s[4].cast<int64_t>();
  }
  size_t n = 1;
  for (int64_t d : t.shape) n *= static_cast<size_t>(d < 0 ? 0 : d);
  t.nbytes = n * edgerun::DTypeSize(t.dtype);
  return t;
}

std::vector<edgerun::TensorInfo> Infos(py::handle list, const char* role) {
  std::vector<edgerun::TensorInfo> v;
  if (list.is_none()) return v;
  size_t i = 0;
  for (py::handle h : list) v.push_back(InfoFromTuple(h, role, i++));
  return v;
}

// A bound decoder plus the tensors it was bound to (to check numpy outputs).
class PyDecoder {
 public:
  PyDecoder(std::shared_ptr<const pp::Decoder> d, std::vector<edgerun::TensorInfo> outs)
      : d_(std::move(d)), outs_(std::move(outs)) {}

  py::object Decode(py::sequence outputs, py::object transform) {
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
    if (transform.is_none()) {
      py::gil_scoped_release release;
      st = d_->Decode(ptrs, nullptr, &r);
    } else {
      edgerun::preprocess::Transform tr = TransformFrom(transform);
      py::gil_scoped_release release;
      st = d_->Decode(ptrs, &tr, &r);
    }
    if (!st.ok()) edgerun_py::throw_status(st);
    return result_to_numpy(r);
  }

  size_t num_outputs() const { return outs_.size(); }

  // (matrix6, (input_w, input_h)[, content, source_roi]) as edgerun.Transform carries it.
  static edgerun::preprocess::Transform TransformFrom(py::handle h) {
    edgerun::preprocess::Transform t;
    if (!py::isinstance<py::sequence>(h) || py::len(h) < 2) edgerun_py::fail_input("transform: expected (matrix, input_size)");
    py::sequence s = py::reinterpret_borrow<py::sequence>(h);
    py::sequence m = s[0].cast<py::sequence>();
    if (py::len(m) != 6) edgerun_py::fail_input("transform: expected a 2x3 matrix (6 values)");
    for (int k = 0; k < 6; ++k) t.m[k] = m[k].cast<double>();
    py::sequence size = s[1].cast<py::sequence>();
    if (py::len(size) != 2) edgerun_py::fail_input("transform: expected input_size (width, height)");
    t.input_width = size[0].cast<int>();
    t.input_height = size[1].cast<int>();
    return t;
  }

 private:
  std::shared_ptr<const pp::Decoder> d_;
  std::vector<edgerun::TensorInfo> outs_;
};

// --- option parsing -----------------------------------------------------------
template <class T>
bool Opt(py::handle o, T* out) {
  if (o.is_none()) return false;
  *out = o.cast<T>();
  return true;
}

pp::NmsMode ParseNms(const std::string& s) {
  if (s == "hard") return pp::NmsMode::kHard;
  if (s == "weighted") return pp::NmsMode::kWeighted;
  edgerun_py::fail_input("nms: expected 'hard' or 'weighted', got '" + s + "'");
}

pp::SsdAnchorOptions AnchorOptionsFrom(py::dict d) {
  pp::SsdAnchorOptions a;
  for (auto item : d) {
    const std::string k = py::str(item.first).cast<std::string>();
    py::handle v = item.second;
    if (v.is_none()) continue;
    try {
      if (k == "num_layers") a.num_layers = v.cast<int>();
      else if (k == "min_scale") a.min_scale = v.cast<float>();
      else if (k == "max_scale") a.max_scale = v.cast<float>();
      else if (k == "input_width") a.input_width = v.cast<int>();
      else if (k == "input_height") a.input_height = v.cast<int>();
      else if (k == "strides") a.strides = v.cast<std::vector<int>>();
      else if (k == "feature_map_width") a.feature_map_width = v.cast<std::vector<int>>();
      else if (k == "feature_map_height") a.feature_map_height = v.cast<std::vector<int>>();
      else if (k == "aspect_ratios") a.aspect_ratios = v.cast<std::vector<float>>();
      else if (k == "anchor_offset_x") a.anchor_offset_x = v.cast<float>();
      else if (k == "anchor_offset_y") a.anchor_offset_y = v.cast<float>();
      else if (k == "reduce_boxes_in_lowest_layer") a.reduce_boxes_in_lowest_layer = v.cast<bool>();
      else if (k == "interpolated_scale_aspect_ratio") a.interpolated_scale_aspect_ratio = v.cast<float>();
      else if (k == "fixed_anchor_size") a.fixed_anchor_size = v.cast<bool>();
      else edgerun_py::fail_input("anchors: unknown option '" + k + "'");
    } catch (const py::cast_error&) {
      edgerun_py::fail_input("anchors: option '" + k + "' has the wrong type (" + TypeName(v) + ")");
    }
  }
  return a;
}

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

std::shared_ptr<pp::Ssd> MakeSsd(const std::string& preset, py::object anchors, py::object anchor_options,
                                 py::object box_coder, py::object scales, py::object num_keypoints,
                                 py::object score_activation, py::object score_clipping, py::object score_threshold,
                                 py::object iou_threshold, py::object max_detections, py::object nms,
                                 py::object class_agnostic, py::object background_class, py::object boxes_output,
                                 py::object scores_output) {
  pp::SsdOptions o;
  if (preset == "blazeface") o = pp::BlazeFaceOptions();
  else if (!preset.empty()) edgerun_py::fail_input("SSD: unknown preset '" + preset + "'");
  if (!anchors.is_none()) {
    py::array_t<float, py::array::c_style | py::array::forcecast> a;
    try {
      a = anchors.cast<py::array_t<float, py::array::c_style | py::array::forcecast>>();
    } catch (const py::cast_error&) {
      edgerun_py::fail_input("anchors: expected an (N, 4) array of (y_center, x_center, h, w), got " + TypeName(anchors));
    }
    if (a.ndim() != 2 || a.shape(1) != 4 || a.shape(0) < 1)
      edgerun_py::fail_input("anchors: expected an (N, 4) array of (y_center, x_center, h, w), got " + std::to_string(a.ndim()) +
           "-D shape");
    o.anchors.resize(static_cast<size_t>(a.shape(0)));
    const float* p = a.data();
    for (size_t i = 0; i < o.anchors.size(); ++i) o.anchors[i] = {p[i * 4], p[i * 4 + 1], p[i * 4 + 2], p[i * 4 + 3]};
  } else if (!anchor_options.is_none()) {
    o.anchor_options = AnchorOptionsFrom(anchor_options.cast<py::dict>());
  } else if (preset.empty()) {
    edgerun_py::fail_input("SSD: anchors are required: an (N, 4) array or SsdAnchors(...) options");
  }
  std::string coder;
  if (Opt(box_coder, &coder)) {
    if (coder == "tf") o.box_coder = pp::BoxCoder::kTfObjectDetection;
    else if (coder == "mediapipe") o.box_coder = pp::BoxCoder::kMediaPipe;
    else edgerun_py::fail_input("box_coder: expected 'tf' or 'mediapipe', got '" + coder + "'");
  }
  if (!scales.is_none()) {
    auto v = scales.cast<std::vector<float>>();
    if (v.size() != 4) edgerun_py::fail_input("scales: expected 4 values (y_scale, x_scale, h_scale, w_scale), got " + std::to_string(v.size()));
    for (int k = 0; k < 4; ++k) o.scales[k] = v[k];
  }
  Opt(num_keypoints, &o.num_keypoints);
  std::string act;
  if (Opt(score_activation, &act)) {
    if (act == "sigmoid") o.activation = pp::ScoreActivation::kSigmoid;
    else if (act == "softmax") o.activation = pp::ScoreActivation::kSoftmax;
    else if (act == "none") o.activation = pp::ScoreActivation::kNone;
    else edgerun_py::fail_input("score_activation: expected 'sigmoid', 'softmax' or 'none', got '" + act + "'");
  }
  Opt(score_clipping, &o.score_clipping);
  Opt(score_threshold, &o.score_threshold);
  Opt(iou_threshold, &o.nms.iou_threshold);
  Opt(max_detections, &o.nms.max_detections);
  std::string mode;
  if (Opt(nms, &mode)) o.nms.mode = ParseNms(mode);
  Opt(class_agnostic, &o.nms.class_agnostic);
  Opt(background_class, &o.background_class);
  o.boxes_output = Ref(boxes_output, "boxes_output");
  o.scores_output = Ref(scores_output, "scores_output");
  return edgerun_py::check_value(pp::Ssd::Create(o));
}

}  // namespace

py::object result_to_numpy(const pp::Result& r) {
  const py::ssize_t n = static_cast<py::ssize_t>(r.n);
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
          "Bind to tensors given as (name, shape, dtype[, scale, zero_point]) specs.");

  py::class_<pp::Classifier, pp::Head, std::shared_ptr<pp::Classifier>>(m, "ClassifierHead")
      .def(py::init([](int top_k, bool softmax, py::object output) {
             pp::ClassifierOptions o;
             o.top_k = top_k;
             o.softmax = softmax;
             o.output = Ref(output, "output");
             return edgerun_py::check_value(pp::Classifier::Create(o));
           }),
           py::arg("top_k") = 5, py::arg("softmax") = false, py::arg("output") = py::none());

  py::class_<pp::Ssd, pp::Head, std::shared_ptr<pp::Ssd>>(m, "SsdHead")
      .def(py::init(&MakeSsd), py::arg("preset") = "", py::arg("anchors") = py::none(),
           py::arg("anchor_options") = py::none(), py::arg("box_coder") = py::none(), py::arg("scales") = py::none(),
           py::arg("num_keypoints") = py::none(), py::arg("score_activation") = py::none(),
           py::arg("score_clipping") = py::none(), py::arg("score_threshold") = py::none(),
           py::arg("iou_threshold") = py::none(), py::arg("max_detections") = py::none(),
           py::arg("nms") = py::none(), py::arg("class_agnostic") = py::none(),
           py::arg("background_class") = py::none(), py::arg("boxes_output") = py::none(),
           py::arg("scores_output") = py::none())
      .def_property_readonly("anchors", [](const pp::Ssd& h) -> py::object {
        if (h.options().anchors.empty()) return py::none();
        return AnchorsArray(h.options().anchors);
      });

  py::class_<pp::Yolo, pp::Head, std::shared_ptr<pp::Yolo>>(m, "YoloHead")
      .def(py::init([](int version, float score_threshold, float iou_threshold, int max_detections,
                       bool class_agnostic, const std::string& layout, const std::string& coordinates,
                       py::object output) {
             pp::YoloOptions o;
             o.version = version;
             o.score_threshold = score_threshold;
             o.nms.iou_threshold = iou_threshold;
             o.nms.max_detections = max_detections;
             o.nms.class_agnostic = class_agnostic;
             if (layout == "auto") o.layout = pp::YoloOptions::Layout::kAuto;
             else if (layout == "features_first") o.layout = pp::YoloOptions::Layout::kFeaturesFirst;
             else if (layout == "boxes_first") o.layout = pp::YoloOptions::Layout::kBoxesFirst;
             else edgerun_py::fail_input("layout: expected 'auto', 'features_first' ([1, 4 + C, N]) or 'boxes_first' ([1, N, 4 + C]), "
                       "got '" + layout + "'");
             if (coordinates == "auto") o.coordinates = pp::YoloOptions::Coordinates::kAuto;
             else if (coordinates == "normalized") o.coordinates = pp::YoloOptions::Coordinates::kNormalized;
             else if (coordinates == "pixels") o.coordinates = pp::YoloOptions::Coordinates::kPixels;
             else edgerun_py::fail_input("coordinates: expected 'auto', 'normalized' or 'pixels', got '" + coordinates + "'");
             o.output = Ref(output, "output");
             return edgerun_py::check_value(pp::Yolo::Create(o));
           }),
           py::arg("version") = 8, py::arg("score_threshold") = 0.25f, py::arg("iou_threshold") = 0.45f,
           py::arg("max_detections") = 100, py::arg("class_agnostic") = false, py::arg("layout") = "auto",
           py::arg("coordinates") = "auto", py::arg("output") = py::none());

  py::class_<pp::DetectionPostProcess, pp::Head, std::shared_ptr<pp::DetectionPostProcess>>(
      m, "DetectionPostProcessHead")
      .def(py::init([](py::object score_threshold, int max_detections, py::object boxes_output,
                       py::object classes_output, py::object scores_output, py::object count_output) {
             pp::DetectionPostProcessOptions o;
             if (!score_threshold.is_none()) {
               o.has_score_threshold = true;
               o.score_threshold = score_threshold.cast<float>();
             }
             o.max_detections = max_detections;
             o.boxes_output = Ref(boxes_output, "boxes_output");
             o.classes_output = Ref(classes_output, "classes_output");
             o.scores_output = Ref(scores_output, "scores_output");
             o.count_output = Ref(count_output, "count_output");
             return edgerun_py::check_value(pp::DetectionPostProcess::Create(o));
           }),
           py::arg("score_threshold") = py::none(), py::arg("max_detections") = 0,
           py::arg("boxes_output") = py::none(), py::arg("classes_output") = py::none(),
           py::arg("scores_output") = py::none(), py::arg("count_output") = py::none());

  m.def(
      "generate_ssd_anchors",
      [](py::dict options) {
        pp::SsdAnchorOptions o = AnchorOptionsFrom(options);
        return AnchorsArray(edgerun_py::check_value(pp::GenerateSsdAnchors(o)));
      },
      py::arg("options"), "MediaPipe SsdAnchorsCalculator anchors as an (N, 4) float32 array (y, x, h, w).");
}
