// Classifier head: top-k of one score vector, ranked on the raw values
// (quantized outputs are dequantized only for the k reported entries).
#include <algorithm>

#include "postprocess/common.h"

namespace edgerun {
namespace postprocess {

using namespace internal;  // NOLINT

namespace {

// Top-k indices of keys (descending, ties by lower index), k <= n.
template <class K, class GetKey>
void TopK(size_t n, size_t k, GetKey key, std::vector<int32_t>* idx) {
  idx->clear();
  if (k == 0) return;
  if (k <= 32) {
    // Insertion into a sorted buffer of k: a strictly greater key moves up, so
    // earlier indices stay first among equal keys.
    K best[32];
    int32_t bi[32];
    size_t m = 0;
    for (size_t i = 0; i < n; ++i) {
      const K v = key(i);
      if (m == k && !(v > best[m - 1])) continue;
      size_t j = m < k ? m++ : k - 1;
      while (j > 0 && v > best[j - 1]) {
        best[j] = best[j - 1];
        bi[j] = bi[j - 1];
        --j;
      }
      best[j] = v;
      bi[j] = static_cast<int32_t>(i);
    }
    idx->assign(bi, bi + m);
    return;
  }
  idx->resize(n);
  for (size_t i = 0; i < n; ++i) (*idx)[i] = static_cast<int32_t>(i);
  std::partial_sort(idx->begin(), idx->begin() + k, idx->end(), [&](int32_t a, int32_t b) {
    const K ka = key(a), kb = key(b);
    if (ka != kb) return ka > kb;
    return a < b;
  });
  idx->resize(k);
}

class ClassifierDecoder : public Decoder {
 public:
  ClassifierDecoder(size_t output, size_t classes, size_t k, bool softmax, const TensorInfo& t)
      : output_(output), classes_(classes), k_(k), softmax_(softmax), dtype_(t.dtype), q_(QuantOf(t)) {}

  Status Decode(const std::vector<const void*>& outputs, const preprocess::Transform*, Result* result) const override {
    if (output_ >= outputs.size() || !outputs[output_])
      return InputError("Classifier: output " + std::to_string(output_) + " was not given");
    const void* data = outputs[output_];
    std::vector<int32_t>& idx = ThreadScratch().i;
    switch (dtype_) {
      case DType::kInt8: {
        const int8_t* p = static_cast<const int8_t*>(data);
        TopK<int>(classes_, k_, [p](size_t i) { return static_cast<int>(p[i]); }, &idx);
        break;
      }
      case DType::kUInt8: {
        const uint8_t* p = static_cast<const uint8_t*>(data);
        TopK<int>(classes_, k_, [p](size_t i) { return static_cast<int>(p[i]); }, &idx);
        break;
      }
      default: {
        const DType dt = dtype_;
        const Quant q = q_;
        TopK<float>(classes_, k_, [data, dt, &q](size_t i) {
          const float v = LoadFloat(data, dt, i, q);
          return v != v ? -std::numeric_limits<float>::infinity() : v;
        }, &idx);
      }
    }
    float max_v = 0, denom = 1;
    if (softmax_) {
      max_v = -std::numeric_limits<float>::infinity();
      for (size_t i = 0; i < classes_; ++i) max_v = std::max(max_v, LoadFloat(data, dtype_, i, q_));
      double sum = 0;
      for (size_t i = 0; i < classes_; ++i) sum += std::exp(static_cast<double>(LoadFloat(data, dtype_, i, q_) - max_v));
      denom = static_cast<float>(sum);
    }
    result->Clear();
    result->kind = Result::Kind::kClassification;
    result->num_keypoints = 0;
    result->n = idx.size();
    result->scores.resize(idx.size());
    result->classes.assign(idx.begin(), idx.end());
    for (size_t j = 0; j < idx.size(); ++j) {
      const float v = LoadFloat(data, dtype_, static_cast<size_t>(idx[j]), q_);
      result->scores[j] = softmax_ ? static_cast<float>(std::exp(static_cast<double>(v - max_v)) / denom) : v;
    }
    return Status::Ok();
  }

 private:
  size_t output_, classes_, k_;
  bool softmax_;
  DType dtype_;
  Quant q_;
};

}  // namespace

Expected<std::shared_ptr<Classifier>> Classifier::Create(const ClassifierOptions& o) {
  if (o.top_k < 1) return InputError("Classifier: top_k must be >= 1, got " + std::to_string(o.top_k));
  EDGERUN_RETURN_IF_ERROR(CheckOutputRef(o.output, "Classifier", "output"));
  return std::shared_ptr<Classifier>(new Classifier(o));
}

std::string Classifier::Describe() const {
  return "Classifier(top_k=" + std::to_string(options_.top_k) + (options_.softmax ? ", softmax=True" : "") + ")";
}

Expected<std::shared_ptr<const Decoder>> Classifier::Bind(const std::vector<TensorInfo>&,
                                                          const std::vector<TensorInfo>& outputs) const {
  if (outputs.empty()) return InputError("Classifier: the model has no outputs");
  size_t out = 0;
  if (options_.output.set()) {
    auto r = Resolve(options_.output, outputs, "Classifier: scores");
    if (!r.ok()) return r.status();
    out = *r;
  } else if (outputs.size() > 1) {
    bool found = false;
    for (size_t i = 0; i < outputs.size() && !found; ++i) {
      auto s = Squeeze(outputs[i].shape, 1);
      if (s.size() == 1 && s[0] > 1) {
        out = i;
        found = true;
      }
    }
    if (!found)
      return InputError("Classifier: none of the model's " + std::to_string(outputs.size()) +
                        " outputs is a score vector ([C] or [1, C]); " + OutputStr(outputs, 0));
  }
  const TensorInfo& t = outputs[out];
  auto s = Squeeze(t.shape, 1);
  if (s.size() != 1 || s[0] < 1)
    return InputError("Classifier: " + OutputStr(outputs, out) + " is not a score vector; expected shape [C] or [1, C]");
  if (!Readable(t.dtype))
    return InputError("Classifier: " + OutputStr(outputs, out) + " has an unsupported type; expected float32, "
                      "float16, int8 or uint8");
  EDGERUN_RETURN_IF_ERROR(CheckQuant(outputs, out, "Classifier"));
  const size_t c = static_cast<size_t>(s[0]);
  const size_t k = std::min(c, static_cast<size_t>(options_.top_k));
  return std::shared_ptr<const Decoder>(std::make_shared<ClassifierDecoder>(out, c, k, options_.softmax, t));
}

}  // namespace postprocess
}  // namespace edgerun
