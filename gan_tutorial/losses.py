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


def feature_matching_gap(fake_features: torch.Tensor, real_mean: torch.Tensor) -> torch.Tensor:
    """Feature matching (Salimans et al. 2016, Sec. 3.1): the mean squared difference between the
    batch mean of D's features on G's images, (n, ...), and ``real_mean``, the same mean on a real
    batch, flattened. ``hacks.FeatureMatching`` adds it to G's loss."""
    fake = fake_features.float().flatten(1)
    if real_mean.shape != (fake.shape[1],):   # another shape would broadcast silently or fail late
        raise ValueError(f"feature_matching_gap: real_mean must be a vector of the {fake.shape[1]} "
                         f"features per image of fake_features {tuple(fake_features.shape)}; got "
                         f"shape {tuple(real_mean.shape)}")
    return (fake.mean(0) - real_mean).pow(2).mean()


# --- Wasserstein losses and the gradient penalty (WGAN: Arjovsky et al. 2017; WGAN-GP:
# Gulrajani et al. 2017). The critic returns an unbounded score, no logits, no logarithms.

def wasserstein_critic_loss(net_D, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """WGAN critic loss ``E[D(fake)] - E[D(real)]``: minimising it maximises the dual estimate
    ``E[D(real)] - E[D(fake)]`` of W1 (Arjovsky et al. 2017, Algorithm 1)."""
    return net_D(fake).mean() - net_D(real).mean()


def wasserstein_generator_loss(net_D, fake: torch.Tensor) -> torch.Tensor:
    """WGAN generator loss ``-E[D(G(z))]``. (``train.train`` holds the critic fixed in the
    generator step with ``train.frozen``, so no critic weight gradients are computed there.)"""
    return -net_D(fake).mean()


def gradient_penalty(net_D, real: torch.Tensor, fake: torch.Tensor, *, center: float = 1.0,
                     alpha: torch.Tensor | None = None) -> torch.Tensor:
    """WGAN-GP's penalty ``E[(||grad_x D(x_hat)||_2 - center)^2]`` (Gulrajani et al. 2017, Eq. 3).

    ``x_hat = alpha * real + (1 - alpha) * fake`` with one ``alpha ~ U[0, 1]`` per sample
    (drawn on the device unless given, shape ``(batch,)``); the gradient norm is taken per
    sample over all non-batch dimensions; ``create_graph=True`` so the penalty itself can be
    differentiated with respect to the critic's parameters. Not multiplied by lambda.
    """
    if real.shape != fake.shape:
        raise ValueError(f"gradient_penalty: real {tuple(real.shape)} and fake "
                         f"{tuple(fake.shape)} must have the same shape")
    n = real.shape[0]
    if alpha is None:
        alpha = torch.rand(n, device=real.device, dtype=real.dtype)
    alpha = torch.as_tensor(alpha, device=real.device, dtype=real.dtype)
    if alpha.shape != (n,):
        raise ValueError(f"gradient_penalty: alpha must have shape ({n},), got {tuple(alpha.shape)}")
    alpha = alpha.view(n, *([1] * (real.dim() - 1)))
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    out = net_D(x_hat)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    norms = grad.reshape(n, -1).norm(2, dim=1)
    return ((norms - center) ** 2).mean()


def wgan_gp_critic_loss(lam: float = 10.0, center: float = 1.0):
    """A ``loss_D(net_D, real, fake)`` for ``train.train``: the Wasserstein critic loss plus
    ``lam`` times the gradient penalty (WGAN-GP's default lambda = 10).

    Real, fake and interpolated samples go through the critic in three passes: scoring all
    three in one pass of the concatenated batch was measured slower on a CPU (the penalty's
    double backward then runs over the whole concatenated batch).
    """
    lam = float(lam)
    if lam < 0:
        raise ValueError(f"gradient-penalty weight lambda must be >= 0, got {lam}")

    def loss_D(net_D, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        loss = wasserstein_critic_loss(net_D, real, fake)
        if lam == 0:
            return loss
        return loss + lam * gradient_penalty(net_D, real, fake, center=center)

    loss_D.lam = lam
    return loss_D
