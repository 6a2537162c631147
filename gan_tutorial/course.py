"""The course runner: ``python -m gan_tutorial list | run | sweep``.

``run`` executes notebooks with papermill in a preset, collects the records that each
notebook's ``report.publish`` writes, prints one table and exits non-zero when a notebook fails
or misses a target. ``sweep`` reruns one notebook over a grid of parameter values (and seeds) and
prints the published metrics as mean ± std per grid point, also written as CSV and JSON.
"""
from __future__ import annotations

import argparse
import ast
import csv
import itertools
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from . import report, runtime

DEFAULT_OUT = "runs"


class CourseError(Exception):
    """A mistake in the command line (unknown notebook or parameter...): reported before running."""


def notebooks_dir() -> Path:
    """``./notebooks`` when run from a checkout, else the one beside the package."""
    here = Path.cwd() / "notebooks"
    return here if here.is_dir() else Path(__file__).resolve().parent.parent / "notebooks"


def all_notebooks(folder: Path | None = None) -> list[Path]:
    folder = folder or notebooks_dir()
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def resolve(names: Sequence[str], folder: Path | None = None) -> list[Path]:
    """Notebooks named by file name, path, number (``03``) or prefix (``03_mode``); all if none."""
    books = all_notebooks(folder)
    if not names:
        return books
    chosen = []
    for name in names:
        path = Path(name)
        if path.suffix == ".ipynb" and path.exists():
            chosen.append(path)
            continue
        stem = path.name[:-6] if path.name.endswith(".ipynb") else path.name
        hits = [b for b in books if b.stem == stem] or [b for b in books if b.stem.startswith(stem)]
        if len(hits) != 1:
            listing = ", ".join(b.stem for b in books) or "(none found)"
            what = "matches no notebook" if not hits else f"is ambiguous ({', '.join(h.stem for h in hits)})"
            raise CourseError(f"notebook {name!r} {what}; the notebooks are: {listing}")
        chosen.append(hits[0])
    return chosen


def parameter_names(notebook: Path) -> list[str]:
    """Names assigned in the notebook's cell tagged ``parameters``."""
    nb = json.loads(Path(notebook).read_text())
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise CourseError(f"{notebook.name}: expected one cell tagged 'parameters', found {len(cells)}")
    src = "".join(cells[0]["source"])
    names = []
    for node in ast.parse(src).body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) else [])
        for t in targets:
            if isinstance(t, ast.Name):
                names.append(t.id)
    return names


def parse_value(text: str) -> Any:
    """``-p`` values: Python/JSON literals (``7``, ``0.1``, ``True``, ``None``, ``[1, 2]``),
    anything else as a string. A tuple, ``(27, 63)``, becomes a list: papermill writes a tuple
    into the notebook as its text, a string, while a list arrives as a list."""
    low = text.strip().lower()
    if low in ("true", "false", "null", "none"):
        return {"true": True, "false": False}.get(low)
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return list(value) if isinstance(value, tuple) else value


def check_parameters(books: Sequence[Path], names: Sequence[str]) -> None:
    for book in books:
        known = parameter_names(book)
        unknown = [n for n in names if n not in known]
        if unknown:
            raise CourseError(f"{book.stem} has no parameter {', '.join(map(repr, unknown))}; "
                              f"its parameters cell defines: {', '.join(known)}")


def execute(book: Path, preset: str, params: dict[str, Any], out_dir: Path,
            progress: bool = True, suffix: str = "") -> dict:
    """Run one notebook with papermill; return its record (``status`` ok/failed, ``wall_seconds``)."""
    import papermill as pm

    out_dir.mkdir(parents=True, exist_ok=True)
    fd, results = tempfile.mkstemp(prefix=f"{book.stem}.", suffix=".json", dir=out_dir)
    os.close(fd)
    os.unlink(results)
    env = {runtime.ENV_PRESET: preset, report.ENV_RESULTS: results, runtime.ENV_NOTEBOOK: book.stem}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    start = time.perf_counter()
    error = None
    try:
        pm.execute_notebook(str(book), str(out_dir / f"{book.stem}{suffix}.ipynb"),
                            parameters={"PRESET": preset, **params}, progress_bar=progress,
                            cwd=str(book.parent), kernel_name="python3")
    except Exception as e:  # papermill's execution error carries the cell's traceback
        error = f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}"
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    wall = round(time.perf_counter() - start, 1)
    records = report.read_records(results) if Path(results).exists() else []
    if Path(results).exists():
        os.unlink(results)
    record = records[-1] if records else {
        "notebook": book.stem, "preset": preset, "parameters": params, "environment": {},
        "seconds": None, "metrics": {}, "targets": {}, "met": False}
    if error is None and not records:
        error = "the notebook published no results (report.publish was not reached)"
    record.update(status="failed" if error else "ok", wall_seconds=wall, overrides=params)
    if error:
        record["error"] = error
        record["met"] = False
    return record


