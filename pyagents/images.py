"""Offline image catalogue: every image the agents may use, with source and licence.

All images ship inside installed wheels (scikit-image, scikit-learn, matplotlib,
sporco), so nothing is downloaded at run time.  The held-out split is the five
sporco test images, which the codec never sees during training.
"""
from __future__ import annotations

import functools
import importlib
import importlib.resources
from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class ImageInfo:
    name: str
    source: str      # package + accessor, as a human-readable string
    licence: str     # "<package licence> (<package>); <image licence>"
    split: str       # "train" or "heldout"


def _skimage(fn: str):
    return lambda: getattr(importlib.import_module("skimage.data"), fn)()


def _sklearn(filename: str):
    return lambda: importlib.import_module("sklearn.datasets").load_sample_image(filename)


def _matplotlib(filename: str):
    def load():
        cbook = importlib.import_module("matplotlib.cbook")
        with Image.open(cbook.get_sample_data(filename)) as im:
            return np.asarray(im.convert("RGB"))
    return load


def _sporco(filename: str):
    # Read the PNGs directly rather than via sporco.util.ExampleImages, which
    # pulls in sporco's heavier imports and adds nothing at default options.
    def load():
        import sporco
        path = importlib.resources.files(sporco) / "data" / filename
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    return load


_SKI = "BSD-3 (scikit-image); "
_SPORCO = "BSD-3 (sporco); "
_ENTRIES = [
    (ImageInfo("astronaut", "skimage.data.astronaut()", _SKI + "public domain (NASA)", "train"), _skimage("astronaut")),
    (ImageInfo("chelsea", "skimage.data.chelsea()", _SKI + "CC0 (Stefan van der Walt)", "train"), _skimage("chelsea")),
    (ImageInfo("coffee", "skimage.data.coffee()", _SKI + "CC0 (Rachel Michetti)", "train"), _skimage("coffee")),
    (ImageInfo("rocket", "skimage.data.rocket()", _SKI + "public domain (SpaceX)", "train"), _skimage("rocket")),
    (ImageInfo("hubble_deep_field", "skimage.data.hubble_deep_field()", _SKI + "public domain (NASA)", "train"), _skimage("hubble_deep_field")),
    (ImageInfo("immunohistochemistry", "skimage.data.immunohistochemistry()", _SKI + "no known copyright restrictions (CMMI)", "train"), _skimage("immunohistochemistry")),
    (ImageInfo("retina", "skimage.data.retina()", _SKI + "CC0 (Mikael Häggström)", "train"), _skimage("retina")),
    (ImageInfo("camera", "skimage.data.camera() (grey)", _SKI + "CC0 (Lav Varshney)", "train"), _skimage("camera")),
    (ImageInfo("brick", "skimage.data.brick() (grey)", _SKI + "CC0 (cc0textures.com)", "train"), _skimage("brick")),
    (ImageInfo("grass", "skimage.data.grass() (grey)", _SKI + "CC0 (linolafett, DeviantArt)", "train"), _skimage("grass")),
    (ImageInfo("gravel", "skimage.data.gravel() (grey)", _SKI + "CC0 (cc0textures.com)", "train"), _skimage("gravel")),
    (ImageInfo("china", "sklearn.datasets.load_sample_image('china.jpg')", "BSD-3 (scikit-learn); CC BY 2.0 (danielbuechele, Flickr)", "train"), _sklearn("china.jpg")),
    (ImageInfo("flower", "sklearn.datasets.load_sample_image('flower.jpg')", "BSD-3 (scikit-learn); CC BY 2.0 (vultilion, Flickr)", "train"), _sklearn("flower.jpg")),
    (ImageInfo("grace_hopper", "matplotlib.cbook.get_sample_data('grace_hopper.jpg')", "Matplotlib licence (PSF-based); public domain (US Navy photo)", "train"), _matplotlib("grace_hopper.jpg")),
    (ImageInfo("barbara", "sporco/data/barbara.png", _SPORCO + "freely redistributable test image (attributed to Allen Gersho)", "heldout"), _sporco("barbara.png")),
    (ImageInfo("kodim23", "sporco/data/kodim23.png", _SPORCO + "Kodak test image, released for unrestricted use", "heldout"), _sporco("kodim23.png")),
    (ImageInfo("monarch", "sporco/data/monarch.png", _SPORCO + "Waterloo BragZone, free of copyright restrictions", "heldout"), _sporco("monarch.png")),
    (ImageInfo("sail", "sporco/data/sail.png", _SPORCO + "Waterloo BragZone, free of copyright restrictions", "heldout"), _sporco("sail.png")),
    (ImageInfo("tulips", "sporco/data/tulips.png", _SPORCO + "Waterloo BragZone, free of copyright restrictions", "heldout"), _sporco("tulips.png")),
]


