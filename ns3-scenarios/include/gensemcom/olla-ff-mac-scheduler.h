// Link adaptation around any ns-3 FF MAC scheduler (PF, RR, FD-MT, TD-MT, ...): the wrapped
// scheduler keeps allocating resources and running HARQ, this class corrects the MCS choices
// so that first transmissions fail with the target BLER (10 % in LTE) in both directions:
//
//  - UL AMC: the FF schedulers map the SRS SINR of the worst allocated RB to an MCS through a
//    fixed SNR gap ("WILD ACK" in pf-ff-mac-scheduler.cc), and ignore that a power-limited UE
//    puts its power on the M allocated RBs of PUSCH, not on the whole band as for SRS. Here the
//    PUSCH SINR is predicted from the latest SRS SINR per RB and the UE's power control
//    (P0 nominal, alpha = 1, P_SRS offset, Pcmax: the power headroom the SRS shows). SRS is tens
//    of ms old, beyond the channel's coherence time, so the prediction is off by several dB: the
//    cell measures by how much (PUSCH SINR of each received TB against its prediction; prior
//    UlSinrErrorPriorDb) and the MCS is the highest one whose TB BLER averaged over that error,
//    by the same MI error model the eNB PHY applies (LteMiErrorModel), stays at the target.
//    HARQ retransmissions repeat their TB's MCS and size.
//  - Outer loop (OLLA), both directions: an offset per UE plus one per cell, lowered by `step`
//    on a NACK and raised by step * target / (1 - target) on an ACK of a first transmission,
//    added to the predicted UL SINR (dB) and to the DL CQI the UE reports (CQI steps).
#ifndef GENSEMCOM_OLLA_FF_MAC_SCHEDULER_H
#define GENSEMCOM_OLLA_FF_MAC_SCHEDULER_H

#include "ns3/ff-mac-csched-sap.h"
#include "ns3/ff-mac-sched-sap.h"
#include "ns3/ff-mac-scheduler.h"
#include "ns3/lte-amc.h"
#include "ns3/spectrum-model.h"

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ns3
{

class OllaFfMacScheduler : public FfMacScheduler
{
  public:
    static TypeId GetTypeId();
    OllaFfMacScheduler();
    ~OllaFfMacScheduler() override;

    void SetFfMacCschedSapUser(FfMacCschedSapUser* s) override;
    void SetFfMacSchedSapUser(FfMacSchedSapUser* s) override;
    FfMacCschedSapProvider* GetFfMacCschedSapProvider() override;
    FfMacSchedSapProvider* GetFfMacSchedSapProvider() override;
    void SetLteFfrSapProvider(LteFfrSapProvider* s) override;
    LteFfrSapUser* GetLteFfrSapUser() override;

    /// The wrapped scheduler (created from attribute Scheduler).
    Ptr<FfMacScheduler> GetInner() const;
    /// Mean and standard deviation (dB) of the UL SINR prediction error the cell has measured
    /// for allocations of `rbs` RBs: shrunk towards the cell's figures over all sizes, which are
    /// shrunk towards 0 and UlSinrErrorPriorDb, each prior worth 20 measurements.
    std::pair<double, double> GetUlSinrError(uint8_t rbs) const;
    /// Current outer-loop offsets of a UE: UL in dB, DL in CQI steps (cell part included).
    double GetUlOffsetDb(uint16_t rnti) const;
    double GetDlOffsetCqi(uint16_t rnti) const;

    /// Predicted PUSCH SINR (dB) of M RBs from an SRS SINR (dB, linear mean over the band):
    /// the SRS PSD plus the power a power-limited UE concentrates on M of the srsRbs RBs,
    /// capped by what closed-loop power control targets (alpha = 1). Exposed for tests.
    static double PuschGainDb(double srsSinrDb,
                              double targetSinrDb,
                              double srsOffsetDb,
                              uint16_t srsRbs,
                              uint16_t rbs);

  protected:
    void NotifyConstructionCompleted() override;
    void DoInitialize() override;
    void DoDispose() override;

  private:
    class SchedProvider;
    class SchedUser;
    class CschedProvider;
    friend class SchedProvider;
    friend class SchedUser;
    friend class CschedProvider;

    /// UL grant issued in one TTI (ring of 8, indexed by the UL scheduling TTI).
    struct UlSlot
    {
        uint64_t tti = UINT64_MAX;
        bool newData = false;
        uint8_t mcs = 0;
        uint16_t tbSize = 0;
        uint8_t rbStart = 0;
        uint8_t rbLen = 0;
        double predictedDb = 0; ///< predicted PUSCH SINR (band average, no outer loop), dB
    };

    struct UeState
    {
        std::vector<double> srsSinrDb; ///< latest SRS SINR per UL RB (empty: none yet)
        double ulOffsetDb = 0;
        double dlOffsetCqi = 0;
        std::array<UlSlot, 8> ul;
        std::map<uint8_t, uint8_t> dlRv; ///< DL HARQ process -> rv of its last transmission
    };

    // intercepted primitives
    void CellConfig(const FfMacCschedSapProvider::CschedCellConfigReqParameters& params);
    void UeRelease(uint16_t rnti);
    void DlCqi(const FfMacSchedSapProvider::SchedDlCqiInfoReqParameters& params);
    void DlTrigger(const FfMacSchedSapProvider::SchedDlTriggerReqParameters& params);
    void UlCqi(const FfMacSchedSapProvider::SchedUlCqiInfoReqParameters& params);
    void UlTrigger(const FfMacSchedSapProvider::SchedUlTriggerReqParameters& params);
    void DlConfigInd(const FfMacSchedSapUser::SchedDlConfigIndParameters& params);
    void UlConfigInd(const FfMacSchedSapUser::SchedUlConfigIndParameters& params);

    uint8_t UlMcs(UeState& ue, uint8_t rbStart, uint8_t rbLen, double& predictedDb) const;
    void Olla(double& cell, double& ue, bool ack, double step, double limit) const;

    // attributes
    std::string m_innerType;
    bool m_harqOn;
    double m_targetBler;
    bool m_ulAmc;
    bool m_ulOlla;
    bool m_dlOlla;
    double m_ulStepDb;
    double m_dlStepCqi;
    double m_cellShare;
    double m_maxUlOffsetDb;
    double m_maxDlOffsetCqi;
    double m_p0NominalPusch;
    double m_enbNoiseFigure;
    double m_pSrsOffset;
    double m_errPriorDb;

    Ptr<FfMacScheduler> m_inner;
    Ptr<LteAmc> m_amc;
    Ptr<SpectrumModel> m_ulModel;
    uint16_t m_ulBandwidth = 0;
    uint64_t m_ulTti = 0;
    double m_ulCellOffsetDb = 0;
    double m_dlCellOffsetCqi = 0;
    /// Running mean / variance (Welford) of PUSCH SINR prediction errors, dB.
    struct ErrStats
    {
        uint64_t n = 0;
        double mean = 0;
        double m2 = 0;
        void Add(double x);
    };
    ErrStats m_err;                        ///< all TBs of the cell
    std::map<uint8_t, ErrStats> m_errByRbs; ///< per allocation size (frequency diversity)
    std::map<uint16_t, UeState> m_ues;

    FfMacSchedSapUser* m_macSchedUser = nullptr;
    FfMacSchedSapProvider* m_innerSched = nullptr;
    FfMacCschedSapProvider* m_innerCsched = nullptr;
    std::unique_ptr<SchedProvider> m_schedProvider;
    std::unique_ptr<SchedUser> m_schedUser;
    std::unique_ptr<CschedProvider> m_cschedProvider;
};

} // namespace ns3

#endif
