// YOLO head: YOLOv5 ([1, N, 5 + C]) and YOLOv8/11 ([1, 4 + C, N] or [1, N, 4 + C])
// outputs; class scores ranked and thresholded on the raw values (quantized
// outputs compare raw bytes against a threshold quantized once at Bind), boxes
// decoded for candidates only, then NMS. End-to-end exports (YOLOv10, YOLO26:
// [1, N, 6] = x1, y1, x2, y2, score, class) are thresholded and sorted, no NMS.
// Pose variants carry K * (x, y, visibility) per row after the classes.
#include <algorithm>

#include "postprocess/common.h"

namespace edgerun {
namespace postprocess {

using namespace internal;  // NOLINT

namespace {

struct YoloPlan {
  size_t out = 0;
  int version = 8;                          // as given (5, 8, 11, 10, 26)
  bool e2e = false;                         // end-to-end rows: x1, y1, x2, y2, score, class
  int num_classes = 0;                      // as given (0: any)
  int keypoints = 0;                        // K: (x, y, visibility) triples per row
  size_t kp_first = 0;                      // feature index of the first keypoint
  std::string what;                         // "output 0 ('name', float32[1, 84, 8400])"
  float range_tol = 1e-3f;                  // slack of the [0, 1] score check
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
    Range range;
    if (!p_.e2e) {
      switch (p_.dtype) {
        case DType::kFloat32: Scan(static_cast<const float*>(d), &s, &range); break;
        case DType::kFloat16: Scan(static_cast<const Half*>(d), &s, &range); break;
        case DType::kInt8: Scan(static_cast<const int8_t*>(d), &s, &range); break;
        case DType::kUInt8: Scan(static_cast<const uint8_t*>(d), &s, &range); break;
        default: return InternalError("YOLO: unsupported output type");
      }
    } else {
      EDGERUN_RETURN_IF_ERROR(ScanEndToEnd(d, &s, &range));
    }
    EDGERUN_RETURN_IF_ERROR(CheckRange(range));
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
    const size_t K = static_cast<size_t>(p_.keypoints);
    s.keypoints.clear();
    s.keypoints.reserve(s.candidates.size() * K * 2);
    int32_t row = 0;
    for (Candidate& c : s.candidates) {
      const size_t i = static_cast<size_t>(c.index);
      if (p_.e2e) {
        c.box[0] = Load(d, i, 0) * sx;
        c.box[1] = Load(d, i, 1) * sy;
        c.box[2] = Load(d, i, 2) * sx;
        c.box[3] = Load(d, i, 3) * sy;
      } else {
        const double xc = Load(d, i, 0) * sx, yc = Load(d, i, 1) * sy;
        const double w = Load(d, i, 2) * sx, h = Load(d, i, 3) * sy;
        c.box[0] = xc - w / 2;
        c.box[1] = yc - h / 2;
        c.box[2] = xc + w / 2;
        c.box[3] = yc + h / 2;
      }
      c.kp_row = row++;
      for (size_t k = 0; k < K; ++k) {
        s.keypoints.push_back(Load(d, i, p_.kp_first + 3 * k) * sx);
        s.keypoints.push_back(Load(d, i, p_.kp_first + 3 * k + 1) * sy);
      }
    }
    if (p_.e2e) {
      // Already suppressed by the model: best first (ties: lower row), at most max_detections.
      SortCandidates(&s.candidates);
      const size_t limit = p_.nms.max_detections > 0 ? static_cast<size_t>(p_.nms.max_detections) : s.candidates.size();
      if (s.candidates.size() > limit) s.candidates.resize(limit);
      s.kept_keypoints.clear();
      for (const Candidate& c : s.candidates)
        s.kept_keypoints.insert(s.kept_keypoints.end(), s.keypoints.begin() + c.kp_row * K * 2,
                                s.keypoints.begin() + (c.kp_row + 1) * K * 2);
      EmitDetections(s.candidates, s.kept_keypoints, p_.keypoints, t, result);
      return Status::Ok();
    }
    RunNms(s.candidates, s.keypoints, p_.keypoints, p_.nms, &s.kept, &s.kept_keypoints);
    EmitDetections(s.kept, s.kept_keypoints, p_.keypoints, t, result);
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

