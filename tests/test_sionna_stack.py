"""The numpy-2 stack: Sionna 2.x (sionna-no-rt, PyTorch) and compressai installed --no-deps.

The expected transport block sizes are worked out by hand from 3GPP TS 38.214 §5.1.3.2, not
taken from Sionna:
  N'_RE = 12 * N_symb - N_DMRS,  N_RE = min(156, N'_RE) * n_PRB,  N_info = N_RE * R * Q_m * v
  N_info <= 3824: n = max(3, floor(log2 N_info) - 6), N'_info = max(24, 2^n floor(N_info / 2^n)),
                  TBS = the smallest entry of Table 5.1.3.2-1 >= N'_info
  N_info >  3824: n = floor(log2(N_info - 24)) - 5, N'_info = max(3840, 2^n round((N_info - 24) / 2^n)),
                  C = ceil((N'_info + 24) / 3816) if R <= 1/4, else ceil((N'_info + 24) / 8424) if
                  N'_info > 8424, else 1;  TBS = 8 C ceil((N'_info + 24) / (8 C)) - 24
with Q_m and R from the PDSCH MCS index table 1 (64QAM, Table 5.1.3.1-1).

compressai's bitstream round trip under numpy 2 is tested where the codec is: tests/test_codec.py
(encoder + compressai's C++ rANS decoder) and tests/test_codec_backends.py (compressai.zoo).
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nr_utils = pytest.importorskip("sionna.phy.nr.utils")

# (MCS index, Q_m, R x 1024) from TS 38.214 Table 5.1.3.1-1.
MCS_TABLE_1 = [(0, 2, 120), (2, 2, 193), (10, 4, 340), (27, 6, 910), (28, 6, 948)]

# (MCS, n_PRB, N_symb, N_DMRS per PRB) -> (TBS, code blocks C, TB CRC bits), one layer, no xOverhead.
TBS_CASES = {
    # N_RE = 132, N_info = 132 * 2 * 120/1024 = 30.94 -> n = 3, N'_info = max(24, 24) -> 24
    (0, 1, 12, 12): (24, 1, 16),
    # N'_RE = 168 capped at 156: N_info = 156 * 2 * 120/1024 = 36.56 -> N'_info = 32 -> 32
    (0, 1, 14, 0): (32, 1, 16),
    # N_RE = 1320, N_info = 1320 * 4 * 340/1024 = 1753.1 -> n = 4, N'_info = 16 * 109 = 1744 -> 1800
    (10, 10, 12, 12): (1800, 1, 16),
    # N_RE = 3960, N_info = 5259.4 -> n = 7, N'_info = 128 * round(40.90) = 5248, R > 1/4, <= 8424:
    # TBS = 8 ceil(5272 / 8) - 24 = 5248
    (10, 30, 12, 12): (5248, 1, 24),
    # N_RE = 13200, N_info = 13200 * 2 * 193/1024 = 4975.8 -> n = 7, N'_info = 128 * 39 = 4992,
    # R <= 1/4: C = ceil(5016 / 3816) = 2, TBS = 16 ceil(5016 / 16) - 24 = 5000
    (2, 100, 12, 12): (5000, 2, 24),
    # N_RE = 13200, N_info = 13200 * 6 * 910/1024 = 70382.8 -> n = 11, N'_info = 2048 * 34 = 69632,
    # C = ceil(69656 / 8424) = 9, TBS = 72 ceil(69656 / 72) - 24 = 69672
    (27, 100, 12, 12): (69672, 9, 24),
}


def test_numpy_is_2():
    assert int(np.__version__.split(".")[0]) == 2


def test_compressai_imports_with_its_real_dependencies():
    """compressai is installed --no-deps (its numpy<2 pin is stale): `import compressai` loads
    every subpackage, so this fails if one of the packages it imports is missing from pyproject."""
    import compressai

    assert "ans" in compressai.available_entropy_coders()


@pytest.mark.parametrize("mcs,qm,r1024", MCS_TABLE_1)
def test_mcs_table_1(mcs, qm, r1024):
    q, r = nr_utils.decode_mcs_index(mcs, table_index=1, is_pusch=False)
    assert int(q) == qm
    assert float(r) == pytest.approx(r1024 / 1024, abs=1e-6)


@pytest.mark.parametrize("case", sorted(TBS_CASES), ids=lambda c: "mcs{}-prb{}-sym{}-dmrs{}".format(*c))
def test_tb_size_38214(case):
    mcs, n_prb, n_symb, n_dmrs = case
    qm, r = nr_utils.decode_mcs_index(mcs, table_index=1, is_pusch=False)
    tbs, cb_size, n_cb, tb_crc, cb_crc, cw_lengths = nr_utils.calculate_tb_size(
        int(qm), float(r), num_prbs=n_prb, num_ofdm_symbols=n_symb, num_dmrs_per_prb=n_dmrs, num_layers=1)
    exp_tbs, exp_c, exp_crc = TBS_CASES[case]
    assert (int(tbs), int(n_cb), int(tb_crc)) == (exp_tbs, exp_c, exp_crc)
    # Code blocks share TB + CRC equally, each with its own 24-bit CRC when there are several.
    assert int(cb_size) * exp_c == exp_tbs + exp_crc + (24 * exp_c if exp_c > 1 else 0)
    # Every coded bit of the allocation is used: N_RE * Q_m over the code words.
    assert int(cw_lengths.sum()) == min(156, 12 * n_symb - n_dmrs) * n_prb * int(qm)
