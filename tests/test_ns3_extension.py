"""The C++ extension inside real ns-3: framing, CRC, reassembly, unit timeout, bit flips, trace
sources and the trace sink, errors."""

from __future__ import annotations

import math
import os
import zlib

import numpy as np
import pytest

from gensemcom.core import ns3, packet_trace

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
        self.trace = packet_trace.create(ns)
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
        self.trace.ConnectApp(self.src, "src")
        self.trace.ConnectApp(self.dst, "dst")
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
    """The stream CRC is ns-3's CRC32Calculate: it must equal Python's zlib.crc32."""
    ns.cppyy.include("ns3/crc32.h")
    g = ns.cppyy.gbl.ns3
    rng = np.random.default_rng(0)
    for n in (0, 1, 7, 1000, 65537):
        data = rng.integers(0, 256, n, dtype=np.uint8)
        ptr = data if n else ns.cppyy.nullptr  # an empty array has no buffer to convert
        assert g.CRC32Calculate(ptr, n) == zlib.crc32(data.tobytes())


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


def test_trace_sink_csv(ns, tmp_path):
    net = TwoNodes(ns)
    net.send(0.1, 5, [b"hello", b"world!"])
    net.run()
    path = tmp_path / "trace.csv"
    net.trace.WriteCsv(str(path))
    import pandas as pd

    df = pd.read_csv(path)
    assert len(df) == net.trace.GetNRows()
    assert list(df.columns) == ["time_s", "node", "event", "unit", "stream", "seq", "bytes", "mcs", "rv", "ndi", "ok", "rnti"]
    tx = df[(df.node == "src") & (df.event == "tx")]
    rx = df[(df.node == "dst") & (df.event == "rx")]
    assert len(tx) == len(rx) == 2
    assert set(tx["bytes"]) == {HEADER + 5, HEADER + 6}
    assert (df[df.event == "unit_rx"]["ok"] == 1).all()
    with pytest.raises(Exception, match="cannot write .*dir.csv"):
        net.trace.WriteCsv(os.path.join(str(tmp_path), "no", "such", "dir.csv"))


# Records SemanticApp trace-source arguments in C++ (a Python callback cannot be an ns-3 Callback).
_RECORDER = r"""
#include <sstream>
namespace gsc_test {
struct AppRecorder
{
    std::vector<std::string> rows;
    template <typename... Ts> void Row(const char* source, Ts... values)
    {
        std::ostringstream os;
        os << source;
        ((os << ' ' << values), ...);
        rows.push_back(os.str());
    }
    void Tx(ns3::Ptr<const ns3::Packet> p, const ns3::SemanticHeader& h)
    { Row("Tx", p->GetSize(), h.unit, unsigned(h.stream), unsigned(h.nStreams), h.seq, h.nSeg, h.payloadLength); }
    void Rx(ns3::Ptr<const ns3::Packet> p, const ns3::SemanticHeader& h)
    { Row("Rx", p->GetSize(), h.unit, unsigned(h.stream), unsigned(h.nStreams), h.seq, h.nSeg, h.payloadLength); }
    void RxDrop(ns3::Ptr<const ns3::Packet> p, ns3::SemanticApp::RxDropReason r) { Row("RxDrop", p->GetSize(), int(r)); }
    void StreamTx(uint32_t unit, uint32_t stream, uint32_t bytes) { Row("StreamTx", unit, stream, bytes); }
    void StreamRx(uint32_t unit, uint32_t stream, uint32_t bytes, bool ok) { Row("StreamRx", unit, stream, bytes, ok); }
    void UnitRx(uint32_t unit, uint64_t bytes, bool ok) { Row("UnitRx", unit, bytes, ok); }
    void UnitTimeout(uint32_t unit, uint64_t bytes) { Row("UnitTimeout", unit, bytes); }
    void Connect(ns3::Ptr<ns3::SemanticApp> app)
    {
        using ns3::MakeCallback;
        app->TraceConnectWithoutContext("Tx", MakeCallback(&AppRecorder::Tx, this));
        app->TraceConnectWithoutContext("Rx", MakeCallback(&AppRecorder::Rx, this));
        app->TraceConnectWithoutContext("RxDrop", MakeCallback(&AppRecorder::RxDrop, this));
        app->TraceConnectWithoutContext("StreamTx", MakeCallback(&AppRecorder::StreamTx, this));
        app->TraceConnectWithoutContext("StreamRx", MakeCallback(&AppRecorder::StreamRx, this));
        app->TraceConnectWithoutContext("UnitRx", MakeCallback(&AppRecorder::UnitRx, this));
        app->TraceConnectWithoutContext("UnitTimeout", MakeCallback(&AppRecorder::UnitTimeout, this));
    }
};
}
"""


