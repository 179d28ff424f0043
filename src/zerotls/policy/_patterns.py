"""Pattern compilers for policy rules: validated once, at construction, never in ``decide``.

Each compiler takes the text a person wrote, refuses it with a :class:`ConfigError` that says
what is wrong and how to write it instead, and returns (a) the normalized text, stored back on
the rule so equal policies compare equal, and (b) a precompiled form that the hot path only
looks up: a ``frozenset`` for exact values, one regular expression (used with ``fullmatch``)
for all the name patterns of a field, integer masks for address ranges, minutes of
the day for time windows.

The globs are built so that matching stays linear in the length of the name: at most one
``*`` per SPIFFE path segment or DNS label, each ``*`` compiles to a character class that
excludes the separator (``[^/]`` or ``[^.]``), and ``**`` to ``(?:/[^/]+)+``, whose repetitions
cannot overlap because each one starts at a ``/``. No pattern can backtrack catastrophically,
whatever name a certificate carries.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from typing import Any

from cryptography import x509

from zerotls.errors import ConfigError
from zerotls.tls.identity import parse_spiffe_id

__all__ = [
    "glob_regex",
    "Address",
    "Network",
    "compile_dns",
    "compile_spiffe",
    "normalize_dns",
    "normalize_issuer",
    "in_networks",
    "parse_hours",
    "parse_ip",
    "parse_networks",
    "parse_weekdays",
    "strings",
]

Network = tuple[int, int, int]
"""An address range as plain integers, ``(ip_version, network_address, netmask)``: membership
is one mask and compare, much cheaper than building ``ipaddress`` objects per connection."""
Address = tuple[int, int]
"""A peer address as plain integers, ``(ip_version, address)``."""

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday names in :meth:`datetime.date.weekday` order (Monday is 0)."""

_SPIFFE_PREFIX = "spiffe://"
# A DNS label as a pattern may hold: letters, digits, '-', '_' (seen in service records) and
# at most one '*'. Checked after lowercasing.
_DNS_LABEL_RE = re.compile(r"[a-z0-9_*-]+")
_HOURS_RE = re.compile(r"([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})")


def glob_regex(exact: Iterable[str], wildcard: Iterable[str]) -> re.Pattern[str] | None:
    """One regex for a field's patterns (use ``fullmatch``); None when there are none.

    One C-level ``fullmatch`` per field is the cheapest check in the hot path: cheaper than a
    set lookup followed by a regex, or a Python loop over patterns.
    """
    parts = [re.escape(e) for e in exact]
    parts.extend(f"(?:{w})" for w in wildcard)
    return re.compile("|".join(parts)) if parts else None


def strings(value: Any, what: str) -> tuple[str, ...]:
    """Accept one string, or a list, tuple or set of strings; anything else is a ConfigError.

    A bare string becomes a one-element tuple (iterating it would yield characters).
    """
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple | set | frozenset):
        items = tuple(value)
        if all(isinstance(v, str) for v in items):
            # Sets are sorted so that equal inputs give equal (and equally ordered) rules.
            return items if isinstance(value, list | tuple) else tuple(sorted(items))
    raise ConfigError(f"{what} must be a list of strings, not {value!r}")


def _segment_regex(segment: str, separator: str) -> str:
    """Regex for one segment or label with at most one ``*`` (checked by the caller)."""
    if segment == "*":
        return f"[^{re.escape(separator)}*]+"
    if "*" in segment:
        head, _, tail = segment.partition("*")
        return f"{re.escape(head)}[^{re.escape(separator)}*]*{re.escape(tail)}"
    return re.escape(segment)


