"""Revocation of peer certificates that come without a staple: CRLs and OCSP queries.

A client certificate cannot carry an OCSP staple, so a server learns of revocation from CRLs
(files it is given, or the distribution points named in the certificates) or by asking the
OCSP responder the certificate names. :class:`RevocationChecker` does all three, caches what
it fetched, and refreshes it:

* CRL files are re-read when they change (looked at every ``refresh`` seconds at most);
* fetched CRLs are fetched again at half their validity, or after ``refresh`` seconds,
  whichever is sooner; the previous one is used until its nextUpdate;
* OCSP answers are cached until half their validity.

A handshake never waits on a file or the network: :meth:`RevocationChecker.check` is a lookup
over what is cached. Files are re-read by a refresher thread beside the pump; ``crl_urls`` are
fetched when the checker is made (before any handshake) and refreshed in the background; the
first use of a distribution point or responder found in a certificate *starts* its fetch in
the background, and that one handshake is judged without it: unknown, "pending", which
``mode`` (or the route's hard/soft rule) decides. Later handshakes use the cache. So one slow
distribution point never stalls the event loop of a busy server.

A CRL is used only if it is signed by the certificate's issuer and not past its nextUpdate
(plus the clock skew). When no source can tell, ``mode`` decides: ``"hard"`` refuses the
peer, ``"soft"`` lets it in and says so in :attr:`Verdict.detail`, which ends up in the audit
event. Revoked is always refused, with the reason and time.

CRLs only move forward. Of each issuer's CRLs we remember the highest (CRL number, thisUpdate)
whose signature we verified, in this process and, with ``state_file``, across restarts. An
older CRL of that issuer (one put back in place of a newer file, or replayed by anyone on the
path of an http distribution point) would un-revoke what the newer one revoked: it is refused,
the newer copy stays in use, and a log line says why.

We check revocation ourselves instead of with OpenSSL's ``X509_V_FLAG_CRL_CHECK`` because an
OpenSSL store cannot drop a CRL once added (so a refreshed CRL could not replace an old one),
cannot fetch, and cannot fail soft.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from zerotls._util import atomic_write, http_fetch
from zerotls.errors import ConfigError, RevocationError, ZeroTLSError
from zerotls.tls.config import REVOCATION_MODES
from zerotls.tls.ocsp import (
    DEFAULT_SKEW,
    OCSPStatus,
    fetch_ocsp_response,
    ocsp_url_of,
    verify_ocsp_response,
)

__all__ = [
    "MAX_CRL_SIZE",
    "CRLHighWater",
    "RevocationChecker",
    "Verdict",
    "crl_urls_of",
    "load_crl",
]

log = logging.getLogger("zerotls.tls.revocation")

MAX_CRL_SIZE = 32 * 1024 * 1024
_SHA256 = hashes.SHA256()
_RETRY_AFTER_FAILURE = 30.0
"""Seconds during which a failed fetch is not tried again in a handshake (no stall per peer
while a responder or distribution point is down)."""
_STAMP = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The revocation status of one certificate, as established."""

    status: str
    """``"good"`` or ``"unknown"`` (revoked raises)."""
    detail: str
    """How it was established, for logs and audit events, e.g. ``"crl good (file ca.crl)"``,
    ``"unknown, soft-fail: no CRL for CN=issuing CA"``."""
    why_unknown: str = ""
    """For ``"unknown"``: why no source could tell (without the soft-fail prefix)."""

    @property
    def unknown(self) -> bool:
        return self.status == "unknown"


def load_crl(data: bytes, source: str) -> x509.CertificateRevocationList:
    """Parse a PEM or DER CRL.

    Raises:
        ConfigError: neither PEM nor DER.
    """
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError:
        raise ConfigError(f"CRL {source} is neither a PEM nor a DER CRL") from None


def crl_urls_of(cert: x509.Certificate) -> list[str]:
    """The http(s) CRL distribution points a certificate names."""
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    urls = []
    for point in points:
        for name in point.full_name or ():
            if isinstance(name, x509.UniformResourceIdentifier) and name.value.startswith(
                ("http://", "https://")
            ):
                urls.append(name.value)
    return urls


