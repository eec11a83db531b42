"""MEG through ns-3 LTE end to end (CLI, real agent processes, real bytes): a single-ES and a
cooperative multi-ES protocol, checked against the packet trace (~40 s)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers.cli_run import config_variant, run_cli

pytestmark = [pytest.mark.ns3, pytest.mark.e2e, pytest.mark.slow]

SIZE = 64
LATENT16, LATENT16_STRIP = 7 + 4 * 16 * 16 * 2, 7 + 4 * 12 * 16 * 2


@pytest.fixture(scope="module")
def meg_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("meg")
    return run_cli(config_variant("meg_multi_es.json", tmp / "meg.json", output_dir=str(tmp / "results"),
                                  images=dict(names=["kodim23"], size=SIZE, interval_s=0.5),
                                  meg=dict(protocols=["ciag", "uidcg"], sketch_side=32, reference=False)))


def test_outputs_and_overhead_table_printed(meg_run):
    out, stdout = meg_run
    for name in ("config.json", "packets.parquet", "messages.parquet", "requests.parquet", "overhead.parquet",
                 "protocols.parquet", "overhead.md", "meg.png", "grid.png", "summary.json", "run.log",
                 "agent-ue0.log", "agent-es0.log", "agent-es1.log"):
        assert (out / name).is_file(), name
    assert "| protocol | uplink | downlink | total | reduction vs centralised |" in stdout
    assert "| ciag |" in stdout and "| uidcg |" in stdout
    assert "inception_cosine (FID substitute) | FID / KID vs input (n) |" in stdout and "– (n=1)" in stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status_counts"] == {"ok": 2} and summary["edge_servers"] == 2


def test_every_message_crossed_ns3_lte_intact(meg_run):
    out, _ = meg_run
    packets = pd.read_parquet(out / "packets.parquet")
    messages = pd.read_parquet(out / "messages.parquet")
    assert [tuple(r) for r in messages[["protocol", "src", "dst", "kind", "payload_bytes"]].itertuples(index=False)] == [
        ("ciag", "ue0", "es0", "latent", LATENT16), ("ciag", "es0", "ue0", "latent", LATENT16),
        ("uidcg", "ue0", "es0", "latent_part", LATENT16_STRIP), ("uidcg", "ue0", "es1", "latent_part", LATENT16_STRIP),
        ("uidcg", "es0", "ue0", "latent_part", LATENT16_STRIP), ("uidcg", "es1", "ue0", "latent_part", LATENT16_STRIP)]
    tx = packets[packets.event == "stream_tx"]
    rx = packets[packets.event == "stream_rx"]
    for m in messages.itertuples():
        sent = tx[tx.unit == m.mid]
        got = rx[rx.unit == m.mid]
        assert set(sent.node) == {m.src} and set(got.node) == {m.dst}
        assert sent.bytes.sum() == m.bytes == got.bytes.sum()      # payload + task, reassembled
        assert (got.ok == 1).all() and m.complete and m.crc_ok
        assert m.t_rx - m.t_sent > 0.005                         # LTE + 5 ms backhaul at least


def test_overhead_is_measured_from_the_packets(meg_run):
    out, _ = meg_run
    table = pd.read_parquet(out / "overhead.parquet").set_index("protocol")
    messages = pd.read_parquet(out / "messages.parquet")
    for p in ("ciag", "uidcg"):
        m = messages[messages.protocol == p]
        assert table.loc[p, "uplink_bits"] == 8 * m[m.direction == "uplink"].bytes.sum()
        assert table.loc[p, "downlink_bits"] == 8 * m[m.direction == "downlink"].bytes.sum()
    assert table.loc["ciag", "downlink_bits"] == 8 * LATENT16
    assert table.loc["ciag", "paper_reduction"] == pytest.approx(47.2)


def test_radio_activity_response_and_quality(meg_run):
    out, _ = meg_run
    packets = pd.read_parquet(out / "packets.parquet")
    requests = pd.read_parquet(out / "requests.parquet")
    messages = pd.read_parquet(out / "messages.parquet")
    tb = packets[packets.event.isin(["phy_ul_tb", "phy_dl_tb"])]
    for m in messages.itertuples():   # transport blocks of the right direction carried each message
        kind = "phy_ul_tb" if m.direction == "uplink" else "phy_dl_tb"
        assert ((tb.event == kind) & tb.time_s.between(m.t_sent, m.t_rx)).sum() > 0
    assert (requests.status == "ok").all()
    assert (requests.response_s > 0).all() and (requests.t_done >= requests.t_request).all()
    assert np.isfinite(requests.psnr_db).all() and (requests.psnr_db > 10).all()
    assert requests.lpips.between(0, 1).all()
    assert requests.inception_cosine.between(0, 1).all()          # the per-image FID substitute
    assert all(len(f) == 2048 for f in requests.inception_feat)
    per = pd.read_parquet(out / "protocols.parquet").set_index("protocol")
    assert (per.fid_n == 1).all() and per.fid.isna().all()         # one image each: no FID / KID
    assert np.isfinite(per.inception_cosine).all()
    assert (requests.compute_es_s > 0).all() and (requests.compute_ue_s > 0).all()
