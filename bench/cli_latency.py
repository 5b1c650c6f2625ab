"""How long a CLI command takes on a small database, against the bare interpreter's start-up.

    uv run python bench/cli_latency.py [--runs 15]

Prints the median wall time of `userman user print count-only` (100 users) run in the CLI's
own process, and through a running `userman serve` (the control socket, cli/remote.py), next
to `python -c pass`, as ratios. It measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def median_seconds(command: list[str], runs: int, env: dict[str, str] | None = None) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "bench.db"
        userman = [sys.executable, "-m", "userman", "--db", f"sqlite:///{database}"]
        subprocess.run(
            [*userman, "user", "add-batch-users", "number-of-users=100", "username-prefix=b"],
            check=True,
            capture_output=True,
        )
        command = [*userman, "user", "print", "count-only"]
        bare = median_seconds([sys.executable, "-c", "pass"], runs)
        here = median_seconds(command, runs, env={**os.environ, "USERMAN_CONTROL": "off"})
        ports = [str(free_port()), str(free_port())]
        server = subprocess.Popen(
            [
                *userman,
                "serve",
                "--bind",
                "127.0.0.1",
                "--auth-port",
                ports[0],
                "--acct-port",
                ports[1],
                "--http-port",
                "0",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while not Path(f"{database}.sock").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            served = median_seconds(command, runs)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=10)
    print(f"python -c pass:                    {bare * 1000:7.1f} ms")
    print(f"user print count-only, in the CLI: {here * 1000:7.1f} ms ({here / bare:.1f}x)")
    print(f"user print count-only, by serve:   {served * 1000:7.1f} ms ({served / bare:.1f}x)")


if __name__ == "__main__":
    main()
