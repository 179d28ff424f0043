"""Abstract values for the code audit's simple value tracking.

The analysis never runs the code it reads. It gives each expression an abstract value, just
precise enough to follow the patterns the rules look for:

* :class:`Qual`: a dotted name reached through imports (``ssl.CERT_NONE``, ``requests.get``);
* :class:`Const`: a literal (``False``, ``"ALL"``, ``1024``), or a name bound to one;
* :class:`Prefix`: a string whose beginning is known (``f"http://{host}/"``);
* :class:`Tup`: a tuple display (``(host, port)``);
* :class:`Inst`: the result of calling something we do not model (``paramiko.AutoAddPolicy()``);
* :class:`Func`: a function or lambda defined in the file;
* :class:`Obj`: a tracked object (an SSL context, a socket, an HTTP session, an HMAC, a MAC
  value) with mutable state that later statements update (``ctx.check_hostname = False``);
* ``None``: unknown. Rules never fire on unknown values: the analysis is conservative.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Const", "Func", "Inst", "Obj", "Prefix", "Qual", "Tup", "Value"]


@dataclass(frozen=True, slots=True)
class Qual:
    """A dotted name reached through imports, e.g. ``ssl.PROTOCOL_TLSv1``."""

    name: str


@dataclass(frozen=True, slots=True)
class Const:
    """A literal value (str, bytes, bool, int, float, None)."""

    value: object


@dataclass(frozen=True, slots=True)
class Prefix:
    """A string of which only the beginning is known (f-strings, concatenations)."""

    text: str


@dataclass(frozen=True, slots=True)
class Tup:
    """A tuple display, element by element."""

    items: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class Inst:
    """What calling an unmodelled dotted name returned (an instance of ``cls``)."""

    cls: str


@dataclass(frozen=True, slots=True)
class Func:
    """A function or lambda defined in the audited file."""

    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda


@dataclass(eq=False, slots=True)
class Obj:
    """A tracked object. Identity matters: ``b = a`` makes both names share one object.

    Attributes:
        kind: ``ssl_ctx``, ``ossl_ctx``, ``socket``, ``http_session``, ``hmac``, ``chmac``,
            ``mac_value``, ``cleartext_client``.
        node: where it was created (deferred findings are reported there).
        stmt_line: the first line of the statement that created it (for suppressions).
        lib: the library it comes from (``requests``, ``httpx`` ...), for messages.
        state: what later statements did to it.
        escaped: it was passed to code we do not see (returned, stored, given to an unknown
            call): rules that need "never fixed later" stay silent then.
    """

    kind: str
    node: ast.AST
    stmt_line: int
    lib: str = ""
    state: dict[str, Any] = field(default_factory=dict)
    escaped: bool = False


Value = Qual | Const | Prefix | Tup | Inst | Func | Obj | None
