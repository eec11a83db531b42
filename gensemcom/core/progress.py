"""Progress bars over simulated time: ns-3 runs in C++, so a bar is advanced by a simulator
event every `step_s` of simulated time (these events touch nothing else, unless `done` tells
them to stop the run)."""

from __future__ import annotations

from typing import Callable

from tqdm import tqdm

from gensemcom.core import ns3


def run_simulation(ns, stop_s: float, desc: str, step_s: float = 0.05, upper_bound: bool = False,
                   done: Callable[[], bool] | None = None) -> float:
    """Run ns-3 until stop_s, or an earlier Simulator::Stop(); returns the simulated end time.
    upper_bound: stop_s is only a limit (the run usually stops itself earlier). done: asked at
    every step; True stops the run (for what other threads decide, which cannot call Stop)."""
    what = "sim-s (upper bound)" if upper_bound else "sim-s"
    bar = tqdm(total=round(stop_s, 3), desc=desc, unit="sim-s",
               bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} " + what + " [{elapsed}<{remaining}]")

    def tick() -> None:
        bar.update(min(step_s, stop_s - bar.n))
        if done is not None and done():
            ns.Simulator.Stop()
        elif bar.n + step_s <= stop_s:
            ns3.schedule(step_s, tick)

    ns3.schedule(step_s, tick)
    ns.Simulator.Stop(ns.Seconds(stop_s))
    ns3.run()
    end = ns.Simulator.Now().GetSeconds()
    bar.close()
    return end
