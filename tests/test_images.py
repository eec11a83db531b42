import numpy as np
import pytest

from gensemcom.agents import images

SPORCO_FIVE = {"barbara", "kodim23", "monarch", "sail", "tulips"}


def test_catalogue_entries_load_and_are_documented():
    cat = images.catalogue()
    assert len({i.name for i in cat}) == len(cat)
    for info in cat:
        assert info.licence.strip() and info.source.strip()
        assert info.split in ("train", "heldout")
        img = images.load_image(info.name)
        assert img.shape == (128, 128, 3) and img.dtype == np.uint8
        assert img.std() > 1, f"{info.name} looks blank"


def test_splits_are_disjoint_and_heldout_is_sporco():
    train, heldout = set(images.names("train")), set(images.names("heldout"))
    assert heldout == SPORCO_FIVE
    assert train and not train & heldout
    assert train | heldout == {i.name for i in images.catalogue()}


def test_load_image_size_and_errors():
    assert images.load_image("astronaut", size=64).shape == (64, 64, 3)
    with pytest.raises(ValueError, match="astronaut"):  # message lists the known names
        images.load_image("no-such-image")
    with pytest.raises(ValueError):
        images.names("test")


def test_random_crops_deterministic_and_train_only(monkeypatch):
    a = images.random_crops("train", 6, 48, seed=3)
    assert a.shape == (6, 48, 48, 3) and a.dtype == np.uint8
    assert np.array_equal(a, images.random_crops("train", 6, 48, seed=3))
    assert not np.array_equal(a, images.random_crops("train", 6, 48, seed=4))

    used = []
    real = images.load_native
    monkeypatch.setattr(images, "load_native", lambda name: used.append(name) or real(name))
    images.random_crops("train", 50, 32, seed=0)
    assert set(used) <= set(images.names("train"))
