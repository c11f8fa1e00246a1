// C++ tests of the Session core against the real runtime. Needs
// EDGERUN_LITERT_LIB (path of libLiteRt.so) and EDGERUN_TEST_MODEL (the
// built-in float model written by scripts/test.sh); exits 77 (skipped) without.
#include <cstdlib>
#include <cstring>
#include <vector>

#include "check.h"
#include "edgerun/runtime.h"
#include "edgerun/session.h"

using namespace edgerun;

namespace {

std::unique_ptr<Session> Open(int threads = 1) {
  auto bytes = ModelBytes::MapFile(std::getenv("EDGERUN_TEST_MODEL"));
  CHECK(bytes.ok());
  SessionOptions o;
  o.threads = threads;
  auto s = Session::Create(std::move(bytes).value(), o);
  CHECK_MSG(s.ok(), "%s", s.status().message().c_str());
  return s.ok() ? std::move(s).value() : nullptr;
}

std::vector<float> Pattern(size_t n, float phase) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(((i * 37 + 11) % 200) / 100.0 - 1.0 + phase);
  return v;
}

std::vector<float> OutputCopy(Session& s) {
  const auto& o = s.outputs()[0];
  std::vector<float> r(o.nbytes / sizeof(float));
  std::memcpy(r.data(), s.output_block(0)->data(), o.nbytes);
  return r;
}

}  // namespace

TEST(aligned_block_is_aligned_padded_and_zeroed) {
  auto b = AlignedBlock::Allocate(100);
  CHECK(reinterpret_cast<uintptr_t>(b->data()) % 64 == 0);
  CHECK(b->capacity() == 128 && b->size() == 100);
  const auto* p = static_cast<const uint8_t*>(b->data());
  bool zero = true;
  for (size_t i = 0; i < b->capacity(); ++i) zero = zero && p[i] == 0;
  CHECK(zero);
}

TEST(default_threads_positive) { CHECK(DefaultThreadCount() >= 1); }

TEST(missing_file_is_model_error) {
  auto m = ModelBytes::MapFile("/nonexistent/model.tflite");
  CHECK(!m.ok() && m.status().code() == Code::kModelError);
  CHECK(m.status().message().find("/nonexistent/model.tflite") != std::string::npos);
}

TEST(garbage_bytes_rejected_before_runtime) {
  const char junk[] = "this is not a flatbuffer, definitely not TFL3";
  auto m = ModelBytes::Copy(junk, sizeof(junk));
  CHECK(m.ok());
  auto s = Session::Create(std::move(m).value(), SessionOptions());
  CHECK(!s.ok() && s.status().code() == Code::kModelError);
}

TEST(zero_copy_block_contiguous_and_strided_inputs_agree) {
  auto s = Open();
  if (!s) return;
  const TensorInfo& in = s->inputs()[0];
  CHECK(in.dtype == DType::kFloat32 && in.shape.size() == 4);
  const size_t n = in.nbytes / sizeof(float);
  auto x = Pattern(n, 0.0f);
  // 1. written into the session buffer, run without arrays
  std::memcpy(s->input_block(0)->data(), x.data(), in.nbytes);
  CHECK(s->Run().ok());
  auto ref = OutputCopy(*s);
  // 2. a caller array at an odd address (copied once)
  std::vector<uint8_t> raw(in.nbytes + 64);
  float* odd = reinterpret_cast<float*>(raw.data() + 4 + (64 - reinterpret_cast<uintptr_t>(raw.data()) % 64) % 64);
  std::memcpy(odd, x.data(), in.nbytes);
  HostArray a;
  a.data = odd;
  a.dtype = DType::kFloat32;
  a.shape = in.shape;
  a.byte_strides.resize(4);
  int64_t st = sizeof(float);
  for (int d = 3; d >= 0; --d) a.byte_strides[d] = st, st *= in.shape[d];
  CHECK(s->Run({a}).ok());
  CHECK(OutputCopy(*s) == ref);
  CHECK(s->copied_inputs() == 1 && s->zero_copy_inputs() == 0);
  // 3. the same values with every row padded (strided view)
  const int64_t W = in.shape[2] * in.shape[3];
  const int64_t rows = in.shape[0] * in.shape[1];
  std::vector<float> padded(static_cast<size_t>(rows * (W + 5)));
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(&padded[r * (W + 5)], &x[r * W], W * sizeof(float));
  HostArray p = a;
  p.data = padded.data();
  p.byte_strides = {static_cast<int64_t>(in.shape[1] * (W + 5) * sizeof(float)),
                    static_cast<int64_t>((W + 5) * sizeof(float)),
                    static_cast<int64_t>(in.shape[3] * sizeof(float)), sizeof(float)};
  CHECK(s->Run({p}).ok());
  CHECK(OutputCopy(*s) == ref);
  // 4. an aligned caller array goes to the runtime as is
  auto block = AlignedBlock::Allocate(in.nbytes);
  std::memcpy(block->data(), x.data(), in.nbytes);
  HostArray z = a;
  z.data = block->data();
  CHECK(s->Run({z}).ok());
  CHECK(OutputCopy(*s) == ref);
  CHECK(s->zero_copy_inputs() == 1);
  // A different input gives a different output (the run really read it).
  auto y = Pattern(n, 0.25f);
  std::memcpy(block->data(), y.data(), in.nbytes);
  CHECK(s->Run({z}).ok());
  CHECK(OutputCopy(*s) != ref);
}

