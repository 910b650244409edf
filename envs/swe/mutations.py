"""AST mutations that inject bugs into Python source (the SWE-smith recipe, Yang et al.,
arXiv 2504.21798).

Every candidate is a *minimal text edit*: one expression or one-line statement span is replaced
by ``ast.unparse`` of the mutated node, or whole statement lines are removed. A span is used only
where ``ast.unparse`` of the original node reproduces the source text exactly, so the rest of the
line stays byte-identical and the gold patch (the reverse diff) touches only the bug.

Kinds (each a bug a person could plausibly write):

=============  ===============================================================================
``operator``   arithmetic or comparison operator flipped (``+``/``-``, ``<``/``<=``, ``in`` ...)
``swap``       operands of a non-commutative operator or of an ordering comparison swapped
``constant``   integer constant off by one (either way) or boolean constant negated
``invert``     condition of an ``if``/``while``/conditional expression/comprehension negated
``boolop``     ``and``/``or`` exchanged
``unary``      a unary minus or a ``not`` dropped
``call``       ``min``/``max`` or ``any``/``all`` exchanged
``args``       the first two positional arguments of a call swapped
``augassign``  augmented assignment operator flipped (``+=``/``-=``, ``*=``/``//=``)
``control``    ``break``/``continue`` exchanged
``remove``     an assignment, call, ``if`` or loop statement deleted
=============  ===============================================================================

Candidates are enumerated deterministically; whether one is a *valid bug* (some tests fail) is
decided by :mod:`agentgym.envs.swe.tasks`.
"""

from __future__ import annotations

import ast
import copy
import difflib
from collections.abc import Iterator
from dataclasses import dataclass

_BINOP_SWAPS: dict[type, type] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult,
    ast.Div: ast.Mult, ast.Mod: ast.FloorDiv,
}
_CMP_SWAPS: dict[type, type] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}
_NON_COMMUTATIVE = (ast.Sub, ast.Div, ast.FloorDiv, ast.Mod)
_AUG_SWAPS: dict[type, type] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult,
}
_CALL_SWAPS = {"min": "max", "max": "min", "any": "all", "all": "any"}
#: Calls whose argument order no one gets wrong (swapping them is noise, not a bug).
_FIXED_ORDER = {"isinstance", "issubclass", "getattr", "hasattr", "setattr", "super"}


@dataclass(frozen=True)
class Mutation:
    """One candidate bug in one file.

    Attributes:
        path: file path relative to the repository root.
        kind: one of the kinds in the module docstring.
        line: 1-based first line changed.
        original: the original source of the file.
        mutated: the source with the bug.
        description: what was changed, e.g. ``comparison operator flipped at line 12``.
        index: position among the candidates of the same path, kind and line.
    """

    path: str
    kind: str
    line: int
    original: str
    mutated: str
    description: str
    index: int = 0

    @property
    def mutation_id(self) -> str:
        """Short id shared by the candidates of one path, kind and line, e.g.
        ``textkit.py:operator:L12``."""
        return f"{self.path}:{self.kind}:L{self.line}"

    @property
    def key(self) -> str:
        """Unique id among the candidates of one file, e.g. ``textkit.py:operator:L12:1``."""
        return f"{self.mutation_id}:{self.index}"


