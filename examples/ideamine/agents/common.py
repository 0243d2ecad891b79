"""What every agent shares: the run's workspace, digests, charging for "model
calls", and markdown helpers."""

from __future__ import annotations

import hashlib
import json
import math
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import coord

DEFAULT_BRIEF = Path(__file__).resolve().parents[1] / "brief.md"
USD_PER_TOKEN_IN = 3.0 / 1_000_000  # what a mid-size model would charge
USD_PER_TOKEN_OUT = 15.0 / 1_000_000


@dataclass(frozen=True)
class Workspace:
    """Where a run's files live: ``input.workdir`` and its folders."""

    root: Path

    @classmethod
    def of(cls, ctx: coord.SyncContext) -> Workspace:
        """The workspace named in the run input."""
        return cls(Path(ctx.input["workdir"]).resolve())

    def path(self, *parts: str) -> Path:
        """A path in the workspace (its folder is created)."""
        target = self.root.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def read_json(self, *parts: str) -> Any:
        """A JSON file of the workspace."""
        return json.loads(self.root.joinpath(*parts).read_text("utf-8"))


def digest(data: bytes | str) -> str:
    """``sha256:...`` of some content, as ``ctx.artifact`` names it."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def write(path: Path, text: str) -> str:
    """Write a text file; return its digest."""
    path.write_text(text, encoding="utf-8")
    return digest(text)


def bill(ctx: coord.SyncContext, read: str, wrote: str) -> None:
    """Charge what a model call reading ``read`` and writing ``wrote`` would cost
    (about four characters per token)."""
    tokens_in, tokens_out = math.ceil(len(read) / 4), math.ceil(len(wrote) / 4)
    usd = tokens_in * USD_PER_TOKEN_IN + tokens_out * USD_PER_TOKEN_OUT
    ctx.charge(tokens_in=tokens_in, tokens_out=tokens_out, usd=round(usd, 6))


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def wrap(text: str, prefix: str = "") -> list[str]:
    """A paragraph wrapped for markdown (``prefix``: ``"> "`` for a quote)."""
    return textwrap.wrap(text, 88, initial_indent=prefix, subsequent_indent=prefix)


def sentence(text: str) -> str:
    """``text`` with its first letter upper case (the rest as it is)."""
    return text[:1].upper() + text[1:]


def listing(items: list[str]) -> str:
    """``a, b and c``."""
    return " and ".join([", ".join(items[:-1]), items[-1]]) if len(items) > 1 else "".join(items)


def markdown(lines: list[str]) -> str:
    """Lines as a markdown file."""
    return "\n".join(lines).rstrip("\n") + "\n"
