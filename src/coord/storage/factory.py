"""Open the store (and its wake-up notifier) that a database URL names."""

from __future__ import annotations

from coord.errors import ConfigError
from coord.ports.store import Notifier, Store
from coord.settings import Settings
from coord.storage.postgres.notifier import PgNotifier
from coord.storage.postgres.store import PostgresStore
from coord.storage.sqlite.notifier import SqliteNotifier
from coord.storage.sqlite.store import SqliteStore
from coord.storage.url import parse_database_url


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
    if isinstance(store, PostgresStore):
        return PgNotifier(store.conninfo)
    raise ConfigError(f"no notifier for store {type(store).__name__}")


def is_new_database(store: Store) -> bool:
    """True for a SQLite file this process just created (or an in-memory database)."""
    return isinstance(store, SqliteStore) and store.created
