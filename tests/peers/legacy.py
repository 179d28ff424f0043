"""Legacy and deliberately broken TLS servers for the auditor's tests, started and stopped by PID.

Three kinds, each a real server on 127.0.0.1:

* :func:`openssl_server`: Debian's ``openssl s_server`` (OpenSSL 3.0) in plain mode (no
  ``-www``: that mode sleeps a second on some reads, which would serialize a scan), with any
  flags: TLS 1.0/1.1 at ``@SECLEVEL=0``, static RSA suites, OCSP stapling, renegotiation.
* :func:`tlslite_server`: tlslite-ng (pure Python) in a subprocess of this file; it still
  serves SSLv3, RC4, 3DES and static RSA, which no OpenSSL 3 can.
* :func:`raw_server`: a scripted server, also a subprocess of this file, written with
  ``struct`` only (not with zerotls' codec, so the auditor is tested against an independent
  implementation). It answers a hello up to ServerHelloDone and can be configured to show
  what no maintained library still does: SSLv2, TLS compression, a Heartbleed-style over-read,
  no renegotiation_info, no TLS_FALLBACK_SCSV, an early ChangeCipherSpec taken, and an RSA
  key exchange whose padding check shows (ROBOT), two ways.

* :func:`ticketbleed_proxy`: a proxy in front of a real server (``s_server``) that, when a
  ClientHello offers a session ticket with a short session ID, pads the echoed ID to 32
  bytes of "memory", as F5 BIG-IP did (CVE-2016-9244); everything else passes unchanged.

Run ``python tests/peers/legacy.py tlslite|raw|ticketbleed --help`` for the subprocess side.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

try:
    from tests.peers.openssl import OPENSSL, free_port, stop, wait_for_port
except ImportError:  # run as a script (the server side): the directory is on sys.path
    from openssl import OPENSSL, free_port, stop, wait_for_port  # type: ignore[no-redef]

HERE = Path(__file__).resolve()


@dataclass
class Server:
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def _start(cmd: Sequence[str], port: int) -> Server:
    # stdin stays open and silent: s_server ends a connection when its stdin reaches EOF.
    # Output goes nowhere: an unread pipe fills up after a few hundred refused handshakes
    # and the server then blocks on its own error messages.
    proc = subprocess.Popen(
        list(cmd), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port, proc)
    except BaseException:
        stop(proc)
        raise
    return Server(port, proc)


@contextlib.contextmanager
def _running(server: Server) -> Iterator[Server]:
    try:
        yield server
    finally:
        stop(server.proc)
        for stream in (server.proc.stdin, server.proc.stdout):
            if stream is not None:
                stream.close()


@contextlib.contextmanager
def openssl_server(
    cert: Path, key: Path, *, extra: Sequence[str] = (), chain: Path | None = None
) -> Iterator[Server]:
    """``openssl s_server`` (plain mode) with ``extra`` flags, e.g. ``-tls1_3`` or
    ``-cipher ALL:@SECLEVEL=0 -min_protocol TLSv1``."""
    port = free_port()
    cmd = [OPENSSL, "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(cert),
           "-key", str(key), "-quiet"]  # fmt: skip
    if chain is not None:
        cmd += ["-cert_chain", str(chain)]
    cmd += list(extra)
    with _running(_start(cmd, port)) as server:
        yield server


@contextlib.contextmanager
def tlslite_server(
    cert: Path,
    key: Path,
    *,
    min_version: str = "ssl3",
    max_version: str = "tls1.2",
    ciphers: Sequence[str] = ("aes128", "3des", "rc4"),
    key_exchange: Sequence[str] = ("rsa",),
) -> Iterator[Server]:
    """A tlslite-ng server (SSLv3 and legacy suites possible) in a subprocess."""
    port = free_port()
    cmd = [sys.executable, str(HERE), "tlslite", "--port", str(port), "--cert", str(cert),
           "--key", str(key), "--min-version", min_version, "--max-version", max_version,
           "--ciphers", ",".join(ciphers), "--kex", ",".join(key_exchange)]  # fmt: skip
    with _running(_start(cmd, port)) as server:
        yield server


@contextlib.contextmanager
def raw_server(cert: Path, *, flags: Sequence[str] = ()) -> Iterator[Server]:
    """The scripted server; ``flags`` are this file's ``raw`` options (``--sslv2`` ...)."""
    port = free_port()
    cmd = [sys.executable, str(HERE), "raw", "--port", str(port), "--cert", str(cert), *flags]
    with _running(_start(cmd, port)) as server:
        yield server


