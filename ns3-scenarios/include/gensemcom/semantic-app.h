// One application for every role of a generative semantic network: a source sends units, a
// GenAI node (relay, edge server) receives units and sends generated content onward, a sink
// receives. Which role a node plays is configuration, not a different class.
#ifndef GENSEMCOM_SEMANTIC_APP_H
#define GENSEMCOM_SEMANTIC_APP_H

#include "ns3/application.h"
#include "ns3/data-rate.h"
#include "ns3/error-model.h"
#include "ns3/event-id.h"
#include "ns3/ipv4-address.h"
#include "ns3/nstime.h"
#include "ns3/socket.h"

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace ns3
{

class SemanticApp : public Application
{
  public:
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

    // Receive side: a unit stays readable until ReleaseUnit. Stream ids are uint32_t here
    // (not the wire's uint8_t) because cppyy maps uint8_t to a Python str.
    std::vector<uint32_t> GetReadyUnits() const;
    std::vector<uint32_t> GetStreamIds(uint32_t unit) const;
    /// Received bytes of a stream; missing segments are zero-filled (see IsStreamComplete).
    std::vector<uint8_t> GetStreamBytes(uint32_t unit, uint32_t stream) const;
    bool IsStreamComplete(uint32_t unit, uint32_t stream) const;
    bool IsStreamCrcOk(uint32_t unit, uint32_t stream) const;
    double GetUnitFirstRxTime(uint32_t unit) const;
    double GetUnitReadyTime(uint32_t unit) const;
    bool IsUnitComplete(uint32_t unit) const;
    void ReleaseUnit(uint32_t unit);

    uint64_t GetTxPackets() const;
    uint64_t GetRxPackets() const;

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
        double firstRx{0.0};
        double readyAt{-1.0};
        bool complete{false};
        EventId timeout;
    };

    struct PendingPacket
    {
        Ptr<Packet> packet;
        Ipv4Address dst;
        uint16_t port;
        uint32_t unit;
        uint8_t stream;
        uint16_t seq;
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
    uint64_t m_txPackets{0};
    uint64_t m_rxPackets{0};
};

} // namespace ns3

#endif
