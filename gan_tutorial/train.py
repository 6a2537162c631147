"""The one adversarial training loop of the course.

``train(...)`` runs Goodfellow et al.'s Algorithm 1 generalised: for each generator step,
``k`` discriminator (critic) steps on fresh real and fake minibatches, then one generator step.
The losses are functions (``losses.py``) so the same loop trains a JS-GAN, a WGAN with
clipping (``after_D_step=clip_weights(0.01)``) or a WGAN-GP.

It keeps a ``History`` (per-step losses, gradient norms and custom metrics every N steps),
shows progress with ``tqdm.auto``, stops with ``TrainingDiverged`` on NaN/Inf, and saves and
resumes checkpoints (written atomically, read with ``weights_only=True``).

Speed: losses stay on the device and are read once every ``log_every`` steps (no host
synchronisation per step); optional bf16 autocast (``amp=True``; all losses are on logits) and
``channels_last`` for image networks; for small networks on a GPU, which are bound by kernel
launches rather than arithmetic, ``cuda_graph=True`` captures one whole iteration (k critic steps
and the generator step) as a CUDA graph and replays it (eager elsewhere, with the reason shown).
"""
from __future__ import annotations

import contextlib
import copy
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import torch
from torch import nn

from .losses import discriminator_loss, nonsaturating_generator_loss

LossD = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
LossG = Callable[[nn.Module, torch.Tensor], torch.Tensor]


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite. ``step`` is the first bad step, ``last_finite`` the last
    finite values of the losses."""

    def __init__(self, step: int, which: str, last_finite: Mapping[str, float]):
        self.step, self.which, self.last_finite = step, which, dict(last_finite)
        last = ", ".join(f"{k}={v:.4g}" for k, v in self.last_finite.items()) or "none"
        super().__init__(
            f"training diverged at step {step}: {which} is not finite (last finite values: {last}). "
            "Try a lower learning rate, a different loss, or gradient clipping.")


@dataclass
class History:
    """What happened during training, as plain lists (easy to plot and to checkpoint)."""

    step: list[int] = field(default_factory=list)          # generator step of each loss entry
    loss_D: list[float] = field(default_factory=list)      # mean over the k critic steps
    loss_G: list[float] = field(default_factory=list)
    grad_step: list[int] = field(default_factory=list)     # steps at which gradient norms were read
    grad_norm_D: list[float] = field(default_factory=list)
    grad_norm_G: list[float] = field(default_factory=list)
    metric_step: list[int] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)

    def state_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_state_dict(cls, state: Mapping) -> "History":
        return cls(**{k: (dict(v) if isinstance(v, dict) else list(v)) for k, v in state.items()})

    def last(self, name: str) -> float:
        """The last recorded value of a metric."""
        return self.metrics[name][-1]


def grad_norm(module: nn.Module) -> torch.Tensor:
    """L2 norm of all parameter gradients of ``module`` (a device tensor, no sync)."""
    norms = [p.grad.detach().norm() for p in module.parameters() if p.grad is not None]
    if not norms:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(norms))


@contextlib.contextmanager
def frozen(module: nn.Module):
    """``requires_grad`` off for the module's parameters inside the block, then restored as it
    was (parameters frozen by the user stay frozen). For the generator step: the critic is held
    fixed, so its weight gradients need not be computed."""
    params = list(module.parameters())
    flags = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(False)
        yield module
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


def clip_weights(c: float) -> Callable[[nn.Module], None]:
    """WGAN's weight clipping to [-c, c], for ``after_D_step``."""
    if c <= 0:
        raise ValueError(f"clipping constant must be positive, got {c}")

    @torch.no_grad()
    def clip(net_D: nn.Module) -> None:
        for p in net_D.parameters():
            p.clamp_(-c, c)

    return clip


