// SSD head: anchors (explicit or MediaPipe's SsdAnchorsCalculator scheme), the
// TF Object Detection API and MediaPipe box coders, score thresholding in the
// raw domain, then NMS. Only boxes whose score passes are decoded.
#include <algorithm>

#include "postprocess/common.h"

namespace edgerun {
namespace postprocess {

using namespace internal;  // NOLINT

// ---------------------------------------------------------------------------
// Anchors
// ---------------------------------------------------------------------------
namespace {

float LayerScale(float min_scale, float max_scale, int index, int count) {
  if (count == 1) return static_cast<float>((static_cast<double>(min_scale) + max_scale) * 0.5);
  return static_cast<float>(min_scale + (static_cast<double>(max_scale) - min_scale) * index / (count - 1.0));
}

Status CheckAnchorOptions(const SsdAnchorOptions& o, bool need_size) {
  if (o.num_layers < 1) return InputError("anchors: num_layers must be >= 1, got " + std::to_string(o.num_layers));
  if (o.input_width < 0 || o.input_height < 0)
    return InputError("anchors: input_size must be positive (or unset: the model's input size), got " +
                      std::to_string(o.input_width) + "x" + std::to_string(o.input_height));
  for (float v : {o.min_scale, o.max_scale, o.anchor_offset_x, o.anchor_offset_y, o.interpolated_scale_aspect_ratio})
    if (!std::isfinite(v))
      return InputError("anchors: min_scale, max_scale, anchor_offset_x/y and interpolated_scale_aspect_ratio must be "
                        "finite, got " + FormatFloat(v));
  const bool fm = !o.feature_map_width.empty() || !o.feature_map_height.empty();
  if (fm) {
    if (o.feature_map_width.size() != static_cast<size_t>(o.num_layers) ||
        o.feature_map_height.size() != static_cast<size_t>(o.num_layers))
      return InputError("anchors: feature_map_width and feature_map_height need one entry per layer (" +
                        std::to_string(o.num_layers) + "), got " + std::to_string(o.feature_map_width.size()) +
                        " and " + std::to_string(o.feature_map_height.size()));
    for (size_t i = 0; i < o.feature_map_width.size(); ++i)
      if (o.feature_map_width[i] < 1 || o.feature_map_height[i] < 1)
        return InputError("anchors: feature map sizes must be >= 1");
  }
  if (!o.strides.empty() && o.strides.size() != static_cast<size_t>(o.num_layers))
    return InputError("anchors: strides needs one entry per layer (" + std::to_string(o.num_layers) + "), got " +
                      std::to_string(o.strides.size()));
  if (o.strides.empty() && !fm) return InputError("anchors: give strides or feature_map_width/feature_map_height");
  for (int s : o.strides)
    if (s < 1) return InputError("anchors: strides must be >= 1, got " + std::to_string(s));
  if (o.aspect_ratios.empty() && !(o.reduce_boxes_in_lowest_layer && o.num_layers == 1) &&
      !(o.interpolated_scale_aspect_ratio > 0))
    return InputError("anchors: aspect_ratios is empty");
  for (float a : o.aspect_ratios)
    if (!(a > 0)) return InputError("anchors: aspect ratios must be > 0, got " + FormatFloat(a));
  if (!(o.min_scale > 0) || !(o.max_scale > 0))
    return InputError("anchors: min_scale and max_scale must be > 0, got " + FormatFloat(o.min_scale) + " and " +
                      FormatFloat(o.max_scale));
  if (need_size && !fm && (o.input_width < 1 || o.input_height < 1))
    return InputError("anchors: input_width and input_height must be >= 1 to place anchors by stride, got " +
                      std::to_string(o.input_width) + "x" + std::to_string(o.input_height));
  return Status::Ok();
}

}  // namespace

Expected<std::vector<Anchor>> GenerateSsdAnchors(const SsdAnchorOptions& o) {
  EDGERUN_RETURN_IF_ERROR(CheckAnchorOptions(o, /*need_size=*/true));
  const int nstrides = o.strides.empty() ? o.num_layers : static_cast<int>(o.strides.size());
  std::vector<Anchor> anchors;
  int layer = 0;
  while (layer < o.num_layers) {
    std::vector<float> heights, widths;
    // Consecutive layers with the same stride share one feature map.
    int last = layer;
    do {
      const float scale = LayerScale(o.min_scale, o.max_scale, last, nstrides);
      std::vector<float> ratios, scales;
      if (last == 0 && o.reduce_boxes_in_lowest_layer) {
        // The lowest layer's predefined anchors: (0.1, 1:1), (scale, 2:1), (scale, 1:2).
        const float fixed[3][2] = {{1.0f, 0.1f}, {2.0f, scale}, {0.5f, scale}};
        for (const auto& f : fixed) {
          ratios.push_back(f[0]);
          scales.push_back(f[1]);
        }
      } else {
        for (float a : o.aspect_ratios) {
          ratios.push_back(a);
          scales.push_back(scale);
        }
        if (o.interpolated_scale_aspect_ratio > 0) {
          const float next = last == nstrides - 1 ? 1.0f : LayerScale(o.min_scale, o.max_scale, last + 1, nstrides);
          ratios.push_back(o.interpolated_scale_aspect_ratio);
          scales.push_back(std::sqrt(scale * next));
        }
      }
      for (size_t k = 0; k < ratios.size(); ++k) {
        const float r = std::sqrt(ratios[k]);
        heights.push_back(scales[k] / r);
        widths.push_back(scales[k] * r);
      }
      ++last;
    } while (last < o.num_layers && !o.strides.empty() && o.strides[last] == o.strides[layer]);
    int fh, fw;
    if (!o.feature_map_height.empty()) {
      fh = o.feature_map_height[layer];
      fw = o.feature_map_width[layer];
    } else {
      const int s = o.strides[layer];
      fh = (o.input_height + s - 1) / s;
      fw = (o.input_width + s - 1) / s;
    }
    for (int y = 0; y < fh; ++y) {
      for (int x = 0; x < fw; ++x) {
        for (size_t k = 0; k < heights.size(); ++k) {
          Anchor a;
          a.x_center = static_cast<float>((x + static_cast<double>(o.anchor_offset_x)) / fw);
          a.y_center = static_cast<float>((y + static_cast<double>(o.anchor_offset_y)) / fh);
          a.w = o.fixed_anchor_size ? 1.0f : widths[k];
          a.h = o.fixed_anchor_size ? 1.0f : heights[k];
          anchors.push_back(a);
        }
      }
    }
    layer = last;
  }
  return anchors;
}

SsdOptions BlazeFaceOptions() {
  SsdOptions o;
  SsdAnchorOptions& a = o.anchor_options;
  a.num_layers = 4;
  a.min_scale = 0.1484375f;
  a.max_scale = 0.75f;
  a.input_width = 128;
  a.input_height = 128;
  a.strides = {8, 16, 16, 16};
  a.aspect_ratios = {1.0f};
  a.anchor_offset_x = 0.5f;
  a.anchor_offset_y = 0.5f;
  a.reduce_boxes_in_lowest_layer = false;
  a.interpolated_scale_aspect_ratio = 1.0f;
  a.fixed_anchor_size = true;
  o.box_coder = BoxCoder::kMediaPipe;
  for (float& s : o.scales) s = 128.0f;
  o.num_keypoints = 6;
  o.activation = ScoreActivation::kSigmoid;
  o.score_clipping = 100.0f;
  o.score_threshold = 0.5f;
  o.nms.iou_threshold = 0.3f;
  o.nms.mode = NmsMode::kWeighted;
  o.nms.class_agnostic = true;
  o.nms.max_detections = 100;
  return o;
}

// ---------------------------------------------------------------------------
// Decoder
// ---------------------------------------------------------------------------
namespace {

struct SsdPlan {
  size_t boxes_out = 0, scores_out = 0;
  size_t n = 0, box_len = 0, classes = 0, first_class = 0;
  int num_keypoints = 0;
  bool yx_order = true;  // TF coder: (y, x, h, w), keypoints (y, x)
  bool exp_size = true;
  double scale_y = 10, scale_x = 10, scale_h = 5, scale_w = 5;
  int width = 0, height = 0;  // model input size (0: take the transform's)
  DType box_dtype = DType::kFloat32, score_dtype = DType::kFloat32;
  Quant box_q, score_q;
  float threshold = 0.5f;
  ScoreFn fn;
  bool softmax = false;
  RawThreshold raw;
  NmsOptions nms;
  std::shared_ptr<const std::vector<Anchor>> anchors;
};

class SsdDecoder : public Decoder {
 public:
  explicit SsdDecoder(SsdPlan p) : p_(std::move(p)) {}

