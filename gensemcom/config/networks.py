"""Sections of the channels: LTE (propagation, fading, UEs), the backhaul, the semantic link."""
from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator, model_validator

from gensemcom.constants import TABLE_I

from .base import Section, check_rate, shown


# ns-3 attributes of each path-loss model. Checked here because ns-3 aborts the whole process
# on an unknown attribute name.
PATHLOSS_ATTRIBUTES = {
    "friis": {"Frequency", "SystemLoss", "MinLoss"},
    "log_distance": {"Exponent", "ReferenceDistance", "ReferenceLoss"},
    "three_log_distance": {"Distance0", "Distance1", "Distance2", "Exponent0", "Exponent1",
                           "Exponent2", "ReferenceLoss"},
    "cost231": {"Lambda", "Frequency", "BSAntennaHeight", "SSAntennaHeight", "MinDistance"},
    "okumura_hata": {"Frequency", "Environment", "CitySize"},
}
# What each takes: ns-3 aborts on a value its checker rejects (a string for a double, an unknown
# enum name), and a frequency, distance, height, exponent or loss factor <= 0 takes its formula
# outside its domain (a log or a division by zero). A tuple: ns-3's enum names.
_POSITIVE, _NON_NEGATIVE, _ANY = "a number > 0", "a number >= 0", "a finite number"
PATHLOSS_VALUES = {
    **dict.fromkeys(("Frequency", "SystemLoss", "Exponent", "ReferenceDistance", "Distance0", "Distance1", "Distance2",
                     "Exponent0", "Exponent1", "Exponent2", "Lambda", "BSAntennaHeight", "SSAntennaHeight"), _POSITIVE),
    "MinLoss": _NON_NEGATIVE, "MinDistance": _NON_NEGATIVE, "ReferenceLoss": _ANY,   # ReferenceLoss in dB: any sign
    "Environment": ("Urban", "SubUrban", "OpenAreas"), "CitySize": ("Small", "Medium", "Large"),
}


def _attribute_problem(name: str, value) -> str | None:
    kind = PATHLOSS_VALUES.get(name)
    if isinstance(kind, tuple):
        return None if value in kind else f"must be one of {list(kind)}"
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind is None or number and (kind == _ANY or value > 0 or kind == _NON_NEGATIVE and value == 0):
        return None   # an unknown name is _known_attributes' error
    return f"must be {kind}"

class PropagationConfig(Section):
    model: Literal["friis", "log_distance", "three_log_distance", "cost231", "okumura_hata"] = Field(
        "log_distance", description="ns-3 path-loss model (see README: swapping the channel).")
    attributes: dict[str, float | int | str] = Field(
        {"Exponent": 3.4, "ReferenceLoss": 30.0},
        description="ns-3 attributes of that model, by their ns-3 names.")

    @field_validator("attributes", mode="before")
    @classmethod
    def _attribute_values(cls, attributes):
        """One line per bad value, naming its attribute (before the types: a union of three
        would give three lines for one value)."""
        if isinstance(attributes, dict):
            problems = [f"{name}: {problem}, got {shown(value)}" for name, value in attributes.items()
                        if (problem := _attribute_problem(name, value))]
            if problems:
                raise ValueError("\n".join(problems))
        return attributes

    @model_validator(mode="after")
    def _known_attributes(self):
        known = PATHLOSS_ATTRIBUTES[self.model]
        unknown = sorted(set(self.attributes) - known)
        if unknown:
            raise ValueError(f"attributes: {self.model} has no attribute(s) {unknown}; known: {sorted(known)}")
        if self.model == "three_log_distance":
            d = [self.attributes.get(f"Distance{i}", default) for i, default in enumerate((1.0, 200.0, 500.0))]
            if not d[0] < d[1] < d[2]:
                raise ValueError(f"attributes: three_log_distance needs Distance0 < Distance1 < Distance2 (ns-3's "
                                 f"defaults: 1, 200, 500), got {d}")
        return self

class FadingConfig(Section):
    model: Literal["none", "EPA", "EVA", "ETU"] = Field(
        "EVA", description="3GPP multipath profile of the generated Jakes fading trace, or none.")
    speed_kmh: float = Field(36.0, ge=0, le=500, description="UE speed setting the Doppler spread (36 km/h at 2.12 GHz = 70 Hz, the 3GPP EVA70 condition).")
    trace_s: float = Field(10.0, ge=1.0, le=60.0, description="Length of the generated trace.")

class UeConfig(Section):
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", description="Node name in traces.")
    distance_m: float = Field(gt=0, le=100000, description="Distance to the base station (eNB or gNB).")
    role: Literal["source", "sink"] = Field(description="source: sends units; sink: receives generated content.")

def check_roles(ues: list[UeConfig]) -> None:
    """The UEs of a cell: unique names, one sink, at least one source."""
    names = [u.name for u in ues]
    if len(set(names)) != len(names):
        raise ValueError("ues: UE names must be unique")
    if sum(u.role == "sink" for u in ues) != 1:
        raise ValueError("ues: exactly one UE must have role 'sink'")
    if not any(u.role == "source" for u in ues):
        raise ValueError("ues: at least one UE must have role 'source'")


