// Pass-through head for models that end in TFLite_Detection_PostProcess:
// boxes [1, N, 4] (ymin, xmin, ymax, xmax; normalized), classes [1, N],
// scores [1, N], count [1]. Boxes are scaled to input pixels and mapped to the
// source frame; an optional score threshold and detection limit apply.
#include <algorithm>

#include "postprocess/common.h"

namespace edgerun {
namespace postprocess {

using namespace internal;  // NOLINT

namespace {

struct DppPlan {
  size_t boxes = 0, classes = 0, scores = 0, count = 0;
  size_t n = 0;
  DType dt[4];
  Quant q[4];
  int width = 0, height = 0;
  bool has_threshold = false;
  float threshold = 0;
  int max_detections = 0;
};

class DppDecoder : public Decoder {
 public:
  explicit DppDecoder(DppPlan p) : p_(std::move(p)) {}

  Status Decode(const std::vector<const void*>& outputs, const preprocess::Transform* t,
                Result* result) const override {
    for (size_t k : {p_.boxes, p_.classes, p_.scores, p_.count})
      if (k >= outputs.size() || !outputs[k])
        return InputError("DetectionPostProcess: output " + std::to_string(k) + " was not given");
    double W = p_.width, H = p_.height;
    if (W <= 0 || H <= 0) {
      if (!t || t->input_width <= 0 || t->input_height <= 0)
        return InputError("DetectionPostProcess: the model input size is unknown (needed to scale normalized boxes "
                          "to pixels); bind with the model's inputs or pass a transform");
      W = t->input_width;
      H = t->input_height;
    }
    const float fcount = LoadFloat(outputs[p_.count], p_.dt[3], 0, p_.q[3]);
    size_t count = 0;
    if (fcount > 0) count = std::min(p_.n, static_cast<size_t>(fcount));
    Scratch& s = ThreadScratch();
    s.kept.clear();
    s.kept_keypoints.clear();
    const size_t limit = p_.max_detections > 0 ? static_cast<size_t>(p_.max_detections) : count;
    for (size_t i = 0; i < count && s.kept.size() < limit; ++i) {
      const float score = LoadFloat(outputs[p_.scores], p_.dt[2], i, p_.q[2]);
      if (p_.has_threshold && !(score >= p_.threshold)) continue;
      Candidate c;
      c.score = score;
      c.cls = static_cast<int32_t>(LoadFloat(outputs[p_.classes], p_.dt[1], i, p_.q[1]));
      c.index = static_cast<int32_t>(i);
      c.kp_row = 0;
      const void* b = outputs[p_.boxes];
      const double ymin = LoadFloat(b, p_.dt[0], i * 4 + 0, p_.q[0]), xmin = LoadFloat(b, p_.dt[0], i * 4 + 1, p_.q[0]);
      const double ymax = LoadFloat(b, p_.dt[0], i * 4 + 2, p_.q[0]), xmax = LoadFloat(b, p_.dt[0], i * 4 + 3, p_.q[0]);
      c.box[0] = xmin * W;
      c.box[1] = ymin * H;
      c.box[2] = xmax * W;
      c.box[3] = ymax * H;
      s.kept.push_back(c);
    }
    EmitDetections(s.kept, s.kept_keypoints, 0, t, result);
    return Status::Ok();
  }

