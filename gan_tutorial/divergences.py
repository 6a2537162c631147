"""KL, Jensen–Shannon and Wasserstein-1 divergences: on a grid, from 1-D samples, closed forms.

All in nats. Discrete inputs are non-negative masses on the same support; they are normalised
(so densities evaluated on an evenly spaced grid can be passed directly). Anything that is not a
distribution (negative or non-finite mass, zero total, mismatched shapes) raises ``ValueError``.

- ``kl(p, q) = sum p log(p / q)``; infinite when q = 0 somewhere p > 0.
- ``js(p, q) = KL(p || m)/2 + KL(q || m)/2`` with m = (p + q)/2; at most log 2, reached when the
  supports are disjoint.
- ``wasserstein1(p, q, x) = integral |F_p - F_q| dx`` on a sorted 1-D support ``x``.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

LOG2 = math.log(2.0)


def as_distribution(p, name: str = "p") -> np.ndarray:
    """Validate non-negative finite masses and normalise them to sum to 1."""
    a = np.asarray(p, dtype=float)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of masses, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} has non-finite entries (NaN or inf)")
    if np.any(a < 0):
        i = int(np.argmin(a))
        raise ValueError(f"{name} has negative mass ({a[i]:.3g} at index {i}); not a distribution")
    total = a.sum()
    if total <= 0:
        raise ValueError(f"{name} has zero total mass; it cannot be normalised")
    return a / total


def _pair(p, q) -> tuple[np.ndarray, np.ndarray]:
    p, q = as_distribution(p, "p"), as_distribution(q, "q")
    if p.shape != q.shape:
        raise ValueError(f"p and q must live on the same support, got shapes {p.shape} and {q.shape}")
    return p, q


def kl(p, q) -> float:
    """KL(p || q) of two discrete distributions (inf when p is not absolutely continuous w.r.t. q)."""
    p, q = _pair(p, q)
    nz = p > 0
    if np.any(q[nz] == 0):
        return math.inf
    return float(np.sum(p[nz] * np.log(p[nz] / q[nz])))


def js(p, q) -> float:
    """Jensen–Shannon divergence (natural log): 0 <= JS <= log 2."""
    p, q = _pair(p, q)
    m = 0.5 * (p + q)
    return float(0.5 * kl(p, m) + 0.5 * kl(q, m))


def wasserstein1(p, q, x) -> float:
    """W1 between masses ``p`` and ``q`` on the sorted 1-D support ``x``: the area between the CDFs."""
    p, q = _pair(p, q)
    x = np.asarray(x, dtype=float)
    if x.shape != p.shape:
        raise ValueError(f"support x must have the shape of p, got {x.shape} and {p.shape}")
    if np.any(np.diff(x) < 0):
        raise ValueError("support x must be sorted in increasing order")
    cdf_gap = np.cumsum(p - q)[:-1]
    return float(np.sum(np.abs(cdf_gap) * np.diff(x)))


# ---------------------------------------------------------------- from 1-D samples

def _samples(a, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=float).ravel()
    if a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be a non-empty array of finite samples")
    return a


def histograms(a, b, bins: int = 100, smoothing: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Histograms of two sample sets on common bins; ``smoothing`` counts are added to every bin
    (Jeffreys' add-half) so that KL stays finite where one sample set has an empty bin."""
    a, b = _samples(a, "a"), _samples(b, "b")
    edges = np.histogram_bin_edges(np.concatenate([a, b]), bins=bins)
    ha = np.histogram(a, edges)[0] + smoothing
    hb = np.histogram(b, edges)[0] + smoothing
    return ha / ha.sum(), hb / hb.sum(), edges


def kl_samples(a, b, bins: int = 100) -> float:
    """KL estimated from 1-D samples through histograms on common bins (biased; for teaching)."""
    ha, hb, _ = histograms(a, b, bins)
    return kl(ha, hb)


def js_samples(a, b, bins: int = 100) -> float:
    ha, hb, _ = histograms(a, b, bins, smoothing=0.0)
    return js(ha, hb)


def wasserstein1_samples(a, b) -> float:
    """W1 between two 1-D empirical distributions (exact: the area between empirical CDFs)."""
    return float(stats.wasserstein_distance(_samples(a, "a"), _samples(b, "b")))


def wasserstein1_matching(x, y) -> float:
    """Exact W1 between two empirical distributions of the same number of points in any
    dimension: the mean cost of the optimal one-to-one matching (Hungarian algorithm)."""
    from scipy.optimize import linear_sum_assignment

    a = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=float)
    b = np.asarray(y.detach().cpu() if hasattr(y, "detach") else y, dtype=float)
    if a.ndim != 2 or a.shape != b.shape or len(a) == 0:
        raise ValueError(f"need two non-empty (n, d) point sets of the same shape, got {a.shape} and {b.shape}")
    cost = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


# ---------------------------------------------------------------- closed forms for Gaussians

def _check_std(*stds: float) -> None:
    for s in stds:
        if not s > 0:
            raise ValueError(f"standard deviations must be positive, got {s}")


def kl_gaussian(m1: float, s1: float, m2: float, s2: float) -> float:
    """KL(N(m1, s1²) || N(m2, s2²)) = log(s2/s1) + (s1² + (m1 - m2)²) / (2 s2²) - 1/2."""
    _check_std(s1, s2)
    return math.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5


def w1_gaussian(m1: float, s1: float, m2: float, s2: float) -> float:
    """W1 between 1-D Gaussians: E|Δm + Δs Z| for Z ~ N(0, 1) (quantile coupling), a folded normal."""
    _check_std(s1, s2)
    dm, ds = m2 - m1, abs(s2 - s1)
    if ds == 0:
        return abs(dm)
    return ds * math.sqrt(2 / math.pi) * math.exp(-dm**2 / (2 * ds**2)) + dm * (1 - 2 * stats.norm.cdf(-dm / ds))


def w2_gaussian(m1: float, s1: float, m2: float, s2: float) -> float:
    """W2 between 1-D Gaussians: sqrt(Δm² + Δs²)."""
    _check_std(s1, s2)
    return math.hypot(m1 - m2, s1 - s2)


def gaussian_on_grid(x, mean: float, std: float) -> np.ndarray:
    """Masses of N(mean, std²) on the evenly spaced grid ``x`` (density times spacing)."""
    _check_std(std)
    x = np.asarray(x, dtype=float)
    return stats.norm.pdf(x, mean, std) * np.gradient(x)


def uniform_on_grid(x, low: float, high: float) -> np.ndarray:
    """Masses of U(low, high) on the grid ``x`` (zero outside)."""
    if not high > low:
        raise ValueError(f"need low < high, got [{low}, {high}]")
    x = np.asarray(x, dtype=float)
    return ((x >= low) & (x <= high)).astype(float)
