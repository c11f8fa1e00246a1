// C++ tests of edgerun::Pipeline against the real runtime. Needs
// EDGERUN_LITERT_LIB and EDGERUN_TEST_MODEL (the built-in float image model,
// [1,96,96,3] -> [1,1000]); exits 77 (skipped) without them.
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "check.h"
#include "edgerun/pipeline.h"
#include "edgerun/runtime.h"

using namespace edgerun;
namespace pp = edgerun::preprocess;

namespace {

std::shared_ptr<Session> Open() {
  auto bytes = ModelBytes::MapFile(std::getenv("EDGERUN_TEST_MODEL"));
  CHECK(bytes.ok());
  SessionOptions o;
  o.threads = 1;
  auto s = Session::Create(std::move(bytes).value(), o);
  CHECK_MSG(s.ok(), "%s", s.status().message().c_str());
  return s.ok() ? std::shared_ptr<Session>(std::move(s).value()) : nullptr;
}

std::shared_ptr<pp::Preprocessor> Pre() {
  pp::Spec spec;
  spec.format = pp::PixelFormat::kBGR;
  auto p = pp::Preprocessor::Create(spec);
  CHECK(p.ok());
  return std::shared_ptr<pp::Preprocessor>(std::move(p).value());
}

struct Frame {
  std::vector<uint8_t> pixels;
  pp::Image image;
  explicit Frame(int seed, int w = 64, int h = 48) : pixels(static_cast<size_t>(w * h * 3)) {
    for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>((i * 31 + seed * 17) & 0xff);
    auto img = pp::ImageFromBuffer(pp::PixelFormat::kBGR, pixels.data(), w, h, w * 3, pixels.size());
    CHECK(img.ok());
    image = *img;
  }
};

// The reference for one frame: the Preprocessor into the session's own input, then Run().
std::vector<float> Reference(Session& s, pp::Preprocessor& pre, const Frame& f) {
  const auto& in = s.inputs()[0];
  pp::Output o;
  o.data = s.input_block(0)->data();
  o.width = static_cast<int>(in.shape[2]);
  o.height = static_cast<int>(in.shape[1]);
  o.bytes = in.nbytes;
  CHECK(pre.Run(f.image, o).ok());
  CHECK(s.Run().ok());
  const auto& out = s.outputs()[0];
  std::vector<float> r(out.nbytes / 4);
  std::memcpy(r.data(), s.output_block(0)->data(), out.nbytes);
  return r;
}

bool Same(const FrameResult& r, const std::vector<float>& want) {
  if (!r.status.ok() || r.outputs.size() != 1) return false;
  return std::memcmp(r.outputs[0]->data(), want.data(), want.size() * 4) == 0;
}

}  // namespace

TEST(sync_and_async_equal_the_reference_in_order) {
  auto s = Open();
  auto pre = Pre();
  if (!s) return;
  Frame f1(1), f2(2);
  auto ref1 = Reference(*s, *pre, f1), ref2 = Reference(*s, *pre, f2);
  for (auto mode : {PipelineOptions::Overlap::kOn, PipelineOptions::Overlap::kOff}) {
  PipelineOptions o;
  o.drop = DropPolicy::kNone;
  o.overlap = mode;
  auto p = Pipeline::Create(s, pre, nullptr, o);
  CHECK(p.ok() && (*p)->overlapped() == (mode == PipelineOptions::Overlap::kOn));
  if (!p.ok()) return;
  FrameResult r;
  CHECK((*p)->Process(f1.image, &r).ok());
  CHECK(Same(r, ref1));
  std::vector<uint64_t> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(*(*p)->Submit(i % 2 ? f2.image : f1.image));
  for (int i = 0; i < 10; ++i) {
    auto got = (*p)->Get(10.0, &r);
    CHECK(got.ok() && *got);
    CHECK(r.frame_id == ids[i]);
    CHECK(Same(r, i % 2 ? ref2 : ref1));
  }
  auto st = (*p)->Stats();
  CHECK(st.completed == 11 && st.dropped == 0 && st.failed == 0);
  (*p)->Close();
  CHECK((*p)->Submit(f1.image).status().code() == Code::kClosedError);
  auto after = (*p)->Get(0.0, &r);
  CHECK(!after.ok() && after.status().code() == Code::kClosedError);
  }
}

