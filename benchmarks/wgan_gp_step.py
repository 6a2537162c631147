"""WGAN-GP iteration speed: ``train.train`` against a plain loop written the way the reference
``gan_toy.py`` (Gulrajani et al. 2017, PyTorch port) writes it, with the same sizes.

One iteration = ``n_critic`` critic steps with the gradient penalty + one generator step.
The plain loop follows the reference: separate forward and backward passes for the real term,
the fake term and the penalty (``backward(mone)``/``backward(one)``), ``requires_grad``
switched off on the critic for the generator step, no history and no progress bar. Both draw
their data with the same torch sampler (the reference builds each batch in a Python loop over
NumPy, which would only slow the plain loop down). Same seed, same networks, same optimisers.

The two are timed in alternation (A B A B ...) and the median of the repeats is reported, so a
neighbour's load hits both alike. Prints both rates (iterations/s) and the ratio ours / plain;
the target is a ratio >= 1.0. Run: ``python benchmarks/wgan_gp_step.py [--hidden 512] [--iters 40]``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from gan_tutorial import losses, runtime, train
from gan_tutorial.data import toy
from gan_tutorial.nets import mlp


def make(hidden: int, seed: int = 0):
    torch.manual_seed(seed)
    G = mlp.generator(2, 2, hidden, 3)
    D = mlp.discriminator(2, hidden, 3)
    opt_G = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.5, 0.9))
    opt_D = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(0.5, 0.9))
    return G, D, opt_G, opt_D


def plain_loop(G, D, opt_G, opt_D, sample_real, iters: int, batch: int, n_critic: int, lam: float):
    """The reference's loop structure (gan_toy.py), in current PyTorch."""
    one = torch.tensor(1.0)
    mone = -one
    for _ in range(iters):
        for p in D.parameters():
            p.requires_grad = True
        for _ in range(n_critic):
            real = sample_real()
            D.zero_grad()
            d_real = D(real).mean()
            d_real.backward(mone)
            with torch.no_grad():
                fake = G(torch.randn(batch, 2))
            d_fake = D(fake).mean()
            d_fake.backward(one)
            alpha = torch.rand(batch, 1).expand(real.size())
            interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
            d_interp = D(interpolates)
            grads = torch.autograd.grad(d_interp, interpolates, grad_outputs=torch.ones_like(d_interp),
                                        create_graph=True, retain_graph=True)[0]
            gp = ((grads.norm(2, dim=1) - 1) ** 2).mean() * lam
            gp.backward()
            opt_D.step()
        for p in D.parameters():
            p.requires_grad = False
        G.zero_grad()
        g = D(G(torch.randn(batch, 2))).mean()
        g.backward(mone)
        opt_G.step()
    for p in D.parameters():
        p.requires_grad = True


def ours(G, D, opt_G, opt_D, sample_real, iters: int, batch: int, n_critic: int, lam: float):
    train.train(G, D, opt_G, opt_D, sample_real, lambda n: torch.randn(n, 2), iters,
                loss_D=losses.wgan_gp_critic_loss(lam), loss_G=losses.wasserstein_generator_loss,
                k=n_critic, progress=False)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=512, help="units per hidden layer (gan_toy.py: 512)")
    ap.add_argument("--batch", type=int, default=256, help="batch size (gan_toy.py: 256)")
    ap.add_argument("--n-critic", type=int, default=5)
    ap.add_argument("--lam", type=float, default=0.1, help="penalty weight (gan_toy.py: 0.1)")
    ap.add_argument("--iters", type=int, default=30, help="iterations per timed repeat")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sample_real = toy.ring().sampler(args.batch)
    runners = {"plain loop (gan_toy.py style)": plain_loop, "train.train": ours}
    times: dict[str, list[float]] = {k: [] for k in runners}
    for name, fn in runners.items():  # warm-up
        fn(*make(args.hidden), sample_real, 3, args.batch, args.n_critic, args.lam)
    for _ in range(args.repeats):
        for name, fn in runners.items():
            nets = make(args.hidden)
            t0 = time.perf_counter()
            fn(*nets, sample_real, args.iters, args.batch, args.n_critic, args.lam)
            times[name].append(time.perf_counter() - t0)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"WGAN-GP iteration ({args.n_critic} critic steps with the penalty + 1 generator step), "
          f"3x{args.hidden} MLPs, batch {args.batch}, {runtime.machine_line('cpu')}, "
          f"load average {load:.2f}; median of {args.repeats} x {args.iters} iterations")
    rate = {k: args.iters / statistics.median(v) for k, v in times.items()}
    for k, r in rate.items():
        print(f"  {k:<30} {r:8.2f} it/s")
    ratio = rate["train.train"] / rate["plain loop (gan_toy.py style)"]
    print(f"  ratio train.train / plain loop: {ratio:.3f} (target >= 1.0)")


if __name__ == "__main__":
    main()