def tensor_sampler(data: torch.Tensor, batch_size: int, device: torch.device | str | None = None,
                   generator: torch.Generator | None = None) -> Callable[[], torch.Tensor]:
    """Random minibatches (with replacement) of a dataset held on the device.

    Keeping a small dataset on the GPU and drawing indices there avoids a host round trip per
    step. Raises ``ValueError`` on an empty dataset or a non-positive batch size.
    """
    if len(data) == 0:
        raise ValueError("tensor_sampler: the dataset is empty")
    if batch_size <= 0:
        raise ValueError(f"tensor_sampler: batch_size must be positive, got {batch_size}")
    device = torch.device(device) if device is not None else data.device
    data = data.to(device)
    n = len(data)

    def sample() -> torch.Tensor:
        idx = torch.randint(n, (batch_size,), device=device, generator=generator)
        return data[idx]

    return sample


def train_critic(net_D: nn.Module, opt_D: torch.optim.Optimizer, sample_real: Callable[[], torch.Tensor],
                 sample_fake: Callable[[int], torch.Tensor], steps: int, loss_D: LossD = discriminator_loss,
                 after_D_step: Callable[[nn.Module], None] | None = None) -> None:
    """Critic (discriminator) steps alone, against a generator held fixed: ``sample_fake(n)``
    gives n fake samples without gradient. For the critic-only phases of the WGAN chapters."""
    for _ in range(steps):
        real = sample_real()
        loss = loss_D(net_D, real, sample_fake(len(real)))
        opt_D.zero_grad(set_to_none=True)
        loss.backward()
        opt_D.step()
        if after_D_step is not None:
            after_D_step(net_D)


@torch.no_grad()
def recompute_batchnorm(net: nn.Module, sample_input: Callable[[int], torch.Tensor], batches: int = 100,
                        batch_size: int = 64) -> nn.Module:
    """Batch-norm running statistics that fit the network's current weights: reset, then the
    exact mean over ``batches`` forward passes in training mode on ``sample_input(batch_size)``
    (``momentum=None``), as ``torch.optim.swa_utils.update_bn`` does for SWA and medGAN's
    reference does before sampling. Returns ``net`` in eval mode; without batch norm it is only
    put in eval mode."""
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if bns and batches > 0:
        momenta = [m.momentum for m in bns]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None                     # cumulative average over the passes below
        net.train()
        try:
            for _ in range(batches):
                net(sample_input(batch_size))
        finally:
            for m, mom in zip(bns, momenta):
                m.momentum = mom
    return net.eval()


def linear_decay(optimizers: Sequence[torch.optim.Optimizer], num_steps: int,
                 lr_end: float = 0.0) -> list:
    """Schedulers that take each optimiser's learning rates linearly from their start to
    ``lr_end`` times it over ``num_steps`` steps (``train(..., schedulers=...)`` steps them once
    per generator step). ``lr_end == 1``: none. A rate that falls towards 0 damps the players'
    circling at the end of a run, so the last weights settle instead of stopping mid-orbit."""
    if not 0 <= lr_end <= 1:
        raise ValueError(f"lr_end must be in [0, 1], got {lr_end}")
    if num_steps < 1:
        raise ValueError(f"num_steps must be at least 1, got {num_steps}")
    if lr_end == 1:
        return []
    factor = lambda step: 1 - (1 - lr_end) * min(step, num_steps) / num_steps  # noqa: E731
    return [torch.optim.lr_scheduler.LambdaLR(o, factor) for o in optimizers]


