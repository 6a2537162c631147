"""medGAN: Choi et al. 2017, "Generating Multi-label Discrete Patient Records using Generative
Adversarial Networks" (MLHC 2017), and the ablation of its Sec. 4.

- ``Autoencoder`` (Sec. 3.1): encoder ``Linear(d, 128) + tanh`` for binary data (ReLU for counts),
  decoder ``Linear(128, d) + sigmoid`` trained with binary cross-entropy; pretrained first
  (``pretrain_autoencoder``), then its decoder is fine-tuned as the last part of G.
- ``Generator`` (Sec. 3.2, 3.3): 128-d Gaussian noise through two 128-unit layers
  ``Linear -> BatchNorm -> ReLU`` with shortcut connections (``h = relu(bn(W h)) + h``) and a last
  ``Linear -> BatchNorm -> tanh`` (+ shortcut) to the 128-d code, decoded by the pretrained
  decoder. Batch-norm decay 0.99 (PyTorch momentum 0.01).
- ``Discriminator`` (Sec. 3.3): ``256 -> 128 -> 1`` with ReLU, returning a logit; with
  *minibatch averaging* each sample is concatenated with the mean of its minibatch (input 2d);
  the ablation's *minibatch discrimination* (Salimans et al. 2016) is the alternative.
- Training (reference code): k = 2 discriminator steps per generator step, Adam with learning
  rate 1e-3, L2 regularisation 0.001 on every weight (``weight_decay``), G and decoder updated
  together. ``sample`` handles batch norm as the reference's ``generateData`` does: a burn-in
  of forward passes in training mode at the final weights, then the frozen statistics.

``VARIANTS`` lists the ablation (GAN, GAN-P, GAN-PD, GAN-PA, medGAN) as constructor flags and
``build`` makes the pair of networks for one of them.
"""
from __future__ import annotations

import copy
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..train import recompute_batchnorm

NOISE_DIM = 128
EMBED_DIM = 128
L2 = 1e-3
LR = 1e-3


class Decoder(nn.Module):
    """128-d code -> d probabilities (binary: sigmoid) or non-negative values (counts: ReLU)."""

    def __init__(self, embed_dim: int, data_dim: int, binary: bool = True):
        super().__init__()
        self.binary = binary
        self.linear = nn.Linear(embed_dim, data_dim)          # (batch, d)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return self.linear(h)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        out = self.linear(h)
        return torch.sigmoid(out) if self.binary else F.relu(out)


