"""standardise_partition: raw strings → typed, pseudonymised, coded rows (docs/contracts.md).

Per raw file (streaming, one output file per batch): cast every canonical field with the
profile's formats, resolve identity (person key, link method, ID checks), drop direct
identifiers, map coded fields and value domains, normalise lab units. Nothing is dropped: a
value that cannot be typed is null with the reason in ``_std_issues``. The output partition
is replaced, and so are the partition's rows in ``unmapped_code``; the MPI link table is merged.
"""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from transforms.canonical import LINEAGE_FIELDS, PERSON_FIELDS, TABLES, Table
from transforms.lakeio import staged_partition
from transforms.pipeline import PartitionReport
from transforms.settings import Settings, pseudonym_key
from transforms.standardise.casting import cast_column
from transforms.standardise.codes import add_code_columns, map_concept, map_domain, map_multi_domain
from transforms.standardise.dictionaries import SourceConfig, load_source_config
from transforms.standardise.lab_units import unit_columns
from transforms.terminology.codeset import CodeSet, load_codeset

# The event each table's age_at_event is measured at.
EVENT_FIELD: dict[str, str] = {
    "health_record": "created_date", "encounter": "start_time", "lab_result": "report_time",
    "exam_report": "exam_time", "prescription": "prescribed_time", "followup": "followup_date",
    "immunization": "vaccination_date", "signing_contract": "start_date", "referral": "issued_time",
}


@dataclass
class StageReport(PartitionReport):
    """What one standardise run did (counts per table, link methods, unmapped codes)."""

    files: int = 0
    rows_in: int = 0
    rows_out: int = 0
    rows_quarantined: int = 0  # standardise keeps every row; validation decides
    rows_with_issues: int = 0
    id_invalid: int = 0
    unmapped_codes: int = 0
    link_methods: dict[str, int] = field(default_factory=dict)
    tables: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def partition_dir(root: Path, table: str, source: str, institution: str, day: date) -> Path:
    return root / table / f"source={source}" / f"institution={institution}" / f"date={day.isoformat()}"


def standardise_frame(
    raw: pd.DataFrame, table: Table, cs: CodeSet, config: SourceConfig, key: bytes,
    source: str, institution: str, known_links: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, dict, list[dict]]:
    """Standardise one raw batch. Returns (standard frame, MPI links, unmapped-code rows)."""
    from transforms.identity.mpi import resolve
    from transforms.identity.person_key import age_at, mask_name

    df = raw.copy()
    for f in table.fields:
        if f.name not in df:
            df[f.name] = pd.Series(pd.NA, index=df.index, dtype="string")
    profile_id = str(df["_profile"].dropna().iloc[0]) if "_profile" in df and df["_profile"].notna().any() else None
    formats = config.formats(profile_id, table.name)
    issues = pd.Series("", index=df.index, dtype="string")
    # Columns are collected in a dict and framed once: inserting ~250 columns one by one into a
    # DataFrame rebuilt its column index each time (~15 % of the stage on small batches).
    out: dict[str, pd.Series] = {}
    for f in table.fields:
        if f.pii:
            continue
        typed, why = cast_column(df[f.name], f.type, [formats[f.name]] if f.name in formats else [])
        out[f.name] = typed
        bad = why.notna()
        if bad.any():
            shown = df[f.name].astype("string").str.slice(0, 40)
            issues[bad] = issues[bad] + ";" + f.name + ":" + why[bad] + "(" + shown[bad] + ")"
    # identity
    if set(PERSON_FIELDS) <= set(table.field_names):
        sex = map_domain(df["sex_code"], cs, "sex")
        ident, links = resolve(df, key, institution, known_links, sex["std"], out["birth_date"])
        for c in ident.columns:
            out[c] = ident[c]
        out["name_masked"] = df["patient_name"].map(mask_name).astype("string")
        event = EVENT_FIELD.get(table.name)
        when = pd.to_datetime(out[event]) if event else pd.Series(pd.NaT, index=df.index)
        out["age_at_event"] = pd.Series(
            [age_at(b, w.date() if not pd.isna(w) else None) for b, w in zip(out["birth_date_std"], when, strict=True)],
            index=df.index, dtype="Int64")
    else:
        links = {}
        for f in table.fields:
            if f.pii and f.name == "name":
                out["name_masked"] = df["name"].map(mask_name).astype("string")
    # codes
    unmapped: list[dict] = []
    for cf in cs.coded_fields:
        if cf.table != table.name:
            continue
        dictionary = config.dictionary(cf.kind, source, institution, profile_id)
        cols = map_concept(df[cf.field], cs, cf.kind, dictionary)
        add_code_columns(out, cf.field, cols)
        unmapped += _unmapped_rows(df, table.name, cf.field, cf.kind, dictionary, cols, cf.display)
    for (t, fname), domain in cs.domain_fields().items():
        if t == table.name:
            cols = map_domain(df[fname], cs, domain)
            add_code_columns(out, fname, cols)
            unmapped += _unmapped_rows(df, t, fname, domain, domain, cols, None)
    if "key_populations" in table.field_names:
        cols = map_multi_domain(df["key_populations"], cs, "key_population")
        add_code_columns(out, "key_populations", cols)
    if table.name == "lab_result":
        lab = pd.DataFrame({"item_code": out["item_code"], "item_code_dictionary": out["item_code_dictionary"],
                            "value": df["value"], "unit": df["unit"], "ref_range": df["ref_range"]}, index=df.index)
        for c, s in unit_columns(lab, cs).items():
            out[c] = s
    out["_std_issues"] = issues.str.lstrip(";").replace("", pd.NA)
    for lf in LINEAGE_FIELDS:
        col = df[lf.name] if lf.name in df else pd.Series(pd.NA, index=df.index, dtype="string")
        out[lf.name] = cast_column(col, lf.type, [])[0]
    return pd.DataFrame(out, index=df.index).reset_index(drop=True), links, unmapped