@contextlib.contextmanager
def ticketbleed_proxy(upstream: Server) -> Iterator[Server]:
    """The Ticketbleed proxy in front of ``upstream``."""
    port = free_port()
    cmd = [sys.executable, str(HERE), "ticketbleed", "--port", str(port), "--upstream",
           str(upstream.port)]  # fmt: skip
    with _running(_start(cmd, port)) as server:
        yield server


# -- subprocess side: tlslite-ng ------------------------------------------------------------------

_VERSIONS = {"ssl3": (3, 0), "tls1.0": (3, 1), "tls1.1": (3, 2), "tls1.2": (3, 3)}


def _serve_tlslite(args: argparse.Namespace) -> None:
    from tlslite.api import X509, HandshakeSettings, TLSConnection, X509CertChain, parsePEMKey

    cert = X509().parse(Path(args.cert).read_text())
    chain = X509CertChain([cert])
    key = parsePEMKey(Path(args.key).read_text(), private=True)
    settings = HandshakeSettings()
    settings.minVersion = _VERSIONS[args.min_version]
    settings.maxVersion = _VERSIONS[args.max_version]
    settings.cipherNames = args.ciphers.split(",")
    settings.keyExchangeNames = args.kex.split(",")
    settings.macNames = ["sha", "sha256", "sha384", "md5"]
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(128)

    def handle(sock: socket.socket) -> None:
        sock.settimeout(10)
        conn = TLSConnection(sock)
        with contextlib.suppress(Exception):
            conn.handshakeServer(certChain=chain, privateKey=key, settings=settings)
            data = conn.read(max=4096)
            if data:
                conn.write(data)
            conn.close()
        with contextlib.suppress(OSError):
            sock.close()

    while True:
        client, _ = listener.accept()
        threading.Thread(target=handle, args=(client,), daemon=True).start()


# -- subprocess side: the scripted raw server ----------------------------------------------------


def _record(content_type: int, version: int, payload: bytes) -> bytes:
    return struct.pack("!BHH", content_type, version, len(payload)) + payload


def _handshake(msg_type: int, body: bytes) -> bytes:
    return struct.pack("!B", msg_type) + len(body).to_bytes(3, "big") + body


def _recv_record(sock: socket.socket, buffer: bytearray) -> tuple[int, int, bytes] | None:
    while len(buffer) < 5 or len(buffer) < 5 + int.from_bytes(buffer[3:5], "big"):
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    ctype, version, length = struct.unpack_from("!BHH", buffer)
    payload = bytes(buffer[5 : 5 + length])
    del buffer[: 5 + length]
    return ctype, version, payload


def _parse_client_hello(body: bytes) -> dict[str, object]:
    pos = 0
    version = struct.unpack_from("!H", body, pos)[0]
    pos += 2 + 32
    sid_len = body[pos]
    pos += 1 + sid_len
    suites_len = struct.unpack_from("!H", body, pos)[0]
    pos += 2
    suites = [struct.unpack_from("!H", body, pos + i)[0] for i in range(0, suites_len, 2)]
    pos += suites_len
    comp_len = body[pos]
    compression = list(body[pos + 1 : pos + 1 + comp_len])
    pos += 1 + comp_len
    extensions: dict[int, bytes] = {}
    if pos + 2 <= len(body):
        end = pos + 2 + struct.unpack_from("!H", body, pos)[0]
        pos += 2
        while pos + 4 <= end:
            ext_type, ext_len = struct.unpack_from("!HH", body, pos)
            extensions[ext_type] = body[pos + 4 : pos + 4 + ext_len]
            pos += 4 + ext_len
    return {"version": version, "suites": suites, "compression": compression,
            "extensions": extensions}  # fmt: skip


