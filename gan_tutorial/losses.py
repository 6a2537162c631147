"""GAN losses, all on logits (autocast-safe; no ``Sigmoid`` + ``BCELoss``).

Every discriminator loss has the signature ``loss_D(net_D, real, fake) -> scalar`` and every
generator loss ``loss_G(net_D, fake) -> scalar``, so ``train.train`` can take any of them, and
a loss that needs the critic itself (the gradient penalty) can call it.

With ``D(x) = sigmoid(l(x))``: ``log D = -softplus(-l)`` and ``log(1 - D) = -softplus(l)``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def d_loss_logits(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-[log D(x) + log(1 - D(G(z)))] averaged over the batch (D maximises V)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def minimax_g_logits(fake_logits: torch.Tensor) -> torch.Tensor:
    """G minimises log(1 - D(G(z))) (Goodfellow et al. 2014, Eq. 1): saturates when D wins."""
    return -F.softplus(fake_logits).mean()


def nonsaturating_g_logits(fake_logits: torch.Tensor) -> torch.Tensor:
    """G maximises log D(G(z)) instead (Goodfellow et al. 2014, Sec. 3): strong early gradients."""
    return F.softplus(-fake_logits).mean()


def discriminator_loss(net_D, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The standard discriminator loss of the minimax game, on logits."""
    return d_loss_logits(net_D(real), net_D(fake))


def minimax_generator_loss(net_D, fake: torch.Tensor) -> torch.Tensor:
    return minimax_g_logits(net_D(fake))


def nonsaturating_generator_loss(net_D, fake: torch.Tensor) -> torch.Tensor:
    return nonsaturating_g_logits(net_D(fake))
