// C++ tests of the delegate-plugin route (cpp/src/runtime/accelerators/) against the real
// runtime and the stand-in plugin (tests/plugins/standin_delegate.cc). Used on
// x86_64 and, cross-compiled, on aarch64 under qemu (cpp/tests/aarch64/delegates.sh).
//
// Needs EDGERUN_LITERT_LIB and EDGERUN_TEST_DELEGATE_DIR, a folder holding
//   libstandin.so        the stand-in plugin
//   reference.tflite     modelgen.residual_model()
//   rewritten.tflite     the same with its ADD turned into EdgerunStandinAdd
//   edgetpu.tflite       modelgen.edgetpu_model()
//   edgetpu_ref.tflite   modelgen.add_model((1, 8), "uint8")
// and exits 77 (skipped) without them.
#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "edgerun/runtime.h"
#include "edgerun/session.h"

using namespace edgerun;

namespace {

std::string g_dir;

std::string P(const char* name) { return g_dir + "/" + name; }

std::unique_ptr<Session> Open(const char* model, SessionOptions o, Status* error = nullptr) {
  auto bytes = ModelBytes::MapFile(P(model));
  CHECK_MSG(bytes.ok(), "%s", bytes.status().message().c_str());
  if (!bytes.ok()) return nullptr;
  o.threads = 1;
  auto s = Session::Create(std::move(bytes).value(), o);
  if (!s.ok()) {
    if (error) *error = s.status();
    else CHECK_MSG(false, "%s", s.status().message().c_str());
    return nullptr;
  }
  return std::move(s).value();
}

SessionOptions WithPlugin(KeyValues options = {}) {
  SessionOptions o;
  o.delegates.push_back({P("libstandin.so"), std::move(options)});
  return o;
}

long long Invocations() {
  void* h = dlopen(P("libstandin.so").c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (!h) return -1;
  auto fn = reinterpret_cast<long long (*)()>(dlsym(h, "standin_invocations"));
  long long n = fn ? fn() : -1;
  dlclose(h);
  return n;
}

// Fills the inputs with a fixed pattern, runs, returns the outputs' bytes.
std::vector<std::vector<uint8_t>> RunPattern(Session& s) {
  for (size_t i = 0; i < s.inputs().size(); ++i) {
    auto* p = static_cast<uint8_t*>(s.input_block(i)->data());
    const auto& t = s.inputs()[i];
    if (t.dtype == DType::kFloat32) {
      auto* f = reinterpret_cast<float*>(p);
      for (size_t k = 0; k < t.nbytes / 4; ++k) f[k] = static_cast<float>((k * 37 + 11) % 200) / 50.f - 2.f;
    } else {
      for (size_t k = 0; k < t.nbytes; ++k) p[k] = static_cast<uint8_t>(k * 29 + 3);
    }
  }
  Status st = s.Run();
  CHECK_MSG(st.ok(), "%s", st.message().c_str());
  std::vector<std::vector<uint8_t>> out;
  for (size_t i = 0; i < s.outputs().size(); ++i) {
    auto* p = static_cast<const uint8_t*>(s.output_block(i)->data());
    out.emplace_back(p, p + s.outputs()[i].nbytes);
  }
  return out;
}

bool Contains(const Status& s, const char* text) {
  return s.message().find(text) != std::string::npos;
}

}  // namespace

TEST(plugin_outputs_equal_cpu_and_plugin_ran) {
  auto cpu = Open("reference.tflite", SessionOptions());
  auto plug = Open("rewritten.tflite", WithPlugin({{"tag", "c++"}}));
  if (!cpu || !plug) return;
  const long long before = Invocations();
  CHECK(RunPattern(*plug) == RunPattern(*cpu));
  CHECK(Invocations() == before + 1);
  auto placement = plug->placement();
  CHECK(placement.size() == 3);
  if (placement.size() == 3) {
    CHECK(placement[0].accelerator == "cpu");
    CHECK(placement[1].custom_code == "EdgerunStandinAdd");
    CHECK(placement[1].accelerator == "delegate:libstandin.so");
    CHECK(placement[2].accelerator == "cpu");
  }
}

TEST(plugins_run_before_xnnpack) {
  auto cpu = Open("reference.tflite", SessionOptions());
  auto plug = Open("reference.tflite", WithPlugin({{"builtin_add", "1"}}));
  if (!cpu || !plug) return;
  CHECK(RunPattern(*plug) == RunPattern(*cpu));
  auto placement = plug->placement();
  CHECK(placement.size() == 3 && placement[1].accelerator == "delegate:libstandin.so");
}

TEST(plugin_failures_are_delegate_errors) {
  const std::pair<const char*, const char*> cases[] = {
      {"create", "refused to create a delegate"},
      {"prepare", "failed while taking over"},
      {"invoke", "warm-up"},
  };
  for (auto& c : cases) {
    Status err;
    auto s = Open("rewritten.tflite", WithPlugin({{"fail", c.first}}), &err);
    CHECK(!s);
    CHECK_MSG(err.code() == Code::kDelegateError && Contains(err, c.second) &&
                  Contains(err, "libstandin.so"),
              "fail=%s: %s", c.first, err.message().c_str());
  }
  Status err;
  SessionOptions missing;
  missing.delegates.push_back({P("nope/libmissing.so"), {}});
  CHECK(!Open("rewritten.tflite", missing, &err));
  CHECK_MSG(err.code() == Code::kDelegateError && Contains(err, "libmissing.so"), "%s",
            err.message().c_str());
}

TEST(edgetpu_model_needs_the_edgetpu_runtime) {
  unsetenv("EDGERUN_EDGETPU_LIB");
  Status err;
  CHECK(!Open("edgetpu.tflite", SessionOptions(), &err));
  CHECK_MSG(err.code() == Code::kDelegateError && Contains(err, "compiled for the Edge TPU"), "%s",
            err.message().c_str());
}

TEST(edgetpu_route_with_the_standin_as_libedgetpu) {
  setenv("EDGERUN_EDGETPU_LIB", P("libstandin.so").c_str(), 1);
  SessionOptions o;
  o.accelerator = "edgetpu";
  o.accelerator_options = {{"device", "usb:0"}};
  auto tpu = Open("edgetpu.tflite", o);
  auto ref = Open("edgetpu_ref.tflite", SessionOptions());
  if (tpu && ref) {
    CHECK(RunPattern(*tpu) == RunPattern(*ref));
    auto placement = tpu->placement();
    CHECK(placement.size() == 1 && placement[0].accelerator == "edgetpu");
  }
  auto devices = ListEdgeTpuDevices();
  CHECK(devices.ok() && devices->size() == 1 && (*devices)[0].type == "usb");
  o.accelerator_options = {{"device", "pci:0"}};
  Status err;
  CHECK(!Open("edgetpu.tflite", o, &err));
  CHECK_MSG(err.code() == Code::kDelegateError && Contains(err, "could not open Edge TPU 'pci:0'"),
            "%s", err.message().c_str());
  unsetenv("EDGERUN_EDGETPU_LIB");
}

int main() {
  const char* lib = std::getenv("EDGERUN_LITERT_LIB");
  const char* dir = std::getenv("EDGERUN_TEST_DELEGATE_DIR");
  if (!lib || !*lib || !dir || !*dir) {
    std::printf("SKIPPED: set EDGERUN_LITERT_LIB and EDGERUN_TEST_DELEGATE_DIR "
                "(cpp/tests/aarch64/delegates.sh does)\n");
    return 77;
  }
  g_dir = dir;
  Status st = runtime::LoadLiteRt(lib, "");
  if (!st.ok()) {
    std::printf("cannot load runtime: %s\n", st.message().c_str());
    return 1;
  }
  return edgerun_test::RunAll();
}
