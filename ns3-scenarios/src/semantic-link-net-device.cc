#include "gensemcom/semantic-link-net-device.h"

#include "gensemcom/bit-flip-error-model.h"
#include "gensemcom/semantic-header.h"

#include "ns3/double.h"
#include "ns3/enum.h"
#include "ns3/ipv4-header.h"
#include "ns3/ipv4-l3-protocol.h"
#include "ns3/log.h"
#include "ns3/node.h"
#include "ns3/packet.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/udp-header.h"
#include "ns3/udp-l4-protocol.h"
#include "ns3/uinteger.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("SemanticLinkNetDevice");
NS_OBJECT_ENSURE_REGISTERED(SemanticLinkNetDevice);

namespace
{
// Table II's modulation orders for the conditioning streams, largest first.
constexpr uint32_t kQamOrders[] = {64, 16, 4};
} // namespace

TypeId
SemanticLinkNetDevice::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::SemanticLinkNetDevice")
            .SetParent<NetDevice>()
            .SetGroupName("Gensemcom")
            .AddConstructor<SemanticLinkNetDevice>()
            .AddAttribute("Mtu",
                          "Largest IP packet (bytes).",
                          UintegerValue(1500),
                          MakeUintegerAccessor(&SemanticLinkNetDevice::SetMtu,
                                               &SemanticLinkNetDevice::GetMtu),
                          MakeUintegerChecker<uint16_t>())
            .AddAttribute("Label",
                          "Node name used in log messages.",
                          StringValue("link"),
                          MakeStringAccessor(&SemanticLinkNetDevice::m_label),
                          MakeStringChecker())
            .AddAttribute("StreamPortBase",
                          "UDP destination port of stream 0 (SemanticApp's ListenPort).",
                          UintegerValue(9000),
                          MakeUintegerAccessor(&SemanticLinkNetDevice::m_portBase),
                          MakeUintegerChecker<uint32_t>(0, 65535))
            .AddAttribute("CodeRate",
                          "Channel code rate r of ARQ streams.",
                          DoubleValue(0.5),
                          MakeDoubleAccessor(&SemanticLinkNetDevice::m_codeRate),
                          MakeDoubleChecker<double>(1e-6, 1.0))
            .AddAttribute("PromptQam",
                          "Modulation order M0 of ARQ streams.",
                          UintegerValue(4),
                          MakeUintegerAccessor(&SemanticLinkNetDevice::m_promptQam),
                          MakeUintegerChecker<uint32_t>(2))
            .AddAttribute("PerK",
                          "k of Eq. (2).",
                          DoubleValue(0.374),
                          MakeDoubleAccessor(&SemanticLinkNetDevice::m_perK),
                          MakeDoubleChecker<double>())
            .AddAttribute("PerB",
                          "b of Eq. (2).",
                          DoubleValue(-0.31),
                          MakeDoubleAccessor(&SemanticLinkNetDevice::m_perB),
                          MakeDoubleChecker<double>())
            .AddAttribute("PerPacketBits",
                          "Packet length L of Eq. (2); 0: the attempt's counted bits.",
                          UintegerValue(0),
                          MakeUintegerAccessor(&SemanticLinkNetDevice::m_perBits),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("Alpha",
                          "alpha of Eq. (4).",
                          DoubleValue(1.5),
                          MakeDoubleAccessor(&SemanticLinkNetDevice::m_alpha),
                          MakeDoubleChecker<double>(0.0))
            .AddAttribute("Beta",
                          "beta of Eq. (4).",
                          DoubleValue(5.0),
                          MakeDoubleAccessor(&SemanticLinkNetDevice::m_beta),
                          MakeDoubleChecker<double>(0.0))
            .AddAttribute("MaxAttempts",
                          "ARQ attempts per packet before it is dropped.",
                          UintegerValue(1000),
                          MakeUintegerAccessor(&SemanticLinkNetDevice::m_maxAttempts),
                          MakeUintegerChecker<uint32_t>(1))
            .AddAttribute("ProtectedBytes",
                          "Leading bytes never flipped: IPv4 20 + UDP 8 + semantic header 28, "
                          "headers assumed protected separately.",
                          UintegerValue(56),
                          MakeUintegerAccessor(&SemanticLinkNetDevice::SetProtectedBytes,
                                               &SemanticLinkNetDevice::GetProtectedBytes),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("UncountedBytes",
                          "Leading bytes that take no air time and are not in L (e.g. equal "
                          "to ProtectedBytes to send only the payload |v|, as the paper "
                          "counts); 0: the whole IP packet is sent.",
                          UintegerValue(0),
                          MakeUintegerAccessor(&SemanticLinkNetDevice::m_uncountedBytes),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("OutageWait",
                          "After an M-QAM outage, wait this long and draw a new block.",
                          TimeValue(MilliSeconds(1)),
                          MakeTimeAccessor(&SemanticLinkNetDevice::m_outageWait),
                          MakeTimeChecker(NanoSeconds(1)))
            .AddAttribute("CoherenceTime",
                          "M-QAM/rate fading block length; 0: one block per burst.",
                          TimeValue(Seconds(0)),
                          MakeTimeAccessor(&SemanticLinkNetDevice::m_coherence),
                          MakeTimeChecker(Seconds(0)))
            .AddTraceSource("Tx",
                            "A transmission attempt starts (the first one or a retransmission).",
                            MakeTraceSourceAccessor(&SemanticLinkNetDevice::m_txTrace),
                            "ns3::SemanticLinkNetDevice::TxTracedCallback")
            .AddTraceSource("Rx",
                            "A packet has been received from the peer device.",
                            MakeTraceSourceAccessor(&SemanticLinkNetDevice::m_rxTrace),
                            "ns3::SemanticLinkNetDevice::PacketTracedCallback")
            .AddTraceSource("Drop",
                            "A packet has been dropped: no stream for it, or MaxAttempts failed.",
                            MakeTraceSourceAccessor(&SemanticLinkNetDevice::m_dropTrace),
                            "ns3::SemanticLinkNetDevice::PacketTracedCallback")
            .AddTraceSource("Outage",
                            "No M-QAM order meets the target BER in this fading block: the "
                            "packet waits OutageWait for another block.",
                            MakeTraceSourceAccessor(&SemanticLinkNetDevice::m_outageTrace),
                            "ns3::SemanticLinkNetDevice::PacketTracedCallback");
    return tid;
}

SemanticLinkNetDevice::SemanticLinkNetDevice()
    : m_address(Mac48Address::Allocate()),
      m_fadingRng(CreateObject<ExponentialRandomVariable>()), // mean 1, unbounded
      m_arqRng(CreateObject<UniformRandomVariable>()),
      m_flipper(CreateObject<BitFlipErrorModel>())
{
    NS_LOG_FUNCTION(this);
}

void
SemanticLinkNetDevice::Attach(Ptr<SemanticLinkChannel> channel)
{
    NS_LOG_FUNCTION(this << channel);
    m_channel = channel;
    channel->Attach(this);
    m_linkChange();
}

void
SemanticLinkNetDevice::SetStream(uint32_t stream,
                                 double bandwidthHz,
                                 double powerW,
                                 const std::string& mode,
                                 double targetBer)
{
    NS_LOG_FUNCTION(this << stream << bandwidthHz << powerW << mode << targetBer);
    if (!(bandwidthHz > 0.0) || !(powerW >= 0.0))
    {
        throw std::invalid_argument("SetStream: bandwidth must be > 0 and power >= 0");
    }
    Mode m;
    if (mode == "arq")
    {
        m = Mode::ARQ;
    }
    else if (mode == "mqam")
    {
        m = Mode::MQAM;
    }
    else if (mode == "rate")
    {
        m = Mode::RATE;
    }
    else
    {
        throw std::invalid_argument("SetStream: mode must be arq, mqam or rate, not " + mode);
    }
    if (m != Mode::ARQ && !(targetBer > 0.0 && m_beta * targetBer < 1.0))
    {
        throw std::invalid_argument("SetStream: need 0 < beta * targetBer < 1");
    }
    Stream& s = m_streams[stream];
    s.bandwidth = bandwidthHz;
    s.power = powerW;
    s.mode = m;
    s.targetBer = targetBer;
    m_stats[stream]; // listed from now on
}

void
SemanticLinkNetDevice::SetStreamPower(uint32_t stream, double powerW)
{
    NS_LOG_FUNCTION(this << stream << powerW);
    auto it = m_streams.find(stream);
    if (it == m_streams.end() || !(powerW >= 0.0))
    {
        throw std::invalid_argument("SetStreamPower: unknown stream or negative power");
    }
    it->second.power = powerW;
}

std::vector<uint32_t>
SemanticLinkNetDevice::GetStreamIds() const
{
    std::vector<uint32_t> ids;
    for (const auto& [id, st] : m_stats)
    {
        ids.push_back(id);
    }
    return ids;
}

SemanticLinkStreamStats
SemanticLinkNetDevice::GetStreamStats(uint32_t stream) const
{
    auto it = m_stats.find(stream);
    return it == m_stats.end() ? SemanticLinkStreamStats{} : it->second;
}

void
SemanticLinkNetDevice::SetProtectedBytes(uint32_t bytes)
{
    m_protectedBytes = bytes;
    m_flipper->SetAttribute("ProtectedBytes", UintegerValue(bytes));
}

uint32_t
SemanticLinkNetDevice::GetProtectedBytes() const
{
    return m_protectedBytes;
}

int64_t
SemanticLinkNetDevice::AssignStreams(int64_t stream)
{
    NS_LOG_FUNCTION(this << stream);
    m_fadingRng->SetStream(stream);
    m_arqRng->SetStream(stream + 1);
    m_flipper->AssignStreams(stream + 2);
    return 3;
}

uint32_t
SemanticLinkNetDevice::Classify(Ptr<const Packet> packet, Item& item)
{
    if (item.protocol != Ipv4L3Protocol::PROT_NUMBER || packet->GetSize() < 20)
    {
        return 0;
    }
    Ptr<Packet> p = packet->Copy();
    Ipv4Header ip;
    p->RemoveHeader(ip);
    const uint16_t ident = ip.GetIdentification();
    if (ip.GetFragmentOffset() > 0)
    {
        // Later fragments carry no UDP header: they follow their first fragment's stream.
        auto it = m_fragStream.find(ident);
        const uint32_t stream = it == m_fragStream.end() ? 0 : it->second;
        if (ip.IsLastFragment() && it != m_fragStream.end())
        {
            m_fragStream.erase(it);
        }
        return stream;
    }
    uint32_t stream = 0;
    if (ip.GetProtocol() == UdpL4Protocol::PROT_NUMBER && p->GetSize() >= 8)
    {
        UdpHeader udp;
        p->RemoveHeader(udp);
        const uint32_t port = udp.GetDestinationPort();
        if (port >= m_portBase && m_streams.count(port - m_portBase))
        {
            stream = port - m_portBase;
        }
        SemanticHeader h;
        if (p->GetSize() >= SemanticHeader::kSize)
        {
            p->PeekHeader(h);
            if (h.IsValid())
            {
                item.info.unit = h.unit;
                item.info.seq = h.seq;
            }
        }
    }
    if (!ip.IsLastFragment())
    {
        m_fragStream[ident] = stream;
    }
    return stream;
}

bool
SemanticLinkNetDevice::Send(Ptr<Packet> packet, const Address& dest, uint16_t protocolNumber)
{
    NS_LOG_FUNCTION(this << packet << dest << protocolNumber);
    Item item;
    item.packet = packet;
    item.protocol = protocolNumber;
    item.info.stream = Classify(packet, item);
    SemanticLinkStreamStats& st = m_stats[item.info.stream];
    auto it = m_streams.find(item.info.stream);
    if (!m_channel || it == m_streams.end())
    {
        // Nothing configured for it: visible in counters and traces.
        NS_LOG_WARN(m_label << ": no channel or no stream " << item.info.stream
                            << " configured: packet dropped");
        ++st.dropped;
        m_dropTrace(item.packet, item.info);
        return false;
    }
    ++st.enqueued;
    Stream& s = it->second;
    if (!s.busy && m_coherence.IsZero())
    {
        s.newBlock = true; // a burst starts on an idle sub-channel: a new fading block
    }
    s.queue.push_back(item);
    if (!s.busy)
    {
        StartNext(item.info.stream);
    }
    return true;
}

double
SemanticLinkNetDevice::DrawSnr(Stream& s, SemanticLinkStreamStats& st)
{
    s.gain = m_channel->IsFading() ? m_fadingRng->GetValue() : 1.0;
    const double gamma = m_channel->GetMeanSnr(s.power, s.bandwidth) * s.gain;
    ++st.draws;
    st.snrSum += gamma;
    return gamma;
}

void
SemanticLinkNetDevice::StartNext(uint32_t id)
{
    NS_LOG_FUNCTION(this << id);
    Stream& s = m_streams.at(id);
    SemanticLinkStreamStats& st = m_stats[id];
    if (s.queue.empty())
    {
        s.busy = false;
        return;
    }
    s.busy = true;
    Item& item = s.queue.front();
    const uint32_t size = item.packet->GetSize();
    const double bits = 8.0 * (size > m_uncountedBytes ? size - m_uncountedBytes : 0);
    double bitsPerSymbol = 0.0;
    bool ok = true;
    if (s.mode == Mode::ARQ)
    {
        // Eq. (2) in the log domain: 1 - PER = exp(-(k ln L + b) / gamma), at most 1.
        const double gamma = DrawSnr(s, st);
        const double len = m_perBits > 0 ? m_perBits : std::max(bits, 1.0);
        const double success =
            gamma > 0.0 ? std::exp(std::min(0.0, -(m_perK * std::log(len) + m_perB) / gamma))
                        : 0.0;
        ok = m_arqRng->GetValue() < success;
        st.failures += ok ? 0 : 1;
        bitsPerSymbol = m_codeRate * std::log2(double(m_promptQam));
        item.info.mcs = int32_t(m_promptQam);
    }
    else
    {
        if (s.newBlock || (!m_coherence.IsZero() && Simulator::Now() >= s.blockStart + m_coherence))
        {
            DrawSnr(s, st);
            s.newBlock = false;
            s.blockStart = Simulator::Now();
        }
        // Power may change within a block (SetStreamPower); the fading draw is kept.
        const double gamma = m_channel->GetMeanSnr(s.power, s.bandwidth) * s.gain;
        const double gap = -std::log(m_beta * s.targetBer) / m_alpha; // K of Eq. (4)
        double ber = s.targetBer;
        if (s.mode == Mode::MQAM)
        {
            uint32_t order = 0;
            for (uint32_t m : kQamOrders)
            {
                if ((m - 1) * gap <= gamma)
                {
                    order = m;
                    break;
                }
            }
            item.info.mcs = int32_t(order);
            if (order > 0)
            {
                bitsPerSymbol = std::log2(double(order));
                // Goldsmith's M-QAM BER bound, the relation Eq. (4) inverts.
                ber = std::min(0.5, std::exp(-m_alpha * gamma / (order - 1)) / m_beta);
            }
        }
        else
        {
            bitsPerSymbol = std::log2(1.0 + gamma / gap);
        }
        if (!(bitsPerSymbol > 0.0))
        {
            // No order meets the target BER in this block: wait for another one.
            NS_LOG_LOGIC(m_label << ": stream " << id << " in outage (gamma " << gamma
                                 << "), next block in " << m_outageWait.As(Time::S));
            ++st.outages;
            m_outageTrace(item.packet, item.info);
            s.newBlock = true;
            s.event =
                Simulator::Schedule(m_outageWait, &SemanticLinkNetDevice::StartNext, this, id);
            return;
        }
        // Bits arrive with errors: flip a copy (the stack may still reference the original).
        Ptr<Packet> copy = item.packet->Copy();
        m_flipper->SetBitErrorRate(ber);
        const uint64_t seen0 = m_flipper->GetBitsSeen();
        const uint64_t flipped0 = m_flipper->GetBitsFlipped();
        m_flipper->IsCorrupt(copy); // never reports corruption: delivered with errors
        const uint64_t seen = m_flipper->GetBitsSeen() - seen0;
        item.info.bitFlips = m_flipper->GetBitsFlipped() - flipped0;
        item.packet = copy;
        st.bitsSeen += seen;
        st.bitsFlipped += item.info.bitFlips;
        st.expectedFlips += ber * double(seen);
        ok = item.info.bitFlips == 0;
    }
    const double duration = bits / (bitsPerSymbol * s.bandwidth);
    ++item.info.attempts;
    ++st.attempts;
    st.airtimeS += duration;
    NS_LOG_LOGIC(m_label << ": stream " << id << " attempt " << item.info.attempts << " of "
                         << item.packet->GetSize() << " bytes, " << duration << " s on air, "
                         << (ok ? "success" : "failure"));
    m_txTrace(item.packet, item.info, ok);
    s.event = Simulator::Schedule(Seconds(duration),
                                  &SemanticLinkNetDevice::EndAttempt,
                                  this,
                                  id,
                                  ok || s.mode != Mode::ARQ);
}

void
SemanticLinkNetDevice::EndAttempt(uint32_t id, bool delivered)
{
    NS_LOG_FUNCTION(this << id << delivered);
    Stream& s = m_streams.at(id);
    SemanticLinkStreamStats& st = m_stats[id];
    const Item item = s.queue.front();
    if (delivered)
    {
        s.queue.pop_front();
        ++st.delivered;
        if (Ptr<SemanticLinkNetDevice> peer = m_channel->GetPeer(this))
        {
            Simulator::ScheduleWithContext(peer->GetNode()->GetId(),
                                           m_channel->GetDelay(),
                                           &SemanticLinkNetDevice::Receive,
                                           peer,
                                           item,
                                           Address(m_address));
        }
    }
    else if (item.info.attempts >= m_maxAttempts)
    {
        NS_LOG_WARN(m_label << ": stream " << id << ": packet dropped after " << m_maxAttempts
                            << " failed attempts");
        s.queue.pop_front();
        ++st.dropped;
        m_dropTrace(item.packet, item.info);
    }
    // else: NACK, the same packet goes again at once (ideal feedback).
    StartNext(id);
}

void
SemanticLinkNetDevice::Receive(Item item, Address from)
{
    NS_LOG_FUNCTION(this << item.packet << from);
    ++m_stats[item.info.stream].received;
    m_rxTrace(item.packet, item.info);
    if (!m_promiscCallback.IsNull())
    {
        m_promiscCallback(this, item.packet, item.protocol, from, GetAddress(), PACKET_HOST);
    }
    if (!m_rxCallback.IsNull())
    {
        m_rxCallback(this, item.packet, item.protocol, from);
    }
}

void
SemanticLinkNetDevice::DoDispose()
{
    NS_LOG_FUNCTION(this);
    for (auto& [id, s] : m_streams)
    {
        Simulator::Cancel(s.event);
        s.queue.clear();
    }
    m_channel = nullptr;
    m_node = nullptr;
    m_rxCallback = ReceiveCallback();
    m_promiscCallback = PromiscReceiveCallback();
    m_flipper = nullptr;
    NetDevice::DoDispose();
}

// Point-to-point boilerplate (as PointToPointNetDevice: no ARP, everything to the peer).

void
SemanticLinkNetDevice::SetIfIndex(const uint32_t index)
{
    m_ifIndex = index;
}

uint32_t
SemanticLinkNetDevice::GetIfIndex() const
{
    return m_ifIndex;
}

Ptr<Channel>
SemanticLinkNetDevice::GetChannel() const
{
    return m_channel;
}

void
SemanticLinkNetDevice::SetAddress(Address address)
{
    m_address = Mac48Address::ConvertFrom(address);
}

Address
SemanticLinkNetDevice::GetAddress() const
{
    return m_address;
}

bool
SemanticLinkNetDevice::SetMtu(const uint16_t mtu)
{
    m_mtu = mtu;
    return true;
}

uint16_t
SemanticLinkNetDevice::GetMtu() const
{
    return m_mtu;
}

bool
SemanticLinkNetDevice::IsLinkUp() const
{
    return m_channel != nullptr;
}

void
SemanticLinkNetDevice::AddLinkChangeCallback(Callback<void> callback)
{
    m_linkChange.ConnectWithoutContext(callback);
}

bool
SemanticLinkNetDevice::IsBroadcast() const
{
    return true;
}

Address
SemanticLinkNetDevice::GetBroadcast() const
{
    return Mac48Address::GetBroadcast();
}

bool
SemanticLinkNetDevice::IsMulticast() const
{
    return true;
}

Address
SemanticLinkNetDevice::GetMulticast(Ipv4Address multicastGroup) const
{
    return Mac48Address::GetMulticast(multicastGroup);
}

Address
SemanticLinkNetDevice::GetMulticast(Ipv6Address addr) const
{
    return Mac48Address::GetMulticast(addr);
}

bool
SemanticLinkNetDevice::IsBridge() const
{
    return false;
}

bool
SemanticLinkNetDevice::IsPointToPoint() const
{
    return true;
}

bool
SemanticLinkNetDevice::SendFrom(Ptr<Packet> packet,
                                const Address& source,
                                const Address& dest,
                                uint16_t protocolNumber)
{
    return false;
}

Ptr<Node>
SemanticLinkNetDevice::GetNode() const
{
    return m_node;
}

void
SemanticLinkNetDevice::SetNode(Ptr<Node> node)
{
    m_node = node;
}

bool
SemanticLinkNetDevice::NeedsArp() const
{
    return false;
}

void
SemanticLinkNetDevice::SetReceiveCallback(NetDevice::ReceiveCallback cb)
{
    m_rxCallback = cb;
}

void
SemanticLinkNetDevice::SetPromiscReceiveCallback(PromiscReceiveCallback cb)
{
    m_promiscCallback = cb;
}

bool
SemanticLinkNetDevice::SupportsSendFrom() const
{
    return false;
}

} // namespace ns3
