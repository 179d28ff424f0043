"""Version numbers of OpenSSL and of Python packages, comparable as tuples.

zerotls does not depend on ``packaging``, so this is a small parser of its own, enough for the
advisory table: OpenSSL's two schemes (``1.0.1g``, letter releases up to ``1.0.2zq``; and
``3.0.19``) and PEP 440 release numbers with pre-, post- and dev-releases. Local versions
(``+ubuntu1``) are ignored: they do not change which upstream fixes are in.
"""

from __future__ import annotations

import datetime as dt
import re

__all__ = [
    "Version",
    "openssl_build_date",
    "parse_openssl",
    "parse_openssl_branch",
    "parse_package",
]

Version = tuple[int, ...]
"""A comparable version: release numbers padded to four, then a pre/post/dev rank."""

_OPENSSL = re.compile(r"^\s*OpenSSL\s+(\d+)\.(\d+)\.(\d+)([a-z]*)", re.IGNORECASE)
_OPENSSL_DATE = re.compile(r"(\d{1,2}) ([A-Z][a-z]{2}) (\d{4})")
_PEP440 = re.compile(
    r"^\s*v?(?:\d+!)?(?P<release>\d+(?:\.\d+)*)"
    r"(?:[-_.]?(?P<pre>a|b|c|rc|alpha|beta|pre|preview)[-_.]?(?P<pre_n>\d*))?"
    r"(?:(?:-(?P<post_implicit>\d+))|(?:[-_.]?(?:post|rev|r)[-_.]?(?P<post_n>\d*)))?"
    r"(?:[-_.]?dev[-_.]?(?P<dev_n>\d*))?"
    r"(?:\+[a-z0-9.]+)?\s*$",
    re.IGNORECASE,
)
_RELEASE_PARTS = 6
_PRE_RANK = {"a": 1, "alpha": 1, "b": 2, "beta": 2, "c": 3, "rc": 3, "pre": 3, "preview": 3}


def _letters(suffix: str) -> int:
    """OpenSSL letter releases: a=1 ... z=26, za=27, zb=28 ... (``1.0.2zq`` is 43)."""
    return sum(ord(c) - ord("a") + 1 for c in suffix.lower())


def parse_openssl(text: str) -> Version | None:
    """``"OpenSSL 1.0.1f 6 Jan 2014"`` -> ``(1, 0, 1, 6)``; None for another library.

    Returns None for LibreSSL, BoringSSL, AWS-LC and anything not named OpenSSL: the advisory
    table covers OpenSSL only.
    """
    match = _OPENSSL.match(text)
    if match is None:
        return None
    major, minor, patch, letters = match.groups()
    return (int(major), int(minor), int(patch), _letters(letters))


def parse_openssl_branch(text: str) -> str | None:
    """The support branch of an OpenSSL version string: ``"1.1.1"``, ``"3.0"``, ``"4.0"``."""
    version = parse_openssl(text)
    if version is None:
        return None
    if version[0] >= 3:
        return f"{version[0]}.{version[1]}"
    return f"{version[0]}.{version[1]}.{version[2]}"


def openssl_build_date(text: str) -> dt.date | None:
    """The release date printed in an OpenSSL version string (``"... 29 Sep 2026"``)."""
    match = _OPENSSL_DATE.search(text)
    if match is None:
        return None
    try:
        return dt.datetime.strptime(" ".join(match.groups()), "%d %b %Y").date()
    except ValueError:
        return None


def parse_package(text: str) -> Version | None:
    """A PEP 440 version as a comparable tuple, or None when it is not one.

    Ordering as PEP 440 defines it: ``1.0.dev1 < 1.0a1 < 1.0rc1 < 1.0 < 1.0.post1``.
    """
    match = _PEP440.match(text)
    if match is None:
        return None
    release = [int(p) for p in match.group("release").split(".")][:_RELEASE_PARTS]
    release += [0] * (_RELEASE_PARTS - len(release))
    pre = match.group("pre")
    post_implicit, post_n = match.group("post_implicit"), match.group("post_n")
    has_post = post_implicit is not None or post_n is not None
    dev_n = match.group("dev_n")
    has_dev = dev_n is not None
    if pre is not None:
        pre_key = (1, _PRE_RANK[pre.lower()] * 1_000_000 + int(match.group("pre_n") or 0))
    elif has_dev and not has_post:
        pre_key = (0, 0)  # 1.0.dev1 precedes every pre-release of 1.0
    else:
        pre_key = (2, 0)  # a final release follows its pre-releases
    post_key = (1, int(post_implicit or post_n or 0)) if has_post else (0, 0)
    dev_key = (0, int(dev_n or 0)) if has_dev else (1, 0)  # a dev release precedes its base
    return (*release, *pre_key, *post_key, *dev_key)
