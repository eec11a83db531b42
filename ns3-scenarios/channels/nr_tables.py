"""5G NR link-abstraction tables for the C++ ``ns3::NrPhyAbstraction``, made by Sionna 2.x.

Nothing here is typed from 3GPP by hand: every number comes out of Sionna's own functions and
files, once per Sionna version, into a text file under ``build/nr/`` that the C++ object loads
(like the fading traces of ``fading.py``):

- modulation order Q_m and code rate R of each MCS of 38.214 MCS tables 1 and 2:
  ``sionna.phy.nr.utils.decode_mcs_index``;
- the transport block size of every MCS for every number of data REs N_RE = 1 .. 156 * 275
  (one layer): ``calculate_tb_size``, stored as runs (the N_RE where the TBS changes);
- the LDPC BLER of one code block against SINR and code-block size: the table that
  ``sionna.sys.PHYAbstraction`` interpolates at construction (``bler_table_interp``, from
  ``sionna/sys/bler_tables/*.json``), on its own (CBS, SINR dB) grid, so that the C++ lookup
  (nearest grid point, as ``PHYAbstraction.get_bler``) returns Sionna's numbers;
- the EESM beta of each MCS: ``sionna.sys.EESM().beta_table`` (``esm_params/``).

Two channels, numbered as Sionna's ``mcs_category``:

- ``PDSCH`` (1): 38.214 Tables 5.1.3.1-1/-2 with the PDSCH BLER curves. A PUSCH without
  transform precoding (CP-OFDM) uses the same MCS tables (38.214 §6.1.4.1), and an AWGN LDPC
  curve does not depend on the direction, so it is the table set for a CP-OFDM uplink too.
- ``PUSCH`` (0): PUSCH *with* transform precoding (DFT-s-OFDM), Tables 6.1.4.1-1/-2 (q = 2).
  Sionna's ``PUSCH_table{1,2}.json`` curves sit where those tables' spectral efficiencies put
  them (table 2, MCS 15: a QPSK curve near 3 dB, not the 64QAM one near 13 dB that Table
  5.1.3.1-2 would need), so they are only paired with the transform-precoding MCS tables here.

Usage::

    path = ensure_nr_tables()          # builds once (Sionna import + ~5 s), then a file name
    phy = ns.CreateObject[ns.cppyy.gbl.ns3.NrPhyAbstraction]()
    phy.SetAttribute("TableFile", ns.StringValue(str(path)))
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
from pathlib import Path
from typing import TextIO

import numpy as np

from gensemcom.core.paths import build_dir, write_atomically

FORMAT = "gensemcom-nr-phy-tables"
_FORMAT_VERSION = 1  # bump when the file layout or what goes into it changes
CHANNELS = {"PUSCH": 0, "PDSCH": 1}  # Sionna's mcs_category numbers
MCS_TABLES = (1, 2)  # 38.214 Table 5.1.3.1-1 (up to 64QAM) and -2 (up to 256QAM)
MAX_MCS = 28  # decode_mcs_index accepts 0..28; 29..31 are retransmission-only signalling
MAX_PRB = 275  # the largest allocation calculate_tb_size accepts (38.211 N_RB max)
MAX_RE_PER_PRB = 156  # 38.214 §5.1.3.2 caps the data REs of a PRB at 156 for the TBS
MAX_RE = MAX_PRB * MAX_RE_PER_PRB
SIONNA_DIST = "sionna-no-rt"


def sionna_files() -> list[Path]:
    """Sionna's BLER tables and EESM betas this module reads, without importing Sionna (the cache
    key needs them, and importing Sionna imports torch)."""
    spec = importlib.util.find_spec("sionna")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"Sionna is not installed (pip install {SIONNA_DIST})")
    root = Path(next(iter(spec.submodule_search_locations))) / "sys"
    bler = [root / "bler_tables" / f"{name}_table{t}.json" for name in CHANNELS for t in MCS_TABLES]
    return [*bler, root / "esm_params" / "eesm_beta_table.json"]


def cache_path(cache_dir: Path | None = None) -> Path:
    """The cache file for the installed Sionna: its name carries a hash of the Sionna version, of
    the files read and of this module's format version, so an upgrade never reuses stale tables."""
    h = hashlib.sha256()
    h.update(f"{FORMAT} {_FORMAT_VERSION} {importlib.metadata.version(SIONNA_DIST)}".encode())
    for f in sionna_files():
        h.update(f.name.encode())
        h.update(f.read_bytes())
    cache_dir = Path(cache_dir) if cache_dir is not None else build_dir() / "nr"
    return cache_dir / f"nr_phy_tables_{h.hexdigest()[:12]}.txt"


def ensure_nr_tables(cache_dir: Path | None = None) -> Path:
    """The table file for ``NrPhyAbstraction``'s ``TableFile``, built with Sionna if missing."""
    path = cache_path(cache_dir)
    if not path.exists():
        tables = build_tables()
        write_atomically(path, lambda f: write_tables(tables, f))
    return path


