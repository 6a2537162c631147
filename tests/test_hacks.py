"""Unit tests of gan_tutorial.hacks: each hack's piece against a case worked out by hand."""
import math
import types

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gan_tutorial import hacks, losses, train
from gan_tutorial.data import toy


class ConstantD(nn.Module):
    """A 'discriminator' whose logit is the same number c for every input (and that records
    what it was shown)."""

    def __init__(self, c: float = 0.0):
        super().__init__()
        self.c = nn.Parameter(torch.tensor(float(c)))
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return self.c.expand(len(x), 1)


# --- slerp and lerp ---------------------------------------------------------------------------

def test_slerp_endpoints_and_orthogonal_midpoint():
    z0 = torch.tensor([[2.0, 0.0, 0.0]])
    z1 = torch.tensor([[0.0, 2.0, 0.0]])
    assert torch.allclose(hacks.slerp(z0, z1, 0.0), z0, atol=1e-6)
    assert torch.allclose(hacks.slerp(z0, z1, 1.0), z1, atol=1e-6)
    mid = hacks.slerp(z0, z1, 0.5)
    # on the circle of radius 2, at 45 degrees: (sqrt 2, sqrt 2, 0)
    assert torch.allclose(mid, torch.tensor([[math.sqrt(2), math.sqrt(2), 0.0]]), atol=1e-6)
    # the straight line cuts the corner: its midpoint has norm sqrt(2), not 2
    assert hacks.lerp(z0, z1, 0.5).norm().item() == pytest.approx(math.sqrt(2))


def test_slerp_keeps_the_norm_of_gaussian_points_lerp_does_not():
    torch.manual_seed(0)
    d = 64
    z0, z1 = torch.randn(500, d), torch.randn(500, d)
    t = torch.full((500,), 0.5)
    n_slerp = hacks.slerp(z0, z1, t).norm(dim=1).mean()
    n_lerp = hacks.lerp(z0, z1, t).norm(dim=1).mean()
    assert n_slerp == pytest.approx(math.sqrt(d), rel=0.05)
    assert n_lerp == pytest.approx(math.sqrt(d / 2), rel=0.05)


def test_slerp_parallel_vectors_fall_back_to_lerp_and_bad_shapes_raise():
    z0 = torch.tensor([[1.0, 1.0]])
    z1 = 3 * z0
    assert torch.allclose(hacks.slerp(z0, z1, 0.5), 2 * z0)
    assert torch.isfinite(hacks.slerp(z0, z0, 0.3)).all()
    with pytest.raises(ValueError, match="same shape"):
        hacks.slerp(torch.zeros(2, 3), torch.zeros(2, 4), 0.5)


def test_noise_samplers():
    torch.manual_seed(0)
    u = hacks.uniform_noise(16)(4000)
    g = hacks.gaussian_noise(16)(4000)
    assert u.shape == g.shape == (4000, 16)
    assert u.min() >= -1 and u.max() <= 1
    assert u.std().item() == pytest.approx(1 / math.sqrt(3), rel=0.03)
    assert g.norm(dim=1).mean().item() == pytest.approx(4.0, rel=0.03)


def test_uniform_noise_from_a_generator_of_its_own():
    draw = lambda: hacks.uniform_noise(16, generator=torch.Generator().manual_seed(3))(500)
    torch.manual_seed(0)
    before = torch.rand(1)
    z = draw()
    torch.manual_seed(0)
    z_again = draw()
    assert torch.rand(1) == before            # the global stream was not touched
    assert torch.equal(z, z_again) and z.shape == (500, 16)
    assert z.min() >= -1 and z.max() <= 1
    expected = torch.rand(500, 16, generator=torch.Generator().manual_seed(3)) * 2 - 1
    assert torch.equal(z, expected)           # the same numbers as drawing by hand
    on_gpu = types.SimpleNamespace(device=torch.device("cuda", 0))   # stands in for a CUDA generator
    with pytest.raises(ValueError, match="CPU torch.Generator"):
        hacks.uniform_noise(16, generator=on_gpu)


# --- labels and the discriminator loss --------------------------------------------------------

