"""Publishing a lake partition whole or not at all.

Stages write a partition's files into a staging folder beside it and swap it in only when
every file is written. A crash or a full disk part-way leaves the previously published
partition untouched (readers never see half a partition), and the retry starts clean.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def staged_partition(out_dir: Path) -> Iterator[Path]:
    """Yield a staging folder; on success it replaces ``out_dir``, on failure it is removed."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
    staging = out_dir.with_name(f".{out_dir.name}.staging-{tag}")
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    retired = out_dir.with_name(f".{out_dir.name}.retired-{tag}")
    if out_dir.exists():
        os.replace(out_dir, retired)  # two renames: the window without a partition is microseconds
    os.replace(staging, out_dir)
    shutil.rmtree(retired, ignore_errors=True)
