"""The ledger over the API: status, verify (naming the first bad entry after a byte
is edited in the database), and a signed checkpoint that catches a truncated tail."""

from __future__ import annotations

from tests.api.harness import Api
from tests.integration.test_ledger import seal_all, sql


def test_verify_over_the_api_names_an_edited_entry(api: Api, database_url: str) -> None:
    for n in range(3):
        api.call("alice", "POST", "/api/v1/messages", json={"to": "bob", "subject": f"m{n}"})
    seal_all(api.app)
    status = api.call("audrey", "GET", "/api/v1/audit/status").json()
    assert status["head_seq"] > 0
    assert status["unsealed"] == 0
    assert api.call("audrey", "POST", "/api/v1/audit/verify", json={}).json()["ok"] is True

    seq, event_id = sql(database_url, "SELECT seq, event_id FROM coord_ledger ORDER BY seq")[2]
    sql(database_url, "UPDATE coord_events SET actor = 'mallory' WHERE id = ?", event_id)
    report = api.call("audrey", "POST", "/api/v1/audit/verify", json={}).json()
    assert report["ok"] is False
    assert report["first_bad_seq"] == seq
    assert report["first_bad_event_id"] == event_id


def test_a_checkpoint_from_the_api_catches_a_truncated_tail(api: Api, database_url: str) -> None:
    for n in range(3):
        api.call("alice", "POST", "/api/v1/messages", json={"to": "bob", "subject": f"m{n}"})
    seal_all(api.app)
    checkpoint = api.call("audrey", "POST", "/api/v1/audit/checkpoint").json()
    head = checkpoint["seq"]
    assert (
        api.call("audrey", "POST", "/api/v1/audit/verify", json={"checkpoint": checkpoint}).json()[
            "ok"
        ]
        is True
    )

    # Cut the last two entries and move the head back: the chain alone still holds.
    sql(database_url, "DELETE FROM coord_ledger WHERE seq > ?", head - 2)
    last = sql(database_url, "SELECT seq, hash, event_id FROM coord_ledger ORDER BY seq DESC")[0]
    sql(database_url, "UPDATE coord_ledger_head SET seq = ?, hash = ?, event_id = ?", *last)
    sql(database_url, "DELETE FROM coord_events WHERE id > ?", last[2])
    chain = api.call("audrey", "POST", "/api/v1/audit/verify", json={"chain_only": True})
    assert chain.json()["ok"] is True
    # The message whose events went with the tail is still stored, recorded by none.
    deep = api.call("audrey", "POST", "/api/v1/audit/verify", json={}).json()
    assert deep["ok"] is False and deep["content"]["bad_row"]["table"] == "coord_messages", deep
    assert "is recorded by no message.sent event" in deep["problem"], deep
    against = api.call(
        "audrey", "POST", "/api/v1/audit/verify", json={"checkpoint": checkpoint}
    ).json()
    assert against["ok"] is False
    assert "truncated" in against["problem"]
