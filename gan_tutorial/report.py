"""``publish``: the one way a notebook reports its headline numbers.

A notebook ends with ``publish(metrics, targets)``. It shows a small table (metric, value,
target, met) and, when ``$GAN_TUTORIAL_RESULTS`` names a file, appends one JSON record
``{"notebook", "preset", "parameters", "environment", "seconds", "metrics", "targets", "met"}``
to it (a JSON list, rewritten atomically); ``environment`` (``runtime.environment()``: device,
versions, CPU threads) says where the numbers came from. The course runner collects these records.

A target is a comparison with a number: ``">= 8"``, ``"< 25"``, ``"<= 0.6"``, ``"== 8"``,
or a closed range ``"in [0.4, 0.6]"``.
"""
from __future__ import annotations

import json
import math
import operator
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping

from . import runtime

ENV_RESULTS = "GAN_TUTORIAL_RESULTS"

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt,
        "==": operator.eq, "!=": operator.ne}
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_CMP = re.compile(rf"^\s*(>=|<=|==|!=|>|<)\s*({_NUM})\s*$")
_RANGE = re.compile(rf"^\s*in\s*\[\s*({_NUM})\s*,\s*({_NUM})\s*\]\s*$")


def check(value: float, target: str) -> bool:
    """Whether ``value`` meets ``target`` (``">= 0.5"``, ``"in [1, 2]"``...). NaN never meets."""
    m = _CMP.match(target)
    r = _RANGE.match(target) if m is None else None
    if m is None and r is None:
        raise ValueError(f"target {target!r} is not understood; write e.g. '>= 0.5', '< 25' "
                         "or 'in [0.4, 0.6]'")
    value = float(value)
    if math.isnan(value):
        return False
    if m is not None:
        return bool(_OPS[m.group(1)](value, float(m.group(2))))
    return float(r.group(1)) <= value <= float(r.group(2))


def _to_float(name: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"metric {name!r} must be a number, got {value!r}") from None


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``:
    a reader sees the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_records(path: str | os.PathLike) -> list[dict]:
    """The records in a results file (an empty list when it does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    text = path.read_text()
    if not text.strip():
        return []
    data = json.loads(text)
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of records, found {type(data).__name__}")
    return data


def append_record(path: str | os.PathLike, record: Mapping[str, Any]) -> None:
    records = read_records(path)
    records.append(dict(record))
    atomic_write_text(path, json.dumps(records, indent=2, default=str) + "\n")


def format_table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def fmt(value: float) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.4g}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def publish(metrics: Mapping[str, float], targets: Mapping[str, str] | None = None,
            notebook: str | None = None) -> dict:
    """Show the headline numbers of a notebook, check them against ``targets``, and record them.

    Returns the record. ``met`` is true when every target is met (and true when there are none,
    as in the ``smoke`` preset). Targets that name no published metric raise ``KeyError``.
    """
    targets = dict(targets or {})
    values = {str(k): _to_float(k, v) for k, v in metrics.items()}
    unknown = sorted(set(targets) - set(values))
    if unknown:
        raise KeyError(f"targets name metrics that were not published: {unknown}")
    met_each = {k: check(values[k], t) for k, t in targets.items()}
    run = runtime.current_run()
    record = {
        "notebook": notebook or (run.notebook if run else os.environ.get(runtime.ENV_NOTEBOOK, "interactive")),
        "preset": run.preset if run else runtime.preset(),
        "parameters": run.parameters if run else {},
        "environment": runtime.environment(),
        "seconds": round(time.perf_counter() - run.started, 2) if run else None,
        "metrics": values,
        "targets": targets,
        "met": all(met_each.values()),
    }
    rows = [[k, fmt(v), targets.get(k, ""), ("yes" if met_each[k] else "NO") if k in targets else ""]
            for k, v in values.items()]
    print(f"Results of {record['notebook']} (preset {record['preset']}, "
          f"{record['seconds']} s)" if record["seconds"] is not None else f"Results ({record['preset']})")
    print(format_table(rows, ["metric", "value", "target", "met"]))
    if targets:
        print("all targets met" if record["met"] else
              "MISSED: " + ", ".join(k for k, ok in met_each.items() if not ok))
    out = os.environ.get(ENV_RESULTS)
    if out:
        append_record(out, record)
    return record
