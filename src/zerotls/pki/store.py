"""The PKI on disk: a directory holding the CA, what it issued and revoked, and the CRL.

Layout (the directory is 0700, every private key 0600)::

    ca.pem                 root certificate: the trust anchor to hand to peers (``ca = ...``)
    ca.key                 root key
    intermediate.pem/.key  the issuing CA, when ``init --intermediate`` made one
    certs/NAME.pem         leaf + intermediates, what an endpoint presents
    certs/NAME.key         its private key
    certs/previous/        earlier certificates under a reissued name (NAME.SERIAL.pem/.key)
    crl.pem                the current CRL of the issuing CA
    ocsp-responder.pem/.key  the delegated OCSP signer, when ``ocsp serve --delegated`` made one
    index.json             what was issued and revoked (serial, name, SANs, dates, reason)

Every write is atomic (temp file + rename), so a crash never leaves half a key or index.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from zerotls._util import atomic_write
from zerotls.errors import ConfigError, PKIError
from zerotls.pki.ca import CA, DEFAULT_LEAF_TTL, IssuedCert, KeyType, Usage
from zerotls.pki.ocsp import DEFAULT_VALIDITY, CertStatus, OCSPResponder
from zerotls.pki.reasons import canonical_reason, parse_reason

__all__ = ["CertRecord", "PKIStore", "check_name", "default_pki_dir", "normalize_serial"]

log = logging.getLogger("zerotls.pki")

_INDEX_VERSION = 1


def default_pki_dir() -> Path:
    """``$ZEROTLS_PKI_DIR``, else ``$XDG_STATE_HOME/zerotls/pki`` (``~/.local/state/...``)."""
    explicit = os.environ.get("ZEROTLS_PKI_DIR")
    if explicit:
        return Path(explicit)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "zerotls" / "pki"


@dataclass(frozen=True, slots=True)
class CertRecord:
    """One issued certificate in the index."""

    serial: str
    """Serial number, lowercase hex."""
    name: str
    usage: str
    spiffe_id: str | None
    dns: list[str]
    ips: list[str]
    not_before: str
    not_after: str
    cert_path: str
    """Relative to the store directory."""
    key_path: str
    revoked_at: str | None = None
    reason: str | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class PKIStore:
    """A local PKI in a directory. Open an existing one, or create one with :meth:`init`."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._status_cache: tuple[tuple[int, int], dict[int, CertStatus]] | None = None
        if not (self.root / "ca.pem").exists():
            raise PKIError(
                f"no PKI in {self.root}: create one with `zerotls pki init --dir {self.root}`"
            )
        self._migrate()

    # -- paths ----------------------------------------------------------------------------

    @property
    def ca_path(self) -> Path:
        """The trust anchor (root certificate) that peers should trust."""
        return self.root / "ca.pem"

    @property
    def crl_path(self) -> Path:
        return self.root / "crl.pem"

    def cert_path(self, name: str) -> Path:
        return self.root / "certs" / f"{check_name(name)}.pem"

    def key_path(self, name: str) -> Path:
        return self.root / "certs" / f"{check_name(name)}.key"

    # -- creation -------------------------------------------------------------------------

    @classmethod
    def init(
        cls,
        root: Path | str,
        *,
        name: str = "zerotls root CA",
        key_type: KeyType = "ec",
        intermediate: bool = False,
        now: dt.datetime | None = None,
    ) -> PKIStore:
        """Create a new PKI: a root CA and, optionally, an intermediate that issues leaves.

        Raises:
            PKIError: a PKI already exists there (it is never overwritten).
        """
        root = Path(root)
        if (root / "ca.pem").exists():
            raise PKIError(f"a PKI already exists in {root}; use another --dir or remove it")
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o700)
        ca = CA.create(name, key_type=key_type, now=now)
        atomic_write(root / "ca.key", ca.key_pem, mode=0o600)
        if intermediate:
            inter = ca.create_intermediate(f"{name} intermediate", key_type=key_type, now=now)
            atomic_write(root / "intermediate.key", inter.key_pem, mode=0o600)
            atomic_write(root / "intermediate.pem", inter.cert_pem)
        atomic_write(root / "index.json", _dump({"version": _INDEX_VERSION, "certs": []}))
        atomic_write(root / "ca.pem", ca.cert_pem)  # last: its presence marks a complete PKI
        store = cls(root)
        store.write_crl(now=now)
        return store

    # -- loading --------------------------------------------------------------------------

    def root_ca(self) -> CA:
        return CA(cert=self._cert(self.ca_path), key=self._key(self.root / "ca.key"))

    def issuing_ca(self) -> CA:
        """The CA that signs leaves: the intermediate if there is one, else the root."""
        inter = self.root / "intermediate.pem"
        if inter.exists():
            return CA(cert=self._cert(inter), key=self._key(self.root / "intermediate.key"))
        return self.root_ca()

    def records(self) -> list[CertRecord]:
        """Everything issued, oldest first."""
        data = self._index()
        return [CertRecord(**entry) for entry in data["certs"]]

    def find(self, serial_or_name: str) -> CertRecord:
        """One record by serial or by name (the newest under that name).

        A serial is accepted as ``pki list`` and ``openssl x509 -serial`` print it: hex in any
        case, with or without colons, ``0x``, ``serial=`` or leading zeros, or a unique prefix
        of at least 8 digits.

        Raises:
            PKIError: nothing matches, or a prefix matches several serials (they are listed).
        """
        return self.find_all(serial_or_name)[-1]

    def find_all(self, serial_or_name: str) -> list[CertRecord]:
        """Every record that ``serial_or_name`` names, oldest first.

        An exact serial names one certificate; a name names every certificate issued under it;
        failing both, a serial prefix of at least 8 hex digits names the one it starts.
        """
        records = self.records()
        wanted = normalize_serial(serial_or_name)
        if wanted is not None:
            exact = [r for r in records if r.serial == wanted]
            if exact:
                return exact
        by_name = [r for r in records if r.name == serial_or_name]
        if by_name:
            return by_name
        if wanted is not None and len(wanted) >= _MIN_SERIAL_PREFIX:
            starts = [r for r in records if r.serial.startswith(wanted)]
            if len(starts) == 1:
                return starts
            if starts:
                listed = ", ".join(f"{r.serial} ({r.name})" for r in starts)
                raise PKIError(
                    f"serial prefix {serial_or_name!r} matches {len(starts)} certificates: "
                    f"{listed}; give more digits"
                )
        raise PKIError(
            f"no certificate with serial or name {serial_or_name!r} in {self.root}: "
            "`zerotls pki list` shows them"
        )

    # -- operations -----------------------------------------------------------------------

    def issue(
        self,
        name: str,
        *,
        spiffe_id: str | None = None,
        dns: Sequence[str] = (),
        ips: Sequence[str] = (),
        usage: Usage = "both",
        ttl: dt.timedelta = DEFAULT_LEAF_TTL,
        key_type: KeyType = "ec",
        now: dt.datetime | None = None,
        ocsp_url: str | None = None,
        crl_url: str | None = None,
        must_staple: bool = False,
        replace: bool = False,
    ) -> tuple[CertRecord, IssuedCert]:
        """Issue a leaf, write ``certs/NAME.pem`` and ``certs/NAME.key`` and index it.

        ``ocsp_url``, ``crl_url`` and ``must_staple`` are as for :meth:`CA.issue`.

        Key material is never overwritten. While a certificate issued under ``name`` is still
        valid (not revoked, not expired), issuing again is refused unless ``replace``; the
        earlier certificate and key then move to ``certs/previous/NAME.SERIAL.pem`` and
        ``.key`` and stay addressable by serial (``revoke NAME`` revokes every valid one).

        Raises:
            PKIError: ``name`` is not a safe file name, or a valid certificate already has it.
        """
        check_name(name)
        current = str(self.cert_path(name).relative_to(self.root))
        # By name, and by the file it would write: an index from an older version may hold a
        # certificate whose odd name ("my web") was written to this very file (my_web.pem).
        earlier = [r for r in self.records() if r.name == name or r.cert_path == current]
        moment = now or dt.datetime.now(dt.UTC)
        live = [
            r for r in earlier if not r.revoked and dt.datetime.fromisoformat(r.not_after) > moment
        ]
        if live and not replace:
            newest = live[-1]
            raise PKIError(
                f"a valid certificate named {name!r} exists (serial {newest.serial}, until "
                f"{newest.not_after[:16]}Z); its key is never overwritten. Pass --replace "
                "(replace=True) to issue a new one and keep the old one addressable by serial "
                f"(`zerotls pki revoke {name}` then revokes both), or revoke it first"
            )
        issued = self.issuing_ca().issue(
            name,
            spiffe_id=spiffe_id,
            dns=dns,
            ips=ips,
            usage=usage,
            ttl=ttl,
            key_type=key_type,
            now=now,
            ocsp_url=ocsp_url,
            crl_url=crl_url,
            must_staple=must_staple,
        )
        cert_path, key_path = self.cert_path(name), self.key_path(name)
        data = self._index()
        self._set_aside(data, name)
        issued.write(cert_path, key_path)
        ident = issued.identity
        record = CertRecord(
            serial=f"{issued.cert.serial_number:x}",
            name=name,
            usage=usage,
            spiffe_id=ident.spiffe_id,
            dns=list(ident.dns_names),
            ips=list(ident.ip_addresses),
            not_before=ident.not_before.isoformat(),
            not_after=ident.not_after.isoformat(),
            cert_path=str(cert_path.relative_to(self.root)),
            key_path=str(key_path.relative_to(self.root)),
        )
        data["certs"].append(asdict(record))
        atomic_write(self.root / "index.json", _dump(data))
        return record, issued

    def revoke(
        self, serial_or_name: str, *, reason: str = "unspecified", now: dt.datetime | None = None
    ) -> list[CertRecord]:
        """Revoke what ``serial_or_name`` names and rewrite the CRL; return what was revoked.

        A serial revokes that certificate; a name revokes every certificate issued under it
        that is not revoked yet (after a key theft, the stolen one and any reissue alike).
        ``reason`` is any spelling :func:`~zerotls.pki.reasons.parse_reason` accepts; it is
        stored in its canonical form.

        Raises:
            ConfigError: an unknown reason, or ``removeFromCRL``.
            PKIError: nothing matches, or everything it names is already revoked.
        """
        stored = canonical_reason(reason)  # validate before touching anything
        targets = self.find_all(serial_or_name)
        pending = [r for r in targets if not r.revoked]
        if not pending:
            listed = ", ".join(f"{r.serial} ({r.name})" for r in targets)
            raise PKIError(f"already revoked: {listed}")
        when = now or dt.datetime.now(dt.UTC)
        serials = {r.serial for r in pending}
        data = self._index()
        for entry in data["certs"]:
            if entry["serial"] in serials:
                entry["revoked_at"] = when.isoformat()
                entry["reason"] = stored
        atomic_write(self.root / "index.json", _dump(data))
        self.write_crl(now=now)
        return [r for r in self.records() if r.serial in serials]

    def crl(
        self, *, now: dt.datetime | None = None, next_update: dt.timedelta = dt.timedelta(days=1)
    ) -> x509.CertificateRevocationList:
        """A freshly signed CRL of the issuing CA."""
        revoked = [
            (int(r.serial, 16), dt.datetime.fromisoformat(r.revoked_at), r.reason)
            for r in self.records()
            if r.revoked_at is not None
        ]
        return self.issuing_ca().crl(revoked, now=now, next_update=next_update)

    def write_crl(self, *, now: dt.datetime | None = None) -> Path:
        """Sign and write ``crl.pem``; return its path."""
        crl = self.crl(now=now)
        atomic_write(self.crl_path, crl.public_bytes(serialization.Encoding.PEM))
        return self.crl_path

    def status_of(self, serial: int) -> CertStatus:
        """What the index says of ``serial``: good, revoked (when, why) or unknown."""
        stamp = self._index_stamp()
        if self._status_cache is None or self._status_cache[0] != stamp:
            table: dict[int, CertStatus] = {}
            for r in self.records():
                if r.revoked_at is not None:
                    when = dt.datetime.fromisoformat(r.revoked_at)
                    table[int(r.serial, 16)] = CertStatus("revoked", when, r.reason)
                else:
                    table[int(r.serial, 16)] = CertStatus("good")
            self._status_cache = (stamp, table)
        return self._status_cache[1].get(serial, CertStatus("unknown"))

    def ocsp_responder(
        self,
        *,
        delegated: bool = False,
        validity: dt.timedelta = DEFAULT_VALIDITY,
        now: dt.datetime | None = None,
    ) -> OCSPResponder:
        """A responder for the issuing CA that answers from this store's index.

        With ``delegated``, responses are signed by ``ocsp-responder.pem`` (created, or
        renewed when less than a day is left) so the CA key is used only to certify it.
        """
        ca = self.issuing_ca()
        signer: tuple[x509.Certificate, Any] | None = None
        if delegated:
            cert_path, key_path = self.root / "ocsp-responder.pem", self.root / "ocsp-responder.key"
            moment = now or dt.datetime.now(dt.UTC)
            if cert_path.exists() and key_path.exists():
                cert = self._cert(cert_path)
                if (
                    cert.issuer == ca.cert.subject
                    and cert.not_valid_after_utc - moment > dt.timedelta(days=1)
                ):
                    signer = (cert, self._key(key_path))
            if signer is None:  # none yet, another CA's, or less than a day left: renew
                issued = ca.issue_ocsp_responder(f"{ca.name} OCSP responder", now=now)
                issued.write(cert_path, key_path)
                signer = (issued.cert, issued.key)
        return OCSPResponder(ca, self.status_of, signer=signer, validity=validity)

    # -- internals ------------------------------------------------------------------------

    def _index_stamp(self) -> tuple[int, int]:
        try:
            st = (self.root / "index.json").stat()
        except OSError as exc:
            raise PKIError(f"cannot read the PKI index in {self.root}: {exc.strerror}") from None
        return st.st_mtime_ns, st.st_size

    def _index(self) -> dict[str, Any]:
        path = self.root / "index.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PKIError(f"cannot read the PKI index {path}: {exc}") from None
        if not isinstance(data, dict) or data.get("version") != _INDEX_VERSION:
            raise PKIError(f"{path} is not a zerotls PKI index (version {_INDEX_VERSION})")
        _canonical_reasons(data, path)
        return data

    def _migrate(self) -> None:
        """Rewrite an index that holds reasons in other spellings (written by older versions)."""
        path = self.root / "index.json"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # _index() reports it when it is used
        if not isinstance(raw, dict) or raw.get("version") != _INDEX_VERSION:
            return
        before = _dump(raw)
        _canonical_reasons(raw, path)
        after = _dump(raw)
        if after != before:
            try:
                atomic_write(path, after)
            except OSError as exc:  # a read-only store still answers, from the fixed copy
                log.warning("cannot rewrite %s with canonical reasons: %s", path, exc.strerror)
            else:
                log.warning("rewrote the revocation reasons in %s in their canonical form", path)

    def _set_aside(self, data: dict[str, Any], name: str) -> None:
        """Move the files of earlier certificates named ``name`` to per-serial names."""
        current = str(self.cert_path(name).relative_to(self.root))
        changed = False
        for entry in data["certs"]:
            if entry["cert_path"] != current:
                continue  # whatever its name: the file is what would be overwritten
            serial = entry["serial"]
            for field, suffix in (("cert_path", "pem"), ("key_path", "key")):
                old = self.root / entry[field]
                # A subdirectory: no certificate name can contain "/", so none collides.
                new = self.root / "certs" / "previous" / f"{check_name(name)}.{serial}.{suffix}"
                new.parent.mkdir(mode=0o700, exist_ok=True)
                if old.exists():
                    os.replace(old, new)
                entry[field] = str(new.relative_to(self.root))
            changed = True
        if changed:
            atomic_write(self.root / "index.json", _dump(data))

    def _cert(self, path: Path) -> x509.Certificate:
        try:
            return x509.load_pem_x509_certificate(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise PKIError(f"cannot load certificate {path}: {exc}") from None

    def _key(self, path: Path) -> Any:
        try:
            return serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise PKIError(f"cannot load private key {path}: {exc}") from None


def _dump(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_MIN_SERIAL_PREFIX = 8
_SERIAL_RE = re.compile(r"[0-9a-f]{1,40}")


def check_name(name: str) -> str:
    """A certificate name is its file name: refuse anything that is not a safe one.

    Raises:
        PKIError: the name, and the rule it breaks.
    """
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or name.endswith("."):
        shown = repr(name) if len(name) <= 70 else repr(name[:64]) + f"... ({len(name)} chars)"
        raise PKIError(
            f"{shown} cannot be a certificate name: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (it names the files certs/NAME.pem and .key)"
        )
    return name


def normalize_serial(text: str) -> str | None:
    """A serial as we store it (lowercase hex, no leading zeros), or None if not hex."""
    value = text.strip().lower()
    value = value.removeprefix("serial=").removeprefix("0x").replace(":", "").lstrip("0") or "0"
    return value if _SERIAL_RE.fullmatch(value) else None


def _canonical_reasons(data: dict[str, Any], path: Path) -> None:
    for entry in data.get("certs", []):
        reason = entry.get("reason")
        if reason is None:
            continue
        try:
            entry["reason"] = parse_reason(reason, for_revocation=False).name
        except ConfigError:
            log.warning(
                "%s: serial %s has an unknown revocation reason %r: read as unspecified "
                "(it stays revoked)",
                path,
                entry.get("serial"),
                reason,
            )
            entry["reason"] = "unspecified"
