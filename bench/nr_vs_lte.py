"""NR cell vs ns-3 LTE (LENA), the same scenario on both channels, in one command: 50 UEs at
30-300 m and an edge server behind the base station, UDP both ways between each UE and the
server (1200-byte packets, 0.5 Mbit/s per UE and direction by default), 2 s simulated; NR at
mu = 1 with 51 PRBs (18.4 MHz), LTE with 100 RBs (18 MHz). Both networks are built by their
channel modules' build_network (the code the scenarios run), from the configs' defaults.

    .venv/bin/python bench/nr_vs_lte.py [--ues 50] [--seconds 2] [--mbps 0.5]

Prints per channel the wall time of the build and of the simulation, the TBs traced, the
packets delivered, and the ratio of the simulation wall times (LTE / NR). Run it from a small
directory (ns-3's loader globs the working directory for libraries).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from gensemcom.config import parse_config
from gensemcom.core import ns3, packet_trace, registry

PACKET_BYTES = 1200
UL_PORT, DL_PORT = 7000, 7500


def config(channel: str, ues: list[tuple[str, float]]) -> object:
    roles = [{"name": n, "distance_m": d, "role": "sink" if i == 0 else "source"} for i, (n, d) in enumerate(ues)]
    return parse_config({"name": "bench", "channel": channel,
                         "lte": {"bandwidth_rb": 100, "ues": roles},
                         "nr": {"numerology": 1, "bandwidth_prb": 51, "ues": roles}})


def run(ns, channel: str, ues: list[tuple[str, float]], seconds: float, mbps: float, seed: int = 1) -> dict:
    cfg = config(channel, ues)
    module = registry.load_channel(channel)
    t0 = time.perf_counter()
    trace = ns3.reset(ns, seed)
    net = module.build_network(ns, cfg, ues, ["es"], trace)
    module.ready(ns, cfg, net, [], trace)
    rng = np.random.default_rng(seed)
    servers = []
    interval = ns.Seconds(PACKET_BYTES * 8 / (mbps * 1e6))
    for i, (name, _) in enumerate(ues):
        for src, dst, port in ((name, "es", UL_PORT + i), ("es", name, DL_PORT + i)):
            server = ns.UdpServerHelper(port)
            server_apps = server.Install(net.nodes[dst])
            client = ns.UdpClientHelper(net.addresses[dst].ConvertTo(), port)
            client.SetAttribute("MaxPackets", ns.UintegerValue(0))
            client.SetAttribute("Interval", ns.TimeValue(interval))
            client.SetAttribute("PacketSize", ns.UintegerValue(PACKET_BYTES))
            client_apps = client.Install(net.nodes[src])
            # LTE UEs need ~20-100 ms to attach: traffic from 0.2 s on, in both channels
            client_apps.Start(ns.Seconds(0.2 + float(rng.uniform(0, 0.01))))
            servers.append(server_apps.Get(0))
            net.keep += [server, server_apps, client, client_apps]
    build = time.perf_counter() - t0
    ns.Simulator.Stop(ns.Seconds(seconds))
    t1 = time.perf_counter()
    ns3.run()
    sim = time.perf_counter() - t1
    received = sum(int(ns.DynamicCast[ns.UdpServer](s).GetReceived()) for s in servers)
    packets = packet_trace.table(trace)
    ns.Simulator.Destroy()
    ns3.keep_alive(net)
    tb = packets[packets["event"].isin(["phy_ul_tb", "phy_dl_tb"])]
    return {"channel": channel, "build_s": build, "simulate_s": sim, "tbs": len(tb),
            "first_tx_bler": float((tb[tb["ndi"] == 1]["ok"] == 0).mean()) if len(tb) else None,
            "packets_delivered": received}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ues", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--mbps", type=float, default=0.5, help="UDP rate per UE and direction")
    args = ap.parse_args()
    ns = ns3.load_ns()
    rng = np.random.default_rng(7)
    ues = [(f"ue{i}", float(d)) for i, d in enumerate(rng.uniform(30, 300, args.ues))]
    rows = pd.DataFrame([run(ns, ch, ues, args.seconds, args.mbps) for ch in ("lte", "nr")]).set_index("channel")
    print(f"{args.ues} UEs, UDP {args.mbps} Mbit/s per UE and direction, {args.seconds} s simulated "
          f"(LTE 100 RBs; NR mu = 1, 51 PRBs):")
    print("| channel | build (s) | simulation (s) | TBs traced | first-tx BLER | UDP packets delivered |")
    print("|---|---|---|---|---|---|")
    for ch, r in rows.iterrows():
        print(f"| {ch} | {r.build_s:.2f} | {r.simulate_s:.2f} | {int(r.tbs)} | {r.first_tx_bler:.3f} | {int(r.packets_delivered)} |")
    print(f"simulation wall time, LTE / NR: {rows.simulate_s['lte'] / rows.simulate_s['nr']:.2f}x")


if __name__ == "__main__":
    main()
