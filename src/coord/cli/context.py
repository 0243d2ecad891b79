"""What every command needs: settings and an open, checked database."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager

from coord.connection import connect
from coord.errors import ConfigError
from coord.ports.store import Store
from coord.settings import Settings, load_settings, mask_url

_overrides: dict[str, str | None] = {"database_url": None, "api_url": None}
# how errors name the overrides
_OPTION_NAMES = {"database_url": "--database-url", "api_url": "--api-url"}


def set_database_url(url: str | None) -> None:
    """Remember ``--database-url`` (it wins over ``COORD_DATABASE_URL``)."""
    _overrides["database_url"] = url


def set_api_url(url: str | None) -> None:
    """Remember ``--api-url`` (it wins over ``COORD_API_URL``)."""
    _overrides["api_url"] = url


def api_url_given() -> bool:
    """Whether the global ``--api-url`` was given."""
    return _overrides["api_url"] is not None


def require_database() -> None:
    """Refuse ``--api-url`` for a command that only works on the database.

    Such commands ignore ``COORD_API_URL`` (a server host may share its environment
    with remote users), but an explicit ``--api-url`` would be silently ignored, so
    it is an error.
    """
    if not api_url_given():
        return
    raise ConfigError(
        "this command works on the database directly and has no remote form: drop "
        "--api-url (it uses COORD_DATABASE_URL), or run it where the database is",
        option="--api-url",
    )


def database_url_given() -> bool:
    """Whether the global ``--database-url`` was given."""
    return _overrides["database_url"] is not None


def settings() -> Settings:
    """Settings from the environment and the global options."""
    return load_settings(given_as=_OPTION_NAMES, **_overrides)


def database_label(current: Settings) -> str:
    """The database URL with its password hidden, for messages."""
    return mask_url(current.database_url)


@contextmanager
def open_store(*, create: bool = False, check_schema: bool = True) -> Iterator[Store]:
    """The configured database, closed afterwards. By default it must exist already
    (a typo in a path should not create an empty database) and be up to date.

    ``create`` (for ``coord db upgrade``) creates a missing SQLite file, without a
    schema: the CLI never creates one behind the user's back, so that ``coord db
    upgrade`` applies the migrations itself and reports them.
    """
    require_database()
    store = connect(settings(), create=create, upgrade_new=False, check_schema=check_schema)
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
