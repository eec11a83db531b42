// In-memory event log written once as CSV at the end of a run: keeps Python out of the
// per-packet path (a Python callback per packet would dominate the run time).
#ifndef GENSEMCOM_TRACE_LOG_H
#define GENSEMCOM_TRACE_LOG_H

#include "ns3/net-device.h"
#include "ns3/ptr.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ns3
{

struct GscTraceRecord
{
    double timeS;
    std::string node;
    std::string event;
    int64_t unit;
    int32_t stream;
    int32_t seq;
    int64_t bytes;
    int32_t mcs;  ///< LTE MCS of a transport block (-1 if not a PHY event)
    int32_t rv;   ///< HARQ redundancy version (DL: > 0 on retransmissions; UL: always 0 in ns-3)
    int32_t ndi;  ///< new data indicator: 0 marks a HARQ retransmission (both directions)
    int32_t ok;   ///< 1 delivered intact / CRC ok, 0 failed, -1 not applicable
    int32_t rnti; ///< LTE RNTI (-1 if not LTE)
};

class GscTraceLog
{
  public:
    static void Add(const std::string& node,
                    const std::string& event,
                    int64_t unit = -1,
                    int32_t stream = -1,
                    int32_t seq = -1,
                    int64_t bytes = 0,
                    int32_t mcs = -1,
                    int32_t rv = -1,
                    int32_t ndi = -1,
                    int32_t ok = -1,
                    int32_t rnti = -1);
    static void Clear();
    static std::size_t Size();
    /// Write all records as CSV (header row first); returns false if the file cannot be written.
    static bool WriteCsv(const std::string& path);

  private:
    static std::vector<GscTraceRecord>& Records();
};

/// Connect LTE PHY trace sources (UL/DL transport block reception: MCS, size, HARQ rv,
/// correctness) to the log. Call after the LTE devices are installed.
void GscConnectLtePhyTraces();

/// Log every packet a point-to-point device finishes transmitting as event "link_tx" of node
/// `label` (bytes: the whole frame, PPP + IPv4 + UDP headers included): per-link flows.
void GscTraceLinkTx(Ptr<NetDevice> device, const std::string& label);

} // namespace ns3

#endif