 private:
  DppPlan p_;
};

bool Has(const std::string& name, const char* word) { return Lower(name).find(word) != std::string::npos; }

}  // namespace

Expected<std::shared_ptr<DetectionPostProcess>> DetectionPostProcess::Create(const DetectionPostProcessOptions& o) {
  if (o.has_score_threshold) EDGERUN_RETURN_IF_ERROR(CheckFinite(o.score_threshold, "DetectionPostProcess", "score_threshold"));
  if (o.max_detections < 0)
    return InputError("DetectionPostProcess: max_detections must be >= 0 (0: every detection), got " +
                      std::to_string(o.max_detections));
  EDGERUN_RETURN_IF_ERROR(CheckOutputRef(o.boxes_output, "DetectionPostProcess", "boxes_output"));
  EDGERUN_RETURN_IF_ERROR(CheckOutputRef(o.classes_output, "DetectionPostProcess", "classes_output"));
  EDGERUN_RETURN_IF_ERROR(CheckOutputRef(o.scores_output, "DetectionPostProcess", "scores_output"));
  EDGERUN_RETURN_IF_ERROR(CheckOutputRef(o.count_output, "DetectionPostProcess", "count_output"));
  return std::shared_ptr<DetectionPostProcess>(new DetectionPostProcess(o));
}

std::string DetectionPostProcess::Describe() const {
  std::string s = "DetectionPostProcess(";
  if (options_.has_score_threshold) s += "score_threshold=" + FormatFloat(options_.score_threshold);
  if (options_.max_detections > 0)
    s += std::string(options_.has_score_threshold ? ", " : "") + "max_detections=" + std::to_string(options_.max_detections);
  return s + ")";
}

Expected<std::shared_ptr<const Decoder>> DetectionPostProcess::Bind(const std::vector<TensorInfo>& inputs,
                                                                    const std::vector<TensorInfo>& outputs) const {
  const DetectionPostProcessOptions& o = options_;
  DppPlan p;
  InputSize(inputs, &p.width, &p.height);
  std::string listing;
  for (size_t i = 0; i < outputs.size(); ++i) listing += (i ? ", " : "") + OutputStr(outputs, i);
  const std::string expected =
      "DetectionPostProcess: expected the 4 outputs of TFLite_Detection_PostProcess (boxes [1, N, 4], classes "
      "[1, N], scores [1, N], count [1]); the model's outputs are " + (listing.empty() ? std::string("none") : listing);
  long idx[4] = {-1, -1, -1, -1};  // boxes, classes, scores, count
  const OutputRef* refs[4] = {&o.boxes_output, &o.classes_output, &o.scores_output, &o.count_output};
  const char* roles[4] = {"DetectionPostProcess: boxes", "DetectionPostProcess: classes",
                          "DetectionPostProcess: scores", "DetectionPostProcess: count"};
  for (int k = 0; k < 4; ++k) {
    if (!refs[k]->set()) continue;
    auto r = Resolve(*refs[k], outputs, roles[k]);
    if (!r.ok()) return r.status();
    idx[k] = static_cast<long>(*r);
  }
  auto taken = [&](size_t i) {
    for (long v : idx)
      if (v == static_cast<long>(i)) return true;
    return false;
  };
  auto elems = [&](size_t i) {
    int64_t e = 1;
    for (int64_t d : outputs[i].shape) e *= d;
    return e;
  };
  if (idx[0] < 0)
    for (size_t i = 0; i < outputs.size() && idx[0] < 0; ++i) {
      auto s = Squeeze(outputs[i].shape, 1);
      if (!taken(i) && s.size() == 2 && s[1] == 4) idx[0] = static_cast<long>(i);
    }
  if (idx[3] < 0)
    for (size_t i = 0; i < outputs.size() && idx[3] < 0; ++i)
      if (!taken(i) && elems(i) == 1) idx[3] = static_cast<long>(i);
  std::vector<size_t> rest;
  for (size_t i = 0; i < outputs.size(); ++i)
    if (!taken(i) && Squeeze(outputs[i].shape, 1).size() == 1 && elems(i) > 1) rest.push_back(i);
  if (idx[1] < 0)
    for (size_t i : rest)
      if (idx[1] < 0 && !taken(i) && Has(outputs[i].name, "class")) idx[1] = static_cast<long>(i);
  if (idx[2] < 0)
    for (size_t i : rest)
      if (idx[2] < 0 && !taken(i) && Has(outputs[i].name, "score")) idx[2] = static_cast<long>(i);
  for (int k : {1, 2})
    for (size_t i : rest)
      if (idx[k] < 0 && !taken(i)) idx[k] = static_cast<long>(i);
  for (long v : idx)
    if (v < 0) return InputError(expected);
  for (int k = 0; k < 4; ++k) {
    const TensorInfo& t = outputs[idx[k]];
    if (!Readable(t.dtype) && t.dtype != DType::kInt32 && t.dtype != DType::kInt64)
      return InputError(std::string(roles[k]) + " " + OutputStr(outputs, idx[k]) + " has an unsupported type");
    EDGERUN_RETURN_IF_ERROR(CheckQuant(outputs, static_cast<size_t>(idx[k]), "DetectionPostProcess"));
    p.dt[k] = t.dtype;
    p.q[k] = QuantOf(t);
  }
  auto bs = Squeeze(outputs[idx[0]].shape, 2);
  if (bs.size() != 2 || bs[1] != 4)
    return InputError("DetectionPostProcess: boxes " + OutputStr(outputs, idx[0]) + ": expected shape [1, N, 4]");
  p.n = static_cast<size_t>(bs[0]);
  for (int k : {1, 2})
    if (elems(idx[k]) < static_cast<int64_t>(p.n))
      return InputError(std::string(roles[k]) + " " + OutputStr(outputs, idx[k]) + ": expected " + std::to_string(p.n) +
                        " values (one per box)");
  if (elems(idx[3]) < 1) return InputError("DetectionPostProcess: count " + OutputStr(outputs, idx[3]) + " is empty");
  p.boxes = idx[0];
  p.classes = idx[1];
  p.scores = idx[2];
  p.count = idx[3];
  p.has_threshold = o.has_score_threshold;
  p.threshold = o.score_threshold;
  p.max_detections = o.max_detections;
  return std::shared_ptr<const Decoder>(std::make_shared<DppDecoder>(std::move(p)));
}

}  // namespace postprocess
}  // namespace edgerun
