#include "gensemcom/semantic-trace-sink.h"

#include "ns3/config.h"
#include "ns3/log.h"
#include "ns3/packet.h"
#include "ns3/simulator.h"

#include <fstream>
#include <iomanip>
#include <stdexcept>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("SemanticTraceSink");
NS_OBJECT_ENSURE_REGISTERED(SemanticTraceSink);

namespace
{
void
Connect(Ptr<Object> object,
        const std::string& source,
        const std::string& label,
        const CallbackBase& cb,
        const char* caller)
{
    if (!object)
    {
        throw std::invalid_argument(std::string(caller) + ": no object given for " + label);
    }
    if (!object->TraceConnect(source, label, cb))
    {
        throw std::invalid_argument(std::string(caller) + ": " +
                                    object->GetInstanceTypeId().GetName() + " (" + label +
                                    ") has no trace source " + source);
    }
}
} // namespace

TypeId
SemanticTraceSink::GetTypeId()
{
    static TypeId tid = TypeId("ns3::SemanticTraceSink")
                            .SetParent<Object>()
                            .SetGroupName("Gensemcom")
                            .AddConstructor<SemanticTraceSink>();
    return tid;
}

SemanticTraceSink::SemanticTraceSink()
{
    NS_LOG_FUNCTION(this);
}

SemanticTraceSink::~SemanticTraceSink()
{
    NS_LOG_FUNCTION(this);
}

void
SemanticTraceSink::ConnectApp(Ptr<SemanticApp> app, const std::string& label)
{
    NS_LOG_FUNCTION(this << app << label);
    Ptr<SemanticTraceSink> self(this);
    const char* caller = "SemanticTraceSink::ConnectApp";
    Connect(app, "Tx", label, MakeCallback(&SemanticTraceSink::AppTx, self), caller);
    Connect(app, "Rx", label, MakeCallback(&SemanticTraceSink::AppRx, self), caller);
    Connect(app, "RxDrop", label, MakeCallback(&SemanticTraceSink::AppRxDrop, self), caller);
    Connect(app, "StreamTx", label, MakeCallback(&SemanticTraceSink::AppStreamTx, self), caller);
    Connect(app, "StreamRx", label, MakeCallback(&SemanticTraceSink::AppStreamRx, self), caller);
    Connect(app, "UnitRx", label, MakeCallback(&SemanticTraceSink::AppUnitRx, self), caller);
    Connect(app,
            "UnitTimeout",
            label,
            MakeCallback(&SemanticTraceSink::AppUnitTimeout, self),
            caller);
}

void
SemanticTraceSink::ConnectSemanticLink(Ptr<SemanticLinkNetDevice> device, const std::string& label)
{
    NS_LOG_FUNCTION(this << device << label);
    Ptr<SemanticTraceSink> self(this);
    const char* caller = "SemanticTraceSink::ConnectSemanticLink";
    Connect(device, "Tx", label, MakeCallback(&SemanticTraceSink::SemanticLinkTx, self), caller);
    Connect(device, "Rx", label, MakeCallback(&SemanticTraceSink::SemanticLinkRx, self), caller);
    Connect(device,
            "Drop",
            label,
            MakeCallback(&SemanticTraceSink::SemanticLinkDrop, self),
            caller);
    Connect(device,
            "Outage",
            label,
            MakeCallback(&SemanticTraceSink::SemanticLinkOutage, self),
            caller);
}

void
SemanticTraceSink::ConnectLinkTx(Ptr<NetDevice> device, const std::string& label)
{
    NS_LOG_FUNCTION(this << device << label);
    Connect(device,
            "PhyTxEnd",
            label,
            MakeCallback(&SemanticTraceSink::LinkTx, Ptr<SemanticTraceSink>(this)),
            "SemanticTraceSink::ConnectLinkTx");
}

void
SemanticTraceSink::ConnectLtePhy()
{
    NS_LOG_FUNCTION(this);
    Ptr<SemanticTraceSink> self(this);
    const bool ul = Config::ConnectWithoutContextFailSafe(
        "/NodeList/*/DeviceList/*/ComponentCarrierMap/*/LteEnbPhy/UlSpectrumPhy/UlPhyReception",
        MakeCallback(&SemanticTraceSink::UlPhyReception, self));
    const bool dl = Config::ConnectWithoutContextFailSafe(
        "/NodeList/*/DeviceList/*/ComponentCarrierMapUe/*/LteUePhy/DlSpectrumPhy/DlPhyReception",
        MakeCallback(&SemanticTraceSink::DlPhyReception, self));
    if (!ul && !dl)
    {
        throw std::invalid_argument(
            "SemanticTraceSink::ConnectLtePhy: no LTE PHY found (install the LTE devices first)");
    }
}

std::size_t
SemanticTraceSink::GetNRows() const
{
    return m_rows.size();
}

void
SemanticTraceSink::WriteCsv(const std::string& path) const
{
    NS_LOG_FUNCTION(this << path);
    std::ofstream out(path);
    if (!out)
    {
        throw std::runtime_error("SemanticTraceSink::WriteCsv: cannot write " + path);
    }
    out << "time_s,node,event,unit,stream,seq,bytes,mcs,rv,ndi,ok,rnti\n";
    out << std::setprecision(12);
    for (const auto& r : m_rows)
    {
        out << r.time.GetSeconds() << ',' << r.node << ',' << r.event << ',' << r.unit << ','
            << r.stream << ',' << r.seq << ',' << r.bytes << ',' << r.mcs << ',' << r.rv << ','
            << r.ndi << ',' << r.ok << ',' << r.rnti << '\n';
    }
    out.close();
    if (!out)
    {
        throw std::runtime_error("SemanticTraceSink::WriteCsv: writing " + path + " failed");
    }
}

