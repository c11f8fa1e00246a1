// edgerun::Pipeline (see edgerun/pipeline.h).
#include "edgerun/pipeline.h"

#include <pthread.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>
#include <utility>

namespace edgerun {

namespace pp = preprocess;

namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double Ms(int64_t ns) { return static_cast<double>(ns) * 1e-6; }

std::chrono::steady_clock::time_point SteadyAt(int64_t ns) {
  return std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::nanoseconds(ns)));
}

double ClockSeconds(clockid_t id) {
  timespec ts{};
  if (clock_gettime(id, &ts) != 0) return -1.0;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Context switches of the whole process (every thread, finished ones included).
void ProcessSwitches(uint64_t* voluntary, uint64_t* involuntary) {
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) != 0) return;
  *voluntary = static_cast<uint64_t>(ru.ru_nvcsw);
  *involuntary = static_cast<uint64_t>(ru.ru_nivcsw);
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  const double f = pos - static_cast<double>(lo);
  return v[lo] * (1.0 - f) + v[hi] * f;
}

constexpr size_t kRing = 512;    // results the stats are computed over
constexpr size_t kSlots = 4;     // invoking, prepared, invoked, decoding

}  // namespace

// A session bound to the Preprocessor and the head: what one frame needs.
struct Pipeline::Model {
  std::shared_ptr<Session> session;
  std::shared_ptr<const postprocess::Decoder> decoder;  // null without a head
  uint64_t generation = 0;
  size_t input_index = 0;
  size_t num_inputs = 0;
  TensorInfo input;
  HostArray input_array;  // dense description of `input`; data set per slot
  std::vector<TensorInfo> outputs;
  pp::ElemType elem = pp::ElemType::kFloat32;
  int width = 0, height = 0, channels = 3;
  float scale = 1.0f;
  int zero_point = 0;
};

// The CPU clock of one worker thread: read from any thread while it runs,
// its final value once it has finished.
struct Pipeline::WorkerClock {
  std::mutex mu;
  bool running = false;
  clockid_t clock{};
  double final_s = 0;
  void Start() {
    std::lock_guard<std::mutex> lock(mu);
    running = pthread_getcpuclockid(pthread_self(), &clock) == 0;
  }
  void Stop() {
    const double s = ClockSeconds(CLOCK_THREAD_CPUTIME_ID);
    std::lock_guard<std::mutex> lock(mu);
    final_s = s > 0 ? s : 0;
    running = false;
  }
  double Seconds() {
    std::lock_guard<std::mutex> lock(mu);  // the thread cannot finish (Stop) while this reads its clock
    if (!running) return final_s;
    const double s = ClockSeconds(clock);
    return s >= 0 ? s : final_s;
  }
};

struct Pipeline::Slot {
  enum class State { kFree, kPreparing, kPrepared, kInvoking, kInvoked, kDecoding };
  State state = State::kFree;
  std::shared_ptr<Model> model;
  uint64_t frame_id = 0;
  Status status;  // a failure of this frame (delivered with its result)
  // Change gate: whether it decided about this frame, and whether the frame reuses frame reuse_id's result.
  bool gated = false;
  bool skip = false;
  uint64_t reuse_id = 0;
  int gate_difference = -1;
  std::shared_ptr<AlignedBlock> in;
  std::vector<std::shared_ptr<AlignedBlock>> outs;
  pp::Transform transform;
  FrameTimings timings;
  int64_t t_submit = 0;

  // Buffers at least as large as model `m` needs, decided by size alone (a
  // model's address says nothing once models come and go with hot swaps).
  Status EnsureBuffers(const Model& m) {
    if (!in || in->size() < m.input.nbytes) {
      in = AlignedBlock::Allocate(m.input.nbytes);
      if (!in) return InternalError("out of memory for a " + std::to_string(m.input.nbytes) + "-byte input buffer");
    }
    outs.resize(m.outputs.size());
    for (size_t i = 0; i < m.outputs.size(); ++i) {
      const size_t n = std::max<size_t>(m.outputs[i].nbytes, 1);
      if (!outs[i] || outs[i]->size() < n) {
        outs[i] = AlignedBlock::Allocate(n);
        if (!outs[i]) return InternalError("out of memory for output buffers");
      }
    }
    return Status::Ok();
  }
};

// ---------------------------------------------------------------------------
// SwapTicket
// ---------------------------------------------------------------------------
bool SwapTicket::Wait(double timeout_s) const {
  std::unique_lock<std::mutex> lock(mu_);
  if (timeout_s < 0) {
    cv_.wait(lock, [&] { return done_; });
    return true;
  }
  return cv_.wait_for(lock, std::chrono::duration<double>(timeout_s), [&] { return done_; });
}

bool SwapTicket::done() const {
  std::lock_guard<std::mutex> lock(mu_);
  return done_;
}

Status SwapTicket::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

uint64_t SwapTicket::model() const {
  std::lock_guard<std::mutex> lock(mu_);
  return model_;
}

std::shared_ptr<Session> SwapTicket::session() const {
  std::lock_guard<std::mutex> lock(mu_);
  return session_;
}

void SwapTicket::Finish(Status st, uint64_t model, std::shared_ptr<Session> session) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = std::move(st);
    model_ = model;
    session_ = std::move(session);
    done_ = true;
  }
  cv_.notify_all();
}

