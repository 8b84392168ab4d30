"""Re-map held records when a mapping lands.

Why partition re-runs: standardise is idempotent per partition and keeps the local code, so
bringing a record up to date is re-standardising the partitions that hold codes which now map.
``unmapped_code`` says exactly which partitions those are; nothing else is touched. The caller
(DAG or CLI) re-runs the downstream stages for the returned partitions.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from transforms.settings import Settings
from transforms.terminology.codeset import CodeSet, load_codeset


def now_mappable(cs: CodeSet, kind: str, dictionary: str | None, code: str) -> bool:
    """True when ``code`` would map under the current mappings."""
    if kind in cs.systems and cs.systems[kind].kind == "value_domain":
        return cs.lookup_domain(kind, code) is not None
    return bool(dictionary) and code in cs.concept_map(kind, dictionary)


def stale_partitions(settings: Settings, cs: CodeSet | None = None) -> list[tuple[str, str, date]]:
    """(source, institution, day) partitions holding an unmapped code that now maps."""
    from transforms.terminology.warehouse import own_transaction as transaction

    cs = cs or load_codeset()
    with transaction(settings.warehouse_url) as conn:
        rows = conn.execute(sa.text(
            "SELECT DISTINCT kind, dictionary, local_code, source, institution_code, partition_date FROM unmapped_code"
        )).all()
    out = set()
    for kind, dictionary, code, source, inst, day in rows:
        if now_mappable(cs, kind, dictionary, code):
            out.add((source, inst, day if isinstance(day, date) else date.fromisoformat(str(day))))
    return sorted(out)


def remap(settings: Settings) -> list[dict[str, str]]:
    """Re-standardise only the partitions whose held codes now map; returns those partitions."""
    from transforms.standardise.run import standardise_partition

    done = []
    for source, inst, day in stale_partitions(settings):
        standardise_partition(settings, source, inst, day)
        done.append({"source": source, "institution": inst, "day": day.isoformat()})
    return done