TEST(change_gate_reuses_results_in_order_and_max_fps_sleeps) {
  auto s = Open();
  auto pre = Pre();
  if (!s) return;
  Frame f1(1), f2(2);
  auto ref1 = Reference(*s, *pre, f1), ref2 = Reference(*s, *pre, f2);
  for (auto mode : {PipelineOptions::Overlap::kOn, PipelineOptions::Overlap::kOff}) {
    PipelineOptions o;
    o.drop = DropPolicy::kNone;
    o.overlap = mode;
    o.gate = true;
    o.gate_threshold = 8;
    o.gate_max_skip = 3;
    auto p = Pipeline::Create(s, pre, nullptr, o);
    CHECK(p.ok());
    if (!p.ok()) return;
    // f1 x5, f2 x2, f1: runs at 0 (first), 4 (max_skip), 5 (change), 7 (change).
    const int which[] = {1, 1, 1, 1, 1, 2, 2, 1};
    std::vector<uint64_t> ids;
    for (int w : which) ids.push_back(*(*p)->Submit(w == 1 ? f1.image : f2.image));
    const bool want_skip[] = {false, true, true, true, false, false, true, false};
    uint64_t last_run = 0;
    FrameResult r;
    for (int i = 0; i < 8; ++i) {
      auto got = (*p)->Get(10.0, &r);
      CHECK(got.ok() && *got);
      CHECK(r.frame_id == ids[i]);
      CHECK_MSG(r.skipped == want_skip[i], "frame %d skipped=%d", i, int(r.skipped));
      CHECK(Same(r, which[i] == 1 ? ref1 : ref2));
      if (r.skipped) CHECK(r.reused_frame_id == last_run);
      else last_run = r.frame_id;
    }
    auto st = (*p)->Stats();
    CHECK(st.gate_ran == 4 && st.gate_skipped == 4 && st.gate_first == 1 && st.gate_forced == 1 &&
          st.gate_changed == 2);
    CHECK(st.frames == 8 && st.cpu_s > 0 && st.worker_cpu_s > 0 && st.worker_cpu_s <= st.cpu_s + 1e-3);
    (*p)->Close();
  }
  // max_fps: 5 frames at 50 FPS take >= 4 periods; the worker sleeps meanwhile.
  PipelineOptions o;
  o.drop = DropPolicy::kNone;
  o.max_fps = 50;
  auto p = Pipeline::Create(s, pre, nullptr, o);
  CHECK(p.ok());
  if (!p.ok()) return;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) CHECK((*p)->Submit(f1.image).ok());
  FrameResult r;
  for (int i = 0; i < 5; ++i) CHECK((*p)->Get(10.0, &r).ok());
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK_MSG(wall >= 4 / 50.0 * 0.95, "wall %.3f s", wall);
  auto st = (*p)->Stats();
  CHECK(st.worker_cpu_s < 0.5 * st.wall_s);
  PipelineOptions bad;
  bad.max_fps = -1;
  CHECK(Pipeline::Create(s, pre, nullptr, bad).status().code() == Code::kInputError);
  bad = PipelineOptions();
  bad.gate_max_skip = 0;
  CHECK(Pipeline::Create(s, pre, nullptr, bad).status().code() == Code::kInputError);
}

TEST(gate_function_decides_each_frame_in_order) {
  // A GateFunction (the cascade form) answering run / may-reuse from a script, and an
  // error for one frame: results in frame order, skips where it said so (max_skip 2),
  // the failed frame carries its error; synchronous and asynchronous.
  auto s = Open();
  auto pre = Pre();
  if (!s) return;
  Frame f1(1), f2(2);
  auto ref1 = Reference(*s, *pre, f1), ref2 = Reference(*s, *pre, f2);
  for (auto mode : {PipelineOptions::Overlap::kOn, PipelineOptions::Overlap::kOff}) {
    PipelineOptions o;
    o.drop = DropPolicy::kNone;
    o.overlap = mode;
    o.gate_max_skip = 2;
    // Frame k (1-based, counted from the first call): run, skip, skip, skip (max_skip: runs), error, skip ...
    const int script[] = {2, 1, 1, 1, -1, 1, 2, 1};
    std::vector<uint64_t> seen;
    uint64_t first = 0;
    GateFunction gate = [&](const pp::Image& image, uint64_t frame_id) -> Expected<GateForce> {
      CHECK(image.width == 64 && image.height == 48);
      if (!first) first = frame_id;
      seen.push_back(frame_id);
      const int a = script[(frame_id - first) % 8];
      if (a < 0) return InputError("scripted gate error");
      return static_cast<GateForce>(a);
    };
    auto p = Pipeline::Create(s, pre, nullptr, o, gate);
    CHECK(p.ok());
    if (!p.ok()) return;
    const bool want_skip[] = {false, true, true, false, false, true, false, true};
    std::vector<uint64_t> ids;
    for (int i = 0; i < 8; ++i) ids.push_back(*(*p)->Submit(i % 2 ? f2.image : f1.image));
    FrameResult r;
    uint64_t last_run = 0;
    for (int i = 0; i < 8; ++i) {
      auto got = (*p)->Get(10.0, &r);
      CHECK(got.ok() && *got);
      CHECK(r.frame_id == ids[i]);
      if (i == 4) {
        CHECK(!r.status.ok() && r.status.message() == "scripted gate error");
        continue;
      }
      CHECK_MSG(r.skipped == want_skip[i], "frame %d skipped=%d", i, int(r.skipped));
      if (r.skipped) {
        CHECK(r.reused_frame_id == last_run);
      } else {
        last_run = r.frame_id;
        CHECK(Same(r, i % 2 ? ref2 : ref1));
      }
    }
    CHECK(seen == ids);  // asked once per frame, in order
    FrameResult sync;
    first = 0;  // the synchronous path asks too (script restarts: run)
    CHECK((*p)->Process(f1.image, &sync).ok() && sync.status.ok() && !sync.skipped && Same(sync, ref1));
    (*p)->Close();
  }
}

