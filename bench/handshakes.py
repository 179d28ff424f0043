"""mTLS handshakes per server CPU-second: zerotls's asyncio server vs ``openssl s_server``.

Both servers run as their own process on 127.0.0.1 with the same ECDSA P-256 certificates,
TLS 1.3 and a required client certificate. The same load clients (stdlib ``ssl``, one full
handshake per connection with a client certificate, one echoed line, close) drive each in
turn; the figure compared is handshakes divided by the CPU seconds the *server process*
used (read from /proc), which is far less sensitive to the noise of a 2-core machine than
wall-clock rates. Rounds alternate between the servers; medians and the ratio are printed.

    python bench/handshakes.py                 # 3 rounds of 5 s per server
    python bench/handshakes.py --rounds 5 --seconds 8 --clients 3

Every loop is bounded in time; every process started here is stopped by PID at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (and its reaped children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / CLK_TCK


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {port}")


def make_pki(root: Path) -> None:
    from zerotls.pki import CA

    ca = CA.create("bench CA")
    (root / "ca.pem").write_bytes(ca.cert_pem)
    ca.issue("localhost", dns=["localhost"], usage="server").write(
        root / "server.pem", root / "server.key"
    )
    ca.issue("client", usage="client").write(root / "client.pem", root / "client.key")


def serve_zerotls(root: Path, port: int) -> None:
    """The server under test: zerotls.start_server with an echo handler."""
    from zerotls import ServerConfig, start_server
    from zerotls.tls import TLSStream

    async def echo(stream: TLSStream) -> None:
        line = await stream.readline()
        await stream.send(line)

    async def main() -> None:
        cfg = ServerConfig(cert=root / "server.pem", key=root / "server.key", ca=root / "ca.pem")
        server = await start_server(echo, "127.0.0.1", port, cfg, backlog=512)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def client_loop(root: str, port: int, seconds: float, counter: mp.Value) -> None:  # type: ignore[valid-type]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(f"{root}/ca.pem")
    ctx.load_cert_chain(f"{root}/client.pem", f"{root}/client.key")
    done = errors = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                    tls.sendall(b"ping\n")
                    if tls.recv(64):
                        done += 1
        except (OSError, ssl.SSLError):
            errors += 1
    with counter.get_lock():  # type: ignore[attr-defined]
        counter.value += done  # type: ignore[attr-defined]


def run_round(name: str, cmd: list[str], root: Path, port: int, args: argparse.Namespace) -> float:
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_port(port)
        time.sleep(0.3)  # let start-up CPU settle before measuring
        counter = mp.Value("l", 0)
        cpu0 = cpu_seconds(proc.pid)
        workers = [
            mp.Process(target=client_loop, args=(str(root), port, args.seconds, counter))
            for _ in range(args.clients)
        ]
        t0 = time.monotonic()
        for w in workers:
            w.start()
        for w in workers:
            w.join(args.seconds + 30)
        wall = time.monotonic() - t0
        cpu = cpu_seconds(proc.pid) - cpu0
        count = counter.value
        rate = count / cpu if cpu > 0 else 0.0
        print(
            f"  {name:<16} {count:>6} handshakes  {count / wall:>7.0f}/s wall  "
            f"server {cpu:5.2f} CPU-s  {rate:>7.0f} per CPU-s",
            flush=True,
        )
        return rate
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=2, help="load client processes")
    parser.add_argument("--serve-zerotls", nargs=2, metavar=("DIR", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_zerotls:
        serve_zerotls(Path(args.serve_zerotls[0]), int(args.serve_zerotls[1]))
        return 0
    openssl = shutil.which("openssl")
    if openssl is None:
        print("openssl not found: apt-get install openssl", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="zerotls-bench-"))
    try:
        make_pki(root)
        from OpenSSL import SSL

        print(
            f"zerotls engine: {SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode()}; "
            f"s_server: {subprocess.check_output([openssl, 'version'], text=True).strip()}"
        )
        print(
            f"{args.rounds} rounds x {args.seconds:g} s, {args.clients} client processes, "
            f"TLS 1.3 mTLS, ECDSA P-256, full handshakes (no resumption)"
        )
        results: dict[str, list[float]] = {"zerotls": [], "openssl s_server": []}
        for r in range(args.rounds):
            print(f"round {r + 1}")
            port = free_port()
            results["zerotls"].append(
                run_round(
                    "zerotls",
                    [sys.executable, __file__, "--serve-zerotls", str(root), str(port)],
                    root,
                    port,
                    args,
                )
            )
            port = free_port()
            results["openssl s_server"].append(
                run_round(
                    "openssl s_server",
                    [
                        openssl,
                        "s_server",
                        "-quiet",
                        "-accept",
                        f"127.0.0.1:{port}",
                        "-cert",
                        str(root / "server.pem"),
                        "-key",
                        str(root / "server.key"),
                        "-CAfile",
                        str(root / "ca.pem"),
                        "-Verify",
                        "1",
                        "-tls1_3",
                        "-rev",
                    ],
                    root,
                    port,
                    args,
                )
            )
        ours = statistics.median(results["zerotls"])
        theirs = statistics.median(results["openssl s_server"])
        print()
        print(
            f"median handshakes per server CPU-second: zerotls {ours:.0f}, "
            f"openssl s_server {theirs:.0f}"
        )
        print(f"ratio zerotls / s_server: {ours / theirs:.2f}" if theirs else "no s_server data")
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
