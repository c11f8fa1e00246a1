// edgerun::Session: one compiled model, its session-owned I/O buffers, and a
// run() that involves no copy when the caller writes into those buffers.
//
// Thread safety: every public method may be called from any thread; calls that
// touch the runtime are serialized by the session's own mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "edgerun/accelerators.h"
#include "edgerun/status.h"
#include "edgerun/tensor.h"

namespace edgerun {

// 64-byte aligned heap memory, shared between a session and the zero-copy
// views handed out of it (a view keeps its block alive after the session).
class AlignedBlock {
 public:
  static constexpr size_t kAlignment = 64;
  static std::shared_ptr<AlignedBlock> Allocate(size_t size);  // zero-filled, tail-padded
  ~AlignedBlock();
  AlignedBlock(const AlignedBlock&) = delete;
  AlignedBlock& operator=(const AlignedBlock&) = delete;

  void* data() const { return data_; }
  size_t size() const { return size_; }          // usable bytes requested
  size_t capacity() const { return capacity_; }  // allocated bytes (>= size, multiple of 64)

 private:
  AlignedBlock() = default;
  void* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

// Model bytes that stay valid for the lifetime of everything built from them:
// a read-only file mapping, or an owned aligned copy of caller bytes.
class ModelBytes {
 public:
  static Expected<std::shared_ptr<ModelBytes>> MapFile(const std::string& path);
  static Expected<std::shared_ptr<ModelBytes>> Copy(const void* data, size_t size);
  ~ModelBytes();
  ModelBytes(const ModelBytes&) = delete;
  ModelBytes& operator=(const ModelBytes&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& origin() const { return origin_; }  // path or "<bytes>"
  bool mapped() const { return mapped_; }  // a read-only file mapping (else an owned copy)

 private:
  ModelBytes() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  std::shared_ptr<AlignedBlock> owned_;
  std::string origin_;
};

// Where Run() copies one output (see Session::Run).
struct OutputDest {
  void* data = nullptr;          // nullptr: skip this output
  std::vector<int64_t> shape;    // the shape the caller allocated `data` for
};

// The session's output buffers and their descriptions as one run left them,
// taken under the session lock (consistent even if another thread resizes).
struct OutputBlocks {
  std::vector<std::shared_ptr<AlignedBlock>> blocks;
  std::vector<TensorInfo> info;
};

// The shape one input gets before the first run (models with dynamic, -1,
// dimensions): by signature name (non-empty) or index (>= 0, or negative from the end).
struct InputShape {
  std::string name;
  int index = -1;
  std::vector<int64_t> shape;
};

struct SessionOptions {
  // CPU threads (>= 1); unset: one per physical core available to the process
  // (one thread in all with two cores or fewer; see DefaultThreadCount).
  std::optional<int> threads;
  // "cpu" (XNNPACK), "edgetpu" (libedgetpu.so.1; accelerator_options such as
  // {"device", "usb:0"} go to it), "gpu" (the LiteRT GPU accelerator).
  std::string accelerator = "cpu";
  KeyValues accelerator_options;
  // Delegate plugins, applied in this order before the CPU (see accelerators.h).
  std::vector<DelegateSpec> delegates;
  // "cpu": when the accelerator or a delegate is unavailable (DelegateError),
  // run on the CPU instead if the model can; fallback_reason() says why.
  std::string fallback;
  std::string signature;            // signature key; empty: use signature_index
  int signature_index = 0;
  bool verify = true;               // verify the flatbuffer before the runtime sees it
  // Resized before the warm-up run. A dynamic input not named here gets each
  // -1 dimension set to 1; if the model cannot run like that, Create() fails
  // with a ModelError naming the input and how to give its shape.
  std::vector<InputShape> input_shapes;
  // Record per-operator times with the runtime's profiler (Session::TakeProfile).
  // Costs time on every run: for measuring where time goes, not for latency.
  bool profile = false;
};

// One event of the runtime's profiler (SessionOptions::profile).
struct ProfileEvent {
  enum class Kind {
    kOperator,          // a model operator run by the runtime's own kernel (outside any delegate)
    kDelegateOperator,  // an operator inside a delegate (XNNPACK reports its own operator names)
    kRuntime,           // a runtime span around operators: "invoke", "Invoke", "LiteRT::Run[...]"
  };
  std::string name;     // builtin operator name ("CONV_2D"), delegate operator or span name
  Kind kind = Kind::kRuntime;
  int64_t node = -1;    // operators: node index (a delegate's own index for delegate operators)
  uint64_t start_us = 0;    // runtime clock; 0 where the runtime does not record it
  uint64_t elapsed_us = 0;
};

struct Profile {
  std::vector<ProfileEvent> events;
  uint64_t runs = 0;    // Run() calls these events come from
};

// A caller-owned array handed to Run(): any strides, exact dtype and shape.
struct HostArray {
  const void* data = nullptr;
  DType dtype = DType::kUnknown;
  std::string dtype_name;           // as the caller spells it, for messages
  std::vector<int64_t> shape;
  std::vector<int64_t> byte_strides;  // one per dim
};

// What a session's memory is made of, as far as it can be known.
struct SessionMemory {
  size_t model_bytes = 0;   // the model's bytes (a file mapping or an owned copy)
  bool model_mapped = false;
  size_t io_bytes = 0;      // the session-owned input/output buffers (allocated bytes)
  // Resident set growth of the process while the session was verified,
  // compiled and warmed up (-1: /proc/self/statm unreadable). Process-wide:
  // exact only when no other thread allocated meanwhile; memory that an
  // earlier, freed allocation left in the allocator does not show up.
  int64_t load_rss_bytes = -1;
};

// The process's resident set size in bytes (/proc/self/statm), -1 if unknown.
int64_t ResidentBytes();

class Session {
 public:
  // Verifies, loads, compiles and warms up the model. Fails with ModelError for
  // a bad model, InferenceError if the warm-up run fails, RuntimeError if the
  // LiteRT runtime is unavailable, DelegateError if an accelerator or delegate
  // cannot be used (or the model needs one it was not given, e.g. a model
  // compiled for the Edge TPU).
  static Expected<std::unique_ptr<Session>> Create(std::shared_ptr<ModelBytes> model,
                                                   const SessionOptions& options);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Descriptions of the inputs/outputs. The references are for code that owns
  // the session alone (ResizeInput() changes shapes in place); code that may
  // race with ResizeInput() on another thread takes the locked copies.
  const std::vector<TensorInfo>& inputs() const { return inputs_; }
  const std::vector<TensorInfo>& outputs() const { return outputs_; }
  std::vector<TensorInfo> InputInfos() const;
  std::vector<TensorInfo> OutputInfos() const;
  // Input i's buffer with its current description, under the lock.
  std::pair<std::shared_ptr<AlignedBlock>, TensorInfo> InputBuffer(size_t i) const;
  // Signature keys; empty for a model without SignatureDefs (the runtime's
  // stand-in key, "<placeholder signature>", is never reported).
  const std::vector<std::string>& signatures() const { return signature_names_; }
  // The key of the signature in use ("" for a model without SignatureDefs).
  const std::string& signature() const { return signature_names_.empty() ? kNoSignature : signature_keys_[signature_index_]; }
  // The model's input shapes as declared, -1 for a dynamic dimension.
  const std::vector<std::vector<int64_t>>& input_shape_signatures() const { return input_signatures_; }
  int threads() const { return threads_; }
  bool stateful() const { return stateful_; }
  // The accelerator in use ("cpu" after a fallback) and, after a fallback to
  // the CPU, why the requested one could not be used ("" otherwise).
  const std::string& accelerator() const { return options_.accelerator; }
  const std::string& fallback_reason() const { return fallback_reason_; }
  // Which operators run where (see OpPlacement).
  std::vector<OpPlacement> placement() const;
  const ModelBytes& model_bytes() const { return *bytes_; }
  std::shared_ptr<ModelBytes> model_bytes_ptr() const { return bytes_; }
  // The options the session runs with (accelerator "cpu" after a fallback).
  const SessionOptions& options() const { return options_; }