  Status Decode(const std::vector<const void*>& outputs, const preprocess::Transform* t,
                Result* result) const override {
    if (p_.boxes_out >= outputs.size() || p_.scores_out >= outputs.size() || !outputs[p_.boxes_out] ||
        !outputs[p_.scores_out])
      return InputError("SSD: outputs " + std::to_string(p_.boxes_out) + " (boxes) and " +
                        std::to_string(p_.scores_out) + " (scores) are needed, got " +
                        std::to_string(outputs.size()) + " pointer(s)");
    double W = p_.width, H = p_.height;
    if (W <= 0 || H <= 0) {
      if (!t || t->input_width <= 0 || t->input_height <= 0)
        return InputError("SSD: the model input size is unknown (needed to scale normalized boxes to pixels); bind "
                          "with the model's inputs or pass a transform");
      W = t->input_width;
      H = t->input_height;
    }
    Scratch& s = ThreadScratch();
    s.candidates.clear();
    const void* scores = outputs[p_.scores_out];
    switch (p_.score_dtype) {
      case DType::kFloat32: Scan(static_cast<const float*>(scores), &s.candidates); break;
      case DType::kFloat16: Scan(static_cast<const Half*>(scores), &s.candidates); break;
      case DType::kInt8: Scan(static_cast<const int8_t*>(scores), &s.candidates); break;
      case DType::kUInt8: Scan(static_cast<const uint8_t*>(scores), &s.candidates); break;
      default: return InternalError("SSD: unsupported score type");
    }
    // Decode the boxes of the candidates only.
    const void* boxes = outputs[p_.boxes_out];
    const std::vector<Anchor>& anchors = *p_.anchors;
    const size_t kp = static_cast<size_t>(p_.num_keypoints) * 2;
    s.keypoints.resize(s.candidates.size() * kp);
    size_t kept = 0;
    for (size_t c = 0; c < s.candidates.size(); ++c) {
      Candidate cand = s.candidates[c];
      const size_t i = static_cast<size_t>(cand.index);
      const size_t row = i * p_.box_len;
      const Anchor& a = anchors[i];
      double r[4];
      for (int k = 0; k < 4; ++k) r[k] = LoadFloat(boxes, p_.box_dtype, row + k, p_.box_q);
      double yc, xc, h, w;
      if (p_.yx_order) {
        yc = r[0]; xc = r[1]; h = r[2]; w = r[3];
      } else {
        xc = r[0]; yc = r[1]; w = r[2]; h = r[3];
      }
      xc = xc / p_.scale_x * a.w + a.x_center;
      yc = yc / p_.scale_y * a.h + a.y_center;
      if (p_.exp_size) {
        h = std::exp(h / p_.scale_h) * a.h;
        w = std::exp(w / p_.scale_w) * a.w;
      } else {
        h = h / p_.scale_h * a.h;
        w = w / p_.scale_w * a.w;
      }
      if (!(w >= 0) || !(h >= 0)) continue;  // negative or NaN size (as MediaPipe drops them)
      cand.box[0] = (xc - w / 2) * W;
      cand.box[1] = (yc - h / 2) * H;
      cand.box[2] = (xc + w / 2) * W;
      cand.box[3] = (yc + h / 2) * H;
      for (size_t k = 0; k < kp; k += 2) {
        const double v0 = LoadFloat(boxes, p_.box_dtype, row + 4 + k, p_.box_q);
        const double v1 = LoadFloat(boxes, p_.box_dtype, row + 5 + k, p_.box_q);
        const double kx = p_.yx_order ? v1 : v0, ky = p_.yx_order ? v0 : v1;
        s.keypoints[kept * kp + k] = (kx / p_.scale_x * a.w + a.x_center) * W;
        s.keypoints[kept * kp + k + 1] = (ky / p_.scale_y * a.h + a.y_center) * H;
      }
      cand.kp_row = static_cast<int32_t>(kept);
      s.candidates[kept++] = cand;
    }
    s.candidates.resize(kept);
    s.keypoints.resize(kept * kp);
    RunNms(s.candidates, s.keypoints, p_.num_keypoints, p_.nms, &s.kept, &s.kept_keypoints);
    EmitDetections(s.kept, s.kept_keypoints, p_.num_keypoints, t, result);
    return Status::Ok();
  }