class EMA:
    """An exponential moving average of a network's weights, for sampling (Yazici et al. 2019,
    "The unusual effectiveness of averaging in GAN training"; Karras et al. use it in every
    StyleGAN). The generator's weights keep moving around the equilibrium; their average sits
    nearer to it and usually gives better samples than the last iterate.

    ``ema.module`` is a frozen copy of the network in eval mode. ``update(net)`` moves it towards
    ``net``: w <- d w + (1 - d) w_net, with d = min(decay, (1 + n) / (10 + n)) after n updates, so
    that the random initial weights are forgotten quickly. ``decay`` binds only from
    n = (10 decay - 1) / (1 - decay) on (8,990 updates for 0.999); before that the average covers
    roughly the last n / 9 updates. ``train(..., ema=ema)`` calls it after
    every generator step. Batch-norm statistics are not averaged (running statistics of other
    weights would not fit the average): call ``ema.recompute_batchnorm`` once training is done.
    """

    def __init__(self, net: nn.Module, decay: float = 0.999):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = float(decay)
        self.updates = 0
        self.module = copy.deepcopy(net).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        mine, theirs = list(self.module.parameters()), [p.detach() for p in net.parameters()]
        if len(mine) != len(theirs):
            raise ValueError("EMA.update: the network does not match the averaged copy")
        torch._foreach_lerp_(mine, theirs, 1.0 - d)

    def recompute_batchnorm(self, sample_noise: Callable[[int], torch.Tensor], batches: int = 100,
                            batch_size: int = 64) -> nn.Module:
        """Fresh batch-norm statistics for the averaged weights (``recompute_batchnorm`` below).
        Returns ``self.module``, in eval mode."""
        return recompute_batchnorm(self.module, sample_noise, batches, batch_size)

    def state_dict(self) -> dict:
        return {"module": self.module.state_dict(), "updates": self.updates, "decay": self.decay}

    def load_state_dict(self, state: Mapping) -> None:
        self.module.load_state_dict(state["module"])
        self.updates, self.decay = int(state["updates"]), float(state["decay"])


def save_checkpoint(path: str | os.PathLike, state: Mapping) -> None:
    """``torch.save`` through a temporary file and ``os.replace``: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(dict(state), tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_checkpoint(path: str | os.PathLike, map_location=None) -> dict:
    """Read a checkpoint with ``weights_only=True`` (no arbitrary code from the file)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # a truncated or foreign file
        raise ValueError(f"{path} is not a readable checkpoint: {e}") from e


def _graph_unavailable(dev: torch.device, optimizers: Sequence[torch.optim.Optimizer]) -> str | None:
    """Why a whole-iteration CUDA graph cannot be used here (``None`` when it can), and make
    capturable optimisers capturable. Called before any optimiser state is loaded."""
    if dev.type != "cuda":
        return f"CUDA graphs need a CUDA device; the networks are on {dev.type}"
    if not torch.cuda.is_available():
        return "CUDA is not available"
    for opt in optimizers:
        for group in opt.param_groups:
            if "capturable" not in group:
                continue  # optimisers without the flag (e.g. SGD) are tried as they are
            if not group["capturable"]:
                group["capturable"] = True
                for p in group["params"]:  # existing state: its step counter moves to the device
                    st = opt.state.get(p, {})
                    if isinstance(st.get("step"), torch.Tensor) and st["step"].device != p.device:
                        st["step"] = st["step"].to(p.device)
    return None


