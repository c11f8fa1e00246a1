// edgerun::Pipeline: camera frame -> preprocessed input -> invoke -> decoded
// result, synchronously or pipelined on worker threads, with hot model swap.
//
// Asynchronous mode runs two C++ threads: the invoke thread runs the model
// back to back; the aux thread preprocesses the next frame and decodes the
// previous one meanwhile. Frames go through a small ring of slots, each with
// its own 64-byte aligned input buffer (handed to the runtime without a copy)
// and output buffers (filled under the session lock), so stages never share
// memory. No Python here: frames are described by preprocess::Image (the
// caller keeps the pixels alive until TakeReleased() lists the frame).
//
// Hot swap: Swap() verifies, compiles and warms up the new model on its own
// thread while frames keep flowing, checks it against the Preprocessor and
// binds the head; only then does it become current, between two frames (a
// frame uses the model that was current when its preprocessing started). A
// model that fails any step is reported through the SwapTicket and the old
// model keeps running.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "edgerun/change_gate.h"
#include "edgerun/options.h"
#include "edgerun/postprocess.h"
#include "edgerun/preprocess.h"
#include "edgerun/session.h"
#include "edgerun/status.h"

namespace edgerun {

enum class DropPolicy : int { kOldest = 0, kNone = 1 };  // names: "oldest", "none"

// Checked by Pipeline::Create, the only place (the Python API passes its
// keywords through); these member initializers are the only defaults.
struct PipelineOptions {
  // Frames that may wait for the engine (submitted, preprocessing not yet
  // started). When the queue is full, kOldest discards the oldest waiting
  // frame (counted as dropped), kNone makes Submit() wait.
  int depth = 2;  // >= 1
  DropPolicy drop = DropPolicy::kOldest;
  // Results kept for the caller. kOldest: beyond this the oldest unread
  // result is discarded (PipelineStats::results_discarded). kNone: Submit()
  // fails with BusyError while unread results + frames in flight reach it.
  int max_results = 256;  // >= 1
  size_t input_index = 0;  // the model input the Preprocessor writes
  // Asynchronous mode: kOn overlaps preprocessing/decoding (one thread) with
  // inference (another); kOff runs the stages in turn on one worker; kAuto
  // overlaps only when the session's threads leave a core free.
  enum class Overlap : int { kAuto = 0, kOn, kOff };
  Overlap overlap = Overlap::kAuto;
  // Frame-rate governor: at most this many frames start per second (0: no
  // limit). The workers sleep until the next frame may start (no spinning);
  // asynchronous frames arriving faster wait in the queue, where `drop`
  // applies; the synchronous Process() sleeps before it starts.
  double max_fps = 0;  // >= 0, finite
  // Change gate: a frame whose luma thumbnail (see change_gate.h) differs from
  // the one of the last frame that ran by at most gate_threshold (largest
  // cell difference, 0..255) reuses that frame's result instead of running;
  // after gate_max_skip frames in a row reused, the next one runs anyway.
  bool gate = false;
  int gate_threshold = 8;   // 0..254
  int gate_max_skip = 30;   // >= 1
};

// What a caller decides for one frame (the cascade form of the gate: a cheap
// model decided whether this one needs to run).
enum class GateForce : int {
  kNone = 0,  // the change gate decides (always run without a gate)
  kSkip,      // reuse the last result if allowed (a result exists, same model, max_skip not reached)
  kRun,       // run
};

// The cascade form decided by the caller's code (a cheap model and a
// predicate): called for every frame that arrives with GateForce::kNone, on
// the thread that prepares it (a worker for Submit(), the caller for
// Process()), before anything else is done with the frame; its answer is that
// frame's GateForce (kNone: the change gate, if any, decides). An error fails
// the frame. The image is valid during the call.
using GateFunction = std::function<Expected<GateForce>(const preprocess::Image& image, uint64_t frame_id)>;

struct FrameTimings {  // milliseconds
  double queue = 0, preprocess = 0, invoke = 0, decode = 0, total = 0;
  double gate = 0;  // the gate's decision: thumbnail, GateFunction (included in preprocess)
};

struct FrameResult {
  uint64_t frame_id = 0;
  uint64_t model = 0;        // generation of the model that produced it (1 = first)
  Status status;             // not ok: this frame failed (the pipeline goes on)
  bool decoded = false;      // `result` holds the head's output
  postprocess::Result result;
  // Without a head: the raw outputs (copies owned by the result).
  std::vector<std::shared_ptr<AlignedBlock>> outputs;
  std::vector<TensorInfo> output_info;
  preprocess::Transform transform;
  FrameTimings timings;
  // The gate reused the result of frame `reused_frame_id` (nothing ran). Its
  // raw `outputs` are then the gate's kept copy of that frame's outputs,
  // shared by every frame that reuses it (not copied per frame): read them,
  // do not write into them.
  bool skipped = false;
  uint64_t reused_frame_id = 0;
  int gate_difference = -1;  // thumbnail difference to the reference (-1: not computed)
};

struct PipelineStats {
  uint64_t submitted = 0, completed = 0, failed = 0, dropped = 0, results_discarded = 0;
  uint64_t swaps = 0, swap_failures = 0, model = 0;
  size_t window = 0;  // results the percentiles/FPS below are computed over
  double latency_p50 = 0, latency_p90 = 0, latency_p99 = 0;  // ms, submit -> result
  double invoke_p50 = 0, preprocess_p50 = 0, decode_p50 = 0;  // ms
  double fps = 0;  // results per second over the window
  // Energy proxy, since the pipeline was created: CPU time of the whole process
  // (every thread: the caller's, ours, the runtime's), of this pipeline's
  // worker threads, and context switches of the process (wake-up proxy).
  double wall_s = 0, cpu_s = 0, worker_cpu_s = 0;
  uint64_t voluntary_switches = 0, involuntary_switches = 0;
  uint64_t frames = 0;  // results produced (completed + failed, skipped included)
  // Change gate decisions.
  uint64_t gate_ran = 0, gate_skipped = 0;
  uint64_t gate_changed = 0, gate_forced = 0, gate_first = 0;  // why frames ran
  double gate_p50 = 0;  // ms, thumbnail + decision, over the window
};

// The outcome of a Swap(), available once the new model is current or has failed.
class SwapTicket {
 public:
  // Waits up to timeout_s (< 0: forever); false if not done yet.
  bool Wait(double timeout_s) const;
  bool done() const;
  Status status() const;     // meaningful once done()
  uint64_t model() const;    // generation of the new model once done() and ok
  std::shared_ptr<Session> session() const;  // its session once done() and ok

