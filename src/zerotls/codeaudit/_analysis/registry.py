"""The tables the core consults: every library model, merged.

Adding a library is adding a module with a :class:`~.base.Model` and listing it in
:data:`MODELS`. A name may be claimed by one model only: a second claim is a programming
error, reported when the package is imported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar

from zerotls.codeaudit._analysis.base import (
    CallHandler,
    Finisher,
    MethodHandler,
    Model,
    ObjectMethodHandler,
)
from zerotls.codeaudit._analysis.crypto import MODEL as CRYPTO
from zerotls.codeaudit._analysis.hashes import MODEL as HASHES
from zerotls.codeaudit._analysis.httpclients import MODEL as HTTP_CLIENTS
from zerotls.codeaudit._analysis.network import MODEL as NETWORK
from zerotls.codeaudit._analysis.pyopenssl import MODEL as PYOPENSSL
from zerotls.codeaudit._analysis.ssh import MODEL as SSH
from zerotls.codeaudit._analysis.tls import MODEL as TLS

__all__ = ["CALLS", "FINISHERS", "KNOWN_QUALS", "METHODS", "MODELS", "OBJECT_METHODS"]

MODELS: tuple[Model, ...] = (
    TLS,
    PYOPENSSL,
    HTTP_CLIENTS,
    NETWORK,
    HASHES,
    CRYPTO,
    SSH,
)

_H = TypeVar("_H")


def _merge(what: str, tables: Iterable[Mapping[str, _H]]) -> dict[str, _H]:
    merged: dict[str, _H] = {}
    for table in tables:
        for key, handler in table.items():
            if key in merged:
                raise RuntimeError(f"two library models claim the {what} {key!r}")
            merged[key] = handler
    return merged


CALLS: dict[str, CallHandler] = _merge("call", (m.calls for m in MODELS))
"""Canonical dotted name called -> what the call means."""

METHODS: dict[str, MethodHandler] = _merge("method", (m.methods for m in MODELS))
"""Method name -> what the call means on any receiver (before the receiver's own model)."""

OBJECT_METHODS: dict[str, ObjectMethodHandler] = _merge(
    "object kind", (m.object_methods for m in MODELS)
)
"""Tracked object kind -> what calling one of its methods means."""

FINISHERS: dict[str, Finisher] = _merge("object kind", (m.finishers for m in MODELS))
"""Tracked object kind -> the rules judged on it once every scope has been walked."""

KNOWN_QUALS: frozenset[str] = frozenset().union(*(m.known for m in MODELS))
"""Names a star import (``from ssl import *``) may provide, for resolving bare names."""
