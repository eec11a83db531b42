#include "gensemcom/olla-ff-mac-scheduler.h"

#include "ns3/boolean.h"
#include "ns3/double.h"
#include "ns3/enum.h"
#include "ns3/log.h"
#include "ns3/lte-common.h"
#include "ns3/lte-mi-error-model.h"
#include "ns3/lte-vendor-specific-parameters.h"
#include "ns3/object-factory.h"
#include "ns3/spectrum-value.h"
#include "ns3/string.h"

#include <algorithm>
#include <cmath>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("OllaFfMacScheduler");
NS_OBJECT_ENSURE_REGISTERED(OllaFfMacScheduler);

namespace
{
constexpr uint8_t kMaxUlMcs = 28;
constexpr double kRbHz = 180e3;
constexpr double kThermalDbmHz = -174.0;
// ns-3 processes UL HARQ feedback 7 TTIs after the UL grant it belongs to (the FF schedulers
// retransmit the DCI stored HARQ_PERIOD TTIs earlier).
constexpr uint64_t kUlHarqDelay = HARQ_PERIOD;
// The UL SINR prediction error is taken as normal: its 20 equiprobable quantiles (standard
// normal at (k + 0.5) / 20) average the BLER over it.
constexpr std::array<double, 20> kNormalQuantiles = {
    -1.959964, -1.439531, -1.150349, -0.934589, -0.755415, -0.597760, -0.453762,
    -0.318639, -0.189118, -0.062707, 0.062707,  0.189118,  0.318639,  0.453762,
    0.597760,  0.755415,  0.934589,  1.150349,  1.439531,  1.959964};
// Weight of the prior of the prediction error, in measurements.
constexpr double kErrPriorWeight = 20.0;
} // namespace

// MAC -> scheduler primitives: forwarded to the wrapped scheduler, some corrected on the way.
class OllaFfMacScheduler::SchedProvider : public FfMacSchedSapProvider
{
  public:
    explicit SchedProvider(OllaFfMacScheduler* s)
        : m_s(s)
    {
    }

    void SchedDlRlcBufferReq(const SchedDlRlcBufferReqParameters& p) override
    {
        m_s->m_innerSched->SchedDlRlcBufferReq(p);
    }

    void SchedDlPagingBufferReq(const SchedDlPagingBufferReqParameters& p) override
    {
        m_s->m_innerSched->SchedDlPagingBufferReq(p);
    }

    void SchedDlMacBufferReq(const SchedDlMacBufferReqParameters& p) override
    {
        m_s->m_innerSched->SchedDlMacBufferReq(p);
    }

    void SchedDlTriggerReq(const SchedDlTriggerReqParameters& p) override
    {
        m_s->DlTrigger(p);
    }

    void SchedDlRachInfoReq(const SchedDlRachInfoReqParameters& p) override
    {
        m_s->m_innerSched->SchedDlRachInfoReq(p);
    }

    void SchedDlCqiInfoReq(const SchedDlCqiInfoReqParameters& p) override
    {
        m_s->DlCqi(p);
    }

    void SchedUlTriggerReq(const SchedUlTriggerReqParameters& p) override
    {
        m_s->UlTrigger(p);
    }

    void SchedUlNoiseInterferenceReq(const SchedUlNoiseInterferenceReqParameters& p) override
    {
        m_s->m_innerSched->SchedUlNoiseInterferenceReq(p);
    }

    void SchedUlSrInfoReq(const SchedUlSrInfoReqParameters& p) override
    {
        m_s->m_innerSched->SchedUlSrInfoReq(p);
    }

    void SchedUlMacCtrlInfoReq(const SchedUlMacCtrlInfoReqParameters& p) override
    {
        m_s->m_innerSched->SchedUlMacCtrlInfoReq(p);
    }

    void SchedUlCqiInfoReq(const SchedUlCqiInfoReqParameters& p) override
    {
        m_s->UlCqi(p);
    }

  private:
    OllaFfMacScheduler* m_s;
};

