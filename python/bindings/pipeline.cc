// Bindings of edgerun::Pipeline: numpy frames -> Image (checked by the core),
// GIL released for every stage and wait, results as _core._FrameResult
// objects (named fields) that python/edgerun/pipeline.py wraps. Frames stay
// referenced by the Python side until take_released() lists them.
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bindings.h"
#include "edgerun/pipeline.h"
#include "options.h"

namespace edgerun_py {
namespace {

using edgerun::FrameResult;
using edgerun::Pipeline;
using edgerun::SwapTicket;

// The output of the frame that skipped frames reuse, converted once (with the
// GIL held): every skipped frame that reuses frame `id` gets the same
// read-only arrays (a new list of them for raw outputs), not a conversion of
// its own.
struct ReusedOutput {
  uint64_t id = 0;
  py::object output;
};

void MakeReadOnly(py::handle a) {
  if (py::isinstance<py::array>(a))
    py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
}

py::object ConvertOutput(const FrameResult& r, bool writable) {
  if (r.decoded) {
    py::object o = ::result_to_numpy(r.result);
    if (!writable) {
      if (py::isinstance<py::dict>(o)) {
        for (auto item : py::reinterpret_borrow<py::dict>(o)) MakeReadOnly(item.second);
      } else {
        MakeReadOnly(o);
      }
    }
    return o;
  }
  py::list outs;
  for (size_t i = 0; i < r.outputs.size(); ++i) outs.append(BlockView(r.outputs[i], r.output_info[i], writable));
  return std::move(outs);
}

// One frame's outcome as Python sees it: a plain tuple (frame_id, model
// generation, error or None, output or None, _core.Transform or None when the
// frame was not preprocessed, skipped, reused_frame_id, (queue, preprocess,
// invoke, decode, total, gate) ms), which python/edgerun/pipeline.py unpacks
// into a FrameResult: cheaper per frame than an object with properties.
py::tuple ToPython(FrameResult& r, TransformCache* transforms, ReusedOutput* reused) {
  py::object output = py::none();
  if (r.status.ok()) {
    if (!r.skipped) {
      output = ConvertOutput(r, /*writable=*/true);
    } else {
      // Frame ids are unique across models: the id alone names the result.
      if (reused->id != r.reused_frame_id || !reused->output) {
        reused->output = ConvertOutput(r, /*writable=*/false);
        reused->id = r.reused_frame_id;
      }
      output = py::isinstance<py::list>(reused->output)
                   ? py::reinterpret_steal<py::object>(PySequence_List(reused->output.ptr()))
                   : reused->output;
      if (!output) throw py::error_already_set();
    }
  }
  const bool preprocessed = r.transform.input_width != 0 || r.transform.input_height != 0;
  const edgerun::FrameTimings& t = r.timings;
  return py::make_tuple(r.frame_id, r.model, status_to_exception(r.status), std::move(output),
                        preprocessed ? transforms->get(r.transform) : py::none(), r.skipped, r.reused_frame_id,
                        py::make_tuple(t.queue, t.preprocess, t.invoke, t.decode, t.total, t.gate));
}

class PySwapTicket {
 public:
  explicit PySwapTicket(std::shared_ptr<SwapTicket> t) : t_(std::move(t)) {}
  bool wait(double timeout) {
    py::gil_scoped_release release;
    return t_->Wait(timeout);
  }
  bool done() const { return t_->done(); }
  // Only meaningful once done: the new model's generation (0 if it failed),
  // the error (None if it is current) and its session (None if it failed).
  uint64_t model() const { return t_->model(); }
  py::object error() const { return status_to_exception(t_->status()); }
  py::object session() const {
    auto s = t_->session();
    return s ? py::cast(SessionHandle{s}) : py::none();
  }

