"""The NR cell (issue 14, step 2b): NrCellChannel + NrNetDevice against Sionna 2.x called
directly (TB sizes: calculate_tb_size; TB error rates at fixed SINR: sionna.sys.PHYAbstraction),
link adaptation and HARQ under a stand-in fading trace, full-buffer peak rate, latency per
numerology, RLC AM/UM over UDP, same seed => same trace, one-line errors.

The fading here is a stand-in for gensemcom.channels.nr_fading: a 6-tap Rayleigh channel with an
exponential power-delay profile, each tap an AR(1) process in time (correlation RHO a slot),
seen at the PRB centres: float dB gains [slot, prb], the interface the cell takes.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gensemcom.channels import nr
from gensemcom.core import ns3, packet_trace

pytestmark = pytest.mark.ns3

RHO = 0.995  # tap correlation from one slot to the next


@pytest.fixture(scope="module")
def ns():
    return ns3.load_ns()


def rayleigh_trace(seed: int, n_slots: int, n_prb: int, rho: float = RHO, n_taps: int = 6) -> np.ndarray:
    """Stand-in fading: gains (dB, mean power 1) [n_slots, n_prb] (n_taps = 1: flat)."""
    rng = np.random.default_rng(seed)
    power = np.exp(-np.arange(float(n_taps)))
    power /= power.sum()
    taps = np.empty((n_slots, n_taps), complex)
    h = (rng.normal(size=n_taps) + 1j * rng.normal(size=n_taps)) * np.sqrt(power / 2)
    innov = np.sqrt(1 - rho ** 2)
    for t in range(n_slots):
        taps[t] = h
        h = rho * h + innov * (rng.normal(size=n_taps) + 1j * rng.normal(size=n_taps)) * np.sqrt(power / 2)
    freq = np.fft.fft(taps, 4 * n_prb, axis=1)[:, ::4]
    return (10 * np.log10(np.abs(freq) ** 2)).astype(np.float32)


def run_cell(ns, spec, seconds, seed=1, full_buffer=(), fading=None, setup=None):
    """Build, run `seconds`, return (trace DataFrame, {True: DL stats, False: UL stats}, extra)
    where extra is what setup(net) returned (read after the run by its own callable)."""
    trace = ns3.reset(ns, seed)
    net = nr.build_cell(ns, spec, seed, trace=trace)
    for ue, downlink in full_buffer:
        net.cell.SetFullBuffer(ue, downlink, True)
    for ue, gains in (fading or {}).items():
        net.set_fading(ue, gains, start_slot=0)
    after = setup(net) if setup else None
    ns.Simulator.Stop(ns.Seconds(seconds))
    ns3.run()
    table = packet_trace.table(trace)
    stats = {dl: net.stats(dl) for dl in (True, False)}
    stats["ue"] = {(u, dl): net.stats(dl, u) for u in range(len(net.ue_names)) for dl in (True, False)}
    extra = after() if after else None
    ns.Simulator.Destroy()
    return table, stats, extra


def _phy(ns):
    phy = ns.CreateObject[ns.cppyy.gbl.ns3.NrPhyAbstraction]()
    phy.SetAttribute("TableFile", ns.StringValue(str(nr.ensure_nr_tables())))
    return phy


def _tbs(df, downlink=None):
    ev = df[df.event.isin(["phy_dl_tb", "phy_ul_tb"])]
    if downlink is not None:
        ev = ev[ev.event == ("phy_dl_tb" if downlink else "phy_ul_tb")]
    return ev


# --- TB sizes ---------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("table", [1, 2])
def test_every_tb_size_equals_sionna(ns, table):
    """Every TB of a run (all MCS of the table on fixed-MCS UEs, DL and UL, TDD so that slots of
    13, 9, 14 and 2 data symbols occur, several PRB counts) has calculate_tb_size's TBS."""
    import torch
    from sionna.phy.nr.utils import calculate_tb_size, decode_mcs_index

    n_mcs = 29 if table == 1 else 28
    fb = [(u, dl) for u in range(n_mcs) for dl in (True, False)]
    runs = []
    for per_slot in (4, 7):  # 51 PRBs shared by 4 or 7 UEs a slot: 12, 13, 7 and 8 PRBs
        spec = {"numerology": 1, "n_prb": 51, "duplex": "DDDSU", "mcs_table": table,
                "max_ues_per_slot": per_slot, "harq_max_tx": 2,
                "ues": [{"pathloss_db": 60.0 + m, "fixed_mcs": m} for m in range(n_mcs)]}
        runs.append(_tbs(run_cell(ns, spec, 0.08, full_buffer=fb)[0]))
    ev = pd.concat(runs)
    assert set(ev.mcs) == set(range(n_mcs))
    assert ev.prb.nunique() >= 3 and set(ev.sym) == {13, 9, 14, 2}
    combos = ev[["mcs", "prb", "sym", "tbs"]].drop_duplicates()
    mcs = torch.tensor(combos.mcs.to_numpy(), dtype=torch.int32)
    qm, rate = decode_mcs_index(mcs, table_index=table, is_pusch=False)
    tbs, *_ = calculate_tb_size(qm.int(), rate.float(),
                                num_prbs=torch.tensor(combos.prb.to_numpy(), dtype=torch.int32),
                                num_ofdm_symbols=torch.tensor(combos.sym.to_numpy(), dtype=torch.int32),
                                num_dmrs_per_prb=torch.full((len(combos),), 12, dtype=torch.int32),
                                num_ov=torch.zeros(len(combos), dtype=torch.int32),
                                return_cw_length=False)
    ref = tbs.numpy().astype(int)
    mine = combos.tbs.to_numpy().astype(int)
    wrong = combos[ref != mine]
    assert wrong.empty, f"{len(wrong)} of {len(combos)} TB sizes differ, e.g.\n{wrong.head()}"
    assert (ev.bytes == ev.tbs // 8).all()


# --- TB error rate at fixed SINR --------------------------------------------------------------

BLER_MCS = {1: (4, 15, 27), 2: (3, 14, 26)}
N_PRB_EACH = 5


@pytest.mark.slow
@pytest.mark.parametrize("table", [1, 2])
def test_tb_error_rate_at_fixed_sinr_matches_sionna(ns, table):
    """3 MCS x 5 SINRs across each MCS's waterfall, one UE each (fixed MCS, no fading, 5 PRBs
    of 13 symbols, one transmission): >= 2000 TBs per UE fail at a rate inside the 99 %
    binomial interval of PHYAbstraction's TBLER for that TB."""
    import torch
    from scipy.stats import binomtest
    from sionna.sys import PHYAbstraction

    sionna_phy = PHYAbstraction()
    n_re = N_PRB_EACH * (12 * 13 - 12)
    grid = np.round(np.arange(-5.0, 30.0, 0.1), 1) + 0.02
    points = []
    for mcs in BLER_MCS[table]:
        out = sionna_phy(torch.full((len(grid),), mcs, dtype=torch.int32),
                         sinr_eff=torch.tensor(10 ** (grid / 10), dtype=torch.float32),
                         num_allocated_re=torch.full((len(grid),), n_re, dtype=torch.int32),
                         mcs_table_index=table, mcs_category=1)
        tbler = out[3].numpy().astype(float)
        inside = np.flatnonzero((tbler > 0.02) & (tbler < 0.98))
        assert len(inside) >= 5
        for k in inside[np.linspace(0, len(inside) - 1, 5).round().astype(int)]:
            points.append((mcs, float(grid[k]), float(tbler[k])))
    base = nr.CellSpec(numerology=3, n_prb=N_PRB_EACH * len(points), mcs_table=table,
                       max_ues_per_slot=len(points), harq_max_tx=1)
    base.ues = [nr.UeSpec(pathloss_db=nr.pathloss_for_sinr(base, sinr), fixed_mcs=mcs)
                for mcs, sinr, _ in points]
    df, _, _ = run_cell(ns, base, 0.26, full_buffer=[(u, True) for u in range(len(points))])
    ev = _tbs(df, downlink=True)
    assert (ev.prb == N_PRB_EACH).all() and (ev.sym == 13).all()
    bad = []
    for ue, (mcs, sinr, p) in enumerate(points):
        mine = ev[ev.rnti == ue + 1]
        assert len(mine) >= 2000 and (mine.mcs == mcs).all()
        assert np.allclose(mine.sinr_db, sinr, atol=1e-6)
        failed = int((mine.ok == 0).sum())
        if binomtest(failed, len(mine), p).pvalue <= 0.01:
            bad.append((mcs, sinr, failed, len(mine), p))
    assert not bad, f"outside the 99 % interval (mcs, dB, failed, TBs, Sionna TBLER): {bad}"


def test_harq_chase_combining_at_fixed_sinr(ns):
    """Fixed MCS and a SINR where one transmission nearly always fails: round k of a TB is reported at
    SINR + 10 log10(k + 1) dB (the sum of k + 1 equal effective SINRs), HarqFeedbackSlots after
    the failed round k - 1, fails at the rate of the TB BLER there, and the TBs that fail all
    four times are the residual losses."""
    from scipy.stats import binomtest

    phy = _phy(ns)
    dl = ns.cppyy.gbl.ns3.NrPhyChannel.PDSCH
    mcs, n_prb = 15, 10
    tbs = phy.TbSize(dl, 1, mcs, n_prb, 13, 12)
    # one transmission nearly always fails; three combined fail about half the time
    sinr = min(np.arange(-5, 25, 0.1) - 10 * np.log10(3),
               key=lambda x: abs(phy.TbBler(dl, 1, mcs, tbs, float(x + 10 * np.log10(3))) - 0.5))
    k1 = 3
    spec = nr.CellSpec(numerology=2, n_prb=n_prb, fixed_mcs=mcs, harq_max_tx=4, harq_feedback_slots=k1)
    spec.ues = [nr.UeSpec(pathloss_db=nr.pathloss_for_sinr(spec, float(sinr)))]
    df, stats, _ = run_cell(ns, spec, 2.0, full_buffer=[(0, True)])
    ev = _tbs(df, True)
    assert (ev.tbs == tbs).all()
    # one UE, retransmissions first: each failed transmission is retransmitted K1 slots later
    end = ev.slot.max()
    for k in range(1, 4):
        failed = set(ev[(ev.rv == k - 1) & (ev.ok == 0)].slot + k1)
        assert set(ev[ev.rv == k].slot) == {s for s in failed if s <= end}, k
    for k in range(4):
        rows = ev[ev.rv == k]
        combined = float(sinr) + 10 * np.log10(k + 1)
        assert np.allclose(rows.sinr_db, combined, atol=1e-3), k
        p = phy.TbBler(dl, 1, mcs, tbs, combined)
        assert len(rows) > 50
        assert binomtest(int((rows.ok == 0).sum()), len(rows), p).pvalue > 0.01, (k, p)
    assert p < 0.5  # combining helps: the fourth transmission mostly succeeds
    last_failed = int(((ev.rv == 3) & (ev.ok == 0)).sum())
    assert last_failed - 16 <= stats[True]["residualLosses"] <= last_failed


# --- link adaptation and HARQ under fading ----------------------------------------------------

def _tdl_trace(seed: int, n_slots: int, n_prb: int) -> np.ndarray:
    from gensemcom.channels.nr_fading import prb_gains_db

    return prb_gains_db("TDL-C", delay_spread_s=300e-9, speed_kmh=3.0, numerology=1, n_prb=n_prb,
                        n_slots=n_slots, seed=seed)


@pytest.mark.parametrize("trace", [rayleigh_trace, _tdl_trace], ids=["stand-in", "TDL-C"])
def test_link_adaptation_and_harq_under_fading(ns, trace):
    """Fading (a stand-in, and Sionna's TDL-C as the channel nr uses), OLLA on, both directions,
    4 full-buffer UEs at different distances: first-transmission BLER 10 % +- 3 % (all TBs and
    each UE), residual BLER after HARQ < 1e-3, every failed TB retransmitted until the last
    transmission, the retransmissions keep their TBS."""
    n_prb, n_slots = 51, 4000
    spec = {"numerology": 1, "n_prb": n_prb, "duplex": "FDD", "harq_max_tx": 4,
            "ues": [{"distance_m": d} for d in (150, 190, 230, 270)]}  # UMi NLOS, 3.5 GHz
    fading = {u: trace(10 + u, n_slots, n_prb) for u in range(4)}
    fb = [(u, dl) for u in range(4) for dl in (True, False)]
    df, stats, _ = run_cell(ns, spec, n_slots * 0.5e-3, full_buffer=fb, fading=fading)
    for downlink in (True, False):
        st = stats[downlink]
        assert st["firstTx"] > 5000
        assert 0.07 <= st["first_tx_bler"] <= 0.13, (downlink, st)
        for ue in range(4):  # each UE, none pinned to the top or bottom MCS
            assert 0.07 <= stats["ue"][ue, downlink]["first_tx_bler"] <= 0.13, (downlink, ue)
        assert st["residual_bler"] < 1e-3, (downlink, st)
        ev = _tbs(df, downlink)
        assert ev.rv.max() <= 3
        assert ev.mcs.nunique() >= 5  # link adaptation follows the fading
        # a failed round k is followed by round k + 1 (up to those still pending at the end)
        pending = 4 * 16
        for k in range(3):
            failed = int(((ev.rv == k) & (ev.ok == 0)).sum())
            retx = int((ev.rv == k + 1).sum())
            assert failed - pending <= retx <= failed, (downlink, k, failed, retx)
        last_failed = int(((ev.rv == 3) & (ev.ok == 0)).sum())
        assert last_failed - pending <= st["residualLosses"] <= last_failed
        assert st["retx"] == int((ev.rv > 0).sum())
        # retransmissions keep the TB's size (chase combining of the same TB)
        assert set(ev[ev.rv > 0].tbs) <= set(ev[ev.rv == 0].tbs)


def test_proportional_fair_gains_from_fading_and_starves_nobody(ns):
    """One UE a slot, four full-buffer UEs with independent flat fading: round robin serves them
    in turn (equal slot counts); proportional fair picks UEs near their peaks: more cell
    throughput (> 10 %), and every UE gets at least 95 % of its round-robin throughput."""
    n_prb, n_slots = 51, 4000
    out = {}
    for sched in ("rr", "pf"):
        spec = {"numerology": 1, "n_prb": n_prb, "scheduler": sched, "max_ues_per_slot": 1,
                "ues": [{"distance_m": d} for d in (350, 350, 350, 450)]}
        fading = {u: rayleigh_trace(20 + u, n_slots, n_prb, rho=0.99, n_taps=1) for u in range(4)}
        df, stats, _ = run_cell(ns, spec, n_slots * 0.5e-3, full_buffer=[(u, True) for u in range(4)],
                                fading=fading)
        out[sched] = (stats[True]["tbBitsOk"], [stats["ue"][u, True]["tbBitsOk"] for u in range(4)],
                      _tbs(df, True).groupby("rnti").size().tolist())
    assert max(out["rr"][2]) - min(out["rr"][2]) <= 1
    assert out["pf"][0] > 1.1 * out["rr"][0], out
    assert all(p >= 0.95 * r for p, r in zip(out["pf"][1], out["rr"][1])), out


# --- peak rate -------------------------------------------------------------------------------

@pytest.mark.parametrize("duplex", ["FDD", "DDDSU"])
def test_full_buffer_reaches_tbs_times_dl_slots(ns, duplex):
    """One full-buffer UE at 40 dB: decoded DL bits per second within 5 % of the TBS of every
    DL slot of the pattern (link adaptation's MCS, all PRBs)."""
    spec = nr.CellSpec(numerology=1, n_prb=106, duplex=duplex, mcs_table=2)
    spec.ues = [nr.UeSpec(pathloss_db=nr.pathloss_for_sinr(spec, 40.0))]
    seconds = 0.5
    df, stats, _ = run_cell(ns, spec, seconds, full_buffer=[(0, True)])
    ev = _tbs(df, True)
    slots = int(seconds / 0.5e-3)
    pattern = "F" if duplex == "FDD" else duplex
    dl_slots = [s for s in range(slots) if pattern[s % len(pattern)] in "FDS"]
    assert sorted(ev.slot.unique()) == dl_slots  # every DL slot carries a TB
    assert (ev.prb == 106).all()
    top = ev[ev.rv == 0].mcs.mode()[0]
    assert top >= 25
    ok_bits = stats[True]["tbBitsOk"]
    # TBS of each DL slot at that MCS, all PRBs
    phy = _phy(ns)
    dl = ns.cppyy.gbl.ns3.NrPhyChannel.PDSCH
    expected = sum(phy.TbSize(dl, 2, int(top), 106, 13 if pattern[s % len(pattern)] != "S" else 9, 12)
                   for s in dl_slots)
    assert ok_bits == pytest.approx(expected, rel=0.05), (ok_bits, expected, stats[True])


# --- latency per numerology -------------------------------------------------------------------

def _udp(ns, net, src, dst, port, size, interval_s, count, start_s=0.0101):
    """UdpClient on node src -> node dst:port (a UdpServer there); returns a reader of the
    packets the server received."""
    server = ns.UdpServerHelper(port)
    apps_s = server.Install(net.nodes[dst])
    apps_s.Start(ns.Seconds(0.0))
    client = ns.UdpClientHelper(net.addresses[dst].ConvertTo(), port)
    client.SetAttribute("MaxPackets", ns.UintegerValue(count))
    client.SetAttribute("Interval", ns.TimeValue(ns.Seconds(interval_s)))
    client.SetAttribute("PacketSize", ns.UintegerValue(size))
    apps_c = client.Install(net.nodes[src])
    apps_c.Start(ns.Seconds(start_s))
    net.keep += [server, apps_s, client, apps_c]
    srv = apps_s.Get(0)
    return lambda: int(ns.cppyy.gbl.ns3.DynamicCast[ns.cppyy.gbl.ns3.UdpServer](srv).GetReceived())


def test_latency_falls_with_the_slot(ns):
    """A small UDP packet every 10.37 ms, DL and UL, FDD at 30 dB: the mean one-way delay is
    1-2 slots (DL: wait for the slot, one slot on air) or 2-3.5 (UL: plus the buffer status
    report), so it halves with every step of mu = 0..3."""
    lat = {}
    for mu in range(4):
        spec = nr.CellSpec(numerology=mu, n_prb=24)
        spec.ues = [nr.UeSpec(pathloss_db=nr.pathloss_for_sinr(spec, 30.0))]
        readers = {}

        def setup(net):
            readers["dl"] = _udp(ns, net, "gnb", "ue0", 7000, 60, 0.01037, 40)
            readers["ul"] = _udp(ns, net, "ue0", "gnb", 7001, 60, 0.01037, 40, start_s=0.0153)
            return lambda: {k: r() for k, r in readers.items()}

        _, stats, received = run_cell(ns, spec, 1.0, setup=setup)
        slot = 1e-3 / 2 ** mu
        assert received == {"dl": 40, "ul": 40}
        for downlink, lo, hi in ((True, 1.0, 2.0), (False, 2.0, 3.5)):
            st = stats[downlink]
            assert st["sdusDelivered"] == 40
            assert lo * slot <= st["mean_delay_s"] <= hi * slot, (mu, downlink, st["mean_delay_s"])
            lat[mu, downlink] = st["mean_delay_s"]
    for downlink in (True, False):
        for mu in range(3):
            assert 1.5 < lat[mu, downlink] / lat[mu + 1, downlink] < 2.7, lat


# --- RLC -------------------------------------------------------------------------------------

def test_rlc_am_resends_and_um_drops(ns):
    """Large UDP packets (segmented over several TBs) at a low SINR with one HARQ transmission:
    the prompt port (AM) delivers every packet after RLC retransmissions; a conditioning port
    (UM) drops the packets that lost a segment and delivers the rest."""
    spec = nr.CellSpec(numerology=1, n_prb=24, harq_max_tx=1, fixed_mcs=9,
                       stream_port_base=9000)
    # the SINR where a TB of 12 PRBs at MCS 9 fails with probability ~0.3
    phy = _phy(ns)
    dl = ns.cppyy.gbl.ns3.NrPhyChannel.PDSCH
    tbs = phy.TbSize(dl, 1, 9, 12, 13, 12)
    sinr = min(np.arange(-5, 20, 0.1), key=lambda x: abs(phy.TbBler(dl, 1, 9, tbs, float(x)) - 0.3))
    spec.ues = [nr.UeSpec(pathloss_db=nr.pathloss_for_sinr(spec, float(sinr)))]
    readers = {}

    def setup(net):
        readers["am"] = _udp(ns, net, "gnb", "ue0", 9000, 1200, 0.004, 100)
        readers["um"] = _udp(ns, net, "gnb", "ue0", 9001, 1200, 0.004, 100, start_s=0.0121)
        return lambda: {k: r() for k, r in readers.items()}

    df, stats, received = run_cell(ns, spec, 3.0, setup=setup)
    st = stats[True]
    ev = _tbs(df, True)
    assert 0.1 < (ev.ok == 0).mean() < 0.6  # plenty of residual TB losses
    assert ev.tbs.max() // 8 < 1200  # every packet spans several TBs
    assert received["am"] == 100
    assert 0 < received["um"] < 100
    assert st["sdusDropped"] == 100 - received["um"]
    assert st["rlcRetxSegments"] > 0
    assert st["sdusDelivered"] == received["am"] + received["um"]


def test_semantic_units_flow_both_ways_and_reach_the_packet_trace(ns):
    """SemanticApps on a UE and the gNB: units of a prompt (AM) and a conditioning stream (UM)
    go UE -> gNB and gNB -> UE intact; the packet trace holds the apps' rows and the cell's TB
    rows (the NR columns filled on those only)."""
    trace = ns3.reset(ns, 2)
    spec = nr.CellSpec(numerology=1, n_prb=24, duplex="DDDSU")
    spec.ues = [nr.UeSpec(distance_m=120.0), nr.UeSpec(distance_m=200.0)]
    net = nr.build_cell(ns, spec, seed=2, trace=trace)
    kw = {"segment_bytes": 1000, "rate": int(1e9), "unit_timeout_s": 5.0, "trace": trace}
    port = spec.stream_port_base
    ue_app = ns3.install_semantic_app(ns, net.nodes["ue0"], "ue0", listen_port=port, num_ports=2, **kw)
    gnb_app = ns3.install_semantic_app(ns, net.nodes["gnb"], "gnb", listen_port=port, num_ports=2, **kw)
    rng = np.random.default_rng(0)
    data = {sid: bytes(rng.integers(0, 256, n, dtype=np.uint8)) for sid, n in ((0, 300), (1, 4000))}
    for unit in range(10):
        for sid, payload in data.items():
            ue_app.SendStream(ns.Seconds(0.01 + 0.02 * unit), net.addresses["gnb"], port + sid, unit, sid, 2,
                              payload)
            gnb_app.SendStream(ns.Seconds(0.015 + 0.02 * unit), net.addresses["ue0"], port + sid, 100 + unit,
                               sid, 2, payload)
    ns.Simulator.Stop(ns.Seconds(1.0))
    ns3.run()
    df = packet_trace.table(trace)
    ul, dl = net.stats(False), net.stats(True)
    ns.Simulator.Destroy()
    units = df[df.event == "unit_rx"]
    assert sorted(units[units.node == "gnb"].unit) == list(range(10))
    assert sorted(units[units.node == "ue0"].unit) == list(range(100, 110))
    assert (units.ok == 1).all()
    for st in (ul, dl):
        assert st["sdusDropped"] == 0 and st["sdusDelivered"] == st["sdusEnqueued"] > 20
    tbs = _tbs(df)
    assert set(tbs.node) == {"gnb"} and set(tbs.rnti) == {1}
    assert (tbs[["slot", "prb", "sym", "tbs"]] > 0).all().all() and tbs.sinr_db.notna().all()
    other = df[~df.event.isin(["phy_dl_tb", "phy_ul_tb"])]
    assert len(other) > 0 and (other[["slot", "prb", "sym", "tbs"]] == -1).all().all()
    assert other.sinr_db.isna().all()


def test_trace_without_nr_keeps_its_columns(ns):
    trace = packet_trace.create(ns)
    assert list(packet_trace.table(trace).columns) == [
        "time_s", "node", "event", "unit", "stream", "seq", "bytes", "mcs", "rv", "ndi", "ok", "rnti"]


def test_pathloss_models():
    """38.901 UMi / UMa NLOS (max of the LOS and NLOS formulas) and log-distance: the values of
    Table 7.4.1-1's formulas at 3.5 GHz, growing with distance; the SINR budget inverts."""
    umi = nr.as_spec({"pathloss_model": "umi"})
    uma = nr.as_spec({"pathloss_model": "uma", "gnb_height_m": 25.0})
    logd = nr.as_spec({"pathloss_model": "log_distance", "pathloss_exponent": 3.0})
    d3 = np.hypot(200.0, 8.5)
    assert nr.pathloss_db(umi, 200.0) == pytest.approx(35.3 * np.log10(d3) + 22.4 + 21.3 * np.log10(3.5))
    d3 = np.hypot(200.0, 23.5)
    assert nr.pathloss_db(uma, 200.0) == pytest.approx(13.54 + 39.08 * np.log10(d3) + 20 * np.log10(3.5))
    assert nr.pathloss_db(logd, 100.0) == pytest.approx(
        20 * np.log10(4 * np.pi * 3.5e9 / 299_792_458.0) + 60.0)
    for spec in (umi, uma, logd):
        pl = [nr.pathloss_db(spec, d) for d in (20, 50, 100, 300, 1000)]
        assert all(a < b for a, b in zip(pl, pl[1:]))
    spec = nr.as_spec({"n_prb": 51})
    pl = nr.pathloss_for_sinr(spec, 12.0)
    assert spec.gnb_tx_power_dbm - 10 * np.log10(51) - pl - nr.prb_noise_dbm(spec, True) == pytest.approx(12.0)


# --- determinism and errors ------------------------------------------------------------------

def test_same_seed_same_trace(ns):
    spec = {"numerology": 2, "n_prb": 32, "duplex": "DDSU", "scheduler": "pf",
            "ues": [{"distance_m": 80}, {"distance_m": 250}]}
    fading = {0: rayleigh_trace(1, 500, 32), 1: rayleigh_trace(2, 500, 32)}
    fb = [(0, True), (1, True), (0, False), (1, False)]
    a, _, _ = run_cell(ns, spec, 0.1, seed=3, full_buffer=fb, fading=fading)
    b, _, _ = run_cell(ns, spec, 0.1, seed=3, full_buffer=fb, fading=fading)
    c, _, _ = run_cell(ns, spec, 0.1, seed=4, full_buffer=fb, fading=fading)
    assert len(a) > 500
    assert a.equals(b)
    assert not a.equals(c)


@pytest.mark.parametrize("field,value,words", [
    ("numerology", 4, "numerology"),
    ("n_prb", 274, "n_prb"),
    ("n_prb", 136, None),            # fine at mu = 2 (FR2), see below for mu = 0
    ("duplex", "DDXU", "duplex"),
    ("mcs_table", 3, "mcs_table"),
    ("scheduler", "maxmin", "scheduler"),
    ("stream_rlc_mode", "TM", "stream_rlc_mode"),
    ("bler_target", 1.5, "bler_target"),
    ("fixed_mcs", 29, "fixed_mcs"),
])
def test_bad_specs_are_one_line_errors(ns, field, value, words):
    spec = {"numerology": 2, field: value} if field != "numerology" else {field: value}
    if words is None:
        nr.build_cell(ns, spec, seed=1)
        ns.Simulator.Destroy()
        with pytest.raises(ValueError, match="n_prb") as e:
            nr.build_cell(ns, {"numerology": 0, "n_prb": 271}, seed=1)
        assert "\n" not in str(e.value)
        return
    with pytest.raises(ValueError, match=words) as e:
        nr.build_cell(ns, spec, seed=1)
    assert "\n" not in str(e.value)


def test_cpp_errors_are_one_line(ns):
    ns3.reset(ns, 1)
    net = nr.build_cell(ns, {"n_prb": 24, "ues": [{}, {}]}, seed=1)
    cell = net.cell
    for bad, match in ((lambda: net.set_fading(0, np.zeros((10, 25))), "nPrb 25 is not the cell's NumPrb 24"),
                       (lambda: cell.SetUeFixedMcs(1, 29), "MCS 29 is not in MCS table 1"),
                       (lambda: cell.SetPathLossDb(5, 80.0), "no UE 5"),
                       (lambda: cell.SetAttribute("TddPattern", ns.StringValue("DDQ")) or cell.Validate(),
                        "TddPattern \"DDQ\": unknown slot symbol 'Q'"),
                       (lambda: cell.SetAttribute("NumPrb", ns.UintegerValue(300)) or cell.Validate(),
                        "NumPrb 300 is outside 1..273")):
        with pytest.raises(ns.cppyy.gbl.std.invalid_argument) as e:
            bad()
        what = e.value.what()
        assert "\n" not in what and what.startswith("NrCellChannel: ") and match in what, what
    ns.Simulator.Destroy()
    # Validate's errors come out of build_cell as one-line ValueErrors too
    with pytest.raises(ValueError, match="^nr cell: NrCellChannel: CtrlSymbols 4 is above 3$"):
        nr.build_cell(ns, {"ctrl_symbols": 4}, seed=1)
    ns.Simulator.Destroy()
