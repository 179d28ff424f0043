"""The core of the analysis: scopes, statements, expressions, calls, and the end of the walk.

A call, a method or a tracked object is handed to the handler :mod:`.registry` lists for it.
What the core judges itself is what a value means wherever it appears: a legacy protocol
selected, a dangerous keyword, an attribute or an option switched off.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Sequence

from zerotls.codeaudit._analysis.base import (
    UNMODELLED,
    Call,
    Hit,
    Scope,
    Unmodelled,
    canonical,
    is_false,
    is_mac,
    objs_in,
    qual_of,
)
from zerotls.codeaudit._analysis.httpclients import ZEROTLS_FIX_HTTP
from zerotls.codeaudit._analysis.registry import (
    CALLS,
    FINISHERS,
    KNOWN_QUALS,
    METHODS,
    OBJECT_METHODS,
)
from zerotls.codeaudit._analysis.tls import (
    CERT_NONE,
    CERT_REQUIRED,
    LEGACY_PROTOCOLS,
    REENABLE_OPTIONS,
    UNVERIFIED_HELPERS,
    cipher_string,
)
from zerotls.codeaudit._values import Const, Func, Inst, Obj, Prefix, Qual, Tup, Value

__all__ = ["analyse"]

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
                for obj in objs_in(self.ev(node.value, scope)):
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
            for obj in objs_in(value):
                obj.escaped = True
        elif isinstance(target, ast.Starred):
            self.bind(target.value, None, scope)

    def attribute_assign(self, target: ast.Attribute, value: Value, scope: _Scope) -> None:
        base = self.ev(target.value, scope)
        dotted = _dotted(target)
        if dotted is not None:
            scope.vars[dotted] = value  # `self.ctx = ...` then `self.ctx.x = ...`
        for obj in objs_in(value):
            obj.escaped = True  # stored on another object: it lives beyond this scope
        where: ast.AST = target  # `ctx.check_hostname = False` is reported at `ctx`
        attr = target.attr
        qual = qual_of(value)
        target_qual = qual_of(base)
        if target_qual is not None:
            full = f"{target_qual}.{attr}"
            if full == "ssl.match_hostname":
                self.hit(
                    "TLS005",
                    target,
                    "ssl.match_hostname replaced: host names are no longer checked",
                )
        if attr == "check_hostname" and is_false(value):
            self.hit("TLS005", where, "check_hostname = False: any valid certificate is accepted")
        elif attr == "verify_mode":
            if qual in CERT_NONE:
                self.hit(
                    "TLS004",
                    where,
                    "verify_mode = CERT_NONE: the peer's certificate is not verified",
                )
            elif qual in CERT_REQUIRED and isinstance(base, Obj):
                base.state["verified"] = True
        elif attr in {"minimum_version", "maximum_version"}:
            if qual == "ssl.TLSVersion.MINIMUM_SUPPORTED" and attr == "minimum_version":
                self.hit(
                    "TLS001",
                    where,
                    "minimum_version = MINIMUM_SUPPORTED allows the oldest protocol the "
                    "OpenSSL build has (SSLv3 or TLS 1.0)",
                )
            elif qual in LEGACY_PROTOCOLS:
                self.hit(
                    "TLS001",
                    where,
                    f"{attr} = {qual.rsplit('.', 1)[-1]} allows {LEGACY_PROTOCOLS[qual]}",
                )
        elif (
            attr == "verify"
            and is_false(value)
            and isinstance(base, Obj)
            and base.kind == "http_session"
        ):
            self.hit(
                "TLS004",
                where,
                f"{base.lib} session.verify = False: no request of this session verifies "
                "certificates",
                ZEROTLS_FIX_HTTP,
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
                if name in REENABLE_OPTIONS:
                    self.hit(
                        "TLS001",
                        value,
                        f"clearing {name.rsplit('.', 1)[-1]} re-enables {REENABLE_OPTIONS[name]}",
                    )

    # -- expressions --------------------------------------------------------------------

    def quals_in(self, node: ast.expr, scope: Scope) -> set[str]:
        """Every dotted name an expression mentions (for option masks like A | B)."""
        names: set[str] = set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name | ast.Attribute):
                name = qual_of(self.resolve(sub, scope))
                if name is not None:
                    names.add(name)
        return names

    def resolve(self, node: ast.expr, scope: Scope) -> Value:
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
            if isinstance(value, Qual) and canonical(value.name) in UNVERIFIED_HELPERS:
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
                if is_mac(left) or is_mac(right):
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
                for obj in objs_in(self.ev(elt, scope)):
                    obj.escaped = True
            return None
        if isinstance(node, ast.Dict):
            for key in node.keys:
                if key is not None:
                    self.ev(key, scope)
            for item in node.values:
                for obj in objs_in(self.ev(item, scope)):
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
                for obj in objs_in(self.ev(node.value, scope)):
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
                    if is_mac(self.ev(part.value, scope)):
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
        if name in UNVERIFIED_HELPERS:
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
            is_mac(v) for v in values
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
        call = Call(node, args, kwargs, scope)
        # Legacy protocol constants passed anywhere (ssl_version=, method=, positional).
        for arg_node, value in call.arg_nodes():
            self.selected_value(arg_node, value)
        self.generic_keywords(call)
        consumed: set[int] = set()
        result: Value | Unmodelled = UNMODELLED
        name = qual_of(callee) if isinstance(callee, Qual) else None
        if name is not None:
            result = self.call_qual(name, call, consumed)
        if result is UNMODELLED and method is not None:
            from_method = self.call_method(receiver, method, call, consumed)
            if from_method is not None:
                result = from_method
        # Objects handed to code we do not model escape (wrapping consumed them explicitly).
        for position, value in enumerate(args):
            for obj in objs_in(value):
                if id(obj) not in consumed:
                    obj.escaped = True
            arg_node = node.args[position]
            if isinstance(arg_node, ast.Attribute):  # `ctx._context` handed to C code
                base = self.resolve(arg_node.value, scope)
                if isinstance(base, Obj):
                    base.escaped = True
        for value, _ in kwargs.values():
            for obj in objs_in(value):
                if id(obj) not in consumed:
                    obj.escaped = True
        if isinstance(result, Unmodelled):
            if isinstance(callee, Qual) and not callee.name.startswith("builtins."):
                return Inst(callee.name)
            return None
        return result

    def selected_value(self, node: ast.expr, value: Value) -> None:
        """A value used to select something (argument, default): legacy protocols."""
        name = qual_of(value) if isinstance(value, Qual) else None
        if name in LEGACY_PROTOCOLS:
            self.hit(
                "TLS001",
                node,
                f"{name.rsplit('.', 1)[-1]} selects {LEGACY_PROTOCOLS[name]}",
            )

    def generic_keywords(self, call: Call) -> None:
        """Keyword arguments that are dangerous whatever the callee."""
        value, node = call.kwargs.get("cert_reqs", (None, call.node))
        if qual_of(value) in CERT_NONE or (
            isinstance(value, Const) and value.value in {"CERT_NONE", "NONE"}
        ):
            self.hit("TLS004", node, "cert_reqs=CERT_NONE: certificates are not verified")
        value, node = call.kwargs.get("assert_hostname", (None, call.node))
        if is_false(value):
            self.hit("TLS005", node, "assert_hostname=False: urllib3 skips the host-name check")
        value, node = call.kwargs.get("ciphers", (None, call.node))
        cipher_string(self, value, node)

    def call_qual(self, name: str, call: Call, consumed: set[int]) -> Value | Unmodelled:
        handler = CALLS.get(name)
        if handler is None:
            return UNMODELLED
        return handler(self, name, call, consumed)

    def call_method(self, receiver: Value, method: str, call: Call, consumed: set[int]) -> Value:
        # Methods whose name is specific enough to judge on any receiver.
        handler = METHODS.get(method)
        if handler is not None:
            result = handler(self, receiver, call, consumed)
            if result is not None:
                return result
        if isinstance(receiver, Obj):
            return self.obj_method(receiver, method, call)
        return None

    def obj_method(self, obj: Obj, method: str, call: Call) -> Value:
        handler = OBJECT_METHODS.get(obj.kind)
        if handler is None:
            return None
        return handler(self, obj, method, call)

    # -- judged at the end ---------------------------------------------------------------

    def finish(self) -> None:
        for obj in self.objects:
            judge = FINISHERS.get(obj.kind)
            if judge is not None:
                judge(self, obj)


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


def analyse(tree: ast.Module) -> list[Hit]:
    """Run every rule over a parsed module.

    Returns:
        The hits, sorted by position, one per (rule, position).
    """
    return _Analyser(tree).run()