 private:
  friend class Pipeline;
  void Finish(Status st, uint64_t model, std::shared_ptr<Session> session = nullptr);
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool done_ = false;
  Status status_;
  uint64_t model_ = 0;
  std::shared_ptr<Session> session_;
};

class Pipeline {
 public:
  // `head` may be null (results carry the raw outputs). Checks that the
  // Preprocessor can write the model's input and that the head binds.
  // `gate` (optional): see GateFunction.
  static Expected<std::unique_ptr<Pipeline>> Create(std::shared_ptr<Session> session,
                                                    std::shared_ptr<preprocess::Preprocessor> pre,
                                                    std::shared_ptr<postprocess::Head> head,
                                                    const PipelineOptions& options, GateFunction gate = nullptr);
  ~Pipeline();  // Close()
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Synchronous: preprocess, run and decode `image` on the calling thread.
  // A frame error is returned in out->status (the returned Status is for
  // pipeline-level errors such as ClosedError).
  Status Process(const preprocess::Image& image, FrameResult* out, GateForce force = GateForce::kNone);

  // Asynchronous: queues the frame and returns its id. The image memory must
  // stay valid until TakeReleased() lists the id. Waits only with DropPolicy::kNone
  // while the queue is full. ClosedError after Close().
  Expected<uint64_t> Submit(const preprocess::Image& image, GateForce force = GateForce::kNone);
  // Records a frame that failed before it could be queued (e.g. a bad array):
  // its result, carrying `error`, is delivered in order like any other.
  Expected<uint64_t> SubmitError(Status error);
  // The next result; waits up to timeout_s (< 0: forever). Returns false on
  // timeout. ClosedError once closed and every result has been taken.
  Expected<bool> Get(double timeout_s, FrameResult* out);
  // Frames whose pixels are no longer needed: (frame id, dropped?); dropped
  // also covers results discarded unread (listed again with true).
  std::vector<std::pair<uint64_t, bool>> TakeReleased();
  // Frames submitted and not yet delivered as results (nor dropped).
  size_t InFlight() const;

  // Loads `model` with the current session's options in the background and
  // makes it current between two frames. Swaps apply in the order requested.
  std::shared_ptr<SwapTicket> Swap(std::shared_ptr<ModelBytes> model);
  std::shared_ptr<SwapTicket> Swap(std::shared_ptr<Session> session);

  // The current model and its session.
  uint64_t model() const;
  // The oldest model generation a frame still uses: frames being prepared,
  // invoked or decoded and results not yet taken (the current generation when
  // none is older). Generations below it will never appear in a result again,
  // so a caller may forget what it keeps about them.
  uint64_t OldestModelInUse() const;
  std::shared_ptr<Session> session() const;
  PipelineStats Stats() const;

  // Processes the frames already queued, stops the workers and joins every
  // thread (pending swaps finish loading but are not applied). Idempotent.
  void Close();
  bool closed() const { return closed_.load(); }
  // Whether asynchronous frames overlap stages on two threads (see Overlap).
  bool overlapped() const { return overlap_; }

  struct Model;  // a session bound to the preprocessor and the head
  struct Slot;