class Autoencoder(nn.Module):
    """Encoder ``Linear(d, 128) + tanh`` (ReLU for counts) and a ``Decoder``; ``forward``
    returns the decoder's logits (binary) or values (counts)."""

    def __init__(self, data_dim: int, embed_dim: int = EMBED_DIM, binary: bool = True):
        super().__init__()
        self.binary = binary
        self.encoder = nn.Sequential(nn.Linear(data_dim, embed_dim),   # (batch, 128)
                                     nn.Tanh() if binary else nn.ReLU())
        self.decoder = Decoder(embed_dim, data_dim, binary)             # (batch, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(x)
        return self.decoder.logits(h) if self.binary else self.decoder(h)

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction loss: binary cross-entropy summed over codes, averaged over patients
        (mean squared error for counts)."""
        out = self(x)
        if self.binary:
            return F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(1).mean()
        return F.mse_loss(out, x)


def pretrain_autoencoder(ae: Autoencoder, data: torch.Tensor, epochs: int = 100,
                         batch_size: int = 100, lr: float = LR, weight_decay: float = L2,
                         valid: torch.Tensor | None = None, progress: bool = True,
                         generator: torch.Generator | None = None) -> dict[str, list[float]]:
    """Pretrain the autoencoder (a plain supervised loop, as the reference's first phase):
    ``epochs`` passes over ``data`` in shuffled minibatches, Adam with L2 ``weight_decay``.
    Returns the mean training (and validation) loss per epoch."""
    from tqdm.auto import tqdm

    if len(data) == 0:
        raise ValueError("pretrain_autoencoder: the data is empty")
    opt = torch.optim.Adam(ae.parameters(), lr=lr, weight_decay=weight_decay)
    history: dict[str, list[float]] = {"train": [], "valid": []}
    n = len(data)
    ae.train()
    for _ in tqdm(range(epochs), desc="autoencoder", disable=not progress, leave=False):
        perm = torch.randperm(n, generator=generator).to(data.device)
        total = torch.zeros((), device=data.device)
        for i in range(0, n, batch_size):
            x = data[perm[i:i + batch_size]]
            loss = ae.loss(x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * len(x)
        history["train"].append(float(total) / n)
        if valid is not None and len(valid):
            with torch.no_grad():
                ae.eval()
                history["valid"].append(float(ae.loss(valid)))
                ae.train()
    return history


class Generator(nn.Module):
    """z (noise_dim) -> hidden layers -> 128-d code -> ``decoder`` -> record (d).

    ``batch_norm``: Linear (no bias) -> BatchNorm -> activation in every layer; ``shortcut``:
    each layer adds its input (needs equal widths, as in medGAN's 128-128-128). With ``decoder``
    ``None`` (the plain GAN of the ablation) the last layer maps straight to the ``data_dim``
    outputs through a sigmoid.
    """

    def __init__(self, noise_dim: int = NOISE_DIM, hidden: tuple[int, ...] = (128, 128),
                 embed_dim: int = EMBED_DIM, decoder: nn.Module | None = None,
                 data_dim: int | None = None, batch_norm: bool = True, shortcut: bool = True,
                 binary: bool = True, bn_momentum: float = 0.01, bn_eps: float = 1e-3):
        super().__init__()
        if decoder is None and data_dim is None:
            raise ValueError("Generator needs a decoder or, without one, data_dim")
        widths = [noise_dim, *hidden]
        if shortcut and len(set(widths + ([embed_dim] if decoder is not None else []))) != 1:
            raise ValueError(f"shortcut connections need equal widths, got noise {noise_dim}, "
                             f"hidden {hidden}, code {embed_dim}")
        self.noise_dim, self.shortcut, self.binary = noise_dim, shortcut, binary
        self.blocks = nn.ModuleList()
        for a, b in zip(widths[:-1], widths[1:]):
            layers = [nn.Linear(a, b, bias=not batch_norm)]               # (batch, 128)
            if batch_norm:
                layers.append(nn.BatchNorm1d(b, eps=bn_eps, momentum=bn_momentum))
            layers.append(nn.ReLU())
            self.blocks.append(nn.Sequential(*layers))
        self.decoder = decoder
        if decoder is not None:
            last = [nn.Linear(widths[-1], embed_dim, bias=not batch_norm)]  # (batch, 128)
            if batch_norm:
                last.append(nn.BatchNorm1d(embed_dim, eps=bn_eps, momentum=bn_momentum))
            last.append(nn.Tanh() if binary else nn.ReLU())
            self.last = nn.Sequential(*last)
        else:
            self.last = nn.Linear(widths[-1], data_dim)                     # (batch, d) logits

    def code(self, z: torch.Tensor) -> torch.Tensor:
        h = z
        for block in self.blocks:
            h = block(h) + h if self.shortcut else block(h)
        if self.decoder is None:
            return self.last(h)
        return self.last(h) + h if self.shortcut else self.last(h)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.code(z)
        if self.decoder is None:
            return torch.sigmoid(h) if self.binary else F.relu(h)
        return self.decoder(h)                                              # (batch, d)


def pairwise_l1(m: torch.Tensor, broadcast: bool = False) -> torch.Tensor:
    """All L1 distances between the rows of each ``m[b]`` (B, n, C) -> (B, n, n).

    ``torch.cdist(p=1)`` is the faster one on a CPU, but on CUDA its backward pass is a slow
    special kernel (pytorch/pytorch#31599): at a batch of 1,000 medGAN's GAN-PD ran 2-8 steps/s
    on an H200 shared with nine other runs, and 97 steps/s alone once written out. ``broadcast=True``
    writes the differences out (B x n x n x C numbers) and lets autograd do plain elementwise
    work instead; the values are the same."""
    if broadcast:
        return (m[:, :, None, :] - m[:, None, :, :]).abs().sum(-1)
    return torch.cdist(m, m, p=1)


class MinibatchDiscrimination(nn.Module):
    """Salimans et al. 2016, Sec. 3.2: features ``f`` (n, A) -> ``M = f T`` (n, B, C);
    ``o_b(x_i) = sum_j exp(-||M_i,b - M_j,b||_1)`` (j != i) appended to ``f``: (n, A + B)."""

    def __init__(self, in_dim: int, kernels: int = 16, kernel_dim: int = 5):
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(in_dim, kernels * kernel_dim) * 0.05)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        m = (f @ self.T).view(-1, self.kernels, self.kernel_dim)           # (n, B, C)
        m = m.permute(1, 0, 2).contiguous()                                # (B, n, C)
        l1 = pairwise_l1(m, broadcast=m.is_cuda)                           # (B, n, n)
        o = (torch.exp(-l1).sum(2) - 1.0).T                                # (n, B), self excluded
        return torch.cat([f, o], 1)                                        # (n, A + B)


class Discriminator(nn.Module):
    """x (d) -> 256 -> 128 -> 1 logit, ReLU. ``minibatch``: ``"averaging"`` (medGAN: input
    ``[x, mean of the minibatch]``, 2d), ``"discrimination"`` (after the first layer) or ``None``.
    """

    def __init__(self, data_dim: int, hidden: tuple[int, ...] = (256, 128),
                 minibatch: str | None = "averaging", kernels: int = 16, kernel_dim: int = 5):
        super().__init__()
        if minibatch not in (None, "averaging", "discrimination"):
            raise ValueError(f"minibatch must be None, 'averaging' or 'discrimination', got {minibatch!r}")
        self.minibatch = minibatch
        d = 2 * data_dim if minibatch == "averaging" else data_dim
        self.first = nn.Sequential(nn.Linear(d, hidden[0]), nn.ReLU())        # (batch, 256)
        a = hidden[0]
        self.mbd = None
        if minibatch == "discrimination":
            self.mbd = MinibatchDiscrimination(a, kernels, kernel_dim)        # (batch, 256 + B)
            a += kernels
        layers: list[nn.Module] = []
        for b in hidden[1:]:
            layers += [nn.Linear(a, b), nn.ReLU()]                            # (batch, 128)
            a = b
        layers.append(nn.Linear(a, 1))                                       # (batch, 1)
        self.rest = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.minibatch == "averaging":
            x = torch.cat([x, x.mean(0, keepdim=True).expand_as(x)], 1)     # (batch, 2d)
        h = self.first(x)
        if self.mbd is not None:
            h = self.mbd(h)
        return self.rest(h).squeeze(1)                                        # (batch,) logits


#: The ablation of Choi et al. (Sec. 4): each adds one ingredient to the one before.
VARIANTS: dict[str, dict] = {
    "GAN": dict(pretrained=False, minibatch=None, batch_norm=False, shortcut=False),
    "GAN-P": dict(pretrained=True, minibatch=None, batch_norm=False, shortcut=False),
    "GAN-PD": dict(pretrained=True, minibatch="discrimination", batch_norm=False, shortcut=False),
    "GAN-PA": dict(pretrained=True, minibatch="averaging", batch_norm=False, shortcut=False),
    "medGAN": dict(pretrained=True, minibatch="averaging", batch_norm=True, shortcut=True),
}


def build(variant: str, data_dim: int, autoencoder: Autoencoder | None = None,
          noise_dim: int = NOISE_DIM, binary: bool = True) -> tuple[Generator, Discriminator]:
    """``(net_G, net_D)`` of one ablation variant. Variants with a pretrained autoencoder get a
    copy of ``autoencoder.decoder`` (fine-tuned with G; the autoencoder itself is not changed)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose from {list(VARIANTS)}")
    v = VARIANTS[variant]
    decoder = None
    if v["pretrained"]:
        if autoencoder is None:
            raise ValueError(f"{variant} needs the pretrained autoencoder")
        decoder = copy.deepcopy(autoencoder.decoder)
    net_G = Generator(noise_dim, decoder=decoder, data_dim=data_dim, batch_norm=v["batch_norm"],
                      shortcut=v["shortcut"], binary=binary)
    net_D = Discriminator(data_dim, minibatch=v["minibatch"])
    return net_G, net_D


def optimizers(net_G: nn.Module, net_D: nn.Module, lr: float = LR, weight_decay: float = L2):
    """Adam (lr 1e-3, the reference's default) with L2 0.001 as weight decay, for G and D."""
    return (torch.optim.Adam(net_G.parameters(), lr=lr, weight_decay=weight_decay),
            torch.optim.Adam(net_D.parameters(), lr=lr, weight_decay=weight_decay))


@torch.no_grad()
def sample(net_G: nn.Module, n: int, noise: Callable[[int], torch.Tensor] | None = None,
           batch_size: int = 1000, burn_in: int = 20, binarize: bool = True) -> torch.Tensor:
    """``n`` synthetic records from ``net_G`` (on its device).

    Batch norm as the reference's ``generateData``: first ``burn_in`` batches through G in
    training mode so the running statistics are those of the final weights (here an exact
    average: the statistics are reset and accumulated with ``momentum=None``), then sampling in
    eval mode with those statistics fixed (``train.recompute_batchnorm``). ``binarize`` rounds
    the probabilities at 0.5.
    """
    dev = next(net_G.parameters()).device
    if noise is None:
        noise_dim = getattr(net_G, "noise_dim", NOISE_DIM)
        noise = lambda m: torch.randn(m, noise_dim, device=dev)  # noqa: E731
    was = net_G.training
    recompute_batchnorm(net_G, noise, burn_in, batch_size)       # leaves G in eval mode
    try:
        out = torch.cat([net_G(noise(min(batch_size, n - i))) for i in range(0, n, batch_size)])
    finally:
        net_G.train(was)
    return (out > 0.5).float() if binarize else out
