// The packet trace of a run: one sink connected to the trace sources of the semantic apps,
// semantic-link devices, point-to-point devices and LTE PHYs of a simulation keeps one row per
// event in memory and writes them once at the end, so no Python code runs per packet.
#ifndef GENSEMCOM_SEMANTIC_TRACE_SINK_H
#define GENSEMCOM_SEMANTIC_TRACE_SINK_H

#include "gensemcom/nr-cell-channel.h"
#include "gensemcom/semantic-app.h"
#include "gensemcom/semantic-link-net-device.h"

#include "ns3/event-id.h"
#include "ns3/lte-common.h"
#include "ns3/net-device.h"
#include "ns3/nstime.h"
#include "ns3/object.h"

#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace ns3
{

/**
 * Collects the rows of the trace table, in the order the events happen:
 * time_s, node, event, unit, stream, seq, bytes, mcs, rv, ndi, ok, rnti
 * (-1 where a column does not apply). Events:
 *  - SemanticApp: tx, rx, stream_tx, stream_rx, unit_rx, unit_timeout, and rx_drop_error,
 *    rx_malformed, rx_late, rx_inconsistent, rx_duplicate (RxDrop by reason);
 *  - SemanticLinkNetDevice: link_tx (first attempt), link_retx, link_rx, link_drop,
 *    link_outage; mcs: modulation order, rv: attempt - 1, ndi: 1 on the first attempt;
 *  - a point-to-point device: link_tx, every frame it finishes sending (PhyTxEnd; bytes: the
 *    whole frame, PPP + IPv4 + UDP headers included);
 *  - LTE PHYs: phy_ul_tb / phy_dl_tb, every transport block received (node "cell<id>"; MCS,
 *    size, HARQ round and ndi, correctness, RNTI), and phy_ul_tb_empty / phy_dl_tb_empty for
 *    allocations that carried no MAC PDU (an unused UL grant, a DL allocation RLC did not
 *    fill), which ns-3 reports as TBs but never HARQ-acknowledges;
 *  - an NR cell (ConnectNr): phy_ul_tb / phy_dl_tb, every transport block sent (node: the
 *    label; bytes: TBS / 8, MCS, rv: HARQ round (0: first transmission), ndi: 1 on the first
 *    one, ok: decoded, RNTI). Once an NR cell is connected, the table has five more columns,
 *    -1 (sinr_db: empty) on the other rows: slot, prb, sym (PDSCH/PUSCH symbols), tbs (bits),
 *    sinr_db (effective SINR after chase combining). Without an NR cell the columns are the
 *    twelve above, as before.
 * Connecting an object twice doubles its rows; connect each once.
 */
class SemanticTraceSink : public Object
{
  public:
    static TypeId GetTypeId();
    SemanticTraceSink();
    ~SemanticTraceSink() override;

    /// Rows of `app`'s trace sources, as node `label`.
    void ConnectApp(Ptr<SemanticApp> app, const std::string& label);
    /// Rows of a semantic-link device's trace sources, as node `label`.
    void ConnectSemanticLink(Ptr<SemanticLinkNetDevice> device, const std::string& label);
    /// A link_tx row of node `label` per frame `device` (one with a PhyTxEnd trace source, such
    /// as a PointToPointNetDevice) finishes sending: per-link flows.
    void ConnectLinkTx(Ptr<NetDevice> device, const std::string& label);
    /// Rows of every LTE transport block received (UL at the eNBs, DL at the UEs). Call after the
    /// LTE devices are installed.
    void ConnectLtePhy();
    /// Rows of every transport block of an NR cell, as node `label`.
    void ConnectNr(Ptr<NrCellChannel> cell, const std::string& label);

    /// Rows collected so far.
    std::size_t GetNRows() const;
    /// Write all rows as CSV, header row first (std::runtime_error if it cannot be written).
    /// LTE TBs of a reception still being classified are added first.
    void WriteCsv(const std::string& path);

  private:
    struct Row
    {
        Time time;
        std::string node;
        std::string event;
        int64_t unit;
        int32_t stream;
        int32_t seq;
        int64_t bytes;
        int32_t mcs;  ///< LTE MCS / semantic-link modulation order (-1 if neither)
        int32_t rv;   ///< HARQ round of an LTE TB (DL: the redundancy version; UL: the number of
                      ///< earlier receptions ns-3 soft-combines) / semantic-link attempt - 1
        int32_t ndi;  ///< new data indicator: 0 marks a retransmission
        int32_t ok;   ///< 1 delivered intact / CRC ok, 0 failed, -1 not applicable
        int32_t rnti; ///< LTE RNTI (-1 if not LTE)
        // NR transport blocks only (-1 / NaN otherwise)
        int64_t slot{-1};
        int32_t prb{-1};
        int32_t sym{-1};
        int64_t tbs{-1};
        double sinrDb{NAN};
    };

    void Add(const std::string& node,
             const char* event,
             int64_t unit = -1,
             int32_t stream = -1,
             int32_t seq = -1,
             int64_t bytes = 0,
             int32_t mcs = -1,
             int32_t rv = -1,
             int32_t ndi = -1,
             int32_t ok = -1,
             int32_t rnti = -1);

    // Trace sinks; `node` is the context given when connecting (the label).
    void AppTx(std::string node, Ptr<const Packet> packet, const SemanticHeader& header);
    void AppRx(std::string node, Ptr<const Packet> packet, const SemanticHeader& header);
    void AppRxDrop(std::string node, Ptr<const Packet> packet, SemanticApp::RxDropReason reason);
    void AppStreamTx(std::string node, uint32_t unit, uint32_t stream, uint32_t bytes);
    void AppStreamRx(std::string node, uint32_t unit, uint32_t stream, uint32_t bytes, bool crcOk);
    void AppUnitRx(std::string node, uint32_t unit, uint64_t bytes, bool crcOk);
    void AppUnitTimeout(std::string node, uint32_t unit, uint64_t bytes);
    void LinkPacket(const std::string& node,
                    const char* event,
                    Ptr<const Packet> packet,
                    const SemanticLinkPacketInfo& info,
                    int32_t ok);
    void SemanticLinkTx(std::string node,
                        Ptr<const Packet> packet,
                        const SemanticLinkPacketInfo& info,
                        bool success);
    void SemanticLinkRx(std::string node,
                        Ptr<const Packet> packet,
                        const SemanticLinkPacketInfo& info);
    void SemanticLinkDrop(std::string node,
                          Ptr<const Packet> packet,
                          const SemanticLinkPacketInfo& info);
    void SemanticLinkOutage(std::string node,
                            Ptr<const Packet> packet,
                            const SemanticLinkPacketInfo& info);
    void LinkTx(std::string node, Ptr<const Packet> packet);
    void NrTb(std::string node, const NrTbTraceInfo& info);
    // LTE TBs: a TB is held until the PDU traces of its reception have fired (see the .cc).
    void ConnectLteSpectrumPhy(Ptr<Object> phy, const std::string& source, const char* event);
    void LteTbRx(const char* event, uint32_t phy, PhyReceptionStatParameters params);
    void LtePduRx(uint32_t phy, Ptr<const Packet> packet);
    void FlushLteTbs();

    struct PendingTb
    {
        Time time;
        const char* event;
        uint32_t phy; ///< index of the receiving LteSpectrumPhy (order of connection)
        PhyReceptionStatParameters params;
    };

    std::vector<Row> m_rows;
    bool m_nr = false; ///< an NR cell is connected: the NR columns are written
    uint32_t m_nLtePhys = 0;
    std::vector<PendingTb> m_pendingTbs;
    std::set<std::pair<uint32_t, uint16_t>> m_pduRx; ///< (phy, RNTI) with a MAC PDU received
    EventId m_flushEvent;
};

} // namespace ns3

#endif
