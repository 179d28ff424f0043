"""How much of the tunnel's echo latency is TLS and policy, and how much is a Python hop.

Runs the shared harness's latency test (one kept-alive mTLS connection, 1 KiB echo round
trips) on four targets in one run, each `--repeat` times, and prints medians:

* ``stunnel``: the C reference;
* ``zerotls``: ``zerotls tunnel server`` (TLS 1.3, client certificates, policy, audit log);
* ``hop+zerotls``: the same tunnel behind a plain TCP forwarder written as the tunnel's data
  path is (uvloop, a BufferedProtocol, one write per read, no TLS, no policy);
* ``hop+stunnel``: that forwarder in front of stunnel.

``hop+X - X`` is what one Python hop on uvloop costs per round trip (two reads, two writes)
with nothing else to do; ``zerotls - stunnel`` is what zerotls costs above the C reference.
When the two are equal, TLS termination, authorization and the audit trail cost nothing
beyond the event loop, and the rest of the gap belongs to running the data path in Python.

    .venv/bin/python bench/latency_floor.py                  # both cores, 3 runs each
    .venv/bin/python bench/latency_floor.py --pin 0          # all processes on CPU 0
    .venv/bin/python bench/latency_floor.py --forward 9000 9001   # the forwarder alone

``--pin`` runs every process on the given CPUs (taskset): on a 2-core virtual machine the
cross-core wake-ups otherwise dominate and make the medians bimodal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _net import free_port, wait_port

ROOT = Path(__file__).resolve().parent.parent


def forward(listen: int, target: int) -> None:
    """A plain TCP forwarder on 127.0.0.1: the floor of a Python hop (no TLS, no policy)."""
    import uvloop

    buf = memoryview(bytearray(256 * 1024))

    class Side(asyncio.BufferedProtocol):
        def __init__(self, peer: Side | None = None) -> None:
            self.peer = peer
            self.transport: asyncio.Transport | None = None
            self.early: list[bytes] = []  # read before the target answered
            self.early_eof = False

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport  # type: ignore[assignment]
            if self.peer is None:  # accepted: dial the target, read once it answers
                self.transport.pause_reading()  # type: ignore[union-attr]
                asyncio.get_running_loop().create_task(self.dial())
            else:
                self.peer.peer = self
                self.transport.writelines(self.peer.early)  # type: ignore[union-attr]
                if self.peer.early_eof:
                    self.transport.write_eof()  # type: ignore[union-attr]
                self.peer.transport.resume_reading()  # type: ignore[union-attr]

        async def dial(self) -> None:
            loop = asyncio.get_running_loop()
            await loop.create_connection(lambda: Side(self), "127.0.0.1", target)

        def get_buffer(self, sizehint: int) -> memoryview:
            return buf

        def buffer_updated(self, nbytes: int) -> None:
            if self.peer is None:
                self.early.append(bytes(buf[:nbytes]))
            else:
                self.peer.transport.write(buf[:nbytes])  # type: ignore[union-attr]

        def eof_received(self) -> bool:
            if self.peer is None:
                self.early_eof = True
            else:
                self.peer.transport.write_eof()  # type: ignore[union-attr]
            return True

        def connection_lost(self, exc: Exception | None) -> None:
            if self.peer is not None and self.peer.transport is not None:
                self.peer.transport.close()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        await loop.create_server(Side, "127.0.0.1", listen)
        await asyncio.Event().wait()

    wait_port(target, timeout=30)  # listen once the target does: the harness never races it
    uvloop.run(main())


def _stunnel_conf(harness: Path) -> str:
    """The harness's own stunnel configuration, so both sides of the comparison use it."""
    sys.path.insert(0, str(harness))
    import bench_peers

    return str(bench_peers.STUNNEL_CONF)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--harness",
        type=Path,
        default=Path(os.environ.get("ZEROTLS_BENCH_HARNESS", ROOT.parent / "shared" / "bench")),
    )
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pin", help="CPU list for taskset, e.g. 0 (every process on CPU 0)")
    ap.add_argument(
        "--forward",
        nargs=2,
        type=int,
        metavar=("LISTEN", "TARGET"),
        help="run only the plain forwarder",
    )
    args = ap.parse_args()
    if args.forward:
        try:
            forward(*args.forward)
        except RuntimeError as exc:  # the target never listened
            print(f"--forward: {exc}", file=sys.stderr)
            return 2
        return 0
    harness = args.harness / "tunnel_bench.py"
    if not harness.exists():
        print(f"harness not found at {args.harness}: pass --harness DIR", file=sys.stderr)
        return 2
    stunnel = shutil.which("stunnel4") or shutil.which("stunnel")
    if stunnel is None:
        print("stunnel is not installed: apt-get install stunnel4", file=sys.stderr)
        return 2
    zerotls = str(ROOT / ".venv" / "bin" / "zerotls")
    py = sys.executable
    me = str(Path(__file__).resolve())
    inner = str(free_port())  # where the proxy behind the forwarder listens
    zt = (
        f"{zerotls} tunnel server --target 127.0.0.1:{{backend_port}} --cert {{cert}} "
        f"--key {{key}} --ca {{ca}} --allow any --audit-log {{dir}}/audit.jsonl --workers 1"
    )
    targets = {
        "stunnel": (f"{stunnel} {{dir}}/stunnel.conf", "{port}"),  # the harness fills {port}
        "zerotls": (f"{zt} --listen 127.0.0.1:{{port}}", None),
        "hop+zerotls": (
            f"{zt} --listen 127.0.0.1:{inner} & exec {py} {me} --forward {{port}} {inner}",
            None,
        ),
        "hop+stunnel": (
            f"{stunnel} {{dir}}/stunnel.conf & exec {py} {me} --forward {{port}} {inner}",
            inner,
        ),
    }
    conf = _stunnel_conf(args.harness)
    results: dict[str, list[dict]] = {name: [] for name in targets}
    work = Path(tempfile.mkdtemp(prefix="zerotls-floor-"))
    pki = work / "pki"
    subprocess.run([py, str(harness), "pki", str(pki)], check=True, stdout=subprocess.DEVNULL)
    for rnd in range(args.repeat):
        for name, (cmd, stunnel_port) in targets.items():
            files: list[str] = []
            if stunnel_port is not None:
                tmpl = work / f"{name}.stunnel.conf"
                tmpl.write_text(conf.replace("{port}", stunnel_port))
                files = ["--file", f"stunnel.conf={tmpl}"]
            run = [
                py,
                str(harness),
                "run",
                "--name",
                name,
                "--tests",
                "latency",
                "--pki-dir",
                str(pki),
                "--workdir",
                str(work / f"{name}-{rnd}"),
                *files,
                "--cmd",
                f"sh -c '{cmd}'",
            ]
            if args.pin:
                run = ["taskset", "-c", args.pin, *run]
            out = subprocess.run(run, check=False, capture_output=True, text=True, timeout=300)
            try:
                lat = json.loads(out.stdout)["latency"]
            except (ValueError, KeyError, TypeError):
                print(f"{name}: no result ({out.stderr.strip().splitlines()[-1:]})")
                continue
            if "p50_us" in lat:
                results[name].append(lat)
                print(
                    f"{name:<12} run {rnd + 1}: p50 {lat['p50_us']:.1f} us, "
                    f"p99 {lat['p99_us']:.1f} us",
                    flush=True,
                )
            else:
                print(f"{name}: {lat.get('error', lat)}")
    med = {
        n: (statistics.median(r["p50_us"] for r in rs), statistics.median(r["p99_us"] for r in rs))
        for n, rs in results.items()
        if rs
    }
    where = f"pinned to CPU {args.pin}" if args.pin else "unpinned"
    print(f"\nmedians over {args.repeat} runs ({where}):")
    for name, (p50, p99) in med.items():
        print(f"  {name:<12} p50 {p50:7.1f} us   p99 {p99:7.1f} us")
    if {"stunnel", "zerotls", "hop+zerotls", "hop+stunnel"} <= med.keys():
        hop = (
            med["hop+zerotls"][0] - med["zerotls"][0] + med["hop+stunnel"][0] - med["stunnel"][0]
        ) / 2
        gap = med["zerotls"][0] - med["stunnel"][0]
        print(f"\n  one plain Python hop (uvloop) costs      {hop:6.1f} us a round trip")
        print(f"  zerotls costs above stunnel             {gap:6.1f} us a round trip")
        print(f"  so TLS, policy and audit in zerotls add {gap - hop:6.1f} us beyond the hop")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
