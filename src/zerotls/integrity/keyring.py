"""HMAC keys, the key ring that holds them, and its JSON file.

Theory of operation
-------------------
A :class:`KeyRing` holds one *current* key, which signs, and any number of other *active* keys,
which still verify. Rotation adds a fresh key, makes it current, and schedules the previous
current key to retire after a grace period, long enough for every signer to pick up the new
ring and for messages already in flight to be delivered. A key stops verifying once its
``retire_at`` time has passed; :meth:`KeyRing.purge` (run by every rotation) then forgets its
secret and keeps only a tombstone (key id and retirement time), so that a late message gets
"key retired" rather than "unknown key", and so that a key id is never reused.

Time is always passed in (``now``); when it is ``None`` the clock is read once, here at the
public boundary, never deeper.

The file is JSON (see ``docs/integrity.md``), written with mode 0600 through a temporary file
in the same directory and ``os.replace``, so a reader sees the old ring or the new one, never
half of one. Loading refuses a file that group or others may read, as OpenSSH does for keys.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import math
import os
import re
import secrets
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from zerotls.errors import ConfigError, UnknownKey
from zerotls.integrity.envelope import KEY_ID_PATTERN

__all__ = ["FILE_FORMAT", "FILE_VERSION", "MIN_SECRET_SIZE", "HmacKey", "KeyRing"]

MIN_SECRET_SIZE = 32
"""Fewest secret bytes a key may have: the HMAC-SHA256 output size (RFC 2104 §3)."""

FILE_FORMAT = "zerotls-hmac-keyring"
"""The ``format`` field of a key-ring file."""

FILE_VERSION = 1
"""The ``version`` field of a key-ring file this code writes and reads."""

_KEY_ID_RE = re.compile(KEY_ID_PATTERN)
_FILE_MODE = 0o600  # owner read/write only: the file holds secrets


def _now(now: float | None) -> float:
    return time.time() if now is None else now


def _utc(timestamp: float) -> str:
    """Format a Unix time as ISO 8601 UTC, for messages."""
    try:
        return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return f"{timestamp:.0f} (Unix time)"


@dataclass(frozen=True, slots=True, kw_only=True)
class HmacKey:
    """One HMAC-SHA256 key."""

    kid: str
    """Key id: 1-32 characters of ``[A-Za-z0-9_-]``; written into every envelope it signs."""
    secret: bytes = field(repr=False)
    """The secret, at least :data:`MIN_SECRET_SIZE` bytes from :mod:`secrets`. Never printed."""
    created_at: int
    """When the key was made, in seconds since the Unix epoch."""
    retire_at: int | None = None
    """From this time on (seconds since the epoch) the key no longer verifies; ``None``: never
    scheduled. The current key always has ``None``."""

    def __post_init__(self) -> None:
        if not isinstance(self.kid, str) or _KEY_ID_RE.fullmatch(self.kid) is None:
            raise ConfigError(
                f"key id {self.kid!r} is not 1-32 characters of {KEY_ID_PATTERN}; "
                "choose a short printable id"
            )
        if not isinstance(self.secret, bytes) or len(self.secret) < MIN_SECRET_SIZE:
            raise ConfigError(
                f"key {self.kid!r} has a secret shorter than {MIN_SECRET_SIZE} bytes; "
                "make keys with KeyRing.generate() or `zerotls hmac keygen`"
            )

    @classmethod
    def generate(cls, *, kid: str | None = None, now: float | None = None) -> HmacKey:
        """Make a key with :data:`MIN_SECRET_SIZE` fresh random bytes.

        Args:
            kid: the key id; a random 8-character hex id when ``None``.
            now: creation time (seconds since the epoch); the clock when ``None``.

        Returns:
            The new key.

        Raises:
            ConfigError: ``kid`` is not a valid key id.
        """
        return cls(
            kid=secrets.token_hex(4) if kid is None else kid,
            secret=secrets.token_bytes(MIN_SECRET_SIZE),
            created_at=math.floor(_now(now)),
        )

    def is_active(self, now: float) -> bool:
        """Return whether the key still verifies at ``now``."""
        return self.retire_at is None or now < self.retire_at


class KeyRing:
    """The keys one party signs and verifies with: one current key and its active predecessors.

    A ring is mutable (rotation and retirement change it in place, so every
    :class:`~zerotls.integrity.verifier.Verifier` sharing it sees the change at once). Each
    change replaces the internal mappings whole, so a concurrent reader sees either the old
    state or the new one.
    """

    __slots__ = ("_current", "_keys", "_retired")

    def __init__(
        self,
        keys: Iterable[HmacKey],
        *,
        current: str,
        retired: Mapping[str, int] | None = None,
    ) -> None:
        """Build a ring from existing keys (most callers want :meth:`generate` or :meth:`load`).

        Args:
            keys: the keys that still have their secrets (active or scheduled to retire).
            current: the id of the key that signs; it must be in ``keys`` and not scheduled
                to retire.
            retired: tombstones: id of each retired key mapped to when it was retired.

        Raises:
            ConfigError: duplicate ids, a missing or retiring current key, or an id that is
                both live and retired.
        """
        by_kid: dict[str, HmacKey] = {}
        for key in keys:
            if key.kid in by_kid:
                raise ConfigError(f"key id {key.kid!r} appears twice in the key ring")
            by_kid[key.kid] = key
        tombstones = dict(retired or {})
        both = sorted(set(by_kid) & set(tombstones))
        if both:
            raise ConfigError(f"key ids {both} are listed both as live and as retired")
        if current not in by_kid:
            raise ConfigError(
                f"the current key {current!r} is not in the key ring; "
                "recreate it with `zerotls hmac keygen`"
            )
        if by_kid[current].retire_at is not None:
            raise ConfigError(
                f"the current key {current!r} is scheduled to retire; "
                "the signing key must not expire: rotate to a new key instead"
            )
        self._keys = by_kid
        self._current = current
        self._retired = tombstones

    def __repr__(self) -> str:
        return (
            f"<KeyRing current={self._current!r} keys={sorted(self._keys)!r} "
            f"retired={sorted(self._retired)!r}>"
        )

    @classmethod
    def generate(cls, *, now: float | None = None) -> KeyRing:
        """Make a ring with one fresh current key.

        Args:
            now: creation time (seconds since the epoch); the clock when ``None``.

        Returns:
            The new ring.
        """
        key = HmacKey.generate(now=now)
        return cls([key], current=key.kid)

    @property
    def current(self) -> HmacKey:
        """The key that signs."""
        return self._keys[self._current]

    @property
    def keys(self) -> tuple[HmacKey, ...]:
        """Every key that still has its secret, current first, then newest first."""
        others = sorted(
            (k for k in self._keys.values() if k.kid != self._current),
            key=lambda k: (k.created_at, k.kid),
            reverse=True,
        )
        return (self.current, *others)

    @property
    def retired(self) -> Mapping[str, int]:
        """Tombstones: the id of each retired key and when it was retired."""
        return dict(self._retired)

    def active_keys(self, *, now: float | None = None) -> tuple[HmacKey, ...]:
        """Return the keys that verify at ``now`` (the clock when ``None``), current first."""
        at = _now(now)
        return tuple(k for k in self.keys if k.is_active(at))

    def verification_key(self, kid: str, *, now: float) -> HmacKey:
        """Return the key to verify an envelope signed with ``kid``.

        Args:
            kid: the key id named by the envelope.
            now: the verification time, seconds since the epoch.

        Returns:
            The key, if it is active at ``now``.

        Raises:
            UnknownKey: the ring never held ``kid``, or the key was retired.
        """
        key = self._keys.get(kid)
        if key is not None and key.is_active(now):
            return key
        retired_at = key.retire_at if key is not None else self._retired.get(kid)
        if retired_at is not None:
            raise UnknownKey(
                f"envelope was signed with key {kid!r}, retired at {_utc(retired_at)}; "
                f"the sender must sign with the current key {self._current!r} "
                "(give it the rotated key ring)"
            )
        raise UnknownKey(
            f"envelope was signed with key {kid!r}, which this key ring does not hold; "
            "verify with the key ring the sender signs with (after a rotation, deploy the "
            "new ring to verifiers before signers)"
        )

    def rotate(self, *, now: float | None = None, retire_after: float | None = None) -> HmacKey:
        """Add a fresh key and make it current.

        Keys whose retirement time has passed are purged first (see :meth:`purge`).

        Args:
            now: the rotation time (seconds since the epoch); the clock when ``None``.
            retire_after: seconds the previous current key keeps verifying; ``0`` retires it
                at once, ``None`` leaves it active until :meth:`retire` is called.

        Returns:
            The new current key.

        Raises:
            ConfigError: ``retire_after`` is negative or not finite.
        """
        at = _now(now)
        if retire_after is not None and not (math.isfinite(retire_after) and retire_after >= 0):
            raise ConfigError(
                f"retire_after={retire_after!r}: give a number of seconds, 0 or more "
                "(0 retires the previous key at once)"
            )
        self.purge(now=at)
        taken = set(self._keys) | set(self._retired)
        new_key = HmacKey.generate(now=at)
        while new_key.kid in taken:  # 32 random bits: rare, but never reuse an id
            new_key = HmacKey.generate(now=at)
        keys = dict(self._keys)
        if retire_after is not None:
            previous = keys[self._current]
            keys[previous.kid] = replace(previous, retire_at=math.floor(at + retire_after))
        keys[new_key.kid] = new_key
        self._keys, self._current = keys, new_key.kid
        self.purge(now=at)  # retire_after=0 retires the previous key right now
        return new_key

    def retire(self, kid: str, *, now: float | None = None) -> None:
        """Retire a key at once: it stops verifying and its secret is forgotten.

        Retiring a key that is already retired does nothing.

        Args:
            kid: the key to retire.
            now: the retirement time (seconds since the epoch); the clock when ``None``.

        Raises:
            ConfigError: ``kid`` is the current key (rotate first) or is not in the ring.
        """
        if kid in self._retired:
            return
        if kid == self._current:
            raise ConfigError(
                f"cannot retire {kid!r}: it is the current signing key; rotate first "
                "(`zerotls hmac rotate`), then retire it"
            )
        if kid not in self._keys:
            raise ConfigError(f"cannot retire {kid!r}: this key ring holds no such key")
        keys = dict(self._keys)
        del keys[kid]
        self._keys = keys
        self._retired = {**self._retired, kid: math.floor(_now(now))}

    def purge(self, *, now: float | None = None) -> list[str]:
        """Forget the secrets of keys whose retirement time has passed, keeping tombstones.

        Args:
            now: seconds since the epoch; the clock when ``None``.

        Returns:
            The ids of the keys purged, sorted.
        """
        at = _now(now)
        expired = {
            k.kid: k.retire_at
            for k in self._keys.values()
            if k.retire_at is not None and not k.is_active(at)
        }
        if expired:
            self._keys = {kid: k for kid, k in self._keys.items() if kid not in expired}
            self._retired = {**self._retired, **expired}
        return sorted(expired)

    # -- the file ---------------------------------------------------------------------------

    def to_json(self) -> str:
        """Return the ring in its JSON file format (this text contains the secrets)."""
        document = {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "current": self._current,
            "keys": [
                {
                    "kid": k.kid,
                    "secret": base64.urlsafe_b64encode(k.secret).rstrip(b"=").decode("ascii"),
                    "created_at": k.created_at,
                    "retire_at": k.retire_at,
                }
                for k in self.keys
            ],
            "retired": dict(sorted(self._retired.items())),
        }
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: str = "key ring") -> KeyRing:
        """Read a ring from its JSON file format.

        Args:
            text: the JSON text.
            source: how to name the input in error messages (a file name, usually).

        Returns:
            The ring.

        Raises:
            ConfigError: the text is not a valid key ring.
        """
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise ConfigError(
                f"{source} is not valid JSON ({exc}); restore it from a backup or create a "
                "new ring with `zerotls hmac keygen`"
            ) from exc
        return _ring_from_document(document, source)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> KeyRing:
        """Read a ring from a file written by :meth:`save`.

        Args:
            path: the file.

        Returns:
            The ring.

        Raises:
            ConfigError: the file is missing, unreadable, readable by group or others, or not
                a valid key ring.
        """
        p = Path(path)
        try:
            with p.open("rb") as f:
                mode = os.fstat(f.fileno()).st_mode
                raw = f.read()
        except FileNotFoundError as exc:
            raise ConfigError(
                f"key ring {p} does not exist; create one with `zerotls hmac keygen --keyring {p}`"
            ) from exc
        except OSError as exc:
            raise ConfigError(f"cannot read key ring {p}: {exc.strerror or exc}") from exc
        if os.name == "posix" and mode & 0o077:
            raise ConfigError(
                f"key ring {p} is accessible by group or others (mode "
                f"{stat.S_IMODE(mode):04o}); it holds secrets: run `chmod 600 {p}` and consider "
                "rotating the keys"
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"key ring {p} is not UTF-8 text; is it the right file?") from exc
        return cls.from_json(text, source=f"key ring {p}")

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the ring to a file, mode 0600, atomically.

        The text goes to a temporary file in the same directory, is flushed to disk, and then
        replaces ``path`` with ``os.replace``: a reader (or a crash) sees the old ring or the
        new one, never a mix.

        Args:
            path: the file; its directory must exist.

        Raises:
            ConfigError: the file cannot be written.
        """
        p = Path(path)
        try:
            _write_private_file(p, self.to_json().encode("utf-8"))
        except OSError as exc:
            raise ConfigError(
                f"cannot write key ring {p}: {exc.strerror or exc}; check that the directory "
                "exists and is writable"
            ) from exc


