#include "gensemcom/nr-phy-abstraction.h"

#include "ns3/log.h"
#include "ns3/string.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("NrPhyAbstraction");
NS_OBJECT_ENSURE_REGISTERED(NrPhyAbstraction);

namespace
{

constexpr const char* FORMAT = "gensemcom-nr-phy-tables";
constexpr uint32_t FORMAT_VERSION = 1;

std::string
ChannelName(NrPhyChannel channel)
{
    return channel == NrPhyChannel::PUSCH ? "PUSCH" : "PDSCH";
}

[[noreturn]] void
Fail(const std::string& what)
{
    throw std::invalid_argument("NrPhyAbstraction: " + what);
}

/// One MCS of one (channel, table): Q_m and R, the TBS runs over N_RE, the BLER grid.
struct McsEntry
{
    bool valid{false};
    uint32_t qm{0};
    float rate{0};                 // Sionna computes the TBS and segmentation with float32 R
    std::vector<uint32_t> runStart; // N_RE (1-based) where each TBS run starts, increasing
    std::vector<uint32_t> runTbs;
    std::vector<float> bler; // [cbs index][snr index], empty without a Sionna curve
};

} // namespace

struct NrPhyAbstraction::Tables
{
    std::string sionna;
    float snrMin{0};
    float snrDelta{0};
    uint32_t nSnr{0};
    float cbsMin{0};
    float cbsDelta{0};
    uint32_t nCbs{0};
    uint32_t maxRe{0};
    std::map<uint32_t, std::vector<double>> eesmBeta; // MCS table -> beta per MCS
    std::map<std::pair<uint32_t, uint32_t>, std::vector<McsEntry>> mcs; // (channel, table)

    const std::vector<McsEntry>& Table(NrPhyChannel channel, uint32_t table) const;
    const McsEntry& Mcs(NrPhyChannel channel, uint32_t table, uint32_t mcs) const;
};

const std::vector<McsEntry>&
NrPhyAbstraction::Tables::Table(NrPhyChannel channel, uint32_t table) const
{
    const auto c = static_cast<uint32_t>(channel);
    if (c > 1)
    {
        Fail("channel " + std::to_string(c) + " is neither PUSCH (0) nor PDSCH (1)");
    }
    const auto it = mcs.find({c, table});
    if (it == mcs.end())
    {
        Fail("no " + ChannelName(channel) + " MCS table " + std::to_string(table) +
             " in the table file (tables 1 and 2 are built)");
    }
    return it->second;
}

const McsEntry&
NrPhyAbstraction::Tables::Mcs(NrPhyChannel channel, uint32_t table, uint32_t mcs) const
{
    const auto& t = Table(channel, table);
    if (mcs >= t.size() || !t[mcs].valid)
    {
        Fail("MCS " + std::to_string(mcs) + " is not in " + ChannelName(channel) +
             " MCS table " + std::to_string(table) + " (0.." + std::to_string(t.size() - 1) +
             ")");
    }
    return t[mcs];
}