  // Index of an input/output by signature name; InputError naming the choices.
  Expected<size_t> InputIndex(const std::string& name) const;
  Expected<size_t> OutputIndex(const std::string& name) const;

  // The session-owned buffers. Writing into input_block(i)->data() and calling
  // Run() with no arrays runs on that memory without any copy.
  std::shared_ptr<AlignedBlock> input_block(size_t i) const { return input_blocks_[i]; }
  std::shared_ptr<AlignedBlock> output_block(size_t i) const { return output_blocks_[i]; }

  // Runs the model. `arrays` empty: run on the session's input buffers.
  // Otherwise one entry per input (nullptr data = keep the session buffer).
  // An array that is C-contiguous and 64-byte aligned is handed to the runtime
  // as is; any other array of the right dtype/shape is copied once.
  // `copies`, when given, has one entry per output: the outputs are copied
  // there before the session lock is released, so concurrent callers each get
  // their own results. Each entry's shape must be the output's current shape
  // (checked under the lock before running: BusyError if ResizeInput() changed
  // it meanwhile; nothing ran, the caller may re-read the shapes and retry).
  // `views`, when given, receives the output buffers and shapes this run
  // wrote, taken under the same lock.
  Status Run(const std::vector<HostArray>& arrays = {}, std::vector<OutputDest>* copies = nullptr,
             OutputBlocks* views = nullptr);

