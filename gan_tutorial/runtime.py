"""Where the course runs: device, seeds, presets, folders.

The one place that knows about hardware. Notebooks and the package ask ``device()`` for the
device and ``configure(...)`` for their settings; nothing else names a device.

Presets (see DESIGN.md):

========  ===========================  ==========================================
preset    for                          promise
========  ===========================  ==========================================
smoke     CI, nbval                    every code path runs, under 60 s
cpu       laptops, Binder, classrooms  headline targets met in a few minutes
gpu       Colab, workstations          paper-scale settings, stricter targets
========  ===========================  ==========================================
"""
from __future__ import annotations

import os
import platform
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Mapping

import numpy as np
import torch

PRESETS = ("smoke", "cpu", "gpu")
ENV_PRESET = "GAN_TUTORIAL_PRESET"
ENV_NOTEBOOK = "GAN_TUTORIAL_NOTEBOOK"
ENV_CACHE = "GAN_TUTORIAL_CACHE"
ENV_THREADS = "GAN_TUTORIAL_THREADS"


def device(prefer: str | None = None) -> torch.device:
    """The best available device: CUDA, then Apple ``mps``, then the CPU.

    ``prefer`` (or the variable ``GAN_TUTORIAL_DEVICE``) forces one, e.g. ``"cpu"``.
    """
    prefer = prefer or os.environ.get("GAN_TUTORIAL_DEVICE")
    if prefer:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def synchronize(dev: torch.device | str) -> None:
    """Wait until the work queued on ``dev`` is done, so that a clock read after it counts it.

    CUDA and ``mps`` run asynchronously; the CPU has nothing to wait for.
    """
    dev = torch.device(dev)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elif dev.type == "mps":
        torch.mps.synchronize()


_DEFAULT_THREADS = torch.get_num_threads()   # PyTorch's own default, before anyone changes it


def _cgroup_cpu_quota() -> int | None:
    """Whole CPUs of the cgroup v2 quota ("200000 100000" -> 2), or None without a quota."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            return max(1, int(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return None


def available_cpus() -> int:
    """CPUs this process may really use: its affinity mask and, in a container (Binder, Docker),
    the cgroup CPU quota, which ``os.cpu_count()`` and PyTorch's default thread count ignore."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    return max(1, min(n, quota) if quota else n)


def busy_cpus(path: str | os.PathLike = "/proc/loadavg", samples: int = 5, interval: float = 0.02) -> int:
    """How many other processes are running on the CPUs right now: the median, over a few
    readings, of the running-task count in ``/proc/loadavg`` (field 4, "running/total"), less
    this process. 0 where the file does not exist (macOS, Windows)."""
    counts = []
    for i in range(samples):
        try:
            running = int(Path(path).read_text().split()[3].split("/")[0])
        except (OSError, ValueError, IndexError):
            return 0
        counts.append(max(0, running - 1))
        if i + 1 < samples:
            time.sleep(interval)
    return int(np.median(counts))


def set_threads(n: int | None = None) -> int:
    """Set PyTorch's CPU threads: ``$GAN_TUTORIAL_THREADS`` if set, else ``n`` (a notebook's
    preference), else the default capped at ``available_cpus()``.

    More threads than CPUs (a container whose quota is below the host's core count, or a shared
    machine) makes small networks many times slower, as the threads wait for each other. Tiny
    networks (the toy MLPs) gain nothing from a second thread, so their notebooks ask for one.
    The default also leaves out the CPUs that other processes are busy on when it is called
    (``busy_cpus``; not inside a cgroup quota, where the host's count says nothing about ours):
    on 2 cores with one busy, a small DCGAN ran 5 it/s with 2 threads and 17.5 with 1.
    """
    env = os.environ.get(ENV_THREADS)
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ValueError(f"{ENV_THREADS} must be a positive integer, got {env!r}") from None
    if n is None:
        cpus = available_cpus()
        free = cpus if _cgroup_cpu_quota() else cpus - busy_cpus()
        n = max(1, min(_DEFAULT_THREADS, cpus, free))
    if n < 1:
        raise ValueError(f"the number of threads must be positive, got {n}")
    if n != torch.get_num_threads():
        torch.set_num_threads(n)
    return n


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (all devices); return a CPU generator with that seed."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def preset(name: str | None = None) -> str:
    """The preset in force: ``name`` if given, else ``$GAN_TUTORIAL_PRESET``, else ``gpu`` when
    CUDA is present, else ``cpu``. An unknown name raises ``ValueError`` listing the valid ones."""
    if name is None:
        name = os.environ.get(ENV_PRESET) or None
    if name is None:
        return "gpu" if torch.cuda.is_available() else "cpu"
    if not isinstance(name, str) or name.strip().lower() not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}")
    return name.strip().lower()


