"""Settings, database URLs, named SQL files, and the in-memory store."""

from __future__ import annotations

from pathlib import Path

import pytest

import coord
from coord.errors import ConfigError
from coord.settings import load_settings, mask_url
from coord.storage.sql import fill, parse_queries, specialize, take_fragment
from coord.storage.url import parse_database_url


def test_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COORD_LEASE_DURATION", "forever")
    with pytest.raises(ConfigError, match=r"COORD_LEASE_DURATION.*invalid duration 'forever'"):
        load_settings()
    monkeypatch.delenv("COORD_LEASE_DURATION")
    monkeypatch.setenv("COORD_WORKER_CONCURRENCY", "0")
    with pytest.raises(ConfigError, match="COORD_WORKER_CONCURRENCY"):
        load_settings()


def test_bad_database_url_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COORD_DATABASE_URL", "mysql://x")
    with pytest.raises(ConfigError, match=r"COORD_DATABASE_URL: .*must start with sqlite://"):
        load_settings()
    with pytest.raises(ConfigError, match=r"database_url \(given as an argument\)"):
        load_settings(database_url="mysql://x")
    with pytest.raises(ConfigError, match=r"^invalid settings: --database-url: "):
        load_settings(given_as={"database_url": "--database-url"}, database_url="mysql://x")
    with pytest.raises(ConfigError, match="needs a path"):
        parse_database_url("sqlite://")


def test_urls() -> None:
    assert parse_database_url("sqlite:///.coord/coord.db").location == ".coord/coord.db"
    assert parse_database_url("sqlite:////abs/c.db").location == "/abs/c.db"
    assert parse_database_url("sqlite:///:memory:").sqlite_path is None
    pg = parse_database_url("postgresql+psycopg://u:p@h:5/d")
    assert (pg.dialect, pg.location) == ("postgres", "postgresql://u:p@h:5/d")


def test_masking_hides_passwords_only() -> None:
    assert mask_url("postgresql://user:s3cret@host/db") == "postgresql://user:***@host/db"
    assert mask_url("postgresql://user@host/db") == "postgresql://user@host/db"
    settings = load_settings(database_url="postgresql://u:hunter2@h/d")
    assert "hunter2" not in str(settings.masked())
    query = "postgresql://u@h/d?password=pw1&sslmode=require"
    assert mask_url(query) == "postgresql://u@h/d?password=***&sslmode=require"
    assert mask_url("postgresql://h/d?sslmode=require&password=pw2") == (
        "postgresql://h/d?sslmode=require&password=***"
    )


def test_a_rejected_url_is_echoed_masked() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(database_url="mysql://root:s3cret@db/x?password=other")
    assert "root:***@db/x?password=***" in caught.value.message
    assert "s3cret" not in str(caught.value.to_dict()) and "other" not in caught.value.message


def test_named_queries() -> None:
    queries = parse_queries("-- name: a\nSELECT 1;\n-- name: b\n-- doc\nSELECT {x} WHERE {f};")
    assert queries == {"a": "SELECT 1", "b": "-- doc\nSELECT {x} WHERE {f}"}
    with pytest.raises(ValueError, match="defined twice"):
        parse_queries("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;")
    out = specialize(queries, {"x": "col"}, "f", {"one": "q = 1", "many": "q > 1"})
    assert out == {
        "a": "SELECT 1",
        "b_one": "-- doc\nSELECT col WHERE q = 1",
        "b_many": "-- doc\nSELECT col WHERE q > 1",
    }


def test_a_shared_fragment_is_taken_out_without_its_comments_and_filled_in() -> None:
    queries = parse_queries(
        "-- name: part\n-- doc of the part\nt AS (SELECT 1 WHERE {extra})\n"
        "-- name: q\n-- doc of q\nWITH {part} SELECT * FROM t;"
    )
    part = take_fragment(queries, "part")
    assert part == "t AS (SELECT 1 WHERE {extra})" and set(queries) == {"q"}
    filled = fill(queries, {"part": part.replace("{extra}", "TRUE")})
    assert filled == {"q": "-- doc of q\nWITH t AS (SELECT 1 WHERE TRUE) SELECT * FROM t"}


def test_in_memory_store_runs_tasks() -> None:
    app = coord.App("sqlite:///:memory:")

    @app.task
    async def double(ctx: coord.Context, n: int) -> int:
        return n * 2

    handles = app.enqueue_many(double, [{"n": i} for i in range(20)])
    assert app.run_worker(burst=True).succeeded == 20
    assert [h.result(timeout=1) for h in handles] == [i * 2 for i in range(20)]
    app.close()


def test_duplicate_task_names_are_refused() -> None:
    app = coord.App("sqlite:///:memory:")

    @app.task(name="x")
    async def one(ctx: coord.Context) -> None: ...

    with pytest.raises(ValueError, match="registered already"):

        @app.task(name="x")
        async def two(ctx: coord.Context) -> None: ...


def test_bad_task_options_are_refused_at_declaration() -> None:
    app = coord.App("sqlite:///:memory:")
    with pytest.raises(coord.InvalidInput, match="invalid duration"):
        app.task(timeout="soon")(lambda ctx: None)
    with pytest.raises(coord.InvalidInput, match="invalid cron"):
        app.task(cron="every minute")(lambda ctx: None)


def test_an_app_switches_database_only_before_opening_one(tmp_path: Path) -> None:
    app = coord.App(f"sqlite:///{tmp_path}/a.db")
    app.use_database(f"sqlite:///{tmp_path}/b.db")
    assert app.settings.database_url == f"sqlite:///{tmp_path}/b.db"
    with pytest.raises(ConfigError, match="unsupported scheme 'mysql'") as refused:
        app.use_database("mysql://root:s3cret@db/x")
    assert "s3cret" not in str(refused.value)
    app.store  # noqa: B018 - opens b.db
    with pytest.raises(ConfigError, match="opened its database already") as caught:
        app.use_database(f"sqlite:///{tmp_path}/c.db")
    assert "s3cret" not in str(caught.value)
    app.close()
    assert (tmp_path / "b.db").exists() and not (tmp_path / "a.db").exists()