// ---------------------------------------------------------------------------
// Binding a session to the preprocessor and head
// ---------------------------------------------------------------------------
Expected<std::shared_ptr<Pipeline::Model>> Pipeline::Bind(std::shared_ptr<Session> session,
                                                          const pp::Preprocessor& pre,
                                                          const postprocess::Head* head,
                                                          const PipelineOptions& options,
                                                          uint64_t generation) {
  if (!session) return InputError("no session");
  auto m = std::make_shared<Model>();
  m->session = session;
  m->generation = generation;
  const std::vector<TensorInfo> ins = session->InputInfos();  // locked copies: the caller may resize it
  m->num_inputs = ins.size();
  if (options.input_index >= ins.size())
    return InputError("the pipeline feeds input " + std::to_string(options.input_index) +
                      " but the model has " + std::to_string(ins.size()) + " input(s)");
  m->input_index = options.input_index;
  m->input = ins[options.input_index];
  m->outputs = session->OutputInfos();
  const TensorInfo& t = m->input;
  const pp::Spec& spec = pre.spec();
  const int want_c = spec.channels == pp::Channels::kGray ? 1 : 3;
  const bool nchw = spec.layout == pp::Layout::kNCHW;
  std::vector<int64_t> s = t.shape;
  if (s.size() == 4 && s[0] == 1) s.erase(s.begin());
  int64_t h = -1, w = -1, c = -1;
  if (s.size() == 3) {
    if (nchw) c = s[0], h = s[1], w = s[2];
    else h = s[0], w = s[1], c = s[2];
  }
  const std::string which = "input " + std::to_string(options.input_index) + " ('" + t.name + "')";
  if (c != want_c || h <= 0 || w <= 0 || h > (1 << 16) || w > (1 << 16)) {
    const std::string cs = std::to_string(want_c);
    return InputError(which + ": the Preprocessor (channels='" + pp::Name(spec.channels) + "', layout='" +
                      pp::Name(spec.layout) + "') writes an image of shape " +
                      (nchw ? "(1, " + cs + ", H, W)" : "(1, H, W, " + cs + ")") + ", the model's input has shape " +
                      ShapeTupleString(t.shape));
  }
  m->width = static_cast<int>(w);
  m->height = static_cast<int>(h);
  m->channels = static_cast<int>(c);
  HostArray& a = m->input_array;
  a.dtype = t.dtype;
  a.shape = t.shape;
  a.byte_strides.assign(a.shape.size(), 0);
  int64_t stride = static_cast<int64_t>(DTypeSize(a.dtype));
  for (size_t d = a.shape.size(); d-- > 0;) {
    a.byte_strides[d] = stride;
    stride *= a.shape[d];
  }
  switch (t.dtype) {
    case DType::kFloat32: m->elem = pp::ElemType::kFloat32; break;
    case DType::kFloat16: m->elem = pp::ElemType::kFloat16; break;
    case DType::kUInt8: m->elem = pp::ElemType::kUInt8; break;
    case DType::kInt8: m->elem = pp::ElemType::kInt8; break;
    default:
      return InputError(which + ": the Preprocessor writes float32, float16, uint8 or int8; the model's input is " +
                        DTypeName(t.dtype));
  }
  if (m->elem == pp::ElemType::kUInt8 || m->elem == pp::ElemType::kInt8) {
    // Unquantized integer inputs take the normalized value as is (scale 1).
    m->scale = t.scale > 0 ? t.scale : 1.0f;
    m->zero_point = static_cast<int>(t.zero_point);
  }
  if (head) {
    auto d = head->Bind(ins, m->outputs);
    if (!d.ok()) return Status(d.status().code(), "the head " + head->Describe() + " cannot decode this model: " +
                                                      d.status().message());
    m->decoder = std::move(d).value();
  }
  return m;
}

namespace {
const char* const kDropNames[] = {"oldest", "none"};
}  // namespace

template <>
const NameTable& NamesOf<DropPolicy>() {
  static constexpr NameTable t{"drop", kDropNames, 2};
  return t;
}

