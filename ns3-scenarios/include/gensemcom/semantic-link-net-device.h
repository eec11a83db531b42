// The "semantic link" of latency-aware-generative-semcom.md (Sec. II-B, Table I) as an ns-3
// point-to-point NetDevice/Channel pair: every semantic stream has its own orthogonal
// sub-channel (bandwidth B_i, power p_i) with block Rayleigh fading (Eq. 1). The prompt is
// sent with ideal ARQ at the PER of Eq. 2; conditioning streams use adaptive M-QAM (the
// threshold form of Eq. 4) and are delivered with bit errors at the instantaneous BER.
// This is the device; the channel is in semantic-link-channel.h.
#ifndef GENSEMCOM_SEMANTIC_LINK_NET_DEVICE_H
#define GENSEMCOM_SEMANTIC_LINK_NET_DEVICE_H

#include "gensemcom/semantic-link-channel.h"

#include "ns3/event-id.h"
#include "ns3/mac48-address.h"
#include "ns3/net-device.h"
#include "ns3/nstime.h"
#include "ns3/random-variable-stream.h"
#include "ns3/traced-callback.h"

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

namespace ns3
{

class BitFlipErrorModel;

/// Per-stream counters of one device (tx side unless noted), readable from Python.
struct SemanticLinkStreamStats
{
    uint64_t enqueued{0};    ///< packets accepted from the IP stack
    uint64_t delivered{0};   ///< packets handed to the channel after their last attempt
    uint64_t dropped{0};     ///< MaxAttempts exhausted, or no stream configured
    uint64_t attempts{0};    ///< transmissions (ARQ: including retransmissions)
    uint64_t failures{0};    ///< failed ARQ attempts
    uint64_t outages{0};     ///< M-QAM blocks with no order meeting the target BER
    uint64_t draws{0};       ///< channel realisations drawn
    uint64_t bitsSeen{0};    ///< unprotected bits sent over M-QAM / rate streams
    uint64_t bitsFlipped{0}; ///< of which delivered in error
    uint64_t received{0};    ///< rx side: packets of this stream received from the peer
    double snrSum{0.0};      ///< sum of gamma over the draws (linear)
    double expectedFlips{0}; ///< sum of BER * bits over packets (the realised-BER reference)
    double airtimeS{0.0};    ///< seconds on air, all attempts
};

/// What the trace sources of a SemanticLinkNetDevice report about a packet besides the packet.
struct SemanticLinkPacketInfo
{
    uint32_t stream{0};   ///< sub-channel
    int64_t unit{-1};     ///< unit of its SemanticHeader (-1: none, e.g. a later IP fragment)
    int32_t seq{-1};      ///< segment number of its SemanticHeader (-1: none)
    uint32_t attempts{0}; ///< transmissions so far (ARQ: retransmissions included)
    int32_t mcs{-1};      ///< modulation order: PromptQam (arq), M (mqam; 0: outage), -1 (rate)
    uint64_t bitFlips{0}; ///< bits flipped on the last transmission
};

/**
 * IPv4 packets in, IPv4 packets out (no link header: the protocol number travels with the
 * packet, as in SimpleChannel). A packet's stream is its UDP destination port minus
 * StreamPortBase when that stream is configured, else stream 0. Streams transmit in parallel,
 * each FIFO on its own sub-channel.
 *  - "arq": coded at CodeRate with PromptQam; one attempt takes 8 S / (r log2(M0) B) s and
 *    succeeds with 1 - PER(gamma) (Eq. 2, fresh |h|^2 per attempt); ideal instantaneous
 *    ACK/NACK; only the successful attempt is delivered, intact.
 *  - "mqam": the largest M in {64, 16, 4} with (M-1) K <= gamma, K = -ln(beta BER_t)/alpha;
 *    8 S / (log2(M) B) s per packet; bits flipped at BER = exp(-alpha gamma/(M-1))/beta.
 *    No M: outage, retry with a new draw after OutageWait.
 *  - "rate": continuous log2(1 + gamma/K) bit/symbol (Eq. 4), bits flipped at BER_t.
 * Fading block of "mqam"/"rate": with CoherenceTime 0 (default) one draw per burst (a packet
 * that finds the stream idle starts a block); else a new draw once CoherenceTime has passed.
 */
class SemanticLinkNetDevice : public NetDevice
{
  public:
    /**
     * TracedCallback signature of Tx.
     * @param [in] packet The packet as transmitted (bit errors included).
     * @param [in] info Its stream, unit, segment, attempt count and modulation.
     * @param [in] success Whether this attempt delivers it intact (ARQ: the PER draw; M-QAM and
     *             rate: no bit flipped).
     */
    typedef void (*TxTracedCallback)(Ptr<const Packet> packet,
                                     const SemanticLinkPacketInfo& info,
                                     bool success);

