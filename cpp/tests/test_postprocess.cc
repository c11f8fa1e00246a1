// edgerun::postprocess: anchors, raw-domain thresholds, NMS and the heads'
// Bind/Decode contract, checked against hand-computed values.
#include <cmath>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "check.h"
#include "edgerun/postprocess.h"
#include "postprocess/common.h"

using namespace edgerun;
using namespace edgerun::postprocess;

namespace {

TensorInfo Info(const char* name, std::vector<int64_t> shape, DType dt, float scale = 0, int64_t zp = 0) {
  TensorInfo t;
  t.name = name;
  t.shape = std::move(shape);
  t.dtype = dt;
  t.scale = scale;
  t.zero_point = zp;
  return t;
}

internal::Candidate Cand(float score, int cls, int index, double x1, double y1, double x2, double y2) {
  internal::Candidate c;
  c.score = score;
  c.cls = cls;
  c.index = index;
  c.kp_row = index;
  c.box[0] = x1;
  c.box[1] = y1;
  c.box[2] = x2;
  c.box[3] = y2;
  return c;
}

}  // namespace

TEST(HalfToFloatExact) {
  CHECK(edgerun::HalfToFloat(0x3c00) == 1.0f);
  CHECK(edgerun::HalfToFloat(0xc000) == -2.0f);
  CHECK(edgerun::HalfToFloat(0x3555) == 0.333251953125f);
  CHECK(edgerun::HalfToFloat(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
  CHECK(edgerun::HalfToFloat(0x7bff) == 65504.0f);
  CHECK(std::isinf(edgerun::HalfToFloat(0x7c00)));
  CHECK(std::isnan(edgerun::HalfToFloat(0x7e00)));
}

TEST(BlazeFaceAnchors) {
  auto a = GenerateSsdAnchors(BlazeFaceOptions().anchor_options);
  CHECK(a.ok());
  CHECK(a->size() == 896);
  // Layer 0: 16x16 cells x 2 anchors; then 8x8 cells x 6 anchors.
  CHECK(std::fabs((*a)[0].x_center - 0.5f / 16) < 1e-7f && std::fabs((*a)[0].y_center - 0.5f / 16) < 1e-7f);
  CHECK((*a)[1].x_center == (*a)[0].x_center && (*a)[0].w == 1.0f && (*a)[0].h == 1.0f);
  CHECK(std::fabs((*a)[2].x_center - 1.5f / 16) < 1e-7f);
  CHECK(std::fabs((*a)[512].x_center - 0.5f / 8) < 1e-7f && std::fabs((*a)[517].x_center - 0.5f / 8) < 1e-7f);
  CHECK(std::fabs((*a)[518].x_center - 1.5f / 8) < 1e-7f);
  CHECK(std::fabs((*a)[895].y_center - 7.5f / 8) < 1e-7f);
}

TEST(AnchorScalesAndReducedLowestLayer) {
  SsdAnchorOptions o;
  o.num_layers = 2;
  o.min_scale = 0.2f;
  o.max_scale = 0.8f;
  o.input_width = 4;
  o.input_height = 4;
  o.strides = {4, 2};
  o.aspect_ratios = {1.0f, 4.0f};
  o.reduce_boxes_in_lowest_layer = true;
  auto a = GenerateSsdAnchors(o);
  CHECK(a.ok());
  // Layer 0: 1 cell x {0.1 @1, 0.2 @2, 0.2 @0.5}; layer 1: 2x2 cells x {0.8 @1, 0.8 @4, sqrt(0.8) @1}.
  CHECK(a->size() == 3 + 4 * 3);
  CHECK(std::fabs((*a)[0].w - 0.1f) < 1e-7f);
  CHECK(std::fabs((*a)[1].w - 0.2f * std::sqrt(2.0f)) < 1e-6f && std::fabs((*a)[1].h - 0.2f / std::sqrt(2.0f)) < 1e-6f);
  CHECK(std::fabs((*a)[4].w - 1.6f) < 1e-6f && std::fabs((*a)[4].h - 0.4f) < 1e-6f);
  CHECK(std::fabs((*a)[5].w - std::sqrt(0.8f)) < 1e-6f);
  CHECK(std::fabs((*a)[3].x_center - 0.25f) < 1e-7f && std::fabs((*a)[6].x_center - 0.75f) < 1e-7f);
  o.strides = {4};
  CHECK(GenerateSsdAnchors(o).status().code() == Code::kInputError);
}

TEST(RawThresholdInt8IsExact) {
  internal::Quant q;
  q.scale = 0.1f;
  q.zero_point = -3.0f;
  internal::ScoreFn sig;
  sig.activation = ScoreActivation::kSigmoid;
  auto r = internal::MakeRawThreshold(0.5f, DType::kInt8, q, sig);
  // sigmoid((q + 3) * 0.1) >= 0.5  <=>  q >= -3
  CHECK(r.exact && r.key_i == -3 && !r.none_pass);
  auto none = internal::MakeRawThreshold(0.9999f, DType::kInt8, q, sig);  // sigmoid(13.0) < 0.9999? no: passes
  CHECK(!none.none_pass);
  auto impossible = internal::MakeRawThreshold(1.5f, DType::kUInt8, q, sig);
  CHECK(impossible.none_pass);
  // Every int8 value agrees with the float test.
  for (int v = -128; v < 128; ++v) {
    const float s = sig((static_cast<float>(v) + 3.0f) * 0.1f);
    CHECK((v >= r.key_i) == (s >= 0.5f));
  }
}

TEST(HardNmsClassAwareAgnosticTies) {
  std::vector<internal::Candidate> c = {
      Cand(0.9f, 0, 0, 0, 0, 10, 10), Cand(0.8f, 1, 1, 1, 0, 11, 10), Cand(0.7f, 0, 2, 0, 1, 10, 11),
      Cand(0.6f, 0, 4, 20, 0, 30, 10), Cand(0.6f, 0, 3, 40, 0, 50, 10)};
  internal::SortCandidates(&c);
  CHECK(c[3].index == 3 && c[4].index == 4);  // equal scores: lower index first
  std::vector<internal::Candidate> out;
  std::vector<double> kps, out_kps;
  NmsOptions o;
  o.iou_threshold = 0.5f;
  internal::RunNms(c, kps, 0, o, &out, &out_kps);
  CHECK(out.size() == 4 && out[0].index == 0 && out[1].index == 1 && out[2].index == 3 && out[3].index == 4);
  o.class_agnostic = true;
  internal::RunNms(c, kps, 0, o, &out, &out_kps);
  CHECK(out.size() == 3 && out[1].index == 3);
  o.max_detections = 2;
  internal::RunNms(c, kps, 0, o, &out, &out_kps);
  CHECK(out.size() == 2);
}

TEST(WeightedNmsBlendsBoxesAndKeypoints) {
  std::vector<internal::Candidate> c = {Cand(0.75f, 0, 0, 0, 0, 10, 10), Cand(0.25f, 0, 1, 2, 0, 12, 10),
                                        Cand(0.5f, 0, 2, 100, 100, 110, 110)};
  internal::SortCandidates(&c);
  std::vector<double> kps = {1, 1, 5, 5, 7, 7};  // one keypoint per candidate (rows by kp_row = index)
  std::vector<internal::Candidate> out;
  std::vector<double> out_kps;
  NmsOptions o;
  o.iou_threshold = 0.3f;
  o.mode = NmsMode::kWeighted;
  internal::RunNms(c, kps, 1, o, &out, &out_kps);
  CHECK(out.size() == 2);
  CHECK(out[0].score == 0.75f && std::fabs(out[0].box[0] - 0.5) < 1e-12 && std::fabs(out[0].box[2] - 10.5) < 1e-12);
  CHECK(std::fabs(out_kps[0] - 2.0) < 1e-12 && std::fabs(out_kps[1] - 2.0) < 1e-12);
  CHECK(out[1].index == 2 && out[1].box[0] == 100 && out_kps[2] == 7);
}

TEST(EmitMapsAllFourCorners) {
  // 90-degree rotation: source = (y, 100 - x).
  preprocess::Transform t;
  const double m[6] = {0, 1, 0, -1, 0, 100};
  std::memcpy(t.m, m, sizeof m);
  std::vector<internal::Candidate> d = {Cand(1.0f, 2, 0, 10, 20, 30, 60)};
  std::vector<double> kps = {10, 20};
  Result r;
  internal::EmitDetections(d, kps, 1, &t, &r);
  CHECK(r.n == 1 && r.classes[0] == 2 && r.num_keypoints == 1);
  CHECK(r.boxes[0] == 20 && r.boxes[1] == 70 && r.boxes[2] == 60 && r.boxes[3] == 90);
  CHECK(r.keypoints[0] == 20 && r.keypoints[1] == 90);
}

TEST(SsdBindChecksTensors) {
  auto head = Ssd::Create(BlazeFaceOptions());
  CHECK(head.ok());
  std::vector<TensorInfo> in = {Info("input", {1, 128, 128, 3}, DType::kFloat32)};
  std::vector<TensorInfo> out = {Info("regressors", {1, 896, 16}, DType::kFloat32),
                                 Info("classificators", {1, 896, 1}, DType::kFloat32)};
  auto d = (*head)->Bind(in, out);
  CHECK_MSG(d.ok(), "%s", d.status().message().c_str());
  // Outputs listed the other way round are found by shape.
  std::vector<TensorInfo> swapped = {out[1], out[0]};
  CHECK((*head)->Bind(in, swapped).ok());
  std::vector<TensorInfo> wrong = {Info("regressors", {1, 2304, 16}, DType::kFloat32),
                                   Info("classificators", {1, 2304, 1}, DType::kFloat32)};
  auto bad = (*head)->Bind(in, wrong);
  CHECK(!bad.ok() && bad.status().code() == Code::kInputError);
  CHECK(bad.status().message().find("2304") != std::string::npos);
  std::vector<TensorInfo> ints = {Info("regressors", {1, 896, 16}, DType::kInt32), out[1]};
  CHECK(!(*head)->Bind(in, ints).ok());
  std::vector<TensorInfo> per_channel = {out[0], Info("classificators", {1, 896, 1}, DType::kInt8)};
  per_channel[1].scales = {0.1f, 0.2f};
  per_channel[1].zero_points = {0, 0};
  auto pc = (*head)->Bind(in, per_channel);
  CHECK(!pc.ok() && pc.status().message().find("per channel") != std::string::npos);

  // Decode: one anchor scores 0.9, its box is a 16x16 square at its anchor.
  std::vector<float> boxes(896 * 16, 0.0f), scores(896, -10.0f);
  scores[100] = std::log(0.9f / 0.1f);
  boxes[100 * 16 + 2] = 16.0f;
  boxes[100 * 16 + 3] = 16.0f;
  Result r;
  Status st = (*d)->Decode({boxes.data(), scores.data()}, nullptr, &r);
  CHECK(st.ok() && r.n == 1 && r.num_keypoints == 6);
  // Anchor 100: layer 0, cell 50 -> (x 2, y 3) of 16: centre (2.5, 3.5) * 8 px.
  CHECK(std::fabs(r.boxes[0] - 12.0f) < 1e-4f && std::fabs(r.boxes[1] - 20.0f) < 1e-4f);
  CHECK(std::fabs(r.boxes[2] - 28.0f) < 1e-4f && std::fabs(r.boxes[3] - 36.0f) < 1e-4f);
  CHECK(std::fabs(r.scores[0] - 0.9f) < 1e-6f);
  CHECK(!(*d)->Decode({boxes.data()}, nullptr, &r).ok());
}

TEST(DecodersAreSharedAcrossThreads) {
  YoloOptions o;
  o.score_threshold = 0.5f;
  auto head = Yolo::Create(o);
  CHECK(head.ok());
  const int n = 2000, f = 4 + 3;
  std::vector<float> data(static_cast<size_t>(n) * f);
  for (int i = 0; i < n; ++i) {
    data[0 * n + i] = static_cast<float>(10 + (i % 50) * 12);
    data[1 * n + i] = static_cast<float>(10 + (i / 50) * 12);
    data[2 * n + i] = 10.0f;
    data[3 * n + i] = 10.0f;
    data[(4 + i % 3) * n + i] = (i % 7) / 7.0f + 0.1f;
  }
  auto d = (*head)->Bind({Info("in", {1, 640, 640, 3}, DType::kFloat32)}, {Info("out", {1, f, n}, DType::kFloat32)});
  CHECK(d.ok());
  Result expect;
  CHECK((*d)->Decode({data.data()}, nullptr, &expect).ok());
  CHECK(expect.n == 100);  // max_detections
  int mismatches = 0;
  std::vector<std::thread> threads;
  std::mutex mu;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&] {
      for (int j = 0; j < 50; ++j) {
        Result r;
        Status st = (*d)->Decode({data.data()}, nullptr, &r);
        if (!st.ok() || r.boxes != expect.boxes || r.classes != expect.classes) {
          std::lock_guard<std::mutex> lock(mu);
          ++mismatches;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(mismatches == 0);
}

// Each head's options are checked once, in its Create(), with the option's
// name, the value received and what is allowed; vocabularies come from one table.
TEST(CreateChecksEveryOption) {
  CHECK(std::string(OptionName(BoxCoder::kMediaPipe)) == "mediapipe");
  auto nms = ParseOption<NmsMode>("soft");
  CHECK(!nms.ok() && nms.status().message() == "nms: expected 'hard' or 'weighted'; got 'soft'");
  SsdOptions o;
  auto none = Ssd::Create(o);
  CHECK(!none.ok() && none.status().message().find("anchors: expected an (N, 4) array") == 0);
  o.anchors.assign(4, Anchor{0.5f, 0.5f, 0.1f, 0.1f});
  CHECK(Ssd::Create(o).ok());
  SsdOptions bad = o;
  bad.box_coder = static_cast<BoxCoder>(7);
  auto r = Ssd::Create(bad);
  CHECK(!r.ok() && r.status().message() == "box_coder: expected 'tf' or 'mediapipe'; got 7");
  bad = o;
  bad.nms.max_detections = -1;
  r = Ssd::Create(bad);
  CHECK(!r.ok() && r.status().message() == "SSD: max_detections must be >= 0 (0: no limit), got -1");
  bad = o;
  bad.score_threshold = INFINITY;
  CHECK(!Ssd::Create(bad).ok());
  bad = o;
  bad.boxes_output.index = -3;
  CHECK(!Ssd::Create(bad).ok());
  YoloOptions y;
  y.layout = static_cast<YoloOptions::Layout>(9);
  auto yr = Yolo::Create(y);
  CHECK(!yr.ok() && yr.status().message().find("layout: expected one of 'auto'") == 0);
  DetectionPostProcessOptions d;
  d.max_detections = -2;
  CHECK(!DetectionPostProcess::Create(d).ok());
  CHECK(Ssd::Create(BlazeFaceOptions()).ok());
}

// End-to-end rows pass through without NMS, best first; a v8 read of them is refused.
TEST(YoloEndToEndAndScoreRange) {
  YoloOptions o;
  o.version = 10;
  o.score_threshold = 0.3f;
  auto head = Yolo::Create(o);
  CHECK(head.ok());
  // x1, y1, x2, y2, score, class (pixels); rows 0 and 1 overlap fully: both kept.
  std::vector<float> rows = {10, 10, 50, 50, 0.6f, 2,  10, 10, 50, 50, 0.9f, 2,
                             0,  0,  5,  5,  0.2f, 1,  20, 30, 40, 60, 0.6f, 0};
  auto d = (*head)->Bind({Info("in", {1, 64, 64, 3}, DType::kFloat32)}, {Info("out", {1, 4, 6}, DType::kFloat32)});
  CHECK(d.ok());
  Result r;
  CHECK((*d)->Decode({rows.data()}, nullptr, &r).ok());
  CHECK(r.n == 3 && r.scores[0] == 0.9f && r.classes[0] == 2);
  CHECK(r.scores[1] == 0.6f && r.classes[1] == 2 && r.scores[2] == 0.6f && r.classes[2] == 0);  // tie: row 0 first
  CHECK(r.boxes[8] == 20.0f && r.boxes[11] == 60.0f);
  YoloOptions v8;
  v8.layout = YoloOptions::Layout::kBoxesFirst;
  auto d8 = (*Yolo::Create(v8))->Bind({}, {Info("out", {1, 4, 6}, DType::kFloat32)});
  CHECK(d8.ok());
  Status st = (*d8)->Decode({rows.data()}, nullptr, &r);
  CHECK(!st.ok() && st.message().find("class scores reach 2 (row 0)") != std::string::npos);
  auto auto8 = (*Yolo::Create(YoloOptions()))->Bind({}, {Info("out", {1, 300, 6}, DType::kFloat32)});
  CHECK(!auto8.ok() && auto8.status().message().find("could be an end-to-end") != std::string::npos);
}

TEST(SegmentationModelAndSourceResolution) {
  SegmentationOptions o;
  auto head = Segmentation::Create(o);
  CHECK(head.ok());
  // 2x2 mask, 2 classes: class 1 wins in the right column.
  std::vector<float> m = {0.9f, 0.1f, 0.2f, 0.8f, 0.7f, 0.3f, 0.4f, 0.6f};
  auto d = (*head)->Bind({Info("in", {1, 4, 4, 3}, DType::kFloat32)}, {Info("out", {1, 2, 2, 2}, DType::kFloat32)});
  CHECK(d.ok());
  Result r;
  CHECK((*d)->Decode({m.data()}, nullptr, &r).ok());
  CHECK(r.kind == Result::Kind::kSegmentation && r.mask_width == 2 && r.mask_height == 2);
  CHECK(r.mask == std::vector<int32_t>({0, 1, 0, 1}) && r.mask_scores[1] == 0.8f);
  CHECK(r.mask_matrix[0] == 2.0 && r.mask_matrix[4] == 2.0);  // mask pixel -> input pixel
  // Source: an 8x8 frame stretched to the 4x4 input; nearest sampling.
  SegmentationOptions n;
  n.interpolation = SegmentationOptions::Interpolation::kNearest;
  auto dn = (*Segmentation::Create(n))->Bind({}, {Info("out", {1, 2, 2, 2}, DType::kFloat32)});
  CHECK(dn.ok());
  preprocess::Transform t;
  const double mt[6] = {2, 0, 0, 0, 2, 0};
  std::copy(mt, mt + 6, t.m);
  t.input_width = t.input_height = 4;
  t.content[2] = t.content[3] = 4;
  t.source_roi[2] = t.source_roi[3] = 8;
  CHECK((*dn)->Decode({m.data()}, &t, &r).ok());
  CHECK(r.mask_width == 8 && r.mask_height == 8 && r.mask[0] == 0 && r.mask[7] == 1 && r.mask[63] == 1);
  CHECK(r.mask[3] == 0 && r.mask[4] == 1);  // the class boundary at the frame's middle column
}

TEST(LandmarksMapThroughTheTransform) {
  LandmarksOptions o;
  o.num_landmarks = 2;
  o.dims = 3;
  auto head = Landmarks::Create(o);
  CHECK(head.ok());
  std::vector<float> pts = {1, 2, 3, 4, 5, 6};
  auto d = (*head)->Bind({}, {Info("out", {1, 6}, DType::kFloat32)});
  CHECK(d.ok());
  preprocess::Transform t;
  const double mt[6] = {0, -2, 100, 2, 0, 10};  // rotation by 90 degrees and scale 2
  std::copy(mt, mt + 6, t.m);
  Result r;
  CHECK((*d)->Decode({pts.data()}, &t, &r).ok());
  CHECK(r.kind == Result::Kind::kLandmarks && r.n == 1 && r.num_landmarks == 2 && r.landmark_dims == 3);
  CHECK(r.landmarks[0] == 96.0f && r.landmarks[1] == 12.0f && r.landmarks[2] == 6.0f);  // z scaled by 2
  CHECK(r.landmarks[3] == 90.0f && r.landmarks[4] == 18.0f && r.landmarks[5] == 12.0f);
  LandmarksOptions bad;
  bad.dims = 9;
  CHECK(!Landmarks::Create(bad).ok());
}

TEST_MAIN()
