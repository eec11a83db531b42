"""Rate-quality measurement: JPEG interpolation, the image set, and one small real measurement."""
import numpy as np
import pandas as pd
import pytest

from gensemcom.agents import images
from gensemcom.analysis import rate_quality as rq
from gensemcom.config import parse_config
from gensemcom.scenarios import rate_quality


def test_jpeg_curve_is_interpolated_at_each_methods_bpp():
    table = pd.DataFrame([
        {"method": "jpeg q5", "family": "jpeg", "bpp": 0.4, "psnr_db": 20.0, "lpips": 0.4, "ms_ssim": 0.8, "fid": 300.0, "kid": 0.2},
        {"method": "jpeg q30", "family": "jpeg", "bpp": 1.2, "psnr_db": 28.0, "lpips": 0.1, "ms_ssim": 0.96, "fid": 100.0, "kid": 0.0},
        {"method": "codec", "family": "codec", "bpp": 0.6, "psnr_db": 23.0, "lpips": 0.3, "ms_ssim": 0.9, "fid": 200.0, "kid": 0.1},
        {"method": "tiny", "family": "codec", "bpp": 0.1, "psnr_db": 15.0, "lpips": 0.6, "ms_ssim": 0.5, "fid": 400.0, "kid": 0.3},
    ])
    rq.add_jpeg_at_equal_bpp(table)
    codec = table.set_index("method").loc["codec"]
    assert codec["jpeg_psnr_db_at_bpp"] == pytest.approx(22.0)   # a quarter of the way from 20 to 28
    assert codec["jpeg_lpips_at_bpp"] == pytest.approx(0.325)
    assert codec["jpeg_fid_at_bpp"] == pytest.approx(250.0)
    # Outside JPEG's measured range nothing is extrapolated.
    assert np.isnan(table.set_index("method").loc["tiny", "jpeg_psnr_db_at_bpp"])


def test_image_set_adds_seeded_crops():
    ids, pictures = images.image_set(["monarch", "sail"], 64, crops_per_image=3, seed=1)
    assert ids[:2] == ["monarch", "sail"] and len(ids) == 8 and pictures.shape == (8, 64, 64, 3)
    again = images.image_set(["monarch", "sail"], 64, crops_per_image=3, seed=1)[1]
    np.testing.assert_array_equal(pictures, again)


@pytest.mark.slow
def test_small_measurement_end_to_end(tmp_path):
    import torch
    torch.set_num_threads(1)
    cfg = parse_config({
        "name": "rq_test", "scenario": "rate_quality", "output_dir": str(tmp_path),
        "images": {"names": ["monarch", "sail"], "size": 64},
        "rate_quality": {"codecs": [{"backend": "learned", "rate": "medium"}], "jpeg_qualities": [10, 50],
                         "generators": [{"backend": "hint_upsample"}], "crops_per_image": 1}})
    rows, table, info = rate_quality.measure(cfg)
    assert info["n_images"] == 4 and info["clip_metric"] == "clip_substitute"
    assert set(table["method"]) == {"learned medium", "jpeg q10", "jpeg q50", "hint_upsample"}
    assert len(rows) == 4 * 4
    t = table.set_index("method")
    assert t.loc["jpeg q50", "bpp"] > t.loc["jpeg q10", "bpp"]
    assert t.loc["jpeg q50", "psnr_db"] > t.loc["jpeg q10", "psnr_db"]
    assert t.loc["jpeg q50", "lpips"] < t.loc["jpeg q10", "lpips"]
    # The hint baseline's bits are the generator streams: prompt + edge map + 192-byte hint.
    hint_rows = rows[rows["method"] == "hint_upsample"]
    assert (hint_rows["bytes_hint"] == 192).all()
    assert np.allclose(hint_rows["bpp"], 8 * (hint_rows["bytes_prompt"] + hint_rows["bytes_edge"] + 192) / 64 ** 2)
    assert (rows["clip_metric"] == "clip_substitute").all()
    assert rows["lpips"].between(0, 1.5).all() and table["fid"].ge(0).all()
    assert rq.markdown(table).count("\n") == len(table) + 1
