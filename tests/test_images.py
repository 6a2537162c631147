"""Images: the procedural lesion generator, the MedMNIST .npz reader and download, digits."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from gan_tutorial import runtime
from gan_tutorial.data import images as im


# ---------------------------------------------------------------- procedural lesions

@pytest.mark.parametrize("size", [32, 64])
def test_lesions_shape_range_and_labels(size):
    x, y = im.lesions(40, size=size, seed=3)
    assert x.shape == (40, 3, size, size) and x.dtype == torch.float32
    assert y.shape == (40, len(im.ATTRIBUTES)) and y.dtype == torch.int64
    assert float(x.min()) >= -1 and float(x.max()) <= 1
    assert set(y.unique().tolist()) <= {0, 1}


def test_lesions_deterministic_for_a_seed():
    a, ya = im.lesions(16, seed=7)
    b, yb = im.lesions(16, seed=7)
    c, _ = im.lesions(16, seed=8)
    assert torch.equal(a, b) and torch.equal(ya, yb)
    assert not torch.equal(a, c)


def test_lesion_attributes_are_independent_fair_coins():
    _, y = im.lesions(2000, seed=0, chunk=1000)
    freq = y.float().mean(0)
    assert torch.all((freq > 0.45) & (freq < 0.55)), freq
    corr = np.corrcoef(y.numpy().T)
    off = corr[~np.eye(4, dtype=bool)]
    assert np.abs(off).max() < 0.08, corr


def _fixed(attrs, n=64, size=32, seed=0):
    return im.lesions(n, size=size, seed=seed, attributes=np.tile(attrs, (n, 1)))[0]


def test_each_attribute_changes_the_picture_as_named():
    base = np.array([0, 0, 0, 0])
    light, dark = _fixed(base), _fixed(base + [1, 0, 0, 0])
    centre = (slice(None), slice(None), slice(13, 19), slice(13, 19))
    assert light[centre].mean() - dark[centre].mean() > 0.3        # dark pigment is darker

    small, large = _fixed(base + [1, 0, 0, 0]), _fixed(base + [1, 0, 1, 0])
    lesion_area = lambda x: (x.mean(1) < -0.2).float().mean()      # noqa: E731 dark-lesion pixels
    assert lesion_area(large) > 2.5 * lesion_area(small)

    no_hair, hair = _fixed(base), _fixed(base + [0, 0, 0, 1])
    darker = lambda x: (x.mean(1) < -0.2).float().mean()           # noqa: E731 strands, light lesion
    assert darker(hair) > 3 * darker(no_hair)

    # an irregular border: the lesion's outline departs from a circle (radial profile spreads)
    regular, irregular = _fixed(base + [1, 0, 1, 0], size=64), _fixed(base + [1, 1, 1, 0], size=64)

    def radius_spread(x):
        mask = (x.mean(1) < -0.2).float()                           # (n, s, s)
        s = x.shape[-1]
        yy, xx = torch.meshgrid(torch.arange(s), torch.arange(s), indexing="ij")
        spreads = []
        for m in mask:
            edge = m - torch.nn.functional.max_pool2d(-m[None, None], 3, 1, 1)[0, 0].neg()
            pts = edge.nonzero().float()
            if len(pts) < 8:
                continue
            r = (pts - pts.mean(0)).norm(dim=1)
            spreads.append(float(r.std() / r.mean()))
        return float(np.mean(spreads))

    assert radius_spread(irregular) > 1.5 * radius_spread(regular)


def test_hair_opacity_sets_how_dark_the_strands_are():
    hair = np.tile([0, 0, 0, 1], (32, 1))
    strands = lambda op: im.lesions(32, seed=4, attributes=hair, hair_opacity=op)[0]  # noqa: E731
    no_hair = im.lesions(32, seed=4, attributes=hair * 0)[0]
    assert torch.equal(strands(0.0), no_hair)          # 0: no strands, every other draw the same
    assert torch.equal(strands(im.HAIR_OPACITY), im.lesions(32, seed=4, attributes=hair)[0])
    darkest = [float(strands(op).mean(1).amin(dim=(1, 2)).mean()) for op in (0.25, 0.5, 0.85)]
    assert darkest[0] > darkest[1] > darkest[2]        # more opaque strands, darker pixels


def test_irregular_edge_sets_how_soft_an_irregular_border_is():
    one = lambda b: np.tile([1, b, 1, 0], (16, 1))                  # noqa: E731  dark, large, no hair
    edges = lambda b, w: im.lesions(16, 64, seed=2, attributes=one(b), irregular_edge=w)[0]  # noqa: E731
    # a regular border keeps its width whatever irregular_edge is: the same images, the same draws
    assert torch.equal(edges(0, im.REGULAR_EDGE), edges(0, im.IRREGULAR_EDGE))

    def steepness(x):                                               # mean squared step between pixels
        return float((x[..., 1:, :] - x[..., :-1, :]).pow(2).mean() + (x[..., 1:] - x[..., :-1]).pow(2).mean())

    soft, sharp = edges(1, im.IRREGULAR_EDGE), edges(1, im.REGULAR_EDGE)
    assert not torch.equal(soft, sharp)
    assert steepness(sharp) > 1.1 * steepness(soft)                 # the same outline, a sharper edge
    assert torch.equal(soft, im.lesions(16, 64, seed=2, attributes=one(1))[0])   # the default


def hair_pixels(n: int, seed: int, **kw) -> torch.Tensor:
    """(n, size, size) masks of the pixels that n lesions with hair draw darker than the same
    lesions without it (``lesions`` keyword arguments in ``kw``)."""
    hair = np.tile([0, 0, 0, 1], (n, 1))
    bare = im.lesions(n, seed=seed, attributes=hair, hair_opacity=0)[0]
    return (bare - im.lesions(n, seed=seed, attributes=hair, **kw)[0]).mean(1) > 0.1


def test_hair_angles_turn_the_strands():
    hair = np.tile([0, 0, 0, 1], (24, 1))
    assert torch.equal(im.lesions(24, seed=6, attributes=hair, hair_angles=(0, 180))[0],
                       im.lesions(24, seed=6, attributes=hair)[0])           # the default: any direction

    def axis(angles):
        """Median direction (degrees) of the main axis of each image's hair pixels."""
        out = []
        for mask in hair_pixels(24, seed=6, hair_angles=angles):
            row, col = torch.nonzero(mask, as_tuple=True)
            cov = np.cov(np.stack([col.numpy(), row.numpy()]).astype(float))   # x: columns, y: rows
            w, v = np.linalg.eigh(cov)
            out.append(np.degrees(np.arctan2(v[1, -1], v[0, -1])) % 180)
        return float(np.median(out))

    assert abs(axis((27, 63)) - 45) < 12 and abs(axis((117, 153)) - 135) < 12