namespace
{

/// Parses the text layout written by gensemcom.channels.nr_tables.write_tables.
std::shared_ptr<const NrPhyAbstraction::Tables>
LoadTables(const std::string& path)
{
    using Tables = NrPhyAbstraction::Tables;
    std::ifstream in(path);
    if (!in)
    {
        Fail("cannot open table file '" + path +
             "' (gensemcom.channels.nr_tables.ensure_nr_tables() builds it)");
    }
    auto t = std::make_shared<Tables>();
    std::string line;
    uint32_t lineNo = 0;
    bool ended = false;
    auto bad = [&](const std::string& what) {
        Fail("table file '" + path + "' line " + std::to_string(lineNo) + ": " + what);
    };
    auto entryOf = [&](std::istringstream& s) -> McsEntry& {
        uint32_t channel = 0;
        uint32_t table = 0;
        uint32_t mcs = 0;
        if (!(s >> channel >> table >> mcs) || channel > 1 || mcs > 31)
        {
            bad("bad channel/table/MCS key");
        }
        auto& rows = t->mcs[{channel, table}];
        if (rows.size() <= mcs)
        {
            rows.resize(mcs + 1);
        }
        return rows[mcs];
    };
    while (std::getline(in, line))
    {
        ++lineNo;
        if (line.empty() || line[0] == '#')
        {
            continue;
        }
        if (ended)
        {
            bad("data after 'end'");
        }
        std::istringstream s(line);
        std::string tag;
        s >> tag;
        if (lineNo == 1)
        {
            uint32_t version = 0;
            if (tag != FORMAT || !(s >> version) || version != FORMAT_VERSION)
            {
                bad("not a " + std::string(FORMAT) + " " + std::to_string(FORMAT_VERSION) +
                    " file");
            }
            continue;
        }
        if (tag == "sionna")
        {
            s >> t->sionna;
        }
        else if (tag == "snr_grid_db")
        {
            s >> t->snrMin >> t->snrDelta >> t->nSnr;
        }
        else if (tag == "cbs_grid")
        {
            s >> t->cbsMin >> t->cbsDelta >> t->nCbs;
        }
        else if (tag == "max_re")
        {
            s >> t->maxRe;
        }
        else if (tag == "eesm")
        {
            uint32_t table = 0;
            uint32_t n = 0;
            s >> table >> n;
            auto& beta = t->eesmBeta[table];
            beta.resize(n);
            for (auto& b : beta)
            {
                s >> b;
            }
            if (s && std::any_of(beta.begin(), beta.end(), [](double b) { return !(b > 0); }))
            {
                bad("EESM beta must be > 0");
            }
        }
        else if (tag == "mcs")
        {
            auto& e = entryOf(s);
            uint32_t hasBler = 0;
            s >> e.qm >> e.rate >> hasBler;
            e.valid = true;
            if (s && hasBler)
            {
                e.bler.assign(std::size_t(t->nCbs) * t->nSnr, -1.0F); // -1: row not read yet
            }
        }
        else if (tag == "tbs")
        {
            auto& e = entryOf(s);
            uint32_t n = 0;
            s >> n;
            e.runStart.resize(n);
            e.runTbs.resize(n);
            for (uint32_t i = 0; i < n && s; ++i)
            {
                s >> e.runStart[i] >> e.runTbs[i];
            }
            if (s && (n == 0 || e.runStart[0] != 1 ||
                      !std::is_sorted(e.runStart.begin(), e.runStart.end())))
            {
                bad("TBS runs must start at N_RE 1 and increase");
            }
        }
        else if (tag == "bler")
        {
            auto& e = entryOf(s);
            uint32_t row = 0;
            std::string first;
            s >> row >> first;
            if (!s || e.bler.empty() || row >= t->nCbs)
            {
                bad("BLER row without its 'mcs' record or outside the CBS grid");
            }
            float* dst = e.bler.data() + std::size_t(row) * t->nSnr;
            if (first == "=")
            {
                if (row == 0)
                {
                    bad("the first BLER row cannot repeat a previous one");
                }
                std::copy(dst - t->nSnr, dst, dst);
                continue;
            }
            uint32_t lead = 0;
            uint32_t n = 0;
            std::istringstream leadText(first);
            leadText >> lead;
            s >> n;
            if (!leadText || !s || std::size_t(lead) + n > t->nSnr)
            {
                bad("BLER row longer than the SINR grid");
            }
            std::fill(dst, dst + t->nSnr, 0.0F);
            std::fill(dst, dst + lead, 1.0F);
            for (uint32_t i = 0; i < n; ++i)
            {
                s >> dst[lead + i];
            }
        }
        else if (tag == "end")
        {
            ended = true;
            continue;
        }
        else
        {
            bad("unknown record '" + tag + "'");
        }
        std::string extra;
        if (!s || (s >> extra))
        {
            bad("malformed '" + tag + "' record");
        }
    }
    if (lineNo == 0 || !ended)
    {
        Fail("table file '" + path + "' is truncated (no 'end' line)");
    }
    if (t->nSnr == 0 || t->nCbs == 0 || !(t->snrDelta > 0) || !(t->cbsDelta > 0) ||
        t->maxRe < NrPhyAbstraction::MAX_PRB * NrPhyAbstraction::MAX_RE_PER_PRB)
    {
        Fail("table file '" + path + "' lacks its grids or covers too few REs");
    }
    for (const auto& [key, rows] : t->mcs)
    {
        for (const auto& e : rows)
        {
            const bool unread =
                std::any_of(e.bler.begin(), e.bler.end(), [](float b) { return b < 0; });
            if (e.valid && (e.runStart.empty() || unread || e.qm == 0))
            {
                Fail("table file '" + path + "' misses TBS or BLER rows of channel " +
                     std::to_string(key.first) + " table " + std::to_string(key.second));
            }
        }
    }
    NS_LOG_INFO("loaded " << path << " (Sionna " << t->sionna << ", " << t->mcs.size()
                          << " MCS tables)");
    return t;
}

/// Nearest index of a uniform grid, in float32 and with ties to even (torch.round), clamped to
/// [0, n - 1]: PHYAbstraction.get_idx_from_grid.
uint32_t
GridIndex(float value, float min, float delta, uint32_t n)
{
    const float q = std::nearbyint((value - min) / delta);
    if (!(q > 0))
    {
        return 0;
    }
    return q >= float(n - 1) ? n - 1 : static_cast<uint32_t>(q);
}

} // namespace

