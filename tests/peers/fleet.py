"""Many small TLS endpoints in one process, for fleet scans: started and stopped by PID.

``python tests/peers/fleet.py --cert C --key K --tls 100 --legacy 40 --smtp 20 --imap 10
--silent 20 --ports-file F`` listens on that many loopback ports, each one of:

* ``tls``: Python's ``ssl`` (Debian's OpenSSL 3.0), TLS 1.2 and 1.3, its default suites;
* ``legacy``: the same at ``@SECLEVEL=0`` from TLS 1.0, CBC and static RSA suites allowed;
* ``smtp`` / ``imap``: a plaintext greeting and STARTTLS, then TLS as ``tls``;
* ``silent``: accepts connections and never says a word (a scanner must time out).

It writes ``KIND PORT`` lines to the ports file once every port listens, then serves until
it is stopped. One event loop serves them all, so 200 endpoints cost one process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

try:
    from tests.peers.openssl import stop
except ImportError:  # run as a script: the directory is on sys.path
    from openssl import stop  # type: ignore[no-redef]

HERE = Path(__file__).resolve()
KINDS = ("tls", "legacy", "smtp", "imap", "silent")


@contextlib.contextmanager
def fleet(cert: Path, key: Path, work: Path, **counts: int) -> Iterator[list[tuple[str, int]]]:
    """Start the fleet (``counts`` per kind); yield its (kind, port) list; stop it."""
    ports_file = work / "fleet-ports.txt"
    ports_file.unlink(missing_ok=True)  # a list left by an earlier fleet is not this one's
    cmd = [sys.executable, str(HERE), "--cert", str(cert), "--key", str(key),
           "--ports-file", str(ports_file)]  # fmt: skip
    for kind, count in counts.items():
        cmd += [f"--{kind}", str(count)]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not ports_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the fleet did not start (exit {proc.poll()})")
            time.sleep(0.05)
        lines = ports_file.read_text().split("\n")
        yield [(k, int(p)) for k, p in (line.split() for line in lines if line)]
    finally:
        stop(proc)


def _context(cert: str, key: str, *, legacy: bool) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if legacy:
        ctx.set_ciphers("ALL:@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


async def _tls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        data = await asyncio.wait_for(reader.read(4096), 10)
        if data:
            writer.write(data)
            await writer.drain()
    writer.close()


def _starttls(kind: str, ctx: ssl.SSLContext) -> object:
    greeting, ready = {
        "smtp": (b"220 fleet ESMTP\r\n", b"220 2.0.0 ready\r\n"),
        "imap": (b"* OK fleet IMAP4rev1\r\n", b"a1 OK begin TLS\r\n"),
    }[kind]

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            writer.write(greeting)
            while True:
                line = await asyncio.wait_for(reader.readline(), 10)
                if not line:
                    break
                verb = line.split(b" ")[-1].strip().upper()
                if line.upper().startswith(b"EHLO"):
                    writer.write(b"250-fleet\r\n250 STARTTLS\r\n")
                elif verb in (b"STARTTLS",):
                    writer.write(ready)
                    await writer.drain()
                    await writer.start_tls(ctx)
                    await _tls(reader, writer)
                    return
                else:
                    writer.write(b"500 unknown\r\n" if kind == "smtp" else b"a1 BAD\r\n")
        writer.close()

    return serve


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        while await asyncio.wait_for(reader.read(4096), 30):
            pass
    writer.close()


async def _main(args: argparse.Namespace) -> None:
    modern = _context(args.cert, args.key, legacy=False)
    legacy = _context(args.cert, args.key, legacy=True)
    servers: list[tuple[str, asyncio.Server]] = []
    for kind in KINDS:
        for _ in range(getattr(args, kind)):
            if kind in ("tls", "legacy"):
                ctx = modern if kind == "tls" else legacy
                server = await asyncio.start_server(_tls, "127.0.0.1", 0, ssl=ctx, backlog=64)
            elif kind == "silent":
                server = await asyncio.start_server(_silent, "127.0.0.1", 0, backlog=64)
            else:
                handler = _starttls(kind, modern)
                server = await asyncio.start_server(handler, "127.0.0.1", 0, backlog=64)  # type: ignore[arg-type]
            servers.append((kind, server))
    lines = [f"{k} {s.sockets[0].getsockname()[1]}" for k, s in servers]
    staging = Path(args.ports_file + ".tmp")
    staging.write_text("\n".join(lines) + "\n")
    staging.rename(args.ports_file)  # all at once: the starter reads only a complete list
    await asyncio.Event().wait()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="many TLS endpoints in one process")
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--ports-file", required=True)
    for kind in KINDS:
        parser.add_argument(f"--{kind}", type=int, default=0, help=f"how many {kind} endpoints")
    args = parser.parse_args(argv)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # failed handshakes are expected
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
