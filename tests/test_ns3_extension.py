"""The C++ extension inside real ns-3: framing, CRC, reassembly, unit timeout, bit flips."""

from __future__ import annotations

import math
import os
import zlib

import numpy as np
import pytest

from gensemcom.core import ns3

pytestmark = pytest.mark.ns3

HEADER = 28
P2P_IP_UDP = 2 + 20 + 8  # PPP + IPv4 + UDP headers in front of the semantic header


@pytest.fixture(scope="module")
def ns():
    return ns3.load_ns()


class TwoNodes:
    """src --p2p-- dst with a SemanticApp on each; optional receive error model on dst."""

    def __init__(self, ns, rate="10Mbps", error_model=None, unit_timeout=1.0, segment=500):
        g = ns.cppyy.gbl.ns3
        g.GscTraceLog.Clear()
        self.ns = ns
        nodes = ns.NodeContainer()
        nodes.Create(2)
        p2p = ns.PointToPointHelper()
        p2p.SetDeviceAttribute("DataRate", ns.StringValue("100Mbps"))
        p2p.SetChannelAttribute("Delay", ns.StringValue("1ms"))
        devs = p2p.Install(nodes)
        if error_model is not None:
            devs.Get(1).SetAttribute("ReceiveErrorModel", ns.PointerValue(error_model))
        ns.InternetStackHelper().Install(nodes)
        addr = ns.Ipv4AddressHelper()
        addr.SetBase(ns.Ipv4Address("10.1.1.0"), ns.Ipv4Mask("255.255.255.0"))
        self.ifs = addr.Assign(devs)
        self.src = ns.CreateObject[g.SemanticApp]()
        self.dst = ns.CreateObject[g.SemanticApp]()
        for app, label in ((self.src, "src"), (self.dst, "dst")):
            app.SetAttribute("Label", ns.StringValue(label))
            app.SetAttribute("SegmentSize", ns.UintegerValue(segment))
            app.SetAttribute("DataRate", ns.StringValue(rate))
            app.SetAttribute("UnitTimeout", ns.TimeValue(ns.Seconds(unit_timeout)))
        self.dst.SetAttribute("ListenPort", ns.UintegerValue(9000))
        self.dst.SetAttribute("NumPorts", ns.UintegerValue(4))
        nodes.Get(0).AddApplication(self.src)
        nodes.Get(1).AddApplication(self.dst)
        self.received = {}

        def handler(unit):
            d = self.dst
            self.received[int(unit)] = {
                "time": ns.Simulator.Now().GetSeconds(),
                "complete": bool(d.IsUnitComplete(unit)),
                "streams": {int(s): (ns3.vector_bytes(d.GetStreamBytes(unit, s)),
                                     bool(d.IsStreamComplete(unit, s)), bool(d.IsStreamCrcOk(unit, s)))
                            for s in d.GetStreamIds(unit)},
            }
            d.ReleaseUnit(unit)

        self._handler = handler
        ns3.keep_alive(handler)
        self.dst.SetUnitHandler(handler)
        self._keep = (nodes, p2p, devs, error_model)

    def send(self, t, unit, streams: list[bytes]):
        for sid, data in enumerate(streams):
            self.src.SendStream(self.ns.Seconds(t), self.ifs.GetAddress(1), 9000 + sid, unit, sid,
                                len(streams), data)

    def run(self, stop=5.0):
        self.ns.Simulator.Stop(self.ns.Seconds(stop))
        self.ns.Simulator.Run()
        self.ns.Simulator.Destroy()


def test_crc_matches_zlib(ns):
    g = ns.cppyy.gbl.ns3
    rng = np.random.default_rng(0)
    for n in (0, 1, 7, 1000, 65537):
        data = rng.integers(0, 256, n, dtype=np.uint8)
        ptr = data if n else ns.cppyy.nullptr  # an empty array has no buffer to convert
        assert g.GscCrc32(ptr, n, 0) == zlib.crc32(data.tobytes())


def test_multi_stream_unit_arrives_intact(ns):
    net = TwoNodes(ns)
    rng = np.random.default_rng(1)
    streams = [b"a prompt with \x00 and \xff bytes", rng.bytes(4321), rng.bytes(12000)]
    net.send(0.1, 42, streams)
    net.send(0.2, 43, [b"x", b"", rng.bytes(10)])
    net.run()
    assert set(net.received) == {42, 43}
    unit = net.received[42]
    assert unit["complete"]
    for sid, data in enumerate(streams):
        got, complete, crc_ok = unit["streams"][sid]
        assert got == data and complete and crc_ok
    assert net.received[43]["streams"][1] == (b"", True, True)
    # 12000 bytes at 500 B/segment => 24 packets, paced at 10 Mb/s.
    assert 0.1 < unit["time"] < 0.2