def compile_spiffe(patterns: Iterable[str]) -> tuple[tuple[str, ...], re.Pattern[str] | None]:
    """Validate and compile SPIFFE ID patterns.

    ``*`` is one whole path segment (``/svc/*``), or part of one (``/batch/legacy-*``);
    ``**`` is one or more remaining segments and must be the last segment. The trust domain is
    matched exactly: a wildcard there would let any trust domain federated with ours in.

    Returns:
        The patterns as written (they are already canonical once valid) and one regex for
        them all (None when there are none).

    Raises:
        ConfigError: a pattern that is not a SPIFFE ID with wildcards as described.
    """
    exact: list[str] = []
    wildcard: list[str] = []
    checked: list[str] = []
    for pattern in patterns:
        if not pattern.startswith(_SPIFFE_PREFIX):
            raise ConfigError(
                f"SPIFFE pattern {pattern!r} must start with 'spiffe://', "
                "e.g. 'spiffe://prod.example/svc/web'"
            )
        trust_domain, slash, path = pattern[len(_SPIFFE_PREFIX) :].partition("/")
        if "*" in trust_domain:
            raise ConfigError(
                f"SPIFFE pattern {pattern!r}: the trust domain must be spelled out exactly "
                "(no wildcards): a wildcard would admit every trust domain we federate with"
            )
        segments = path.split("/") if slash else []
        concrete: list[str] = []
        for index, segment in enumerate(segments):
            if segment == "**":
                if index != len(segments) - 1:
                    raise ConfigError(
                        f"SPIFFE pattern {pattern!r}: '**' may only be the last segment "
                        "(it matches one or more remaining segments)"
                    )
                concrete.append("x")
            elif "**" in segment or segment.count("*") > 1:
                raise ConfigError(
                    f"SPIFFE pattern {pattern!r}: segment {segment!r} is not supported: use '*' "
                    "alone for exactly one segment, at most one '*' inside a segment "
                    "('legacy-*' matches one segment starting with 'legacy-'), and '**' only "
                    "as a whole last segment ('legacy-*/**' matches anything below such a "
                    "segment)"
                )
            else:
                concrete.append(segment.replace("*", "x"))
        # Reuse the SPIFFE ID validator on the pattern with its wildcards filled in, so a
        # pattern can only ever describe IDs that are themselves valid.
        example = _SPIFFE_PREFIX + trust_domain + ("/" + "/".join(concrete) if slash else "")
        try:
            parse_spiffe_id(example)
        except ConfigError as exc:
            raise ConfigError(f"SPIFFE pattern {pattern!r} is not valid: {exc}") from None
        checked.append(pattern)
        if "*" not in path:
            exact.append(pattern)
            continue
        regex = re.escape(_SPIFFE_PREFIX + trust_domain)
        for segment in segments:
            if segment == "**":
                regex += "(?:/[^/]+)+"
            else:
                regex += "/" + _segment_regex(segment, "/")
        wildcard.append(regex)
    return tuple(checked), glob_regex(exact, wildcard)


def normalize_dns(name: str) -> str:
    """The form names are compared in: lowercase, without a trailing dot."""
    return name.rstrip(".").lower()


def compile_dns(
    patterns: Iterable[str], what: str
) -> tuple[tuple[str, ...], re.Pattern[str] | None]:
    """Validate and compile DNS name globs (for DNS SANs and SNI).

    ``*`` matches within one label only, whole (``*.prod.example``) or partial
    (``db-*.prod.example``), at most one per label. Comparison is case-insensitive and ignores a
    trailing dot. A wildcard never matches a literal ``*`` label, so a certificate whose SAN is
    itself a wildcard (``*.prod.example``) is matched only by exact patterns equal to it.

    Returns:
        The normalized patterns and one regex for them all (None when there are none).

    Raises:
        ConfigError: an empty pattern, an empty label, a character outside letters, digits,
            ``-`` and ``_``, or more than one ``*`` in a label.
    """
    exact: list[str] = []
    wildcard: list[str] = []
    normalized: list[str] = []
    for pattern in patterns:
        name = normalize_dns(pattern.strip())
        labels = name.split(".")
        if not name or len(name) > 253 or "" in labels:
            raise ConfigError(
                f"{what} pattern {pattern!r} is not a DNS name: use labels separated by '.', "
                "e.g. 'db.prod.example' or '*.prod.example'"
            )
        for label in labels:
            if not _DNS_LABEL_RE.fullmatch(label) or label.count("*") > 1:
                raise ConfigError(
                    f"{what} pattern {pattern!r}: label {label!r} is not supported: use "
                    "letters, digits, '-' and '_', and at most one '*' per label ('*' never "
                    "spans a '.': '*.prod.example' matches 'db.prod.example', not "
                    "'a.b.prod.example')"
                )
        normalized.append(name)
        if "*" in name:
            wildcard.append(r"\.".join(_segment_regex(label, ".") for label in labels))
        else:
            exact.append(name)
    return tuple(normalized), glob_regex(exact, wildcard)


def normalize_issuer(dn: str) -> str:
    """Normalize an RFC 4514 distinguished name to the form :class:`Identity` carries.

    Accepts spaces around ``,``, ``+`` and ``=`` and attribute types in any case
    (``cn=Root, o=Example`` becomes ``CN=Root,O=Example``); values stay case-sensitive.

    Raises:
        ConfigError: the text is not a distinguished name.
    """
    avas: list[str] = []
    current: list[str] = []
    separators: list[str] = []
    escaped = False
    for char in dn.strip():
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char in ",+":
            avas.append("".join(current))
            separators.append(char)
            current = []
        else:
            current.append(char)
    avas.append("".join(current))
    rebuilt: list[str] = []
    for ava in avas:
        attr_type, eq, value = ava.partition("=")
        attr_type, value = attr_type.strip(), value.strip()
        if not eq or not attr_type or not value:
            raise ConfigError(
                f"issuer {dn!r} is not an RFC 4514 distinguished name: write it as "
                "'CN=My Root CA,O=Example' (the issuer as `zerotls pki inspect` shows it)"
            )
        upper = attr_type.upper()
        attr_type = _DN_ALIASES.get(upper, upper if upper in _DN_SHORT else attr_type)
        rebuilt.append(f"{attr_type}={value}")
    text = rebuilt[0] + "".join(s + a for s, a in zip(separators, rebuilt[1:], strict=True))
    try:
        return x509.Name.from_rfc4514_string(text).rfc4514_string()
    except ValueError as exc:
        raise ConfigError(
            f"issuer {dn!r} is not an RFC 4514 distinguished name ({exc or 'unparsable'}): "
            "write it as 'CN=My Root CA,O=Example' (the issuer as `zerotls pki inspect` shows it)"
        ) from None


