"""The audit ledger from the command line, on SQLite and PostgreSQL: real ``coord``
processes verify a sealed history, then each kind of tampering done directly in the
database (an edited byte, a deleted, reordered or inserted entry or event, a truncated
tail against a checkpoint, an altered checkpoint file, stored content edited: a task's
payload or result, a message's body or subject, a run's input) makes ``coord audit
verify`` exit 1 naming the place.

The history is built once per backend; each test tampers with it, checks, and puts
the saved tables back (and proves the restored ledger verifies again).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from coord.app import connect
from coord.domain.ledger import GENESIS_HASH, entry_hash
from coord.ports.store import Store
from coord.services import audit
from coord.settings import load_settings
from tests.acceptance.harness import Workspace, open_workspace

TABLES = ("coord_events", "coord_ledger", "coord_ledger_head")


@dataclass
class Ledger:
    """A workspace with a sealed history, and direct access to its database."""

    ws: Workspace
    key: Path  # the signing key (COORD_LEDGER_SIGNING_KEY_FILE)
    public: Path
    gap: tuple[int, int]  # event ids around a gap left in the id sequence

    @property
    def pg(self) -> bool:
        return self.ws.backend == "postgres"

    @property
    def url(self) -> str:
        return self.ws.database_url or f"sqlite:///{self.ws.sqlite_file}"

    def sql(self, *statements: tuple[str, tuple[Any, ...]] | str) -> list[tuple[Any, ...]]:
        """Run statements (``?`` placeholders) in one transaction; rows of the last."""
        rows: list[tuple[Any, ...]] = []
        pairs = [(s, ()) if isinstance(s, str) else s for s in statements]
        if self.pg:
            with psycopg.connect(self.url) as conn:
                for query, params in pairs:
                    cur = conn.execute(query.replace("?", "%s"), params)
                    rows = cur.fetchall() if cur.description else []
            return rows
        with sqlite3.connect(self.ws.sqlite_file) as conn:
            for query, params in pairs:
                rows = conn.execute(query, params).fetchall()
        return rows

    def one(self, query: str, *params: Any) -> Any:
        return self.sql((query, params))[0][0]

    def store(self) -> Store:
        return connect(load_settings(database_url=self.url))

    def snapshot(self) -> None:
        self.sql(*(f"DROP TABLE IF EXISTS saved_{t}" for t in TABLES))
        self.sql(*(f"CREATE TABLE saved_{t} AS SELECT * FROM {t}" for t in TABLES))

    def restore(self) -> None:
        override = " OVERRIDING SYSTEM VALUE" if self.pg else ""
        self.sql(
            *(f"DELETE FROM {t}" for t in TABLES),
            *(f"INSERT INTO {t}{override} SELECT * FROM saved_{t}" for t in TABLES),
        )

    def verify(self, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        """``coord audit verify ARGS -o json``: its exit code and its report."""
        result = self.ws.run("audit", "verify", *args, "-o", "json", env=env)
        assert result.returncode in (0, 1), result.describe()
        report = result.json()
        assert report["ok"] is (result.returncode == 0), result.describe()
        return result.returncode, report

    def entry(self, topic: str) -> tuple[int, int]:
        """(seq, event id) of the first entry sealing an event of ``topic``."""
        rows = self.sql(
            (
                "SELECT l.seq, e.id FROM coord_ledger AS l JOIN coord_events AS e "
                "ON e.id = l.event_id WHERE e.topic = ? ORDER BY l.seq LIMIT 1",
                (topic,),
            )
        )
        return rows[0][0], rows[0][1]

    def head_seq(self) -> int:
        return int(self.one("SELECT seq FROM coord_ledger_head"))

    def move_head_to(self, seq: int) -> None:
        """Point the head at entry ``seq``, as an attacker would after a truncation."""
        hash_, event_id = self.sql(
            ("SELECT hash, event_id FROM coord_ledger WHERE seq = ?", (seq,))
        )[0]
        xid = ", event_xid = (SELECT xid FROM coord_events WHERE id = ?)" if self.pg else ""
        params = (seq, hash_, event_id, *((event_id,) if self.pg else ()))
        self.sql((f"UPDATE coord_ledger_head SET seq = ?, hash = ?, event_id = ?{xid}", params))


def flip(text: str, at: int = 0) -> str:
    """``text`` with one character changed (a one-byte edit); hex digits stay hex."""
    at %= len(text)
    char = text[at]
    if char.isdigit():
        swapped = "1" if char == "0" else "0"
    elif char in "abcdef":
        swapped = "b" if char == "a" else "a"
    else:
        swapped = char.swapcase()
    return text[:at] + swapped + text[at + 1 :]


def seal_all(ws: Workspace) -> dict[str, Any]:
    """``coord audit seal`` until nothing is left (on PostgreSQL a transaction of
    another session may hold the horizon back for a moment)."""
    for _ in range(50):
        report = ws.data("audit", "seal")
        if report["unsealed"] == 0:
            return dict(report)
    raise AssertionError(f"events stay unsealed: {report}")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def ledger(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Ledger]:
    """A sealed history (tasks, agents, messages, a run), with a gap in the event ids."""
    with open_workspace(request, tmp_path_factory.mktemp("audit") / "work", request.param) as ws:
        ws.prepare()
        for n in range(3):
            ws.enqueue("ok", f'{{"n": {n}}}')
        ws.enqueue("flaky")
        ws.ok("run", "start", "release", "--input", '{"topic": "ledger"}')
        ws.burst()
        ws.ok("agent", "add", "coder")
        ws.ok("agent", "add", "reviewer")
        ws.ok("send", "coder", "reviewer", "--subject", "review", "--json", '{"pr": 7}')
        status = ws.data("audit", "status")
        assert status["unsealed"] > 0 and status["lag_seconds"] >= 0
        led = Ledger(ws, ws.cwd / "signing.pem", ws.cwd / "signing.pub", (0, 0))
        before = int(led.one("SELECT max(id) FROM coord_events"))
        if led.pg:  # a gap in the ids, as rolled-back transactions leave on PostgreSQL
            led.sql(
                "SELECT setval(pg_get_serial_sequence('coord_events', 'id'), "
                "(SELECT max(id) FROM coord_events) + 10)"
            )
        else:
            led.sql("UPDATE sqlite_sequence SET seq = seq + 10 WHERE name = 'coord_events'")
        ws.ok("send", "reviewer", "coder", "--subject", "done", "--body", "lgtm")
        ws.enqueue("ok", '{"n": 9}')
        ws.burst()
        led.gap = (before, int(led.one("SELECT min(id) FROM coord_events WHERE id > ?", before)))
        sealed = seal_all(ws)
        assert sealed["head_seq"] == led.one("SELECT count(*) FROM coord_events") > 20
        ws.ok("audit", "keygen", "--out", str(led.key), "--public-out", str(led.public))
        ws.env["COORD_LEDGER_SIGNING_KEY_FILE"] = str(led.key)
        assert ws.run("audit", "verify").stdout.startswith("ledger intact:")
        led.snapshot()
        yield led


@pytest.fixture
def history(ledger: Ledger) -> Iterator[Ledger]:
    """The sealed history, intact; put back as it was after the test."""
    code, report = ledger.verify()
    assert code == 0, report
    try:
        yield ledger
    finally:
        ledger.restore()
        store = ledger.store()
        try:
            assert audit.verify(store).ok, "the restored ledger does not verify"
        finally:
            store.close()


def assert_fails_at(led: Ledger, seq: int | None, event_id: int | None, *words: str) -> str:
    code, report = led.verify()
    assert code == 1, report
    assert (report["first_bad_seq"], report["first_bad_event_id"]) == (seq, event_id), report
    problem = str(report["problem"])
    for word in words:
        assert word in problem, report
    return problem


# -- edited bytes ----------------------------------------------------------------------
@pytest.mark.parametrize("column", ["data", "topic", "actor", "created_at"])
def test_an_edited_byte_in_an_event_is_found(history: Ledger, column: str) -> None:
    led = history
    seq, event_id = led.entry("agent.added")
    if column == "data":
        text = led.one("SELECT data FROM coord_events WHERE id = ?", event_id)
        if led.pg:
            text = led.one("SELECT data::text FROM coord_events WHERE id = ?", event_id)
        assert "coder" in text
        cast = "?::jsonb" if led.pg else "?"
        led.sql(
            (
                f"UPDATE coord_events SET data = {cast} WHERE id = ?",
                (text.replace("coder", "codeR"), event_id),
            )
        )
    elif column == "created_at":
        shift = "created_at + interval '1 microsecond'" if led.pg else "created_at + 0.000001"
        led.sql((f"UPDATE coord_events SET created_at = {shift} WHERE id = ?", (event_id,)))
    else:
        value = led.one(f"SELECT {column} FROM coord_events WHERE id = ?", event_id)
        led.sql((f"UPDATE coord_events SET {column} = ? WHERE id = ?", (flip(value, -1), event_id)))
    assert_fails_at(
        led, seq, event_id, f"entry {seq} (event {event_id})", "does not match its content"
    )
    if column == "data":  # people get the same verdict as text, on stdout, with exit 1
        text = led.ws.run("audit", "verify")
        assert text.returncode == 1 and f"FAILED: entry {seq} (event {event_id})" in text.stdout


def test_an_edited_byte_in_a_ledger_hash_is_found(history: Ledger) -> None:
    led = history
    seq, event_id = led.entry("message.sent")
    value = led.one("SELECT hash FROM coord_ledger WHERE seq = ?", seq)
    led.sql(("UPDATE coord_ledger SET hash = ? WHERE seq = ?", (flip(value, 5), seq)))
    assert_fails_at(led, seq, event_id, "does not match its content")


# -- deletions -------------------------------------------------------------------------
def test_a_deleted_event_is_found(history: Ledger) -> None:
    led = history
    seq, event_id = led.entry("agent.added")
    led.sql(("DELETE FROM coord_events WHERE id = ?", (event_id,)))
    assert_fails_at(led, seq, event_id, f"its event {event_id} is missing (deleted)")


def test_a_deleted_ledger_entry_is_found(history: Ledger) -> None:
    led = history
    seq, _ = led.entry("agent.added")
    led.sql(("DELETE FROM coord_ledger WHERE seq = ?", (seq,)))
    assert_fails_at(led, seq, None, f"entry {seq}: missing", f"from entry {seq - 1} to {seq + 1}")


def test_a_deleted_tail_is_found_while_the_head_still_names_it(history: Ledger) -> None:
    led = history
    last = led.head_seq()
    led.sql(("DELETE FROM coord_ledger WHERE seq > ?", (last - 2,)))
    assert_fails_at(led, last - 1, None, "the tail was deleted")


# -- reordering ------------------------------------------------------------------------
def test_entries_with_swapped_events_are_found(history: Ledger) -> None:
    led = history
    seq, first = led.entry("agent.added")
    second = led.one("SELECT event_id FROM coord_ledger WHERE seq = ?", seq + 1)
    led.sql(
        ("UPDATE coord_ledger SET event_id = -1 WHERE seq = ?", (seq,)),
        ("UPDATE coord_ledger SET event_id = ? WHERE seq = ?", (first, seq + 1)),
        ("UPDATE coord_ledger SET event_id = ? WHERE seq = ?", (second, seq)),
    )
    assert_fails_at(led, seq, second, "does not match its content")


def test_entries_with_swapped_seqs_are_found(history: Ledger) -> None:
    led = history
    seq, _ = led.entry("agent.added")
    second = led.one("SELECT event_id FROM coord_ledger WHERE seq = ?", seq + 1)
    led.sql(
        ("UPDATE coord_ledger SET seq = 1000000 WHERE seq = ?", (seq,)),
        ("UPDATE coord_ledger SET seq = ? WHERE seq = ?", (seq, seq + 1)),
        ("UPDATE coord_ledger SET seq = ? WHERE seq = 1000000", (seq + 1,)),
    )
    assert_fails_at(led, seq, second, f"prev_hash does not match entry {seq - 1}'s hash")


# -- insertions ------------------------------------------------------------------------
def forge_event(led: Ledger) -> int:
    """A new event, as an attacker adds it; its id."""
    led.sql(
        "INSERT INTO coord_events (topic, actor, data, created_at) VALUES "
        + (
            "('task.enqueued', 'mallory', NULL, now())"
            if led.pg
            else "('task.enqueued', 'mallory', NULL, 1.5)"
        )
    )
    return int(led.one("SELECT max(id) FROM coord_events"))


def forge_entry(led: Ledger, seq: int, event_id: int) -> None:
    """An entry at ``seq`` for ``event_id`` with the right prev_hash and hash: the
    attacker knows the hashing rules (there is no secret in them)."""
    prev = (
        GENESIS_HASH
        if seq == 1
        else led.one("SELECT hash FROM coord_ledger WHERE seq = ?", seq - 1)
    )
    sealed_at = "now()" if led.pg else "0.0"
    insert = (
        "INSERT INTO coord_ledger (seq, event_id, prev_hash, hash, sealed_at) "
        f"VALUES (?, ?, ?, 'x', {sealed_at})"
    )
    led.sql((insert, (seq, event_id, prev)))
    store = led.store()
    try:
        [entry] = store.ledger_entries(seq - 1, seq, 1)
    finally:
        store.close()
    assert entry.event is not None
    led.sql(
        (
            "UPDATE coord_ledger SET hash = ? WHERE seq = ?",
            (entry_hash(seq, prev, entry.event), seq),
        )
    )


def test_an_entry_inserted_inside_the_chain_is_found(history: Ledger) -> None:
    led = history
    seq, event_id = led.entry("agent.added")
    led.sql(
        ("UPDATE coord_ledger SET seq = seq + 1000000 WHERE seq >= ?", (seq,)),
        ("UPDATE coord_ledger SET seq = seq - 999999 WHERE seq >= 1000000", ()),
        "UPDATE coord_ledger_head SET seq = seq + 1",
    )
    forge_entry(led, seq, forge_event(led))
    # The forged entry itself is consistent; the chain breaks where it rejoins.
    assert_fails_at(led, seq + 1, event_id, f"entry {seq + 1} (event {event_id})")


def test_an_entry_appended_after_the_head_is_found(history: Ledger) -> None:
    led = history
    last = led.head_seq()
    forge_entry(led, last + 1, forge_event(led))
    assert_fails_at(led, last + 1, None, f"entry {last + 1}: beyond the head at entry {last}")


def test_an_event_inserted_below_the_head_is_found(history: Ledger) -> None:
    led = history
    before, after = led.gap
    stray = before + 5
    assert before < stray < after
    if led.pg:  # placed in sealing order between two sealed events: its xid is old
        insert = (
            "INSERT INTO coord_events (id, topic, actor, created_at, xid) "
            "OVERRIDING SYSTEM VALUE SELECT ?, 'task.enqueued', 'mallory', created_at, xid "
            "FROM coord_events WHERE id = ?"
        )
        led.sql((insert, (stray, before)))
    else:
        insert = (
            "INSERT INTO coord_events (id, topic, actor, created_at) "
            "VALUES (?, 'task.enqueued', 'mallory', 1.5)"
        )
        led.sql((insert, (stray,)))
    next_seq = led.one("SELECT seq FROM coord_ledger WHERE event_id = ?", before) + 1
    assert_fails_at(
        led, next_seq, stray, f"event {stray} is not in the ledger", f"before entry {next_seq}"
    )


# -- checkpoints -----------------------------------------------------------------------
def test_a_truncated_tail_is_found_against_a_checkpoint(history: Ledger) -> None:
    led = history
    cp = led.ws.cwd / "checkpoint.json"
    made = led.ws.data("audit", "checkpoint", "--out", str(cp))
    last = led.head_seq()
    assert made["checkpoint"]["seq"] == last and Path(made["file"]) == cp
    assert led.verify("--checkpoint", str(cp))[0] == 0

    # Drop the last three entries and their events, and move the head back.
    led.move_head_to(last - 3)
    tail = "SELECT event_id FROM coord_ledger WHERE seq > ?"
    led.sql(
        (f"DELETE FROM coord_events WHERE id IN ({tail})", (last - 3,)),
        ("DELETE FROM coord_ledger WHERE seq > ?", (last - 3,)),
    )
    assert led.verify("--chain-only")[0] == 0  # alone, the shorter chain is consistent
    # ... but the task whose events went with the tail is still stored, recorded by none
    code, report = led.verify()
    assert code == 1 and report["content"]["bad_row"]["table"] == "coord_tasks", report
    assert "is recorded by no task." in report["problem"], report
    code, report = led.verify("--checkpoint", str(cp))
    assert code == 1
    assert report["problem"] == (
        f"truncated: the checkpoint covers entry {last} but the chain ends at entry {last - 3}"
    )
    assert report["first_bad_seq"] == last - 2 and report["checkpoint_ok"] is False


def test_a_rewritten_chain_is_found_against_a_checkpoint(history: Ledger) -> None:
    led = history
    cp = led.ws.cwd / "checkpoint.json"
    led.ws.ok("audit", "checkpoint", "--out", str(cp))
    last = led.head_seq()
    # Edit an event, then reseal the whole chain from scratch: every hash is right again.
    seq, event_id = led.entry("agent.added")
    led.sql(
        ("UPDATE coord_events SET actor = 'mallory' WHERE id = ?", (event_id,)),
        "DELETE FROM coord_ledger",
        "UPDATE coord_ledger_head SET seq = 0, hash = '"
        + GENESIS_HASH
        + "', event_id = 0"
        + (", event_xid = '0'" if led.pg else ""),
    )
    assert seal_all(led.ws)["head_seq"] == last
    assert led.verify()[0] == 0
    code, report = led.verify("--checkpoint", str(cp))
    assert code == 1 and report["first_bad_seq"] == last, report
    assert f"entry {last}: differs from the checkpoint's" in report["problem"]
    assert seq < last


def test_an_altered_checkpoint_file_fails_on_its_signature(history: Ledger) -> None:
    led = history
    cp = led.ws.cwd / "checkpoint.json"
    led.ws.ok("audit", "checkpoint", "--out", str(cp))
    good = cp.read_text()
    at = good.index('"hash": "') + len('"hash": "')
    cp.write_text(flip(good, at))
    code, report = led.verify("--checkpoint", str(cp))
    assert code == 1 and report["checkpoint_ok"] is False, report
    assert "signature does not verify: the file was altered" in report["problem"]
    cp.write_text(good)
    # Checked with the public key given (no signing key configured): the same verdicts.
    no_key = {"COORD_LEDGER_SIGNING_KEY_FILE": ""}
    args = ("--checkpoint", str(cp), "--public-key", str(led.public))
    assert led.verify(*args, env=no_key)[0] == 0
    other_key = led.ws.cwd / "other.pem"
    led.ws.ok("audit", "keygen", "--out", str(other_key), "--force")
    code, report = led.verify("--checkpoint", str(cp), "--public-key", str(other_key), env=no_key)
    assert code == 1 and "another key" in report["problem"], report
    # Without any trusted key the checkpoint's own key is not taken on trust.
    refused = led.ws.fails("audit", "verify", "--checkpoint", str(cp), env=no_key)
    assert "no trusted key" in refused.stderr and "not trusted on its own" in refused.stderr


def test_checkpoints_need_a_signing_key(history: Ledger) -> None:
    led = history
    out = led.ws.cwd / "never.json"
    refused = led.ws.fails(
        "audit", "checkpoint", "--out", str(out), env={"COORD_LEDGER_SIGNING_KEY_FILE": ""}
    )
    assert "COORD_LEDGER_SIGNING_KEY or COORD_LEDGER_SIGNING_KEY_FILE" in refused.stderr
    assert not out.exists()
    assert (led.key.stat().st_mode & 0o777) == 0o600
    exists = led.ws.fails("audit", "keygen", "--out", str(led.key))
    assert "exists already" in exists.stderr


# -- stored content --------------------------------------------------------------------
# What an attacker edits: (table, column, the row, the edit of its JSON value), and how
# the report names it: the column, the event that sealed its hash and where that event
# says which row it is about.
CONTENT_EDITS: dict[str, tuple[str, str, str, Any]] = {
    "task payload": (
        "coord_tasks",
        "payload",
        "SELECT id FROM coord_tasks WHERE name = 'ok' ORDER BY id LIMIT 1",
        lambda v: {**v, "n": v["n"] + 1},
    ),
    "task result": (
        "coord_tasks",
        "result",
        "SELECT id FROM coord_tasks WHERE name = 'ok' ORDER BY id LIMIT 1",
        lambda v: {**v, "double": v["double"] + 1},
    ),
    "message body": (
        "coord_messages",
        "body",
        "SELECT id FROM coord_messages WHERE subject = 'review'",
        lambda v: {**v, "pr": v["pr"] + 1},
    ),
    "run input": (
        "coord_runs",
        "input",
        "SELECT id FROM coord_runs",
        lambda v: {**v, "topic": v["topic"].upper()},
    ),
}
SEALED_BY = {  # column -> (how reports name it, the topic, the event's reference column)
    "payload": ("payload", "task.enqueued", "task_id"),
    "result": ("result", "task.succeeded", "task_id"),
    "body": ("subject and body", "message.sent", "message_id"),
    "subject": ("subject and body", "message.sent", "message_id"),
    "input": ("input", "run.started", "run_id"),
}


def sealing_entry(led: Ledger, column: str, row_id: str) -> tuple[int, int]:
    """(seq, event id) of the entry whose event sealed the hash of a row's column: the
    first such event, the last one for a result (a retried success records another)."""
    _, topic, ref = SEALED_BY[column]
    order = "DESC" if column == "result" else "ASC"
    ref = f"e.{ref}::text" if led.pg else f"e.{ref}"
    query = (
        "SELECT l.seq, e.id FROM coord_ledger AS l JOIN coord_events AS e ON e.id = l.event_id "
        f"WHERE e.topic = ? AND {ref} = ? ORDER BY l.seq {order} LIMIT 1"
    )
    ((seq, event_id),) = led.sql((query, (topic, row_id)))
    return int(seq), int(event_id)


@pytest.fixture
def content(history: Ledger) -> Iterator[Any]:
    """``edit(table, column, row_id, new_text)``: change a stored column with plain
    SQL; every column edited is put back as it was after the test."""
    led = history
    saved: list[tuple[str, str, str, Any]] = []

    def key(table: str) -> str:
        return "id::text" if led.pg else "id"

    def edit(table: str, column: str, row_id: str, text: str | None) -> None:
        as_text = f"{column}::text" if led.pg and column != "subject" else column
        old = led.one(f"SELECT {as_text} FROM {table} WHERE {key(table)} = ?", row_id)
        saved.append((table, column, row_id, old))
        cast = "?::jsonb" if led.pg and column != "subject" else "?"
        led.sql((f"UPDATE {table} SET {column} = {cast} WHERE {key(table)} = ?", (text, row_id)))

    yield edit
    for table, column, row_id, old in reversed(saved):
        cast = "?::jsonb" if led.pg and column != "subject" else "?"
        led.sql((f"UPDATE {table} SET {column} = {cast} WHERE {key(table)} = ?", (old, row_id)))


def test_an_untouched_history_verifies_its_content(history: Ledger) -> None:
    led = history
    code, report = led.verify()
    assert code == 0, report
    expected = (
        led.one("SELECT count(*) FROM coord_tasks")  # payloads
        + led.one("SELECT count(*) FROM coord_tasks WHERE state = 'succeeded'")  # results
        + led.one("SELECT count(*) FROM coord_tasks WHERE checkpoint IS NOT NULL")
        + led.one("SELECT count(*) FROM coord_messages")
        + led.one("SELECT count(*) FROM coord_runs")
        + led.one("SELECT count(*) FROM coord_artifacts")  # against their own digests
    )
    assert report["content"] == {
        "checked": expected,
        "pending": 0,
        "uncovered": 0,
        "mismatched": 0,
        "bad_row": None,
    }
    assert expected > 10 and led.one("SELECT count(*) FROM coord_runs") == 1
    assert led.one("SELECT count(*) FROM coord_artifacts") > 0
    text = led.ws.run("audit", "verify").stdout
    assert f"content intact: {expected} stored contents match their sealed hashes" in text
    assert led.verify("--chain-only")[1]["content"] is None


@pytest.mark.parametrize("kind", sorted(CONTENT_EDITS))
def test_edited_content_is_found_naming_the_row(history: Ledger, content: Any, kind: str) -> None:
    led = history
    table, column, which, change = CONTENT_EDITS[kind]
    row_id = str(led.one(which))
    as_text = f"{column}::text" if led.pg else column
    key = "id::text" if led.pg else "id"
    stored = led.one(f"SELECT {as_text} FROM {table} WHERE {key} = ?", row_id)
    content(table, column, row_id, json.dumps(change(json.loads(stored))))
    assert_content_found(led, table, column, row_id)


def test_an_edited_message_subject_is_found(history: Ledger, content: Any) -> None:
    led = history
    row_id = str(led.one("SELECT id FROM coord_messages WHERE subject = 'review'"))
    content("coord_messages", "subject", row_id, flip("review", 0))
    assert_content_found(led, "coord_messages", "subject", row_id)


def assert_content_found(led: Ledger, table: str, column: str, row_id: str) -> None:
    """verify exits 1 naming the row, its column and the event that sealed its hash;
    the chain alone still verifies (the edit is in a row, not in an event)."""
    label, topic, _ = SEALED_BY[column]
    seq, event_id = sealing_entry(led, column, row_id)
    problem = assert_fails_at(led, seq, event_id)
    assert problem == (
        f"{table} row {row_id}: its {label} does not match the hash sealed by event "
        f"{event_id} ({topic}, entry {seq}): edited in the database"
    )
    _, report = led.verify()
    assert report["content"]["bad_row"] == {
        "table": table,
        "id": row_id,
        "column": label,
        "event_id": event_id,
        "seq": seq,
    }
    assert report["content"]["mismatched"] == 1
    text = led.ws.run("audit", "verify")
    assert text.returncode == 1 and f"FAILED: {table} row {row_id}: its {label}" in text.stdout
    assert led.verify("--chain-only")[0] == 0


def test_an_edited_artifact_is_found_against_its_digest(history: Ledger) -> None:
    led = history
    digest, content = led.sql("SELECT digest, content FROM coord_artifacts ORDER BY digest")[0]
    original = bytes(content)
    edited = original[:-1] + bytes([original[-1] ^ 1])  # one bit of the last byte
    led.sql(("UPDATE coord_artifacts SET content = ? WHERE digest = ?", (edited, digest)))
    try:
        problem = assert_fails_at(led, None, None)
        assert problem == (
            f"coord_artifacts row {digest}: its content does not hash to its digest: "
            "edited in the database"
        )
    finally:
        led.sql(("UPDATE coord_artifacts SET content = ? WHERE digest = ?", (original, digest)))
