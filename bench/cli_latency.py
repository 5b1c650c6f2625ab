"""How long a CLI command takes on a small database, against the bare interpreter's start-up.

    uv run python bench/cli_latency.py [--runs 15]

Prints the median wall time of `userman user print` (100 users) and of `python -c pass`, and
their ratio. It measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def median_seconds(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        userman = [sys.executable, "-m", "userman", "--db", url]
        subprocess.run(
            [*userman, "user", "add-batch-users", "number-of-users=100", "username-prefix=b"],
            check=True,
            capture_output=True,
        )
        bare = median_seconds([sys.executable, "-c", "pass"], runs)
        command = median_seconds([*userman, "user", "print", "count-only"], runs)
    print(f"python -c pass:               {bare * 1000:7.1f} ms")
    print(f"userman user print count-only: {command * 1000:7.1f} ms ({command / bare:.1f}x)")


if __name__ == "__main__":
    main()