// Wrapped scheduler -> MAC: the DCIs pass through here.
class OllaFfMacScheduler::SchedUser : public FfMacSchedSapUser
{
  public:
    explicit SchedUser(OllaFfMacScheduler* s)
        : m_s(s)
    {
    }

    void SchedDlConfigInd(const SchedDlConfigIndParameters& p) override
    {
        m_s->DlConfigInd(p);
    }

    void SchedUlConfigInd(const SchedUlConfigIndParameters& p) override
    {
        m_s->UlConfigInd(p);
    }

  private:
    OllaFfMacScheduler* m_s;
};

class OllaFfMacScheduler::CschedProvider : public FfMacCschedSapProvider
{
  public:
    explicit CschedProvider(OllaFfMacScheduler* s)
        : m_s(s)
    {
    }

    void CschedCellConfigReq(const CschedCellConfigReqParameters& p) override
    {
        m_s->CellConfig(p);
    }

    void CschedUeConfigReq(const CschedUeConfigReqParameters& p) override
    {
        m_s->m_innerCsched->CschedUeConfigReq(p);
    }

    void CschedLcConfigReq(const CschedLcConfigReqParameters& p) override
    {
        m_s->m_innerCsched->CschedLcConfigReq(p);
    }

    void CschedLcReleaseReq(const CschedLcReleaseReqParameters& p) override
    {
        m_s->m_innerCsched->CschedLcReleaseReq(p);
    }

    void CschedUeReleaseReq(const CschedUeReleaseReqParameters& p) override
    {
        m_s->UeRelease(p.m_rnti);
        m_s->m_innerCsched->CschedUeReleaseReq(p);
    }

  private:
    OllaFfMacScheduler* m_s;
};

