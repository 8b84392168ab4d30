"""Per-engine SQL spellings for the FHIRPath translator — the ONE place DuckDB and PostgreSQL differ.

Why a class per engine: the translator builds every query from these few primitives (field
access, iterate a JSON array with its ordinal, JSON→text/number/boolean, aggregate back to a
JSON array, raise an error), so adding an engine means adding one class here.
"""

from __future__ import annotations

import re
from typing import Literal

DialectName = Literal["duckdb", "postgresql"]
_SLOT = re.compile("\x00sofpath([0-9]+)\x00")  # a prefetched path in DuckDB SQL before numbering
_HOISTED = re.compile("\x00sofrow([0-9]+)\x00")  # a per-row expression of prefetched paths, before naming


def _used(pattern: re.Pattern[str], sql: str) -> list[int]:
    """The numbers of ``pattern``'s placeholders in ``sql``, in first-use order."""
    return list(dict.fromkeys(int(m.group(1)) for m in pattern.finditer(sql)))


def quote_string(value: str) -> str:
    """A SQL string literal (standard quoting; both engines use standard_conforming_strings).

    '%' is spelled CHR(37) so the compiled SQL holds no '%' at all: psycopg treats '%' in a
    statement as a placeholder, and callers run the SQL with ``exec_driver_sql`` unescaped.
    """
    parts = ["'" + p.replace("'", "''") + "'" for p in value.split("%")]
    return "(" + " || CHR(37) || ".join(parts) + ")" if len(parts) > 1 else parts[0]


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Dialect:
    name: DialectName
    json_type_name: str
    lists: bool = False  # collections as LIST expressions with lambdas instead of row sources

    def field(self, x: str, name: str) -> str:
        raise NotImplementedError

    def iterate(self, x: str, alias: str) -> str:
        """A FROM item yielding each element of x (array → elements, scalar → itself), as alias.value."""
        raise NotImplementedError

    def ordinal(self, alias: str) -> str:
        raise NotImplementedError

    def not_null(self, x: str) -> str:
        raise NotImplementedError

    def text(self, x: str) -> str:
        raise NotImplementedError

    def is_number(self, x: str) -> str:
        raise NotImplementedError

    def is_boolean(self, x: str) -> str:
        raise NotImplementedError

    def is_string(self, x: str) -> str:
        raise NotImplementedError

    def number(self, x: str) -> str:
        return f"CAST({self.text(x)} AS DOUBLE PRECISION)"

    def boolean(self, x: str) -> str:
        return f"CAST({self.text(x)} AS BOOLEAN)"

    def to_json(self, x: str) -> str:
        raise NotImplementedError

    def json_agg(self, x: str, order: str) -> str:
        raise NotImplementedError

    def empty_json_array(self) -> str:
        raise NotImplementedError

    def string_agg(self, x: str, sep: str, order: str) -> str:
        return f"STRING_AGG({x}, {sep}{order})"

    def raise_error(self, message: str) -> str:
        """A boolean expression that fails the query with ``message`` (an SQL text expression)."""
        raise NotImplementedError

    def regex_group(self, x: str, pattern: str, group: int) -> str:
        raise NotImplementedError

    def int_array(self, items: list[str]) -> str:
        raise NotImplementedError

    def concat_array(self, a: str, b: str) -> str:
        return f"({a} || {b})"

    def hoist(self, base: str, sql: str) -> str:
        """``sql``, an expression of ``base``, or a reference to it computed once per source row."""
        return sql


