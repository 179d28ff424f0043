"""Look at the TLS runtime of this Python process: what it will actually negotiate and trust.

Every probe here measures rather than assumes. Protocol versions and key-exchange groups are
established by real TLS handshakes between two in-memory endpoints (memory BIOs, no socket,
no network), with a throwaway certificate from :class:`zerotls.pki.CA`:

* the stdlib ``ssl`` against itself, once per protocol version (both ends pinned to it);
* a *default* stdlib client (``ssl.create_default_context()``) against a server pinned to
  TLS 1.0 or 1.1: if that handshake succeeds, ordinary stdlib clients in this process accept
  a downgrade to a broken protocol;
* for each group, a default stdlib client against a server restricted to that group: this is
  what the stdlib *offers* by default, e.g. whether it can do the post-quantum hybrid;
* the OpenSSL bundled in ``cryptography`` (through pyOpenSSL) against itself, per protocol
  and per group, reading the negotiated group back from the connection.

The clock is read from the kernel (``adjtimex(2)`` with no modes set: a read, never a
change); no time server is asked, because the doctor never uses the network. The trust stores
are counted as each library loads them. ``pip-audit`` is found but only run on request: it
needs the network.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import datetime as dt
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zerotls._wire.suites import ENGINE_GROUPS, config_group_name, group_by_name
from zerotls.errors import ConfigError

__all__ = [
    "GROUPS",
    "PACKAGES",
    "ClockState",
    "PackageInfo",
    "PipAuditResult",
    "ProtocolProbe",
    "RuntimeInfo",
    "TrustStore",
    "find_pip_audit",
    "installed_packages",
    "parse_pip_audit_json",
    "probe_bundled",
    "probe_clock",
    "probe_stdlib",
    "run_pip_audit",
]

GROUPS: tuple[str, ...] = tuple(
    g for g in ENGINE_GROUPS if (info := group_by_name(g)) is not None and info.kind != "pq"
)
"""Key-exchange groups probed, post-quantum hybrids first (IANA TLS names)."""
HYBRID_GROUPS = frozenset(g for g in GROUPS if "MLKEM" in g)

PACKAGES: tuple[str, ...] = ("cryptography", "pyOpenSSL", "uvloop", "certifi")
"""The security dependencies whose versions are checked against the advisory table."""

_PROTOCOLS: tuple[tuple[str, str], ...] = (
    ("SSLv3", "SSLv3"),
    ("TLS 1.0", "TLSv1"),
    ("TLS 1.1", "TLSv1_1"),
    ("TLS 1.2", "TLSv1_2"),
    ("TLS 1.3", "TLSv1_3"),
)
_PROBE_NAME = "doctor.zerotls.test"
_MAX_ROUNDS = 16  # a TLS 1.3 handshake needs 2-3 flights; HelloRetryRequest adds one


@dataclass(frozen=True, slots=True)
class ProtocolProbe:
    """Whether one protocol version completed a handshake, and why not if it did not."""

    version: str
    negotiated: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class TrustStore:
    """The CA certificates a library trusts by default, as it loads them."""

    files: tuple[str, ...]
    """CA bundle files loaded (all their certificates are read at once)."""
    directory: str | None
    """A hashed CA directory, consulted certificate by certificate during verification."""
    certificates: int
    """Certificates loaded from the files."""
    directory_entries: int
    """Hashed entries (``abcd1234.0``) in the directory."""
    expired: int = 0
    """Loaded certificates already past their notAfter (harmless, but a sign of neglect)."""
    source: str = ""
    """How the location was chosen (compiled-in default, environment, fallback list)."""


@dataclass(frozen=True, slots=True)
class RuntimeInfo:
    """One TLS library as this process uses it."""

    name: str
    """``stdlib ssl`` or ``bundled OpenSSL``."""
    library: str
    """The version string, e.g. ``OpenSSL 3.0.19 27 Jan 2026``."""
    protocols: tuple[ProtocolProbe, ...]
    """Each version with both ends pinned to it, at the library's default security level."""
    groups: tuple[tuple[str, bool], ...]
    """(group, negotiated) for each probed group."""
    trust: TrustStore
    default_client_accepts: tuple[str, ...] = ()
    """Legacy versions a default client context accepted from a server (stdlib only)."""
    notes: tuple[str, ...] = ()
    """Other facts worth showing (default minimum version, security level)."""

    @property
    def hybrid_groups(self) -> tuple[str, ...]:
        """The post-quantum hybrid groups that negotiated."""
        return tuple(g for g, ok in self.groups if ok and g in HYBRID_GROUPS)