 private:
  Pipeline() = default;
  static Expected<std::shared_ptr<Model>> Bind(std::shared_ptr<Session> session,
                                               const preprocess::Preprocessor& pre,
                                               const postprocess::Head* head,
                                               const PipelineOptions& options, uint64_t generation);
  void StartWorkers();
  void InvokeLoop();
  void AuxLoop();
  void SerialLoop();
  void TakeAndPrepare(Slot* slot, std::unique_lock<std::mutex>* lock);
  std::shared_ptr<SwapTicket> StartSwap(std::shared_ptr<ModelBytes> bytes, std::shared_ptr<Session> session);
  void SwapWorker(std::shared_ptr<ModelBytes> bytes, std::shared_ptr<Session> session,
                  std::shared_ptr<SwapTicket> ticket);
  // Stages shared by Process() and the workers.
  // `thumb`: the frame's thumbnail if already computed (Submit), else null.
  Status Prepare(Slot* slot, const preprocess::Image& image, GateForce force, const LumaThumbnail* thumb = nullptr);
  // skip_only: decide only if the frame is skipped (the state is left as it is otherwise).
  void GateDecide(Slot* slot, const preprocess::Image& image, GateForce force, const LumaThumbnail* thumb = nullptr,
                  bool skip_only = false);
  void GateReuse(Slot* slot, FrameResult* out);  // a skipped frame's result
  void GateKeep(Slot* slot, const FrameResult& out);  // a frame that ran: its result becomes the reference
  void WaitForStart(std::unique_lock<std::mutex>* lock);  // max_fps
  Status Invoke(Slot* slot);
  void InvokeAndDecode(Slot* slot, FrameResult* out);  // the serial stages after Prepare
  void Decode(Slot* slot, FrameResult* out);
  void DecodeRun(Slot* slot, FrameResult* out);
  void Deliver(FrameResult&& r);  // under mu_: record + queue
  void Record(FrameResult* r);    // under mu_: counters and stats rings
  struct Pending;
  uint64_t Enqueue(Pending&& p, std::unique_lock<std::mutex>* lock);  // assigns the id

  PipelineOptions options_;
  GateFunction gate_fn_;  // set once by Create
  std::shared_ptr<preprocess::Preprocessor> pre_;
  std::shared_ptr<postprocess::Head> head_;

  mutable std::mutex mu_;
  std::condition_variable cv_;         // the aux/serial worker: new frames, invoked slots, stop
  std::condition_variable invoke_cv_;  // the invoke thread: prepared slots, stop
  std::condition_variable room_cv_;    // Submit() waiting for room (drop none)
  std::condition_variable result_cv_;  // Get() waiting for a result or the end
  std::shared_ptr<Model> current_;
  uint64_t next_frame_ = 1;
  uint64_t next_generation_ = 2;
  struct Pending {
    uint64_t id = 0;
    preprocess::Image image;
    Status error;        // not ok: the frame failed before it was queued
    int64_t t_submit = 0;  // steady clock, ns
    GateForce force = GateForce::kNone;
    bool have_thumb = false;  // the change gate's thumbnail, computed by Submit() on the caller's thread
    LumaThumbnail thumb;
    double thumb_ms = 0;
  };
  std::deque<Pending> pending_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::deque<FrameResult> results_;
  std::vector<std::pair<uint64_t, bool>> released_;
  size_t in_flight_ = 0;
  bool stopping_ = false;
  bool overlap_ = true;
  std::atomic<bool> closed_{false};
  PipelineStats counters_;
  std::vector<double> lat_ring_, inv_ring_, pre_ring_, dec_ring_, done_ring_, gate_ring_;
  size_t ring_pos_ = 0, ring_fill_ = 0;

  // max_fps: when the next frame may start (steady clock ns), under mu_ (sync_mu_ for Process()).
  int64_t next_start_ = 0, sync_next_start_ = 0;
  // Energy accounting: the process's clocks when the pipeline was created;
  // worker threads' CPU clocks (valid while they run) and final CPU time.
  int64_t t_created_ = 0;
  double cpu_created_ = 0;
  uint64_t nvcsw_created_ = 0, nivcsw_created_ = 0;
  struct WorkerClock;
  std::vector<std::shared_ptr<WorkerClock>> worker_clocks_;  // fixed once started

  // Change gate state, under gate_mu_ (taken by whichever thread prepares or decodes).
  mutable std::mutex gate_mu_;
  LumaThumbnail gate_ref_;
  bool gate_have_ref_ = false;
  uint64_t gate_ref_frame_ = 0, gate_ref_model_ = 0;
  int gate_run_length_ = 0;  // frames reused in a row since the reference ran
  std::shared_ptr<FrameResult> gate_last_;  // the result of the last frame that ran (once decoded)
  PipelineStats gate_counts_;  // only the gate_* counters

  std::mutex sync_mu_;           // Process() calls are serialized
  std::unique_ptr<Slot> sync_slot_;
  std::unique_ptr<Slot> submit_slot_;  // Submit() deciding a skip on the caller's thread, under mu_

  std::mutex swap_mu_;           // swaps load one at a time, in order
  std::mutex swap_threads_mu_;
  struct SwapThread {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<SwapThread> swap_threads_;  // finished ones are joined at the next Swap()
  std::thread invoke_thread_, aux_thread_;
};

template <> const NameTable& NamesOf<DropPolicy>();  // drop: oldest, none

}  // namespace edgerun
