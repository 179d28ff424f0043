"""What the analysis core and the library models share, so that neither imports the other.

A library model (:mod:`.tls`, :mod:`.httpclients`, ...) sees the analyser only through
:class:`Analysis` and a call only through :class:`Call`, and describes itself with one
:class:`Model`; :mod:`.registry` merges the models into the tables :mod:`.core` consults.
"""

from __future__ import annotations

import ast
import functools
import ipaddress
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from zerotls.codeaudit._values import Const, Inst, Obj, Qual, Tup, Value

__all__ = [
    "Analysis",
    "Call",
    "CallHandler",
    "Finisher",
    "Hit",
    "MethodHandler",
    "Model",
    "ObjectMethodHandler",
    "Scope",
    "UNMODELLED",
    "Unmodelled",
    "canonical",
    "const_str",
    "host_kind",
    "is_false",
    "is_mac",
    "mark_wrapped",
    "objs_in",
    "qual_of",
]


@dataclass(frozen=True, slots=True)
class Hit:
    """A raw finding: the analysis's output, before suppressions and formatting."""

    rule_id: str
    line: int
    col: int
    """0-based UTF-8 byte offset, as :mod:`ast` reports it."""
    message: str
    fix: str | None
    """A fix specific to this finding; ``None`` means the rule's usual fix."""
    stmt_line: int
    """First line of the enclosing statement: a suppression there applies too."""


# --- name normalisation -------------------------------------------------------------------

# Module prefixes that are re-exports of another module, normalised before lookup.
_ALIASES: tuple[tuple[str, str], ...] = (
    ("requests.packages.urllib3", "urllib3"),
    ("requests.api", "requests"),
    ("requests.sessions", "requests"),
    ("urllib3.poolmanager", "urllib3"),
    ("urllib3.connectionpool", "urllib3"),
    ("paramiko.client", "paramiko"),
    ("websockets.legacy.client", "websockets"),
    ("websockets.asyncio.client", "websockets"),
    ("websockets.sync.client", "websockets"),
    ("websockets.client", "websockets"),
    ("cryptography.hazmat.decrepit.ciphers", "cryptography.hazmat.primitives.ciphers"),
    ("Cryptodome", "Crypto"),
    ("ssl.VerifyMode", "ssl"),
    ("ssl._SSLMethod", "ssl"),
)


@functools.lru_cache(maxsize=4096)
def canonical(name: str) -> str:
    """Normalise re-exported names: ``requests.api.get`` -> ``requests.get``."""
    for prefix, target in _ALIASES:
        if name == prefix or name.startswith(prefix + "."):
            return target + name[len(prefix) :]
    return name


# --- what a model sees of the analyser ----------------------------------------------------


class Scope(Protocol):
    """Names visible in one scope, as a model may read them (the core's scopes are these)."""

    def lookup(self, name: str) -> Value: ...


class Analysis(Protocol):
    """The analyser, as a model may use it: report, retract, track, resolve without effects."""

    stmt_line: int
    """First line of the statement being walked."""

    def hit(
        self,
        rule_id: str,
        node: ast.AST,
        message: str,
        fix: str | None = None,
        *,
        stmt_line: int | None = None,
    ) -> None: ...

    def retract(self, rule_id: str, node: ast.AST) -> None: ...

    def track(self, kind: str, node: ast.AST, lib: str = "", **state: object) -> Obj: ...

    def mac_value(self, node: ast.AST) -> Obj: ...

    def resolve(self, node: ast.expr, scope: Scope) -> Value: ...

    def quals_in(self, node: ast.expr, scope: Scope) -> set[str]: ...


class Unmodelled:
    """Marks a call no model handled (its result becomes an :class:`Inst`)."""


UNMODELLED = Unmodelled()