    /**
     * TracedCallback signature of Rx, Drop and Outage.
     * @param [in] packet The packet.
     * @param [in] info Its stream, unit, segment, attempt count, modulation and bit flips.
     */
    typedef void (*PacketTracedCallback)(Ptr<const Packet> packet,
                                         const SemanticLinkPacketInfo& info);

    static TypeId GetTypeId();
    SemanticLinkNetDevice();

    void Attach(Ptr<SemanticLinkChannel> channel);
    /// Configure (or reconfigure, keeping queue and counters) stream `stream`.
    /// mode: "arq", "mqam" or "rate"; targetBer is used by "mqam" and "rate".
    /// Bad settings: std::invalid_argument.
    void SetStream(uint32_t stream,
                   double bandwidthHz,
                   double powerW,
                   const std::string& mode,
                   double targetBer);
    void SetStreamPower(uint32_t stream, double powerW);
    std::vector<uint32_t> GetStreamIds() const; ///< streams with counters
    SemanticLinkStreamStats GetStreamStats(uint32_t stream) const;
    /// Fixes the fading, ARQ and bit-flip random streams; returns 3.
    int64_t AssignStreams(int64_t stream);

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
    enum class Mode
    {
        ARQ,
        MQAM,
        RATE
    };

    /// A packet in a stream queue, with what the traces report about it.
    struct Item
    {
        Ptr<Packet> packet;
        uint16_t protocol{0};
        SemanticLinkPacketInfo info;
    };

    struct Stream
    {
        double bandwidth{1e6};
        double power{5e-3};
        Mode mode{Mode::ARQ};
        double targetBer{1e-4};
        std::deque<Item> queue;
        bool busy{false};     ///< an attempt on air or an outage wait pending
        bool newBlock{true};  ///< draw |h|^2 before the next transmission
        double gain{1.0};     ///< |h|^2 of the current block
        Time blockStart;
        EventId event;
    };

    void DoDispose() override;
    void SetProtectedBytes(uint32_t bytes);
    uint32_t GetProtectedBytes() const;
    uint32_t Classify(Ptr<const Packet> packet, Item& item);
    double DrawSnr(Stream& s, SemanticLinkStreamStats& st);
    void StartNext(uint32_t id);
    void EndAttempt(uint32_t id, bool ok);
    void Receive(Item item, Address from);

    Ptr<Node> m_node;
    Ptr<SemanticLinkChannel> m_channel;
    Mac48Address m_address;
    uint32_t m_ifIndex{0};
    uint16_t m_mtu{1500};
    NetDevice::ReceiveCallback m_rxCallback;
    NetDevice::PromiscReceiveCallback m_promiscCallback;
    TracedCallback<> m_linkChange;

    std::string m_label;
    uint32_t m_portBase{9000};
    double m_codeRate{0.5};
    uint32_t m_promptQam{4};
    double m_perK{0.374};
    double m_perB{-0.31};
    uint32_t m_perBits{0};
    double m_alpha{1.5};
    double m_beta{5.0};
    uint32_t m_maxAttempts{1000};
    uint32_t m_protectedBytes{56};
    uint32_t m_uncountedBytes{0};
    Time m_outageWait;
    Time m_coherence;

    std::map<uint32_t, Stream> m_streams;
    std::map<uint32_t, SemanticLinkStreamStats> m_stats;
    Ptr<ExponentialRandomVariable> m_fadingRng;
    Ptr<UniformRandomVariable> m_arqRng;
    Ptr<BitFlipErrorModel> m_flipper;
    std::map<uint16_t, uint32_t> m_fragStream; ///< IPv4 id -> stream of later fragments

    TracedCallback<Ptr<const Packet>, const SemanticLinkPacketInfo&, bool> m_txTrace;
    TracedCallback<Ptr<const Packet>, const SemanticLinkPacketInfo&> m_rxTrace;
    TracedCallback<Ptr<const Packet>, const SemanticLinkPacketInfo&> m_dropTrace;
    TracedCallback<Ptr<const Packet>, const SemanticLinkPacketInfo&> m_outageTrace;
};

} // namespace ns3

#endif
