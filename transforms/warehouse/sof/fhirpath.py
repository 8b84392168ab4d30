"""A small FHIRPath parser: text → AST, for the subset SQL-on-FHIR views use.

Why our own parser: the compiler needs the tree (to translate it to SQL), not an evaluator,
and the subset is small — navigation, indexers, function calls, literals, %constants and
the usual operators with FHIRPath precedence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from transforms.warehouse.sof.errors import FhirPathSyntaxError


@dataclass(frozen=True)
class Literal:
    value: object  # str, int, Decimal, bool, or None for {}
    kind: str  # 'string' | 'integer' | 'decimal' | 'boolean' | 'date' | 'datetime' | 'time' | 'empty'


@dataclass(frozen=True)
class External:
    name: str  # %name, without the percent sign


@dataclass(frozen=True)
class This:
    pass


@dataclass(frozen=True)
class Member:
    """Navigation ``base.name`` (base None = the current focus)."""

    base: object | None
    name: str


@dataclass(frozen=True)
class Call:
    """Function invocation ``base.name(args)`` (base None = the current focus)."""

    base: object | None
    name: str
    args: tuple = field(default_factory=tuple)


@dataclass(frozen=True)
class Index:
    base: object
    index: object


@dataclass(frozen=True)
class Binary:
    op: str
    left: object
    right: object


@dataclass(frozen=True)
class Unary:
    op: str
    operand: object


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<datetime>@T?\d{2}[0-9T:.+\-Z]*)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<ext>%(?:[A-Za-z_][A-Za-z0-9_\-]*|`[^`]*`|'[^']*'))
  | (?P<special>\$this|\$index|\$total)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)
  | (?P<op><=|>=|!=|!~|[=~<>+\-*/&|.,()\[\]{}])
    """,
    re.VERBOSE,
)

_ESCAPES = {"'": "'", '"': '"', "`": "`", "r": "\r", "n": "\n", "t": "\t", "f": "\f", "\\": "\\", "/": "/"}


def _unescape(body: str) -> str:
    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", lambda m: chr(int(m.group(1)[1:], 16))
                  if m.group(1).startswith("u") and len(m.group(1)) == 5 else _ESCAPES.get(m.group(1), m.group(1)), body)


def tokenize(text: str) -> list[tuple[str, str, int]]:
    """(kind, text, position) tokens; raises FhirPathSyntaxError on a character it cannot read."""
    pos, out = 0, []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise FhirPathSyntaxError(f"FHIRPath {text!r}: unexpected character {text[pos]!r} at position {pos}")
        if m.lastgroup != "ws":
            out.append((m.lastgroup, m.group(), pos))
        pos = m.end()
    return out


# Binary operators from loosest to tightest binding (FHIRPath §Operator precedence).
_LEVELS: list[tuple[str, ...]] = [
    ("implies",), ("or", "xor"), ("and",), ("in", "contains"), ("=", "~", "!=", "!~"),
    ("<", ">", "<=", ">="), ("|",), ("is", "as"), ("+", "-", "&"), ("*", "/", "div", "mod"),
]


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = tokenize(text)
        self.i = 0

    def error(self, msg: str) -> FhirPathSyntaxError:
        where = self.toks[self.i][2] if self.i < len(self.toks) else len(self.text)
        return FhirPathSyntaxError(f"FHIRPath {self.text!r}: {msg} at position {where}")

    def peek(self) -> tuple[str, str, int] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def accept(self, value: str) -> bool:
        t = self.peek()
        if t and t[1] == value and t[0] in ("op", "ident"):
            self.i += 1
            return True
        return False

    def expect(self, value: str) -> None:
        if not self.accept(value):
            raise self.error(f"expected {value!r}")

    def parse(self) -> object:
        if not self.toks:
            raise self.error("empty expression")
        node = self.binary(0)
        if self.peek() is not None:
            raise self.error(f"unexpected {self.peek()[1]!r}")
        return node

    def binary(self, level: int) -> object:
        if level == len(_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while (t := self.peek()) and t[0] in ("op", "ident") and t[1] in _LEVELS[level]:
            self.i += 1
            if t[1] in ("is", "as"):
                right = self.type_name()
            else:
                right = self.binary(level + 1)
            left = Binary(t[1], left, right)
        return left

    def type_name(self) -> Literal:
        t = self.peek()
        if not t or t[0] != "ident":
            raise self.error("expected a type name")
        self.i += 1
        name = t[1].strip("`")
        while self.accept("."):
            name = self.peek()[1].strip("`")
            self.i += 1
        return Literal(name, "type")

    def unary(self) -> object:
        t = self.peek()
        if t and t[0] == "op" and t[1] in ("+", "-"):
            self.i += 1
            return Unary(t[1], self.unary())
        return self.postfix()

    def postfix(self) -> object:
        node = self.term()
        while True:
            if self.accept("."):
                node = self.invocation(node)
            elif self.accept("["):
                idx = self.binary(0)
                self.expect("]")
                node = Index(node, idx)
            else:
                return node

    def invocation(self, base: object | None) -> object:
        t = self.peek()
        if not t or t[0] != "ident":
            raise self.error("expected a name after '.'" if base is not None else "expected an expression")
        self.i += 1
        name = t[1].strip("`")
        if self.accept("("):
            args: list[object] = []
            if not self.accept(")"):
                args.append(self.binary(0))
                while self.accept(","):
                    args.append(self.binary(0))
                self.expect(")")
            return Call(base, name, tuple(args))
        return Member(base, name)

    def term(self) -> object:
        t = self.peek()
        if t is None:
            raise self.error("unexpected end of expression")
        kind, text, _ = t
        if kind == "string":
            self.i += 1
            return Literal(_unescape(text[1:-1]), "string")
        if kind == "number":
            self.i += 1
            return Literal(Decimal(text), "decimal") if "." in text else Literal(int(text), "integer")
        if kind == "datetime":
            self.i += 1
            body = text[1:]
            lit_kind = "time" if body.startswith("T") else ("datetime" if "T" in body else "date")
            return Literal(body.lstrip("T"), lit_kind)
        if kind == "ext":
            self.i += 1
            return External(text[1:].strip("`'"))
        if kind == "special":
            self.i += 1
            if text == "$this":
                return This()
            raise self.error(f"{text} is not supported")
        if kind == "op" and text == "(":
            self.i += 1
            node = self.binary(0)
            self.expect(")")
            return node
        if kind == "op" and text == "{":
            self.i += 1
            self.expect("}")
            return Literal(None, "empty")
        if kind == "ident" and text in ("true", "false"):
            self.i += 1
            return Literal(text == "true", "boolean")
        if kind == "ident":
            return self.invocation(None)
        raise self.error(f"unexpected {text!r}")


def parse(text: str) -> object:
    """Parse one FHIRPath expression into an AST of the dataclasses above."""
    if not isinstance(text, str):
        raise FhirPathSyntaxError(f"FHIRPath must be a string, got {type(text).__name__} {text!r}")
    return _Parser(text).parse()
