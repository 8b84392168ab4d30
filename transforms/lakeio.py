"""Publishing a lake partition whole or not at all.

Stages write a partition's files into a staging folder beside it and swap it in only when
every file is written. A crash or a full disk part-way leaves the previously published
partition untouched (readers never see half a partition), and the retry starts clean.

A killed process (SIGKILL, OOM) cannot remove its hidden ``.<name>.staging-<pid>-<tag>`` or
``.<name>.retired-<pid>-<tag>`` folder; the next staging of the same partition sweeps those
whose process is gone. A folder of a live process is left alone: it may be another writer's
staging still in progress (its own exit removes it).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def staged_partition(out_dir: Path) -> Iterator[Path]:
    """Yield a staging folder; on success it replaces ``out_dir``, on failure it is removed."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    sweep_leftovers(out_dir)
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


def sweep_leftovers(out_dir: Path) -> list[Path]:
    """Remove staging/retired folders of ``out_dir`` left by processes that no longer run.

    Why only dead processes: two writers may stage the same partition at once (a retry
    racing a slow run); deleting a live one's staging would make its swap fail. The pid is
    in the folder name; our own pid counts as live (a nested staging of this process).
    """
    pattern = re.compile(rf"^\.{re.escape(out_dir.name)}\.(?:staging|retired)-(\d+)-[0-9a-f]+$")
    removed = []
    try:
        siblings = list(out_dir.parent.iterdir())
    except FileNotFoundError:
        return removed
    for p in siblings:
        m = pattern.match(p.name)
        if m and not _alive(int(m.group(1))):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def _alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists (on this host; the lake is local to its writers)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return True
    return True