def _serve_raw_connection(sock: socket.socket, args: argparse.Namespace, cert: bytes) -> None:
    sock.settimeout(10)
    first = sock.recv(65536)
    if not first:
        return
    if first[0] & 0x80:  # an SSL 2.0 CLIENT-HELLO
        if not args.sslv2:
            sock.sendall(_record(21, 0x0301, b"\x02\x46"))  # protocol_version
            return
        specs = (0x0700C0).to_bytes(3, "big") + (0x010080).to_bytes(3, "big")
        conn_id = os.urandom(16)
        body = (struct.pack("!BBBHHHH", 4, 0, 1, 0x0002, len(cert), len(specs), len(conn_id))
                + cert + specs + conn_id)  # fmt: skip
        sock.sendall((0x8000 | len(body)).to_bytes(2, "big") + body)
        return
    buffer = bytearray(first)
    record = _recv_record(sock, buffer)
    if record is None or record[0] != 22 or record[2][0] != 1:
        return
    hello = _parse_client_hello(record[2][4:])
    client_version = int(hello["version"])  # type: ignore[call-overload]
    suites: list[int] = hello["suites"]  # type: ignore[assignment]
    extensions: dict[int, bytes] = hello["extensions"]  # type: ignore[assignment]
    low, high = 0x0300 + args.min_minor, 0x0300 + args.max_minor
    version = min(client_version, high)
    if version < low:
        sock.sendall(_record(21, 0x0301, b"\x02\x46"))  # protocol_version
        return
    if 0x5600 in suites and client_version < high and not args.no_fallback_scsv:
        sock.sendall(_record(21, version, b"\x02\x56"))  # inappropriate_fallback
        return
    ours = [0x002F, 0x0035, 0x000A]  # RSA with AES-128, AES-256, 3DES (server preference)
    chosen = next((s for s in ours if s in suites), None)
    if chosen is None:
        sock.sendall(_record(21, version, b"\x02\x28"))  # handshake_failure
        return
    compression = 1 if args.compression and 1 in hello["compression"] else 0  # type: ignore[operator]
    exts = b""
    if not args.no_ri and (0x00FF in suites or 0xFF01 in extensions):
        exts += struct.pack("!HH", 0xFF01, 1) + b"\x00"
    if args.heartbeat != "none" and 15 in extensions:
        exts += struct.pack("!HH", 15, 1) + b"\x01"
    body = (
        struct.pack("!H", version)
        + os.urandom(32)
        + b"\x00"
        + struct.pack("!HB", chosen, compression)
    )
    if exts:
        body += struct.pack("!H", len(exts)) + exts
    cert_list = len(cert).to_bytes(3, "big") + cert
    flight = (
        _handshake(2, body)
        + _handshake(11, len(cert_list).to_bytes(3, "big") + cert_list)
        + _handshake(14, b"")
    )
    sock.sendall(_record(22, version, flight))
    early_ccs = 0
    while True:
        record = _recv_record(sock, buffer)
        if record is not None and record[0] == 22 and record[2][:1] == b"\x10" and args.key:
            _answer_key_exchange(
                sock, buffer, args, record[2], version=version, client_version=client_version
            )
            return
        if record is not None and record[0] == 20 and args.ccs != "none":
            # A ChangeCipherSpec before any key exchange: a fixed server refuses it; a
            # vulnerable one (CVE-2014-0224) takes it and then cannot decrypt what follows.
            early_ccs += 1
            if args.ccs == "fixed":
                sock.sendall(_record(21, version, b"\x02\x0a"))  # unexpected_message
                return
            if early_ccs == 2:
                sock.sendall(_record(21, version, b"\x02\x14"))  # bad_record_mac
                return
            continue
        if record is None or record[0] != 24:
            return  # an alert, a key exchange we cannot answer, or the end
        payload = record[2]
        if len(payload) < 3 or payload[0] != 1:
            continue
        claimed = struct.unpack_from("!H", payload, 1)[0]
        actual = len(payload) - 3
        if args.heartbeat == "vulnerable":
            memory = (payload[3:] + b"-private-key-material-and-cookies-" * 600)[:claimed]
            response = b"\x02" + struct.pack("!H", claimed) + memory + os.urandom(16)
            sock.sendall(_record(24, version, response))
        elif claimed + 16 <= actual:  # RFC 6520 §4: answer well-formed requests only
            response = b"\x02" + payload[1 : 3 + claimed] + os.urandom(16)
            sock.sendall(_record(24, version, response))