 private:
  // Score pass: one candidate per anchor (its best class), in anchor order.
  template <class T>
  void Scan(const T* scores, std::vector<Candidate>* out) const {
    using Key = typename KeyOf<T>::Key;
    const size_t C = p_.classes, c0 = p_.first_class;
    if (p_.softmax) {
      for (size_t i = 0; i < p_.n; ++i) {
        const size_t row = i * C;
        float mx = -std::numeric_limits<float>::infinity();
        for (size_t c = 0; c < C; ++c) mx = std::max(mx, LoadFloat(scores, p_.score_dtype, row + c, p_.score_q));
        double sum = 0;
        float best = -std::numeric_limits<float>::infinity();
        size_t bc = c0;
        for (size_t c = 0; c < C; ++c) {
          const float v = LoadFloat(scores, p_.score_dtype, row + c, p_.score_q);
          sum += std::exp(static_cast<double>(v - mx));
          if (c >= c0 && v > best) {
            best = v;
            bc = c;
          }
        }
        const float score = static_cast<float>(std::exp(static_cast<double>(best - mx)) / sum);
        if (score >= p_.threshold) out->push_back(MakeCand(score, bc - c0, i));
      }
      return;
    }
    if (p_.raw.none_pass) return;
    constexpr bool kFloatKey = std::is_same<Key, float>::value;
    const Key thr = kFloatKey ? static_cast<Key>(p_.raw.key_f) : static_cast<Key>(p_.raw.key_i);
    const float clip = kFloatKey ? p_.fn.clip : 0.0f;
    const bool need_exact = !p_.raw.exact;
    for (size_t i = 0; i < p_.n; ++i) {
      const T* row = scores + i * C;
      Key best = KeyOf<T>::Get(row[c0]);
      if (clip > 0) best = std::min(std::max(best, static_cast<Key>(-clip)), static_cast<Key>(clip));
      size_t bc = c0;
      for (size_t c = c0 + 1; c < C; ++c) {
        Key v = KeyOf<T>::Get(row[c]);
        if (clip > 0) v = std::min(std::max(v, static_cast<Key>(-clip)), static_cast<Key>(clip));
        if (v > best) {
          best = v;
          bc = c;
        }
      }
      if (!(best >= thr)) continue;
      const float score = p_.raw.Score(p_.score_dtype, scores, i * C + bc, p_.score_q, p_.fn);
      if (need_exact && !(score >= p_.threshold)) continue;
      out->push_back(MakeCand(score, bc - c0, i));
    }
  }

