"""ns3::NrPhyAbstraction (C++) against Sionna 2.x, called directly as the reference: 38.214 TB
sizes and code-block segmentation (calculate_tb_size), EESM (sionna.sys.EESM), TB error rates
drawn at fixed SINR (sionna.sys.PHYAbstraction), same seed => same draws, one-line errors.

The tables come from gensemcom.channels.nr_tables (cached under build/nr/, built by the first
test that needs them); the tests marked slow import Sionna for the reference values.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from gensemcom.channels import nr_tables
from gensemcom.core import ns3

pytestmark = pytest.mark.ns3

PRBS = (1, 5, 24, 51, 106, 273, 275)
# (OFDM symbols, DMRS REs per PRB, xOverhead REs per PRB): full slots with 1-4 DMRS symbols
# (14 symbols - 12 DMRS = 156 REs, 38.214's cap; none = 168, capped), mini-slots, overhead.
SLOTS = ((14, 12, 0), (14, 0, 0), (14, 24, 0), (13, 36, 6), (12, 12, 0), (11, 12, 18),
         (7, 6, 0), (4, 12, 0), (2, 6, 0), (1, 0, 0))
CHANNELS = {"PUSCH": 0, "PDSCH": 1}  # Sionna's mcs_category; PUSCH with transform precoding


@pytest.fixture(scope="module")
def ns():
    return ns3.load_ns()


@pytest.fixture(scope="module")
def table_file():
    return nr_tables.ensure_nr_tables()


def _phy(ns, table_file, stream=None):
    phy = ns.CreateObject[ns.cppyy.gbl.ns3.NrPhyAbstraction]()
    phy.SetAttribute("TableFile", ns.StringValue(str(table_file)))
    if stream is not None:
        phy.AssignStreams(stream)
    return phy


@pytest.fixture(scope="module")
def phy(ns, table_file):
    return _phy(ns, table_file, stream=11)


def _channel(ns, name):
    return getattr(ns.cppyy.gbl.ns3.NrPhyChannel, name)


def _mcs_of(name, table):
    """Every MCS of a table as Sionna decodes it: (mcs, Q_m, R) with Q_m > 0."""
    import torch
    from sionna.phy.nr.utils import decode_mcs_index

    mcs = torch.arange(29, dtype=torch.int32)
    pusch = CHANNELS[name] == 0
    qm, rate = decode_mcs_index(mcs, table_index=table, is_pusch=pusch, transform_precoding=pusch,
                                check_index_validity=False)
    return [(m, int(q), float(r)) for m, q, r in zip(range(29), qm, rate) if q > 0]


@pytest.fixture(scope="module")
def sionna_phy():
    sys_ = pytest.importorskip("sionna.sys")
    return sys_.PHYAbstraction()


# --- (a) TB sizes ----------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name,table", list(itertools.product(CHANNELS, (1, 2))))
def test_tb_sizes_and_segmentation_equal_sionna(ns, phy, name, table):
    """Every TBS (and its C, code-block size) of every MCS for several PRB counts and slots
    equals calculate_tb_size's, called with the allocation (PRBs, symbols, DMRS, xOverhead)."""
    import torch
    from sionna.phy.nr.utils import calculate_tb_size

    channel = _channel(ns, name)
    mcs_rows = _mcs_of(name, table)
    assert phy.GetMaxMcs(channel, table) == mcs_rows[-1][0]
    cases = list(itertools.product(mcs_rows, PRBS, SLOTS))
    qm, rate, n_prb, n_sym, n_dmrs, n_oh = (torch.tensor(c) for c in zip(
        *[(q, r, p, *slot) for (_, q, r), p, slot in cases]))
    tbs, cb_size, num_cb, *_ = calculate_tb_size(
        qm.int(), rate.float(), num_prbs=n_prb.int(), num_ofdm_symbols=n_sym.int(),
        num_dmrs_per_prb=n_dmrs.int(), num_ov=n_oh.int(), return_cw_length=False)
    mine = []
    for (mcs, *_), prbs, slot in cases:
        size = phy.TbSize(channel, table, mcs, prbs, *slot)
        info = phy.GetTbInfo(channel, table, mcs, size)
        mine.append((size, info.numCb, info.cbSize))
    for mcs, q, r in mcs_rows:
        assert (phy.GetModulationOrder(channel, table, mcs), phy.GetCodeRate(channel, table, mcs)) == (q, r)
    ref = np.column_stack([tbs.numpy(), num_cb.numpy(), cb_size.numpy()])
    wrong = [(c, m, tuple(r)) for c, m, r in zip(cases, mine, ref) if tuple(m) != tuple(r)]
    assert not wrong, f"{len(wrong)} of {len(cases)} TBs differ, e.g. {wrong[:3]}"
    # the sweep reaches TBs of several code blocks on both LDPC base graphs (3816 or 8424 bits)
    low_rate = rate.numpy() <= 0.25
    assert (ref[low_rate, 1] > 1).any() and (ref[~low_rate, 1] > 1).any()


