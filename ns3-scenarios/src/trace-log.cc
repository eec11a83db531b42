#include "gensemcom/trace-log.h"

#include "ns3/config.h"
#include "ns3/lte-common.h"
#include "ns3/packet.h"
#include "ns3/simulator.h"

#include <fstream>
#include <iomanip>

namespace ns3
{

std::vector<GscTraceRecord>&
GscTraceLog::Records()
{
    static std::vector<GscTraceRecord> records;
    return records;
}

void
GscTraceLog::Add(const std::string& node,
                 const std::string& event,
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
    Records().push_back(GscTraceRecord{Simulator::Now().GetSeconds(),
                                       node,
                                       event,
                                       unit,
                                       stream,
                                       seq,
                                       bytes,
                                       mcs,
                                       rv,
                                       ndi,
                                       ok,
                                       rnti});
}

void
GscTraceLog::Clear()
{
    Records().clear();
}

std::size_t
GscTraceLog::Size()
{
    return Records().size();
}

bool
GscTraceLog::WriteCsv(const std::string& path)
{
    std::ofstream out(path);
    if (!out)
    {
        return false;
    }
    out << "time_s,node,event,unit,stream,seq,bytes,mcs,rv,ndi,ok,rnti\n";
    out << std::setprecision(12);
    for (const auto& r : Records())
    {
        out << r.timeS << ',' << r.node << ',' << r.event << ',' << r.unit << ',' << r.stream << ','
            << r.seq << ',' << r.bytes << ',' << r.mcs << ',' << r.rv << ',' << r.ndi << ','
            << r.ok << ','
            << r.rnti << '\n';
    }
    return bool(out);
}

namespace
{
// One transport block received by a PHY: AMC shows in the MCS, HARQ in blocks that failed
// decoding (correctness 0) and in retransmissions (ndi 0; rv > 0 in the downlink).
void
LogTb(const std::string& event, PhyReceptionStatParameters p)
{
    GscTraceLog::Add("cell" + std::to_string(p.m_cellId),
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
UlTb(PhyReceptionStatParameters p)
{
    LogTb("phy_ul_tb", p);
}

void
DlTb(PhyReceptionStatParameters p)
{
    LogTb("phy_dl_tb", p);
}

void
LinkTx(std::string label, Ptr<const Packet> packet)
{
    GscTraceLog::Add(label, "link_tx", -1, -1, -1, packet->GetSize());
}
} // namespace

void
GscTraceLinkTx(Ptr<NetDevice> device, const std::string& label)
{
    device->TraceConnectWithoutContext("PhyTxEnd", MakeBoundCallback(&LinkTx, label));
}

void
GscConnectLtePhyTraces()
{
    Config::ConnectWithoutContextFailSafe(
        "/NodeList/*/DeviceList/*/ComponentCarrierMap/*/LteEnbPhy/UlSpectrumPhy/UlPhyReception",
        MakeCallback(&UlTb));
    Config::ConnectWithoutContextFailSafe(
        "/NodeList/*/DeviceList/*/ComponentCarrierMapUe/*/LteUePhy/DlSpectrumPhy/DlPhyReception",
        MakeCallback(&DlTb));
}

} // namespace ns3
