"""Memory per idle mTLS connection held by the zerotls tunnel (goal: at most 64 KB).

Starts `zerotls tunnel server` as its own process in front of a cleartext listener that never
reads (the kernel's accept queue holds the backend side), opens N mutually authenticated TLS
connections through it, sends one byte each so every session is fully established (TLS,
policy, backend dialed), lets them go idle, and reads the tunnel's resident memory (VmRSS)
before and after. Prints KB per idle connection.

    python bench/idle_memory.py                 # 1000 connections
    python bench/idle_memory.py --connections 2000
"""

from __future__ import annotations

import argparse
import gc
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _net import wait_port


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--connections", type=int, default=1000)
    args = ap.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    from zerotls import ClientConfig, connect
    from zerotls.pki import CA

    root = Path(tempfile.mkdtemp(prefix="zerotls-idle-"))
    ca = CA.create("bench CA")
    (root / "ca.pem").write_bytes(ca.cert_pem)
    ca.issue("localhost", usage="server").write(root / "s.pem", root / "s.key")
    ca.issue("client", spiffe_id="spiffe://bench.example/client", usage="client").write(
        root / "c.pem", root / "c.key"
    )
    backend = socket.socket()
    backend.bind(("127.0.0.1", 0))
    backend.listen(4096)  # never accepted: the kernel holds the target side
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "zerotls",
            "tunnel",
            "server",
            "--listen",
            f"127.0.0.1:{port}",
            "--target",
            f"127.0.0.1:{backend.getsockname()[1]}",
            "--cert",
            str(root / "s.pem"),
            "--key",
            str(root / "s.key"),
            "--ca",
            str(root / "ca.pem"),
            "--allow",
            "any",
            "--audit-log",
            "off",
            "--idle-timeout",
            "600",
            # One process, the one whose memory is read: with more, the connections are held
            # by forked workers and the parent's memory does not move.
            "--workers",
            "1",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    held = []
    try:
        wait_port(port)
        cfg = ClientConfig(
            server_name="localhost", ca=root / "ca.pem", cert=root / "c.pem", key=root / "c.key"
        )
        # Warm up (imports, first allocations), then measure from a settled baseline.
        for _ in range(20):
            with connect("127.0.0.1", port, cfg) as tls:
                tls.sendall(b"x")
        time.sleep(1.0)
        before = rss_kb(proc.pid)
        for _ in range(args.connections):
            tls = connect("127.0.0.1", port, cfg)
            tls.sendall(b"x")
            held.append(tls)
        time.sleep(2.0)  # let every session finish dialing its target and go idle
        gc.collect()
        after = rss_kb(proc.pid)
        per = (after - before) / args.connections
        print(
            f"tunnel RSS {before} KB -> {after} KB with {args.connections} idle mTLS "
            f"connections: {per:.1f} KB per connection (goal <= 64 KB)"
        )
        return 0
    finally:
        for tls in held:
            tls.close()
        proc.terminate()  # drains up to 30 s: the never-read targets keep sessions half-open
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        backend.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
