import math
import sys

import numpy as np
import pytest

from gan_tutorial import divergences as dv

X = np.linspace(-15, 15, 6001)


def test_kl_and_w1_on_grid_match_gaussian_closed_forms():
    p, q = dv.gaussian_on_grid(X, 0, 1), dv.gaussian_on_grid(X, 1.5, 2)
    assert dv.kl(p, q) == pytest.approx(dv.kl_gaussian(0, 1, 1.5, 2), abs=1e-6)
    assert dv.kl(q, p) == pytest.approx(dv.kl_gaussian(1.5, 2, 0, 1), abs=1e-4)
    assert dv.wasserstein1(p, q, X) == pytest.approx(dv.w1_gaussian(0, 1, 1.5, 2), abs=1e-4)


def test_closed_forms_special_cases():
    assert dv.kl_gaussian(1, 2, 1, 2) == 0
    assert dv.w1_gaussian(0, 1, 3, 1) == pytest.approx(3)          # same std: the shift
    assert dv.w1_gaussian(0, 1, 0, 2) == pytest.approx(math.sqrt(2 / math.pi))  # E|Z|
    assert dv.w2_gaussian(0, 1, 3, 5) == pytest.approx(5)


def test_js_bounds_and_symmetry():
    p, q = dv.gaussian_on_grid(X, 0, 1), dv.gaussian_on_grid(X, 1, 1.5)
    assert dv.js(p, q) == pytest.approx(dv.js(q, p))
    assert 0 < dv.js(p, q) < math.log(2)
    assert dv.js(p, p) == pytest.approx(0, abs=1e-12)
    u1, u2 = dv.uniform_on_grid(X, 0, 1), dv.uniform_on_grid(X, 2, 3)
    assert dv.js(u1, u2) == pytest.approx(math.log(2))
    assert dv.kl(u1, u2) == math.inf
    assert dv.wasserstein1(u1, u2, X) == pytest.approx(2, abs=1e-2)


def test_sample_estimates_converge():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 100_000), rng.normal(2, 1, 100_000)
    assert dv.wasserstein1_samples(a, b) == pytest.approx(2, abs=0.03)
    assert dv.kl_samples(a, b, bins=100) == pytest.approx(dv.kl_gaussian(0, 1, 2, 1), abs=0.1)


@pytest.mark.parametrize("bad,msg", [
    ([0.5, -0.1, 0.6], "negative mass"), ([0.0, 0.0], "zero total"), ([[0.5, 0.5]], "1-D"),
    ([0.5, float("nan")], "non-finite")])
def test_not_a_distribution_raises(bad, msg):
    with pytest.raises(ValueError, match=msg):
        dv.kl(bad, [0.5, 0.5])


def test_shape_mismatch_and_bad_support_raise():
    with pytest.raises(ValueError, match="same support"):
        dv.js([0.5, 0.5], [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="sorted"):
        dv.wasserstein1([0.5, 0.5], [0.2, 0.8], [1.0, 0.0])
    with pytest.raises(ValueError, match="positive"):
        dv.kl_gaussian(0, 0, 0, 1)
    with pytest.raises(ValueError, match="finite samples"):
        dv.wasserstein1_samples([], [1.0])


def test_explorer_values_and_widget():
    from gan_tutorial import widgets

    p, q, d = widgets.divergence_values(X, "uniform", 0.0, 0.5, "uniform", 3.0, 0.5)
    assert d["JS"] == pytest.approx(math.log(2)) and d["KL(p||q)"] == math.inf
    assert d["W1"] == pytest.approx(3.0, abs=0.01)
    box = widgets.divergence_explorer()
    assert len(box.children) == 3


def test_explorer_without_ipywidgets_says_so_and_returns_none(monkeypatch, capsys):
    from gan_tutorial import widgets

    monkeypatch.setitem(sys.modules, "ipywidgets", None)     # import ipywidgets now fails
    assert widgets.divergence_explorer() is None
    assert "ipywidgets is not installed" in capsys.readouterr().out


def test_wasserstein1_matching_is_exact_for_a_shift_and_agrees_in_1d():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    assert dv.wasserstein1_matching(x, x + [3.0, 4.0]) == pytest.approx(5.0)
    a, b = rng.normal(size=(300, 1)), rng.normal(1, 2, size=(300, 1))
    assert dv.wasserstein1_matching(a, b) == pytest.approx(dv.wasserstein1_samples(a, b), rel=1e-9)
    with pytest.raises(ValueError, match="same shape"):
        dv.wasserstein1_matching(x, x[:10])
