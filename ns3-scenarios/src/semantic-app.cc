#include "gensemcom/semantic-app.h"

#include "gensemcom/semantic-header.h"
#include "gensemcom/trace-log.h"

#include "ns3/inet-socket-address.h"
#include "ns3/log.h"
#include "ns3/packet.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"
#include "ns3/udp-socket-factory.h"

#include <algorithm>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("GscSemanticApp");
NS_OBJECT_ENSURE_REGISTERED(SemanticApp);

TypeId
SemanticApp::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::SemanticApp")
            .SetParent<Application>()
            .SetGroupName("Gensemcom")
            .AddConstructor<SemanticApp>()
            .AddAttribute("Label",
                          "Node name used in traces.",
                          StringValue("node"),
                          MakeStringAccessor(&SemanticApp::m_label),
                          MakeStringChecker())
            .AddAttribute("ListenPort",
                          "First UDP port to receive on (0: this app only sends).",
                          UintegerValue(0),
                          MakeUintegerAccessor(&SemanticApp::m_listenPort),
                          MakeUintegerChecker<uint16_t>())
            .AddAttribute("NumPorts",
                          "Receive on ListenPort .. ListenPort+NumPorts-1 (one port per stream "
                          "lets EPC filters map streams to different bearers).",
                          UintegerValue(1),
                          MakeUintegerAccessor(&SemanticApp::m_numPorts),
                          MakeUintegerChecker<uint8_t>(1, 64))
            .AddAttribute("SegmentSize",
                          "Maximum payload bytes per packet (after the 28-byte header).",
                          UintegerValue(1000),
                          MakeUintegerAccessor(&SemanticApp::m_segmentSize),
                          MakeUintegerChecker<uint32_t>(1, 65000))
            .AddAttribute("MaxStreamBytes",
                          "Largest stream a receiver accepts (guards against corrupt lengths).",
                          UintegerValue(16 * 1024 * 1024),
                          MakeUintegerAccessor(&SemanticApp::m_maxStreamBytes),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("DataRate",
                          "Pacing rate of the sender.",
                          DataRateValue(DataRate("10Mbps")),
                          MakeDataRateAccessor(&SemanticApp::m_rate),
                          MakeDataRateChecker())
            .AddAttribute("UnitTimeout",
                          "After a unit's first packet, hand it over incomplete after this long.",
                          TimeValue(Seconds(5.0)),
                          MakeTimeAccessor(&SemanticApp::m_unitTimeout),
                          MakeTimeChecker());
    return tid;
}

SemanticApp::SemanticApp() = default;
SemanticApp::~SemanticApp() = default;

void
SemanticApp::SetUnitHandler(UnitHandler handler)
{
    m_handler = std::move(handler);
}

void
SemanticApp::SetReceiveErrorModel(Ptr<ErrorModel> model)
{
    m_rxErrorModel = model;
}

void
SemanticApp::DoDispose()
{
    m_handler = nullptr;
    m_rxErrorModel = nullptr;
    m_txSocket = nullptr;
    m_rxSockets.clear();
    m_txQueue.clear();
    Application::DoDispose();
}

void
SemanticApp::StartApplication()
{
    const TypeId udp = UdpSocketFactory::GetTypeId();
    m_txSocket = Socket::CreateSocket(GetNode(), udp);
    m_txSocket->Bind();
    for (uint8_t i = 0; m_listenPort != 0 && i < m_numPorts; ++i)
    {
        Ptr<Socket> s = Socket::CreateSocket(GetNode(), udp);
        const uint16_t port = m_listenPort + i;
        if (s->Bind(InetSocketAddress(Ipv4Address::GetAny(), port)) != 0)
        {
            NS_FATAL_ERROR(m_label << ": cannot bind UDP port " << port);
        }
        s->SetRecvCallback(MakeCallback(&SemanticApp::HandleRead, this));
        m_rxSockets.push_back(s);
    }
}

void
SemanticApp::StopApplication()
{
    Simulator::Cancel(m_sendEvent);
    for (auto& s : m_rxSockets)
    {
        s->SetRecvCallback(MakeNullCallback<void, Ptr<Socket>>());
        s->Close();
    }
    if (m_txSocket)
    {
        m_txSocket->Close();
    }
}

void
SemanticApp::SendStream(Time delay,
                        Ipv4Address dst,
                        uint16_t dstPort,
                        uint32_t unit,
                        uint32_t stream,
                        uint32_t nStreams,
                        const std::string& bytes)
{
    NS_ABORT_MSG_IF(stream > 255 || nStreams == 0 || nStreams > 255,
                    m_label << ": stream id and count must fit in 8 bits");
    std::vector<uint8_t> data(bytes.begin(), bytes.end());
    Simulator::Schedule(delay,
                        &SemanticApp::EnqueueStream,
                        this,
                        dst,
                        dstPort,
                        unit,
                        stream,
                        nStreams,
                        std::move(data));
}

