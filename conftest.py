"""pytest set-up for the whole repository.

The notebooks under nbval run in the ``smoke`` preset unless ``GAN_TUTORIAL_PRESET`` says
otherwise, so a bare ``pytest`` checks what ``make test`` checks (and in about the same time)
instead of training every chapter at ``cpu`` scale. The kernels nbval starts inherit this.
"""
import os

os.environ.setdefault("GAN_TUTORIAL_PRESET", "smoke")