def test_hair_width_thickens_the_strands(monkeypatch):
    thin = int(hair_pixels(16, seed=8).sum())
    monkeypatch.setattr(im, "HAIR_WIDTH", 2.0)
    assert int(hair_pixels(16, seed=8).sum()) > 1.5 * thin   # the same strands, about twice as wide


def test_lesions_bad_input_named():
    with pytest.raises(ValueError, match="size must be one of"):
        im.lesions(4, size=48)
    with pytest.raises(ValueError, match=r"shape \(4, 4\)"):
        im.lesions(4, attributes=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="0 or 1"):
        im.lesions(2, attributes=np.full((2, 4), 2))
    with pytest.raises(ValueError, match="hair_opacity must be in"):
        im.lesions(2, hair_opacity=1.5)
    with pytest.raises(ValueError, match="irregular_edge must be in"):
        im.lesions(2, irregular_edge=0)
    for bad in ((90, 0), (0, 270), (0, float("nan"))):
        with pytest.raises(ValueError, match="hair_angles must be"):
            im.lesions(2, hair_angles=bad)


def test_describe_attributes():
    assert im.describe_attributes([[1, 0, 1, 0]]) == ["dark, regular, large, no hair"]


# ---------------------------------------------------------------- MedMNIST .npz

def _splits(n=(6, 3, 3), size=28, rgb=True, k=1, seed=0):
    rng = np.random.default_rng(seed)
    shape = (size, size, 3) if rgb else (size, size)
    return {s: (rng.integers(0, 256, (m, *shape), dtype=np.uint8), rng.integers(0, 7, (m, k)))
            for s, m in zip(im.MEDMNIST_SPLITS, n)}


