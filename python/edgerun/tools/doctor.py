"""`edgerun doctor`: can this board run edgerun, and how well?

One line per check with a verdict (ok / warn / FAIL / info) and, where something is
wrong, what to do about it. Exit status 1 when something blocks inference.

The runtime's needs are read from the files, not from a table: the GLIBC_ / GLIBCXX_
symbol versions that libLiteRt.so references (its dynamic string table) are compared with
what the C library and libstdc++ on this system provide.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import re
import sys
import sysconfig
import time
from typing import Callable, Dict, Optional

OK, WARN, FAIL, INFO = "ok", "warn", "FAIL", "info"


@dataclasses.dataclass
class Check:
    name: str
    verdict: str
    detail: str
    fix: str = ""

    def to_dict(self) -> Dict[str, str]:
        return dataclasses.asdict(self)


def _version_tuple(text: str) -> tuple:
    return tuple(int(p) for p in re.findall(r"\d+", text))


def _symbol_versions(path: str, prefix: bytes) -> list[str]:
    """Version names such as GLIBC_2.34 found in a shared object's string tables."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return []
    found = {m.decode() for m in re.findall(re.escape(prefix) + rb"_\d+(?:\.\d+)+", data)}
    return sorted(found, key=_version_tuple)


def _glibc_version() -> Optional[str]:
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""  # "glibc 2.36"
    except (ValueError, OSError, AttributeError):
        text = ""
    if text.startswith("glibc "):
        return text.split()[1]
    lib, ver = platform.libc_ver()
    return ver if lib == "glibc" and ver else None


def _find_libstdcxx() -> Optional[str]:
    """The libstdc++.so.6 the dynamic loader would pick (the first in its search order)."""
    import ctypes

    try:
        lib = ctypes.CDLL("libstdc++.so.6")
    except OSError:
        return None
    # dlinfo is not exposed by ctypes; /proc/self/maps names the file that was mapped.
    del lib
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                if "libstdc++.so.6" in line:
                    return line.split()[-1]
    except OSError:
        pass
    return None


def check_platform() -> Check:
    machine = platform.machine()
    impl = platform.python_implementation()
    py = platform.python_version()
    detail = f"{platform.system()} {machine}, {impl} {py}"
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        return Check("platform", FAIL, detail + " (free-threaded build)",
                     "ai-edge-litert ships no wheels for free-threaded Python: use the regular CPython build")
    if platform.system() != "Linux" or machine not in ("x86_64", "aarch64"):
        return Check("platform", WARN, detail, "edgerun's wheels are for Linux x86_64 and aarch64 only")
    return Check("platform", OK, detail)


def check_libc(litert_path: str) -> list[Check]:
    checks = []
    have = _glibc_version()
    need = _symbol_versions(litert_path, b"GLIBC") if litert_path else []
    need_v = need[-1].split("_", 1)[1] if need else None
    if have is None:
        checks.append(Check("glibc", FAIL, "not a glibc system (musl? Alpine?)",
                            "libLiteRt.so is built for glibc: use a glibc distribution (Debian, Ubuntu, Pi OS)"))
    elif need_v and _version_tuple(have) < _version_tuple(need_v):
        checks.append(Check("glibc", FAIL, f"{have}; libLiteRt.so needs {need_v}",
                            "upgrade the OS: Raspberry Pi OS bookworm / Ubuntu 22.04 or newer "
                            "(aarch64 needs glibc 2.34; Ubuntu 20.04 and Jetson L4T r35 are too old)"))
    else:
        checks.append(Check("glibc", OK, f"{have}" + (f" (libLiteRt.so needs {need_v})" if need_v else "")))
    need_cxx = _symbol_versions(litert_path, b"GLIBCXX") if litert_path else []
    if need_cxx:
        lib = _find_libstdcxx()
        provided = _symbol_versions(lib, b"GLIBCXX") if lib else []
        want = need_cxx[-1]
        if not provided:
            checks.append(Check("libstdc++", FAIL, f"not found; libLiteRt.so needs {want}",
                                "install libstdc++6 from your distribution"))
        elif _version_tuple(provided[-1]) < _version_tuple(want):
            checks.append(Check("libstdc++", FAIL, f"{lib} provides up to {provided[-1]}; libLiteRt.so needs {want}",
                                "upgrade libstdc++6 (a newer OS release), or put a newer libstdc++.so.6 first "
                                "on LD_LIBRARY_PATH"))
        else:
            checks.append(Check("libstdc++", OK, f"{provided[-1]} ({lib}; libLiteRt.so needs {want})"))
    return checks


def check_runtime() -> tuple[list[Check], bool]:
    from .. import _core, _runtime
    from ..errors import Error

    path, version = _runtime.find_litert()
    env = os.environ.get("EDGERUN_LITERT_LIB")
    if env:
        path = env
    supported = _core.supported_litert()
    checks: list[Check] = []
    if not path:
        checks.append(Check("litert", FAIL, "libLiteRt.so not found",
                            f"pip install 'ai-edge-litert=={supported}.*' (or set EDGERUN_LITERT_LIB)"))
        return checks, False
    checks.extend(check_libc(path))
    label = f"{path} (ai-edge-litert {version or '?'}; edgerun supports {supported}.*)"
    try:
        _runtime.ensure_runtime()
    except Error as e:
        first = str(e).splitlines()[0]
        checks.append(Check("litert", FAIL, f"{label}: {first}",
                            f"pip install 'ai-edge-litert=={supported}.*'; see the glibc/libstdc++ lines above"))
        return checks, False
    checks.append(Check("litert", OK, label))
    return checks, True