  // Changes the shape of input i (for models with dynamic dimensions); output
  // shapes are re-queried. Fails with BusyError while a view of input i is
  // alive (the memory would be replaced under it).
  Status ResizeInput(size_t i, const std::vector<int64_t>& shape);

  SessionMemory memory() const;

  // The profiler's events of the runs since the last call (or since the
  // warm-up), in the order recorded, and how many runs that was; the profiler
  // is then cleared. Telemetry events (no duration) are left out.
  // InputError when the session was not created with SessionOptions::profile.
  Expected<Profile> TakeProfile();

  // Number of runs since creation (the warm-up excluded).
  uint64_t run_count() const { return run_count_; }
  // Caller arrays passed to Run(): how many were handed to the runtime as is
  // (zero-copy) and how many were copied into the session buffer.
  uint64_t zero_copy_inputs() const { return zero_copy_inputs_; }
  uint64_t copied_inputs() const { return copied_inputs_; }

  struct Impl;

 private:
  Session() = default;
  static Expected<std::unique_ptr<Session>> CreateOnce(std::shared_ptr<ModelBytes> model,
                                                       const SessionOptions& options);
  Status Build();
  Status AllocateBuffers();
  Status ApplyInputShapes(const std::vector<std::vector<int64_t>>& shapes, std::vector<bool>* defaulted);
  Status RunLocked(const std::vector<HostArray>& arrays);

  std::shared_ptr<ModelBytes> bytes_;
  SessionOptions options_;
  std::string fallback_reason_;
  int threads_ = 1;
  bool stateful_ = false;
  size_t signature_index_ = 0;
  std::vector<std::string> signature_keys_;   // as the runtime reports them
  std::vector<std::string> signature_names_;  // the model's SignatureDefs (none: empty)
  std::vector<std::vector<int64_t>> input_signatures_;
  static const std::string kNoSignature;
  std::vector<TensorInfo> inputs_;
  std::vector<TensorInfo> outputs_;
  std::vector<std::shared_ptr<AlignedBlock>> input_blocks_;
  std::vector<std::shared_ptr<AlignedBlock>> output_blocks_;
  uint64_t run_count_ = 0;
  uint64_t zero_copy_inputs_ = 0;
  uint64_t copied_inputs_ = 0;
  uint64_t profiled_runs_ = 0;
  int64_t load_rss_bytes_ = -1;
  mutable std::mutex mu_;
  std::unique_ptr<Impl> impl_;
};

// One thread per physical core available to this process (affinity-aware);
// 1 when that is two or fewer (measured: docs/power.md).
int DefaultThreadCount();

}  // namespace edgerun
