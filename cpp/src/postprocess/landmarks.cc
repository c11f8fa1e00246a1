// Landmarks head: N points of D values (x, y[, z[, visibility[, presence]]])
// per instance, in model-input pixels or normalized, mapped to source pixels.
#include <algorithm>
#include <cmath>

#include "postprocess/common.h"

namespace edgerun {
namespace postprocess {

using namespace internal;  // NOLINT

namespace {

struct LmPlan {
  size_t out = 0;
  bool has_score = false;
  size_t score_out = 0;
  size_t score_per_instance = 1;  // elements of the score output per instance (1)
  size_t batch = 1;
  int n = 0, dims = 3;
  DType dtype = DType::kFloat32, score_dtype = DType::kFloat32;
  Quant q, score_q;
  int in_width = 0, in_height = 0;
  LandmarksOptions o;
};

float Activate(ScoreActivation a, float v) { return a == ScoreActivation::kSigmoid ? Sigmoid(v) : v; }

class LmDecoder : public Decoder {
 public:
  explicit LmDecoder(LmPlan p) : p_(std::move(p)) {}

  Status Decode(const std::vector<const void*>& outputs, const preprocess::Transform* t,
                Result* result) const override {
    if (p_.out >= outputs.size() || !outputs[p_.out] || (p_.has_score && (p_.score_out >= outputs.size() ||
                                                                           !outputs[p_.score_out])))
      return InputError("Landmarks: an output the head was bound to was not given");
    const void* d = outputs[p_.out];
    result->Clear();
    result->kind = Result::Kind::kLandmarks;
    result->num_landmarks = p_.n;
    result->landmark_dims = p_.dims;
    double sx = 1, sy = 1;
    if (p_.o.normalized) {
      int w = p_.in_width, h = p_.in_height;
      if (t && t->input_width > 0 && t->input_height > 0) {
        w = t->input_width;
        h = t->input_height;
      }
      if (w <= 0 || h <= 0)
        return InputError("Landmarks: the landmarks are normalized but the model input size is unknown; bind with "
                          "the model's inputs or pass a transform");
      sx = w;
      sy = h;
    }
    // z follows x's scale (MediaPipe: z in the units of x), then the transform's scale.
    const double zscale = sx * (t ? std::sqrt(std::fabs(t->m[0] * t->m[4] - t->m[1] * t->m[3])) : 1.0);
    const size_t per = static_cast<size_t>(p_.n) * p_.dims;
    for (size_t b = 0; b < p_.batch; ++b) {
      float score = 1.0f;
      if (p_.has_score) {
        score = Activate(p_.o.score_activation,
                         LoadFloat(outputs[p_.score_out], p_.score_dtype, b * p_.score_per_instance, p_.score_q));
        if (p_.o.has_score_threshold && !(score >= p_.o.score_threshold)) continue;
      }
      result->scores.push_back(score);
      result->classes.push_back(0);
      const size_t base = result->landmarks.size();
      result->landmarks.resize(base + per);
      float* out = &result->landmarks[base];
      for (int i = 0; i < p_.n; ++i) {
        const size_t at = b * per + static_cast<size_t>(i) * p_.dims;
        double x = LoadFloat(d, p_.dtype, at, p_.q) * sx, y = LoadFloat(d, p_.dtype, at + 1, p_.q) * sy;
        if (t) t->ToSource(x, y, &x, &y);
        float* o = out + static_cast<size_t>(i) * p_.dims;
        o[0] = static_cast<float>(x);
        o[1] = static_cast<float>(y);
        if (p_.dims > 2) o[2] = static_cast<float>(LoadFloat(d, p_.dtype, at + 2, p_.q) * zscale);
        for (int k = 3; k < p_.dims; ++k) {
          const float v = LoadFloat(d, p_.dtype, at + k, p_.q);
          o[k] = k <= 4 ? Activate(p_.o.visibility_activation, v) : v;
        }
      }
      ++result->n;
    }
    return Status::Ok();
  }