def _padding_valid(block: bytes, client_version: int) -> tuple[bool, bool]:
    """(the PKCS#1 v1.5 type 2 format holds, the premaster is 48 bytes of the right version)."""
    if block[:2] != b"\x00\x02":
        return False, False
    separator = block.find(b"\x00", 2)
    if separator < 10:
        return False, False
    secret = block[separator + 1 :]
    return len(secret) == 48, len(secret) == 48 and secret[:2] == client_version.to_bytes(2, "big")


def _answer_key_exchange(
    sock: socket.socket,
    buffer: bytearray,
    args: argparse.Namespace,
    message: bytes,
    *,
    version: int,
    client_version: int,
) -> None:
    """Decrypt a ClientKeyExchange with the RSA key and answer it as ``--robot`` says.

    fixed: RFC 5246 §7.4.7.1, whatever the padding: read ChangeCipherSpec and Finished,
    fail to decrypt the Finished (bad_record_mac). leak-alert: a block whose format is wrong
    (first bytes, separator, length) is refused at once with handshake_failure. leak-close:
    a block that does not start 00 02 gets the connection closed, with no alert.
    """
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(Path(args.key).read_bytes(), password=None)
    numbers = key.private_numbers()  # type: ignore[union-attr]
    n, d = numbers.public_numbers.n, numbers.d
    size = (n.bit_length() + 7) // 8
    encrypted = message[6 : 6 + struct.unpack_from("!H", message, 4)[0]]
    block = pow(int.from_bytes(encrypted, "big"), d, n).to_bytes(size, "big")
    well_formed, _ = _padding_valid(block, client_version)
    if args.robot == "leak-alert" and not well_formed:
        sock.sendall(_record(21, version, b"\x02\x28"))  # handshake_failure
        return
    if args.robot == "leak-close" and block[:2] != b"\x00\x02":
        return  # closed without a word
    ccs = _recv_record(sock, buffer)
    finished = _recv_record(sock, buffer)
    if ccs is not None and ccs[0] == 20 and finished is not None:
        sock.sendall(_record(21, version, b"\x02\x14"))  # bad_record_mac


def _serve_raw(args: argparse.Namespace) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    cert = x509.load_pem_x509_certificate(Path(args.cert).read_bytes()).public_bytes(Encoding.DER)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(128)

    def handle(sock: socket.socket) -> None:
        with contextlib.suppress(OSError, struct.error, IndexError), sock:
            _serve_raw_connection(sock, args, cert)

    while True:
        client, _ = listener.accept()
        threading.Thread(target=handle, args=(client,), daemon=True).start()


def _pad_session_id(record: bytes, memory: bytes) -> bytes:
    """The record holding the ServerHello, its session ID padded to 32 bytes with ``memory``."""
    payload = record[5:]
    if record[0] != 22 or payload[:1] != b"\x02":
        return record
    length = int.from_bytes(payload[1:4], "big")
    body, rest = payload[4 : 4 + length], payload[4 + length :]
    sid_len = body[34]
    sid = body[35 : 35 + sid_len]
    body = body[:34] + b"\x20" + (sid + memory)[:32] + body[35 + sid_len :]
    payload = b"\x02" + len(body).to_bytes(3, "big") + body + rest
    return record[:3] + len(payload).to_bytes(2, "big") + payload


