"""Handshake latency of our client against ``openssl s_server`` (system OpenSSL 3.0, no
ML-KEM): one key share (the hybrid only, as before) against two (the hybrid and X25519).

With one share, a peer without post-quantum support answers with a HelloRetryRequest and the
client sends a second ClientHello: one more round trip and a second key generation. Two shares
let the peer pick X25519 from the first ClientHello. Each round runs ``--handshakes`` full
mTLS handshakes (connect, handshake, close) per variant, alternating; medians of the per-
handshake wall times and their ratio are printed.

    python bench/key_shares.py                      # 5 rounds of 200 handshakes
    python bench/key_shares.py --rounds 3 --handshakes 100

Bounded in count; the s_server process started here is stopped by PID at the end.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _net import free_port

from zerotls.pki import CA
from zerotls.tls import ClientConfig
from zerotls.tls import context as tls_context
from zerotls.tls.context import TLSContext
from zerotls.tls.sync import connect


def one_share(groups: tuple[str, ...], *, client: bool) -> str:
    """The previous behaviour: OpenSSL's default, a share for the first group only."""
    return ":".join(groups)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--handshakes", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ca = CA.create("bench CA")
        (root / "ca.pem").write_bytes(ca.cert_pem)
        ca.issue("server", dns=["localhost"], usage="server").write(root / "s.pem", root / "s.key")
        ca.issue("client", spiffe_id="spiffe://bench.example/c", usage="client").write(
            root / "c.pem", root / "c.key"
        )
        port = free_port()
        server = subprocess.Popen(
            ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-tls1_3", "-quiet",
             "-cert", str(root / "s.pem"), "-key", str(root / "s.key"),
             "-CAfile", str(root / "ca.pem"), "-Verify", "1", "-naccept", str(10**6)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            config = ClientConfig(
                server_name="localhost", cert=root / "c.pem", key=root / "c.key",
                ca=root / "ca.pem", session_resumption=False,
            )  # fmt: skip
            two_shares = tls_context._group_spec
            results: dict[str, list[float]] = {"one share": [], "two shares": []}
            groups: dict[str, set[str]] = {"one share": set(), "two shares": set()}
            for _ in range(args.rounds):
                for name, spec in (("one share", one_share), ("two shares", two_shares)):
                    tls_context._group_spec = spec  # type: ignore[assignment]
                    context = TLSContext(config)
                    times = []
                    for _ in range(args.handshakes):
                        started = time.perf_counter()
                        with connect("127.0.0.1", port, context) as tls:
                            groups[name].add(str(tls.group))
                        times.append(time.perf_counter() - started)
                    results[name].append(statistics.median(times))
            tls_context._group_spec = two_shares  # type: ignore[assignment]
        finally:
            server.terminate()
            server.wait(5)
    print(f"{'variant':<12} {'median ms':>10} {'rounds (ms)':<40} group")
    for name, medians in results.items():
        shown = ", ".join(f"{m * 1e3:.2f}" for m in medians)
        print(
            f"{name:<12} {statistics.median(medians) * 1e3:>10.2f} {shown:<40} {', '.join(sorted(groups[name]))}"
        )
    ratio = statistics.median(results["one share"]) / statistics.median(results["two shares"])
    print(f"one share / two shares: {ratio:.2f}x (above 1: two shares are faster)")


if __name__ == "__main__":
    main()