void
SemanticApp::EnqueueStream(Ipv4Address dst,
                           uint16_t dstPort,
                           uint32_t unit,
                           uint8_t stream,
                           uint8_t nStreams,
                           std::vector<uint8_t> bytes)
{
    const uint32_t len = bytes.size();
    const uint32_t nSeg = std::max<uint32_t>(1, (len + m_segmentSize - 1) / m_segmentSize);
    NS_ABORT_MSG_IF(nSeg > 0xFFFF, m_label << ": stream too large for 16-bit segment numbers");
    const uint32_t crc = GscCrc32(bytes.data(), len);
    GscTraceLog::Add(m_label, "stream_tx", unit, stream, -1, len);
    for (uint32_t seq = 0; seq < nSeg; ++seq)
    {
        const uint32_t off = seq * m_segmentSize;
        const uint32_t plen = std::min(m_segmentSize, len - off);
        Ptr<Packet> p = Create<Packet>(bytes.data() + off, plen);
        SemanticHeader h;
        h.unit = unit;
        h.stream = stream;
        h.nStreams = nStreams;
        h.seq = seq;
        h.nSeg = nSeg;
        h.offset = off;
        h.streamLength = len;
        h.streamCrc = crc;
        h.payloadLength = plen;
        p->AddHeader(h);
        m_txQueue.push_back(PendingPacket{p, dst, dstPort, unit, stream, uint16_t(seq)});
    }
    if (!m_sendEvent.IsPending())
    {
        SendNext();
    }
}

void
SemanticApp::SendNext()
{
    if (m_txQueue.empty() || !m_txSocket)
    {
        return;
    }
    PendingPacket next = m_txQueue.front();
    m_txQueue.pop_front();
    const uint32_t size = next.packet->GetSize();
    m_txSocket->SendTo(next.packet, 0, InetSocketAddress(next.dst, next.port));
    ++m_txPackets;
    GscTraceLog::Add(m_label, "tx", next.unit, next.stream, next.seq, size);
    if (!m_txQueue.empty())
    {
        m_sendEvent = Simulator::Schedule(m_rate.CalculateBytesTxTime(size),
                                          &SemanticApp::SendNext,
                                          this);
    }
}

void
SemanticApp::HandleRead(Ptr<Socket> socket)
{
    Ptr<Packet> packet;
    Address from;
    while ((packet = socket->RecvFrom(from)))
    {
        if (m_rxErrorModel && m_rxErrorModel->IsCorrupt(packet))
        {
            GscTraceLog::Add(m_label, "rx_drop_error", -1, -1, -1, packet->GetSize());
            continue;
        }
        HandleSegment(packet);
    }
}

void
SemanticApp::HandleSegment(Ptr<Packet> packet)
{
    const uint32_t size = packet->GetSize();
    SemanticHeader h;
    if (size < SemanticHeader::kSize)
    {
        GscTraceLog::Add(m_label, "rx_malformed", -1, -1, -1, size);
        return;
    }
    packet->RemoveHeader(h);
    if (!h.IsValid() || packet->GetSize() != h.payloadLength || h.streamLength > m_maxStreamBytes)
    {
        GscTraceLog::Add(m_label, "rx_malformed", -1, -1, -1, size);
        return;
    }
    ++m_rxPackets;
    GscTraceLog::Add(m_label, "rx", h.unit, h.stream, h.seq, size);
    if (m_finishedUnits.count(h.unit))
    {
        GscTraceLog::Add(m_label, "rx_late", h.unit, h.stream, h.seq, size);
        return;
    }
    auto [uit, fresh] = m_units.try_emplace(h.unit);
    UnitRx& u = uit->second;
    if (fresh)
    {
        u.nStreams = h.nStreams;
        u.firstRx = Simulator::Now().GetSeconds();
        u.timeout = Simulator::Schedule(m_unitTimeout, &SemanticApp::OnUnitTimeout, this, h.unit);
    }
    auto [sit, newStream] = u.streams.try_emplace(h.stream);
    StreamRx& s = sit->second;
    if (newStream)
    {
        s.length = h.streamLength;
        s.crc = h.streamCrc;
        s.nSeg = h.nSeg;
        s.data.assign(h.streamLength, 0);
        s.got.assign(h.nSeg, false);
    }
    else if (s.length != h.streamLength || s.nSeg != h.nSeg || s.crc != h.streamCrc)
    {
        GscTraceLog::Add(m_label, "rx_inconsistent", h.unit, h.stream, h.seq, size);
        return;
    }
    if (s.got[h.seq])
    {
        GscTraceLog::Add(m_label, "rx_duplicate", h.unit, h.stream, h.seq, size);
        return;
    }
    packet->CopyData(s.data.data() + h.offset, h.payloadLength);
    s.got[h.seq] = true;
    if (++s.segsReceived == s.nSeg)
    {
        s.crcOk = GscCrc32(s.data.data(), s.data.size()) == s.crc;
        GscTraceLog::Add(m_label, "stream_rx", h.unit, h.stream, -1, s.length, -1, -1, -1, s.crcOk);
        const bool allDone =
            u.streams.size() == u.nStreams &&
            std::all_of(u.streams.begin(), u.streams.end(), [](const auto& kv) {
                return kv.second.segsReceived == kv.second.nSeg;
            });
        if (allDone)
        {
            MarkReady(h.unit, true);
        }
    }
}

