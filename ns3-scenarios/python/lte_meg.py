"""Mobile edge generation network: several UEs <-> one eNB (LENA, as in lte_edge) <-> EPC/PGW
<-> several edge servers, each on its own point-to-point backhaul link behind the PGW (mobile
edge computing co-located with the core), reachable from each other through the PGW.
"""

from __future__ import annotations

from pathlib import Path

from . import lte_edge


def build(ns, cfg, cache_dir: Path, ues: list[tuple[str, float]], servers: list[str]) -> lte_edge.Network:
    """ues: (name, distance to the eNB in m); servers: edge-server names."""
    if not ues or not servers:
        raise ValueError("need at least one UE and one edge server")
    lte, epc, info = lte_edge.lte_helpers(ns, cfg.lte, cfg.seed, cache_dir)
    net = lte_edge.Network(info=info, genai=servers[0])
    internet, routing, p2p = lte_edge.server_stack(ns, epc, net, servers, cfg.backhaul.rate, cfg.backhaul.delay_ms)
    lte_edge.attach_ues(ns, lte, epc, internet, routing, net, ues)
    net.sources = [name for name, _ in ues]
    net.info.update({"ues": {name: d for name, d in ues}, "edge_servers": list(servers),
                     "backhaul": {"rate": cfg.backhaul.rate, "delay_ms": cfg.backhaul.delay_ms}})
    net.keep += [lte, epc, p2p, internet]
    return net
