"""The header every benchmark prints: machine, package versions and thread settings.

Benchmarks run with one BLAS/OpenMP thread (see docs/engineering.md, "Threads"); the header shows
what the run actually had, so numbers from different runs can be compared or told apart.
"""

from __future__ import annotations

import os
import platform
from importlib.metadata import version

from threadpoolctl import threadpool_info

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def print_machine(title: str, packages: tuple[str, ...], threads_note: str = "") -> None:
    """Print ``title``, the machine, ``packages``' versions and the thread settings.

    Args:
        title: What the benchmark measures.
        packages: Distribution names whose versions matter to the numbers.
        threads_note: Appended to the thread line (torch threads, device, ...).
    """
    print(title)
    print(f"machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} logical CPUs")
    print(
        f"python {platform.python_version()}; "
        + ", ".join(f"{package} {version(package)}" for package in packages)
    )
    env = ", ".join(f"{var}={os.environ.get(var)}" for var in THREAD_VARIABLES)
    pools = ", ".join(f"{pool['internal_api']}={pool['num_threads']}" for pool in threadpool_info())
    note = f"; {threads_note}" if threads_note else ""
    print(f"threads: {env}; threadpoolctl: {pools or 'no pools'}{note}", flush=True)
