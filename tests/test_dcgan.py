"""DCGAN networks, the attribute classifier, KID and the throughput benchmark."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from gan_tutorial import hacks, losses, metrics, runtime, train
from gan_tutorial.data import images
from gan_tutorial.nets import dcgan, encoders

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("size,channels,width", [(32, 3, 8), (64, 3, 8), (32, 1, 4), (8, 1, 4)])
def test_shapes_range_and_logits(size, channels, width):
    G = dcgan.Generator(latent_dim=16, channels=channels, image_size=size, width=width)
    D = dcgan.Discriminator(channels=channels, image_size=size, width=width)
    x = G(torch.rand(5, 16) * 2 - 1)
    assert x.shape == (5, channels, size, size)
    assert float(x.detach().abs().max()) <= 1.0                 # tanh output
    assert G(torch.zeros(3, 16, 1, 1)).shape == (3, channels, size, size)
    out = D(torch.randn(5, channels, size, size) * 3)
    assert out.shape == (5,)
    assert not any(isinstance(m, nn.Sigmoid) for m in D.modules())   # logits, no sigmoid


@pytest.mark.parametrize("size", [32, 64])
def test_architecture_follows_the_guidelines(size):
    G = dcgan.Generator(100, 3, size, 8)
    D = dcgan.Discriminator(3, size, 8)
    g, d = list(G.net), list(D.net)
    assert not any(isinstance(m, (nn.Linear, nn.MaxPool2d, nn.AvgPool2d)) for m in G.modules())
    assert not any(isinstance(m, (nn.Linear, nn.MaxPool2d, nn.AvgPool2d)) for m in D.modules())
    # G: transposed convolutions, BN + ReLU after each but the last, tanh at the output
    convs = [m for m in g if isinstance(m, nn.ConvTranspose2d)]
    assert len(convs) == {32: 4, 64: 5}[size]
    assert isinstance(g[-1], nn.Tanh) and isinstance(g[-2], nn.ConvTranspose2d)
    assert all(isinstance(m, nn.ReLU) for m in g if isinstance(m, (nn.ReLU, nn.LeakyReLU)))
    # D: strided convolutions, no BN after the input layer, LeakyReLU(0.2)
    assert isinstance(d[0], nn.Conv2d) and d[0].stride == (2, 2) and isinstance(d[1], nn.LeakyReLU)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d) == {32: 2, 64: 3}[size]
    assert all(m.negative_slope == 0.2 for m in d if isinstance(m, nn.LeakyReLU))
    assert isinstance(d[-1], nn.LeakyReLU) and isinstance(D.head[-1], nn.Conv2d)   # then one logit
    assert D.features(torch.zeros(2, 3, size, size)).shape == (2, 8 * size // 8, 4, 4)  # 4w (8w at 64) of 4x4


def last_block_on_a_flat_map(G) -> torch.Tensor:
    """G's last up-sampling block (without tanh) applied to a constant 16x16 feature map of G's
    last hidden width (8 here), border pixels cut off."""
    last = G.net[-3:-1] if isinstance(G.net[-3], nn.Upsample) else G.net[-2:-1]
    with torch.no_grad():
        return last(torch.ones(1, 8, 16, 16))[..., 1:-1, 1:-1]


def test_resize_upsampling_keeps_the_shapes_and_drops_the_checkerboard():
    torch.manual_seed(0)
    G_t, G_r = (dcgan.Generator(16, 3, 32, 8, upsample=u) for u in ("transposed", "resize"))
    assert G_r(torch.rand(4, 16)).shape == (4, 3, 32, 32)
    assert not any(isinstance(m, nn.ConvTranspose2d) and m.stride == (2, 2) for m in G_r.modules())
    assert sum(isinstance(m, nn.Upsample) for m in G_r.modules()) == 3
    assert sum(isinstance(m, nn.BatchNorm2d) for m in G_t.modules()) == \
        sum(isinstance(m, nn.BatchNorm2d) for m in G_r.modules()) == 3
    # the last up-sampling block on a constant feature map: the transposed convolution reaches even
    # and odd pixels with different taps, so its output alternates; resize-convolution stays flat
    out_t, out_r = last_block_on_a_flat_map(G_t), last_block_on_a_flat_map(G_r)
    spread = lambda x: float(x.std(dim=(-2, -1)).max())          # within each channel
    assert spread(out_t) > 1e-3 and spread(out_r) < 1e-6
    assert metrics.power_spectrum(out_t)[1][-1] > 1e3 * max(metrics.power_spectrum(out_r)[1][-1], 1e-12)
    with pytest.raises(ValueError, match="upsample must be one of"):
        dcgan.Generator(16, 3, 32, 8, upsample="bilinear")


def test_resize_last_resizes_only_the_block_that_writes_the_pixels():
    torch.manual_seed(0)
    G = dcgan.Generator(16, 3, 32, 8, upsample="resize_last")
    assert G(torch.rand(4, 16)).shape == (4, 3, 32, 32)
    strided = [m for m in G.net if isinstance(m, nn.ConvTranspose2d) and m.stride == (2, 2)]
    assert len(strided) == 2 and sum(isinstance(m, nn.Upsample) for m in G.net) == 1
    assert isinstance(G.net[-3], nn.Upsample) and isinstance(G.net[-2], nn.Conv2d)
    out = last_block_on_a_flat_map(G)                             # the last block leaves no checkerboard
    assert float(out.std(dim=(-2, -1)).max()) < 1e-6


def test_minibatch_std_channel_measures_the_spread_of_the_batch():
    x = torch.randn(6, 4, 3, 3)
    out = dcgan.MinibatchStd()(x)
    assert out.shape == (6, 5, 3, 3) and torch.equal(out[:, :4], x)
    by_hand = float(torch.sqrt(((x - x.mean(0)) ** 2).mean(0)).mean())
    assert torch.allclose(out[:, 4], torch.full((6, 3, 3), by_hand), atol=1e-6)
    same = dcgan.MinibatchStd()(x[:1].expand(6, -1, -1, -1))
    assert float(same[:, 4].abs().max()) == 0                    # identical images: no spread
    # with the channel, D's verdict on an image depends on the rest of its batch, even in eval mode
    torch.manual_seed(0)
    for mbstd in (False, True):
        D = dcgan.Discriminator(3, 32, 8, minibatch_std=mbstd).eval()
        assert D.features(torch.zeros(2, 3, 32, 32)).shape == (2, 32, 4, 4)
        img = torch.rand(1, 3, 32, 32) * 2 - 1
        with torch.no_grad():
            alone_ish = D(torch.cat([img, img]))[0]
            mixed = D(torch.cat([img, torch.rand(1, 3, 32, 32) * 2 - 1]))[0]
        assert torch.isclose(alone_ish, mixed, atol=1e-6) != mbstd
    assert isinstance(D.head[0], dcgan.MinibatchStd) and D.head[1].in_channels == 33


def test_init_and_optimizers():
    torch.manual_seed(0)
    G = dcgan.Generator(100, 3, 64, 64)
    w = G.net[0].weight.detach()                                            # 100 x 512 x 4 x 4 weights
    assert abs(float(w.std()) - 0.02) < 0.001 and abs(float(w.mean())) < 0.001
    bn = G.net[1]
    assert abs(float(bn.weight.detach().mean()) - 1) < 0.01 and float(bn.bias.detach().abs().max()) == 0
    opt_G, opt_D = dcgan.dcgan_optimizers(G, dcgan.Discriminator(3, 64, 8))
    for opt in (opt_G, opt_D):
        assert opt.defaults["lr"] == 2e-4 and opt.defaults["betas"] == (0.5, 0.999)
    # two time scales: D gets its own learning rate; a non-positive one is refused by name
    opt_G, opt_D = dcgan.dcgan_optimizers(G, dcgan.Discriminator(3, 64, 8), lr=1e-4, lr_D=4e-4)
    assert opt_G.defaults["lr"] == 1e-4 and opt_D.defaults["lr"] == 4e-4
    with pytest.raises(ValueError, match="lr_D"):
        dcgan.dcgan_optimizers(G, dcgan.Discriminator(3, 64, 8), lr_D=0.0)


def test_bad_image_size():
    for bad in (4, 48, 0):
        with pytest.raises(ValueError, match="power of two"):
            dcgan.Generator(image_size=bad)
        with pytest.raises(ValueError, match="power of two"):
            dcgan.Discriminator(image_size=bad)


def test_eval_mode_sampling_does_not_depend_on_the_batch():
    """The reason to sample in eval mode: in train mode batch norm mixes the batch."""
    torch.manual_seed(0)
    G = dcgan.Generator(16, 3, 32, 8)
    G.train()
    with torch.no_grad():
        G(torch.rand(64, 16))                                        # running statistics move
    z = torch.rand(8, 16) * 2 - 1
    G.eval()
    with torch.no_grad():
        alone, in_batch = G(z[:1]), G(z)[:1]
    assert torch.allclose(alone, in_batch, atol=1e-5)
    G.train()
    with torch.no_grad():
        a, b = G(z[:2])[:1], G(torch.cat([z[:1], -z[1:]]))[:1]
    assert not torch.allclose(a, b, atol=1e-3)


def test_dcgan_trains_through_the_course_loop():
    torch.manual_seed(0)
    x, _ = images.lesions(64, 32, seed=0)
    G, D = dcgan.Generator(16, 3, 32, 4), dcgan.Discriminator(3, 32, 4)
    opt_G, opt_D = dcgan.dcgan_optimizers(G, D)
    h = train.train(G, D, opt_G, opt_D, train.tensor_sampler(x, 16), lambda n: torch.rand(n, 16) * 2 - 1,
                    5, log_every=1, progress=False)
    assert len(h.loss_D) == 5 and all(torch.isfinite(torch.tensor(h.loss_D + h.loss_G)))


def test_dcgan_with_the_added_pieces_trains_through_the_course_loop():
    """resize_last, the minibatch-std channel and feature matching, wired as chapter 07 wires them."""
    torch.manual_seed(0)
    x, _ = images.lesions(64, 32, seed=0, hair_angles=(27, 63))
    G = dcgan.Generator(16, 3, 32, 4, upsample="resize_last")
    D = dcgan.Discriminator(3, 32, 4, minibatch_std=True)
    opt_G, opt_D = dcgan.dcgan_optimizers(G, D)
    matching = hacks.FeatureMatching(3.0)
    h = train.train(G, D, opt_G, opt_D, train.tensor_sampler(x, 16), lambda n: torch.rand(n, 16) * 2 - 1, 5,
                    loss_D=matching.wrap_D(hacks.bce_d_loss()),
                    loss_G=matching.wrap_G(losses.nonsaturating_generator_loss), log_every=1, progress=False)
    assert len(h.loss_G) == 5 and all(torch.isfinite(torch.tensor(h.loss_D + h.loss_G)))
    assert matching.real_mean is not None and matching.real_mean.shape == (16 * 4 * 4,)


def test_attribute_classifier_learns_pigment_and_gives_features():
    torch.manual_seed(0)
    x, y = images.lesions(384, 32, seed=1)
    xt, yt = images.lesions(128, 32, seed=2)
    clf = encoders.AttributeClassifier(n_attributes=4, width=8)
    losses = encoders.fit_classifier(clf, x, y, epochs=8, batch_size=64, progress=False)
    assert losses[-1] < losses[0]
    p = encoders.predict(clf, xt)
    assert p.shape == (128, 4) and float(p.min()) >= 0 and float(p.max()) <= 1
    assert float(((p[:, 0] > 0.5).long() == yt[:, 0]).float().mean()) > 0.8   # pigment is easy
    f = encoders.predict(clf, xt, features=True)
    assert f.shape == (128, 64)
    with pytest.raises(ValueError, match="differ in length"):
        encoders.fit_classifier(clf, x, y[:10], progress=False)


def test_kid_is_near_zero_for_one_distribution_and_grows_with_a_shift():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(600, 16, generator=g), torch.randn(600, 16, generator=g)
    same, same_sd = metrics.kid(a, b, n_subsets=20, subset_size=300)
    assert abs(same) < 3 * same_sd + 1e-3
    shifts = [metrics.kid(a, b + s, n_subsets=20, subset_size=300)[0] for s in (0.25, 0.5, 1.0)]
    assert shifts[0] > same + 3 * same_sd and shifts[0] < shifts[1] < shifts[2]
    with pytest.raises(ValueError, match="same d"):
        metrics.kid(a, torch.randn(10, 8))
    with pytest.raises(ValueError, match="at least 2"):
        metrics.kid(a[:1], b)


def test_mmd2_unbiased_matches_the_formula():
    x, y = torch.randn(5, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    k = lambda u, v: (u @ v / 3 + 1) ** 3                          # noqa: E731
    sxx = sum(k(x[i], x[j]) for i in range(5) for j in range(5) if i != j) / 20
    syy = sum(k(y[i], y[j]) for i in range(4) for j in range(4) if i != j) / 12
    sxy = sum(k(x[i], y[j]) for i in range(5) for j in range(4)) / 20
    assert metrics.mmd2_unbiased(x, y) == pytest.approx(float(sxx + syy - 2 * sxy), rel=1e-9)


def test_power_spectrum_of_white_noise_is_flat_and_of_a_wave_peaks_at_its_frequency():
    g = torch.Generator().manual_seed(0)
    freq, p = metrics.power_spectrum(torch.randn(400, 3, 32, 32, generator=g))
    assert freq.shape == p.shape == (16,) and freq[0] == pytest.approx(1 / 32) and freq[-1] == 0.5
    # white noise: every ring holds the same power, the variance of the channel mean (1 / 3)
    assert p == pytest.approx(np.full(16, 1 / 3), rel=0.1)
    # a wave of 4 cycles across 32 pixels lands in ring 4 (0.125 cycles per pixel), nowhere else
    col = torch.arange(32.0)
    wave = torch.cos(2 * np.pi * 4 * col / 32).expand(2, 1, 32, 32)
    freq, p = metrics.power_spectrum(wave)
    assert int(np.argmax(p)) == 3 and freq[3] == 0.125
    assert p[np.arange(16) != 3].max() < 1e-6 * p[3]
    # a blur removes power at high frequencies more than at low ones
    blurred = torch.nn.functional.avg_pool2d(torch.randn(200, 1, 32, 32, generator=g), 3, 1, 1)
    _, pb = metrics.power_spectrum(blurred)
    assert pb[-1] < 0.2 * pb[0]


def test_power_spectrum_rejects_bad_shapes():
    for bad in (torch.zeros(3, 32, 32), torch.zeros(2, 3, 32, 16), torch.zeros(0, 3, 8, 8)):
        with pytest.raises(ValueError, match="power_spectrum needs images"):
            metrics.power_spectrum(bad)


def _blob(radius_of_angle, size=64, n=2):
    """Dark shapes (r < radius_of_angle(theta) around the centre) on a light field."""
    lin = (torch.arange(size) + 0.5) / size * 2 - 1
    yy, xx = torch.meshgrid(lin, lin, indexing="ij")
    inside = ((xx ** 2 + yy ** 2).sqrt() < radius_of_angle(torch.atan2(yy, xx))).float()
    return (0.6 - 1.2 * inside).expand(n, 3, size, size)


def test_outline_irregularity_against_closed_forms():
    cv, r = metrics.outline_irregularity(_blob(lambda t: torch.full_like(t, 0.5)))
    assert cv.shape == r.shape == (2,) and cv.max() < 0.02 and r == pytest.approx(0.5, abs=0.01)
    # five lobes r = 0.4 (1 + 0.2 cos 5 theta): std / mean = 0.2 / sqrt(2)
    cv, r = metrics.outline_irregularity(_blob(lambda t: 0.4 * (1 + 0.2 * torch.cos(5 * t))))
    assert cv == pytest.approx(0.2 / np.sqrt(2), abs=0.01) and r == pytest.approx(0.4, abs=0.01)
    # an ellipse with half-axes 0.6 and 0.4: r(theta) = ab / sqrt((b cos)^2 + (a sin)^2)
    ellipse = lambda t: 0.24 / torch.sqrt((0.4 * torch.cos(t)) ** 2 + (0.6 * torch.sin(t)) ** 2)
    t = torch.arange(64) * (2 * np.pi / 64)
    cv, _ = metrics.outline_irregularity(_blob(ellipse))
    assert cv == pytest.approx(float(ellipse(t).std() / ellipse(t).mean()), abs=0.01)


def test_outline_irregularity_tells_the_lesion_borders_apart():
    """On hair-free synthetic lesions the outline alone separates regular from irregular borders."""
    x, y = images.lesions(400, 32, seed=1, hair_opacity=0.0)
    cv, r = metrics.outline_irregularity(x)
    border, large = y[:, 1].numpy() == 1, y[:, 2].numpy() == 1
    assert metrics.rank_auc(cv[border], cv[~border]) > 0.99
    assert np.median(cv[~border]) < 0.07 and np.median(cv[border]) > 0.14
    assert r[large].min() > r[~large].max()                             # and the radius tells the sizes


def test_outline_irregularity_rejects_bad_input():
    for bad in (torch.zeros(3, 32, 32), torch.zeros(2, 3, 32, 16), torch.zeros(0, 3, 32, 32), torch.zeros(1, 3, 4, 4)):
        with pytest.raises(ValueError, match="outline_irregularity needs images"):
            metrics.outline_irregularity(bad)
    with pytest.raises(ValueError, match="level"):
        metrics.outline_irregularity(torch.zeros(1, 3, 32, 32), level=1.5)


def test_attribute_agreement():
    p = torch.tensor([[0.9, 0.2, 0.7], [0.8, 0.6, 0.1], [0.1, 0.1, 0.9], [0.6, 0.4, 0.6]])
    assert metrics.attribute_agreement(p, {0: 1}) == 0.75
    assert metrics.attribute_agreement(p, {0: 1, 1: 0}) == 0.5
    assert metrics.attribute_agreement(p, {0: 1, 1: 0, 2: 1}) == 0.5
    with pytest.raises(ValueError, match="columns"):
        metrics.attribute_agreement(p, {3: 1})
    with pytest.raises(ValueError, match="columns"):
        metrics.attribute_agreement(p, {0: 2})


def test_rank_auc_against_the_pair_count():
    # the AUC is the fraction of (positive, negative) pairs ordered right, ties counting half
    pos, neg = [3.0, 2.0], [1.0, 2.0, 0.0]
    wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    assert metrics.rank_auc(pos, neg) == pytest.approx(wins / 6)
    assert metrics.rank_auc([5, 6], [1, 2]) == 1.0 and metrics.rank_auc([1, 2], [5, 6]) == 0.0
    assert metrics.rank_auc([1, 1], [1, 1, 1]) == 0.5
    with pytest.raises(ValueError, match="both sides"):
        metrics.rank_auc([], [1.0])


def test_null_sd_matches_the_spread_of_auc_between_two_samples_of_one_distribution():
    rng = np.random.default_rng(0)
    aucs = [metrics.rank_auc(rng.normal(size=50), rng.normal(size=50)) for _ in range(4000)]
    assert np.mean(aucs) == pytest.approx(0.5, abs=0.005)
    assert np.std(aucs) == pytest.approx(metrics.Separation(0.5, 0.5, 0.5, n=50).null_sd, rel=0.05)


class _LookupD(nn.Module):
    """A discriminator that has memorised its training images: logit +4 on them, -4 elsewhere."""

    def __init__(self, train_images):
        super().__init__()
        self.bn = nn.BatchNorm2d(train_images.shape[1])
        self.register_buffer("memory", train_images.flatten(1))

    def forward(self, x):
        self.bn(x)                                    # updates running stats in train mode
        hit = (x.flatten(1)[:, None] == self.memory[None]).all(-1).any(1)
        return torch.where(hit, 4.0, -4.0)[:, None]


def test_discriminator_separation_spots_a_memorising_D_and_leaves_D_alone():
    g = torch.Generator().manual_seed(0)
    seen, unseen = torch.rand(100, 3, 8, 8, generator=g), torch.rand(100, 3, 8, 8, generator=g)
    D = _LookupD(seen)
    before = {k: v.clone() for k, v in D.state_dict().items()}
    D.eval()
    m = metrics.discriminator_separation(D, seen, unseen, batch_size=16)
    assert m.auc == 1.0 and m.n == 96               # 100 rounded down to whole batches of 16
    assert m.p_a == pytest.approx(float(torch.sigmoid(torch.tensor(4.0))))
    assert m.p_b == pytest.approx(float(torch.sigmoid(torch.tensor(-4.0))))
    assert not D.training                             # the copy ran in train mode, not D
    assert all(torch.equal(v, D.state_dict()[k]) for k, v in before.items())


def test_discriminator_separation_of_the_same_images_is_one_half():
    torch.manual_seed(0)
    D = dcgan.Discriminator(channels=3, image_size=32, width=8)
    x = torch.rand(64, 3, 32, 32) * 2 - 1
    m = metrics.discriminator_separation(D, x, x.clone(), batch_size=32)
    assert m.auc == 0.5 and m.p_a == pytest.approx(m.p_b)
    with pytest.raises(ValueError, match="same image"):
        metrics.discriminator_separation(D, x, x[:, :1], batch_size=32)
    assert metrics.discriminator_separation(D, x, x[:10], batch_size=32).n == 10   # one small batch
    with pytest.raises(ValueError, match="at least 2 images"):
        metrics.discriminator_separation(D, x, x[:1], batch_size=32)
    with pytest.raises(ValueError, match="batch_size"):
        metrics.discriminator_separation(D, x, x, batch_size=1)


def test_throughput_benchmark_runs_and_reports_a_ratio(tmp_path, load_benchmark, capsys):
    bench = load_benchmark("dcgan_throughput")
    out = tmp_path / "r.json"
    r = bench.main(["--width", "4", "--batch", "8", "--iters", "2", "--warmup", "1", "--repeats", "1",
                    "--n-data", "32", "--json", str(out)])
    assert set(r["it_per_s"]) == {"examples", "examples+fresh", "train", "train+fresh"}
    assert r["ratio"] > 0 and r["ratio_fresh"] > 0
    assert r["cpu"] == runtime.cpu_name()        # the rates depend on the CPU: the record names it
    assert json.loads(out.read_text()) == r
    assert runtime.machine_line() in capsys.readouterr().out


def test_notebook_07_reads_a_medmnist_file(tmp_path, monkeypatch):
    """The MedMNIST path of notebook 07 (smoke sizes) on the sample .npz: KID, no arithmetic."""
    import papermill

    results = tmp_path / "results.json"
    monkeypatch.setenv("GAN_TUTORIAL_RESULTS", str(results))
    papermill.execute_notebook(str(ROOT / "notebooks" / "07_dcgan_latent_arithmetic.ipynb"),
                               str(tmp_path / "out.ipynb"), progress_bar=False,
                               parameters={"PRESET": "smoke", "dataset": "sample_lesions"},
                               cwd=str(ROOT / "notebooks"))
    [record] = json.loads(results.read_text())
    assert record["parameters"]["dataset"] == "sample_lesions" and record["preset"] == "smoke"
    assert "kid_generated" in record["metrics"] and "arithmetic_accuracy" not in record["metrics"]
