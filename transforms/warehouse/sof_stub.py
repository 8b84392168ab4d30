"""STAND-IN for H5's SQL-on-FHIR compiler (``transforms.warehouse.sof``), used only while it is absent.

Why it exists: the warehouse loads and its tests must run before the real compiler lands.
It evaluates a ViewDefinition in Python over resource JSON for the small FHIRPath subset
the views in ``mappings/views/`` use (navigation, ``where``, ``extension(url)``, ``first()``,
``exists()``, ``join()``, ``ofType()``, ``getResourceKey()``, ``getReferenceKey()``, ``=``,
``!=``, ``and``, ``or``). It is not a compiler and must not grow into one: ``views.py``
switches to H5's ``compile_view`` as soon as the module can be imported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<num>\d+(?:\.\d+)?)|(?P<op>!=|=|\(|\)|\.|,)"
                    r"|(?P<name>[A-Za-z_$%][A-Za-z0-9_]*))")


def _tokens(expr: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(expr.rstrip()):
        m = _TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise ValueError(f"sof_stub cannot parse FHIRPath {expr!r} at {pos}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, expr: str):
        self.expr, self.toks, self.i = expr, _tokens(expr), 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise ValueError(f"sof_stub: expected {value!r} in FHIRPath {self.expr!r}")
        self.i += 1
        return tok

    def parse(self) -> tuple:
        node = self.or_expr()
        if self.peek() is not None:
            raise ValueError(f"sof_stub: trailing input in FHIRPath {self.expr!r}")
        return node

    def or_expr(self) -> tuple:
        node = self.and_expr()
        while self.peek() == ("name", "or"):
            self.take()
            node = ("or", node, self.and_expr())
        return node

    def and_expr(self) -> tuple:
        node = self.cmp()
        while self.peek() == ("name", "and"):
            self.take()
            node = ("and", node, self.cmp())
        return node

    def cmp(self) -> tuple:
        node = self.path()
        tok = self.peek()
        if tok and tok[1] in ("=", "!="):
            self.take()
            node = (tok[1], node, self.path())
        return node

    def path(self) -> tuple:
        steps = [self.step()]
        while self.peek() == ("op", "."):
            self.take()
            steps.append(self.step())
        return ("path", steps)

    def step(self) -> tuple:
        kind, val = self.take()
        if kind == "str":
            return ("lit", val[1:-1].replace("\\'", "'"))
        if kind == "num":
            return ("lit", float(val) if "." in val else int(val))
        if val in ("true", "false"):
            return ("lit", val == "true")
        if self.peek() == ("op", "("):
            self.take()
            args = []
            while self.peek() != ("op", ")"):
                args.append(self.or_expr())
                if self.peek() == ("op", ","):
                    self.take()
            self.take(")")
            return ("fn", val, args)
        return ("field", val)


def _flat(values: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if isinstance(v, list):
            out.extend(x for x in v if x is not None)
        elif v is not None:
            out.append(v)
    return out


def _truthy(coll: list[Any]) -> bool:
    return bool(coll) and coll[0] is not False


def _eval(node: tuple, coll: list[Any], root: dict) -> list[Any]:
    kind = node[0]
    if kind == "path":
        for step in node[1]:
            coll = _step(step, coll, root)
        return coll
    if kind in ("=", "!="):
        left, right = _eval(node[1], coll, root), _eval(node[2], coll, root)
        if not left or not right:
            return []
        return [(left == right) if kind == "=" else (left != right)]
    if kind == "and":
        return [_truthy(_eval(node[1], coll, root)) and _truthy(_eval(node[2], coll, root))]
    if kind == "or":
        return [_truthy(_eval(node[1], coll, root)) or _truthy(_eval(node[2], coll, root))]
    raise ValueError(f"sof_stub: unsupported node {kind}")


def _step(step: tuple, coll: list[Any], root: dict) -> list[Any]:
    kind = step[0]
    if kind == "lit":
        return [step[1]]
    if kind == "field":
        name = step[1]
        if name == "$this":
            return coll
        if name == root.get("resourceType") and coll == [root]:
            return coll
        return _flat(item.get(name) for item in coll if isinstance(item, dict))
    name, args = step[1], step[2]
    if name == "where":
        return [item for item in coll if _truthy(_eval(args[0], [item], root))]
    if name == "first":
        return coll[:1]
    if name == "exists":
        if args:
            coll = [item for item in coll if _truthy(_eval(args[0], [item], root))]
        return [bool(coll)]
    if name == "empty":
        return [not coll]
    if name == "not":
        return [not _truthy(coll)] if coll else []
    if name == "extension":
        url = _eval(args[0], [root], root)[0]
        return [e for e in _flat(item.get("extension") for item in coll if isinstance(item, dict))
                if e.get("url") == url]
    if name == "ofType":
        type_name = args[0][1][0][1]
        return [item for item in coll if isinstance(item, dict) and item.get("resourceType") == type_name]
    if name == "join":
        sep = _eval(args[0], [root], root)[0] if args else ""
        return [sep.join(str(v) for v in coll)] if coll else []
    if name == "getResourceKey":
        return [item["id"] for item in coll if isinstance(item, dict) and "id" in item]
    if name == "getReferenceKey":
        want = args[0][1][0][1] if args else None
        out = []
        for item in coll:
            ref = item.get("reference", "") if isinstance(item, dict) else ""
            rtype, _, rid = ref.rpartition("/")
            if rid and (want is None or rtype.endswith(want)):
                out.append(rid)
        return out
    raise ValueError(f"sof_stub: unsupported function {name}()")


def evaluate_path(expr: str, resource: dict) -> list[Any]:
    """The collection an expression yields on one resource."""
    return _eval(_Parser(expr).parse(), [resource], resource)


def _columns(select: dict, resource: dict, node: Any) -> list[dict[str, Any]]:
    """Rows of one select clause (columns, nested select, forEach, forEachOrNull)."""
    anchor_expr = select.get("forEach") or select.get("forEachOrNull")
    anchors = _eval(_Parser(anchor_expr).parse(), [node], resource) if anchor_expr else [node]
    if not anchors and select.get("forEachOrNull"):
        anchors = [None]
    rows: list[dict[str, Any]] = []
    for anchor in anchors:
        row: dict[str, Any] = {}
        for col in select.get("column", []):
            vals = [] if anchor is None else _eval(_Parser(col["path"]).parse(), [anchor], resource)
            if len(vals) > 1 and not col.get("collection"):
                raise ValueError(f"sof_stub: column {col['name']} path {col['path']!r} yielded {len(vals)} "
                                 f"values on {resource.get('resourceType')}/{resource.get('id')}")
            row[col["name"]] = vals if col.get("collection") else (vals[0] if vals else None)
        partials = [row]
        for sub in select.get("select", []):
            sub_rows = _columns(sub, resource, anchor) if anchor is not None else []
            partials = [{**p, **s} for p in partials for s in sub_rows]
        rows.extend(partials)
    return rows


def evaluate_view(view: dict, resource: dict) -> list[dict[str, Any]]:
    """The rows one resource contributes to a view (resource type and ``where`` applied)."""
    if resource.get("resourceType") != view["resource"]:
        return []
    for w in view.get("where", []):
        if not _truthy(evaluate_path(w["path"], resource)):
            return []
    return _columns({"column": [], "select": view.get("select", [])}, resource, resource)