 private:
  LmPlan p_;
};

// Elements per instance of a landmark-like output: [B, P], [B, N, D], [B, 1, 1, P] ...
// (at most one dimension after the batch is > 1, or exactly [B, N, dims]); 0 otherwise.
size_t PerInstance(const TensorInfo& t, int dims) {
  if (t.shape.empty()) return 0;
  if (t.shape.size() == 1) return static_cast<size_t>(std::max<int64_t>(t.shape[0], 0));
  size_t p = 1, big = 0;
  for (size_t i = 1; i < t.shape.size(); ++i) {
    if (t.shape[i] <= 0) return 0;
    p *= static_cast<size_t>(t.shape[i]);
    big += t.shape[i] > 1;
  }
  const bool nd = t.shape.size() == 3 && t.shape[2] == dims;
  return big <= 1 || nd ? p : 0;
}

}  // namespace

Expected<std::shared_ptr<Landmarks>> Landmarks::Create(const LandmarksOptions& o) {
  if (o.dims < 2 || o.dims > 8) return InputError("Landmarks: dims must be in 2..8, got " + std::to_string(o.dims));
  if (o.num_landmarks < 0)
    return InputError("Landmarks: num_landmarks must be >= 0 (0: from the output's size), got " +
                      std::to_string(o.num_landmarks));
  EDGERUN_RETURN_IF_ERROR(CheckOption(o.visibility_activation));
  EDGERUN_RETURN_IF_ERROR(CheckOption(o.score_activation));
  if (o.visibility_activation == ScoreActivation::kSoftmax || o.score_activation == ScoreActivation::kSoftmax)
    return InputError("Landmarks: softmax applies to several classes; visibility and scores take 'sigmoid' or 'none'");
  if (o.has_score_threshold) EDGERUN_RETURN_IF_ERROR(CheckFinite(o.score_threshold, "Landmarks", "score_threshold"));
  EDGERUN_RETURN_IF_ERROR(CheckOutputRef(o.landmarks_output, "Landmarks", "landmarks_output"));
  EDGERUN_RETURN_IF_ERROR(CheckOutputRef(o.score_output, "Landmarks", "score_output"));
  return std::shared_ptr<Landmarks>(new Landmarks(o));
}

std::string Landmarks::Describe() const {
  const LandmarksOptions& o = options_;
  std::string s = "Landmarks(num_landmarks=" + (o.num_landmarks ? std::to_string(o.num_landmarks) : "auto") +
                  ", dims=" + std::to_string(o.dims);
  if (o.normalized) s += ", normalized=True";
  if (o.score_output.set()) s += ", score_activation=" + std::string(OptionName(o.score_activation));
  if (o.has_score_threshold) s += ", score_threshold=" + FormatFloat(o.score_threshold);
  return s + ")";
}

Expected<std::shared_ptr<const Decoder>> Landmarks::Bind(const std::vector<TensorInfo>& inputs,
                                                         const std::vector<TensorInfo>& outputs) const {
  const LandmarksOptions& o = options_;
  LmPlan p;
  p.o = o;
  p.dims = o.dims;
  InputSize(inputs, &p.in_width, &p.in_height);
  const std::string want = (o.num_landmarks ? std::to_string(o.num_landmarks) : std::string("N")) + " x " +
                           std::to_string(o.dims) + " values per instance ([1, N*" + std::to_string(o.dims) +
                           "], [1, N, " + std::to_string(o.dims) + "] or [1, 1, 1, N*" + std::to_string(o.dims) + "])";
  auto fits = [&](const TensorInfo& t) {
    const size_t per = PerInstance(t, o.dims);
    return per > 0 && per % static_cast<size_t>(o.dims) == 0 &&
           (o.num_landmarks == 0 || per == static_cast<size_t>(o.num_landmarks) * o.dims);
  };
  if (o.landmarks_output.set()) {
    auto r = Resolve(o.landmarks_output, outputs, "Landmarks");
    if (!r.ok()) return r.status();
    p.out = *r;
  } else {
    bool found = false;
    size_t best = 0;
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (o.score_output.set() && (outputs[i].name == o.score_output.name || static_cast<int>(i) == o.score_output.index))
        continue;
      if (!fits(outputs[i])) continue;
      const size_t per = PerInstance(outputs[i], o.dims);
      if (!found || per > best) {
        found = true;
        best = per;
        p.out = i;
      }
    }
    if (!found) {
      std::string listing;
      for (size_t i = 0; i < outputs.size(); ++i) listing += (i ? ", " : "") + OutputStr(outputs, i);
      return InputError("Landmarks: expected an output of " + want + "; the model's outputs are " +
                        (listing.empty() ? "none" : listing));
    }
  }
  const TensorInfo& t = outputs[p.out];
  if (!fits(t))
    return InputError("Landmarks: " + OutputStr(outputs, p.out) + ": expected " + want);
  if (!Readable(t.dtype))
    return InputError("Landmarks: " + OutputStr(outputs, p.out) +
                      " has an unsupported type; expected float32, float16, int8 or uint8");
  EDGERUN_RETURN_IF_ERROR(CheckQuant(outputs, p.out, "Landmarks"));
  p.dtype = t.dtype;
  p.q = QuantOf(t);
  const size_t per = PerInstance(t, o.dims);
  p.batch = t.shape.size() >= 2 ? static_cast<size_t>(t.shape[0]) : 1;
  p.n = static_cast<int>(per / static_cast<size_t>(o.dims));
  if (o.score_output.set()) {
    auto r = Resolve(o.score_output, outputs, "Landmarks");
    if (!r.ok()) return r.status();
    const TensorInfo& st = outputs[*r];
    size_t elements = 1;
    for (int64_t d : st.shape) elements *= static_cast<size_t>(std::max<int64_t>(d, 0));
    if (elements != p.batch)
      return InputError("Landmarks: score_output " + OutputStr(outputs, *r) + ": expected one value per instance (" +
                        std::to_string(p.batch) + ")");
    if (!Readable(st.dtype))
      return InputError("Landmarks: score_output " + OutputStr(outputs, *r) + " has an unsupported type");
    EDGERUN_RETURN_IF_ERROR(CheckQuant(outputs, *r, "Landmarks"));
    p.has_score = true;
    p.score_out = *r;
    p.score_dtype = st.dtype;
    p.score_q = QuantOf(st);
  } else if (o.has_score_threshold) {
    return InputError("Landmarks: score_threshold needs score_output (the model's presence/score output)");
  }
  return std::shared_ptr<const Decoder>(std::make_shared<LmDecoder>(std::move(p)));
}

}  // namespace postprocess
}  // namespace edgerun