TypeId
NrPhyAbstraction::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::NrPhyAbstraction")
            .SetParent<Object>()
            .SetGroupName("Gensemcom")
            .AddConstructor<NrPhyAbstraction>()
            .AddAttribute("TableFile",
                          "Tables made by Sionna (gensemcom.channels.nr_tables.ensure_nr_tables).",
                          StringValue(""),
                          MakeStringAccessor(&NrPhyAbstraction::SetTableFile,
                                             &NrPhyAbstraction::GetTableFile),
                          MakeStringChecker());
    return tid;
}

NrPhyAbstraction::NrPhyAbstraction()
    : m_uniform(CreateObject<UniformRandomVariable>())
{
    NS_LOG_FUNCTION(this);
}

NrPhyAbstraction::~NrPhyAbstraction() = default;

void
NrPhyAbstraction::SetTableFile(const std::string& path)
{
    NS_LOG_FUNCTION(this << path);
    m_tableFile = path;
    m_tables.reset();
}

std::string
NrPhyAbstraction::GetTableFile() const
{
    return m_tableFile;
}

void
NrPhyAbstraction::Load() const
{
    Get();
}

const NrPhyAbstraction::Tables&
NrPhyAbstraction::Get() const
{
    if (!m_tables)
    {
        if (m_tableFile.empty())
        {
            Fail("TableFile is not set (gensemcom.channels.nr_tables.ensure_nr_tables() "
                 "gives one)");
        }
        // One copy per file in the process: every cell and device shares it.
        static std::mutex mutex;
        static std::map<std::string, std::weak_ptr<const Tables>> loaded;
        std::lock_guard<std::mutex> lock(mutex);
        m_tables = loaded[m_tableFile].lock();
        if (!m_tables)
        {
            m_tables = LoadTables(m_tableFile);
            loaded[m_tableFile] = m_tables;
        }
    }
    return *m_tables;
}

std::string
NrPhyAbstraction::GetSionnaVersion() const
{
    return Get().sionna;
}

uint32_t
NrPhyAbstraction::GetMaxMcs(NrPhyChannel channel, uint32_t table) const
{
    return Get().Table(channel, table).size() - 1;
}

uint32_t
NrPhyAbstraction::GetModulationOrder(NrPhyChannel channel, uint32_t table, uint32_t mcs) const
{
    return Get().Mcs(channel, table, mcs).qm;
}

