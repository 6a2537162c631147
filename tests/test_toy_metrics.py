import math

import numpy as np
import pytest
import torch

from gan_tutorial import metrics
from gan_tutorial.data import toy


def test_ring_and_grid_geometry():
    ring, grid = toy.ring(), toy.grid()
    assert ring.means.shape == (8, 2) and ring.std == 0.02
    assert torch.allclose(ring.means.norm(dim=1), torch.full((8,), 2.0))
    assert grid.means.shape == (25, 2) and grid.std == 0.05
    assert sorted(set(grid.means[:, 0].tolist())) == [-4, -2, 0, 2, 4]


def test_samples_from_the_mixture_are_all_high_quality_and_cover_every_mode():
    for mix in (toy.ring(), toy.grid()):
        cov = metrics.mode_coverage(mix.sample(2500, generator=torch.Generator().manual_seed(0)), mix.means, mix.std)
        assert cov.modes == mix.n_modes
        assert cov.hq_fraction > 0.98                         # 3 std in 2-D holds ~98.9 %
        assert cov.kl_uniform < 0.05


def test_collapsed_samples_capture_one_mode():
    ring = toy.ring()
    x = ring.means[3] + 0.01 * torch.randn(2500, 2)
    cov = metrics.mode_coverage(x, ring.means, ring.std)
    assert cov.modes == 1 and cov.counts[3] == 2500
    assert cov.kl_uniform == pytest.approx(math.log(8))


def test_far_samples_are_low_quality_and_capture_nothing():
    ring = toy.ring()
    cov = metrics.mode_coverage(torch.zeros(100, 2), ring.means, ring.std)
    assert cov.modes == 0 and cov.hq_fraction == 0
    nan = metrics.mode_coverage(torch.full((10, 2), float("nan")), ring.means, ring.std)
    assert nan.modes == 0


def test_mode_coverage_bad_input():
    with pytest.raises(ValueError, match="agree"):
        metrics.mode_coverage(torch.zeros(5, 3), toy.ring().means, 0.02)
    with pytest.raises(ValueError, match="positive"):
        metrics.mode_coverage(torch.zeros(5, 2), toy.ring().means, 0)


def test_swiss_roll_and_1d_mixtures():
    x = toy.swiss_roll(1000, generator=torch.Generator().manual_seed(0))
    assert x.shape == (1000, 2) and x.abs().max() < 3
    m = toy.mixture_1d((-2, 2), 0.5)
    s = m.sample(4000, generator=torch.Generator().manual_seed(0))
    assert s.shape == (4000, 1) and abs(s.mean().item()) < 0.15
    dens = m.density(np.linspace(-6, 6, 1201)[:, None])
    assert dens.sum() * 0.01 == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(ValueError):
        toy.gaussian_1d(0, 0)


def test_mean_std():
    assert metrics.mean_std([1, 2, 3]) == pytest.approx((2.0, math.sqrt(2 / 3)))


def test_lipschitz_estimate_of_a_linear_critic_is_its_weight_norm():
    D = torch.nn.Linear(2, 1)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([[3.0, -4.0]]))
    x, y = torch.randn(50, 2), torch.randn(50, 2) + 1
    assert metrics.lipschitz_estimate(D, x, y) == pytest.approx(5.0)
    relu = torch.nn.Sequential(torch.nn.ReLU())                     # 2-D in, not summed: slope 1 where x > 0
    assert metrics.lipschitz_estimate(lambda p: relu(p).sum(1), x, y) <= math.sqrt(2) + 1e-6
