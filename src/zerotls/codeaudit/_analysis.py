"""The AST analysis behind ``zerotls audit code``: one pass per scope, simple value tracking.

Theory of operation
-------------------
The source is parsed with :mod:`ast`; nothing is imported or run. Each scope (the module, each
function, each class body) is walked statement by statement, in order, with an environment
that maps names to abstract values (:mod:`._values`):

* imports bind names to dotted qualified names, so ``import ssl as s`` and
  ``from ssl import CERT_NONE`` both resolve to the real ``ssl`` names;
* assignments bind names (and simple dotted paths such as ``self.ctx``) to the value of the
  right-hand side; calls we model return tracked objects (``ssl.create_default_context()``
  gives an SSL context, ``socket.create_connection(...)`` a socket);
* statements then update the tracked objects: ``ctx.check_hostname = False``,
  ``sock.connect((host, port))``, ``ctx.wrap_socket(sock)``.

Rules that depend on what happens *later* (a pyOpenSSL context never given a protocol floor,
a socket never wrapped in TLS) are judged once every scope has been walked, so a nested
function that fixes an object counts. An object passed to code we cannot see (returned,
stored in an attribute or a container, given to an unknown function) "escapes": such rules
then stay silent rather than guess.

Branches are not merged: a later assignment wins, except inside ``except`` handlers, which
never override an existing binding (the ``try: import x / except ImportError: x = None``
idiom keeps the import). Function bodies are walked after the scope that defines them, with
that scope's final bindings visible (closures and module globals).

What is deliberately not done: no inter-procedural analysis, no attribute tracking across
methods, no evaluation of arbitrary expressions. Values that cannot be resolved are unknown,
and unknown values never trigger a rule, except where a rule is about the destination being
unknown (NET002).
"""

from __future__ import annotations

import ast
import builtins
import functools
import ipaddress
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from zerotls.codeaudit._ciphers import judge_cipher_string
from zerotls.codeaudit._values import Const, Func, Inst, Obj, Prefix, Qual, Tup, Value

__all__ = ["Hit", "analyse"]


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


# --- name tables --------------------------------------------------------------------------

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


_LEGACY_PROTOCOLS = {
    "ssl.PROTOCOL_SSLv2": "SSLv2",
    "ssl.PROTOCOL_SSLv3": "SSLv3",
    "ssl.PROTOCOL_TLSv1": "TLS 1.0",
    "ssl.PROTOCOL_TLSv1_1": "TLS 1.1",
    "ssl.TLSVersion.SSLv3": "SSLv3",
    "ssl.TLSVersion.TLSv1": "TLS 1.0",
    "ssl.TLSVersion.TLSv1_1": "TLS 1.1",
    "OpenSSL.SSL.SSLv2_METHOD": "SSLv2",
    "OpenSSL.SSL.SSLv3_METHOD": "SSLv3",
    "OpenSSL.SSL.TLSv1_METHOD": "TLS 1.0",
    "OpenSSL.SSL.TLSv1_1_METHOD": "TLS 1.1",
    "OpenSSL.SSL.SSL3_VERSION": "SSLv3",
    "OpenSSL.SSL.TLS1_VERSION": "TLS 1.0",
    "OpenSSL.SSL.TLS1_1_VERSION": "TLS 1.1",
}
_REENABLE_OPTIONS = {
    "ssl.OP_NO_SSLv2": "SSLv2",
    "ssl.OP_NO_SSLv3": "SSLv3",
    "ssl.OP_NO_TLSv1": "TLS 1.0",
    "ssl.OP_NO_TLSv1_1": "TLS 1.1",
    "OpenSSL.SSL.OP_NO_SSLv2": "SSLv2",
    "OpenSSL.SSL.OP_NO_SSLv3": "SSLv3",
    "OpenSSL.SSL.OP_NO_TLSv1": "TLS 1.0",
    "OpenSSL.SSL.OP_NO_TLSv1_1": "TLS 1.1",
}
_OSSL_GENERIC = {
    "OpenSSL.SSL.SSLv23_METHOD",
    "OpenSSL.SSL.TLS_METHOD",
    "OpenSSL.SSL.TLS_CLIENT_METHOD",
    "OpenSSL.SSL.TLS_SERVER_METHOD",
}
_OSSL_FLOOR_OK = {"OpenSSL.SSL.TLS1_2_VERSION", "OpenSSL.SSL.TLS1_3_VERSION"}
_STDLIB_GENERIC = {"ssl.PROTOCOL_TLS", "ssl.PROTOCOL_SSLv23"}
_UNVERIFIED_HELPERS = {"ssl._create_unverified_context", "ssl._create_stdlib_context"}
_CERT_NONE = {"ssl.CERT_NONE"}
_CERT_REQUIRED = {"ssl.CERT_REQUIRED"}

