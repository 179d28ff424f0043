"""The PKI on disk: a directory holding the CA, what it issued and revoked, and the CRL.

Layout (the directory is 0700, every private key 0600)::

    ca.pem                 root certificate: the trust anchor to hand to peers (``ca = ...``)
    ca.key                 root key
    intermediate.pem/.key  the issuing CA, when ``init --intermediate`` made one
    certs/NAME.pem         leaf + intermediates, what an endpoint presents
    certs/NAME.key         its private key
    crl.pem                the current CRL of the issuing CA
    ocsp-responder.pem/.key  the delegated OCSP signer, when ``ocsp serve --delegated`` made one
    index.json             what was issued and revoked (serial, name, SANs, dates, reason)

Every write is atomic (temp file + rename), so a crash never leaves half a key or index.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from zerotls._util import atomic_write
from zerotls.errors import PKIError
from zerotls.pki.ca import CA, DEFAULT_LEAF_TTL, IssuedCert, KeyType, Usage, parse_reason
from zerotls.pki.ocsp import DEFAULT_VALIDITY, CertStatus, OCSPResponder

__all__ = ["CertRecord", "PKIStore", "default_pki_dir"]

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

    # -- paths ----------------------------------------------------------------------------

    @property
    def ca_path(self) -> Path:
        """The trust anchor (root certificate) that peers should trust."""
        return self.root / "ca.pem"

    @property
    def crl_path(self) -> Path:
        return self.root / "crl.pem"

    def cert_path(self, name: str) -> Path:
        return self.root / "certs" / f"{_safe(name)}.pem"

    def key_path(self, name: str) -> Path:
        return self.root / "certs" / f"{_safe(name)}.key"

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
        """Look a record up by serial (hex, with or without colons/0x) or by name (newest)."""
        wanted = serial_or_name.lower().replace(":", "").removeprefix("0x")
        by_serial = [r for r in self.records() if r.serial == wanted]
        if by_serial:
            return by_serial[0]
        by_name = [r for r in self.records() if r.name == serial_or_name]
        if by_name:
            return by_name[-1]
        raise PKIError(f"no certificate with serial or name {serial_or_name!r} in {self.root}")

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
    ) -> tuple[CertRecord, IssuedCert]:
        """Issue a leaf, write ``certs/NAME.pem`` and ``certs/NAME.key`` and index it.

        ``ocsp_url``, ``crl_url`` and ``must_staple`` are as for :meth:`CA.issue`.
        """
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
        data = self._index()
        data["certs"].append(asdict(record))
        atomic_write(self.root / "index.json", _dump(data))
        return record, issued

    def revoke(
        self, serial_or_name: str, *, reason: str = "unspecified", now: dt.datetime | None = None
    ) -> CertRecord:
        """Mark a certificate revoked and rewrite the CRL. Revoking twice is an error."""
        parse_reason(reason)  # validate before touching anything
        record = self.find(serial_or_name)
        if record.revoked:
            raise PKIError(f"certificate {record.serial} ({record.name}) is already revoked")
        when = now or dt.datetime.now(dt.UTC)
        data = self._index()
        for entry in data["certs"]:
            if entry["serial"] == record.serial:
                entry["revoked_at"] = when.isoformat()
                entry["reason"] = reason
        atomic_write(self.root / "index.json", _dump(data))
        self.write_crl(now=now)
        return self.find(record.serial)

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
        return data

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


def _safe(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    if not cleaned.strip("._"):
        raise PKIError(f"{name!r} cannot be used as a certificate name")
    return cleaned
