"""lowBoundary() / highBoundary() in SQL: the range a partial date, time or decimal stands for.

Why a type hint: without a FHIR schema the JSON string "2010-10-10" could be a date or a
dateTime, whose boundaries differ; the translator passes the type named by ``ofType(T)`` or
implied by the element name (``birthDate`` → date, ``valueDateTime`` → dateTime).
"""

from __future__ import annotations

from transforms.warehouse.sof.translate import Coll, Context, Kind, convert, map_items

# Earliest / latest time-zone offsets (FHIRPath §lowBoundary: +14:00 low, -12:00 high).
_TZ = {False: "+14:00", True: "-12:00"}


def _date(x: str, high: bool) -> str:
    if not high:
        return (f"CASE LENGTH({x}) WHEN 4 THEN {x} || '-01-01' WHEN 7 THEN {x} || '-01' ELSE {x} END")
    end_of_month = f"CAST(CAST(CAST({x} || '-01' AS DATE) + INTERVAL '1 month' - INTERVAL '1 day' AS DATE) AS VARCHAR)"
    return f"CASE LENGTH({x}) WHEN 4 THEN {x} || '-12-31' WHEN 7 THEN {end_of_month} ELSE {x} END"


def _time(x: str, high: bool) -> str:
    hh, mm, ss = (":59:59.999", ":59.999", ".999") if high else (":00:00.000", ":00.000", ".000")
    return f"CASE LENGTH({x}) WHEN 2 THEN {x} || '{hh}' WHEN 5 THEN {x} || '{mm}' WHEN 8 THEN {x} || '{ss}' ELSE {x} END"


def _datetime(x: str, high: bool) -> str:
    clock = "T23:59:59.999" if high else "T00:00:00.000"
    return f"CASE WHEN STRPOS({x}, 'T') = 0 THEN {_date(x, high)} || '{clock}{_TZ[high]}' ELSE {x} END"


def _decimal(ctx: Context, x: str, high: bool) -> str:
    d = ctx.dialect
    scale = f"CASE WHEN STRPOS({x}, '.') = 0 THEN 0 ELSE LENGTH({x}) - STRPOS({x}, '.') END"
    half = f"(0.5 / POWER(10, {scale}))"
    num = f"CAST({x} AS DOUBLE PRECISION)" if d.name == "postgresql" else f"CAST({x} AS DOUBLE)"
    return f"({num} {'+' if high else '-'} {half})"


def type_hint(base_node: object) -> str | None:
    """'date' | 'dateTime' | 'time' | 'decimal' from the FHIRPath node the boundary applies to."""
    from transforms.warehouse.sof import fhirpath as fp

    if isinstance(base_node, fp.Call) and base_node.name == "ofType" and base_node.args:
        arg = base_node.args[0]
        name = getattr(arg, "name", None) or getattr(arg, "value", None)
        return str(name).split(".")[-1]
    if isinstance(base_node, fp.Member):
        n = base_node.name
        for suffix, t in (("DateTime", "dateTime"), ("Instant", "dateTime"), ("Date", "date"),
                          ("Time", "time"), ("Decimal", "decimal")):
            if n.endswith(suffix) or n == suffix[0].lower() + suffix[1:]:
                return t
    return None


def boundary(ctx: Context, base: Coll, high: bool, hint: str | None = None) -> Coll:
    """Element-wise boundary of ``base`` (JSON values) as text (dates, times) or number (decimals)."""
    return map_items(ctx, base, lambda e: _value(ctx, e, high, hint, base.kind)[0],
                     _value(ctx, "NULL", high, hint, base.kind)[1])


def _value(ctx: Context, e: str, high: bool, hint: str | None, base_kind: str) -> tuple[str, Kind]:
    d = ctx.dialect
    x = convert(d, e, base_kind, "text")
    value: str
    kind: Kind
    if hint == "date":
        value, kind = _date(x, high), "text"
    elif hint in ("dateTime", "instant"):
        value, kind = _datetime(x, high), "text"
    elif hint == "time":
        value, kind = _time(x, high), "text"
    elif hint in ("decimal", "integer", "Quantity") or hint is None and base_kind in ("num", "int"):
        value, kind = _decimal(ctx, x, high), "num"
    else:
        # No hint: decide on the JSON value itself.
        value = (f"CASE WHEN {d.is_number(e)} THEN CAST({_decimal(ctx, x, high)} AS VARCHAR) "
                 f"WHEN STRPOS({x}, ':') > 0 AND STRPOS({x}, 'T') = 0 THEN {_time(x, high)} "
                 f"ELSE {_date(x, high)} END")
        kind = "text"
    return value, kind
