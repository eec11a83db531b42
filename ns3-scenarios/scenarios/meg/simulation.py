"""Mobile edge generation in ns-3, the part both MEG scenarios share: the protocol engine
(engine.py) driven over a radio cell with several edge servers (`channel`: lte or nr, its
build_network), one
SemanticApp per node, a message = one semantic unit (unit id = message id); the receiving
agent adds the feature channel's AWGN to what arrived (agents.meg_split.feature_channel). Also the
noiseless reference run (no ns-3) and the per-request quality rows.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from tqdm import tqdm

from gensemcom.analysis import meg_results
from gensemcom.analysis import metrics
from gensemcom.constants import MEG_PORT as PORT
from gensemcom.core import ns3, progress, registry

from .engine import PAYLOAD, TASK, LocalTransport, MegEngine, Msg

log = logging.getLogger("gensemcom")


class Ns3Transport:
    """The engine's transport over ns-3: one SemanticApp per node, a message = one unit."""

    def __init__(self, ns, apps: dict, addresses: dict, call):
        self.ns, self.apps, self.addresses, self._call = ns, apps, addresses, call
        self.engine: MegEngine | None = None
        self.inflight: dict[int, Msg] = {}
        for node, app in apps.items():
            handler = (lambda node: lambda unit: self._on_unit(node, unit))(node)
            ns3.keep_alive(handler)
            app.SetUnitHandler(handler)

    def now(self) -> float:
        return self.ns.Simulator.Now().GetSeconds()

    def schedule(self, delay: float, fn) -> None:
        def safe():
            try:
                fn()
            except Exception:  # noqa: BLE001 - an exception must not unwind into C++
                log.exception("MEG event failed")
        ns3.schedule(max(0.0, delay), safe)

    def send(self, msg: Msg, delay: float) -> None:
        streams = [msg.payload] + ([msg.task] if msg.task else [])
        self.inflight[msg.mid] = msg
        for sid, data in enumerate(streams):
            self.apps[msg.src].SendStream(self.ns.Seconds(max(0.0, delay)), self.addresses[msg.dst], PORT + sid,
                                          msg.mid, sid, len(streams), data)

    def call(self, node, op, header, frames):
        return self._call(node, op, header, frames)

    def stop(self) -> None:
        self.ns.Simulator.Stop()

    def _on_unit(self, node: str, unit: int) -> None:
        app = self.apps[node]
        try:
            msg = self.inflight.pop(unit, None)
            if msg is None or msg.dst != node:
                log.warning("%s received unit %d, which no message to it has: ignored", node, unit)
                return
            msg.t_rx = app.GetUnitReadyTime(unit).GetSeconds()
            ids = [int(s) for s in app.GetStreamIds(unit)]
            msg.complete = bool(app.IsUnitComplete(unit))
            msg.crc_ok = all(bool(app.IsStreamCrcOk(unit, s)) for s in ids)
            got = {s: ns3.vector_bytes(app.GetStreamBytes(unit, s)) for s in ids}
            msg.rx_payload, msg.rx_task = got.get(PAYLOAD, b""), got.get(TASK, b"")
            self.engine.on_message(msg)
        except Exception:  # noqa: BLE001
            log.exception("%s: handling unit %d failed", node, unit)
        finally:
            app.ReleaseUnit(unit)


def nodes_of(cfg) -> tuple[list[tuple[str, float]], list[str]]:
    """(UEs as (name, distance), edge-server names) of a meg config."""
    ues = [(f"ue{i}", d) for i, d in enumerate(cfg.meg.ue_distances_m)]
    return ues, [f"es{k}" for k in range(cfg.meg.num_es)]


def images_of(cfg) -> list[tuple[str, np.ndarray]]:
    from gensemcom.agents.images import load_image
    return [(n, load_image(n, cfg.images.size)) for n in cfg.images.names * cfg.images.repeat]


def _upper_bound_s(cfg, n_images: int) -> float:
    m = cfg.meg
    per_phase = (n_images - 1) * cfg.images.interval_s + m.request_timeout_s + m.phase_gap_s
    return cfg.images.start_s + len(m.protocols) * per_phase + 1.0