_HTTP_VERBS = frozenset({"get", "options", "head", "post", "put", "patch", "delete"})
_REQUESTS_CALLS = {f"requests.{v}" for v in _HTTP_VERBS} | {"requests.request"}
_HTTPX_CALLS = {f"httpx.{v}" for v in _HTTP_VERBS} | {"httpx.request", "httpx.stream"}
_SESSION_FACTORIES = {
    "requests.Session": "requests",
    "requests.session": "requests",
    "httpx.Client": "httpx",
    "httpx.AsyncClient": "httpx",
    "aiohttp.ClientSession": "aiohttp",
    "urllib3.PoolManager": "urllib3",
    "urllib3.ProxyManager": "urllib3",
    "urllib3.HTTPSConnectionPool": "urllib3",
    "urllib3.HTTPConnectionPool": "urllib3",
}
_LOOP_FACTORIES = {
    "asyncio.get_running_loop",
    "asyncio.get_event_loop",
    "asyncio.new_event_loop",
    "uvloop.new_event_loop",
}
_PARAMIKO_BAD_POLICIES = {"paramiko.AutoAddPolicy", "paramiko.WarningPolicy"}
_INSECURE_WARNINGS = {
    "urllib3.exceptions.InsecureRequestWarning",
    "urllib3.exceptions.HTTPWarning",
}
_WEAK_DIGEST_QUALS = {
    "hashlib.md5": "MD5",
    "hashlib.sha1": "SHA-1",
    "Crypto.Hash.MD5": "MD5",
    "Crypto.Hash.SHA": "SHA-1",
    "Crypto.Hash.SHA1": "SHA-1",
    "cryptography.hazmat.primitives.hashes.MD5": "MD5",
    "cryptography.hazmat.primitives.hashes.SHA1": "SHA-1",
}
_WEAK_DIGEST_NAMES = {"md5": "MD5", "md4": "MD4", "sha1": "SHA-1", "sha-1": "SHA-1", "sha": "SHA-1"}
_WEAK_HASH_CALLS = {
    "hashlib.md5": "MD5",
    "hashlib.sha1": "SHA-1",
    "cryptography.hazmat.primitives.hashes.MD5": "MD5",
    "cryptography.hazmat.primitives.hashes.SHA1": "SHA-1",
    "Crypto.Hash.MD5.new": "MD5",
    "Crypto.Hash.MD4.new": "MD4",
    "Crypto.Hash.SHA.new": "SHA-1",
    "Crypto.Hash.SHA1.new": "SHA-1",
}
_BROKEN_CIPHERS = {
    "cryptography.hazmat.primitives.ciphers.algorithms.ARC4": "RC4",
    "cryptography.hazmat.primitives.ciphers.algorithms.TripleDES": "3DES",
    "cryptography.hazmat.primitives.ciphers.algorithms.Blowfish": "Blowfish",
    "cryptography.hazmat.primitives.ciphers.algorithms.CAST5": "CAST5",
    "cryptography.hazmat.primitives.ciphers.algorithms.IDEA": "IDEA",
    "cryptography.hazmat.primitives.ciphers.algorithms.SEED": "SEED",
    "cryptography.hazmat.primitives.ciphers.algorithms.RC2": "RC2",
    "cryptography.hazmat.primitives.ciphers.modes.ECB": "ECB mode",
    "Crypto.Cipher.ARC2.new": "RC2",
    "Crypto.Cipher.ARC4.new": "RC4",
    "Crypto.Cipher.Blowfish.new": "Blowfish",
    "Crypto.Cipher.CAST.new": "CAST5",
    "Crypto.Cipher.DES.new": "DES",
    "Crypto.Cipher.DES3.new": "3DES",
    "Crypto.Cipher.XOR.new": "XOR",
}
_ECB_CONSTANTS = {"Crypto.Cipher.AES.MODE_ECB", "Crypto.Cipher.DES3.MODE_ECB"}
_WEAK_CURVES = {
    f"cryptography.hazmat.primitives.asymmetric.ec.{c}": c
    for c in ("SECP192R1", "SECT163K1", "SECT163R2")
}
_MAC_ENCODERS = {
    "base64.b64encode",
    "base64.urlsafe_b64encode",
    "base64.b16encode",
    "base64.b32encode",
    "base64.encodebytes",
    "binascii.hexlify",
    "binascii.b2a_hex",
    "binascii.b2a_base64",
    "builtins.str",
    "builtins.bytes",
}
_MAC_STR_METHODS = {"hex", "decode", "encode", "lower", "upper", "strip", "rstrip", "lstrip"}
_CLEARTEXT_CLIENTS = {
    "telnetlib.Telnet": ("Telnet", False),
    "ftplib.FTP": ("FTP", False),
    "smtplib.SMTP": ("SMTP", True),
    "imaplib.IMAP4": ("IMAP", True),
    "poplib.POP3": ("POP3", True),
    "http.client.HTTPConnection": ("HTTP", False),
}
_UPGRADE_METHODS = {"starttls", "stls", "start_tls"}
_URL_CALLS: dict[str, tuple[int, str]] = {  # dotted name -> (position, keyword) of the URL
    **{f"requests.{v}": (0, "url") for v in _HTTP_VERBS},
    "requests.request": (1, "url"),
    **{f"httpx.{v}": (0, "url") for v in _HTTP_VERBS},
    "httpx.request": (1, "url"),
    "httpx.stream": (1, "url"),
    "urllib.request.urlopen": (0, "url"),
    "urllib.request.Request": (0, "url"),
    "urllib3.request": (1, "url"),
    "aiohttp.request": (1, "url"),
    "websockets.connect": (0, "uri"),
    "xmlrpc.client.ServerProxy": (0, "uri"),
}
_SESSION_URL_METHODS: dict[str, tuple[int, str]] = {
    **dict.fromkeys(_HTTP_VERBS, (0, "url")),
    "request": (1, "url"),
    "stream": (1, "url"),
    "urlopen": (1, "url"),
    "ws_connect": (0, "url"),
}

KNOWN_QUALS: frozenset[str] = frozenset(
    set(_LEGACY_PROTOCOLS)
    | set(_REENABLE_OPTIONS)
    | _OSSL_GENERIC
    | _OSSL_FLOOR_OK
    | _STDLIB_GENERIC
    | _UNVERIFIED_HELPERS
    | _CERT_NONE
    | _CERT_REQUIRED
    | _REQUESTS_CALLS
    | _HTTPX_CALLS
    | set(_SESSION_FACTORIES)
    | set(_WEAK_DIGEST_QUALS)
    | set(_URL_CALLS)
    | set(_CLEARTEXT_CLIENTS)
    | {"ssl.SSLContext", "ssl.create_default_context", "ssl.wrap_socket", "socket.socket"}
    | {"socket.create_connection", "socket.AF_UNIX", "socket.SOCK_DGRAM", "hmac.new"}
    | {"hmac.digest", "hmac.HMAC", "ssl.PROTOCOL_TLS_CLIENT", "ssl.PROTOCOL_TLS_SERVER"}
)
"""Names a star import (``from ssl import *``) may provide, for resolving bare names."""


_ZEROTLS_FIX_HTTP = (
    "Remove verify=False; for a private CA pass its bundle: requests verify='ca.pem', "
    "httpx verify=zerotls.to_ssl_context(ClientConfig(server_name='host', ca='ca.pem'))."
)


# --- scopes -------------------------------------------------------------------------------


class _Scope:
    """Names visible in one scope; lookups fall back to the enclosing scope."""

    def __init__(self, parent: _Scope | None, *, is_class: bool = False) -> None:
        self.parent = parent
        self.is_class = is_class
        self.vars: dict[str, Value] = {}
        self.star_modules: list[str] = []

    def lookup(self, name: str) -> Value:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.vars:
                return scope.vars[name]
            for module in scope.star_modules:
                if f"{module}.{name}" in KNOWN_QUALS:
                    return Qual(f"{module}.{name}")
            scope = scope.parent
        if "." not in name and hasattr(builtins, name):
            return Qual(f"builtins.{name}")
        return None


def _qual(value: Value) -> str | None:
    """The canonical dotted name of a Qual or Inst value."""
    if isinstance(value, Qual):
        return canonical(value.name)
    if isinstance(value, Inst):
        return canonical(value.cls)
    return None


def _is_false(value: Value) -> bool:
    return isinstance(value, Const) and value.value is False


def _objs_in(value: Value) -> Iterator[Obj]:
    if isinstance(value, Obj):
        yield value
    elif isinstance(value, Tup):
        for item in value.items:
            yield from _objs_in(item)


def _host_kind(host: Value) -> str:
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


def _url_verdict(value: Value) -> tuple[str, str] | None:
    """(scheme, host) for a cleartext URL to a possibly remote host, else None."""
    if isinstance(value, Const) and isinstance(value.value, str):
        text, complete = value.value, True
    elif isinstance(value, Prefix):
        text, complete = value.text, False
    else:
        return None
    lower = text.strip().lower()
    for scheme in ("http://", "ws://", "ftp://"):
        if lower.startswith(scheme):
            break
    else:
        return None
    rest = lower[len(scheme) :]
    host_end = len(rest)
    if rest.startswith("["):  # an IPv6 literal ends at its bracket
        close = rest.find("]")
        host_end = close + 1 if close >= 0 else len(rest)
    else:
        for sep in "/?#:":
            pos = rest.find(sep)
            if pos >= 0:
                host_end = min(host_end, pos)
    if not complete and host_end == len(rest):
        # f"http://{host}/...": the host is computed; the scheme alone is cleartext.
        return scheme[:-3], "a host computed at run time"
    try:
        host = urlsplit(scheme + rest[:host_end]).hostname or ""
    except ValueError:
        return None
    if _host_kind(Const(host)) == "loopback":
        return None
    return scheme[:-3], host


