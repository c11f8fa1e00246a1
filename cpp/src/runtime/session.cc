#include "edgerun/session.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

#include "edgerun/verify.h"
#include "model/schema.h"
#include "runtime/accelerators/accelerator_env.h"
#include "runtime/environment.h"
#include "runtime/litert_api.h"

namespace edgerun {

using runtime::LiteRtApi;
using runtime::LiteRtStatusName;

// ---------------------------------------------------------------------------
// dtypes
// ---------------------------------------------------------------------------
namespace {

DType FromElementType(LiteRtElementType t) {
  switch (t) {
    case kLiteRtElementTypeFloat32: return DType::kFloat32;
    case kLiteRtElementTypeFloat16: return DType::kFloat16;
    case kLiteRtElementTypeFloat64: return DType::kFloat64;
    case kLiteRtElementTypeInt8: return DType::kInt8;
    case kLiteRtElementTypeUInt8: return DType::kUInt8;
    case kLiteRtElementTypeInt16: return DType::kInt16;
    case kLiteRtElementTypeUInt16: return DType::kUInt16;
    case kLiteRtElementTypeInt32: return DType::kInt32;
    case kLiteRtElementTypeUInt32: return DType::kUInt32;
    case kLiteRtElementTypeInt64: return DType::kInt64;
    case kLiteRtElementTypeUInt64: return DType::kUInt64;
    case kLiteRtElementTypeBool: return DType::kBool;
    case kLiteRtElementTypeComplex64: return DType::kComplex64;
    default: return DType::kUnknown;
  }
}

const char* ElementTypeName(LiteRtElementType t) {
  switch (t) {
    case kLiteRtElementTypeTfString: return "string";
    case kLiteRtElementTypeTfResource: return "resource";
    case kLiteRtElementTypeTfVariant: return "variant";
    case kLiteRtElementTypeInt4: return "int4";
    case kLiteRtElementTypeInt2: return "int2";
    case kLiteRtElementTypeBFloat16: return "bfloat16";
    case kLiteRtElementTypeComplex128: return "complex128";
    default: return DTypeName(FromElementType(t));
  }
}

std::string Describe(const char* kind, size_t i, const TensorInfo& t) {
  return std::string(kind) + " " + std::to_string(i) + " ('" + t.name + "')";
}

// Largest element count of one input/output buffer: the verifier's default
// VerifyOptions::max_tensor_elements. The runtime's shape inference can report
// more (or overflow int64) for a model whose shapes were tampered with.
constexpr int64_t kMaxBufferElements = int64_t(1) << 31;

// Elements of a shape of non-negative dims; -1 when over kMaxBufferElements
// (never overflows: found by fuzz_session, signed overflow on tampered shapes).
int64_t Product(const std::vector<int64_t>& shape) {
  for (int64_t d : shape)
    if (d == 0) return 0;
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || d > kMaxBufferElements / n) return -1;
    n *= d;
  }
  return n;
}

// The key LiteRT gives the one signature of a model without SignatureDefs.
constexpr const char* kPlaceholderSignature = "<placeholder signature>";

// Largest dimension accepted in a requested input shape.
constexpr int64_t kMaxDimension = int64_t(1) << 30;

// SessionOptions::input_shapes -> one entry per input (empty: not given).
Status ResolveInputShapes(const std::vector<InputShape>& given, const std::vector<TensorInfo>& inputs,
                          const std::vector<std::vector<int64_t>>& declared, std::vector<std::vector<int64_t>>* out) {
  const long long n = static_cast<long long>(inputs.size());
  out->assign(inputs.size(), {});
  std::vector<std::string> keys(inputs.size());
  for (const InputShape& g : given) {
    long long i = -1;
    std::string key;
    if (!g.name.empty()) {
      key = "'" + g.name + "'";
      for (size_t k = 0; k < inputs.size(); ++k)
        if (inputs[k].name == g.name) i = static_cast<long long>(k);
      if (i < 0) {
        std::string names;
        for (auto& t : inputs) names += (names.empty() ? "'" : ", '") + t.name + "'";
        return InputError("input_shapes: the model has no input named '" + g.name + "'; its inputs are " +
                          (names.empty() ? "none" : names));
      }
    } else {
      key = std::to_string(g.index);
      i = g.index < 0 ? g.index + n : g.index;
      if (i < 0 || i >= n)
        return InputError("input_shapes: input index " + std::to_string(g.index) + " is out of range; the model has " +
                          std::to_string(n) + " input(s)");
    }
    const TensorInfo& t = inputs[static_cast<size_t>(i)];
    const std::string what = "input_shapes[" + key + "] (input " + std::to_string(i) + ", '" + t.name + "', " +
                             ShapeString(declared[static_cast<size_t>(i)]) + ")";
    if (!keys[static_cast<size_t>(i)].empty())
      return InputError("input_shapes: input " + std::to_string(i) + " ('" + t.name + "') is given twice, as " +
                        keys[static_cast<size_t>(i)] + " and as " + key);
    keys[static_cast<size_t>(i)] = key;
    if (g.shape.size() != t.shape.size())
      return InputError(what + ": got " + ShapeString(g.shape) + ", expected rank " + std::to_string(t.shape.size()));
    for (size_t d = 0; d < g.shape.size(); ++d) {
      if (g.shape[d] <= 0 || g.shape[d] > kMaxDimension)
        return InputError(what + ": invalid dimension " + std::to_string(g.shape[d]) + " in " + ShapeString(g.shape) +
                          " (expected 1 .. 2^30)");
    }
    (*out)[static_cast<size_t>(i)] = g.shape;
  }
  return Status::Ok();
}

// A failure while preparing or warming up a freshly loaded model means the
// model cannot run here (unresolved custom op, unsupported kernel...): report
// it as a model problem, at load time.
Status AsLoadError(const Status& s) {
  if (s.code() != Code::kInferenceError) return s;
  return ModelError("the model cannot run on this runtime: " + s.message());
}

}  // namespace

// ---------------------------------------------------------------------------
// AlignedBlock / ModelBytes
// ---------------------------------------------------------------------------
std::shared_ptr<AlignedBlock> AlignedBlock::Allocate(size_t size) {
  // Tail padding: SIMD kernels may read/write whole vectors at the end.
  if (size > SIZE_MAX - kAlignment) return nullptr;  // the rounding below would wrap to a tiny block
  size_t capacity = ((std::max<size_t>(size, 1) + kAlignment - 1) / kAlignment) * kAlignment;
  void* p = nullptr;
  if (posix_memalign(&p, kAlignment, capacity) != 0) return nullptr;
  std::memset(p, 0, capacity);
  std::shared_ptr<AlignedBlock> b(new AlignedBlock());
  b->data_ = p;
  b->size_ = size;
  b->capacity_ = capacity;
  return b;
}

AlignedBlock::~AlignedBlock() { std::free(data_); }

