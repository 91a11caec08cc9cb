"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import os
import platform
import time


def timed(fn) -> float:
    """Wall-clock seconds of one call."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def machine() -> str:
    import pandas as pd

    return f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, pandas {pd.__version__}"
