"""Parse ``COORD_DATABASE_URL`` into a backend and its target."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from coord.errors import ConfigError

MEMORY = ":memory:"


@dataclass(frozen=True, slots=True)
class DatabaseTarget:
    """``sqlite`` with a file path (or ``:memory:``), or ``postgres`` with a libpq URL."""

    dialect: Literal["sqlite", "postgres"]
    location: str

    @property
    def sqlite_path(self) -> Path | None:
        """The database file for SQLite (None for memory or PostgreSQL)."""
        if self.dialect != "sqlite" or self.location == MEMORY:
            return None
        return Path(self.location)


def parse_database_url(url: str) -> DatabaseTarget:
    """``sqlite:///rel.db``, ``sqlite:////abs.db``, ``sqlite:///:memory:``, ``postgresql://``."""
    if url.startswith("sqlite://"):
        rest = url.removeprefix("sqlite://")
        if not rest.startswith("/") or rest == "/":
            raise ConfigError(
                f"COORD_DATABASE_URL: {url!r} needs a path: sqlite:///relative.db, "
                "sqlite:////absolute.db or sqlite:///:memory:"
            )
        return DatabaseTarget("sqlite", rest[1:])
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return DatabaseTarget("postgres", "postgresql://" + url.removeprefix(prefix))
    # Only the scheme is echoed: the rest of a URL may hold a password.
    scheme = url.partition("://")[0] if "://" in url else url[:20]
    raise ConfigError(
        f"COORD_DATABASE_URL: unsupported scheme {scheme!r}: use sqlite:///PATH or "
        "postgresql://USER@HOST/DB"
    )