@dataclass
class Run:
    """What ``configure`` resolved for the running notebook; ``report.publish`` reads it."""

    notebook: str
    preset: str
    parameters: dict[str, Any]
    started: float = field(default_factory=time.perf_counter)


_current: Run | None = None


def current_run() -> Run | None:
    return _current


def configure(notebook: str, PRESET: str | None, values: Mapping[str, Any],
              table: Mapping[str, Mapping[str, Any]], cpu_threads: int | None = None) -> SimpleNamespace:
    """Resolve a notebook's ``parameters`` cell against its preset table.

    ``values`` holds the knobs of the parameters cell (``None`` = "from the preset");
    ``table`` maps each preset name to the default of every knob. Explicit values win.
    Returns a namespace with one attribute per knob plus ``preset`` and ``device``, seeds
    everything with ``seed`` when that knob exists, sets PyTorch's CPU threads
    (``set_threads(cpu_threads)``: 1 suits notebooks of tiny networks), and starts the clock
    that ``publish`` reports.
    """
    global _current
    name = preset(PRESET)
    missing = [p for p in PRESETS if p not in table]
    if missing:
        raise ValueError(f"preset table of {notebook} lacks {missing}")
    defaults = dict(table[name])
    unknown = sorted(set(values) - set(defaults))
    if unknown:
        raise ValueError(f"{notebook}: no preset default for {unknown}; "
                         f"known knobs: {sorted(defaults)}")
    resolved = {k: (values[k] if values.get(k) is not None else v) for k, v in defaults.items()}
    _current = Run(notebook=os.environ.get(ENV_NOTEBOOK) or notebook, preset=name,
                   parameters=dict(resolved))
    set_threads(cpu_threads)
    if "seed" in resolved:
        seed_everything(resolved["seed"])
    return SimpleNamespace(**resolved, preset=name, device=device())


def cache_dir(sub: str = "") -> Path:
    """A writable folder for generated data (``$GAN_TUTORIAL_CACHE`` or ``~/.cache/gan_tutorial``)."""
    root = Path(os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "gan_tutorial")
    path = root / sub if sub else root
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """The repository's ``data/`` folder (sample files in the real formats)."""
    return Path(__file__).resolve().parent.parent / "data"


def cpu_name(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> str:
    """The CPU's model name where the system says it (Linux's ``cpuinfo``; else the architecture)
    and the widest vector instructions PyTorch's CPU kernels use on it, e.g. ``"AMD EPYC (AVX2)"``."""
    name = ""
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            if line.lower().startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    name = name or platform.processor() or platform.machine() or "unknown CPU"
    return f"{name} ({torch.backends.cpu.get_cpu_capability()})"


def device_name(dev: torch.device | str | None = None) -> str:
    """The device (default: ``device()``) as a run's record names it, with the GPU's model, e.g.
    ``"cuda:0 (NVIDIA H200)"``, or ``"cpu"``."""
    dev = device() if dev is None else torch.device(dev)
    return str(dev) + (f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else "")


def machine_line(dev: torch.device | str | None = None) -> str:
    """One line for a benchmark's header: what its timings depend on besides its own settings, the
    device, the CPU, torch and PyTorch's CPU threads (as ``environment()`` records them)."""
    return (f"device {device_name(dev)}, CPU {cpu_name()}, torch {torch.__version__}, "
            f"{torch.get_num_threads()} CPU threads")


def environment() -> dict[str, str]:
    """The device, the versions that matter, the CPU and PyTorch's CPU threads: what a run's numbers
    depend on besides its parameters. The thread count belongs here: with another count, sums are
    rounded in another order, and a GAN's training amplifies that (seed 5 of chapter 7 gave an
    arithmetic score of 0.52 on two threads and 0.64 on one). So does the CPU: its vector
    instructions choose the kernels, and with them the rounding."""
    import matplotlib
    import scipy
    import sklearn

    return {
        "device": device_name(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "matplotlib": matplotlib.__version__,
        "cpu": cpu_name(),
        "threads": str(torch.get_num_threads()),
    }


def describe(PRESET: str | None = None, file=None) -> dict[str, str]:
    """Print (and return) device, preset, the versions that matter, the CPU and its threads."""
    env = environment()
    info = {"device": env.pop("device"), "preset": preset(PRESET), **env}
    width = max(map(len, info))
    for k, v in info.items():
        print(f"{k:>{width}}: {v}", file=file or sys.stdout)
    return info
