"""Multilayer perceptrons for the toy chapters.

Goodfellow et al. (2014) used MLPs for G and D; the mixture benchmarks of Unrolled GAN,
VEEGAN and PacGAN use small fully connected networks too (a few layers of 128-400 units).
"""
from __future__ import annotations

from torch import nn


def mlp(in_dim: int, out_dim: int, hidden: int = 128, depth: int = 3,
        activation: type[nn.Module] = nn.ReLU, norm: type[nn.Module] | None = None,
        out_activation: nn.Module | None = None) -> nn.Sequential:
    """``depth`` hidden layers of ``hidden`` units: Linear -> [norm] -> activation, then a
    Linear to ``out_dim`` (and ``out_activation`` if given).

    A discriminator built with it returns logits (no sigmoid): the losses work on logits.
    """
    if depth < 0 or hidden < 1:
        raise ValueError(f"need depth >= 0 and hidden >= 1, got depth={depth}, hidden={hidden}")
    layers: list[nn.Module] = []
    d = in_dim
    for _ in range(depth):
        layers.append(nn.Linear(d, hidden))           # (batch, hidden)
        if norm is not None:
            layers.append(norm(hidden))
        layers.append(activation())
        d = hidden
    layers.append(nn.Linear(d, out_dim))              # (batch, out_dim)
    if out_activation is not None:
        layers.append(out_activation)
    return nn.Sequential(*layers)


def generator(latent_dim: int = 2, out_dim: int = 2, hidden: int = 128, depth: int = 3,
              **kw) -> nn.Sequential:
    """G: z in R^latent_dim -> x in R^out_dim."""
    return mlp(latent_dim, out_dim, hidden, depth, **kw)


def discriminator(in_dim: int = 2, hidden: int = 128, depth: int = 3, **kw) -> nn.Sequential:
    """D: x -> one logit (use ``torch.sigmoid`` for the probability D(x))."""
    return mlp(in_dim, 1, hidden, depth, **kw)
