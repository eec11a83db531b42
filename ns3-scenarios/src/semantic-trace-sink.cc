#include "gensemcom/semantic-trace-sink.h"

#include "ns3/component-carrier-enb.h"
#include "ns3/component-carrier-ue.h"
#include "ns3/log.h"
#include "ns3/lte-enb-net-device.h"
#include "ns3/lte-enb-phy.h"
#include "ns3/lte-radio-bearer-tag.h"
#include "ns3/lte-spectrum-phy.h"
#include "ns3/lte-ue-net-device.h"
#include "ns3/lte-ue-phy.h"
#include "ns3/node-list.h"
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
SemanticTraceSink::ConnectNr(Ptr<NrCellChannel> cell, const std::string& label)
{
    NS_LOG_FUNCTION(this << cell << label);
    Connect(cell,
            "Tb",
            label,
            MakeCallback(&SemanticTraceSink::NrTb, Ptr<SemanticTraceSink>(this)),
            "SemanticTraceSink::ConnectNr");
    m_nr = true;
}

void
SemanticTraceSink::NrTb(std::string node, const NrTbTraceInfo& info)
{
    Add(node,
        info.downlink ? "phy_dl_tb" : "phy_ul_tb",
        -1,
        -1,
        -1,
        info.tbSize / 8,
        int32_t(info.mcs),
        int32_t(info.round),
        info.round == 0 ? 1 : 0,
        info.ok ? 1 : 0,
        info.rnti);
    Row& r = m_rows.back();
    r.slot = int64_t(info.slot);
    r.prb = int32_t(info.nPrb);
    r.sym = int32_t(info.nSymbols);
    r.tbs = info.tbSize;
    r.sinrDb = info.effSinrDb;
}

void
SemanticTraceSink::ConnectLtePhy()
{
    NS_LOG_FUNCTION(this);
    const uint32_t before = m_nLtePhys;
    for (auto node = NodeList::Begin(); node != NodeList::End(); ++node)
    {
        for (uint32_t d = 0; d < (*node)->GetNDevices(); ++d)
        {
            Ptr<NetDevice> device = (*node)->GetDevice(d);
            if (auto enb = DynamicCast<LteEnbNetDevice>(device))
            {
                for (const auto& [ccId, cc] : enb->GetCcMap())
                {
                    ConnectLteSpectrumPhy(
                        DynamicCast<ComponentCarrierEnb>(cc)->GetPhy()->GetUlSpectrumPhy(),
                        "UlPhyReception",
                        "phy_ul_tb");
                }
            }
            else if (auto ue = DynamicCast<LteUeNetDevice>(device))
            {
                for (const auto& [ccId, cc] : ue->GetCcMap())
                {
                    ConnectLteSpectrumPhy(cc->GetPhy()->GetDlSpectrumPhy(),
                                          "DlPhyReception",
                                          "phy_dl_tb");
                }
            }
        }
    }
    if (m_nLtePhys == before)
    {
        throw std::invalid_argument(
            "SemanticTraceSink::ConnectLtePhy: no LTE PHY found (install the LTE devices first)");
    }
}

void
SemanticTraceSink::ConnectLteSpectrumPhy(Ptr<Object> phy,
                                         const std::string& source,
                                         const char* event)
{
    Ptr<SemanticTraceSink> self(this);
    const uint32_t id = m_nLtePhys++;
    const char* caller = "SemanticTraceSink::ConnectLtePhy";
    if (!phy->TraceConnectWithoutContext(
            source,
            MakeCallback(&SemanticTraceSink::LteTbRx, self).Bind(event, id)) ||
        !phy->TraceConnectWithoutContext(
            "RxEndOk",
            MakeCallback(&SemanticTraceSink::LtePduRx, self).Bind(id)) ||
        !phy->TraceConnectWithoutContext(
            "RxEndError",
            MakeCallback(&SemanticTraceSink::LtePduRx, self).Bind(id)))
    {
        throw std::invalid_argument(std::string(caller) + ": " +
                                    phy->GetInstanceTypeId().GetName() +
                                    " lacks the trace sources of an LteSpectrumPhy");
    }
}