 private:
  std::shared_ptr<SwapTicket> t_;
};

// A Python object held by C++ code that may drop it on any thread: the last
// reference goes with the GIL taken.
std::shared_ptr<py::object> HoldPython(py::object o) {
  return std::shared_ptr<py::object>(new py::object(std::move(o)), [](py::object* p) {
    py::gil_scoped_acquire gil;
    delete p;
  });
}

class PyPipeline {
 public:
  // gate_model / gate_callback (both or neither): the cascade form of the gate.
  // For each frame the worker (or the caller, for process()) runs gate_model's
  // synchronous path on the frame without the GIL, then calls
  // gate_callback(frame_id, cheap _FrameResult) with the GIL; it returns the
  // frame's force: 0 the change gate decides, 1 may reuse, 2 run, 3 fail the
  // frame (the callback keeps the reason for the Python side).
  PyPipeline(py::handle session, py::handle pre, py::object head, const edgerun::PipelineOptions& o,
             py::object gate_model, py::object gate_callback) {
    auto s = session_of(session);
    auto p = preprocessor_of(pre);
    format_ = p->spec().format;
    std::shared_ptr<edgerun::postprocess::Head> h;
    if (!head.is_none()) h = head.cast<std::shared_ptr<edgerun::postprocess::Head>>();
    edgerun::GateFunction gate;
    if (!gate_model.is_none()) {
      PyPipeline* cheap = gate_model.cast<PyPipeline*>();
      if (!cheap->p_ || !PyCallable_Check(gate_callback.ptr()))
        throw_status(edgerun::InputError("gate_model: expected a _Pipeline and gate_callback a callable"));
      Pipeline* core = cheap->p_.get();  // lives as long as `cheap`, which `keep` keeps alive
      auto keep = HoldPython(gate_model);
      auto callback = HoldPython(gate_callback);
      gate = [cheap, core, keep, callback](const edgerun::preprocess::Image& image,
                                           uint64_t frame_id) -> edgerun::Expected<edgerun::GateForce> {
        FrameResult r;
        edgerun::Status st = core->Process(image, &r);
        if (!st.ok()) r.status = st;  // e.g. the cheap pipeline was closed: its result carries the error
        py::gil_scoped_acquire gil;
        try {
          py::object force = (*callback)(frame_id, ToPython(r, &cheap->transforms_, &cheap->reused_));
          const int f = force.cast<int>();
          if (f >= 0 && f <= static_cast<int>(edgerun::GateForce::kRun)) return static_cast<edgerun::GateForce>(f);
          return edgerun::InternalError("the gate's predicate failed on frame " + std::to_string(frame_id));
        } catch (py::error_already_set& e) {
          std::string what = e.what();
          return edgerun::InternalError("the gate failed on frame " + std::to_string(frame_id) + ": " + what);
        } catch (const std::exception& e) {
          return edgerun::InternalError("the gate failed on frame " + std::to_string(frame_id) + ": " + e.what());
        }
      };
    }
    edgerun::Expected<std::unique_ptr<Pipeline>> r = edgerun::InternalError("unset");
    {
      py::gil_scoped_release release;
      r = Pipeline::Create(std::move(s), std::move(p), std::move(h), o, std::move(gate));
    }
    p_ = check_value(std::move(r));
  }

  // The workers may wait for the GIL (a gate callback): stop them without it.
  ~PyPipeline() {
    if (p_ && Py_IsInitialized()) {
      py::gil_scoped_release release;
      p_->Close();
    }
  }

  Pipeline& get() {
    if (!p_ || p_->closed()) throw_status(edgerun::ClosedError("the pipeline is closed"));
    return *p_;
  }

  static edgerun::GateForce ForceOf(int force) {
    if (force < 0 || force > static_cast<int>(edgerun::GateForce::kRun))
      throw_status(edgerun::InputError("force: expected 0 (gate decides), 1 (may reuse) or 2 (run), got " +
                                       std::to_string(force)));
    return static_cast<edgerun::GateForce>(force);
  }

  py::tuple Process(py::handle frame, int force) {
    Pipeline& p = get();
    const edgerun::GateForce f = ForceOf(force);
    edgerun::preprocess::Image img = image_from_numpy(format_, frame);
    FrameResult r;
    edgerun::Status st;
    {
      py::gil_scoped_release release;  // the caller's argument keeps the frame alive
      st = p.Process(img, &r, f);
    }
    if (!st.ok()) throw_status(st);
    return ToPython(r, &transforms_, &reused_);
  }

