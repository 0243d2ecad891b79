"""Schema checks and upgrades."""

from __future__ import annotations

from pydantic import BaseModel

from coord.errors import SchemaOutdated, SchemaTooNew
from coord.ports.store import Store


class SchemaReport(BaseModel):
    """The schema version of a database."""

    database: str
    dialect: str
    current: int
    target: int
    up_to_date: bool
    applied: list[int] = []


def current(store: Store, database: str) -> SchemaReport:
    """Report the schema version found against the one this coord needs."""
    status = store.schema_status()
    return SchemaReport(
        database=database,
        dialect=store.dialect,
        current=status.current,
        target=status.target,
        up_to_date=status.up_to_date,
    )


def upgrade(store: Store, database: str) -> SchemaReport:
    """Apply missing migrations (idempotent) and report the result."""
    applied = store.upgrade()
    report = current(store, database)
    return report.model_copy(update={"applied": applied})


def ensure_current(store: Store, database: str) -> None:
    """Raise a clear error unless the schema is exactly the one this coord needs."""
    status = store.schema_status()
    if status.current < status.target:
        state = (
            "has no coord schema"
            if status.current == 0
            else (f"is at schema version {status.current}")
        )
        raise SchemaOutdated(
            f"the database {database} {state}; this coord needs version {status.target}: "
            "run `coord db upgrade`",
            current=status.current,
            target=status.target,
        )
    if status.current > status.target:
        raise SchemaTooNew(
            f"the database {database} is at schema version {status.current}, newer than this "
            f"coord (version {status.target}): upgrade coord",
            current=status.current,
            target=status.target,
        )