def _write_private_file(path: Path, data: bytes) -> None:
    # mkstemp creates the file with mode 0600 and O_EXCL, in the target's directory so that
    # os.replace is a rename within one file system (atomic on POSIX).
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), _FILE_MODE)  # explicit, whatever mkstemp's default
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    if os.name == "posix":  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _ring_from_document(document: Any, source: str) -> KeyRing:
    def bad(what: str) -> ConfigError:
        return ConfigError(
            f"{source} is not a valid zerotls key ring: {what}; restore it from a backup or "
            "create a new one with `zerotls hmac keygen`"
        )

    if not isinstance(document, dict):
        raise bad("the top level is not a JSON object")
    if document.get("format") != FILE_FORMAT:
        raise bad(f"'format' is not {FILE_FORMAT!r}")
    if document.get("version") != FILE_VERSION or isinstance(document.get("version"), bool):
        raise bad(
            f"'version' is {document.get('version')!r}, this zerotls reads version "
            f"{FILE_VERSION} (upgrade zerotls if the file is newer)"
        )
    unknown = sorted(set(document) - {"format", "version", "current", "keys", "retired"})
    if unknown:
        raise bad(f"unknown fields {unknown}")
    current = document.get("current")
    if not isinstance(current, str):
        raise bad("'current' is not a key id")
    raw_keys = document.get("keys")
    if not isinstance(raw_keys, list):
        raise bad("'keys' is not a list")
    keys = [_key_from_entry(entry, bad) for entry in raw_keys]
    raw_retired = document.get("retired", {})
    if not isinstance(raw_retired, dict) or not all(_is_int(v) for v in raw_retired.values()):
        raise bad("'retired' is not an object mapping key ids to Unix times")
    for kid in raw_retired:
        if _KEY_ID_RE.fullmatch(kid) is None:
            raise bad(f"retired key id {kid!r} is not valid")
    try:
        return KeyRing(keys, current=current, retired=raw_retired)
    except ConfigError as exc:
        raise bad(str(exc)) from exc


