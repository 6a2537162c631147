"""Encoders: image networks that are not GAN players.

``AttributeClassifier`` is a small convolutional classifier with one logit per binary attribute
(multi-label). Trained on the real images, it labels generated ones (does an arithmetic result
carry the expected attributes?) and its penultimate layer gives the features for the kernel
inception distance (KID, Binkowski et al. 2018) where no Inception weights can be downloaded.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class AttributeClassifier(nn.Module):
    """x (n, channels, s, s) in [-1, 1] -> logits (n, n_attributes); any s >= 8.

    (c, s, s) -> (w, s/2, s/2) -> (2w, s/4, s/4) -> (4w, s/8, s/8) -> mean-pooled to (4w, 4, 4)
    -> features (feature_dim) -> logits (n_attributes).
    """

    def __init__(self, n_attributes: int = 4, channels: int = 3, width: int = 32,
                 feature_dim: int = 64):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(channels, w, 3, 2, 1), nn.BatchNorm2d(w), nn.ReLU(True),           # s/2
            nn.Conv2d(w, 2 * w, 3, 2, 1), nn.BatchNorm2d(2 * w), nn.ReLU(True),      # s/4
            nn.Conv2d(2 * w, 4 * w, 3, 2, 1), nn.BatchNorm2d(4 * w), nn.ReLU(True),  # s/8
            nn.AdaptiveAvgPool2d(4), nn.Flatten(),                                    # (4w * 16)
            nn.Linear(4 * w * 16, feature_dim), nn.ReLU(True))                        # features
        self.head = nn.Linear(feature_dim, n_attributes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate layer, (n, feature_dim): the embedding used by KID."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def fit_classifier(net: nn.Module, images: torch.Tensor, labels: torch.Tensor, epochs: int = 3,
                   batch_size: int = 128, lr: float = 2e-3, device=None, seed: int = 0,
                   progress: bool = True) -> list[float]:
    """Train ``net`` with binary cross-entropy on logits for ``epochs`` passes; returns the mean
    loss per epoch. ``labels`` (n, k) of 0/1. Leaves ``net`` in eval mode."""
    from tqdm.auto import tqdm

    if len(images) != len(labels):
        raise ValueError(f"images ({len(images)}) and labels ({len(labels)}) differ in length")
    device = device or next(net.parameters()).device
    net.to(device).train()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    y = labels.float()
    losses = []
    steps = epochs * ((len(images) + batch_size - 1) // batch_size)
    bar = tqdm(total=steps, desc="classifier", disable=not progress, leave=False)
    for _ in range(epochs):
        order = torch.randperm(len(images), generator=g)
        total = torch.zeros((), device=device)
        for i in range(0, len(images), batch_size):
            idx = order[i:i + batch_size]
            xb, yb = images[idx].to(device), y[idx].to(device)
            loss = F.binary_cross_entropy_with_logits(net(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * len(idx)
            bar.update(1)
        losses.append(float(total) / len(images))
    bar.close()
    net.eval()
    return losses


@torch.no_grad()
def predict(net: nn.Module, images: torch.Tensor, batch_size: int = 512,
            features: bool = False) -> torch.Tensor:
    """Attribute probabilities (n, k), or with ``features=True`` the penultimate features,
    computed in eval mode on the network's device; returned on the CPU as float32."""
    was = net.training
    net.eval()
    dev = next(net.parameters()).device
    out = []
    try:
        for i in range(0, len(images), batch_size):
            xb = images[i:i + batch_size].to(dev).float()
            out.append((net.features(xb) if features else torch.sigmoid(net(xb))).float().cpu())
    finally:
        net.train(was)
    return torch.cat(out) if out else torch.empty(0)
