// One application for every role of a generative semantic network: a source sends units, a
// GenAI node (relay, edge server) receives units and sends generated content onward, a sink
// receives. Which role a node plays is configuration, not a different class.
//
// Bad input, in the whole extension, raises a C++ exception (std::invalid_argument for a bad
// argument, std::runtime_error for what fails at run time, such as an unwritable file): cppyy
// turns it into a Python exception with the message on one line, where NS_FATAL_ERROR /
// NS_ABORT_MSG would abort the whole Python process. NS_ASSERT guards internal invariants only.
#ifndef GENSEMCOM_SEMANTIC_APP_H
#define GENSEMCOM_SEMANTIC_APP_H

#include "gensemcom/semantic-header.h"

#include "ns3/application.h"
#include "ns3/data-rate.h"
#include "ns3/error-model.h"
#include "ns3/event-id.h"
#include "ns3/ipv4-address.h"
#include "ns3/nstime.h"
#include "ns3/socket.h"
#include "ns3/traced-callback.h"

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace ns3
{

/**
 * Sends semantic units (one or more byte streams each) as SemanticHeader segments over UDP and
 * reassembles the units it receives; a unit is handed over when all its streams are complete or
 * UnitTimeout after its first packet, whichever comes first.
 */
class SemanticApp : public Application
{
  public:
    /// Why a received packet was not used (trace source RxDrop).
    enum RxDropReason
    {
        RX_DROP_CORRUPT = 1, ///< the receive error model reported it corrupt
        RX_DROP_MALFORMED,   ///< too short, invalid header, wrong length or too large a stream
        RX_DROP_LATE,        ///< its unit was handed over already
        RX_DROP_INCONSISTENT, ///< its stream length, segment count or CRC differ from earlier ones
        RX_DROP_DUPLICATE    ///< its segment was received already
    };

    /**
     * TracedCallback signature of Tx and Rx: one segment.
     * @param [in] packet The packet as sent / received by the socket, SemanticHeader included.
     * @param [in] header Its SemanticHeader.
     */
    typedef void (*SegmentTracedCallback)(Ptr<const Packet> packet, const SemanticHeader& header);

    /**
     * TracedCallback signature of RxDrop.
     * @param [in] packet The packet as received by the socket (its SemanticHeader is valid for
     *             RX_DROP_LATE, RX_DROP_INCONSISTENT and RX_DROP_DUPLICATE).
     * @param [in] reason Why it was not used.
     */
    typedef void (*RxDropTracedCallback)(Ptr<const Packet> packet, RxDropReason reason);

    /**
     * TracedCallback signature of StreamTx.
     * @param [in] unit The unit.
     * @param [in] stream The stream of the unit.
     * @param [in] bytes The stream's length.
     */
    typedef void (*StreamTxTracedCallback)(uint32_t unit, uint32_t stream, uint32_t bytes);

    /**
     * TracedCallback signature of StreamRx.
     * @param [in] unit The unit.
     * @param [in] stream The stream of the unit.
     * @param [in] bytes The stream's length.
     * @param [in] crcOk Whether the received bytes match the sender's CRC-32.
     */
    typedef void (*StreamRxTracedCallback)(uint32_t unit,
                                           uint32_t stream,
                                           uint32_t bytes,
                                           bool crcOk);

    /**
     * TracedCallback signature of UnitRx.
     * @param [in] unit The unit.
     * @param [in] bytes The total length of its streams.
     * @param [in] crcOk Whether every stream's CRC-32 matched.
     */
    typedef void (*UnitRxTracedCallback)(uint32_t unit, uint64_t bytes, bool crcOk);

    /**
     * TracedCallback signature of UnitTimeout.
     * @param [in] unit The unit, handed over incomplete.
     * @param [in] bytes The total length of the streams it has (announced lengths).
     */
    typedef void (*UnitTimeoutTracedCallback)(uint32_t unit, uint64_t bytes);

    static TypeId GetTypeId();
    SemanticApp();
    ~SemanticApp() override;

    /// Called (in simulated time, which stands still meanwhile) when a unit is complete or its
    /// reassembly timed out. The handler reads the unit with the getters below.
    using UnitHandler = std::function<void(uint32_t unit)>;
    void SetUnitHandler(UnitHandler handler);

    /// Applied to every received packet before parsing: a BitFlipErrorModel delivers bit
    /// errors; an error model that reports corruption drops the packet.
    void SetReceiveErrorModel(Ptr<ErrorModel> model);

    /// Queue one stream of a unit for sending after `delay`: segmented into packets of at most
    /// SegmentSize payload bytes and paced at DataRate.
    void SendStream(Time delay,
                    Ipv4Address dst,
                    uint16_t dstPort,
                    uint32_t unit,
                    uint32_t stream,
                    uint32_t nStreams,
                    const std::string& bytes);

    /// SendStream at once, from inside an event: what the event SendStream(delay, ...) schedules
    /// does, in this event's place. An event scheduled at t (a Python callback that joins an
    /// agent's reply) that calls this queues the stream exactly where SendStream(t - now, ...)
    /// called at `now` would have: the same event order, so the same traces.
    void SendStreamNow(Ipv4Address dst,
                       uint16_t dstPort,
                       uint32_t unit,
                       uint32_t stream,
                       uint32_t nStreams,
                       const std::string& bytes);

    // Receive side: a unit stays readable until ReleaseUnit. Stream ids are uint32_t here
    // (not the wire's uint8_t) because cppyy maps uint8_t to a Python str.
    std::vector<uint32_t> GetStreamIds(uint32_t unit) const;
    /// Received bytes of a stream; missing segments are zero-filled (see IsStreamComplete).
    std::vector<uint8_t> GetStreamBytes(uint32_t unit, uint32_t stream) const;
    bool IsStreamComplete(uint32_t unit, uint32_t stream) const;
    bool IsStreamCrcOk(uint32_t unit, uint32_t stream) const;
    /// When the unit's first packet arrived (a unit not received: std::invalid_argument).
    Time GetUnitFirstRxTime(uint32_t unit) const;
    /// When the unit was handed over (one not handed over yet: std::invalid_argument).
    Time GetUnitReadyTime(uint32_t unit) const;
    bool IsUnitComplete(uint32_t unit) const;
    void ReleaseUnit(uint32_t unit);

  private:
    struct StreamRx
    {
        uint32_t length{0};
        uint32_t crc{0};
        uint16_t nSeg{0};
        uint16_t segsReceived{0};
        std::vector<uint8_t> data;
        std::vector<bool> got;
        bool crcOk{false};
    };

    struct UnitRx
    {
        uint8_t nStreams{0};
        std::map<uint8_t, StreamRx> streams;
        Time firstRx;
        Time readyAt;
        bool ready{false};
        bool complete{false};
        EventId timeout;
    };

    struct PendingPacket
    {
        Ptr<Packet> packet;
        Ipv4Address dst;
        uint16_t port;
        SemanticHeader header;
    };

    void StartApplication() override;
    void StopApplication() override;
    void DoDispose() override;

    void EnqueueStream(Ipv4Address dst,
                       uint16_t dstPort,
                       uint32_t unit,
                       uint8_t stream,
                       uint8_t nStreams,
                       std::vector<uint8_t> bytes);
    void SendNext();
    void HandleRead(Ptr<Socket> socket);
    void HandleSegment(Ptr<Packet> packet);
    void MarkReady(uint32_t unit, bool complete);
    void OnUnitTimeout(uint32_t unit);
    const StreamRx* FindStream(uint32_t unit, uint32_t stream) const;

    std::string m_label;
    uint16_t m_listenPort{0};
    uint8_t m_numPorts{1};
    uint32_t m_segmentSize{1000};
    uint32_t m_maxStreamBytes{16 * 1024 * 1024};
    DataRate m_rate{"10Mbps"};
    Time m_unitTimeout{Seconds(5.0)};

    Ptr<Socket> m_txSocket;
    std::vector<Ptr<Socket>> m_rxSockets;
    Ptr<ErrorModel> m_rxErrorModel;
    UnitHandler m_handler;

    std::deque<PendingPacket> m_txQueue;
    EventId m_sendEvent;
    std::map<uint32_t, UnitRx> m_units;
    std::set<uint32_t> m_finishedUnits;

    TracedCallback<Ptr<const Packet>, const SemanticHeader&> m_txTrace;
    TracedCallback<Ptr<const Packet>, const SemanticHeader&> m_rxTrace;
    TracedCallback<Ptr<const Packet>, RxDropReason> m_rxDropTrace;
    TracedCallback<uint32_t, uint32_t, uint32_t> m_streamTxTrace;
    TracedCallback<uint32_t, uint32_t, uint32_t, bool> m_streamRxTrace;
    TracedCallback<uint32_t, uint64_t, bool> m_unitRxTrace;
    TracedCallback<uint32_t, uint64_t> m_unitTimeoutTrace;
};

} // namespace ns3

#endif