@dataclass(frozen=True, slots=True)
class ClockState:
    """What the kernel says about the system clock."""

    now: dt.datetime
    """The system time (UTC) when the doctor ran."""
    source: str
    """``adjtimex`` or ``unavailable``."""
    synchronized: bool | None
    """True/False from the kernel; None when it cannot be known here."""
    max_error_s: float | None = None
    """The kernel's maximum error estimate (16 s means "unknown": never synchronised)."""
    est_error_s: float | None = None
    kernel_state: str | None = None
    """``TIME_OK``, ``TIME_ERROR`` (unsynchronised) ..."""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class PackageInfo:
    name: str
    version: str | None
    """None when the package is not installed."""


@dataclass(frozen=True, slots=True)
class PipAuditResult:
    """The outcome of ``pip-audit`` on this environment."""

    command: tuple[str, ...]
    vulnerabilities: tuple[tuple[str, str, str, tuple[str, ...]], ...] = ()
    """(package, version, advisory id, fixed versions) per finding."""
    error: str | None = None
    skipped: tuple[str, ...] = field(default_factory=tuple)
    """Packages pip-audit could not check (not on PyPI, editable ...)."""


# --- in-memory handshakes -------------------------------------------------------------------


class _Material:
    """A throwaway CA and server certificate, in memory and on disk (the stdlib loads files)."""

    def __init__(self, directory: Path) -> None:
        from zerotls.pki import CA

        ca = CA.create("zerotls doctor probe CA")
        issued = ca.issue("doctor", dns=[_PROBE_NAME], usage="server")
        self.ca_pem = ca.cert_pem.decode("ascii")
        self.ca_path = directory / "ca.pem"
        self.ca_path.write_bytes(ca.cert_pem)
        self.cert = issued.cert
        self.key = issued.key
        self.cert_path = directory / "probe.pem"
        self.key_path = directory / "probe.key"
        issued.write(self.cert_path, self.key_path)


@contextlib.contextmanager
def _material() -> Iterator[_Material]:
    with tempfile.TemporaryDirectory(prefix="zerotls-doctor-") as tmp:
        yield _Material(Path(tmp))


class _Endpoint:
    """One side of an in-memory handshake: a uniform face for ssl.SSLObject and pyOpenSSL."""

    def __init__(
        self,
        step: Callable[[], bool],
        read_out: Callable[[], bytes],
        write_in: Callable[[bytes], None],
    ) -> None:
        self.step, self.read_out, self.write_in = step, read_out, write_in
        self.done = False


def _stdlib_endpoint(ctx: ssl.SSLContext, *, server: bool) -> _Endpoint:
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(
        incoming, outgoing, server_side=server, server_hostname=None if server else _PROBE_NAME
    )

    def step() -> bool:
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            return False
        return True

    def write_in(data: bytes) -> None:
        incoming.write(data)

    return _Endpoint(step, outgoing.read, write_in)


def _ossl_endpoint(ctx: Any, *, server: bool) -> tuple[_Endpoint, Any]:
    from OpenSSL import SSL

    conn = SSL.Connection(ctx, None)
    if server:
        conn.set_accept_state()
    else:
        conn.set_tlsext_host_name(_PROBE_NAME.encode())
        conn.set_connect_state()

    def step() -> bool:
        try:
            conn.do_handshake()
        except SSL.WantReadError:
            return False
        return True

    def read_out() -> bytes:
        try:
            data: bytes = conn.bio_read(65536)
        except SSL.WantReadError:
            return b""
        return data

    def write_in(data: bytes) -> None:
        conn.bio_write(data)

    return _Endpoint(step, read_out, write_in), conn


