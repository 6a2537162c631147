"""Interactive explorers (ipywidgets). Each returns the widget so a notebook can display it."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from . import divergences as dv


def divergence_values(x, kind_p: str, m_p: float, s_p: float, kind_q: str, m_q: float, s_q: float):
    """Masses of p and q on ``x`` and their KL(p||q), KL(q||p), JS and W1."""
    def masses(kind, m, s):
        if kind == "gaussian":
            return dv.gaussian_on_grid(x, m, s)
        return dv.uniform_on_grid(x, m - s, m + s)
    p, q = masses(kind_p, m_p, s_p), masses(kind_q, m_q, s_q)
    return p, q, {"KL(p||q)": dv.kl(p, q), "KL(q||p)": dv.kl(q, p), "JS": dv.js(p, q),
                  "W1": dv.wasserstein1(p, q, x)}


def divergence_explorer(x=None):
    """Move and widen two distributions (Gaussian or uniform) and read KL, JS and W1.

    Returns the widget box, or None (with a message) where ipywidgets is not installed.

    Watch JS stop at log 2 = 0.693 once the supports separate while W1 keeps growing with the
    distance, and KL become infinite as soon as p puts mass where q has none.
    """
    try:
        import ipywidgets as w
    except ImportError:   # a plain Python run (benchmarks/plain_run.py) where Jupyter is missing
        print("divergence_explorer: ipywidgets is not installed, so the interactive explorer is "
              "skipped (pip install ipywidgets to use it)")
        return None

    x = np.linspace(-10, 10, 2001) if x is None else x
    kind = dict(options=["gaussian", "uniform"], value="gaussian")
    ctl = dict(
        kind_p=w.Dropdown(description="p", **kind),
        m_p=w.FloatSlider(value=0.0, min=-5, max=5, step=0.1, description="mean p"),
        s_p=w.FloatSlider(value=1.0, min=0.1, max=3, step=0.1, description="width p"),
        kind_q=w.Dropdown(description="q", options=kind["options"], value="uniform"),
        m_q=w.FloatSlider(value=2.0, min=-5, max=5, step=0.1, description="mean q"),
        s_q=w.FloatSlider(value=0.5, min=0.1, max=3, step=0.1, description="width q"),
    )

    def show(**v):
        p, q, d = divergence_values(x, **v)
        dx = np.gradient(x)
        fig, ax = plt.subplots(figsize=(7, 2.6))
        ax.fill_between(x, p / dx, alpha=0.4, label="p")
        ax.fill_between(x, q / dx, alpha=0.4, label="q")
        ax.set_title("   ".join(f"{k} = {val:.3f}" for k, val in d.items()), fontsize=9)
        ax.legend()
        plt.show()

    out = w.interactive_output(show, ctl)
    box = w.VBox([w.HBox([ctl["kind_p"], ctl["m_p"], ctl["s_p"]]),
                  w.HBox([ctl["kind_q"], ctl["m_q"], ctl["s_q"]]), out])
    return box