# Optional extra training photos from Debian packages (`apt install opencv-doc mate-backgrounds`).
# Only the training scripts use them, when installed; runs, tests and evaluation never do,
# so a machine without them behaves identically.
_OPENCV_DIR = "/usr/share/doc/opencv-doc/examples/data"
_MATE_DIR = "/usr/share/backgrounds/mate/nature"
_OPENCV_LICENCE = "Apache-2.0 (Debian opencv-doc, OpenCV sample data)"
_MATE_LICENCE = "GPL-2+ (Debian mate-backgrounds; authors in its copyright file)"
_EXTRA = [(f"opencv_{stem}", f"{_OPENCV_DIR}/{stem}.jpg", _OPENCV_LICENCE) for stem in (
    "apple", "baboon", "building", "butterfly", "fruits", "home", "messi5", "orange",
    "squirrel_cls", "aero1", "aero3", "HappyFish", "board", "leuvenA", "stuff")] + [
    (f"mate_{stem.lower()}", f"{_MATE_DIR}/{stem}.jpg", _MATE_LICENCE) for stem in (
    "Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "GreenMeadow", "LadyBird",
    "RainDrops", "Storm", "TwoWings", "Wood", "YellowFlower")]


def _file(path: str):
    def load():
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    return load


_EXTRA_ENTRIES = [(ImageInfo(name, path, licence, "train_extra"), _file(path)) for name, path, licence in _EXTRA]
_LOADERS = {info.name: loader for info, loader in _ENTRIES + _EXTRA_ENTRIES}
SPLITS = ("train", "heldout", "train_extra")


def catalogue() -> list[ImageInfo]:
    """The images that ship in wheels (train + heldout), available on every machine."""
    return [info for info, _ in _ENTRIES]


def extra_catalogue() -> list[ImageInfo]:
    """The optional Debian training photos that are installed on this machine."""
    import os
    return [info for info, _ in _EXTRA_ENTRIES if os.path.exists(info.source)]


def names(split: str) -> list[str]:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    if split == "train_extra":
        return [info.name for info in extra_catalogue()]
    return [info.name for info, _ in _ENTRIES if info.split == split]


@functools.lru_cache(maxsize=None)
def load_native(name: str) -> np.ndarray:
    """The image at its shipped resolution as uint8 HxWx3 RGB (grey is replicated)."""
    if name not in _LOADERS:
        raise ValueError(f"unknown image {name!r}; known images: {', '.join(_LOADERS)}")
    img = np.asarray(_LOADERS[name]())
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    img = np.ascontiguousarray(img[:, :, :3], dtype=np.uint8)
    img.setflags(write=False)  # cached: callers must not mutate the shared copy
    return img


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    # PIL's LANCZOS filter antialiases when downscaling.
    return np.asarray(Image.fromarray(img).resize((size, size), Image.LANCZOS))


def load_image(name: str, size: int = 128) -> np.ndarray:
    """Centre-crop to a square, then resize to size x size. uint8 HxWx3 RGB."""
    img = load_native(name)
    h, w = img.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return _resize(img[top:top + side, left:left + side], size)


def random_crops(split: str | list[str], n: int, size: int, seed: int) -> np.ndarray:
    """n random square crops (n x size x size x 3 uint8) from the images of `split` (or a list of names).

    Each crop picks an image uniformly, a side between `size` and the image's
    shorter side (log-uniform, so both native-resolution texture and downscaled
    whole-scene views appear), a random position and a random horizontal flip.
    """
    pool = list(split) if isinstance(split, (list, tuple)) else names(split)
    rng = np.random.default_rng(seed)
    out = np.empty((n, size, size, 3), dtype=np.uint8)
    for i in range(n):
        img = load_native(pool[rng.integers(len(pool))])
        h, w = img.shape[:2]
        short = min(h, w)
        side = size if short <= size else int(round(np.exp(rng.uniform(np.log(size), np.log(short)))))
        top = rng.integers(h - side + 1) if h > side else 0
        left = rng.integers(w - side + 1) if w > side else 0
        crop = img[top:top + side, left:left + side]
        crop = crop if crop.shape[:2] == (size, size) else _resize(crop, size)
        out[i] = crop[:, ::-1] if rng.random() < 0.5 else crop
    return out


def image_set(names: list[str], size: int, crops_per_image: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Centre crops of the named images plus random crops of them (identifiers, images)."""
    ids = list(names)
    images = [load_image(n, size) for n in names]
    for i, name in enumerate(names):
        crops = random_crops([name], crops_per_image, size, seed=seed * 1000 + i)
        ids += [f"{name}#crop{j}" for j in range(crops_per_image)]
        images += list(crops)
    return ids, np.stack(images)
