"""Toy WGAN-GP throughput: eager ``train.train`` against the whole-iteration CUDA-graph mode.

Small networks on a GPU are bound by kernel launches, not arithmetic. One iteration here is the
WGAN-GP toy iteration of chapter 05 (5 critic steps with the gradient penalty + 1 generator
step, 3-hidden-layer MLPs, batch 256, the ring of 8 Gaussians scaled as ``gan_toy.py`` does,
lambda = 0.1, Adam with a linearly decaying learning rate). Both modes train the same networks
from the same seed for ``--iters`` iterations; the rate is measured after ``--warmup``
iterations (which include the graph capture) up to the end, with a device synchronisation at
both ends. Printed: iterations/s of each mode, the ratio graph/eager (target on a GPU: >= 5),
and the modes captured and high-quality fraction of each, which should agree.

On a machine without CUDA it measures the eager rate only and says that the graph mode needs
CUDA. Run: ``python benchmarks/toy_throughput.py [--hidden 128 512] [--iters 3000]``.
"""
from __future__ import annotations

import argparse
import time

import torch

from gan_tutorial import losses, metrics, runtime, train
from gan_tutorial.data import toy
from gan_tutorial.nets import mlp

SCALE = 1.414  # gan_toy.py divides the 8-Gaussian data by this


def run(hidden: int, iters: int, warmup: int, batch: int, graph: bool, dev: torch.device, seed: int = 0):
    runtime.seed_everything(seed)
    ring = toy.ring()
    G = mlp.generator(2, 2, hidden, 3).to(dev)
    D = mlp.discriminator(2, hidden, 3).to(dev)
    cap = graph and dev.type == "cuda"  # eager keeps the default (fastest eager) optimiser
    opt_G = torch.optim.Adam(G.parameters(), lr=5e-4, betas=(0.5, 0.9), capturable=cap)
    opt_D = torch.optim.Adam(D.parameters(), lr=5e-4, betas=(0.5, 0.9), capturable=cap)
    scheds = train.linear_decay((opt_G, opt_D), iters)
    sample = ring.sampler(batch, dev)
    marks = {}

    def mark(step, G_, D_, hist):
        if step == warmup and "start" not in marks:
            runtime.synchronize(dev)
            marks["start"] = time.perf_counter()

    hist = train.train(G, D, opt_G, opt_D, lambda: sample() / SCALE,
                       lambda n: torch.randn(n, 2, device=dev), iters,
                       loss_D=losses.wgan_gp_critic_loss(0.1), loss_G=losses.wasserstein_generator_loss,
                       k=5, schedulers=scheds, callback=mark, callback_every=warmup, progress=False,
                       cuda_graph=graph)
    runtime.synchronize(dev)
    rate = (iters - warmup) / (time.perf_counter() - marks["start"])
    G.eval()
    with torch.no_grad():
        x = G(torch.randn(metrics.N_SAMPLES, 2, device=dev)).float().cpu() * SCALE
    cov = metrics.mode_coverage(x, ring.means, ring.std)
    return rate, cov, hist.mode


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, nargs="+", default=[128, 512])
    ap.add_argument("--iters", type=int, default=None, help="default: 3000 on CUDA, 200 on a CPU")
    ap.add_argument("--warmup", type=int, default=None, help="default: 100 on CUDA, 20 on a CPU")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--threads", type=int, default=None,
                    help="CPU threads (default: runtime.set_threads; 1 is fastest for these tiny networks)")
    args = ap.parse_args(argv)
    runtime.set_threads(args.threads)
    dev = runtime.device()
    cuda = dev.type == "cuda"
    iters = args.iters or (3000 if cuda else 200)
    warmup = args.warmup or (100 if cuda else 20)
    if not 0 < warmup < iters:
        raise SystemExit(f"need 0 < --warmup ({warmup}) < --iters ({iters})")
    print(f"WGAN-GP toy iteration (5 critic steps with the penalty + 1 generator step), batch {args.batch}, "
          f"{iters} iterations, rate after {warmup}; {runtime.machine_line(dev)}")
    for hidden in args.hidden:
        eager, cov_e, _ = run(hidden, iters, warmup, args.batch, False, dev)
        line = (f"3x{hidden}: eager {eager:8.1f} it/s (modes {cov_e.modes}/8, hq {cov_e.hq_fraction:.3f})")
        if cuda:
            graphed, cov_g, mode = run(hidden, iters, warmup, args.batch, True, dev)
            if mode != "cuda_graph":
                line += f" | graph mode unavailable, ran {mode}: {graphed:.1f} it/s"
            else:
                line += (f" | graph {graphed:8.1f} it/s (modes {cov_g.modes}/8, hq {cov_g.hq_fraction:.3f})"
                         f" | ratio {graphed / eager:.2f}x (target >= 5)")
        else:
            line += " | graph mode needs CUDA: not measured on this machine"
        print(line, flush=True)


if __name__ == "__main__":
    main()
