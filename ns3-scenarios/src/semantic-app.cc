#include "gensemcom/semantic-app.h"

#include "ns3/crc32.h"
#include "ns3/inet-socket-address.h"
#include "ns3/log.h"
#include "ns3/packet.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"
#include "ns3/udp-socket-factory.h"

#include <algorithm>
#include <climits>
#include <stdexcept>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("SemanticApp");
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
                          "Node name used in log and error messages.",
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
                          MakeTimeChecker())
            .AddTraceSource("Tx",
                            "A segment has been handed to the socket.",
                            MakeTraceSourceAccessor(&SemanticApp::m_txTrace),
                            "ns3::SemanticApp::SegmentTracedCallback")
            .AddTraceSource("Rx",
                            "A valid segment has been received (it may still be RxDrop'ped "
                            "as late, inconsistent or duplicate).",
                            MakeTraceSourceAccessor(&SemanticApp::m_rxTrace),
                            "ns3::SemanticApp::SegmentTracedCallback")
            .AddTraceSource("RxDrop",
                            "A received packet has not been used.",
                            MakeTraceSourceAccessor(&SemanticApp::m_rxDropTrace),
                            "ns3::SemanticApp::RxDropTracedCallback")
            .AddTraceSource("StreamTx",
                            "A stream has been queued for sending.",
                            MakeTraceSourceAccessor(&SemanticApp::m_streamTxTrace),
                            "ns3::SemanticApp::StreamTxTracedCallback")
            .AddTraceSource("StreamRx",
                            "Every segment of a stream has been received.",
                            MakeTraceSourceAccessor(&SemanticApp::m_streamRxTrace),
                            "ns3::SemanticApp::StreamRxTracedCallback")
            .AddTraceSource("UnitRx",
                            "Every stream of a unit is complete: the unit is handed over.",
                            MakeTraceSourceAccessor(&SemanticApp::m_unitRxTrace),
                            "ns3::SemanticApp::UnitRxTracedCallback")
            .AddTraceSource("UnitTimeout",
                            "UnitTimeout has passed since a unit's first packet: the unit is "
                            "handed over incomplete.",
                            MakeTraceSourceAccessor(&SemanticApp::m_unitTimeoutTrace),
                            "ns3::SemanticApp::UnitTimeoutTracedCallback");
    return tid;
}

SemanticApp::SemanticApp()
{
    NS_LOG_FUNCTION(this);
}

SemanticApp::~SemanticApp()
{
    NS_LOG_FUNCTION(this);
}

void
SemanticApp::SetUnitHandler(UnitHandler handler)
{
    NS_LOG_FUNCTION(this);
    m_handler = std::move(handler);
}

void
SemanticApp::SetReceiveErrorModel(Ptr<ErrorModel> model)
{
    NS_LOG_FUNCTION(this << model);
    m_rxErrorModel = model;
}

void
SemanticApp::DoDispose()
{
    NS_LOG_FUNCTION(this);
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
    NS_LOG_FUNCTION(this);
    const TypeId udp = UdpSocketFactory::GetTypeId();
    m_txSocket = Socket::CreateSocket(GetNode(), udp);
    m_txSocket->Bind();
    for (uint8_t i = 0; m_listenPort != 0 && i < m_numPorts; ++i)
    {
        Ptr<Socket> s = Socket::CreateSocket(GetNode(), udp);
        const uint16_t port = m_listenPort + i;
        if (s->Bind(InetSocketAddress(Ipv4Address::GetAny(), port)) != 0)
        {
            throw std::runtime_error(m_label + ": cannot bind UDP port " + std::to_string(port));
        }
        s->SetRecvCallback(MakeCallback(&SemanticApp::HandleRead, this));
        m_rxSockets.push_back(s);
    }
}

