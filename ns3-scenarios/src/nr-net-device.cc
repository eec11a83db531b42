#include "gensemcom/nr-net-device.h"

#include "gensemcom/nr-cell-channel.h"

#include "ns3/ipv4-header.h"
#include "ns3/ipv4-l3-protocol.h"
#include "ns3/log.h"
#include "ns3/node.h"
#include "ns3/packet.h"
#include "ns3/simulator.h"
#include "ns3/udp-header.h"
#include "ns3/udp-l4-protocol.h"
#include "ns3/uinteger.h"

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("NrNetDevice");
NS_OBJECT_ENSURE_REGISTERED(NrNetDevice);

TypeId
NrNetDevice::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::NrNetDevice")
            .SetParent<NetDevice>()
            .SetGroupName("Gensemcom")
            .AddConstructor<NrNetDevice>()
            .AddAttribute("Mtu",
                          "Largest IP packet (bytes).",
                          UintegerValue(1500),
                          MakeUintegerAccessor(&NrNetDevice::SetMtu, &NrNetDevice::GetMtu),
                          MakeUintegerChecker<uint16_t>())
            .AddTraceSource("Tx",
                            "A packet from the IP stack has been queued in RLC.",
                            MakeTraceSourceAccessor(&NrNetDevice::m_txTrace),
                            "ns3::Packet::TracedCallback")
            .AddTraceSource("Rx",
                            "A packet reassembled by RLC goes up to the IP stack.",
                            MakeTraceSourceAccessor(&NrNetDevice::m_rxTrace),
                            "ns3::Packet::TracedCallback")
            .AddTraceSource("Drop",
                            "A packet from the IP stack was refused (no cell, no UE with its "
                            "destination address, or RLC buffer full).",
                            MakeTraceSourceAccessor(&NrNetDevice::m_dropTrace),
                            "ns3::Packet::TracedCallback");
    return tid;
}

NrNetDevice::NrNetDevice()
    : m_address(Mac48Address::Allocate())
{
    NS_LOG_FUNCTION(this);
}

void
NrNetDevice::SetCell(Ptr<NrCellChannel> cell, bool isGnb, uint32_t ueIndex)
{
    NS_LOG_FUNCTION(this << cell << isGnb << ueIndex);
    m_cell = cell;
    m_isGnb = isGnb;
    m_ueIndex = ueIndex;
    m_linkChange();
}

bool
NrNetDevice::IsGnb() const
{
    return m_isGnb;
}

uint32_t
NrNetDevice::GetUeIndex() const
{
    return m_ueIndex;
}

uint32_t
NrNetDevice::Classify(Ptr<const Packet> packet, uint16_t protocol, uint32_t& destination)
{
    destination = 0;
    if (protocol != Ipv4L3Protocol::PROT_NUMBER || packet->GetSize() < 20)
    {
        return NrCellChannel::OTHER_STREAM;
    }
    Ptr<Packet> p = packet->Copy();
    Ipv4Header ip;
    p->RemoveHeader(ip);
    destination = ip.GetDestination().Get();
    const uint16_t ident = ip.GetIdentification();
    if (ip.GetFragmentOffset() > 0)
    {
        // Later fragments carry no UDP header: they follow their first fragment's stream.
        auto it = m_fragStream.find(ident);
        const uint32_t stream = it == m_fragStream.end() ? NrCellChannel::OTHER_STREAM : it->second;
        if (ip.IsLastFragment() && it != m_fragStream.end())
        {
            m_fragStream.erase(it);
        }
        return stream;
    }
    uint32_t stream = NrCellChannel::OTHER_STREAM;
    if (ip.GetProtocol() == UdpL4Protocol::PROT_NUMBER && p->GetSize() >= 8)
    {
        UdpHeader udp;
        p->RemoveHeader(udp);
        stream = m_cell->StreamOfPort(udp.GetDestinationPort());
    }
    if (!ip.IsLastFragment())
    {
        m_fragStream[ident] = stream;
    }
    return stream;
}

