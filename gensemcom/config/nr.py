"""Section `nr`: the 5G NR cell of channel "nr" (ns3::NrCellChannel, docs/nr.md): UEs, a gNB
and the edge server behind it, with the frame, link adaptation, HARQ, RLC and fading."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import Section
from .networks import UeConfig, check_roles

# 38.101-1 / 38.101-2 Table 5.3.2-1: PRBs of the widest band per numerology (SCS 15 * 2^mu kHz).
NR_MAX_PRB = {0: 270, 1: 273, 2: 264, 3: 264}
NR_MAX_MCS = {1: 28, 2: 27}  # 38.214 Tables 5.1.3.1-1 and -2
TDL_PROFILES = ("TDL-A", "TDL-B", "TDL-C", "TDL-D", "TDL-E")


class NrFadingConfig(Section):
    model: Literal[("none", *TDL_PROFILES)] = Field(
        "TDL-C", description="38.901 TDL profile of the fast fading per PRB and slot (made by Sionna, cached under "
                             "build/nr/fading), or none.")
    delay_spread_ns: float = Field(100.0, gt=0, le=5000, description="RMS delay spread scaling the profile (38.901 Table 7.7.3-1: 10 to 1000 ns).")
    speed_kmh: float = Field(3.0, ge=0, le=500, description="UE speed setting the Doppler spread.")
    trace_s: float = Field(1.0, ge=0.05, le=20.0, description="Length of the trace, looped; each UE starts at its own offset.")


class NrConfig(Section):
    numerology: Literal[0, 1, 2, 3] = Field(1, description="mu: subcarrier spacing 15 x 2^mu kHz, 14-symbol slots of 1/2^mu ms.")
    bandwidth_prb: int = Field(51, ge=1, le=275, description="PRBs per direction (at most the 38.101 maximum of the numerology: "
                                                           "270, 273, 264, 264 for mu 0..3).")
    duplex: str = Field("FDD", description="FDD (every slot DL and UL, on two carriers) or a TDD pattern of D, U and S slots, e.g. DDDSU.")
    mcs_table: Literal[1, 2] = Field(1, description="38.214 MCS table: 1 (Table 5.1.3.1-1, up to 64QAM) or 2 (5.1.3.1-2, 256QAM).")
    scheduler: Literal["rr", "pf"] = Field("rr", description="Slot scheduler: round robin or proportional fair.")
    bler_target: float = Field(0.1, gt=0, lt=1, description="First-transmission BLER target of link adaptation (outer loop).")
    fixed_mcs: int = Field(-1, ge=-1, le=28, description="-1: link adaptation; an MCS of the table: every TB at that MCS.")
    harq_max_tx: int = Field(4, ge=1, le=4, description="HARQ transmissions of a TB at most (chase combining).")
    carrier_hz: float = Field(3.5e9, ge=0.4e9, le=52.6e9, description="Carrier frequency (path loss, Doppler).")
    gnb_tx_power_dbm: float = Field(35.0, ge=-30, le=60, description="gNB transmit power, spread over the band's PRBs.")
    ue_tx_power_dbm: float = Field(23.0, ge=-30, le=40, description="UE transmit power, spread over its allocated PRBs.")
    gnb_noise_figure_db: float = Field(5.0, ge=0, le=20, description="gNB receiver noise figure.")
    ue_noise_figure_db: float = Field(7.0, ge=0, le=20, description="UE receiver noise figure.")
    pathloss_model: Literal["umi", "uma", "log_distance"] = Field(
        "umi", description="38.901 UMi street canyon or UMa (NLOS, no shadowing), or free space at 1 m + log-distance.")
    rlc: Literal["am", "um", "per_stream"] = Field(
        "per_stream", description="RLC mode: per_stream = the prompt (first stream) acknowledged, the conditioning streams "
                                  "unacknowledged; am or um for every stream.")
    fading: NrFadingConfig = Field(default_factory=NrFadingConfig)
    ues: list[UeConfig] = Field(
        default_factory=lambda: [UeConfig(name="ue_tx", distance_m=300.0, role="source"),
                                 UeConfig(name="ue_rx", distance_m=150.0, role="sink")],
        min_length=2, description="User equipment (distance to the gNB): at least one source and exactly one sink.")

    @field_validator("duplex")
    @classmethod
    def _duplex(cls, duplex: str) -> str:
        if duplex != "FDD":
            bad = sorted(set(duplex) - set("DUS"))
            if not duplex or bad:
                raise ValueError(f"unknown TDD slot symbol {bad[0] if bad else ''!r} in {duplex!r}: FDD, or a pattern "
                                 "of D, U and S")
            if "U" not in duplex.replace("S", "U") or "D" not in duplex.replace("S", "D"):
                raise ValueError(f"{duplex!r} has no uplink or no downlink slot")
        return duplex

    @model_validator(mode="after")
    def _limits(self):
        top = NR_MAX_PRB[self.numerology]
        if self.bandwidth_prb > top:
            raise ValueError(f"bandwidth_prb: {self.bandwidth_prb} PRBs exceed the 38.101 maximum of {top} at "
                             f"{15 << self.numerology} kHz subcarrier spacing")
        if self.fixed_mcs > NR_MAX_MCS[self.mcs_table]:
            raise ValueError(f"fixed_mcs: MCS table {self.mcs_table} ends at {NR_MAX_MCS[self.mcs_table]}, got {self.fixed_mcs}")
        check_roles(self.ues)
        return self
