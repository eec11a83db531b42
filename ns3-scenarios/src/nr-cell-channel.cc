#include "gensemcom/nr-cell-channel.h"

#include "gensemcom/nr-net-device.h"

#include "ns3/double.h"
#include "ns3/integer.h"
#include "ns3/ipv4.h"
#include "ns3/log.h"
#include "ns3/node.h"
#include "ns3/pointer.h"
#include "ns3/packet.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("NrCellChannel");
NS_OBJECT_ENSURE_REGISTERED(NrCellChannel);

namespace
{
constexpr NrPhyChannel kPhyChannel = NrPhyChannel::PDSCH; // PDSCH and CP-OFDM PUSCH
constexpr uint32_t kRv[] = {0, 2, 3, 1};                  // 38.321 RV sequence

[[noreturn]] void
Fail(const std::string& what)
{
    throw std::invalid_argument("NrCellChannel: " + what);
}

/// 38.101-1 Table 5.3.2-1 (FR1: 15 kHz 50 MHz, 30 kHz 100 MHz) and 38.101-2 Table 5.3.2-1
/// (FR2: 60 kHz 200 MHz, 120 kHz 400 MHz): largest transmission bandwidth in PRBs.
uint32_t
MaxPrb(uint32_t mu)
{
    static constexpr uint32_t kMax[] = {270, 273, 264, 264};
    return kMax[mu];
}
} // namespace

