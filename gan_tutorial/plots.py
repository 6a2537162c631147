"""Figures used by more than one notebook."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