TypeId
OllaFfMacScheduler::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::OllaFfMacScheduler")
            .SetParent<FfMacScheduler>()
            .SetGroupName("Gensemcom")
            .AddConstructor<OllaFfMacScheduler>()
            .AddAttribute("Scheduler",
                          "TypeId of the wrapped FF MAC scheduler (resource allocation, HARQ).",
                          StringValue("ns3::PfFfMacScheduler"),
                          MakeStringAccessor(&OllaFfMacScheduler::m_innerType),
                          MakeStringChecker())
            .AddAttribute("HarqEnabled",
                          "Passed to the wrapped scheduler.",
                          BooleanValue(true),
                          MakeBooleanAccessor(&OllaFfMacScheduler::m_harqOn),
                          MakeBooleanChecker())
            .AddAttribute("TargetBler",
                          "First-transmission BLER the link adaptation aims at (both directions).",
                          DoubleValue(0.1),
                          MakeDoubleAccessor(&OllaFfMacScheduler::m_targetBler),
                          MakeDoubleChecker<double>(0.001, 0.5))
            .AddAttribute("UlAmc",
                          "Choose the UL MCS from the predicted PUSCH SINR with the MI error "
                          "model (else keep the wrapped scheduler's MCS).",
                          BooleanValue(true),
                          MakeBooleanAccessor(&OllaFfMacScheduler::m_ulAmc),
                          MakeBooleanChecker())
            .AddAttribute("UlOlla",
                          "Outer loop on the UL (needs UlAmc).",
                          BooleanValue(true),
                          MakeBooleanAccessor(&OllaFfMacScheduler::m_ulOlla),
                          MakeBooleanChecker())
            .AddAttribute("DlOlla",
                          "Outer loop on the DL CQI.",
                          BooleanValue(true),
                          MakeBooleanAccessor(&OllaFfMacScheduler::m_dlOlla),
                          MakeBooleanChecker())
            .AddAttribute("UlStepDb",
                          "UL outer-loop step on a NACK, dB (an ACK raises by step * T / (1 - T)).",
                          DoubleValue(1.0),
                          MakeDoubleAccessor(&OllaFfMacScheduler::m_ulStepDb),
                          MakeDoubleChecker<double>(0.0))
            .AddAttribute("DlStepCqi",
                          "DL outer-loop step on a NACK, in CQI steps.",
                          DoubleValue(0.5),
                          MakeDoubleAccessor(&OllaFfMacScheduler::m_dlStepCqi),
                          MakeDoubleChecker<double>(0.0))
            .AddAttribute("CellShare",
                          "Share of each outer-loop step that goes to the cell-wide offset "
                          "(the rest to the UE's own): UEs with few TBs learn from the others.",
                          DoubleValue(0.5),
                          MakeDoubleAccessor(&OllaFfMacScheduler::m_cellShare),
                          MakeDoubleChecker<double>(0.0, 1.0))
            .AddAttribute("MaxUlOffsetDb",
                          "Bound of each UL offset (cell, UE), dB.",
                          DoubleValue(20.0),
                          MakeDoubleAccessor(&OllaFfMacScheduler::m_maxUlOffsetDb),
                          MakeDoubleChecker<double>(0.0))
            .AddAttribute("MaxDlOffsetCqi",
                          "Bound of each DL offset (cell, UE), CQI steps.",
                          DoubleValue(6.0),
                          MakeDoubleAccessor(&OllaFfMacScheduler::m_maxDlOffsetCqi),
                          MakeDoubleChecker<double>(0.0))
            .AddAttribute("PoNominalPusch",
                          "P0 nominal PUSCH the UEs use (LteUePowerControl), dBm per RB.",
                          DoubleValue(-80.0),
                          MakeDoubleAccessor(&OllaFfMacScheduler::m_p0NominalPusch),
                          MakeDoubleChecker<double>())
            .AddAttribute("PsrsOffset",
                          "P_SRS_OFFSET the UEs use (LteUePowerControl; dB = -10.5 + 1.5 x).",
                          DoubleValue(7.0),
                          MakeDoubleAccessor(&OllaFfMacScheduler::m_pSrsOffset),
                          MakeDoubleChecker<double>())
            .AddAttribute("UlSinrErrorPriorDb",
                          "Standard deviation of the UL SINR prediction error (dB) assumed until "
                          "the cell has measured it on PUSCH (SRS older than the coherence time).",
                          DoubleValue(4.0),
                          MakeDoubleAccessor(&OllaFfMacScheduler::m_errPriorDb),
                          MakeDoubleChecker<double>(0.0))
            .AddAttribute("EnbNoiseFigure",
                          "Noise figure of the eNB receiver (LteEnbPhy NoiseFigure), dB.",
                          DoubleValue(5.0),
                          MakeDoubleAccessor(&OllaFfMacScheduler::m_enbNoiseFigure),
                          MakeDoubleChecker<double>());
    return tid;
}

OllaFfMacScheduler::OllaFfMacScheduler()
    : m_schedProvider(std::make_unique<SchedProvider>(this)),
      m_schedUser(std::make_unique<SchedUser>(this)),
      m_cschedProvider(std::make_unique<CschedProvider>(this))
{
}

OllaFfMacScheduler::~OllaFfMacScheduler() = default;

void
OllaFfMacScheduler::NotifyConstructionCompleted()
{
    FfMacScheduler::NotifyConstructionCompleted();
    ObjectFactory factory;
    factory.SetTypeId(m_innerType);
    TypeId tid = TypeId::LookupByName(m_innerType);
    TypeId::AttributeInformation info;
    if (tid.LookupAttributeByName("HarqEnabled", &info))
    {
        factory.Set("HarqEnabled", BooleanValue(m_harqOn));
    }
    factory.Set("UlCqiFilter", EnumValue<UlCqiFilter_t>(m_ulCqiFilter));
    m_inner = factory.Create<FfMacScheduler>();
    m_innerSched = m_inner->GetFfMacSchedSapProvider();
    m_innerCsched = m_inner->GetFfMacCschedSapProvider();
    m_inner->SetFfMacSchedSapUser(m_schedUser.get());
    m_amc = CreateObject<LteAmc>();
}

