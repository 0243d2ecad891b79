"""The blocking surface is generated from the asyncio one (issue 14: no hand-kept
sync/async twin): regenerating it must change nothing, so a change made to an
``_async`` file without regenerating, or an edit made by hand to a ``_sync`` file,
fails here with the difference."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_sync_files_are_what_the_generator_writes() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/generate_sync.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"stale _sync files; run scripts/generate_sync.py:\n{done.stdout}"