def _crl_order(crl: x509.CertificateRevocationList) -> tuple[int, float]:
    """Which of two CRLs of one issuer is newer: CRL number first (RFC 5280 §5.2.3, "a
    monotonically increasing sequence number"), thisUpdate to break a tie or when absent."""
    try:
        number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except (x509.ExtensionNotFound, ValueError):
        number = -1
    return number, crl.last_update_utc.timestamp()


def _issuer_key(issuer: x509.Certificate) -> str:
    """The issuer whose key verified a CRL: its name and its public key. Keyed on what did
    the verifying (never on what the CRL says of itself), so another CA with the same name
    cannot raise this issuer's mark with CRLs of its own."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    digest = hashlib.sha256(issuer.subject.public_bytes())
    digest.update(issuer.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))
    return digest.hexdigest()[:32]


_PROCESS_MARKS: dict[str, tuple[int, float]] = {}
"""Highest verified CRL per issuer in this process: shared by every checker, so a reload
(which builds a new checker) cannot be tricked into going back either."""
_MARKS_LOCK = threading.Lock()
_WRITERS: list[threading.Thread] = []


def _join_writers(timeout: float = 2.0) -> None:
    with _MARKS_LOCK:
        pending = list(_WRITERS)
        _WRITERS.clear()
    for writer in pending:
        writer.join(timeout)


class CRLHighWater:
    """The newest CRL verified per issuer, so an older one is never taken back.

    Args:
        state_file: a JSON file that keeps the marks across restarts (None: this process
            only). It is read at start and rewritten, atomically, when a mark rises.
    """

    def __init__(self, state_file: Path | None = None) -> None:
        self.state_file = state_file
        if state_file is not None:
            _join_writers()  # a write of this process may still be on its way to the file
            self._merge(self._read())

    def older_than_seen(
        self, crl: x509.CertificateRevocationList, issuer: x509.Certificate
    ) -> str | None:
        """Why ``crl`` (verified with ``issuer``'s key) is older than one already verified
        with it, or None."""
        with _MARKS_LOCK:
            mark = _PROCESS_MARKS.get(_issuer_key(issuer))
        if mark is None or _crl_order(crl) >= mark:
            return None
        number = _crl_order(crl)[0]
        seen = dt.datetime.fromtimestamp(mark[1], dt.UTC)
        return (
            f"its CRL number {number if number >= 0 else '(none)'} (thisUpdate "
            f"{crl.last_update_utc:{_STAMP}}) is older than number {mark[0]} (thisUpdate "
            f"{seen:{_STAMP}}) already verified for {crl.issuer.rfc4514_string()}; an older "
            "CRL would un-revoke certificates, so it is refused (a replay, or a file put back)"
        )

    def record(self, crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> None:
        """Raise the mark to ``crl``, whose signature ``issuer``'s key verified. The state
        file is written beside the handshake (a thread), never in it."""
        key, order = _issuer_key(issuer), _crl_order(crl)
        with _MARKS_LOCK:
            if _PROCESS_MARKS.get(key, (-2, 0.0)) >= order:
                return
            _PROCESS_MARKS[key] = order
        if self.state_file is not None:
            writer = threading.Thread(target=self._write, name="zerotls-crl-state", daemon=True)
            with _MARKS_LOCK:
                _WRITERS.append(writer)
            writer.start()

    def _read(self) -> dict[str, tuple[int, float]]:
        assert self.state_file is not None  # noqa: S101  # only called with one
        try:
            raw = json.loads(self.state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot read the CRL state file {self.state_file}: {exc}; remove it only if "
                "you trust every CRL source not to replay an older CRL"
            ) from None
        marks: dict[str, tuple[int, float]] = {}
        issuers = raw.get("issuers") if isinstance(raw, dict) else None
        if isinstance(issuers, dict):
            for key, value in issuers.items():
                if isinstance(value, dict):
                    number, last = value.get("crl_number"), value.get("this_update")
                    if isinstance(number, int) and isinstance(last, int | float):
                        marks[str(key)] = (number, float(last))
        return marks

    def _merge(self, marks: dict[str, tuple[int, float]]) -> None:
        with _MARKS_LOCK:
            for key, order in marks.items():
                if _PROCESS_MARKS.get(key, (-2, 0.0)) < order:
                    _PROCESS_MARKS[key] = order

    def _write(self) -> None:
        assert self.state_file is not None  # noqa: S101
        with contextlib.suppress(ConfigError):  # unreadable: ours replaces it
            self._merge(self._read())  # another worker may have raised a mark meanwhile
        with _MARKS_LOCK:
            issuers = {
                k: {"crl_number": n, "this_update": t} for k, (n, t) in _PROCESS_MARKS.items()
            }
        data = json.dumps({"version": 1, "issuers": issuers}, indent=1, sort_keys=True)
        try:
            atomic_write(self.state_file, data.encode() + b"\n", mode=0o600)
        except OSError as exc:
            log.error(  # noqa: TRY400 - expected
                "cannot write the CRL state file %s: %s; the marks hold until restart",
                self.state_file,
                exc.strerror,
            )


@dataclass(slots=True)
class _CRL:
    crl: x509.CertificateRevocationList
    source: str
    revoked: dict[int, tuple[dt.datetime, str]] = field(default_factory=dict)
    verified_by: set[bytes] = field(default_factory=set)
    """Fingerprints of issuer certificates whose key verified the signature."""
    issuers: list[x509.Certificate] = field(default_factory=list)
    """Those issuer certificates: a replacement must verify with one of them."""

    @classmethod
    def of(cls, crl: x509.CertificateRevocationList, source: str) -> _CRL:
        entry = cls(crl, source)
        for revoked in crl:
            try:
                reason_ext = revoked.extensions.get_extension_for_class(x509.CRLReason)
                reason = reason_ext.value.reason.name
            except (x509.ExtensionNotFound, ValueError):
                reason = "unspecified"
            entry.revoked[revoked.serial_number] = (revoked.revocation_date_utc, reason)
        return entry

    def signed_by(self, issuer: x509.Certificate) -> bool:
        fingerprint = issuer.fingerprint(_SHA256)
        if fingerprint in self.verified_by:
            return True
        if self.crl.issuer != issuer.subject:
            return False
        try:
            ok = self.crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
        except (TypeError, ValueError):
            ok = False
        if ok:
            self.verified_by.add(fingerprint)
            self.issuers.append(issuer)
        return ok

    def replacement_problem(
        self, new: x509.CertificateRevocationList, marks: CRLHighWater
    ) -> str | None:
        """Why ``new`` must not replace this verified copy (of the same source), or None.

        A replacement must be signed by an issuer that verified this copy (an unsigned or
        foreign CRL from an http distribution point would otherwise push the good copy out),
        and must not be older than what that issuer's mark says (a replay)."""
        if not self.issuers:
            return None  # never verified yet: nothing known to protect; the check decides
        for issuer in self.issuers:
            if new.issuer == issuer.subject:
                try:
                    if new.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
                        return marks.older_than_seen(new, issuer)
                except (TypeError, ValueError):
                    pass
        return (
            "it is not signed by the issuer that signed the copy in use (a forged or foreign "
            "CRL would otherwise push out a good one)"
        )


class _Reasons(list[str]):
    """Why no source could tell, and whether a fetch it needs is still running."""

    pending = False


@dataclass(slots=True)
class _Fetched:
    value: object
    refresh_at: float
    usable_until: float


Fetch = Callable[[str], bytes]


class RevocationChecker:
    """Decides whether a peer certificate is revoked, from CRLs and OCSP.

    Args:
        crl_files: CRL files (PEM or DER), read now and re-read when they change.
        crl_urls: CRLs to fetch over http(s), now (so no handshake waits for them) and again
            in the background before they go stale.
        fetch_crls: also fetch the CRLs named in certificates' distribution points.
        query_ocsp: also ask the OCSP responder named in certificates (authorityInfoAccess).
        mode: ``"hard"`` refuses a certificate whose status no source establishes; ``"soft"``
            accepts it and says so.
        refresh: seconds between looks at CRL files, and the longest a fetched CRL is kept
            before it is fetched again.
        timeout: seconds a fetch in the handshake may take.
        skew: clock skew tolerated on nextUpdate and thisUpdate.
        clock: wall clock (injected for tests).
        state_file: where the newest CRL number per issuer is kept across restarts (see
            :class:`CRLHighWater`); None keeps it for this process only.

    Raises:
        ConfigError: a CRL file is unreadable or not a CRL (at start; later, the old one stays).
    """

    def __init__(
        self,
        crl_files: Sequence[Path] = (),
        *,
        crl_urls: Sequence[str] = (),
        fetch_crls: bool = False,
        query_ocsp: bool = False,
        mode: str = "hard",
        refresh: float = 300.0,
        timeout: float = 3.0,
        skew: dt.timedelta = DEFAULT_SKEW,
        clock: Callable[[], float] = time.time,
        fetch: Fetch | None = None,
        state_file: Path | None = None,
    ) -> None:
        if mode not in REVOCATION_MODES:
            raise ConfigError(f"revocation = {mode!r}: use 'hard' (default) or 'soft'")
        self.crl_files = tuple(crl_files)
        self.crl_urls = tuple(crl_urls)
        self.fetch_crls = fetch_crls
        self.query_ocsp = query_ocsp
        self.mode = mode
        self.refresh = refresh
        self.timeout = timeout
        self.skew = skew
        self._clock = clock
        self._fetch: Fetch = fetch or functools.partial(
            http_fetch, what="CRL", limit=MAX_CRL_SIZE, timeout=timeout
        )
        self._lock = threading.Lock()
        self._file_crls: dict[Path, tuple[tuple[int, int], _CRL]] = {}
        self._fetched: dict[str, _Fetched] = {}  # URL or OCSP key -> cached result
        self._failed: dict[str, tuple[float, str]] = {}  # key -> (retry at, why it failed)
        self._refreshing: set[str] = set()
        self._refresher_pid: int | None = None
        self.high_water = CRLHighWater(state_file)
        self._reload_files(strict=True)
        for url in self.crl_urls:  # warm the cache now: the first handshakes must not wait
            problems = _Reasons()
            self._cached(
                url, self._clock(), functools.partial(self._fetch_crl, url), problems, wait=True
            )
            for problem in problems:
                log.error(
                    "CRL %s is not available yet (%s); retried in the background", url, problem
                )
        self._ensure_refresher()

    @property
    def enabled(self) -> bool:
        return bool(self.crl_files or self.crl_urls or self.fetch_crls or self.query_ocsp)

    # -- the check -------------------------------------------------------------------------

    def check(self, leaf: x509.Certificate, issuer: x509.Certificate | None) -> Verdict:
        """The status of ``leaf``; ``issuer`` is the certificate that signed it.

        Raises:
            RevocationError: revoked (``reason``, ``revoked_at`` set), or unknown in hard mode.
        """
        if issuer is None:
            return self._unknown(leaf, _Reasons(["its issuer certificate is not at hand"]))
        now = self._clock()
        self._ensure_refresher()  # after a fork, the worker starts its own
        reasons = _Reasons()
        good: str | None = None
        for crl in self._crls_for(leaf, issuer, now, reasons):
            hit = crl.revoked.get(leaf.serial_number)
            if hit is not None:
                when, reason = hit
                raise _revoked(leaf, when, reason, f"the CRL from {crl.source}")
            good = good or f"crl good ({crl.source})"
        if good is not None:
            return Verdict("good", good)
        if self.query_ocsp:
            verdict = self._ask_ocsp(leaf, issuer, now, reasons)
            if verdict is not None:
                return verdict
        return self._unknown(leaf, reasons)

    def _unknown(self, leaf: x509.Certificate, reasons: _Reasons) -> Verdict:
        why = "; ".join(reasons) or "no CRL or OCSP responder covers it"
        pending = reasons.pending
        if self.mode == "soft":
            return Verdict("unknown", f"unknown, soft-fail: {why}", why)
        raise RevocationError(
            pending=pending,
            message=f"revocation status of {_describe(leaf)} is unknown ({why}), and revocation is "
            "'hard': refresh the CRL (`zerotls pki crl`), fix the responder, or set "
            "revocation = 'soft' to accept unknown status",
        )

    def _crls_for(
        self, leaf: x509.Certificate, issuer: x509.Certificate, now: float, reasons: _Reasons
    ) -> list[_CRL]:
        candidates = [entry for _, entry in self._file_crls.values()]
        urls = list(self.crl_urls)
        if self.fetch_crls:
            urls += [u for u in crl_urls_of(leaf) if u not in self.crl_urls]
        if urls:
            for url in urls:
                fetched = self._cached(url, now, functools.partial(self._fetch_crl, url), reasons)
                if isinstance(fetched, _CRL):
                    candidates.append(fetched)
        usable = []
        moment = dt.datetime.fromtimestamp(now, dt.UTC)
        for entry in candidates:
            if entry.crl.issuer != leaf.issuer or not entry.signed_by(issuer):
                continue
            next_update = entry.crl.next_update_utc
            if next_update is not None and next_update + self.skew < moment:
                reasons.append(f"the CRL from {entry.source} expired at {next_update:{_STAMP}}")
                continue
            rollback = self.high_water.older_than_seen(entry.crl, issuer)
            if rollback is not None:
                reasons.append(f"the CRL from {entry.source} is refused: {rollback}")
                continue
            self.high_water.record(entry.crl, issuer)
            usable.append(entry)
        if not usable and not reasons:
            reasons.append(f"no CRL of {leaf.issuer.rfc4514_string()} is loaded")
        return usable

    def _ask_ocsp(
        self, leaf: x509.Certificate, issuer: x509.Certificate, now: float, reasons: _Reasons
    ) -> Verdict | None:
        url = ocsp_url_of(leaf)
        if url is None:
            reasons.append("the certificate names no OCSP responder")
            return None
        key = f"ocsp {url} {leaf.issuer.rfc4514_string()} {leaf.serial_number:x}"

        def load() -> _Fetched:
            data = fetch_ocsp_response(url, leaf, issuer, timeout=self.timeout)
            status = verify_ocsp_response(
                data,
                leaf,
                issuer,
                now=dt.datetime.fromtimestamp(self._clock(), dt.UTC),
                skew=self.skew,
                what=f"OCSP response from {url}",
            )
            return _Fetched(
                status, status.refresh_at().timestamp(), status.usable_until(self.skew).timestamp()
            )

        status = self._cached(key, now, load, reasons)
        if not isinstance(status, OCSPStatus):
            return None
        if status.status == "revoked":
            raise _revoked(
                leaf, status.revoked_at, status.reason or "unspecified", f"OCSP at {url}"
            )
        if status.status == "unknown":
            reasons.append(f"the OCSP responder {url} does not know it")
            return None
        return Verdict("good", f"ocsp good ({url})")

    # -- caching ---------------------------------------------------------------------------

    def _cached(
        self,
        key: str,
        now: float,
        load: Callable[[], _Fetched],
        reasons: _Reasons,
        *,
        wait: bool = False,
    ) -> object | None:
        """The cached value for ``key``; refreshed in the background when due, dropped when
        past its usable time. On a miss the fetch starts in the background and None is
        returned with a "pending" reason (``wait``: fetch now, at start only)."""
        entry = self._fetched.get(key)
        if entry is not None and now < entry.usable_until:
            failed_at = self._failed.get(key)
            backing_off = failed_at is not None and now < failed_at[0]
            if now >= entry.refresh_at and not backing_off:
                self._refresh_in_background(key, load)
            return entry.value
        failed = self._failed.get(key)
        if failed is not None and now < failed[0]:
            reasons.append(failed[1])  # failed recently: not asked again from a handshake yet
            return None
        if not wait:
            self._refresh_in_background(key, load)
            reasons.pending = True
            reasons.append(
                f"{_what(key)} is being fetched (first use, or its copy expired); this "
                "handshake was not made to wait for it"
            )
            return None
        try:
            entry = load()
        except ZeroTLSError as exc:
            reasons.append(str(exc))
            with self._lock:
                self._failed[key] = (now + min(_RETRY_AFTER_FAILURE, self.refresh), str(exc))
            return None
        with self._lock:
            self._fetched[key] = entry
            self._failed.pop(key, None)
        return entry.value

    @property
    def pending(self) -> int:
        """Fetches running in the background now."""
        with self._lock:
            return len(self._refreshing)

    def wait_pending(self, timeout: float = 10.0) -> bool:
        """Block until no fetch is running (for tests and one-shot tools; never in a pump).

        Returns:
            True if everything finished within ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self.pending

    def reload_files(self) -> None:
        """Re-read changed CRL files now (the refresher does this every few seconds)."""
        self._reload_files(strict=False)

    def _ensure_refresher(self) -> None:
        """One thread per checker and process re-reads changed CRL files every
        ``min(refresh, 5)`` seconds; it ends when the checker is gone (a reload made another)."""
        pid = os.getpid()
        if self._refresher_pid == pid or not self.crl_files:
            return
        with self._lock:
            if self._refresher_pid == pid:
                return
            self._refresher_pid = pid
        ref = weakref.ref(self)
        period = min(self.refresh, 5.0)

        def run() -> None:
            while True:
                time.sleep(period)
                checker = ref()
                if checker is None or checker._refresher_pid != os.getpid():
                    return
                try:
                    checker._reload_files(strict=False)
                except Exception:  # never let the refresher die silently
                    log.exception("re-reading the CRL files failed; retrying in %g s", period)
                del checker

        threading.Thread(target=run, name="zerotls-crl-files", daemon=True).start()

    def _refresh_in_background(self, key: str, load: Callable[[], _Fetched]) -> None:
        tag = f"{os.getpid()} {key}"
        with self._lock:
            if tag in self._refreshing:
                return
            self._refreshing.add(tag)

        def run() -> None:
            try:
                entry = load()
                with self._lock:
                    self._fetched[key] = entry
                    self._failed.pop(key, None)
            except ZeroTLSError as exc:
                cached = key in self._fetched
                log.warning(
                    "fetching %s failed: %s%s",
                    _what(key),
                    exc,
                    "; the cached copy stays in use" if cached else "",
                )
                with self._lock:
                    retry = self._clock() + min(_RETRY_AFTER_FAILURE, self.refresh)
                    self._failed[key] = (retry, str(exc))
            finally:
                with self._lock:
                    self._refreshing.discard(tag)

        threading.Thread(target=run, name="zerotls-revocation", daemon=True).start()

    def _fetch_crl(self, url: str) -> _Fetched:
        crl = load_crl(self._fetch(url), url)
        previous = self._fetched.get(url)
        if previous is not None and isinstance(previous.value, _CRL):
            problem = previous.value.replacement_problem(crl, self.high_water)
            if problem is not None:
                log.warning("refusing the CRL fetched from %s: %s", url, problem)
                raise RevocationError(f"the CRL fetched from {url} is refused: {problem}")
        entry = _CRL.of(crl, url)
        now = self._clock()
        last = crl.last_update_utc.timestamp()
        nxt = crl.next_update_utc.timestamp() if crl.next_update_utc else now + self.refresh
        refresh_at = min(last + (nxt - last) / 2, now + self.refresh)
        return _Fetched(entry, refresh_at, nxt + self.skew.total_seconds())

    def _reload_files(self, *, strict: bool) -> None:
        for path in self.crl_files:
            try:
                st = path.stat()
                stamp = (st.st_mtime_ns, st.st_size)
                known = self._file_crls.get(path)
                if known is not None and known[0] == stamp:
                    continue
                entry = _CRL.of(load_crl(path.read_bytes(), str(path)), f"file {path}")
            except (OSError, ConfigError) as exc:
                message = (
                    f"cannot read CRL {path}: {exc.strerror}"
                    if isinstance(exc, OSError)
                    else str(exc)
                )
                if strict:
                    raise ConfigError(message) from None
                log.error("%s; keeping the previous copy", message)  # noqa: TRY400 - expected
                continue
            rollback = (
                known[1].replacement_problem(entry.crl, self.high_water)
                if known is not None
                else None
            )
            if rollback is not None and known is not None:
                log.warning("refusing CRL %s: %s; keeping the copy in use", path, rollback)
                with self._lock:  # remember the stamp: say it once, not every 5 s
                    self._file_crls[path] = (stamp, known[1])
                continue
            # (At start there is no newer copy to keep: the check refuses it, with the reason.)
            with self._lock:
                self._file_crls[path] = (stamp, entry)
            if known is not None:
                log.info("reloaded CRL %s (%d revoked)", path, len(entry.revoked))


def _what(key: str) -> str:
    """A cache key as a reader would say it: "the CRL at URL", "the OCSP answer from URL"."""
    if key.startswith("ocsp "):
        return f"the OCSP answer from {key.split(' ', 2)[1]}"
    return f"the CRL at {key}"


def _describe(cert: x509.Certificate) -> str:
    return f"{cert.subject.rfc4514_string() or '(empty subject)'} (serial {cert.serial_number:x})"


def _revoked(
    leaf: x509.Certificate, when: dt.datetime | None, reason: str, source: str
) -> RevocationError:
    since = f", since {when:{_STAMP}}" if when else ""
    return RevocationError(
        f"{_describe(leaf)} is revoked (reason {reason}{since}) according to {source}; the "
        "holder needs a new certificate",
        reason=reason,
        revoked_at=when,
    )