class _GraphedIteration:
    """One whole training iteration captured once as a CUDA graph and replayed.

    The first ``warmup`` calls run eagerly on a side stream (they are real training steps: they
    create the optimisers' state and let cuBLAS set itself up); the next call captures the
    iteration (static input and output tensors; random numbers drawn on the device are replayed
    with fresh values) and replays it; later calls only replay. If capture fails, the reason is
    printed and ``fallback_reason`` is set; the caller then continues eagerly.
    """

    def __init__(self, iteration, dev: torch.device, optimizers, schedulers, warmup: int = 3):
        self.iteration, self.dev, self.warmup = iteration, dev, warmup
        self.warm = 0
        self.side: torch.cuda.Stream | None = None
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static: tuple | None = None
        self.fallback_reason: str | None = None
        # With schedulers the graph must read the learning rate from a device tensor.
        self.lr_tensors: list[tuple[dict, torch.Tensor]] = []
        if schedulers:
            for opt in optimizers:
                for group in opt.param_groups:
                    lr = group["lr"]
                    if not isinstance(lr, torch.Tensor):
                        lr = torch.tensor(float(lr), device=dev)
                        group["lr"] = lr
                    self.lr_tensors.append((group, lr))

    def sync_learning_rates(self) -> None:
        """Copy a learning rate that a scheduler set as a new Python number into the tensor the
        graph reads (schedulers of recent torch versions fill the tensor in place already)."""
        for group, t in self.lr_tensors:
            if group["lr"] is not t:
                t.fill_(float(group["lr"]))
                group["lr"] = t

    def __call__(self, with_norms: bool):
        if self.graph is None:
            if self.warm < self.warmup:
                self.warm += 1
                if self.side is None:
                    self.side = torch.cuda.Stream(self.dev)
                self.side.wait_stream(torch.cuda.current_stream(self.dev))
                with torch.cuda.stream(self.side):
                    out = self.iteration(True)
                torch.cuda.current_stream(self.dev).wait_stream(self.side)
                return out
            if not self._capture():
                return self.iteration(with_norms)
        self.graph.replay()
        return tuple(t.clone() for t in self.static)

    def _capture(self) -> bool:
        graph = torch.cuda.CUDAGraph()
        torch.cuda.synchronize(self.dev)
        try:
            with torch.cuda.graph(graph):
                static = self.iteration(True)
        except Exception as e:  # a host sync, a CPU tensor, an uncapturable op...
            self.fallback_reason = f"capture failed ({type(e).__name__}: {str(e).splitlines()[0]})"
            print(f"cuda_graph=True: running eagerly: {self.fallback_reason}")
            try:
                torch.cuda.synchronize(self.dev)
            except Exception:
                pass
            return False
        self.graph, self.static = graph, static
        return True