def _handshake(client: _Endpoint, server: _Endpoint) -> tuple[bool, str]:
    """Shuttle bytes until both ends finish; (completed, reason it did not)."""
    from OpenSSL import SSL

    try:
        for _ in range(_MAX_ROUNDS):
            if not client.done:
                client.done = client.step()
            data = client.read_out()
            if data:
                server.write_in(data)
            if not server.done:
                server.done = server.step()
            reply = server.read_out()
            if reply:
                client.write_in(reply)
            if client.done and server.done:
                return True, ""
            if not data and not reply:
                return False, "the handshake stalled"
    except (ssl.SSLError, SSL.Error) as exc:
        return False, _reason(exc)
    return False, "the handshake did not finish"


def _reason(exc: Exception) -> str:
    text = str(exc)
    if text in {"", "[]"}:
        return "refused by this OpenSSL"
    found = re.findall(r"'([a-z][a-z0-9 _-]+)'", text) or re.findall(r"\] ([a-z][^(\]]+)", text)
    return (found[-1] if found else text).strip()[:120]


def _stdlib_version(name: str) -> ssl.TLSVersion | None:
    return getattr(ssl.TLSVersion, name, None)


def _stdlib_pinned(version: ssl.TLSVersion, material: _Material, *, server: bool) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = version
        ctx.maximum_version = version
    if server:
        ctx.load_cert_chain(str(material.cert_path), str(material.key_path))
    else:
        ctx.load_verify_locations(cadata=material.ca_pem)
    return ctx


def _ossl_context(material: _Material, *, server: bool) -> Any:
    from OpenSSL import SSL

    ctx = SSL.Context(SSL.TLS_SERVER_METHOD if server else SSL.TLS_CLIENT_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_2_VERSION)  # the protocol probe overrides it
    if server:
        ctx.use_certificate(material.cert)
        ctx.use_privatekey(material.key)
    else:
        ctx.load_verify_locations(str(material.ca_path))
        ctx.set_verify(SSL.VERIFY_PEER)
    return ctx


def _set_groups(ctx: Any, group: str) -> bool:
    from zerotls.tls._ossl import set_groups

    return set_groups(ctx, group)


def _stdlib_protocols(material: _Material) -> tuple[ProtocolProbe, ...]:
    probes = []
    for label, attr in _PROTOCOLS:
        version = _stdlib_version(attr)
        compiled = {"SSLv3": ssl.HAS_SSLv3, "TLSv1": ssl.HAS_TLSv1, "TLSv1_1": ssl.HAS_TLSv1_1}
        if version is None or not compiled.get(attr, True):
            probes.append(ProtocolProbe(label, False, "not compiled into this OpenSSL"))
            continue
        try:
            client = _stdlib_endpoint(_stdlib_pinned(version, material, server=False), server=False)
            server = _stdlib_endpoint(_stdlib_pinned(version, material, server=True), server=True)
        except (ssl.SSLError, ValueError) as exc:
            probes.append(ProtocolProbe(label, False, _reason(exc)))
            continue
        ok, why = _handshake(client, server)
        probes.append(ProtocolProbe(label, ok, why))
    return tuple(probes)


def _stdlib_default_accepts(material: _Material) -> tuple[str, ...]:
    """Legacy versions that an ordinary ``create_default_context()`` client accepts."""
    accepted = []
    for label, attr in (("TLS 1.0", "TLSv1"), ("TLS 1.1", "TLSv1_1")):
        version = _stdlib_version(attr)
        if version is None:
            continue
        try:
            server = _stdlib_endpoint(_stdlib_pinned(version, material, server=True), server=True)
        except (ssl.SSLError, ValueError):
            continue  # this OpenSSL cannot even offer it
        client_ctx = ssl.create_default_context(cadata=material.ca_pem)
        ok, _ = _handshake(_stdlib_endpoint(client_ctx, server=False), server)
        if ok:
            accepted.append(label)
    return tuple(accepted)


