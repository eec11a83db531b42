// 5G NR devices (issue 14, step 2b): the gNB and the UEs of one NrCellChannel. IPv4 packets in
// and out, as SemanticLinkNetDevice: a UE sends everything up to its gNB (UL), the gNB sends a
// packet to the UE that owns its destination address (DL). MAC, HARQ and RLC live in the cell
// (nr-cell-channel.h), which owns the slot clock.
#ifndef GENSEMCOM_NR_NET_DEVICE_H
#define GENSEMCOM_NR_NET_DEVICE_H

#include "ns3/mac48-address.h"
#include "ns3/net-device.h"
#include "ns3/traced-callback.h"

#include <cstdint>
#include <map>
#include <string>

namespace ns3
{

class NrCellChannel;

/**
 * A gNB or UE NetDevice. No link header: the protocol number travels with the packet. Send
 * classifies a packet into an RLC stream by its UDP destination port (StreamPortBase + i:
 * stream i; later IP fragments follow their first fragment) and hands it to the cell, which
 * queues it in the RLC entity of (UE, direction, stream). Packets the cell reassembles come
 * up through the receive callback with the peer device's address as the source.
 */
class NrNetDevice : public NetDevice
{
  public:
    static TypeId GetTypeId();
    NrNetDevice();

    /// Called by NrCellChannel::AttachGnb / AttachUe.
    void SetCell(Ptr<NrCellChannel> cell, bool isGnb, uint32_t ueIndex);
    bool IsGnb() const;
    /// Index of the UE in its cell (RNTI - 1); 0 for the gNB.
    uint32_t GetUeIndex() const;
    /// A packet the cell reassembled for this device.
    void Receive(Ptr<Packet> packet, uint16_t protocol, Address from);

    // NetDevice
    void SetIfIndex(const uint32_t index) override;
    uint32_t GetIfIndex() const override;
    Ptr<Channel> GetChannel() const override;
    void SetAddress(Address address) override;
    Address GetAddress() const override;
    bool SetMtu(const uint16_t mtu) override;
    uint16_t GetMtu() const override;
    bool IsLinkUp() const override;
    void AddLinkChangeCallback(Callback<void> callback) override;
    bool IsBroadcast() const override;
    Address GetBroadcast() const override;
    bool IsMulticast() const override;
    Address GetMulticast(Ipv4Address multicastGroup) const override;
    Address GetMulticast(Ipv6Address addr) const override;
    bool IsBridge() const override;
    bool IsPointToPoint() const override;
    bool Send(Ptr<Packet> packet, const Address& dest, uint16_t protocolNumber) override;
    bool SendFrom(Ptr<Packet> packet,
                  const Address& source,
                  const Address& dest,
                  uint16_t protocolNumber) override;
    Ptr<Node> GetNode() const override;
    void SetNode(Ptr<Node> node) override;
    bool NeedsArp() const override;
    void SetReceiveCallback(NetDevice::ReceiveCallback cb) override;
    void SetPromiscReceiveCallback(PromiscReceiveCallback cb) override;
    bool SupportsSendFrom() const override;

  private:
    void DoDispose() override;
    /// RLC stream of an IPv4 packet, and its destination address.
    uint32_t Classify(Ptr<const Packet> packet, uint16_t protocol, uint32_t& destination);

    Ptr<Node> m_node;
    Ptr<NrCellChannel> m_cell;
    bool m_isGnb{false};
    uint32_t m_ueIndex{0};
    Mac48Address m_address;
    uint32_t m_ifIndex{0};
    uint16_t m_mtu{1500};
    NetDevice::ReceiveCallback m_rxCallback;
    NetDevice::PromiscReceiveCallback m_promiscCallback;
    TracedCallback<> m_linkChange;
    std::map<uint16_t, uint32_t> m_fragStream; ///< IPv4 id -> stream of later fragments
    TracedCallback<Ptr<const Packet>> m_txTrace;
    TracedCallback<Ptr<const Packet>> m_rxTrace;
    TracedCallback<Ptr<const Packet>> m_dropTrace;
};

} // namespace ns3

#endif
