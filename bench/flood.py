"""A legitimate router's answers under a junk flood ten times its rate, in one run.

    uv run python bench/flood.py [--users 1000] [--rate 1000] [--factor 10] [--seconds 8]

`userman serve` (a fresh SQLite database filled by `userman import`, RADIUS only) is pinned to
one core; on the other, the load generator (bench/loadgen.py) sends the router's PAP
Access-Requests at `--rate` a second (open loop, each answer verified), while a flooder process
sends `--factor` times as many datagrams of one kind of junk:

- unknown: well-formed Access-Requests from 127.0.0.2, an address that is no router's;
- garbage: random octets from the router's own address (another port), as a spoofer sends;
- forged: well-formed Access-Requests from the router's address whose Message-Authenticator
  is wrong (signed with another secret): each costs a decode and an HMAC before it is dropped.

Each flood is run after a baseline without one. Prints, for each, the share of the router's
requests answered in the window, the p50 and p99 latency, and the server's CPU. Issue 11's aim:
the router keeps at least 90 % of its answers under each flood. It measures; it asserts
nothing. Every wait is bounded; the processes it starts are stopped by their PIDs.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import userman_setup
from flows import SteadyAccess, shuffled
from loadgen import drive, status_server
from packets import AccessRequests, D
from servers import cores, free_port, start

from userman.radius.packet import Code, build, encode

KINDS = ("unknown", "garbage", "forged")
BATCH = 0.002  # seconds between two bursts of the flooder


def say(text: str) -> None:
    print(f"# {text}", file=sys.stderr, flush=True)


def junk(kind: str, users: int) -> list[bytes]:
    """A few thousand datagrams of `kind`, sent round and round."""
    requests = AccessRequests("pap", users)
    out = []
    for n in range(4096):
        if kind == "garbage":
            out.append(os.urandom(20 + n % 200))
            continue
        data, _ = requests.make(n % 256, n % users)  # unknown: well-formed, signed
        if kind == "forged":
            pkt = build(
                D,
                Code.ACCESS_REQUEST,
                n % 256,
                os.urandom(16),
                [("User-Name", f"user{n}"), ("User-Password", "x")],
            )
            data = encode(pkt, b"not-the-secret", message_authenticator=True)
        out.append(data)
    return out


def flooder(kind: str, users: int, rate: float, target: tuple[str, int], until: float) -> None:
    """Send `rate` datagrams a second of `kind` to `target` until the clock reaches `until`."""
    source = "127.0.0.2" if kind == "unknown" else "127.0.0.1"
    datagrams = junk(kind, users)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.setblocking(False)
        start = time.monotonic()
        sent = 0
        while (now := time.monotonic()) < until:
            due = int((now - start) * rate) - sent
            for _ in range(due):
                with contextlib.suppress(BlockingIOError):  # the kernel's buffer is full: lost
                    sock.sendto(datagrams[sent % len(datagrams)], target)
                sent += 1
            time.sleep(BATCH)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=int, default=1000, help="users (default 1000)")
    parser.add_argument("--rate", type=float, default=1000.0, help="the router's requests/s")
    parser.add_argument("--factor", type=float, default=10.0, help="junk per request")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured s per run")
    parser.add_argument("--kinds", default=",".join(KINDS), help="which floods")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    pinned = cores()
    if pinned is not None:
        os.sched_setaffinity(0, {pinned[0]})
    with tempfile.TemporaryDirectory(prefix="userman-flood-") as tmp:
        folder = Path(tmp)
        say(f"userman import of {args.users:,} users")
        url, _, why = userman_setup.provision(folder, args.users, limit=600)
        if why:
            sys.exit(why)
        auth, acct = free_port(), free_port()
        server, why = start(
            "userman",
            userman_setup.serve(url, auth, acct),
            core=pinned[1] if pinned else None,
            log=folder / "server.out",
            auth_port=auth,
            acct_port=acct,
            ready=lambda address: status_server(address, wait=0.5),
            limit=120,
        )
        if why:
            sys.exit(f"userman serve: {why}")
        try:
            rows = []
            requests = AccessRequests("pap", args.users)
            order = shuffled(args.users, 1)
            for kind in ("none", *args.kinds.split(",")):
                child = None
                if kind != "none":
                    until = time.monotonic() + 0.5 + args.seconds + 1.0
                    junk_rate = args.rate * args.factor
                    child = multiprocessing.Process(
                        target=flooder, args=(kind, args.users, junk_rate, server.auth, until)
                    )
                    child.start()
                before = server.usage()
                result = drive(
                    SteadyAccess(requests, order),
                    [server.auth, server.acct],
                    seconds=args.seconds,
                    rate=args.rate,
                    timeout=3.0,
                )
                after = server.usage()
                if child is not None:
                    child.join(timeout=10)
                    if child.is_alive():
                        child.kill()
                expected = args.rate * result.window
                share = result.answered / expected if expected else 0.0
                p50, p99 = result.percentile(0.5), result.percentile(0.99)
                cpu = (after.cpu - before.cpu) / max(result.window, 1e-9)
                rows.append((kind, share, p50, p99, cpu, result.timeouts))
                say(f"{kind}: {share:.1%} answered")
        finally:
            server.stop()
    print(
        f"userman serve, {args.users:,} users, the router at {args.rate:,.0f} PAP requests/s, "
        f"junk at {args.factor:g}x, {args.seconds:g} s each, 2 cores (server and generator "
        f"pinned apart)"
    )
    print("| flood | answered | p50 | p99 | server CPU | timeouts |")
    print("|---|---|---|---|---|---|")
    for kind, share, p50, p99, cpu, timeouts in rows:
        ms50 = f"{p50 * 1000:.1f} ms" if p50 is not None else "-"
        ms99 = f"{p99 * 1000:.1f} ms" if p99 is not None else "-"
        print(f"| {kind} | {share:.1%} | {ms50} | {ms99} | {cpu:.0%} | {timeouts} |")


if __name__ == "__main__":
    main()
