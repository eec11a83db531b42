"""Constants shared by Python, C++ and configs, each defined once.

Tests check the C++ side against these (SemanticHeader::kSize, the semantic link's defaults).
"""

from __future__ import annotations

# -- wire ------------------------------------------------------------------------------------
SEMANTIC_HEADER_BYTES = 28                 # ns3::SemanticHeader::kSize
IPV4_UDP_HEADER_BYTES = 20 + 8
P2P_LOWER_HEADER_BYTES = IPV4_UDP_HEADER_BYTES + 2   # + PPP on a point-to-point link
# IPv4 + UDP + semantic header: protected from bit errors and without air time on the
# semantic link, as the latency-aware paper counts the payload |v_i| only.
PROTECTED_HEADER_BYTES = IPV4_UDP_HEADER_BYTES + SEMANTIC_HEADER_BYTES

RAW_RGB_BPP = 24.0                         # L: an uncompressed RGB pixel

# -- ports (UDP) ------------------------------------------------------------------------------
UNIT_PORT = 9000        # semantic units to the GenAI node: stream i on UNIT_PORT + i (EPC filters split bearers by port)
DELIVERY_PORT = 9100    # generated content from the GenAI node to the sink
MEG_PORT = 9200         # mobile edge generation messages: payload on MEG_PORT, task on MEG_PORT + 1
# Uplink ports of the conditioning streams (stream 1..) for LTE's dedicated bearer.
CONDITIONING_PORTS = (UNIT_PORT + 1, UNIT_PORT + 99)

# -- Table I of the latency-aware paper (latency-aware-generative-semcom.md) -------------------
TABLE_I = {
    "prompt_bits": 624,          # v0 = packet length L
    "edge_map_bits": 7860,       # v1
    "code_rate": 0.5,            # r
    "prompt_qam": 4,             # M0
    "per_k": 0.374,              # PER model, Eq. (2)
    "per_b": -0.31,
    "alpha": 1.5,                # adaptive M-QAM rate, Eq. (4)
    "beta": 5.0,
    "bandwidth_hz": 1e6,         # B0 = B1
    "p_total_w": 10e-3,          # P_T
    "pathloss_ref_db": -30.0,    # epsilon_0 at 1 m
    "pathloss_exp": 3.4,         # phi
    "n0_dbm_hz": -174.0,         # N0
}

# -- mobile edge generation protocols (pyagents/meg_split/protocols.py defines each)--------------
MEG_SINGLE_ES = ("full_ue", "full_es", "uieg", "eiug", "ciag", "esuc")
MEG_MULTI_ES = ("uidg", "diug", "dsuc", "uidcg", "dcsuc")
MEG_PROTOCOLS = MEG_SINGLE_ES + MEG_MULTI_ES