  static Candidate MakeCand(float score, size_t cls, size_t i) {
    Candidate c;
    c.score = score;
    c.cls = static_cast<int32_t>(cls);
    c.index = static_cast<int32_t>(i);
    c.kp_row = 0;
    return c;
  }

  SsdPlan p_;
};

bool NameHas(const std::string& name, std::initializer_list<const char*> words) {
  const std::string l = Lower(name);
  for (const char* w : words)
    if (l.find(w) != std::string::npos) return true;
  return false;
}

}  // namespace

Expected<std::shared_ptr<Ssd>> Ssd::Create(const SsdOptions& o) {
  if (o.anchors.empty()) {
    const SsdAnchorOptions& a = o.anchor_options;
    if (a.num_layers == 0 && a.strides.empty() && a.feature_map_width.empty() && a.feature_map_height.empty())
      return InputError("anchors: expected an (N, 4) array or SsdAnchors(...) options, got none");
    EDGERUN_RETURN_IF_ERROR(CheckAnchorOptions(o.anchor_options, /*need_size=*/false));
  }
  EDGERUN_RETURN_IF_ERROR(CheckOption(o.box_coder));
  EDGERUN_RETURN_IF_ERROR(CheckOption(o.activation));
  for (float s : o.scales)
    if (!(s >= 0) || !std::isfinite(s))
      return InputError("SSD: scales must be finite and >= 0 (0: the box coder's default), got (" + FormatFloat(o.scales[0]) +
                        ", " + FormatFloat(o.scales[1]) + ", " + FormatFloat(o.scales[2]) + ", " +
                        FormatFloat(o.scales[3]) + ")");
  if (o.num_keypoints < -1)
    return InputError("SSD: num_keypoints must be >= 0 (or unset: from the regressor length), got " +
                      std::to_string(o.num_keypoints));
  EDGERUN_RETURN_IF_ERROR(CheckNms(o.nms, "SSD"));
  EDGERUN_RETURN_IF_ERROR(CheckFinite(o.score_threshold, "SSD", "score_threshold"));
  if (!(o.score_clipping >= 0) || !std::isfinite(o.score_clipping))
    return InputError("SSD: score_clipping must be finite and >= 0 (0: no clipping), got " + FormatFloat(o.score_clipping));
  EDGERUN_RETURN_IF_ERROR(CheckOutputRef(o.boxes_output, "SSD", "boxes_output"));
  EDGERUN_RETURN_IF_ERROR(CheckOutputRef(o.scores_output, "SSD", "scores_output"));
  SsdOptions opts = o;
  if (opts.anchors.empty() && opts.anchor_options.input_width > 0 && opts.anchor_options.input_height > 0) {
    auto a = GenerateSsdAnchors(opts.anchor_options);
    if (!a.ok()) return a.status();
    opts.anchors = std::move(*a);
    opts.anchor_options = SsdAnchorOptions();
    opts.anchor_options.input_width = o.anchor_options.input_width;
    opts.anchor_options.input_height = o.anchor_options.input_height;
  }
  return std::shared_ptr<Ssd>(new Ssd(opts));
}

std::string Ssd::Describe() const {
  const SsdOptions& o = options_;
  std::string s = "SSD(anchors=";
  s += o.anchors.empty() ? std::string("generated at bind") : std::to_string(o.anchors.size());
  s += std::string(", box_coder='") + OptionName(o.box_coder) + "'";
  s += ", score_threshold=" + FormatFloat(o.score_threshold) + ", iou_threshold=" + FormatFloat(o.nms.iou_threshold) +
       ", max_detections=" + std::to_string(o.nms.max_detections);
  s += std::string(", nms='") + OptionName(o.nms.mode) + "'";
  if (o.nms.class_agnostic) s += ", class_agnostic=True";
  return s + ")";
}

Expected<std::shared_ptr<const Decoder>> Ssd::Bind(const std::vector<TensorInfo>& inputs,
                                                   const std::vector<TensorInfo>& outputs) const {
  const SsdOptions& o = options_;
  SsdPlan p;
  InputSize(inputs, &p.width, &p.height);
  if (p.width <= 0 || p.height <= 0) {
    p.width = o.anchor_options.input_width;
    p.height = o.anchor_options.input_height;
  }
  std::shared_ptr<const std::vector<Anchor>> anchors;
  if (!o.anchors.empty()) {
    anchors = std::make_shared<const std::vector<Anchor>>(o.anchors);
  } else {
    SsdAnchorOptions ao = o.anchor_options;
    ao.input_width = p.width;
    ao.input_height = p.height;
    if (p.width <= 0 || p.height <= 0)
      return InputError("SSD: anchors are generated from the model input size, which is unknown: bind with the "
                        "model's inputs or give the anchors' input size");
    auto a = GenerateSsdAnchors(ao);
    if (!a.ok()) return a.status();
    anchors = std::make_shared<const std::vector<Anchor>>(std::move(*a));
  }
  const size_t na = anchors->size();

  // Which output holds the boxes and which the scores.
  auto rows = [&](size_t i, int64_t* n, int64_t* d) {
    auto s = Squeeze(outputs[i].shape, 2);
    if (s.size() != 2) return false;
    *n = s[0];
    *d = s[1];
    return true;
  };
  std::string listing;
  for (size_t i = 0; i < outputs.size(); ++i) listing += (i ? ", " : "") + OutputStr(outputs, i);
  if (listing.empty()) listing = "none";
  long bi = -1, si = -1;
  if (o.boxes_output.set()) {
    auto r = Resolve(o.boxes_output, outputs, "SSD: boxes");
    if (!r.ok()) return r.status();
    bi = static_cast<long>(*r);
  }
  if (o.scores_output.set()) {
    auto r = Resolve(o.scores_output, outputs, "SSD: scores");
    if (!r.ok()) return r.status();
    si = static_cast<long>(*r);
  }
  if (bi < 0 || si < 0) {
    // Outputs of rank 2 after leading 1s, preferring those with one row per
    // anchor (with none, the checks below say which count disagrees).
    std::vector<size_t> cands, any_n;
    for (size_t i = 0; i < outputs.size(); ++i) {
      int64_t n = 0, d = 0;
      if (static_cast<long>(i) == bi || static_cast<long>(i) == si) continue;
      if (!rows(i, &n, &d)) continue;
      any_n.push_back(i);
      if (static_cast<size_t>(n) == na) cands.push_back(i);
    }
    const size_t needed = (bi < 0 ? 1 : 0) + (si < 0 ? 1 : 0);
    if (cands.size() < needed) cands = any_n;
    if (bi < 0 && si < 0) {
      std::vector<size_t> boxy, scory;
      for (size_t i : cands) {
        int64_t n = 0, d = 0;
        rows(i, &n, &d);
        (d >= 4 ? boxy : scory).push_back(i);
      }
      if (boxy.size() == 1 && !scory.empty()) {
        bi = static_cast<long>(boxy[0]);
        si = static_cast<long>(scory[0]);
      } else if (boxy.size() >= 2 && scory.empty()) {
        // Both could hold boxes: names decide, then order (boxes first).
        for (size_t i : boxy)
          if (bi < 0 && NameHas(outputs[i].name, {"box", "regress", "loc", "coord", "encod"})) bi = static_cast<long>(i);
        for (size_t i : boxy)
          if (si < 0 && static_cast<long>(i) != bi && NameHas(outputs[i].name, {"score", "class", "conf", "logit"}))
            si = static_cast<long>(i);
        if (bi < 0) bi = static_cast<long>(boxy[0] == static_cast<size_t>(si) ? boxy[1] : boxy[0]);
        if (si < 0)
          for (size_t i : boxy)
            if (si < 0 && static_cast<long>(i) != bi) si = static_cast<long>(i);
      }
    } else if (bi < 0) {
      for (size_t i : cands) {
        int64_t n = 0, d = 0;
        rows(i, &n, &d);
        if (bi < 0 && d >= 4) bi = static_cast<long>(i);
      }
    } else {
      for (size_t i : cands)
        if (si < 0) si = static_cast<long>(i);
    }
    if (bi < 0 || si < 0)
      return InputError("SSD: expected a box output [1, " + std::to_string(na) + ", 4 + 2K] and a score output [1, " +
                        std::to_string(na) + ", C] (" + std::to_string(na) +
                        " anchors); the model's outputs are " + listing);
  }
  if (bi == si) return InputError("SSD: boxes and scores cannot be the same output (" + OutputStr(outputs, bi) + ")");
  const TensorInfo& bt = outputs[bi];
  const TensorInfo& st = outputs[si];
  int64_t bn = 0, bd = 0, sn = 0, sd = 0;
  if (!rows(bi, &bn, &bd) || bd < 4)
    return InputError("SSD: boxes " + OutputStr(outputs, bi) + ": expected shape [1, N, 4 + 2K]");
  if (!rows(si, &sn, &sd))
    return InputError("SSD: scores " + OutputStr(outputs, si) + ": expected shape [1, N, C]");
  if (static_cast<size_t>(bn) != na)
    return InputError("SSD: boxes " + OutputStr(outputs, bi) + " has " + std::to_string(bn) + " boxes but " +
                      std::to_string(na) + " anchors were " + (o.anchors.empty() ? "generated" : "given"));
  if (sn != bn)
    return InputError("SSD: scores " + OutputStr(outputs, si) + " has " + std::to_string(sn) + " rows, expected " +
                      std::to_string(bn) + " (one per box)");
  for (const TensorInfo* t : {&bt, &st}) {
    if (!Readable(t->dtype))
      return InputError("SSD: " + OutputStr(outputs, t == &bt ? bi : si) +
                        " has an unsupported type; expected float32, float16, int8 or uint8");
    EDGERUN_RETURN_IF_ERROR(CheckQuant(outputs, t == &bt ? bi : si, "SSD"));
  }
  p.boxes_out = static_cast<size_t>(bi);
  p.scores_out = static_cast<size_t>(si);
  p.n = na;
  p.box_len = static_cast<size_t>(bd);
  p.classes = static_cast<size_t>(sd);
  p.first_class = o.background_class ? 1 : 0;
  if (p.classes <= p.first_class)
    return InputError("SSD: scores " + OutputStr(outputs, si) + " has " + std::to_string(sd) +
                      " column(s); background_class needs at least 2");
  const int max_kp = static_cast<int>((bd - 4) / 2);
  p.num_keypoints = o.num_keypoints < 0 ? max_kp : o.num_keypoints;
  if (p.num_keypoints > max_kp)
    return InputError("SSD: " + std::to_string(p.num_keypoints) + " keypoints need " +
                      std::to_string(4 + 2 * p.num_keypoints) + " values per box, but boxes " + OutputStr(outputs, bi) +
                      " has " + std::to_string(bd));
  p.yx_order = o.box_coder == BoxCoder::kTfObjectDetection;
  p.exp_size = o.box_coder == BoxCoder::kTfObjectDetection;
  double def[4];
  if (o.box_coder == BoxCoder::kTfObjectDetection) {
    def[0] = 10; def[1] = 10; def[2] = 5; def[3] = 5;
  } else {
    if (p.width <= 0 || p.height <= 0) {
      bool all = true;
      for (float s : o.scales) all = all && s > 0;
      if (!all)
        return InputError("SSD: the MediaPipe box coder scales default to the model input size, which is unknown: "
                          "bind with the model's inputs or give the scales");
    }
    def[0] = p.height; def[1] = p.width; def[2] = p.height; def[3] = p.width;
  }
  p.scale_y = o.scales[0] > 0 ? o.scales[0] : def[0];
  p.scale_x = o.scales[1] > 0 ? o.scales[1] : def[1];
  p.scale_h = o.scales[2] > 0 ? o.scales[2] : def[2];
  p.scale_w = o.scales[3] > 0 ? o.scales[3] : def[3];
  p.box_dtype = bt.dtype;
  p.score_dtype = st.dtype;
  p.box_q = QuantOf(bt);
  p.score_q = QuantOf(st);
  p.threshold = o.score_threshold;
  p.softmax = o.activation == ScoreActivation::kSoftmax;
  p.fn.activation = p.softmax ? ScoreActivation::kNone : o.activation;
  p.fn.clip = o.score_clipping;
  p.raw = MakeRawThreshold(o.score_threshold, st.dtype, p.score_q, p.fn);
  p.nms = o.nms;
  p.anchors = std::move(anchors);
  return std::shared_ptr<const Decoder>(std::make_shared<SsdDecoder>(std::move(p)));
}

}  // namespace postprocess
}  // namespace edgerun
