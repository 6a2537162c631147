"""Scores the chapters publish.

Mode coverage for mixtures follows VEEGAN (Srivastava et al. 2017, Sec. 5.1) and PacGAN
(Lin et al. 2018, Sec. 5): draw 2,500 samples; a sample is *high quality* when it lies within
3 standard deviations of its nearest mode; a mode is *captured* when it is the nearest mode of
at least one high-quality sample. The per-mode histogram of high-quality samples and its KL
divergence to the uniform distribution say how evenly the modes are covered.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

N_SAMPLES = 2500


@dataclass(frozen=True)
class ModeCoverage:
    modes: int                 # modes captured
    hq_fraction: float         # fraction of samples within 3 std of their nearest mode
    counts: np.ndarray         # high-quality samples per mode
    kl_uniform: float          # KL(per-mode histogram || uniform), in nats; log(n_modes) if none

    def as_dict(self) -> dict[str, float]:
        return {"modes": self.modes, "hq_fraction": self.hq_fraction, "kl_uniform": self.kl_uniform}


def mode_coverage(samples: torch.Tensor | np.ndarray, means: torch.Tensor | np.ndarray,
                  std: float, threshold: float = 3.0) -> ModeCoverage:
    """Mode coverage of ``samples`` (n, d) for a mixture with ``means`` (m, d) and ``std``."""
    x = torch.as_tensor(samples, dtype=torch.float32).detach().cpu()
    mu = torch.as_tensor(means, dtype=torch.float32).cpu()
    if x.dim() != 2 or mu.dim() != 2 or x.shape[1] != mu.shape[1]:
        raise ValueError(f"samples (n, d) and means (m, d) must agree in d; got {tuple(x.shape)} "
                         f"and {tuple(mu.shape)}")
    if std <= 0:
        raise ValueError(f"std must be positive, got {std}")
    if len(x) == 0:
        raise ValueError("mode_coverage needs at least one sample")
    dist = torch.cdist(x, mu)                                   # (n, m)
    nearest_d, nearest = dist.min(1)
    finite = torch.isfinite(x).all(1)
    hq = (nearest_d <= threshold * std) & finite
    counts = np.bincount(nearest[hq].numpy(), minlength=len(mu))
    return ModeCoverage(modes=int((counts > 0).sum()), hq_fraction=float(hq.float().mean()),
                        counts=counts, kl_uniform=kl_to_uniform(counts))


def kl_to_uniform(counts: np.ndarray) -> float:
    """KL(p || uniform) of the histogram ``counts``: 0 when even, log(m) when one mode or none."""
    counts = np.asarray(counts, dtype=float)
    m = len(counts)
    total = counts.sum()
    if total == 0:
        return float(np.log(m))
    p = counts / total
    nz = p > 0
    return float((p[nz] * np.log(p[nz] * m)).sum())


@torch.no_grad()
def generator_coverage(net_G, latent_dim: int, means, std: float, n: int = N_SAMPLES,
                       noise=None) -> ModeCoverage:
    """Sample ``n`` points from ``net_G`` in eval mode and score them with ``mode_coverage``."""
    was = net_G.training
    net_G.eval()
    try:
        dev = next(net_G.parameters()).device
        z = noise(n) if noise is not None else torch.randn(n, latent_dim, device=dev)
        x = net_G(z).float()
    finally:
        net_G.train(was)
    return mode_coverage(x, means, std)


def mean_std(values) -> tuple[float, float]:
    """Mean and (population) standard deviation over seeds."""
    v = np.asarray(list(values), dtype=float)
    return float(v.mean()), float(v.std())


# ----------------------------------------------------------------------------------------------
# Image sample quality and attribute checks (chapter 07: DCGAN and latent arithmetic)
# ----------------------------------------------------------------------------------------------

def polynomial_kernel(x: torch.Tensor, y: torch.Tensor, degree: int = 3,
                      coef0: float = 1.0) -> torch.Tensor:
    """k(x, y) = (x.y / d + coef0) ** degree, the kernel of KID (Binkowski et al. 2018)."""
    return (x @ y.T / x.shape[1] + coef0) ** degree


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor, degree: int = 3) -> float:
    """The unbiased estimate of MMD^2 between samples ``x`` (m, d) and ``y`` (n, d) with the
    polynomial kernel: zero in expectation when both come from the same distribution (so a
    single estimate can be slightly negative)."""
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise ValueError(f"MMD needs at least 2 samples on each side, got {m} and {n}")
    kxx, kyy, kxy = (polynomial_kernel(a, b, degree) for a, b in ((x, x), (y, y), (x, y)))
    sxx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    syy = (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
    return float(sxx + syy - 2 * kxy.mean())


def kid(features_x, features_y, n_subsets: int = 50, subset_size: int = 500, degree: int = 3,
        seed: int = 0) -> tuple[float, float]:
    """Kernel inception distance between two sets of features (n, d): the mean and standard
    deviation of the unbiased MMD^2 over ``n_subsets`` random subsets of ``subset_size`` from each
    side (Binkowski et al. 2018, Sec. 4; their default subset size is 1000). Features come from a
    fixed network: Inception in the paper, here whatever classifier the chapter trusts."""
    x = torch.as_tensor(features_x, dtype=torch.float64).detach().cpu()
    y = torch.as_tensor(features_y, dtype=torch.float64).detach().cpu()
    if x.dim() != 2 or y.dim() != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"features must be (n, d) with the same d; got {tuple(x.shape)} and "
                         f"{tuple(y.shape)}")
    m = min(subset_size, len(x), len(y))
    if m < 2:
        raise ValueError(f"KID needs at least 2 samples per side, got {len(x)} and {len(y)}")
    g = torch.Generator().manual_seed(seed)
    vals = [mmd2_unbiased(x[torch.randperm(len(x), generator=g)[:m]],
                          y[torch.randperm(len(y), generator=g)[:m]], degree)
            for _ in range(n_subsets)]
    return float(np.mean(vals)), float(np.std(vals))


def attribute_agreement(probs, expected: dict[int, int], threshold: float = 0.5) -> float:
    """Fraction of rows of ``probs`` (n, k attribute probabilities) whose thresholded attributes
    equal ``expected`` ({column: 0 or 1}) in every listed column."""
    p = torch.as_tensor(probs, dtype=torch.float32)
    if p.dim() != 2 or len(p) == 0:
        raise ValueError(f"probs must be a non-empty (n, k) array, got shape {tuple(p.shape)}")
    bad = [c for c in expected if not 0 <= c < p.shape[1]]
    if bad or not all(v in (0, 1) for v in expected.values()):
        raise ValueError(f"expected must map columns 0..{p.shape[1] - 1} to 0/1, got {expected}")
    ok = torch.ones(len(p), dtype=torch.bool)
    for c, v in expected.items():
        ok &= (p[:, c] > threshold) == bool(v)
    return float(ok.float().mean())