def test_lost_packets_give_incomplete_unit_after_timeout(ns):
    em = ns.CreateObject[ns.ReceiveListErrorModel]()
    lost = ns.cppyy.gbl.std.list["unsigned int"]()
    lost.push_back(3)  # the 4th packet received by dst's device
    em.SetList(lost)
    net = TwoNodes(ns, error_model=em, unit_timeout=0.5)
    data = np.random.default_rng(2).bytes(5000)
    net.send(0.1, 7, [data])
    net.run()
    unit = net.received[7]
    assert not unit["complete"]
    got, complete, crc_ok = unit["streams"][0]
    assert not complete and not crc_ok
    assert unit["time"] == pytest.approx(0.1 + 0.5, abs=0.01)  # handed over at the timeout
    assert got[:1500] == data[:1500] and got[1500:2000] == bytes(500)  # missing segment zero-filled


def _bit_errors(a: bytes, b: bytes) -> int:
    return int(np.unpackbits(np.bitwise_xor(np.frombuffer(a, np.uint8), np.frombuffer(b, np.uint8))).sum())


@pytest.mark.parametrize("ber", [1e-3, 1e-2])
def test_bit_flip_model_delivers_errors_at_configured_ber(ns, ber):
    g = ns.cppyy.gbl.ns3
    em = ns.CreateObject[g.BitFlipErrorModel]()
    em.SetAttribute("BitErrorRate", ns.DoubleValue(ber))
    em.SetAttribute("ProtectedBytes", ns.UintegerValue(P2P_IP_UDP + HEADER))
    em.AssignStreams(11)
    net = TwoNodes(ns, rate="50Mbps", error_model=em)
    data = np.random.default_rng(3).bytes(200_000)
    net.send(0.1, 1, [data])
    net.run()
    got, complete, crc_ok = net.received[1]["streams"][0]
    assert complete, "bit errors must be delivered, not dropped"
    assert not crc_ok, "the stream CRC must detect the flipped bits"
    n_bits = 8 * len(data)
    errors = _bit_errors(got, data)
    assert errors == em.GetBitsFlipped()
    sigma = math.sqrt(n_bits * ber * (1 - ber))
    assert abs(errors - n_bits * ber) < 4 * sigma, (errors, n_bits * ber)
    # Every delivered payload bit was seen by the model exactly once.
    assert em.GetBitsSeen() == n_bits


def test_bit_flips_are_reproducible_for_a_seed(ns):
    g = ns.cppyy.gbl.ns3
    outputs = []
    data = np.random.default_rng(4).bytes(20_000)
    for _ in range(2):
        em = ns.CreateObject[g.BitFlipErrorModel]()
        em.SetAttribute("BitErrorRate", ns.DoubleValue(1e-3))
        em.SetAttribute("ProtectedBytes", ns.UintegerValue(P2P_IP_UDP + HEADER))
        em.AssignStreams(5)
        net = TwoNodes(ns, error_model=em)
        net.send(0.1, 1, [data])
        net.run()
        outputs.append(net.received[1]["streams"][0][0])
    assert outputs[0] == outputs[1] != data


def test_trace_log_csv(ns, tmp_path):
    net = TwoNodes(ns)
    net.send(0.1, 5, [b"hello", b"world!"])
    net.run()
    g = ns.cppyy.gbl.ns3
    path = tmp_path / "trace.csv"
    assert g.GscTraceLog.WriteCsv(str(path))
    import pandas as pd

    df = pd.read_csv(path)
    assert list(df.columns) == ["time_s", "node", "event", "unit", "stream", "seq", "bytes", "mcs", "rv", "ndi", "ok", "rnti"]
    tx = df[(df.node == "src") & (df.event == "tx")]
    rx = df[(df.node == "dst") & (df.event == "rx")]
    assert len(tx) == len(rx) == 2
    assert set(tx["bytes"]) == {HEADER + 5, HEADER + 6}
    assert (df[df.event == "unit_rx"]["ok"] == 1).all()
    assert not g.GscTraceLog.WriteCsv(os.path.join(str(tmp_path), "no", "such", "dir.csv"))