double
NrPhyAbstraction::GetCodeRate(NrPhyChannel channel, uint32_t table, uint32_t mcs) const
{
    return Get().Mcs(channel, table, mcs).rate;
}

bool
NrPhyAbstraction::HasBlerCurve(NrPhyChannel channel, uint32_t table, uint32_t mcs) const
{
    return !Get().Mcs(channel, table, mcs).bler.empty();
}

uint32_t
NrPhyAbstraction::GetMinMcsWithBler(NrPhyChannel channel, uint32_t table) const
{
    const auto& rows = Get().Table(channel, table);
    for (uint32_t m = 0; m < rows.size(); ++m)
    {
        if (!rows[m].bler.empty())
        {
            return m;
        }
    }
    Fail("Sionna has no BLER curve for " + ChannelName(channel) + " MCS table " +
         std::to_string(table));
}

double
NrPhyAbstraction::GetEesmBeta(uint32_t table, uint32_t mcs) const
{
    const auto& beta = Get().eesmBeta;
    const auto it = beta.find(table);
    if (it == beta.end() || mcs >= it->second.size())
    {
        Fail("no EESM beta for MCS " + std::to_string(mcs) + " of MCS table " +
             std::to_string(table));
    }
    return it->second[mcs];
}

uint32_t
NrPhyAbstraction::DataResPerPrb(uint32_t nSymbols,
                                uint32_t nDmrsRePerPrb,
                                uint32_t nOverheadRePerPrb)
{
    if (nSymbols < 1 || nSymbols > SYMBOLS_PER_SLOT)
    {
        Fail("nSymbols " + std::to_string(nSymbols) + " is out of range 1.." +
             std::to_string(SYMBOLS_PER_SLOT));
    }
    const int64_t nRe = 12 * int64_t(nSymbols) - nDmrsRePerPrb - nOverheadRePerPrb;
    if (nRe < 1)
    {
        Fail("no data RE left in a PRB: 12 x " + std::to_string(nSymbols) + " symbols - " +
             std::to_string(nDmrsRePerPrb) + " DMRS - " + std::to_string(nOverheadRePerPrb) +
             " overhead REs");
    }
    return std::min<uint32_t>(MAX_RE_PER_PRB, nRe);
}

uint32_t
NrPhyAbstraction::TbSize(NrPhyChannel channel,
                         uint32_t table,
                         uint32_t mcs,
                         uint32_t nPrb,
                         uint32_t nSymbols,
                         uint32_t nDmrsRePerPrb,
                         uint32_t nOverheadRePerPrb) const
{
    const auto& e = Get().Mcs(channel, table, mcs);
    if (nPrb < 1 || nPrb > MAX_PRB)
    {
        Fail("nPrb " + std::to_string(nPrb) + " is out of range 1.." + std::to_string(MAX_PRB));
    }
    const uint32_t nRe = nPrb * DataResPerPrb(nSymbols, nDmrsRePerPrb, nOverheadRePerPrb);
    const auto run = std::upper_bound(e.runStart.begin(), e.runStart.end(), nRe) - 1;
    return e.runTbs[run - e.runStart.begin()];
}

NrTbInfo
NrPhyAbstraction::GetTbInfo(NrPhyChannel channel,
                            uint32_t table,
                            uint32_t mcs,
                            uint32_t tbSize) const
{
    const auto& e = Get().Mcs(channel, table, mcs);
    if (tbSize < 24)
    {
        Fail("tbSize " + std::to_string(tbSize) + " is below 38.214's smallest TBS (24)");
    }
    // calculate_tb_size: one code block up to 3824 bits; above, LDPC base graph 2 (3816
    // information bits a block) at R <= 1/4, else base graph 1 (8424) once the TB exceeds it.
    NrTbInfo info;
    info.tbSize = tbSize;
    info.numCb = 1;
    if (tbSize > 3824)
    {
        if (e.rate <= 0.25F)
        {
            info.numCb = (tbSize + 24 + 3815) / 3816;
        }
        else if (tbSize > 8424)
        {
            info.numCb = (tbSize + 24 + 8423) / 8424;
        }
    }
    const uint32_t tbCrc = tbSize > 3824 ? 24 : 16;
    info.cbSize = (tbSize + tbCrc) / info.numCb + (info.numCb > 1 ? 24 : 0);
    return info;
}