  // Smallest and largest score seen (raw keys: stored integers for int8/uint8)
  // and where, for the [0, 1] check.
  struct Range {
    float lo = std::numeric_limits<float>::infinity(), hi = -std::numeric_limits<float>::infinity();
    size_t lo_row = 0, hi_row = 0;
    const char* what = "class scores";
    bool raw = true;  // lo/hi are raw keys (dequantize for int8/uint8)
    void Add(float v, size_t row) {
      if (v < lo) {
        lo = v;
        lo_row = row;
      }
      if (v > hi) {
        hi = v;
        hi_row = row;
      }
    }
  };

  float Dequantized(float key) const {
    return p_.dtype == DType::kInt8 || p_.dtype == DType::kUInt8 ? (key - p_.q.zero_point) * p_.q.scale : key;
  }

  Status CheckRange(const Range& r) const {
    if (!(r.lo <= r.hi)) return Status::Ok();  // nothing seen
    const float lo = r.raw ? Dequantized(r.lo) : r.lo, hi = r.raw ? Dequantized(r.hi) : r.hi;
    if (lo >= -p_.range_tol && hi <= 1.0f + p_.range_tol) return Status::Ok();
    const bool high = !(hi <= 1.0f + p_.range_tol);
    std::string msg = "YOLO (version " + std::to_string(p_.version) + "): " + p_.what + ": " + r.what +
                      (high ? " reach " + FormatFloat(hi) + " (row " + std::to_string(r.hi_row) + ")"
                            : " go down to " + FormatFloat(lo) + " (row " + std::to_string(r.lo_row) + ")") +
                      "; YOLO scores are probabilities in [0, 1], so this output is not laid out as version " +
                      std::to_string(p_.version) + " expects";
    if (p_.e2e)
      msg += " (end-to-end rows: x1, y1, x2, y2, score, class" + std::string(p_.keypoints ? ", keypoints" : "") +
             "). For [1, 4 + C, N] outputs use version=8, for [1, N, 5 + C] version=5";
    else
      msg += ". End-to-end (NMS-free) exports such as YOLOv10 and YOLO26, [1, N, 6] rows of x1, y1, x2, y2, score, "
             "class, need version=10";
    return InputError(msg + "; outputs holding logits instead of probabilities are not supported");
  }

  // End-to-end rows: threshold on the score column; checks the class column.
  Status ScanEndToEnd(const void* d, Scratch* s, Range* range) const {
    range->what = "scores";
    range->raw = false;
    const float tol = std::max(0.01f, p_.dtype == DType::kInt8 || p_.dtype == DType::kUInt8 ? p_.q.scale : 0.0f);
    for (size_t i = 0; i < p_.n; ++i) {
      const float score = Load(d, i, 4);
      range->Add(score, i);
      if (!(score >= p_.threshold)) continue;
      const float c = Load(d, i, 5);
      const float r = std::nearbyint(c);
      if (!(std::fabs(c - r) <= tol) || r < 0 || (p_.num_classes > 0 && r >= p_.num_classes))
        return InputError("YOLO (version " + std::to_string(p_.version) + "): " + p_.what + ": row " +
                          std::to_string(i) + " has class " + FormatFloat(c) + " (column 5), expected a class id" +
                          (p_.num_classes > 0 ? " in 0.." + std::to_string(p_.num_classes - 1) : std::string()) +
                          "; end-to-end rows are x1, y1, x2, y2, score, class (version 8 reads [1, 4 + C, N])");
      Candidate cand;
      cand.score = score;
      cand.cls = static_cast<int32_t>(r);
      cand.index = static_cast<int32_t>(i);
      cand.kp_row = 0;
      s->candidates.push_back(cand);
    }
    return Status::Ok();
  }