Expected<std::shared_ptr<ModelBytes>> ModelBytes::MapFile(const std::string& path) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer
  // forever (and a device node might block too). Nothing is read before
  // fstat() has proved this is a regular file; mmap ignores the flag.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    return ModelError("cannot open model file '" + path + "': " + std::strerror(err));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return ModelError("cannot stat model file '" + path + "': " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    const char* what = S_ISDIR(st.st_mode)    ? "a directory"
                       : S_ISFIFO(st.st_mode) ? "a FIFO (named pipe)"
                       : S_ISCHR(st.st_mode)  ? "a character device"
                       : S_ISBLK(st.st_mode)  ? "a block device"
                       : S_ISSOCK(st.st_mode) ? "a socket"
                                              : "something else";
    return ModelError("model path '" + path + "' is not a regular file: it is " + what);
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    return ModelError("model file '" + path + "' is empty (0 bytes)");
  }
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) {
    const int err = errno;
    return ModelError("cannot map model file '" + path + "': " + std::strerror(err));
  }
  std::shared_ptr<ModelBytes> m(new ModelBytes());
  m->data_ = static_cast<const uint8_t*>(p);
  m->size_ = size;
  m->mapped_ = true;
  m->origin_ = path;
  return m;
}

Expected<std::shared_ptr<ModelBytes>> ModelBytes::Copy(const void* data, size_t size) {
  if (size == 0) return ModelError("model bytes are empty (0 bytes)");
  auto block = AlignedBlock::Allocate(size);
  if (!block) return ModelError("cannot allocate " + std::to_string(size) + " bytes for the model");
  std::memcpy(block->data(), data, size);
  std::shared_ptr<ModelBytes> m(new ModelBytes());
  m->owned_ = std::move(block);
  m->data_ = static_cast<const uint8_t*>(m->owned_->data());
  m->size_ = size;
  m->origin_ = "<bytes>";
  return m;
}

