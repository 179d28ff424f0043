"""DTLS beside TLS, in the same run: handshakes and echo round trips through our tunnels.

Two tunnels run as their own processes on 127.0.0.1 with the same certificates, each in front
of an echo service: ``zerotls tunnel dtls-server`` (UDP) and ``zerotls tunnel server`` (TCP,
TLS 1.3). A load client in this process (zerotls's own asyncio clients) then measures, for each:

* handshakes: full mutually authenticated handshakes, one after another, each followed by one
  echoed message, divided by the CPU seconds the *tunnel process* used (read from /proc);
* echo: small messages echoed one at a time over one association, per second of wall time and
  per tunnel CPU-second.

Rounds alternate between the tunnels; medians and DTLS/TLS ratios are printed. Every loop is
bounded by count and time; both tunnels are stopped by PID at the end.

    python bench/dtls.py                      # 3 rounds, 200 handshakes, 2000 echoes each
    python bench/dtls.py --rounds 5 --handshakes 300 --echoes 5000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from handshakes import cpu_seconds, free_port, make_pki, wait_port

from zerotls import ClientConfig, open_connection
from zerotls.dtls import DTLSOptions, open_association

SPIFFE = "spiffe://bench.zerotls.dev/client"


class UDPEcho(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(data, addr)  # type: ignore[attr-defined]


async def tcp_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    writer.close()


def start_tunnel(kind: str, root: Path, port: int, target: int) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable, "-m", "zerotls", "tunnel", kind, "--listen", f"127.0.0.1:{port}",
        "--target", f"127.0.0.1:{target}", "--cert", str(root / "server.pem"),
        "--key", str(root / "server.key"), "--ca", str(root / "ca.pem"), "--allow", "any",
        "--audit-log", "off",
    ]  # fmt: skip
    if kind == "server":
        cmd += ["--workers", "1"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def handshakes_dtls(port: int, cfg: ClientConfig, n: int, seconds: float) -> int:
    done = 0
    deadline = time.monotonic() + seconds
    for _ in range(n):
        if time.monotonic() > deadline:
            break
        ep = await open_association(
            "127.0.0.1", port, cfg, options=DTLSOptions(initial_retransmit=0.2)
        )
        ep.send(b"ping")
        await asyncio.wait_for(ep.recv(), 5)
        ep.close()
        done += 1
    return done


async def handshakes_tls(port: int, cfg: ClientConfig, n: int, seconds: float) -> int:
    done = 0
    deadline = time.monotonic() + seconds
    for _ in range(n):
        if time.monotonic() > deadline:
            break
        stream = await open_connection("127.0.0.1", port, cfg)
        await stream.send(b"ping")
        await stream.readexactly(4)
        await stream.aclose()
        done += 1
    return done


async def echo_dtls(port: int, cfg: ClientConfig, n: int, seconds: float) -> int:
    ep = await open_association("127.0.0.1", port, cfg)
    done = 0
    deadline = time.monotonic() + seconds
    while done < n and time.monotonic() < deadline:
        ep.send(b"x" * 64)
        try:
            await asyncio.wait_for(ep.recv(), 1)
        except TimeoutError:
            continue  # a lost datagram on loopback is rare; count only answered ones
        done += 1
    ep.close()
    return done


async def echo_tls(port: int, cfg: ClientConfig, n: int, seconds: float) -> int:
    stream = await open_connection("127.0.0.1", port, cfg)
    done = 0
    deadline = time.monotonic() + seconds
    while done < n and time.monotonic() < deadline:
        await stream.send(b"x" * 64)
        await stream.readexactly(64)
        done += 1
    await stream.aclose()
    return done


async def measure(
    pid: int, work: object, port: int, cfg: ClientConfig, n: int
) -> tuple[float, float]:
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    done = await work(port, cfg, n, 60.0)  # type: ignore[operator]
    cpu, wall = cpu_seconds(pid) - cpu0, time.monotonic() - t0
    return done / max(cpu, 1e-9), done / wall


async def main_async(args: argparse.Namespace, root: Path) -> int:
    loop = asyncio.get_running_loop()
    udp, _ = await loop.create_datagram_endpoint(UDPEcho, local_addr=("127.0.0.1", 0))
    udp_port = udp.get_extra_info("sockname")[1]
    tcp = await asyncio.start_server(tcp_echo, "127.0.0.1", 0)
    tcp_port = tcp.sockets[0].getsockname()[1]
    dport, tport = free_port(), free_port()
    procs = {
        "dtls": start_tunnel("dtls-server", root, dport, udp_port),
        "tls": start_tunnel("server", root, tport, tcp_port),
    }
    cfg = ClientConfig(
        server_name="localhost",
        ca=root / "ca.pem",
        cert=root / "client.pem",
        key=root / "client.key",
    )
    results: dict[str, list[tuple[float, float]]] = {
        k: [] for k in ("dtls-hs", "tls-hs", "dtls-echo", "tls-echo")
    }
    try:
        wait_port(tport)
        await asyncio.sleep(1.0)  # the UDP tunnel binds without anything to poll
        for _ in range(args.rounds):
            for name, port, hs, echo in (
                ("dtls", dport, handshakes_dtls, echo_dtls),
                ("tls", tport, handshakes_tls, echo_tls),
            ):
                pid = procs[name].pid
                results[f"{name}-hs"].append(await measure(pid, hs, port, cfg, args.handshakes))
                results[f"{name}-echo"].append(await measure(pid, echo, port, cfg, args.echoes))
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
        udp.close()
        tcp.close()
    med = {k: (statistics.median(c for c, _ in v), statistics.median(w for _, w in v))
           for k, v in results.items()}  # fmt: skip
    print(f"medians of {args.rounds} rounds, tunnel process CPU (one worker each)")
    print(f"{'':<22}{'per tunnel CPU-s':>18}{'per wall second':>18}")
    for key, label in (("hs", "handshakes (mTLS)"), ("echo", "echo round trips")):
        for proto in ("dtls", "tls"):
            cpu, wall = med[f"{proto}-{key}"]
            print(f"{label + ' ' + proto.upper():<22}{cpu:>18.0f}{wall:>18.0f}")
        ratio_cpu = med[f"dtls-{key}"][0] / med[f"tls-{key}"][0]
        ratio_wall = med[f"dtls-{key}"][1] / med[f"tls-{key}"][1]
        print(f"{'  DTLS / TLS':<22}{ratio_cpu:>18.2f}{ratio_wall:>18.2f}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--handshakes", type=int, default=200)
    parser.add_argument("--echoes", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_pki(root)
        return asyncio.run(main_async(args, root))


if __name__ == "__main__":
    sys.exit(main())
