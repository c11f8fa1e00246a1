// YOLO head: YOLOv5 ([1, N, 5 + C]) and YOLOv8 ([1, 4 + C, N] or [1, N, 4 + C])
// outputs; class scores ranked and thresholded on the raw values (quantized
// outputs compare raw bytes against a threshold quantized once at Bind), boxes
// decoded for candidates only, then NMS.
#include <algorithm>

#include "postprocess/common.h"

namespace edgerun {
namespace postprocess {

using namespace internal;  // NOLINT

namespace {

struct YoloPlan {
  size_t out = 0;
  int version = 8;
  size_t n = 0, classes = 0, features = 0;  // features = 4 (+1) + classes
  size_t first_class = 4;                   // 5 for v5
  bool features_first = true;               // [F, N] (else [N, F])
  DType dtype = DType::kFloat32;
  Quant q;
  RawThreshold raw;  // on class scores (v8) / objectness (v5), no activation
  float threshold = 0.25f;
  YoloOptions::Coordinates coordinates = YoloOptions::Coordinates::kAuto;
  int width = 0, height = 0;
  NmsOptions nms;
};

// best[i] = max(best[i], row[i]) keeping the first class on ties; branch-free
// so that the compiler vectorizes it (one pass per class row of [F, N]).
template <class T>
void RowMax(const T* __restrict row, float* __restrict best, int32_t* __restrict cls, int32_t c, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const float v = static_cast<float>(KeyOf<T>::Get(row[i]));
    const float b = best[i];
    const int32_t mask = -static_cast<int32_t>(v > b);  // masks, not branches: vectorizes
    best[i] = v > b ? v : b;
    cls[i] = (c & mask) | (cls[i] & ~mask);
  }
}

class YoloDecoder : public Decoder {
 public:
  explicit YoloDecoder(YoloPlan p) : p_(std::move(p)) {}

  Status Decode(const std::vector<const void*>& outputs, const preprocess::Transform* t,
                Result* result) const override {
    if (p_.out >= outputs.size() || !outputs[p_.out])
      return InputError("YOLO: output " + std::to_string(p_.out) + " was not given");
    const void* d = outputs[p_.out];
    Scratch& s = ThreadScratch();
    s.candidates.clear();
    switch (p_.dtype) {
      case DType::kFloat32: Scan(static_cast<const float*>(d), &s); break;
      case DType::kFloat16: Scan(static_cast<const Half*>(d), &s); break;
      case DType::kInt8: Scan(static_cast<const int8_t*>(d), &s); break;
      case DType::kUInt8: Scan(static_cast<const uint8_t*>(d), &s); break;
      default: return InternalError("YOLO: unsupported output type");
    }
    bool normalized = p_.coordinates == YoloOptions::Coordinates::kNormalized;
    if (p_.coordinates == YoloOptions::Coordinates::kAuto) {
      switch (p_.dtype) {
        case DType::kFloat32: normalized = MaxBoxValue(static_cast<const float*>(d)) <= 1.5f; break;
        case DType::kFloat16: normalized = MaxBoxValue(static_cast<const Half*>(d)) <= 1.5f; break;
        case DType::kInt8: normalized = MaxBoxValue(static_cast<const int8_t*>(d)) <= 1.5f; break;
        case DType::kUInt8: normalized = MaxBoxValue(static_cast<const uint8_t*>(d)) <= 1.5f; break;
        default: break;
      }
    }
    double sx = 1, sy = 1;
    if (normalized) {
      sx = p_.width;
      sy = p_.height;
      if (sx <= 0 || sy <= 0) {
        if (!t || t->input_width <= 0 || t->input_height <= 0)
          return InputError("YOLO: the boxes are normalized but the model input size is unknown; bind with the "
                            "model's inputs or pass a transform");
        sx = t->input_width;
        sy = t->input_height;
      }
    }
    for (Candidate& c : s.candidates) {
      const size_t i = static_cast<size_t>(c.index);
      const double xc = Load(d, i, 0) * sx, yc = Load(d, i, 1) * sy;
      const double w = Load(d, i, 2) * sx, h = Load(d, i, 3) * sy;
      c.box[0] = xc - w / 2;
      c.box[1] = yc - h / 2;
      c.box[2] = xc + w / 2;
      c.box[3] = yc + h / 2;
    }
    s.keypoints.clear();
    RunNms(s.candidates, s.keypoints, 0, p_.nms, &s.kept, &s.kept_keypoints);
    EmitDetections(s.kept, s.kept_keypoints, 0, t, result);
    return Status::Ok();
  }