bool
NrNetDevice::Send(Ptr<Packet> packet, const Address& dest, uint16_t protocolNumber)
{
    NS_LOG_FUNCTION(this << packet << dest << protocolNumber);
    if (!m_cell)
    {
        m_dropTrace(packet);
        return false;
    }
    uint32_t destination = 0;
    const uint32_t stream = Classify(packet, protocolNumber, destination);
    uint32_t ue = m_ueIndex;
    if (m_isGnb)
    {
        const int32_t found = m_cell->FindUe(destination);
        if (found < 0)
        {
            NS_LOG_WARN("gNB: no UE has address " << Ipv4Address(destination)
                                                  << ": packet dropped");
            m_dropTrace(packet);
            return false;
        }
        ue = uint32_t(found);
    }
    if (!m_cell->Enqueue(ue, m_isGnb, stream, packet, protocolNumber))
    {
        m_dropTrace(packet);
        return false;
    }
    m_txTrace(packet);
    return true;
}

void
NrNetDevice::Receive(Ptr<Packet> packet, uint16_t protocol, Address from)
{
    NS_LOG_FUNCTION(this << packet << protocol << from);
    m_rxTrace(packet);
    if (!m_promiscCallback.IsNull())
    {
        m_promiscCallback(this, packet, protocol, from, GetAddress(), PACKET_HOST);
    }
    if (!m_rxCallback.IsNull())
    {
        m_rxCallback(this, packet, protocol, from);
    }
}

void
NrNetDevice::DoDispose()
{
    NS_LOG_FUNCTION(this);
    m_cell = nullptr;
    m_node = nullptr;
    m_rxCallback = ReceiveCallback();
    m_promiscCallback = PromiscReceiveCallback();
    NetDevice::DoDispose();
}

// NetDevice boilerplate: no ARP; the cell routes by IPv4 destination.

void
NrNetDevice::SetIfIndex(const uint32_t index)
{
    m_ifIndex = index;
}

uint32_t
NrNetDevice::GetIfIndex() const
{
    return m_ifIndex;
}

Ptr<Channel>
NrNetDevice::GetChannel() const
{
    return m_cell;
}

void
NrNetDevice::SetAddress(Address address)
{
    m_address = Mac48Address::ConvertFrom(address);
}

Address
NrNetDevice::GetAddress() const
{
    return m_address;
}

bool
NrNetDevice::SetMtu(const uint16_t mtu)
{
    m_mtu = mtu;
    return true;
}

uint16_t
NrNetDevice::GetMtu() const
{
    return m_mtu;
}

bool
NrNetDevice::IsLinkUp() const
{
    return m_cell != nullptr;
}

void
NrNetDevice::AddLinkChangeCallback(Callback<void> callback)
{
    m_linkChange.ConnectWithoutContext(callback);
}

bool
NrNetDevice::IsBroadcast() const
{
    return true;
}

Address
NrNetDevice::GetBroadcast() const
{
    return Mac48Address::GetBroadcast();
}

bool
NrNetDevice::IsMulticast() const
{
    return false;
}

Address
NrNetDevice::GetMulticast(Ipv4Address multicastGroup) const
{
    return Mac48Address::GetMulticast(multicastGroup);
}

Address
NrNetDevice::GetMulticast(Ipv6Address addr) const
{
    return Mac48Address::GetMulticast(addr);
}

bool
NrNetDevice::IsBridge() const
{
    return false;
}

bool
NrNetDevice::IsPointToPoint() const
{
    return false;
}

bool
NrNetDevice::SendFrom(Ptr<Packet> packet,
                      const Address& source,
                      const Address& dest,
                      uint16_t protocolNumber)
{
    return false;
}

Ptr<Node>
NrNetDevice::GetNode() const
{
    return m_node;
}

void
NrNetDevice::SetNode(Ptr<Node> node)
{
    m_node = node;
}

bool
NrNetDevice::NeedsArp() const
{
    return false;
}

void
NrNetDevice::SetReceiveCallback(NetDevice::ReceiveCallback cb)
{
    m_rxCallback = cb;
}

void
NrNetDevice::SetPromiscReceiveCallback(PromiscReceiveCallback cb)
{
    m_promiscCallback = cb;
}

bool
NrNetDevice::SupportsSendFrom() const
{
    return false;
}

} // namespace ns3
