"""Figures used by more than one notebook."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch


def gan_1d(ax, x, p_data, p_g, d_x=None, title: str | None = None):
    """Goodfellow et al. (2014) Figure 1: data density (black, dotted), generator density (green),
    discriminator D(x) (blue, dashed), over the 1-D points ``x``."""
    ax.plot(x, p_data, ":", color="black", lw=2, label=r"$p_{data}$")
    ax.plot(x, p_g, "-", color="green", lw=2, label=r"$p_g$")
    if d_x is not None:
        ax2 = ax.twinx()
        ax2.plot(x, d_x, "--", color="tab:blue", lw=1.5, label="D(x)")
        ax2.set_ylim(0, 1.05)
        ax2.set_yticks([0, 0.5, 1])
        ax2.tick_params(colors="tab:blue")
    if title:
        ax.set_title(title, fontsize=10)
    ax.set_yticks([])
    return ax


def samples_over_modes(ax, samples, mixture, title: str | None = None, n_std: float = 3.0,
                       lim: float | None = None):
    """Scatter of 2-D samples over the mixture's modes (red crosses, with the 3-std circles that
    make a sample high quality)."""
    x = np.asarray(torch.as_tensor(samples).detach().float().cpu())
    means = mixture.means.numpy()
    ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.3, color="tab:blue")
    ax.scatter(means[:, 0], means[:, 1], marker="x", color="red", s=20)
    for m in means:
        ax.add_patch(plt.Circle(m, n_std * mixture.std, fill=False, color="red", lw=0.5))
    lim = lim or float(np.abs(means).max() * 1.5 + 0.5)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def mode_histogram_over_time(ax, steps, counts, title: str | None = None):
    """Heat map of high-quality samples per mode (rows) through training (columns): a collapsed
    generator lights one row; mode hopping moves the light from row to row."""
    counts = np.asarray(counts, dtype=float)            # (times, modes)
    frac = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    im = ax.imshow(frac.T, aspect="auto", origin="lower", cmap="magma", vmin=0, vmax=max(frac.max(), 1e-9),
                   extent=[steps[0], steps[-1], -0.5, counts.shape[1] - 0.5], interpolation="nearest")
    ax.set_xlabel("generator step")
    ax.set_ylabel("mode")
    if title:
        ax.set_title(title, fontsize=10)
    plt.colorbar(im, ax=ax, label="share of HQ samples")
    return ax


def loss_curves(ax, history, smooth: int = 50, title: str | None = None):
    """Discriminator and generator losses per step (moving average over ``smooth`` steps)."""
    def ma(v):
        v = np.asarray(v, dtype=float)
        if len(v) < smooth or smooth <= 1:
            return v
        return np.convolve(v, np.ones(smooth) / smooth, mode="valid")
    steps = np.asarray(history.step)
    for name, values in (("loss_D", history.loss_D), ("loss_G", history.loss_G)):
        y = ma(values)
        ax.plot(steps[len(steps) - len(y):], y, label=name)
    ax.set_xlabel("generator step")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return ax
