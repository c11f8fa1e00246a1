// Shared pieces of the decoding heads (cpp/src/postprocess): element access for
// float32/float16/int8/uint8 outputs, thresholds moved into the raw (quantized)
// domain, candidates, NMS, and writing a Result through a Transform.
// Internal header: the C++ tests include it, nothing outside postprocess does.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "edgerun/postprocess.h"
#include "edgerun/tensor.h"

namespace edgerun {
namespace postprocess {
namespace internal {

// Dequantization parameters of one output. Integer tensors with scale 0 (not
// quantized) read as their integer values.
struct Quant {
  float scale = 1.0f;
  float zero_point = 0.0f;
};
Quant QuantOf(const TensorInfo& t);

// True for the element types the heads read.
bool Readable(DType dt);
// InputError unless output i is readable with one (per-tensor) scale > 0 when
// quantized: per-channel quantized or negatively scaled outputs are refused.
Status CheckQuant(const std::vector<TensorInfo>& outputs, size_t i, const char* head);

// Element i of `data` as float (dequantized for int8/uint8).
inline float LoadFloat(const void* data, DType dt, size_t i, const Quant& q) {
  switch (dt) {
    case DType::kFloat32: return static_cast<const float*>(data)[i];
    case DType::kFloat16: return HalfToFloat(static_cast<const uint16_t*>(data)[i]);
    case DType::kInt8: return (static_cast<float>(static_cast<const int8_t*>(data)[i]) - q.zero_point) * q.scale;
    case DType::kUInt8: return (static_cast<float>(static_cast<const uint8_t*>(data)[i]) - q.zero_point) * q.scale;
    case DType::kInt32: return static_cast<float>(static_cast<const int32_t*>(data)[i]);
    case DType::kInt64: return static_cast<float>(static_cast<const int64_t*>(data)[i]);
    default: return std::numeric_limits<float>::quiet_NaN();
  }
}

// The raw comparison key of an element: the float value for float32/float16,
// the stored integer for int8/uint8. For a quantized tensor with scale > 0 the
// key orders exactly like the dequantized value.
template <class T>
struct KeyOf;
template <>
struct KeyOf<float> {
  using Key = float;
  static Key Get(float v) { return v; }
};
struct Half {
  uint16_t bits;
};
template <>
struct KeyOf<Half> {
  using Key = float;
  static Key Get(Half v) { return HalfToFloat(v.bits); }
};
template <>
struct KeyOf<int8_t> {
  using Key = int;
  static Key Get(int8_t v) { return v; }
};
template <>
struct KeyOf<uint8_t> {
  using Key = int;
  static Key Get(uint8_t v) { return v; }
};

inline float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// Activated score of a raw value: optional clipping then sigmoid (or nothing).
struct ScoreFn {
  ScoreActivation activation = ScoreActivation::kNone;
  float clip = 0;  // > 0: clip to [-clip, clip] before the sigmoid
  float operator()(float x) const {
    if (activation != ScoreActivation::kSigmoid) return x;
    if (clip > 0) x = x < -clip ? -clip : (x > clip ? clip : x);
    return Sigmoid(x);
  }
};

// A score threshold moved into the raw domain of a tensor, computed once at
// Bind: raw key >= key_threshold is necessary for fn(dequantized) >= threshold
// (and, for int8/uint8 with scale > 0, also sufficient: `exact`). For 8-bit
// tensors `lut` holds fn(dequantize(q)) for every q (index q + 128 for int8, q
// for uint8), so candidates need no exp either.
struct RawThreshold {
  bool none_pass = false;   // no value can reach the threshold
  float key_f = -std::numeric_limits<float>::infinity();  // float32/float16 prefilter
  int key_i = std::numeric_limits<int>::min();            // int8/uint8
  bool exact = false;
  bool monotonic = true;    // raw order == score order (false: scale <= 0)
  std::vector<float> lut;   // 256 entries for int8/uint8
  float Score(DType dt, const void* data, size_t i, const Quant& q, const ScoreFn& fn) const {
    if (dt == DType::kInt8) return lut[static_cast<size_t>(static_cast<const int8_t*>(data)[i] + 128)];
    if (dt == DType::kUInt8) return lut[static_cast<const uint8_t*>(data)[i]];
    return fn(LoadFloat(data, dt, i, q));
  }
};
RawThreshold MakeRawThreshold(float threshold, DType dt, const Quant& q, const ScoreFn& fn);

// One detection before NMS, in model-input pixels.
struct Candidate {
  float score;
  int32_t cls;
  int32_t index;   // anchor / row index: the tie-breaker (lower first)
  int32_t kp_row;  // row of its keypoints in the keypoint array given to RunNms
  double box[4];   // x1, y1, x2, y2
};

double IoU(const double* a, const double* b);

// 64-bit keys whose ascending order is (score descending, position ascending).
uint64_t OrderKey(float score, uint32_t position);

// Sorts candidates by score descending, then index ascending.
void SortCandidates(std::vector<Candidate>* c);

// NMS. Candidates are visited by score descending, ties by position in `c`
// (callers produce them in ascending anchor/row index, so ties go to the lower
// index); `c` need not be sorted: hard NMS pops them from a heap and stops once
// max_detections are kept. `keypoints` holds num_keypoints * 2 doubles per row
// (candidate.kp_row); empty when num_keypoints is 0. Writes the kept detections to
// `out` (and their keypoints to `out_keypoints`), best first.
void RunNms(const std::vector<Candidate>& c, const std::vector<double>& keypoints, int num_keypoints,
            const NmsOptions& options, std::vector<Candidate>* out, std::vector<double>* out_keypoints);

// Writes detections into `result` (clearing it), mapping boxes (all four
// corners, axis-aligned bounds) and keypoints through `transform` when given.
void EmitDetections(const std::vector<Candidate>& dets, const std::vector<double>& keypoints, int num_keypoints,
                    const preprocess::Transform* transform, Result* result);

// Model input size (width, height) from Bind's inputs: the first 4-D input,
// NHWC ([1, H, W, C] with C in 1..4) or NCHW ([1, C, H, W]). 0, 0 if none.
void InputSize(const std::vector<TensorInfo>& inputs, int* width, int* height);

// "output 1 ('regressors', float32[1, 896, 16])"
std::string OutputStr(const std::vector<TensorInfo>& outputs, size_t i);

// Resolves an explicit OutputRef (index or name) against `outputs`; InputError
// naming the choices when it does not exist. `what` names the role ("boxes").
Expected<size_t> Resolve(const OutputRef& ref, const std::vector<TensorInfo>& outputs, const char* what);

// Shape with leading 1s dropped (keeps at least `keep` dimensions).
std::vector<int64_t> Squeeze(const std::vector<int64_t>& shape, size_t keep);

std::string Lower(std::string s);
std::string FormatFloat(double v);

// Option checks shared by the heads' Create() (InputError "<head>: <option> ...").
Status CheckNms(const NmsOptions& o, const char* head);
Status CheckFinite(float v, const char* head, const char* option);
Status CheckOutputRef(const OutputRef& r, const char* head, const char* option);

// Thread-local scratch vectors: decoders are const and shared across threads;
// per-thread buffers avoid a heap allocation per frame.
struct Scratch {
  std::vector<Candidate> candidates, kept;
  std::vector<double> keypoints, kept_keypoints;
  std::vector<float> f;
  std::vector<int32_t> i;
  std::vector<uint64_t> keys;
};
Scratch& ThreadScratch();

}  // namespace internal
}  // namespace postprocess
}  // namespace edgerun
