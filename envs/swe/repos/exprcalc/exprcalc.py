"""exprcalc: tokenize, parse and evaluate arithmetic expressions.

Grammar (lowest to highest precedence)::

    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/" | "%") unary)*
    unary   := "-" unary | power
    power   := atom ("^" unary)?          # right-associative, binds tighter than unary minus
    atom    := NUMBER | NAME | NAME "(" args ")" | "(" expr ")"
    args    := (expr ("," expr)*)?

Numbers are integers or decimals (``12``, ``3.5``, ``.5``). ``/`` is true division; ``%`` is
Python's modulo. The parser builds a small tree of tuples:

* ``("num", value)``, ``("var", name)``, ``("neg", operand)``,
* ``("bin", op, left, right)``, ``("call", name, [args])``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

OPERATORS = "+-*/%^(),"
FUNCTIONS = {
    "abs": (1, abs),
    "min": (2, min),
    "max": (2, max),
    "sqrt": (1, math.sqrt),
}
PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "%": 2, "^": 3}


class ExprError(ValueError):
    """A syntax or evaluation error; ``position`` is the 0-based character offset (or -1)."""

    def __init__(self, message: str, position: int = -1) -> None:
        super().__init__(message if position < 0 else f"{message} at position {position}")
        self.position = position


@dataclass(frozen=True)
class Token:
    """One token: ``kind`` is ``num``, ``name``, ``op`` or ``end``."""

    kind: str
    text: str
    position: int


def tokenize(source: str) -> list[Token]:
    """Split ``source`` into tokens, ending with an ``end`` token."""
    tokens = []
    i = 0
    while i < len(source):
        char = source[i]
        if char.isspace():
            i += 1
            continue
        start = i
        if char.isdigit() or char == ".":
            dots = 0
            while i < len(source) and (source[i].isdigit() or source[i] == "."):
                if source[i] == ".":
                    dots += 1
                i += 1
            text = source[start:i]
            if dots > 1 or text == ".":
                raise ExprError(f"malformed number {text!r}", start)
            tokens.append(Token("num", text, start))
        elif char.isalpha() or char == "_":
            while i < len(source) and (source[i].isalnum() or source[i] == "_"):
                i += 1
            tokens.append(Token("name", source[start:i], start))
        elif char in OPERATORS:
            tokens.append(Token("op", char, start))
            i += 1
        else:
            raise ExprError(f"unexpected character {char!r}", start)
    tokens.append(Token("end", "", len(source)))
    return tokens


class Parser:
    """Recursive-descent parser over a token list."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, text: str) -> Token:
        token = self.peek()
        if token.text != text or token.kind != "op":
            raise ExprError(f"expected {text!r}", token.position)
        return self.advance()

    def parse(self) -> tuple:
        tree = self.expr()
        token = self.peek()
        if token.kind != "end":
            raise ExprError(f"unexpected {token.text!r}", token.position)
        return tree

    def expr(self) -> tuple:
        left = self.term()
        while self.peek().text in ("+", "-") and self.peek().kind == "op":
            op = self.advance().text
            left = ("bin", op, left, self.term())
        return left

    def term(self) -> tuple:
        left = self.unary()
        while self.peek().text in ("*", "/", "%") and self.peek().kind == "op":
            op = self.advance().text
            left = ("bin", op, left, self.unary())
        return left

    def unary(self) -> tuple:
        if self.peek().text == "-" and self.peek().kind == "op":
            self.advance()
            return ("neg", self.unary())
        return self.power()

    def power(self) -> tuple:
        base = self.atom()
        if self.peek().text == "^" and self.peek().kind == "op":
            self.advance()
            return ("bin", "^", base, self.unary())
        return base

    def atom(self) -> tuple:
        token = self.advance()
        if token.kind == "num":
            value = float(token.text) if "." in token.text else int(token.text)
            return ("num", value)
        if token.kind == "name":
            if self.peek().text == "(":
                self.advance()
                args = []
                if self.peek().text != ")":
                    args.append(self.expr())
                    while self.peek().text == ",":
                        self.advance()
                        args.append(self.expr())
                self.expect(")")
                return ("call", token.text, args)
            return ("var", token.text)
        if token.text == "(":
            inner = self.expr()
            self.expect(")")
            return inner
        raise ExprError(f"unexpected {token.text or 'end of input'!r}", token.position)