ModelBytes::~ModelBytes() {
  if (mapped_ && data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

// ---------------------------------------------------------------------------
// Default thread count: physical cores available to this process (1 with two or fewer).
// ---------------------------------------------------------------------------
int DefaultThreadCount() {
  cpu_set_t set;
  CPU_ZERO(&set);
  int allowed = 0;
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
    allowed = static_cast<int>(cpus.size());
  }
  if (allowed <= 0) {
    allowed = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    for (int c = 0; c < allowed; ++c) cpus.push_back(c);
  }
  // Count distinct (package, core) pairs among the allowed CPUs; SMT siblings
  // share a core and XNNPACK gains little or loses from them.
  std::set<std::pair<int, int>> cores;
  bool topology_known = true;
  for (int c : cpus) {
    const std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(c) + "/topology/";
    std::ifstream core_f(base + "core_id"), pkg_f(base + "physical_package_id");
    int core = -1, pkg = -1;
    if (!(core_f >> core) || !(pkg_f >> pkg)) {
      topology_known = false;
      break;
    }
    cores.insert({pkg, core});
  }
  int n = topology_known && !cores.empty() ? static_cast<int>(cores.size()) : allowed;
  // Two cores or fewer: one thread. A second XNNPACK thread takes the only
  // other core from the pipeline's own stages, the camera and the OS, and a
  // preempted worker stalls every parallel operator: on a 2-core x86 VM it was
  // not faster back to back (1.05-1.12x the latency of one thread, BlazeFace)
  // and cost 1.1-1.3x the CPU per frame at 30 FPS (docs/power.md).
  if (n <= 2) return 1;
  return std::max(1, std::min(n, allowed));
}

// ---------------------------------------------------------------------------
// Session::Impl: the runtime handles. Destruction order matters: tensor
// buffers and the compiled model go before the model, the model before its
// bytes (the runtime reads weights from them).
// ---------------------------------------------------------------------------
struct Session::Impl {
  const LiteRtApi* api = nullptr;
  LiteRtModel model = nullptr;
  LiteRtCompiledModel compiled = nullptr;
  std::vector<LiteRtTensorBuffer> in_buffers;   // over input_blocks_
  std::vector<LiteRtTensorBuffer> out_buffers;  // over output_blocks_
  // Zero-copy wrappers over caller arrays, kExtSlots cached per input (keyed
  // by address, replaced round robin): a camera loop passing the same aligned
  // arrays (or a pipeline rotating a few slot buffers) pays nothing.
  static constexpr size_t kExtSlots = 4;
  std::vector<LiteRtTensorBuffer> ext_buffers;  // nin * kExtSlots
  std::vector<const void*> ext_addrs;           // nin * kExtSlots
  std::vector<size_t> ext_next;                 // nin: next entry to replace
  std::vector<LiteRtRankedTensorType> in_types, out_types;
  // Accelerator sessions only (runtime/accelerators/): what the delegate plugins did
  // in the final compilation, and the environment (released after ~Impl's body
  // has Reset() everything created in it).
  runtime::CompileReport report;
  std::shared_ptr<runtime::AcceleratorEnv> accel;
  // SessionOptions::profile: the compiled model's profiler (owned by it).
  LiteRtProfiler profiler = nullptr;

  ~Impl() { Reset(); }

  void DestroyBuffers() {
    for (auto* v : {&in_buffers, &out_buffers, &ext_buffers})
      for (auto& b : *v)
        if (b) api->LiteRtDestroyTensorBuffer(b), b = nullptr;
    std::fill(ext_addrs.begin(), ext_addrs.end(), nullptr);
  }

  void Reset() {
    if (!api) return;
    DestroyBuffers();
    profiler = nullptr;
    if (compiled) api->LiteRtDestroyCompiledModel(compiled), compiled = nullptr;
    if (model) api->LiteRtDestroyModel(model), model = nullptr;
  }

  std::string TakeErrors() {
    if (!compiled) return "";
    char* msgs = nullptr;
    std::string out;
    if (api->LiteRtCompiledModelGetErrorMessages(compiled, &msgs) == kLiteRtStatusOk && msgs) {
      out = msgs;
      std::free(msgs);
      api->LiteRtCompiledModelClearErrors(compiled);
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
  }
};

namespace {

Status AddTomlOptions(const LiteRtApi* api, LiteRtOptions options, const char* identifier,
                      const std::string& toml) {
  char* payload = strdup(toml.c_str());
  if (!payload) return InternalError("out of memory");
  LiteRtOpaqueOptions opaque = nullptr;
  LiteRtStatus s = api->LiteRtCreateOpaqueOptions(identifier, payload, &std::free, &opaque);
  if (s != kLiteRtStatusOk) {
    std::free(payload);
    return RuntimeError(std::string("cannot create '") + identifier +
                        "' options: " + LiteRtStatusName(s));
  }
  s = api->LiteRtAddOpaqueOptions(options, opaque);  // takes ownership
  if (s != kLiteRtStatusOk) {
    api->LiteRtDestroyOpaqueOptions(opaque);
    return RuntimeError(std::string("cannot add '") + identifier +
                        "' options: " + LiteRtStatusName(s));
  }
  return Status::Ok();
}

// SessionOptions::profile needs the profiler functions, which are optional
// symbols (runtime/litert_api.h): name the missing ones.
Status ProfilerAvailable(const LiteRtApi* api) {
  std::string missing;
  auto need = [&](const void* fn, const char* name) {
    if (!fn) missing += (missing.empty() ? "" : ", ") + std::string(name);
  };
  need(reinterpret_cast<const void*>(api->LiteRtCompiledModelGetProfiler), "LiteRtCompiledModelGetProfiler");
  need(reinterpret_cast<const void*>(api->LiteRtStartProfiler), "LiteRtStartProfiler");
  need(reinterpret_cast<const void*>(api->LiteRtResetProfiler), "LiteRtResetProfiler");
  need(reinterpret_cast<const void*>(api->LiteRtGetNumProfilerEvents), "LiteRtGetNumProfilerEvents");
  need(reinterpret_cast<const void*>(api->LiteRtGetProfilerEvents), "LiteRtGetProfilerEvents");
  if (missing.empty()) return Status::Ok();
  const runtime::RuntimeInfo info = runtime::LoadedRuntime();
  return RuntimeError("profile=True needs the LiteRT profiler, and the loaded runtime " + info.library_path +
                      " (ai-edge-litert " + (info.version.empty() ? std::string("of unknown version") : info.version) +
                      ") does not export " + missing);
}

Expected<LiteRtCompiledModel> Compile(const LiteRtApi* api, LiteRtEnvironment env,
                                      LiteRtModel model, int threads, bool profile,
                                      int hardware = kLiteRtHwAcceleratorCpu) {
  LiteRtOptions options = nullptr;
  LiteRtStatus s = api->LiteRtCreateOptions(&options);
  if (s != kLiteRtStatusOk) return RuntimeError("LiteRtCreateOptions failed: " + LiteRtStatusName(s));
  struct Guard {
    const LiteRtApi* api;
    LiteRtOptions o;
    ~Guard() { api->LiteRtDestroyOptions(o); }
  } guard{api, options};
  s = api->LiteRtSetOptionsHardwareAccelerators(options, hardware);
  if (s != kLiteRtStatusOk)
    return RuntimeError("cannot select the accelerators: " + LiteRtStatusName(s));
  EDGERUN_RETURN_IF_ERROR(
      AddTomlOptions(api, options, "xnnpack", "num_threads = " + std::to_string(threads) + "\n"));
  EDGERUN_RETURN_IF_ERROR(AddTomlOptions(api, options, "runtime_options_string",
                                         std::string("error_reporter_mode = 2\n") +
                                             (profile ? "enable_profiling = true\n" : "")));
  LiteRtCompiledModel compiled = nullptr;
  s = api->LiteRtCreateCompiledModel(env, model, options, &compiled);
  if (s != kLiteRtStatusOk || compiled == nullptr)
    return ModelError("the runtime could not compile the model (" + LiteRtStatusName(s) +
                      "); it may use operators or types this LiteRT build does not support");
  return compiled;
}

Status TensorInfoFrom(const LiteRtApi* api, LiteRtTensor t, const char* sig_name,
                      const char* kind, size_t index, TensorInfo* info,
                      LiteRtRankedTensorType* type) {
  const char* tname = nullptr;
  info->name = sig_name && *sig_name ? sig_name
               : (api->LiteRtGetTensorName(t, &tname) == kLiteRtStatusOk && tname) ? tname
                                                                                   : "";
  if (info->name.empty()) info->name = std::string(kind) + std::to_string(index);
  LiteRtTensorTypeId tid;
  if (api->LiteRtGetTensorTypeId(t, &tid) != kLiteRtStatusOk || tid != kLiteRtRankedTensorType)
    return ModelError(std::string(kind) + " " + std::to_string(index) + " ('" + info->name +
                      "') has unknown rank; edgerun needs ranked model inputs and outputs");
  std::memset(type, 0, sizeof(*type));
  if (api->LiteRtGetRankedTensorType(t, type) != kLiteRtStatusOk)
    return ModelError(std::string("cannot read the type of ") + kind + " '" + info->name + "'");
  info->dtype = FromElementType(type->element_type);
  if (info->dtype == DType::kUnknown)
    return ModelError(std::string(kind) + " " + std::to_string(index) + " ('" + info->name +
                      "') has element type " + ElementTypeName(type->element_type) +
                      ", which edgerun cannot exchange with numpy");
  if (type->layout.rank > EDGERUN_LITERT_MAX_RANK)
    return ModelError(std::string(kind) + " '" + info->name + "' has rank " +
                      std::to_string(type->layout.rank) + " (at most 8 supported)");
  info->shape.assign(type->layout.dimensions, type->layout.dimensions + type->layout.rank);
  LiteRtQuantizationTypeId q = kLiteRtQuantizationNone;
  api->LiteRtGetQuantizationTypeId(t, &q);
  if (q == kLiteRtQuantizationPerTensor) {
    LiteRtQuantizationPerTensor pt{};
    if (api->LiteRtGetPerTensorQuantization(t, &pt) == kLiteRtStatusOk) {
      info->scale = pt.scale;
      info->zero_point = pt.zero_point;
    }
  } else if (q == kLiteRtQuantizationPerChannel) {
    LiteRtQuantizationPerChannel pc{};
    if (api->LiteRtGetPerChannelQuantization(t, &pc) == kLiteRtStatusOk && pc.scales) {
      info->quantized_dimension = pc.quantized_dimension;
      info->scales.assign(pc.scales, pc.scales + pc.num_channels);
      if (pc.zero_points) info->zero_points.assign(pc.zero_points, pc.zero_points + pc.num_channels);
    }
  }
  return Status::Ok();
}

bool IsCContiguous(const HostArray& a, size_t itemsize) {
  int64_t expected = static_cast<int64_t>(itemsize);
  for (size_t d = a.shape.size(); d-- > 0;) {
    if (a.shape[d] != 1 && a.byte_strides[d] != expected) return false;
    expected *= a.shape[d];
  }
  return true;
}

// Copies a strided array into contiguous memory (row by row on the innermost
// contiguous run).
void StridedCopy(const HostArray& a, size_t itemsize, uint8_t* dst) {
  const size_t ndim = a.shape.size();
  if (ndim == 0) {
    std::memcpy(dst, a.data, itemsize);
    return;
  }
  // Innermost run: the last dim if it is contiguous, else single elements.
  const bool inner_contig = a.byte_strides[ndim - 1] == static_cast<int64_t>(itemsize);
  const size_t run = inner_contig ? static_cast<size_t>(a.shape[ndim - 1]) * itemsize : itemsize;
  const size_t outer_dims = inner_contig ? ndim - 1 : ndim;
  std::vector<int64_t> idx(outer_dims, 0);
  int64_t total = 1;
  for (size_t d = 0; d < outer_dims; ++d) total *= a.shape[d];
  const uint8_t* base = static_cast<const uint8_t*>(a.data);
  for (int64_t n = 0; n < total; ++n) {
    int64_t off = 0;
    for (size_t d = 0; d < outer_dims; ++d) off += idx[d] * a.byte_strides[d];
    std::memcpy(dst, base + off, run);
    dst += run;
    for (size_t d = outer_dims; d-- > 0;) {
      if (++idx[d] < a.shape[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Session
// ---------------------------------------------------------------------------
int64_t ResidentBytes() {
  std::ifstream f("/proc/self/statm");
  long long size = 0, resident = -1;
  if (!(f >> size >> resident) || resident < 0) return -1;
  const long page = sysconf(_SC_PAGESIZE);
  return page > 0 ? static_cast<int64_t>(resident) * page : -1;
}

SessionMemory Session::memory() const {
  SessionMemory m;
  m.model_bytes = bytes_->size();
  m.model_mapped = bytes_->mapped();
  m.load_rss_bytes = load_rss_bytes_;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& b : input_blocks_)
    if (b) m.io_bytes += b->capacity();
  for (const auto& b : output_blocks_)
    if (b) m.io_bytes += b->capacity();
  return m;
}

Expected<std::unique_ptr<Session>> Session::Create(std::shared_ptr<ModelBytes> model,
                                                   const SessionOptions& options) {
  if (!model) return InputError("no model given");
  EDGERUN_RETURN_IF_ERROR(runtime::ValidateAcceleratorOptions(options));
  const int64_t rss0 = ResidentBytes();
  auto s = CreateOnce(model, options);
  if (s.ok()) {
    const int64_t rss1 = ResidentBytes();
    if (rss0 >= 0 && rss1 >= 0) (*s)->load_rss_bytes_ = std::max<int64_t>(0, rss1 - rss0);
  }
  if (s.ok() || options.fallback != "cpu" || !runtime::UsesAcceleratorEnv(options) ||
      s.status().code() != Code::kDelegateError)
    return s;
  // fallback="cpu": the same model on the CPU, if it can run there.
  SessionOptions cpu = options;
  cpu.accelerator = "cpu";
  cpu.accelerator_options.clear();
  cpu.delegates.clear();
  auto c = CreateOnce(model, cpu);
  if (!c.ok()) {
    // An Edge TPU model on the CPU: its own error repeats the install advice just given.
    const std::string& why = c.status().message();
    const bool edgetpu_model = why.find("was compiled for the Edge TPU") != std::string::npos;
    return DelegateError(s.status().message() + "; the CPU fallback is not possible either: " +
                         (edgetpu_model ? std::string("the model's edgetpu-custom-op operators run "
                                                      "only on an Edge TPU (for the CPU, use the "
                                                      "model from before edgetpu_compiler)")
                                        : why));
  }
  (*c)->fallback_reason_ = s.status().message();
  const int64_t rss1 = ResidentBytes();
  if (rss0 >= 0 && rss1 >= 0) (*c)->load_rss_bytes_ = std::max<int64_t>(0, rss1 - rss0);
  return c;
}

Expected<std::unique_ptr<Session>> Session::CreateOnce(std::shared_ptr<ModelBytes> model,
                                                       const SessionOptions& options) {
  if (options.threads && *options.threads < 1)
    return InputError("threads: expected an int >= 1, or None for one per physical core; got " +
                      std::to_string(*options.threads));
  if (options.verify) {
    Status v = VerifyModel(model->data(), model->size());
    if (!v.ok()) return ModelError("invalid model " + model->origin() + ": " + v.message());
  }
  std::unique_ptr<Session> s(new Session());
  s->bytes_ = std::move(model);
  s->options_ = options;
  s->threads_ = options.threads ? *options.threads : DefaultThreadCount();
  s->impl_.reset(new Impl());
  // The runtime throws C++ exceptions through its C API on some models it
  // cannot handle (std::bad_alloc, std::out_of_range, a null std::string): they
  // are the model's fault and must not escape as anything else.
  Status built;
  try {
    built = s->Build();
  } catch (const std::bad_alloc&) {
    built = ModelError("the runtime ran out of memory loading model " + s->bytes_->origin() +
                       " (the model asks for more memory than this process can have)");
  } catch (const std::exception& e) {
    built = ModelError("the runtime failed on model " + s->bytes_->origin() + ": " + e.what());
  } catch (...) {
    // A libstdc++ exception seen from a libc++ build (the released wheels) is
    // foreign here: catchable, but its type and message are not readable.
    built = ModelError("the runtime failed on model " + s->bytes_->origin() +
                       " with a C++ exception (its message is not readable from this build)");
  }
  EDGERUN_RETURN_IF_ERROR(built);
  return s;
}

const std::string Session::kNoSignature;

Session::~Session() {
  std::lock_guard<std::mutex> lock(mu_);
  impl_.reset();
}

Status Session::Build() {
  auto api_or = runtime::Api();
  if (!api_or.ok()) return api_or.status();
  const LiteRtApi* api = *api_or;
  Impl& im = *impl_;
  im.api = api;
  if (options_.profile) EDGERUN_RETURN_IF_ERROR(ProfilerAvailable(api));
  LiteRtEnvironment env = nullptr;
  if (runtime::UsesAcceleratorEnv(options_)) {
    auto accel = runtime::AcquireAcceleratorEnv(api, options_);
    if (!accel.ok()) return accel.status();
    im.accel = std::move(accel).value();
    env = im.accel->env();
  } else {
    auto env_or = runtime::SharedEnvironment(api);
    if (!env_or.ok()) return env_or.status();
    env = *env_or;
  }

  LiteRtStatus st = api->LiteRtCreateModelFromBuffer(env, bytes_->data(), bytes_->size(), &im.model);
  if (st != kLiteRtStatusOk || im.model == nullptr)
    return ModelError("the runtime rejected model " + bytes_->origin() + " (" +
                      LiteRtStatusName(st) + ")");

  // Signatures.
  LiteRtParamIndex nsig = 0;
  api->LiteRtGetNumModelSignatures(im.model, &nsig);
  if (nsig == 0) return ModelError("model " + bytes_->origin() + " has no runnable signature");
  for (LiteRtParamIndex i = 0; i < nsig; ++i) {
    LiteRtSignature sig = nullptr;
    const char* key = nullptr;
    if (api->LiteRtGetModelSignature(im.model, i, &sig) != kLiteRtStatusOk ||
        api->LiteRtGetSignatureKey(sig, &key) != kLiteRtStatusOk)
      return ModelError("cannot read signature " + std::to_string(i));
    signature_keys_.push_back(key ? key : "");
  }
  // A model without SignatureDefs: the runtime makes up one signature with a
  // stand-in key, which is no name of the model's (not reported, not selectable).
  const bool placeholder = nsig == 1 && signature_keys_[0] == kPlaceholderSignature;
  if (!placeholder) signature_names_ = signature_keys_;
  if (!options_.signature.empty()) {
    auto it = placeholder ? signature_keys_.end()
                          : std::find(signature_keys_.begin(), signature_keys_.end(), options_.signature);
    if (it == signature_keys_.end()) {
      if (placeholder)
        return InputError("the model has no signature '" + options_.signature +
                          "': it has no SignatureDefs (leave signature unset, or 0)");
      std::string keys;
      for (auto& k : signature_keys_) keys += (keys.empty() ? "'" : ", '") + k + "'";
      return InputError("the model has no signature '" + options_.signature +
                        "'; its signatures are " + keys);
    }
    signature_index_ = static_cast<size_t>(it - signature_keys_.begin());
  } else {
    if (options_.signature_index < 0 || static_cast<size_t>(options_.signature_index) >= nsig)
      return InputError("signature index " + std::to_string(options_.signature_index) +
                        " is out of range; the model has " + std::to_string(nsig) +
                        " signature(s)");
    signature_index_ = static_cast<size_t>(options_.signature_index);
  }

  // Stateful models: resource variables persist across runs.
  const std::vector<runtime::ModelOp> ops = runtime::ListModelOps(api, im.model);
  stateful_ = std::any_of(ops.begin(), ops.end(), [](const runtime::ModelOp& op) {
    return op.code == schema::BuiltinOperator_VAR_HANDLE || op.code == schema::BuiltinOperator_ASSIGN_VARIABLE;
  });

  // Tensor descriptions.
  LiteRtSignature sig = nullptr;
  api->LiteRtGetModelSignature(im.model, signature_index_, &sig);
  LiteRtParamIndex nin = 0, nout = 0;
  api->LiteRtGetNumSignatureInputs(sig, &nin);
  api->LiteRtGetNumSignatureOutputs(sig, &nout);
  inputs_.resize(nin);
  outputs_.resize(nout);
  input_signatures_.assign(nin, {});
  // The runtime reports a dynamic dimension as 1 (the tensor's `shape`); the
  // model's shape_signature says which dimensions are dynamic (-1).
  auto declared = DeclaredInputShapes(bytes_->data(), bytes_->size());
  im.in_types.resize(nin);
  im.out_types.resize(nout);
  for (LiteRtParamIndex i = 0; i < nin; ++i) {
    LiteRtTensor t = nullptr;
    const char* name = nullptr;
    api->LiteRtGetSignatureInputName(sig, i, &name);
    if (api->LiteRtGetSignatureInputTensorByIndex(sig, i, &t) != kLiteRtStatusOk)
      return ModelError("cannot read input " + std::to_string(i));
    EDGERUN_RETURN_IF_ERROR(TensorInfoFrom(api, t, name, "input", i, &inputs_[i], &im.in_types[i]));
    input_signatures_[i] = inputs_[i].shape;
    const char* tname = nullptr;
    if (declared.ok() && api->LiteRtGetTensorName(t, &tname) == kLiteRtStatusOk && tname) {
      for (const DeclaredInput& d : *declared) {
        if (d.name != tname || d.shape.size() != inputs_[i].shape.size()) continue;
        input_signatures_[i] = d.shape;
        break;
      }
    }
  }
  std::vector<std::vector<int64_t>> shapes;
  EDGERUN_RETURN_IF_ERROR(ResolveInputShapes(options_.input_shapes, inputs_, input_signatures_, &shapes));
  for (LiteRtParamIndex i = 0; i < nout; ++i) {
    LiteRtTensor t = nullptr;
    const char* name = nullptr;
    api->LiteRtGetSignatureOutputName(sig, i, &name);
    if (api->LiteRtGetSignatureOutputTensorByIndex(sig, i, &t) != kLiteRtStatusOk)
      return ModelError("cannot read output " + std::to_string(i));
    EDGERUN_RETURN_IF_ERROR(
        TensorInfoFrom(api, t, name, "output", i, &outputs_[i], &im.out_types[i]));
  }

  // A model compiled for the Edge TPU fails clearly here, not at run time.
  if (!im.accel || im.accel->plugins().empty())
    EDGERUN_RETURN_IF_ERROR(runtime::CheckModelNeedsNoDelegate(ops, bytes_->origin()));

  // Compile (in an accelerator session, recording what the delegate plugins
  // do). A stateful model is warmed up on a throwaway compilation so the
  // warm-up run does not advance the state the user will observe.
  auto compile = [&]() -> Expected<LiteRtCompiledModel> {
    if (!im.accel) return Compile(api, env, im.model, threads_, options_.profile);
    im.report = runtime::CompileReport();
    runtime::ReportScope scope(&im.report);
    auto c = Compile(api, env, im.model, threads_, options_.profile, im.accel->hardware());
    if (!c.ok()) return im.accel->CompileFailure(im.report, c.status());
    Status claims = im.accel->CheckClaims(im.report, ops, bytes_->origin());
    if (!claims.ok()) {
      api->LiteRtDestroyCompiledModel(*c);
      return claims;
    }
    return c;
  };
  auto load_error = [&](const Status& s) {
    return im.accel && s.code() == Code::kInferenceError ? im.accel->WarmupFailure(im.report, s)
                                                         : AsLoadError(s);
  };
  // A dynamic input the caller gave no shape for: its failure says which input
  // and how to pass input_shapes=.
  std::vector<bool> defaulted(inputs_.size(), false);
  auto shape_error = [&](const Status& s) -> Status {
    std::string dynamic, example;
    for (size_t i = 0; i < inputs_.size(); ++i) {
      if (!shapes[i].empty() || !defaulted[i]) continue;
      if (example.empty()) {
        example = "'" + inputs_[i].name + "': [";
        for (size_t d = 0; d < input_signatures_[i].size(); ++d)
          example += (d ? ", " : "") + (input_signatures_[i][d] < 0 ? std::string("N") : std::to_string(input_signatures_[i][d]));
        example += "]";
      }
      std::vector<int64_t> ones = inputs_[i].shape;
      for (int64_t& d : ones) d = d < 0 ? 1 : d;
      dynamic += (dynamic.empty() ? "" : "; ") + Describe("input", i, inputs_[i]) + " has dynamic shape " +
                 ShapeString(input_signatures_[i]) + " (tried as " + ShapeString(ones) + ")";
    }
    if (dynamic.empty()) return load_error(s);
    return ModelError(dynamic + ", and the model cannot run like that; give the shapes it runs with: "
                      "Session(model, input_shapes={" + example +
                      "}) (by name or index; resize_input() changes them later). The runtime said: " + s.message());
  };
  auto prepare = [&]() -> Status {
    Status st = ApplyInputShapes(shapes, &defaulted);
    if (st.ok()) st = AllocateBuffers();
    return st;
  };
  if (stateful_) {
    auto scratch = compile();
    if (!scratch.ok()) return scratch.status();
    im.compiled = *scratch;
    Status warm = prepare();
    if (warm.ok()) warm = RunLocked({});
    im.DestroyBuffers();
    api->LiteRtDestroyCompiledModel(im.compiled);
    im.compiled = nullptr;
    if (!warm.ok()) return warm.code() == Code::kInputError ? warm : shape_error(warm);
  }
  auto compiled = compile();
  if (!compiled.ok()) return compiled.status();
  im.compiled = *compiled;
  Status alloc = prepare();
  if (!alloc.ok()) return alloc.code() == Code::kInputError ? alloc : shape_error(alloc);
  if (!stateful_) {
    // Warm-up: surfaces unresolved custom ops and kernel failures here and not
    // at the first frame, and takes the one-time costs (weight packing).
    Status warm = RunLocked({});
    if (!warm.ok()) return shape_error(warm);
    for (auto& b : input_blocks_) std::memset(b->data(), 0, b->capacity());
  }
  run_count_ = 0;
  if (options_.profile) {
    // Started after the warm-up, so its one-time costs are not in the profile.
    LiteRtStatus ps = api->LiteRtCompiledModelGetProfiler(im.compiled, &im.profiler);
    if (ps != kLiteRtStatusOk || im.profiler == nullptr)
      return RuntimeError("profile=True: the runtime made no profiler for this model (" + LiteRtStatusName(ps) +
                          "; it was compiled with enable_profiling = true)");
    api->LiteRtResetProfiler(im.profiler);
    ps = api->LiteRtStartProfiler(im.profiler);
    if (ps != kLiteRtStatusOk) return RuntimeError("profile=True: starting the profiler failed (" + LiteRtStatusName(ps) + ")");
    profiled_runs_ = 0;
  }
  return Status::Ok();
}

Expected<Profile> Session::TakeProfile() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!impl_ || !impl_->compiled) return ClosedError("the session is closed");
  Impl& im = *impl_;
  if (!im.profiler)
    return InputError("this session records no profile: create it with Session(..., profile=True)");
  const LiteRtApi* api = im.api;
  int n = 0;
  LiteRtStatus st = api->LiteRtGetNumProfilerEvents(im.profiler, &n);
  if (st != kLiteRtStatusOk || n < 0)
    return InferenceError("cannot read the profiler's event count (" + LiteRtStatusName(st) + ")");
  std::vector<EdgerunProfiledEvent> raw;
  try {  // the runtime copies its events through a std::vector of its own: bad_alloc must not escape
    raw.resize(static_cast<size_t>(n));
    if (n > 0) {
      std::memset(raw.data(), 0, raw.size() * sizeof(EdgerunProfiledEvent));
      st = api->LiteRtGetProfilerEvents(im.profiler, n, raw.data());
    }
  } catch (...) {
    return InferenceError("reading the profiler's " + std::to_string(n) + " events failed (out of memory)");
  }
  if (st != kLiteRtStatusOk) return InferenceError("cannot read the profiler's events (" + LiteRtStatusName(st) + ")");
  Profile out;
  out.runs = profiled_runs_;
  out.events.reserve(raw.size());
  for (const EdgerunProfiledEvent& e : raw) {
    ProfileEvent ev;
    switch (e.event_type) {
      case kEdgerunProfileEventOperator: ev.kind = ProfileEvent::Kind::kOperator; break;
      case kEdgerunProfileEventDelegateOperator:
      case kEdgerunProfileEventDelegateProfiledOperator: ev.kind = ProfileEvent::Kind::kDelegateOperator; break;
      case kEdgerunProfileEventDefault:
      case kEdgerunProfileEventRuntimeInstrumentation: ev.kind = ProfileEvent::Kind::kRuntime; break;
      default: continue;  // telemetry: a sentinel, not a duration
    }
    ev.name = e.tag ? e.tag : "";
    if (ev.kind != ProfileEvent::Kind::kRuntime && e.metadata1 <= static_cast<uint64_t>(INT64_MAX))
      ev.node = static_cast<int64_t>(e.metadata1);
    ev.start_us = e.start_timestamp_us;
    ev.elapsed_us = e.elapsed_time_us;
    out.events.push_back(std::move(ev));
  }
  // The tags copied above were the profiler's. Resetting also stops it (2.3.0): start again.
  api->LiteRtResetProfiler(im.profiler);
  st = api->LiteRtStartProfiler(im.profiler);
  if (st != kLiteRtStatusOk) return InferenceError("restarting the profiler failed (" + LiteRtStatusName(st) + ")");
  profiled_runs_ = 0;
  return out;
}

// Resizes the inputs of a fresh compilation: the shapes given (non-empty
// entries), else each dynamic dimension the runtime still reports as -1 set to 1.
Status Session::ApplyInputShapes(const std::vector<std::vector<int64_t>>& shapes, std::vector<bool>* defaulted) {
  Impl& im = *impl_;
  defaulted->assign(inputs_.size(), false);
  for (size_t i = 0; i < inputs_.size(); ++i) {
    std::vector<int64_t> target = i < shapes.size() ? shapes[i] : std::vector<int64_t>();
    if (target.empty()) {
      LiteRtLayout layout;
      std::memset(&layout, 0, sizeof(layout));
      if (im.api->LiteRtGetCompiledModelInputTensorLayout(im.compiled, signature_index_, i, &layout) !=
          kLiteRtStatusOk)
        continue;
      // A dimension still dynamic in the compiled model (-1) becomes 1. One the
      // model declares dynamic but the runtime already sized (LiteRT uses the
      // tensor's `shape`, 1 in exported models) stays as it is, but is noted
      // for the error message should the model fail to run at that size.
      bool dynamic = false, unsized = false;
      for (uint32_t d = 0; d < layout.rank; ++d) unsized |= layout.dimensions[d] < 0;
      for (int64_t d : input_signatures_[i]) dynamic |= d < 0;
      (*defaulted)[i] = dynamic || unsized;
      if (!unsized) continue;
      target.assign(layout.dimensions, layout.dimensions + layout.rank);
      for (int64_t& d : target) d = d < 0 ? 1 : d;
    }
    std::vector<int> dims(target.begin(), target.end());
    LiteRtStatus st = im.api->LiteRtCompiledModelResizeInputTensorNonStrict(im.compiled, signature_index_, i,
                                                                          dims.data(), dims.size());
    if (st != kLiteRtStatusOk) {
      std::string errors = im.TakeErrors();
      return ModelError(Describe("input", i, inputs_[i]) + ": the runtime cannot resize it to " +
                        ShapeString(target) + " (" + LiteRtStatusName(st) + ")" +
                        (errors.empty() ? "" : ": " + errors));
    }
  }
  return Status::Ok();
}

Status Session::AllocateBuffers() {
  Impl& im = *impl_;
  const LiteRtApi* api = im.api;
  im.DestroyBuffers();
  const size_t nin = inputs_.size(), nout = outputs_.size();
  im.in_buffers.assign(nin, nullptr);
  im.out_buffers.assign(nout, nullptr);
  im.ext_buffers.assign(nin * Impl::kExtSlots, nullptr);
  im.ext_addrs.assign(nin * Impl::kExtSlots, nullptr);
  im.ext_next.assign(nin, 0);
  input_blocks_.resize(nin);
  output_blocks_.resize(nout);

  // Current shapes as the compiled model sees them (resizes included).
  std::vector<LiteRtLayout> out_layouts(nout);
  if (nout > 0) {
    std::memset(out_layouts.data(), 0, sizeof(LiteRtLayout) * nout);
    LiteRtStatus st = api->LiteRtGetCompiledModelOutputTensorLayouts(
        im.compiled, signature_index_, nout, out_layouts.data(), /*update_allocation=*/true);
    if (st != kLiteRtStatusOk) {
      std::string errors = im.TakeErrors();
      return InferenceError("cannot query output shapes: " + LiteRtStatusName(st) +
                            (errors.empty() ? "" : ": " + errors));
    }
  }
  auto make = [&](bool is_input, size_t i) -> Status {
    TensorInfo& info = is_input ? inputs_[i] : outputs_[i];
    LiteRtRankedTensorType& type = is_input ? im.in_types[i] : im.out_types[i];
    if (is_input) {
      LiteRtLayout layout;
      std::memset(&layout, 0, sizeof(layout));
      if (api->LiteRtGetCompiledModelInputTensorLayout(im.compiled, signature_index_, i, &layout) ==
          kLiteRtStatusOk)
        type.layout = layout;
    } else {
      type.layout = out_layouts[i];
    }
    info.shape.assign(type.layout.dimensions, type.layout.dimensions + type.layout.rank);
    for (int64_t d : info.shape)
      if (d < 0)
        return InputError(Describe(is_input ? "input" : "output", i, info) + " has dynamic shape " +
                          ShapeString(info.shape) + "; call resize_input() with a concrete shape");
    const int64_t elements = Product(info.shape);
    if (elements < 0)
      return ModelError(Describe(is_input ? "input" : "output", i, info) + " has shape " + ShapeString(info.shape) +
                        ": more than 2^31 elements");
    info.nbytes = static_cast<size_t>(elements) * DTypeSize(info.dtype);
    LiteRtTensorBufferRequirements req = nullptr;
    size_t need = info.nbytes, align = AlignedBlock::kAlignment;
    LiteRtStatus st = is_input
        ? api->LiteRtGetCompiledModelInputBufferRequirements(im.compiled, signature_index_, i, &req)
        : api->LiteRtGetCompiledModelOutputBufferRequirements(im.compiled, signature_index_, i, &req);
    if (st == kLiteRtStatusOk && req) {
      size_t s = 0, a = 0;
      if (api->LiteRtGetTensorBufferRequirementsBufferSize(req, &s) == kLiteRtStatusOk) need = std::max(need, s);
      if (api->LiteRtGetTensorBufferRequirementsAlignment(req, &a) == kLiteRtStatusOk) align = std::max(align, a);
    }
    if (align > AlignedBlock::kAlignment)
      return RuntimeError("the runtime asks for " + std::to_string(align) +
                          "-byte aligned buffers; edgerun provides 64");
    auto& blocks = is_input ? input_blocks_ : output_blocks_;
    if (!blocks[i] || blocks[i]->size() != need) {
      blocks[i] = AlignedBlock::Allocate(need);
      if (!blocks[i]) return InternalError("out of memory allocating " + std::to_string(need) + " bytes");
    }
    LiteRtTensorBuffer& buf = is_input ? im.in_buffers[i] : im.out_buffers[i];
    st = api->LiteRtCreateTensorBufferFromHostMemory(&type, blocks[i]->data(), need, nullptr, &buf);
    if (st != kLiteRtStatusOk)
      return RuntimeError("cannot create the buffer of " +
                          Describe(is_input ? "input" : "output", i, info) + ": " +
                          LiteRtStatusName(st));
    return Status::Ok();
  };
  for (size_t i = 0; i < nin; ++i) EDGERUN_RETURN_IF_ERROR(make(true, i));
  for (size_t i = 0; i < nout; ++i) EDGERUN_RETURN_IF_ERROR(make(false, i));
  return Status::Ok();
}

std::vector<OpPlacement> Session::placement() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!impl_ || !impl_->model) return {};
  const Impl& im = *impl_;
  return runtime::Placement(runtime::ListModelOps(im.api, im.model), im.accel.get(),
                            im.accel ? &im.report : nullptr);
}

Expected<size_t> Session::InputIndex(const std::string& name) const {
  for (size_t i = 0; i < inputs_.size(); ++i)
    if (inputs_[i].name == name) return i;
  std::string names;
  for (auto& t : inputs_) names += (names.empty() ? "'" : ", '") + t.name + "'";
  return InputError("the model has no input named '" + name + "'; its inputs are " + names);
}

Expected<size_t> Session::OutputIndex(const std::string& name) const {
  for (size_t i = 0; i < outputs_.size(); ++i)
    if (outputs_[i].name == name) return i;
  std::string names;
  for (auto& t : outputs_) names += (names.empty() ? "'" : ", '") + t.name + "'";
  return InputError("the model has no output named '" + name + "'; its outputs are " + names);
}

std::vector<TensorInfo> Session::InputInfos() const {
  std::lock_guard<std::mutex> lock(mu_);
  return inputs_;
}

std::vector<TensorInfo> Session::OutputInfos() const {
  std::lock_guard<std::mutex> lock(mu_);
  return outputs_;
}

std::pair<std::shared_ptr<AlignedBlock>, TensorInfo> Session::InputBuffer(size_t i) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (i >= inputs_.size()) return {nullptr, TensorInfo()};
  return {input_blocks_[i], inputs_[i]};
}

Status Session::Run(const std::vector<HostArray>& arrays, std::vector<OutputDest>* copies,
                    OutputBlocks* views) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!impl_ || !impl_->compiled) return ClosedError("the session is closed");
  if (copies) {
    if (copies->size() != outputs_.size())
      return InputError("expected " + std::to_string(outputs_.size()) + " output destination(s), got " +
                        std::to_string(copies->size()));
    // The destinations were sized from shapes read before this lock was taken:
    // a resize on another thread in between would make the copy overflow them.
    for (size_t i = 0; i < outputs_.size(); ++i)
      if ((*copies)[i].data && (*copies)[i].shape != outputs_[i].shape)
        return BusyError(Describe("output", i, outputs_[i]) + " is now " + ShapeString(outputs_[i].shape) +
                         ", the destination was made for " + ShapeString((*copies)[i].shape) +
                         " (resize_input() ran on another thread); nothing was run");
  }
  Status s = RunLocked(arrays);
  if (!s.ok()) return s;
  ++run_count_;
  ++profiled_runs_;
  if (copies) {
    for (size_t i = 0; i < outputs_.size(); ++i)
      if ((*copies)[i].data) std::memcpy((*copies)[i].data, output_blocks_[i]->data(), outputs_[i].nbytes);
  }
  if (views) {
    views->blocks = output_blocks_;
    views->info = outputs_;
  }
  return s;
}

