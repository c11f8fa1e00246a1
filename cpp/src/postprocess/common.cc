// Shared pieces of the decoding heads; see common.h.
#include "postprocess/common.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <functional>

namespace edgerun {
namespace postprocess {
namespace internal {

Quant QuantOf(const TensorInfo& t) {
  Quant q;
  if ((t.dtype == DType::kInt8 || t.dtype == DType::kUInt8) && t.scale != 0.0f) {
    q.scale = t.scale;
    q.zero_point = static_cast<float>(t.zero_point);
  }
  return q;
}

bool Readable(DType dt) {
  return dt == DType::kFloat32 || dt == DType::kFloat16 || dt == DType::kInt8 || dt == DType::kUInt8;
}

Status CheckQuant(const std::vector<TensorInfo>& outputs, size_t i, const char* head) {
  const TensorInfo& t = outputs[i];
  if (t.scales.size() > 1)
    return InputError(std::string(head) + ": " + OutputStr(outputs, i) + " is quantized per channel (" +
                      std::to_string(t.scales.size()) + " scales); the heads decode per-tensor quantized outputs");
  if (t.scale < 0) return ModelError(std::string(head) + ": " + OutputStr(outputs, i) + " has a negative scale");
  return Status::Ok();
}

RawThreshold MakeRawThreshold(float threshold, DType dt, const Quant& q, const ScoreFn& fn) {
  RawThreshold r;
  if (dt == DType::kInt8 || dt == DType::kUInt8) {
    const int lo = dt == DType::kInt8 ? -128 : 0;
    r.lut.resize(256);
    for (int k = 0; k < 256; ++k) r.lut[k] = fn((static_cast<float>(lo + k) - q.zero_point) * q.scale);
    r.monotonic = q.scale > 0;
    if (r.monotonic) {
      // lut is non-decreasing in q: the first q that reaches the threshold.
      int first = -1;
      for (int k = 0; k < 256; ++k) {
        if (r.lut[k] >= threshold) {
          first = k;
          break;
        }
      }
      r.exact = true;
      if (first < 0) {
        r.none_pass = true;
        r.key_i = std::numeric_limits<int>::max();
      } else {
        r.key_i = lo + first;
      }
    }
    return r;
  }
  // float32 / float16: a prefilter on the raw value, the exact test on the score.
  if (fn.activation == ScoreActivation::kSigmoid) {
    if (threshold <= 0.0f) {
      r.key_f = -std::numeric_limits<float>::infinity();
    } else if (threshold >= 1.0f) {
      r.key_f = 15.0f;  // float sigmoid(x) < 0.9999997 below 15
    } else {
      const double logit = std::log(static_cast<double>(threshold) / (1.0 - threshold));
      r.key_f = static_cast<float>(logit - 1e-3 * (1.0 + std::fabs(logit)));
    }
    if (fn.clip > 0 && r.key_f > fn.clip) r.none_pass = fn((fn.clip)) < threshold;
  } else {
    r.key_f = threshold;
    r.exact = true;
  }
  return r;
}

double IoU(const double* a, const double* b) {
  const double iw = std::min(a[2], b[2]) - std::max(a[0], b[0]);
  const double ih = std::min(a[3], b[3]) - std::max(a[1], b[1]);
  if (!(iw > 0) || !(ih > 0)) return 0.0;
  const double inter = iw * ih;
  const double uni = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return uni > 0 ? inter / uni : 0.0;
}

void SortCandidates(std::vector<Candidate>* c) {
  std::sort(c->begin(), c->end(), [](const Candidate& a, const Candidate& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.index < b.index;
  });
}

uint64_t OrderKey(float score, uint32_t position) {
  uint32_t u;
  std::memcpy(&u, &score, sizeof u);
  u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);  // ascending with the score
  return (static_cast<uint64_t>(~u) << 32) | position;  // score descending, then position
}

void RunNms(const std::vector<Candidate>& c, const std::vector<double>& keypoints, int num_keypoints,
            const NmsOptions& o, std::vector<Candidate>* out, std::vector<double>* out_keypoints) {
  out->clear();
  out_keypoints->clear();
  const size_t kp = static_cast<size_t>(num_keypoints) * 2;
  const size_t limit = o.max_detections > 0 ? static_cast<size_t>(o.max_detections) : c.size();
  const double thr = o.iou_threshold;
  std::vector<uint64_t>& keys = ThreadScratch().keys;
  keys.resize(c.size());
  for (size_t i = 0; i < c.size(); ++i) keys[i] = OrderKey(c[i].score, static_cast<uint32_t>(i));
  if (o.mode == NmsMode::kHard) {
    // A min-heap of keys: only the candidates visited before `limit` are kept pay for ordering.
    std::make_heap(keys.begin(), keys.end(), std::greater<uint64_t>());
    auto end = keys.end();
    while (end != keys.begin() && out->size() < limit) {
      std::pop_heap(keys.begin(), end, std::greater<uint64_t>());
      --end;
      const Candidate& cand = c[static_cast<uint32_t>(*end)];
      bool suppressed = false;
      for (const Candidate& k : *out) {
        if (!o.class_agnostic && k.cls != cand.cls) continue;
        if (IoU(k.box, cand.box) > thr) {
          suppressed = true;
          break;
        }
      }
      if (suppressed) continue;
      out->push_back(cand);
      if (kp) out_keypoints->insert(out_keypoints->end(), keypoints.begin() + cand.kp_row * kp,
                                    keypoints.begin() + (cand.kp_row + 1) * kp);
    }
    return;
  }
  std::sort(keys.begin(), keys.end());
  // Weighted ("blending") NMS, MediaPipe's algorithm.
  std::vector<int32_t> remaining(c.size()), rest;
  for (size_t i = 0; i < c.size(); ++i) remaining[i] = static_cast<int32_t>(static_cast<uint32_t>(keys[i]));
  std::vector<double> wkp(kp);
  while (!remaining.empty() && out->size() < limit) {
    const Candidate& top = c[remaining[0]];
    double total = top.score;
    double wb[4];
    for (int j = 0; j < 4; ++j) wb[j] = top.box[j] * top.score;
    for (size_t j = 0; j < kp; ++j) wkp[j] = keypoints[top.kp_row * kp + j] * top.score;
    rest.clear();
    for (size_t r = 1; r < remaining.size(); ++r) {
      const Candidate& cand = c[remaining[r]];
      if ((o.class_agnostic || cand.cls == top.cls) && IoU(cand.box, top.box) > thr) {
        total += cand.score;
        for (int j = 0; j < 4; ++j) wb[j] += cand.box[j] * cand.score;
        for (size_t j = 0; j < kp; ++j) wkp[j] += keypoints[cand.kp_row * kp + j] * cand.score;
      } else {
        rest.push_back(remaining[r]);
      }
    }
    Candidate kept = top;
    if (total > 0) {
      for (int j = 0; j < 4; ++j) kept.box[j] = wb[j] / total;
      for (size_t j = 0; j < kp; ++j) wkp[j] /= total;
    } else {  // non-positive scores cannot weight: keep the top box as is
      for (size_t j = 0; j < kp; ++j) wkp[j] = keypoints[top.kp_row * kp + j];
    }
    out->push_back(kept);
    out_keypoints->insert(out_keypoints->end(), wkp.begin(), wkp.end());
    remaining.swap(rest);
  }
}

void EmitDetections(const std::vector<Candidate>& dets, const std::vector<double>& keypoints, int num_keypoints,
                    const preprocess::Transform* t, Result* result) {
  result->Clear();
  result->kind = Result::Kind::kDetection;
  result->num_keypoints = num_keypoints;
  const size_t n = dets.size();
  result->n = n;
  result->boxes.resize(n * 4);
  result->scores.resize(n);
  result->classes.resize(n);
  const size_t kp = static_cast<size_t>(num_keypoints) * 2;
  result->keypoints.resize(n * kp);
  for (size_t i = 0; i < n; ++i) {
    const Candidate& d = dets[i];
    float* b = &result->boxes[i * 4];
    if (t) {
      double xs[4], ys[4];
      const double cx[4] = {d.box[0], d.box[2], d.box[0], d.box[2]};
      const double cy[4] = {d.box[1], d.box[1], d.box[3], d.box[3]};
      for (int k = 0; k < 4; ++k) t->ToSource(cx[k], cy[k], &xs[k], &ys[k]);
      b[0] = static_cast<float>(std::min(std::min(xs[0], xs[1]), std::min(xs[2], xs[3])));
      b[1] = static_cast<float>(std::min(std::min(ys[0], ys[1]), std::min(ys[2], ys[3])));
      b[2] = static_cast<float>(std::max(std::max(xs[0], xs[1]), std::max(xs[2], xs[3])));
      b[3] = static_cast<float>(std::max(std::max(ys[0], ys[1]), std::max(ys[2], ys[3])));
    } else {
      for (int k = 0; k < 4; ++k) b[k] = static_cast<float>(d.box[k]);
    }
    result->scores[i] = d.score;
    result->classes[i] = d.cls;
    for (size_t k = 0; k < kp; k += 2) {
      double x = keypoints[i * kp + k], y = keypoints[i * kp + k + 1];
      if (t) t->ToSource(x, y, &x, &y);
      result->keypoints[i * kp + k] = static_cast<float>(x);
      result->keypoints[i * kp + k + 1] = static_cast<float>(y);
    }
  }
}

void InputSize(const std::vector<TensorInfo>& inputs, int* width, int* height) {
  *width = *height = 0;
  for (const TensorInfo& t : inputs) {
    std::vector<int64_t> s = t.shape;
    if (s.size() == 3) s.insert(s.begin(), 1);
    if (s.size() != 4) continue;
    if (s[3] >= 1 && s[3] <= 4) {  // NHWC
      *height = static_cast<int>(s[1]);
      *width = static_cast<int>(s[2]);
    } else if (s[1] >= 1 && s[1] <= 4) {  // NCHW
      *height = static_cast<int>(s[2]);
      *width = static_cast<int>(s[3]);
    } else {
      *height = static_cast<int>(s[1]);
      *width = static_cast<int>(s[2]);
    }
    return;
  }
}

std::string OutputStr(const std::vector<TensorInfo>& outputs, size_t i) {
  const TensorInfo& t = outputs[i];
  return "output " + std::to_string(i) + " ('" + t.name + "', " + DTypeName(t.dtype) + ShapeString(t.shape) + ")";
}

Expected<size_t> Resolve(const OutputRef& ref, const std::vector<TensorInfo>& outputs, const char* what) {
  if (ref.index >= 0) {
    if (static_cast<size_t>(ref.index) < outputs.size()) return static_cast<size_t>(ref.index);
    return InputError(std::string(what) + " output: index " + std::to_string(ref.index) +
                      " is out of range; the model has " + std::to_string(outputs.size()) + " output(s)");
  }
  for (size_t i = 0; i < outputs.size(); ++i)
    if (outputs[i].name == ref.name) return i;
  std::string names;
  for (size_t i = 0; i < outputs.size(); ++i) names += (i ? ", '" : "'") + outputs[i].name + "'";
  return InputError(std::string(what) + " output: no output named '" + ref.name + "'; the model's outputs are " +
                    (names.empty() ? "none" : names));
}

std::vector<int64_t> Squeeze(const std::vector<int64_t>& shape, size_t keep) {
  std::vector<int64_t> s = shape;
  while (s.size() > keep && s.front() == 1) s.erase(s.begin());
  return s;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string FormatFloat(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

Status CheckNms(const NmsOptions& o, const char* head) {
  EDGERUN_RETURN_IF_ERROR(CheckOption(o.mode));
  if (!(o.iou_threshold >= 0 && o.iou_threshold <= 1))
    return InputError(std::string(head) + ": iou_threshold must be in [0, 1], got " + FormatFloat(o.iou_threshold));
  if (o.max_detections < 0)
    return InputError(std::string(head) + ": max_detections must be >= 0 (0: no limit), got " +
                      std::to_string(o.max_detections));
  return Status::Ok();
}

Status CheckFinite(float v, const char* head, const char* option) {
  if (std::isfinite(v)) return Status::Ok();
  return InputError(std::string(head) + ": " + option + " must be a finite number, got " + FormatFloat(v));
}

Status CheckOutputRef(const OutputRef& r, const char* head, const char* option) {
  if (r.index >= -1) return Status::Ok();  // -1: not set (by index)
  return InputError(std::string(head) + ": " + option + " must be an output index >= 0 or a name, got " +
                    std::to_string(r.index));
}

Scratch& ThreadScratch() {
  thread_local Scratch s;
  return s;
}

}  // namespace internal
}  // namespace postprocess

namespace {
const char* const kBoxCoderNames[] = {"tf", "mediapipe"};
const char* const kNmsNames[] = {"hard", "weighted"};
const char* const kActivationNames[] = {"none", "sigmoid", "softmax"};
const char* const kYoloLayoutNames[] = {"auto", "features_first", "boxes_first"};
const char* const kYoloCoordinateNames[] = {"auto", "normalized", "pixels"};
const char* const kResolutionNames[] = {"source", "model"};
const char* const kInterpolationNames[] = {"bilinear", "nearest"};
}  // namespace

#define EDGERUN_NAMES(E, option, names)                                                 \
  template <>                                                                           \
  const NameTable& NamesOf<postprocess::E>() {                                          \
    static constexpr NameTable t{option, names, static_cast<int>(sizeof(names) / sizeof(names[0]))}; \
    return t;                                                                           \
  }
EDGERUN_NAMES(BoxCoder, "box_coder", kBoxCoderNames)
EDGERUN_NAMES(NmsMode, "nms", kNmsNames)
EDGERUN_NAMES(ScoreActivation, "score_activation", kActivationNames)
EDGERUN_NAMES(YoloOptions::Layout, "layout", kYoloLayoutNames)
EDGERUN_NAMES(YoloOptions::Coordinates, "coordinates", kYoloCoordinateNames)
EDGERUN_NAMES(SegmentationOptions::Resolution, "resolution", kResolutionNames)
EDGERUN_NAMES(SegmentationOptions::Interpolation, "interpolation", kInterpolationNames)
#undef EDGERUN_NAMES

}  // namespace edgerun