TEST(wrong_dtype_and_shape_are_named) {
  auto s = Open();
  if (!s) return;
  const TensorInfo& in = s->inputs()[0];
  std::vector<double> d(in.nbytes / 4);
  HostArray a;
  a.data = d.data();
  a.dtype = DType::kFloat64;
  a.shape = in.shape;
  a.byte_strides.assign(in.shape.size(), 8);
  Status st = s->Run({a});
  CHECK(st.code() == Code::kInputError);
  CHECK_MSG(st.message().find("input 0 ('image'): expected float32[1, 96, 96, 3], got float64") == 0,
            "%s", st.message().c_str());
  a.dtype = DType::kFloat32;
  a.shape = {1, 96, 96};
  st = s->Run({a});
  CHECK(st.code() == Code::kInputError && st.message().find("got float32[1, 96, 96]") != std::string::npos);
  st = s->ResizeInput(0, {1, 2});
  CHECK(st.code() == Code::kInputError && st.message().find("rank") != std::string::npos);
  CHECK(s->InputIndex("image").ok() && *s->InputIndex("image") == 0);
  CHECK(!s->InputIndex("nope").ok());
}

TEST(resize_refused_while_input_view_alive) {
  auto s = Open();
  if (!s) return;
  auto view = s->input_block(0);  // what a numpy view holds
  Status st = s->ResizeInput(0, {2, 96, 96, 3});
  CHECK(st.code() == Code::kBusyError);
}

TEST(profile_counts_runs_and_names_operators) {
  auto bytes = ModelBytes::MapFile(std::getenv("EDGERUN_TEST_MODEL"));
  CHECK(bytes.ok());
  SessionOptions o;
  o.threads = 1;
  o.profile = true;
  auto created = Session::Create(std::move(bytes).value(), o);
  CHECK_MSG(created.ok(), "%s", created.status().message().c_str());
  if (!created.ok()) return;
  auto& s = *created;
  auto first = s->TakeProfile();
  CHECK(first.ok() && first->runs == 0);  // the warm-up is not profiled
  for (int i = 0; i < 3; ++i) CHECK(s->Run().ok());
  auto p = s->TakeProfile();
  CHECK_MSG(p.ok(), "%s", p.status().message().c_str());
  if (!p.ok()) return;
  CHECK(p->runs == 3);
  size_t ops = 0, invokes = 0;
  for (const ProfileEvent& e : p->events) {
    CHECK(!e.name.empty());
    if (e.kind != ProfileEvent::Kind::kRuntime) {
      ++ops;
      CHECK(e.node >= 0);
    }
    if (e.kind == ProfileEvent::Kind::kRuntime && e.name == "Invoke") ++invokes;
  }
  CHECK(ops > 0 && ops % 3 == 0);  // every run records the same operators
  CHECK(invokes == 3);
  auto again = s->TakeProfile();  // cleared by the read, still recording
  CHECK(again.ok() && again->runs == 0 && again->events.empty());
  CHECK(s->Run().ok());
  auto one = s->TakeProfile();
  CHECK(one.ok() && one->runs == 1 && one->events.size() == p->events.size() / 3);
  auto plain = Open();
  if (!plain) return;
  CHECK(plain->TakeProfile().status().code() == Code::kInputError);
}

int main() {
  const char* lib = std::getenv("EDGERUN_LITERT_LIB");
  const char* model = std::getenv("EDGERUN_TEST_MODEL");
  if (!lib || !*lib || !model || !*model) {
    std::printf("SKIPPED: set EDGERUN_LITERT_LIB and EDGERUN_TEST_MODEL (scripts/test.sh does)\n");
    return 77;
  }
  Status st = runtime::LoadLiteRt(lib, "");
  if (!st.ok()) {
    std::printf("cannot load runtime: %s\n", st.message().c_str());
    return 1;
  }
  return edgerun_test::RunAll();
}
