"""Accelerators: delegate plugins, the Edge TPU path, the GPU accelerator, CPU fallback.

No Edge TPU exists here: the suite builds a stand-in plugin (tests/plugins/
standin_delegate.cc) exporting the classic plugin entry points plus the parts of
libedgetpu's C API edgerun uses. It computes the custom ops "EdgerunStandinAdd"
and "edgetpu-custom-op" as ADD; the models are real ones whose ADD operators
were rewritten into those custom ops (tests/models.py: builtin_ops_to_custom).
"""

from __future__ import annotations

import ctypes
import gc
import os
import warnings

import numpy as np
import pytest

import edgerun
import models as mg

INCOMPATIBLE_VERSION = "BuildLabel(COMPILER=6.3.0 20170516,DATE=redacted,TIME=redacted), RuntimeVersion(14)"


class Standin:
    """The stand-in plugin's counters (same library instance as the one edgerun loaded)."""

    def __init__(self, path):
        self.path = str(path)
        self.lib = ctypes.CDLL(self.path)
        for name in ("standin_invocations", "standin_delegates_created", "standin_delegates_alive",
                     "standin_nodes_claimed"):
            getattr(self.lib, name).restype = ctypes.c_longlong
        self.lib.standin_options.restype = ctypes.c_char_p

    def reset(self):
        self.lib.standin_reset()

    @property
    def invocations(self):
        return self.lib.standin_invocations()

    @property
    def alive(self):
        return self.lib.standin_delegates_alive()

    @property
    def claimed(self):
        return self.lib.standin_nodes_claimed()

    @property
    def options(self):
        return dict(line.split("=", 1) for line in self.lib.standin_options().decode().splitlines())


@pytest.fixture
def standin(standin_plugin, monkeypatch):
    for var in ("STANDIN_EDGETPU_VERSION", "STANDIN_EDGETPU_DEVICES", "EDGERUN_EDGETPU_ABI_CHECK"):
        monkeypatch.delenv(var, raising=False)
    s = Standin(standin_plugin)
    s.reset()
    return s


@pytest.fixture
def edgetpu_lib(standin, monkeypatch):
    """Make the stand-in the Edge TPU runtime (EDGERUN_EDGETPU_LIB)."""
    monkeypatch.setenv("EDGERUN_EDGETPU_LIB", standin.path)
    return standin


@pytest.fixture(scope="module")
def residual():
    model = mg.residual_model()
    return model, mg.builtin_ops_to_custom(model)


def x_residual(seed=0):
    return np.random.default_rng(seed).standard_normal((1, 8, 8, 4)).astype(np.float32)


# --------------------------------------------------------------------------- the plugin route
def test_plugin_outputs_equal_cpu_and_plugin_ran(standin, residual):
    model, rewritten = residual
    cpu = edgerun.Session(model, threads=1)
    s = edgerun.Session(rewritten, threads=1,
                        delegates=[edgerun.Delegate(standin.path, {"tag": "hello", "tag_n": 3, "tag_b": True})])
    assert standin.claimed == 1
    after_warmup = standin.invocations
    assert after_warmup == 1  # the warm-up run at load time
    for seed in range(3):
        x = x_residual(seed)
        np.testing.assert_array_equal(s.run(x, copy=True)[0], cpu.run(x, copy=True)[0])
    assert standin.invocations == after_warmup + 3
    assert standin.options == {"tag": "hello", "tag_n": "3", "tag_b": "true"}
    assert s.accelerator == "cpu" and s.fallback_reason is None


def test_placement(standin, residual):
    model, rewritten = residual
    s = edgerun.Session(rewritten, delegates=[edgerun.Delegate(standin.path)])
    label = "delegate:" + os.path.basename(standin.path)
    assert [(p.index, p.op, p.accelerator) for p in s.placement()] == [
        (0, "CONV_2D", "cpu"), (1, mg.STANDIN_ADD_OP, label), (2, "MEAN", "cpu")]
    cpu = edgerun.Session(model)
    assert [(p.op, p.accelerator) for p in cpu.placement()] == [
        ("CONV_2D", "cpu"), ("ADD", "cpu"), ("MEAN", "cpu")]


def test_plugins_see_the_graph_before_xnnpack(standin, residual):
    # The plugin claims builtin ADDs, which XNNPACK supports: it only gets them
    # if it is applied first.
    model = residual[0]
    s = edgerun.Session(model, threads=1, delegates=[edgerun.Delegate(standin.path, {"builtin_add": "1"})])
    assert [p.accelerator.split(":")[0] for p in s.placement()] == ["cpu", "delegate", "cpu"]
    x = x_residual(4)
    np.testing.assert_array_equal(s.run(x, copy=True)[0],
                                  edgerun.Session(model, threads=1).run(x, copy=True)[0])
    assert standin.claimed == 1 and standin.invocations == 2


