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
    ax.set_ylim(0, 1.8 * float(np.max(p_data)))   # a collapsed p_g is a spike: keep p_data readable
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


# ---------------------------------------------------------------------------------------------
# Image grids (chapter 07 onwards)
# ---------------------------------------------------------------------------------------------

def to_image_grid(images, nrow: int = 8, padding: int = 1, pad_value: float = 1.0) -> np.ndarray:
    """Tile ``images`` (n, c, h, w) in [-1, 1] into one (H, W, 3) or (H, W) array in [0, 1],
    ``nrow`` images per row, ``padding`` pixels of ``pad_value`` between them."""
    x = torch.as_tensor(images).detach().float().cpu()
    if x.dim() == 3:
        x = x[:, None]
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"images must be (n, 1 or 3, h, w), got {tuple(x.shape)}")
    if nrow < 1:
        raise ValueError(f"nrow must be positive, got {nrow}")
    x = ((x + 1) / 2).clamp(0, 1)
    n, c, h, w = x.shape
    rows = max(1, -(-n // nrow))
    grid = torch.full((c, rows * (h + padding) + padding, nrow * (w + padding) + padding), pad_value)
    for i in range(n):
        r, k = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + k * (w + padding)
        grid[:, top:top + h, left:left + w] = x[i]
    return grid[0].numpy() if c == 1 else grid.permute(1, 2, 0).numpy()


def image_grid(images, nrow: int = 8, ax=None, title: str | None = None, padding: int = 1,
               figsize: tuple[float, float] | None = None):
    """Show ``images`` (n, c, h, w) in [-1, 1] as a grid with ``nrow`` per row; returns the axes.
    Grey images are drawn with the grey colour map."""
    grid = to_image_grid(images, nrow=nrow, padding=padding)
    if ax is None:
        _, ax = plt.subplots(figsize=figsize or (min(8.0, 0.6 * nrow + 1), 4))
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10)
    return ax