def results_table(records: Sequence[dict]) -> str:
    rows = []
    for r in records:
        status = r.get("status", "ok")
        head = [r["notebook"], f"{r.get('wall_seconds', r.get('seconds'))}"]
        if status != "ok":
            rows.append(head + ["FAILED", r.get("error", "")[:60], "", "no"])
            continue
        if not r["metrics"]:
            rows.append(head + ["(no metrics)", "", "", ""])
        for i, (k, v) in enumerate(r["metrics"].items()):
            t = r["targets"].get(k, "")
            met = ("yes" if report.check(v, t) else "NO") if t else ""
            rows.append((head if i == 0 else ["", ""]) + [k, report.fmt(v), t, met])
    return report.format_table(rows, ["notebook", "seconds", "metric", "value", "target", "met"])


def merge_results(path: Path, records: Sequence[dict]) -> list[dict]:
    """Keep earlier records of other notebooks; replace those of the notebooks just run."""
    old = report.read_records(path)
    names = {r["notebook"] for r in records}
    merged = [r for r in old if r.get("notebook") not in names] + list(records)
    merged.sort(key=lambda r: r.get("notebook", ""))
    report.atomic_write_text(path, json.dumps(merged, indent=2, default=str) + "\n")
    return merged


def cmd_list(args) -> int:
    books = all_notebooks()
    out = Path(args.out)
    times = {}
    for p in runtime.PRESETS:
        for r in report.read_records(out / p / "results.json"):
            times[(r.get("notebook"), p)] = r
    rows = []
    for b in books:
        row = [b.stem]
        for p in runtime.PRESETS:
            r = times.get((b.stem, p))
            row.append("-" if r is None else
                       f"{r.get('wall_seconds')} s" + ("" if r.get("status", "ok") == "ok" and r.get("met", True) else " (!)"))
        rows.append(row)
    print(report.format_table(rows, ["notebook"] + [f"{p} (last run)" for p in runtime.PRESETS]))
    print(f"\n{len(books)} notebooks in {notebooks_dir()}; times from {out}/<preset>/results.json "
          "('-': not run yet, '(!)': failed or missed a target)")
    return 0


def _params(pairs) -> dict[str, Any]:
    return {name: parse_value(value) for name, value in (pairs or [])}


def cmd_run(args) -> int:
    preset = runtime.preset(args.preset)
    books = resolve(args.notebooks)
    params = _params(args.param)
    check_parameters(books, list(params))
    out = Path(args.out) / preset
    records = []
    for i, book in enumerate(books, 1):
        print(f"[{i}/{len(books)}] {book.stem} (preset {preset})", flush=True)
        rec = execute(book, preset, params, out, progress=not args.quiet)
        print(f"    {rec['status']} in {rec['wall_seconds']} s"
              + (f": {rec['error']}" if rec.get("error") else ""), flush=True)
        records.append(rec)
    merge_results(out / "results.json", records)
    print()
    print(results_table(records))
    failed = [r["notebook"] for r in records if r["status"] != "ok"]
    missed = [r["notebook"] for r in records if r["status"] == "ok" and not r["met"]]
    print()
    print(f"executed notebooks and results in {out}/")
    if failed:
        print("FAILED: " + ", ".join(failed))
    if missed:
        print("MISSED TARGETS: " + ", ".join(missed))
    if not failed and not missed:
        print(f"all {len(records)} notebooks ran and met their targets")
    return 1 if failed or missed else 0


def params_tag(params: dict) -> str:
    """``"k=v_k2=v2"``: a sweep run's parameters in one word ("" for the defaults)."""
    return "_".join(f"{k}={v}" for k, v in params.items())


def run_suffix(params: dict, taken: set) -> str:
    """The end of a sweep run's executed-notebook name, ``"__k=v_k2=v2"`` ("" for the defaults):
    characters other than letters, digits and ``._=+-`` become ``-`` (a list value such as
    ``[27, 63]``, a path, a Windows-invalid ``:``), and a name already in ``taken`` gets a number,
    so no run of the sweep overwrites another's notebook. The name is added to ``taken``."""
    tag = re.sub(r"[^A-Za-z0-9._=+-]+", "-", params_tag(params)).strip("-")
    suffix, n = ("__" + tag if tag else ""), 2
    while suffix in taken:
        suffix, n = f"__{tag}-{n}", n + 1
    taken.add(suffix)
    return suffix