# --- the analyser -------------------------------------------------------------------------


class _Analyser:
    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.hits: list[Hit] = []
        self.objects: list[Obj] = []
        self.pending: list[tuple[ast.FunctionDef | ast.AsyncFunctionDef, _Scope]] = []
        self.stmt_line = 1
        self.in_handler = 0

    # -- driving ------------------------------------------------------------------------

    def run(self) -> list[Hit]:
        module = _Scope(None)
        self.block(self.tree.body, module)
        while self.pending:
            node, parent = self.pending.pop(0)
            # Methods do not see their class body's names (Python's scoping rules).
            while parent.is_class and parent.parent is not None:
                parent = parent.parent
            scope = _Scope(parent)
            self.bind_params(node.args, scope)
            self.block(node.body, scope)
        self.finish()
        unique: dict[tuple[str, int, int], Hit] = {}
        for hit in self.hits:
            unique.setdefault((hit.rule_id, hit.line, hit.col), hit)
        return sorted(unique.values(), key=lambda h: (h.line, h.col, h.rule_id))

    def hit(
        self,
        rule_id: str,
        node: ast.AST,
        message: str,
        fix: str | None = None,
        *,
        stmt_line: int | None = None,
    ) -> None:
        self.hits.append(
            Hit(
                rule_id,
                getattr(node, "lineno", 1),
                getattr(node, "col_offset", 0),
                message,
                fix,
                self.stmt_line if stmt_line is None else stmt_line,
            )
        )

    def retract(self, rule_id: str, node: ast.AST) -> None:
        line, col = getattr(node, "lineno", 0), getattr(node, "col_offset", 0)
        self.hits = [h for h in self.hits if (h.rule_id, h.line, h.col) != (rule_id, line, col)]

    def track(self, kind: str, node: ast.AST, lib: str = "", **state: object) -> Obj:
        obj = Obj(kind, node, self.stmt_line, lib, dict(state))
        self.objects.append(obj)
        return obj

    # -- statements ---------------------------------------------------------------------

    def block(self, body: Sequence[ast.stmt], scope: _Scope) -> None:
        for statement in body:
            self.stmt(statement, scope)

    def stmt(self, node: ast.stmt, scope: _Scope) -> None:
        self.stmt_line = node.lineno
        if isinstance(node, ast.Import | ast.ImportFrom):
            self.import_(node, scope)
        elif isinstance(node, ast.Assign):
            value = self.ev(node.value, scope)
            for target in node.targets:
                self.bind(target, value, scope)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self.bind(node.target, self.ev(node.value, scope), scope)
        elif isinstance(node, ast.AugAssign):
            self.aug_assign(node, scope)
        elif isinstance(node, ast.Expr):
            self.ev(node.value, scope)
        elif isinstance(node, ast.Return):
            if node.value is not None:
                for obj in _objs_in(self.ev(node.value, scope)):
                    obj.escaped = True
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            self.function_def(node, scope)
        elif isinstance(node, ast.ClassDef):
            for expr in [*node.decorator_list, *node.bases]:
                self.ev(expr, scope)
            for keyword in node.keywords:
                self.ev(keyword.value, scope)
            scope.vars[node.name] = None
            self.block(node.body, _Scope(scope, is_class=True))
        elif isinstance(node, ast.If | ast.While):
            self.ev(node.test, scope)
            self.block(node.body, scope)
            self.block(node.orelse, scope)
        elif isinstance(node, ast.For | ast.AsyncFor):
            self.ev(node.iter, scope)
            self.bind(node.target, None, scope)
            self.block(node.body, scope)
            self.block(node.orelse, scope)
        elif isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                value = self.ev(item.context_expr, scope)
                if item.optional_vars is not None:
                    # Sessions, sockets and contexts return themselves from __enter__.
                    self.bind(item.optional_vars, value, scope)
            self.block(node.body, scope)
        elif isinstance(node, ast.Try | ast.TryStar):
            self.block(node.body, scope)
            self.in_handler += 1
            for handler in node.handlers:
                if handler.type is not None:
                    self.ev(handler.type, scope)
                if handler.name:
                    scope.vars.setdefault(handler.name, None)
                self.block(handler.body, scope)
            self.in_handler -= 1
            self.block(node.orelse, scope)
            self.block(node.finalbody, scope)
        elif isinstance(node, ast.Match):
            self.ev(node.subject, scope)
            for case in node.cases:
                if case.guard is not None:
                    self.ev(case.guard, scope)
                self.block(case.body, scope)
        elif isinstance(node, ast.Raise):
            for raised in (node.exc, node.cause):
                if raised is not None:
                    self.ev(raised, scope)
        elif isinstance(node, ast.Assert):
            self.ev(node.test, scope)
            if node.msg is not None:
                self.ev(node.msg, scope)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                self.ev(target, scope)
        # Pass, Break, Continue, Global, Nonlocal: nothing to track.

    def import_(self, node: ast.Import | ast.ImportFrom, scope: _Scope) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "Crypto" or alias.name.startswith("Crypto."):
                    self.pycrypto(node, alias.name)
                if alias.asname:
                    self.define(scope, alias.asname, Qual(alias.name))
                else:
                    top = alias.name.split(".")[0]
                    self.define(scope, top, Qual(top))
            return
        module = ("." * node.level) + (node.module or "")
        if node.level == 0 and (module == "Crypto" or module.startswith("Crypto.")):
            self.pycrypto(node, module)
        for alias in node.names:
            if alias.name == "*":
                scope.star_modules.append(module)
                continue
            self.define(scope, alias.asname or alias.name, Qual(f"{module}.{alias.name}"))

    def pycrypto(self, node: ast.AST, module: str) -> None:
        self.hit("CRY001", node, f"import of {module}: pyCrypto is unmaintained and vulnerable")

    def define(self, scope: _Scope, name: str, value: Value) -> None:
        if self.in_handler and name in scope.vars:
            return  # `except ImportError: ssl = None` must not hide the real import
        scope.vars[name] = value

    def function_def(self, node: ast.FunctionDef | ast.AsyncFunctionDef, scope: _Scope) -> None:
        for expr in node.decorator_list:
            self.ev(expr, scope)
        args = node.args
        for default in [*args.defaults, *(d for d in args.kw_defaults if d is not None)]:
            self.selected_value(default, self.ev(default, scope))
        scope.vars[node.name] = Func(node)
        self.pending.append((node, scope))

    def bind_params(self, args: ast.arguments, scope: _Scope) -> None:
        params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        for extra in (args.vararg, args.kwarg):
            if extra is not None:
                params.append(extra)
        for param in params:
            scope.vars[param.arg] = None

    def bind(self, target: ast.expr, value: Value, scope: _Scope) -> None:
        if isinstance(target, ast.Name):
            self.define(scope, target.id, value)
        elif isinstance(target, ast.Tuple | ast.List):
            if isinstance(value, Tup) and len(value.items) == len(target.elts):
                for elt, item in zip(target.elts, value.items, strict=True):
                    self.bind(elt, item, scope)
            else:
                # `reader, writer = await asyncio.open_connection(...)`: each name may
                # upgrade the connection (writer.start_tls), so all share the object.
                shared = value if isinstance(value, Obj) else None
                for elt in target.elts:
                    inner = elt.value if isinstance(elt, ast.Starred) else elt
                    self.bind(inner, shared, scope)
        elif isinstance(target, ast.Attribute):
            self.attribute_assign(target, value, scope)
        elif isinstance(target, ast.Subscript):
            self.ev(target.value, scope)
            self.ev(target.slice, scope)
            for obj in _objs_in(value):
                obj.escaped = True
        elif isinstance(target, ast.Starred):
            self.bind(target.value, None, scope)

    def attribute_assign(self, target: ast.Attribute, value: Value, scope: _Scope) -> None:
        base = self.ev(target.value, scope)
        dotted = _dotted(target)
        if dotted is not None:
            scope.vars[dotted] = value  # `self.ctx = ...` then `self.ctx.x = ...`
        for obj in _objs_in(value):
            obj.escaped = True  # stored on another object: it lives beyond this scope
        where: ast.AST = target  # `ctx.check_hostname = False` is reported at `ctx`
        attr = target.attr
        qual = _qual(value)
        target_qual = _qual(base)
        if target_qual is not None:
            full = f"{target_qual}.{attr}"
            if full == "ssl.match_hostname":
                self.hit(
                    "TLS005",
                    target,
                    "ssl.match_hostname replaced: host names are no longer checked",
                )
        if attr == "check_hostname" and _is_false(value):
            self.hit("TLS005", where, "check_hostname = False: any valid certificate is accepted")
        elif attr == "verify_mode":
            if qual in _CERT_NONE:
                self.hit(
                    "TLS004",
                    where,
                    "verify_mode = CERT_NONE: the peer's certificate is not verified",
                )
            elif qual in _CERT_REQUIRED and isinstance(base, Obj):
                base.state["verified"] = True
        elif attr in {"minimum_version", "maximum_version"}:
            if qual == "ssl.TLSVersion.MINIMUM_SUPPORTED" and attr == "minimum_version":
                self.hit(
                    "TLS001",
                    where,
                    "minimum_version = MINIMUM_SUPPORTED allows the oldest protocol the "
                    "OpenSSL build has (SSLv3 or TLS 1.0)",
                )
            elif qual in _LEGACY_PROTOCOLS:
                self.hit(
                    "TLS001",
                    where,
                    f"{attr} = {qual.rsplit('.', 1)[-1]} allows {_LEGACY_PROTOCOLS[qual]}",
                )
        elif (
            attr == "verify"
            and _is_false(value)
            and isinstance(base, Obj)
            and base.kind == "http_session"
        ):
            self.hit(
                "TLS004",
                where,
                f"{base.lib} session.verify = False: no request of this session verifies "
                "certificates",
                _ZEROTLS_FIX_HTTP,
            )

    def aug_assign(self, node: ast.AugAssign, scope: _Scope) -> None:
        self.ev(node.target, scope)
        value = node.value
        self.ev(value, scope)
        # ctx.options &= ~ssl.OP_NO_SSLv3 switches a legacy protocol back on.
        if (
            isinstance(node.op, ast.BitAnd)
            and isinstance(value, ast.UnaryOp)
            and isinstance(value.op, ast.Invert)
        ):
            for name in self.quals_in(value.operand, scope):
                if name in _REENABLE_OPTIONS:
                    self.hit(
                        "TLS001",
                        value,
                        f"clearing {name.rsplit('.', 1)[-1]} re-enables {_REENABLE_OPTIONS[name]}",
                    )

    # -- expressions --------------------------------------------------------------------

    def quals_in(self, node: ast.expr, scope: _Scope) -> set[str]:
        """Every dotted name an expression mentions (for option masks like A | B)."""
        names: set[str] = set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name | ast.Attribute):
                name = _qual(self.resolve(sub, scope))
                if name is not None:
                    names.add(name)
        return names

    def resolve(self, node: ast.expr, scope: _Scope) -> Value:
        """Resolve a Name or Attribute without side effects (no findings)."""
        if isinstance(node, ast.Name):
            return scope.lookup(node.id)
        if isinstance(node, ast.Attribute):
            dotted = _dotted(node)
            if dotted is not None:
                found = scope.lookup(dotted)
                if found is not None:
                    return found
            base = self.resolve(node.value, scope)
            if isinstance(base, Qual):
                return Qual(f"{base.name}.{node.attr}")
        return None

    def ev(self, node: ast.expr, scope: _Scope) -> Value:
        if isinstance(node, ast.Constant):
            return Const(node.value)
        if isinstance(node, ast.Name):
            value = scope.lookup(node.id)
            if isinstance(value, Qual) and canonical(value.name) in _UNVERIFIED_HELPERS:
                self.unverified_helper(node, canonical(value.name))
            return value
        if isinstance(node, ast.Attribute):
            return self.attribute(node, scope)
        if isinstance(node, ast.Call):
            return self.call(node, scope)
        if isinstance(node, ast.Await):
            return self.ev(node.value, scope)
        if isinstance(node, ast.Compare):
            return self.compare(node, scope)
        if isinstance(node, ast.JoinedStr):
            return self.joined_str(node, scope)
        if isinstance(node, ast.BinOp):
            left = self.ev(node.left, scope)
            right = self.ev(node.right, scope)
            if isinstance(node.op, ast.Add):
                if _is_mac(left) or _is_mac(right):
                    return self.mac_value(node)
                if isinstance(left, Const) and isinstance(left.value, str):
                    if isinstance(right, Const) and isinstance(right.value, str):
                        return Const(left.value + right.value)
                    return Prefix(left.value)
                if isinstance(left, Prefix):
                    return left
            return None
        if isinstance(node, ast.Tuple):
            return Tup(tuple(self.ev(e, scope) for e in node.elts))
        if isinstance(node, ast.List | ast.Set):
            for elt in node.elts:
                for obj in _objs_in(self.ev(elt, scope)):
                    obj.escaped = True
            return None
        if isinstance(node, ast.Dict):
            for key in node.keys:
                if key is not None:
                    self.ev(key, scope)
            for item in node.values:
                for obj in _objs_in(self.ev(item, scope)):
                    obj.escaped = True
            return None
        if isinstance(node, ast.Lambda):
            inner = _Scope(scope)
            self.bind_params(node.args, inner)
            self.ev(node.body, inner)
            return Func(node)
        if isinstance(node, ast.IfExp):
            self.ev(node.test, scope)
            body = self.ev(node.body, scope)
            orelse = self.ev(node.orelse, scope)
            return body if body == orelse else None
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            self.comprehension(node, scope)
            return None
        if isinstance(node, ast.NamedExpr):
            value = self.ev(node.value, scope)
            self.bind(node.target, value, scope)
            return value
        if isinstance(node, ast.Yield | ast.YieldFrom):
            if node.value is not None:
                for obj in _objs_in(self.ev(node.value, scope)):
                    obj.escaped = True
            return None
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.ev(child, scope)
        return None

    def comprehension(
        self,
        node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp,
        scope: _Scope,
    ) -> None:
        inner = _Scope(scope)
        for gen in node.generators:
            self.ev(gen.iter, inner)
            self.bind(gen.target, None, inner)
            for cond in gen.ifs:
                self.ev(cond, inner)
        if isinstance(node, ast.DictComp):
            self.ev(node.key, inner)
            self.ev(node.value, inner)
        else:
            self.ev(node.elt, inner)

    def joined_str(self, node: ast.JoinedStr, scope: _Scope) -> Value:
        prefix = ""
        literal = True
        mac = False
        for part in node.values:
            if isinstance(part, ast.Constant) and isinstance(part.value, str):
                if literal:
                    prefix += part.value
            else:
                literal = False
                if isinstance(part, ast.FormattedValue):
                    if _is_mac(self.ev(part.value, scope)):
                        mac = True
                    if part.format_spec is not None:
                        self.ev(part.format_spec, scope)
        if mac:
            return self.mac_value(node)
        return Const(prefix) if literal else Prefix(prefix)

    def attribute(self, node: ast.Attribute, scope: _Scope) -> Value:
        dotted = _dotted(node)
        if dotted is not None:
            found = scope.lookup(dotted)
            if found is not None:
                return found
        return self.extend(self.ev(node.value, scope), node)

    def extend(self, base: Value, node: ast.Attribute) -> Value:
        """``base.attr`` for a dotted-name base; flags references to unverified helpers."""
        if not isinstance(base, Qual):
            return None
        qual = Qual(f"{base.name}.{node.attr}")
        name = canonical(qual.name)
        if name in _UNVERIFIED_HELPERS:
            self.unverified_helper(node, name)
        return qual

    def unverified_helper(self, node: ast.AST, name: str) -> None:
        self.hit(
            "TLS003",
            node,
            f"{name}: a context that verifies neither the certificate nor the host name",
        )

    def compare(self, node: ast.Compare, scope: _Scope) -> Value:
        values = [self.ev(node.left, scope)] + [self.ev(c, scope) for c in node.comparators]
        if any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops) and any(
            _is_mac(v) for v in values
        ):
            self.hit(
                "MAC001",
                node,
                "a MAC is compared with ==/!=: the comparison time leaks how many leading "
                "bytes match",
            )
        return None

    def mac_value(self, node: ast.AST) -> Obj:
        return self.track("mac_value", node)

    # -- calls --------------------------------------------------------------------------

    def call(self, node: ast.Call, scope: _Scope) -> Value:
        receiver: Value = None
        method: str | None = None
        if isinstance(node.func, ast.Attribute):
            method = node.func.attr
            dotted = _dotted(node.func)
            bound = scope.lookup(dotted) if dotted is not None else None
            receiver = self.ev(node.func.value, scope)
            callee = bound if bound is not None else self.extend(receiver, node.func)
        else:
            callee = self.ev(node.func, scope)
        args: list[Value] = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.ev(arg.value, scope)
                args.append(None)
            else:
                args.append(self.ev(arg, scope))
        kwargs: dict[str, tuple[Value, ast.expr]] = {}
        for keyword in node.keywords:
            value = self.ev(keyword.value, scope)
            if keyword.arg is not None:
                kwargs[keyword.arg] = (value, keyword.value)
        call = _Call(node, args, kwargs, scope)
        # Legacy protocol constants passed anywhere (ssl_version=, method=, positional).
        for arg_node, value in call.arg_nodes():
            self.selected_value(arg_node, value)
        self.generic_keywords(call)
        consumed: set[int] = set()
        result: Value | _Unmodelled = _UNMODELLED
        name = _qual(callee) if isinstance(callee, Qual) else None
        if name is not None:
            result = self.call_qual(name, call, consumed)
        if result is _UNMODELLED and method is not None:
            from_method = self.call_method(receiver, method, call, consumed)
            if from_method is not None:
                result = from_method
        # Objects handed to code we do not model escape (wrapping consumed them explicitly).
        for position, value in enumerate(args):
            for obj in _objs_in(value):
                if id(obj) not in consumed:
                    obj.escaped = True
            arg_node = node.args[position]
            if isinstance(arg_node, ast.Attribute):  # `ctx._context` handed to C code
                base = self.resolve(arg_node.value, scope)
                if isinstance(base, Obj):
                    base.escaped = True
        for value, _ in kwargs.values():
            for obj in _objs_in(value):
                if id(obj) not in consumed:
                    obj.escaped = True
        if isinstance(result, _Unmodelled):
            if isinstance(callee, Qual) and not callee.name.startswith("builtins."):
                return Inst(callee.name)
            return None
        return result

    def selected_value(self, node: ast.expr, value: Value) -> None:
        """A value used to select something (argument, default): legacy protocols."""
        name = _qual(value) if isinstance(value, Qual) else None
        if name in _LEGACY_PROTOCOLS:
            self.hit(
                "TLS001",
                node,
                f"{name.rsplit('.', 1)[-1]} selects {_LEGACY_PROTOCOLS[name]}",
            )

    def generic_keywords(self, call: _Call) -> None:
        """Keyword arguments that are dangerous whatever the callee."""
        value, node = call.kwargs.get("cert_reqs", (None, call.node))
        if _qual(value) in _CERT_NONE or (
            isinstance(value, Const) and value.value in {"CERT_NONE", "NONE"}
        ):
            self.hit("TLS004", node, "cert_reqs=CERT_NONE: certificates are not verified")
        value, node = call.kwargs.get("assert_hostname", (None, call.node))
        if _is_false(value):
            self.hit("TLS005", node, "assert_hostname=False: urllib3 skips the host-name check")
        value, node = call.kwargs.get("ciphers", (None, call.node))
        self.cipher_string(value, node)

    def cipher_string(self, value: Value, node: ast.AST) -> None:
        if not isinstance(value, Const) or not isinstance(value.value, str | bytes):
            return
        text = value.value.decode("latin-1") if isinstance(value.value, bytes) else value.value
        verdict = judge_cipher_string(text)
        if verdict.broken:
            self.hit(
                "TLS006",
                node,
                f"cipher string {text!r} enables {', '.join(verdict.broken)}",
            )
        if verdict.no_forward_secrecy:
            self.hit(
                "TLS007",
                node,
                f"cipher string {text!r} allows RSA key exchange (no forward secrecy) via "
                f"{', '.join(verdict.no_forward_secrecy)}",
            )

    def call_qual(self, name: str, call: _Call, consumed: set[int]) -> Value | _Unmodelled:
        node = call.node
        # -- stdlib ssl --
        if name == "ssl.create_default_context":
            return self.track("ssl_ctx", node, "ssl")
        if name == "ssl.SSLContext":
            protocol = call.arg(0, "protocol")
            proto = _qual(protocol)
            generic = (not call.node.args and "protocol" not in call.kwargs) or (
                proto in _STDLIB_GENERIC
            )
            return self.track("ssl_ctx", node, "ssl", generic=generic)
        if name in _UNVERIFIED_HELPERS:
            return self.track("ssl_ctx", node, "ssl", verified=False)
        if name == "ssl.wrap_socket":
            self.hit(
                "TLS008",
                node,
                "ssl.wrap_socket() verifies no certificate by default and never checks the "
                "host name (removed in Python 3.12)",
            )
            self.mark_wrapped(call.arg(0, "sock"), consumed)
            return self.track("tls_socket", node)
        # -- pyOpenSSL --
        if name == "OpenSSL.SSL.Context":
            if "method" in call.kwargs:
                arg_node: ast.expr | None = call.kwargs["method"][1]
            else:
                arg_node = call.node.args[0] if call.node.args else None
            method_names = self.branch_quals(arg_node, call.arg(0, "method"), call.scope)
            generic = bool(method_names & _OSSL_GENERIC)
            client_only = method_names == {"OpenSSL.SSL.TLS_CLIENT_METHOD"}
            return self.track("ossl_ctx", node, "pyOpenSSL", generic=generic, client=client_only)
        if name == "OpenSSL.SSL.Connection":
            for obj in _objs_in(call.arg(0, "context")):
                consumed.add(id(obj))
            self.mark_wrapped(call.arg(1, "socket"), consumed)
            return self.track("tls_socket", node)
        # -- HTTP clients --
        if name in _REQUESTS_CALLS or name in _HTTPX_CALLS:
            lib = name.split(".", 1)[0]
            self.http_verify(call, f"{name}(..., verify=False)", lib)
            self.url_argument(call, _URL_CALLS.get(name), name)
            return None
        if name in {"httpx.create_ssl_context"}:
            self.http_verify(call, f"{name}(verify=False)", "httpx")
            return None
        if name in _SESSION_FACTORIES:
            lib = _SESSION_FACTORIES[name]
            if lib == "httpx":
                self.http_verify(call, f"{name}(verify=False)", lib)
            if lib == "urllib3" and name.endswith("ConnectionPool"):
                host = call.arg(0, "host")
                if name == "urllib3.HTTPConnectionPool" and _host_kind(host) == "remote":
                    self.hit(
                        "NET003",
                        node,
                        f"urllib3.HTTPConnectionPool to {_const_str(host)}: cleartext HTTP",
                    )
            return self.track("http_session", node, lib)
        if name in {"aiohttp.TCPConnector", "aiohttp.request"}:
            self.aiohttp_ssl(call, name)
            if name == "aiohttp.request":
                self.url_argument(call, _URL_CALLS[name], name)
            return None
        if name in _URL_CALLS:
            self.url_argument(call, _URL_CALLS[name], name)
            return None
        if name in {"urllib3.disable_warnings"}:
            category = call.arg(0, "category")
            if not call.node.args and "category" not in call.kwargs:
                self.hit("TLS010", node, "urllib3.disable_warnings() silences all its warnings")
            elif _qual(category) in _INSECURE_WARNINGS:
                self.hit("TLS010", node, "InsecureRequestWarning silenced")
            return None
        if name in {"warnings.filterwarnings", "warnings.simplefilter"}:
            action = call.arg(0, "action")
            category = call.arg(2 if name.endswith("filterwarnings") else 1, "category")
            if (
                isinstance(action, Const)
                and action.value == "ignore"
                and _qual(category) in _INSECURE_WARNINGS
            ):
                self.hit("TLS010", node, "InsecureRequestWarning filtered out")
            return None
        # -- sockets --
        if name == "socket.socket":
            family = _qual(call.arg(0, "family"))
            kind = _qual(call.arg(1, "type"))
            if family in {"socket.AF_UNIX"} or kind in {"socket.SOCK_DGRAM", "socket.SOCK_RAW"}:
                return None
            return self.track("socket", node, "socket", connects=[], wrapped=False)
        if name == "socket.create_connection":
            obj = self.track("socket", node, "socket", connects=[], wrapped=False)
            obj.state["connects"].append((node, call.arg(0, "address"), self.stmt_line))
            return obj
        if name == "asyncio.open_connection":
            return self.plain_stream(call, call.arg(0, "host"), call.arg(1, "port"))
        # -- cleartext protocol clients --
        if name in _CLEARTEXT_CLIENTS:
            cleartext, upgradable = _CLEARTEXT_CLIENTS[name]
            return self.track(
                "cleartext_client",
                node,
                name,
                protocol=cleartext,
                upgradable=upgradable,
                host=call.arg(0, "host"),
                upgraded=False,
            )
        # -- MACs and hashes --
        if name in {"hmac.new", "hmac.HMAC"}:
            self.mac_digest(call, 2, "digestmod", name)
            return self.track("hmac", node)
        if name == "hmac.digest":
            self.mac_digest(call, 2, "digest", name)
            return self.mac_value(node)
        if name == "cryptography.hazmat.primitives.hmac.HMAC":
            self.mac_digest(call, 1, "algorithm", "cryptography HMAC")
            return self.track("chmac", node)
        if name in _MAC_ENCODERS and call.args and _is_mac(call.args[0]):
            return self.mac_value(node)
        if name in _WEAK_HASH_CALLS or name == "hashlib.new":
            self.weak_hash(name, call)
            return Inst(name)
        # -- keys and ciphers --
        if name in _BROKEN_CIPHERS:
            self.hit("CRY003", node, f"{_BROKEN_CIPHERS[name]}: broken or unauthenticated")
            return Inst(name)
        if name in {"Crypto.Cipher.AES.new", "Crypto.Cipher.DES3.new"}:
            if _qual(call.arg(1, "mode")) in _ECB_CONSTANTS:
                self.hit("CRY003", node, "ECB mode: equal blocks encrypt to equal ciphertext")
            return None
        if self.weak_key(name, call):
            return None
        return _UNMODELLED

    def branch_quals(self, arg_node: ast.expr | None, value: Value, scope: _Scope) -> set[str]:
        """Dotted names an argument can take: both branches of ``a if c else b``."""
        names = {n for n in [_qual(value)] if n}
        if isinstance(arg_node, ast.IfExp):
            for branch in (arg_node.body, arg_node.orelse):
                resolved = _qual(self.resolve(branch, scope))
                if resolved:
                    names.add(resolved)
        return names

    def call_method(self, receiver: Value, method: str, call: _Call, consumed: set[int]) -> Value:
        node = call.node
        # Methods whose name is specific enough to judge on any receiver.
        if method in {"set_ciphers", "set_cipher_list"}:
            self.cipher_string(call.arg(0, "cipher_list"), node)
        elif method == "set_verify":
            self.ossl_verify(call, receiver)
        elif method == "set_missing_host_key_policy":
            policy = _qual(call.arg(0, "policy"))
            if policy in _PARAMIKO_BAD_POLICIES:
                self.hit(
                    "SSH001",
                    node,
                    f"{policy.rsplit('.', 1)[-1]}: unknown SSH host keys are accepted",
                )
        elif method == "set_min_proto_version":
            version = call.arg(0, "version")
            if isinstance(version, Const) and version.value == 0:
                self.hit(
                    "TLS001",
                    node,
                    "set_min_proto_version(0) allows the oldest version the OpenSSL build has",
                )
            elif isinstance(receiver, Obj) and receiver.kind == "ossl_ctx":
                receiver.state["floor"] = True
        elif method == "set_options" and isinstance(receiver, Obj) and receiver.kind == "ossl_ctx":
            arg = call.node.args[0] if call.node.args else None
            if arg is not None:
                names = self.quals_in(arg, call.scope)
                if {"OpenSSL.SSL.OP_NO_TLSv1", "OpenSSL.SSL.OP_NO_TLSv1_1"} <= names:
                    receiver.state["floor"] = True
        elif method in {"wrap_socket", "wrap_bio"}:
            self.mark_wrapped(call.arg(0, "sock"), consumed)
            return self.track("tls_socket", node)
        elif method in _UPGRADE_METHODS:
            if isinstance(receiver, Obj):
                receiver.state["wrapped"] = True
                receiver.state["upgraded"] = True
            for value in call.args:
                self.mark_wrapped(value, consumed)
        elif method == "generate_key" and _qual(receiver) == "OpenSSL.crypto.PKey":
            bits = call.arg(1, "bits")
            if isinstance(bits, Const) and isinstance(bits.value, int) and bits.value < 2048:
                self.hit("CRY002", node, f"{bits.value}-bit key generated with pyOpenSSL")
        if isinstance(receiver, Obj):
            return self.obj_method(receiver, method, call)
        if (
            isinstance(receiver, Inst)
            and canonical(receiver.cls) in _LOOP_FACTORIES
            and method == "create_connection"
        ):
            # The protocol object makes the bytes and may speak TLS itself (zerotls's own
            # engine does, over a plain transport): only a literal remote host is reported.
            return self.plain_stream(
                call, call.arg(1, "host"), call.arg(2, "port"), own_protocol=True
            )
        return None

    def obj_method(self, obj: Obj, method: str, call: _Call) -> Value:
        node = call.node
        if obj.kind == "socket" and method in {"connect", "connect_ex"}:
            obj.state["connects"].append((node, call.arg(0, "address"), self.stmt_line))
        elif obj.kind == "http_session":
            if method in _SESSION_URL_METHODS or method == "send":
                if obj.lib == "requests":
                    self.http_verify(call, f"session.{method}(..., verify=False)", "requests")
                if obj.lib == "aiohttp":
                    self.aiohttp_ssl(call, f"session.{method}")
                self.url_argument(call, _SESSION_URL_METHODS.get(method), f"{obj.lib} {method}")
        elif obj.kind == "hmac" and method in {"digest", "hexdigest"}:
            return self.mac_value(node)
        elif obj.kind == "hmac" and method == "copy":
            return self.track("hmac", node)
        elif (obj.kind == "chmac" and method == "finalize") or (
            obj.kind == "mac_value" and method in _MAC_STR_METHODS
        ):
            return self.mac_value(node)
        return None

    # -- rule helpers -------------------------------------------------------------------

    def mark_wrapped(self, value: Value, consumed: set[int]) -> None:
        for obj in _objs_in(value):
            obj.state["wrapped"] = True
            consumed.add(id(obj))

    def http_verify(self, call: _Call, what: str, lib: str) -> None:
        value, node = call.kwargs.get("verify", (None, call.node))
        if _is_false(value):
            self.hit(
                "TLS004",
                node,
                f"{what} turns off certificate verification ({lib})",
                _ZEROTLS_FIX_HTTP,
            )

    def aiohttp_ssl(self, call: _Call, what: str) -> None:
        for keyword in ("ssl", "verify_ssl"):
            value, node = call.kwargs.get(keyword, (None, call.node))
            if _is_false(value):
                self.hit(
                    "TLS004",
                    node,
                    f"aiohttp {what}({keyword}=False) turns off certificate verification",
                    "Remove ssl=False; for a private CA pass ssl=zerotls.to_ssl_context("
                    "ClientConfig(server_name='host', ca='ca.pem')).",
                )

    def url_argument(self, call: _Call, where: tuple[int, str] | None, what: str) -> None:
        if where is None:
            return
        position, keyword = where
        value = call.arg(position, keyword)
        verdict = _url_verdict(value)
        if verdict is None:
            return
        scheme, host = verdict
        node = call.kwargs[keyword][1] if keyword in call.kwargs else call.node
        if keyword not in call.kwargs and position < len(call.node.args):
            node = call.node.args[position]
        self.hit("NET004", node, f"{what}: cleartext {scheme}:// URL to {host}")

    def plain_stream(
        self, call: _Call, host: Value, port: Value, *, own_protocol: bool = False
    ) -> Value:
        value, _ = call.kwargs.get("ssl", (None, call.node))
        if "ssl" in call.kwargs and not (
            _is_false(value) or (isinstance(value, Const) and value.value is None)
        ):
            return None  # a TLS connection (ssl=context or ssl=True)
        obj = self.track(
            "socket", call.node, "asyncio", connects=[], wrapped=False, own_protocol=own_protocol
        )
        obj.state["connects"].append((call.node, Tup((host, port)), self.stmt_line))
        return obj

    def ossl_verify(self, call: _Call, receiver: Value) -> None:
        mode = _qual(call.arg(0, "mode"))
        if isinstance(receiver, Obj):
            receiver.state["verify_called"] = True
        if mode == "OpenSSL.SSL.VERIFY_NONE":
            self.hit("TLS004", call.node, "set_verify(VERIFY_NONE): the peer is not verified")
            return
        callback = call.arg(1, "callback")
        if isinstance(callback, Func) and _always_true(callback.node):
            self.hit(
                "TLS004",
                call.node,
                "the verify callback returns true for every certificate: any chain is accepted",
                "Return the preverify result (the last argument, `ok`) and add your checks on "
                "top; or let zerotls verify: zerotls.tls.context.TLSContext(ClientConfig(...)).",
            )

    def mac_digest(self, call: _Call, position: int, keyword: str, what: str) -> None:
        digest = call.arg(position, keyword)
        name = _qual(digest)
        weak = _WEAK_DIGEST_QUALS.get(name) if name else None
        if weak is None and isinstance(digest, Const) and isinstance(digest.value, str):
            weak = _WEAK_DIGEST_NAMES.get(digest.value.lower())
        if weak is None:
            return
        node: ast.expr = call.node
        if keyword in call.kwargs:
            node = call.kwargs[keyword][1]
        elif position < len(call.node.args):
            node = call.node.args[position]
        if isinstance(node, ast.Call):
            self.retract("HASH001", node)  # reported once, as the MAC's digest
        self.hit("MAC002", node, f"{what} with {weak}")

    def weak_hash(self, name: str, call: _Call) -> None:
        used, _ = call.kwargs.get("usedforsecurity", (None, call.node))
        if _is_false(used):
            return
        if name == "hashlib.new":
            algo = call.arg(0, "name")
            if not (isinstance(algo, Const) and isinstance(algo.value, str)):
                return
            if algo.value.lower() not in _WEAK_DIGEST_NAMES:
                return
            self.hit(
                "HASH001", call.node, f"hashlib.new({algo.value!r}) without usedforsecurity=False"
            )
            return
        weak = _WEAK_HASH_CALLS[name]
        if name.startswith("hashlib."):
            self.hit("HASH001", call.node, f"{name}() without usedforsecurity=False")
        else:
            self.hit("HASH001", call.node, f"{weak} digest ({name.rsplit('.', 1)[-1]})")

    def weak_key(self, name: str, call: _Call) -> bool:
        """Key generation calls; returns whether ``name`` is one (modelled)."""
        node = call.node
        prefix = "cryptography.hazmat.primitives.asymmetric."
        size: Value = None
        if name == f"{prefix}rsa.generate_private_key":
            size = call.arg(1, "key_size")
        elif name == f"{prefix}dsa.generate_private_key":
            size = call.arg(0, "key_size")
        elif name in {"Crypto.PublicKey.RSA.generate", "Crypto.PublicKey.DSA.generate"}:
            size = call.arg(0, "bits")
        elif name == f"{prefix}ec.generate_private_key":
            curve = _qual(call.arg(0, "curve"))
            if curve in _WEAK_CURVES:
                self.hit("CRY002", node, f"elliptic curve {_WEAK_CURVES[curve]} (< 224 bits)")
            return True
        else:
            return False
        if isinstance(size, Const) and isinstance(size.value, int) and size.value < 2048:
            kind = "DSA" if ".dsa." in name.lower() or "DSA.generate" in name else "RSA"
            self.hit("CRY002", node, f"{size.value}-bit {kind} key")
        return True

    # -- judged at the end ---------------------------------------------------------------

    def finish(self) -> None:
        for obj in self.objects:
            if obj.kind == "ssl_ctx" and obj.state.get("generic") and not obj.state.get("verified"):
                self.hit(
                    "TLS009",
                    obj.node,
                    "SSLContext with a generic protocol starts with CERT_NONE and no host-name "
                    "check, and verification is never switched on here",
                    stmt_line=obj.stmt_line,
                )
            elif obj.kind == "ossl_ctx":
                if obj.state.get("generic") and not obj.state.get("floor"):
                    self.hit(
                        "TLS002",
                        obj.node,
                        "pyOpenSSL context without set_min_proto_version: the protocol floor "
                        "is whatever the OpenSSL build allows",
                        stmt_line=obj.stmt_line,
                    )
                if (
                    obj.state.get("client")
                    and not obj.state.get("verify_called")
                    and not obj.escaped
                ):
                    self.hit(
                        "TLS004",
                        obj.node,
                        "pyOpenSSL client context never calls set_verify: it verifies "
                        "nothing (VERIFY_NONE is the default)",
                        "ctx.set_verify(SSL.VERIFY_PEER) with ctx.set_default_verify_paths() "
                        "or load_verify_locations(); or zerotls.tls.context.TLSContext("
                        "ClientConfig(server_name=host)).",
                        stmt_line=obj.stmt_line,
                    )
            elif obj.kind == "socket":
                self.finish_socket(obj)
            elif obj.kind == "cleartext_client":
                self.finish_cleartext_client(obj)

    def finish_socket(self, obj: Obj) -> None:
        if obj.state.get("wrapped") or obj.escaped:
            return
        for node, address, stmt_line in obj.state["connects"]:
            if isinstance(address, Const):
                continue  # a path: AF_UNIX
            host: Value = address.items[0] if isinstance(address, Tup) and address.items else None
            kind = _host_kind(host)
            if kind == "loopback":
                continue
            if kind == "remote":
                self.hit(
                    "NET001",
                    node,
                    f"cleartext TCP connection to {_const_str(host)}, never wrapped in TLS",
                    stmt_line=stmt_line,
                )
            elif not obj.state.get("own_protocol"):
                self.hit(
                    "NET002",
                    node,
                    "cleartext TCP connection to a host computed at run time, never wrapped in TLS",
                    stmt_line=stmt_line,
                )

    def finish_cleartext_client(self, obj: Obj) -> None:
        host: Value = obj.state["host"]
        protocol: str = obj.state["protocol"]
        kind = _host_kind(host)
        if kind == "loopback":
            return
        where = f"to {_const_str(host)}" if kind == "remote" else "(host set at run time)"
        if protocol == "HTTP":
            if kind == "remote":
                self.hit(
                    "NET003",
                    obj.node,
                    f"http.client.HTTPConnection {where}: cleartext HTTP",
                    stmt_line=obj.stmt_line,
                )
            return
        if obj.state["upgradable"]:
            if obj.state.get("upgraded") or obj.escaped:
                return
            self.hit(
                "NET003",
                obj.node,
                f"{protocol} client {where} without starttls(): credentials and data in clear",
                stmt_line=obj.stmt_line,
            )
            return
        self.hit(
            "NET003",
            obj.node,
            f"{protocol} client {where}: credentials and data travel in clear",
            stmt_line=obj.stmt_line,
        )