def parse(source: str) -> tuple:
    """The expression tree of ``source``."""
    return Parser(tokenize(source)).parse()


def evaluate(tree: tuple, variables: dict[str, float] | None = None) -> float:
    """The value of an expression tree; unknown names and bad calls raise :class:`ExprError`."""
    variables = variables or {}
    kind = tree[0]
    if kind == "num":
        return tree[1]
    if kind == "var":
        if tree[1] not in variables:
            raise ExprError(f"unknown variable {tree[1]!r}")
        return variables[tree[1]]
    if kind == "neg":
        return -evaluate(tree[1], variables)
    if kind == "call":
        name, args = tree[1], tree[2]
        if name not in FUNCTIONS:
            raise ExprError(f"unknown function {name!r}")
        arity, function = FUNCTIONS[name]
        if len(args) != arity:
            raise ExprError(f"{name} takes {arity} argument(s), got {len(args)}")
        return function(*(evaluate(arg, variables) for arg in args))
    op, left, right = tree[1], evaluate(tree[2], variables), evaluate(tree[3], variables)
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op in ("/", "%") and right == 0:
        raise ExprError("division by zero")
    if op == "/":
        return left / right
    if op == "%":
        return left % right
    return left**right


def calc(source: str, **variables: float) -> float:
    """Parse and evaluate ``source`` with the given variables."""
    return evaluate(parse(source), variables)


def free_variables(tree: tuple) -> set[str]:
    """Names of the variables an expression tree reads (function names excluded)."""
    kind = tree[0]
    if kind == "var":
        return {tree[1]}
    if kind == "neg":
        return free_variables(tree[1])
    if kind == "bin":
        return free_variables(tree[2]) | free_variables(tree[3])
    if kind == "call":
        names: set[str] = set()
        for arg in tree[2]:
            names |= free_variables(arg)
        return names
    return set()


def to_rpn(tree: tuple) -> str:
    """Reverse Polish notation of a tree: ``1 + 2 * x`` -> ``1 2 x * +``; ``neg`` is ``~``."""
    kind = tree[0]
    if kind == "num":
        return str(tree[1])
    if kind == "var":
        return tree[1]
    if kind == "neg":
        return f"{to_rpn(tree[1])} ~"
    if kind == "call":
        parts = [to_rpn(arg) for arg in tree[2]]
        return " ".join([*parts, f"{tree[1]}/{len(tree[2])}"])
    return f"{to_rpn(tree[2])} {to_rpn(tree[3])} {tree[1]}"


def to_infix(tree: tuple, parent: int = 0) -> str:
    """Infix text, parenthesised only where the tree's meaning needs it (``parent``: the
    precedence the context requires)."""
    kind = tree[0]
    if kind == "num":
        return str(tree[1])
    if kind == "var":
        return tree[1]
    if kind == "neg":
        inner = to_infix(tree[1], 3)
        return f"-{inner}" if parent <= 3 else f"(-{inner})"
    if kind == "call":
        return f"{tree[1]}({', '.join(to_infix(arg) for arg in tree[2])})"
    op = tree[1]
    level = PRECEDENCE[op]
    if op == "^":  # right-associative: the left side needs parentheses at equal precedence
        text = f"{to_infix(tree[2], level + 1)} ^ {to_infix(tree[3], level)}"
    else:  # left-associative: the right side needs them
        text = f"{to_infix(tree[2], level)} {op} {to_infix(tree[3], level + 1)}"
    return f"({text})" if level < parent else text
