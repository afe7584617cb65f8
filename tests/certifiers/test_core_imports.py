"""The trusted core's import rule as an allow-list (STYLE 1-3), checked on `certifiers/` sources.

Every module under `certifiers/` may import only the standard library and `msgspec`, and of the
standard library not the modules that reach outside a pure computation: files, processes, the
environment or the interpreter (`os`, `sys`, `io`, `pathlib`, ...), clocks (`time`, `datetime`,
...), randomness (`random`, `secrets`, `uuid`), concurrency (`threading`, `asyncio`, ...), the
network (`socket`, `http`, `urllib`, ...) and float mathematics (`statistics`, `cmath`). Three
modules mix pure and impure members and are allowed with named members only (`posixpath`'s
lexical `normpath`/`join`, not `abspath`/`expanduser`; `urllib.parse.urlsplit`; `math`'s integer
functions). The builtins that do IO or run code (`open`, `print`, `input`, `eval`, `exec`,
`compile`, `__import__`, `breakpoint`) and float literals or `float(...)` calls are refused too.
The verifier (`certifiers/verify.py`, `certifiers/verification/`) imports no builder module:
nothing of `certifiers.builders`, nor `certifiers.verdict` (builder-side VerdictConsistent).
What this cannot see: a float made at run time (int / int, msgspec decoding a JSON float); the
scenario decoder's `float_hook` and mypy cover those.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

CORE = Path(__file__).resolve().parents[2] / "certifiers"
THIRD_PARTY = frozenset({"msgspec"})
#: standard-library modules (and their submodules) the core may never import
FORBIDDEN = frozenset(
    {
        # files, processes, environment, interpreter state, serialized code
        *("os", "sys", "io", "pathlib", "shutil", "tempfile", "glob", "fileinput", "mmap"),
        *("subprocess", "signal", "resource", "ctypes", "importlib", "pkgutil", "runpy"),
        *("pickle", "marshal", "shelve", "dbm", "sqlite3", "zipfile", "tarfile", "gzip"),
        *("bz2", "lzma", "logging", "atexit", "gc", "inspect", "site", "sysconfig"),
        *("platform", "getpass", "pwd", "grp", "builtins", "code", "pdb", "fcntl", "termios"),
        *("faulthandler", "tracemalloc", "webbrowser", "locale", "tty", "pty", "readline"),
        # clocks
        *("time", "datetime", "calendar", "zoneinfo", "sched"),
        # randomness
        *("random", "secrets", "uuid"),
        # concurrency
        *("threading", "_thread", "multiprocessing", "concurrent", "asyncio", "queue"),
        *("selectors", "select", "contextvars"),
        # network
        *("socket", "ssl", "http", "urllib", "ftplib", "smtplib", "imaplib", "poplib"),
        *("socketserver", "xmlrpc", "email", "mailbox"),
        # float mathematics
        *("statistics", "cmath"),
    }
)
#: modules allowed with these members only (the rest of them is impure or float-valued)
RESTRICTED = {
    "posixpath": frozenset({"normpath", "join"}),
    "urllib.parse": frozenset({"urlsplit"}),
    "math": frozenset({"isqrt", "gcd", "lcm", "floor", "ceil", "inf"}),  # inf: a sort sentinel
}
FORBIDDEN_BUILTINS = frozenset(
    {"open", "print", "input", "eval", "exec", "compile", "__import__", "breakpoint"}
)
VERIFIER_MAY_NOT_IMPORT = ("certifiers.builders", "certifiers.verdict")


def _module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(path: Path) -> str:
    """The package a relative import in `path` starts from."""
    name = _module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


class Import(NamedTuple):
    line: int
    module: str  # absolute
    names: tuple[str, ...]  # `from module import names`; () for `import module`
    bound: str | None  # the local name of `import module [as bound]`


def _imports(tree: ast.Module, package: str) -> Iterator[Import]:
    """Every import statement of a module of `package`, with relative imports made absolute."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(node.lineno, alias.name, (), alias.asname or alias.name)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*anchor, module] if module else anchor)
            yield Import(node.lineno, module, tuple(alias.name for alias in node.names), None)


def _forbidden(module: str) -> bool:
    if module in RESTRICTED:
        return False
    parts = module.split(".")
    return any(".".join(parts[: k + 1]) in FORBIDDEN for k in range(len(parts)))


def _import_violations(imp: Import) -> list[str]:
    top = imp.module.split(".")[0]
    if top == "certifiers":
        return []
    if top not in sys.stdlib_module_names and top not in THIRD_PARTY:
        return [f"{imp.line}: imports {imp.module}: neither standard library nor msgspec"]
    if _forbidden(imp.module):
        return [f"{imp.line}: imports {imp.module}: impure standard-library module"]
    if imp.module in RESTRICTED:
        extra = sorted(set(imp.names) - RESTRICTED[imp.module])
        if extra:
            return [f"{imp.line}: imports {extra} from {imp.module}"]
        if not imp.names and "." in imp.module:
            return [f"{imp.line}: imports {imp.module} whole: import its allowed members by name"]
    return []