 private:
  size_t At(size_t i, size_t f) const { return p_.features_first ? f * p_.n + i : i * p_.features + f; }
  float Load(const void* d, size_t i, size_t f) const { return LoadFloat(d, p_.dtype, At(i, f), p_.q); }

  template <class T>
  float MaxBoxValue(const T* d) const {
    float mx = -std::numeric_limits<float>::infinity();
    if (p_.features_first) {
      for (size_t k = 0; k < 4 * p_.n; ++k) mx = std::max(mx, static_cast<float>(KeyOf<T>::Get(d[k])));
    } else {
      for (size_t i = 0; i < p_.n; ++i)
        for (size_t f = 0; f < 4; ++f) mx = std::max(mx, static_cast<float>(KeyOf<T>::Get(d[i * p_.features + f])));
    }
    if (std::is_same<T, int8_t>::value || std::is_same<T, uint8_t>::value)
      return (mx - p_.q.zero_point) * p_.q.scale;
    return mx;
  }

  template <class T>
  void Scan(const T* d, Scratch* s) const {
    if (p_.raw.none_pass) return;
    constexpr bool kIntKey = std::is_same<typename KeyOf<T>::Key, int>::value;
    const float thr = kIntKey ? static_cast<float>(p_.raw.key_i) : p_.raw.key_f;
    const size_t N = p_.n, C = p_.classes, c0 = p_.first_class;
    const bool v5 = p_.version == 5;
    std::vector<float>& best = s->f;
    std::vector<int32_t>& bc = s->i;
    best.resize(N);
    bc.assign(N, 0);
    if (p_.features_first) {
      const T* row = d + c0 * N;
      for (size_t i = 0; i < N; ++i) best[i] = static_cast<float>(KeyOf<T>::Get(row[i]));
      for (size_t c = 1; c < C; ++c) RowMax(d + (c0 + c) * N, best.data(), bc.data(), static_cast<int32_t>(c), N);
    } else {
      for (size_t i = 0; i < N; ++i) {
        const T* row = d + i * p_.features + c0;
        if (v5 && !(static_cast<float>(KeyOf<T>::Get(row[-1])) >= thr)) {
          best[i] = -std::numeric_limits<float>::infinity();
          continue;
        }
        float b = static_cast<float>(KeyOf<T>::Get(row[0]));
        int32_t k = 0;
        for (size_t c = 1; c < C; ++c) {
          const float v = static_cast<float>(KeyOf<T>::Get(row[c]));
          if (v > b) {
            b = v;
            k = static_cast<int32_t>(c);
          }
        }
        best[i] = b;
        bc[i] = k;
      }
    }
    for (size_t i = 0; i < N; ++i) {
      float score;
      if (v5) {
        const size_t oi = At(i, 4);
        if (!(static_cast<float>(KeyOf<T>::Get(d[oi])) >= thr)) continue;
        const float obj = LoadFloat(d, p_.dtype, oi, p_.q);
        if (!(obj >= p_.threshold)) continue;
        score = obj * LoadFloat(d, p_.dtype, At(i, c0 + static_cast<size_t>(bc[i])), p_.q);
      } else {
        if (!(best[i] >= thr)) continue;
        score = LoadFloat(d, p_.dtype, At(i, c0 + static_cast<size_t>(bc[i])), p_.q);
      }
      if (!(score >= p_.threshold)) continue;
      Candidate c;
      c.score = score;
      c.cls = bc[i];
      c.index = static_cast<int32_t>(i);
      c.kp_row = 0;
      s->candidates.push_back(c);
    }
  }

