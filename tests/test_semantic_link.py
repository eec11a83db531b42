"""The semantic link (C++ SemanticLinkNetDevice/Channel) in real ns-3 against the paper's
formulas as implemented in analysis/latency_aware.py: SNR (Eq. 1), ARQ attempts (Eq. 2-3),
adaptive M-QAM order and air time (Eq. 4), bit errors at the M-QAM BER, determinism, outage."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import integrate

from gensemcom.analysis import latency_aware as la
from gensemcom.channels import semantic_link
from gensemcom.core import ns3, packet_trace

pytestmark = pytest.mark.ns3

IP_UDP = 20 + 8
HEADER = 28          # SemanticHeader
PORT = 9000
P = la.LinkParams()
BER_T = 1e-4         # target BER of the conditioning stream unless a test says otherwise


@pytest.fixture(scope="module")
def ns():
    return ns3.load_ns()


def mean_snr(power_w: float, bandwidth: float, distance: float = 100.0) -> float:
    """gamma at |h|^2 = 1 from the analytic model (one stream taking all of P_T and B)."""
    return la.avg_snr_at_distance(distance, replace(P, p_total_w=power_w, bandwidths_hz=(bandwidth,)))


def power_for(gamma: float, bandwidth: float = 1e6) -> float:
    return gamma / mean_snr(1.0, bandwidth)


def expected_order(gamma: float, ber: float) -> int:
    return next((m for m in la.QAM_ORDERS if la.qam_threshold(m, ber, P) <= gamma), 0)


class Link:
    """tx --semantic link-- rx with a SemanticApp each; units go tx -> rx, port 9000 + stream."""

    def __init__(self, ns, streams, seed=1, segment=500, unit_timeout=30.0, **link):
        self.ns = ns
        self.g = ns.cppyy.gbl.ns3
        self.trace = packet_trace.create(ns)
        self.net = semantic_link.build_link(ns, {"streams": streams, **link}, seed=seed, trace=self.trace)
        kw = {"segment_bytes": segment, "rate": int(1e11), "unit_timeout_s": unit_timeout, "trace": self.trace}
        self.src = ns3.install_semantic_app(ns, self.net.nodes["tx"], "src", **kw)
        self.dst = ns3.install_semantic_app(ns, self.net.nodes["rx"], "dst", listen_port=PORT,
                                                num_ports=len(streams), **kw)
        self.received = {}

        def handler(unit):
            d = self.dst
            self.received[int(unit)] = {
                "time": ns.Simulator.Now().GetSeconds(),
                "streams": {int(s): (ns3.vector_bytes(d.GetStreamBytes(unit, s)),
                                     bool(d.IsStreamComplete(unit, s)), bool(d.IsStreamCrcOk(unit, s)))
                            for s in d.GetStreamIds(unit)},
            }
            d.ReleaseUnit(unit)

        ns3.keep_alive(handler)
        self.dst.SetUnitHandler(handler)

    def send(self, t, unit, streams: dict[int, bytes], n_streams=None):
        for sid, data in streams.items():
            self.src.SendStream(self.ns.Seconds(t), self.net.addresses["rx"], PORT + sid, unit, sid,
                                n_streams or len(streams), data)

    def run(self, stop=60.0, csv=None):
        self.ns.Simulator.Stop(self.ns.Seconds(stop))
        self.ns.Simulator.Run()
        if csv is not None:
            self.trace.WriteCsv(str(csv))
        stats = self.net.stats("tx")
        self.ns.Simulator.Destroy()
        return stats


def _trace(path):
    import pandas as pd

    return pd.read_csv(path)


def test_snr_matches_eq1(ns):
    net = semantic_link.build_link(ns, semantic_link.LinkSpec(distance_m=250.0, fading="awgn"), seed=1)
    ch = net.channel
    assert ch.GetMeanSnr(7e-3, 2e6) == pytest.approx(mean_snr(7e-3, 2e6, 250.0), rel=1e-12)
    assert ch.GetPathGain() == pytest.approx(1e-3 * 250.0 ** -3.4, rel=1e-12)
    ns.Simulator.Destroy()


def test_bad_stream_settings_raise(ns):
    net = semantic_link.build_link(ns, {}, seed=1)
    dev = net.devices["tx"]
    with pytest.raises(Exception, match="mode"):
        dev.SetStream(0, 1e6, 1e-3, "harq", 1e-4)
    with pytest.raises(Exception, match="beta"):
        dev.SetStream(1, 1e6, 1e-3, "mqam", 0.5)
    with pytest.raises(ValueError):
        semantic_link.build_link(ns, {"fading": "rician"}, seed=1)
    third = ns.CreateObject[ns.cppyy.gbl.ns3.SemanticLinkNetDevice]()
    with pytest.raises(Exception, match="exactly two devices"):
        third.Attach(net.channel)
    ns.Simulator.Destroy()


# AWGN: one stream of 6 packets of 555 IP bytes (499 B payload): 4440 bits each, an integer
# number of ns at 2, 4 and 6 bit/symbol and 1 MHz, so the closed form is exact in ns-3 time.
@pytest.mark.parametrize("gamma_over, order", [
    (("thr", 64, 1.5), 64), (("thr", 16, 1.001), 16), (("thr", 16, 0.999), 4), (("thr", 4, 1.2), 4)])
def test_awgn_mqam_order_and_delivery_time(ns, gamma_over, order):
    _, m_ref, factor = gamma_over
    gamma = la.qam_threshold(m_ref, BER_T, P) * factor
    assert expected_order(gamma, BER_T) == order
    delay = 3e-6
    link = Link(ns, [{"mode": "mqam", "power_w": power_for(gamma), "target_ber": BER_T}],
                segment=499, fading="awgn", delay_s=delay)
    data = bytes(range(256)) * 11 + bytes(2994 - 2816)  # 2994 B = 6 segments of 499 B
    t0 = 0.01
    link.send(t0, 1, {0: data})
    stats = link.run()
    n_pkts, ip_bytes = 6, 499 + HEADER + IP_UDP
    closed_form = la.stream_latency_qam(order, n_pkts * ip_bytes * 8, 1e6) + delay
    assert link.received[1]["time"] - t0 == pytest.approx(closed_form, rel=1e-9)
    st = stats[0]
    assert (st["attempts"], st["delivered"], st["draws"]) == (n_pkts, n_pkts, 1)
    assert st["mean_snr"] == pytest.approx(gamma, rel=1e-9)
    assert st["airtimeS"] == pytest.approx(closed_form - delay, rel=1e-12)
    got, complete, _ = link.received[1]["streams"][0]
    assert complete and len(got) == len(data)


def test_awgn_mcs_in_trace_and_payload_only_airtime(ns, tmp_path):
    """UncountedBytes = headers: the air time is |v| / (log2 M B), as the paper counts."""
    gamma = la.qam_threshold(16, BER_T, P) * 2
    link = Link(ns, [{"mode": "mqam", "power_w": power_for(gamma), "target_ber": BER_T}],
                segment=500, fading="awgn", uncounted_bytes=IP_UDP + HEADER)
    data = bytes(4000)
    link.send(0.01, 3, {0: data})
    link.run(csv=tmp_path / "t.csv")
    assert link.received[3]["time"] - 0.01 == pytest.approx(8 * len(data) / (4 * 1e6), rel=1e-9)
    df = _trace(tmp_path / "t.csv")
    tx = df[df.event == "link_tx"]
    assert len(tx) == 8 and set(tx.mcs) == {16} and set(tx.unit) == {3}
    assert sorted(tx.seq) == list(range(8))
    assert len(df[(df.event == "link_rx") & (df.node == "rx")]) == 8


def test_awgn_rate_mode_eq4(ns):
    gamma, ber = 40.0, 1e-5
    link = Link(ns, [{"mode": "rate", "power_w": power_for(gamma), "target_ber": ber}],
                segment=1000, fading="awgn")
    data = bytes(5000)
    link.send(0.01, 1, {0: data})
    link.run()
    bits = 8 * (len(data) + 5 * (HEADER + IP_UDP))
    rate = la.mqam_rate(gamma, ber, 1e6, P)
    assert link.received[1]["time"] - 0.01 == pytest.approx(bits / rate, rel=1e-6)  # ns rounding per packet


# ARQ: 2000 packets of 72 B payload = 128 B IP packets, L = 1024 bits; each attempt takes
# 1024 / (r log2(M0) B0) = 1.024 ms. Attempts per packet are geometric with success q, so the
# sample mean of N packets has standard deviation sqrt((1 - q) / N) / q: 4 sigma bounds.
N_ARQ = 2000
ARQ_PAYLOAD = 72
L_BITS = 8 * (ARQ_PAYLOAD + HEADER + IP_UDP)
P_L = replace(P, prompt_bits=L_BITS)


def _arq_run(ns, fading, gamma_bar, seed=1):
    link = Link(ns, [{"mode": "arq", "power_w": power_for(gamma_bar)}], seed=seed,
                segment=ARQ_PAYLOAD, fading=fading)
    data = np.random.default_rng(5).bytes(N_ARQ * ARQ_PAYLOAD)
    link.send(0.01, 1, {0: data})
    st = link.run(stop=100.0)[0]
    got, complete, crc_ok = link.received[1]["streams"][0]
    assert complete and crc_ok and got == data, "ARQ must deliver every packet intact"
    assert st["delivered"] == N_ARQ and st["dropped"] == 0 and st["bitsFlipped"] == 0
    assert st["attempts"] == st["draws"] == N_ARQ + st["failures"]
    # Retransmissions are immediate: the stream ends after exactly attempts * 1.024 ms.
    assert link.received[1]["time"] - 0.01 == pytest.approx(st["attempts"] * L_BITS / 1e6, rel=1e-9)
    return st


def _within_4_sigma(mean_attempts, q):
    sigma = math.sqrt((1 - q) / N_ARQ) / q
    assert abs(mean_attempts - 1 / q) < 4 * sigma, (mean_attempts, 1 / q, sigma)


def test_arq_awgn_mean_attempts_eq2(ns):
    gamma = 3.0
    st = _arq_run(ns, "awgn", gamma)
    q = 1 - la.prompt_per(gamma, P_L)
    assert 0.3 < q < 0.7  # a regime where the count is informative
    _within_4_sigma(st["mean_attempts"], q)


def test_arq_rayleigh_mean_attempts(ns):
    gamma_bar = 5.0
    st = _arq_run(ns, "rayleigh", gamma_bar)
    # q = E_h[1 - PER(gamma_bar |h|^2)], |h|^2 ~ Exp(1).
    q, _ = integrate.quad(lambda x: math.exp(-x) * (1 - la.prompt_per(gamma_bar * x, P_L)), 0, math.inf)
    _within_4_sigma(st["mean_attempts"], q)
    # Not the AWGN value at the mean SNR (1.58 here): fading costs retransmissions.
    assert st["mean_attempts"] > 1 / (1 - la.prompt_per(gamma_bar, P_L)) + 8 * math.sqrt((1 - q) / N_ARQ) / q
    # |h|^2 draws have mean 1 (std 1 per draw).
    assert abs(st["mean_snr"] / gamma_bar - 1) < 4 / math.sqrt(st["draws"])


def _bit_errors(a: bytes, b: bytes) -> int:
    return int(np.unpackbits(np.bitwise_xor(np.frombuffer(a, np.uint8), np.frombuffer(b, np.uint8))).sum())


def test_awgn_bit_errors_at_mqam_ber(ns):
    # gamma = 10, target 1e-2: only 4-QAM qualifies; BER = exp(-1.5 * 10 / 3) / 5.
    gamma, ber_t = 10.0, 1e-2
    assert expected_order(gamma, ber_t) == 4
    ber = math.exp(-P.alpha * gamma / 3) / P.beta
    link = Link(ns, [{"mode": "mqam", "power_w": power_for(gamma), "target_ber": ber_t}],
                segment=1000, fading="awgn")
    data = np.random.default_rng(7).bytes(200_000)
    link.send(0.01, 1, {0: data})
    st = link.run()[0]
    got, complete, crc_ok = link.received[1]["streams"][0]
    assert complete, "bit errors are delivered, not dropped (and no header was hit)"
    assert not crc_ok
    assert st["delivered"] == st["attempts"] == 200 and st["dropped"] == 0
    n_bits = 8 * len(data)
    assert st["bitsSeen"] == n_bits  # exactly the payload: the 56 header bytes are protected
    errors = _bit_errors(got, data)
    assert errors == st["bitsFlipped"]
    assert abs(errors - n_bits * ber) < 4 * math.sqrt(n_bits * ber * (1 - ber)), (errors, n_bits * ber)
    assert st["expectedFlips"] == pytest.approx(n_bits * ber, rel=1e-9)


def test_unprotected_semantic_header_gets_hit(ns):
    """Control for the test above: protect only IPv4 + UDP and the semantic headers are hit."""
    gamma, ber_t = 10.0, 1e-2
    link = Link(ns, [{"mode": "mqam", "power_w": power_for(gamma), "target_ber": ber_t}],
                segment=1000, fading="awgn", protected_bytes=IP_UDP)
    data = np.random.default_rng(7).bytes(200_000)
    link.send(0.01, 1, {0: data})
    st = link.run()[0]
    assert st["bitsSeen"] == 8 * (len(data) + 200 * HEADER)
    unit = link.received.get(1)
    assert unit is None or not unit["streams"].get(0, (b"", False, False))[1]


def test_rayleigh_bit_errors_follow_drawn_snrs(ns):
    """Block fading with a 1 ms coherence time: flips match sum(BER(gamma_block) * bits)."""
    gamma_bar = la.qam_threshold(16, 1e-2, P)
    link = Link(ns, [{"mode": "mqam", "power_w": power_for(gamma_bar), "target_ber": 1e-2}],
                segment=1000, coherence_s=1e-3)
    data = np.random.default_rng(8).bytes(100_000)
    link.send(0.01, 1, {0: data})
    st = link.run()[0]
    assert st["delivered"] == 100 and st["draws"] > 20
    # Flips are Poisson-binomial with mean expectedFlips; its variance is below the mean.
    assert st["expectedFlips"] > 100
    assert abs(st["bitsFlipped"] - st["expectedFlips"]) < 4 * math.sqrt(st["expectedFlips"])


def _mixed_run(ns, seed, tmp_path):
    link = Link(ns, [{"mode": "arq", "power_w": power_for(2.0)},
                     {"mode": "mqam", "power_w": power_for(60.0), "target_ber": 1e-3}],
                seed=seed, segment=200)
    rng = np.random.default_rng(0)
    for unit in range(5):
        link.send(0.01 + 0.05 * unit, unit, {0: rng.bytes(300), 1: rng.bytes(3000)})
    csv = tmp_path / f"trace-{seed}-{len(list(tmp_path.iterdir()))}.csv"
    stats = link.run(csv=csv)
    return stats, csv.read_text(), link.received


def test_same_seed_same_results_other_seed_differs(ns, tmp_path):
    a, trace_a, rx_a = _mixed_run(ns, 1, tmp_path)
    b, trace_b, rx_b = _mixed_run(ns, 1, tmp_path)
    c, trace_c, _ = _mixed_run(ns, 2, tmp_path)
    assert a[0]["failures"] > 0 and a[1]["draws"] >= 5   # the randomness is exercised
    assert a == b and trace_a == trace_b and rx_a == rx_b
    assert a != c and trace_a != trace_c


def test_outage_below_4qam_threshold(ns):
    gamma = la.qam_threshold(4, BER_T, P) * 0.9
    link = Link(ns, [{"mode": "arq", "power_w": power_for(50.0)},
                     {"mode": "mqam", "power_w": power_for(gamma), "target_ber": BER_T}],
                fading="awgn", outage_wait_s=1e-3, unit_timeout=10.0)
    link.send(0.01, 1, {0: b"a prompt", 1: bytes(1000)})
    stats = link.run(stop=0.5)  # returns: the stream keeps waiting, the simulation does not hang
    assert stats[1]["delivered"] == 0 and stats[1]["attempts"] == 0
    assert stats[1]["outages"] == pytest.approx((0.5 - 0.01) / 1e-3, abs=1)  # one per OutageWait
    assert stats[0]["delivered"] == 1  # the prompt's sub-channel is independent
    assert 1 not in link.received  # the unit is still incomplete at the stop (timeout 10 s)


def test_ip_fragments_stay_on_their_stream(ns):
    """3000 B segments exceed the 1500 B MTU: IPv4 fragments them, and the fragments without a
    UDP header follow the first one on stream 1 (not stream 0)."""
    link = Link(ns, [{"mode": "arq", "power_w": power_for(50.0)},
                     {"mode": "mqam", "power_w": power_for(100.0), "target_ber": 1e-6}],
                segment=3000, fading="awgn")
    data = np.random.default_rng(9).bytes(9000)
    link.send(0.01, 1, {1: data}, n_streams=2)
    stats = link.run()
    assert stats[0]["enqueued"] == 0
    assert stats[1]["enqueued"] == stats[1]["delivered"] == 3 * 3  # 3 fragments per segment
    got, complete, _ = link.received[1]["streams"][1]
    assert complete and len(got) == len(data)


def test_link_trace_sources_match_the_counters(ns, tmp_path):
    """The device's Tx (first attempts and retransmissions), Rx, Drop and Outage trace sources, as
    trace-sink rows, against its counters: ARQ at a low SNR with MaxAttempts 3, and an M-QAM
    stream in outage."""
    link = Link(ns, [{"mode": "arq", "power_w": power_for(2.0)},
                     {"mode": "mqam", "power_w": power_for(la.qam_threshold(4, BER_T, P) * 0.9), "target_ber": BER_T}],
                fading="awgn", max_attempts=3, segment=200, unit_timeout=10.0)
    link.send(0.01, 1, {0: bytes(2000), 1: bytes(100)})  # 10 prompt packets, 1 edge packet
    stats = link.run(stop=0.1, csv=tmp_path / "t.csv")
    df = _trace(tmp_path / "t.csv")
    tx = df[df.node == "tx"]
    arq, st = tx[tx.stream == 0], stats[0]
    first, retx = arq[arq.event == "link_tx"], arq[arq.event == "link_retx"]
    assert len(first) == st["delivered"] + st["dropped"] == 10 and sorted(first.seq) == list(range(10))
    assert len(first) + len(retx) == st["attempts"] > 10
    assert (first.ok == 0).sum() + (retx.ok == 0).sum() == st["failures"]
    assert (first.rv == 0).all() and (first.ndi == 1).all() and (retx.rv >= 1).all() and (retx.ndi == 0).all()
    assert set(arq.mcs) == {4} and set(arq.unit) == {1}  # PromptQam
    drops = arq[arq.event == "link_drop"]
    assert len(drops) == st["dropped"] > 0 and (drops.rv == 2).all() and (drops.ok == 0).all()
    rx = df[(df.node == "rx") & (df.event == "link_rx")]
    assert len(rx) == st["delivered"] and (rx.ok == 1).all() and set(rx.stream) == {0}
    outages = tx[(tx.stream == 1) & (tx.event == "link_outage")]
    assert len(outages) == stats[1]["outages"] > 50 and set(outages.mcs) == {0} and set(outages.unit) == {1}
    assert len(df) == link.trace.GetNRows()
