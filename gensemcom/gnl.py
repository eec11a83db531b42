"""Scenario `gnl_fig1`: the generative network layer's Fig. 1 in ns-3, with measured flows.

s sends latent prompts (the codec's bitstream, L_p bpp) to the GenAI node g at lambda* =
min(c_sg / L_p, c_gd / L) (Eq. 4, times `rate_factor`), g generates each image with its agent
and sends it raw (L = 24 bpp) to d, while s also streams original images to d via the relay r.
With gnl.ps_gamma > 0 the prompt is PS (pixel swapping): a second stream carries a fraction
gamma of the original pixels, which g swaps into the generated image before sending it, and
L_p becomes L_c = L_p + gamma L (+ the PS header). d measures the distortion of what arrives.
The flows are measured from the packet trace and G_flow (Eq. 3) is compared with the analysis.
Capacities are payload rates: each link's rate adds the per-packet header overhead.
"""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pandas as pd

from gensemcom.agents import pixel_swap
from gensemcom.agents.images import load_image
from gensemcom.analysis import metrics
from gensemcom.analysis import generative_flow as gf
from gensemcom.bridge import schema
from gensemcom.config import Config
from gensemcom.runner import results_dir, start_agent_processes, write_packet_trace
from gensemcom.scenarios import p2p_graph, runtime

log = logging.getLogger("gensemcom")

PORT = 9000
RAW_BPP = 24.0
ORIGINAL_UNIT_BASE = 1_000_000   # unit ids of the original data sent via the relay
LOWER_HEADERS = 8 + 20 + 2        # UDP + IPv4 + PPP header bytes per packet


def _unit_rate_bits(events: pd.DataFrame, warmup: int) -> tuple[float, float, float]:
    """Rate of a periodic unit flow from its completions: bytes of units warmup+1..n over the
    time from completion warmup to n. Returns (bit/s, window start, window end)."""
    done = events.sort_values("time_s")
    if len(done) < warmup + 2:
        raise RuntimeError(f"only {len(done)} units completed: too few to measure a rate (warm-up {warmup})")
    window = done.iloc[warmup:]
    t0, t1 = window["time_s"].iloc[0], window["time_s"].iloc[-1]
    return 8.0 * window["bytes"].iloc[1:].sum() / (t1 - t0), t0, t1