def unified_diff(path: str, before: str, after: str) -> str:
    """A ``git apply`` / ``patch -p1`` compatible unified diff of one file."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True),
        fromfile=f"a/{path}", tofile=f"b/{path}", n=3,
    )
    text = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in lines)
    return f"diff --git a/{path} b/{path}\n{text}" if text else ""


def _segment(lines: list[str], node: ast.AST) -> str | None:
    if node.lineno != node.end_lineno:  # type: ignore[attr-defined]
        return None
    line = lines[node.lineno - 1]  # type: ignore[attr-defined]
    encoded = line.encode("utf-8")
    return encoded[node.col_offset : node.end_col_offset].decode("utf-8")  # type: ignore[attr-defined]


def _replace(lines: list[str], node: ast.AST, text: str) -> str:
    index = node.lineno - 1  # type: ignore[attr-defined]
    encoded = lines[index].encode("utf-8")
    new_line = (encoded[: node.col_offset] + text.encode("utf-8")  # type: ignore[attr-defined]
                + encoded[node.end_col_offset :]).decode("utf-8")  # type: ignore[attr-defined]
    return "".join([*lines[:index], new_line, *lines[index + 1 :]])


def _expression_variants(node: ast.AST) -> Iterator[tuple[str, ast.AST, str]]:
    """``(kind, mutated node, description)`` for one expression node."""
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAPS:
        new = copy.deepcopy(node)
        new.op = _BINOP_SWAPS[type(node.op)]()
        yield "operator", new, "arithmetic operator flipped"
        if isinstance(node.op, _NON_COMMUTATIVE):
            new = copy.deepcopy(node)
            new.left, new.right = new.right, new.left
            yield "swap", new, "operands swapped"
    elif isinstance(node, ast.Compare) and len(node.ops) == 1:
        if type(node.ops[0]) in _CMP_SWAPS:
            new = copy.deepcopy(node)
            new.ops = [_CMP_SWAPS[type(node.ops[0])]()]
            yield "operator", new, "comparison operator flipped"
        if isinstance(node.ops[0], ast.Lt | ast.LtE | ast.Gt | ast.GtE):
            new = copy.deepcopy(node)
            new.left, new.comparators = node.comparators[0], [node.left]
            yield "swap", copy.deepcopy(new), "comparison operands swapped"
    elif isinstance(node, ast.BoolOp):
        new = copy.deepcopy(node)
        new.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield "boolop", new, "boolean operator flipped"
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.Not):
        what = "unary minus" if isinstance(node.op, ast.USub) else "'not'"
        yield "unary", copy.deepcopy(node.operand), f"{what} dropped"
    elif isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name in _CALL_SWAPS:
            new = copy.deepcopy(node)
            new.func = ast.Name(_CALL_SWAPS[name], ast.Load())
            yield "call", new, f"{name}() replaced by {_CALL_SWAPS[name]}()"
        first_two = node.args[:2]
        if (len(first_two) == 2 and name not in _FIXED_ORDER
                and not any(isinstance(a, ast.Starred) for a in first_two)
                and ast.dump(first_two[0]) != ast.dump(first_two[1])):
            new = copy.deepcopy(node)
            new.args[0], new.args[1] = new.args[1], new.args[0]
            yield "args", new, "first two call arguments swapped"
    elif isinstance(node, ast.Constant) and not isinstance(node.value, str | bytes):
        if isinstance(node.value, bool):
            yield "constant", ast.Constant(not node.value), "boolean constant negated"
        elif isinstance(node.value, int):
            yield "constant", ast.Constant(node.value + 1), "integer constant increased by one"
            if node.value > 0:
                yield "constant", ast.Constant(node.value - 1), "integer constant decreased by one"


def _statement_variants(node: ast.stmt) -> Iterator[tuple[str, ast.AST, str]]:
    """``(kind, mutated node, description)`` for a one-line statement."""
    if isinstance(node, ast.AugAssign) and type(node.op) in _AUG_SWAPS:
        new = copy.deepcopy(node)
        new.op = _AUG_SWAPS[type(node.op)]()
        yield "augassign", new, "augmented assignment operator flipped"
    elif isinstance(node, ast.Break):
        yield "control", ast.Continue(), "'break' replaced by 'continue'"
    elif isinstance(node, ast.Continue):
        yield "control", ast.Break(), "'continue' replaced by 'break'"


def _condition_nodes(tree: ast.AST) -> Iterator[ast.expr]:
    for node in ast.walk(tree):
        if isinstance(node, ast.If | ast.While | ast.IfExp):
            yield node.test
        elif isinstance(node, ast.comprehension):
            yield from node.ifs


def _removable_statements(tree: ast.AST) -> Iterator[ast.stmt]:
    for node in ast.walk(tree):
        for field_name in ("body", "orelse"):
            body = getattr(node, field_name, None)
            if not isinstance(body, list) or len(body) < 2 or isinstance(node, ast.Module):
                continue
            for stmt in body:
                if isinstance(stmt, ast.Assign | ast.AugAssign | ast.Expr | ast.If | ast.For
                              | ast.While) and not (isinstance(stmt, ast.Expr)
                                                    and isinstance(stmt.value, ast.Constant)):
                    yield stmt


def mutations_of(path: str, source: str) -> list[Mutation]:
    """Every candidate mutation of one file, in a deterministic order.

    Args:
        path: file path relative to the repository root (used in ids and diffs).
        source: the file's source text.

    Returns:
        Candidates whose mutated source parses and differs from the original.
    """
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    found: dict[str, Mutation] = {}

    def add(kind: str, line: int, mutated: str, description: str) -> None:
        if mutated == source or mutated in {m.mutated for m in found.values()}:
            return
        try:
            ast.parse(mutated)
        except SyntaxError:
            return
        n = sum(key.startswith(f"{path}:{kind}:L{line}:") for key in found)
        found[f"{path}:{kind}:L{line}:{n}"] = Mutation(path, kind, line, source, mutated,
                                                       f"{description} at line {line}", n)

    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef) and node.body
                  and isinstance(node.body[0], ast.Expr)}
    for node in ast.walk(tree):
        if not isinstance(node, ast.expr) or id(node) in docstrings:
            continue
        text = _segment(lines, node)
        if text is None or text != ast.unparse(node):
            continue
        for kind, new, description in _expression_variants(node):
            add(kind, node.lineno, _replace(lines, node, ast.unparse(new)), description)
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt):
            continue
        text = _segment(lines, node)
        if text is None or text != ast.unparse(node):
            continue
        for kind, new, description in _statement_variants(node):
            add(kind, node.lineno, _replace(lines, node, ast.unparse(new)), description)
    for test in _condition_nodes(tree):
        text = _segment(lines, test)
        if text is None or text != ast.unparse(test):
            continue
        inverted = ast.unparse(ast.UnaryOp(ast.Not(), copy.deepcopy(test)))
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            inverted = ast.unparse(test.operand)
        add("invert", test.lineno, _replace(lines, test, inverted), "condition inverted")
    for stmt in _removable_statements(tree):
        start, end = stmt.lineno - 1, stmt.end_lineno or stmt.lineno
        mutated = "".join([*lines[:start], *lines[end:]])
        add("remove", stmt.lineno, mutated, f"{type(stmt).__name__.lower()} statement removed")
    return [found[key] for key in sorted(found, key=_sort_key)]


def _sort_key(key: str) -> tuple[str, int, str, int]:
    path, kind, line, n = key.rsplit(":", 3)
    return path, int(line[1:]), kind, int(n)
