"""ns-3 in this process: the PyPI wheel's cppyy bindings plus the project's C++ extension
(libgensemcom.so), simulator reset and seeding, Python callables scheduled in simulated time,
and the SemanticApp every scenario installs.

The wheel's loader globs **/*.so* under the current directory: importing it from the repo root
would crawl the multi-GB .venv (slow, and it can find a second ns-3 copy and refuse). So the
import happens from an empty directory, and cwd is restored afterwards.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from gensemcom.core import packet_trace
from gensemcom.core.paths import REPO_ROOT, build_dir

INCLUDE_DIR = REPO_ROOT / "ns3-scenarios" / "include"
HEADERS = ("semantic-header.h", "semantic-app.h", "bit-flip-error-model.h", "semantic-link-channel.h",
           "semantic-link-net-device.h", "nr-phy-abstraction.h", "nr-rlc.h", "nr-cell-channel.h",
           "nr-net-device.h", "semantic-trace-sink.h", "olla-ff-mac-scheduler.h")

# std::function shims: Python callables cannot go to Simulator::Schedule directly.
_SHIMS = r"""
#include <functional>
namespace gsc_py {
inline void Schedule(double delaySeconds, std::function<void()> fn)
{
    ns3::Simulator::Schedule(ns3::Seconds(delaySeconds), [fn]() { fn(); });
}
inline void Run() { ns3::Simulator::Run(); }  // called with the GIL released (see run)
}
"""

_NS = None
_KEEP_ALIVE: list = []  # Python callables handed to C++ must outlive the simulation


def library_path() -> Path:
    return build_dir() / "lib" / "libgensemcom.so"


@contextlib.contextmanager
def _in_empty_dir():
    previous = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="gsc-ns3-") as empty:
        os.chdir(empty)
        try:
            yield
        finally:
            os.chdir(previous)


# cling reports the wheel's static initialisers it cannot materialise ("Failed to materialize
# symbols: { (main, { _ZN3ns3L16g_timeInitHelperE, ... }) }") while the bindings load. ns-3 runs
# correctly all the same (every test passes with it), and users read the lines as errors: they
# are dropped from stderr while ns-3 loads, and only they.
CLING_NOTICE = b"Failed to materialize symbols"


@contextlib.contextmanager
def _without_cling_notices():
    """Filter CLING_NOTICE lines out of file descriptor 2 (C++ writes there, not to sys.stderr)."""
    import sys
    import threading

    sys.stderr.flush()
    read_end, write_end = os.pipe()
    saved = os.dup(2)
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        with os.fdopen(read_end, "rb") as pipe:
            for line in pipe:
                if CLING_NOTICE not in line:
                    os.write(saved, line)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)   # closes the pipe's last write end: the pump sees the end and stops
        thread.join(timeout=5)
        os.close(saved)


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
    with _in_empty_dir(), _without_cling_notices():
        from ns import ns  # noqa: PLC0415 - deliberately late and from an empty cwd

        import cppyy

        cppyy.add_include_path(str(INCLUDE_DIR))
        for header in HEADERS:
            cppyy.include(f"gensemcom/{header}")
        cppyy.load_library(str(lib))
        cppyy.cppdef(_SHIMS)
        cppyy.gbl.gsc_py.Run.__release_gil__ = True
    _NS = ns
    return ns


def reset(ns, seed: int):
    """Before building a simulation: ns-3's RNG at (seed, run = seed) and random stream numbers
    from 0 again (a simulation after another one in this process draws what it would in a
    fresh process). Returns the simulation's packet trace (an empty SemanticTraceSink)."""
    ns.RngSeedManager.SetSeed(seed)
    ns.RngSeedManager.SetRun(seed)
    ns.RngSeedManager.ResetNextStreamIndex()
    return packet_trace.create(ns)


def run() -> None:
    """Simulator::Run without holding the GIL: cppyy keeps it through a C++ call by default, and
    Python threads (the agents' supervisor) would then stand still while ns-3 runs. The Python
    callbacks take it back themselves (cppyy's std::function wrappers call PyGILState_Ensure)."""
    import cppyy

    cppyy.gbl.gsc_py.Run()


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
    rate string such as "5Mbps". trace: the packet trace (packet_trace.create) that logs the
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