@pytest.fixture(scope="module")
def recorder(ns):
    ns.cppyy.cppdef(_RECORDER)
    return ns.cppyy.gbl.gsc_test.AppRecorder


def _rows(rec) -> list[tuple]:
    return [tuple(r.split()) for r in rec.rows]


def test_app_trace_sources_fire_with_their_arguments(ns, recorder):
    net = TwoNodes(ns)
    tx_rec, rx_rec = recorder(), recorder()
    tx_rec.Connect(net.src)
    rx_rec.Connect(net.dst)
    net.send(0.1, 9, [b"p" * 1200, b"edge"])  # stream 0: 3 segments of <= 500 bytes, stream 1: 1
    net.run()
    sent, got = _rows(tx_rec), _rows(rx_rec)
    assert sent == [("StreamTx", "9", "0", "1200"),
                    ("Tx", str(HEADER + 500), "9", "0", "2", "0", "3", "500"),
                    ("StreamTx", "9", "1", "4"),  # queued while the first segment's pacing runs
                    ("Tx", str(HEADER + 500), "9", "0", "2", "1", "3", "500"),
                    ("Tx", str(HEADER + 200), "9", "0", "2", "2", "3", "200"),
                    ("Tx", str(HEADER + 4), "9", "1", "2", "0", "1", "4")]
    rx = [r for r in got if r[0] == "Rx"]
    assert rx == [("Rx",) + r[1:] for r in sent if r[0] == "Tx"]  # whole packets, header included
    assert [r for r in got if r[0] != "Rx"] == [("StreamRx", "9", "0", "1200", "1"),
                                                ("StreamRx", "9", "1", "4", "1"),
                                                ("UnitRx", "9", "1204", "1")]


def test_app_rx_drops_and_timeout_in_trace_sources_and_sink(ns, recorder, tmp_path):
    """Every RxDrop reason and UnitTimeout, as trace-source arguments and as sink rows."""
    em = ns.CreateObject[ns.ReceiveListErrorModel]()
    lost = ns.cppyy.gbl.std.list["unsigned int"]()
    lost.push_back(1)  # the app's 2nd packet: unit 1's second segment
    em.SetList(lost)
    net = TwoNodes(ns, unit_timeout=0.5)
    net.dst.SetReceiveErrorModel(em)
    rec = recorder()
    rec.Connect(net.dst)
    net.send(0.1, 1, [bytes(1500)])          # 3 segments, one corrupt: times out at 0.6 s
    net.send(1.0, 1, [bytes(1500)])          # unit 1 again: late
    # Unit 2 has two streams; only stream 0 comes, three times: it times out at 2.5 s.
    net.src.SendStream(ns.Seconds(2.0), net.ifs.GetAddress(1), 9000, 2, 0, 2, bytes(400))
    net.src.SendStream(ns.Seconds(2.1), net.ifs.GetAddress(1), 9000, 2, 0, 2, bytes(400))  # duplicate
    net.src.SendStream(ns.Seconds(2.2), net.ifs.GetAddress(1), 9000, 2, 0, 2, bytes(300))  # inconsistent
    sock = ns.Socket.CreateSocket(net._keep[0].Get(0), ns.UdpSocketFactory.GetTypeId())
    sock.Bind()
    ns3.keep_alive(sock)

    def send_runt():  # 10 bytes: shorter than a SemanticHeader
        to = ns.InetSocketAddress(net.ifs.GetAddress(1), 9000).ConvertTo()
        sock.SendTo(ns.cppyy.gbl.ns3.Create[ns.cppyy.gbl.ns3.Packet](10), 0, to)

    ns3.schedule(2.3, send_runt)
    net.run()
    g = ns.cppyy.gbl.ns3.SemanticApp
    drops = [r for r in _rows(rec) if r[0] in ("RxDrop", "UnitTimeout")]
    assert drops == [("RxDrop", str(HEADER + 500), str(g.RX_DROP_CORRUPT)),
                     ("UnitTimeout", "1", "1500"),
                     *[("RxDrop", str(HEADER + 500), str(g.RX_DROP_LATE))] * 3,
                     ("RxDrop", str(HEADER + 400), str(g.RX_DROP_DUPLICATE)),
                     ("RxDrop", str(HEADER + 300), str(g.RX_DROP_INCONSISTENT)),
                     ("RxDrop", "10", str(g.RX_DROP_MALFORMED)),
                     ("UnitTimeout", "2", "400")]
    path = tmp_path / "trace.csv"
    net.trace.WriteCsv(str(path))
    import pandas as pd

    df = pd.read_csv(path)
    dst = df[(df.node == "dst") & ~df.event.isin(["rx", "stream_rx", "unit_rx"])]
    assert list(dst.event) == ["rx_drop_error", "unit_timeout", "rx_late", "rx_late", "rx_late",
                               "rx_duplicate", "rx_inconsistent", "rx_malformed", "unit_timeout"]
    assert list(dst.unit) == [-1, 1, 1, 1, 1, 2, 2, -1, 2]
    assert list(dst.seq) == [-1, -1, 0, 1, 2, 0, 0, -1, -1]
    assert list(dst.bytes) == [HEADER + 500, 1500, *[HEADER + 500] * 3, HEADER + 400, HEADER + 300, 10, 400]
    assert list(dst.ok) == [-1, 0, -1, -1, -1, -1, -1, -1, 0]
    assert dst.time_s.iloc[1] == pytest.approx(0.6, abs=0.01)
    assert dst.time_s.iloc[-1] == pytest.approx(2.5, abs=0.01)