// ---------------------------------------------------------------------------
// Creation, workers, shutdown
// ---------------------------------------------------------------------------
Expected<std::unique_ptr<Pipeline>> Pipeline::Create(std::shared_ptr<Session> session,
                                                     std::shared_ptr<pp::Preprocessor> pre,
                                                     std::shared_ptr<postprocess::Head> head,
                                                     const PipelineOptions& options, GateFunction gate) {
  if (!pre) return InputError("a Pipeline needs a Preprocessor");
  if (options.depth < 1) return InputError("depth: expected an int >= 1, got " + std::to_string(options.depth));
  EDGERUN_RETURN_IF_ERROR(CheckOption(options.drop));
  if (options.max_results < 1)
    return InputError("max_results: expected an int >= 1, got " + std::to_string(options.max_results));
  if (static_cast<unsigned>(options.overlap) > static_cast<unsigned>(PipelineOptions::Overlap::kOff))
    return InputError("overlap: expected auto, on or off, got " + std::to_string(static_cast<int>(options.overlap)));
  if (!(options.max_fps >= 0) || !std::isfinite(options.max_fps))
    return InputError("max_fps: expected a finite number of frames per second >= 0 (0: no limit), got " +
                      std::to_string(options.max_fps));
  if (options.gate_threshold < 0 || options.gate_threshold > 254)
    return InputError("gate threshold: expected an int in 0..254 (largest luma change of a thumbnail cell that "
                      "still counts as unchanged), got " + std::to_string(options.gate_threshold));
  if (options.gate_max_skip < 1)
    return InputError("gate max_skip: expected an int >= 1 (frames in a row that may reuse a result), got " +
                      std::to_string(options.gate_max_skip));
  auto model = Bind(std::move(session), *pre, head.get(), options, 1);
  if (!model.ok()) return model.status();
  std::unique_ptr<Pipeline> p(new Pipeline());
  p->options_ = options;
  p->gate_fn_ = std::move(gate);
  p->pre_ = std::move(pre);
  p->head_ = std::move(head);
  p->current_ = std::move(model).value();
  p->counters_.model = 1;
  for (size_t i = 0; i < kSlots; ++i) p->slots_.push_back(std::make_unique<Slot>());
  p->sync_slot_ = std::make_unique<Slot>();
  p->submit_slot_ = std::make_unique<Slot>();
  for (auto* r : {&p->lat_ring_, &p->inv_ring_, &p->pre_ring_, &p->dec_ring_, &p->done_ring_, &p->gate_ring_})
    r->assign(kRing, 0.0);
  p->t_created_ = NowNs();
  p->cpu_created_ = ClockSeconds(CLOCK_PROCESS_CPUTIME_ID);
  ProcessSwitches(&p->nvcsw_created_, &p->nivcsw_created_);
  p->StartWorkers();
  return p;
}

void Pipeline::StartWorkers() {
  bool overlap = options_.overlap == PipelineOptions::Overlap::kOn;
  if (options_.overlap == PipelineOptions::Overlap::kAuto) {
    // Overlapping preprocessing/decoding with inference needs a core that the
    // runtime's threads do not already occupy: when they take every core, the
    // extra thread preempts one of them and stalls the whole parallel operator
    // (measured on 2 cores with XNNPACK on 2 threads: 0.85 / invoke overlapped,
    // ~0.96 / invoke serial). Then one worker does the stages in turn.
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    overlap = static_cast<unsigned>(current_->session->threads()) < cores;
  }
  overlap_ = overlap;
  auto a = std::make_shared<WorkerClock>();
  worker_clocks_.push_back(a);
  if (overlap) {
    auto b = std::make_shared<WorkerClock>();
    worker_clocks_.push_back(b);
    invoke_thread_ = std::thread([this, a] { a->Start(); InvokeLoop(); a->Stop(); });
    aux_thread_ = std::thread([this, b] { b->Start(); AuxLoop(); b->Stop(); });
  } else {
    invoke_thread_ = std::thread([this, a] { a->Start(); SerialLoop(); a->Stop(); });
  }
}

void Pipeline::TakeAndPrepare(Slot* s, std::unique_lock<std::mutex>* lock) {
  // Called with mu_ held and a frame pending; returns with mu_ held again.
  Pending p = std::move(pending_.front());
  pending_.pop_front();
  s->state = Slot::State::kPreparing;
  s->model = current_;
  s->frame_id = p.id;
  s->t_submit = p.t_submit;
  s->timings = FrameTimings();
  s->gated = false;  // an error frame skips Prepare: no stale gate decision of the slot's last frame
  s->skip = false;
  s->gate_difference = -1;
  lock->unlock();
  room_cv_.notify_one();  // room in the queue for a waiting Submit()
  const int64_t t0 = NowNs();
  s->timings.queue = Ms(t0 - p.t_submit);
  s->status = p.error.ok() ? Prepare(s, p.image, p.force, p.have_thumb ? &p.thumb : nullptr) : p.error;
  s->timings.preprocess = Ms(NowNs() - t0);
  if (p.have_thumb) {  // computed by Submit()
    s->timings.gate += p.thumb_ms;
    s->timings.preprocess += p.thumb_ms;
  }
  lock->lock();
  if (p.error.ok()) released_.emplace_back(p.id, false);
}

void Pipeline::WaitForStart(std::unique_lock<std::mutex>* lock) {
  // mu_ held. Schedules the next start (max_fps); the caller checked that
  // now >= next_start_ (or the pipeline is stopping).
  (void)lock;
  if (options_.max_fps <= 0) return;
  const int64_t period = static_cast<int64_t>(1e9 / options_.max_fps);
  const int64_t now = NowNs();
  // Keep the schedule while frames keep up with it; after a gap, start afresh.
  const int64_t base = (next_start_ != 0 && now - next_start_ < period) ? next_start_ : now;
  next_start_ = base + period;
}

void Pipeline::SerialLoop() {
  Slot* s = slots_[0].get();
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (pending_.empty()) {
      if (stopping_) break;
      cv_.wait(lock);
      continue;
    }
    if (options_.max_fps > 0 && !stopping_ && NowNs() < next_start_) {
      cv_.wait_until(lock, SteadyAt(next_start_));  // sleeps; newer frames may replace the waiting one
      continue;
    }
    WaitForStart(&lock);
    TakeAndPrepare(s, &lock);
    lock.unlock();
    FrameResult r;
    InvokeAndDecode(s, &r);
    lock.lock();
    Deliver(std::move(r));
    s->state = Slot::State::kFree;
    s->model.reset();
  }
}

