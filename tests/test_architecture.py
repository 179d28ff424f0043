"""The package map of docs/architecture.md, enforced: no import cycle between modules, and the
library layer (tls/, _wire/, integrity/, policy/, errors.py, _util.py) never imports a tool
(pki/, dtls/, tunnel/, audit/, monitor/, codeaudit/, doctor/, cli/), not even lazily."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
LIBRARY = {"tls", "_wire", "integrity", "policy", "errors", "_util", "spiffe", "httpx", "grpc"}
TOOLS = {
    "pki", "dtls", "tunnel", "audit", "monitor", "codeaudit", "doctor", "cli", "pytest_plugin",
}  # fmt: skip


def _modules() -> dict[str, Path]:
    found = {}
    for path in (SRC / "zerotls").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _target(module: str, name: str | None) -> str:
    """``from module import name``: the submodule when ``name`` is one, else the module."""
    if name is not None and f"{module}.{name}" in MODULES:
        return f"{module}.{name}"
    return module


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes: list[ast.AST] = []
    if top_level_only:
        for node in tree.body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue  # annotations only: never imported at run time
            nodes.extend(ast.walk(node) if isinstance(node, ast.If | ast.Try) else [node])
    else:
        nodes = list(ast.walk(tree))
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("zerotls"):
            out.update(_target(node.module, a.name) for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("zerotls"))
    return {m for m in out if m in MODULES}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_library_layer_imports_no_tool() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, path in MODULES.items()
        if _layer(module) in LIBRARY
        for target in _imports(path, top_level_only=False)
        if _layer(target) in TOOLS
    )
    assert not wrong, "the library must not depend on a tool:\n" + "\n".join(wrong)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    return cycles


def test_no_import_cycle_between_modules() -> None:
    graph = {m: _imports(p, top_level_only=True) - {m} for m, p in MODULES.items()}
    cycles = _cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_checker_sees_what_it_claims_to() -> None:
    # The negative twins: the analysis finds a real edge, and a planted cycle.
    assert "zerotls.tls.config" in _imports(MODULES["zerotls.tls.context"], top_level_only=True)
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    assert _layer("zerotls.tunnel.proxy") in TOOLS and _layer("zerotls.tls.engine") in LIBRARY
