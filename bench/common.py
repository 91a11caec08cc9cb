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


def load_average() -> str:
    """The 1/5/15-minute load average, printed with every measurement (the machine is shared)."""
    try:
        with open("/proc/loadavg") as f:
            return "load average " + " ".join(f.read().split()[:3])
    except OSError:
        return "load average unknown"