Pipeline::~Pipeline() { Close(); }

void Pipeline::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  invoke_cv_.notify_all();
  room_cv_.notify_all();
  result_cv_.notify_all();
  if (invoke_thread_.joinable()) invoke_thread_.join();
  if (aux_thread_.joinable()) aux_thread_.join();
  std::vector<SwapThread> swaps;
  {
    std::lock_guard<std::mutex> lock(swap_threads_mu_);
    swaps.swap(swap_threads_);
  }
  for (auto& t : swaps)
    if (t.thread.joinable()) t.thread.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  result_cv_.notify_all();
}

// ---------------------------------------------------------------------------
// Stages
// ---------------------------------------------------------------------------
Status Pipeline::Prepare(Slot* slot, const pp::Image& image, GateForce force, const LumaThumbnail* thumb) {
  const Model& m = *slot->model;
  slot->gated = false;
  slot->skip = false;
  slot->reuse_id = 0;
  slot->gate_difference = -1;
  const int64_t t0 = NowNs();
  if (gate_fn_ && force == GateForce::kNone) {
    Expected<GateForce> f = gate_fn_(image, slot->frame_id);
    if (!f.ok()) {
      slot->timings.gate = Ms(NowNs() - t0);
      return f.status();
    }
    force = *f;
  }
  if (options_.gate || force != GateForce::kNone) {
    GateDecide(slot, image, force, thumb);
    slot->timings.gate = Ms(NowNs() - t0);
    if (slot->skip) return Status::Ok();  // nothing to preprocess or run
  }
  EDGERUN_RETURN_IF_ERROR(slot->EnsureBuffers(m));
  pp::Output o;
  o.data = slot->in->data();
  o.type = m.elem;
  o.width = m.width;
  o.height = m.height;
  o.channels = m.channels;
  o.bytes = m.input.nbytes;
  o.scale = m.scale;
  o.zero_point = m.zero_point;
  auto t = pre_->Run(image, o);
  if (!t.ok()) return t.status();
  slot->transform = *t;
  return Status::Ok();
}

Status Pipeline::Invoke(Slot* slot) {
  const Model& m = *slot->model;
  std::vector<HostArray> arrays(m.num_inputs);  // other inputs: the session's own buffers
  arrays[m.input_index] = m.input_array;
  arrays[m.input_index].data = slot->in->data();
  // Shapes as bound: if the session was resized since (by its owner, on
  // another thread), Run() refuses (BusyError) instead of overflowing `outs`.
  std::vector<OutputDest> dst(m.outputs.size());
  for (size_t i = 0; i < dst.size(); ++i) {
    dst[i].data = slot->outs[i]->data();
    dst[i].shape = m.outputs[i].shape;
  }
  return m.session->Run(arrays, &dst);
}

void Pipeline::InvokeAndDecode(Slot* slot, FrameResult* out) {
  // slot->timings holds queue and preprocess; invoke, decode and (as the
  // submit time, for Record) total are filled in here.
  const int64_t t1 = NowNs();
  if (slot->status.ok() && !slot->skip) slot->status = Invoke(slot);
  const int64_t t2 = NowNs();
  slot->timings.invoke = Ms(t2 - t1);
  Decode(slot, out);
  out->timings = slot->timings;
  out->timings.decode = Ms(NowNs() - t2);
  out->timings.total = Ms(slot->t_submit);
}

void Pipeline::Decode(Slot* slot, FrameResult* out) {
  const Model& m = *slot->model;
  out->frame_id = slot->frame_id;
  out->model = m.generation;
  out->transform = slot->transform;
  out->status = slot->status;
  out->decoded = false;
  out->result.Clear();
  out->outputs.clear();
  out->output_info.clear();
  out->skipped = false;
  out->reused_frame_id = 0;
  out->gate_difference = slot->gate_difference;
  if (slot->gated && slot->skip && slot->status.ok()) {
    GateReuse(slot, out);
    return;
  }
  DecodeRun(slot, out);
  if (slot->gated) GateKeep(slot, *out);
}

void Pipeline::DecodeRun(Slot* slot, FrameResult* out) {
  const Model& m = *slot->model;
  if (!slot->status.ok()) return;
  if (m.decoder) {
    std::vector<const void*> ptrs(m.outputs.size());
    for (size_t i = 0; i < ptrs.size(); ++i) ptrs[i] = slot->outs[i]->data();
    Status st = m.decoder->Decode(ptrs, &slot->transform, &out->result);
    if (!st.ok()) {
      out->status = st;
      return;
    }
    out->decoded = true;
  } else {
    // The result takes the slot's output buffers; the slot gets new ones.
    out->outputs = slot->outs;
    out->output_info = m.outputs;
    slot->outs.clear();
  }
}

void Pipeline::Deliver(FrameResult&& r) {
  // mu_ held.
  Record(&r);
  if (options_.drop == DropPolicy::kOldest && results_.size() >= static_cast<size_t>(options_.max_results)) {
    // Real-time policy: the oldest unread result goes. (With kNone, Submit()
    // refuses new frames instead, so no result is ever lost.)
    released_.emplace_back(results_.front().frame_id, true);  // the caller forgets its meta
    results_.pop_front();
    ++counters_.results_discarded;
  }
  results_.push_back(std::move(r));
  result_cv_.notify_one();
}

