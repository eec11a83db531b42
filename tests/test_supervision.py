"""Process supervision: a dead agent is noticed within a second (mid-request, mid-run and at
start-up, with its own error), and an agent never outlives its simulator (SIGKILL or a native
crash), nor does its socket folder."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from helpers.cli_run import ROOT, config_variant
from helpers.processes import agent_pid

from gensemcom.bridge import schema
from gensemcom.bridge.client import AgentUnavailable
from gensemcom.bridge.launcher import AgentProcess

pytestmark = pytest.mark.slow

LIGHT_GENERATOR = {"threads": 1, "seed": 1, "models": {"generator": {"backend": "hint_upsample"}}}


def test_an_agent_killed_mid_request_fails_the_call_within_a_second(tmp_path):
    agent = AgentProcess("generator", "generator", LIGHT_GENERATOR, tmp_path, timeout_s=60, retries=1)
    try:
        agent.wait_ready()
        # The agent is frozen (SIGSTOP), so the request is pending for sure when it dies.
        request = schema.request("generate", [b"a cat"], streams=["prompt"], h=64, w=64, format="raw")
        agent.proc.send_signal(signal.SIGSTOP)
        killed_at = {}

        def kill():
            time.sleep(0.3)
            killed_at["t"] = time.monotonic()
            agent.proc.kill()

        threading.Thread(target=kill).start()
        with pytest.raises(AgentUnavailable, match=r"exited \(code -9\)"):
            agent.client.call(request)
        assert time.monotonic() - killed_at["t"] < 1.0
        # Later requests fail at once.
        start = time.monotonic()
        with pytest.raises(AgentUnavailable):
            agent.client.call(schema.request("generate", [b"x"], streams=["prompt"]))
        assert time.monotonic() - start < 0.1
    finally:
        agent.stop()


def test_an_agent_that_crashes_at_start_up_fails_fast_with_its_own_error(tmp_path):
    options = {"threads": 1, "models": {"generator": {"backend": "hint_upsample", "no_such_option": 3}}}
    agent = AgentProcess("generator", "generator", options, tmp_path, timeout_s=5, retries=0, ready_timeout_s=180)
    start = time.monotonic()
    try:
        with pytest.raises(AgentUnavailable) as info:
            agent.wait_ready()
        assert time.monotonic() - start < 60   # the import of torch, then the error: not the 180 s timeout
        message = str(info.value)
        assert "did not start" in message and "exited (code 1)" in message and "no_such_option" in message
    finally:
        agent.stop()


SIMULATOR = r"""
import json, os, sys, time
from pathlib import Path
from gensemcom.bridge.launcher import AgentProcess
agent = AgentProcess("generator", "generator", json.loads(sys.argv[2]), Path(sys.argv[1]), timeout_s=5, retries=0)
agent.wait_ready()
print(json.dumps({"pid": agent.proc.pid, "sock_dir": os.path.dirname(agent.endpoint.removeprefix("ipc://"))}), flush=True)
if sys.argv[3] == "abort":
    os.abort()          # a native crash (SIGABRT), as a segfault in ns-3 would end the process
time.sleep(600)
"""


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:   # a zombie (exited, not yet reaped by init) is gone too
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


@pytest.mark.parametrize("death", ["sigkill", "abort"])
def test_no_agent_outlives_its_simulator(tmp_path, death):
    sim = subprocess.Popen([sys.executable, "-c", SIMULATOR, str(tmp_path), json.dumps(LIGHT_GENERATOR), death],
                           stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(sim.stdout.readline())
        assert not _gone(info["pid"]) and Path(info["sock_dir"]).is_dir()
        if death == "sigkill":
            sim.send_signal(signal.SIGKILL)
        sim.wait(timeout=30)
        died = time.monotonic()
        while not (_gone(info["pid"]) and not Path(info["sock_dir"]).exists()) and time.monotonic() - died < 2.0:
            time.sleep(0.05)
        assert _gone(info["pid"]), f"agent {info['pid']} still running 2 s after its simulator died"
        assert not Path(info["sock_dir"]).exists(), "socket folder left behind"
    finally:
        if sim.poll() is None:
            sim.kill()


@pytest.mark.ns3
@pytest.mark.e2e
def test_a_generator_killed_mid_run_fails_the_remaining_units_within_a_second(tmp_path):
    """A run of the default scenario through the CLI; the generator is SIGKILLed when it gets the
    second unit's request (so during it, or just after). The units are 20 s apart in simulated
    time: failed only when the simulation brings them to the GenAI node, the last ones would
    fail seconds after the kill (2 to 6 s on the reference machine). The run must fail them
    itself, within a second, and finish."""
    config = config_variant("gen_semcom.json", tmp_path / "kill.json", name="kill", output_dir=str(tmp_path / "results"),
                            images={"size": 64, "interval_s": 20.0}, models={"generator": {"backend": "hint_upsample"}},
                            sim={"drain_s": 1.5})
    with open(tmp_path / "stdout", "w") as stdout, open(tmp_path / "stderr", "w") as stderr:
        run = subprocess.Popen([sys.executable, "-m", "gensemcom", "run", str(config)], cwd=ROOT, stdout=stdout,
                               stderr=stderr, text=True)
    try:
        killed_at = None
        while killed_at is None and run.poll() is None:
            logs = list((tmp_path / "results" / "kill").glob("*/agent-generator.log"))
            if logs and logs[0].read_text().count(" INFO generate unit ") >= 2:
                pid = agent_pid(run.pid, lambda argv: b"generator" in argv)
                killed_at = time.time()   # the wall clock: the run records its failures on it
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)
        assert run.wait(timeout=120) == 0, (tmp_path / "stderr").read_text()[-3000:]
    finally:
        if run.poll() is None:
            run.kill()
    assert killed_at is not None, "the run ended before the generator's second request"
    out = Path([x for x in (tmp_path / "stdout").read_text().splitlines() if x.startswith("results: ")][-1][9:])
    units = pd.read_parquet(out / "units.parquet")
    summary = json.loads((out / "summary.json").read_text())
    # Nothing lost: every unit has its row, the first one (answered before the kill) its image.
    assert list(units["unit"]) == [0, 1, 2, 3, 4] and summary["units"] == 5
    assert summary["status_counts"] == units["status"].value_counts().to_dict()
    assert units["status"][0] == "ok" and units["psnr_db"][0] > 0
    # The second unit was in the generator when it died, or answered just before; the rest fail.
    assert units["status"][1] in ("ok", "agent_dead")
    assert (units["status"][2:] == "agent_dead").all()
    dead = units[units["status"] == "agent_dead"]
    for error in dead["error"]:
        assert error.startswith("agent generator exited (code -9); last lines of ")
        assert "generator INFO generate unit 1" in error   # the log's tail: what it was doing
    latency = dead["failed_at_unix_s"] - killed_at
    assert ((latency > 0) & (latency < 1.0)).all(), latency.tolist()
    # The simulation did not wait for units that could no longer succeed.
    assert summary["simulated_s"] < units["t_arrival"].max()