void
OllaFfMacScheduler::DoInitialize()
{
    m_inner->Initialize();
    FfMacScheduler::DoInitialize();
}

void
OllaFfMacScheduler::DoDispose()
{
    if (m_inner)
    {
        m_inner->Dispose();
        m_inner = nullptr;
    }
    m_amc = nullptr;
    m_ues.clear();
    FfMacScheduler::DoDispose();
}

void
OllaFfMacScheduler::SetFfMacCschedSapUser(FfMacCschedSapUser* s)
{
    m_inner->SetFfMacCschedSapUser(s);
}

void
OllaFfMacScheduler::SetFfMacSchedSapUser(FfMacSchedSapUser* s)
{
    m_macSchedUser = s;
}

FfMacCschedSapProvider*
OllaFfMacScheduler::GetFfMacCschedSapProvider()
{
    return m_cschedProvider.get();
}

FfMacSchedSapProvider*
OllaFfMacScheduler::GetFfMacSchedSapProvider()
{
    return m_schedProvider.get();
}

void
OllaFfMacScheduler::SetLteFfrSapProvider(LteFfrSapProvider* s)
{
    m_inner->SetLteFfrSapProvider(s);
}

LteFfrSapUser*
OllaFfMacScheduler::GetLteFfrSapUser()
{
    return m_inner->GetLteFfrSapUser();
}

Ptr<FfMacScheduler>
OllaFfMacScheduler::GetInner() const
{
    return m_inner;
}

double
OllaFfMacScheduler::GetUlOffsetDb(uint16_t rnti) const
{
    auto it = m_ues.find(rnti);
    return m_ulCellOffsetDb + (it == m_ues.end() ? 0.0 : it->second.ulOffsetDb);
}

double
OllaFfMacScheduler::GetDlOffsetCqi(uint16_t rnti) const
{
    auto it = m_ues.find(rnti);
    return m_dlCellOffsetCqi + (it == m_ues.end() ? 0.0 : it->second.dlOffsetCqi);
}

void
OllaFfMacScheduler::ErrStats::Add(double x)
{
    ++n;
    double delta = x - mean;
    mean += delta / double(n);
    m2 += delta * (x - mean);
}

std::pair<double, double>
OllaFfMacScheduler::GetUlSinrError(uint8_t rbs) const
{
    // cell: prior mean 0, prior deviation UlSinrErrorPriorDb
    double n = double(m_err.n);
    double w = kErrPriorWeight;
    double mean = n * m_err.mean / (w + n);
    double var = (w * m_errPriorDb * m_errPriorDb + m_err.m2) / (w + n);
    // this allocation size: prior the cell's figures
    auto it = m_errByRbs.find(rbs);
    if (it != m_errByRbs.end())
    {
        double k = double(it->second.n);
        mean = (w * mean + k * it->second.mean) / (w + k);
        var = (w * var + it->second.m2) / (w + k);
    }
    return {mean, std::sqrt(var)};
}

double
OllaFfMacScheduler::PuschGainDb(double srsSinrDb,
                                   double targetSinrDb,
                                   double srsOffsetDb,
                                   uint16_t srsRbs,
                                   uint16_t rbs)
{
    // SRS and PUSCH follow the same open loop (TS 36.213 5.1.1.1 / 5.1.3.1): desired PSD
    // D = P0 + PL (+ P_SRS offset for SRS), capped by Pcmax spread over the RBs used. An SRS
    // received below its target by `shortfall` dB was capped: the UE has shortfall dB less than
    // it wants over srsRbs RBs, so over rbs RBs it has 10 log10(srsRbs / rbs) dB more per RB,
    // up to what it wants.
    double shortfall = std::max(0.0, targetSinrDb + srsOffsetDb - srsSinrDb);
    double concentration = 10.0 * std::log10(double(srsRbs) / double(std::max<uint16_t>(rbs, 1)));
    return std::min(concentration, shortfall - srsOffsetDb);
}

