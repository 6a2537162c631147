"""The measurable tricks of *How to Train a GAN* (Chintala et al., soumith/ganhacks, 2016) as
small composable pieces, and the lab that measures each one against a vanilla baseline.

Each piece plugs into ``train.train`` through the parameters it already has:

==========================  ==========  ===================================================
hack (ganhacks item)        switch      piece
==========================  ==========  ===================================================
1  inputs in [-1, 1], tanh  normalize   ``Scaler`` + ``build_generator(tanh=True)``
2  non-saturating loss      nonsat      ``losses.nonsaturating_generator_loss``
3  spherical z, slerp       spherical_z ``gaussian_noise`` (vs ``uniform_noise``), ``slerp``
4  real/fake BN batches     bn_separate ``bce_d_loss(batches="separate")`` with a BN critic
5  LeakyReLU, not ReLU      leaky_relu  ``build_generator/build_discriminator(leaky=True)``
6  soft and noisy labels    soft_labels ``Labels(real=(0.7, 1.2), fake=(0.0, 0.3))``
6  occasional label flips   flip_labels ``Labels(flip=0.05)``
9  SGD for D, Adam for G    sgd_d       ``make_optimizers(d_optimizer="sgd")``
13 decaying instance noise  inst_noise  ``InstanceNoise`` (wraps ``loss_D`` and ``loss_G``)
(Salimans/Shrivastava)      replay      ``ReplayBuffer`` (wraps ``loss_D``): past fakes
   experience replay
17 dropout in G             dropout_g   ``build_generator(dropout=0.5)``, on at test time too
==========================  ==========  ===================================================

The baseline has every switch off: data as it comes and a linear output, the minimax loss of
Goodfellow et al. (2014, Eq. 1), z ~ U[-1, 1]^d, ReLU, hard labels, Adam for both players,
no noise, no replay, no dropout, no batch norm. ``bn_mixed`` (a batch-norm critic fed one
mixed real+fake batch) is the control that ``bn_separate`` is compared with.

All discriminator losses here work on logits (``binary_cross_entropy_with_logits``).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import losses, metrics, train

# ---------------------------------------------------------------------------------------------
# Hack 1: inputs normalised to [-1, 1], tanh at the generator's output
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scaler:
    """Maps data to [-1, 1] by dividing by ``scale`` (and back). ``Scaler(1.0)`` is the identity."""

    scale: float = 1.0

    def __post_init__(self):
        if not self.scale > 0:
            raise ValueError(f"Scaler: scale must be positive, got {self.scale}")

    @classmethod
    def fit(cls, data: torch.Tensor, margin: float = 1.05) -> "Scaler":
        """The scale that puts ``data`` inside [-1/margin, 1/margin] (tanh's range, not its tails)."""
        m = float(data.abs().max())
        if not math.isfinite(m) or m == 0:
            raise ValueError(f"Scaler.fit: data must be finite and not all zero (max |x| = {m})")
        return cls(m * margin)

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        return x / self.scale

    def from_unit(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


# ---------------------------------------------------------------------------------------------
# Hacks 1, 5, 17: the networks (tanh output, LeakyReLU, dropout in G that stays on at test time)
# ---------------------------------------------------------------------------------------------


class AlwaysDropout(nn.Module):
    """Dropout that stays on in eval mode too (ganhacks 17, as pix2pix's G uses it: the dropout is
    the generator's noise, so it is part of sampling, not only of training)."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.p, training=True)

    def extra_repr(self) -> str:
        return f"p={self.p}, also in eval mode"


def _activation(leaky: bool) -> nn.Module:
    return nn.LeakyReLU(0.2) if leaky else nn.ReLU()


def build_generator(latent_dim: int, out_dim: int = 2, hidden: int = 128, depth: int = 3, *,
                    leaky: bool = False, tanh: bool = False, dropout: float = 0.0) -> nn.Sequential:
    """MLP generator: ``depth`` x [Linear -> ReLU/LeakyReLU(0.2) -> (AlwaysDropout)] -> Linear
    (-> tanh). Same layer list as ``nets.mlp.generator`` with the three switches of the lab."""
    layers: list[nn.Module] = []
    d = latent_dim
    for _ in range(depth):
        layers += [nn.Linear(d, hidden), _activation(leaky)]     # (batch, hidden)
        if dropout > 0:
            layers.append(AlwaysDropout(dropout))
        d = hidden
    layers.append(nn.Linear(d, out_dim))                          # (batch, out_dim)
    if tanh:
        layers.append(nn.Tanh())                                  # in [-1, 1]
    return nn.Sequential(*layers)


def build_discriminator(in_dim: int = 2, hidden: int = 128, depth: int = 3, *,
                        leaky: bool = False, batch_norm: bool = False) -> nn.Sequential:
    """MLP discriminator returning one logit: ``depth`` x [Linear -> (BatchNorm1d) ->
    ReLU/LeakyReLU(0.2)] -> Linear."""
    layers: list[nn.Module] = []
    d = in_dim
    for _ in range(depth):
        layers.append(nn.Linear(d, hidden))                       # (batch, hidden)
        if batch_norm:
            layers.append(nn.BatchNorm1d(hidden))
        layers.append(_activation(leaky))
        d = hidden
    layers.append(nn.Linear(d, 1))                                # (batch, 1): a logit
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------------------------
# Hack 3: the latent prior and interpolation along great circles
# ---------------------------------------------------------------------------------------------


def uniform_noise(latent_dim: int, device=None, generator: torch.Generator | None = None
                  ) -> Callable[[int], torch.Tensor]:
    """``sample_noise(n)``: z ~ U[-1, 1]^d, the cube (the baseline's prior, as in DCGAN).
    With a CPU ``generator``, the draws come from it (a stream of their own, the same on every
    device) and are then moved to ``device``; without one, from the global generator."""
    if generator is not None and generator.device.type != "cpu":
        raise ValueError(f"uniform_noise: generator must be a CPU torch.Generator, got one on "
                         f"{generator.device}")
    def sample(n: int) -> torch.Tensor:
        z = torch.rand(n, latent_dim, generator=generator, device="cpu" if generator else device)
        return (z * 2 - 1).to(device)
    return sample


def gaussian_noise(latent_dim: int, device=None) -> Callable[[int], torch.Tensor]:
    """``sample_noise(n)``: z ~ N(0, I), a spherically symmetric prior (ganhacks 3). In d
    dimensions its mass lies in a thin shell of radius about sqrt(d)."""
    def sample(n: int) -> torch.Tensor:
        return torch.randn(n, latent_dim, device=device)
    return sample


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Straight line from ``z0`` to ``z1``; ``t`` broadcasts against the last axis."""
    t = torch.as_tensor(t, dtype=z0.dtype, device=z0.device)
    if t.dim() == 1:
        t = t[:, None]
    return (1 - t) * z0 + t * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor | float, eps: float = 1e-7) -> torch.Tensor:
    """Spherical linear interpolation (Shoemake 1985; White 2016, *Sampling Generative
    Networks*): along the great circle between the directions of ``z0`` and ``z1``,

    slerp(z0, z1; t) = sin((1-t)θ)/sin θ · z0 + sin(tθ)/sin θ · z1,  cos θ = <z0, z1>/(|z0||z1|).

    Unlike ``lerp``, the midpoint of two typical Gaussian points keeps a typical norm. Falls back
    to ``lerp`` when the two directions (nearly) coincide.
    """
    if z0.shape != z1.shape:
        raise ValueError(f"slerp: z0 and z1 must have the same shape, got {tuple(z0.shape)} "
                         f"and {tuple(z1.shape)}")
    t = torch.as_tensor(t, dtype=z0.dtype, device=z0.device)
    if t.dim() == 1:
        t = t[:, None]
    n0 = z0.norm(dim=-1, keepdim=True)
    n1 = z1.norm(dim=-1, keepdim=True)
    cos = ((z0 * z1).sum(-1, keepdim=True) / (n0 * n1).clamp_min(eps)).clamp(-1, 1)
    theta = torch.acos(cos)
    sin = torch.sin(theta)
    small = sin.abs() < 1e-4
    safe = torch.where(small, torch.ones_like(sin), sin)
    out = (torch.sin((1 - t) * theta) * z0 + torch.sin(t * theta) * z1) / safe
    return torch.where(small, lerp(z0, z1, t), out)


# ---------------------------------------------------------------------------------------------
# Hacks 4, 6: the discriminator loss with soft, noisy and flipped labels, real/fake batches
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Labels:
    """Targets of the discriminator. Each of ``real``/``fake`` is a range (lo, hi) from which
    every sample's target is drawn uniformly; ``(1, 1)``/``(0, 0)`` are the hard labels.
    ``flip`` is the probability that a sample gets the other side's target (ganhacks 6:
    "occasionally flip the labels when training the discriminator")."""

    real: tuple[float, float] = (1.0, 1.0)
    fake: tuple[float, float] = (0.0, 0.0)
    flip: float = 0.0

    def __post_init__(self):
        for name in ("real", "fake"):
            lo, hi = getattr(self, name)
            if not lo <= hi:
                raise ValueError(f"Labels.{name}: need lo <= hi, got ({lo}, {hi})")
        if not 0 <= self.flip < 0.5:
            raise ValueError(f"Labels.flip must be in [0, 0.5), got {self.flip}")

    @property
    def hard(self) -> bool:
        return self.real == (1.0, 1.0) and self.fake == (0.0, 0.0) and self.flip == 0

    def draw(self, n_real: int, n_fake: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Targets for a batch of ``n_real`` real and ``n_fake`` fake samples, shape (n, 1)."""
        def side(rng, n):
            lo, hi = rng
            return lo + (hi - lo) * torch.rand(n, 1, device=device) if hi > lo else \
                torch.full((n, 1), float(lo), device=device)
        t_real, t_fake = side(self.real, n_real), side(self.fake, n_fake)
        if self.flip > 0:
            swap_r = torch.rand(n_real, 1, device=device) < self.flip
            swap_f = torch.rand(n_fake, 1, device=device) < self.flip
            t_real = torch.where(swap_r, side(self.fake, n_real), t_real)
            t_fake = torch.where(swap_f, side(self.real, n_fake), t_fake)
        return t_real, t_fake


SOFT_NOISY = Labels(real=(0.7, 1.2), fake=(0.0, 0.3))   # ganhacks 6 (after Salimans et al. 2016)
FLIPPED = Labels(flip=0.05)


def bce_d_loss(labels: Labels = Labels(), batches: str = "separate"):
    """A ``loss_D(net_D, real, fake)``: binary cross-entropy on logits against ``labels``,

    L_D = mean_i BCE(l(x_i), t_i) over real samples + mean_j BCE(l(G(z_j)), t_j) over fakes,

    which with hard labels is ``losses.discriminator_loss``. ``batches="separate"`` feeds the
    real and the fake samples to D in two forward passes (ganhacks 4: with batch norm, each
    batch is all real or all fake); ``"mixed"`` feeds one concatenated batch, so batch norm's
    statistics mix the two (the control).
    """
    if batches not in ("separate", "mixed"):
        raise ValueError(f"bce_d_loss: batches must be 'separate' or 'mixed', got {batches!r}")

    def loss_D(net_D, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        if batches == "separate":
            l_real, l_fake = net_D(real), net_D(fake)
        else:
            logits = net_D(torch.cat([real, fake]))
            l_real, l_fake = logits[: len(real)], logits[len(real):]
        if labels.hard:
            return losses.d_loss_logits(l_real, l_fake)
        t_real, t_fake = labels.draw(len(real), len(fake), device=real.device)
        # one target per sample, shaped like the logits: (n, 1) from an MLP, (n,) from a DCGAN D
        t_real, t_fake = t_real.reshape(l_real.shape), t_fake.reshape(l_fake.shape)
        return (F.binary_cross_entropy_with_logits(l_real, t_real.to(l_real.dtype))
                + F.binary_cross_entropy_with_logits(l_fake, t_fake.to(l_fake.dtype)))

    loss_D.labels, loss_D.batches = labels, batches
    return loss_D


# ---------------------------------------------------------------------------------------------
# Hack 13: instance noise that decays (Sønderby et al. 2016; Arjovsky & Bottou 2017)
# ---------------------------------------------------------------------------------------------


class InstanceNoise:
    """Gaussian noise added to every sample D sees, real and fake, in both players' losses:
    D compares p_data * N(0, σ²) with p_G * N(0, σ²), whose supports overlap, so its gradient
    is informative even when the two distributions do not overlap. σ decays from ``sigma0`` to 0
    (linearly, or ``schedule="exp"``: halving every ``num_steps/6``) over ``num_steps``
    generator steps.

    The step counter advances once per generator step, when the wrapped ``loss_G`` is called
    (``train.train`` calls it exactly once per step), so wrap both losses with the same object.
    """

    def __init__(self, sigma0: float, num_steps: int, schedule: str = "linear"):
        if sigma0 < 0:
            raise ValueError(f"InstanceNoise: sigma0 must be >= 0, got {sigma0}")
        if num_steps < 1:
            raise ValueError(f"InstanceNoise: num_steps must be >= 1, got {num_steps}")
        if schedule not in ("linear", "exp"):
            raise ValueError(f"InstanceNoise: schedule must be 'linear' or 'exp', got {schedule!r}")
        self.sigma0, self.num_steps, self.schedule = float(sigma0), int(num_steps), schedule
        self.step = 0

    def sigma(self, step: int | None = None) -> float:
        s = self.step if step is None else step
        frac = min(max(s / self.num_steps, 0.0), 1.0)
        if self.schedule == "linear":
            return self.sigma0 * (1 - frac)
        return 0.0 if frac >= 1 else self.sigma0 * 0.5 ** (6 * frac)

    def add(self, x: torch.Tensor) -> torch.Tensor:
        s = self.sigma()
        return x if s == 0 else x + s * torch.randn_like(x)

    def wrap_D(self, loss_D):
        def noisy_loss_D(net_D, real, fake):
            return loss_D(net_D, self.add(real), self.add(fake))
        return noisy_loss_D

    def wrap_G(self, loss_G):
        def noisy_loss_G(net_D, fake):
            out = loss_G(net_D, self.add(fake))
            self.step += 1
            return out
        return noisy_loss_G


# ---------------------------------------------------------------------------------------------
# Experience replay (ganhacks 13's neighbour; Shrivastava et al. 2017, Sec. 2.3)
# ---------------------------------------------------------------------------------------------


class ReplayBuffer:
    """A pool of past fake samples. The wrapped ``loss_D`` replaces a ``fraction`` of each fake
    batch with samples drawn from the pool, then stores the current fakes (reservoir-style
    random overwrite once full), so D keeps being reminded of where G used to put mass and G
    cannot simply hop back to a mode D has forgotten."""

    def __init__(self, capacity: int = 10_000, fraction: float = 0.5):
        if capacity < 1:
            raise ValueError(f"ReplayBuffer: capacity must be >= 1, got {capacity}")
        if not 0 < fraction <= 1:
            raise ValueError(f"ReplayBuffer: fraction must be in (0, 1], got {fraction}")
        self.capacity, self.fraction = int(capacity), float(fraction)
        self.data: torch.Tensor | None = None
        self.size = 0

    def __len__(self) -> int:
        return self.size

    @torch.no_grad()
    def push(self, x: torch.Tensor) -> None:
        x = x.detach()
        if self.data is None:
            self.data = torch.empty((self.capacity, *x.shape[1:]), dtype=x.dtype, device=x.device)
        n = min(len(x), self.capacity)
        x = x[:n]
        free = self.capacity - self.size
        if free > 0:
            k = min(free, n)
            self.data[self.size:self.size + k] = x[:k]
            self.size += k
            x = x[k:]
        if len(x):
            idx = torch.randint(self.capacity, (len(x),), device=x.device)
            self.data[idx] = x

    def sample(self, n: int) -> torch.Tensor:
        if self.size == 0:
            raise ValueError("ReplayBuffer.sample: the buffer is empty")
        idx = torch.randint(self.size, (n,), device=self.data.device)
        return self.data[idx]

    def wrap(self, loss_D):
        def replay_loss_D(net_D, real, fake):
            m = int(round(self.fraction * len(fake))) if self.size else 0
            mixed = torch.cat([fake[m:], self.sample(m)]) if m else fake
            out = loss_D(net_D, real, mixed)
            self.push(fake)
            return out
        return replay_loss_D


# ---------------------------------------------------------------------------------------------
# Feature matching (Salimans et al. 2016, Sec. 3.1; ``losses.feature_matching_gap``) in G's loss
# ---------------------------------------------------------------------------------------------


class FeatureMatching:
    """Adds ``weight`` times the mean squared difference between the batch means of D's last
    hidden features on G's batch and on the latest real batch to G's loss. Salimans et al.
    (2016) trained G on this statistic alone; here it is added to G's own loss, so G is asked
    to fool D *and* to match the average of what D looks at in real images (the share of each
    attribute among them, for one).

    D must have a ``features(x)`` method (``nets.dcgan.Discriminator`` has one). The wrapped
    ``loss_D`` records the real batch's feature mean (without gradient, with D as it is before
    its update); the wrapped ``loss_G`` uses the latest record, so wrap both losses with the
    same object. ``train.train`` calls ``loss_D`` before ``loss_G`` in every step.
    """

    def __init__(self, weight: float):
        if not weight >= 0:
            raise ValueError(f"FeatureMatching: weight must be >= 0, got {weight}")
        self.weight = float(weight)
        self.real_mean: torch.Tensor | None = None

    def wrap_D(self, loss_D):
        def recording_loss_D(net_D, real, fake):
            if not hasattr(net_D, "features"):
                raise TypeError(f"FeatureMatching needs a discriminator with a features(x) method; "
                                f"{type(net_D).__name__} has none")
            with torch.no_grad():
                self.real_mean = net_D.features(real).float().flatten(1).mean(0)
            return loss_D(net_D, real, fake)
        return recording_loss_D

    def wrap_G(self, loss_G):
        def matching_loss_G(net_D, fake):
            if self.real_mean is None:
                raise RuntimeError("FeatureMatching: loss_G was called before the wrapped loss_D "
                                   "recorded a real batch")
            gap = losses.feature_matching_gap(net_D.features(fake), self.real_mean)
            return loss_G(net_D, fake) + self.weight * gap
        return matching_loss_G


# ---------------------------------------------------------------------------------------------
# Hack 9: SGD for the discriminator, Adam for the generator
# ---------------------------------------------------------------------------------------------


def make_optimizers(net_G: nn.Module, net_D: nn.Module, lr_G: float, lr_D: float,
                    betas=(0.5, 0.999), d_optimizer: str = "adam", sgd_lr: float = 0.05,
                    momentum: float = 0.0):
    """(opt_G, opt_D): Adam for G; Adam for D, or with ``d_optimizer="sgd"`` plain SGD for D
    (ganhacks 9) at its own learning rate ``sgd_lr`` (SGD's step is not scale-free as Adam's).
    The learning rates in use must be positive (a zero rate would silently freeze a player)."""
    rates = {"G (lr_G)": lr_G, **({"D (sgd_lr)": sgd_lr} if d_optimizer == "sgd" else {"D (lr_D)": lr_D})}
    for who, value in rates.items():
        if not value > 0:
            raise ValueError(f"make_optimizers: the learning rate of {who} must be positive, got {value}")
    opt_G = torch.optim.Adam(net_G.parameters(), lr=lr_G, betas=betas)
    if d_optimizer == "adam":
        opt_D = torch.optim.Adam(net_D.parameters(), lr=lr_D, betas=betas)
    elif d_optimizer == "sgd":
        opt_D = torch.optim.SGD(net_D.parameters(), lr=sgd_lr, momentum=momentum)
    else:
        raise ValueError(f"make_optimizers: d_optimizer must be 'adam' or 'sgd', got {d_optimizer!r}")
    return opt_G, opt_D


# ---------------------------------------------------------------------------------------------
# The lab: one configuration = the baseline plus some switches
# ---------------------------------------------------------------------------------------------

HACKS: dict[str, str] = {
    "normalize": "inputs scaled to [-1, 1], tanh output (ganhacks 1)",
    "nonsat": "non-saturating loss max log D(G(z)) (ganhacks 2)",
    "spherical_z": "Gaussian (spherical) z instead of uniform; slerp (ganhacks 3)",
    "bn_separate": "batch-norm D, all-real / all-fake batches (ganhacks 4)",
    "leaky_relu": "LeakyReLU(0.2) in G and D instead of ReLU (ganhacks 5)",
    "soft_labels": "soft, noisy labels: real 0.7-1.2, fake 0-0.3 (ganhacks 6)",
    "flip_labels": "5 % of D's labels flipped (ganhacks 6)",
    "sgd_d": "SGD for D, Adam for G (ganhacks 9)",
    "inst_noise": "instance noise, sigma decaying to 0 (ganhacks 13)",
    "replay": "experience replay: half of D's fakes from past G (Shrivastava 2017)",
    "dropout_g": "dropout 0.5 in G, at train and test time (ganhacks 17)",
}
CONTROLS: dict[str, str] = {
    "bn_mixed": "control for bn_separate: batch-norm D, one mixed real+fake batch",
}


@dataclass
class LabConfig:
    """Everything one run of the lab needs. The switches default to the baseline (all off)."""

    # the hacks
    normalize: bool = False
    nonsat: bool = False
    spherical_z: bool = False
    bn_separate: bool = False
    bn_mixed: bool = False
    leaky_relu: bool = False
    soft_labels: bool = False
    flip_labels: bool = False
    sgd_d: bool = False
    inst_noise: bool = False
    replay: bool = False
    dropout_g: bool = False
    # the problem and its training
    num_steps: int = 2000
    batch_size: int = 256
    latent_dim: int = 16
    hidden: int = 128
    depth: int = 3
    lr: float = 1e-3
    lr_end: float = 1.0                 # learning rates decay linearly to lr_end x their start
    betas: tuple[float, float] = (0.5, 0.999)
    sgd_lr: float = 0.05
    noise_sigma0: float = 0.5           # in data units; divided by the scale when normalized
    replay_capacity: int = 10_000
    replay_fraction: float = 0.5
    dropout: float = 0.5
    flip_p: float = 0.05
    eval_samples: int = metrics.N_SAMPLES

    def __post_init__(self):
        if self.bn_separate and self.bn_mixed:
            raise ValueError("LabConfig: bn_separate and bn_mixed exclude each other")

    def switched_on(self) -> list[str]:
        return [n for n in (*HACKS, *CONTROLS) if getattr(self, n)]

    def with_switches(self, names: Iterable[str]) -> "LabConfig":
        names = list(names)
        bad = [n for n in names if n not in HACKS and n not in CONTROLS]
        if bad:
            raise ValueError(f"unknown hack(s) {bad}; known: {sorted([*HACKS, *CONTROLS])}")
        return replace(self, **{n: True for n in names})


def parse_hacks(value, allowed: Sequence[str] | None = None) -> list[str]:
    """A list of hack names from a parameter: ``None``/``"all"`` (every hack and control),
    ``"baseline"``/``"none"``/``""`` (no hack: the baseline alone), a comma-separated string,
    or a list. Unknown names raise a ``ValueError`` that lists the known ones."""
    allowed = list(allowed or [*HACKS, *CONTROLS])
    if value is None or (isinstance(value, str) and value.strip().lower() == "all"):
        return list(allowed)
    if isinstance(value, str):
        low = value.strip().lower()
        value = [] if low in ("baseline", "none", "") else [v.strip() for v in value.split(",")]
    names = [v for v in value if v]
    bad = [n for n in names if n not in allowed]
    if bad:
        raise ValueError(f"unknown hack(s) {bad}; known: {', '.join(allowed)}")
    return names


@dataclass
class Case:
    """A built run: networks, optimisers, losses and samplers ready for ``train.train``."""

    config: LabConfig
    net_G: nn.Module
    net_D: nn.Module
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    loss_D: Callable
    loss_G: Callable
    sample_real: Callable[[], torch.Tensor]
    sample_noise: Callable[[int], torch.Tensor]
    scaler: Scaler
    noise: InstanceNoise | None = None
    replay: ReplayBuffer | None = None

    @torch.no_grad()
    def samples(self, n: int) -> torch.Tensor:
        """``n`` samples in data units, drawn with G in eval mode."""
        was = self.net_G.training
        self.net_G.eval()
        try:
            return self.scaler.from_unit(self.net_G(self.sample_noise(n)).float()).cpu()
        finally:
            self.net_G.train(was)


def build_case(cfg: LabConfig, mixture, device) -> Case:
    """Assemble the networks, optimisers, losses and samplers of one configuration."""
    # the scale comes from a fixed sample (its own generator), so the global random stream,
    # and with it the networks' initialisation, is the same with and without this switch
    scaler = (Scaler.fit(mixture.sample(10_000, generator=torch.Generator().manual_seed(0)))
              if cfg.normalize else Scaler(1.0))
    real_sampler = mixture.sampler(cfg.batch_size, device)
    sample_real = (lambda: scaler.to_unit(real_sampler())) if cfg.normalize else real_sampler
    sample_noise = (gaussian_noise if cfg.spherical_z else uniform_noise)(cfg.latent_dim, device)
    net_G = build_generator(cfg.latent_dim, mixture.dim, cfg.hidden, cfg.depth, leaky=cfg.leaky_relu,
                            tanh=cfg.normalize, dropout=cfg.dropout if cfg.dropout_g else 0.0).to(device)
    net_D = build_discriminator(mixture.dim, cfg.hidden, cfg.depth, leaky=cfg.leaky_relu,
                                batch_norm=cfg.bn_separate or cfg.bn_mixed).to(device)
    opt_G, opt_D = make_optimizers(net_G, net_D, cfg.lr, cfg.lr, cfg.betas,
                                   "sgd" if cfg.sgd_d else "adam", cfg.sgd_lr)
    labels = Labels(real=SOFT_NOISY.real if cfg.soft_labels else (1.0, 1.0),
                    fake=SOFT_NOISY.fake if cfg.soft_labels else (0.0, 0.0),
                    flip=cfg.flip_p if cfg.flip_labels else 0.0)
    loss_D = bce_d_loss(labels, "mixed" if cfg.bn_mixed else "separate")
    loss_G = losses.nonsaturating_generator_loss if cfg.nonsat else losses.minimax_generator_loss
    noise = replay = None
    if cfg.inst_noise:
        noise = InstanceNoise(cfg.noise_sigma0 / scaler.scale, cfg.num_steps)
        loss_D, loss_G = noise.wrap_D(loss_D), noise.wrap_G(loss_G)
    if cfg.replay:  # outermost: the pool keeps G's clean samples, noise is added when D sees them
        replay = ReplayBuffer(cfg.replay_capacity, cfg.replay_fraction)
        loss_D = replay.wrap(loss_D)
    return Case(cfg, net_G, net_D, opt_G, opt_D, loss_D, loss_G, sample_real, sample_noise,
                scaler, noise, replay)


def run_case(cfg: LabConfig, mixture, device, seed: int, progress: bool = False,
             desc: str = "training") -> dict:
    """Seed, build, train through ``train.train``, and score with ``metrics.mode_coverage``.

    Returns ``{"modes", "hq_fraction", "kl_uniform", "seconds", "diverged", "samples", "history",
    "case"}`` (``case`` holds the trained networks);
    a run whose loss becomes NaN/Inf is scored on what G produces at that point and marked
    ``diverged``.
    """
    from .runtime import seed_everything

    seed_everything(seed)
    case = build_case(cfg, mixture, device)
    t0 = time.perf_counter()
    diverged = False
    history = None
    decay = train.linear_decay((case.opt_G, case.opt_D), max(1, cfg.num_steps), cfg.lr_end)
    try:
        history = train.train(case.net_G, case.net_D, case.opt_G, case.opt_D, case.sample_real,
                              case.sample_noise, cfg.num_steps, loss_D=case.loss_D,
                              loss_G=case.loss_G, schedulers=decay,
                              log_every=max(1, cfg.num_steps // 20), progress=progress, desc=desc)
    except train.TrainingDiverged:
        diverged = True
    seconds = time.perf_counter() - t0
    x = case.samples(cfg.eval_samples)
    cov = metrics.mode_coverage(x, mixture.means, mixture.std)
    return {"modes": cov.modes, "hq_fraction": cov.hq_fraction, "kl_uniform": cov.kl_uniform,
            "seconds": seconds, "diverged": diverged, "samples": x, "history": history,
            "case": case}


# ---------------------------------------------------------------------------------------------
# Did it help? Compare a hack's seeds with the baseline's
# ---------------------------------------------------------------------------------------------

MIN_EFFECT = {"modes": 1.0, "hq_fraction": 0.02}


def effect(base: Sequence[float], hack: Sequence[float], min_effect: float) -> int:
    """+1 / -1 when the hack's mean is higher / lower than the baseline's by more than two
    standard errors of the difference (sample std over seeds) and by at least ``min_effect``;
    0 otherwise (the seeds cannot tell them apart)."""
    a, b = np.asarray(base, float), np.asarray(hack, float)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("effect: need at least 2 seeds on each side to judge an effect")
    diff = b.mean() - a.mean()
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    if abs(diff) < min_effect or abs(diff) <= 2 * se:
        return 0
    return 1 if diff > 0 else -1


def verdict(base: Mapping[str, Sequence[float]], hack: Mapping[str, Sequence[float]]) -> str:
    """'helped', 'hurt', 'mixed' or 'no clear effect', from the effects on modes and on the
    high-quality fraction ('n/a (one seed)' when either side has a single seed)."""
    if min(len(base["modes"]), len(hack["modes"])) < 2:
        return "n/a (one seed)"
    e = [effect(base[k], hack[k], MIN_EFFECT[k]) for k in MIN_EFFECT]
    if 1 in e and -1 in e:
        return "mixed"
    if 1 in e:
        return "helped"
    if -1 in e:
        return "hurt"
    return "no clear effect"


def summary_rows(results: Mapping[str, Mapping[str, Sequence[float]]],
                 baseline: str = "baseline") -> list[dict]:
    """One row per configuration: mean and std (over seeds) of modes and high-quality
    fraction, and the verdict against ``baseline``."""
    if baseline not in results:
        raise KeyError(f"summary_rows: no {baseline!r} among {sorted(results)}")
    rows = []
    for name, r in results.items():
        m_mean, m_std = metrics.mean_std(r["modes"])
        q_mean, q_std = metrics.mean_std(r["hq_fraction"])
        rows.append({"hack": name, "modes_mean": m_mean, "modes_std": m_std,
                     "hq_mean": q_mean, "hq_std": q_std, "seeds": len(r["modes"]),
                     "verdict": "—" if name == baseline else verdict(results[baseline], r)})
    return rows
