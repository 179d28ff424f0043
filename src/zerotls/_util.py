"""Small helpers shared across zerotls (no I/O beyond what each names)."""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from zerotls.errors import ConfigError

__all__ = ["atomic_write", "escape_controls", "format_duration", "parse_duration"]

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_DURATION_SECONDS = 36500 * 86400
"""100 years: past this a timedelta or a certificate date overflows, and nothing means it."""


# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides and
# isolates (Trojan Source, CVE-2021-42574) that reorder what an analyst reads.
_CONTROL_RE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
# Colour codes we print ourselves (bold, dim, red, green, yellow, cyan ... reset): kept.
_SGR_PARAM = "(?:0|1|2|22|39|3[0-7]|9[0-7])"
_SGR_RE = re.compile(f"\x1b\\[(?:{_SGR_PARAM}(?:;{_SGR_PARAM})*)?m")


def escape_controls(text: str, *, keep_colors: bool = False) -> str:
    """``text`` safe for a terminal: control and bidi characters shown as ``\\x1b``, ``\\u202e``.

    Certificate fields, SNI names and log values are chosen by whoever sent them; raw, an ESC
    sequence can rewrite the screen, retitle the window or hide a line, and U+202E can make
    ``evil.example`` read as something else. Tab and newline are kept. With ``keep_colors``,
    plain colour codes (SGR: bold, dim, the 16 colours, reset; never "conceal") pass through.
    """
    if _CONTROL_RE.search(text) is None:
        return text
    out = []
    pos = 0
    for match in _CONTROL_RE.finditer(text):
        start = match.start()
        if start < pos:
            continue  # inside a colour code already copied
        out.append(text[pos:start])
        char = match.group()
        if char == "\r" and text.startswith("\n", start + 1):
            out.append("\r")  # CRLF ends lines in every text protocol; a lone CR is escaped
            pos = start + 1
            continue
        if keep_colors and char == "\x1b":
            sgr = _SGR_RE.match(text, start)
            if sgr is not None:
                out.append(sgr.group())
                pos = sgr.end()
                continue
        code = ord(char)
        out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        pos = start + 1
    out.append(text[pos:])
    return "".join(out)


def parse_duration(text: str) -> dt.timedelta:
    """Parse ``"24h"``, ``"90m"``, ``"7d"``, ``"1h30m"`` or plain seconds (``"3600"``).

    Raises:
        ConfigError: the text is not a positive duration.
    """
    value = text.strip().lower()
    if value.startswith("-") and _duration_body(value[1:]):
        raise ConfigError(f"duration {text!r} must be positive")
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        seconds = float(value)
    else:
        pos = 0
        seconds = 0.0
        for match in _DURATION_RE.finditer(value):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        if pos != len(value) or not value:
            raise ConfigError(
                f"{text!r} is not a duration: use a number with a unit, e.g. 30s, 15m, 24h, 7d"
            )
    if seconds <= 0:
        raise ConfigError(f"duration {text!r} must be positive")
    if seconds > MAX_DURATION_SECONDS:
        raise ConfigError(
            f"duration {text!r} is longer than any certificate, timeout or window can be: "
            "use at most 100 years (36500d)"
        )
    return dt.timedelta(seconds=seconds)


def _duration_body(value: str) -> bool:
    return bool(re.fullmatch(r"(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d|w)?)+", value))


def format_duration(delta: dt.timedelta) -> str:
    """A short human form: ``3 h``, ``12 min``, ``5 days``."""
    seconds = round(abs(delta.total_seconds()))
    if seconds < 90:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    if seconds < 36 * 3600:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    hours = round(seconds / 3600)
    days, rest = divmod(hours, 24)
    return f"{days} days {rest} h" if rest and days < 7 else f"{round(seconds / 86400)} days"


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename) with ``mode``.

    The temporary file is created with ``mode`` from the start, so a private key is never
    readable by others, not even for a moment.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def parse_hostport(text: str, *, default_port: int | None = None) -> tuple[str, int]:
    """Split ``host:port``, ``[v6]:port`` or (with a default port) a bare host.

    Raises:
        ConfigError: no port where one is needed, or a port outside 0-65535.
    """
    value = text.strip()
    host, port_text = value, ""
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            raise ConfigError(f"{text!r}: unclosed '[' in an IPv6 address")
        host, rest = value[1:end], value[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ConfigError(f"{text!r}: expected ':PORT' after ']'")
            port_text = rest[1:]
    elif value.count(":") == 1:
        host, port_text = value.split(":")
    if not port_text:
        if default_port is None:
            raise ConfigError(f"{text!r} has no port: use HOST:PORT (e.g. 127.0.0.1:8443)")
        return host, default_port
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(f"{text!r}: port must be a number from 0 to 65535")
    if not host:
        raise ConfigError(f"{text!r} has no host")
    return host, int(port_text)


def read_toml(path: Path, what: str = "config", *, table: str | None = None) -> dict[str, Any]:
    """Read a TOML file (optionally one ``[table]`` of it); every failure is a ConfigError
    that names the file and what is wrong."""
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {path} is not valid TOML: {exc}") from None
    if table is not None:
        section = data.get(table)
        if not isinstance(section, dict):
            raise ConfigError(f"{path} has no [{table}] table")
        return section
    return data


def format_address(peer: object) -> str:
    """``ip:port`` or ``[v6]:port`` for a socket address, for logs and audit events."""
    if isinstance(peer, tuple) and len(peer) >= 2:
        host = str(peer[0])
        return f"[{host}]:{peer[1]}" if ":" in host else f"{host}:{peer[1]}"
    return str(peer) if peer else "unix"


def http_fetch(
    url: str,
    *,
    what: str,
    limit: int,
    timeout: float,
    data: bytes | None = None,
    content_type: str | None = None,
) -> bytes:
    """GET (or POST ``data``) an http(s) URL with a time and size bound, for OCSP and CRLs.

    Raises:
        TransportError: not http(s), unreachable, slow, an HTTP error, or over ``limit`` bytes;
            the message names ``what`` (e.g. "OCSP responder") and the URL.
    """
    import urllib.error
    import urllib.request

    from zerotls.errors import TransportError

    if not url.startswith(("http://", "https://")):
        raise TransportError(f"{what} URL {url!r} is not http(s)")
    headers = {"Content-Type": content_type} if content_type else {}
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 - checked
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310
            body: bytes = reply.read(limit + 1)
    except urllib.error.HTTPError as exc:
        raise TransportError(f"{what} {url} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TransportError(f"{what} {url} is unreachable: {reason}") from None
    if len(body) > limit:
        raise TransportError(f"{what} {url} sent more than {limit} bytes")
    return body