class DuckDB(Dialect):
    """DuckDB spellings; JSON is text there, so every ``json_extract`` parses its document again.

    Why the prefetch: a view reads 20-60 paths of the same resource, and each plain
    ``json_extract(r.resource, path)`` re-parsed the whole resource (the load's mart refresh
    was mostly JSON parsing). After ``prefetch(root, column)``, a chain of single-field steps
    from ``root`` becomes one element of ``column``, a LIST that the compiler fills with ONE
    ``json_extract(resource, [path, ...])`` per row (one parse), see ``prefetch_sql``.
    """

    name: DialectName = "duckdb"
    json_type_name = "JSON"
    lists = True

    def __init__(self) -> None:
        self.root: str | None = None
        self.column = ""
        self.paths: list[str] = []
        self._path_of: dict[str, str] = {}
        self.hoisted: list[str] = []

    def prefetch(self, root: str, column: str) -> None:
        """From now on, field chains starting at ``root`` read ``column`` (see ``prefetch_sql``)."""
        self.root, self.column = root, column

    def prefetch_sql(self, resource: str, sql: str) -> tuple[str, str | None, list[str]]:
        """``sql`` with its prefetched values numbered; the LIST expression over ``resource`` filling the
        paths (None when none is used); and ``expr AS name`` items computed once per row from those paths.

        Only what is left in ``sql`` is fetched (``a.b`` needs no ``a`` of its own).
        """
        hoisted = _used(_HOISTED, sql)
        names = {n: f'"_sof_h{i}"' for i, n in enumerate(hoisted)}
        exprs = [self.hoisted[n] for n in hoisted]
        paths = _used(_SLOT, " ".join([sql, *exprs]))
        slot = {n: i + 1 for i, n in enumerate(paths)}

        def number(text: str) -> str:
            text = _HOISTED.sub(lambda m: f"r.{names[int(m.group(1))]}", text)
            return _SLOT.sub(lambda m: f"{self.column}[{slot[int(m.group(1))]}]", text)

        items = [f"{number(e)} AS {names[n]}" for n, e in zip(hoisted, exprs, strict=True)]
        fetch = f"json_extract({resource}, [{', '.join(quote_string(self.paths[n]) for n in paths)}])" if paths else None
        return number(sql), fetch, items

    def field(self, x: str, name: str) -> str:
        base = "$" if self.root is not None and x == self.root else self._path_of.get(x)
        if base is None:
            return f"json_extract({x}, {quote_string('$.' + quote_ident(name))})"
        path = f"{base}.{quote_ident(name)}"
        if path not in self.paths:
            self.paths.append(path)
        expr = f"\x00sofpath{self.paths.index(path)}\x00"  # numbered in prefetch_sql
        self._path_of[expr] = path
        return expr

    def hoist(self, base: str, sql: str) -> str:
        if base not in self._path_of:
            return sql
        if sql not in self.hoisted:
            self.hoisted.append(sql)
        return f"\x00sofrow{self.hoisted.index(sql)}\x00"  # named in prefetch_sql

    def iterate(self, x: str, alias: str) -> str:
        return (f"json_each(CASE WHEN json_type({x}) = 'ARRAY' THEN {x} "
                f"ELSE json_array({x}) END) AS {alias}")

    def ordinal(self, alias: str) -> str:
        return f"CAST({alias}.key AS INTEGER)"

    def not_null(self, x: str) -> str:
        return f"json_type({x}) <> 'NULL'"

    def text(self, x: str) -> str:
        return f"json_extract_string({x}, '$')"

    def is_number(self, x: str) -> str:
        return f"json_type({x}) IN ('BIGINT', 'UBIGINT', 'DOUBLE')"

    def is_boolean(self, x: str) -> str:
        return f"json_type({x}) = 'BOOLEAN'"

    def is_string(self, x: str) -> str:
        return f"json_type({x}) = 'VARCHAR'"

    def number(self, x: str) -> str:
        return f"CAST({self.text(x)} AS DOUBLE)"

    def to_json(self, x: str) -> str:
        return f"to_json({x})"

    def json_agg(self, x: str, order: str) -> str:
        return f"to_json(list({x}{order}))"

    def empty_json_array(self) -> str:
        return "CAST('[]' AS JSON)"

    def raise_error(self, message: str) -> str:
        return f"error({message})"

    def regex_group(self, x: str, pattern: str, group: int) -> str:
        return f"NULLIF(regexp_extract({x}, {quote_string(pattern)}, {group}), '')"

    def int_array(self, items: list[str]) -> str:
        return "[" + ", ".join(f"CAST({i} AS INTEGER)" for i in items) + "]"


class PostgreSQL(Dialect):
    name: DialectName = "postgresql"
    json_type_name = "JSONB"

    def field(self, x: str, name: str) -> str:
        return f"({x} -> {quote_string(name)})"

    def iterate(self, x: str, alias: str) -> str:
        return (f"jsonb_array_elements(CASE WHEN jsonb_typeof({x}) = 'array' THEN {x} "
                f"ELSE jsonb_build_array({x}) END) WITH ORDINALITY AS {alias}(value, ord)")

    def ordinal(self, alias: str) -> str:
        return f"CAST({alias}.ord - 1 AS INTEGER)"

    def not_null(self, x: str) -> str:
        return f"jsonb_typeof({x}) <> 'null'"

    def text(self, x: str) -> str:
        return f"({x} #>> '{{}}')"

    def is_number(self, x: str) -> str:
        return f"jsonb_typeof({x}) = 'number'"

    def is_boolean(self, x: str) -> str:
        return f"jsonb_typeof({x}) = 'boolean'"

    def is_string(self, x: str) -> str:
        return f"jsonb_typeof({x}) = 'string'"

    def to_json(self, x: str) -> str:
        return f"to_jsonb({x})"

    def json_agg(self, x: str, order: str) -> str:
        return f"jsonb_agg({x}{order})"

    def empty_json_array(self) -> str:
        return "CAST('[]' AS JSONB)"

    def raise_error(self, message: str) -> str:
        # No error() in PostgreSQL: a failing cast of a non-constant text carries the message.
        return f"(CAST(CAST({message} AS TEXT) AS INTEGER) IS NULL)"

    def regex_group(self, x: str, pattern: str, group: int) -> str:
        return f"(regexp_match({x}, {quote_string(pattern)}))[{group}]"

    def int_array(self, items: list[str]) -> str:
        return "CAST(ARRAY[" + ", ".join(f"CAST({i} AS INTEGER)" for i in items) + "] AS INTEGER[])"


def get_dialect(name: str) -> Dialect:
    if name == "duckdb":
        return DuckDB()
    if name in ("postgresql", "postgres"):
        return PostgreSQL()
    raise ValueError(f"unknown SQL dialect {name!r}: expected 'duckdb' or 'postgresql'")
