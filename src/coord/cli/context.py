"""What every command needs: settings and an open, checked database."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager

from coord.app import connect
from coord.ports.store import Store
from coord.settings import Settings, load_settings, mask_url

_overrides: dict[str, str | None] = {"database_url": None}


def set_database_url(url: str | None) -> None:
    """Remember ``--database-url`` (it wins over ``COORD_DATABASE_URL``)."""
    _overrides["database_url"] = url


def settings() -> Settings:
    """Settings from the environment and the global options."""
    return load_settings(**_overrides)


def database_label(current: Settings) -> str:
    """The database URL with its password hidden, for messages."""
    return mask_url(current.database_url)


@contextmanager
def open_store(*, create: bool = False, check_schema: bool = True) -> Iterator[Store]:
    """The configured database, closed afterwards. By default it must exist already
    (a typo in a path should not create an empty database) and be up to date."""
    store = connect(settings(), create=create, check_schema=check_schema)
    try:
        yield store
    finally:
        store.close()


def actor() -> str:
    """Who is acting, as recorded in events."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"