def _unmapped_rows(df: pd.DataFrame, table: str, fname: str, kind: str, dictionary: str | None,
                   cols: pd.DataFrame, display_field: str | None) -> list[dict]:
    mask = cols["map_status"] == "unmapped"
    if not mask.any():
        return []
    codes = df.loc[mask, fname].astype("string").str.strip()
    displays = df.loc[mask, display_field].astype("string") if display_field and display_field in df else None
    counts = Counter(codes.tolist())
    first_display = {}
    if displays is not None:
        for c, d in zip(codes.tolist(), displays.tolist(), strict=True):
            if c not in first_display and isinstance(d, str):
                first_display[c] = d
    return [{"table_name": table, "field": fname, "kind": kind, "dictionary": dictionary, "local_code": c,
             "local_display": first_display.get(c), "n_records": n} for c, n in counts.items()]


def _write(frame: pd.DataFrame, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp)
    tmp.replace(path)


def standardise_partition(settings: Settings, source: str, institution: str, day: date) -> StageReport:
    """Standardise every raw table of one partition; replaces its standard output."""
    from transforms.identity.mpi import KnownLinks, known_demographic_links, upsert_links
    from transforms.terminology.warehouse import own_transaction as transaction
    from transforms.terminology.warehouse import record_unmapped

    cs = load_codeset()
    config = load_source_config(cs.root / "sources")
    key = pseudonym_key(settings)
    report = StageReport("standardise", source, institution, day.isoformat(), warnings=list(config.warnings))
    all_links: dict = {}
    unmapped: dict[tuple, dict] = {}
    methods: Counter[str] = Counter()
    # Known demographic links are looked up per batch, for that batch's hashes only, in one read
    # transaction over the partition (the whole link table is too big to load at city scale).
    with transaction(settings.warehouse_url) as read_conn:
        known = KnownLinks(lambda hashes: known_demographic_links(read_conn, hashes))
        for name, table in TABLES.items():
            raw_dir = partition_dir(settings.raw, name, source, institution, day)
            out_dir = partition_dir(settings.standard, name, source, institution, day)
            files = sorted(raw_dir.glob("*.parquet")) if raw_dir.is_dir() else []
            if not files:
                if out_dir.exists():
                    shutil.rmtree(out_dir)
                continue
            with staged_partition(out_dir) as staging:
                for path in files:
                    raw = pd.read_parquet(path)
                    std, links, rows = standardise_frame(raw, table, cs, config, key, source, institution, known)
                    for h, rec in links.items():
                        if rec.link_type == "demographic":
                            known.setdefault(h, rec.person_key)
                        if h in all_links:
                            all_links[h].n_records += rec.n_records
                        else:
                            all_links[h] = rec
                    for r in rows:
                        k = (r["table_name"], r["field"], r["kind"], r["dictionary"], r["local_code"])
                        if k in unmapped:
                            unmapped[k]["n_records"] += r["n_records"]
                        else:
                            unmapped[k] = dict(r)
                    _write(std, staging / path.name)
                    report.files += 1
                    report.rows_in += len(raw)
                    report.rows_out += len(std)
                    report.rows_with_issues += int(std["_std_issues"].notna().sum())
                    if "id_valid" in std:
                        report.id_invalid += int((~std["id_valid"].fillna(False)).sum())
                        methods.update(std["link_method"].dropna().tolist())
                    report.tables[name] = report.tables.get(name, 0) + len(std)
    with transaction(settings.warehouse_url) as conn:
        record_unmapped(conn, source, institution, day, list(unmapped.values()))
        upsert_links(conn, all_links, day, source, institution)
    report.unmapped_codes = len(unmapped)
    report.link_methods = dict(methods)
    return report
