"""`edgerun doctor`: verdicts on this machine, and the failure paths on doctored inputs."""

from __future__ import annotations

import json
import subprocess
import sys

import edgerun
from edgerun.model import builder
from edgerun.tools import doctor


def test_doctor_on_this_machine_is_ready_and_names_every_check():
    out = subprocess.run([sys.executable, "-m", "edgerun", "doctor", "--json"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    names = [c["name"] for c in report["checks"]]
    for expected in ("platform", "glibc", "libstdc++", "litert", "cpu", "simd", "cores", "exceptions", "edgetpu", "inference"):
        assert expected in names
    assert report["ok"] is True
    by_name = {c["name"]: c for c in report["checks"]}
    from edgerun import _core

    assert _core._preprocess_active_isa() in by_name["simd"]["detail"]
    assert by_name["inference"]["verdict"] == "ok"
    # every build we ship or test links the runtime's unwinder (libgcc_s), so the check passes
    assert by_name["exceptions"]["verdict"] == "ok", by_name["exceptions"]
    assert _core._unwinder in by_name["exceptions"]["detail"]
    # the thread count doctor quotes is the one Session uses when given none
    assert f"threads={edgerun.Session(builder.builtin_image_model()).threads}" in by_name["cores"]["detail"]


def test_doctor_text_output_has_a_verdict_per_line():
    lines = []
    assert doctor.main(out=lines.append) == 0
    body = [ln for ln in lines[1:-1] if not ln.lstrip().startswith("->")]
    assert body and all(ln.startswith(("[ ok ]", "[warn]", "[FAIL]", "[info]")) for ln in body)
    assert lines[-1] == "verdict: ready"


def test_symbol_versions_reads_the_highest_required(tmp_path):
    lib = tmp_path / "libfake.so"
    lib.write_bytes(b"\0GLIBC_2.17\0GLIBC_2.34\0GLIBC_2.2.5\0GLIBCXX_3.4.30\0GLIBCXX_3.4.9\0")
    assert doctor._symbol_versions(str(lib), b"GLIBC")[-1] == "GLIBC_2.34"
    assert doctor._symbol_versions(str(lib), b"GLIBCXX")[-1] == "GLIBCXX_3.4.30"
    assert doctor._symbol_versions(str(tmp_path / "missing.so"), b"GLIBC") == []


def test_glibc_below_the_runtime_need_fails_with_a_fix(tmp_path, monkeypatch):
    lib = tmp_path / "libLiteRt.so"
    lib.write_bytes(b"\0GLIBC_2.34\0GLIBCXX_3.4.30\0")
    monkeypatch.setattr(doctor, "_glibc_version", lambda: "2.31")
    checks = {c.name: c for c in doctor.check_libc(str(lib))}
    assert checks["glibc"].verdict == doctor.FAIL
    assert "2.31" in checks["glibc"].detail and "2.34" in checks["glibc"].detail
    assert "Ubuntu 20.04" in checks["glibc"].fix


def test_old_libstdcxx_fails(tmp_path, monkeypatch):
    need = tmp_path / "libLiteRt.so"
    need.write_bytes(b"\0GLIBC_2.17\0GLIBCXX_3.4.30\0")
    old = tmp_path / "libstdc++.so.6"
    old.write_bytes(b"\0GLIBCXX_3.4.28\0GLIBCXX_3.4\0")
    monkeypatch.setattr(doctor, "_find_libstdcxx", lambda: str(old))
    checks = {c.name: c for c in doctor.check_libc(str(need))}
    assert checks["glibc"].verdict == doctor.OK
    assert checks["libstdc++"].verdict == doctor.FAIL
    assert "GLIBCXX_3.4.28" in checks["libstdc++"].detail and "GLIBCXX_3.4.30" in checks["libstdc++"].detail


def test_missing_runtime_blocks_and_exit_status_is_1(monkeypatch):
    from edgerun import _runtime

    monkeypatch.delenv("EDGERUN_LITERT_LIB", raising=False)
    monkeypatch.setattr(_runtime, "find_litert", lambda: ("", ""))
    checks, loaded = doctor.check_runtime()
    assert not loaded and checks[-1].verdict == doctor.FAIL and "ai-edge-litert" in checks[-1].fix
    monkeypatch.setattr(doctor, "check_runtime", lambda: (checks, False))
    lines = []
    assert doctor.main(out=lines.append) == 1
    assert "blocks inference" in lines[-1]