double
NrPhyAbstraction::EffectiveSinr(uint32_t table,
                                uint32_t mcs,
                                const std::vector<double>& sinrPerPrb) const
{
    const double beta = GetEesmBeta(table, mcs);
    double minSinr = INFINITY;
    std::size_t used = 0;
    for (std::size_t i = 0; i < sinrPerPrb.size(); ++i)
    {
        const double s = sinrPerPrb[i];
        if (!(s >= 0) || std::isinf(s))
        {
            Fail("sinrPerPrb[" + std::to_string(i) + "] = " + std::to_string(s) +
                 " is not a linear SINR >= 0");
        }
        if (s > 0)
        {
            ++used;
            minSinr = std::min(minSinr, s);
        }
    }
    if (used == 0)
    {
        return 0.0; // Sionna: no resource used, no effective SINR
    }
    // -beta ln(mean exp(-s / beta)), shifted by the smallest SINR so that no term underflows.
    double sum = 0;
    for (const double s : sinrPerPrb)
    {
        if (s > 0)
        {
            sum += std::exp(-(s - minSinr) / beta);
        }
    }
    const double eff = minSinr - beta * std::log(sum / double(used));
    return std::clamp(eff, 1e-3, 1e3); // [-30, 30] dB
}

double
NrPhyAbstraction::TbBler(NrPhyChannel channel,
                         uint32_t table,
                         uint32_t mcs,
                         uint32_t tbSize,
                         double effSinrDb) const
{
    const auto& t = Get();
    const auto& e = t.Mcs(channel, table, mcs);
    if (e.bler.empty())
    {
        Fail("Sionna has no BLER curve for " + ChannelName(channel) + " MCS table " +
             std::to_string(table) + " MCS " + std::to_string(mcs) + " (lowest with one: " +
             std::to_string(GetMinMcsWithBler(channel, table)) + ")");
    }
    if (std::isnan(effSinrDb))
    {
        Fail("effSinrDb is NaN");
    }
    const NrTbInfo info = GetTbInfo(channel, table, mcs, tbSize);
    const uint32_t cbs = GridIndex(float(info.cbSize), t.cbsMin, t.cbsDelta, t.nCbs);
    const uint32_t snr = GridIndex(float(effSinrDb), t.snrMin, t.snrDelta, t.nSnr);
    const double cbBler = e.bler[std::size_t(cbs) * t.nSnr + snr];
    return 1.0 - std::pow(1.0 - cbBler, double(info.numCb));
}

bool
NrPhyAbstraction::DrawTbSuccess(double tbBler)
{
    // PHYAbstraction: NACK when a uniform draw falls below the TB error probability.
    return !(m_uniform->GetValue() < tbBler);
}

bool
NrPhyAbstraction::DecodeTb(NrPhyChannel channel,
                           uint32_t table,
                           uint32_t mcs,
                           uint32_t tbSize,
                           double effSinrDb)
{
    const double bler = TbBler(channel, table, mcs, tbSize, effSinrDb);
    const bool ok = DrawTbSuccess(bler);
    NS_LOG_LOGIC(ChannelName(channel) << " table " << table << " MCS " << mcs << " TBS "
                                      << tbSize << " at " << effSinrDb << " dB: BLER " << bler
                                      << (ok ? ", decoded" : ", failed"));
    return ok;
}

int64_t
NrPhyAbstraction::AssignStreams(int64_t stream)
{
    NS_LOG_FUNCTION(this << stream);
    m_uniform->SetStream(stream);
    return 1;
}

} // namespace ns3