def check_cpu() -> list[Check]:
    from .. import _core

    features = _core._cpu_features() or "(none detected)"
    isa = _core._preprocess_active_isa()
    checks = [Check("cpu", INFO, f"{platform.machine()}: {features}")]
    if os.environ.get("EDGERUN_DISABLE_SIMD") not in (None, "", "0"):
        checks.append(Check("simd", WARN, "scalar (EDGERUN_DISABLE_SIMD is set)",
                            "unset EDGERUN_DISABLE_SIMD for the AVX2/NEON preprocessing kernels"))
    elif isa == "scalar":
        checks.append(Check("simd", WARN, "scalar reference kernels (no AVX2+FMA+F16C or NEON on this CPU)",
                            "preprocessing works but is several times slower"))
    else:
        checks.append(Check("simd", OK, f"preprocessing uses the {isa} kernels"))
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    total = os.cpu_count() or usable
    detail = f"{usable} usable" + (f" of {total}" if total != usable else "")
    checks.append(Check("cores", OK if usable > 1 else WARN, detail + f"; Session's default: "
                        f"threads={_core.default_threads()} (one per physical core; 1 with two cores or fewer)",
                        "" if usable > 1 else "one core: the pipeline cannot overlap stages"))
    return checks


def check_exceptions() -> Check:
    """Whether a C++ exception the runtime throws can reach our handlers (docs/security.md)."""
    from .. import _core

    unwinder, cxx = _core._unwinder, _core._cxx_runtime
    if unwinder == "static":
        return Check("exceptions", WARN, f"{cxx} with a static LLVM unwinder: a C++ exception from the runtime "
                     "ends the process", "rebuild linking libgcc_s.so.1 (CMake -DEDGERUN_UNWIND_LIB=...), or keep "
                     "Session(verify=True)")
    return Check("exceptions", OK, f"runtime C++ exceptions become edgerun errors ({cxx}, unwinder {unwinder})")


def check_edgetpu() -> Check:
    from ..delegates import edgetpu_devices, edgetpu_runtime

    info = edgetpu_runtime()
    if not info["available"]:
        # Optional: only models compiled for the Edge TPU need it.
        return Check("edgetpu", INFO, "no usable libedgetpu.so.1 (only *_edgetpu.tflite models need it)",
                     info["error"])
    devices = edgetpu_devices()
    if not devices:
        return Check("edgetpu", WARN, f"{info['library']} ({info['version'] or 'version ?'}), no device found",
                     "lsusb should show 1a6e:089a or 18d1:9302; check udev rules / plugdev, or /dev/apex_0")
    names = ", ".join(f"{d['type']}:{d['path']}" for d in devices)
    return Check("edgetpu", OK, f"{info['library']} ({info['version'] or 'version ?'}): {names}")


def check_inference() -> Check:
    from ..model import builder
    from ..session import Session
    from ..errors import Error

    try:
        t0 = time.perf_counter()
        session = Session(builder.builtin_image_model(), threads=1)
        load_ms = (time.perf_counter() - t0) * 1e3
        t0 = time.perf_counter()
        session.run()
        run_ms = (time.perf_counter() - t0) * 1e3
    except Error as e:
        return Check("inference", FAIL, f"the built-in model failed: {str(e).splitlines()[0]}",
                     "report this with the output of `edgerun doctor --json`")
    return Check("inference", OK, f"built-in model: load {load_ms:.1f} ms, one run {run_ms:.2f} ms")


def run_checks() -> list[Check]:
    checks = [check_platform()]
    runtime_checks, loaded = check_runtime()
    checks.extend(runtime_checks)
    checks.extend(check_cpu())
    checks.append(check_exceptions())
    checks.append(check_edgetpu())
    if loaded:
        checks.append(check_inference())
    return checks


def main(json_output: bool = False, out: Callable[[str], None] = print) -> int:
    from .._version import __version__

    checks = run_checks()
    failed = any(c.verdict == FAIL for c in checks)
    if json_output:
        import json

        out(json.dumps({"edgerun": __version__, "python": sys.version.split()[0], "ok": not failed,
                        "checks": [c.to_dict() for c in checks]}, indent=2))
    else:
        out(f"edgerun {__version__} at {os.path.dirname(os.path.dirname(__file__))}")
        width = max(len(c.name) for c in checks)
        for c in checks:
            out(f"[{c.verdict:^4}] {c.name:<{width}}  {c.detail}")
            if c.fix and c.verdict in (FAIL, WARN):
                out(f"       {'':<{width}}  -> {c.fix}")
        out("verdict: " + ("something blocks inference (FAIL lines above)" if failed else "ready"))
    return 1 if failed else 0