void Pipeline::Record(FrameResult* r) {
  // mu_ held. On entry timings.total holds the submit time in ms.
  const double now = Ms(NowNs());
  r->timings.total = now - r->timings.total;
  if (r->status.ok()) {
    ++counters_.completed;
  } else {
    ++counters_.failed;
  }
  lat_ring_[ring_pos_] = r->timings.total;
  inv_ring_[ring_pos_] = r->timings.invoke;
  pre_ring_[ring_pos_] = r->timings.preprocess;
  dec_ring_[ring_pos_] = r->timings.decode;
  gate_ring_[ring_pos_] = r->timings.gate;
  done_ring_[ring_pos_] = now;
  ring_pos_ = (ring_pos_ + 1) % kRing;
  ring_fill_ = std::min(ring_fill_ + 1, kRing);
  if (in_flight_ > 0) --in_flight_;
}

// ---------------------------------------------------------------------------
// Synchronous path
// ---------------------------------------------------------------------------
Status Pipeline::Process(const pp::Image& image, FrameResult* out, GateForce force) {
  std::lock_guard<std::mutex> sync(sync_mu_);
  Slot* slot = sync_slot_.get();
  if (options_.max_fps > 0) {
    // Governor: sleep (never spin) until this frame may start.
    const int64_t period = static_cast<int64_t>(1e9 / options_.max_fps);
    int64_t now = NowNs();
    if (now < sync_next_start_) {
      std::this_thread::sleep_until(SteadyAt(sync_next_start_));
      now = NowNs();
    }
    const int64_t base = (sync_next_start_ != 0 && now - sync_next_start_ < period) ? sync_next_start_ : now;
    sync_next_start_ = base + period;
  }
  const int64_t t0 = NowNs();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return ClosedError("the pipeline is closed");
    slot->model = current_;
    slot->frame_id = next_frame_++;
    ++counters_.submitted;
    ++in_flight_;
  }
  slot->t_submit = t0;
  slot->timings = FrameTimings();
  slot->status = Prepare(slot, image, force);
  slot->timings.preprocess = Ms(NowNs() - t0);
  InvokeAndDecode(slot, out);
  {
    // The synchronous caller gets its result directly: statistics only.
    std::lock_guard<std::mutex> lock(mu_);
    Record(out);
  }
  slot->model.reset();
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Asynchronous path
// ---------------------------------------------------------------------------
Expected<uint64_t> Pipeline::Submit(const pp::Image& image, GateForce force) {
  // The change gate's thumbnail is computed here, on the caller's thread (the
  // frame is read once, whoever decides). When nothing is in flight and the
  // frame is skipped, its result is delivered from here: no worker thread is
  // woken for a frame that runs nothing.
  Pending p;
  const bool thumb_here = options_.gate && force == GateForce::kNone && !gate_fn_;
  if (thumb_here) {
    const int64_t t0 = NowNs();
    p.have_thumb = ComputeLumaThumbnail(image, pre_->spec().format, &p.thumb).ok();
    p.thumb_ms = Ms(NowNs() - t0);
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) return ClosedError("the pipeline is closed");
  if (options_.drop == DropPolicy::kNone && results_.size() + in_flight_ >= static_cast<size_t>(options_.max_results))
    return BusyError(std::to_string(results_.size()) + " results wait unread and " + std::to_string(in_flight_) +
                     " frames are in flight (max_results=" + std::to_string(options_.max_results) +
                     "): read results with get()/results() (e.g. from another thread), or raise max_results; "
                     "drop='none' never discards a result");
  const size_t depth = static_cast<size_t>(options_.depth);
  if (pending_.size() >= depth) {
    if (options_.drop == DropPolicy::kOldest) {
      while (pending_.size() >= depth) {
        released_.emplace_back(pending_.front().id, true);
        pending_.pop_front();
        ++counters_.dropped;
        if (in_flight_ > 0) --in_flight_;
      }
    } else {
      room_cv_.wait(lock, [&] { return stopping_ || pending_.size() < depth; });
      if (stopping_) return ClosedError("the pipeline was closed while the frame waited for room");
    }
  }
  if (p.have_thumb && in_flight_ == 0 && pending_.empty() && options_.max_fps <= 0 &&
      results_.size() < static_cast<size_t>(options_.max_results)) {
    // Nothing in flight: the last frame that ran has been decoded and kept.
    Slot* s = submit_slot_.get();
    s->model = current_;
    s->frame_id = next_frame_;
    s->status = Status::Ok();
    s->skip = false;
    s->gate_difference = -1;
    GateDecide(s, image, GateForce::kNone, &p.thumb, /*skip_only=*/true);
    if (s->skip) {
      const uint64_t id = next_frame_++;
      ++counters_.submitted;
      ++in_flight_;
      FrameResult r;
      Decode(s, &r);
      r.timings = FrameTimings();
      r.timings.gate = r.timings.preprocess = p.thumb_ms;
      r.timings.total = Ms(NowNs()) - p.thumb_ms;  // Record() turns this into submit -> result
      released_.emplace_back(id, false);
      Deliver(std::move(r));
      s->model.reset();
      return id;
    }
    s->model.reset();
  }
  p.image = image;
  p.force = force;
  return Enqueue(std::move(p), &lock);
}