void
SemanticApp::StopApplication()
{
    NS_LOG_FUNCTION(this);
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
    NS_LOG_FUNCTION(this << delay.As(Time::S) << dst << dstPort << unit << stream << nStreams
                         << bytes.size());
    if (stream > 255 || nStreams == 0 || nStreams > 255)
    {
        throw std::invalid_argument(m_label +
                                    ": SendStream: stream id and count must fit in 8 bits");
    }
    if (bytes.size() > uint64_t(0xFFFF) * m_segmentSize || bytes.size() > size_t(INT_MAX))
    {
        throw std::invalid_argument(m_label + ": SendStream: stream too large for 16-bit "
                                              "segment numbers (or over 2 GiB)");
    }
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
SemanticApp::SendStreamNow(Ipv4Address dst,
                           uint16_t dstPort,
                           uint32_t unit,
                           uint32_t stream,
                           uint32_t nStreams,
                           const std::string& bytes)
{
    NS_LOG_FUNCTION(this << dst << dstPort << unit << stream << nStreams << bytes.size());
    if (stream > 255 || nStreams == 0 || nStreams > 255)
    {
        throw std::invalid_argument(m_label +
                                    ": SendStreamNow: stream id and count must fit in 8 bits");
    }
    if (bytes.size() > uint64_t(0xFFFF) * m_segmentSize || bytes.size() > size_t(INT_MAX))
    {
        throw std::invalid_argument(m_label + ": SendStreamNow: stream too large for 16-bit "
                                              "segment numbers (or over 2 GiB)");
    }
    EnqueueStream(dst, dstPort, unit, stream, nStreams, std::vector<uint8_t>(bytes.begin(), bytes.end()));
}

void
SemanticApp::EnqueueStream(Ipv4Address dst,
                           uint16_t dstPort,
                           uint32_t unit,
                           uint8_t stream,
                           uint8_t nStreams,
                           std::vector<uint8_t> bytes)
{
    NS_LOG_FUNCTION(this << dst << dstPort << unit << unsigned(stream) << bytes.size());
    const uint32_t len = bytes.size();
    const uint32_t nSeg = std::max<uint32_t>(1, (len + m_segmentSize - 1) / m_segmentSize);
    NS_ASSERT_MSG(nSeg <= 0xFFFF, "SendStream checks the segment count");
    const uint32_t crc = CRC32Calculate(bytes.data(), len);
    m_streamTxTrace(unit, stream, len);
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
        m_txQueue.push_back(PendingPacket{p, dst, dstPort, h});
    }
    NS_LOG_LOGIC(m_label << ": unit " << unit << " stream " << unsigned(stream) << ": " << len
                         << " bytes in " << nSeg << " segments, " << m_txQueue.size()
                         << " queued");
    if (!m_sendEvent.IsPending())
    {
        SendNext();
    }
}

void
SemanticApp::SendNext()
{
    NS_LOG_FUNCTION(this);
    if (m_txQueue.empty() || !m_txSocket)
    {
        return;
    }
    PendingPacket next = m_txQueue.front();
    m_txQueue.pop_front();
    const uint32_t size = next.packet->GetSize();
    m_txSocket->SendTo(next.packet, 0, InetSocketAddress(next.dst, next.port));
    // After SendTo: what the lower layers trace during the send comes first.
    m_txTrace(next.packet, next.header);
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
    NS_LOG_FUNCTION(this << socket);
    Ptr<Packet> packet;
    Address from;
    while ((packet = socket->RecvFrom(from)))
    {
        if (m_rxErrorModel && m_rxErrorModel->IsCorrupt(packet))
        {
            NS_LOG_WARN(m_label << ": packet of " << packet->GetSize()
                                << " bytes dropped by the receive error model");
            m_rxDropTrace(packet, RX_DROP_CORRUPT);
            continue;
        }
        HandleSegment(packet);
    }
}