def _stdlib_groups(material: _Material) -> tuple[tuple[str, bool], ...]:
    results = []
    for group in GROUPS:
        server_ctx = _ossl_context(material, server=True)
        if not _set_groups(server_ctx, group):
            results.append((group, False))  # the probe's own OpenSSL lacks it: unknown, say no
            continue
        server, _ = _ossl_endpoint(server_ctx, server=True)
        client_ctx = ssl.create_default_context(cadata=material.ca_pem)
        ok, _ = _handshake(_stdlib_endpoint(client_ctx, server=False), server)
        results.append((group, ok))
    return tuple(results)


def _ossl_protocols(material: _Material) -> tuple[ProtocolProbe, ...]:
    from OpenSSL import SSL

    versions = {
        "SSLv3": getattr(SSL, "SSL3_VERSION", None),
        "TLSv1": SSL.TLS1_VERSION,
        "TLSv1_1": SSL.TLS1_1_VERSION,
        "TLSv1_2": SSL.TLS1_2_VERSION,
        "TLSv1_3": SSL.TLS1_3_VERSION,
    }
    probes = []
    for label, attr in _PROTOCOLS:
        number = versions[attr]
        if number is None:
            probes.append(ProtocolProbe(label, False, "not in this OpenSSL"))
            continue
        contexts = []
        try:
            for server in (False, True):
                ctx = _ossl_context(material, server=server)
                ctx.set_min_proto_version(number)
                ctx.set_max_proto_version(number)
                contexts.append(ctx)
        except SSL.Error as exc:
            probes.append(ProtocolProbe(label, False, _reason(exc)))
            continue
        client, _ = _ossl_endpoint(contexts[0], server=False)
        server_end, _ = _ossl_endpoint(contexts[1], server=True)
        ok, why = _handshake(client, server_end)
        probes.append(ProtocolProbe(label, ok, why))
    return tuple(probes)


def _ossl_groups(material: _Material) -> tuple[tuple[str, bool], ...]:
    results = []
    for group in GROUPS:
        client_ctx = _ossl_context(material, server=False)
        server_ctx = _ossl_context(material, server=True)
        if not (_set_groups(client_ctx, group) and _set_groups(server_ctx, group)):
            results.append((group, False))
            continue
        client, client_conn = _ossl_endpoint(client_ctx, server=False)
        server, _ = _ossl_endpoint(server_ctx, server=True)
        ok, _ = _handshake(client, server)
        raw_group = client_conn.get_group_name() if ok else None
        negotiated = config_group_name(raw_group) if raw_group else None
        results.append((group, ok and negotiated == group))
    return tuple(results)


# --- trust stores ---------------------------------------------------------------------------


def _count_pem(path: str, now: dt.datetime) -> tuple[int, int]:
    """(certificates, expired) in a PEM bundle; (0, 0) if unreadable."""
    from cryptography import x509

    try:
        data = Path(path).read_bytes()
    except OSError:
        return 0, 0
    try:
        with warnings.catch_warnings():
            # Some distributed roots have non-positive serials; cryptography warns, we count.
            warnings.simplefilter("ignore")
            certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        return data.count(b"-----BEGIN CERTIFICATE-----"), 0
    expired = sum(1 for c in certs if c.not_valid_after_utc < now)
    return len(certs), expired


def _count_hashed(directory: str | None) -> int:
    if not directory or not os.path.isdir(directory):
        return 0
    pattern = re.compile(r"^[0-9a-f]{8}\.\d+$")
    return sum(1 for name in os.listdir(directory) if pattern.match(name))


def _stdlib_trust(now: dt.datetime) -> TrustStore:
    paths = ssl.get_default_verify_paths()
    env = [v for v in (paths.openssl_cafile_env, paths.openssl_capath_env) if os.environ.get(v)]
    files = (paths.cafile,) if paths.cafile else ()
    # What the stdlib really loads (a CA directory is read lazily, so it counts 0 here).
    certificates = ssl.create_default_context().cert_store_stats()["x509"]
    expired = _count_pem(paths.cafile, now)[1] if paths.cafile else 0
    source = f"set by {' and '.join(env)}" if env else "the OpenSSL build's defaults"
    return TrustStore(
        files, paths.capath, certificates, _count_hashed(paths.capath), expired, source
    )