uint64_t Pipeline::Enqueue(Pending&& p, std::unique_lock<std::mutex>* lock) {
  // mu_ held on entry, released on return.
  p.id = next_frame_++;
  p.t_submit = NowNs();
  const uint64_t id = p.id;
  pending_.push_back(std::move(p));
  ++counters_.submitted;
  ++in_flight_;
  lock->unlock();
  cv_.notify_all();
  return id;
}

Expected<uint64_t> Pipeline::SubmitError(Status error) {
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) return ClosedError("the pipeline is closed");
  // Error frames are never dropped and never wait: they cost nothing.
  Pending p;
  p.error = error.ok() ? InternalError("SubmitError without an error") : std::move(error);
  return Enqueue(std::move(p), &lock);
}

void Pipeline::InvokeLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    Slot* next = nullptr;
    bool upstream_busy = !pending_.empty();
    for (auto& s : slots_) {
      if (s->state == Slot::State::kPrepared && (!next || s->frame_id < next->frame_id)) next = s.get();
      if (s->state == Slot::State::kPreparing) upstream_busy = true;
    }
    if (!next) {
      if (stopping_ && !upstream_busy) break;
      invoke_cv_.wait(lock);
      continue;
    }
    next->state = Slot::State::kInvoking;
    lock.unlock();
    const int64_t t0 = NowNs();
    if (next->status.ok() && !next->skip) next->status = Invoke(next);
    next->timings.invoke = Ms(NowNs() - t0);
    lock.lock();
    next->state = Slot::State::kInvoked;
    cv_.notify_all();
  }
}

void Pipeline::AuxLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    Slot* free_slot = nullptr;
    Slot* invoked = nullptr;
    bool have_prepared = false, all_free = true;
    uint64_t oldest_busy = UINT64_MAX;  // the oldest frame prepared or being invoked
    for (auto& s : slots_) {
      switch (s->state) {
        case Slot::State::kFree:
          if (!free_slot) free_slot = s.get();
          break;
        case Slot::State::kPrepared:
        case Slot::State::kInvoking:
          if (s->state == Slot::State::kPrepared) have_prepared = true;
          oldest_busy = std::min(oldest_busy, s->frame_id);
          all_free = false;
          break;
        case Slot::State::kInvoked:
          if (!invoked || s->frame_id < invoked->frame_id) invoked = s.get();
          all_free = false;
          break;
        default:
          all_free = false;
      }
    }
    // Results leave in frame order: a frame that needed no invoke (skipped by
    // the gate, or failed) waits for older frames still at the model.
    if (invoked && invoked->frame_id > oldest_busy) invoked = nullptr;
    // Keep the invoke thread fed first (one prepared frame ahead), then decode.
    bool can_prepare = free_slot && !pending_.empty() && !have_prepared;
    int64_t wake_at = 0;  // max_fps: the next frame may not start before then
    if (can_prepare && options_.max_fps > 0 && !stopping_ && NowNs() < next_start_) {
      can_prepare = false;
      wake_at = next_start_;
    }
    if (can_prepare) {
      Slot* s = free_slot;
      WaitForStart(&lock);
      TakeAndPrepare(s, &lock);
      if (s->skip || !s->status.ok()) {
        // Nothing to invoke: straight to decoding (this thread, next
        // iteration), without waking the invoke thread for it.
        s->state = Slot::State::kInvoked;
        if (stopping_) invoke_cv_.notify_one();  // it may wait for this last frame to finish
      } else {
        s->state = Slot::State::kPrepared;
        invoke_cv_.notify_one();
      }
      continue;
    }
    if (invoked) {
      invoked->state = Slot::State::kDecoding;
      lock.unlock();
      FrameResult r;
      const int64_t t0 = NowNs();
      Decode(invoked, &r);
      r.timings = invoked->timings;
      r.timings.decode = Ms(NowNs() - t0);
      r.timings.total = Ms(invoked->t_submit);
      lock.lock();
      Deliver(std::move(r));
      invoked->state = Slot::State::kFree;  // only this thread waits for free slots
      invoked->model.reset();
      continue;
    }
    if (stopping_ && pending_.empty() && all_free) break;
    if (wake_at != 0) {
      cv_.wait_until(lock, SteadyAt(wake_at));
    } else {
      cv_.wait(lock);
    }
  }
}

Expected<bool> Pipeline::Get(double timeout_s, FrameResult* out) {
  std::unique_lock<std::mutex> lock(mu_);
  auto ready = [&] { return !results_.empty() || (stopping_ && in_flight_ == 0) || closed_.load(); };
  if (timeout_s < 0) {
    result_cv_.wait(lock, ready);
  } else if (!result_cv_.wait_for(lock, std::chrono::duration<double>(timeout_s), ready)) {
    return false;
  }
  if (results_.empty()) return ClosedError("the pipeline is closed and every result has been taken");
  *out = std::move(results_.front());
  results_.pop_front();
  return true;
}

std::vector<std::pair<uint64_t, bool>> Pipeline::TakeReleased() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<uint64_t, bool>> r;
  r.swap(released_);
  return r;
}

size_t Pipeline::InFlight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_flight_;
}