def test_hard_label_loss_equals_the_standard_discriminator_loss():
    torch.manual_seed(0)
    net_D = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
    real, fake = torch.randn(32, 2), torch.randn(32, 2) + 1
    ours = hacks.bce_d_loss()(net_D, real, fake)
    assert torch.allclose(ours, losses.discriminator_loss(net_D, real, fake))


def test_soft_labels_by_hand():
    # logit 0 means D = 1/2: BCE = log 2 whatever the target, so the loss is 2 log 2
    loss = hacks.bce_d_loss(hacks.SOFT_NOISY)(ConstantD(0.0), torch.zeros(10, 2), torch.zeros(10, 2))
    assert loss.item() == pytest.approx(2 * math.log(2), rel=1e-6)
    # fixed targets 0.9 / 0.1 and logit c: -(0.9 log s(c) + 0.1 log(1-s(c))) - (0.1 log s(c) + 0.9 log(1-s(c)))
    c = 1.5
    s = 1 / (1 + math.exp(-c))
    expected = -(0.9 * math.log(s) + 0.1 * math.log(1 - s)) - (0.1 * math.log(s) + 0.9 * math.log(1 - s))
    labels = hacks.Labels(real=(0.9, 0.9), fake=(0.1, 0.1))
    loss = hacks.bce_d_loss(labels)(ConstantD(c), torch.zeros(5, 2), torch.zeros(7, 2))
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_soft_labels_with_one_logit_per_image():
    # a DCGAN discriminator returns logits of shape (n,), not (n, 1): same loss as the MLP case
    from gan_tutorial.nets import dcgan
    torch.manual_seed(0)
    net_D = dcgan.Discriminator(channels=3, image_size=32, width=8)
    real, fake = torch.rand(6, 3, 32, 32) * 2 - 1, torch.rand(6, 3, 32, 32) * 2 - 1
    labels = hacks.Labels(real=(0.9, 0.9), fake=(0.0, 0.0))
    l_real, l_fake = net_D(real), net_D(fake)
    assert l_real.shape == (6,)
    expected = (F.binary_cross_entropy_with_logits(l_real, torch.full((6,), 0.9))
                + F.binary_cross_entropy_with_logits(l_fake, torch.zeros(6)))
    assert hacks.bce_d_loss(labels)(net_D, real, fake).item() == pytest.approx(expected.item(), rel=1e-5)


def test_label_draws_stay_in_range_and_flip_at_the_given_rate():
    torch.manual_seed(0)
    t_real, t_fake = hacks.SOFT_NOISY.draw(10_000, 10_000)
    assert t_real.shape == (10_000, 1)
    assert 0.7 <= t_real.min() and t_real.max() <= 1.2
    assert 0.0 <= t_fake.min() and t_fake.max() <= 0.3
    t_real, t_fake = hacks.Labels(flip=0.1).draw(20_000, 20_000)
    assert (t_real == 0).float().mean().item() == pytest.approx(0.1, abs=0.01)
    assert (t_fake == 1).float().mean().item() == pytest.approx(0.1, abs=0.01)
    r, f = hacks.Labels().draw(3, 4)
    assert (r == 1).all() and (f == 0).all()
    with pytest.raises(ValueError, match="flip"):
        hacks.Labels(flip=0.7)
    with pytest.raises(ValueError, match="lo <= hi"):
        hacks.Labels(real=(1.0, 0.5))


def test_separate_and_mixed_batches_differ_only_with_batch_norm():
    torch.manual_seed(0)
    real, fake = torch.randn(64, 2) + 3, torch.randn(64, 2) - 3
    plain = hacks.build_discriminator(2, 16, 2)
    sep, mix = hacks.bce_d_loss(batches="separate"), hacks.bce_d_loss(batches="mixed")
    assert torch.allclose(sep(plain, real, fake), mix(plain, real, fake), atol=1e-6)
    bn = hacks.build_discriminator(2, 16, 2, batch_norm=True)
    assert any(isinstance(m, nn.BatchNorm1d) for m in bn)
    assert not torch.allclose(sep(bn, real, fake), mix(bn, real, fake), atol=1e-3)
    with pytest.raises(ValueError, match="batches"):
        hacks.bce_d_loss(batches="both")


# --- instance noise ---------------------------------------------------------------------------