class _Unmodelled:
    """Marks a call no model handled (its result becomes an :class:`Inst`)."""


_UNMODELLED = _Unmodelled()


class _Call:
    """A call's evaluated arguments, with helpers to read them by position or keyword."""

    def __init__(
        self,
        node: ast.Call,
        args: list[Value],
        kwargs: dict[str, tuple[Value, ast.expr]],
        scope: _Scope,
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


def _dotted(node: ast.Attribute) -> str | None:
    """``self.ctx`` for an attribute chain on a plain name, else None."""
    parts = [node.attr]
    base: ast.expr = node.value
    while isinstance(base, ast.Attribute):
        parts.append(base.attr)
        base = base.value
    if not isinstance(base, ast.Name):
        return None
    parts.append(base.id)
    return ".".join(reversed(parts))


def _is_mac(value: Value) -> bool:
    return isinstance(value, Obj) and value.kind == "mac_value"


def _const_str(value: Value) -> str:
    if isinstance(value, Const):
        return repr(value.value)
    return "an unknown host"


def _always_true(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> bool:
    """Whether a verify callback returns a true constant on every path we can see."""
    if isinstance(node, ast.Lambda):
        return _true_constant(node.body)
    returns = [n for n in ast.walk(node) if isinstance(n, ast.Return)]
    return bool(returns) and all(r.value is not None and _true_constant(r.value) for r in returns)


def _true_constant(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is not False and bool(node.value)


def analyse(tree: ast.Module) -> list[Hit]:
    """Run every rule over a parsed module.

    Returns:
        The hits, sorted by position, one per (rule, position).
    """
    return _Analyser(tree).run()