def test_real_model_adds_on_the_plugin_are_exact(standin, blazeface_model):
    original = blazeface_model.read_bytes()
    rewritten = mg.builtin_ops_to_custom(original)
    cpu = edgerun.Session(original, threads=1)
    s = edgerun.Session(rewritten, threads=1, delegates=[edgerun.Delegate(standin.path)])
    adds = [p for p in s.placement() if p.op == mg.STANDIN_ADD_OP]
    assert len(adds) == 16 and all(p.accelerator.startswith("delegate:") for p in adds)
    assert standin.claimed == 16
    x = np.random.default_rng(1).uniform(-1, 1, (1, 128, 128, 3)).astype(np.float32)
    before = standin.invocations
    got = s.run(x, copy=True)
    want = cpu.run(x, copy=True)
    assert standin.invocations - before == 16
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_sessions_with_different_options_get_their_own_plugin_instances(standin, residual):
    model, rewritten = residual
    good = edgerun.Session(rewritten, delegates=[edgerun.Delegate(standin.path, {"tag": "a"})])
    with pytest.raises(edgerun.DelegateError):
        edgerun.Session(rewritten, delegates=[edgerun.Delegate(standin.path, {"fail": "invoke"})])
    x = x_residual()
    np.testing.assert_array_equal(good.run(x, copy=True)[0],
                                  edgerun.Session(model).run(x, copy=True)[0])


def test_delegates_are_destroyed_with_their_sessions(standin, residual):
    _, rewritten = residual
    for _ in range(20):
        s = edgerun.Session(rewritten, delegates=[edgerun.Delegate(standin.path)])
        s.run(x_residual())
        s.close()
    gc.collect()
    assert standin.alive == 0


# --------------------------------------------------------------------------- failure modes
def test_missing_library(residual):
    with pytest.raises(edgerun.DelegateError, match=r"/nonexistent/libplugin\.so.*No such file"):
        edgerun.Session(residual[1], delegates=[edgerun.Delegate("/nonexistent/libplugin.so")])


def test_library_that_is_not_a_shared_object(tmp_path, residual):
    junk = tmp_path / "libjunk.so"
    junk.write_bytes(b"\x7fELF but not really")
    with pytest.raises(edgerun.DelegateError, match="libjunk.so cannot be loaded"):
        edgerun.Session(residual[1], delegates=[edgerun.Delegate(junk)])


def test_library_without_entry_points(residual):
    with pytest.raises(edgerun.DelegateError,
                       match=r"libm\.so\.6 is not a TensorFlow Lite delegate plugin.*tflite_plugin_create_delegate"):
        edgerun.Session(residual[1], delegates=[edgerun.Delegate("libm.so.6")])


@pytest.mark.parametrize("options, match", [
    ({"fail": "create"}, r"refused to create a delegate with options fail='create': stand-in delegate: refusing"),
    ({"unknown_key": "1"}, r"refused to create a delegate .*unknown option 'unknown_key'"),
    ({"fail": "prepare"}, r"failed while taking over the model's operators: stand-in delegate: Prepare failed"),
    ({"fail": "invoke"}, r"warm-up\) run with delegate plugin .* invoke failed as requested"),
])
def test_plugin_failures_are_delegate_errors_naming_the_library(standin, residual, options, match):
    with pytest.raises(edgerun.DelegateError, match=match) as info:
        edgerun.Session(residual[1], delegates=[edgerun.Delegate(standin.path, options)])
    assert standin.path in str(info.value)
    gc.collect()
    assert standin.alive == 0


def test_custom_op_only_a_plugin_runs_without_the_plugin_fails_at_load(residual):
    with pytest.raises(edgerun.ModelError, match="unresolved custom op: EdgerunStandinAdd"):
        edgerun.Session(residual[1])


def test_argument_errors(standin, residual):
    model = residual[0]
    with pytest.raises(edgerun.InputError, match="supported: 'cpu', 'edgetpu', 'gpu'"):
        edgerun.Session(model, accelerator="npu")
    with pytest.raises(edgerun.InputError, match="accelerator='edgetpu' only"):
        edgerun.Session(model, accelerator_options={"device": "usb:0"})
    with pytest.raises(edgerun.InputError, match="fallback must be"):
        edgerun.Session(model, delegates=[edgerun.Delegate(standin.path)], fallback="gpu")
    with pytest.raises(edgerun.InputError, match="list of edgerun.Delegate"):
        edgerun.Session(model, delegates=edgerun.Delegate(standin.path))
    with pytest.raises(edgerun.InputError, match="values must be str"):
        edgerun.Delegate(standin.path, {"x": [1]})