// ---------------------------------------------------------------------------
// Change gate
// ---------------------------------------------------------------------------
void Pipeline::GateDecide(Slot* slot, const pp::Image& image, GateForce force, const LumaThumbnail* given,
                          bool skip_only) {
  // The thumbnail is computed outside the lock; a frame it cannot read (a bad
  // image) simply runs, and preprocessing reports what is wrong with it.
  LumaThumbnail thumb;
  const bool use_thumb = options_.gate && force == GateForce::kNone;
  bool have_thumb = false;
  if (use_thumb && given) {
    thumb = *given;
    have_thumb = true;
  } else if (use_thumb) {
    have_thumb = ComputeLumaThumbnail(image, pre_->spec().format, &thumb).ok();
  }
  const uint64_t generation = slot->model->generation;
  std::lock_guard<std::mutex> lock(gate_mu_);
  slot->gated = true;
  // A result may be reused only from the same model, and only max_skip times in a row.
  const bool have_ref = gate_have_ref_ && gate_ref_model_ == generation;
  const bool may_reuse = have_ref && gate_run_length_ < options_.gate_max_skip;
  bool unchanged = false;
  if (force == GateForce::kSkip) {
    unchanged = true;
  } else if (use_thumb && have_thumb && have_ref) {
    slot->gate_difference = ThumbnailDifference(thumb, gate_ref_);
    unchanged = slot->gate_difference <= options_.gate_threshold;
  }
  if (may_reuse && unchanged) {
    ++gate_run_length_;
    slot->skip = true;
    slot->reuse_id = gate_ref_frame_;
    ++gate_counts_.gate_skipped;
    return;
  }
  if (skip_only) {  // the frame runs: the thread that prepares it decides (and counts) that
    slot->gated = false;
    slot->gate_difference = -1;
    return;
  }
  if (!have_ref) {
    ++gate_counts_.gate_first;
  } else if (unchanged) {
    ++gate_counts_.gate_forced;  // max_skip reached
  } else {
    ++gate_counts_.gate_changed;
  }
  ++gate_counts_.gate_ran;
  if (have_thumb) gate_ref_ = thumb;
  gate_have_ref_ = !use_thumb || have_thumb;
  gate_ref_frame_ = slot->frame_id;
  gate_ref_model_ = generation;
  gate_run_length_ = 0;
}

namespace {
std::vector<std::shared_ptr<AlignedBlock>> CopyBlocks(const std::vector<std::shared_ptr<AlignedBlock>>& in,
                                                      Status* st) {
  std::vector<std::shared_ptr<AlignedBlock>> out;
  out.reserve(in.size());
  for (const auto& b : in) {
    auto c = AlignedBlock::Allocate(std::max<size_t>(b->size(), 1));
    if (!c) {
      *st = InternalError("out of memory for a copy of a reused result");
      return {};
    }
    std::memcpy(c->data(), b->data(), b->size());
    out.push_back(std::move(c));
  }
  return out;
}
}  // namespace

void Pipeline::GateKeep(Slot* slot, const FrameResult& out) {
  // A frame that ran (decoded, in frame order): its result is what the next
  // skipped frames reuse. Raw outputs are copied once: the caller may write
  // into the arrays of the result it gets; skipped frames share the copy.
  auto kept = std::make_shared<FrameResult>();
  kept->frame_id = out.frame_id;
  kept->model = out.model;
  kept->status = out.status;
  kept->decoded = out.decoded;
  kept->result = out.result;
  kept->output_info = out.output_info;
  kept->transform = out.transform;
  if (out.status.ok() && !out.outputs.empty()) {
    Status st;
    kept->outputs = CopyBlocks(out.outputs, &st);
    if (!st.ok()) kept->status = st;
  }
  std::lock_guard<std::mutex> lock(gate_mu_);
  gate_last_ = std::move(kept);
  if (!out.status.ok() && gate_ref_frame_ == slot->frame_id) gate_have_ref_ = false;  // the next frame runs
}

void Pipeline::GateReuse(Slot* slot, FrameResult* out) {
  std::shared_ptr<FrameResult> last;
  {
    std::lock_guard<std::mutex> lock(gate_mu_);
    last = gate_last_;
  }
  out->skipped = true;
  out->reused_frame_id = slot->reuse_id;
  if (!last || last->frame_id != slot->reuse_id) {
    out->status = InternalError("frame " + std::to_string(slot->frame_id) + " was to reuse the result of frame " +
                                std::to_string(slot->reuse_id) +
                                ", which is not available (synchronous and asynchronous frames mixed in one "
                                "gated pipeline?)");
    return;
  }
  if (!last->status.ok()) {
    out->status = Status(last->status.code(), "frame " + std::to_string(slot->frame_id) +
                                                   " reuses the result of frame " + std::to_string(slot->reuse_id) +
                                                   ", which failed: " + last->status.message());
    return;
  }
  out->decoded = last->decoded;
  out->result = last->result;
  out->output_info = last->output_info;
  out->transform = last->transform;
  // The kept copy is shared, not copied again per skipped frame (see FrameResult::skipped).
  out->outputs = last->outputs;
}

// ---------------------------------------------------------------------------
// Hot swap
// ---------------------------------------------------------------------------
std::shared_ptr<SwapTicket> Pipeline::Swap(std::shared_ptr<ModelBytes> model) {
  return StartSwap(std::move(model), nullptr);
}