def test_instance_noise_schedule_and_counter():
    noise = hacks.InstanceNoise(0.4, num_steps=100)
    assert noise.sigma(0) == pytest.approx(0.4)
    assert noise.sigma(50) == pytest.approx(0.2)
    assert noise.sigma(100) == 0 and noise.sigma(150) == 0
    exp = hacks.InstanceNoise(0.4, num_steps=60, schedule="exp")
    assert exp.sigma(10) == pytest.approx(0.2)       # halves every num_steps / 6
    assert exp.sigma(60) == 0
    loss_G = noise.wrap_G(losses.nonsaturating_generator_loss)
    for _ in range(30):
        loss_G(ConstantD(), torch.zeros(4, 2))
    assert noise.step == 30 and noise.sigma() == pytest.approx(0.28)
    with pytest.raises(ValueError, match="schedule"):
        hacks.InstanceNoise(0.1, 10, schedule="cosine")


def test_instance_noise_reaches_both_inputs_of_D_and_stops_at_the_end():
    torch.manual_seed(0)
    noise = hacks.InstanceNoise(0.5, num_steps=10)
    net_D = ConstantD()
    loss_D = noise.wrap_D(hacks.bce_d_loss())
    loss_D(net_D, torch.zeros(20_000, 2), torch.ones(20_000, 2))
    real_seen, fake_seen = net_D.seen
    assert real_seen.std().item() == pytest.approx(0.5, rel=0.02)
    assert (fake_seen - 1).std().item() == pytest.approx(0.5, rel=0.02)
    noise.step = 10
    net_D.seen.clear()
    loss_D(net_D, torch.zeros(5, 2), torch.ones(5, 2))
    assert torch.equal(net_D.seen[0], torch.zeros(5, 2)) and torch.equal(net_D.seen[1], torch.ones(5, 2))


# --- feature matching -------------------------------------------------------------------------

class LinearFeaturesD(nn.Module):
    """A 'discriminator' whose features are a fixed linear map of its input and whose logit is 0."""

    def __init__(self, dim: int = 3, n_features: int = 4):
        super().__init__()
        self.map = nn.Linear(dim, n_features, bias=False)

    def features(self, x):
        return self.map(x)

    def forward(self, x):
        return torch.zeros(len(x))


def test_feature_matching_gap_is_the_mean_squared_gap_of_the_batch_means():
    fake = torch.tensor([[[[1.0]], [[0.0]]], [[[3.0]], [[2.0]]]])   # (2, 2, 1, 1): means 2 and 1
    assert float(losses.feature_matching_gap(fake, torch.tensor([0.0, 1.0]))) == pytest.approx(2.0)
    assert float(losses.feature_matching_gap(fake, torch.tensor([2.0, 1.0]))) == 0.0
    for bad in (torch.zeros(1), torch.zeros(3), torch.zeros(1, 2)):   # would broadcast or fail late
        with pytest.raises(ValueError, match=r"real_mean must be a vector of the 2 features"):
            losses.feature_matching_gap(fake, bad)


def test_feature_matching_adds_the_squared_gap_of_the_feature_means():
    torch.manual_seed(0)
    D, fm = LinearFeaturesD(), hacks.FeatureMatching(weight=3.0)
    loss_D = fm.wrap_D(hacks.bce_d_loss())
    loss_G = fm.wrap_G(losses.nonsaturating_generator_loss)
    real, fake = torch.randn(16, 3), torch.randn(16, 3) + 1
    with pytest.raises(RuntimeError, match="before the wrapped loss_D"):
        loss_G(D, fake)
    loss_D(D, real, fake)
    gap = D.map(fake).mean(0) - D.map(real).mean(0)
    plain = losses.nonsaturating_generator_loss(D, fake)
    with torch.no_grad():
        assert float(loss_G(D, fake)) == pytest.approx(float(plain + 3.0 * gap.pow(2).mean()), rel=1e-5)
        assert float(loss_G(D, real)) == pytest.approx(float(plain), rel=1e-6)  # same means: no extra term
    # the term alone moves a generator's batch mean onto the real one
    shift = nn.Parameter(torch.zeros(3))
    opt = torch.optim.SGD([shift], lr=0.5)
    gaps = []
    for _ in range(50):
        opt.zero_grad()
        loss = loss_G(D, fake + shift) - losses.nonsaturating_generator_loss(D, fake)
        gaps.append(loss.item())
        loss.backward()
        opt.step()
    assert gaps[-1] < 0.01 * gaps[0]
    with pytest.raises(ValueError, match="weight must be >= 0"):
        hacks.FeatureMatching(-1.0)
    with pytest.raises(TypeError, match="features"):
        fm.wrap_D(hacks.bce_d_loss())(ConstantD(), real, fake)


