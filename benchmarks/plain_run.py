"""Run a course notebook as a plain Python script, for machines with PyTorch but no Jupyter
(a bare GPU server, a batch queue). ``python -m gan_tutorial run`` is the normal way; this one
needs only the package's own dependencies.

The code cells run in order in one namespace; IPython-only lines (``%pip``, ``!cmd``) are
skipped; the overrides are assigned right after the cell tagged ``parameters``, as papermill
would. Figures go to the Agg backend. Metrics published by ``report.publish`` are appended to
``--results`` (the same JSON records the runner collects). Where IPython is missing (GPU images
often lack it), a stand-in ``IPython.display`` prints what ``display`` is given (``Markdown``
and ``HTML`` as their source text).

    python benchmarks/plain_run.py notebooks/07_dcgan_latent_arithmetic.ipynb --preset gpu \
        -p num_steps 5000 --results runs/gpu/results.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


STAND_IN = "_plain_run_display"   # the module that stands in for IPython.display


def script(notebook: Path, overrides: dict, ipython: bool = True) -> str:
    """The notebook's code cells as one script; without ``ipython``, imports from
    ``IPython.display`` come from the stand-in module."""
    nb = json.loads(notebook.read_text())
    parts = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        lines = [ln[:len(ln) - len(ln.lstrip())] + "pass  # " + ln.strip()
                 if ln.lstrip().startswith(("%", "!")) else ln for ln in src.splitlines()]
        if not ipython:
            lines = [ln.replace("from IPython.display import", f"from {STAND_IN} import") for ln in lines]
        parts.append("\n".join(lines))
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            parts.append("\n".join(f"{k} = {v!r}" for k, v in overrides.items()))
    return "\n\n".join(parts) + "\n"


def register_display_stand_in() -> None:
    """A module with ``display`` (prints its arguments), ``Markdown`` and ``HTML`` (their source
    text), importable as ``STAND_IN``."""
    import types

    class Markdown(str):
        """Markdown source, shown as it is."""

        def __new__(cls, data="", *args, **kwargs):
            return super().__new__(cls, data)

    def display(*objs, **kwargs):
        for obj in objs:
            print(obj)

    module = types.ModuleType(STAND_IN)
    module.Markdown, module.HTML, module.display = Markdown, type("HTML", (Markdown,), {}), display
    sys.modules[STAND_IN] = module


def has_ipython() -> bool:
    try:
        import IPython.display  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebook", type=Path)
    ap.add_argument("--preset", default=None)
    ap.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    ap.add_argument("--results", default=None, help="append published metrics to this JSON file")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from gan_tutorial import course      # the runner's own -p parsing and parameter check

    try:
        course.check_parameters([args.notebook], [name for name, _ in args.p])
    except course.CourseError as err:
        sys.exit(f"plain_run: {err}")
    overrides = {"PRESET": args.preset} if args.preset else {}
    overrides.update({name: course.parse_value(value) for name, value in args.p})
    os.environ.setdefault("MPLBACKEND", "Agg")
    ipython = has_ipython()
    if not ipython:
        register_display_stand_in()
        print("plain_run: IPython is not installed; display() prints text", flush=True)
    os.environ["GAN_TUTORIAL_NOTEBOOK"] = args.notebook.stem
    if args.results:
        os.environ["GAN_TUTORIAL_RESULTS"] = str(Path(args.results).resolve())
        Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    code = compile(script(args.notebook, overrides, ipython), str(args.notebook), "exec")
    t0 = time.perf_counter()
    exec(code, {"__name__": "__main__"})
    print(f"{args.notebook.name}: done in {time.perf_counter() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