# --------------------------------------------------------------------------- Edge TPU
def test_edgetpu_model_without_edgetpu_runtime_fails_before_the_first_frame(monkeypatch):
    monkeypatch.delenv("EDGERUN_EDGETPU_LIB", raising=False)
    with pytest.raises(edgerun.DelegateError,
                       match=r"compiled for the Edge TPU.*edgetpu-custom-op.*accelerator='edgetpu'.*libedgetpu"):
        edgerun.Session(mg.edgetpu_model())


def test_edgetpu_runtime_missing(tmp_path, monkeypatch, residual):
    monkeypatch.setenv("EDGERUN_EDGETPU_LIB", str(tmp_path / "libedgetpu.so.1"))
    with pytest.raises(edgerun.DelegateError, match=r"libedgetpu\.so\.1 cannot be loaded.*TensorFlow >= 2\.16"):
        edgerun.Session(mg.edgetpu_model(), accelerator="edgetpu")
    # the probes do not raise: they say it is not available, and why
    assert edgerun.edgetpu_devices() == []
    info = edgerun.edgetpu_runtime()
    assert info["available"] is False and info["library"] == "" and "EDGERUN_EDGETPU_LIB" in info["error"]


def test_edgetpu_session_runs_on_the_edgetpu_plugin(edgetpu_lib):
    model = mg.edgetpu_model()
    s = edgerun.Session(model, accelerator="edgetpu", accelerator_options={"device": "usb:0"})
    assert s.accelerator == "edgetpu"
    assert edgetpu_lib.options == {"device": "usb:0"}
    assert [(p.op, p.accelerator) for p in s.placement()] == [("edgetpu-custom-op", "edgetpu")]
    x = np.arange(8, dtype=np.uint8).reshape(1, 8) * 20
    reference = edgerun.Session(mg.add_model((1, 8), "uint8"))
    before = edgetpu_lib.invocations
    np.testing.assert_array_equal(s.run(x, copy=True)[0], reference.run(x, copy=True)[0])
    assert edgetpu_lib.invocations == before + 1


def test_edgetpu_devices_and_runtime(edgetpu_lib, monkeypatch):
    monkeypatch.setenv("STANDIN_EDGETPU_DEVICES", "usb:/sys/bus/usb/devices/2-1,pci:/dev/apex_0")
    assert edgerun.edgetpu_devices() == [{"type": "usb", "path": "/sys/bus/usb/devices/2-1"},
                                         {"type": "pci", "path": "/dev/apex_0"}]
    info = edgerun.edgetpu_runtime()
    assert info["library"] == edgetpu_lib.path and "RuntimeVersion(14)" in info["version"]
    assert info["available"] is True and info["error"] == ""
    monkeypatch.setenv("STANDIN_EDGETPU_DEVICES", "none")
    assert edgerun.edgetpu_devices() == []


def test_one_session_per_edgetpu(edgetpu_lib, monkeypatch):
    monkeypatch.setenv("STANDIN_EDGETPU_DEVICES", "usb:/dev/bus/usb/001/002,usb:/dev/bus/usb/001/003")
    model = mg.edgetpu_model()
    a = edgerun.Session(model, accelerator="edgetpu", accelerator_options={"device": "usb:0"})
    b = edgerun.Session(model, accelerator="edgetpu", accelerator_options={"device": "usb:1"})
    x = np.full((1, 8), 7, np.uint8)
    np.testing.assert_array_equal(a.run(x, copy=True)[0], b.run(x, copy=True)[0])
    with pytest.raises(edgerun.DelegateError,
                       match=r"could not open Edge TPU 'usb:2' \(attached: usb:0 \(/dev/bus/usb/001/002\), usb:1"):
        edgerun.Session(model, accelerator="edgetpu", accelerator_options={"device": "usb:2"})


def test_no_edgetpu_attached(edgetpu_lib, monkeypatch):
    monkeypatch.setenv("STANDIN_EDGETPU_DEVICES", "none")
    with pytest.raises(edgerun.DelegateError, match=r"finds no Edge TPU.*lsusb.*udev"):
        edgerun.Session(mg.edgetpu_model(), accelerator="edgetpu")


