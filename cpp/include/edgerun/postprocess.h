// edgerun::postprocess: model outputs -> results (classes, boxes in source pixels).
//
// A Head describes how to decode the outputs of a kind of model (classifier,
// SSD with anchors, BlazeFace, YOLO, TFLite_Detection_PostProcess). Bind()
// checks a concrete model's tensors against what the head expects and returns
// an immutable Decoder for exactly those tensors; Decode() is const and
// thread-safe, so one Decoder serves every worker of a Pipeline. A hot model
// swap binds the head to the new model's tensors first: an incompatible model
// fails in Bind() and the old Decoder keeps running.
//
// No Python, no exceptions: failures are Status values.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "edgerun/preprocess.h"
#include "edgerun/session.h"
#include "edgerun/status.h"

namespace edgerun {
namespace postprocess {

// What one frame decoded to.
struct Result {
  enum class Kind : int { kClassification = 0, kDetection = 1 };
  Kind kind = Kind::kDetection;
  // Detection: n boxes (x1, y1, x2, y2) in source-frame pixels when a
  // Transform was given, else in model-input pixels; score; class id;
  // num_keypoints (x, y) pairs per box in the same coordinates.
  // Classification: n = top-k entries, best first; boxes/keypoints empty.
  size_t n = 0;
  std::vector<float> boxes;      // n * 4
  std::vector<float> scores;     // n
  std::vector<int32_t> classes;  // n
  int num_keypoints = 0;
  std::vector<float> keypoints;  // n * num_keypoints * 2
  void Clear() {
    n = 0;
    boxes.clear();
    scores.clear();
    classes.clear();
    keypoints.clear();
  }
};

// Decodes the outputs of one bound model. Thread-safe (const, no hidden state).
class Decoder {
 public:
  virtual ~Decoder() = default;
  // outputs[i] points at output i's data, laid out as the TensorInfo given to
  // Bind() describes (dense, row-major). `transform` maps model-input pixels
  // to source pixels (nullptr: results stay in model-input pixels).
  virtual Status Decode(const std::vector<const void*>& outputs,
                        const preprocess::Transform* transform, Result* result) const = 0;
};

class Head {
 public:
  virtual ~Head() = default;
  // Checks the model's inputs/outputs (count, shapes, dtypes, quantization)
  // against what this head decodes. InputError/ModelError saying which tensor,
  // what was expected and what arrived.
  virtual Expected<std::shared_ptr<const Decoder>> Bind(const std::vector<TensorInfo>& inputs,
                                                        const std::vector<TensorInfo>& outputs) const = 0;
  virtual std::string Describe() const = 0;  // e.g. "SSD(anchors=896, ...)"
};

}  // namespace postprocess
}  // namespace edgerun