class LinkAdaptationConfig(Section):
    enabled: bool = Field(
        True, description="Wrap lte.scheduler in the extension's ns3::OllaFfMacScheduler: UL MCS from the PUSCH SINR "
                          "predicted from SRS and UE power control with the MI error model, and outer-loop link adaptation "
                          "(OLLA) in both directions towards target_bler (docs/lte_uplink.md). false: ns-3's own AMC.")
    target_bler: float = Field(0.1, ge=0.01, le=0.3, description="First-transmission BLER the link adaptation aims at (LTE: 10 %).")
    ul_step_db: float = Field(1.0, ge=0, le=10, description="UL OLLA step on a NACK in dB (an ACK raises the offset by step x T / (1 - T)).")
    dl_step_cqi: float = Field(0.5, ge=0, le=5, description="DL OLLA step on a NACK, in CQI steps.")


# LteEnbRrc::SrsPeriodicity's allowed values; 0 picks one (channels/lte.py: srs_periodicity_ms).
SRS_PERIODS_MS = (2, 5, 10, 20, 40, 80, 160, 320)


class LteConfig(Section):
    bandwidth_rb: Literal[6, 15, 25, 50, 75, 100] = Field(25, description="UL and DL bandwidth in resource blocks.")
    earfcn_dl: int = Field(100, ge=0, le=65535, description="DL EARFCN (UL is DL + 18000).")
    enb_tx_power_dbm: float = Field(30.0, ge=-30, le=60, description="eNB transmit power.")
    ue_tx_power_dbm: float = Field(23.0, ge=-30, le=40, description="UE transmit power.")
    scheduler: Literal["pf", "rr", "fdmt", "tdmt"] = Field("pf", description="MAC scheduler (proportional fair, round robin, max throughput).")
    amc: Literal["mi", "piro"] = Field("mi", description="AMC model: mutual-information based (mi) or PiroEW2010.")
    harq: bool = Field(True, description="HARQ retransmissions at the MAC.")
    rlc: Literal["am", "um", "sm", "per_stream"] = Field(
        "am", description="RLC mode of the bearers: acknowledged, unacknowledged, saturation, or per_stream: the prompt on "
                          "the default bearer (RLC AM), the conditioning streams uplink on a dedicated QCI 7 bearer (RLC UM).")
    link_adaptation: LinkAdaptationConfig = Field(default_factory=LinkAdaptationConfig)
    srs_periodicity_ms: Literal[(0, *SRS_PERIODS_MS)] = Field(
        0, description="SRS period (ns3::LteEnbRrc::SrsPeriodicity). ns-3 gives each UE its own SRS subframe and refuses "
                       "RRC connection to UEs beyond the period's count (they never send). 0: ns-3's 40 ms, or the "
                       "shortest period with a slot for every UE.")
    propagation: PropagationConfig = Field(default_factory=PropagationConfig)
    fading: FadingConfig = Field(default_factory=FadingConfig)
    ues: list[UeConfig] = Field(
        default_factory=lambda: [UeConfig(name="ue_tx", distance_m=300.0, role="source"),
                                 UeConfig(name="ue_rx", distance_m=150.0, role="sink")],
        min_length=2, description="User equipment: at least one source and exactly one sink.")

    @model_validator(mode="after")
    def _roles(self):
        check_roles(self.ues)
        if 0 < self.srs_periodicity_ms < len(self.ues):
            raise ValueError(f"srs_periodicity_ms: {self.srs_periodicity_ms} ms leaves {len(self.ues) - self.srs_periodicity_ms} "
                             f"of the {len(self.ues)} UEs without an SRS slot (ns-3 never connects them); use 0 or at least {len(self.ues)}")
        return self

class BackhaulConfig(Section):
    rate: str = Field("1Gbps", description="PGW - edge server point-to-point link rate.")
    delay_ms: float = Field(5.0, ge=0, le=1000, description="One-way delay of that link.")
    _rate = field_validator("rate")(check_rate)

class SemanticLinkConfig(Section):
    """The paper's semantic link (channel "semantic_link"): source "tx" -> GenAI receiver "rx",
    one orthogonal sub-channel per stream of app.streams; the first stream (the prompt) uses
    CRC + ARQ (Eq. 2-3), the others adaptive M-QAM with bit errors delivered (Eq. 4). Code rate,
    modulation, PER and M-QAM constants come from the `latency_aware` section (Table I)."""
    avg_snr_db: float = Field(15.0, ge=-20, le=60, description="Average SNR P_T E|h|^2 / (B_total N0); sets the distance (Eq. 1).")
    fading: Literal["rayleigh", "awgn"] = Field("rayleigh", description="Block Rayleigh fading (one draw per stream block / ARQ attempt) or AWGN.")
    bandwidth_hz: float = Field(TABLE_I["bandwidth_hz"], gt=0, description="Bandwidth of each stream's sub-channel.")
    target_ber: float = Field(1e-5, gt=0, lt=0.2, description="BER target of the conditioning streams.")
    allocation: Literal["lemma1", "table2", "equal"] = Field(
        "lemma1", description="Power split of P_T: lemma1 = latency-optimal with continuous rates (Eq. 4, any number of "
                              "streams); table2 = discrete M-QAM per Table II (prompt + one conditioning stream); equal.")
    power_w: float = Field(TABLE_I["p_total_w"], gt=0, description="Total transmit power P_T.")
    coherence_s: float = Field(0.0, ge=0, description="Fading block length; 0 = one block per burst of packets of a stream.")