void
OllaFfMacScheduler::CellConfig(
    const FfMacCschedSapProvider::CschedCellConfigReqParameters& params)
{
    m_ulBandwidth = params.m_ulBandwidth;
    std::vector<double> freqs;
    for (uint16_t i = 0; i < m_ulBandwidth; ++i)
    {
        freqs.push_back(i * kRbHz);
    }
    m_ulModel = Create<SpectrumModel>(freqs);
    m_innerCsched->CschedCellConfigReq(params);
}

void
OllaFfMacScheduler::UeRelease(uint16_t rnti)
{
    m_ues.erase(rnti);
}

void
OllaFfMacScheduler::Olla(double& cell, double& ue, bool ack, double step, double limit) const
{
    double delta = ack ? step * m_targetBler / (1.0 - m_targetBler) : -step;
    cell = std::clamp(cell + m_cellShare * delta, -limit, limit);
    ue = std::clamp(ue + (1.0 - m_cellShare) * delta, -limit, limit);
}

void
OllaFfMacScheduler::DlCqi(const FfMacSchedSapProvider::SchedDlCqiInfoReqParameters& params)
{
    if (!m_dlOlla)
    {
        m_innerSched->SchedDlCqiInfoReq(params);
        return;
    }
    FfMacSchedSapProvider::SchedDlCqiInfoReqParameters p = params;
    auto shift = [](uint8_t& cqi, long k) {
        if (cqi > 0 && cqi <= 15) // 0: out of range, stays so
        {
            cqi = uint8_t(std::clamp<long>(long(cqi) + k, 1, 15));
        }
    };
    for (auto& cqi : p.m_cqiList)
    {
        long k = std::lround(GetDlOffsetCqi(cqi.m_rnti));
        if (k == 0)
        {
            continue;
        }
        for (auto& wb : cqi.m_wbCqi)
        {
            shift(wb, k);
        }
        for (auto& sb : cqi.m_sbMeasResult.m_higherLayerSelected)
        {
            for (auto& c : sb.m_sbCqi)
            {
                shift(c, k);
            }
        }
    }
    m_innerSched->SchedDlCqiInfoReq(p);
}

void
OllaFfMacScheduler::DlTrigger(const FfMacSchedSapProvider::SchedDlTriggerReqParameters& params)
{
    for (const auto& fb : params.m_dlInfoList)
    {
        auto ue = m_ues.find(fb.m_rnti);
        if (!m_dlOlla || ue == m_ues.end() || fb.m_harqStatus.empty())
        {
            continue;
        }
        auto rv = ue->second.dlRv.find(fb.m_harqProcessId);
        if (rv == ue->second.dlRv.end() || rv->second != 0)
        {
            continue; // feedback of a retransmission: the outer loop counts first transmissions
        }
        auto status = fb.m_harqStatus.at(0);
        if (status == DlInfoListElement_s::ACK || status == DlInfoListElement_s::NACK)
        {
            Olla(m_dlCellOffsetCqi,
                 ue->second.dlOffsetCqi,
                 status == DlInfoListElement_s::ACK,
                 m_dlStepCqi,
                 m_maxDlOffsetCqi);
        }
    }
    m_innerSched->SchedDlTriggerReq(params);
}

void
OllaFfMacScheduler::DlConfigInd(const FfMacSchedSapUser::SchedDlConfigIndParameters& params)
{
    for (const auto& data : params.m_buildDataList)
    {
        if (!data.m_dci.m_rv.empty())
        {
            m_ues[data.m_rnti].dlRv[data.m_dci.m_harqProcess] = data.m_dci.m_rv.at(0);
        }
    }
    m_macSchedUser->SchedDlConfigInd(params);
}

