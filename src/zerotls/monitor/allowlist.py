"""Allowlists and suppressions, from a TOML file in which every entry says why.

Two kinds of entry, both with a required ``reason`` (an entry nobody can explain a year later
is an entry nobody dares to remove):

- ``[[allow]]``: traffic that is expected. The detectors treat it as normal: an allowlisted
  destination is not new, does not beacon, and its long connections are not reported.
  Matching is by destination (host glob or CIDR) and optionally identity (glob) and the
  detectors it applies to.
- ``[[suppress]]``: a finding already judged. Matching alerts are still computed but listed
  apart as suppressed, with the reason, until the optional ``until`` date.

Example::

    [[allow]]
    destination = "*.update.example.com"
    reason = "OS update checks, hourly, every host (OPS-112)"

    [[allow]]
    destination = "10.0.5.0/24"
    identity = "spiffe://prod.example/svc/backup"
    detectors = ["volume-spike", "long-connection"]
    reason = "nightly backup to the NAS subnet"

    [[suppress]]
    detector = "legacy-tls"
    destination = "printer.corp"
    reason = "vendor firmware speaks TLS 1.0 only; replacement ordered (IT-77)"
    until = 2027-03-31
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from zerotls._util import read_toml
from zerotls.errors import ConfigError

__all__ = ["DETECTORS", "Allowlist", "Entry"]

DETECTORS: Final = (
    "new-destination",
    "volume-spike",
    "beacon",
    "long-connection",
    "probing",
    "fan-out",
    "legacy-tls",
    "outlier",
)

_KEYS: Final = {"destination", "identity", "detectors", "detector", "reason", "until"}


@dataclass(frozen=True, slots=True)
class Entry:
    """One allow or suppress entry."""

    kind: str
    """``allow`` or ``suppress``."""
    reason: str
    destination: str | None = None
    identity: str | None = None
    detectors: tuple[str, ...] = ()
    """Empty means every detector."""
    until: float | None = None
    """Epoch seconds after which the entry no longer applies."""

    def matches(self, detector: str, identity: str | None, destination: str | None) -> bool:
        if self.detectors and detector not in self.detectors:
            return False
        if self.identity is not None and not _glob(self.identity, identity):
            return False
        return self.destination is None or _dest_matches(self.destination, destination)

    def active(self, now: float) -> bool:
        return self.until is None or now <= self.until


@dataclass(frozen=True, slots=True)
class Allowlist:
    """The entries of one file (or none)."""

    entries: tuple[Entry, ...] = ()

    @classmethod
    def load(cls, path: Path) -> Allowlist:
        """Read and check a TOML file.

        Raises:
            ConfigError: unreadable, not TOML, an unknown key, a detector that does not
                exist, or an entry without a reason.
        """
        data = read_toml(path, "allowlist")
        unknown = set(data) - {"allow", "suppress"}
        if unknown:
            raise ConfigError(
                f"{path}: unknown table(s) {', '.join(sorted(unknown))}; use [[allow]] and "
                "[[suppress]] entries"
            )
        entries: list[Entry] = []
        for kind in ("allow", "suppress"):
            items = data.get(kind, [])
            if not isinstance(items, list):
                raise ConfigError(f"{path}: write [[{kind}]] (an array of tables), not [{kind}]")
            entries.extend(_entry(path, kind, i + 1, item) for i, item in enumerate(items))
        return cls(tuple(entries))

    def allowed(
        self, detector: str, identity: str | None, destination: str | None, now: float
    ) -> Entry | None:
        """The first active ``allow`` entry for this traffic, if any."""
        return self._first("allow", detector, identity, destination, now)

    def suppressed(
        self, detector: str, identity: str | None, destination: str | None, now: float
    ) -> Entry | None:
        """The first active ``suppress`` entry for this finding, if any."""
        return self._first("suppress", detector, identity, destination, now)

    def _first(
        self, kind: str, detector: str, identity: str | None, destination: str | None, now: float
    ) -> Entry | None:
        for entry in self.entries:
            if (
                entry.kind == kind
                and entry.active(now)
                and entry.matches(detector, identity, destination)
            ):
                return entry
        return None


def _entry(path: Path, kind: str, n: int, item: Any) -> Entry:
    where = f"{path}: [[{kind}]] entry {n}"
    if not isinstance(item, dict):
        raise ConfigError(f"{where} is not a table")
    unknown = set(item) - _KEYS
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}; keys are destination, "
            "identity, detectors, reason, until"
        )
    reason = item.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ConfigError(
            f'{where} has no reason: say why this traffic is expected (reason = "..."), '
            "so the entry can be reviewed and removed when it no longer holds"
        )
    detectors = item.get("detectors", item.get("detector", ()))
    if isinstance(detectors, str):
        detectors = (detectors,)
    if not isinstance(detectors, list | tuple) or not all(isinstance(d, str) for d in detectors):
        raise ConfigError(f"{where}: detectors must be a list of names")
    bad = [d for d in detectors if d not in DETECTORS]
    if bad:
        raise ConfigError(
            f"{where}: unknown detector(s) {', '.join(bad)}; known: {', '.join(DETECTORS)}"
        )
    destination = item.get("destination")
    identity = item.get("identity")
    for key, value in (("destination", destination), ("identity", identity)):
        if value is not None and (not isinstance(value, str) or not value):
            raise ConfigError(f"{where}: {key} must be a non-empty string")
    if kind == "allow" and destination is None and identity is None:
        raise ConfigError(
            f"{where}: an allow entry needs a destination or an identity (allowing everything "
            "would switch the monitor off)"
        )
    if destination is not None and "/" in destination:
        try:
            ipaddress.ip_network(destination, strict=False)
        except ValueError:
            raise ConfigError(f"{where}: destination {destination!r} is not a CIDR") from None
    until = item.get("until")
    until_epoch: float | None = None
    if until is not None:
        if isinstance(until, dt.datetime):
            stamp = until if until.tzinfo else until.replace(tzinfo=dt.UTC)
            until_epoch = stamp.timestamp()
        elif isinstance(until, dt.date):
            until_epoch = dt.datetime.combine(until, dt.time.max, dt.UTC).timestamp()
        else:
            raise ConfigError(f"{where}: until must be a TOML date (until = 2027-03-31)")
    return Entry(
        kind=kind,
        reason=reason.strip(),
        destination=destination,
        identity=identity,
        detectors=tuple(detectors),
        until=until_epoch,
    )


def _glob(pattern: str, value: str | None) -> bool:
    return value is not None and fnmatch.fnmatchcase(value.lower(), pattern.lower())


def _dest_matches(pattern: str, destination: str | None) -> bool:
    if destination is None:
        return False
    if "/" in pattern:
        try:
            return ipaddress.ip_address(destination) in ipaddress.ip_network(pattern, strict=False)
        except ValueError:
            return False
    return _glob(pattern, destination)