class Call:
    """A call's evaluated arguments, with helpers to read them by position or keyword."""

    def __init__(
        self,
        node: ast.Call,
        args: list[Value],
        kwargs: dict[str, tuple[Value, ast.expr]],
        scope: Scope,
    ) -> None:
        self.node = node
        self.args = args
        self.kwargs = kwargs
        self.scope = scope

    def arg(self, position: int, keyword: str | None = None) -> Value:
        if keyword is not None and keyword in self.kwargs:
            return self.kwargs[keyword][0]
        if position < len(self.args):
            return self.args[position]
        return None

    def arg_nodes(self) -> Iterator[tuple[ast.expr, Value]]:
        for arg_node, value in zip(self.node.args, self.args, strict=True):
            yield arg_node, value
        for value, arg_node in self.kwargs.values():
            yield arg_node, value


# --- what a model is ----------------------------------------------------------------------

CallHandler = Callable[[Analysis, str, Call, set[int]], Value | Unmodelled]
"""``(analysis, name, call, consumed)`` for a call of the canonical dotted ``name``: the call's
value, or :data:`UNMODELLED`. Objects the call wraps go into ``consumed`` (they do not escape)."""

MethodHandler = Callable[[Analysis, Value, Call, set[int]], Value]
"""``(analysis, receiver, call, consumed)`` for a method whose name is specific enough to judge
on any receiver: the call's value, or ``None`` to let the receiver's object model answer."""

ObjectMethodHandler = Callable[[Analysis, Obj, str, Call], Value]
"""``(analysis, obj, method, call)`` for any method called on a tracked object of one kind."""

Finisher = Callable[[Analysis, Obj], None]
"""``(analysis, obj)``: judges a tracked object of one kind once every scope has been walked."""


@dataclass(frozen=True, slots=True)
class Model:
    """What one library's names mean: each table is merged into the one the core consults."""

    calls: Mapping[str, CallHandler] = field(default_factory=dict)
    """Canonical dotted name called -> handler."""
    methods: Mapping[str, MethodHandler] = field(default_factory=dict)
    """Method name -> handler, whatever the receiver."""
    object_methods: Mapping[str, ObjectMethodHandler] = field(default_factory=dict)
    """Tracked object kind (:attr:`Obj.kind`) -> handler of its methods."""
    finishers: Mapping[str, Finisher] = field(default_factory=dict)
    """Tracked object kind -> judge run at the end."""
    known: frozenset[str] = frozenset()
    """Dotted names a star import of the library may provide."""


# --- values -------------------------------------------------------------------------------


def qual_of(value: Value) -> str | None:
    """The canonical dotted name of a Qual or Inst value."""
    if isinstance(value, Qual):
        return canonical(value.name)
    if isinstance(value, Inst):
        return canonical(value.cls)
    return None


def is_false(value: Value) -> bool:
    return isinstance(value, Const) and value.value is False


def objs_in(value: Value) -> Iterator[Obj]:
    if isinstance(value, Obj):
        yield value
    elif isinstance(value, Tup):
        for item in value.items:
            yield from objs_in(item)


def is_mac(value: Value) -> bool:
    return isinstance(value, Obj) and value.kind == "mac_value"


def host_kind(host: Value) -> str:
    """``loopback``, ``remote`` or ``unknown`` for a host value."""
    if isinstance(host, Const) and isinstance(host.value, str):
        name = host.value.strip().lower().rstrip(".")
        # Connecting to the unspecified address reaches this host, like loopback.
        if name in {"", "localhost", "0.0.0.0", "::"} or name.endswith(".localhost"):  # noqa: S104
            return "loopback"
        try:
            address = ipaddress.ip_address(name.strip("[]"))
        except ValueError:
            return "remote"
        return "loopback" if address.is_loopback or address.is_unspecified else "remote"
    return "unknown"


def const_str(value: Value) -> str:
    if isinstance(value, Const):
        return repr(value.value)
    return "an unknown host"


def mark_wrapped(value: Value, consumed: set[int]) -> None:
    for obj in objs_in(value):
        obj.state["wrapped"] = True
        consumed.add(id(obj))
