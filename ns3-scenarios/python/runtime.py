"""Load ns-3 (PyPI wheel, cppyy bindings) plus the project's C++ extension into this process.

The wheel's loader globs **/*.so* under the current directory: importing it from the repo root
would crawl the multi-GB .venv (slow, and it can find a second ns-3 copy and refuse). So the
import happens from an empty directory, and cwd is restored afterwards.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
INCLUDE_DIR = REPO_ROOT / "ns3-scenarios" / "include"
HEADERS = ("semantic-header.h", "semantic-app.h", "bit-flip-error-model.h", "semantic-link-channel.h",
           "semantic-link-net-device.h", "semantic-trace-sink.h")

# std::function shims: Python callables cannot go to Simulator::Schedule directly.
_SHIMS = r"""
#include <functional>
namespace gsc_py {
inline void Schedule(double delaySeconds, std::function<void()> fn)
{
    ns3::Simulator::Schedule(ns3::Seconds(delaySeconds), [fn]() { fn(); });
}
}
"""

_NS = None
_KEEP_ALIVE: list = []  # Python callables handed to C++ must outlive the simulation


def library_path() -> Path:
    build = Path(os.environ.get("GENSEMCOM_BUILD_DIR", REPO_ROOT / "build"))
    return build / "lib" / "libgensemcom.so"


@contextlib.contextmanager
def _in_empty_dir():
    previous = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="gsc-ns3-") as empty:
        os.chdir(empty)
        try:
            yield
        finally:
            os.chdir(previous)


def load_ns():
    """Import ns-3 once and load libgensemcom.so; returns the ``ns`` namespace (ns3::)."""
    global _NS
    if _NS is not None:
        return _NS
    lib = library_path()
    if not lib.exists():
        raise FileNotFoundError(
            f"{lib} is missing: build the C++ extension first (./run.sh does it, or "
            f"cmake -S . -B build -DPython3_EXECUTABLE=.venv/bin/python && cmake --build build)"
        )
    with _in_empty_dir():
        from ns import ns  # noqa: PLC0415 - deliberately late and from an empty cwd

        import cppyy

        cppyy.add_include_path(str(INCLUDE_DIR))
        for header in HEADERS:
            cppyy.include(f"gensemcom/{header}")
        cppyy.load_library(str(lib))
        cppyy.cppdef(_SHIMS)
    _NS = ns
    return ns


def schedule(delay_s: float, fn) -> None:
    """Run a Python callable at now + delay_s in simulated time."""
    import cppyy

    _KEEP_ALIVE.append(fn)
    cppyy.gbl.gsc_py.Schedule(float(delay_s), fn)


def keep_alive(obj) -> None:
    _KEEP_ALIVE.append(obj)


def install_semantic_app(ns, node, label: str, *, segment_bytes: int, rate, unit_timeout_s: float,
                         listen_port: int = 0, num_ports: int = 1, trace=None):
    """A SemanticApp on `node` (ns-3 applications start at t = 0). rate: bit/s, or an ns-3
    rate string such as "5Mbps". trace: a SemanticTraceSink (trace_sink.create) that logs the
    app's events as node `label`."""
    app = ns.CreateObject[ns.cppyy.gbl.ns3.SemanticApp]()
    app.SetAttribute("Label", ns.StringValue(label))
    app.SetAttribute("ListenPort", ns.UintegerValue(listen_port))
    app.SetAttribute("NumPorts", ns.UintegerValue(num_ports))
    app.SetAttribute("SegmentSize", ns.UintegerValue(segment_bytes))
    app.SetAttribute("DataRate", ns.DataRateValue(ns.DataRate(rate if isinstance(rate, str) else int(rate))))
    app.SetAttribute("UnitTimeout", ns.TimeValue(ns.Seconds(unit_timeout_s)))
    node.AddApplication(app)
    if trace is not None:
        trace.ConnectApp(app, label)
    return app


def vector_bytes(vec) -> bytes:
    """Copy a std::vector<uint8_t> returned by C++ into Python bytes."""
    n = int(vec.size())
    if n == 0:
        return b""
    return bytes(memoryview(vec.data()).cast("B")[:n])