Status Session::RunLocked(const std::vector<HostArray>& arrays) {
  Impl& im = *impl_;
  const LiteRtApi* api = im.api;
  const size_t nin = inputs_.size();
  if (!arrays.empty() && arrays.size() != nin)
    return InputError("the model takes " + std::to_string(nin) + " input(s), got " +
                      std::to_string(arrays.size()) + " array(s)");
  // Small fixed buffers avoid a heap allocation per run for typical models.
  LiteRtTensorBuffer in_small[8];
  std::vector<LiteRtTensorBuffer> in_large;
  LiteRtTensorBuffer* ins = in_small;
  if (nin > 8) {
    in_large.resize(nin);
    ins = in_large.data();
  }
  for (size_t i = 0; i < nin; ++i) {
    ins[i] = im.in_buffers[i];
    if (arrays.empty() || arrays[i].data == nullptr) continue;
    const HostArray& a = arrays[i];
    const TensorInfo& info = inputs_[i];
    if (a.dtype != info.dtype || a.shape != info.shape) {
      const std::string got = (a.dtype_name.empty() ? DTypeName(a.dtype) : a.dtype_name.c_str()) +
                              ShapeString(a.shape);
      return InputError(Describe("input", i, info) + ": expected " + DTypeName(info.dtype) +
                        ShapeString(info.shape) + ", got " + got +
                        (a.dtype != info.dtype ? " (edgerun never casts silently; convert with "
                                                 ".astype(np." + std::string(DTypeName(info.dtype)) + "))"
                                               : ""));
    }
    if (a.byte_strides.size() != a.shape.size())
      return InputError(Describe("input", i, info) + ": strides do not match the shape");
    const size_t itemsize = DTypeSize(info.dtype);
    const bool aligned = reinterpret_cast<uintptr_t>(a.data) % AlignedBlock::kAlignment == 0;
    if (aligned && IsCContiguous(a, itemsize)) {
      // Zero-copy: hand the caller's memory to the runtime.
      const size_t base = i * Impl::kExtSlots;
      size_t e = base;
      while (e < base + Impl::kExtSlots && im.ext_addrs[e] != a.data) ++e;
      if (e == base + Impl::kExtSlots) {
        e = base + im.ext_next[i];
        im.ext_next[i] = (im.ext_next[i] + 1) % Impl::kExtSlots;
        if (im.ext_buffers[e]) api->LiteRtDestroyTensorBuffer(im.ext_buffers[e]);
        im.ext_buffers[e] = nullptr;
        im.ext_addrs[e] = nullptr;
        LiteRtStatus st = api->LiteRtCreateTensorBufferFromHostMemory(
            &im.in_types[i], const_cast<void*>(a.data), info.nbytes, nullptr, &im.ext_buffers[e]);
        if (st != kLiteRtStatusOk) {
          im.ext_buffers[e] = nullptr;
          // Fall back to one copy rather than failing.
          std::memcpy(input_blocks_[i]->data(), a.data, info.nbytes);
          ++copied_inputs_;
          continue;
        }
        im.ext_addrs[e] = a.data;
      }
      ins[i] = im.ext_buffers[e];
      ++zero_copy_inputs_;
    } else if (IsCContiguous(a, itemsize)) {
      std::memcpy(input_blocks_[i]->data(), a.data, info.nbytes);
      ++copied_inputs_;
    } else {
      StridedCopy(a, itemsize, static_cast<uint8_t*>(input_blocks_[i]->data()));
      ++copied_inputs_;
    }
  }
  LiteRtStatus st;
  try {  // (zero cost unless thrown) a runtime exception must not escape a pipeline worker
    st = api->LiteRtRunCompiledModel(im.compiled, signature_index_, nin, ins, im.out_buffers.size(),
                                     im.out_buffers.data());
  } catch (const std::bad_alloc&) {
    return InferenceError("the runtime ran out of memory running the model");
  } catch (const std::exception& e) {
    return InferenceError(std::string("the runtime threw while running the model: ") + e.what());
  } catch (...) {
    return InferenceError("the runtime threw a C++ exception while running the model");
  }
  if (st != kLiteRtStatusOk) {
    std::string errors = im.TakeErrors();
    return InferenceError((signature_names_.empty() ? std::string("running the model")
                                                    : "running signature '" + signature_keys_[signature_index_] + "'") +
                          " failed (" + LiteRtStatusName(st) + ")" +
                          (errors.empty() ? "" : ": " + errors));
  }
  return Status::Ok();
}

