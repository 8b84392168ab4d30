"""SCD-2 history for dimensions whose source sends snapshots (``mappings/views/history.yaml``).

Why the warehouse keeps it: the registry re-sends an institution's current level or a
practitioner's current team, without dates; DOMAIN §3 needs the value as of an event date.
After a load refreshes a dimension, each key whose tracked columns differ from its open
history row gets that row closed at the load's partition date (exclusive) and a new one
opened. A same-day correction replaces the row opened that day instead of leaving an empty
interval. Versions are sequenced by load order; an out-of-order backfill is not re-sequenced.
Only the keys the load deleted or wrote in the dimension are examined (``_changed_<dim>``).
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Connection

from transforms.warehouse.marts import CHANGED_PREFIX
from transforms.warehouse.views import VIEWS_DIR

HISTORY_FILE = VIEWS_DIR / "history.yaml"


@lru_cache(maxsize=1)
def history_specs() -> dict[str, dict]:
    """History table -> {dim, key, tracked}; errors name the file and entry."""
    specs = yaml.safe_load(HISTORY_FILE.read_text(encoding="utf-8")) or {}
    for name, spec in specs.items():
        missing = [k for k in ("dim", "key", "tracked") if not spec.get(k)]
        if missing:
            raise ValueError(f"{HISTORY_FILE}: {name} lacks {missing}")
    return specs


def _unchanged(dim: str, hist: str, keys: list[str], tracked: list[str]) -> str:
    """SQL: the dimension still holds exactly the version in the history row being tested."""
    same_key = " AND ".join(f"d.{k} = {hist}.{k}" for k in keys)
    same = " AND ".join(f"d.{c} IS NOT DISTINCT FROM {hist}.{c}" for c in tracked)
    return f"EXISTS (SELECT 1 FROM {dim} d WHERE {same_key} AND {same})"


def apply_history(conn: Connection, dims: set[str], as_of: date) -> list[str]:
    """Record new versions of the touched ``dims`` effective ``as_of``; returns history tables written."""
    done = []
    for hist, spec in history_specs().items():
        if spec["dim"] not in dims:
            continue
        dim, keys, tracked = spec["dim"], spec["key"], spec["tracked"]
        unchanged = _unchanged(dim, hist, keys, tracked)
        p = {"d": as_of}
        # Only the keys this load deleted or wrote in the dimension (marts.refresh_view keeps them
        # in _changed_<dim>): any other key's history is already current.
        def changed(alias: str, dim: str = dim, keys: list[str] = keys) -> str:
            same = " AND ".join(f"c.{k} = {alias}.{k}" for k in keys)
            return f"EXISTS (SELECT 1 FROM {CHANGED_PREFIX}{dim} c WHERE {same})"

        # a version opened on this very day and already superseded: replace it, leave no empty interval
        conn.execute(sa.text(f"DELETE FROM {hist} WHERE valid_to IS NULL AND valid_from = :d "
                             f"AND {changed(hist)} AND NOT {unchanged}"), p)
        conn.execute(sa.text(f"UPDATE {hist} SET valid_to = :d WHERE valid_to IS NULL AND valid_from < :d "
                             f"AND {changed(hist)} AND NOT {unchanged}"), p)
        cols = [*keys, *tracked]
        open_row = " AND ".join(f"h.{k} = d.{k}" for k in keys)
        conn.execute(sa.text(
            f"INSERT INTO {hist} ({', '.join(cols)}, valid_from, valid_to, batch_id) "
            f"SELECT {', '.join('d.' + c for c in cols)}, :d, NULL, d.batch_id FROM {dim} d "
            f"WHERE {changed('d')} AND NOT EXISTS (SELECT 1 FROM {hist} h WHERE {open_row} AND h.valid_to IS NULL)"), p)
        done.append(hist)
    return done
