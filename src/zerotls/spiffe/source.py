"""A live X.509 identity from a SPIFFE Workload API: the SVID, its key and the trust bundles.

Theory of operation. :class:`WorkloadAPI` opens a gRPC channel to the agent's socket
(``SPIFFE_ENDPOINT_SOCKET``, or the address given: ``unix:///run/spire/sockets/agent.sock``
or ``tcp://127.0.0.1:8081``) and keeps one ``FetchX509SVID`` stream open in a background
thread. The agent sends a response at once and another whenever anything changes (an SVID
rotated, a bundle updated, a federated trust domain added). Each response is checked before
it replaces the current one: every SVID's leaf carries the SPIFFE ID the message says, the
key belongs to the leaf, and the chain is signed by its trust domain's bundle. A response
that fails is logged with the reason and ignored: the previous identity stays in use while
it is valid.

When the stream ends (the agent restarts, the socket goes away), the thread reconnects with
exponential backoff (0.1 s doubling to 30 s). The current identity stays usable until its
leaf expires; after that :meth:`WorkloadAPI.context` raises :class:`StaleSVIDError`, which
says since when the agent has been unreachable and what it last said, so no handshake ever
starts with an expired SVID. Consumers (``TLSContext``) look at :attr:`WorkloadAPI.version`
(a counter that grows with every accepted update) on each new connection and rebuild their
OpenSSL context when it changed: handshakes started after a rotation present the new SVID.

gRPC and protobuf are used directly (``pip install 'zerotls[spiffe]'``) with the official
``workload.proto`` messages (:mod:`zerotls.spiffe._proto`), rather than the ``spiffe``
package: zerotls needs its own rules for staleness and rotation, and only the X.509 calls.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from zerotls.errors import ConfigError, TransportError, ZeroTLSError
from zerotls.spiffe._proto import (
    FETCH_JWT_BUNDLES,
    FETCH_JWT_SVID,
    FETCH_X509_SVID,
    METADATA,
    VALIDATE_JWT_SVID,
)
from zerotls.tls.identity import parse_spiffe_id

if TYPE_CHECKING:
    from zerotls.spiffe.jwt import JWTSVID, JWTBundle

__all__ = [
    "ENDPOINT_ENV",
    "StaleSVIDError",
    "WorkloadAPI",
    "WorkloadAPIError",
    "X509Context",
    "X509SVID",
    "parse_address",
    "shared_source",
    "trust_domain_of",
]

log = logging.getLogger("zerotls.spiffe")

ENDPOINT_ENV: Final = "SPIFFE_ENDPOINT_SOCKET"
BACKOFF_START: Final = 0.1
BACKOFF_MAX: Final = 30.0
JWT_BUNDLES_MAX_AGE: Final = 30.0
"""Seconds the JWT bundles fetched for local validation are reused."""


class WorkloadAPIError(TransportError):
    """The Workload API could not be reached, or what it sent cannot be used (a runtime
    failure: the command exits 3)."""


class StaleSVIDError(WorkloadAPIError):
    """The last SVID the agent sent has expired and no newer one came."""


@dataclass(frozen=True, slots=True)
class X509SVID:
    """One X.509-SVID: the SPIFFE ID, the certificate chain (leaf first) and its key."""

    spiffe_id: str
    chain: tuple[x509.Certificate, ...]
    key: PrivateKeyTypes = field(repr=False)
    hint: str = ""

    @property
    def trust_domain(self) -> str:
        return trust_domain_of(self.spiffe_id) or ""

    @property
    def expires(self) -> dt.datetime:
        return self.chain[0].not_valid_after_utc

    @property
    def serial(self) -> int:
        return self.chain[0].serial_number


@dataclass(frozen=True, slots=True)
class X509Context:
    """What the agent said last: the SVIDs and the bundle of every trust domain."""

    svids: tuple[X509SVID, ...]
    bundles: Mapping[str, tuple[x509.Certificate, ...]]
    """Trust domain name (``example.org``) to its CA certificates: our own trust domain's
    and every federated one's."""
    crls: tuple[bytes, ...] = ()
    version: int = 0
    received: float = 0.0
    """Epoch seconds when it arrived."""

    @property
    def svid(self) -> X509SVID:
        """The default SVID: the first the agent listed."""
        return self.svids[0]


