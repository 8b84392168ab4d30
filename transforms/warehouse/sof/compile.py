"""Compile a SQL-on-FHIR v2 ViewDefinition into ONE SELECT for DuckDB or PostgreSQL.

Why one SELECT: the view then runs where the resources are (set-based, no Python per row),
and a mart is simply ``INSERT INTO mart SELECT …``. Columns are expressions of the current
row; each iteration adds a LATERAL join of item rows numbered for %rowIndex (forEach → CROSS
JOIN, forEachOrNull → LEFT JOIN, repeat → recursive CTE), nested selects add their joins in
order (sibling iterations cross-join, as the spec says), and unionAll is a LATERAL UNION ALL.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from transforms.warehouse.sof import fhirpath as fp
from transforms.warehouse.sof.dialect import DialectName, get_dialect, quote_ident, quote_string
from transforms.warehouse.sof.errors import SofError
from transforms.warehouse.sof.model import Column, Select, ViewDefinition, parse_view
from transforms.warehouse.sof.translate import (
    Coll,
    Context,
    collection_json,
    convert,
    item_rows,
    kind_of_fhir_type,
    scalar,
    translate,
)

_SOURCE = "\x00source\x00"  # where the FROM item goes once the prefetched paths are known


@dataclass(frozen=True)
class CompiledColumn:
    name: str
    type: str | None
    collection: bool


def _parse(path: str, where: str) -> object:
    try:
        return fp.parse(path)
    except SofError as exc:
        raise type(exc)(f"{where}: {exc}") from None


def _translate(path: str, where: str, ctx: Context) -> Coll:
    try:
        return translate(_parse(path, where), ctx)
    except SofError as exc:
        if str(exc).startswith(where):
            raise
        raise type(exc)(f"{where}: {exc}") from None


def _column_sql(col: Column, where: str, ctx: Context) -> str:
    c = _translate(col.path, where, ctx)
    d = ctx.dialect
    if col.collection:
        return collection_json(ctx, c)
    # A 0..* path is allowed when the data holds at most one value (the official suite relies on
    # it), so "more than one value" is checked per row by the engine, not refused here.
    target = kind_of_fhir_type(col.type) or ("text" if c.kind == "json" else c.kind)
    return convert(d, scalar(c, "single"), c.kind, target)


def _where_sql(path: str, where: str, ctx: Context) -> str:
    """A view-level where: must be boolean; a non-boolean value fails the query, naming the path."""
    c = _translate(path, where, ctx)
    d = ctx.dialect
    if c.kind == "bool":
        return f"COALESCE({scalar(c)}, FALSE)"
    if c.kind != "json" or c.ftype not in (None, "boolean"):
        raise SofError(f"{where}: path {path!r} is not boolean (it yields {c.ftype or c.kind})")
    x = scalar(c)
    msg = f"{quote_string(f'{where}: path {path!r} must be boolean, got ')} || {d.text(x)}"
    return (f"COALESCE(CASE WHEN {x} IS NULL THEN NULL WHEN {d.is_boolean(x)} THEN {d.boolean(x)} "
            f"ELSE {d.raise_error(msg)} END, FALSE)")


class _Compiler:
    def __init__(self, view: ViewDefinition, dialect: DialectName):
        self.view = view
        self.d = get_dialect(dialect)
        self.counter = itertools.count()
        self.constants = {c.name: (c.value, c.value_type) for c in view.constant}

    def ctx(self, focus: str, row_index: str, ftype: str | None = None) -> Context:
        return Context(dialect=self.d, focus=focus, row_index=row_index, constants=self.constants,
                       resource_type=self.view.resource, counter=self.counter, focus_type=ftype)

    def alias(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    def node(self, sel: Select, where: str, focus: str, row_index: str,
             ftype: str | None = None) -> tuple[str, list[str], list[CompiledColumn]]:
        """One select node as (joins to append to the enclosing FROM, column expressions, columns).

        Why joins and not a subquery per node: a node without iteration adds no rows, so its
        columns are plain expressions of the enclosing row; only forEach/forEachOrNull/repeat
        (LATERAL item rows) and unionAll (a LATERAL UNION ALL) add joins. Fewer correlated
        subqueries is what keeps both engines' planners fast.
        """
        ctx = self.ctx(focus, row_index, ftype)
        joins = ""
        if sel.forEach is not None or sel.forEachOrNull is not None:
            key = "forEach" if sel.forEach is not None else "forEachOrNull"
            items = _translate(getattr(sel, key), f"{where}.{key}", ctx)
            if items.kind != "json":
                raise SofError(f"{where}.{key}: must select FHIR elements, not a {items.kind} value")
            it = self.alias("it")
            ftype = items.ftype
            if key == "forEach":
                joins = f" CROSS JOIN LATERAL ({item_rows(ctx, items)}) AS {it}"
                focus, row_index = f"{it}.item", f"{it}.idx"
            else:
                joins = f" LEFT JOIN LATERAL ({item_rows(ctx, items)}) AS {it} ON TRUE"
                focus, row_index = f"{it}.item", f"COALESCE({it}.idx, 0)"
        elif sel.repeat is not None:
            joins, focus, row_index, ftype = self.repeat(sel.repeat, f"{where}.repeat", ctx)
        inner = self.ctx(focus, row_index, ftype)
        exprs: list[str] = []
        cols: list[CompiledColumn] = []
        for i, col in enumerate(sel.column):
            exprs.append(_column_sql(col, f"{where}.column[{i}] {col.name!r}", inner))
            cols.append(CompiledColumn(col.name, col.type, bool(col.collection)))
        for i, sub in enumerate(sel.select):
            sub_joins, sub_exprs, sub_cols = self.node(sub, f"{where}.select[{i}]", focus, row_index, ftype)
            joins += sub_joins
            exprs += sub_exprs
            cols += sub_cols
        if sel.unionAll:
            branches = [self.node(b, f"{where}.unionAll[{i}]", focus, row_index, ftype)
                        for i, b in enumerate(sel.unionAll)]
            names = [c.name for c in branches[0][2]]
            for i, (_, _, bcols) in enumerate(branches[1:], start=1):
                if [c.name for c in bcols] != names:
                    raise SofError(f"{where}.unionAll[{i}]: columns {[c.name for c in bcols]} differ from "
                                   f"unionAll[0] columns {names} (names and order must match)")
            alias = self.alias("u")
            union = " UNION ALL ".join(self.select_sql(bj, bx, bc, "(SELECT 1 AS one) AS " + self.alias("d"))
                                       for bj, bx, bc in branches)
            joins += f" CROSS JOIN LATERAL ({union}) AS {alias}"
            exprs += [f"{alias}.{quote_ident(n)}" for n in names]
            cols += branches[0][2]
        return joins, exprs, cols

    @staticmethod
    def select_sql(joins: str, exprs: list[str], cols: list[CompiledColumn], source: str) -> str:
        items = [f"{e} AS {quote_ident(c.name)}" for e, c in zip(exprs, cols, strict=True)] or ["1 AS one_"]
        return f"SELECT {', '.join(items)} FROM {source}{joins}"

    def repeat(self, paths: list[str], where: str, ctx: Context) -> tuple[str, str, str, str | None]:
        """Recursive traversal of ``paths`` (depth-first, in path order) as a recursive CTE."""
        d = self.d
        if not paths:
            raise SofError(f"{where}: needs at least one path")
        rec = self.alias("rec")
        seeds, steps = [], []
        types = {_translate(path, f"{where}[{p_i}]", ctx).ftype for p_i, path in enumerate(paths)}
        ftype = types.pop() if len(types) == 1 else None
        for p_i, path in enumerate(paths):
            top = _translate(path, f"{where}[{p_i}]", ctx)
            seeds.append(f"SELECT s.item, {d.int_array([str(p_i), 's.idx'])} AS pos FROM ({item_rows(ctx, top)}) AS s")
            step_ctx = self.ctx(f"{rec}.item", ctx.row_index, ftype)
            step = _translate(path, f"{where}[{p_i}]", step_ctx)
            steps.append(f"SELECT s.item, {d.int_array([str(p_i), 's.idx'])} AS pos FROM ({item_rows(step_ctx, step)}) AS s")
        kids = self.alias("k")
        seed_sql = " UNION ALL ".join(seeds)
        step_sql = (f"SELECT {kids}.item, {d.concat_array(f'{rec}.pos', f'{kids}.pos')} FROM {rec} "
                    f"CROSS JOIN LATERAL ({' UNION ALL '.join(steps)}) AS {kids}")
        it = self.alias("it")
        body = f"SELECT * FROM ({seed_sql}) AS {self.alias('sd')} UNION ALL {step_sql}"
        items = (f"WITH RECURSIVE {rec}(item, pos) AS ({body}) "
                 f"SELECT item, ROW_NUMBER() OVER (ORDER BY pos) - 1 AS idx FROM {rec}")
        return f" CROSS JOIN LATERAL ({items}) AS {it}", f"{it}.item", f"{it}.idx", ftype


def compile_view_columns(
    view: dict,
    dialect: DialectName,
    source_table: str = "fhir_resource",
    passthrough: list[str] | tuple[str, ...] = (),
    where_sql: str | None = None,
) -> tuple[str, list[CompiledColumn]]:
    """Like ``compile_view`` but also returns the view's columns (name, type, collection)."""
    model = parse_view(view)
    comp = _Compiler(model, dialect)
    root = "r.resource"
    prefetch = getattr(comp.d, "prefetch", None)
    if prefetch is not None:
        prefetch(root, 'r."_sof_paths"')
    joins, exprs, cols = comp.node(Select(select=model.select), "select", root, "0", model.resource)
    names = [c.name for c in cols]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SofError(f"view {model.name or model.resource!r}: duplicate column names {dup}")
    conds = [f"r.resource_type = {quote_string(model.resource)}"]
    if where_sql:
        conds.append(f"({where_sql})")
    view_conds = [_where_sql(w.path, f"where[{i}]", comp.ctx(root, "0", model.resource))
                  for i, w in enumerate(model.where)]
    out = [f"r.{quote_ident(p)}" for p in passthrough] + [
        f"{e} AS {quote_ident(c.name)}" for e, c in zip(exprs, cols, strict=True)]
    if prefetch is None:
        sql = f"SELECT {', '.join(out)} FROM {source_table} AS r{joins} WHERE {' AND '.join(conds + view_conds)}"
        return sql, cols
    # DuckDB: the source rows of this resource type, each resource parsed once into the paths the view reads.
    body = f"SELECT {', '.join(out)} FROM {_SOURCE}{joins} WHERE {' AND '.join(['TRUE', *view_conds])}"
    body, paths, hoisted = comp.d.prefetch_sql(root, body)  # type: ignore[attr-defined]
    source = (f"(SELECT r.*, {paths or 'NULL'} AS \"_sof_paths\" FROM {source_table} AS r "
              f"WHERE {' AND '.join(conds)}) AS r")
    if hoisted:  # e.g. the extension array as JSON[], cast once per row instead of once per column
        source = f"(SELECT r.*, {', '.join(hoisted)} FROM {source}) AS r"
    return body.replace(_SOURCE, source, 1), cols


def compile_view(
    view: dict,
    dialect: DialectName,
    source_table: str = "fhir_resource",
    passthrough: list[str] | tuple[str, ...] = (),
    where_sql: str | None = None,
) -> str:
    """One SELECT producing the view's rows from ``source_table(id, resource_type, resource)``.

    ``passthrough`` columns of the source table (e.g. person_key, lineage) come first, as is.
    ``where_sql`` is an extra SQL filter on the source rows (alias ``r``), e.g. a partition.
    Raises ViewDefinitionError / FhirPathSyntaxError / SofError naming the bad field.
    """
    return compile_view_columns(view, dialect, source_table, passthrough, where_sql)[0]