void
SemanticTraceSink::Add(const std::string& node,
                       const char* event,
                       int64_t unit,
                       int32_t stream,
                       int32_t seq,
                       int64_t bytes,
                       int32_t mcs,
                       int32_t rv,
                       int32_t ndi,
                       int32_t ok,
                       int32_t rnti)
{
    m_rows.push_back(
        Row{Simulator::Now(), node, event, unit, stream, seq, bytes, mcs, rv, ndi, ok, rnti});
}

void
SemanticTraceSink::AppTx(std::string node, Ptr<const Packet> packet, const SemanticHeader& header)
{
    Add(node, "tx", header.unit, header.stream, header.seq, packet->GetSize());
}

void
SemanticTraceSink::AppRx(std::string node, Ptr<const Packet> packet, const SemanticHeader& header)
{
    Add(node, "rx", header.unit, header.stream, header.seq, packet->GetSize());
}

void
SemanticTraceSink::AppRxDrop(std::string node,
                             Ptr<const Packet> packet,
                             SemanticApp::RxDropReason reason)
{
    switch (reason)
    {
    case SemanticApp::RX_DROP_CORRUPT:
        Add(node, "rx_drop_error", -1, -1, -1, packet->GetSize());
        return;
    case SemanticApp::RX_DROP_MALFORMED:
        Add(node, "rx_malformed", -1, -1, -1, packet->GetSize());
        return;
    default:
        break;
    }
    // A valid segment that was not used: its header says which.
    SemanticHeader h;
    packet->PeekHeader(h);
    const char* event = reason == SemanticApp::RX_DROP_LATE           ? "rx_late"
                        : reason == SemanticApp::RX_DROP_INCONSISTENT ? "rx_inconsistent"
                                                                      : "rx_duplicate";
    Add(node, event, h.unit, h.stream, h.seq, packet->GetSize());
}

void
SemanticTraceSink::AppStreamTx(std::string node, uint32_t unit, uint32_t stream, uint32_t bytes)
{
    Add(node, "stream_tx", unit, stream, -1, bytes);
}

void
SemanticTraceSink::AppStreamRx(std::string node,
                               uint32_t unit,
                               uint32_t stream,
                               uint32_t bytes,
                               bool crcOk)
{
    Add(node, "stream_rx", unit, stream, -1, bytes, -1, -1, -1, crcOk);
}

void
SemanticTraceSink::AppUnitRx(std::string node, uint32_t unit, uint64_t bytes, bool crcOk)
{
    Add(node, "unit_rx", unit, -1, -1, bytes, -1, -1, -1, crcOk);
}

void
SemanticTraceSink::AppUnitTimeout(std::string node, uint32_t unit, uint64_t bytes)
{
    Add(node, "unit_timeout", unit, -1, -1, bytes, -1, -1, -1, 0);
}

void
SemanticTraceSink::LinkPacket(const std::string& node,
                              const char* event,
                              Ptr<const Packet> packet,
                              const SemanticLinkPacketInfo& info,
                              int32_t ok)
{
    // rv: attempt index, ndi: 0 on retransmissions (as the LTE PHY traces).
    const int32_t rv = info.attempts > 0 ? int32_t(info.attempts - 1) : 0;
    Add(node,
        event,
        info.unit,
        int32_t(info.stream),
        info.seq,
        packet->GetSize(),
        info.mcs,
        rv,
        rv == 0 ? 1 : 0,
        ok);
}

void
SemanticTraceSink::SemanticLinkTx(std::string node,
                                  Ptr<const Packet> packet,
                                  const SemanticLinkPacketInfo& info,
                                  bool success)
{
    LinkPacket(node, info.attempts == 1 ? "link_tx" : "link_retx", packet, info, success ? 1 : 0);
}

void
SemanticTraceSink::SemanticLinkRx(std::string node,
                                  Ptr<const Packet> packet,
                                  const SemanticLinkPacketInfo& info)
{
    LinkPacket(node, "link_rx", packet, info, info.bitFlips == 0 ? 1 : 0);
}

void
SemanticTraceSink::SemanticLinkDrop(std::string node,
                                    Ptr<const Packet> packet,
                                    const SemanticLinkPacketInfo& info)
{
    LinkPacket(node, "link_drop", packet, info, 0);
}

void
SemanticTraceSink::SemanticLinkOutage(std::string node,
                                      Ptr<const Packet> packet,
                                      const SemanticLinkPacketInfo& info)
{
    LinkPacket(node, "link_outage", packet, info, 0);
}

void
SemanticTraceSink::LinkTx(std::string node, Ptr<const Packet> packet)
{
    Add(node, "link_tx", -1, -1, -1, packet->GetSize());
}

void
SemanticTraceSink::LtePhyReception(const char* event, const PhyReceptionStatParameters& p)
{
    // AMC shows in the MCS, HARQ in blocks that failed decoding (correctness 0) and in
    // retransmissions (ndi 0; rv > 0 in the downlink).
    Add("cell" + std::to_string(p.m_cellId),
        event,
        -1,
        -1,
        -1,
        p.m_size,
        p.m_mcs,
        p.m_rv,
        p.m_ndi,
        p.m_correctness,
        p.m_rnti);
}

void
SemanticTraceSink::UlPhyReception(PhyReceptionStatParameters params)
{
    LtePhyReception("phy_ul_tb", params);
}

void
SemanticTraceSink::DlPhyReception(PhyReceptionStatParameters params)
{
    LtePhyReception("phy_dl_tb", params);
}

} // namespace ns3