void
SemanticApp::HandleSegment(Ptr<Packet> packet)
{
    NS_LOG_FUNCTION(this << packet);
    const uint32_t size = packet->GetSize();
    SemanticHeader h;
    if (size < SemanticHeader::kSize)
    {
        NS_LOG_WARN(m_label << ": malformed packet of " << size
                            << " bytes (shorter than a header)");
        m_rxDropTrace(packet, RX_DROP_MALFORMED);
        return;
    }
    packet->PeekHeader(h);
    if (!h.IsValid() || size - SemanticHeader::kSize != h.payloadLength ||
        h.streamLength > m_maxStreamBytes)
    {
        NS_LOG_WARN(m_label << ": malformed packet of " << size << " bytes: " << h);
        m_rxDropTrace(packet, RX_DROP_MALFORMED);
        return;
    }
    m_rxTrace(packet, h);
    if (m_finishedUnits.count(h.unit))
    {
        NS_LOG_WARN(m_label << ": late segment, unit already handed over: " << h);
        m_rxDropTrace(packet, RX_DROP_LATE);
        return;
    }
    auto [uit, fresh] = m_units.try_emplace(h.unit);
    UnitRx& u = uit->second;
    if (fresh)
    {
        u.nStreams = h.nStreams;
        u.firstRx = Simulator::Now();
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
        NS_LOG_WARN(m_label << ": segment inconsistent with its stream's earlier ones: " << h);
        m_rxDropTrace(packet, RX_DROP_INCONSISTENT);
        return;
    }
    if (s.got[h.seq])
    {
        NS_LOG_WARN(m_label << ": duplicate segment: " << h);
        m_rxDropTrace(packet, RX_DROP_DUPLICATE);
        return;
    }
    packet->RemoveHeader(h);
    packet->CopyData(s.data.data() + h.offset, h.payloadLength);
    s.got[h.seq] = true;
    if (++s.segsReceived == s.nSeg)
    {
        s.crcOk = CRC32Calculate(s.data.data(), s.data.size()) == s.crc;
        NS_LOG_LOGIC(m_label << ": unit " << h.unit << " stream " << unsigned(h.stream)
                             << " complete, CRC " << (s.crcOk ? "ok" : "failed"));
        m_streamRxTrace(h.unit, h.stream, s.length, s.crcOk);
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
    NS_LOG_FUNCTION(this << unit);
    auto it = m_units.find(unit);
    if (it != m_units.end() && !it->second.ready)
    {
        NS_LOG_WARN(m_label << ": unit " << unit << " timed out incomplete");
        MarkReady(unit, false);
    }
}

void
SemanticApp::MarkReady(uint32_t unit, bool complete)
{
    NS_LOG_FUNCTION(this << unit << complete);
    UnitRx& u = m_units.at(unit);
    Simulator::Cancel(u.timeout);
    u.complete = complete;
    u.ready = true;
    u.readyAt = Simulator::Now();
    m_finishedUnits.insert(unit);
    uint64_t bytes = 0;
    bool allOk = true;
    for (const auto& [sid, s] : u.streams)
    {
        bytes += s.length;
        allOk = allOk && s.crcOk;
    }
    if (complete)
    {
        m_unitRxTrace(unit, bytes, allOk);
    }
    else
    {
        m_unitTimeoutTrace(unit, bytes);
    }
    if (m_handler)
    {
        m_handler(unit);
    }
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

Time
SemanticApp::GetUnitFirstRxTime(uint32_t unit) const
{
    auto it = m_units.find(unit);
    if (it == m_units.end())
    {
        throw std::invalid_argument(m_label + ": GetUnitFirstRxTime: unit " +
                                    std::to_string(unit) + " not received (or released)");
    }
    return it->second.firstRx;
}

Time
SemanticApp::GetUnitReadyTime(uint32_t unit) const
{
    auto it = m_units.find(unit);
    if (it == m_units.end() || !it->second.ready)
    {
        throw std::invalid_argument(m_label + ": GetUnitReadyTime: unit " + std::to_string(unit) +
                                    " not handed over (or released)");
    }
    return it->second.readyAt;
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
    NS_LOG_FUNCTION(this << unit);
    m_units.erase(unit);
}

} // namespace ns3