void
OllaFfMacScheduler::UlCqi(const FfMacSchedSapProvider::SchedUlCqiInfoReqParameters& params)
{
    if (params.m_ulCqi.m_type == UlCqi_s::SRS)
    {
        for (const auto& vsp : params.m_vendorSpecificList)
        {
            if (vsp.m_type == SRS_CQI_RNTI_VSP)
            {
                uint16_t rnti = DynamicCast<SrsCqiRntiVsp>(vsp.m_value)->GetRnti();
                auto& sinr = m_ues[rnti].srsSinrDb;
                sinr.clear();
                for (uint16_t v : params.m_ulCqi.m_sinr)
                {
                    sinr.push_back(LteFfConverter::fpS11dot3toDouble(v));
                }
            }
        }
    }
    else if (params.m_ulCqi.m_type == UlCqi_s::PUSCH && m_ulTti >= kUlHarqDelay - 1)
    {
        // PUSCH SINR of the TBs granted HARQ_PERIOD TTIs before the coming UL trigger
        uint64_t tti = m_ulTti + 1 - kUlHarqDelay;
        for (auto& [rnti, ue] : m_ues)
        {
            const UlSlot& slot = ue.ul.at(tti % 8);
            if (slot.tti != tti || !slot.newData || std::isnan(slot.predictedDb))
            {
                continue;
            }
            double sum = 0;
            for (int i = slot.rbStart; i < slot.rbStart + slot.rbLen; ++i)
            {
                sum += std::pow(10.0, LteFfConverter::fpS11dot3toDouble(params.m_ulCqi.m_sinr.at(i)) / 10.0);
            }
            double actualDb = 10.0 * std::log10(sum / slot.rbLen);
            if (!std::isfinite(actualDb))
            {
                continue; // the UE left the grant unused: nothing was sent
            }
            double err = actualDb - slot.predictedDb;
            m_err.Add(err);
            m_errByRbs[slot.rbLen].Add(err);
            NS_LOG_INFO("PUSCH RNTI " << rnti << " rbs " << int(slot.rbLen) << " mcs " << int(slot.mcs)
                                      << " predicted " << slot.predictedDb << " actual " << actualDb
                                      << " olla " << GetUlOffsetDb(rnti));
        }
    }
    m_innerSched->SchedUlCqiInfoReq(params);
}

void
OllaFfMacScheduler::UlTrigger(const FfMacSchedSapProvider::SchedUlTriggerReqParameters& params)
{
    ++m_ulTti;
    for (const auto& fb : params.m_ulInfoList)
    {
        auto ue = m_ues.find(fb.m_rnti);
        if (!m_ulOlla || !m_ulAmc || ue == m_ues.end() ||
            fb.m_receptionStatus == UlInfoListElement_s::NotValid || m_ulTti < kUlHarqDelay)
        {
            continue;
        }
        const UlSlot& slot = ue->second.ul.at((m_ulTti - kUlHarqDelay) % 8);
        if (slot.tti != m_ulTti - kUlHarqDelay)
        {
            NS_LOG_DEBUG("UL HARQ feedback of RNTI " << fb.m_rnti << " matches no grant");
            continue;
        }
        if (slot.newData)
        {
            Olla(m_ulCellOffsetDb,
                 ue->second.ulOffsetDb,
                 fb.m_receptionStatus == UlInfoListElement_s::Ok,
                 m_ulStepDb,
                 m_maxUlOffsetDb);
        }
    }
    m_innerSched->SchedUlTriggerReq(params);
}

