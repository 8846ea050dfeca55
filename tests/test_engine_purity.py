"""The engine is pure: nothing under bot/engine imports Flask, Twilio or Redis.

Two independent checks, because each misses what the other sees:

* the source, read with ``ast``: every ``import`` statement (also inside
  functions, and ``importlib.import_module("...")``), and any import that
  leaves the engine package (``from .. import x``, ``from bot.store ...``),
  since the rest of ``bot`` is where the adapters live;
* the running interpreter: each engine module is imported in a fresh Python
  process, and ``sys.modules`` afterwards must hold none of those packages.
  This catches a pure-looking import whose own imports are not pure.

The top-level ``bot/__init__.py`` builds the Flask app (``create_app``) and so
imports Flask and Redis; it is not part of the engine. The fresh processes
stand in a bare package object for ``bot`` so that only the engine's own
imports are measured.

The checkers run against a throw-away package with known impurities first,
so this guard is itself shown to fail when it should.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = ("flask", "twilio", "redis")


# --- the checkers ------------------------------------------------------------------


def modules_of(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under ``root/package``."""
    base = root.joinpath(*package.split("."))
    found = {}
    for path in sorted(base.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _top(name: str) -> str:
    return name.split(".")[0]


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def source_violations(root: Path, package: str) -> list[str]:
    """``path:line: what`` for every forbidden or escaping import in the source."""
    problems = []
    for module, path in modules_of(root, package).items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        is_pkg = path.name == "__init__.py"
        depth = module.count(".") + (1 if is_pkg else 0)  # how many levels up stays inside `package`
        inside = depth - package.count(".")
        where = lambda node: f"{path.relative_to(root)}:{node.lineno}"  # noqa: E731
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if _top(alias.name) in FORBIDDEN:
                        problems.append(f"{where(node)}: import {alias.name}")
                    elif _top(alias.name) == _top(package) and not _within(alias.name, package):
                        problems.append(f"{where(node)}: import {alias.name}, outside {package}")
            elif isinstance(node, ast.ImportFrom):
                names = ", ".join(a.name for a in node.names)
                written = f"from {'.' * node.level}{node.module or ''} import {names}"
                if node.level == 0 and _top(node.module) in FORBIDDEN:
                    problems.append(f"{where(node)}: {written}")
                elif node.level == 0 and _top(node.module) == _top(package) and not _within(node.module, package):
                    problems.append(f"{where(node)}: {written}, outside {package}")
                elif node.level > inside:
                    problems.append(f"{where(node)}: {written}, outside {package}")
            elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                target = node.args[0].value
                if name in ("import_module", "__import__") and isinstance(target, str):
                    if _top(target) in FORBIDDEN:
                        problems.append(f"{where(node)}: {name}({target!r})")
    return problems


# Runs in a fresh interpreter: import one module, report the forbidden ones loaded.
_PROBE = textwrap.dedent(
    """
    import json, os, sys, types
    root, module, forbidden = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    sys.path.insert(0, root)
    top = module.split(".")[0]
    stand_in = types.ModuleType(top)  # the package, without running its __init__
    stand_in.__path__ = [os.path.join(root, top)]
    sys.modules[top] = stand_in
    import importlib
    importlib.import_module(module)
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in forbidden)
    print(json.dumps(loaded))
    """
)


def runtime_violations(root: Path, package: str) -> list[str]:
    """``module: loads x, y`` for every module whose import loads a forbidden package."""
    procs = {
        module: subprocess.Popen(
            [sys.executable, "-c", _PROBE, str(root), module, ",".join(FORBIDDEN)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=root,
        )
        for module in modules_of(root, package)
    }
    problems = []
    for module, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        if proc.returncode != 0:
            last = err.strip().splitlines()[-1] if err.strip() else f"exit {proc.returncode}"
            problems.append(f"{module}: cannot be imported on its own: {last}")
            continue
        loaded = json.loads(out.strip().splitlines()[-1])
        tops = sorted({_top(m) for m in loaded})
        if tops:
            problems.append(f"{module}: importing it loads {', '.join(tops)}")
    return problems


# --- the guard ----------------------------------------------------------------------


def test_engine_source_imports_no_flask_twilio_or_redis():
    assert modules_of(REPO, "bot.engine"), "no engine modules found: did bot/engine move?"
    assert source_violations(REPO, "bot.engine") == []


@pytest.mark.slow
def test_engine_modules_load_no_flask_twilio_or_redis_when_imported():
    assert runtime_violations(REPO, "bot.engine") == []


# --- the guard can fail -------------------------------------------------------------


@pytest.fixture
def impure(tmp_path: Path) -> Path:
    """A throw-away ``fake`` package whose ``engine`` has each kind of impurity."""
    files = {
        "fake/__init__.py": "import flask  # the app package may; the engine may not\n",
        "fake/adapter.py": "import redis\n",
        "fake/engine/__init__.py": "",
        "fake/engine/clean.py": "import json\nfrom . import helper\n",
        "fake/engine/helper.py": "import re\n",
        "fake/engine/direct.py": "import twilio.request_validator\n",
        "fake/engine/late.py": "def f():\n    from flask import request\n    return request\n",
        "fake/engine/dynamic.py": "import importlib\nr = importlib.import_module('redis')\n",
        "fake/engine/escapes.py": "from .. import adapter\n",
        "fake/engine/absolute.py": "from fake.adapter import redis as r\n",
        "fake/engine/sub/__init__.py": "",
        "fake/engine/sub/deep.py": "from ..helper import re\nfrom ...adapter import redis\n",
    }
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_source_check_reports_every_kind_of_impure_import(impure: Path):
    found = source_violations(impure, "fake.engine")
    assert found == [
        "fake/engine/absolute.py:1: from fake.adapter import redis, outside fake.engine",
        "fake/engine/direct.py:1: import twilio.request_validator",
        "fake/engine/dynamic.py:2: import_module('redis')",
        "fake/engine/escapes.py:1: from .. import adapter, outside fake.engine",
        "fake/engine/late.py:2: from flask import request",
        "fake/engine/sub/deep.py:2: from ...adapter import redis, outside fake.engine",
    ]


@pytest.mark.slow
def test_runtime_check_reports_direct_and_transitive_loads(impure: Path):
    found = runtime_violations(impure, "fake.engine")
    assert found == [
        "fake.engine.absolute: importing it loads redis",
        "fake.engine.direct: importing it loads twilio",
        "fake.engine.dynamic: importing it loads redis",
        "fake.engine.escapes: importing it loads redis",
        "fake.engine.sub.deep: importing it loads redis",
    ]
    # late.py imports flask only when called, which the source check covers.
