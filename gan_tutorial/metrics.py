"""Scores the chapters publish.

Mode coverage for mixtures follows VEEGAN (Srivastava et al. 2017, Sec. 5.1) and PacGAN
(Lin et al. 2018, Sec. 5): draw 2,500 samples; a sample is *high quality* when it lies within
3 standard deviations of its nearest mode; a mode is *captured* when it is the nearest mode of
at least one high-quality sample. The per-mode histogram of high-quality samples and its KL
divergence to the uniform distribution say how evenly the modes are covered.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

N_SAMPLES = 2500


@dataclass(frozen=True)
class ModeCoverage:
    modes: int                 # modes captured
    hq_fraction: float         # fraction of samples within 3 std of their nearest mode
    counts: np.ndarray         # high-quality samples per mode
    kl_uniform: float          # KL(per-mode histogram || uniform), in nats; log(n_modes) if none

    def as_dict(self) -> dict[str, float]:
        return {"modes": self.modes, "hq_fraction": self.hq_fraction, "kl_uniform": self.kl_uniform}


def mode_coverage(samples: torch.Tensor | np.ndarray, means: torch.Tensor | np.ndarray,
                  std: float, threshold: float = 3.0) -> ModeCoverage:
    """Mode coverage of ``samples`` (n, d) for a mixture with ``means`` (m, d) and ``std``."""
    x = torch.as_tensor(samples, dtype=torch.float32).detach().cpu()
    mu = torch.as_tensor(means, dtype=torch.float32).cpu()
    if x.dim() != 2 or mu.dim() != 2 or x.shape[1] != mu.shape[1]:
        raise ValueError(f"samples (n, d) and means (m, d) must agree in d; got {tuple(x.shape)} "
                         f"and {tuple(mu.shape)}")
    if std <= 0:
        raise ValueError(f"std must be positive, got {std}")
    if len(x) == 0:
        raise ValueError("mode_coverage needs at least one sample")
    dist = torch.cdist(x, mu)                                   # (n, m)
    nearest_d, nearest = dist.min(1)
    finite = torch.isfinite(x).all(1)
    hq = (nearest_d <= threshold * std) & finite
    counts = np.bincount(nearest[hq].numpy(), minlength=len(mu))
    return ModeCoverage(modes=int((counts > 0).sum()), hq_fraction=float(hq.float().mean()),
                        counts=counts, kl_uniform=kl_to_uniform(counts))


def kl_to_uniform(counts: np.ndarray) -> float:
    """KL(p || uniform) of the histogram ``counts``: 0 when even, log(m) when one mode or none."""
    counts = np.asarray(counts, dtype=float)
    m = len(counts)
    total = counts.sum()
    if total == 0:
        return float(np.log(m))
    p = counts / total
    nz = p > 0
    return float((p[nz] * np.log(p[nz] * m)).sum())


@torch.no_grad()
def generator_coverage(net_G, latent_dim: int, means, std: float, n: int = N_SAMPLES,
                       noise=None) -> ModeCoverage:
    """Sample ``n`` points from ``net_G`` in eval mode and score them with ``mode_coverage``."""
    was = net_G.training
    net_G.eval()
    try:
        dev = next(net_G.parameters()).device
        z = noise(n) if noise is not None else torch.randn(n, latent_dim, device=dev)
        x = net_G(z).float()
    finally:
        net_G.train(was)
    return mode_coverage(x, means, std)


def lipschitz_estimate(net_D, real: torch.Tensor, fake: torch.Tensor) -> float:
    """The largest gradient norm of ``net_D`` over the real points, the fake points and one
    random interpolate of each pair: a lower estimate of the critic's Lipschitz constant K,
    taken where the Kantorovich-Rubinstein dual looks (the WGAN chapters divide the critic's
    gap by it to get a W1 estimate)."""
    eps = torch.rand(len(real), 1, device=real.device)
    pts = torch.cat([real, fake, eps * real + (1 - eps) * fake]).detach().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(net_D(pts).sum(), pts)
    return grad.norm(dim=1).max().item()


def mean_std(values) -> tuple[float, float]:
    """Mean and (population) standard deviation over seeds."""
    v = np.asarray(list(values), dtype=float)
    return float(v.mean()), float(v.std())


# ----------------------------------------------------------------------------------------------
# Image sample quality and attribute checks (chapter 07: DCGAN and latent arithmetic)
# ----------------------------------------------------------------------------------------------

def polynomial_kernel(x: torch.Tensor, y: torch.Tensor, degree: int = 3,
                      coef0: float = 1.0) -> torch.Tensor:
    """k(x, y) = (x.y / d + coef0) ** degree, the kernel of KID (Binkowski et al. 2018)."""
    return (x @ y.T / x.shape[1] + coef0) ** degree


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor, degree: int = 3) -> float:
    """The unbiased estimate of MMD^2 between samples ``x`` (m, d) and ``y`` (n, d) with the
    polynomial kernel: zero in expectation when both come from the same distribution (so a
    single estimate can be slightly negative)."""
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise ValueError(f"MMD needs at least 2 samples on each side, got {m} and {n}")
    kxx, kyy, kxy = (polynomial_kernel(a, b, degree) for a, b in ((x, x), (y, y), (x, y)))
    sxx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    syy = (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
    return float(sxx + syy - 2 * kxy.mean())


def kid(features_x, features_y, n_subsets: int = 50, subset_size: int = 500, degree: int = 3,
        seed: int = 0) -> tuple[float, float]:
    """Kernel inception distance between two sets of features (n, d): the mean and standard
    deviation of the unbiased MMD^2 over ``n_subsets`` random subsets of ``subset_size`` from each
    side (Binkowski et al. 2018, Sec. 4; their default subset size is 1000). Features come from a
    fixed network: Inception in the paper, here whatever classifier the chapter trusts."""
    x = torch.as_tensor(features_x, dtype=torch.float64).detach().cpu()
    y = torch.as_tensor(features_y, dtype=torch.float64).detach().cpu()
    if x.dim() != 2 or y.dim() != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"features must be (n, d) with the same d; got {tuple(x.shape)} and "
                         f"{tuple(y.shape)}")
    m = min(subset_size, len(x), len(y))
    if m < 2:
        raise ValueError(f"KID needs at least 2 samples per side, got {len(x)} and {len(y)}")
    g = torch.Generator().manual_seed(seed)
    vals = [mmd2_unbiased(x[torch.randperm(len(x), generator=g)[:m]],
                          y[torch.randperm(len(y), generator=g)[:m]], degree)
            for _ in range(n_subsets)]
    return float(np.mean(vals)), float(np.std(vals))


def _square_images(images, name: str, min_size: int) -> torch.Tensor:
    """``images`` as a float CPU tensor (n, channels, size, size) with n >= 1 and size >=
    ``min_size``; a ValueError that names the calling function ``name`` otherwise."""
    x = torch.as_tensor(images).detach().float().cpu()
    if x.dim() != 4 or x.shape[-1] != x.shape[-2] or x.shape[-1] < min_size or len(x) == 0:
        raise ValueError(f"{name} needs images (n, channels, size, size) with n >= 1 and "
                         f"size >= {min_size}; got {tuple(x.shape)}")
    return x


def power_spectrum(images) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged power spectrum of a batch of square images (n, channels, size, size):
    the channels averaged to one grey image, each image's mean removed, |FFT|^2 averaged over the
    images and over rings of equal frequency. Returns ``(freq, power)``: ring k holds the
    frequencies whose radius in cycles per pixel rounds to k / size, for k = 1 .. size / 2
    (``freq[-1]`` = 0.5 is the Nyquist frequency, a pattern that alternates every pixel).
    A generator's images against real ones, ``power_g / power_r``, show which scales it misses:
    a blur lowers every ring towards Nyquist; a transposed convolution's checkerboard raises the
    last rings (Odena et al. 2016, "Deconvolution and checkerboard artifacts")."""
    x = _square_images(images, "power_spectrum", min_size=4)
    size = x.shape[-1]
    grey = x.mean(1)
    grey = grey - grey.mean((1, 2), keepdim=True)
    power = torch.fft.fft2(grey).abs().pow(2).mean(0) / size ** 2          # (size, size)
    f = torch.fft.fftfreq(size)
    ring = torch.round(torch.sqrt(f[:, None] ** 2 + f[None, :] ** 2) * size).long()
    k = torch.arange(1, size // 2 + 1)
    out = np.array([float(power[ring == j].mean()) for j in k])
    return k.numpy() / size, out


def outline_irregularity(images, angles: int = 64, level: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """How far the outline of a dark blob near the centre of each image (a lesion on lighter
    skin) is from a circle, read from the pixels alone, with no classifier.

    For each image (n, channels, size, size): the channels are averaged; the skin level is the
    median of a ring near the edge of the field (radius 0.75 to 0.95 of half the width), the
    lesion level the darkest 3x3 average within 0.25 of the centre; pixels darker than ``level``
    of the way from skin to lesion are lesion. From the lesion's centroid, ``angles`` rays run
    outwards in quarter-pixel steps to the first skin pixel, which gives the radius r(theta).

    Returns ``(cv, radius)``: ``cv`` = std over theta of r(theta) / its mean (0 for a circle;
    about 0.04 for the slight ellipses of regular lesions, about 0.18 for the lobes of
    irregular ones, see ``images.LOBES``), and ``radius`` the mean r(theta), both per image,
    radii in units of half the image width. A hair strand that touches the lesion lengthens the
    rays along it, so compare images without hair."""
    x = _square_images(images, "outline_irregularity", min_size=8)
    if angles < 8 or not 0 < level < 1:
        raise ValueError(f"outline_irregularity needs angles >= 8 and 0 < level < 1; got {angles}, {level}")
    size = x.shape[-1]
    grey = x.mean(1)                                                         # (n, size, size)
    lin = (torch.arange(size) + 0.5) / size * 2 - 1                         # pixel centres in [-1, 1]
    yy, xx = torch.meshgrid(lin, lin, indexing="ij")
    rr = (xx ** 2 + yy ** 2).sqrt()
    skin = grey[:, (rr > 0.75) & (rr < 0.95)].median(1).values
    blurred = torch.nn.functional.avg_pool2d(grey[:, None], 3, 1, 1, count_include_pad=False)[:, 0]
    core = blurred[:, rr < 0.25].min(1).values
    lesion = ((skin[:, None, None] - grey) / (skin - core).clamp_min(1e-6)[:, None, None]).clamp(0, 1)
    inside = ((lesion > level) & (rr < 0.8)).float()
    count = inside.sum((1, 2)).clamp_min(1)
    cx, cy = (inside * xx).sum((1, 2)) / count, (inside * yy).sum((1, 2)) / count
    theta = torch.arange(angles) * (2 * np.pi / angles)
    step = 1 / (2 * size)                                                    # a quarter pixel
    radii = torch.arange(1, 2 * size) * step
    grid = torch.stack([cx[:, None, None] + radii * theta.cos()[:, None],
                        cy[:, None, None] + radii * theta.sin()[:, None]], -1)   # (n, angles, radii, 2)
    along = torch.nn.functional.grid_sample(lesion[:, None], grid, align_corners=False,
                                            padding_mode="border")[:, 0]
    r = torch.cumprod((along > level).float(), dim=2).sum(2) * step         # up to the first exit
    mean = r.mean(1)
    return (r.std(1) / mean.clamp_min(1e-6)).numpy(), mean.numpy()


def attribute_agreement(probs, expected: dict[int, int], threshold: float = 0.5) -> float:
    """Fraction of rows of ``probs`` (n, k attribute probabilities) whose thresholded attributes
    equal ``expected`` ({column: 0 or 1}) in every listed column."""
    p = torch.as_tensor(probs, dtype=torch.float32)
    if p.dim() != 2 or len(p) == 0:
        raise ValueError(f"probs must be a non-empty (n, k) array, got shape {tuple(p.shape)}")
    bad = [c for c in expected if not 0 <= c < p.shape[1]]
    if bad or not all(v in (0, 1) for v in expected.values()):
        raise ValueError(f"expected must map columns 0..{p.shape[1] - 1} to 0/1, got {expected}")
    ok = torch.ones(len(p), dtype=torch.bool)
    for c, v in expected.items():
        ok &= (p[:, c] > threshold) == bool(v)
    return float(ok.float().mean())


@dataclass(frozen=True)
class Separation:
    p_a: float         # mean D(x) over the first set
    p_b: float         # mean D(x) over the second set
    auc: float         # P(logit of an image of a > logit of one of b); 0.5: D cannot tell them apart
    n: int             # images per set

    @property
    def null_sd(self) -> float:
        """Standard deviation of the AUC when D cannot tell the sets apart (Mann-Whitney, no ties)."""
        return float(np.sqrt((2 * self.n + 1) / (12 * self.n * self.n)))


def rank_auc(positive, negative) -> float:
    """Area under the ROC curve of scores separating ``positive`` from ``negative``: the
    probability that a random positive scores higher than a random negative, ties counted half
    (the Mann-Whitney U statistic divided by the number of pairs; scikit-learn's
    ``roc_auc_score`` computes it)."""
    from sklearn.metrics import roc_auc_score

    pos = np.asarray(positive, dtype=float).ravel()
    neg = np.asarray(negative, dtype=float).ravel()
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError(f"rank_auc needs scores on both sides, got {len(pos)} and {len(neg)}")
    is_pos = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    return float(roc_auc_score(is_pos, np.concatenate([pos, neg])))


@torch.no_grad()
def discriminator_separation(net_D, a: torch.Tensor, b: torch.Tensor,
                             batch_size: int = 64) -> Separation:
    """How well the logits of ``net_D`` rank the images ``a`` above the images ``b``.

    With ``a`` the real images D was trained on and ``b`` fresh real images of the same source it
    is a membership test: does D recognise its training set (D overfitting, Karras et al. 2020)?
    With ``a`` real and ``b`` generated images it says how clearly D tells real from fake. Both
    sets go through D the way real images do in training: in train mode (batch norm on the
    batch's own statistics), in batches of ``batch_size`` drawn from one set only, on a copy of D
    so that its running statistics stay as they were. The first ``n`` images of each set are
    used, ``n`` the smaller set's size rounded down to whole batches (one smaller batch if that
    set holds fewer than ``batch_size`` images).
    """
    if a.dim() != 4 or b.dim() != 4 or a.shape[1:] != b.shape[1:]:
        raise ValueError("a and b must be image batches (n, c, h, w) of the same image shape, "
                         f"got {tuple(a.shape)} and {tuple(b.shape)}")
    if batch_size < 2:
        raise ValueError(f"batch_size must be at least 2 (batch norm statistics), got {batch_size}")
    if min(len(a), len(b)) < 2:
        raise ValueError(f"need at least 2 images in each set (batch norm statistics), got "
                         f"{len(a)} and {len(b)}")
    batch_size = min(batch_size, len(a), len(b))
    n = min(len(a), len(b)) // batch_size * batch_size
    D = copy.deepcopy(net_D).train()
    dev = next(D.parameters()).device

    def logits(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([D(c.to(dev)).float().flatten().cpu() for c in x[:n].split(batch_size)])

    l_a, l_b = logits(a), logits(b)
    return Separation(float(torch.sigmoid(l_a).mean()), float(torch.sigmoid(l_b).mean()),
                      rank_auc(l_a.numpy(), l_b.numpy()), n)


# =============================================================================================
# Synthetic patient records: fidelity and privacy (medGAN chapter; Choi et al. 2017, Sec. 4-5)
# =============================================================================================
# Records are binary patient x code matrices (numpy arrays or tensors, 0/1).


def _binary(x, name: str) -> np.ndarray:
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a (records, codes) matrix, got shape {a.shape}")
    if a.size and not np.isin(a, (0, 1)).all():
        raise ValueError(f"{name} must be binary (0/1); round probabilities first")
    return a.astype(np.float32)


def _binary_tensor(x, name: str, device=None) -> torch.Tensor:
    """``_binary`` as a float32 tensor on ``device`` (None: the CPU). At the paper's scale
    (46,520 patients) one CPU thread takes minutes for the record-level scores below
    (``benchmarks/ehr_scores.py``), so they take a device; 0/1 products summed in float32 are
    exact, so the Hamming distances are the same on any device."""
    return torch.as_tensor(_binary(x, name), device=device)


def dimension_wise_probability(real, synthetic) -> tuple[np.ndarray, np.ndarray, float]:
    """Choi et al. Sec. 4.2: the frequency (Bernoulli success probability) of every code in the
    real and the synthetic records, and their Pearson correlation r (1 = the same marginals)."""
    r, s = _binary(real, "real"), _binary(synthetic, "synthetic")
    if r.shape[1] != s.shape[1]:
        raise ValueError(f"real and synthetic records have {r.shape[1]} and {s.shape[1]} codes")
    p_r, p_s = r.mean(0), s.mean(0)
    if p_s.std() == 0 or p_r.std() == 0:
        return p_r, p_s, 0.0
    return p_r, p_s, float(np.corrcoef(p_r, p_s)[0, 1])


@dataclass(frozen=True)
class DimensionWisePrediction:
    columns: np.ndarray        # the codes used as labels (column indices)
    f1_real: np.ndarray        # F1 on held-out real records, classifier trained on real records
    f1_synthetic: np.ndarray   # F1 on the same held-out records, classifier trained on synthetic

    @property
    def ratio(self) -> float:
        """Mean synthetic-trained F1 over mean real-trained F1."""
        m = float(self.f1_real.mean())
        return float(self.f1_synthetic.mean()) / m if m > 0 else float("nan")


def fit_logistic_per_code(data, columns, C: float = 1.0, max_iter: int = 100,
                          device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """One L2-regularised logistic regression per code of ``columns``, each predicting that code
    from all the other codes (its own column masked out), fitted together: the objective of
    scikit-learn's ``LogisticRegression(C=C)`` summed over the codes, minimised by L-BFGS on the
    full batch (one matrix product per step for all the codes), on ``device`` (None: the CPU).
    Returns weights (d, K) and intercepts (K,), on that device."""
    X = _binary_tensor(data, "data", device)
    n, d = X.shape
    cols = torch.as_tensor(np.asarray(columns, dtype=int), device=X.device)
    Y = X[:, cols]                                                       # (n, K)
    mask = torch.ones(d, len(cols), device=X.device)
    mask[cols, torch.arange(len(cols), device=X.device)] = 0.0          # no code predicts itself
    W = torch.zeros(d, len(cols), device=X.device, requires_grad=True)
    b = torch.zeros(len(cols), device=X.device, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], lr=1, max_iter=max_iter, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-6, tolerance_change=1e-9)

    def closure():
        opt.zero_grad()
        logits = X @ (W * mask) + b
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, Y, reduction="sum")
        loss = (C * loss + 0.5 * ((W * mask) ** 2).sum()) / n
        loss.backward()
        return loss

    opt.step(closure)
    return (W * mask).detach(), b.detach()


def _f1(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    tp = (pred & truth).sum(0)
    denom = pred.sum(0) + truth.sum(0)
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


def dimension_wise_prediction(train_real, test_real, synthetic, columns, C: float = 1.0,
                              max_iter: int = 100, device=None) -> DimensionWisePrediction:
    """Choi et al. Sec. 4.2: for each code k of ``columns``, a logistic regression predicts code
    k from all the other codes; trained once on real training records and once on synthetic
    records, both scored (F1, predicting "present" at probability > 0.5) on held-out real
    records. A code absent from the training records is never predicted (F1 0). The
    regressions are fitted on ``device`` (None: the CPU)."""
    tr, te, sy = (_binary(train_real, "train_real"), _binary(test_real, "test_real"),
                  _binary(synthetic, "synthetic"))
    if not (tr.shape[1] == te.shape[1] == sy.shape[1]):
        raise ValueError("train_real, test_real and synthetic must have the same codes")
    columns = np.asarray(columns, dtype=int)
    Xt = torch.as_tensor(te, device=device)
    truth = te[:, columns] > 0.5

    def scores(data: np.ndarray) -> np.ndarray:
        W, b = fit_logistic_per_code(data, columns, C, max_iter, device)
        pred = ((Xt @ W + b) > 0).cpu().numpy()
        return _f1(pred, truth)

    return DimensionWisePrediction(columns, scores(tr), scores(sy))


def _hamming(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """All Hamming distances between the binary rows of A (n, d) and B (m, d): |x| + |y| - 2 x.y."""
    return A.sum(1, keepdim=True) + B.sum(1)[None, :] - 2 * A @ B.T


def hamming_to_nearest(a, b, chunk: int = 1024, device=None) -> tuple[np.ndarray, np.ndarray]:
    """For each record of ``a``: the Hamming distance to its nearest record of ``b`` and that
    record's index (binary records: ``|x| + |y| - 2 x.y``), computed on ``device`` (None: the
    CPU)."""
    A = _binary_tensor(a, "a", device)
    B = _binary_tensor(b, "b", device)
    if len(B) == 0:
        raise ValueError("the reference set b is empty")
    dist, idx = [], []
    for i in range(0, len(A), chunk):
        m, j = _hamming(A[i:i + chunk], B).min(1)
        dist.append(m), idx.append(j)
    if not dist:
        return np.zeros(0), np.zeros(0, dtype=int)
    return torch.cat(dist).round().cpu().numpy(), torch.cat(idx).cpu().numpy()


def presence_disclosure(members, nonmembers, synthetic, thresholds=range(0, 11),
                        device=None) -> dict[str, np.ndarray]:
    """Choi et al. Sec. 5 (membership inference): the attacker holds real records, half of
    them in the training set (``members``), half not; a record is claimed as a member when some
    synthetic record lies within Hamming distance ``t``. Returns, per threshold, precision
    (claims that are right; 0.5 = guessing on a balanced set; NaN without claims), sensitivity
    (members found) and the number of claims. Distances are computed on ``device`` (None: the
    CPU)."""
    dm, _ = hamming_to_nearest(members, synthetic, device=device)
    dn, _ = hamming_to_nearest(nonmembers, synthetic, device=device)
    t = np.asarray(list(thresholds))
    tp = (dm[None, :] <= t[:, None]).sum(1)
    fp = (dn[None, :] <= t[:, None]).sum(1)
    precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), np.nan)
    return {"threshold": t, "precision": precision, "sensitivity": tp / max(len(dm), 1),
            "claims": tp + fp}


def attribute_disclosure(records, synthetic, known, k: int = 1, device=None) -> tuple[float, float]:
    """Choi et al. Sec. 5 (attribute disclosure): the attacker knows the ``known`` codes (column
    indices) of each patient in ``records``, finds the ``k`` nearest synthetic records on those
    codes (Hamming) and infers every other code by majority vote among them. Returns precision
    and sensitivity of the inferred positive codes (over all patients and unknown codes). The
    neighbours are found on ``device`` (None: the CPU)."""
    R, S = _binary(records, "records"), _binary(synthetic, "synthetic")
    known = np.asarray(known, dtype=int)
    unknown = np.setdiff1d(np.arange(R.shape[1]), known)
    A, B = (torch.as_tensor(M[:, known], device=device) for M in (R, S))
    nn_idx = torch.topk(-_hamming(A, B), k, dim=1).indices.cpu().numpy()  # (n, k)
    votes = S[:, unknown][nn_idx].mean(1)                                # (n, |unknown|)
    pred = votes > 0.5
    truth = R[:, unknown] > 0.5
    tp = float((pred & truth).sum())
    precision = tp / pred.sum() if pred.sum() else 0.0
    sensitivity = tp / truth.sum() if truth.sum() else 0.0
    return float(precision), float(sensitivity)


def distance_to_closest_record(synthetic, train, holdout, device=None) -> tuple[np.ndarray, np.ndarray]:
    """Distance to the closest training record (Hamming): of each synthetic record, and of each
    held-out real record as the reference. Synthetic records much closer to the training set
    than fresh real records are (a pile-up at 0-2) point at copying. Distances are computed on
    ``device`` (None: the CPU)."""
    d_syn, _ = hamming_to_nearest(synthetic, train, device=device)
    d_hold, _ = hamming_to_nearest(holdout, train, device=device)
    return d_syn, d_hold


def independent_marginals(real, n: int, seed: int = 0) -> np.ndarray:
    """Baseline: ``n`` records whose codes are independent coin flips with the real frequencies
    (right marginals, no correlation between codes)."""
    p = _binary(real, "real").mean(0)
    return (np.random.default_rng(seed).random((n, len(p))) < p).astype(np.float32)


def copy_with_flips(train, n: int, flips: int = 2, seed: int = 0) -> np.ndarray:
    """The leaking baseline: ``n`` training records copied (each once while possible) with
    ``flips`` randomly chosen codes flipped."""
    T = _binary(train, "train")
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.permutation(len(T)) for _ in range(-(-n // len(T)))])[:n]
    out = T[idx].copy()
    for i in range(n):
        j = rng.choice(T.shape[1], size=flips, replace=False)
        out[i, j] = 1.0 - out[i, j]
    return out
