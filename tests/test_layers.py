"""The import graph of server/ keeps the shape docs/architecture.md draws.

Read from the source with ``ast`` (nothing is imported), so a new module that breaks the
layering fails here with the arrow named, before anyone has to find the cycle by hand.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SERVER = Path(__file__).resolve().parent.parent / "server"

# Lower numbers are lower layers; a module may import only its own layer or lower ones.
# The longest matching prefix decides a module's layer.
LAYERS: dict[str, int] = {
    "server.errors": 0,
    "server.settings": 0,
    "server.protocol": 1,
    "server.storage": 2,
    "server.domain": 3,
    "server.pubsub": 3,
    "server.mail": 3,
    "server.services": 4,
    "server.scheduler": 4,  # jobs run once across the cluster: domain + the backplane's lease
    "server.auth": 5,
    "server.transport": 5,  # the fenced uvicorn internals the send path relies on
    "server.realtime": 6,
    "server.web": 6,
    "server.app": 7,
    "server.transport.serve": 8,  # starts uvicorn with the app
    "server.cli": 9,
    "server.__main__": 10,
    "server": 0,  # server/__init__.py: the version only
}
# Parts of one layer that must not lean on each other.
SIBLINGS = [("server.web", "server.realtime"), ("server.domain", "server.pubsub")]
SQLITE_ALLOWED = ("server.storage.sqlite", "server.cli")
POSTGRES_ALLOWED = ("server.storage.postgres",)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SERVER.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(), str(p)) for p in SERVER.rglob("*.py")}


def imports(tree: ast.Module, known: set[str]) -> Iterator[tuple[str, str, int]]:
    """(imported module, imported name or "", line) for every import, lazy ones included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, "", node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                yield (
                    (sub, "", node.lineno)
                    if sub in known
                    else (node.module, alias.name, node.lineno)
                )


def layer(name: str) -> tuple[str, int]:
    best = max((p for p in LAYERS if name == p or name.startswith(p + ".")), key=len)
    return best, LAYERS[best]


def internal_edges() -> list[tuple[str, str, str, int]]:
    mods = modules()
    known = set(mods)
    return [
        (src, dst, name, line)
        for src, tree in mods.items()
        for dst, name, line in imports(tree, known)
        if dst in known
    ]


def test_every_import_points_down_or_stays_in_its_layer() -> None:
    wrong = []
    for src, dst, _, line in internal_edges():
        (src_part, src_rank), (_, dst_rank) = layer(src), layer(dst)
        if dst_rank > src_rank:
            wrong.append(f"{src}:{line} imports {dst} (layer {dst_rank} above {src_rank})")
        for a, b in SIBLINGS:
            if (src_part.startswith(a) and dst.startswith(b)) or (
                src_part.startswith(b) and dst.startswith(a)
            ):
                wrong.append(f"{src}:{line} imports its sibling {dst}")
    assert not wrong, "\n".join(wrong)


def test_the_import_graph_has_no_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for src, dst, _, _ in internal_edges():
        if src != dst:
            graph.setdefault(src, set()).add(dst)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            raise AssertionError("import cycle: " + " -> ".join(cycle))


def test_no_module_imports_another_modules_private_names() -> None:
    wrong = [
        f"{src}:{line} imports {name} from {dst}"
        for src, dst, name, line in internal_edges()
        if name.startswith("_") and not name.startswith("__") and src != dst
    ]
    mods = modules()
    for src, tree in mods.items():  # module._private through an imported module's name
        aliases = {
            a.asname or a.name: f"{n.module}.{a.name}"
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module
            for a in n.names
            if f"{n.module}.{a.name}" in mods
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                wrong.append(f"{src}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    assert not wrong, "\n".join(wrong)


def test_only_the_sqlite_engine_and_the_command_line_import_sqlite() -> None:
    wrong = [
        f"{src}:{line} imports {dst}"
        for src, tree in modules().items()
        for dst, _, line in imports(tree, set())
        if dst.split(".")[0] in ("sqlite3", "aiosqlite") and not src.startswith(SQLITE_ALLOWED)
    ]
    assert not wrong, "\n".join(wrong)


def test_only_the_postgres_engine_imports_psycopg() -> None:
    wrong = [
        f"{src}:{line} imports {dst}"
        for src, tree in modules().items()
        for dst, _, line in imports(tree, set())
        if dst.split(".")[0] in ("psycopg", "psycopg_pool") and not src.startswith(POSTGRES_ALLOWED)
    ]
    assert not wrong, "\n".join(wrong)


def test_every_module_has_a_layer() -> None:
    """A new top-level package must be given its place in the drawing first."""
    assert all(layer(name)[0] != "server" or name == "server" for name in modules()), [
        name for name in modules() if layer(name)[0] == "server" and name != "server"
    ]
