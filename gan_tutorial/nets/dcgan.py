"""DCGAN: deep convolutional generator and discriminator (Radford, Metz & Chintala 2016).

The architecture guidelines of the paper (Sec. 3):

* no pooling: strided convolutions in D, fractionally strided (transposed) convolutions in G;
* batch normalisation in both networks, except at G's output layer and D's input layer;
* no fully connected hidden layers (z enters as a 1x1 "image" with ``latent_dim`` channels);
* ReLU in G, with tanh at its output; LeakyReLU (slope 0.2) in D.

Training details (Sec. 4): weights from N(0, 0.02), Adam with learning rate 2e-4 and
beta1 = 0.5, minibatches of 128, z drawn uniformly from [-1, 1]^100. D here returns logits
(one per image); the losses in ``losses.py`` apply the sigmoid inside a stable softplus.

Both networks are built for a square ``image_size`` that is a power of two >= 8: 32x32 (the
``cpu`` preset) has three up/down-sampling blocks, 64x64 (the paper, ``gpu`` preset) four.
The latent-space tools of Sec. 6 (the uniform prior, ``lerp``, ``slerp``) live in
``gan_tutorial.hacks`` (``uniform_noise``, ``lerp``, ``slerp``).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..hacks import make_optimizers

__all__ = ["Generator", "Discriminator", "MinibatchStd", "init_weights", "dcgan_optimizers",
           "UPSAMPLING"]


def _blocks(image_size: int) -> int:
    n = math.log2(image_size) if image_size > 0 else -1
    if image_size < 8 or n != int(n):
        raise ValueError(f"image_size must be a power of two >= 8 (32 or 64 here), got {image_size}")
    return int(n) - 2      # 4x4 -> image_size in this many doublings


UPSAMPLING = ("transposed", "resize", "resize_last")


def _up(c_in: int, c_out: int, upsample: str) -> list[nn.Module]:
    """Layers that double H and W and map c_in to c_out channels (see ``Generator``)."""
    if upsample == "transposed":
        return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False)]
    return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)]


class Generator(nn.Module):
    """G: z (n, latent_dim) -> image (n, channels, image_size, image_size) in [-1, 1].

    For image_size 32 and width w (``ngf``):
    z (latent_dim, 1, 1) -> (4w, 4, 4) -> (2w, 8, 8) -> (w, 16, 16) -> (channels, 32, 32).
    For 64 one more block, starting at 8w (the paper's 1024 channels with w = 128).

    ``upsample``: how each block doubles the size. ``"transposed"`` is the paper's fractionally
    strided convolution (kernel 4, stride 2). Its kernel taps reach the even and the odd output
    pixels differently, which can leave a pattern that alternates every pixel (a checkerboard).
    ``"resize"`` is not in the paper: nearest-neighbour up-sampling, then a 3x3 convolution
    (Odena et al. 2016, "Deconvolution and checkerboard artifacts"), which treats every output
    pixel alike. ``"resize_last"``: transposed convolutions, except the last block (the one that
    writes the image's pixels), which resizes; the checkerboard shows in the last block's pixels.
    """

    def __init__(self, latent_dim: int = 100, channels: int = 3, image_size: int = 64,
                 width: int = 64, upsample: str = "transposed"):
        super().__init__()
        if upsample not in UPSAMPLING:
            raise ValueError(f"upsample must be one of {UPSAMPLING}, got {upsample!r}")
        self.latent_dim, self.channels, self.image_size = latent_dim, channels, image_size
        n = _blocks(image_size)
        c = width * 2 ** (n - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, c, 4, 1, 0, bias=False),    # (c, 4, 4)
            nn.BatchNorm2d(c), nn.ReLU(True)]
        inner, last = ("transposed", "resize") if upsample == "resize_last" else (upsample, upsample)
        for _ in range(n - 1):                                         # doubles H, W; halves C
            layers += [*_up(c, c // 2, inner), nn.BatchNorm2d(c // 2), nn.ReLU(True)]
            c //= 2
        layers += [*_up(c, channels, last), nn.Tanh()]                 # (channels, size, size); no batch norm
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() == 2:
            z = z[:, :, None, None]
        return self.net(z)


class MinibatchStd(nn.Module):
    """One more channel that tells D how varied its batch is (Karras et al. 2018, Sec. 3): the
    standard deviation of each feature over the batch, averaged over features and positions, a
    single number copied to every image and pixel. A generator that draws the same few images
    gives a batch with a small spread, which D can now see. Not in the DCGAN paper."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spread = x.float().std(0, unbiased=False).mean().to(x.dtype)
        return torch.cat([x, spread.expand(x.shape[0], 1, *x.shape[2:])], 1)


class Discriminator(nn.Module):
    """D: image (n, channels, image_size, image_size) -> logits (n,).

    For image_size 32 and width w (``ndf``):
    (channels, 32, 32) -> (w, 16, 16) -> (2w, 8, 8) -> (4w, 4, 4) -> (1, 1, 1).
    No batch norm on the input block; LeakyReLU(0.2) everywhere; no sigmoid (logits).
    ``minibatch_std``: put a ``MinibatchStd`` channel before the last convolution, so D also sees
    the spread of its batch (not in the paper). ``features(x)`` returns the last hidden layer,
    (n, 4w, 4, 4) for 32x32, the input of that convolution (before the extra channel); feature
    matching (``hacks.FeatureMatching``) compares its batch means on real and generated images.
    """

    def __init__(self, channels: int = 3, image_size: int = 64, width: int = 64,
                 minibatch_std: bool = False):
        super().__init__()
        self.channels, self.image_size = channels, image_size
        n = _blocks(image_size)
        c = width
        layers: list[nn.Module] = [
            nn.Conv2d(channels, c, 4, 2, 1, bias=False),               # (w, size/2, size/2)
            nn.LeakyReLU(0.2, inplace=True)]
        for _ in range(n - 1):                                         # halves H, W; doubles C
            layers += [nn.Conv2d(c, c * 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(c * 2), nn.LeakyReLU(0.2, inplace=True)]
            c *= 2
        self.net = nn.Sequential(*layers)                              # (4w, 4, 4) for 32x32
        extra = [MinibatchStd()] if minibatch_std else []
        self.head = nn.Sequential(*extra, nn.Conv2d(c + len(extra), 1, 4, 1, 0, bias=False))  # one logit
        init_weights(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.net(x)).flatten()


def init_weights(module: nn.Module, std: float = 0.02) -> nn.Module:
    """DCGAN initialisation: convolutions from N(0, std); batch norm scales from N(1, std),
    shifts 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
    return module


def dcgan_optimizers(net_G: nn.Module, net_D: nn.Module, lr: float = 2e-4,
                     betas: tuple[float, float] = (0.5, 0.999), lr_D: float | None = None):
    """Adam for G and D with the paper's settings (lr 2e-4, beta1 0.5). ``lr_D`` gives D its own
    learning rate (the two time-scale update rule of Heusel et al. 2017: a faster D); by
    default both use ``lr``. Built by ``hacks.make_optimizers``, which checks the rates."""
    return make_optimizers(net_G, net_D, lr_G=lr, lr_D=lr if lr_D is None else lr_D, betas=betas)