def violations(source: str, package: str) -> list[str]:
    """What breaks the core's rule in one module's source ("line: what" each)."""
    tree = ast.parse(source)
    found: list[str] = []
    restricted: dict[str, str] = {}  # local name -> restricted module imported whole
    for imp in _imports(tree, package):
        found += _import_violations(imp)
        if imp.bound is not None and imp.module in RESTRICTED:
            restricted[imp.bound] = imp.module
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            module = restricted.get(node.value.id)
            if module is not None and node.attr not in RESTRICTED[module]:
                found.append(f"{node.lineno}: uses {module}.{node.attr}")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_BUILTINS:
            found.append(f"{node.lineno}: uses the builtin {node.id}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, float):
            found.append(f"{node.lineno}: has a float literal {node.value!r}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"float", "complex"}
        ):
            found.append(f"{node.lineno}: calls {node.func.id}()")
    return found


def builder_imports(source: str, package: str) -> list[str]:
    """The builder-side modules that one module's source imports (directly), one per import."""

    def builder_side(target: str) -> bool:
        return any(target == bad or target.startswith(bad + ".") for bad in VERIFIER_MAY_NOT_IMPORT)

    found: list[str] = []
    for imp in _imports(ast.parse(source), package):
        if builder_side(imp.module):
            found.append(imp.module)
        else:
            found += [f"{imp.module}.{n}" for n in imp.names if builder_side(f"{imp.module}.{n}")]
    return found


def test_the_core_imports_only_pure_standard_library_modules_and_msgspec() -> None:
    """No module under certifiers/ imports outside the allow-list, uses IO builtins or floats."""
    modules = sorted(CORE.rglob("*.py"))
    assert len(modules) > 20  # the walk found the package
    found = [
        f"{path.relative_to(CORE.parent)}:{violation}"
        for path in modules
        for violation in violations(path.read_text(encoding="utf-8"), _package(path))
    ]
    assert found == []


def test_the_verifier_imports_no_builder_module() -> None:
    """certifiers/verify.py and certifiers/verification/* import nothing of the builders."""
    verifier = [CORE / "verify.py", *sorted((CORE / "verification").glob("*.py"))]
    found = [
        f"{path.relative_to(CORE.parent)} imports {target}"
        for path in verifier
        for target in builder_imports(path.read_text(encoding="utf-8"), _package(path))
    ]
    assert found == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import os\n", "impure standard-library module"),
        ("from datetime import datetime\n", "impure standard-library module"),
        ("import secrets\n", "impure standard-library module"),
        ("import numpy\n", "neither standard library nor msgspec"),
        ("from cryptography.hazmat import primitives\n", "neither standard library nor msgspec"),
        ("from urllib.request import urlopen\n", "impure standard-library module"),
        ("from urllib.parse import urlencode\n", "imports ['urlencode'] from urllib.parse"),
        ("import posixpath as pp\npp.expanduser('~')\n", "uses posixpath.expanduser"),
        ("from math import sqrt\n", "imports ['sqrt'] from math"),
        ("from .. import _x\nfrom ..._y import z\n", "neither standard library nor msgspec"),
        ("x = open('f')\n", "uses the builtin open"),
        ("x = 0.5\n", "float literal"),
        ("x = float('1')\n", "calls float()"),
    ],
)
def test_each_kind_of_violation_is_reported(source: str, expected: str) -> None:
    """The checker flags one forbidden import, member, builtin or float in a core module."""
    found = violations(source, "certifiers.verification")
    assert len(found) == 1
    assert expected in found[0]


def test_pure_modules_and_allowed_members_pass() -> None:
    """Allowed imports (stdlib, msgspec, the core itself, named members) are not flagged."""
    source = (
        "import math\nimport msgspec\nfrom fractions import Fraction\n"
        "from posixpath import normpath\nfrom . import report\nx = math.isqrt(4)\n"
    )
    assert violations(source, "certifiers.verification") == []


def test_a_verifier_module_importing_a_builder_is_reported() -> None:
    """`from certifiers import builders`, `from ..builders.card import x`, `certifiers.verdict`."""
    source = (
        "from certifiers import builders\nfrom ..builders.card import build_card\n"
        "import certifiers.verdict\nfrom certifiers.verification import report\n"
    )
    assert builder_imports(source, "certifiers.verification") == [
        "certifiers.builders",
        "certifiers.builders.card",
        "certifiers.verdict",
    ]