  // (frame id, accepted?): a frame that cannot be described as an Image is
  // queued as a failed frame (its error arrives with its result).
  py::tuple Submit(py::handle frame, int force) {
    Pipeline& p = get();
    const edgerun::GateForce f = ForceOf(force);
    edgerun::preprocess::Image img;
    try {
      img = image_from_numpy(format_, frame);
    } catch (const py::error_already_set&) {
      throw;
    } catch (const std::exception& e) {
      // throw_status(InputError) from the frame checks: deliver it in order.
      return py::make_tuple(check_value(p.SubmitError(edgerun::InputError(e.what()))), false);
    }
    edgerun::Expected<uint64_t> id = edgerun::InternalError("unset");
    {
      py::gil_scoped_release release;
      id = p.Submit(img, f);
    }
    return py::make_tuple(check_value(std::move(id)), true);
  }

  py::object Get(double timeout) {
    if (!p_) throw_status(edgerun::ClosedError("the pipeline is closed"));
    FrameResult r;
    edgerun::Expected<bool> got = edgerun::InternalError("unset");
    {
      py::gil_scoped_release release;
      got = p_->Get(timeout, &r);
    }
    if (!check_value(std::move(got))) return py::none();
    return ToPython(r, &transforms_, &reused_);
  }

  py::list TakeReleased() {
    py::list l;
    if (!p_) return l;
    for (const auto& e : p_->TakeReleased()) l.append(py::make_tuple(e.first, e.second));
    return l;
  }

  PySwapTicket SwapModel(py::object model) {
    Pipeline& p = get();
    if (py::isinstance<py::str>(model) || py::isinstance<py::bytes>(model) ||
        py::isinstance<py::bytearray>(model) || py::isinstance<py::memoryview>(model))
      return PySwapTicket(p.Swap(model_bytes_from(model)));
    return PySwapTicket(p.Swap(session_of(model)));
  }

  py::dict Stats() {
    if (!p_) throw_status(edgerun::ClosedError("the pipeline is closed"));
    edgerun::PipelineStats s = p_->Stats();
    py::dict d;
    d["submitted"] = s.submitted;
    d["completed"] = s.completed;
    d["failed"] = s.failed;
    d["dropped"] = s.dropped;
    d["results_discarded"] = s.results_discarded;
    d["swaps"] = s.swaps;
    d["swap_failures"] = s.swap_failures;
    d["model"] = s.model;
    d["window"] = s.window;
    d["latency_p50_ms"] = s.latency_p50;
    d["latency_p90_ms"] = s.latency_p90;
    d["latency_p99_ms"] = s.latency_p99;
    d["preprocess_p50_ms"] = s.preprocess_p50;
    d["invoke_p50_ms"] = s.invoke_p50;
    d["decode_p50_ms"] = s.decode_p50;
    d["fps"] = s.fps;
    // Energy proxy since the pipeline was created (see PipelineStats).
    d["frames"] = s.frames;
    d["wall_s"] = s.wall_s;
    d["cpu_s"] = s.cpu_s;
    d["worker_cpu_s"] = s.worker_cpu_s;
    d["cpu_load"] = s.wall_s > 0 ? s.cpu_s / s.wall_s : 0.0;
    d["cpu_ms_per_frame"] = s.frames ? s.cpu_s * 1e3 / static_cast<double>(s.frames) : 0.0;
    d["worker_cpu_ms_per_frame"] = s.frames ? s.worker_cpu_s * 1e3 / static_cast<double>(s.frames) : 0.0;
    d["voluntary_switches"] = s.voluntary_switches;
    d["involuntary_switches"] = s.involuntary_switches;
    d["switches_per_frame"] =
        s.frames ? static_cast<double>(s.voluntary_switches + s.involuntary_switches) / static_cast<double>(s.frames)
                 : 0.0;
    d["gate_ran"] = s.gate_ran;
    d["gate_skipped"] = s.gate_skipped;
    d["gate_changed"] = s.gate_changed;
    d["gate_forced"] = s.gate_forced;
    d["gate_first"] = s.gate_first;
    d["gate_p50_ms"] = s.gate_p50;
    return d;
  }

  uint64_t Model() { return get().model(); }
  uint64_t OldestModel() {
    if (!p_) throw_status(edgerun::ClosedError("the pipeline is closed"));
    return p_->OldestModelInUse();
  }
  SessionHandle CurrentSession() { return SessionHandle{get().session()}; }
  size_t InFlight() { return p_ ? p_->InFlight() : 0; }