def _bundled_trust(now: dt.datetime) -> TrustStore:
    from OpenSSL import SSL

    from zerotls.tls import _ossl

    # No connection is made with this context: it only loads the default trust store.
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)  # zerotls: ignore[TLS002,TLS004] never connects
    ctx.set_default_verify_paths()  # as zerotls does for a ClientConfig without ca
    store = ctx.get_cert_store()
    loaded = 0
    if store is not None:
        loaded = _ossl.store_object_count(store)
    default_file, default_dir = _ossl.default_cert_paths()
    env_file, env_dir = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    files: tuple[str, ...]
    directory: str | None
    if env_file or env_dir:
        files = (env_file,) if env_file else ()
        directory, source = env_dir, "set by SSL_CERT_FILE or SSL_CERT_DIR"
    elif os.path.exists(default_file) or os.path.isdir(default_dir):
        files = (default_file,) if os.path.exists(default_file) else ()
        directory, source = default_dir, "the bundled OpenSSL's compiled-in defaults"
    else:
        # pyOpenSSL's fallback for manylinux wheels: the usual distribution locations. The
        # count above is what was really loaded; these names only say from where.
        fallback_files, fallback_dirs = _ossl.fallback_cert_locations()
        found = [f for f in fallback_files if os.path.isfile(f)][:1]
        dirs = [d for d in fallback_dirs if os.path.isdir(d)][:1]
        files, directory = tuple(found), (dirs[0] if dirs else None)
        source = "pyOpenSSL's fallback list of distribution paths (manylinux wheel)"
    expired = _count_pem(files[0], now)[1] if files else 0
    return TrustStore(files, directory, loaded, _count_hashed(directory), expired, source)


# --- runtimes -------------------------------------------------------------------------------


def probe_stdlib(now: dt.datetime | None = None) -> RuntimeInfo:
    """Probe the stdlib ``ssl`` module's OpenSSL with real in-memory handshakes."""
    moment = now or dt.datetime.now(dt.UTC)
    default = ssl.create_default_context()
    notes = [
        f"ssl.create_default_context(): minimum {default.minimum_version.name}, "
        f"security level {getattr(default, 'security_level', '?')}, "
        f"{len(default.get_ciphers())} cipher suites"
    ]
    with _material() as material:
        protocols = _stdlib_protocols(material)
        accepts = _stdlib_default_accepts(material)
        groups = _stdlib_groups(material)
    return RuntimeInfo(
        "stdlib ssl",
        ssl.OPENSSL_VERSION,
        protocols,
        groups,
        _stdlib_trust(moment),
        accepts,
        tuple(notes),
    )


def probe_bundled(now: dt.datetime | None = None) -> RuntimeInfo:
    """Probe the OpenSSL in the ``cryptography`` wheel, which zerotls's engine uses."""
    from cryptography.hazmat.backends.openssl import backend

    moment = now or dt.datetime.now(dt.UTC)
    with _material() as material:
        protocols = _ossl_protocols(material)
        groups = _ossl_groups(material)
    return RuntimeInfo(
        "bundled OpenSSL",
        backend.openssl_version_text(),
        protocols,
        groups,
        _bundled_trust(moment),
        (),
        ("used by zerotls's TLS engine (pyOpenSSL over memory BIOs)",),
    )


# --- the clock ------------------------------------------------------------------------------

_TIME_STATES = {0: "TIME_OK", 1: "TIME_INS", 2: "TIME_DEL", 3: "TIME_OOP", 4: "TIME_WAIT"}
_TIME_ERROR = 5
_STA_UNSYNC = 0x0040
_UNSYNCED_MAXERROR_US = 16_000_000  # the kernel's "no idea" value (NTP_PHASE_LIMIT)


class _Timex(ctypes.Structure):
    """``struct timex`` from <sys/timex.h> (Linux), with room to spare at the end."""

    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("tv_sec", ctypes.c_long),
        ("tv_usec", ctypes.c_long),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 32),
    ]