_DN_SHORT = frozenset({"CN", "O", "OU", "C", "L", "ST", "STREET", "DC", "UID"})
_DN_ALIASES = {
    "COMMONNAME": "CN",
    "ORGANIZATIONNAME": "O",
    "ORGANIZATIONALUNITNAME": "OU",
    "COUNTRYNAME": "C",
    "LOCALITYNAME": "L",
    "STATEORPROVINCENAME": "ST",
    "STREETADDRESS": "STREET",
    "DOMAINCOMPONENT": "DC",
    "USERID": "UID",
}


def parse_networks(values: Iterable[str]) -> tuple[tuple[str, ...], tuple[Network, ...]]:
    """Validate CIDRs (IPv4 or IPv6); a bare address is a /32 or /128.

    Returns:
        The normalized CIDR strings and the ranges as integers (see :data:`Network`).

    Raises:
        ConfigError: not an address or network, or host bits set (``10.0.0.1/8`` is almost
            always a typo for ``10.0.0.0/8`` or ``10.0.0.1/32``).
    """
    texts: list[str] = []
    networks: list[Network] = []
    for value in values:
        try:
            network = ipaddress.ip_network(value.strip(), strict=True)
        except ValueError as exc:
            if "host bits" not in str(exc):
                raise ConfigError(
                    f"source {value!r} is not a network: use a CIDR such as '10.0.0.0/8' or "
                    "'fd00::/8', or a bare address"
                ) from None
            loose = ipaddress.ip_network(value.strip(), strict=False)
            address = value.strip().partition("/")[0]
            raise ConfigError(
                f"source {value!r} is not a network: it has host bits set; write "
                f"'{loose}' for the network or '{address}' for the one address"
            ) from None
        texts.append(str(network))
        networks.append((network.version, int(network.network_address), int(network.netmask)))
    return tuple(texts), tuple(networks)


def parse_ip(text: str | None) -> Address | None:
    """Parse a peer address; an IPv4-mapped IPv6 address becomes the IPv4 address.

    Dual-stack listeners report IPv4 peers as ``::ffff:10.1.2.3``; without unmapping, a
    rule on ``10.0.0.0/8`` (in particular a deny rule) would silently not apply to them. An
    IPv6 zone (``fe80::1%eth0``) is ignored. Returns None for None or text that is not an
    address, so a rule with ``sources`` does not match it.
    """
    if text is None:
        return None
    v6 = ":" in text
    try:
        # inet_pton: strict (no leading zeros, no short forms) and far cheaper than ipaddress.
        packed = socket.inet_pton(
            socket.AF_INET6 if v6 else socket.AF_INET, text.partition("%")[0] if v6 else text
        )
    except (OSError, ValueError):  # ValueError: NUL or non-ASCII characters
        return None
    value = int.from_bytes(packed, "big")
    if v6 and value >> 32 == 0xFFFF:
        return 4, value & 0xFFFFFFFF
    return (6, value) if v6 else (4, value)


def in_networks(address: Address, networks: tuple[Network, ...]) -> bool:
    """Whether the address lies in any of the ranges."""
    version, value = address
    for net_version, net, mask in networks:
        if net_version == version and value & mask == net:
            return True
    return False


def parse_hours(text: str) -> tuple[str, int, int]:
    """Parse a UTC window ``HH:MM-HH:MM``: start inclusive, end exclusive.

    The end may be ``24:00``; a start after the end wraps midnight (``22:00-06:00``).

    Returns:
        The normalized text and the start and end as minutes of the day.

    Raises:
        ConfigError: malformed, out of range, or empty (start equal to end is ambiguous).
    """
    match = _HOURS_RE.fullmatch(text.replace(" ", ""))
    example = "use 'HH:MM-HH:MM' in UTC, e.g. '06:00-22:00' or '22:00-06:00' across midnight"
    if match is None:
        raise ConfigError(f"hours {text!r} is not a time window: {example}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise ConfigError(f"hours {text!r} has a time out of range: {example}")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end or (start == 0 and end == 1440):
        raise ConfigError(
            f"hours {text!r} is an empty or a whole-day window: {example}; "
            "leave hours out to allow at any time"
        )
    return f"{h1:02d}:{m1:02d}-{h2:02d}:{m2:02d}", start, end


def parse_weekdays(values: Iterable[str]) -> tuple[tuple[str, ...], frozenset[int]]:
    """Validate weekday names (``mon`` .. ``sun``, any case).

    Returns:
        The normalized names and their :meth:`datetime.date.weekday` numbers.

    Raises:
        ConfigError: an unknown name.
    """
    names: list[str] = []
    for value in values:
        name = value.strip().lower()
        if name not in WEEKDAYS:
            raise ConfigError(f"weekday {value!r} is not one of {', '.join(WEEKDAYS)}")
        names.append(name)
    return tuple(names), frozenset(WEEKDAYS.index(n) for n in names)
