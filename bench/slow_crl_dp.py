"""Does a slow CRL distribution point delay other clients' handshakes on the same worker?

One zerotls asyncio server process (``fetch_crls = true``, ``revocation = "soft"``) serves two
kinds of clients at once:

* steady clients whose certificates name no distribution point: one handshake after another,
  each timed (connect, handshake, one echoed line);
* newcomers, one a second, each with a certificate naming a distribution point never seen
  before, on a local HTTP server that answers after 3 seconds (a slow or black-holed CRL host).

The steady clients arrive at a fixed rate and each one's time counts from its arrival, so
time spent queued behind a stalled event loop is counted. Two variants of the server: "blocking" forces the old behaviour (a first-seen distribution
point is fetched inside the handshake, so inside the event loop), "background" is the current
one (the fetch starts beside the pump and that one handshake is judged without it). The
steady clients' median and p99 handshake times are printed for each, and their ratio.

    python bench/slow_crl_dp.py                  # 2 rounds of 8 s per variant
    python bench/slow_crl_dp.py --rounds 3 --seconds 10

Bounded in time; every process started here is stopped by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.server
import multiprocessing as mp
import socket
import ssl
import statistics
import tempfile
import threading
import time
from pathlib import Path

from _net import free_port, wait_port

DELAY = 3.0
INTERVAL = 0.02  # a steady client arrives every 20 ms (50 handshakes a second)


class SlowCRLHost(http.server.ThreadingHTTPServer):
    daemon_threads = True


class _Slow(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(DELAY)
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def serve(root: str, port: int, blocking: bool) -> None:
    from zerotls import ServerConfig, start_server
    from zerotls.tls import TLSStream
    from zerotls.tls.revocation import RevocationChecker

    if blocking:  # the behaviour before: a first-seen source is fetched in the handshake
        original = RevocationChecker._cached

        def waiting(self, key, now, load, reasons, *, wait=False):  # type: ignore[no-untyped-def]
            return original(self, key, now, load, reasons, wait=True)

        RevocationChecker._cached = waiting  # type: ignore[method-assign]

    async def echo(stream: TLSStream) -> None:
        await stream.send(await stream.readline())

    async def main() -> None:
        cfg = ServerConfig(
            cert=Path(root) / "server.pem", key=Path(root) / "server.key",
            ca=Path(root) / "ca.pem", fetch_crls=True, revocation="soft",
        )  # fmt: skip
        server = await start_server(echo, "127.0.0.1", port, cfg, backlog=256)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def context(root: Path, name: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(root / "ca.pem")
    ctx.load_cert_chain(root / f"{name}.pem", root / f"{name}.key")
    return ctx


def handshake(ctx: ssl.SSLContext, port: int) -> float:
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=15) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"ping\n")
            tls.recv(16)
    return time.perf_counter() - started


def run(root: Path, blocking: bool, seconds: float, newcomers: int) -> list[float]:
    port = free_port()
    proc = mp.get_context("spawn").Process(target=serve, args=(str(root), port, blocking))
    proc.start()
    try:
        wait_port(port)
        steady = context(root, "steady")
        handshake(steady, port)  # warm-up
        times: list[float] = []
        stop = time.monotonic() + seconds

        def arrivals() -> None:
            for i in range(newcomers):
                if time.monotonic() >= stop:
                    return
                with contextlib.suppress(OSError, ssl.SSLError):
                    handshake(context(root, f"new{i}"), port)
                time.sleep(1.0)

        threads = [threading.Thread(target=arrivals, daemon=True)]
        for t in threads:
            t.start()
        # Steady clients arrive every INTERVAL whatever happens; each one's time runs from its
        # arrival, so a stalled loop counts for every client that waited behind it (no
        # coordinated omission: a closed loop would record one slow handshake per stall).
        due = time.monotonic()
        while due < stop:
            now = time.monotonic()
            if now < due:
                time.sleep(due - now)
            try:
                handshake(steady, port)
                times.append(time.monotonic() - due)
            except (OSError, ssl.SSLError):
                times.append(15.0)
            due += INTERVAL
        for t in threads:
            t.join(DELAY * 2)
        return times
    finally:
        proc.terminate()
        proc.join(5)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=8.0)
    args = ap.parse_args()
    from zerotls.pki import CA

    host = SlowCRLHost(("127.0.0.1", 0), _Slow)
    threading.Thread(target=host.serve_forever, args=(0.05,), daemon=True).start()
    dp = f"http://127.0.0.1:{host.server_address[1]}"
    newcomers = int(args.seconds) + 2
    results: dict[str, list[float]] = {"blocking (before)": [], "background (now)": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ca = CA.create("bench CA")
        (root / "ca.pem").write_bytes(ca.cert_pem)
        ca.issue("server", dns=["localhost"], usage="server").write(
            root / "server.pem", root / "server.key"
        )
        ca.issue("steady", spiffe_id="spiffe://bench.example/steady", usage="client").write(
            root / "steady.pem", root / "steady.key"
        )
        for r in range(args.rounds):
            for name, blocking in (("blocking (before)", True), ("background (now)", False)):
                for i in range(newcomers):  # fresh distribution points every round
                    ca.issue(
                        f"new{i}", spiffe_id=f"spiffe://bench.example/new{i}", usage="client",
                        crl_url=f"{dp}/r{r}-{int(blocking)}-{i}.crl",
                    ).write(root / f"new{i}.pem", root / f"new{i}.key")  # fmt: skip
                results[name] += run(root, blocking, args.seconds, newcomers)
    host.shutdown()
    print(f"steady clients' handshakes while newcomers name a {DELAY:g} s distribution point")
    print(f"{'variant':<20} {'n':>6} {'median ms':>10} {'p99 ms':>10} {'max ms':>10}")
    summary = {}
    for name, times in results.items():
        times.sort()
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        summary[name] = (statistics.median(times), p99)
        print(f"{name:<20} {len(times):>6} {statistics.median(times) * 1e3:>10.2f} "
              f"{p99 * 1e3:>10.1f} {times[-1] * 1e3:>10.1f}")  # fmt: skip
    before, after = summary["blocking (before)"], summary["background (now)"]
    print(f"p99 before / after: {before[1] / after[1]:.1f}x; "
          f"median before / after: {before[0] / after[0]:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