std::size_t
SemanticTraceSink::GetNRows() const
{
    return m_rows.size();
}

void
SemanticTraceSink::WriteCsv(const std::string& path)
{
    NS_LOG_FUNCTION(this << path);
    FlushLteTbs(); // the run may have stopped between a reception and its flush
    std::ofstream out(path);
    if (!out)
    {
        throw std::runtime_error("SemanticTraceSink::WriteCsv: cannot write " + path);
    }
    out << "time_s,node,event,unit,stream,seq,bytes,mcs,rv,ndi,ok,rnti"
        << (m_nr ? ",slot,prb,sym,tbs,sinr_db\n" : "\n");
    out << std::setprecision(12);
    for (const auto& r : m_rows)
    {
        out << r.time.GetSeconds() << ',' << r.node << ',' << r.event << ',' << r.unit << ','
            << r.stream << ',' << r.seq << ',' << r.bytes << ',' << r.mcs << ',' << r.rv << ','
            << r.ndi << ',' << r.ok << ',' << r.rnti;
        if (m_nr)
        {
            out << ',' << r.slot << ',' << r.prb << ',' << r.sym << ',' << r.tbs << ',';
            if (!std::isnan(r.sinrDb))
            {
                out << r.sinrDb;
            }
        }
        out << '\n';
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

// ns-3 fires UlPhyReception / DlPhyReception (LteSpectrumPhy::EndRxData) for every TB the PHY
// expects from a DCI, also when the TB carries no MAC PDU: an UL grant the UE left unused
// (LteUeMac: "No active flows for this UL-DCI") or a DL allocation RLC did not fill. The error
// model is evaluated anyway (in UL on RBs without any signal, so the "TB" fails), and no HARQ
// feedback exists for it, since feedback is generated per received PDU (docs/lte_uplink.md).
// A TB is real when a PDU of its RNTI reached that PHY in the same reception: RxEndOk /
// RxEndError fire per PDU right after the reception traces, in the same EndRxData call, so
// the TBs wait for an event scheduled now, which runs after that call.
void
SemanticTraceSink::LteTbRx(const char* event, uint32_t phy, PhyReceptionStatParameters params)
{
    m_pendingTbs.push_back(PendingTb{Simulator::Now(), event, phy, params});
    if (!m_flushEvent.IsPending())
    {
        m_flushEvent = Simulator::ScheduleNow(&SemanticTraceSink::FlushLteTbs, this);
    }
}

void
SemanticTraceSink::LtePduRx(uint32_t phy, Ptr<const Packet> packet)
{
    LteRadioBearerTag tag;
    if (packet->PeekPacketTag(tag))
    {
        m_pduRx.insert({phy, tag.GetRnti()});
    }
}

void
SemanticTraceSink::FlushLteTbs()
{
    // AMC shows in the MCS, HARQ in blocks that failed decoding (correctness 0) and in
    // retransmissions (ndi 0, rv the HARQ round).
    for (const auto& tb : m_pendingTbs)
    {
        const auto& p = tb.params;
        const bool carriedData = m_pduRx.count({tb.phy, p.m_rnti}) > 0;
        m_rows.push_back(Row{tb.time,
                             "cell" + std::to_string(p.m_cellId),
                             carriedData ? tb.event : std::string(tb.event) + "_empty",
                             -1,
                             -1,
                             -1,
                             p.m_size,
                             p.m_mcs,
                             p.m_rv,
                             p.m_ndi,
                             p.m_correctness,
                             p.m_rnti});
    }
    m_pendingTbs.clear();
    m_pduRx.clear();
    m_flushEvent.Cancel();
}

} // namespace ns3