  void Close() {
    if (!p_) return;
    py::gil_scoped_release release;
    p_->Close();
  }
  bool closed() const { return !p_ || p_->closed(); }

 private:
  std::unique_ptr<Pipeline> p_;
  TransformCache transforms_;  // used with the GIL held
  ReusedOutput reused_;        // likewise
  edgerun::preprocess::PixelFormat format_ = edgerun::preprocess::PixelFormat::kRGB;
};

}  // namespace

void bind_pipeline(py::module_& m) {
  m.def(
      "_luma_thumbnail",
      [](py::handle pre, py::handle frame) {
        const auto format = preprocessor_of(pre)->spec().format;
        edgerun::preprocess::Image img = image_from_numpy(format, frame);
        edgerun::LumaThumbnail t;
        edgerun::Status st;
        {
          py::gil_scoped_release release;
          st = edgerun::ComputeLumaThumbnail(img, format, &t);
        }
        if (!st.ok()) throw_status(st);
        constexpr py::ssize_t g = edgerun::LumaThumbnail::kGrid;
        py::array_t<uint8_t> out({g, g});
        std::memcpy(out.mutable_data(), t.cells.data(), t.cells.size());
        return out;
      },
      py::arg("pre"), py::arg("frame"),
      "The change gate's luma thumbnail of a frame in the Preprocessor's format (kGrid x kGrid uint8).");
  {
    using S = edgerun::PipelineOptions;
    using Overlap = S::Overlap;
    OptionsClass<S> c(m, "PipelineOptions", "PipelineOptions (defaults from C++; Pipeline::Create validates).");
    c.field("depth", &S::depth).choice("drop", &S::drop).field("max_results", &S::max_results);
    c.property(
        "overlap",
        [](const S& s) -> py::object {
          if (s.overlap == Overlap::kAuto) return py::none();
          return py::bool_(s.overlap == Overlap::kOn);
        },
        [](S& s, py::handle v) {
          if (v.is_none()) s.overlap = Overlap::kAuto;
          else if (PyBool_Check(v.ptr())) s.overlap = v.ptr() == Py_True ? Overlap::kOn : Overlap::kOff;
          else fail_option("overlap", "True, False or None", v);
        });
    c.field("input_index", &S::input_index);
    c.field("max_fps", &S::max_fps).field("change_gate", &S::gate).field("gate_threshold", &S::gate_threshold);
    c.field("gate_max_skip", &S::gate_max_skip);
    c.done();
  }
  py::class_<PySwapTicket>(m, "_SwapTicket")
      .def("wait", &PySwapTicket::wait, py::arg("timeout"))
      .def("done", &PySwapTicket::done)
      .def_property_readonly("model", &PySwapTicket::model)
      .def_property_readonly("error", &PySwapTicket::error)
      .def_property_readonly("session", &PySwapTicket::session);
  py::class_<PyPipeline>(m, "_Pipeline")
      .def(py::init<py::handle, py::handle, py::object, const edgerun::PipelineOptions&, py::object, py::object>(),
           py::arg("session"), py::arg("pre"), py::arg("head"), py::arg("options"), py::arg("gate_model") = py::none(),
           py::arg("gate_callback") = py::none())
      .def_property_readonly("overlapped", [](PyPipeline& p) { return p.get().overlapped(); })
      .def("process", &PyPipeline::Process, py::arg("frame"), py::arg("force") = 0)
      .def("submit", &PyPipeline::Submit, py::arg("frame"), py::arg("force") = 0)
      .def("get", &PyPipeline::Get, py::arg("timeout"))
      .def("take_released", &PyPipeline::TakeReleased)
      .def("swap", &PyPipeline::SwapModel, py::arg("model"))
      .def("stats", &PyPipeline::Stats)
      .def("model", &PyPipeline::Model)
      .def("oldest_model", &PyPipeline::OldestModel)
      .def("session", &PyPipeline::CurrentSession)
      .def("in_flight", &PyPipeline::InFlight)
      .def("close", &PyPipeline::Close)
      .def_property_readonly("closed", &PyPipeline::closed);
}

}  // namespace edgerun_py
