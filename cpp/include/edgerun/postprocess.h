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

#include "edgerun/options.h"
#include "edgerun/preprocess.h"
#include "edgerun/status.h"
#include "edgerun/tensor.h"

namespace edgerun {
namespace postprocess {

// What one frame decoded to.
struct Result {
  enum class Kind : int { kClassification = 0, kDetection = 1, kSegmentation = 2, kLandmarks = 3 };
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
  // Segmentation: a mask_width x mask_height map (row-major) of class ids
  // (-1: a pixel the model did not see, e.g. letterbox padding) and, unless the
  // model outputs class ids, the score of each pixel's class. mask_matrix maps
  // mask pixel coordinates (continuous, pixel i covers [i, i+1)) to source
  // pixels (model-input pixels without a Transform).
  int mask_width = 0, mask_height = 0;
  std::vector<int32_t> mask;
  std::vector<float> mask_scores;
  double mask_matrix[6] = {1, 0, 0, 0, 1, 0};
  // Landmarks: n instances of num_landmarks points of landmark_dims values
  // (x, y[, z[, visibility[, presence]]]); x, y (and z, scaled like x) in
  // source pixels with a Transform; `scores` holds each instance's score
  // (1 when the model has no score output).
  int num_landmarks = 0, landmark_dims = 0;
  std::vector<float> landmarks;  // n * num_landmarks * landmark_dims
  void Clear() {
    n = 0;
    boxes.clear();
    scores.clear();
    classes.clear();
    keypoints.clear();
    mask_width = mask_height = 0;
    mask.clear();
    mask_scores.clear();
    num_landmarks = landmark_dims = 0;
    landmarks.clear();
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


// ---------------------------------------------------------------------------
// Concrete heads. Each is created from one options object (DESIGN principle 7)
// through a Create() that validates it: the only place these options are
// checked (InputError naming the option, the value received and what is
// allowed). The member initializers are the only defaults: edgerun.heads reads
// them through the bindings. Scores are compared with `>=` against thresholds
// everywhere.
// ---------------------------------------------------------------------------

// Selects a model output by index (>= 0) or by name (non-empty); neither set:
// the head picks it by shape.
struct OutputRef {
  int index = -1;
  std::string name;
  bool set() const { return index >= 0 || !name.empty(); }
};

enum class ScoreActivation : int { kNone = 0, kSigmoid, kSoftmax };
// kHard: greedy NMS (a box is dropped when its IoU with a kept, higher-scoring
// box is > iou_threshold). kWeighted: MediaPipe's "blending" NMS: the kept box
// (and its keypoints) becomes the score-weighted mean of every box it
// suppresses (IoU > iou_threshold, itself included); its score stays its own.
enum class NmsMode : int { kHard = 0, kWeighted };

struct NmsOptions {
  float iou_threshold = 0.5f;   // 0..1
  int max_detections = 100;     // 0: no limit
  bool class_agnostic = false;  // false: boxes suppress only boxes of their class
  NmsMode mode = NmsMode::kHard;
};

// Classification: one output of C scores ([C], [1, C], or any shape whose
// dimensions other than the last are 1). Quantized outputs are ranked on the raw
// integers; only the top-k are dequantized.
struct ClassifierOptions {
  int top_k = 5;
  bool softmax = false;  // apply softmax over the C scores before reporting them
  OutputRef output;      // default: the only output, else the first with C > 1
};

class Classifier : public Head {
 public:
  static Expected<std::shared_ptr<Classifier>> Create(const ClassifierOptions& options);
  Expected<std::shared_ptr<const Decoder>> Bind(const std::vector<TensorInfo>& inputs,
                                                const std::vector<TensorInfo>& outputs) const override;
  std::string Describe() const override;
  const ClassifierOptions& options() const { return options_; }

 private:
  explicit Classifier(const ClassifierOptions& o) : options_(o) {}
  ClassifierOptions options_;
};

// An SSD anchor, normalized to the model input (TF Object Detection API order).
struct Anchor {
  float y_center = 0, x_center = 0, h = 0, w = 0;
};

// MediaPipe's SsdAnchorsCalculator scheme (non-multiscale). Consecutive layers
// with the same stride share one feature map; each layer contributes one anchor
// per aspect ratio plus, when interpolated_scale_aspect_ratio > 0, one with the
// geometric mean of its scale and the next layer's (1.0 after the last).
struct SsdAnchorOptions {
  int num_layers = 0;
  float min_scale = 0.2f, max_scale = 0.95f;
  int input_width = 0, input_height = 0;  // 0: the bound model's input size
  std::vector<int> strides;               // one per layer (or feature_map_* sizes)
  std::vector<int> feature_map_width, feature_map_height;  // override strides when given
  std::vector<float> aspect_ratios = {1.0f};
  float anchor_offset_x = 0.5f, anchor_offset_y = 0.5f;
  bool reduce_boxes_in_lowest_layer = false;
  float interpolated_scale_aspect_ratio = 1.0f;
  bool fixed_anchor_size = false;  // every anchor w = h = 1
};
Expected<std::vector<Anchor>> GenerateSsdAnchors(const SsdAnchorOptions& options);

// kTfObjectDetection: regressors (ty, tx, th, tw [, ky, kx]...);
//   yc = ty / y_scale * ha + ya, h = exp(th / h_scale) * ha (scales 10, 10, 5, 5).
// kMediaPipe: regressors (x, y, w, h [, kx, ky]...) in input pixels;
//   xc = x / x_scale * wa + xa, w = w / w_scale * wa (scales = input size).
enum class BoxCoder : int { kTfObjectDetection = 0, kMediaPipe };

struct SsdOptions {
  std::vector<Anchor> anchors;        // explicit anchors; empty: generate from anchor_options
  SsdAnchorOptions anchor_options;
  BoxCoder box_coder = BoxCoder::kTfObjectDetection;
  // y_scale, x_scale, h_scale, w_scale; 0 = the coder's default.
  float scales[4] = {0, 0, 0, 0};
  int num_keypoints = -1;             // -1: (regressor length - 4) / 2, else >= 0
  ScoreActivation activation = ScoreActivation::kSigmoid;
  float score_clipping = 0;           // > 0: clip raw scores to +-this before the sigmoid
  float score_threshold = 0.5f;       // finite
  bool background_class = false;      // score column 0 is background: skipped, class ids shift by -1
  NmsOptions nms;
  OutputRef boxes_output, scores_output;  // default: detected by shape, then name, then order
};

// MediaPipe's short-range face detector (face_detection_short_range.tflite):
// 896 anchors (128x128, strides 8/16/16/16, fixed size), MediaPipe box coder
// with scale 128, 6 keypoints, sigmoid scores clipped at 100, threshold 0.5,
// weighted NMS at IoU 0.3 (as MediaPipe's graph runs it).
SsdOptions BlazeFaceOptions();

class Ssd : public Head {
 public:
  static Expected<std::shared_ptr<Ssd>> Create(const SsdOptions& options);
  Expected<std::shared_ptr<const Decoder>> Bind(const std::vector<TensorInfo>& inputs,
                                                const std::vector<TensorInfo>& outputs) const override;
  std::string Describe() const override;
  const SsdOptions& options() const { return options_; }

 private:
  explicit Ssd(const SsdOptions& o) : options_(o) {}
  SsdOptions options_;
};

// YOLOv5: [1, N, 5 + C] rows (xc, yc, w, h, objectness, class scores...);
//   a box is a candidate when objectness >= threshold and objectness * class >= threshold.
// YOLOv8 / YOLO11 (version 8 or 11): [1, 4 + C, N] (features first) or [1, N, 4 + C]
//   (boxes first); score = max class.
// Coordinates are centre/size in input pixels, or normalized to [0, 1]; NMS follows.
// End-to-end, NMS-free exports (version 10 or 26: YOLOv10, YOLO26): [1, N, 6] rows
//   (x1, y1, x2, y2, score, class id), already suppressed: kept when score >=
//   threshold, best first, no NMS.
// Pose variants (num_keypoints = K > 0): each row continues with K * (x, y,
//   visibility) after the class scores (after the class id for end-to-end).
// Scores are probabilities: a frame whose class scores (or objectness) fall
// outside [0, 1] after dequantization is refused (InputError) instead of being
// misread (e.g. an end-to-end output decoded as version 8, or raw logits).
struct YoloOptions {
  enum class Layout : int { kAuto = 0, kFeaturesFirst, kBoxesFirst };
  enum class Coordinates : int { kAuto = 0, kNormalized, kPixels };
  int version = 8;                    // 5, 8, 11 (= 8), 10 or 26 (end-to-end)
  float score_threshold = 0.25f;
  NmsOptions nms = {0.45f, 100, false, NmsMode::kHard};
  // auto: the dimension that matches the expected feature count (when classes
  // are known), else the smaller one holds the features (end-to-end: boxes first).
  Layout layout = Layout::kAuto;
  // kAuto: normalized when every box coordinate of the frame is <= 1.5.
  Coordinates coordinates = Coordinates::kAuto;
  int num_classes = 0;                // 0: inferred from the shape; else the shape must agree
  int num_keypoints = 0;              // pose models: keypoints (x, y, visibility) per box
  OutputRef output;
};

class Yolo : public Head {
 public:
  static Expected<std::shared_ptr<Yolo>> Create(const YoloOptions& options);
  Expected<std::shared_ptr<const Decoder>> Bind(const std::vector<TensorInfo>& inputs,
                                                const std::vector<TensorInfo>& outputs) const override;
  std::string Describe() const override;
  const YoloOptions& options() const { return options_; }

 private:
  explicit Yolo(const YoloOptions& o) : options_(o) {}
  YoloOptions options_;
};

// Semantic segmentation: one output [1, H, W, C] of per-class scores (logits or
// probabilities; C >= 2: the class is the argmax), [1, H, W, 1] / [1, H, W] of
// one foreground probability (class 1 where activation(value) >= threshold,
// else 0; e.g. MediaPipe's selfie segmentation), or [1, H, W] integer class ids
// (e.g. DeepLab exports that end in ARG_MAX). With a Transform and resolution
// kSource the mask covers the frame region the model saw (the Transform's
// source_roi) in source pixels, sampled through the inverse mapping (letterbox,
// crop, rotation and flip undone); pixels that fall outside the image inside
// the model input (letterbox padding) are -1. kModel keeps the model's
// resolution; mask_matrix maps it to source pixels either way.
struct SegmentationOptions {
  enum class Resolution : int { kSource = 0, kModel };
  enum class Interpolation : int { kBilinear = 0, kNearest };
  ScoreActivation activation = ScoreActivation::kNone;  // applied to the scores (softmax over C)
  float threshold = 0.5f;             // one-channel outputs: foreground when score >= threshold
  Resolution resolution = Resolution::kSource;  // kSource needs a Transform, else kModel is used
  // Score maps: bilinear (scores resampled, then argmax / threshold) or nearest.
  // Class-id maps are always sampled nearest.
  Interpolation interpolation = Interpolation::kBilinear;
  OutputRef output;                   // default: the only 3-D/4-D output with H, W > 1
};

class Segmentation : public Head {
 public:
  static Expected<std::shared_ptr<Segmentation>> Create(const SegmentationOptions& options);
  Expected<std::shared_ptr<const Decoder>> Bind(const std::vector<TensorInfo>& inputs,
                                                const std::vector<TensorInfo>& outputs) const override;
  std::string Describe() const override;
  const SegmentationOptions& options() const { return options_; }

 private:
  explicit Segmentation(const SegmentationOptions& o) : options_(o) {}
  SegmentationOptions options_;
};

// Landmark models (MediaPipe face mesh, hands, pose; any model whose output is
// N points of D values): one output of num_landmarks * dims values ([1, N*D],
// [1, N, D], [1, 1, 1, N*D] ...) of (x, y[, z[, visibility[, presence]]]) in
// model-input pixels (or normalized to [0, 1]), optionally a score output of
// one value (face/hand presence). x, y are mapped to source pixels through the
// Transform; z is scaled by the Transform's scale. A batch of B instances
// ([B, N*D]) gives B results under the same Transform.
struct LandmarksOptions {
  int num_landmarks = 0;              // 0: elements / dims
  int dims = 3;                       // values per landmark, 2..8
  bool normalized = false;            // x, y (and z) are fractions of the input size
  ScoreActivation visibility_activation = ScoreActivation::kNone;  // for values 3 and 4 (visibility, presence)
  ScoreActivation score_activation = ScoreActivation::kNone;       // for the score output
  bool has_score_threshold = false;
  float score_threshold = 0.5f;       // with a score output: instances below it are dropped
  OutputRef landmarks_output;         // default: the first largest output whose size is a multiple of dims
  OutputRef score_output;             // default: none (set it to use the model's presence flag)
};

class Landmarks : public Head {
 public:
  static Expected<std::shared_ptr<Landmarks>> Create(const LandmarksOptions& options);
  Expected<std::shared_ptr<const Decoder>> Bind(const std::vector<TensorInfo>& inputs,
                                                const std::vector<TensorInfo>& outputs) const override;
  std::string Describe() const override;
  const LandmarksOptions& options() const { return options_; }

 private:
  explicit Landmarks(const LandmarksOptions& o) : options_(o) {}
  LandmarksOptions options_;
};

// Models ending in TFLite_Detection_PostProcess: boxes [1, N, 4] (ymin, xmin,
// ymax, xmax, normalized), classes [1, N], scores [1, N], count [1]. Outputs are
// found by shape ([1, N, 4] boxes, one element count), classes vs scores by name
// ("class" / "score"), else in the operator's order (classes first).
struct DetectionPostProcessOptions {
  bool has_score_threshold = false;
  float score_threshold = 0;  // finite
  int max_detections = 0;     // 0: all `count`
  OutputRef boxes_output, classes_output, scores_output, count_output;
};

class DetectionPostProcess : public Head {
 public:
  static Expected<std::shared_ptr<DetectionPostProcess>> Create(const DetectionPostProcessOptions& options);
  Expected<std::shared_ptr<const Decoder>> Bind(const std::vector<TensorInfo>& inputs,
                                                const std::vector<TensorInfo>& outputs) const override;
  std::string Describe() const override;
  const DetectionPostProcessOptions& options() const { return options_; }

 private:
  explicit DetectionPostProcess(const DetectionPostProcessOptions& o) : options_(o) {}
  DetectionPostProcessOptions options_;
};

}  // namespace postprocess

// The vocabularies (see options.h).
template <> const NameTable& NamesOf<postprocess::BoxCoder>();          // box_coder: tf, mediapipe
template <> const NameTable& NamesOf<postprocess::NmsMode>();           // nms: hard, weighted
template <> const NameTable& NamesOf<postprocess::ScoreActivation>();   // score_activation: none, sigmoid, softmax
template <> const NameTable& NamesOf<postprocess::YoloOptions::Layout>();       // layout: auto, features_first, boxes_first
template <> const NameTable& NamesOf<postprocess::YoloOptions::Coordinates>();  // coordinates: auto, normalized, pixels
template <> const NameTable& NamesOf<postprocess::SegmentationOptions::Resolution>();     // resolution: source, model
template <> const NameTable& NamesOf<postprocess::SegmentationOptions::Interpolation>();  // interpolation: bilinear, nearest

}  // namespace edgerun