  YoloPlan p_;
};

}  // namespace

Expected<std::shared_ptr<Yolo>> Yolo::Create(const YoloOptions& o) {
  if (o.version != 5 && o.version != 8)
    return InputError("YOLO: version must be 5 or 8, got " + std::to_string(o.version));
  EDGERUN_RETURN_IF_ERROR(CheckFinite(o.score_threshold, "YOLO", "score_threshold"));
  EDGERUN_RETURN_IF_ERROR(CheckNms(o.nms, "YOLO"));
  EDGERUN_RETURN_IF_ERROR(CheckOption(o.layout));
  EDGERUN_RETURN_IF_ERROR(CheckOption(o.coordinates));
  EDGERUN_RETURN_IF_ERROR(CheckOutputRef(o.output, "YOLO", "output"));
  return std::shared_ptr<Yolo>(new Yolo(o));
}

std::string Yolo::Describe() const {
  const YoloOptions& o = options_;
  std::string s = "YOLO(version=" + std::to_string(o.version) + ", score_threshold=" + FormatFloat(o.score_threshold) +
                  ", iou_threshold=" + FormatFloat(o.nms.iou_threshold) +
                  ", max_detections=" + std::to_string(o.nms.max_detections);
  if (o.nms.class_agnostic) s += ", class_agnostic=True";
  return s + ")";
}

Expected<std::shared_ptr<const Decoder>> Yolo::Bind(const std::vector<TensorInfo>& inputs,
                                                    const std::vector<TensorInfo>& outputs) const {
  const YoloOptions& o = options_;
  YoloPlan p;
  InputSize(inputs, &p.width, &p.height);
  p.version = o.version;
  const size_t fixed = o.version == 5 ? 5 : 4;
  if (o.output.set()) {
    auto r = Resolve(o.output, outputs, "YOLO");
    if (!r.ok()) return r.status();
    p.out = *r;
  } else {
    bool found = outputs.size() == 1;  // the only output: its shape is checked below
    for (size_t i = 0; i < outputs.size() && !found; ++i) {
      auto s = Squeeze(outputs[i].shape, 2);
      if (s.size() != 2) continue;
      const int64_t f = o.layout == YoloOptions::Layout::kFeaturesFirst ? s[0]
                        : o.layout == YoloOptions::Layout::kBoxesFirst  ? s[1]
                                                                        : std::min(s[0], s[1]);
      if (static_cast<size_t>(f) > fixed) {
        p.out = i;
        found = true;
      }
    }
    if (!found) {
      std::string listing;
      for (size_t i = 0; i < outputs.size(); ++i) listing += (i ? ", " : "") + OutputStr(outputs, i);
      return InputError(std::string("YOLO: expected an output ") +
                        (o.version == 5 ? "[1, N, 5 + C]" : "[1, 4 + C, N] or [1, N, 4 + C]") +
                        "; the model's outputs are " + (listing.empty() ? "none" : listing));
    }
  }
  const TensorInfo& t = outputs[p.out];
  auto s = Squeeze(t.shape, 2);
  const std::string want = o.version == 5 ? "[1, N, 5 + C]" : "[1, 4 + C, N] or [1, N, 4 + C]";
  if (s.size() != 2) return InputError("YOLO: " + OutputStr(outputs, p.out) + ": expected shape " + want);
  switch (o.layout) {
    case YoloOptions::Layout::kFeaturesFirst: p.features_first = true; break;
    case YoloOptions::Layout::kBoxesFirst: p.features_first = false; break;
    default: p.features_first = s[0] < s[1];  // the features are the smaller dimension
  }
  p.features = static_cast<size_t>(p.features_first ? s[0] : s[1]);
  p.n = static_cast<size_t>(p.features_first ? s[1] : s[0]);
  if (p.features <= fixed)
    return InputError("YOLO: " + OutputStr(outputs, p.out) + ": expected " + want + " with at least one class (" +
                      std::to_string(p.features) + " values per box)");
  if (!Readable(t.dtype))
    return InputError("YOLO: " + OutputStr(outputs, p.out) +
                      " has an unsupported type; expected float32, float16, int8 or uint8");
  p.dtype = t.dtype;
  p.q = QuantOf(t);
  EDGERUN_RETURN_IF_ERROR(CheckQuant(outputs, p.out, "YOLO"));
  p.classes = p.features - fixed;
  p.first_class = fixed;
  p.threshold = o.score_threshold;
  ScoreFn none;
  p.raw = MakeRawThreshold(o.score_threshold, t.dtype, p.q, none);
  p.coordinates = o.coordinates;
  p.nms = o.nms;
  return std::shared_ptr<const Decoder>(std::make_shared<YoloDecoder>(std::move(p)));
}

}  // namespace postprocess
}  // namespace edgerun