def trust_domain_of(spiffe_id: str | None) -> str | None:
    """``example.org`` for ``spiffe://example.org/anything`` (or the bare trust domain ID);
    None for anything that is not a valid SPIFFE ID."""
    if not spiffe_id:
        return None
    try:
        return parse_spiffe_id(spiffe_id).trust_domain
    except ConfigError:
        return None


def parse_address(address: str | None) -> str:
    """The gRPC target for a Workload API address (``unix:///path``, ``unix:/path``,
    ``tcp://IP:PORT``), or for ``$SPIFFE_ENDPOINT_SOCKET`` when ``address`` is None.

    Raises:
        ConfigError: no address, or one the Workload API specification does not allow.
    """
    value = address if address is not None else os.environ.get(ENDPOINT_ENV)
    if not value:
        raise ConfigError(
            f"no Workload API address: set {ENDPOINT_ENV} (SPIRE: "
            "unix:///run/spire/sockets/agent.sock) or pass one, e.g. "
            "--workload-api unix:///run/spire/sockets/agent.sock"
        )
    if value.startswith("unix://"):
        path = value[len("unix://") :]
        if not path.startswith("/"):
            raise ConfigError(f"{value!r}: a unix address needs an absolute path (unix:///...)")
        return f"unix:{path}"
    if value.startswith("unix:/"):
        return value
    if value.startswith("tcp://"):
        hostport = value[len("tcp://") :].rstrip("/")
        host = hostport.rsplit(":", 1)[0].strip("[]")
        import ipaddress

        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ConfigError(
                f"{value!r}: a tcp Workload API address must be an IP address and port "
                "(the specification allows no host names)"
            ) from None
        return hostport
    raise ConfigError(f"{value!r}: a Workload API address is unix:///PATH or tcp://IP:PORT")


def _split_der(data: bytes, what: str) -> list[bytes]:
    """Concatenated DER structures (the Workload API's chains and bundles) one by one."""
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        if data[pos] != 0x30 or pos + 2 > len(data):
            raise WorkloadAPIError(f"{what} is not DER certificates (byte {pos})")
        first = data[pos + 1]
        if first < 0x80:
            length, header = first, 2
        else:
            n = first & 0x7F
            if n == 0 or n > 4 or pos + 2 + n > len(data):
                raise WorkloadAPIError(f"{what} has a bad DER length at byte {pos}")
            length, header = int.from_bytes(data[pos + 2 : pos + 2 + n], "big"), 2 + n
        end = pos + header + length
        if end > len(data):
            raise WorkloadAPIError(f"{what} is truncated at byte {pos}")
        out.append(data[pos:end])
        pos = end
    return out


def _certificates(data: bytes, what: str) -> tuple[x509.Certificate, ...]:
    certs = []
    for der in _split_der(data, what):
        try:
            certs.append(x509.load_der_x509_certificate(der))
        except ValueError as exc:
            raise WorkloadAPIError(f"{what}: an unparsable certificate ({exc})") from None
    if not certs:
        raise WorkloadAPIError(f"{what} is empty")
    return tuple(certs)


