"""Generative network layer in ns-3: measured flows against Eq. (3)-(4) on Fig. 1, with latent and
pixel-swapping prompts, and against the generative flow LP on a graph with three relays and two
GenAI nodes (~25 s a run)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from helpers.cli_run import config_variant, run_cli

from gensemcom.agents import hybrid
from gensemcom.agents import pixel_swap as ps

pytestmark = [pytest.mark.ns3, pytest.mark.e2e, pytest.mark.slow]


def _run(tmp_path: Path, config: str = "gnl_fig1.json", repeat: int = 2, **gnl) -> dict:
    path = config_variant(config, tmp_path / "gnl.json", output_dir=str(tmp_path), images={"repeat": repeat}, gnl=gnl)
    out, _ = run_cli(path)
    return json.loads((out / "summary.json").read_text())


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("gnl"))


def test_measured_flow_gain_matches_the_analysis(baseline):
    s = baseline
    assert s["generated_units_delivered"] == 10
    flows = {r["quantity"]: r for r in s["flows_in_bpp_per_period"]}
    for q in ("prompt[g]", "generated[g]", "y[g]", "flow_gain", "classical", "delivered"):
        assert abs(flows[q]["relative_error"]) < 0.05, flows[q]
    # The LP's plan is Eq. (4)'s closed form on Fig. 1
    closed = s["fig1_closed_form"]
    assert flows["y"]["analytic"] == pytest.approx(closed["y_g"], rel=1e-6)
    assert flows["flow_gain"]["analytic"] == pytest.approx(closed["flow_gain"], rel=1e-6)
    # The paper's Fig. 1 setting: a generating relay multiplies the flow several times.
    assert flows["flow_gain"]["measured"] > 5


def test_two_genai_nodes_behind_relays(tmp_path):
    s = _run(tmp_path, "gnl_two_genai.json", repeat=4)
    assert s["generated_units_delivered"] == 20
    routes = {(r["kind"], "-".join(r["path"])) for r in s["routes"]}
    assert routes == {("prompt", "s-g1"), ("prompt", "s-r2-g2"), ("generated", "g1-r3-d"), ("generated", "g2-r3-d"),
                      ("classical", "s-r1-d"), ("classical", "s-r2-d")}
    flows = {r["quantity"]: r for r in s["flows_in_bpp_per_period"]}
    # r3 -> d (18 bpp) is shared: g1's own output link caps it at 12, g2 gets the other 6
    assert flows["generated[g1]"]["analytic"] == pytest.approx(12.0) and flows["generated[g2]"]["analytic"] == pytest.approx(6.0)
    for q in ("prompt[g1]", "prompt[g2]", "generated[g1]", "generated[g2]", "y", "flow_gain", "classical", "delivered"):
        assert abs(flows[q]["relative_error"]) < 0.05, flows[q]
    assert s["f_sd_classical"] == pytest.approx(4.5)
    edges = pd.read_csv(Path(s["results"]) / "edges.csv")
    assert (edges["analytic_flow"] <= edges["capacity"] + 1e-6).all()
    busy = edges[edges["analytic_flow"] > 0.4]  # per-link payload rates from the link trace
    assert ((busy["measured_flow"] - busy["analytic_flow"]).abs() < 0.1 * busy["analytic_flow"]).all(), busy


def test_overloaded_genai_node_is_capped_by_its_output_link(tmp_path):
    s = _run(tmp_path, rate_factor=1.5)  # prompts 50 % faster than lambda*
    flows = {r["quantity"]: r for r in s["flows_in_bpp_per_period"]}
    # Prompts arrive at 1.5 lambda* L_p, but g -> d carries at most c_gd = 24 bpp per period.
    assert flows["prompt[g]"]["measured"] == pytest.approx(1.5 * flows["prompt[g]"]["analytic"], rel=0.05)
    assert flows["generated[g]"]["measured"] == pytest.approx(24.0, rel=0.03)


def test_pixel_swapping_prompts_through_ns3(baseline, tmp_path):
    gamma = 0.2
    s = _run(tmp_path, ps_gamma=gamma)
    assert s["generated_units_delivered"] == 10
    # L_c = L_p + gamma L + the PS header, on the wire
    assert s["prompt_bpp"] == pytest.approx(ps.combined_prompt_bpp(baseline["prompt_bpp"], gamma, 128, 128))
    assert s["prompt_bpp"] == pytest.approx(baseline["prompt_bpp"] + 24 * gamma + 8 * ps.HEADER_BYTES / 128 ** 2, abs=2e-3)
    flows = {r["quantity"]: r for r in s["flows_in_bpp_per_period"]}
    for q in ("prompt[g]", "generated[g]", "y[g]", "flow_gain"):
        assert abs(flows[q]["relative_error"]) < 0.05, flows[q]
    # g swapped the originals in: each swapped pixel has zero error, the rest are unchanged
    assert s["delivered_normalised_mse"] == pytest.approx((1 - gamma) * baseline["delivered_normalised_mse"], rel=0.05)


def test_hybrid_prompts_through_ns3(baseline, tmp_path):
    s = _run(tmp_path, prompting="hybrid", hybrid_factor=8)
    assert s["outcomes"]["generated"]["units"] == 10
    # L_p = the latent + the 16 x 16 reduced original with its header, on the wire
    assert s["prompt_bpp"] == pytest.approx(hybrid.hybrid_prompt_bpp(baseline["prompt_bpp"], 8, 128, 128))
    flows = {r["quantity"]: r for r in s["flows_in_bpp_per_period"]}
    for q in ("prompt[g]", "generated[g]", "y", "flow_gain"):
        assert abs(flows[q]["relative_error"]) < 0.05, flows[q]
    # g put the original's low-pass band in: less distortion than the latent alone
    assert s["delivered_normalised_mse"] < 0.95 * baseline["delivered_normalised_mse"]


def _implicit(tmp_path, **extra) -> tuple[dict, pd.DataFrame]:
    s = _run(tmp_path, "gnl_implicit.json", repeat=1, implicit_frames=8, **extra)
    return s, pd.read_csv(Path(s["results"]) / "units.csv")


def test_implicit_prompting_predicts_the_omitted_frames(tmp_path):
    s, units = _implicit(tmp_path)
    assert len(units) == 5 * 8 and s["prompt_bpp"] == pytest.approx(24 / 4)  # every 4th frame, raw
    sent = units["index"] % 4 == 0
    assert (units["sent"] == sent).all()
    assert (units.loc[sent, "outcome"] == "received").all() and (units.loc[~sent, "outcome"] == "predicted").all()
    assert (units.loc[sent, "normalised_mse"] == 0).all()           # forwarded as they arrived
    # after two received frames g extrapolates the pan's motion; before, it can only hold frame 0
    moving = units["index"] > 4
    assert units.loc[~sent, "normalised_mse"].notna().all()
    assert units.loc[~sent & moving, "normalised_mse"].mean() < 0.5 * units.loc[~sent & ~moving, "normalised_mse"].mean()
    flows = {r["quantity"]: r for r in s["flows_in_bpp_per_period"]}
    for q in ("prompt[g]", "generated[g]", "y", "flow_gain"):
        assert abs(flows[q]["relative_error"]) < 0.05, flows[q]


def test_implicit_prompting_covers_frames_lost_on_the_way(tmp_path):
    s, units = _implicit(tmp_path, prompt_loss_rate=0.01)  # ~30 % of the 36-packet frames lose a packet
    lost = units[units["sent"] & (units["outcome"] != "received")]
    assert len(lost) > 0, "no sent frame missed its deadline: the loss model did nothing"
    # a lost frame is predicted from the pan's earlier frames, or fails when it is the pan's first
    assert set(lost["outcome"]) <= {"predicted", "failed"}
    assert (units.loc[units["outcome"] == "failed", "index"] < 4).all()
    assert units.loc[units["outcome"] == "predicted", "normalised_mse"].notna().all()