def _key_from_entry(entry: Any, bad: Callable[[str], ConfigError]) -> HmacKey:
    if not isinstance(entry, dict) or set(entry) != {"kid", "secret", "created_at", "retire_at"}:
        raise bad("each key must be an object with kid, secret, created_at and retire_at")
    kid, secret_text = entry["kid"], entry["secret"]
    created_at, retire_at = entry["created_at"], entry["retire_at"]
    if not isinstance(kid, str) or _KEY_ID_RE.fullmatch(kid) is None:
        raise bad(f"key id {kid!r} is not valid")
    if not isinstance(secret_text, str) or re.fullmatch(r"[A-Za-z0-9_-]+", secret_text) is None:
        raise bad(f"the secret of key {kid!r} is not unpadded base64url")
    try:
        secret = base64.urlsafe_b64decode(secret_text + "=" * (-len(secret_text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise bad(f"the secret of key {kid!r} is not unpadded base64url") from exc
    if not _is_int(created_at) or not (retire_at is None or _is_int(retire_at)):
        raise bad(f"created_at / retire_at of key {kid!r} are not Unix times (or null)")
    try:
        return HmacKey(kid=kid, secret=secret, created_at=created_at, retire_at=retire_at)
    except ConfigError as exc:
        raise bad(str(exc)) from exc


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
