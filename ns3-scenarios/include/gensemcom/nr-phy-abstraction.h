// 5G NR PHY abstraction (issue 14, step 2a): 38.214 MCS tables and transport block sizes, EESM
// effective SINR and the LDPC BLER of a transport block, from tables that Sionna 2.x makes
// (ns3-scenarios/channels/nr_tables.py writes them; nothing is typed from 3GPP by hand). The
// NR devices (scheduler, link adaptation, HARQ) call it once per transport block.
#ifndef GENSEMCOM_NR_PHY_ABSTRACTION_H
#define GENSEMCOM_NR_PHY_ABSTRACTION_H

#include "ns3/object.h"
#include "ns3/random-variable-stream.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ns3
{

/// Which curves and MCS tables: numbered as Sionna's mcs_category.
enum class NrPhyChannel : uint8_t
{
    PUSCH = 0, ///< PUSCH with transform precoding (DFT-s-OFDM): 38.214 Tables 6.1.4.1-1/-2
    PDSCH = 1, ///< PDSCH, and PUSCH without transform precoding: 38.214 Tables 5.1.3.1-1/-2
};

/// A transport block and its LDPC code-block segmentation (as Sionna's calculate_tb_size).
struct NrTbInfo
{
    uint32_t tbSize{0}; ///< information bits (38.214 §5.1.3.2)
    uint32_t numCb{0};  ///< code blocks C
    uint32_t cbSize{0}; ///< bits per code block, TB and CB CRCs included (Sionna's cb_size)
};

/**
 * Link abstraction of an NR transport block, mirroring sionna.sys.PHYAbstraction:
 *  - TbSize: 38.214 TBS of an allocation (one layer), looked up in Sionna's calculate_tb_size
 *    output for N_RE = nPrb * min(156, 12 nSymbols - nDmrsRePerPrb - nOverheadRePerPrb);
 *  - EffectiveSinr: EESM over the allocated PRBs with Sionna's beta of the MCS (all REs of a
 *    PRB share its SINR, so the mean over PRBs is the mean over REs);
 *  - TbBler: BLER of one code block from Sionna's interpolated table at the nearest grid
 *    point (0.1 dB in SINR, 100 bits in code-block size, ties to even, clamped to the grid, as
 *    PHYAbstraction.get_bler), then 1 - (1 - BLER)^C for the C code blocks;
 *  - DecodeTb: one draw of the TB's success from a UniformRandomVariable (AssignStreams).
 * The tables are loaded from TableFile on first use (or by Load()) and shared by every object
 * that names the same file. Bad input (file missing or corrupt, an MCS outside its table, an
 * allocation outside 1..275 PRBs, an MCS without a Sionna BLER curve) is a one-line
 * std::invalid_argument.
 */
class NrPhyAbstraction : public Object
{
  public:
    static constexpr uint32_t MAX_PRB = 275;        ///< calculate_tb_size's range (38.211)
    static constexpr uint32_t MAX_RE_PER_PRB = 156; ///< 38.214 §5.1.3.2's cap for the TBS
    static constexpr uint32_t SYMBOLS_PER_SLOT = 14;

    static TypeId GetTypeId();
    NrPhyAbstraction();
    ~NrPhyAbstraction() override;

    void SetTableFile(const std::string& path);
    std::string GetTableFile() const;
    /// Loads TableFile now (the first query does it otherwise), so a bad file fails at set-up.
    void Load() const;

    /// Version of sionna-no-rt the tables were made with.
    std::string GetSionnaVersion() const;
    /// Highest MCS index of a table (the lowest is 0).
    uint32_t GetMaxMcs(NrPhyChannel channel, uint32_t table) const;
    uint32_t GetModulationOrder(NrPhyChannel channel, uint32_t table, uint32_t mcs) const;
    /// Target code rate R (Sionna's float32 value).
    double GetCodeRate(NrPhyChannel channel, uint32_t table, uint32_t mcs) const;
    /// Whether Sionna has a BLER curve for the MCS (TbBler throws where it has none).
    bool HasBlerCurve(NrPhyChannel channel, uint32_t table, uint32_t mcs) const;
    /// Lowest MCS of a table with a BLER curve (link adaptation picks from here to GetMaxMcs).
    uint32_t GetMinMcsWithBler(NrPhyChannel channel, uint32_t table) const;
    double GetEesmBeta(uint32_t table, uint32_t mcs) const;

    /// Data REs per PRB as 38.214 counts them for the TBS: min(156, 12 nSymbols - nDmrs - nOh).
    static uint32_t DataResPerPrb(uint32_t nSymbols,
                                  uint32_t nDmrsRePerPrb,
                                  uint32_t nOverheadRePerPrb = 0);
    /// TBS (bits) of an allocation of nPrb PRBs over nSymbols symbols.
    uint32_t TbSize(NrPhyChannel channel,
                    uint32_t table,
                    uint32_t mcs,
                    uint32_t nPrb,
                    uint32_t nSymbols,
                    uint32_t nDmrsRePerPrb,
                    uint32_t nOverheadRePerPrb = 0) const;
    /// Code-block segmentation of a TB of tbSize bits sent with this MCS.
    NrTbInfo GetTbInfo(NrPhyChannel channel, uint32_t table, uint32_t mcs, uint32_t tbSize) const;

    /// EESM effective SINR (linear) of per-PRB SINRs (linear; 0 = PRB not used), clamped to
    /// [-30, 30] dB as Sionna's EESM; 0 when no PRB is used. Computed in double precision.
    double EffectiveSinr(uint32_t table, uint32_t mcs, const std::vector<double>& sinrPerPrb) const;
    /// Probability that a TB of tbSize bits fails at effective SINR effSinrDb.
    double TbBler(NrPhyChannel channel,
                  uint32_t table,
                  uint32_t mcs,
                  uint32_t tbSize,
                  double effSinrDb) const;
    /// Draws whether the TB is decoded (true) or not, with probability 1 - TbBler.
    bool DecodeTb(NrPhyChannel channel,
                  uint32_t table,
                  uint32_t mcs,
                  uint32_t tbSize,
                  double effSinrDb);
    /// Draws success against a TB error probability already known (e.g. from TbBler).
    bool DrawTbSuccess(double tbBler);
    int64_t AssignStreams(int64_t stream);

    struct Tables; ///< what a table file holds (defined in the .cc)

  private:
    const Tables& Get() const;

    std::string m_tableFile;
    mutable std::shared_ptr<const Tables> m_tables;
    Ptr<UniformRandomVariable> m_uniform;
};

} // namespace ns3

#endif