uint8_t
OllaFfMacScheduler::UlMcs(UeState& ue, uint8_t rbStart, uint8_t rbLen, double& predictedDb) const
{
    const auto& srs = ue.srsSinrDb;
    double mean = 0;
    for (double db : srs)
    {
        mean += std::pow(10.0, db / 10.0);
    }
    double srsDb = 10.0 * std::log10(mean / double(srs.size()));
    double noiseDbm = kThermalDbmHz + 10.0 * std::log10(kRbHz) + m_enbNoiseFigure;
    double targetDb = m_p0NominalPusch - noiseDbm;
    double gainDb = PuschGainDb(srsDb, targetDb, -10.5 + 1.5 * m_pSrsOffset, srs.size(), rbLen);
    predictedDb = srsDb + gainDb;
    double offsetDb = gainDb + (m_ulOlla ? m_ulCellOffsetDb + ue.ulOffsetDb : 0.0);
    // The MI over the whole band's SRS SINR: SRS is tens of ms old, far beyond the coherence
    // time of a 70 Hz Doppler channel, so only its frequency average predicts the next TTI, and
    // only to within the measured error: the BLER is averaged over its quantiles.
    auto [errMean, errSd] = GetUlSinrError(rbLen);
    std::vector<int> map;
    for (size_t i = 0; i < srs.size() && i < m_ulBandwidth; ++i)
    {
        map.push_back(int(i));
    }
    std::vector<SpectrumValue> shifted;
    for (double q : kNormalQuantiles)
    {
        SpectrumValue sinr(m_ulModel);
        for (int i : map)
        {
            sinr[i] = std::pow(10.0, (srs[i] + offsetDb + errMean + errSd * q) / 10.0);
        }
        shifted.push_back(sinr);
        if (errSd == 0)
        {
            break; // no uncertainty: one evaluation
        }
    }
    auto bler = [&](int mcs) {
        auto bytes = uint16_t(m_amc->GetUlTbSizeFromMcs(mcs, rbLen) / 8);
        double sum = 0;
        for (const auto& sinr : shifted)
        {
            sum += LteMiErrorModel::GetTbDecodificationStats(sinr, map, bytes, mcs, {}).tbler;
        }
        return sum / double(shifted.size());
    };
    // highest MCS meeting the target (the BLER grows with the MCS): binary search
    int lo = 0;
    int hi = kMaxUlMcs;
    if (bler(hi) <= m_targetBler)
    {
        return uint8_t(hi);
    }
    while (hi - lo > 1)
    {
        int mid = (lo + hi) / 2;
        (bler(mid) <= m_targetBler ? lo : hi) = mid;
    }
    return uint8_t(lo);
}

void
OllaFfMacScheduler::UlConfigInd(const FfMacSchedSapUser::SchedUlConfigIndParameters& params)
{
    FfMacSchedSapUser::SchedUlConfigIndParameters p = params;
    for (auto& dci : p.m_dciList)
    {
        UeState& ue = m_ues[dci.m_rnti];
        UlSlot& slot = ue.ul.at(m_ulTti % 8);
        if (dci.m_ndi == 1)
        {
            double predictedDb = NAN;
            if (m_ulAmc && ue.srsSinrDb.size() == m_ulBandwidth && m_ulBandwidth > 0)
            {
                dci.m_mcs = UlMcs(ue, dci.m_rbStart, dci.m_rbLen, predictedDb);
                dci.m_tbSize = uint16_t(m_amc->GetUlTbSizeFromMcs(dci.m_mcs, dci.m_rbLen) / 8);
            }
            slot = UlSlot{m_ulTti, true, dci.m_mcs, dci.m_tbSize, dci.m_rbStart, dci.m_rbLen,
                          predictedDb};
        }
        else
        {
            // The wrapped scheduler repeats the DCI it stored for the TB: give it back the MCS
            // and size the TB was really sent with (the grant of HARQ_PERIOD TTIs earlier).
            const UlSlot& first = ue.ul.at((m_ulTti + 8 - kUlHarqDelay) % 8);
            if (m_ulTti >= kUlHarqDelay && first.tti == m_ulTti - kUlHarqDelay &&
                first.rbStart == dci.m_rbStart && first.rbLen == dci.m_rbLen)
            {
                dci.m_mcs = first.mcs;
                dci.m_tbSize = first.tbSize;
            }
            slot = UlSlot{m_ulTti, false, dci.m_mcs, dci.m_tbSize, dci.m_rbStart, dci.m_rbLen, NAN};
        }
    }
    m_macSchedUser->SchedUlConfigInd(p);
}

} // namespace ns3
