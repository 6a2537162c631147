"""House rules that keep the repository usable: clean notebooks, the parameters contract, and
environment files in step with pyproject.toml."""
import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CONDA_NAMES = {"pytorch-cpu": "torch", "pytorch": "torch"}


def requirement(spec: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", spec)
    name, bound = m.group(1).lower(), m.group(2).replace(" ", "")
    return CONDA_NAMES.get(name, name).replace("_", "-"), bound


def pyproject():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return dict(map(requirement, data["dependencies"])), dict(map(requirement, data["optional-dependencies"]["dev"]))


def conda_deps(path: Path) -> dict[str, str]:
    deps = {}
    in_deps = False
    for line in path.read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        m = re.match(r"^  - ([^\s:]+.*)$", line)
        if in_deps and m and not line.strip().endswith(":"):
            name, bound = requirement(m.group(1))
            if name not in ("python", "pip"):
                deps[name] = bound
    return deps


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    runtime, dev = pyproject()
    assert conda_deps(ROOT / "environment.yml") == {**runtime, **dev}


def test_binder_environment_names_the_runtime_dependencies():
    runtime, _ = pyproject()
    assert conda_deps(ROOT / "binder" / "environment.yml") == runtime
    assert "pip install" in (ROOT / "binder" / "postBuild").read_text()


def test_a_bare_pytest_runs_the_notebooks_in_the_smoke_preset():
    # conftest.py at the root sets the preset nbval's kernels inherit, unless the caller chose one
    import os
    assert os.environ.get("GAN_TUTORIAL_PRESET") in ("smoke", "cpu", "gpu")
    assert 'setdefault("GAN_TUTORIAL_PRESET", "smoke")' in (ROOT / "conftest.py").read_text()


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 3


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_clean_and_keeps_the_contract(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert not [c for c in code if c.get("outputs") or c.get("execution_count")], f"{path.name} has stored outputs"
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, f"{path.name}: one cell tagged 'parameters' expected"
    src = "".join(params[0]["source"])
    assigned = {}
    for node in ast.parse(src).body:
        assert isinstance(node, ast.Assign), f"{path.name}: the parameters cell holds assignments only"
        assigned[node.targets[0].id] = node.value
    assert "PRESET" in assigned and "seed" in assigned
    assert all(isinstance(v, ast.Constant) and v.value is None for v in assigned.values()), \
        f"{path.name}: every knob of the parameters cell is None (from the preset)"
    body = "\n".join("".join(c["source"]) for c in nb["cells"])
    assert "report.publish(" in body or "publish(" in body
    assert f'runtime.configure("{path.stem}"' in body
    assert not re.search(r"""["']cuda(:\d)?["']|\.cuda\(\)""", body), f"{path.name} names cuda directly"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_reads_every_parameter(path, caplog):
    import papermill

    found = papermill.inspect_notebook(str(path))
    nb = json.loads(path.read_text())
    [cell] = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    names = [n.targets[0].id for n in ast.parse("".join(cell["source"])).body]
    assert list(found) == names
    assert "Unable to parse" not in caplog.text


def test_pytest_runs_the_unit_tests_without_nbval():
    """`addopts` holds --nbval-lax; without nbval, conftest.py must accept it so that a machine
    with only the runtime dependencies can still run the unit tests."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:nbval", "-p", "no:cacheprovider",
                           "tests/test_runtime_report.py", "-k", "test_preset_from_name_env_and_default"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
    assert "nbval is not loaded" in proc.stdout


def breakable(line: str, width: int = 100) -> bool:
    """True if the markdown line has a space at which it could be wrapped within `width`: one outside
    inline math, inline code and links, and after the list marker or indentation."""
    masked = re.sub(r"\$[^$]+\$|`[^`]+`|\[[^\]]*\]\([^)]*\)", lambda m: "x" * len(m.group(0)), line)
    start = len(re.match(r"^\s*(?:[-*+] |\d+[.)] )?", masked).group(0))
    return " " in masked[start + 1:width + 1]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_markdown_lines_wrap_at_100(path):
    """Prose in markdown cells wraps at 100 characters, as in the README. Tables, block quotes, display
    math and lines that no space can break (one long formula or link) may be longer."""
    long = []
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        math = False                         # inside a $$ ... $$ block over several lines
        for line in "".join(cell["source"]).splitlines():
            if math or "$$" in line:
                math ^= line.count("$$") % 2 == 1   # an odd count opens or closes a block
                continue
            if len(line) <= 100 or line.lstrip().startswith(("|", ">")):
                continue
            if breakable(line):
                long.append(line[:60])
    assert not long, f"{len(long)} markdown lines over 100 characters that could wrap: {long}"


def test_breakable_sees_spaces_outside_math_and_code_only():
    assert breakable("word " * 30)
    assert not breakable("$" + "a + b " * 30 + "$")
    assert not breakable("- `" + "x y " * 40 + "`")
    assert not breakable("[![badge](https://example.org/" + "a" * 120 + ")](https://example.org)")
