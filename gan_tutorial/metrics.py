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