def probe_clock(now: dt.datetime | None = None) -> ClockState:
    """Ask the kernel whether the clock is synchronised (Linux ``adjtimex``; read-only).

    Like systemd's ``timedatectl``, a maximum error under 16 s means synchronised; the
    ``STA_UNSYNC`` flag and the ``TIME_ERROR`` state are reported as they are.
    """
    moment = now or dt.datetime.now(dt.UTC)
    if not sys.platform.startswith("linux"):
        return ClockState(moment, "unavailable", None, detail=f"not supported on {sys.platform}")
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        adjtimex = libc.adjtimex
    except (OSError, AttributeError) as exc:
        return ClockState(moment, "unavailable", None, detail=f"no adjtimex: {exc}")
    timex = _Timex()  # modes = 0: read only, changes nothing
    state = adjtimex(ctypes.byref(timex))
    if state < 0:
        errno = ctypes.get_errno()
        return ClockState(
            moment, "unavailable", None, detail=f"adjtimex failed: {os.strerror(errno)}"
        )
    synchronized = timex.maxerror < _UNSYNCED_MAXERROR_US
    flags = []
    if timex.status & _STA_UNSYNC:
        flags.append("STA_UNSYNC")
    kernel_state = "TIME_ERROR" if state == _TIME_ERROR else _TIME_STATES.get(state, str(state))
    detail = f"kernel state {kernel_state}" + (f", {', '.join(flags)}" if flags else "")
    return ClockState(
        moment,
        "adjtimex",
        synchronized,
        timex.maxerror / 1e6,
        timex.esterror / 1e6,
        kernel_state,
        detail,
    )


# --- packages and pip-audit -----------------------------------------------------------------


def installed_packages(names: tuple[str, ...] = PACKAGES) -> tuple[PackageInfo, ...]:
    """The installed version of each package (None when it is not installed)."""
    found = []
    for name in names:
        try:
            found.append(PackageInfo(name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            found.append(PackageInfo(name, None))
    return tuple(found)


def find_pip_audit(path: str | None = None) -> tuple[str, ...] | None:
    """The command that runs pip-audit against this interpreter's environment, if any.

    Args:
        path: the ``PATH`` to search for a ``pip-audit`` executable (default: the real one).
    """
    if importlib.util.find_spec("pip_audit") is not None:
        return (sys.executable, "-m", "pip_audit")
    exe = shutil.which("pip-audit", path=path)
    return (exe,) if exe else None


def parse_pip_audit_json(
    text: str,
) -> tuple[tuple[tuple[str, str, str, tuple[str, ...]], ...], tuple[str, ...]]:
    """Read pip-audit's ``--format json`` output.

    Returns:
        The vulnerabilities (package, version, id, fixed versions) and the skipped packages.

    Raises:
        ValueError: not pip-audit JSON.
    """
    data = json.loads(text)
    dependencies = data.get("dependencies") if isinstance(data, dict) else data
    if not isinstance(dependencies, list):
        raise ValueError("no 'dependencies' list in pip-audit's output")  # noqa: TRY004 - bad data
    vulnerabilities = []
    skipped = []
    for dep in dependencies:
        if not isinstance(dep, dict) or "name" not in dep:
            raise ValueError("a pip-audit dependency entry has no name")
        if "skip_reason" in dep:
            skipped.append(str(dep["name"]))
            continue
        for vuln in dep.get("vulns", []):
            fixes = tuple(str(v) for v in vuln.get("fix_versions", []))
            vulnerabilities.append(
                (str(dep["name"]), str(dep.get("version", "?")), str(vuln.get("id", "?")), fixes)
            )
    return tuple(vulnerabilities), tuple(skipped)


def run_pip_audit(command: tuple[str, ...], *, timeout: float = 600.0) -> PipAuditResult:
    """Run pip-audit on this interpreter's environment (it queries PyPI/OSV: network).

    Raises:
        ConfigError: pip-audit could not be started.
    """
    full = (*command, "--format", "json", "--progress-spinner", "off")
    env = dict(os.environ, PIPAPI_PYTHON_LOCATION=sys.executable)  # audit *this* environment
    try:
        proc = subprocess.run(
            full, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"cannot run pip-audit ({' '.join(command)}): {exc}") from None
    try:
        vulnerabilities, skipped = parse_pip_audit_json(proc.stdout)
    except ValueError as exc:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return PipAuditResult(full, error=f"pip-audit failed ({exc}): {last}")
    return PipAuditResult(full, vulnerabilities, None, skipped)