# --- (b) EESM and TB error rates -------------------------------------------------------------

def _prb_sinrs(rng, n_prb, mean_db):
    """Frequency-selective per-PRB SINR (linear, mean mean_db): one draw of a 6-tap Rayleigh
    channel with an exponential power-delay profile, seen at n_prb frequencies across the band."""
    power = np.exp(-np.arange(6.0))
    taps = (rng.normal(size=6) + 1j * rng.normal(size=6)) * np.sqrt(power / power.sum() / 2)
    return 10 ** (mean_db / 10) * np.abs(np.fft.fft(taps, 4 * n_prb)[::4]) ** 2


@pytest.mark.slow
def test_eesm_equals_sionna(ns, phy):
    import torch
    from sionna.sys import EESM

    rng = np.random.default_rng(3)
    eesm64, eesm32 = EESM(precision="double"), EESM()
    checked = 0
    for table, mcs, n_prb, mean_db in [(1, 3, 51, 0.0), (1, 15, 24, 9.0), (1, 28, 106, 20.0),
                                       (2, 4, 5, 2.0), (2, 19, 273, 14.0), (2, 27, 51, 25.0)]:
        sinr = _prb_sinrs(rng, n_prb, mean_db)
        sinr[rng.integers(0, n_prb, n_prb // 5)] = 0.0  # PRBs not allocated
        grid = torch.tensor(sinr).reshape(1, n_prb, 1, 1)  # [symbols, subcarriers, UTs, streams]
        mine = phy.EffectiveSinr(table, mcs, sinr.tolist())
        assert mine == pytest.approx(float(eesm64(grid, mcs, table)), rel=1e-9)
        assert mine == pytest.approx(float(eesm32(grid.float(), mcs, table)), rel=1e-4)
        assert 0.001 <= mine <= 1000 and mine < sinr[sinr > 0].mean()
        checked += 1
    assert phy.EffectiveSinr(1, 10, [0.0, 0.0]) == 0.0  # nothing allocated: Sionna's 0
    assert checked == 6


# (channel, table) -> three MCS across the table with a BLER curve
BLER_MCS = {("PDSCH", 1): (4, 15, 27), ("PDSCH", 2): (3, 14, 26),
            ("PUSCH", 1): (5, 17, 26), ("PUSCH", 2): (10, 18, 27)}
N_TBS = 2000


def _waterfall(sionna_phy, name, table, mcs, n_re):
    """Five SINRs (dB, 0.02 dB off Sionna's 0.1 dB grid) where Sionna's TBLER of the TB is
    spread over its waterfall, and those TBLERs."""
    import torch

    grid = np.round(np.arange(-5.0, 30.0, 0.1), 1) + 0.02
    kw = {"transform_precoding": True} if CHANNELS[name] == 0 else {}
    out = sionna_phy(torch.full((len(grid),), mcs, dtype=torch.int32),
                     sinr_eff=torch.tensor(10 ** (grid / 10), dtype=torch.float32),
                     num_allocated_re=torch.full((len(grid),), n_re, dtype=torch.int32),
                     mcs_table_index=table, mcs_category=CHANNELS[name], **kw)
    tbler = out[3].numpy().astype(float)
    inside = np.flatnonzero((tbler > 0.005) & (tbler < 0.995))
    assert len(inside) >= 5, f"{name} table {table} MCS {mcs}: waterfall too steep to sample"
    pick = inside[np.linspace(0, len(inside) - 1, 5).round().astype(int)]
    return grid[pick], tbler[pick], grid, tbler


@pytest.mark.slow
@pytest.mark.parametrize("name,table", list(BLER_MCS))
def test_tb_error_rate_matches_sionna_phy_abstraction(ns, phy, sionna_phy, name, table):
    """At fixed SINR (no fading), for 3 MCS x 5 SINRs across each waterfall: the C++ TB BLER
    equals PHYAbstraction's TBLER for the same TB, and 2000 drawn TBs fail at a rate inside its
    99 % binomial interval."""
    from scipy.stats import binomtest

    channel = _channel(ns, name)
    for mcs in BLER_MCS[(name, table)]:
        n_prb = 24
        tbs = phy.TbSize(channel, table, mcs, n_prb, 14, 12)  # 156 REs a PRB
        snr_db, ref, grid, ref_all = _waterfall(sionna_phy, name, table, mcs, n_prb * 156)
        # the whole SINR sweep, not only the five points, is Sionna's table lookup
        mine_all = np.array([phy.TbBler(channel, table, mcs, tbs, float(x)) for x in grid])
        np.testing.assert_allclose(mine_all, ref_all, rtol=1e-5, atol=1e-7)
        for x, p in zip(snr_db, ref):
            failed = sum(not phy.DecodeTb(channel, table, mcs, tbs, float(x)) for _ in range(N_TBS))
            test = binomtest(failed, N_TBS, p)
            assert test.pvalue > 0.01, (
                f"{name} table {table} MCS {mcs} at {x:.2f} dB: {failed}/{N_TBS} failed, "
                f"Sionna's TBLER {p:.4f}")


@pytest.mark.slow
def test_eesm_then_bler_equals_phy_abstraction_on_a_selective_channel(ns, phy, sionna_phy):
    """The device's path (per-PRB SINRs -> EffectiveSinr -> dB -> TbBler) gives PHYAbstraction's
    TBLER when it is handed the same SINRs on every RE of the allocation (13 x 12 REs a PRB)."""
    import torch

    rng = np.random.default_rng(5)
    for (name, table), mcs_list in BLER_MCS.items():
        channel = _channel(ns, name)
        for mcs in mcs_list:
            n_prb = 51
            tbs = phy.TbSize(channel, table, mcs, n_prb, 14, 12)
            snr_db, *_ = _waterfall(sionna_phy, name, table, mcs, n_prb * 156)
            sinr = _prb_sinrs(rng, n_prb, snr_db[2] + 1.0)
            eff = phy.EffectiveSinr(table, mcs, sinr.tolist())
            mine = phy.TbBler(channel, table, mcs, tbs, 10 * np.log10(eff))
            grid = torch.tensor(np.repeat(sinr, 12), dtype=torch.float32).expand(13, -1)
            kw = {"transform_precoding": True} if CHANNELS[name] == 0 else {}
            out = sionna_phy(torch.tensor([mcs], dtype=torch.int32), sinr=grid[..., None, None],
                             mcs_table_index=table, mcs_category=CHANNELS[name], **kw)
            assert float(out[2]) == pytest.approx(eff, rel=1e-4)
            assert mine == pytest.approx(float(out[3]), rel=1e-5, abs=1e-7)


# --- same seed, same draws -------------------------------------------------------------------

def test_same_seed_same_draws(ns, table_file):
    pdsch = _channel(ns, "PDSCH")

    def draws(seed, stream):
        ns3.reset(ns, seed)
        phy = _phy(ns, table_file, stream)
        tbs = phy.TbSize(pdsch, 1, 15, 24, 14, 12)
        return [bool(phy.DecodeTb(pdsch, 1, 15, tbs, 7.52)) for _ in range(400)]

    a = draws(1, 5)
    assert 0 < sum(a) < len(a)  # inside the waterfall: both outcomes occur
    assert draws(1, 5) == a
    assert draws(1, 6) != a and draws(2, 5) != a


# --- (c) bad input ---------------------------------------------------------------------------

def _one_line_error(ns, fn, match):
    with pytest.raises(ns.cppyy.gbl.std.invalid_argument) as err:
        fn()
    what = err.value.what()
    assert "\n" not in what and what.startswith("NrPhyAbstraction: ")
    assert match in what, what


def test_bad_input_is_a_one_line_error(ns, phy, table_file, tmp_path):
    pdsch = _channel(ns, "PDSCH")
    _one_line_error(ns, lambda: _phy(ns, tmp_path / "missing.txt").Load(),
                    f"cannot open table file '{tmp_path / 'missing.txt'}'")
    _one_line_error(ns, lambda: ns.CreateObject[ns.cppyy.gbl.ns3.NrPhyAbstraction]().Load(),
                    "TableFile is not set")
    lines = table_file.read_text().splitlines(keepends=True)
    truncated = tmp_path / "truncated.txt"
    truncated.write_text("".join(lines[: len(lines) // 2]))
    _one_line_error(ns, lambda: _phy(ns, truncated).Load(), "is truncated (no 'end' line)")
    garbled = tmp_path / "garbled.txt"
    i = next(i for i, line in enumerate(lines) if line.startswith("tbs "))
    garbled.write_text("".join([*lines[:i], lines[i].replace(" 24 ", " x ", 1), *lines[i + 1:]]))
    _one_line_error(ns, lambda: _phy(ns, garbled).Load(), f"line {i + 1}: malformed 'tbs' record")
    not_tables = tmp_path / "other.txt"
    not_tables.write_text("hello\n")
    _one_line_error(ns, lambda: _phy(ns, not_tables).Load(), "line 1: not a gensemcom-nr-phy-tables")

    _one_line_error(ns, lambda: phy.TbSize(pdsch, 1, 29, 10, 14, 12),
                    "MCS 29 is not in PDSCH MCS table 1 (0..28)")
    _one_line_error(ns, lambda: phy.TbSize(pdsch, 2, 28, 10, 14, 12),
                    "MCS 28 is not in PDSCH MCS table 2 (0..27)")
    _one_line_error(ns, lambda: phy.TbSize(pdsch, 1, 5, 0, 14, 12), "nPrb 0 is out of range 1..275")
    _one_line_error(ns, lambda: phy.TbSize(pdsch, 1, 5, 276, 14, 12), "nPrb 276 is out of range")
    _one_line_error(ns, lambda: phy.TbSize(pdsch, 1, 5, 10, 15, 12), "nSymbols 15 is out of range 1..14")
    _one_line_error(ns, lambda: phy.TbSize(pdsch, 1, 5, 10, 1, 12), "no data RE left in a PRB")
    _one_line_error(ns, lambda: phy.TbSize(pdsch, 3, 5, 10, 14, 12), "no PDSCH MCS table 3")
    _one_line_error(ns, lambda: phy.TbBler(pdsch, 1, 0, 1000, 5.0),
                    "Sionna has no BLER curve for PDSCH MCS table 1 MCS 0 (lowest with one: 3)")
    _one_line_error(ns, lambda: phy.TbBler(pdsch, 1, 5, 1000, float("nan")), "effSinrDb is NaN")
    _one_line_error(ns, lambda: phy.GetTbInfo(pdsch, 1, 5, 0), "tbSize 0 is below")
    _one_line_error(ns, lambda: phy.EffectiveSinr(1, 5, [1.0, -2.0]), "sinrPerPrb[1] = -2")
    _one_line_error(ns, lambda: phy.EffectiveSinr(1, 29, [1.0]), "no EESM beta for MCS 29")


def test_table_file_is_cached_per_sionna_version(table_file):
    assert table_file == nr_tables.cache_path()
    assert table_file.parent.name == "nr" and table_file.stat().st_size > 100_000
    mtime = table_file.stat().st_mtime_ns
    assert nr_tables.ensure_nr_tables() == table_file and table_file.stat().st_mtime_ns == mtime
