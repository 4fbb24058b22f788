"""byoroot uses other libraries (Textual, Rich, cryptography, pkilint, ...) through their public
API only: no private module, no private name read, called or overridden.

A static check over the package's source (tests and benches may use Textual's public testing
API; they are not checked here):
- no import of a private module (`textual._foo`) or a private name (`from x import _y`);
- no `obj._name` (or getattr with "_name") where ``_name`` is not byoroot's own name;
- no method or attribute ``_name`` defined in a class built on a library class where the library
  itself uses ``_name``: that overrides or shadows the library's private internals.
Dunder names (``__init__``) are public protocol and allowed.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from functools import cache
from pathlib import Path

import factories as f

PACKAGE = f.REPO / "byoroot_tui"
STDLIB_PUBLIC = {"_exit"}  # os._exit: documented public API of the standard library despite its name
LIBRARIES = ("textual", "rich", "cryptography", "pkilint", "pyasn1", "pyasn1_alt_modules", "qrcode", "fpdf",
             "pkcs11", "PIL", "pyperclip")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _sources(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py"))


def _defined_names(tree: ast.AST) -> set[str]:
    """Every private name a module defines: functions, classes, assignments, attributes set."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return {n for n in names if _private(n)}


@cache
def library_private_names() -> frozenset[str]:
    names: set[str] = set()
    for lib in LIBRARIES:
        spec = importlib.util.find_spec(lib)
        assert spec is not None and spec.origin, f"{lib} is not installed"
        for path in _sources(Path(spec.origin).parent):
            try:
                names |= _defined_names(ast.parse(path.read_text(encoding="utf-8", errors="replace")))
            except SyntaxError:
                continue
    return frozenset(names)


@cache
def own_trees() -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text(encoding="utf-8")) for p in _sources(PACKAGE)}


@cache
def own_private_names() -> frozenset[str]:
    names: set[str] = set()
    for tree in own_trees().values():
        names |= _defined_names(tree)
    return frozenset(names)


def _external(module: str | None) -> bool:
    return bool(module) and module.split(".")[0] != "byoroot_tui"  # type: ignore[union-attr]


def library_classes() -> dict[str, frozenset[str]]:
    """Each byoroot class built on classes of another library (Screen, Static, Tree, Driver...),
    with the private names those library classes (all of their ancestry) define or use."""
    import importlib
    import inspect

    out: dict[str, frozenset[str]] = {}
    for path in own_trees():
        parts = list(path.relative_to(f.REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        module = importlib.import_module(".".join(parts))
        for obj in vars(module).values():
            if not inspect.isclass(obj) or obj.__module__ != module.__name__:
                continue
            names: set[str] = set()
            for base in obj.__mro__:
                if base.__module__.split(".")[0] in LIBRARIES:
                    names |= _class_private_names(base)
            if names:
                out[obj.__name__] = frozenset(names)
    return out


@cache
def _class_private_names(cls: type) -> frozenset[str]:
    import inspect
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return frozenset(n for n in vars(cls) if _private(n))
    return frozenset(_defined_names(tree) | {n for n in vars(cls) if _private(n)})


def violations() -> list[str]:
    own = own_private_names()
    derived = library_classes()
    found: list[str] = []
    for path, tree in own_trees().items():
        where = path.relative_to(f.REPO)
        for node in ast.walk(tree):
            line = getattr(node, "lineno", 0)
            if isinstance(node, ast.Import):
                for a in node.names:
                    if _external(a.name) and any(_private(p) for p in a.name.split(".")):
                        found.append(f"{where}:{line}: import {a.name}")
            elif isinstance(node, ast.ImportFrom) and _external(node.module):
                if any(_private(p) for p in (node.module or "").split(".")):
                    found.append(f"{where}:{line}: from {node.module} import ...")
                for a in node.names:
                    if _private(a.name):
                        found.append(f"{where}:{line}: from {node.module} import {a.name}")
            elif isinstance(node, ast.Attribute) and _private(node.attr):
                target = node.value
                is_self = isinstance(target, ast.Name) and target.id in ("self", "cls")
                if not is_self and node.attr not in own and node.attr not in STDLIB_PUBLIC:
                    found.append(f"{where}:{line}: .{node.attr} (not byoroot's own name)")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in (
                    "getattr", "setattr", "hasattr", "delattr") and len(node.args) > 1:
                arg = node.args[1]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and _private(arg.value) \
                        and arg.value not in own:
                    found.append(f"{where}:{line}: {node.func.id}(..., {arg.value!r})")
            elif isinstance(node, ast.ClassDef) and node.name in derived:
                lib = derived[node.name]
                for item in ast.walk(node):
                    name = None
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item in node.body:
                        name = item.name
                    elif isinstance(item, ast.Attribute) and isinstance(item.value, ast.Name) \
                            and item.value.id == "self":
                        name = item.attr
                    elif isinstance(item, (ast.Assign, ast.AnnAssign)) and item in node.body:
                        targets = item.targets if isinstance(item, ast.Assign) else [item.target]
                        for t in targets:
                            if isinstance(t, ast.Name) and _private(t.id) and t.id in lib:
                                found.append(f"{where}:{item.lineno}: class {node.name} sets {t.id}, "
                                             "a private name of the library it is built on")
                    if name and _private(name) and name in lib:
                        found.append(f"{where}:{getattr(item, 'lineno', 0)}: class {node.name} uses {name}, "
                                     "a private name of the library it is built on")
    return sorted(set(found))


def test_the_check_sees_a_private_name() -> None:
    """Control: the names the app used before it was rebuilt on the public API are known to the check."""
    lib = library_private_names()
    for name in ("_register", "_push_result_callback", "_compositor", "_dirty_widgets", "_refresh_layout",
                 "_on_timer_update", "_layout_required", "_driver", "_background_screens", "_cells", "_on_click"):
        assert name in lib, name
        assert name not in own_private_names(), name
    derived = library_classes()
    for name in ("_refresh_layout", "_compositor", "_dirty_widgets", "_on_timer_update", "_layout_required",
                 "_push_result_callback"):
        assert name in derived["StepScreen"] and name in derived["ReviewScreen"], name
    assert "_on_click" in derived["FilesTree"]  # the Tree's own click handler, once overridden here
    assert "_register" in derived["ByorootApp"] and "_background_screens" in derived["ByorootApp"]


def test_the_check_flags_a_private_use() -> None:
    """Control: code that reaches into Textual is flagged (checked on a sample, not on the package)."""
    sample = ast.parse(
        "from textual._compositor import Compositor\n"
        "from textual.screen import Screen\n"
        "class S(Screen):\n"
        "    def _on_timer_update(self):\n"
        "        self._refresh_layout()\n"
        "def f(app):\n"
        "    app.screen._compositor.render_update(full=True)\n"
    )
    lib = library_private_names()
    private_uses = [n for n in ast.walk(sample) if isinstance(n, ast.Attribute) and n.attr in lib]
    assert {n.attr for n in private_uses} == {"_refresh_layout", "_compositor"}
    assert any(isinstance(n, ast.ImportFrom) and "_compositor" in (n.module or "") for n in ast.walk(sample))


def test_no_private_name_of_another_library_in_the_package() -> None:
    found = violations()
    assert not found, "private names of other libraries in byoroot_tui/:\n" + "\n".join(found)


if __name__ == "__main__":  # a list for a person: python tests/test_public_api.py
    sys.path.insert(0, str(Path(__file__).parent))
    print("\n".join(violations()) or "none")
