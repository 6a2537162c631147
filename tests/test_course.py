"""The course runner: naming notebooks, checking parameters, papermill reruns, sweeps."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gan_tutorial import course

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = course.all_notebooks(ROOT / "notebooks")


def runner(*args, cwd=ROOT, timeout=600):
    return subprocess.run([sys.executable, "-m", "gan_tutorial", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def write_notebook(path, sources, parameters=0):
    """A small notebook at ``path``: one code cell per source, the one at index ``parameters``
    tagged ``parameters`` (for papermill and plain_run). Returns ``path``."""
    cells = [{"id": f"cell{i}", "cell_type": "code", "metadata": {"tags": ["parameters"]} if i == parameters else {},
              "outputs": [], "execution_count": None, "source": source} for i, source in enumerate(sources)]
    kernel = {"name": "python3", "language": "python", "display_name": "Python 3"}
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": kernel},
                                "cells": cells}))
    return path


def test_notebooks_are_named_by_number_prefix_or_file():
    folder = ROOT / "notebooks"
    first = NOTEBOOKS[0]
    assert course.resolve([first.stem[:2]], folder) == [first]
    assert course.resolve([first.stem], folder) == [first]
    assert course.resolve([first.name], folder) == [first]
    assert course.resolve([], folder) == NOTEBOOKS
    with pytest.raises(course.CourseError, match="matches no notebook"):
        course.resolve(["99"], folder)
    with pytest.raises(course.CourseError, match="ambiguous"):
        course.resolve(["0"], folder)


def test_parse_value():
    assert course.parse_value("7") == 7 and course.parse_value("0.1") == 0.1
    assert course.parse_value("true") is True and course.parse_value("None") is None
    assert course.parse_value("[1, 2]") == [1, 2] and course.parse_value("dermamnist") == "dermamnist"
    assert course.parse_value("(27, 63)") == [27, 63]     # papermill would pass a tuple as a string


def test_a_tuple_parameter_reaches_the_notebook_as_a_sequence(tmp_path):
    """-p hair_angles "(27, 63)": papermill writes a tuple into the notebook as a string; the
    runner hands it over as a list, which the notebook can unpack."""
    book = write_notebook(tmp_path / "97_tuple.ipynb", [
        "PRESET = None\nangles = None",
        "from gan_tutorial import report\nlo, hi = angles\nreport.publish({'lo': lo, 'hi': hi}, {})"])
    record = course.execute(book, "smoke", {"angles": course.parse_value("(27, 63)")}, tmp_path / "out",
                            progress=False)
    assert record["status"] == "ok", record.get("error")
    assert record["metrics"] == {"lo": 27.0, "hi": 63.0}


def test_unknown_parameter_fails_at_once_naming_it():
    start = time.perf_counter()
    res = runner("run", "02", "-p", "no_such_parameter", "1")
    assert res.returncode == 2
    assert "no_such_parameter" in res.stderr and "02_vanilla_gan" in res.stderr
    assert time.perf_counter() - start < 30          # nothing was executed
    assert "executed" not in res.stdout


def test_unknown_notebook_and_preset_are_errors():
    assert runner("run", "99").returncode == 2
    res = runner("run", "01", "--preset", "laptop")
    assert res.returncode == 2 and "smoke" in res.stderr


def test_run_reruns_a_notebook_with_changed_parameters(tmp_path):
    res = runner("run", "01", "--preset", "smoke", "-p", "seed", "3", "-p", "grid_points", "1501",
                 "--out", str(tmp_path), "-q")
    assert res.returncode == 0, res.stdout + res.stderr
    records = json.loads((tmp_path / "smoke" / "results.json").read_text())
    [rec] = records
    assert rec["notebook"] == "01_divergences" and rec["preset"] == "smoke" and rec["status"] == "ok"
    assert rec["parameters"]["seed"] == 3 and rec["parameters"]["grid_points"] == 1501
    assert rec["metrics"] and rec["targets"] == {} and rec["met"] is True
    assert (tmp_path / "smoke" / "01_divergences.ipynb").exists()
    assert "01_divergences" in res.stdout and "w1_lines_max_error" in res.stdout
    listing = runner("list", "--out", str(tmp_path))
    assert listing.returncode == 0 and "01_divergences" in listing.stdout


def test_a_failing_notebook_makes_the_run_fail(tmp_path):
    # an invalid grid (one point) breaks the notebook: the runner reports it and exits non-zero
    res = runner("run", "01", "--preset", "smoke", "-p", "grid_points", "1", "--out", str(tmp_path), "-q")
    assert res.returncode == 1
    assert "FAILED" in res.stdout
    [rec] = json.loads((tmp_path / "smoke" / "results.json").read_text())
    assert rec["status"] == "failed" and rec["met"] is False and rec["error"]


def test_sweep_writes_a_table_csv_and_json(tmp_path):
    res = runner("sweep", "01", "-p", "grid_points", "1001", "2001", "--preset", "smoke", "--out", str(tmp_path), "-q")
    assert res.returncode == 0, res.stdout + res.stderr
    out = tmp_path / "sweeps" / "01_divergences" / "smoke"
    summary = json.loads((out / "sweep.json").read_text())["summary"]
    assert [row["grid_points"] for row in summary] == [1001, 2001]
    assert all("kl_closed_form_error_mean" in row for row in summary)
    assert (out / "sweep.csv").read_text().splitlines()[0].startswith("grid_points,")
    assert "grid_points=1001" in res.stdout


def test_sweep_names_each_run_file_safely_and_once():
    taken = set()
    assert course.run_suffix({"hair_angles": [27, 63], "seed": 0}, taken) == "__hair_angles=-27-63-_seed=0"
    assert course.run_suffix({"data_dir": "C:/data sets"}, taken) == "__data_dir=C-data-sets"
    assert course.run_suffix({"data_dir": "C:\\data sets"}, taken) == "__data_dir=C-data-sets-2"  # no overwrite
    assert course.run_suffix({"lr": 0.0002, "amp": True}, taken) == "__lr=0.0002_amp=True"
    assert course.run_suffix({}, taken) == ""


def test_sweep_rejects_unknown_parameter():
    res = runner("sweep", "01", "-p", "nope", "1", "2")
    assert res.returncode == 2 and "nope" in res.stderr


def test_plain_run_executes_a_notebook_without_jupyter(tmp_path):
    """benchmarks/plain_run.py (for GPU machines without Jupyter): magics skipped, overrides after
    the parameters cell, published metrics appended to --results."""
    path = write_notebook(tmp_path / "99_plain.ipynb", [
        "import sys\nif 'google.colab' in sys.modules:\n    %pip install nothing\n!echo skipped",
        "PRESET = None\nx = 1",
        "from gan_tutorial import report, runtime\ncfg = runtime.configure('t', PRESET, dict(x=x), "
        "{'smoke': dict(x=1), 'cpu': dict(x=1), 'gpu': dict(x=1)})\n"
        "report.publish({'x': cfg.x}, {'x': '>= 2'})"], parameters=1)
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "plain_run.py"), str(path), "--preset", "smoke",
                           "-p", "x", "3", "--results", str(out)], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    record = json.loads(out.read_text())[-1]
    assert record["notebook"] == "99_plain" and record["preset"] == "smoke"
    assert record["metrics"] == {"x": 3.0} and record["met"] is True


def test_plain_run_stands_in_for_a_missing_ipython(tmp_path):
    """On a machine without IPython, ``from IPython.display import ...`` in a notebook still runs:
    display() prints Markdown as its source text."""
    blocker = tmp_path / "blocked" / "IPython"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('IPython is blocked for this test')\n")
    path = write_notebook(tmp_path / "98_display.ipynb", [
        "PRESET = None",
        "from IPython.display import Markdown, display\ndisplay(Markdown('| a |\\n| - |'), 42)"])
    env = {**os.environ, "PYTHONPATH": f"{tmp_path / 'blocked'}{os.pathsep}{ROOT}"}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "plain_run.py"), str(path)],
                          capture_output=True, text=True, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "IPython is not installed" in proc.stdout
    assert "| a |\n| - |\n42\n" in proc.stdout
