"""Read one function out of a Python file without running the file (for the loss audit's CLI).

A learner's training script parses arguments, downloads a data set and trains at its top
level; :func:`load_loss_function` takes out only the ``def`` of the loss function and what
it needs -- the imports that bind the names it uses, the other top-level functions it calls
and literal constants -- and runs that alone.
"""

from __future__ import annotations

import ast
import builtins
import copy
import symtable
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["LossSourceError", "load_loss_function"]


class LossSourceError(ValueError):
    """The loss function cannot be taken out of its file without running other code."""


def _bindings(stmt: ast.stmt) -> list[str]:
    """Names a top-level statement binds."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return [a.asname or a.name.split(".")[0] for a in stmt.names]
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [stmt.name]
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [getattr(stmt, "target", None)]
    names = []
    for t in targets:
        if t is not None:
            names += [n.id for n in ast.walk(t) if isinstance(n, ast.Name)]
    return names


def _global_names(table: symtable.SymbolTable) -> set[str]:
    """Global names a function scope (and the scopes nested in it) reads."""
    names = {s.get_name() for s in table.get_symbols() if s.is_global() and s.is_referenced()}
    for child in table.get_children():
        names |= _global_names(child)
    return names


def load_loss_function(path: str | Path, name: str) -> Callable:
    """The function ``name`` of the Python file ``path``, without running the file.

    The file is parsed, not executed: only the ``def`` of ``name`` runs, with what it needs
    from the file's top level -- the imports that bind the names it uses, the other top-level
    functions it calls (recursively), and module constants that are plain literals
    (``N = 60000``).  A script's argument parsing, training loop or dataset download never
    runs.  Imports are of installed modules; relative imports, names bound inside ``if`` /
    ``try`` / ``with`` blocks, classes and computed constants raise :class:`LossSourceError`.
    Type annotations are dropped.
    """
    path = Path(path)
    try:
        source = path.read_text()
    except OSError as exc:
        raise LossSourceError(f"cannot read {path}: {exc}") from exc
    try:
        tree = ast.parse(source, filename=str(path))
        top_table = symtable.symtable(source, str(path), "exec")
    except SyntaxError as exc:
        raise LossSourceError(f"{path} is not valid Python: {exc}") from exc
    top: dict[str, ast.stmt] = {}
    nested: dict[str, int] = {}
    for stmt in tree.body:
        simple = isinstance(stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef,
                                   ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign))
        if simple:
            for bound in _bindings(stmt):
                top[bound] = stmt
        else:
            for node in ast.walk(stmt):
                for bound in _bindings(node) if isinstance(node, ast.stmt) else []:
                    nested.setdefault(bound, node.lineno)
    functions = sorted(k for k, v in top.items() if isinstance(v, ast.FunctionDef))
    if not isinstance(top.get(name), ast.FunctionDef):
        raise LossSourceError(f"{path} has no top-level function named {name!r} "
                              f"(its functions: {', '.join(functions) or 'none'})")
    tables = {t.get_name(): t for t in top_table.get_children() if t.get_type() == "function"}
    keep: dict[tuple[int, str], ast.stmt] = {}
    todo, seen = [name], set()
    while todo:
        want = todo.pop()
        if want in seen:
            continue
        seen.add(want)
        stmt = top.get(want)
        if stmt is None:
            if want in nested:
                raise LossSourceError(f"{name} uses {want!r}, bound at line {nested[want]} "
                                      "inside a block (if/try/with/for) that the audit does "
                                      "not run; move it to the top level or inline it")
            if hasattr(builtins, want) or want in ("__name__", "__file__"):
                continue
            raise LossSourceError(f"{name} uses {want!r}, which {path.name} does not define "
                                  "at its top level (and is not a builtin)")
        keep[id(stmt), want] = _extracted(stmt, want, name)
        if isinstance(stmt, ast.FunctionDef):
            outer = [*stmt.decorator_list, *stmt.args.defaults,
                     *(v for v in stmt.args.kw_defaults if v is not None)]
            todo += [n.id for e in outer for n in ast.walk(e) if isinstance(n, ast.Name)]
            todo += sorted(_global_names(tables[stmt.name]))
    namespace: dict[str, Any] = {"__name__": f"course_vae.audit:{path.stem}",
                                 "__file__": str(path)}
    for stmt in sorted(keep.values(), key=lambda s: s.lineno):
        code = compile(ast.fix_missing_locations(ast.Module([stmt], [])), str(path), "exec")
        try:
            exec(code, namespace)
        except Exception as exc:
            raise LossSourceError(f"line {stmt.lineno} of {path.name} failed "
                                  f"({type(exc).__name__}: {exc})") from exc
    return namespace[name]


def _extracted(stmt: ast.stmt, want: str, user: str) -> ast.stmt:
    """The part of a top-level statement that binds ``want``, or LossSourceError."""
    where = f"{want!r} (line {stmt.lineno})"
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        if isinstance(stmt, ast.ImportFrom) and stmt.level:
            raise LossSourceError(f"{user} needs {where}, from a relative import, which cannot "
                                  "be resolved outside its package")
        aliases = [a for a in stmt.names if (a.asname or a.name.split(".")[0]) == want]
        fields = {**{f: getattr(stmt, f) for f in stmt._fields}, "names": aliases}
        return ast.copy_location(type(stmt)(**fields), stmt)
    if isinstance(stmt, ast.FunctionDef):
        stmt = copy.deepcopy(stmt)  # then drop the annotations
        for node in ast.walk(stmt):
            if isinstance(node, ast.arg):
                node.annotation = None
            elif isinstance(node, ast.FunctionDef):
                node.returns = None
        return stmt
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [getattr(stmt, "target", None)]
    plain = all(isinstance(t, ast.Name) for t in targets)
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None and plain:
        try:
            ast.literal_eval(stmt.value)
        except ValueError:
            pass
        else:
            return ast.copy_location(ast.Assign([ast.Name(want, ast.Store())], stmt.value), stmt)
        raise LossSourceError(f"{user} uses the constant {where}, which is computed, not a "
                              "plain literal; the audit does not run it. Write it as a literal "
                              "or inline it")
    raise LossSourceError(f"{user} uses {where}, defined by a {type(stmt).__name__} that the "
                          "audit does not run; inline it in the function")
