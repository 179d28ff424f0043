"""httpx on its default transport against httpx on the zerotls transport: requests per
CPU-second of this process, same nginx server, same run, with and without connection reuse.

    .venv/bin/python bench/httpx_client.py [--requests 400] [--repeat 3]

The server is nginx (HTTPS, TLS 1.3, a certificate from a throwaway zerotls CA) on
127.0.0.1; the client runs in this process, and its CPU time (user + system) is what is
counted, so the server's cost is not. Each cell is the median of --repeat runs. Bounded: a
fixed number of requests per cell.
"""

from __future__ import annotations

import argparse
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import httpx
from tests.peers.nginx import nginx_https

from zerotls.httpx import ZeroTLSTransport
from zerotls.pki import CA


def _rate(client: httpx.Client, url: str, n: int) -> float:
    client.get(url).read()  # warm: the first connection, DNS, imports
    start = time.process_time()
    for _ in range(n):
        client.get(url).read()
    return n / max(time.process_time() - start, 1e-9)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ca = CA.create("bench CA")
        (root / "ca.pem").write_bytes(ca.cert_pem)
        ca.issue("server", dns=["localhost"], usage="server").write(root / "s.pem", root / "s.key")
        with nginx_https(root, root / "s.pem", root / "s.key") as port:
            url = f"https://localhost:{port}/"
            rows = []
            for reuse in (True, False):
                limits = httpx.Limits(max_keepalive_connections=20 if reuse else 0)
                cells = {}
                for name in ("httpx default", "zerotls transport"):
                    rates = []
                    for _ in range(args.repeat):
                        if name == "httpx default":
                            ctx = ssl.create_default_context(cafile=str(root / "ca.pem"))
                            client = httpx.Client(verify=ctx, limits=limits)
                        else:
                            client = httpx.Client(
                                transport=ZeroTLSTransport(ca=root / "ca.pem", limits=limits)
                            )
                        with client:
                            rates.append(_rate(client, url, args.requests))
                    cells[name] = statistics.median(rates)
                rows.append((reuse, cells))
    print(f"{'connection reuse':<18}{'httpx default':>16}{'zerotls transport':>20}{'ratio':>8}")
    for reuse, cells in rows:
        a, b = cells["httpx default"], cells["zerotls transport"]
        print(
            f"{'yes' if reuse else 'no (1 per request)':<18}{a:>14,.0f}/s{b:>18,.0f}/s{b / a:>7.2f}x"
        )
    print("(requests per CPU-second of the client process, median of --repeat runs)")


if __name__ == "__main__":
    main()
