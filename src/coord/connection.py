"""Opening the configured database: the store a database URL names, checked.

Apart from :mod:`coord.app` so that a command that only reads the database (``coord
task list``) opens it without loading the engine, the worker and the HTTP client.
"""

from __future__ import annotations

from coord.errors import ConfigError
from coord.ports.store import Store
from coord.services.database import ensure_current
from coord.settings import Settings, mask_url
from coord.storage.factory import is_new_database, open_store
from coord.storage.url import parse_database_url


def connect(
    settings: Settings,
    *,
    create: bool = True,
    upgrade_new: bool = True,
    check_schema: bool = True,
) -> Store:
    """Open the configured database.

    ``create``: a missing SQLite file is created; otherwise a missing file is an error.
    ``upgrade_new``: a SQLite file created now gets the current schema at once (the
    embedded default "just works"); ``coord db upgrade`` turns it off to apply, and
    report, the migrations itself.
    ``check_schema``: refuse a database whose schema is missing or older, naming
    ``coord db upgrade``.
    """
    target = parse_database_url(settings.database_url)
    path = target.sqlite_path
    if not create and path is not None and not path.exists():
        raise ConfigError(
            f"no coord database at {path} (COORD_DATABASE_URL={settings.database_url}); "
            "run `coord db upgrade` to create one, or run from your project directory"
        )
    store = open_store(settings)
    try:
        if create and upgrade_new and is_new_database(store):
            store.upgrade()
        if check_schema:
            ensure_current(store, mask_url(settings.database_url))
    except BaseException:
        store.close()
        raise
    return store
