"""Generate docs/feeds.md from the feed contracts, so the consumer's document never drifts.

    python -m transforms.feed.docs
"""

from __future__ import annotations

from pathlib import Path

from transforms.feed.contract import load_contracts, read_lock
from transforms.settings import REPO_ROOT

DOC = REPO_ROOT / "docs" / "feeds.md"


def render() -> str:
    lock = read_lock()
    out = ["# Operations decision feed (运营决策)", "",
           "Generated from `mappings/feeds/*.yaml` by `python -m transforms.feed.docs`; do not edit by hand.", "",
           "Each feed is a warehouse table `feed_<name>_v<major>` and a Parquet export",
           "`exports/ops_feed/<name>/v<major>/period_month=YYYY-MM/part-0.parquet` with a `_manifest.json`",
           "(version, grain, row count, suppressed cells, schema fingerprint). Every feed is aggregated:",
           "no person key, name or identifier is exported. A cell whose count columns are below the",
           "contract's `k_min` has its counts and measures blanked and `suppressed = true`.", "",
           "**Versioning.** `version` is `major.minor`. The schema (column names, types, order) of each",
           "major version is pinned in `mappings/feeds/contracts.lock.json`; a run whose contract differs",
           "from the pin fails, so a breaking change must bump the major version, which publishes a new",
           "table and folder (`_v2`) beside the old one. Adding a column is a minor bump and a new pin.",
           "**Refresh.** The `rhp_ops_feed` DAG rebuilds the current month after every indicator run;",
           "the month is partial until it closes.", ""]
    for name, c in sorted(load_contracts().items()):
        out += [f"## `{name}` v{c.version} — {c.title_zh}", "", c.description, "",
                f"- **Module:** {c.module}", f"- **Grain:** {c.grain}", f"- **Refresh:** {c.refresh}",
                f"- **Small-cell suppression:** k = {c.k_min}",
                f"- **Table / export:** `{c.table}` / `exports/ops_feed/{name}/v{c.major}/`",
                f"- **Schema fingerprint:** `{c.schema_fingerprint()}` (pinned: `{lock.get(f'{name}@{c.major}', 'no')}`)",
                "", "| column | type | role | description |", "|---|---|---|---|",
                "| period_month | string | dimension | YYYY-MM |"]
        out += [f"| {col.name} | {col.type} | {col.role} | {col.description} |" for col in c.columns]
        out += ["| suppressed | boolean | flag | counts below k blanked |", ""]
    return "\n".join(out)


def main() -> int:
    Path(DOC).write_text(render(), encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