def cmd_sweep(args) -> int:
    preset = runtime.preset(args.preset)
    [book] = resolve([args.notebook])
    grid = {}
    for group in args.param or []:
        if len(group) < 2:
            raise CourseError(f"-p {group[0]} needs at least one value")
        grid[group[0]] = [parse_value(v) for v in group[1:]]
    names = list(grid) + (["seed"] if args.seeds else [])
    if "seed" in grid and args.seeds:
        raise CourseError("give either -p seed ... or --seeds N, not both")
    check_parameters([book], names)
    seeds = list(range(args.seeds)) if args.seeds else [None]
    points = [dict(zip(grid, values)) for values in itertools.product(*grid.values())] or [{}]
    out = Path(args.out) / "sweeps" / book.stem / preset
    rows, taken = [], set()
    n_runs = len(points) * len(seeds)
    i = 0
    for point in points:
        recs = []
        for seed in seeds:
            i += 1
            params = dict(point) if seed is None else {**point, "seed": seed}
            print(f"[{i}/{n_runs}] {book.stem} {params_tag(params) or '(defaults)'}", flush=True)
            rec = execute(book, preset, params, out, progress=not args.quiet,
                          suffix=run_suffix(params, taken))
            print(f"    {rec['status']} in {rec['wall_seconds']} s"
                  + (f": {rec['error']}" if rec.get("error") else ""), flush=True)
            recs.append(rec)
        rows.append((point, recs))
    summary = []
    for point, recs in rows:
        ok = [r for r in recs if r["status"] == "ok"]
        entry = {**point, "runs": len(recs), "failed": len(recs) - len(ok)}
        metrics = sorted({k for r in ok for k in r["metrics"]})
        for m in metrics:
            vals = [r["metrics"][m] for r in ok if m in r["metrics"]]
            entry[f"{m}_mean"] = float(np.mean(vals))
            entry[f"{m}_std"] = float(np.std(vals))
        summary.append(entry)
    out.mkdir(parents=True, exist_ok=True)
    report.atomic_write_text(out / "sweep.json", json.dumps(
        {"notebook": book.stem, "preset": preset, "grid": grid, "seeds": seeds,
         "summary": summary, "records": [r for _, recs in rows for r in recs]},
        indent=2, default=str) + "\n")
    cols = list(dict.fromkeys(k for e in summary for k in e))
    with tempfile.NamedTemporaryFile("w", dir=out, delete=False, suffix=".tmp", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(summary)
    os.replace(f.name, out / "sweep.csv")
    metric_names = sorted({c[:-5] for c in cols if c.endswith("_mean")})
    table = []
    for e in summary:
        table.append([", ".join(f"{k}={e[k]}" for k in grid) or "(defaults)", f"{e['runs'] - e['failed']}/{e['runs']}"]
                     + [f"{e[m + '_mean']:.4g} ± {e[m + '_std']:.2g}" if m + "_mean" in e else "-"
                        for m in metric_names])
    print()
    print(report.format_table(table, ["point", "ok"] + metric_names))
    print(f"\n{book.stem}, preset {preset}, "
          f"{len(seeds)} seed(s) per point; written to {out}/sweep.csv and sweep.json")
    return 1 if any(e["failed"] for e in summary) else 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m gan_tutorial",
                                 description="Run the notebooks of the course and collect their results.")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="the notebooks, in order, with their last measured time per preset")
    p.add_argument("--out", default=DEFAULT_OUT, help="results folder (default: runs)")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("run", help="execute notebooks with papermill and check their targets")
    p.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                   help="file name, number (03) or prefix (03_mode); all when none")
    p.add_argument("--preset", choices=runtime.PRESETS, default=None,
                   help="default: $GAN_TUTORIAL_PRESET, else gpu with CUDA, else cpu")
    p.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"),
                   help="set a parameter of the notebooks' parameters cell")
    p.add_argument("--out", default=DEFAULT_OUT, help="where executed notebooks and results go (default: runs)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("sweep", help="rerun one notebook over a grid of parameter values")
    p.add_argument("notebook", metavar="NOTEBOOK")
    p.add_argument("-p", "--param", nargs="+", action="append", metavar="NAME V1",
                   help="a parameter and its values: -p lam 0 0.1 1 (several -p make a grid)")
    p.add_argument("--seeds", type=int, default=0, help="run each point with seeds 0..N-1")
    p.add_argument("--preset", choices=runtime.PRESETS, default=None)
    p.add_argument("--out", default=DEFAULT_OUT)
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_sweep)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (CourseError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
