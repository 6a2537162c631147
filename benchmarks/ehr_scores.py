"""Time chapter 08's scores after training (``metrics``) at the sizes of its ``gpu`` preset.

The chapter scores its synthetic records with four record-level computations: dimension-wise
prediction (one logistic regression per code, fitted on real and on each synthetic set),
presence disclosure and attribute disclosure (Hamming nearest neighbours of attacked records),
and the distance to the closest training record. At the paper's scale (46,520 patients x 1,064
codes, 75 % of them for training, 100 codes to predict, 2,000 attacked records, 50 known codes)
they are matrix products of tens of thousands of records, which one CPU thread takes minutes
for. This script times each of them the way the notebook calls them, on the device it is given.

The records are random (each code present with a long-tailed probability, 11 codes per record
on average, as in the chapter's extract), since only the sizes matter for the time; drawing the
chapter's own extract takes a minute more. Run:
``python benchmarks/ehr_scores.py [--device cuda] [--threads 1] [--patients 46520]``.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from gan_tutorial import metrics, runtime


def records(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random binary records of ``d`` codes; code k is present with probability about
    2 / (k + 5), so a record holds about 11 codes, most of them common ones."""
    p = np.minimum(0.4, 2.0 / (np.arange(d) + 5))
    return (rng.random((n, d)) < p).astype(np.float32)


def main(argv=None) -> dict[str, float]:
    """Print and return the seconds of each score (and of all four)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default=None, help="default: cuda where there is one, else cpu")
    ap.add_argument("--threads", type=int, default=1,
                    help="CPU threads (default 1, as chapter 08 sets)")
    ap.add_argument("--patients", type=int, default=46520)
    ap.add_argument("--codes", type=int, default=1064)
    args = ap.parse_args(argv)
    if args.patients < 100 or args.codes < 100:
        raise SystemExit(f"need --patients >= 100 and --codes >= 100, got {args.patients} and {args.codes}")
    runtime.set_threads(args.threads)
    dev = torch.device(args.device) if args.device else runtime.device()
    rng = np.random.default_rng(0)
    X = records(args.patients, args.codes, rng)
    n_train = int(0.75 * len(X))
    train_set, hold = X[:n_train], X[n_train:]
    synthetic = {name: records(n_train, args.codes, rng) for name in ("medGAN", "GAN", "marginals")}
    synthetic["copy"] = metrics.copy_with_flips(train_set, n_train, flips=2, seed=0)
    members, nonmembers = train_set[:2000], hold[:2000]
    print(f"{len(X)} records x {args.codes} codes ({n_train} for training); {runtime.machine_line(dev)}")

    seconds = {}

    def timed(label: str, work) -> None:
        runtime.synchronize(dev)
        t0 = time.perf_counter()
        work()
        runtime.synchronize(dev)
        seconds[label] = time.perf_counter() - t0
        print(f"{label:<48} {seconds[label]:7.1f} s", flush=True)

    cols, known = np.arange(100), np.arange(50)
    timed("dimension-wise prediction, 3 synthetic sets", lambda: [
        metrics.dimension_wise_prediction(train_set, hold, synthetic[k], cols, device=dev)
        for k in ("medGAN", "GAN", "marginals")])
    timed("presence disclosure, 3 synthetic sets", lambda: [
        metrics.presence_disclosure(members, nonmembers, synthetic[k], device=dev)
        for k in ("medGAN", "GAN", "copy")])
    timed("attribute disclosure, 3 sets", lambda: [
        metrics.attribute_disclosure(members, S, known, device=dev)
        for S in (synthetic["medGAN"], synthetic["copy"], hold)])
    timed("distance to the closest record, 2 synthetic sets", lambda: [
        metrics.distance_to_closest_record(synthetic[k], train_set, hold, device=dev)
        for k in ("medGAN", "copy")])
    seconds["all four"] = sum(seconds.values())
    print(f"{'all four':<48} {seconds['all four']:7.1f} s")
    return seconds


if __name__ == "__main__":
    main()