def simulate(cfg, ns, call, images) -> tuple[MegEngine, float, dict, object]:
    """One ns-3 run of the config's protocols: (engine with the requests, simulated end,
    network, packet trace)."""
    trace = ns3.reset(ns, cfg.seed)
    ues, ess = nodes_of(cfg)
    channel = registry.load_channel(cfg.channel)
    if not callable(getattr(channel, "build_network", None)):
        raise ValueError(f"channel {cfg.channel} has no build_network (UEs and several edge servers)")
    net = channel.build_network(ns, cfg, ues, ess, trace)
    channel.ready(ns, cfg, net, [], trace)
    apps = {name: ns3.install_semantic_app(
        ns, net.nodes[name], name, segment_bytes=cfg.app.segment_bytes, rate=cfg.app.rate,
        unit_timeout_s=cfg.app.unit_timeout_s, listen_port=PORT, num_ports=2, trace=trace)
        for name in [u for u, _ in ues] + ess}
    transport = Ns3Transport(ns, apps, net.addresses, call)
    engine = MegEngine(cfg.meg, seed=cfg.seed, size=cfg.images.size, ues=[u for u, _ in ues], ess=ess,
                       images=images, start_s=cfg.images.start_s, interval_s=cfg.images.interval_s,
                       transport=transport)
    transport.engine = engine
    engine.start()
    end = progress.run_simulation(ns, _upper_bound_s(cfg, len(images)), f"ns-3 {cfg.channel} simulation (MEG)",
                                  step_s=0.1, upper_bound=True)
    ns.Simulator.Destroy()
    ns3.keep_alive(net)
    ns3.keep_alive(apps)
    if not engine.done:
        log.error("simulation stopped at %.2f s before every protocol had finished", end)
    return engine, end, net.info, trace


def reference_run(cfg, call, images, run: MegEngine) -> dict[int, np.ndarray | None]:
    """Every request again with a noiseless channel (LocalTransport: no ns-3), same noise seeds
    and the same picks: the delivered image minus what the channel did to it."""
    ues, ess = nodes_of(cfg)
    force = {r.key: r.picked for r in run.requests if r.picked is not None}
    transport = LocalTransport(call)
    ref = MegEngine(cfg.meg, seed=cfg.seed, size=cfg.images.size, ues=[u for u, _ in ues], ess=ess,
                    images=images, start_s=cfg.images.start_s, interval_s=cfg.images.interval_s,
                    transport=transport, snr_db=None, force_pick=force)
    transport.engine = ref
    ref.start()
    transport.run()
    by_key = {r.key: r.result for r in ref.requests if r.status == "ok"}
    return {r.rid: by_key.get(r.key) for r in run.requests}


def request_rows(cfg, engine: MegEngine, refs: dict) -> pd.DataFrame:
    """One row per request: status, response time, compute, PSNR / LPIPS (against the input
    and the noiseless reference), Inception features."""
    from gensemcom.analysis.lpips import lpips_score

    rows = []
    delivered = [r.result if r.status == "ok" and r.result is not None and r.result.shape == r.original.shape
                 else None for r in engine.requests]
    # The FID substitute per request and the Inception features FID / KID are computed from.
    device = cfg.agents.metrics_device()
    cosine, feats, feats_in = meg_results.inception_scores(delivered, [r.original for r in engine.requests], device)
    for i, r in enumerate(tqdm(engine.requests, desc="metrics (PSNR, LPIPS)", unit="request")):
        psnr = lp = psnr_ref = lp_ref = np.nan
        ok = delivered[i] is not None
        if ok:
            psnr, lp = metrics.psnr(r.original, r.result), lpips_score(r.original, r.result, device=device)
            ref = refs.get(r.rid)
            if ref is not None:
                psnr_ref, lp_ref = metrics.psnr(ref, r.result), lpips_score(ref, r.result, device=device)
        rows.append({
            "rid": r.rid, "protocol": r.protocol.name, "family": r.protocol.family, "ue": r.ue, "es": ",".join(r.es),
            "image": r.image, "status": r.status, "error": r.error, "snr_db": engine.snr_db,
            "t_request": r.t_request, "t_done": r.t_done, "response_s": r.t_done - r.t_request if ok else np.nan,
            "compute_ue_s": r.compute_s.get(r.ue, 0.0),
            "compute_es_s": sum(v for k, v in r.compute_s.items() if k != r.ue),
            "picked_es": r.picked, "psnr_db": psnr, "lpips": lp, "psnr_ref_db": psnr_ref, "lpips_ref": lp_ref,
            "inception_cosine": cosine[i], meg_results.FEATURES: feats[i], meg_results.FEATURES_INPUT: feats_in[i]})
    return pd.DataFrame(rows)


def agent_specs(cfg, names: list[str]) -> dict[str, tuple[str, dict]]:
    """A "meg" agent (the split model) per name."""
    options = {"threads": cfg.agents.threads, "seed": cfg.seed, "models": {"split": cfg.models.split},
               "device": cfg.agents.devices()[0]}
    return {n: ("meg", options) for n in names}


def messages_table(engine: MegEngine) -> pd.DataFrame:
    return pd.DataFrame([m.row() for m in engine.messages.values()],
                        columns=list(Msg(0, 0, "", "", "", "", 0, b"").row()))


