"""CLI: python -m transforms.indicators {list,show,compute,values,drill}."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from transforms.indicators.model import load_indicators
from transforms.indicators.service import compute_for_day, drill, values
from transforms.settings import load_settings
from transforms.warehouse.db import get_engine


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m transforms.indicators")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list")
    s = sub.add_parser("show")
    s.add_argument("code")
    c = sub.add_parser("compute", help="compute every indicator for the periods containing DAY")
    c.add_argument("day")
    for name in ("values", "drill"):
        p = sub.add_parser(name)
        p.add_argument("code")
        p.add_argument("--type", default="month", choices=["month", "quarter", "year"])
        p.add_argument("--dim", default="institution")
        p.add_argument("--period", help="2026-11 | 2026Q4 | 2026")
        if name == "drill":
            p.add_argument("--member", required=True)
    args = ap.parse_args(argv)
    inds = load_indicators()
    if args.cmd == "list":
        for code, ind in sorted(inds.items()):
            print(f"{code:<32} {ind.name_zh}  ({ind.unit}, {ind.direction}, {ind.source.split(' ')[0]})")
        return 0
    if args.cmd == "show":
        print(inds[args.code].model_dump_json(indent=2))
        return 0
    settings = load_settings()
    if args.cmd == "compute":
        print(json.dumps(compute_for_day(settings, date.fromisoformat(args.day), trigger="cli"), ensure_ascii=False))
        return 0
    if args.code not in inds:
        print(f"unknown indicator {args.code!r}", file=sys.stderr)
        return 2
    with get_engine(settings.warehouse_url).connect() as conn:
        if args.cmd == "values":
            rows = values(conn, inds[args.code], args.type, args.dim, args.period)
        else:
            rows = drill(conn, inds[args.code], args.type, args.period, args.dim, args.member)
    for r in rows:
        print(json.dumps(r, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
