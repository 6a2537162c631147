"""Images of the course: procedural skin lesions, the MedMNIST ``.npz`` format, and digits.

Three sources, all returned as float32 tensors of shape (n, channels, size, size) in [-1, 1]
(the range of a tanh generator):

* ``lesions(n, size, seed)``: a procedural, *synthetic* dermoscopy-like generator with four
  known, independent binary attributes (``ATTRIBUTES``): pigment (light / dark), border
  (regular / irregular), size (small / large) and an artefact, hair strands (absent / present),
  drawn on a skin-coloured background with texture, vignetting and noise. Deterministic for a
  seed. These are pictures made by a formula, not patient data.
* ``load_medmnist(name, split, data_dir)``: a reader of the MedMNIST v2 ``.npz`` files
  (Yang et al. 2023; keys ``train_images``, ``train_labels``, ``val_*``, ``test_*``; grey
  (n, H, W) or RGB (n, H, W, 3) ``uint8``; sizes 28, 64, 128, 224). ``download_medmnist`` fetches
  a file only when called, checks its MD5, and offline says where to put the file.
* ``digits(size)``: scikit-learn's 8x8 handwritten digits (shipped with it), resized.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

# ----------------------------------------------------------------------------------------------
# Procedural lesions (synthetic)
# ----------------------------------------------------------------------------------------------

ATTRIBUTES = ("pigment", "border", "size", "hair")
"""Attribute names, in the column order of the label array. Value 1 means, in order:
dark pigment, irregular border, large lesion, hair present (0: light, regular, small, absent)."""

ATTRIBUTE_VALUES = {
    "pigment": ("light", "dark"),
    "border": ("regular", "irregular"),
    "size": ("small", "large"),
    "hair": ("no hair", "hair"),
}

LESION_SIZES = (32, 64)

_SKIN = np.array([0.87, 0.66, 0.55])      # mean skin tone (RGB in [0, 1])
_LIGHT = np.array([0.66, 0.44, 0.30])     # light-brown pigment
_DARK = np.array([0.28, 0.16, 0.12])      # dark-brown pigment
_HAIR = np.array([0.12, 0.09, 0.08])

HAIR_OPACITY = 0.5
"""How much a hair strand covers the skin under it (0: invisible, 1: opaque). A strand is about
one pixel wide at 32x32, so a pixel it crosses is part skin. With near-opaque strands (0.85)
the discriminator of chapter 7 won the game early and G drew hair on only 0.24-0.42 of its
lesions instead of half (seeds 0-4 of the cpu preset); chapter 7's section 3 gives the comparison."""

RADIUS = ((0.26, 0.32), (0.50, 0.60))
"""Radius of a small and of a large lesion (uniform in these ranges), in units of half the image
width."""

LOBES = {2: 0.12, 3: 0.20, 5: 0.14}
"""An irregular border: the radius times 1 + sum over k of a_k cos(k theta + phase), with k lobes
around the outline, a_k = LOBES[k] times U(0.7, 1) and a random phase. The standard deviation of
the radius over its mean is then about 0.18 (``metrics.outline_irregularity``); a regular border
is a slight ellipse (aspect 0.85 to 1), about 0.04."""

HAIR_WIDTH = 1.0
"""Width of a hair strand in pixels (the scale of its Gaussian profile; at least 0.035 of half the
image width, so about one pixel at 32x32 and a bit more at 64x64)."""

HAIR_ANGLES = (0.0, 180.0)
"""Directions of the hair strands, in degrees: each strand's angle is uniform in this range (0:
along the rows, 90: along the columns). The default lets strands lie any way; ``(27, 63)`` combs
them within 18 degrees of one diagonal (a lever in chapter 7's table, off in its presets)."""

REGULAR_EDGE = 0.7
IRREGULAR_EDGE = 1.2
"""Width, in pixels, of the soft transition from lesion to skin: a regular border is drawn
sharper (``REGULAR_EDGE``) than an irregular one (``IRREGULAR_EDGE``, the default of
``lesions(irregular_edge=...)``). On real images softness is then a clue to the border; chapter
7's blur test shows what that clue does to a judge of blurry generated images."""