def _uri_ids(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return list(san.get_values_for_type(x509.UniformResourceIdentifier))


def _signed_by_bundle(
    chain: tuple[x509.Certificate, ...], bundle: tuple[x509.Certificate, ...]
) -> bool:
    last = chain[-1]
    for ca in bundle:
        if ca == last:
            return True
        with contextlib.suppress(ValueError, TypeError, InvalidSignature):
            last.verify_directly_issued_by(ca)
            return True
    return False


def _decode(message: Any, version: int, now: float) -> X509Context:
    """Check one X509SVIDResponse and turn it into an :class:`X509Context`.

    Raises:
        WorkloadAPIError: the response cannot be used (the message says why).
    """
    if not message.svids:
        raise WorkloadAPIError("the agent sent no SVID (is this workload registered?)")
    bundles: dict[str, tuple[x509.Certificate, ...]] = {}
    svids = []
    for entry in message.svids:
        sid = entry.spiffe_id
        domain = trust_domain_of(sid)
        if domain is None:
            raise WorkloadAPIError(f"the agent sent an SVID whose SPIFFE ID {sid!r} is not one")
        chain = _certificates(entry.x509_svid, f"the SVID of {sid}")
        ids = _uri_ids(chain[0])
        if ids != [sid]:
            raise WorkloadAPIError(
                f"the SVID certificate of {sid} carries "
                + (", ".join(ids) if ids else "no SPIFFE ID (no URI SAN)")
                + "; an X.509-SVID carries exactly its SPIFFE ID"
            )
        try:
            key = serialization.load_der_private_key(entry.x509_svid_key, password=None)
        except (ValueError, TypeError) as exc:
            raise WorkloadAPIError(
                f"the key of {sid} is not an unencrypted PKCS#8 key: {exc}"
            ) from None
        if key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) != chain[0].public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ):
            raise WorkloadAPIError(f"the key the agent sent for {sid} does not belong to its SVID")
        bundle = _certificates(entry.bundle, f"the bundle of {domain}")
        if not _signed_by_bundle(chain, bundle):
            raise WorkloadAPIError(
                f"the SVID of {sid} is not signed by a CA of the bundle of {domain}"
            )
        bundles[domain] = bundle
        svids.append(X509SVID(sid, chain, key, entry.hint))
    for name, der in message.federated_bundles.items():
        domain = trust_domain_of(name) or name.lower()
        if domain in bundles:
            continue  # our own trust domain's bundle comes with the SVID
        bundles[domain] = _certificates(der, f"the federated bundle of {domain}")
    return X509Context(tuple(svids), bundles, tuple(message.crl), version, now)


