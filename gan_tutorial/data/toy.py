"""Toy distributions with known ground truth: 1-D Gaussians and mixtures, the ring of 8 and the
grid of 25 Gaussians (VEEGAN / PacGAN / Unrolled-GAN benchmarks), and the swiss roll.

Every sampler returns a float32 tensor on the requested device. Mixtures know their ``means``
and ``std``, which ``metrics.mode_coverage`` uses.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Mixture:
    """An equally weighted mixture of isotropic Gaussians in ``dim`` dimensions."""

    means: torch.Tensor  # (n_modes, dim)
    std: float
    name: str = "mixture"

    @property
    def n_modes(self) -> int:
        return self.means.shape[0]

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def sample(self, n: int, device: torch.device | str = "cpu",
               generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` samples (mode chosen uniformly, then Gaussian noise) on ``device``."""
        if n < 0:
            raise ValueError(f"number of samples must be non-negative, got {n}")
        idx = torch.randint(self.n_modes, (n,), generator=generator)
        noise = torch.randn(n, self.dim, generator=generator)
        return (self.means[idx] + self.std * noise).to(device)

    def sampler(self, batch_size: int, device: torch.device | str = "cpu"):
        """A ``sample_real()`` for ``train.train``, drawing on ``device`` directly."""
        means = self.means.to(device)
        dev = torch.device(device)

        def sample() -> torch.Tensor:
            idx = torch.randint(self.n_modes, (batch_size,), device=dev)
            return means[idx] + self.std * torch.randn(batch_size, self.dim, device=dev)

        return sample

    def density(self, x: np.ndarray) -> np.ndarray:
        """Probability density at points ``x`` of shape (..., dim) (NumPy)."""
        x = np.asarray(x, dtype=float)
        m = self.means.numpy().astype(float)
        d2 = ((x[..., None, :] - m) ** 2).sum(-1)
        norm = (2 * math.pi * self.std**2) ** (-self.dim / 2)
        return norm * np.exp(-d2 / (2 * self.std**2)).mean(-1)


def ring(n_modes: int = 8, radius: float = 2.0, std: float = 0.02) -> Mixture:
    """``n_modes`` Gaussians evenly spaced on a circle (VEEGAN: 8 modes, radius 2, std 0.02)."""
    angles = torch.arange(n_modes, dtype=torch.float64) * 2 * math.pi / n_modes
    means = radius * torch.stack([torch.cos(angles), torch.sin(angles)], 1)
    return Mixture(means.float(), std, f"ring of {n_modes}")


def grid(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> Mixture:
    """``side``² Gaussians on a square grid centred at 0 (VEEGAN: {-4,-2,0,2,4}², std 0.05)."""
    coords = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    gx, gy = torch.meshgrid(coords, coords, indexing="ij")
    return Mixture(torch.stack([gx.reshape(-1), gy.reshape(-1)], 1), std, f"grid of {side * side}")


def gaussian_1d(mean: float = 0.0, std: float = 1.0) -> Mixture:
    if std <= 0:
        raise ValueError(f"std must be positive, got {std}")
    return Mixture(torch.tensor([[float(mean)]]), float(std), f"N({mean}, {std}²)")


def mixture_1d(means=(-2.0, 2.0), std: float = 0.5) -> Mixture:
    """A 1-D mixture of equally weighted Gaussians with a common ``std``."""
    if std <= 0:
        raise ValueError(f"std must be positive, got {std}")
    return Mixture(torch.tensor([[float(m)] for m in means]), float(std), "1-D mixture")


def swiss_roll(n: int, noise: float = 0.25, device: torch.device | str = "cpu",
               generator: torch.Generator | None = None, scale: float = 7.5) -> torch.Tensor:
    """2-D swiss roll as in WGAN-GP's ``gan_toy.py`` (scikit-learn's roll, x/z plane, /``scale``)."""
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator))
    x = torch.stack([t * torch.cos(t), t * torch.sin(t)], 1)
    x = x + noise * torch.randn(n, 2, generator=generator)
    return (x / scale).float().to(device)