Status Session::ResizeInput(size_t i, const std::vector<int64_t>& shape) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!impl_ || !impl_->compiled) return ClosedError("the session is closed");
  if (i >= inputs_.size())
    return InputError("input index " + std::to_string(i) + " is out of range; the model has " +
                      std::to_string(inputs_.size()) + " input(s)");
  TensorInfo& info = inputs_[i];
  if (shape.size() != info.shape.size())
    return InputError(Describe("input", i, info) + ": cannot resize to " + ShapeString(shape) +
                      ", the rank must stay " + std::to_string(info.shape.size()) + " (" +
                      ShapeString(info.shape) + ")");
  std::vector<int> dims;
  for (int64_t d : shape) {
    if (d <= 0 || d > (int64_t(1) << 30))
      return InputError(Describe("input", i, info) + ": invalid dimension " + std::to_string(d) +
                        " in " + ShapeString(shape));
    dims.push_back(static_cast<int>(d));
  }
  if (shape == info.shape) return Status::Ok();
  // Views of this input would keep pointing at memory the runtime no longer
  // reads; refuse instead of silently running on stale data.
  const long users = input_blocks_[i].use_count() - 1;
  if (users > 0)
    return BusyError(Describe("input", i, info) + ": " + std::to_string(users) +
                     " view(s) of its buffer are alive (from session.input()); delete them "
                     "before resize_input() replaces the buffer");
  Impl& im = *impl_;
  LiteRtStatus st = im.api->LiteRtCompiledModelResizeInputTensorNonStrict(
      im.compiled, signature_index_, i, dims.data(), dims.size());
  if (st != kLiteRtStatusOk) {
    std::string errors = im.TakeErrors();
    return InputError(Describe("input", i, info) + ": the runtime cannot resize it to " +
                      ShapeString(shape) + " (" + LiteRtStatusName(st) + ")" +
                      (errors.empty() ? "" : ": " + errors));
  }
  // Output views from earlier runs keep their (old) blocks alive; new blocks
  // are allocated where sizes change.
  input_blocks_[i].reset();
  return AllocateBuffers();
}

}  // namespace edgerun