def test_bad_input_raises_python_exceptions(ns):
    net = TwoNodes(ns)
    dst = net.ifs.GetAddress(1)
    with pytest.raises(Exception, match="stream id and count must fit in 8 bits"):
        net.src.SendStream(ns.Seconds(0), dst, 9000, 1, 256, 1, b"x")
    with pytest.raises(Exception, match="too large for 16-bit segment numbers"):
        net.src.SendStream(ns.Seconds(0), dst, 9000, 1, 0, 1, bytes(500 * 0xFFFF + 1))
    with pytest.raises(Exception, match="unit 3 not received"):
        net.dst.GetUnitFirstRxTime(3)
    with pytest.raises(Exception, match="unit 3 not handed over"):
        net.dst.GetUnitReadyTime(3)
    with pytest.raises(Exception, match="no trace source PhyTxEnd"):
        net.trace.ConnectLinkTx(net._keep[0].Get(0).GetDevice(1), "loopback")  # not a p2p device
    with pytest.raises(Exception, match="no LTE PHY found"):
        net.trace.ConnectLtePhy()
    net.run()


def test_unit_times_are_ns3_times(ns):
    net = TwoNodes(ns)
    times = {}

    def handler(unit):
        times["first"] = net.dst.GetUnitFirstRxTime(unit)
        times["ready"] = net.dst.GetUnitReadyTime(unit)
        times["now"] = ns.Simulator.Now()
        net.dst.ReleaseUnit(unit)

    ns3.keep_alive(handler)
    net.dst.SetUnitHandler(handler)
    net.send(0.1, 4, [bytes(1200)])
    net.run()
    assert times["ready"] == times["now"]  # ns3::Time compares exactly
    assert 0.1 < times["first"].GetSeconds() < times["ready"].GetSeconds() < 0.2


def test_port_conflict_is_a_python_exception_not_an_abort(ns):
    nodes = ns.NodeContainer()
    nodes.Create(1)
    ns.InternetStackHelper().Install(nodes)
    for label in ("a", "b"):
        ns3.install_semantic_app(ns, nodes.Get(0), label, segment_bytes=100, rate="1Mbps",
                                     unit_timeout_s=1.0, listen_port=9000)
    ns.Simulator.Stop(ns.Seconds(1))
    with pytest.raises(Exception, match="b: cannot bind UDP port 9000"):
        ns.Simulator.Run()
    ns.Simulator.Destroy()
    ns3.keep_alive(nodes)