def _check_attrs(attrs, n: int) -> np.ndarray:
    a = np.asarray(attrs)
    if a.shape != (n, len(ATTRIBUTES)):
        raise ValueError(f"attributes must have shape ({n}, {len(ATTRIBUTES)}) with columns "
                         f"{ATTRIBUTES}; got {a.shape}")
    if not np.isin(a, (0, 1)).all():
        raise ValueError("attributes must be 0 or 1 (columns " + ", ".join(
            f"{k}: {v[0]}=0/{v[1]}=1" for k, v in ATTRIBUTE_VALUES.items()) + ")")
    return a.astype(np.int64)


def _render(attrs: np.ndarray, size: int, rng: np.random.Generator, hair_opacity: float,
            irregular_edge: float, hair_angles: tuple[float, float]) -> np.ndarray:
    """Render one chunk of lesions; returns (n, 3, size, size) in [0, 1]."""
    n = len(attrs)
    pigment, border, big, hair = (attrs[:, i].astype(float)[:, None, None] for i in range(4))
    lin = (np.arange(size) + 0.5) / size * 2 - 1                  # pixel centres in [-1, 1]
    y, x = np.meshgrid(lin, lin, indexing="ij")                   # (size, size)
    x, y = x[None], y[None]                                       # (1, size, size)
    px = 2.0 / size                                               # one pixel in these units

    # Skin: a tone per image, low-frequency texture, vignetting (the dermoscope's round field).
    tone = _SKIN + rng.normal(0, 0.035, (n, 3))
    tex = np.zeros((n, size, size))
    for _ in range(3):
        f = rng.uniform(1.5, 4.0, (n, 2))[:, :, None, None]
        ph = rng.uniform(0, 2 * np.pi, (n, 2))[:, :, None, None]
        tex += np.sin(f[:, 0] * np.pi * x + ph[:, 0]) * np.sin(f[:, 1] * np.pi * y + ph[:, 1])
    tex *= 0.02
    r2 = x**2 + y**2
    vignette = 1 - 0.25 * np.clip(r2 - 0.6, 0, None)
    img = (tone[:, :, None, None] + tex[:, None]) * vignette[:, None]

    # Lesion: a disc whose radius depends on the angle (lobes for an irregular border).
    cx = rng.uniform(-0.1, 0.1, (n, 1, 1))
    cy = rng.uniform(-0.1, 0.1, (n, 1, 1))
    radius = np.where(big > 0, rng.uniform(*RADIUS[1], (n, 1, 1)), rng.uniform(*RADIUS[0], (n, 1, 1)))
    aspect = rng.uniform(0.85, 1.0, (n, 1, 1))                   # regular: a slight ellipse
    rot = rng.uniform(0, np.pi, (n, 1, 1))
    dx, dy = x - cx, y - cy
    u = dx * np.cos(rot) + dy * np.sin(rot)
    v = (-dx * np.sin(rot) + dy * np.cos(rot)) / aspect
    theta = np.arctan2(v, u)
    wobble = np.zeros_like(theta)
    for k, depth in LOBES.items():
        amp = rng.uniform(0.7, 1.0, (n, 1, 1)) * depth
        wobble += amp * np.cos(k * theta + rng.uniform(0, 2 * np.pi, (n, 1, 1)))
    r_theta = radius * (1 + border * wobble)
    dist = np.sqrt(u**2 + v**2)
    edge = np.where(border > 0, irregular_edge, REGULAR_EDGE) * px  # irregular: softer by default
    mask = 1 / (1 + np.exp((dist - r_theta) / edge))              # soft disc, (n, size, size)

    # Pigment: light or dark brown, darker towards the centre, with blotches.
    colour = np.where(pigment[..., None] > 0, _DARK, _LIGHT)[:, 0, 0]
    colour = colour * rng.uniform(0.85, 1.15, (n, 1)) + rng.normal(0, 0.015, (n, 3))
    core = np.clip(1 - dist / np.maximum(r_theta, 1e-3), 0, 1)
    blotch = np.zeros((n, size, size))
    for _ in range(2):
        f = rng.uniform(3, 6, (n, 2))[:, :, None, None]
        ph = rng.uniform(0, 2 * np.pi, (n, 2))[:, :, None, None]
        blotch += np.cos(f[:, 0] * np.pi * u + ph[:, 0]) * np.cos(f[:, 1] * np.pi * v + ph[:, 1])
    shade = 1 - 0.25 * core + 0.05 * blotch                       # (n, size, size)
    lesion = colour[:, :, None, None] * shade[:, None]
    img = img * (1 - mask[:, None]) + lesion * mask[:, None]

    # Hair: 2-3 thin dark, gently curved strands across the field.
    hair_mask = np.zeros((n, size, size))
    n_strands = rng.integers(2, 4, n)
    width = max(HAIR_WIDTH * px, 0.035)
    for s in range(3):
        on = (hair[:, 0, 0] > 0) & (n_strands > s)
        ang = rng.uniform(*np.radians(hair_angles), (n, 1, 1))
        off = rng.uniform(-0.7, 0.7, (n, 1, 1))
        bend = rng.uniform(-0.4, 0.4, (n, 1, 1))
        t = x * np.cos(ang) + y * np.sin(ang)                      # along the strand
        d = -x * np.sin(ang) + y * np.cos(ang) - off - bend * t**2   # across it
        strand = np.exp(-(d / width) ** 2)
        hair_mask = np.maximum(hair_mask, strand * on[:, None, None])
    cover = hair_opacity * hair_mask[:, None]
    img = img * (1 - cover) + _HAIR[None, :, None, None] * cover

    img += rng.normal(0, 0.02, img.shape)                         # sensor noise
    return np.clip(img, 0, 1)


