"""pytest set-up for the whole repository.

The notebooks under nbval run in the ``smoke`` preset unless ``GAN_TUTORIAL_PRESET`` says
otherwise, so a bare ``pytest`` checks what ``make test`` checks (and in about the same time)
instead of training every chapter at ``cpu`` scale. The kernels nbval starts inherit this.
"""
import os

os.environ.setdefault("GAN_TUTORIAL_PRESET", "smoke")


def pytest_addoption(parser):
    """Accept ``--nbval-lax`` (in ``addopts``) where nbval is not installed, for example on a GPU
    machine that has only the runtime dependencies: the unit tests then run, and the notebooks,
    which only nbval collects, are left out (the header says so)."""
    try:
        parser.addoption("--nbval-lax", action="store_true",
                         help="(nbval is not loaded: the notebooks are not collected)")
    except ValueError:   # nbval registered it first: it is installed
        pass


def pytest_report_header(config):
    if not config.pluginmanager.hasplugin("nbval"):
        return "nbval is not loaded: the notebooks are not run (pip install -e '.[dev]')"