def _serve_ticketbleed(args: argparse.Namespace) -> None:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(128)

    def pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def handle(client: socket.socket) -> None:
        with contextlib.suppress(OSError, struct.error, IndexError), client:
            client.settimeout(10)
            server = socket.create_connection(("127.0.0.1", args.upstream), timeout=10)
            with server:
                buffer = bytearray()
                hello = _recv_record(client, buffer)
                if hello is None:
                    return
                ctype, version, payload = hello
                server.sendall(_record(ctype, version, payload) + bytes(buffer))
                offered = _parse_client_hello(payload[4:]) if payload[:1] == b"\x01" else {}
                ticket = offered.get("extensions", {}).get(35, b"")  # type: ignore[union-attr]
                sid_len = payload[4 + 34] if len(payload) > 38 else 32
                up = threading.Thread(target=pipe, args=(client, server), daemon=True)
                up.start()
                if ticket and sid_len < 32:  # a resumption by ticket with a short ID: leak
                    reply = bytearray()
                    first = _recv_record(server, reply)
                    if first is None:
                        return
                    raw = _record(*first)
                    client.sendall(_pad_session_id(raw, b"-secret-memory-" * 3) + bytes(reply))
                pipe(server, client)
                up.join(timeout=10)

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="legacy TLS test servers")
    sub = parser.add_subparsers(dest="kind", required=True)
    t = sub.add_parser("tlslite", help="a tlslite-ng server")
    t.add_argument("--port", type=int, required=True)
    t.add_argument("--cert", required=True)
    t.add_argument("--key", required=True)
    t.add_argument("--min-version", default="ssl3", choices=list(_VERSIONS))
    t.add_argument("--max-version", default="tls1.2", choices=list(_VERSIONS))
    t.add_argument("--ciphers", default="aes128,3des,rc4")
    t.add_argument("--kex", default="rsa")
    r = sub.add_parser("raw", help="the scripted raw server")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--cert", required=True)
    r.add_argument("--min-minor", type=int, default=1, help="lowest version, 0 (SSLv3) to 3")
    r.add_argument("--max-minor", type=int, default=3, help="highest version, 0 to 3")
    r.add_argument("--sslv2", action="store_true", help="answer SSL 2.0 hellos")
    r.add_argument("--compression", action="store_true", help="accept DEFLATE")
    r.add_argument("--heartbeat", choices=("none", "fixed", "vulnerable"), default="none")
    r.add_argument("--no-ri", action="store_true", help="never send renegotiation_info")
    r.add_argument("--ccs", choices=("none", "fixed", "vulnerable"), default="none",
                   help="answer an early ChangeCipherSpec (CVE-2014-0224) as a fixed or a "
                   "vulnerable server does; none: close")  # fmt: skip
    r.add_argument("--no-fallback-scsv", action="store_true", help="ignore TLS_FALLBACK_SCSV")
    r.add_argument("--key", help="the certificate's RSA key: answer RSA key exchanges "
                   "as --robot says")  # fmt: skip
    r.add_argument("--robot", choices=("fixed", "leak-alert", "leak-close"), default="fixed",
                   help="fixed: every padding answered alike; leak-alert: a bad format "
                   "refused at once (handshake_failure); leak-close: bad first bytes closed "
                   "without an alert")  # fmt: skip
    b = sub.add_parser("ticketbleed", help="a Ticketbleed proxy in front of a real server")
    b.add_argument("--port", type=int, required=True)
    b.add_argument("--upstream", type=int, required=True, help="the real server's port")
    args = parser.parse_args(argv)
    if args.kind == "tlslite":
        _serve_tlslite(args)
    elif args.kind == "ticketbleed":
        _serve_ticketbleed(args)
    else:
        _serve_raw(args)


if __name__ == "__main__":
    main()
