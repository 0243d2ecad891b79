"""Open the store (and its wake-up notifier) that a database URL names.

PostgreSQL is imported when a postgresql URL is opened, not before: psycopg and its
pool take a quarter of a second to import, which a command on the embedded SQLite
file should not pay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from coord.errors import ConfigError
from coord.ports.store import Notifier, Store
from coord.settings import Settings
from coord.storage.sqlite.notifier import SqliteNotifier
from coord.storage.sqlite.store import SqliteStore
from coord.storage.url import parse_database_url

if TYPE_CHECKING:
    from coord.storage.postgres.store import PostgresStore


def open_store(settings: Settings) -> SqliteStore | PostgresStore:
    """Connect to the database of ``settings.database_url``."""
    target = parse_database_url(settings.database_url)
    if target.dialect == "sqlite":
        return SqliteStore(
            target.sqlite_path,
            synchronous=settings.sqlite_synchronous,
            busy_timeout=settings.sqlite_busy_timeout,
            fast_claims=settings.fast_claims,
        )
    from coord.storage.postgres.store import PostgresStore

    return PostgresStore(
        target.location,
        min_size=settings.pg_pool_min_size,
        max_size=settings.pg_pool_max_size,
        fast_claims=settings.fast_claims,
    )


def notifier_for(store: Store, settings: Settings) -> Notifier:
    """The wake-up source that fits ``store``."""
    if isinstance(store, SqliteStore):
        return SqliteNotifier(store.path, store.signals, settings.sqlite_watch_interval)
    from coord.storage.postgres.store import PostgresStore  # only a PostgreSQL store is left

    if isinstance(store, PostgresStore):
        from coord.storage.postgres.notifier import PgNotifier

        return PgNotifier(store.conninfo)
    raise ConfigError(f"no notifier for store {type(store).__name__}")


def is_new_database(store: Store) -> bool:
    """True for a SQLite file this process just created (or an in-memory database)."""
    return isinstance(store, SqliteStore) and store.created