TypeId
NrCellChannel::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::NrCellChannel")
            .SetParent<Channel>()
            .SetGroupName("Gensemcom")
            .AddConstructor<NrCellChannel>()
            .AddAttribute("Numerology",
                          "mu: SCS 15 * 2^mu kHz, slots of 1/2^mu ms (0..3).",
                          UintegerValue(1),
                          MakeUintegerAccessor(&NrCellChannel::m_numerology),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("NumPrb",
                          "Bandwidth in PRBs (each direction in FDD); at most the 38.101 "
                          "maximum of the SCS: 270, 273, 264, 264 for mu = 0..3.",
                          UintegerValue(51),
                          MakeUintegerAccessor(&NrCellChannel::m_numPrb),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("TddPattern",
                          "\"FDD\" (every slot DL and UL, paired carriers), or a TDD pattern "
                          "of slots D, U and S repeated in time, e.g. DDDSU.",
                          StringValue("FDD"),
                          MakeStringAccessor(&NrCellChannel::m_pattern),
                          MakeStringChecker())
            .AddAttribute("SSlotDlSymbols",
                          "DL symbols of an S slot (the first ones).",
                          UintegerValue(10),
                          MakeUintegerAccessor(&NrCellChannel::m_sDlSymbols),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("SSlotGuardSymbols",
                          "Guard symbols of an S slot (DL + guard + UL = 14).",
                          UintegerValue(2),
                          MakeUintegerAccessor(&NrCellChannel::m_sGuardSymbols),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("SSlotUlSymbols",
                          "UL symbols of an S slot (the last ones).",
                          UintegerValue(2),
                          MakeUintegerAccessor(&NrCellChannel::m_sUlSymbols),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("CtrlSymbols",
                          "PDCCH symbols at the start of every slot with DL symbols.",
                          UintegerValue(1),
                          MakeUintegerAccessor(&NrCellChannel::m_ctrlSymbols),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("DmrsRePerPrb",
                          "DMRS REs per PRB of a PDSCH/PUSCH allocation (12: one symbol, "
                          "type 1, no data in its CDM groups).",
                          UintegerValue(12),
                          MakeUintegerAccessor(&NrCellChannel::m_dmrsRe),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("XOverhead",
                          "xOverhead REs per PRB (38.214 5.1.3.2: 0, 6, 12 or 18).",
                          UintegerValue(0),
                          MakeUintegerAccessor(&NrCellChannel::m_xOverhead),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("McsTable",
                          "38.214 MCS table: 1 (5.1.3.1-1, 64QAM) or 2 (5.1.3.1-2, 256QAM).",
                          UintegerValue(1),
                          MakeUintegerAccessor(&NrCellChannel::m_mcsTable),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("Scheduler",
                          "\"rr\" (round robin) or \"pf\" (proportional fair).",
                          StringValue("rr"),
                          MakeStringAccessor(&NrCellChannel::m_scheduler),
                          MakeStringChecker())
            .AddAttribute("MaxUesPerSlot",
                          "UEs scheduled per slot and direction (PDCCH capacity).",
                          UintegerValue(8),
                          MakeUintegerAccessor(&NrCellChannel::m_maxUesPerSlot),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("PfTimeConstant",
                          "Proportional fair: averaging window of the served rate (slots).",
                          DoubleValue(100.0),
                          MakeDoubleAccessor(&NrCellChannel::m_pfTimeConstant),
                          MakeDoubleChecker<double>())
            .AddAttribute("FixedMcs",
                          "MCS of every TB (link adaptation off); -1: link adaptation.",
                          IntegerValue(-1),
                          MakeIntegerAccessor(&NrCellChannel::m_fixedMcs),
                          MakeIntegerChecker<int32_t>())
            .AddAttribute("BlerTarget",
                          "First-transmission TB error rate link adaptation aims at.",
                          DoubleValue(0.1),
                          MakeDoubleAccessor(&NrCellChannel::m_blerTarget),
                          MakeDoubleChecker<double>())
            .AddAttribute("OllaStepDb",
                          "Outer loop: the offset rises by step * target on an ACK and falls "
                          "by step * (1 - target) on a NACK (first transmissions).",
                          DoubleValue(0.5),
                          MakeDoubleAccessor(&NrCellChannel::m_ollaStepDb),
                          MakeDoubleChecker<double>())
            .AddAttribute("CsiDelaySlots",
                          "Link adaptation uses the channel of this many slots ago (CSI / SRS).",
                          UintegerValue(4),
                          MakeUintegerAccessor(&NrCellChannel::m_csiDelay),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("HarqMaxTx",
                          "Transmissions of a TB, the first included.",
                          UintegerValue(4),
                          MakeUintegerAccessor(&NrCellChannel::m_harqMaxTx),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("HarqProcesses",
                          "HARQ processes per UE and direction (set before the UEs attach).",
                          UintegerValue(16),
                          MakeUintegerAccessor(&NrCellChannel::m_harqProcesses),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("HarqFeedbackSlots",
                          "DL: slots from a PDSCH to its ACK/NACK at the gNB (K1); a "
                          "retransmission comes at the earliest then.",
                          UintegerValue(4),
                          MakeUintegerAccessor(&NrCellChannel::m_harqFeedback),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("UlHarqFeedbackSlots",
                          "UL: slots from a PUSCH to the slot its retransmission may use "
                          "(the gNB's decoding and the new grant, K2).",
                          UintegerValue(4),
                          MakeUintegerAccessor(&NrCellChannel::m_ulHarqFeedback),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("GnbTxPowerDbm",
                          "gNB transmit power over the whole band, spread evenly over PRBs.",
                          DoubleValue(43.0),
                          MakeDoubleAccessor(&NrCellChannel::m_gnbPowerDbm),
                          MakeDoubleChecker<double>())
            .AddAttribute("UeTxPowerDbm",
                          "UE transmit power, spread evenly over the PRBs it is given.",
                          DoubleValue(23.0),
                          MakeDoubleAccessor(&NrCellChannel::m_uePowerDbm),
                          MakeDoubleChecker<double>())
            .AddAttribute("GnbNoiseFigureDb",
                          "Noise figure of the gNB receiver (UL).",
                          DoubleValue(5.0),
                          MakeDoubleAccessor(&NrCellChannel::m_gnbNoiseFigureDb),
                          MakeDoubleChecker<double>())
            .AddAttribute("UeNoiseFigureDb",
                          "Noise figure of a UE receiver (DL).",
                          DoubleValue(7.0),
                          MakeDoubleAccessor(&NrCellChannel::m_ueNoiseFigureDb),
                          MakeDoubleChecker<double>())
            .AddAttribute("NoiseDbmHz",
                          "Thermal noise density.",
                          DoubleValue(-174.0),
                          MakeDoubleAccessor(&NrCellChannel::m_noiseDbmHz),
                          MakeDoubleChecker<double>())
            .AddAttribute("StreamPortBase",
                          "UDP destination port of RLC stream 0 (SemanticApp's ListenPort).",
                          UintegerValue(9000),
                          MakeUintegerAccessor(&NrCellChannel::m_portBase),
                          MakeUintegerChecker<uint32_t>(0, 65535))
            .AddAttribute("NumStreams",
                          "Ports StreamPortBase .. + NumStreams - 1 are streams 0 .. N - 1.",
                          UintegerValue(8),
                          MakeUintegerAccessor(&NrCellChannel::m_numStreams),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("PromptRlcMode",
                          "RLC mode of stream 0 (the prompt): AM or UM.",
                          StringValue("AM"),
                          MakeStringAccessor(&NrCellChannel::m_promptMode),
                          MakeStringChecker())
            .AddAttribute("StreamRlcMode",
                          "RLC mode of streams 1 .. N - 1 (conditioning): AM or UM.",
                          StringValue("UM"),
                          MakeStringAccessor(&NrCellChannel::m_streamMode),
                          MakeStringChecker())
            .AddAttribute("DefaultRlcMode",
                          "RLC mode of other traffic: AM or UM.",
                          StringValue("AM"),
                          MakeStringAccessor(&NrCellChannel::m_defaultMode),
                          MakeStringChecker())
            .AddAttribute("RlcHeaderBytes",
                          "Bytes of a TB per RLC segment besides its payload (RLC header and "
                          "MAC subheader).",
                          UintegerValue(4),
                          MakeUintegerAccessor(&NrCellChannel::m_rlcHeader),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("RlcMaxBufferBytes",
                          "Bytes an RLC entity queues; a packet that does not fit is refused.",
                          UintegerValue(1000000),
                          MakeUintegerAccessor(&NrCellChannel::m_rlcMaxBuffer),
                          MakeUintegerChecker<uint64_t>())
            .AddAttribute("Phy",
                          "The NrPhyAbstraction of the cell (its TableFile must be set).",
                          PointerValue(),
                          MakePointerAccessor(&NrCellChannel::m_phy),
                          MakePointerChecker<NrPhyAbstraction>())
            .AddTraceSource("Tb",
                            "A transport block has been sent (first transmission or a "
                            "retransmission) and its decoding drawn.",
                            MakeTraceSourceAccessor(&NrCellChannel::m_tbTrace),
                            "ns3::NrCellChannel::TbTracedCallback");
    return tid;
}

NrCellChannel::NrCellChannel()
{
    NS_LOG_FUNCTION(this);
}

NrCellChannel::~NrCellChannel()
{
    NS_LOG_FUNCTION(this);
}

void
NrCellChannel::Validate() const
{
    if (m_numerology > 3)
    {
        Fail("Numerology " + std::to_string(m_numerology) + " is not one of 0, 1, 2, 3");
    }
    const uint32_t scs = 15u << m_numerology;
    if (m_numPrb < 1 || m_numPrb > MaxPrb(m_numerology))
    {
        Fail("NumPrb " + std::to_string(m_numPrb) + " is outside 1.." +
             std::to_string(MaxPrb(m_numerology)) + " (38.101 maximum at " + std::to_string(scs) +
             " kHz SCS)");
    }
    if (m_pattern != "FDD")
    {
        if (m_pattern.empty())
        {
            Fail("TddPattern is empty (FDD, or slots D, U, S)");
        }
        for (char c : m_pattern)
        {
            if (c != 'D' && c != 'U' && c != 'S')
            {
                Fail(std::string("TddPattern \"") + m_pattern + "\": unknown slot symbol '" + c +
                     "' (D, U or S)");
            }
        }
    }
    if (m_sDlSymbols + m_sGuardSymbols + m_sUlSymbols != NrPhyAbstraction::SYMBOLS_PER_SLOT)
    {
        Fail("SSlotDlSymbols + SSlotGuardSymbols + SSlotUlSymbols must be 14, not " +
             std::to_string(m_sDlSymbols + m_sGuardSymbols + m_sUlSymbols));
    }
    if (m_ctrlSymbols > 3)
    {
        Fail("CtrlSymbols " + std::to_string(m_ctrlSymbols) + " is above 3");
    }
    if (12 * (NrPhyAbstraction::SYMBOLS_PER_SLOT - m_ctrlSymbols) <= m_dmrsRe + m_xOverhead)
    {
        Fail("DmrsRePerPrb + XOverhead leave no data RE in a slot");
    }
    if (m_mcsTable != 1 && m_mcsTable != 2)
    {
        Fail("McsTable " + std::to_string(m_mcsTable) + " is not 1 or 2");
    }
    if (m_scheduler != "rr" && m_scheduler != "pf")
    {
        Fail("Scheduler \"" + m_scheduler + "\" is not rr or pf");
    }
    for (const auto& [name, mode] : {std::pair{"PromptRlcMode", m_promptMode},
                                     std::pair{"StreamRlcMode", m_streamMode},
                                     std::pair{"DefaultRlcMode", m_defaultMode}})
    {
        if (mode != "AM" && mode != "UM")
        {
            Fail(std::string(name) + " \"" + mode + "\" is not AM or UM");
        }
    }
    if (!(m_blerTarget > 0.0 && m_blerTarget < 1.0))
    {
        Fail("BlerTarget " + std::to_string(m_blerTarget) + " is not in (0, 1)");
    }
    if (m_harqMaxTx < 1 || m_harqMaxTx > 16)
    {
        Fail("HarqMaxTx " + std::to_string(m_harqMaxTx) + " is outside 1..16");
    }
    if (m_harqProcesses < 1 || m_harqProcesses > 32)
    {
        Fail("HarqProcesses " + std::to_string(m_harqProcesses) + " is outside 1..32");
    }
    if (m_harqFeedback < 1)
    {
        Fail("HarqFeedbackSlots must be at least 1");
    }
    if (m_ulHarqFeedback < 1)
    {
        Fail("UlHarqFeedbackSlots must be at least 1");
    }
    if (m_maxUesPerSlot < 1)
    {
        Fail("MaxUesPerSlot must be at least 1");
    }
    if (!(m_pfTimeConstant >= 1.0))
    {
        Fail("PfTimeConstant must be at least 1 slot");
    }
    if (!m_phy)
    {
        Fail("Phy is not set (an NrPhyAbstraction with its TableFile)");
    }
    if (m_fixedMcs >= 0 && uint32_t(m_fixedMcs) > m_phy->GetMaxMcs(kPhyChannel, m_mcsTable))
    {
        Fail("FixedMcs " + std::to_string(m_fixedMcs) + " is not in MCS table " +
             std::to_string(m_mcsTable));
    }
}

void
NrCellChannel::AttachGnb(Ptr<NrNetDevice> device)
{
    NS_LOG_FUNCTION(this << device);
    if (m_gnb)
    {
        Fail("the cell has a gNB already");
    }
    m_gnb = device;
    device->SetCell(this, true, 0);
}

uint32_t
NrCellChannel::AttachUe(Ptr<NrNetDevice> device)
{
    NS_LOG_FUNCTION(this << device);
    if (m_ues.size() >= 65535)
    {
        Fail("too many UEs");
    }
    Ue u;
    u.device = device;
    for (auto& d : u.dir)
    {
        d.harq.resize(m_harqProcesses);
    }
    m_ues.push_back(std::move(u));
    const uint32_t index = m_ues.size() - 1;
    device->SetCell(this, false, index);
    return index;
}

std::size_t
NrCellChannel::GetNDevices() const
{
    return (m_gnb ? 1 : 0) + m_ues.size();
}

Ptr<NetDevice>
NrCellChannel::GetDevice(std::size_t i) const
{
    if (m_gnb)
    {
        if (i == 0)
        {
            return m_gnb;
        }
        --i;
    }
    return i < m_ues.size() ? m_ues[i].device : nullptr;
}

uint32_t
NrCellChannel::GetNUes() const
{
    return m_ues.size();
}

void
NrCellChannel::SetPathLossDb(uint32_t ue, double pathLossDb)
{
    if (ue >= m_ues.size() || !std::isfinite(pathLossDb))
    {
        Fail("SetPathLossDb: no UE " + std::to_string(ue) + " or path loss not finite");
    }
    m_ues[ue].pathLossDb = pathLossDb;
}

double
NrCellChannel::GetPathLossDb(uint32_t ue) const
{
    return m_ues.at(ue).pathLossDb;
}

void
NrCellChannel::SetFadingTrace(uint32_t ue,
                              const std::vector<float>& gainDb,
                              uint32_t nSlots,
                              uint32_t nPrb,
                              uint32_t startSlot)
{
    if (ue >= m_ues.size())
    {
        Fail("SetFadingTrace: no UE " + std::to_string(ue));
    }
    if (nPrb != m_numPrb)
    {
        Fail("SetFadingTrace: nPrb " + std::to_string(nPrb) + " is not the cell's NumPrb " +
             std::to_string(m_numPrb));
    }
    if (nSlots == 0 || gainDb.size() != uint64_t(nSlots) * nPrb)
    {
        Fail("SetFadingTrace: " + std::to_string(gainDb.size()) + " gains for " +
             std::to_string(nSlots) + " slots x " + std::to_string(nPrb) + " PRBs");
    }
    for (float g : gainDb)
    {
        if (!std::isfinite(g))
        {
            Fail("SetFadingTrace: a gain is not finite");
        }
    }
    Ue& u = m_ues[ue];
    u.fading = gainDb;
    u.fadingSlots = nSlots;
    u.fadingStart = startSlot % nSlots;
}

void
NrCellChannel::SetUeFixedMcs(uint32_t ue, int32_t mcs)
{
    if (ue >= m_ues.size())
    {
        Fail("SetUeFixedMcs: no UE " + std::to_string(ue));
    }
    if (mcs >= 0 && m_phy && uint32_t(mcs) > m_phy->GetMaxMcs(kPhyChannel, m_mcsTable))
    {
        Fail("SetUeFixedMcs: MCS " + std::to_string(mcs) + " is not in MCS table " +
             std::to_string(m_mcsTable));
    }
    m_ues[ue].fixedMcs = mcs;
}

void
NrCellChannel::SetFullBuffer(uint32_t ue, bool downlink, bool on)
{
    if (ue >= m_ues.size())
    {
        Fail("SetFullBuffer: no UE " + std::to_string(ue));
    }
    m_ues[ue].fullBuffer[downlink] = on;
    Entity(ue, downlink, OTHER_STREAM).SetFullBuffer(on);
    if (on)
    {
        Wake();
    }
}

Time
NrCellChannel::GetSlotDuration() const
{
    return NanoSeconds(1000000 >> std::min(m_numerology, 3u));
}

char
NrCellChannel::GetSlotType(uint64_t slot) const
{
    return m_pattern == "FDD" || m_pattern.empty() ? 'F' : m_pattern[slot % m_pattern.size()];
}

uint32_t
NrCellChannel::GetDataSymbols(uint64_t slot, bool downlink) const
{
    const char type = GetSlotType(slot);
    uint32_t n = 0;
    if (downlink)
    {
        n = type == 'S' ? m_sDlSymbols : (type == 'U' ? 0 : 14);
        n = n > m_ctrlSymbols ? n - m_ctrlSymbols : 0;
    }
    else
    {
        n = type == 'S' ? m_sUlSymbols : (type == 'D' ? 0 : 14);
    }
    if (n > 0 && 12 * n <= m_dmrsRe + m_xOverhead)
    {
        return 0; // no data RE left
    }
    return n;
}

uint32_t
NrCellChannel::GetNumPrb() const
{
    return m_numPrb;
}

Ptr<NrPhyAbstraction>
NrCellChannel::GetPhy() const
{
    return m_phy;
}

uint32_t
NrCellChannel::StreamOfPort(uint32_t port) const
{
    return port >= m_portBase && port - m_portBase < m_numStreams ? port - m_portBase
                                                                  : OTHER_STREAM;
}

NrRlcMode
NrCellChannel::ModeOf(uint32_t stream) const
{
    const std::string& m =
        stream == 0 ? m_promptMode : (stream == OTHER_STREAM ? m_defaultMode : m_streamMode);
    return m == "UM" ? NrRlcMode::UM : NrRlcMode::AM;
}

NrRlcEntity&
NrCellChannel::Entity(uint32_t ue, bool downlink, uint32_t stream)
{
    auto& rlc = m_ues[ue].dir[downlink].rlc;
    auto it = rlc.find(stream);
    if (it == rlc.end())
    {
        it = rlc.emplace(stream, NrRlcEntity(ModeOf(stream), stream, m_rlcHeader, m_rlcMaxBuffer))
                 .first;
    }
    return it->second;
}

int32_t
NrCellChannel::FindUe(uint32_t ipv4Address)
{
    auto it = m_ipToUe.find(ipv4Address);
    if (it != m_ipToUe.end())
    {
        return it->second;
    }
    for (uint32_t i = 0; i < m_ues.size(); ++i)
    {
        Ptr<Node> node = m_ues[i].device->GetNode();
        Ptr<Ipv4> ip = node ? node->GetObject<Ipv4>() : nullptr;
        if (!ip)
        {
            continue;
        }
        for (uint32_t k = 0; k < ip->GetNInterfaces(); ++k)
        {
            for (uint32_t a = 0; a < ip->GetNAddresses(k); ++a)
            {
                if (ip->GetAddress(k, a).GetLocal().Get() == ipv4Address)
                {
                    m_ipToUe[ipv4Address] = int32_t(i);
                    return int32_t(i);
                }
            }
        }
    }
    return -1;
}

bool
NrCellChannel::Enqueue(uint32_t ue,
                       bool downlink,
                       uint32_t stream,
                       Ptr<Packet> packet,
                       uint16_t protocol)
{
    NS_LOG_FUNCTION(this << ue << downlink << stream << packet);
    Direction& d = m_ues.at(ue).dir[downlink];
    auto sdu = std::make_shared<NrRlcSdu>();
    sdu->packet = packet;
    sdu->protocol = protocol;
    sdu->stream = stream;
    sdu->size = packet->GetSize();
    sdu->arrival = Simulator::Now();
    if (sdu->size == 0 || !Entity(ue, downlink, stream).Enqueue(sdu))
    {
        ++d.stats.sdusRejected;
        return false;
    }
    ++d.stats.sdusEnqueued;
    Wake();
    return true;
}

void
NrCellChannel::PrbSinrs(const Ue& u,
                        bool downlink,
                        uint64_t slot,
                        uint32_t firstPrb,
                        uint32_t nPrb,
                        uint32_t nPrbUl,
                        std::vector<double>& out) const
{
    const double prbHz = 12.0 * 15e3 * double(1u << m_numerology);
    const double noise = m_noiseDbmHz + 10.0 * std::log10(prbHz) +
                         (downlink ? m_ueNoiseFigureDb : m_gnbNoiseFigureDb);
    const double tx = downlink ? m_gnbPowerDbm - 10.0 * std::log10(double(m_numPrb))
                               : m_uePowerDbm - 10.0 * std::log10(double(std::max(1u, nPrbUl)));
    const double meanDb = tx - u.pathLossDb - noise;
    out.resize(nPrb);
    if (u.fadingSlots == 0)
    {
        std::fill(out.begin(), out.end(), std::pow(10.0, meanDb / 10.0));
        return;
    }
    const float* row = &u.fading[((slot + u.fadingStart) % u.fadingSlots) * m_numPrb];
    for (uint32_t i = 0; i < nPrb; ++i)
    {
        out[i] = std::pow(10.0, (meanDb + row[(firstPrb + i) % m_numPrb]) / 10.0);
    }
}

double
NrCellChannel::GetPrbSinrDb(uint32_t ue, bool downlink, uint64_t slot, uint32_t prb, uint32_t nPrbUl)
    const
{
    if (ue >= m_ues.size() || prb >= m_numPrb)
    {
        Fail("GetPrbSinrDb: no UE " + std::to_string(ue) + " or PRB " + std::to_string(prb));
    }
    std::vector<double> sinr;
    PrbSinrs(m_ues[ue], downlink, slot, prb, 1, nPrbUl, sinr);
    return 10.0 * std::log10(sinr[0]);
}

uint64_t
NrCellChannel::BufferBytes(const Ue& u, bool downlink) const
{
    uint64_t bytes = 0;
    for (const auto& [stream, e] : u.dir[downlink].rlc)
    {
        bytes += e.GetBufferBytes();
    }
    return bytes;
}

int32_t
NrCellChannel::FreeHarq(const Direction& d) const
{
    for (uint32_t h = 0; h < d.harq.size(); ++h)
    {
        if (!d.harq[h].busy)
        {
            return int32_t(h);
        }
    }
    return -1;
}

bool
NrCellChannel::IsIdle() const
{
    if (!m_decoded.empty())
    {
        return false;
    }
    for (const Ue& u : m_ues)
    {
        for (bool dl : {false, true})
        {
            const Direction& d = u.dir[dl];
            if (d.reportedBytes > 0 || BufferBytes(u, dl) > 0)
            {
                return false;
            }
            for (const Harq& h : d.harq)
            {
                if (h.busy)
                {
                    return false;
                }
            }
        }
    }
    return true;
}

void
NrCellChannel::Wake()
{
    if (m_running)
    {
        return;
    }
    if (!m_valid)
    {
        Validate();
        m_valid = true;
    }
    m_slotDuration = GetSlotDuration();
    const int64_t step = m_slotDuration.GetTimeStep();
    const int64_t now = Simulator::Now().GetTimeStep();
    int64_t next = (now + step - 1) / step; // the next slot boundary (now, if on one)
    if (next <= m_lastSlotDone)
    {
        next = m_lastSlotDone + 1;
    }
    m_running = true;
    m_event = Simulator::Schedule(TimeStep(next * step - now), &NrCellChannel::DoSlot, this);
}

void
NrCellChannel::DoSlot()
{
    m_slot = uint64_t(Simulator::Now().GetTimeStep() / m_slotDuration.GetTimeStep());
    m_lastSlotDone = int64_t(m_slot);
    NS_LOG_FUNCTION(this << m_slot);
    // 1. TBs decoded in the previous slot reach RLC at its end (now).
    std::vector<Decoded> decoded;
    decoded.swap(m_decoded);
    for (const Decoded& d : decoded)
    {
        Deliver(d.ue, d.downlink, d.harqId);
    }
    // 2. HARQ feedback due now.
    for (uint32_t ue = 0; ue < m_ues.size(); ++ue)
    {
        for (bool dl : {false, true})
        {
            auto& harq = m_ues[ue].dir[dl].harq;
            for (uint32_t h = 0; h < harq.size(); ++h)
            {
                if (harq[h].busy && harq[h].awaiting && harq[h].feedbackSlot <= m_slot)
                {
                    Feedback(ue, dl, h);
                }
            }
        }
    }
    // 3. Scheduling and transmission.
    if (const uint32_t n = GetDataSymbols(m_slot, true))
    {
        Schedule(true, n);
    }
    if (const uint32_t n = GetDataSymbols(m_slot, false))
    {
        Schedule(false, n);
    }
    // 4. Buffer status reports: what the UEs hold now, seen by the next slot's UL scheduler.
    for (Ue& u : m_ues)
    {
        u.dir[0].reportedBytes = BufferBytes(u, false);
    }
    if (IsIdle())
    {
        NS_LOG_LOGIC("slot " << m_slot << ": idle, the clock stops");
        m_running = false;
        return;
    }
    m_event = Simulator::Schedule(m_slotDuration, &NrCellChannel::DoSlot, this);
}

uint32_t
NrCellChannel::SelectMcs(uint32_t ue, bool downlink, uint32_t nPrbRef, uint32_t nSymbols) const
{
    const Ue& u = m_ues[ue];
    if (u.fixedMcs >= 0)
    {
        return uint32_t(u.fixedMcs);
    }
    if (m_fixedMcs >= 0)
    {
        return uint32_t(m_fixedMcs);
    }
    // Inner loop: wideband CSI of CsiDelaySlots ago, EESM with each candidate's beta, plus the
    // outer-loop offset; the highest MCS whose TB BLER stays at or under the target.
    const uint64_t csiSlot = m_slot >= m_csiDelay ? m_slot - m_csiDelay : 0;
    std::vector<double> csi;
    PrbSinrs(u, downlink, csiSlot, 0, m_numPrb, nPrbRef, csi);
    const bool flat = u.fadingSlots == 0;
    const double offset = u.dir[downlink].ollaDb;
    auto bler = [&](uint32_t mcs) {
        const double eff = flat ? std::clamp(csi[0], 1e-3, 1e3)
                                : m_phy->EffectiveSinr(m_mcsTable, mcs, csi);
        const uint32_t tbs =
            m_phy->TbSize(kPhyChannel, m_mcsTable, mcs, nPrbRef, nSymbols, m_dmrsRe, m_xOverhead);
        return m_phy->TbBler(kPhyChannel, m_mcsTable, mcs, tbs, 10.0 * std::log10(eff) + offset);
    };
    uint32_t lo = m_phy->GetMinMcsWithBler(kPhyChannel, m_mcsTable);
    uint32_t hi = m_phy->GetMaxMcs(kPhyChannel, m_mcsTable);
    if (bler(lo) > m_blerTarget)
    {
        return lo;
    }
    while (lo < hi) // invariant: bler(lo) <= target (the BLER grows with the MCS)
    {
        const uint32_t mid = (lo + hi + 1) / 2;
        if (bler(mid) <= m_blerTarget)
        {
            lo = mid;
        }
        else
        {
            hi = mid - 1;
        }
    }
    return lo;
}

void
NrCellChannel::Schedule(bool downlink, uint32_t nSymbols)
{
    std::vector<Candidate> retx;
    std::vector<Candidate> fresh;
    std::vector<uint64_t> buffers(m_ues.size(), 0);
    for (uint32_t ue = 0; ue < m_ues.size(); ++ue)
    {
        Direction& d = m_ues[ue].dir[downlink];
        bool hasRetx = false;
        for (uint32_t h = 0; h < d.harq.size(); ++h)
        {
            const Harq& p = d.harq[h];
            if (p.busy && p.needsRetx && p.tb.nSymbols == nSymbols)
            {
                retx.push_back(Candidate{ue, int32_t(h), p.tb.mcs, p.tb.nPrb, 0.0});
                hasRetx = true;
                break;
            }
        }
        if (hasRetx)
        {
            continue; // one TB per UE and direction per slot: the retransmission goes first
        }
        buffers[ue] = downlink ? BufferBytes(m_ues[ue], true) : d.reportedBytes;
        if (buffers[ue] > 0 && FreeHarq(d) >= 0)
        {
            fresh.push_back(Candidate{ue, -1, 0, 0, 0.0});
        }
    }
    // Order: round robin = least recently served first; proportional fair = highest ratio of
    // the rate it could get now to its average served rate.
    const bool pf = m_scheduler == "pf";
    for (Candidate& c : retx)
    {
        c.metric = -double(m_ues[c.ue].dir[downlink].lastServed);
    }
    auto byMetric = [](const Candidate& a, const Candidate& b) { return a.metric > b.metric; };
    std::stable_sort(retx.begin(), retx.end(), byMetric);
    uint32_t nextPrb = 0;
    uint32_t left = m_numPrb;
    uint32_t scheduled = 0;
    std::vector<uint64_t> served(m_ues.size(), 0);
    for (const Candidate& c : retx)
    {
        if (scheduled < m_maxUesPerSlot && c.nPrb <= left)
        {
            Transmit(c.ue, downlink, uint32_t(c.harqId), nextPrb);
            served[c.ue] = m_ues[c.ue].dir[downlink].harq[c.harqId].tb.tbSize;
            nextPrb += c.nPrb;
            left -= c.nPrb;
            ++scheduled;
        }
    }
    const std::size_t room = left > 0 ? std::min<std::size_t>(m_maxUesPerSlot - scheduled, left) : 0;
    const std::size_t nNew = std::min(fresh.size(), room);
    const uint32_t nRef = nNew > 0 ? std::max<uint32_t>(1, (left + nNew - 1) / nNew) : 1;
    if (!pf)
    {
        // Round robin: the order does not depend on the MCS, so only the chosen get one.
        for (Candidate& c : fresh)
        {
            c.metric = -double(m_ues[c.ue].dir[downlink].lastServed);
        }
        std::stable_sort(fresh.begin(), fresh.end(), byMetric);
        fresh.resize(nNew);
        for (Candidate& c : fresh)
        {
            c.mcs = SelectMcs(c.ue, downlink, nRef, nSymbols);
        }
    }
    else
    {
        for (Candidate& c : fresh)
        {
            c.mcs = SelectMcs(c.ue, downlink, nRef, nSymbols);
            const double rate = m_phy->TbSize(kPhyChannel,
                                              m_mcsTable,
                                              c.mcs,
                                              nRef,
                                              nSymbols,
                                              m_dmrsRe,
                                              m_xOverhead);
            c.metric = rate / std::max(m_ues[c.ue].dir[downlink].avgBits, 1e-9);
        }
        std::stable_sort(fresh.begin(), fresh.end(), byMetric);
        fresh.resize(nNew);
    }
    // PRBs: a fair share each in order (no more than the buffer needs), then what is left to
    // those that need more, in the same order.
    std::vector<uint32_t> need(fresh.size(), 0);
    for (std::size_t i = 0; i < fresh.size(); ++i)
    {
        const uint64_t bits = 8 * buffers[fresh[i].ue];
        uint32_t lo = 1;
        uint32_t hi = m_numPrb;
        while (lo < hi)
        {
            const uint32_t mid = (lo + hi) / 2;
            if (m_phy->TbSize(kPhyChannel, m_mcsTable, fresh[i].mcs, mid, nSymbols, m_dmrsRe,
                              m_xOverhead) >= bits)
            {
                hi = mid;
            }
            else
            {
                lo = mid + 1;
            }
        }
        need[i] = lo;
    }
    for (std::size_t i = 0; i < fresh.size() && left > 0; ++i)
    {
        const uint32_t share = (left + (fresh.size() - i) - 1) / (fresh.size() - i);
        fresh[i].nPrb = std::min(need[i], share);
        left -= fresh[i].nPrb;
    }
    for (std::size_t i = 0; i < fresh.size() && left > 0; ++i)
    {
        const uint32_t extra = std::min(need[i] - fresh[i].nPrb, left);
        fresh[i].nPrb += extra;
        left -= extra;
    }
    for (const Candidate& c : fresh)
    {
        if (c.nPrb == 0)
        {
            continue;
        }
        Direction& d = m_ues[c.ue].dir[downlink];
        const int32_t h = FreeHarq(d);
        Harq& p = d.harq[h];
        p = Harq{};
        p.busy = true;
        p.tb.mcs = c.mcs;
        p.tb.nPrb = c.nPrb;
        p.tb.nSymbols = nSymbols;
        p.tb.tbSize = m_phy->TbSize(kPhyChannel,
                                    m_mcsTable,
                                    c.mcs,
                                    c.nPrb,
                                    nSymbols,
                                    m_dmrsRe,
                                    m_xOverhead);
        // MAC PDU: RLC segments (stream 0 first, other traffic last), the rest is padding.
        uint32_t room = p.tb.tbSize / 8;
        for (auto& [stream, entity] : d.rlc)
        {
            if (room <= m_rlcHeader)
            {
                break;
            }
            const std::size_t before = p.tb.segments.size();
            room -= entity.Fill(room, p.tb.segments);
            for (std::size_t k = before; k < p.tb.segments.size(); ++k)
            {
                p.tb.payload += p.tb.segments[k].length;
            }
        }
        Transmit(c.ue, downlink, uint32_t(h), nextPrb);
        served[c.ue] = p.tb.tbSize;
        nextPrb += c.nPrb;
    }
    const double alpha = 1.0 / m_pfTimeConstant;
    for (uint32_t ue = 0; ue < m_ues.size(); ++ue)
    {
        Direction& d = m_ues[ue].dir[downlink];
        d.avgBits += alpha * (double(served[ue]) - d.avgBits);
        if (served[ue] > 0)
        {
            d.lastServed = m_slot + 1;
        }
    }
}

void
NrCellChannel::Transmit(uint32_t ue, bool downlink, uint32_t harqId, uint32_t firstPrb)
{
    Ue& u = m_ues[ue];
    Direction& d = u.dir[downlink];
    Harq& p = d.harq[harqId];
    Tb& tb = p.tb;
    std::vector<double> sinr;
    PrbSinrs(u, downlink, m_slot, firstPrb, tb.nPrb, tb.nPrb, sinr);
    tb.sumEffSinr += m_phy->EffectiveSinr(m_mcsTable, tb.mcs, sinr);
    const uint32_t round = tb.transmissions++;
    const double effDb = 10.0 * std::log10(tb.sumEffSinr);
    const double bler = m_phy->HasBlerCurve(kPhyChannel, m_mcsTable, tb.mcs)
                            ? m_phy->TbBler(kPhyChannel, m_mcsTable, tb.mcs, tb.tbSize, effDb)
                            : 1.0; // Sionna: no curve, a certain NACK
    const bool ok = m_phy->DrawTbSuccess(bler);
    p.lastOk = ok;
    p.needsRetx = false;
    p.awaiting = true;
    p.feedbackSlot = m_slot + (downlink ? m_harqFeedback : m_ulHarqFeedback);
    NrDirectionStats& st = d.stats;
    ++st.tbs;
    if (round == 0)
    {
        ++st.firstTx;
        st.firstTxFailures += ok ? 0 : 1;
    }
    else
    {
        ++st.retx;
    }
    if (ok)
    {
        st.tbBitsOk += tb.tbSize;
        st.payloadBytesOk += tb.payload;
        m_decoded.push_back(Decoded{ue, downlink, harqId});
    }
    NS_LOG_LOGIC("slot " << m_slot << (downlink ? " DL" : " UL") << " UE " << ue << " HARQ "
                         << harqId << " round " << round << ": " << tb.nPrb << " PRBs MCS "
                         << tb.mcs << " TBS " << tb.tbSize << " at " << effDb << " dB: "
                         << (ok ? "ok" : "failed"));
    NrTbTraceInfo info;
    info.slot = m_slot;
    info.rnti = uint16_t(ue + 1);
    info.downlink = downlink;
    info.nPrb = tb.nPrb;
    info.nSymbols = tb.nSymbols;
    info.mcs = tb.mcs;
    info.tbSize = tb.tbSize;
    info.round = round;
    info.rv = kRv[round % 4];
    info.harqId = harqId;
    info.effSinrDb = effDb;
    info.ok = ok;
    info.payloadBytes = tb.payload;
    m_tbTrace(info);
}

void
NrCellChannel::Feedback(uint32_t ue, bool downlink, uint32_t harqId)
{
    Direction& d = m_ues[ue].dir[downlink];
    Harq& p = d.harq[harqId];
    p.awaiting = false;
    const bool la = m_fixedMcs < 0 && m_ues[ue].fixedMcs < 0;
    if (la && p.tb.transmissions == 1)
    {
        d.ollaDb += p.lastOk ? m_ollaStepDb * m_blerTarget : -m_ollaStepDb * (1.0 - m_blerTarget);
    }
    if (p.lastOk)
    {
        p = Harq{};
        return;
    }
    if (p.tb.transmissions < m_harqMaxTx)
    {
        p.needsRetx = true;
        return;
    }
    // Residual loss: RLC AM sends the segments again, UM drops their packets.
    ++d.stats.residualLosses;
    for (const NrRlcSegment& s : p.tb.segments)
    {
        if (Entity(ue, downlink, s.stream).OnLost(s))
        {
            ++d.stats.rlcRetxSegments;
        }
        else if (s.sdu->packet && !s.sdu->counted)
        {
            s.sdu->counted = true;
            ++d.stats.sdusDropped;
        }
    }
    p = Harq{};
}

void
NrCellChannel::Deliver(uint32_t ue, bool downlink, uint32_t harqId)
{
    Direction& d = m_ues[ue].dir[downlink];
    Harq& p = d.harq[harqId];
    Ptr<NrNetDevice> rx = downlink ? m_ues[ue].device : m_gnb;
    Ptr<NrNetDevice> tx = downlink ? m_gnb : m_ues[ue].device;
    for (const NrRlcSegment& s : p.tb.segments)
    {
        if (!NrRlcEntity::OnReceived(s) || s.sdu->counted)
        {
            continue;
        }
        s.sdu->counted = true;
        ++d.stats.sdusDelivered;
        const double delay = (Simulator::Now() - s.sdu->arrival).GetSeconds();
        d.stats.sduDelaySumS += delay;
        d.stats.sduDelayMaxS = std::max(d.stats.sduDelayMaxS, delay);
        if (rx && rx->GetNode())
        {
            Simulator::ScheduleWithContext(rx->GetNode()->GetId(),
                                           Time(0),
                                           &NrNetDevice::Receive,
                                           rx,
                                           s.sdu->packet->Copy(),
                                           s.sdu->protocol,
                                           tx ? tx->GetAddress() : Address());
        }
    }
    p.tb.segments.clear(); // delivered: nothing to resend
}

NrDirectionStats
NrCellChannel::GetUeStats(uint32_t ue, bool downlink) const
{
    if (ue >= m_ues.size())
    {
        Fail("GetUeStats: no UE " + std::to_string(ue));
    }
    return m_ues[ue].dir[downlink].stats;
}

NrDirectionStats
NrCellChannel::GetStats(bool downlink) const
{
    NrDirectionStats t;
    for (const Ue& u : m_ues)
    {
        const NrDirectionStats& s = u.dir[downlink].stats;
        t.tbs += s.tbs;
        t.firstTx += s.firstTx;
        t.firstTxFailures += s.firstTxFailures;
        t.retx += s.retx;
        t.residualLosses += s.residualLosses;
        t.tbBitsOk += s.tbBitsOk;
        t.payloadBytesOk += s.payloadBytesOk;
        t.sdusEnqueued += s.sdusEnqueued;
        t.sdusRejected += s.sdusRejected;
        t.sdusDelivered += s.sdusDelivered;
        t.sdusDropped += s.sdusDropped;
        t.rlcRetxSegments += s.rlcRetxSegments;
        t.sduDelaySumS += s.sduDelaySumS;
        t.sduDelayMaxS = std::max(t.sduDelayMaxS, s.sduDelayMaxS);
    }
    return t;
}

double
NrCellChannel::GetOllaOffsetDb(uint32_t ue, bool downlink) const
{
    return m_ues.at(ue).dir[downlink].ollaDb;
}

int64_t
NrCellChannel::AssignStreams(int64_t stream)
{
    if (!m_phy)
    {
        Fail("AssignStreams: Phy is not set");
    }
    return m_phy->AssignStreams(stream);
}

void
NrCellChannel::DoDispose()
{
    NS_LOG_FUNCTION(this);
    Simulator::Cancel(m_event);
    m_ues.clear();
    m_gnb = nullptr;
    m_phy = nullptr;
    m_decoded.clear();
    Channel::DoDispose();
}

} // namespace ns3
