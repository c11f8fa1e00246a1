// Segmentation head: per-pixel class scores [1, H, W, C], one foreground
// probability [1, H, W(, 1)] or class ids [1, H, W] -> a class mask (and the
// score of each pixel's class) at the model's resolution or in source pixels
// through the inverse of the preprocessing Transform.
#include <algorithm>
#include <cmath>

#include "postprocess/common.h"

namespace edgerun {
namespace postprocess {

using namespace internal;  // NOLINT

namespace {

enum class MapKind { kScores, kBinary, kIds };

struct SegPlan {
  size_t out = 0;
  int h = 0, w = 0, c = 1;
  MapKind kind = MapKind::kScores;
  DType dtype = DType::kFloat32;
  Quant q;
  int in_width = 0, in_height = 0;  // model input (0: unknown)
  SegmentationOptions o;
};

class SegDecoder : public Decoder {
 public:
  explicit SegDecoder(SegPlan p) : p_(std::move(p)) {}

  Status Decode(const std::vector<const void*>& outputs, const preprocess::Transform* t,
                Result* result) const override {
    if (p_.out >= outputs.size() || !outputs[p_.out])
      return InputError("Segmentation: output " + std::to_string(p_.out) + " was not given");
    const void* d = outputs[p_.out];
    result->Clear();
    result->kind = Result::Kind::kSegmentation;
    // Per-pixel class and score at the model's resolution (the nearest path and
    // the model-resolution result read these).
    const size_t hw = static_cast<size_t>(p_.h) * p_.w;
    std::vector<int32_t> cls(hw);
    std::vector<float> score(p_.kind == MapKind::kIds ? 0 : hw);
    std::vector<float> v(static_cast<size_t>(p_.c));
    for (size_t i = 0; i < hw; ++i) {
      if (p_.kind == MapKind::kIds) {
        cls[i] = static_cast<int32_t>(std::lround(LoadFloat(d, p_.dtype, i, p_.q)));
        continue;
      }
      for (int k = 0; k < p_.c; ++k) v[k] = LoadFloat(d, p_.dtype, i * p_.c + k, p_.q);
      Classify(v.data(), &cls[i], &score[i]);
    }
    int in_w = p_.in_width, in_h = p_.in_height;
    if (t && t->input_width > 0 && t->input_height > 0) {
      in_w = t->input_width;
      in_h = t->input_height;
    }
    // mask pixel -> model-input pixel (the mask may be smaller than the input)
    const double kx = in_w > 0 ? static_cast<double>(in_w) / p_.w : 1.0;
    const double ky = in_h > 0 ? static_cast<double>(in_h) / p_.h : 1.0;
    const bool to_source = t && p_.o.resolution == SegmentationOptions::Resolution::kSource;
    if (!to_source) {
      result->mask_width = p_.w;
      result->mask_height = p_.h;
      result->mask = std::move(cls);
      result->mask_scores = std::move(score);
      double m[6] = {kx, 0, 0, 0, ky, 0};
      if (t) {
        const double* a = t->m;
        m[0] = a[0] * kx;
        m[1] = a[1] * ky;
        m[2] = a[2];
        m[3] = a[3] * kx;
        m[4] = a[4] * ky;
        m[5] = a[5];
      }
      std::copy(m, m + 6, result->mask_matrix);
      return Status::Ok();
    }
    if (in_w <= 0 || in_h <= 0)
      return InputError("Segmentation: the transform has no model input size");
    const int rx = t->source_roi[0], ry = t->source_roi[1], rw = t->source_roi[2], rh = t->source_roi[3];
    if (rw <= 0 || rh <= 0)
      return InputError("Segmentation: the transform has an empty source_roi; pass resolution='model'");
    double cx0 = 0, cy0 = 0, cx1 = in_w, cy1 = in_h;
    if (t->content[2] > 0 && t->content[3] > 0) {
      cx0 = t->content[0];
      cy0 = t->content[1];
      cx1 = cx0 + t->content[2];
      cy1 = cy0 + t->content[3];
    }
    result->mask_width = rw;
    result->mask_height = rh;
    result->mask.assign(static_cast<size_t>(rw) * rh, -1);
    if (p_.kind != MapKind::kIds) result->mask_scores.assign(static_cast<size_t>(rw) * rh, 0.0f);
    const double mm[6] = {1, 0, static_cast<double>(rx), 0, 1, static_cast<double>(ry)};
    std::copy(mm, mm + 6, result->mask_matrix);
    // Inverse of the transform: source -> model input.
    const double* a = t->m;
    const double det = a[0] * a[4] - a[1] * a[3];
    if (!(std::fabs(det) > 0)) return InputError("Segmentation: the transform is not invertible");
    const double i0 = a[4] / det, i1 = -a[1] / det, i3 = -a[3] / det, i4 = a[0] / det;
    const double i2 = -(i0 * a[2] + i1 * a[5]), i5 = -(i3 * a[2] + i4 * a[5]);
    const bool nearest = p_.kind == MapKind::kIds || p_.o.interpolation == SegmentationOptions::Interpolation::kNearest;
    // Bilinear on scores: the binary map's activated probability, or every channel.
    std::vector<float> prob;
    if (!nearest && p_.kind == MapKind::kBinary) prob = score;
    for (int y = 0; y < rh; ++y) {
      const double sy = ry + y + 0.5;
      int32_t* out_c = &result->mask[static_cast<size_t>(y) * rw];
      float* out_s = result->mask_scores.empty() ? nullptr : &result->mask_scores[static_cast<size_t>(y) * rw];
      for (int x = 0; x < rw; ++x) {
        const double sx = rx + x + 0.5;
        const double u = i0 * sx + i1 * sy + i2, vv = i3 * sx + i4 * sy + i5;
        if (!(u >= cx0 && u < cx1 && vv >= cy0 && vv < cy1)) continue;  // not seen by the model: -1
        const double mu = u / kx, mv = vv / ky;  // mask coordinates
        if (nearest) {
          const int ix = std::min(std::max(static_cast<int>(std::floor(mu)), 0), p_.w - 1);
          const int iy = std::min(std::max(static_cast<int>(std::floor(mv)), 0), p_.h - 1);
          const size_t i = static_cast<size_t>(iy) * p_.w + ix;
          out_c[x] = cls[i];
          if (out_s) out_s[x] = score[i];
          continue;
        }
        // Bilinear between pixel centres (i + 0.5), clamped at the borders.
        const double fx = std::min(std::max(mu - 0.5, 0.0), p_.w - 1.0);
        const double fy = std::min(std::max(mv - 0.5, 0.0), p_.h - 1.0);
        const int x0 = static_cast<int>(fx), y0 = static_cast<int>(fy);
        const int x1 = std::min(x0 + 1, p_.w - 1), y1 = std::min(y0 + 1, p_.h - 1);
        const double wx = fx - x0, wy = fy - y0;
        const double w00 = (1 - wx) * (1 - wy), w01 = wx * (1 - wy), w10 = (1 - wx) * wy, w11 = wx * wy;
        const size_t i00 = static_cast<size_t>(y0) * p_.w + x0, i01 = static_cast<size_t>(y0) * p_.w + x1;
        const size_t i10 = static_cast<size_t>(y1) * p_.w + x0, i11 = static_cast<size_t>(y1) * p_.w + x1;
        if (p_.kind == MapKind::kBinary) {
          const float s = static_cast<float>(w00 * prob[i00] + w01 * prob[i01] + w10 * prob[i10] + w11 * prob[i11]);
          out_c[x] = s >= p_.o.threshold ? 1 : 0;
          out_s[x] = s;
          continue;
        }
        float* vals = v.data();
        for (int k = 0; k < p_.c; ++k)
          vals[k] = static_cast<float>(w00 * Load(d, i00, k) + w01 * Load(d, i01, k) + w10 * Load(d, i10, k) +
                                       w11 * Load(d, i11, k));
        Classify(vals, &out_c[x], &out_s[x]);
      }
    }
    return Status::Ok();
  }