@pytest.mark.parametrize("size,rgb", [(28, True), (28, False), (64, True), (128, False)])
def test_medmnist_roundtrip(tmp_path, size, rgb):
    splits = _splits(size=size, rgb=rgb)
    path = im.write_medmnist_npz(tmp_path / im.medmnist_filename("dermamnist", size), splits)
    for split in im.MEDMNIST_SPLITS:
        data = im.load_medmnist("dermamnist", split, size=size, data_dir=tmp_path)
        raw_x, raw_y = splits[split]
        c = 3 if rgb else 1
        assert data.images.shape == (len(raw_x), c, size, size)
        assert len(data) == len(raw_x) and data.path == path
        assert float(data.images.min()) >= -1 and float(data.images.max()) <= 1
        back = ((data.images + 1) * 127.5).round().to(torch.uint8).numpy()
        expect = raw_x.transpose(0, 3, 1, 2) if rgb else raw_x[:, None]
        assert np.array_equal(back, expect)
        assert np.array_equal(data.labels.numpy(), raw_y)


def test_medmnist_sample_file_in_repo_reads():
    data = im.load_medmnist("sample_lesions", "train", data_dir=runtime.data_dir() / "medmnist")
    assert data.images.shape[1:] == (3, 28, 28) and len(data) >= 4
    assert data.labels.shape == (len(data), 1)


def test_medmnist_file_names():
    assert im.medmnist_filename("dermamnist") == "dermamnist.npz"
    assert im.medmnist_filename("dermamnist", 224) == "dermamnist_224.npz"
    with pytest.raises(ValueError, match="size must be one of"):
        im.medmnist_filename("dermamnist", 32)


def test_medmnist_bad_files_are_named(tmp_path):
    p = tmp_path / "bad.npz"
    np.savez(p, train_images=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(ValueError, match=r"bad.npz.*missing key.*train_labels"):
        im.read_medmnist_npz(p)
    np.savez(p, train_images=np.zeros((2, 28, 28), np.float32), train_labels=np.zeros((2, 1), int))
    with pytest.raises(ValueError, match="train_images must be uint8"):
        im.read_medmnist_npz(p)
    np.savez(p, train_images=np.zeros((2, 30, 30), np.uint8), train_labels=np.zeros((2, 1), int))
    with pytest.raises(ValueError, match="side in"):
        im.read_medmnist_npz(p)
    np.savez(p, val_images=np.zeros((2, 28, 28), np.uint8), val_labels=np.zeros((3, 1), int))
    with pytest.raises(ValueError, match=r"val_labels must have shape \(2,\)"):
        im.read_medmnist_npz(p, "val")
    p.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable .npz"):
        im.read_medmnist_npz(p)
    with pytest.raises(ValueError, match="split must be one of"):
        im.read_medmnist_npz(p, "training")


def test_missing_medmnist_file_says_where_to_put_it(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        im.load_medmnist("dermamnist", data_dir=tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "dermamnist.npz") in msg and "download_medmnist" in msg


def test_download_checks_md5_and_fails_offline_with_a_hint(tmp_path):
    src = tmp_path / "src.npz"
    im.write_medmnist_npz(src, _splits())
    good = hashlib.md5(src.read_bytes()).hexdigest()
    dest = tmp_path / "data"
    # a wrong checksum: nothing is kept
    with pytest.raises(ValueError, match="MD5"):
        im.download_medmnist("dermamnist", data_dir=dest, url=src.as_uri(), md5="0" * 32)
    assert not (dest / "dermamnist.npz").exists() and not list(dest.glob(".*part"))
    # the right one: the file lands where the reader looks
    path = im.download_medmnist("dermamnist", data_dir=dest, url=src.as_uri(), md5=good)
    assert path == dest / "dermamnist.npz" and len(im.load_medmnist("dermamnist", data_dir=dest)) == 6
    # unreachable source: the error says where to put the file by hand
    with pytest.raises(ConnectionError) as e:
        im.download_medmnist("dermamnist", size=64, data_dir=dest,
                             url=(tmp_path / "nowhere.npz").as_uri(), md5=good)
    assert str(dest / "dermamnist_64.npz") in str(e.value)
    with pytest.raises(ValueError, match="no known MD5"):
        im.download_medmnist("organmnist3d", data_dir=dest)


def test_known_checksums_are_md5_hex():
    assert all(len(v) == 32 and int(v, 16) >= 0 for v in im.MEDMNIST_MD5.values())


# ---------------------------------------------------------------- digits

def test_digits():
    x, y = im.digits(32)
    assert x.shape == (1797, 1, 32, 32) and y.shape == (1797,)
    assert float(x.min()) == -1.0 and float(x.max()) <= 1.0
    assert set(y.tolist()) == set(range(10))