# --- experience replay ------------------------------------------------------------------------

def test_replay_buffer_fills_wraps_and_mixes_past_fakes_in():
    torch.manual_seed(0)
    buf = hacks.ReplayBuffer(capacity=8, fraction=0.5)
    with pytest.raises(ValueError, match="empty"):
        buf.sample(1)
    net_D = ConstantD()
    loss_D = buf.wrap(hacks.bce_d_loss())
    loss_D(net_D, torch.zeros(4, 1), torch.full((4, 1), 1.0))    # empty buffer: fakes as they are
    assert torch.equal(net_D.seen[1], torch.full((4, 1), 1.0)) and len(buf) == 4
    net_D.seen.clear()
    loss_D(net_D, torch.zeros(4, 1), torch.full((4, 1), 2.0))    # half of them from the past (1.0)
    shown = net_D.seen[1].flatten().tolist()
    assert sorted(shown) == [1.0, 1.0, 2.0, 2.0] and len(buf) == 8
    buf.push(torch.full((20, 1), 3.0))                           # more than the capacity
    assert len(buf) == 8 and (buf.data == 3.0).sum() >= 1
    with pytest.raises(ValueError, match="fraction"):
        hacks.ReplayBuffer(fraction=0)


# --- networks, optimisers, scaling -----------------------------------------------------------

def test_generator_switches():
    torch.manual_seed(0)
    g = hacks.build_generator(16, 2, 32, 3, leaky=True, tanh=True, dropout=0.5)
    assert g(torch.zeros(5, 16)).shape == (5, 2)
    assert sum(isinstance(m, nn.LeakyReLU) for m in g) == 3
    assert sum(isinstance(m, hacks.AlwaysDropout) for m in g) == 3
    g.eval()
    z = torch.randn(200, 16) * 50
    a, b = g(z), g(z)
    assert a.abs().max() <= 1                         # tanh
    assert not torch.equal(a, b)                      # dropout is still on in eval mode
    plain = hacks.build_generator(16, 2, 32, 3).eval()
    assert torch.equal(plain(z), plain(z))
    with pytest.raises(ValueError, match="dropout"):
        hacks.AlwaysDropout(1.0)


def test_make_optimizers():
    g, d = nn.Linear(2, 2), nn.Linear(2, 1)
    opt_G, opt_D = hacks.make_optimizers(g, d, 1e-3, 1e-3, d_optimizer="sgd", sgd_lr=0.1)
    assert isinstance(opt_G, torch.optim.Adam) and isinstance(opt_D, torch.optim.SGD)
    assert opt_D.param_groups[0]["lr"] == 0.1
    _, opt_D = hacks.make_optimizers(g, d, 1e-3, 2e-3)
    assert isinstance(opt_D, torch.optim.Adam) and opt_D.param_groups[0]["lr"] == 2e-3
    with pytest.raises(ValueError, match="d_optimizer"):
        hacks.make_optimizers(g, d, 1e-3, 1e-3, d_optimizer="lbfgs")


def test_make_optimizers_refuses_a_rate_that_would_freeze_a_player():
    g, d = nn.Linear(2, 2), nn.Linear(2, 1)
    with pytest.raises(ValueError, match="lr_G"):
        hacks.make_optimizers(g, d, 0.0, 1e-3)
    with pytest.raises(ValueError, match="lr_D"):
        hacks.make_optimizers(g, d, 1e-3, -1e-3)
    with pytest.raises(ValueError, match="sgd_lr"):
        hacks.make_optimizers(g, d, 1e-3, 1e-3, d_optimizer="sgd", sgd_lr=0.0)
    hacks.make_optimizers(g, d, 1e-3, 0.0, d_optimizer="sgd")   # lr_D unused with SGD: no error


