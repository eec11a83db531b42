// 5G NR cell (issue 14, step 2b): one gNB and its UEs on one carrier, as an ns-3 Channel that
// owns the slot clock, the scheduler, link adaptation, HARQ and the RLC entities. Transport
// blocks are abstracted by NrPhyAbstraction (38.214 TBS, EESM, Sionna's LDPC BLER tables);
// the devices are NrNetDevices (nr-net-device.h). docs/nr.md, "The cell (step 2b)", lists
// what is modelled and every simplification.
#ifndef GENSEMCOM_NR_CELL_CHANNEL_H
#define GENSEMCOM_NR_CELL_CHANNEL_H

#include "gensemcom/nr-phy-abstraction.h"
#include "gensemcom/nr-rlc.h"

#include "ns3/channel.h"
#include "ns3/event-id.h"
#include "ns3/nstime.h"
#include "ns3/traced-callback.h"

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ns3
{

class NrNetDevice;
class Packet;

/// One transport block transmission, as the Tb trace source reports it.
struct NrTbTraceInfo
{
    uint64_t slot{0};      ///< slot number since t = 0
    uint16_t rnti{0};      ///< UE index + 1
    bool downlink{false};
    uint32_t nPrb{0};
    uint32_t nSymbols{0};  ///< PDSCH / PUSCH symbols of the allocation
    uint32_t mcs{0};
    uint32_t tbSize{0};    ///< bits (38.214), the same in every round of a TB
    uint32_t round{0};     ///< 0: first transmission, k: k-th retransmission
    uint32_t rv{0};        ///< redundancy version (0, 2, 3, 1, ...)
    uint32_t harqId{0};
    double effSinrDb{0.0}; ///< effective SINR after chase combining rounds 0..round
    bool ok{false};        ///< decoded
    uint32_t payloadBytes{0}; ///< RLC payload bytes carried (headers and padding excluded)
};

/// Counters of one direction of a cell (or of one UE).
struct NrDirectionStats
{
    uint64_t tbs{0};             ///< TB transmissions, retransmissions included
    uint64_t firstTx{0};         ///< first transmissions
    uint64_t firstTxFailures{0}; ///< of which not decoded
    uint64_t retx{0};            ///< retransmissions
    uint64_t residualLosses{0};  ///< TBs not decoded after the last transmission
    uint64_t tbBitsOk{0};        ///< TBS of the decoded TBs
    uint64_t payloadBytesOk{0};  ///< RLC payload in decoded TBs
    uint64_t sdusEnqueued{0};    ///< IP packets taken from the stack
    uint64_t sdusRejected{0};    ///< refused: RLC buffer full, or no UE for the address
    uint64_t sdusDelivered{0};   ///< reassembled and handed up
    uint64_t sdusDropped{0};     ///< UM packets with a lost segment
    uint64_t rlcRetxSegments{0}; ///< AM segments sent again
    double sduDelaySumS{0.0};    ///< sum of Send -> delivery delays of delivered packets
    double sduDelayMaxS{0.0};
};

/**
 * A cell: a gNB device, UE devices, the frame (numerology mu: 14-symbol slots of 1/2^mu ms,
 * SCS 15 * 2^mu kHz; FDD, or a TDD pattern of D, U and S slots) and per slot:
 *  1. TBs decoded in the previous slot are delivered to RLC (their segments reassembled);
 *  2. HARQ feedback due now ((Ul)HarqFeedbackSlots after the transmission) frees the process
 *     (ACK) or marks it for retransmission (NACK), and moves the OLLA offset; a NACK of the
 *     last transmission is a residual loss (RLC AM resends the segments, UM drops the SDUs);
 *  3. DL and UL scheduling (round robin or proportional fair, one TB per UE and direction,
 *     retransmissions first) with link adaptation, one TB per scheduled UE;
 *  4. each TB's success is drawn from its EESM effective SINR (chase-combined over rounds).
 * SINR per PRB = transmit power per PRB - path loss + fading - noise (kT, 12 SCS, NF); no
 * interference. The clock stops while the cell is idle and restarts on the next slot
 * boundary when a packet arrives.
 */
class NrCellChannel : public Channel
{
  public:
    /// TracedCallback signature of Tb.
    typedef void (*TbTracedCallback)(const NrTbTraceInfo& info);

    static constexpr uint32_t OTHER_STREAM = 0xffffffff; ///< traffic to no stream port

    static TypeId GetTypeId();
    NrCellChannel();
    ~NrCellChannel() override;

    void AttachGnb(Ptr<NrNetDevice> device);
    /// Returns the UE's index (its RNTI is index + 1).
    uint32_t AttachUe(Ptr<NrNetDevice> device);
    std::size_t GetNDevices() const override; ///< gNB first, then the UEs
    Ptr<NetDevice> GetDevice(std::size_t i) const override;
    uint32_t GetNUes() const;

    /// Fixed path loss of a UE (dB, both directions), e.g. 38.901 from Python.
    void SetPathLossDb(uint32_t ue, double pathLossDb);
    double GetPathLossDb(uint32_t ue) const;
    /// Fading gains (dB) of a UE, row-major [slot][prb], looped in time; nPrb must be the
    /// cell's NumPrb. Slot s of the cell uses row (s + startSlot) mod nSlots. Both directions.
    void SetFadingTrace(uint32_t ue,
                        const std::vector<float>& gainDb,
                        uint32_t nSlots,
                        uint32_t nPrb,
                        uint32_t startSlot = 0);
    /// Fixed MCS of one UE (both directions), -1: the cell's FixedMcs / link adaptation.
    void SetUeFixedMcs(uint32_t ue, int32_t mcs);
    /// Endless data for a UE in one direction (full-buffer traffic; never delivered up).
    void SetFullBuffer(uint32_t ue, bool downlink, bool on);
    /// SINR (dB) of one PRB of a UE in a slot; the UL power is spread over nPrbUl PRBs.
    double GetPrbSinrDb(uint32_t ue, bool downlink, uint64_t slot, uint32_t prb, uint32_t nPrbUl)
        const;

    Time GetSlotDuration() const;
    /// D, U or S of a slot; 'F' (both) in FDD.
    char GetSlotType(uint64_t slot) const;
    /// Data symbols of a slot (PDSCH after the control symbols / PUSCH), 0: none.
    uint32_t GetDataSymbols(uint64_t slot, bool downlink) const;
    uint32_t GetNumPrb() const;
    Ptr<NrPhyAbstraction> GetPhy() const;
    /// RLC stream of a UDP destination port (OTHER_STREAM when none).
    uint32_t StreamOfPort(uint32_t port) const;

    /// Called by the devices: queue an IP packet for a UE (downlink: from the gNB).
    bool Enqueue(uint32_t ue, bool downlink, uint32_t stream, Ptr<Packet> packet, uint16_t protocol);
    /// The UE whose node owns an IPv4 address, -1 if none.
    int32_t FindUe(uint32_t ipv4Address);

    NrDirectionStats GetStats(bool downlink) const;
    NrDirectionStats GetUeStats(uint32_t ue, bool downlink) const;
    double GetOllaOffsetDb(uint32_t ue, bool downlink) const;
    /// Checks the attributes (a one-line std::invalid_argument naming the bad one).
    void Validate() const;
    /// Fixes the TB success draws; returns 1.
    int64_t AssignStreams(int64_t stream);

  private:
    struct Tb
    {
        uint32_t mcs{0};
        uint32_t nPrb{0};
        uint32_t nSymbols{0};
        uint32_t tbSize{0};
        uint32_t transmissions{0};
        double sumEffSinr{0.0}; ///< linear, chase combining
        uint32_t payload{0};
        std::vector<NrRlcSegment> segments;
    };

    struct Harq
    {
        bool busy{false};
        bool needsRetx{false};
        bool lastOk{false};
        bool awaiting{false}; ///< feedback of the last transmission pending
        uint64_t feedbackSlot{0};
        Tb tb;
    };

    struct Direction
    {
        std::map<uint32_t, NrRlcEntity> rlc; ///< stream -> entity
        std::vector<Harq> harq;
        double ollaDb{0.0};
        double avgBits{1.0}; ///< proportional fair: EWMA of served bits per slot
        uint64_t lastServed{0};
        uint64_t reportedBytes{0}; ///< UL: the last buffer status report
        NrDirectionStats stats;
    };

    struct Ue
    {
        Ptr<NrNetDevice> device;
        double pathLossDb{100.0};
        std::vector<float> fading;
        uint32_t fadingSlots{0};
        uint32_t fadingStart{0};
        int32_t fixedMcs{-1};
        bool fullBuffer[2]{false, false};
        std::array<Direction, 2> dir; ///< [0] UL, [1] DL
    };

    struct Decoded
    {
        uint32_t ue;
        bool downlink;
        uint32_t harqId;
    };

    struct Candidate
    {
        uint32_t ue;
        int32_t harqId{-1}; ///< retransmission of this process, or -1: new data
        uint32_t mcs{0};
        uint32_t nPrb{0};
        double metric{0.0};
    };

    void DoDispose() override;
    NrRlcMode ModeOf(uint32_t stream) const;
    void Wake();
    void DoSlot();
    bool IsIdle() const;
    void Schedule(bool downlink, uint32_t nSymbols);
    void Transmit(uint32_t ue, bool downlink, uint32_t harqId, uint32_t firstPrb);
    void Feedback(uint32_t ue, bool downlink, uint32_t harqId);
    void Deliver(uint32_t ue, bool downlink, uint32_t harqId);
    uint32_t SelectMcs(uint32_t ue, bool downlink, uint32_t nPrbRef, uint32_t nSymbols) const;
    /// Linear SINRs of PRBs firstPrb .. + nPrb - 1 (mod NumPrb) of a UE in a slot.
    void PrbSinrs(const Ue& u,
                  bool downlink,
                  uint64_t slot,
                  uint32_t firstPrb,
                  uint32_t nPrb,
                  uint32_t nPrbUl,
                  std::vector<double>& out) const;
    uint64_t BufferBytes(const Ue& u, bool downlink) const;
    NrRlcEntity& Entity(uint32_t ue, bool downlink, uint32_t stream);
    int32_t FreeHarq(const Direction& d) const;

    // attributes
    uint32_t m_numerology{1};
    uint32_t m_numPrb{51};
    std::string m_pattern{"FDD"};
    uint32_t m_sDlSymbols{10};
    uint32_t m_sGuardSymbols{2};
    uint32_t m_sUlSymbols{2};
    uint32_t m_ctrlSymbols{1};
    uint32_t m_dmrsRe{12};
    uint32_t m_xOverhead{0};
    uint32_t m_mcsTable{1};
    std::string m_scheduler{"rr"};
    uint32_t m_maxUesPerSlot{8};
    double m_pfTimeConstant{100.0};
    int32_t m_fixedMcs{-1};
    double m_blerTarget{0.1};
    double m_ollaStepDb{0.5};
    uint32_t m_csiDelay{4};
    uint32_t m_harqMaxTx{4};
    uint32_t m_harqProcesses{16};
    uint32_t m_harqFeedback{4};
    uint32_t m_ulHarqFeedback{4};
    double m_gnbPowerDbm{43.0};
    double m_uePowerDbm{23.0};
    double m_gnbNoiseFigureDb{5.0};
    double m_ueNoiseFigureDb{7.0};
    double m_noiseDbmHz{-174.0};
    uint32_t m_portBase{9000};
    uint32_t m_numStreams{8};
    std::string m_promptMode{"AM"};
    std::string m_streamMode{"UM"};
    std::string m_defaultMode{"AM"};
    uint32_t m_rlcHeader{4};
    uint64_t m_rlcMaxBuffer{1000000};

    Ptr<NrPhyAbstraction> m_phy;
    Ptr<NrNetDevice> m_gnb;
    std::vector<Ue> m_ues;
    Time m_slotDuration;
    bool m_running{false};
    bool m_valid{false}; ///< Validate() passed (checked on the first packet)
    uint64_t m_slot{0};
    int64_t m_lastSlotDone{-1};
    EventId m_event;
    std::vector<Decoded> m_decoded; ///< decoded in the current slot, delivered at its end
    std::map<uint32_t, int32_t> m_ipToUe;

    TracedCallback<const NrTbTraceInfo&> m_tbTrace;
};

} // namespace ns3

#endif