def _to_device_format(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    if channels_last and x.dim() == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x


def train(
    net_G: nn.Module,
    net_D: nn.Module,
    opt_G: torch.optim.Optimizer,
    opt_D: torch.optim.Optimizer,
    sample_real: Callable[[], torch.Tensor],
    sample_noise: Callable[[int], torch.Tensor],
    num_steps: int,
    *,
    loss_D: LossD = discriminator_loss,
    loss_G: LossG = nonsaturating_generator_loss,
    k: int = 1,
    after_D_step: Callable[[nn.Module], None] | None = None,
    schedulers: Sequence = (),
    metrics: Mapping[str, Callable[[nn.Module, nn.Module], float]] | None = None,
    metric_every: int | None = None,
    callback: Callable[[int, nn.Module, nn.Module, History], None] | None = None,
    callback_every: int | None = None,
    log_every: int = 50,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    amp: bool = False,
    channels_last: bool = False,
    history: History | None = None,
    progress: bool = True,
    desc: str = "training",
    cuda_graph: bool = False,
    reuse_fake: bool = False,
    ema: EMA | None = None,
) -> History:
    """Train ``net_G`` against ``net_D`` for ``num_steps`` generator steps.

    Each step: ``k`` times { x = sample_real(); z = sample_noise(len(x)); fake = G(z) without
    gradient; minimise loss_D(D, x, fake); after_D_step(D) }, then { z = sample_noise(len(x));
    minimise loss_G(D, G(z)) }, then the schedulers step.

    ``metrics`` maps a name to ``fn(net_G, net_D) -> float`` (or to a dict of named floats),
    computed every ``metric_every``
    steps and after the last step with G in eval mode (batch norm uses its running statistics).
    ``callback(step, net_G, net_D, history)`` runs every ``callback_every`` steps (snapshots).
    ``checkpoint`` names a file saved every ``checkpoint_every`` steps and at the end; with
    ``resume=True`` an existing checkpoint is loaded and training continues from its step.
    Raises ``TrainingDiverged`` when a loss becomes NaN or infinite.

    ``reuse_fake=True`` lets the generator step reuse the fake batch of the last critic step
    (computed with gradients, detached for the critic), as pytorch/examples' DCGAN does: one
    generator forward pass fewer per step.
    ``cuda_graph=True`` (CUDA only): after a few eager warm-up iterations on a side stream, one
    whole iteration is captured as a CUDA graph and replayed for every later step. This needs
    static shapes, random numbers drawn on the device by the default generator (as
    ``Mixture.sampler`` and ``tensor_sampler`` without ``generator`` do), no host
    synchronisation inside the losses or ``after_D_step``, and optimisers that support
    ``capturable=True`` (Adam, AdamW, RMSprop...; switched on here, existing state included). With ``schedulers`` the learning rates become device tensors that the graph reads.
    Metrics, callbacks and checkpoints run between replays as usual. On a CPU or MPS device, or
    when capture fails, training runs eagerly and the reason is printed. ``history.mode`` says
    which mode ran: ``"eager"`` or ``"cuda_graph"``.

    ``ema`` (an ``EMA`` of ``net_G``) is updated after every generator step and saved in the
    checkpoint.
    """
    if num_steps < 0 or int(num_steps) != num_steps:
        raise ValueError(f"num_steps must be a non-negative integer, got {num_steps}")
    if k < 1:
        raise ValueError(f"k (discriminator steps per generator step) must be >= 1, got {k}")
    if log_every < 1:
        raise ValueError(f"log_every must be >= 1, got {log_every}")
    metrics = dict(metrics or {})
    if metrics and not metric_every:
        metric_every = max(1, num_steps // 10)
    history = history or History()

    dev = next(net_G.parameters()).device
    if channels_last:
        net_G.to(memory_format=torch.channels_last)
        net_D.to(memory_format=torch.channels_last)
    graph_reason = None
    if cuda_graph:
        graph_reason = _graph_unavailable(dev, (opt_D, opt_G))
        if graph_reason is not None:
            print(f"cuda_graph=True: running eagerly: {graph_reason}")
    use_graph = cuda_graph and graph_reason is None
    # Inside a captured graph the autocast weight cache must be off (casts are part of the graph).
    # (A disabled torch.autocast still costs a little per entry: without amp, a null context.)
    autocast = torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=True,
                              cache_enabled=False if use_graph else None) if amp else contextlib.nullcontext()

    start = 0
    if checkpoint is not None and resume and Path(checkpoint).exists():
        state = load_checkpoint(checkpoint, map_location=dev)
        net_G.load_state_dict(state["net_G"])
        net_D.load_state_dict(state["net_D"])
        opt_G.load_state_dict(state["opt_G"])
        opt_D.load_state_dict(state["opt_D"])
        for sch, s in zip(schedulers, state.get("schedulers", [])):
            sch.load_state_dict(s)
        if ema is not None and "ema" in state:
            ema.load_state_dict(state["ema"])
        history = History.from_state_dict(state["history"])
        start = int(state["step"])
        torch.set_rng_state(state["rng_cpu"])
        if dev.type == "cuda" and "rng_cuda" in state:
            torch.cuda.set_rng_state(state["rng_cuda"], dev)

    def save(step: int) -> None:
        state = {"step": step, "net_G": net_G.state_dict(), "net_D": net_D.state_dict(),
                 "opt_G": opt_G.state_dict(), "opt_D": opt_D.state_dict(),
                 "schedulers": [s.state_dict() for s in schedulers],
                 "history": history.state_dict(), "rng_cpu": torch.get_rng_state()}
        if ema is not None:
            state["ema"] = ema.state_dict()
        if dev.type == "cuda":
            state["rng_cuda"] = torch.cuda.get_rng_state(dev)
        save_checkpoint(checkpoint, state)

    def run_metrics(step: int) -> None:
        was = net_G.training, net_D.training
        net_G.eval(), net_D.eval()
        try:
            values = {}
            for name, fn in metrics.items():
                out = fn(net_G, net_D)
                # a metric may return several numbers at once (e.g. modes and hq_fraction of one sample)
                values.update({str(k): float(v) for k, v in out.items()} if isinstance(out, Mapping)
                              else {name: float(out)})
        finally:
            net_G.train(was[0]), net_D.train(was[1])
        history.metric_step.append(step)
        for name, v in values.items():
            history.metrics.setdefault(name, []).append(v)

    pending_D: list[torch.Tensor] = []
    pending_G: list[torch.Tensor] = []
    pending_steps: list[int] = []

    def flush() -> None:
        """Read the losses kept on the device (one sync) and check them."""
        if not pending_steps:
            return
        values = torch.stack([torch.stack(pending_D), torch.stack(pending_G)]).float().cpu()
        ld, lg = values[0].tolist(), values[1].tolist()
        for s, d, g in zip(pending_steps, ld, lg):
            for which, v in (("loss_D", d), ("loss_G", g)):
                if not math.isfinite(v):
                    last = {"loss_D": history.loss_D[-1], "loss_G": history.loss_G[-1]} if history.loss_D else {}
                    raise TrainingDiverged(s, which, last)
            history.step.append(s)
            history.loss_D.append(d)
            history.loss_G.append(g)
        pending_D.clear(), pending_G.clear(), pending_steps.clear()

    from tqdm.auto import tqdm

    def iteration(with_norms: bool):
        """One generator iteration; returns (mean loss_D, loss_G, |grad D|, |grad G|) on the device."""
        # (1) Update D k times: maximise its objective on real vs detached fake samples.
        loss_d_sum = None
        for i in range(k):
            real = _to_device_format(sample_real(), channels_last)
            z = sample_noise(real.shape[0])
            if reuse_fake and i == k - 1:   # keep G's graph: the G step below reuses this batch
                with autocast:
                    fake = net_G(z)
            else:
                with torch.no_grad(), autocast:
                    fake = net_G(z)
            with autocast:
                ld = loss_D(net_D, real, fake.detach())
            opt_D.zero_grad(set_to_none=True)
            ld.backward()
            opt_D.step()
            if after_D_step is not None:
                after_D_step(net_D)
            loss_d_sum = ld.detach() if loss_d_sum is None else loss_d_sum + ld.detach()
        # the critic's gradient norm of its last step (the G step below leaves D's gradients alone)
        gn_D = grad_norm(net_D) if with_norms else None
        # (2) Update G once: fool the (fixed) discriminator. D's weights are left out of this
        # graph (the backward pass reaches G through D's input and skips D's weight gradients).
        with autocast, frozen(net_D):
            if not reuse_fake:
                fake = net_G(sample_noise(real.shape[0]))
            lg = loss_G(net_D, fake)
        opt_G.zero_grad(set_to_none=True)
        lg.backward()
        opt_G.step()
        gn_G = grad_norm(net_G) if with_norms else None
        return loss_d_sum / k, lg.detach(), gn_D, gn_G

    run_iteration = _GraphedIteration(iteration, dev, (opt_D, opt_G), schedulers) if use_graph \
        else iteration
    history.mode = "cuda_graph" if use_graph else "eager"

    bar = tqdm(total=num_steps, initial=start, desc=desc, disable=not progress, leave=False)
    net_G.train(), net_D.train()
    try:
        for step in range(start + 1, num_steps + 1):
            log_now = step % log_every == 0 or step == num_steps
            ld_mean, lg, gn_D, gn_G = run_iteration(log_now)
            for sch in schedulers:
                sch.step()
            if ema is not None:
                ema.update(net_G)
            if use_graph:
                run_iteration.sync_learning_rates()
                if run_iteration.fallback_reason is not None:  # capture failed: eager from here
                    use_graph, run_iteration, history.mode = False, iteration, "eager"

            pending_D.append(ld_mean)
            pending_G.append(lg)
            pending_steps.append(step)
            last = step == num_steps
            if log_now:
                flush()
                history.grad_step.append(step)
                history.grad_norm_D.append(float(gn_D))
                history.grad_norm_G.append(float(gn_G))
                bar.set_postfix(loss_D=f"{history.loss_D[-1]:.3f}", loss_G=f"{history.loss_G[-1]:.3f}",
                                refresh=False)
            if metrics and (step % metric_every == 0 or last):
                run_metrics(step)
            if callback is not None and callback_every and (step % callback_every == 0 or last):
                callback(step, net_G, net_D, history)
            if checkpoint is not None and ((checkpoint_every and step % checkpoint_every == 0) or last):
                flush()
                save(step)
            bar.update(1)
        flush()
    finally:
        bar.close()
    return history
