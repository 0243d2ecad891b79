"""Write the blocking form of coord's surface from its asyncio form.

Every ``_async`` package under ``src/coord`` (the operations' protocols and local
implementation, the client's remote implementation and classes) is the one source;
its ``_sync`` twin is generated here and committed, never edited by hand::

    python scripts/generate_sync.py           # regenerate
    python scripts/generate_sync.py --check   # exit 1 if a _sync file is stale (a test runs this)

Names are turned by the rules of unasync (``async``/``await`` dropped,
``__aenter__`` to ``__enter__``...) and by the table below; a class named
``AsyncX`` becomes ``X``. The output is formatted with ruff, as the source is.
"""

from __future__ import annotations

import argparse
import difflib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import unasync

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "src/coord/operations/_async", ROOT / "src/coord/client/_async"]

# Names that are not AsyncX -> X, or that must not become X.
REPLACEMENTS = {
    "_async": "_sync",
    "aclose": "close",
    "offload": "inline",
    "through_hooks": "through_hooks_blocking",
    "next_message": "next_message_blocking",
    "nap": "nap_blocking",
    "areceive": "receive",
    "AsyncTransport": "SyncTransport",
    "AsyncBaseTransport": "BaseTransport",
    "AsyncEventStream": "EventStream",
    "AsyncPageFetch": "PageFetch",
}


class _Rule(unasync.Rule):  # type: ignore[misc]
    """unasync's rule, except that ``AsyncX`` becomes ``X`` (not ``SyncX``)."""

    def _unasync_name(self, name: str) -> str:
        if name in self.token_replacements:
            return str(self.token_replacements[name])
        if len(name) > 5 and name.startswith("Async") and name[5].isupper():
            return name[5:]
        return name


def generate(out_root: Path) -> list[Path]:
    """Write every ``_sync`` file under ``out_root`` (a copy of ``src``); return them."""
    written = []
    for source in SOURCES:
        target = out_root / source.relative_to(ROOT).parent / "_sync"
        rule = _Rule(str(source) + "/", str(target) + "/", REPLACEMENTS)
        for path in sorted(source.glob("*.py")):
            rule._unasync_file(str(path))
            written.append(target / path.name)
    _format(written)
    return written


def _format(paths: list[Path]) -> None:
    ruff = [sys.executable, "-m", "ruff"]
    names = [str(p) for p in paths]
    config = ["--config", str(ROOT / "pyproject.toml")]
    subprocess.run([*ruff, "check", "--fix", "--quiet", *config, *names], check=False)
    subprocess.run([*ruff, "format", "--quiet", *config, *names], check=True)


def stale() -> list[str]:
    """The differences between the committed ``_sync`` files and fresh ones."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        for path in fresh:
            committed = ROOT / path.relative_to(tmp)
            new = path.read_text().splitlines(keepends=True)
            old = committed.read_text().splitlines(keepends=True) if committed.exists() else []
            if new != old:
                problems += difflib.unified_diff(old, new, str(committed), "generated")
        for source in SOURCES:
            made = {p.name for p in fresh if p.parent.name == "_sync"}
            sync_dir = source.parent / "_sync"
            extra = {p.name for p in sync_dir.glob("*.py")} - made
            problems += [f"{sync_dir / name}: has no _async source\n" for name in sorted(extra)]
    return problems


def main() -> int:
    """Regenerate, or with ``--check`` report what is stale."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a _sync file is stale")
    args = parser.parse_args()
    if args.check:
        problems = stale()
        sys.stdout.writelines(problems)
        return 1 if problems else 0
    with tempfile.TemporaryDirectory() as tmp:
        for path in generate(Path(tmp)):
            destination = ROOT / path.relative_to(tmp)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