class WorkloadAPI:
    """An X.509 identity and trust source kept current by the SPIFFE Workload API.

    Args:
        address: ``unix:///path/agent.sock``, ``tcp://IP:PORT``, or None for
            ``$SPIFFE_ENDPOINT_SOCKET``.
        timeout: seconds :meth:`start` waits for the first SVID.
        spiffe_id: present this SVID when the agent gives the workload several (default:
            the first).
        clock: epoch seconds now (injected in tests); expiry is judged at it.

    Use it as the identity of a config (``ServerConfig(identity=source)``); call
    :meth:`start` first (or use it as a context manager) and :meth:`close` at the end.

    Raises:
        ConfigError: a bad address, or grpcio/protobuf missing.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        timeout: float = 10.0,
        spiffe_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.address = address if address is not None else os.environ.get(ENDPOINT_ENV, "")
        self._target = parse_address(address)
        try:
            import grpc  # noqa: F401

            from zerotls.spiffe._proto import messages

            messages()
        except ImportError:
            raise ConfigError(
                "the Workload API source needs grpcio and protobuf: pip install 'zerotls[spiffe]'"
            ) from None
        self.timeout = timeout
        self.spiffe_id = spiffe_id
        self._clock = clock
        self._lock = threading.Condition()
        self._context: X509Context | None = None
        self._version = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._call: Any = None
        self.connected = False
        self.last_error: str | None = None
        """What went wrong last (the stream's end, a refused update), for status pages."""
        self.disconnected_since: float | None = None
        self._jwt_bundles: dict[str, JWTBundle] = {}
        self._jwt_bundles_at = -math.inf
        """When (the clock's seconds) the cached JWT bundles were fetched."""

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> Self:
        """Open the stream and wait (up to ``timeout``) for the first SVID.

        Raises:
            WorkloadAPIError: nothing usable came in time; the message says what happened.
        """
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="zerotls-workload-api", daemon=True
            )
            self._thread.start()
        deadline = time.monotonic() + self.timeout
        with self._lock:
            while self._context is None and time.monotonic() < deadline:
                self._lock.wait(max(0.0, deadline - time.monotonic()))
        if self._context is None:
            self.close()
            raise WorkloadAPIError(
                f"no SVID from the Workload API at {self.address} within {self.timeout:g} s"
                + (f" ({self.last_error})" if self.last_error else "")
                + "; is the agent running, and is this workload registered with it?"
            )
        return self

    @property
    def started(self) -> bool:
        """:meth:`start` was called (and :meth:`close` was not)."""
        return self._thread is not None and not self._stop.is_set()

    @property
    def socket_path(self) -> str | None:
        """The agent's unix socket path (None for a tcp address)."""
        return self._target[len("unix:") :] if self._target.startswith("unix:") else None

    def close(self) -> None:
        """Stop the stream (idempotent)."""
        self._stop.set()
        call = self._call
        if call is not None:
            call.cancel()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- what consumers read -----------------------------------------------------------

    @property
    def version(self) -> int:
        """Grows with every update accepted: a consumer rebuilds when it changed."""
        return self._version

    def context(self) -> X509Context:
        """The current identity and bundles.

        Raises:
            StaleSVIDError: the SVID has expired and the agent sent no newer one.
            WorkloadAPIError: nothing has been received yet (call :meth:`start`).
        """
        current = self._context
        if current is None:
            raise WorkloadAPIError(
                f"no SVID from the Workload API at {self.address} yet (call start() first)"
            )
        svid = self._choose(current)
        now = self._clock()
        if svid.expires.timestamp() <= now:
            since = (
                f"; the agent has been unreachable since "
                f"{dt.datetime.fromtimestamp(self.disconnected_since, dt.UTC):%Y-%m-%dT%H:%M:%SZ}"
                if self.disconnected_since is not None
                else ""
            )
            why = f" (last: {self.last_error})" if self.last_error else ""
            raise StaleSVIDError(
                f"the SVID {svid.spiffe_id} from the Workload API at {self.address} expired at "
                f"{svid.expires:%Y-%m-%dT%H:%M:%SZ} and no newer one came{since}{why}; no "
                "handshake is made with an expired identity: check the agent"
            )
        return current

    def svid(self) -> X509SVID:
        """The SVID to present (see ``spiffe_id``), checked as :meth:`context` does."""
        return self._choose(self.context())

    def _choose(self, ctx: X509Context) -> X509SVID:
        if self.spiffe_id is None:
            return ctx.svid
        for s in ctx.svids:
            if s.spiffe_id == self.spiffe_id:
                return s
        raise WorkloadAPIError(
            f"the agent gives this workload {', '.join(s.spiffe_id for s in ctx.svids)}, "
            f"not {self.spiffe_id}"
        )

    def wait_for_version(self, after: int, timeout: float) -> bool:
        """Wait until :attr:`version` is above ``after``; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._version <= after and time.monotonic() < deadline:
                self._lock.wait(max(0.0, deadline - time.monotonic()))
            return self._version > after

    def status(self) -> dict[str, Any]:
        """For status pages and ``doctor``: where, whether connected, the SVID and expiry."""
        ctx = self._context
        out: dict[str, Any] = {
            "address": self.address,
            "connected": self.connected,
            "updates": self._version,
            "last_error": self.last_error,
        }
        if ctx is not None:
            svid = self._choose(ctx)
            out |= {
                "spiffe_id": svid.spiffe_id,
                "serial": format(svid.serial, "x"),
                "expires": svid.expires.isoformat(),
                "trust_domains": sorted(ctx.bundles),
            }
        return out

    # -- JWT-SVIDs (unary calls, each on a channel of its own) ---------------------------

    def _unary_call(
        self,
        method: str,
        request: Any,
        response_type: Any,
        timeout: float,
        *,
        refused: Callable[[str], ZeroTLSError] | None = None,
    ) -> Any:
        """One unary call; an agent's INVALID_ARGUMENT becomes ``refused(details)`` when
        given (the agent judged what we sent), any other failure a WorkloadAPIError."""
        import grpc

        with grpc.insecure_channel(self._target) as channel:
            call = channel.unary_unary(
                method,
                request_serializer=type(request).SerializeToString,
                response_deserializer=response_type.FromString,
            )
            try:
                return call(request, metadata=METADATA, timeout=timeout)
            except grpc.RpcError as exc:
                code = exc.code() if hasattr(exc, "code") else None
                details = exc.details() if hasattr(exc, "details") else str(exc)
                if code == grpc.StatusCode.INVALID_ARGUMENT and refused is not None:
                    raise refused(details) from None
                name = code.name if code is not None else "UNKNOWN"
                raise WorkloadAPIError(
                    f"the Workload API at {self.address} did not answer {method.rsplit('/', 1)[1]}"
                    f" ({name}: {details}); is the agent running, and is this workload "
                    "registered with it?"
                ) from None

    def fetch_jwt_svid(
        self, audience: str, *more: str, spiffe_id: str | None = None, timeout: float = 5.0
    ) -> JWTSVID:
        """A JWT-SVID for ``audience`` (and ``more`` audiences) from the agent
        (``FetchJWTSVID``): for a message or request that leaves the TLS channel.

        Raises:
            WorkloadAPIError: the agent did not answer or gave nothing usable.
        """
        from zerotls.spiffe._proto import messages
        from zerotls.spiffe.jwt import JWTSVIDError, read_jwt_svid

        types = messages()
        wanted = spiffe_id or self.spiffe_id
        request = types["JWTSVIDRequest"](audience=[audience, *more], spiffe_id=wanted or "")
        response = self._unary_call(FETCH_JWT_SVID, request, types["JWTSVIDResponse"], timeout)
        if not response.svids:
            raise WorkloadAPIError(f"the Workload API at {self.address} sent no JWT-SVID")
        entry = response.svids[0]
        try:
            svid = read_jwt_svid(entry.svid, audience=audience, now=self._clock(), hint=entry.hint)
        except JWTSVIDError as exc:
            raise WorkloadAPIError(f"the agent's JWT-SVID cannot be used: {exc}") from None
        if svid.spiffe_id != entry.spiffe_id:
            raise WorkloadAPIError(
                f"the agent's JWT-SVID says sub {svid.spiffe_id} but was sent as {entry.spiffe_id}"
            )
        return svid

    def jwt_bundles(self, timeout: float = 5.0) -> dict[str, JWTBundle]:
        """Every trust domain's JWT signing keys, as the agent has them now
        (``FetchJWTBundles``), for :func:`zerotls.spiffe.jwt.validate_jwt_svid`.

        Raises:
            WorkloadAPIError: no answer in ``timeout`` seconds.
        """
        import grpc

        from zerotls.spiffe._proto import messages
        from zerotls.spiffe.jwt import parse_jwks

        types = messages()
        with grpc.insecure_channel(self._target) as channel:
            call = channel.unary_stream(
                FETCH_JWT_BUNDLES,
                request_serializer=types["JWTBundlesRequest"].SerializeToString,
                response_deserializer=types["JWTBundlesResponse"].FromString,
            )(types["JWTBundlesRequest"](), metadata=METADATA, timeout=timeout)
            try:
                first = next(iter(call))
            except (grpc.RpcError, StopIteration) as exc:
                details = exc.details() if isinstance(exc, grpc.RpcError) else "stream ended"
                raise WorkloadAPIError(
                    f"no JWT bundles from the Workload API at {self.address} ({details})"
                ) from None
            finally:
                call.cancel()
        out: dict[str, JWTBundle] = {}
        for name, data in first.bundles.items():
            domain = trust_domain_of(name) or name.lower()
            out[domain] = parse_jwks(data, domain)
        return out

    def validate_jwt_svid(
        self, token: str, audience: str, *, local: bool = True, timeout: float = 5.0
    ) -> JWTSVID:
        """Check a JWT-SVID a peer sent us: against the agent's JWT bundles here (``local``,
        the default: the keys are fetched once and again only for a key ID not seen), or by
        the agent itself (``ValidateJWTSVID``).

        Raises:
            JWTSVIDError: the token is refused; the message says why.
            WorkloadAPIError: the agent did not answer.
        """
        from zerotls.spiffe.jwt import (
            JWTSVIDError,
            UnknownJWTKeyError,
            read_jwt_svid,
            validate_jwt_svid,
        )

        if not local:
            from zerotls.spiffe._proto import messages

            types = messages()
            request = types["ValidateJWTSVIDRequest"](audience=audience, svid=token)
            answer = self._unary_call(
                VALIDATE_JWT_SVID,
                request,
                types["ValidateJWTSVIDResponse"],
                timeout,
                refused=lambda details: JWTSVIDError(f"the agent refused the JWT-SVID: {details}"),
            )
            claimed = read_jwt_svid(token, audience=audience, now=self._clock())
            if answer.spiffe_id != claimed.spiffe_id:
                raise JWTSVIDError(
                    f"the agent validated {answer.spiffe_id}, but the token says "
                    f"{claimed.spiffe_id}"
                )
            return claimed
        # Bundles are reused for JWT_BUNDLES_MAX_AGE at most: a key the agent has dropped (a
        # compromised one rotated out) stops vouching within that time.
        fresh = self._clock() - self._jwt_bundles_at < JWT_BUNDLES_MAX_AGE
        bundles = self._jwt_bundles if fresh and self._jwt_bundles else self._fetch_bundles(timeout)
        try:
            return validate_jwt_svid(token, audience, bundles, now=self._clock())
        except UnknownJWTKeyError:
            if not fresh:
                raise  # just fetched: the key is not the agent's
            bundles = self._fetch_bundles(timeout)  # the agent may have rotated or federated
            return validate_jwt_svid(token, audience, bundles, now=self._clock())

    def _fetch_bundles(self, timeout: float) -> dict[str, JWTBundle]:
        bundles = self.jwt_bundles(timeout)
        self._jwt_bundles, self._jwt_bundles_at = bundles, self._clock()
        return bundles

    # -- the stream ----------------------------------------------------------------------

    def _run(self) -> None:
        import grpc

        from zerotls.spiffe._proto import messages

        types = messages()
        delay = BACKOFF_START
        while not self._stop.is_set():
            channel = grpc.insecure_channel(self._target)
            try:
                call = channel.unary_stream(
                    FETCH_X509_SVID,
                    request_serializer=types["X509SVIDRequest"].SerializeToString,
                    response_deserializer=types["X509SVIDResponse"].FromString,
                )(types["X509SVIDRequest"](), metadata=METADATA)
                self._call = call
                for response in call:
                    self.connected = True
                    self.disconnected_since = None
                    delay = BACKOFF_START
                    self._accept(response)
                self.last_error = "the agent ended the stream"
            except grpc.RpcError as exc:
                if self._stop.is_set():
                    break
                code = exc.code().name if hasattr(exc, "code") else "UNKNOWN"
                details = exc.details() if hasattr(exc, "details") else str(exc)
                self.last_error = f"{code}: {details}"
            finally:
                self._call = None
                channel.close()
            if self.connected or self.disconnected_since is None:
                self.disconnected_since = self._clock()
            self.connected = False
            log.warning(
                "Workload API at %s: %s; reconnecting in %.1f s",
                self.address,
                self.last_error,
                delay,
            )
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, BACKOFF_MAX)
        with self._lock:
            self._lock.notify_all()

    def _accept(self, response: Any) -> None:
        try:
            ctx = _decode(response, self._version + 1, self._clock())
        except WorkloadAPIError as exc:
            self.last_error = f"update refused: {exc}"
            log.error("Workload API at %s: %s; keeping the previous SVID", self.address, exc)  # noqa: TRY400
            return
        with self._lock:
            self._context = ctx
            self._version = ctx.version
            self._lock.notify_all()
        svid = self._choose(ctx)
        log.info(
            "Workload API: SVID %s serial %x until %s (trust domains: %s)",
            svid.spiffe_id, svid.serial, svid.expires.isoformat(), ", ".join(sorted(ctx.bundles)),
        )  # fmt: skip


_SHARED: dict[tuple[int, str], WorkloadAPI] = {}
_SHARED_LOCK = threading.Lock()


def shared_source(address: str | None = None) -> WorkloadAPI:
    """The one source of this process for the agent at ``address`` (None:
    ``$SPIFFE_ENDPOINT_SOCKET``), not yet started.

    Every listener and route of a tunnel that names the same agent shares one stream, and a
    reloaded config gets the source that is already current. A forked child gets sources of
    its own: a gRPC channel does not survive ``fork()``, so each process opens its stream.

    Raises:
        ConfigError: a bad address, or grpcio/protobuf missing.
    """
    key = (os.getpid(), parse_address(address))
    with _SHARED_LOCK:
        source = _SHARED.get(key)
        if source is None or source._stop.is_set():
            source = _SHARED[key] = WorkloadAPI(address)
        return source