def _runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run-length form of values[0..n-1] (index i stands for i + 1): the 1-based start of each
    run and its value."""
    starts = np.concatenate([[0], np.flatnonzero(np.diff(values)) + 1])
    return starts + 1, values[starts]


def build_tables() -> dict:
    """Every table, from Sionna (imports torch and Sionna: ~10 s the first time in a process).

    Returns {"sionna": version, "snr_grid_db": (min, delta, n), "cbs_grid": (min, delta, n),
    "eesm": {table: [beta per MCS]}, "mcs": {(channel, table): [per-MCS dict]}} where a per-MCS
    dict has mcs, qm, rate (float32, as Sionna computes with it), tbs_runs (N_RE starts, TBS)
    and bler ([n_cbs, n_snr] float32, or None where Sionna has no curve for that MCS)."""
    import torch  # noqa: PLC0415 - heavy, and only needed when the cache is missing
    from sionna.phy.nr.utils import calculate_tb_size, decode_mcs_index  # noqa: PLC0415
    from sionna.sys import EESM, PHYAbstraction  # noqa: PLC0415

    phy = PHYAbstraction()  # interpolates every BLER table on its (CBS, SINR) grid
    bler_interp = phy.bler_table_interp.cpu().numpy()
    n_cbs, n_snr = bler_interp.shape[-2:]
    beta = EESM().beta_table["index"]
    n_re = torch.arange(1, MAX_RE + 1, dtype=torch.int32)
    out = {
        "sionna": importlib.metadata.version(SIONNA_DIST),
        "snr_grid_db": (*phy.snr_db_interp_min_max_delta[::2], n_snr),
        "cbs_grid": (*phy.cbs_interp_min_max_delta[::2], n_cbs),
        "eesm": {t: [float(b) for b in beta[t]] for t in MCS_TABLES},
        "mcs": {},
    }
    for name, channel in CHANNELS.items():
        for table in MCS_TABLES:
            mcs_index = torch.arange(MAX_MCS + 1, dtype=torch.int32)
            qm, rate = decode_mcs_index(mcs_index, table_index=table, is_pusch=channel == 0,
                                        transform_precoding=channel == 0, check_index_validity=False)
            rows = []
            for mcs in range(MAX_MCS + 1):
                if int(qm[mcs]) <= 0:  # not in this table
                    continue
                tbs = calculate_tb_size(qm[mcs].expand(MAX_RE), rate[mcs].expand(MAX_RE),
                                        num_coded_bits=n_re * qm[mcs], return_cw_length=False)[0]
                curve = bler_interp[channel, table - 1, mcs]
                if np.isinf(curve).any() and not np.isinf(curve).all():
                    raise ValueError(f"Sionna's BLER table for {name} table {table} MCS {mcs} "
                                     f"is partly missing")
                rows.append({
                    "mcs": mcs, "qm": int(qm[mcs]), "rate": np.float32(rate[mcs]),
                    "tbs_runs": _runs(tbs.numpy().astype(np.int64)),
                    "bler": None if np.isinf(curve).all() else curve,
                })
            out["mcs"][(channel, table)] = rows
    return out


def _numbers(values) -> str:
    # %.9g round-trips a float32 exactly (the C++ side reads BLERs and rates as float)
    return " ".join(f"{v:.9g}" if isinstance(v, (float, np.floating)) else str(int(v)) for v in values)


def _bler_rows(curve: np.ndarray):
    """Per CBS row: "=" (the same as the previous row: Sionna clamps CBS above its largest
    simulated size) or "<leading ones> <n> <n values>" (zeros after them)."""
    previous = None
    for row in curve:
        if previous is not None and np.array_equal(row, previous):
            yield "="
        else:
            lead = int(np.argmax(row != 1.0)) if (row != 1.0).any() else len(row)
            end = len(row) - (int(np.argmax(row[::-1] != 0.0)) if (row != 0.0).any() else len(row))
            middle = row[lead:max(lead, end)]
            yield f"{lead} {len(middle)} {_numbers(middle)}".rstrip()
        previous = row


def write_tables(tables: dict, f: TextIO) -> None:
    """The text layout NrPhyAbstraction reads (nr-phy-abstraction.cc, LoadTables)."""
    f.write(f"{FORMAT} {_FORMAT_VERSION}\n"
            f"# Built by gensemcom.channels.nr_tables from {SIONNA_DIST} {tables['sionna']}; "
            f"do not edit. Channels: 0 = PUSCH (transform precoding), 1 = PDSCH.\n"
            f"sionna {tables['sionna']}\n"
            f"snr_grid_db {_numbers(map(float, tables['snr_grid_db'][:2]))} {tables['snr_grid_db'][2]}\n"
            f"cbs_grid {_numbers(tables['cbs_grid'])}\n"
            f"max_re {MAX_RE}\n")
    for table, betas in tables["eesm"].items():
        f.write(f"eesm {table} {len(betas)} {' '.join(repr(b) for b in betas)}\n")
    for (channel, table), rows in tables["mcs"].items():
        for r in rows:
            key = f"{channel} {table} {r['mcs']}"
            f.write(f"mcs {key} {r['qm']} {r['rate']:.9g} {int(r['bler'] is not None)}\n")
            starts, sizes = r["tbs_runs"]
            f.write(f"tbs {key} {len(starts)} {_numbers(np.column_stack([starts, sizes]).ravel())}\n")
            if r["bler"] is not None:
                for i, row in enumerate(_bler_rows(r["bler"])):
                    f.write(f"bler {key} {i} {row}\n")
    f.write("end\n")