  template <class T>
  void Scan(const T* d, Scratch* s, Range* range) const {
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
    // The [0, 1] check: every row's best class score (v5: objectness for every
    // row, class scores for the rows whose objectness passed).
    Range objectness;
    objectness.what = "objectness scores";
    for (size_t i = 0; i < N; ++i) {
      if (best[i] != -std::numeric_limits<float>::infinity()) range->Add(best[i], i);
      if (v5) objectness.Add(static_cast<float>(KeyOf<T>::Get(d[At(i, 4)])), i);
    }
    if (v5 && objectness.lo <= objectness.hi) {
      const float lo = Dequantized(objectness.lo), hi = Dequantized(objectness.hi);
      if (lo < -p_.range_tol || hi > 1.0f + p_.range_tol) {
        *range = objectness;
        s->candidates.clear();
        return;
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
  if (o.version != 5 && o.version != 8 && o.version != 11 && o.version != 10 && o.version != 26)
    return InputError("YOLO: version must be 5, 8, 11 (YOLOv8 layout) or 10, 26 (end-to-end), got " +
                      std::to_string(o.version));
  if (o.num_classes < 0)
    return InputError("YOLO: num_classes must be >= 0 (0: from the output's shape), got " +
                      std::to_string(o.num_classes));
  if (o.num_keypoints < 0 || o.num_keypoints > 1000)
    return InputError("YOLO: num_keypoints must be in 0..1000, got " + std::to_string(o.num_keypoints));
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
  if (o.num_classes) s += ", num_classes=" + std::to_string(o.num_classes);
  if (o.num_keypoints) s += ", num_keypoints=" + std::to_string(o.num_keypoints);
  return s + ")";
}

Expected<std::shared_ptr<const Decoder>> Yolo::Bind(const std::vector<TensorInfo>& inputs,
                                                    const std::vector<TensorInfo>& outputs) const {
  const YoloOptions& o = options_;
  YoloPlan p;
  InputSize(inputs, &p.width, &p.height);
  p.version = o.version;
  p.e2e = o.version == 10 || o.version == 26;
  p.num_classes = o.num_classes;
  p.keypoints = o.num_keypoints;
  const size_t extra = 3 * static_cast<size_t>(o.num_keypoints);
  const size_t fixed = p.e2e ? 6 : o.version == 5 ? 5 : 4;
  // Values per row when known: end-to-end rows always; others when num_classes is given.
  const size_t expected = p.e2e ? fixed + extra : o.num_classes > 0 ? fixed + static_cast<size_t>(o.num_classes) + extra : 0;
  const std::string kp_text = o.num_keypoints ? " + 3 * " + std::to_string(o.num_keypoints) + " keypoint values" : "";
  const std::string want = p.e2e ? "[1, N, 6" + kp_text + "] (x1, y1, x2, y2, score, class" +
                                       (o.num_keypoints ? ", keypoints)" : ")")
                           : o.version == 5 ? "[1, N, 5 + C" + kp_text + "]"
                                            : "[1, 4 + C" + kp_text + ", N] or [1, N, 4 + C" + kp_text + "]";
  auto fits = [&](int64_t f) {
    return expected ? static_cast<size_t>(f) == expected : static_cast<size_t>(f) > fixed + extra;
  };
  if (o.output.set()) {
    auto r = Resolve(o.output, outputs, "YOLO");
    if (!r.ok()) return r.status();
    p.out = *r;
  } else {
    bool found = outputs.size() == 1;  // the only output: its shape is checked below
    for (size_t i = 0; i < outputs.size() && !found; ++i) {
      auto s = Squeeze(outputs[i].shape, 2);
      if (s.size() != 2) continue;
      const bool ok = o.layout == YoloOptions::Layout::kFeaturesFirst ? fits(s[0])
                      : o.layout == YoloOptions::Layout::kBoxesFirst  ? fits(s[1])
                      : expected                                     ? fits(s[0]) || fits(s[1])
                                                                     : fits(std::min(s[0], s[1]));
      if (ok) {
        p.out = i;
        found = true;
      }
    }
    if (!found) {
      std::string listing;
      for (size_t i = 0; i < outputs.size(); ++i) listing += (i ? ", " : "") + OutputStr(outputs, i);
      return InputError("YOLO: expected an output " + want + "; the model's outputs are " +
                        (listing.empty() ? "none" : listing));
    }
  }
  const TensorInfo& t = outputs[p.out];
  p.what = OutputStr(outputs, p.out);
  auto s = Squeeze(t.shape, 2);
  if (s.size() != 2) return InputError("YOLO: " + p.what + ": expected shape " + want);
  switch (o.layout) {
    case YoloOptions::Layout::kFeaturesFirst: p.features_first = true; break;
    case YoloOptions::Layout::kBoxesFirst: p.features_first = false; break;
    default:
      if (expected && fits(s[0]) != fits(s[1]))
        p.features_first = fits(s[0]);  // the dimension with the expected count
      else if (p.e2e)
        p.features_first = false;       // end-to-end exports are [1, N, 6]
      else
        p.features_first = s[0] < s[1];  // the features are the smaller dimension
  }
  p.features = static_cast<size_t>(p.features_first ? s[0] : s[1]);
  p.n = static_cast<size_t>(p.features_first ? s[1] : s[0]);
  const std::string versions = "version " + std::to_string(o.version) +
                               (o.num_classes ? ", num_classes=" + std::to_string(o.num_classes) : std::string()) +
                               (o.num_keypoints ? ", num_keypoints=" + std::to_string(o.num_keypoints) : std::string());
  if (expected && p.features != expected)
    return InputError("YOLO: " + p.what + " has " + std::to_string(p.features) + " values per box; " + versions +
                      " expects " + std::to_string(expected) + " (" + want + ")" +
                      (p.e2e && p.features > fixed + extra && !o.num_keypoints
                           ? "; a [1, 4 + C, N] or [1, N, 5 + C] output needs version=8 or version=5"
                           : ""));
  if (!expected && p.features <= fixed + extra)
    return InputError("YOLO: " + p.what + ": expected " + want + " with at least one class (" +
                      std::to_string(p.features) + " values per box)");
  // A 2-class YOLOv8 row and an end-to-end row both have 6 values: refuse to guess
  // when nothing but the default layout says which (ultralytics' YOLOv8 exports
  // are features first; end-to-end exports are [1, N, 6], boxes first).
  if (!p.e2e && o.version != 5 && o.layout == YoloOptions::Layout::kAuto && !o.num_classes &&
      !p.features_first && p.features == 6 && !o.num_keypoints)
    return InputError("YOLO: " + p.what + " could be an end-to-end (NMS-free) output, [1, N, 6] rows of x1, y1, x2, "
                      "y2, score, class (YOLOv10, YOLO26: use version=10), or a 2-class YOLOv8 output with boxes "
                      "first (use num_classes=2 or layout='boxes_first')");
  if (!Readable(t.dtype))
    return InputError("YOLO: " + p.what + " has an unsupported type; expected float32, float16, int8 or uint8");
  p.dtype = t.dtype;
  p.q = QuantOf(t);
  EDGERUN_RETURN_IF_ERROR(CheckQuant(outputs, p.out, "YOLO"));
  if (t.dtype == DType::kInt8 || t.dtype == DType::kUInt8) p.range_tol = 1e-3f + p.q.scale;
  p.classes = p.e2e ? 0 : p.features - fixed - extra;
  p.first_class = fixed;
  p.kp_first = p.e2e ? fixed : fixed + p.classes;
  p.threshold = o.score_threshold;
  ScoreFn none;
  p.raw = MakeRawThreshold(o.score_threshold, t.dtype, p.q, none);
  p.coordinates = o.coordinates;
  p.nms = o.nms;
  return std::shared_ptr<const Decoder>(std::make_shared<YoloDecoder>(std::move(p)));
}

}  // namespace postprocess
}  // namespace edgerun