def run_gnl(cfg: Config) -> dict:
    g, im = cfg.gnl, cfg.images
    out = results_dir(cfg)
    (out / "config.json").write_text(cfg.model_dump_json(indent=2))
    names = im.names * im.repeat
    pixels = im.size * im.size
    bps_per_bpp = pixels / g.period_s
    seg = cfg.app.segment_bytes

    agents = start_agent_processes(cfg, out, streams=["latent"])  # latent prompts only
    try:
        ns = runtime.load_ns()
        for agent in agents.values():
            agent.wait_ready()
        images = [load_image(n, im.size) for n in names]
        prompts = []  # per unit: the latent, plus the PS payload when ps_gamma > 0
        for k, img in enumerate(images):
            answer = agents["encoder"].client.call(schema.request("encode", [img.tobytes()], h=im.size, w=im.size,
                                                                  streams=["latent"]))
            latent = dict(zip(answer.header["streams"], answer.frames))["latent"]
            prompts.append([latent] + ([pixel_swap.encode_swap(img, g.ps_gamma, cfg.seed * 1_000_003 + k)]
                                       if g.ps_gamma > 0 else []))
        prompt_bpp = float(np.mean([8 * sum(map(len, p)) for p in prompts])) / pixels
        analytic = gf.fig1_closed_form(g.c_sr, g.c_rd, g.c_sg, g.c_gd, RAW_BPP, prompt_bpp)
        lam = analytic["lambda"] * g.rate_factor / g.period_s  # prompts per second

        nsg = ns.cppyy.gbl.ns3
        ns.RngSeedManager.SetSeed(cfg.seed)
        ns.RngSeedManager.SetRun(cfg.seed)
        nsg.GscTraceLog.Clear()
        header = nsg.SemanticHeader.kSize
        link_rate = lambda c: c * bps_per_bpp * (seg + header + LOWER_HEADERS) / seg  # noqa: E731
        graph = gf.fig1_graph(*(link_rate(c) for c in (g.c_sr, g.c_rd, g.c_sg, g.c_gd)))
        for u, v in graph.edges:
            graph.edges[u, v]["delay_ms"] = g.delay_ms
        net = p2p_graph.build(ns, graph)
        net.pin_path(ns, ["s", "r", "d"])  # original data via the relay, not the GenAI node

        def app(node: str, label: str, rate_bps: float, listen: int = 0):
            return runtime.install_semantic_app(ns, net.nodes[node], label, segment_bytes=seg, rate=rate_bps,
                                                unit_timeout_s=cfg.app.unit_timeout_s + 10 / lam,
                                                listen_port=listen)

        s_prompt = app("s", "s", link_rate(g.c_sg))
        s_orig = app("s", "s_orig", link_rate(min(g.c_sr, g.c_rd)))
        genai = app("g", "g", link_rate(g.c_gd), PORT)
        dest = app("d", "d", 1e9, PORT)
        start = im.start_s
        for k, prompt in enumerate(prompts):
            for sid, stream in enumerate(prompt):
                s_prompt.SendStream(ns.Seconds(start + k / lam), net.addresses["g"], PORT, k, sid, len(prompt), stream)
        duration = len(prompts) / lam
        n_orig = math.ceil(duration * min(g.c_sr, g.c_rd) * bps_per_bpp / (RAW_BPP * pixels)) + 1
        for j in range(n_orig):
            s_orig.SendStream(ns.Seconds(start), net.addresses["d"], PORT, ORIGINAL_UNIT_BASE + j, 0, 1,
                              images[j % len(images)].tobytes())

        busy_until = [0.0]

        def on_prompt(unit: int) -> None:
            try:
                frames = [runtime.vector_bytes(genai.GetStreamBytes(unit, 0))]
                answer = agents["generator"].client.call(schema.request(
                    "generate", frames, unit=unit, streams=["latent"], complete=[bool(genai.IsUnitComplete(unit))],
                    crc_ok=[bool(genai.IsStreamCrcOk(unit, 0))], h=im.size, w=im.size, format="raw"))
                generated = answer.frames[0]
                if g.ps_gamma > 0:  # swap the received original pixels in (a damaged payload raises)
                    image = np.frombuffer(generated, np.uint8).reshape(im.size, im.size, 3)
                    swap = runtime.vector_bytes(genai.GetStreamBytes(unit, 1))
                    generated = pixel_swap.apply_swap(image, swap).tobytes()
                now = ns.Simulator.Now().GetSeconds()
                busy_until[0] = max(now, busy_until[0]) + cfg.compute.generate_s
                genai.SendStream(ns.Seconds(busy_until[0] - now), net.addresses["d"], PORT, unit, 0, 1, generated)
            except Exception:  # noqa: BLE001 - the unit goes missing at d; the run goes on
                log.exception("GenAI node: unit %d not generated", unit)
            finally:
                genai.ReleaseUnit(unit)

        distortion = {}  # generated unit -> normalised MSE of what d received

        def on_dest(unit: int) -> None:
            if unit < ORIGINAL_UNIT_BASE and dest.IsUnitComplete(unit):
                got = np.frombuffer(runtime.vector_bytes(dest.GetStreamBytes(unit, 0)), np.uint8)
                if got.size == pixels * 3:
                    distortion[unit] = metrics.normalised_mse(images[unit], got.reshape(im.size, im.size, 3))
            dest.ReleaseUnit(unit)

        runtime.keep_alive(on_prompt)
        runtime.keep_alive(on_dest)
        genai.SetUnitHandler(on_prompt)
        dest.SetUnitHandler(on_dest)
        ns.Simulator.Stop(ns.Seconds(start + duration + cfg.sim.drain_s + 2 * cfg.compute.generate_s))
        ns.Simulator.Run()
        ns.Simulator.Destroy()
        runtime.keep_alive(net)
    finally:
        for agent in agents.values():
            agent.stop()

    packets = write_packet_trace(ns, out)
    rx = packets[packets["event"] == "stream_rx"]
    prompt_bits, _, _ = _unit_rate_bits(rx[rx["node"] == "g"], g.warmup_units)
    generated = rx[(rx["node"] == "d") & (rx["unit"] < ORIGINAL_UNIT_BASE)]
    gen_bits, t0, t1 = _unit_rate_bits(generated, g.warmup_units)
    orig = packets[(packets["event"] == "rx") & (packets["node"] == "d") & (packets["unit"] >= ORIGINAL_UNIT_BASE)
                   & (packets["time_s"] > t0) & (packets["time_s"] <= t1)]
    relay_bits = 8.0 * (orig["bytes"] - header).sum() / (t1 - t0)

    measured = {"f_sg": prompt_bits / bps_per_bpp, "f_gd": gen_bits / bps_per_bpp, "f_rd": relay_bits / bps_per_bpp}
    measured["y_g"] = measured["f_gd"] - measured["f_sg"]
    measured["flow_gain"] = 1.0 + measured["y_g"] / analytic["f_sd_classical"]
    expected = {"f_sg": analytic["f_sg"], "f_gd": analytic["f_gd"], "f_rd": min(g.c_sr, g.c_rd),
                "y_g": analytic["y_g"], "flow_gain": analytic["flow_gain"]}
    flows = pd.DataFrame([{"quantity": k, "analytic": expected[k], "measured": measured[k]} for k in expected])
    flows["relative_error"] = (flows["measured"] - flows["analytic"]) / flows["analytic"]
    flows.to_csv(out / "flows.csv", index=False)
    summary = {"name": cfg.name, "results": str(out), "units": len(prompts), "prompt_bpp": prompt_bpp,
               "data_bpp": RAW_BPP, "lambda_per_period": analytic["lambda"] * g.rate_factor,
               "window_s": [t0, t1], "analytic": analytic, "measured": measured,
               "generated_units_delivered": int(len(generated)), "ps_gamma": g.ps_gamma,
               "delivered_normalised_mse": float(np.mean(list(distortion.values()))) if distortion else None,
               "flows_in_bpp_per_period": flows.to_dict("records")}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    return summary