void
SemanticApp::OnUnitTimeout(uint32_t unit)
{
    auto it = m_units.find(unit);
    if (it != m_units.end() && it->second.readyAt < 0)
    {
        MarkReady(unit, false);
    }
}

void
SemanticApp::MarkReady(uint32_t unit, bool complete)
{
    UnitRx& u = m_units.at(unit);
    Simulator::Cancel(u.timeout);
    u.complete = complete;
    u.readyAt = Simulator::Now().GetSeconds();
    m_finishedUnits.insert(unit);
    int64_t bytes = 0;
    bool allOk = complete;
    for (const auto& [sid, s] : u.streams)
    {
        bytes += s.length;
        allOk = allOk && s.crcOk;
    }
    GscTraceLog::Add(m_label, complete ? "unit_rx" : "unit_timeout", unit, -1, -1, bytes, -1, -1,
                     -1, allOk);
    if (m_handler)
    {
        m_handler(unit);
    }
}

std::vector<uint32_t>
SemanticApp::GetReadyUnits() const
{
    std::vector<uint32_t> ids;
    for (const auto& [id, u] : m_units)
    {
        if (u.readyAt >= 0)
        {
            ids.push_back(id);
        }
    }
    return ids;
}

std::vector<uint32_t>
SemanticApp::GetStreamIds(uint32_t unit) const
{
    std::vector<uint32_t> ids;
    auto it = m_units.find(unit);
    if (it != m_units.end())
    {
        for (const auto& [sid, s] : it->second.streams)
        {
            ids.push_back(sid);
        }
    }
    return ids;
}

const SemanticApp::StreamRx*
SemanticApp::FindStream(uint32_t unit, uint32_t stream) const
{
    auto it = m_units.find(unit);
    if (it == m_units.end())
    {
        return nullptr;
    }
    auto sit = it->second.streams.find(stream);
    return sit == it->second.streams.end() ? nullptr : &sit->second;
}

std::vector<uint8_t>
SemanticApp::GetStreamBytes(uint32_t unit, uint32_t stream) const
{
    const StreamRx* s = FindStream(unit, stream);
    return s ? s->data : std::vector<uint8_t>{};
}

bool
SemanticApp::IsStreamComplete(uint32_t unit, uint32_t stream) const
{
    const StreamRx* s = FindStream(unit, stream);
    return s && s->segsReceived == s->nSeg;
}

bool
SemanticApp::IsStreamCrcOk(uint32_t unit, uint32_t stream) const
{
    const StreamRx* s = FindStream(unit, stream);
    return s && s->crcOk;
}

double
SemanticApp::GetUnitFirstRxTime(uint32_t unit) const
{
    auto it = m_units.find(unit);
    return it == m_units.end() ? -1.0 : it->second.firstRx;
}

double
SemanticApp::GetUnitReadyTime(uint32_t unit) const
{
    auto it = m_units.find(unit);
    return it == m_units.end() ? -1.0 : it->second.readyAt;
}

bool
SemanticApp::IsUnitComplete(uint32_t unit) const
{
    auto it = m_units.find(unit);
    return it != m_units.end() && it->second.complete;
}

void
SemanticApp::ReleaseUnit(uint32_t unit)
{
    m_units.erase(unit);
}

uint64_t
SemanticApp::GetTxPackets() const
{
    return m_txPackets;
}

uint64_t
SemanticApp::GetRxPackets() const
{
    return m_rxPackets;
}

} // namespace ns3
