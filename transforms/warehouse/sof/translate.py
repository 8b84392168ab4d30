"""The ONE FHIRPath → SQL translator (engine spellings come from ``dialect``).

Why collections as row sets: a FHIRPath value is a collection, so every expression becomes a
"row source" — a FROM chain of JSON-array iterations with an ordinal per step, filters, and a
value expression. ``name.where(use='official').family`` is two lateral iterations and one
filter. Functions then aggregate that row source (``exists()`` → EXISTS, ``first()`` →
ORDER BY … LIMIT 1, ``join()`` → STRING_AGG). Singletons with no FROM chain stay plain
expressions, so ``id`` or ``%rowIndex`` costs nothing.

On DuckDB the same collections are LIST expressions instead (``Dialect.lists``):
navigation is ``flatten(list_transform(…))``, where() is ``list_filter``, first() is ``[1]``.
Why: DuckDB's planner cost grows steeply with the number of correlated subqueries in one
SELECT (40 columns took over 30 s to plan), while list lambdas are plain expressions.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Literal as TypingLiteral

from transforms.warehouse.sof import fhirpath as fp
from transforms.warehouse.sof import schema
from transforms.warehouse.sof.dialect import Dialect, quote_string
from transforms.warehouse.sof.errors import SofError, UnsupportedFhirPath

Kind = TypingLiteral["json", "text", "num", "int", "bool"]

_INT_TYPES = {"integer", "positiveInt", "unsignedInt", "integer64"}
_BOOL_TYPES = {"boolean"}
_NUM_TYPES = {"decimal"}


def kind_of_fhir_type(fhir_type: str | None) -> Kind | None:
    """The SQL kind a column / constant of this FHIR primitive type becomes (None: leave as is)."""
    if fhir_type is None:
        return None
    t = fhir_type[0].lower() + fhir_type[1:]
    if t in _INT_TYPES:
        return "int"
    if t in _BOOL_TYPES:
        return "bool"
    if t in _NUM_TYPES:
        return "num"
    return "text"


@dataclass(frozen=True)
class Coll:
    """A FHIRPath collection as a SQL row source: FROM chain, filters, ordinals and a value."""

    value: str
    kind: Kind
    froms: tuple[str, ...] = ()
    ords: tuple[str, ...] = ()
    conds: tuple[str, ...] = ()
    is_list: bool = False  # value is a LIST expression of the elements (list dialects only)
    ftype: str | None = None  # FHIR type of the elements when the schema knows it
    multi: bool = False  # the schema says this path can hold many values

    @property
    def is_plain(self) -> bool:
        return not self.froms and not self.conds and not self.is_list


@dataclass
class Context:
    dialect: Dialect
    focus: str
    focus_kind: Kind = "json"
    row_index: str = "0"
    constants: dict[str, tuple[object, str]] = field(default_factory=dict)  # name → (value, fhir type)
    resource_type: str | None = None
    counter: itertools.count = field(default_factory=itertools.count)
    focus_type: str | None = None

    def alias(self, prefix: str = "t") -> str:
        return f"{prefix}{next(self.counter)}"

    def at(self, focus: str, kind: Kind = "json", row_index: str | None = None, ftype: str | None = None) -> Context:
        return replace(self, focus=focus, focus_kind=kind, focus_type=ftype,
                       row_index=self.row_index if row_index is None else row_index)

    def focus_coll(self) -> Coll:
        return Coll(value=self.focus, kind=self.focus_kind, ftype=self.focus_type)


# ---------------------------------------------------------------- rendering a row source
def from_clause(c: Coll) -> str:
    if not c.froms:
        return ""
    return " FROM " + ", ".join(c.froms)


def where_clause(c: Coll, extra: tuple[str, ...] = ()) -> str:
    conds = c.conds + extra
    return (" WHERE " + " AND ".join(conds)) if conds else ""


def order_clause(c: Coll, descending: bool = False) -> str:
    if not c.ords:
        return ""
    return " ORDER BY " + ", ".join(o + (" DESC" if descending else "") for o in c.ords)


def rows_sql(c: Coll, value: str | None = None) -> str:
    return f"SELECT {value or c.value} AS v{from_clause(c)}{where_clause(c)}"


def scalar(c: Coll, mode: TypingLiteral["first", "last", "single"] = "first", value: str | None = None) -> str:
    """One value of the collection as an SQL expression (NULL when empty).

    'single' leaves out LIMIT so the engine itself fails when there is more than one value
    (FHIRPath's singleton rule, and the spec's "collection must be true" error).
    """
    v = value or c.value
    if c.is_list:
        if mode == "single":
            return (f"CASE WHEN len({c.value}) > 1 THEN error('a non-collection column or operand "
                    f"returned ' || len({c.value}) || ' values (set collection: true or use first())') "
                    f"ELSE {c.value}[1] END")
        return f"{c.value}[{-1 if mode == 'last' else 1}]"
    if c.is_plain:
        return v
    if not c.froms:
        return f"CASE WHEN {' AND '.join(c.conds)} THEN {v} END"
    limit = "" if mode == "single" else " LIMIT 1"
    order = "" if mode == "single" else order_clause(c, descending=(mode == "last"))
    return f"(SELECT {v}{from_clause(c)}{where_clause(c)}{order}{limit})"


def exists(c: Coll) -> str:
    if c.is_list:
        return f"(len({c.value}) > 0)"
    if c.is_plain:
        return f"({c.value} IS NOT NULL)"
    return f"EXISTS (SELECT 1{from_clause(c)}{where_clause(c, (f'{c.value} IS NOT NULL',))})"


def singleton(value: str, kind: Kind) -> Coll:
    """A 0-or-1 collection from an expression that may be NULL."""
    return Coll(value=value, kind=kind)


def as_list(c: Coll) -> str:
    """The collection as a LIST expression (list dialects)."""
    if c.is_list:
        return c.value
    x = scalar(c)
    return f"(CASE WHEN {x} IS NULL THEN [] ELSE [{x}] END)"


def item_rows(ctx: Context, c: Coll) -> str:
    """SELECT item, idx: one row per element, idx its 0-based position (for forEach / repeat)."""
    if ctx.dialect.lists:
        # One unnest of {item, idx} structs: the list expression is evaluated once (3x faster).
        x, i = ctx.alias("x"), ctx.alias("i")
        pairs = f"list_transform({as_list(c)}, lambda {x}, {i}: {{'item': {x}, 'idx': {i} - 1}})"
        return f"SELECT unnest({pairs}, recursive := true)"
    number = f"ROW_NUMBER() OVER ({order_clause(c).strip()}) - 1"
    return f"SELECT {c.value} AS item, {number} AS idx{from_clause(c)}{where_clause(c, (f'{c.value} IS NOT NULL',))}"


def collection_json(ctx: Context, c: Coll) -> str:
    """The whole collection as a JSON array (``collection: true`` columns), [] when empty."""
    d = ctx.dialect
    if d.lists:
        if c.kind == "json":
            return f"COALESCE(to_json({as_list(c)}), {d.empty_json_array()})"
        var = ctx.alias("z")
        return f"COALESCE(to_json(list_transform({as_list(c)}, lambda {var}: {convert(d, var, c.kind, 'json')})), " \
               f"{d.empty_json_array()})"
    item = convert(d, c.value, c.kind, "json")
    agg = d.json_agg(item, order_clause(c))
    present = where_clause(c, (f"{c.value} IS NOT NULL",))
    return f"COALESCE((SELECT {agg}{from_clause(c)}{present}), {d.empty_json_array()})"


def map_items(ctx: Context, base: Coll, fn, kind: Kind) -> Coll:
    """Apply ``fn(element_sql) -> sql`` to every element; NULL results drop out."""
    if base.is_plain:
        return Coll(value=fn(base.value), kind=kind)
    if ctx.dialect.lists:
        var, keep = ctx.alias("m"), ctx.alias("k")
        mapped = f"list_transform({as_list(base)}, lambda {var}: {fn(var)})"
        return Coll(value=f"list_filter({mapped}, lambda {keep}: {keep} IS NOT NULL)", kind=kind, is_list=True,
                    multi=base.multi)
    value = fn(base.value)
    return replace(base, value=value, kind=kind, ftype=None, conds=base.conds + (f"{value} IS NOT NULL",))


def filter_items(ctx: Context, base: Coll, fn) -> Coll:
    """Keep the elements for which ``fn(element_sql) -> boolean sql`` is true."""
    if base.is_plain:
        return replace(base, value=f"(CASE WHEN {fn(base.value)} THEN {base.value} END)")
    if ctx.dialect.lists:
        var = ctx.alias("f")
        return replace(base, value=f"list_filter({as_list(base)}, lambda {var}: COALESCE({fn(var)}, FALSE))",
                       is_list=True, froms=(), ords=(), conds=())
    return replace(base, conds=base.conds + (fn(base.value),))


# ---------------------------------------------------------------- kind conversion
def convert(d: Dialect, sql: str, src: Kind, dst: Kind) -> str:
    if src == dst:
        return sql
    if src == "json":
        if dst == "text":
            return d.text(sql)
        if dst == "num":
            return d.number(sql)
        if dst == "int":
            return f"CAST({d.number(sql)} AS INTEGER)"
        return d.boolean(sql)
    if dst == "json":
        return d.to_json(sql)
    if dst == "text":
        return f"CAST({sql} AS VARCHAR)"
    if dst == "num":
        return f"CAST({sql} AS DOUBLE PRECISION)" if d.name == "postgresql" else f"CAST({sql} AS DOUBLE)"
    if dst == "int":
        return f"CAST({sql} AS INTEGER)"
    return f"CAST({sql} AS BOOLEAN)"


def as_bool(ctx: Context, c: Coll) -> str:
    return convert(ctx.dialect, scalar(c), c.kind, "bool")


# ---------------------------------------------------------------- translation
def translate(node: object, ctx: Context) -> Coll:
    """Translate one FHIRPath AST node, evaluated against ``ctx.focus``, to a row source."""
    d = ctx.dialect
    if isinstance(node, fp.Literal):
        return _literal(node)
    if isinstance(node, fp.External):
        return _external(node, ctx)
    if isinstance(node, fp.This):
        return ctx.focus_coll()
    if isinstance(node, fp.Member):
        if node.base is None and ctx.resource_type and node.name == ctx.resource_type:
            return ctx.focus_coll()
        base = translate(node.base, ctx) if node.base is not None else ctx.focus_coll()
        return navigate(ctx, base, node.name)
    if isinstance(node, fp.Index):
        base = translate(node.base, ctx)
        return nth(base, _const_int(node.index, ctx))
    if isinstance(node, fp.Call):
        return _call(node, ctx)
    if isinstance(node, fp.Binary):
        return _binary(node, ctx)
    if isinstance(node, fp.Unary):
        inner = translate(node.operand, ctx)
        if node.op == "+":
            return inner
        kind: Kind = "int" if inner.kind == "int" else "num"
        return replace(inner, value=f"(-{convert(d, inner.value, inner.kind, kind)})", kind=kind)
    raise UnsupportedFhirPath(f"cannot translate FHIRPath node {node!r}")


def _literal(node: fp.Literal) -> Coll:
    if node.kind == "empty":
        return Coll(value="NULL", kind="json", conds=("FALSE",))
    if node.kind == "boolean":
        return singleton("TRUE" if node.value else "FALSE", "bool")
    if node.kind == "integer":
        return singleton(str(node.value), "int")
    if node.kind == "decimal":
        return singleton(str(node.value), "num")
    if node.kind == "type":
        raise UnsupportedFhirPath(f"type specifier {node.value!r} is only allowed in ofType()/is/as")
    return singleton(quote_string(str(node.value)), "text")


def _external(node: fp.External, ctx: Context) -> Coll:
    if node.name == "rowIndex":
        return singleton(ctx.row_index, "int")
    if node.name in ("resource", "rootResource", "context"):
        raise UnsupportedFhirPath(f"%{node.name} is not supported")
    if node.name not in ctx.constants:
        known = ", ".join(sorted(ctx.constants)) or "none"
        raise SofError(f"FHIRPath uses undefined constant %{node.name} (defined: {known})")
    value, fhir_type = ctx.constants[node.name]
    kind = kind_of_fhir_type(fhir_type) or "text"
    if kind == "bool":
        return singleton("TRUE" if value else "FALSE", "bool")
    if kind in ("int", "num"):
        return singleton(str(value), kind)
    return singleton(quote_string(str(value)), "text")


def _const_int(node: object, ctx: Context) -> int:
    c = translate(node, ctx)
    if c.kind != "int" or not c.is_plain or not c.value.lstrip("-").isdigit():
        raise UnsupportedFhirPath(f"indexer must be an integer literal or constant, got {node!r}")
    return int(c.value)


def navigate(ctx: Context, base: Coll, name: str) -> Coll:
    """``base.name``: iterate the field of every element (arrays flatten, as FHIRPath does)."""
    if base.kind != "json":
        raise UnsupportedFhirPath(f"cannot navigate to {name!r} from a {base.kind} value")
    d = ctx.dialect
    info = schema.element(base.ftype, name)
    if info is None and (choices := schema.choice_types(base.ftype, name)):
        raise UnsupportedFhirPath(
            f"{base.ftype}.{name} is a choice element: say which type with {name}.ofType(T) "
            f"or the typed name ({', '.join(choices[:4])}{', ...' if len(choices) > 4 else ''})")
    ftype, multi = (info.type, base.multi or info.is_list) if info else (None, base.multi)
    if info is not None and not info.is_list:
        # Single-valued element: a plain JSON path, no iteration.
        if base.is_plain:
            return Coll(value=d.field(base.value, name), kind="json", ftype=ftype, multi=multi)
        if d.lists:
            var, keep = ctx.alias("e"), ctx.alias("k")
            mapped = f"list_transform({as_list(base)}, lambda {var}: {d.field(var, name)})"
            return Coll(value=f"list_filter({mapped}, lambda {keep}: {d.not_null(keep)})", kind="json",
                        is_list=True, ftype=ftype, multi=multi)
        value = d.field(base.value, name)
        return replace(base, value=value, kind="json", ftype=ftype, multi=multi,
                       conds=base.conds + (d.not_null(value),))
    if d.lists:
        def step(e: str) -> str:
            f = d.field(e, name)
            return (f"CASE WHEN json_type({f}) = 'ARRAY' THEN CAST({f} AS JSON[]) "
                    f"WHEN {f} IS NULL OR json_type({f}) = 'NULL' THEN CAST([] AS JSON[]) ELSE [{f}] END")
        if base.is_plain:
            return Coll(value=d.hoist(d.field(base.value, name), f"({step(base.value)})"), kind="json", is_list=True,
                        ftype=ftype, multi=multi)
        var = ctx.alias("e")
        return Coll(value=f"flatten(list_transform({as_list(base)}, lambda {var}: {step(var)}))",
                    kind="json", is_list=True, ftype=ftype, multi=multi)
    alias = ctx.alias()
    return Coll(
        ftype=ftype,
        multi=multi,
        value=f"{alias}.value",
        kind="json",
        froms=base.froms + (d.iterate(d.field(base.value, name), alias),),
        ords=base.ords + (d.ordinal(alias),),
        conds=base.conds + (d.not_null(f"{alias}.value"),),
    )


def nth(c: Coll, n: int, last: bool = False) -> Coll:
    if c.is_list:
        return Coll(value=f"{c.value}[{-1 - n if last else n + 1}]", kind=c.kind, ftype=c.ftype)
    if c.is_plain:
        return c if n == 0 else Coll(value="NULL", kind=c.kind, conds=("FALSE",))
    if not c.froms:
        return c if n == 0 else Coll(value="NULL", kind=c.kind, conds=("FALSE",))
    sub = (f"(SELECT {c.value}{from_clause(c)}{where_clause(c)}{order_clause(c, descending=last)}"
           f" LIMIT 1 OFFSET {n})")
    return Coll(value=sub, kind=c.kind, ftype=c.ftype)


def filter_where(ctx: Context, base: Coll, criterion: object) -> Coll:
    return filter_items(ctx, base, lambda e: as_bool(ctx, translate(criterion, ctx.at(e, base.kind, ftype=base.ftype))))


_REF = r"([^/]+)/([^/]+)$"  # "Type/id" at the end of a reference (relative or absolute URL)
_STRING_FUNCS = {"upper": "UPPER({x})", "lower": "LOWER({x})", "length": "LENGTH({x})",
                 "startsWith": "starts_with({x}, {a})", "endsWith": "(RIGHT({x}, LENGTH({a})) = {a})",
                 "contains": "(STRPOS({x}, {a}) > 0)", "toString": "{x}", "trim": "TRIM({x})"}
_STRING_KINDS: dict[str, Kind] = {"length": "int", "startsWith": "bool", "endsWith": "bool", "contains": "bool"}


def _call(node: fp.Call, ctx: Context) -> Coll:
    d = ctx.dialect
    name, args = node.name, node.args
    if name == "ofType":
        return _of_type(node, ctx)
    if name == "extension":
        base = translate(node.base, ctx) if node.base is not None else ctx.focus_coll()
        ext = navigate(ctx, base, "extension")
        url = scalar(translate(args[0], ctx))
        return filter_items(ctx, ext, lambda e: f"{d.text(d.field(e, 'url'))} = {url}")
    base = translate(node.base, ctx) if node.base is not None else ctx.focus_coll()
    _arity(node, {"where": (1, 1), "exists": (0, 1), "empty": (0, 0), "first": (0, 0), "last": (0, 0),
                  "count": (0, 0), "join": (0, 1), "not": (0, 0), "getResourceKey": (0, 0),
                  "getReferenceKey": (0, 1), "lowBoundary": (0, 1), "highBoundary": (0, 1),
                  "hasValue": (0, 0)}.get(name, (0, 1)))
    if name == "where":
        return filter_where(ctx, base, args[0])
    if name in ("exists", "hasValue"):
        if args:
            base = filter_where(ctx, base, args[0])
        return singleton(exists(base), "bool")
    if name == "empty":
        return singleton(f"(NOT {exists(base)})", "bool")
    if name == "first":
        return nth(base, 0)
    if name == "last":
        return nth(base, 0, last=True)
    if name == "count":
        if base.is_list:
            return singleton(f"len({base.value})", "int")
        return singleton(f"(SELECT COUNT(*){from_clause(base)}{where_clause(base)})"
                         if not base.is_plain else f"(CASE WHEN {base.value} IS NULL THEN 0 ELSE 1 END)", "int")
    if name == "not":
        return singleton(f"(NOT {as_bool(ctx, base)})", "bool")
    if name == "join":
        sep = scalar(translate(args[0], ctx)) if args else "''"
        if d.lists:
            var = ctx.alias("j")
            texts = f"list_transform({as_list(base)}, lambda {var}: {convert(d, var, base.kind, 'text')})"
            return singleton(f"COALESCE(array_to_string({texts}, {sep}), '')", "text")
        text = convert(d, base.value, base.kind, "text")
        agg = d.string_agg(text, sep, order_clause(base))
        return singleton(f"COALESCE((SELECT {agg}{from_clause(base)}{where_clause(base)}), '')", "text")
    if name == "getResourceKey":
        return map_items(ctx, base, lambda e: d.text(d.field(e, "id")), "text")
    if name == "getReferenceKey":
        def ref(e: str) -> str:
            return d.text(d.field(e, "reference"))
        if args:
            rtype = args[0]
            tname = rtype.name if isinstance(rtype, fp.Member) else getattr(rtype, "value", None)
            base = filter_items(ctx, base, lambda e: f"{d.regex_group(ref(e), _REF, 1)} = {quote_string(str(tname))}")
        return map_items(ctx, base, lambda e: d.regex_group(ref(e), _REF, 2), "text")
    if name in ("lowBoundary", "highBoundary"):
        from transforms.warehouse.sof.boundary import boundary, type_hint

        hint = type_hint(node.base)
        if base.kind == "json" and hint == "Quantity" or hint is None and base.kind == "json" and isinstance(
                node.base, fp.Member) and node.base.name == "value":
            hint = "decimal"
        return boundary(ctx, base, high=(name == "highBoundary"), hint=hint)
    if name in _STRING_FUNCS:
        a = scalar(translate(args[0], ctx)) if args else ""
        return map_items(ctx, base, lambda e: _STRING_FUNCS[name].format(x=convert(d, e, base.kind, "text"), a=a),
                         _STRING_KINDS.get(name, "text"))
    raise UnsupportedFhirPath(f"FHIRPath function {name}() is not supported")


def _arity(node: fp.Call, bounds: tuple[int, int]) -> None:
    lo, hi = bounds
    if not lo <= len(node.args) <= hi:
        raise SofError(f"FHIRPath {node.name}() takes {lo}..{hi} arguments, got {len(node.args)}")


_JSON_TYPE_TEST = {"string": "is_string", "code": "is_string", "id": "is_string", "uri": "is_string",
                   "integer": "is_number", "decimal": "is_number", "boolean": "is_boolean"}


def _of_type(node: fp.Call, ctx: Context) -> Coll:
    """``x.value.ofType(T)`` is the FHIR choice element ``valueT``; elsewhere a JSON type test."""
    if len(node.args) != 1:
        raise SofError("FHIRPath ofType() takes exactly one type argument")
    arg = node.args[0]
    tname = arg.name if isinstance(arg, fp.Member) else getattr(arg, "value", None)
    if not isinstance(tname, str):
        raise SofError(f"ofType() needs a type name, got {arg!r}")
    tname = tname.split(".")[-1]
    if isinstance(node.base, fp.Member):
        base = (translate(node.base.base, ctx) if node.base.base is not None
                else ctx.focus_coll())
        return navigate(ctx, base, node.base.name + tname[0].upper() + tname[1:])
    base = translate(node.base, ctx) if node.base is not None else ctx.focus_coll()
    test = _JSON_TYPE_TEST.get(tname)
    if base.kind != "json" or test is None:
        return base
    return filter_items(ctx, base, getattr(ctx.dialect, test))


_CMP = {"=": "=", "!=": "<>", "<": "<", ">": ">", "<=": "<=", ">=": ">=", "~": "=", "!~": "<>"}
_ARITH = {"+": "+", "-": "-", "*": "*", "/": "/"}


def _binary(node: fp.Binary, ctx: Context) -> Coll:
    d = ctx.dialect
    op = node.op
    if op in ("is", "as", "|", "in", "contains"):
        raise UnsupportedFhirPath(f"FHIRPath operator {op!r} is not supported")
    left, right = translate(node.left, ctx), translate(node.right, ctx)
    if op in ("and", "or"):
        return singleton(f"({as_bool(ctx, left)} {op.upper()} {as_bool(ctx, right)})", "bool")
    if op == "xor":
        return singleton(f"({as_bool(ctx, left)} <> {as_bool(ctx, right)})", "bool")
    if op == "implies":
        return singleton(f"((NOT {as_bool(ctx, left)}) OR {as_bool(ctx, right)})", "bool")
    if op == "&":
        a, b = (convert(d, scalar(x), x.kind, "text") for x in (left, right))
        return singleton(f"(COALESCE({a}, '') || COALESCE({b}, ''))", "text")
    if op in _CMP:
        return singleton(_compare(d, left, right, _CMP[op], fold_case=op in ("~", "!~")), "bool")
    if op == "+" and "text" in (left.kind, right.kind):
        a, b = (convert(d, scalar(x), x.kind, "text") for x in (left, right))
        return singleton(f"({a} || {b})", "text")
    if op in _ARITH or op in ("div", "mod"):
        kind: Kind = "int" if left.kind == right.kind == "int" and op != "/" else "num"
        a, b = (convert(d, scalar(x), x.kind, kind if x.kind != "json" else "num") for x in (left, right))
        if op == "div":
            return singleton(f"CAST(FLOOR({a} / NULLIF({b}, 0)) AS INTEGER)", "int")
        if op == "mod":
            return singleton(f"MOD({a}, NULLIF({b}, 0))", kind)
        if op == "/":
            return singleton(f"(CAST({a} AS DOUBLE PRECISION) / NULLIF({b}, 0))", "num")
        return singleton(f"({a} {_ARITH[op]} {b})", kind)
    raise UnsupportedFhirPath(f"FHIRPath operator {op!r} is not supported")


def _compare(d: Dialect, left: Coll, right: Coll, op: str, fold_case: bool = False) -> str:
    a, b = scalar(left), scalar(right)
    kinds = {left.kind, right.kind}
    if kinds == {"json"}:
        text_a, text_b = d.text(a), d.text(b)
        if fold_case:
            text_a, text_b = f"LOWER({text_a})", f"LOWER({text_b})"
        return (f"(CASE WHEN {d.is_number(a)} AND {d.is_number(b)} THEN {d.number(a)} {op} {d.number(b)} "
                f"ELSE {text_a} {op} {text_b} END)")
    target: Kind = ("bool" if "bool" in kinds else "num" if kinds & {"num", "int"} else "text")
    a, b = convert(d, a, left.kind, target), convert(d, b, right.kind, target)
    if fold_case and target == "text":
        a, b = f"LOWER({a})", f"LOWER({b})"
    return f"({a} {op} {b})"