 private:
  float Load(const void* d, size_t pixel, int k) const {
    return LoadFloat(d, p_.dtype, pixel * static_cast<size_t>(p_.c) + static_cast<size_t>(k), p_.q);
  }

  // Class and score of one pixel's raw values.
  void Classify(const float* v, int32_t* cls, float* score) const {
    const ScoreActivation act = p_.o.activation;
    if (p_.kind == MapKind::kBinary) {
      const float s = act == ScoreActivation::kSigmoid ? Sigmoid(v[0]) : v[0];
      *cls = s >= p_.o.threshold ? 1 : 0;
      *score = s;
      return;
    }
    int best = 0;
    for (int k = 1; k < p_.c; ++k)
      if (v[k] > v[best]) best = k;  // ties: the lower class
    *cls = best;
    if (act == ScoreActivation::kSoftmax) {
      double sum = 0;
      for (int k = 0; k < p_.c; ++k) sum += std::exp(static_cast<double>(v[k]) - v[best]);
      *score = static_cast<float>(1.0 / sum);
    } else if (act == ScoreActivation::kSigmoid) {
      *score = Sigmoid(v[best]);
    } else {
      *score = v[best];
    }
  }

  SegPlan p_;
};

bool IsIntegerType(DType t) {
  return t == DType::kInt32 || t == DType::kInt64 || t == DType::kUInt8 || t == DType::kInt8;
}

}  // namespace

Expected<std::shared_ptr<Segmentation>> Segmentation::Create(const SegmentationOptions& o) {
  EDGERUN_RETURN_IF_ERROR(CheckOption(o.activation));
  EDGERUN_RETURN_IF_ERROR(CheckOption(o.resolution));
  EDGERUN_RETURN_IF_ERROR(CheckOption(o.interpolation));
  EDGERUN_RETURN_IF_ERROR(CheckFinite(o.threshold, "Segmentation", "threshold"));
  EDGERUN_RETURN_IF_ERROR(CheckOutputRef(o.output, "Segmentation", "output"));
  return std::shared_ptr<Segmentation>(new Segmentation(o));
}

std::string Segmentation::Describe() const {
  const SegmentationOptions& o = options_;
  return std::string("Segmentation(score_activation=") + OptionName(o.activation) +
         ", threshold=" + FormatFloat(o.threshold) + ", resolution=" + OptionName(o.resolution) +
         ", interpolation=" + OptionName(o.interpolation) + ")";
}

Expected<std::shared_ptr<const Decoder>> Segmentation::Bind(const std::vector<TensorInfo>& inputs,
                                                            const std::vector<TensorInfo>& outputs) const {
  SegPlan p;
  p.o = options_;
  InputSize(inputs, &p.in_width, &p.in_height);
  // A map: [1, H, W] or [1, H, W, C] with H, W > 1.
  auto is_map = [](const TensorInfo& t) {
    const auto& s = t.shape;
    return (s.size() == 3 || s.size() == 4) && s[0] == 1 && s[1] > 1 && s[2] > 1 && (s.size() == 3 || s[3] >= 1);
  };
  const std::string want = "[1, H, W, C] scores, [1, H, W(, 1)] foreground probability or [1, H, W] class ids";
  if (options_.output.set()) {
    auto r = Resolve(options_.output, outputs, "Segmentation");
    if (!r.ok()) return r.status();
    p.out = *r;
  } else {
    std::vector<size_t> maps;
    for (size_t i = 0; i < outputs.size(); ++i)
      if (is_map(outputs[i])) maps.push_back(i);
    std::string listing;
    for (size_t i = 0; i < outputs.size(); ++i) listing += (i ? ", " : "") + OutputStr(outputs, i);
    if (maps.size() != 1)
      return InputError("Segmentation: expected one output " + want + "; the model's outputs are " +
                        (listing.empty() ? "none" : listing) +
                        (maps.size() > 1 ? " (several maps: choose one with output=)" : ""));
    p.out = maps[0];
  }
  const TensorInfo& t = outputs[p.out];
  if (!is_map(t)) return InputError("Segmentation: " + OutputStr(outputs, p.out) + ": expected " + want);
  p.h = static_cast<int>(t.shape[1]);
  p.w = static_cast<int>(t.shape[2]);
  p.c = t.shape.size() == 4 ? static_cast<int>(t.shape[3]) : 1;
  p.dtype = t.dtype;
  const bool quantized = (t.dtype == DType::kInt8 || t.dtype == DType::kUInt8) && t.scale > 0;
  if (IsIntegerType(t.dtype) && !quantized) {
    if (p.c != 1)
      return InputError("Segmentation: " + OutputStr(outputs, p.out) +
                        " holds integers without quantization, so class ids: expected [1, H, W] (or [1, H, W, 1])");
    p.kind = MapKind::kIds;
  } else {
    if (!Readable(t.dtype))
      return InputError("Segmentation: " + OutputStr(outputs, p.out) +
                        " has an unsupported type; expected float32, float16, int8, uint8 (scores) or int32, int64 "
                        "(class ids)");
    EDGERUN_RETURN_IF_ERROR(CheckQuant(outputs, p.out, "Segmentation"));
    p.q = QuantOf(t);
    p.kind = p.c == 1 ? MapKind::kBinary : MapKind::kScores;
    if (p.kind == MapKind::kBinary && options_.activation == ScoreActivation::kSoftmax)
      return InputError("Segmentation: " + OutputStr(outputs, p.out) +
                        " has one channel (a foreground probability): softmax over one value is always 1; use "
                        "score_activation='sigmoid' for a logit or 'none'");
  }
  return std::shared_ptr<const Decoder>(std::make_shared<SegDecoder>(std::move(p)));
}

}  // namespace postprocess
}  // namespace edgerun