TEST(drop_oldest_keeps_the_newest_and_counts) {
  auto s = Open();
  auto pre = Pre();
  if (!s) return;
  PipelineOptions o;
  o.depth = 1;
  auto p = Pipeline::Create(s, pre, nullptr, o);
  if (!p.ok()) return;
  Frame f(3);
  uint64_t last = 0;
  for (int i = 0; i < 30; ++i) last = *(*p)->Submit(f.image);
  (*p)->Close();  // drains what was queued
  FrameResult r;
  uint64_t n = 0, prev = 0;
  while (true) {
    auto got = (*p)->Get(0.0, &r);
    if (!got.ok() || !*got) break;
    CHECK(r.frame_id > prev);
    prev = r.frame_id;
    ++n;
  }
  auto st = (*p)->Stats();
  CHECK(prev == last);
  CHECK(st.dropped > 0 && n + st.dropped == 30);
  auto released = (*p)->TakeReleased();
  CHECK(released.size() == 30);
}

TEST(swap_applies_and_bad_model_keeps_old) {
  auto s = Open();
  auto pre = Pre();
  if (!s) return;
  auto p = Pipeline::Create(s, pre, nullptr, PipelineOptions());
  if (!p.ok()) return;
  const char junk[] = "not a model at all, really not";
  auto bad = ModelBytes::Copy(junk, sizeof junk);
  auto t1 = (*p)->Swap(*bad);
  CHECK(t1->Wait(60.0));
  CHECK(t1->status().code() == Code::kModelError);
  CHECK((*p)->model() == 1);
  auto t2 = (*p)->Swap(s->model_bytes_ptr());
  CHECK(t2->Wait(60.0));
  CHECK_MSG(t2->status().ok(), "%s", t2->status().message().c_str());
  CHECK((*p)->model() == 2 && t2->model() == 2 && t2->session() != s);
  Frame f(4);
  FrameResult r;
  CHECK((*p)->Process(f.image, &r).ok());
  CHECK(r.model == 2 && Same(r, Reference(*s, *pre, f)));
  auto st = (*p)->Stats();
  CHECK(st.swaps == 1 && st.swap_failures == 1);
}

// Options are checked by Create() before anything is bound (no model needed).
TEST(create_checks_the_options) {
  CHECK(std::string(OptionName(DropPolicy::kNone)) == "none");
  auto drop = ParseOption<DropPolicy>("newest");
  CHECK(!drop.ok() && drop.status().message() == "drop: expected 'oldest' or 'none'; got 'newest'");
  auto pre = preprocess::Preprocessor::Create(preprocess::Spec());
  CHECK(pre.ok());
  std::shared_ptr<preprocess::Preprocessor> p(std::move(pre).value());
  PipelineOptions o;
  o.depth = 0;
  auto r = Pipeline::Create(nullptr, p, nullptr, o);
  CHECK(!r.ok() && r.status().message() == "depth: expected an int >= 1, got 0");
  o = PipelineOptions();
  o.max_results = -1;
  r = Pipeline::Create(nullptr, p, nullptr, o);
  CHECK(!r.ok() && r.status().message() == "max_results: expected an int >= 1, got -1");
  o = PipelineOptions();
  o.drop = static_cast<DropPolicy>(5);
  r = Pipeline::Create(nullptr, p, nullptr, o);
  CHECK(!r.ok() && r.status().message() == "drop: expected 'oldest' or 'none'; got 5");
}

int main() {
  const char* lib = std::getenv("EDGERUN_LITERT_LIB");
  if (!lib || !std::getenv("EDGERUN_TEST_MODEL")) {
    std::printf("SKIPPED: set EDGERUN_LITERT_LIB and EDGERUN_TEST_MODEL\n");
    return 77;
  }
  Status st = runtime::LoadLiteRt(lib, "");
  if (!st.ok()) {
    std::printf("cannot load the runtime: %s\n", st.message().c_str());
    return 1;
  }
  return edgerun_test::RunAll();
}
