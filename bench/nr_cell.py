"""NR cell benchmark: 50 UEs in one cell (μ = 1, 106 PRBs at 30 kHz, FDD or a TDD pattern),
2 s simulated, per-UE stand-in Rayleigh fading, UDP traffic in both directions (1200-byte
packets; the default rates overload the cell, so it is full-buffer-ish) or RLC full buffer.

    .venv/bin/python bench/nr_cell.py [--ues 50] [--seconds 2] [--duplex FDD] [--full-buffer]
                                      [--dl-mbps 4] [--ul-mbps 1] [--scheduler rr]

Prints the wall time of the build and of the run, TBs per second of wall time, cell
throughput per direction, first-transmission and residual BLER and the mean packet delay.
Run it from a small directory (ns-3's loader globs the working directory for libraries).

    .venv/bin/python bench/nr_cell.py --checks

prints instead the numbers docs/nr.md quotes, from the configurations of tests/test_nr_cell.py:
link adaptation under fading (4 UEs), full-buffer peak rate (FDD, DDDSU) and the one-way delay
of a small UDP packet at mu = 0..3.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from gensemcom.channels import nr
from gensemcom.core import ns3, packet_trace


def rayleigh_trace(rng, n_slots: int, n_prb: int, rho: float = 0.995) -> np.ndarray:
    """Stand-in fading (as tests/test_nr_cell.py): 6 Rayleigh taps, exponential power-delay
    profile, AR(1) in time, at the PRB centres; dB gains [n_slots, n_prb]."""
    power = np.exp(-np.arange(6.0))
    power /= power.sum()
    noise = (rng.normal(size=(n_slots, 6)) + 1j * rng.normal(size=(n_slots, 6))) * np.sqrt(power / 2)
    taps = np.empty_like(noise)
    taps[0] = noise[0]
    for t in range(1, n_slots):
        taps[t] = rho * taps[t - 1] + np.sqrt(1 - rho ** 2) * noise[t]
    freq = np.fft.fft(taps, 4 * n_prb, axis=1)[:, ::4]
    return (10 * np.log10(np.abs(freq) ** 2)).astype(np.float32)


def _run(ns, spec, seconds, seed=1, full_buffer=(), fading=None, setup=None):
    trace = ns3.reset(ns, seed)
    net = nr.build_cell(ns, spec, seed, trace=trace)
    for ue, downlink in full_buffer:
        net.cell.SetFullBuffer(ue, downlink, True)
    for ue, gains in (fading or {}).items():
        net.set_fading(ue, gains)
    if setup:
        setup(net)
    ns.Simulator.Stop(ns.Seconds(seconds))
    t = time.perf_counter()
    ns3.run()
    wall = time.perf_counter() - t
    stats = {dl: net.stats(dl) for dl in (True, False)}
    stats["ue"] = {(u, dl): net.stats(dl, u) for u in range(len(net.ue_names)) for dl in (True, False)}
    packets = packet_trace.table(trace)
    ns.Simulator.Destroy()
    return stats, packets, wall


def checks(ns) -> None:
    rng = np.random.default_rng(10)
    n_prb, n_slots = 51, 4000
    spec = {"numerology": 1, "n_prb": n_prb, "ues": [{"distance_m": d} for d in (150, 190, 230, 270)]}
    fading = {u: rayleigh_trace(rng, n_slots, n_prb) for u in range(4)}
    stats, packets, wall = _run(ns, spec, 2.0, full_buffer=[(u, dl) for u in range(4) for dl in (True, False)],
                                fading=fading)
    print(f"fading, OLLA, mu=1, 51 PRBs FDD, 4 full-buffer UEs at 150-270 m UMi, 2 s ({wall:.2f} s wall):")
    for dl in (True, False):
        st = stats[dl]
        per_ue = ", ".join(f"{stats['ue'][u, dl]['first_tx_bler']:.3f}" for u in range(4))
        print(f"  {'DL' if dl else 'UL'}: first-tx BLER {st['first_tx_bler']:.3f} (UEs {per_ue}), residual "
              f"{st['residualLosses']}/{st['firstTx']}, {st['tbBitsOk'] / 2e6:.1f} Mbit/s")
    for duplex in ("FDD", "DDDSU"):
        spec = nr.CellSpec(numerology=1, n_prb=106, duplex=duplex, mcs_table=2)
        spec.ues = [nr.UeSpec(pathloss_db=nr.pathloss_for_sinr(spec, 40.0))]
        stats, packets, _ = _run(ns, spec, 0.5, full_buffer=[(0, True)])
        ev = packets[packets.event == "phy_dl_tb"]
        print(f"peak DL, one UE at 40 dB, 106 PRBs at 30 kHz, MCS table 2, {duplex}: "
              f"{stats[True]['tbBitsOk'] / 0.5e6:.1f} Mbit/s (MCS {ev.mcs.mode()[0]}, first-tx BLER "
              f"{stats[True]['first_tx_bler']:.4f})")
    for mu in range(4):
        spec = nr.CellSpec(numerology=mu, n_prb=24)
        spec.ues = [nr.UeSpec(pathloss_db=nr.pathloss_for_sinr(spec, 30.0))]

        def setup(net):
            for src, dst, port, start in (("gnb", "ue0", 7000, 0.0101), ("ue0", "gnb", 7001, 0.0153)):
                server = ns.UdpServerHelper(port)
                apps = server.Install(net.nodes[dst])
                client = ns.UdpClientHelper(net.addresses[dst].ConvertTo(), port)
                client.SetAttribute("MaxPackets", ns.UintegerValue(40))
                client.SetAttribute("Interval", ns.TimeValue(ns.Seconds(0.01037)))
                client.SetAttribute("PacketSize", ns.UintegerValue(60))
                capps = client.Install(net.nodes[src])
                capps.Start(ns.Seconds(start))
                net.keep += [server, apps, client, capps]

        stats, _, _ = _run(ns, spec, 1.0, setup=setup)
        slot_ms = 1.0 / 2 ** mu
        dl, ul = (stats[d]["mean_delay_s"] * 1e3 for d in (True, False))
        print(f"one-way delay, 60-byte UDP, FDD at 30 dB, mu={mu} (slot {slot_ms} ms): DL {dl:.3f} ms "
              f"({dl / slot_ms:.2f} slots), UL {ul:.3f} ms ({ul / slot_ms:.2f} slots)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ues", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--duplex", default="FDD")
    ap.add_argument("--scheduler", default="rr")
    ap.add_argument("--n-prb", type=int, default=106)
    ap.add_argument("--full-buffer", action="store_true", help="RLC full buffer instead of UDP")
    ap.add_argument("--dl-mbps", type=float, default=4.0, help="UDP rate per UE, DL")
    ap.add_argument("--ul-mbps", type=float, default=1.0, help="UDP rate per UE, UL")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--checks", action="store_true", help="print the numbers docs/nr.md quotes")
    args = ap.parse_args()

    t0 = time.perf_counter()
    ns = ns3.load_ns()
    t_load = time.perf_counter() - t0
    if args.checks:
        checks(ns)
        return
    rng = np.random.default_rng(args.seed)
    spec = nr.CellSpec(numerology=1, n_prb=args.n_prb, duplex=args.duplex, scheduler=args.scheduler,
                       ues=[nr.UeSpec(distance_m=float(d)) for d in rng.uniform(30, 300, args.ues)])
    t1 = time.perf_counter()
    trace = ns3.reset(ns, args.seed)
    net = nr.build_cell(ns, spec, args.seed, trace=trace)
    n_slots = 2000  # a 1 s trace per UE, looped, each UE from its own start
    for ue in range(args.ues):
        net.set_fading(ue, rayleigh_trace(rng, n_slots, args.n_prb), start_slot=int(rng.integers(n_slots)))
    if args.full_buffer:
        for ue in range(args.ues):
            net.cell.SetFullBuffer(ue, True, True)
            net.cell.SetFullBuffer(ue, False, True)
    else:
        size = 1200
        for ue, name in enumerate(net.ue_names):
            for src, dst, mbps, port in (("gnb", name, args.dl_mbps, 7000), (name, "gnb", args.ul_mbps, 7001 + ue)):
                if mbps <= 0:
                    continue
                server = ns.UdpServerHelper(port)
                apps = server.Install(net.nodes[dst])
                client = ns.UdpClientHelper(net.addresses[dst].ConvertTo(), port)
                client.SetAttribute("MaxPackets", ns.UintegerValue(0))
                client.SetAttribute("Interval", ns.TimeValue(ns.Seconds(size * 8 / (mbps * 1e6))))
                client.SetAttribute("PacketSize", ns.UintegerValue(size))
                capps = client.Install(net.nodes[src])
                capps.Start(ns.Seconds(float(rng.uniform(0, 0.01))))
                net.keep += [server, apps, client, capps]
    t_build = time.perf_counter() - t1
    ns.Simulator.Stop(ns.Seconds(args.seconds))
    t2 = time.perf_counter()
    ns3.run()
    t_run = time.perf_counter() - t2
    rows = int(trace.GetNRows())
    packets = packet_trace.table(trace)
    stats = {dl: net.stats(dl) for dl in (True, False)}
    ns.Simulator.Destroy()

    print(f"NR cell: {args.ues} UEs, mu=1, {args.n_prb} PRBs, {args.duplex}, {args.scheduler}, "
          f"{'full buffer' if args.full_buffer else f'UDP {args.dl_mbps}/{args.ul_mbps} Mbit/s per UE'}, "
          f"{args.seconds} s simulated")
    print(f"wall: ns-3 load {t_load:.1f} s, build {t_build:.2f} s, run {t_run:.2f} s "
          f"({rows} TB rows, {rows / t_run:.0f} TBs per wall second)")
    for dl in (True, False):
        st = stats[dl]
        ev = packets[packets.event == ("phy_dl_tb" if dl else "phy_ul_tb")]
        mbps = st["tbBitsOk"] / args.seconds / 1e6
        delay = f"{st['mean_delay_s'] * 1e3:.2f} ms" if st["mean_delay_s"] is not None else "-"
        print(f"{'DL' if dl else 'UL'}: {st['tbs']} TBs, {mbps:.1f} Mbit/s decoded, first-tx BLER "
              f"{st['first_tx_bler']:.3f}, residual {st['residual_bler']:.1e}, mean MCS "
              f"{ev.mcs.mean():.1f}, packets delivered {st['sdusDelivered']} (refused "
              f"{st['sdusRejected']}, dropped {st['sdusDropped']}), mean delay {delay}")


if __name__ == "__main__":
    main()