def test_known_incompatible_libedgetpu_build_is_refused(edgetpu_lib, monkeypatch):
    monkeypatch.setenv("STANDIN_EDGETPU_VERSION", INCOMPATIBLE_VERSION)
    with pytest.raises(edgerun.DelegateError, match=r"TensorFlow Lite 2\.5 headers.*TensorFlow >= 2\.16") as info:
        edgerun.Session(mg.edgetpu_model(), accelerator="edgetpu")
    assert edgetpu_lib.path in str(info.value)
    info = edgerun.edgetpu_runtime()
    assert info["available"] is False and "TensorFlow >= 2.16" in info["error"]
    monkeypatch.setenv("EDGERUN_EDGETPU_ABI_CHECK", "0")  # the user's own, known-good build
    edgerun.Session(mg.edgetpu_model(), accelerator="edgetpu")


def test_edgetpu_ops_not_taken_by_a_generic_plugin(standin):
    with pytest.raises(edgerun.DelegateError, match=r"1 of them were not taken by delegate plugin"):
        edgerun.Session(mg.edgetpu_model(),
                        delegates=[edgerun.Delegate(standin.path, {"custom_op": "SomethingElse"})])


# --------------------------------------------------------------------------- fallback
def test_fallback_to_cpu_warns_and_runs(edgetpu_lib, monkeypatch, residual):
    model = residual[0]
    monkeypatch.setenv("STANDIN_EDGETPU_DEVICES", "none")
    with pytest.warns(edgerun.AcceleratorFallbackWarning, match="finds no Edge TPU"):
        s = edgerun.Session(model, accelerator="edgetpu", fallback="cpu")
    assert s.accelerator == "cpu" and "finds no Edge TPU" in s.fallback_reason
    x = x_residual()
    np.testing.assert_array_equal(s.run(x, copy=True)[0], edgerun.Session(model).run(x, copy=True)[0])
    with pytest.warns(edgerun.AcceleratorFallbackWarning, match="No such file"):
        edgerun.Session(model, delegates=[edgerun.Delegate("/nonexistent/libx.so")], fallback="cpu")


def test_no_fallback_when_the_model_cannot_run_on_the_cpu(edgetpu_lib, monkeypatch):
    monkeypatch.setenv("STANDIN_EDGETPU_DEVICES", "none")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(edgerun.DelegateError,
                           match="finds no Edge TPU.*CPU fallback is not possible either.*edgetpu-custom-op.*edgetpu_compiler"):
            edgerun.Session(mg.edgetpu_model(), accelerator="edgetpu", fallback="cpu")


# --------------------------------------------------------------------------- GPU
def _has_vulkan():
    try:
        ctypes.CDLL("libvulkan.so.1")
        return True
    except OSError:
        return False


@pytest.mark.skipif(_has_vulkan(), reason="this machine has a Vulkan loader; the missing-Vulkan message needs one without")
def test_gpu_without_vulkan_is_a_clear_error(residual):
    with pytest.raises(edgerun.DelegateError, match=r"GPU accelerator .*needs Vulkan.*libvulkan\.so\.1"):
        edgerun.Session(residual[0], accelerator="gpu")
    with pytest.warns(edgerun.AcceleratorFallbackWarning, match="Vulkan"):
        s = edgerun.Session(residual[0], accelerator="gpu", fallback="cpu")
    assert s.accelerator == "cpu"


# --------------------------------------------------------------------------- CLI
def test_cli_edgetpu_and_bench_with_a_delegate(edgetpu_lib, tmp_path, capsys, residual):
    from edgerun.tools.cli import main

    assert main(["edgetpu"]) == 0
    out = capsys.readouterr().out
    assert f"runtime: {edgetpu_lib.path}" in out and "device:  usb:0" in out
    model = tmp_path / "rewritten.tflite"
    model.write_bytes(residual[1])
    assert main(["bench", str(model), "--frames", "5", "--warmup", "1",
                 "--delegate", f"{edgetpu_lib.path}:tag=cli"]) == 0
    assert "2 on cpu, 1 on delegate:" in capsys.readouterr().out
    assert edgetpu_lib.options == {"tag": "cli"}
    etpu = tmp_path / "edgetpu.tflite"
    etpu.write_bytes(mg.edgetpu_model())
    assert main(["bench", str(etpu), "--frames", "3", "--accelerator", "edgetpu", "--device", "usb:0"]) == 0
    assert "1 on edgetpu" in capsys.readouterr().out
    assert main(["bench", str(etpu), "--frames", "3"]) == 1
    assert "compiled for the Edge TPU" in capsys.readouterr().err