def test_scaler():
    x = torch.tensor([[-4.0, 2.0], [1.0, 3.0]])
    s = hacks.Scaler.fit(x, margin=1.0)
    assert s.scale == 4.0
    assert torch.equal(s.from_unit(s.to_unit(x)), x)
    assert s.to_unit(x).abs().max() == 1
    with pytest.raises(ValueError, match="not all zero"):
        hacks.Scaler.fit(torch.zeros(3, 2))


# --- the lab: configuration, a short run, the verdict -----------------------------------------

def test_parse_hacks():
    assert hacks.parse_hacks(None) == [*hacks.HACKS, *hacks.CONTROLS]
    assert hacks.parse_hacks("none") == [] and hacks.parse_hacks("baseline") == []
    assert hacks.parse_hacks("normalize, replay") == ["normalize", "replay"]
    assert hacks.parse_hacks(["nonsat"]) == ["nonsat"]
    with pytest.raises(ValueError, match="unknown hack"):
        hacks.parse_hacks("normalise")
    with pytest.raises(ValueError, match="exclude"):
        hacks.LabConfig(bn_separate=True, bn_mixed=True)


def test_build_case_wires_every_switch():
    mix = toy.grid()
    cfg = hacks.LabConfig(num_steps=10, hidden=16).with_switches(list(hacks.HACKS))
    case = hacks.build_case(cfg, mix, "cpu")
    assert case.scaler.scale > 4 and case.sample_real().abs().max() <= 1
    assert isinstance(case.opt_D, torch.optim.SGD) and case.noise is not None and case.replay is not None
    assert isinstance(case.net_G[-1], nn.Tanh)
    assert case.samples(100).abs().max() > 1          # back in data units


def test_run_case_trains_through_the_loop_and_scores_in_data_units():
    mix = toy.grid()
    cfg = hacks.LabConfig(num_steps=30, hidden=32, batch_size=64, eval_samples=500,
                          normalize=True, nonsat=True, inst_noise=True, replay=True)
    r = hacks.run_case(cfg, mix, "cpu", seed=0)
    assert 0 <= r["modes"] <= 25 and 0 <= r["hq_fraction"] <= 1
    assert r["samples"].shape == (500, 2) and not r["diverged"]
    assert len(r["history"].loss_D) > 0
    again = hacks.run_case(cfg, mix, "cpu", seed=0)
    assert torch.equal(r["samples"], again["samples"])   # seeded: the same run twice


def test_effect_and_verdict():
    base = {"modes": [20, 21, 19], "hq_fraction": [0.30, 0.32, 0.31]}
    better = {"modes": [25, 25, 24], "hq_fraction": [0.31, 0.30, 0.32]}
    worse = {"modes": [10, 12, 11], "hq_fraction": [0.31, 0.30, 0.32]}
    noisy = {"modes": [15, 25, 24], "hq_fraction": [0.1, 0.5, 0.3]}
    trade = {"modes": [25, 25, 25], "hq_fraction": [0.1, 0.12, 0.11]}
    assert hacks.verdict(base, better) == "helped"
    assert hacks.verdict(base, worse) == "hurt"
    assert hacks.verdict(base, noisy) == "no clear effect"
    assert hacks.verdict(base, trade) == "mixed"
    assert hacks.effect([1, 1], [1.5, 1.5], min_effect=1.0) == 0    # below the smallest effect
    with pytest.raises(ValueError, match="2 seeds"):
        hacks.effect([1], [2], 0.0)
    rows = hacks.summary_rows({"baseline": base, "x": better})
    assert rows[0]["verdict"] == "—" and rows[1]["verdict"] == "helped"
    assert rows[1]["modes_mean"] == pytest.approx(74 / 3)
    with pytest.raises(KeyError, match="baseline"):
        hacks.summary_rows({"x": better})


def test_the_lab_notebook_has_one_switch_per_hack():
    import ast
    import json
    from pathlib import Path

    book = Path(__file__).resolve().parent.parent / "notebooks" / "06_gan_hacks.ipynb"
    cells = [c for c in json.loads(book.read_text())["cells"]
             if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, "exactly one cell tagged 'parameters'"
    tree = ast.parse("".join(cells[0]["source"]))
    names = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets}
    missing = [n for n in [*hacks.HACKS, *hacks.CONTROLS, "hacks", "seed", "num_seeds"] if n not in names]
    assert not missing, f"06_gan_hacks.ipynb: no parameter for {missing}"