std::shared_ptr<SwapTicket> Pipeline::Swap(std::shared_ptr<Session> session) {
  return StartSwap(nullptr, std::move(session));
}

std::shared_ptr<SwapTicket> Pipeline::StartSwap(std::shared_ptr<ModelBytes> bytes,
                                                std::shared_ptr<Session> session) {
  auto ticket = std::make_shared<SwapTicket>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      ticket->Finish(ClosedError("the pipeline is closed"), 0);
      return ticket;
    }
  }
  std::lock_guard<std::mutex> lock(swap_threads_mu_);
  // Join the swap threads that have finished: a long-running device swapping
  // models for days must not accumulate thread handles (and their stacks).
  for (auto it = swap_threads_.begin(); it != swap_threads_.end();) {
    if (it->done->load()) {
      if (it->thread.joinable()) it->thread.join();
      it = swap_threads_.erase(it);
    } else {
      ++it;
    }
  }
  auto done = std::make_shared<std::atomic<bool>>(false);
  swap_threads_.push_back(SwapThread{std::thread([this, bytes, session, ticket, done]() mutable {
                                       SwapWorker(std::move(bytes), std::move(session), std::move(ticket));
                                       done->store(true);
                                     }),
                                     done});
  return ticket;
}

void Pipeline::SwapWorker(std::shared_ptr<ModelBytes> bytes, std::shared_ptr<Session> session,
                          std::shared_ptr<SwapTicket> ticket) {
  std::lock_guard<std::mutex> order(swap_mu_);
  auto fail = [&](Status st) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++counters_.swap_failures;
    }
    ticket->Finish(std::move(st), 0);
  };
  if (!session) {
    SessionOptions opts;
    {
      std::lock_guard<std::mutex> lock(mu_);
      opts = current_->session->options();
    }
    auto s = Session::Create(std::move(bytes), opts);
    if (!s.ok()) return fail(s.status());
    session = std::shared_ptr<Session>(std::move(s).value());
  }
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(mu_);
    generation = next_generation_;
  }
  auto m = Bind(session, *pre_, head_.get(), options_, generation);
  if (!m.ok()) return fail(m.status());
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      ticket->Finish(ClosedError("the pipeline was closed before the new model could be used"), 0);
      return;
    }
    ++next_generation_;
    current_ = std::move(m).value();
    ++counters_.swaps;
    counters_.model = generation;
  }
  ticket->Finish(Status::Ok(), generation, std::move(session));
}

uint64_t Pipeline::model() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_->generation;
}

uint64_t Pipeline::OldestModelInUse() const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t g = current_->generation;
  for (const auto& s : slots_)
    if (s->model) g = std::min(g, s->model->generation);
  for (const auto& r : results_)
    if (r.model != 0) g = std::min(g, r.model);
  return g;
}

std::shared_ptr<Session> Pipeline::session() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_->session;
}

PipelineStats Pipeline::Stats() const {
  std::vector<double> lat, inv, pre, dec, done, gate;
  PipelineStats s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s = counters_;
    const size_t n = ring_fill_;
    const size_t start = (ring_pos_ + kRing - n) % kRing;
    for (size_t k = 0; k < n; ++k) {
      const size_t i = (start + k) % kRing;
      lat.push_back(lat_ring_[i]);
      inv.push_back(inv_ring_[i]);
      pre.push_back(pre_ring_[i]);
      dec.push_back(dec_ring_[i]);
      done.push_back(done_ring_[i]);
      gate.push_back(gate_ring_[i]);
    }
  }
  {
    std::lock_guard<std::mutex> lock(gate_mu_);
    s.gate_ran = gate_counts_.gate_ran;
    s.gate_skipped = gate_counts_.gate_skipped;
    s.gate_changed = gate_counts_.gate_changed;
    s.gate_forced = gate_counts_.gate_forced;
    s.gate_first = gate_counts_.gate_first;
  }
  s.frames = s.completed + s.failed;
  s.wall_s = Ms(NowNs() - t_created_) * 1e-3;
  const double cpu = ClockSeconds(CLOCK_PROCESS_CPUTIME_ID);
  s.cpu_s = cpu >= 0 && cpu_created_ >= 0 ? cpu - cpu_created_ : 0.0;
  for (const auto& w : worker_clocks_) s.worker_cpu_s += w->Seconds();
  uint64_t nv = nvcsw_created_, niv = nivcsw_created_;
  ProcessSwitches(&nv, &niv);
  s.voluntary_switches = nv - nvcsw_created_;
  s.involuntary_switches = niv - nivcsw_created_;
  s.window = lat.size();
  s.latency_p50 = Percentile(lat, 0.50);
  s.latency_p90 = Percentile(lat, 0.90);
  s.latency_p99 = Percentile(lat, 0.99);
  s.invoke_p50 = Percentile(inv, 0.50);
  s.preprocess_p50 = Percentile(pre, 0.50);
  s.decode_p50 = Percentile(dec, 0.50);
  s.gate_p50 = Percentile(gate, 0.50);
  if (done.size() >= 2 && done.back() > done.front())
    s.fps = static_cast<double>(done.size() - 1) / ((done.back() - done.front()) * 1e-3);
  return s;
}

}  // namespace edgerun
