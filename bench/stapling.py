"""What OCSP stapling costs: full mTLS handshakes per CPU-second with and without a staple.

Two zerotls engines run back to back in memory (no sockets, so the figure is the TLS and
OCSP work alone) and each side's CPU time is measured separately with ``time.process_time``
around its calls:

* ``plain``   the server staples nothing, the client does not ask (``ocsp = "off"``);
* ``stapled`` the server staples a response, the client checks it (``ocsp = "if-stapled"``:
  signer, signature, cert id, freshness, status; the default);
* ``must``    a must-staple certificate, the client requires a staple (``ocsp = "require"``).

The staple costs the client no extra round trip (it rides in the server's Certificate
message); what it costs is the client's verification of one more ECDSA signature, and the
server copying ~300 bytes into each handshake. Rounds alternate between the cases; medians
and the ratios to ``plain`` are printed.

    python bench/stapling.py                    # 5 rounds of 300 handshakes per case
    python bench/stapling.py --rounds 7 --handshakes 500
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from zerotls.pki import CA
from zerotls.pki.ocsp import CertStatus, OCSPResponder
from zerotls.tls.config import ClientConfig, ServerConfig
from zerotls.tls.context import TLSContext
from zerotls.tls.engine import TLSConnection


def handshake(client: TLSConnection, server: TLSConnection, cpu: dict[str, float]) -> None:
    """Shuttle bytes until both sides completed, charging each side its own CPU time."""
    for _ in range(10):
        t0 = time.process_time()
        out = client.data_to_send()
        t1 = time.process_time()
        cpu["client"] += t1 - t0
        if out:
            server.receive_data(out)
        back = server.data_to_send()
        t3 = time.process_time()
        cpu["server"] += t3 - t1
        if back:
            client.receive_data(back)
        cpu["client"] += time.process_time() - t3
        if client.handshake is not None and server.handshake is not None and not back:
            return
    raise RuntimeError("handshake did not complete")


def build(root: Path) -> dict[str, tuple[TLSContext, TLSContext]]:
    ca = CA.create("bench CA")
    (root / "ca.pem").write_bytes(ca.cert_pem)
    statuses: dict[int, CertStatus] = {}
    responder = OCSPResponder(ca, lambda s: statuses.get(s, CertStatus("good")))
    client_cert = ca.issue("client", spiffe_id="spiffe://bench/client", usage="client")
    client_cert.write(root / "client.pem", root / "client.key")
    cases = {}
    for name, must, mode in (
        ("plain", False, "off"),
        ("stapled", False, "if-stapled"),
        ("must", True, "require"),
    ):
        server_cert = ca.issue(
            f"server-{name}", dns=["localhost"], usage="server", must_staple=must
        )
        server_cert.write(root / f"{name}.pem", root / f"{name}.key")
        staple = None
        if name != "plain":
            staple = root / f"{name}.der"
            staple.write_bytes(responder.response(server_cert.cert.serial_number))
        server = TLSContext(
            ServerConfig(
                cert=root / f"{name}.pem",
                key=root / f"{name}.key",
                ca=root / "ca.pem",
                session_tickets=False,
                ocsp_staple_file=staple,
                ocsp_stapling=staple is not None,
            )
        )
        client = TLSContext(
            ClientConfig(
                server_name="localhost",
                ca=root / "ca.pem",
                cert=root / "client.pem",
                key=root / "client.key",
                ocsp=mode,
            )
        )
        cases[name] = (client, server)
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--handshakes", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cases = build(Path(tmp))
        results: dict[str, dict[str, list[float]]] = {
            name: {"client": [], "server": [], "both": []} for name in cases
        }
        for _ in range(args.rounds):
            for name, (client_ctx, server_ctx) in cases.items():
                cpu = {"client": 0.0, "server": 0.0}
                for _ in range(args.handshakes):
                    client, server = client_ctx.connection(), server_ctx.connection()
                    handshake(client, server, cpu)
                    if name != "plain":
                        assert (client.revocation or "").startswith("ocsp good")
                for side in ("client", "server"):
                    results[name][side].append(args.handshakes / cpu[side])
                results[name]["both"].append(args.handshakes / (cpu["client"] + cpu["server"]))
    base = {side: statistics.median(results["plain"][side]) for side in ("client", "server")}
    base["both"] = statistics.median(results["plain"]["both"])
    print(f"full mTLS handshakes per CPU-second, medians of {args.rounds} rounds")
    print(f"{'case':<10}{'client':>10}{'server':>10}{'both':>10}   ratio to plain (c/s/both)")
    for name, res in results.items():
        med = {side: statistics.median(v) for side, v in res.items()}
        ratios = "/".join(f"{med[s] / base[s]:.2f}" for s in ("client", "server", "both"))
        print(
            f"{name:<10}{med['client']:>10.0f}{med['server']:>10.0f}{med['both']:>10.0f}   {ratios}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