def lesions(n: int, size: int = 32, seed: int = 0, attributes=None, chunk: int = 512,
            hair_opacity: float = HAIR_OPACITY, irregular_edge: float = IRREGULAR_EDGE,
            hair_angles: tuple[float, float] = HAIR_ANGLES) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` synthetic dermoscopy-like lesion images and their attributes.

    Returns ``(images, labels)``: images float32 (n, 3, size, size) in [-1, 1]; labels int64
    (n, 4) with columns ``ATTRIBUTES`` = (pigment, border, size, hair), 1 meaning dark,
    irregular, large, hair present. Attributes are independent fair coins unless given as an
    (n, 4) array of 0/1. The same ``seed`` always gives the same images. ``hair_opacity`` in
    [0, 1]: how dark the strands are (``HAIR_OPACITY``); 0 draws no strands but leaves every
    other random choice, so the images equal those with the hair column set to 0.
    ``irregular_edge``: width in pixels of an irregular border's soft edge (``IRREGULAR_EDGE``;
    a regular one is ``REGULAR_EDGE`` wide); ``REGULAR_EDGE`` draws both borders equally sharp, so
    only the outline tells them apart. It changes no random draw. ``hair_angles``: the range,
    in degrees, of the strands' directions (``HAIR_ANGLES``: any direction). It changes no random
    draw either: the same seed gives the same strands, each turned into the new range.
    """
    if size not in LESION_SIZES:
        raise ValueError(f"lesion size must be one of {LESION_SIZES}, got {size}")
    if n < 0:
        raise ValueError(f"number of images must be non-negative, got {n}")
    if not 0 <= hair_opacity <= 1:
        raise ValueError(f"hair_opacity must be in [0, 1], got {hair_opacity}")
    if not 0.1 <= irregular_edge <= 5:
        raise ValueError(f"irregular_edge must be in [0.1, 5] pixels, got {irregular_edge}")
    lo, hi = (float(a) for a in hair_angles)
    if not (np.isfinite([lo, hi]).all() and lo <= hi <= lo + 180):
        raise ValueError(f"hair_angles must be (low, high) in degrees with low <= high <= low + 180, "
                         f"got {tuple(hair_angles)}")
    rng = np.random.default_rng(seed)
    attrs = rng.integers(0, 2, (n, len(ATTRIBUTES))) if attributes is None else _check_attrs(attributes, n)
    out = np.empty((n, 3, size, size), dtype=np.float32)
    for i in range(0, n, chunk):
        out[i:i + chunk] = _render(attrs[i:i + chunk], size, rng, hair_opacity, irregular_edge, (lo, hi))
    return torch.from_numpy(out * 2 - 1), torch.from_numpy(attrs.astype(np.int64))


def describe_attributes(labels) -> list[str]:
    """Readable names, e.g. ``"dark, irregular, large, hair"``, one per row of ``labels``."""
    labels = np.asarray(labels)
    return [", ".join(ATTRIBUTE_VALUES[a][int(v)] for a, v in zip(ATTRIBUTES, row)) for row in labels]


# ----------------------------------------------------------------------------------------------
# MedMNIST v2 .npz reader and opt-in download
# ----------------------------------------------------------------------------------------------

MEDMNIST_SIZES = (28, 64, 128, 224)
MEDMNIST_SPLITS = ("train", "val", "test")

# Where MedMNIST v2 files live (Zenodo record 10519652) and their MD5 sums, as published by the
# medmnist package (INFO). Other files can be fetched by passing ``url`` and ``md5`` yourself.
_ZENODO = "https://zenodo.org/records/10519652/files/"
MEDMNIST_MD5 = {
    ("dermamnist", 28): "0744692d530f8e62ec473284d019b0c7",
    ("dermamnist", 64): "b70a2f5635c6199aeaa28c31d7202e1f",
    ("dermamnist", 128): "2defd784463fa5243564e855ed717de1",
    ("bloodmnist", 28): "7053d0359d879ad8a5505303e11de1dc",
    ("bloodmnist", 64): "2b94928a2ae4916078ca51e05b6b800b",
    ("bloodmnist", 128): "adace1e0ed228fccda1f39692059dd4c",
    ("pathmnist", 28): "a8b06965200029087d5bd730944a56c1",
    ("pathmnist", 64): "55aa9c1e0525abe5a6b9d8343a507616",
    ("pathmnist", 128): "ac42d08fb904d92c244187169d1fd1d9",
}


def medmnist_filename(name: str, size: int = 28) -> str:
    """The file name MedMNIST uses: ``dermamnist.npz`` (28) or ``dermamnist_64.npz``."""
    if size not in MEDMNIST_SIZES:
        raise ValueError(f"MedMNIST size must be one of {MEDMNIST_SIZES}, got {size}")
    return f"{name}.npz" if size == 28 else f"{name}_{size}.npz"


def medmnist_path(name: str, size: int = 28, data_dir: str | os.PathLike | None = None) -> Path:
    """Where the reader looks: ``data_dir`` (default: the repository's ``data/medmnist/``)."""
    if data_dir is None:
        from ..runtime import data_dir as repo_data
        data_dir = repo_data() / "medmnist"
    return Path(data_dir) / medmnist_filename(name, size)


@dataclass
class MedMNISTSplit:
    """One split of a MedMNIST file: ``images`` float32 (n, c, s, s) in [-1, 1], ``labels``
    int64 (n, k), and the file it came from."""

    images: torch.Tensor
    labels: torch.Tensor
    path: Path
    split: str

    def __len__(self) -> int:
        return len(self.images)


def read_medmnist_npz(path: str | os.PathLike, split: str = "train") -> MedMNISTSplit:
    """Read one split of a MedMNIST ``.npz`` file and check it against the format.

    The format: keys ``{split}_images`` (uint8, (n, s, s) grey or (n, s, s, 3) RGB, s in
    28/64/128/224) and ``{split}_labels`` (integers, (n,) or (n, k)). Anything else raises
    ``ValueError`` naming the file, the key and what was expected.
    """
    path = Path(path)
    if split not in MEDMNIST_SPLITS:
        raise ValueError(f"split must be one of {MEDMNIST_SPLITS}, got {split!r}")
    if not path.exists():
        raise FileNotFoundError(f"no MedMNIST file at {path}")
    try:
        npz = np.load(path, allow_pickle=False)
    except Exception as e:
        raise ValueError(f"{path}: not a readable .npz file ({e})") from e
    with npz:
        ki, kl = f"{split}_images", f"{split}_labels"
        missing = [k for k in (ki, kl) if k not in npz.files]
        if missing:
            raise ValueError(f"{path}: missing key(s) {missing}; a MedMNIST file has "
                             f"{[f'{s}_{p}' for s in MEDMNIST_SPLITS for p in ('images', 'labels')]}, "
                             f"found {sorted(npz.files)}")
        images, labels = npz[ki], npz[kl]
    if images.dtype != np.uint8:
        raise ValueError(f"{path}: {ki} must be uint8 (0-255), found {images.dtype}")
    if images.ndim == 3:
        images = images[:, None]                                   # grey -> (n, 1, s, s)
    elif images.ndim == 4 and images.shape[-1] in (1, 3):
        images = images.transpose(0, 3, 1, 2)                      # (n, s, s, c) -> (n, c, s, s)
    else:
        raise ValueError(f"{path}: {ki} must have shape (n, s, s) or (n, s, s, 3), "
                         f"found {images.shape}")
    n, _, h, w = images.shape
    if h != w or h not in MEDMNIST_SIZES:
        raise ValueError(f"{path}: {ki} images must be square with side in {MEDMNIST_SIZES}, "
                         f"found {h}x{w}")
    if labels.ndim == 1:
        labels = labels[:, None]
    if labels.ndim != 2 or labels.shape[0] != n:
        raise ValueError(f"{path}: {kl} must have shape ({n},) or ({n}, k) to match {n} images, "
                         f"found {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{path}: {kl} must hold integers, found {labels.dtype}")
    x = torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0)
    return MedMNISTSplit(images=x, labels=torch.from_numpy(labels.astype(np.int64)), path=path,
                         split=split)


def load_medmnist(name: str = "dermamnist", split: str = "train", size: int = 28,
                  data_dir: str | os.PathLike | None = None) -> MedMNISTSplit:
    """Read ``<data_dir>/<name>[_<size>].npz`` (no download). A missing file raises
    ``FileNotFoundError`` saying where to put it and how to fetch it."""
    path = medmnist_path(name, size, data_dir)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found. Put the MedMNIST file {medmnist_filename(name, size)} there "
            f"(from {_ZENODO}{medmnist_filename(name, size)}), or call "
            f"gan_tutorial.data.images.download_medmnist({name!r}, size={size}, "
            f"data_dir={str(path.parent)!r}) to fetch it and check its MD5.")
    return read_medmnist_npz(path, split)


def md5sum(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def download_medmnist(name: str = "dermamnist", size: int = 28,
                      data_dir: str | os.PathLike | None = None, url: str | None = None,
                      md5: str | None = None, timeout: float = 30.0) -> Path:
    """Fetch a MedMNIST file into ``data_dir`` and verify its MD5; only when you call it.

    An existing file with the right checksum is kept. A wrong checksum removes the download and
    raises ``ValueError``; no network raises ``ConnectionError`` saying where to put the file by
    hand. ``url``/``md5`` override the built-in table (needed for files not in it).
    """
    path = medmnist_path(name, size, data_dir)
    md5 = md5 or MEDMNIST_MD5.get((name, size))
    if md5 is None:
        raise ValueError(f"no known MD5 for {medmnist_filename(name, size)}; pass md5=... "
                         f"(known: {sorted(MEDMNIST_MD5)})")
    url = url or _ZENODO + medmnist_filename(name, size) + "?download=1"
    if path.exists():
        if md5sum(path) == md5:
            return path
        raise ValueError(f"{path} exists but its MD5 is {md5sum(path)}, expected {md5}; "
                         "remove it and download again")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as resp:
                    shutil.copyfileobj(resp, out)
            except (urllib.error.URLError, OSError) as e:
                raise ConnectionError(
                    f"could not download {url} ({e}). Without a network, download "
                    f"{medmnist_filename(name, size)} elsewhere and put it at {path} "
                    f"(MD5 {md5}).") from e
        got = md5sum(tmp)
        if got != md5:
            raise ValueError(f"downloaded {url} but its MD5 is {got}, expected {md5}; "
                             "the file was discarded")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_medmnist_npz(path: str | os.PathLike, splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> Path:
    """Write a file in the MedMNIST format: ``splits`` maps train/val/test to (uint8 images
    (n, s, s) or (n, s, s, 3), integer labels (n, k)). Used for the sample file and tests."""
    arrays = {}
    for split, (images, labels) in splits.items():
        if split not in MEDMNIST_SPLITS:
            raise ValueError(f"split must be one of {MEDMNIST_SPLITS}, got {split!r}")
        arrays[f"{split}_images"] = np.asarray(images, dtype=np.uint8)
        arrays[f"{split}_labels"] = np.asarray(labels)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


# ----------------------------------------------------------------------------------------------
# scikit-learn digits
# ----------------------------------------------------------------------------------------------

def digits(size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 handwritten digits (8x8, 0-16), resized to ``size`` (bilinear),
    as (n, 1, size, size) float32 in [-1, 1] and their labels 0-9 (int64)."""
    from sklearn.datasets import load_digits

    if size < 8:
        raise ValueError(f"size must be at least 8, got {size}")
    d = load_digits()
    x = torch.from_numpy(d.images.astype(np.float32) / 16.0)[:, None]   # (n, 1, 8, 8) in [0, 1]
    if size != 8:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return (x.clamp(0, 1) * 2 - 1).contiguous(), torch.from_numpy(d.target.astype(np.int64))
