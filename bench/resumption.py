"""What client-side session resumption saves: full mTLS handshakes against resumed ones,
per CPU-second of each side, two zerotls engines in memory (the same harness as
``bench/stapling.py``). Each connection reads the server's tickets and closes cleanly, as an
application does; rounds alternate, medians and ratios are printed.

    python bench/resumption.py                    # 5 rounds of 300 handshakes per case
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from stapling import handshake

from zerotls.pki import CA
from zerotls.tls.config import ClientConfig, ServerConfig
from zerotls.tls.context import TLSContext


def timed(fn: object, cpu: dict[str, float], side: str) -> None:
    t = time.process_time()
    fn()  # type: ignore[operator]
    cpu[side] += time.process_time() - t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--handshakes", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ca = CA.create("bench CA")
        (root / "ca.pem").write_bytes(ca.cert_pem)
        ca.issue("s", dns=["localhost"], usage="server").write(root / "s.pem", root / "s.key")
        ca.issue("c", spiffe_id="spiffe://bench/c", usage="client").write(
            root / "c.pem", root / "c.key"
        )
        server = TLSContext(
            ServerConfig(cert=root / "s.pem", key=root / "s.key", ca=root / "ca.pem")
        )
        results: dict[str, dict[str, list[float]]] = {}
        for _ in range(args.rounds):
            for name, resume in (("full", False), ("resumed", True)):
                client = TLSContext(
                    ClientConfig(
                        server_name="localhost",
                        ca=root / "ca.pem",
                        cert=root / "c.pem",
                        key=root / "c.key",
                        session_resumption=resume,
                    )
                )
                cpu = {"client": 0.0, "server": 0.0}
                reused = 0
                for _ in range(args.handshakes):
                    c, s = client.connection(), server.connection()
                    handshake(c, s, cpu)
                    timed(lambda s=s: s.send(b"ok"), cpu, "server")
                    data = s.data_to_send()
                    timed(lambda c=c, data=data: c.receive_data(data), cpu, "client")  # tickets
                    timed(c.close, cpu, "client")
                    timed(lambda s=s, c=c: s.receive_data(c.data_to_send()), cpu, "server")
                    reused += c.resumed
                if resume:
                    assert reused >= args.handshakes - 1, reused
                res = results.setdefault(name, {"client": [], "server": []})
                for side in ("client", "server"):
                    res[side].append(args.handshakes / cpu[side])
    base = {side: statistics.median(results["full"][side]) for side in ("client", "server")}
    print(f"mTLS handshakes per CPU-second, medians of {args.rounds} rounds")
    print(f"{'case':<10}{'client':>10}{'server':>10}   ratio to full (client/server)")
    for name, res in results.items():
        med = {side: statistics.median(v) for side, v in res.items()}
        print(
            f"{name:<10}{med['client']:>10.0f}{med['server']:>10.0f}   "
            f"{med['client'] / base['client']:.2f}/{med['server'] / base['server']:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
