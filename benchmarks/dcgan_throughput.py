"""DCGAN training throughput: ``train.train`` against a loop written like pytorch/examples
``dcgan/main.py``, with the same networks (``nets/dcgan.py``), the same batch and the data
already on the device.

The examples-style loop: per iteration, D on a real batch (``backward``), G on fresh noise, D on
the detached fakes (``backward``), ``optimizerD.step()``; then D on the *same* fakes for G's
loss, ``optimizerG.step()``; and five ``.item()`` reads (errD, errG, D(x), D(G(z)) twice) every
iteration, as the example prints them. Its losses are on logits (``BCEWithLogitsLoss``, which is
what the example's ``Sigmoid`` + ``BCELoss`` computes). fp32 (TF32 matmuls allowed for both).

By default ``train.train`` draws fresh noise for G's step (Goodfellow et al.'s Algorithm 1), one
more forward pass of G than the example; ``reuse_fake=True`` reuses the critic's fake batch as
the example does. The headline compares like with like: ``train`` (``reuse_fake=True``) against
``examples``, and ``train+fresh`` (the default) against ``examples+fresh`` (the example's loop
with fresh noise for G's step).

Loops are timed in alternation (A B C, A B C, ...) after a warm-up; each loop's rate is the
median over the repeats, and each ratio the median over rounds of the ratio within a round, so a
neighbour's load hits all alike (on a shared CPU use many short repeats). Prints iterations/s for
each and the ratios ``train / examples`` (the headline) and ``train+fresh / examples+fresh``.

    python benchmarks/dcgan_throughput.py                      # CPU: 32x32, batch 64
    python benchmarks/dcgan_throughput.py --size 64 --batch 512 --amp --channels-last   # a GPU
    ... --cuda-graph            # also replay each train.train iteration as a CUDA graph
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from gan_tutorial import report, runtime, train
from gan_tutorial.nets.dcgan import Discriminator, Generator, dcgan_optimizers


def make(args, dev, seed: int = 0):
    torch.manual_seed(seed)
    G = Generator(args.latent_dim, 3, args.size, args.width).to(dev)
    D = Discriminator(3, args.size, args.width).to(dev)
    opt_G, opt_D = dcgan_optimizers(G, D)
    return G, D, opt_G, opt_D


def examples_loop(G, D, opt_G, opt_D, data, iters: int, batch: int, latent_dim: int,
                  fresh_noise: bool = False) -> None:
    """The structure of pytorch/examples dcgan/main.py (data already on the device)."""
    dev = data.device
    real_label, fake_label = 1.0, 0.0
    criterion = torch.nn.BCEWithLogitsLoss()
    for _ in range(iters):
        ############################
        # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
        ###########################
        real = data[torch.randint(len(data), (batch,), device=dev)]
        D.zero_grad()
        label = torch.full((batch,), real_label, device=dev)
        output = D(real)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = torch.sigmoid(output).mean().item()
        noise = torch.randn(batch, latent_dim, 1, 1, device=dev)
        fake = G(noise)
        label.fill_(fake_label)
        output = D(fake.detach())
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = torch.sigmoid(output).mean().item()
        errD = errD_real + errD_fake
        opt_D.step()
        ############################
        # (2) Update G network: maximize log(D(G(z)))
        ###########################
        G.zero_grad()
        label.fill_(real_label)
        if fresh_noise:
            fake = G(torch.randn(batch, latent_dim, 1, 1, device=dev))
        output = D(fake)
        errG = criterion(output, label)
        errG.backward()
        D_G_z2 = torch.sigmoid(output).mean().item()
        opt_G.step()
        _ = (errD.item(), errG.item(), D_x, D_G_z1, D_G_z2)


def trainer_loop(G, D, opt_G, opt_D, data, iters: int, batch: int, latent_dim: int,
                 amp: bool, channels_last: bool, log_every: int, cuda_graph: bool = False,
                 reuse_fake: bool = True) -> None:
    dev = data.device
    train.train(G, D, opt_G, opt_D, train.tensor_sampler(data, batch, dev),
                lambda n: torch.randn(n, latent_dim, device=dev), iters, amp=amp,
                channels_last=channels_last, log_every=log_every, progress=False,
                cuda_graph=cuda_graph, reuse_fake=reuse_fake)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=32, help="image side (32 or 64)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--width", type=int, default=64, help="ngf = ndf (the paper: 128 at 64x64)")
    p.add_argument("--latent-dim", type=int, default=100)
    p.add_argument("--iters", type=int, default=30, help="timed iterations per repeat")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--amp", action="store_true", help="bf16 autocast in train.train")
    p.add_argument("--channels-last", action="store_true", help="channels_last in train.train")
    p.add_argument("--log-every", type=int, default=50, help="train.train reads losses this often")
    p.add_argument("--cuda-graph", action="store_true",
                   help="train.train replays each iteration as a CUDA graph (GPU; eager elsewhere)")
    p.add_argument("--n-data", type=int, default=2048, help="images kept on the device")
    p.add_argument("--json", default=None, help="also write the result to this JSON file")
    args = p.parse_args(argv)

    dev = runtime.device()
    torch.set_float32_matmul_precision("high")          # TF32 where the hardware has it (both loops)
    torch.backends.cudnn.benchmark = True               # as the example does
    data = (torch.rand(args.n_data, 3, args.size, args.size) * 2 - 1).to(dev)

    nets = {name: make(args, dev) for name in ("examples", "examples+fresh", "train", "train+fresh")}
    runs = {
        "examples": lambda n, m: examples_loop(*m, data, n, args.batch, args.latent_dim),
        "examples+fresh": lambda n, m: examples_loop(*m, data, n, args.batch, args.latent_dim,
                                                     fresh_noise=True),
        "train": lambda n, m: trainer_loop(*m, data, n, args.batch, args.latent_dim, args.amp,
                                           args.channels_last, args.log_every, args.cuda_graph),
        "train+fresh": lambda n, m: trainer_loop(*m, data, n, args.batch, args.latent_dim, args.amp,
                                                 args.channels_last, args.log_every, args.cuda_graph,
                                                 reuse_fake=False),
    }
    for name, fn in runs.items():                       # warm-up (cudnn autotuning, allocator)
        fn(args.warmup, nets[name])
        runtime.synchronize(dev)
    rates = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, fn in runs.items():
            runtime.synchronize(dev)
            t = time.perf_counter()
            fn(args.iters, nets[name])
            runtime.synchronize(dev)
            rates[name].append(args.iters / (time.perf_counter() - t))
    med = {k: statistics.median(v) for k, v in rates.items()}
    env = runtime.environment()
    result = {
        "device": env["device"], "cpu": env["cpu"], "torch": env["torch"],
        "threads": torch.get_num_threads(),
        "size": args.size, "batch": args.batch, "width": args.width,
        "amp": args.amp, "channels_last": args.channels_last, "cuda_graph": args.cuda_graph,
        "it_per_s": med,
        # the median of the ratios within each round (A B C run back to back), robust to load drift
        "ratio": statistics.median(t / e for t, e in zip(rates["train"], rates["examples"])),
        "ratio_fresh": statistics.median(t / e for t, e in zip(rates["train+fresh"], rates["examples+fresh"])),
    }
    print(f"{runtime.machine_line(dev)}; {args.size}x{args.size}, batch {args.batch}, width {args.width}, "
          f"amp={args.amp}, channels_last={args.channels_last}; median of {args.repeats} x "
          f"{args.iters} iterations")
    for name, r in med.items():
        print(f"  {name:<15} {r:8.2f} it/s   (repeats: {', '.join(f'{x:.2f}' for x in rates[name])})")
    print(f"ratio train / examples       = {result['ratio']:.2f}  (median over rounds)")
    print(f"ratio train+fresh / examples+fresh = {result['ratio_fresh']:.2f}  (fresh noise for G in both)")
    if args.json:
        report.atomic_write_text(args.json, json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
