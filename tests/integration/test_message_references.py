"""A sender names (``reply_to``, ``thread``) only what it may read: a message it sent
or was delivered (directly, through a topic or to all). Anything else is refused
with the very error an unknown id gets, on every entry of the SDK, and nothing is
written. Both backends."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

import coord
from coord.operations.queries import Draft
from coord.services.messages import Outgoing
from tests.helpers import mailbox_rows


@pytest.fixture
def cast(app: coord.App) -> coord.App:
    for name in ("alice", "bob", "hugo", "carol"):
        app.add_agent(name)
    return app


def _refusal(call: Any) -> coord.NotFound:
    with pytest.raises(coord.NotFound) as caught:
        call()
    return caught.value


def _same(foreign: coord.NotFound, unknown: coord.NotFound, fid: str, uid: str) -> None:
    assert type(foreign) is type(unknown)
    assert str(foreign).replace(fid, "ID") == str(unknown).replace(uid, "ID")
    assert repr(foreign.to_dict()).replace(fid, "ID") == repr(unknown.to_dict()).replace(uid, "ID")
    assert fid in str(foreign)


@pytest.fixture
def written(database_url: str) -> Any:
    """How many messages, deliveries and events the store holds, now."""
    return lambda: mailbox_rows(database_url)


_ENTRIES = {
    "send": lambda app, ref: app.send("alice", "bob", "x", **ref),
    "send_many": lambda app, ref: app.send_many(
        [Outgoing("alice", "hugo", "fine"), Outgoing("alice", "bob", "x", **ref)]
    ),
    "send_async": lambda app, ref: asyncio.run(app.send_async("alice", "bob", "x", **ref)),
}


@pytest.mark.parametrize("entry", sorted(_ENTRIES))
@pytest.mark.parametrize("field", ["reply_to", "thread"])
def test_a_foreign_reference_is_refused_as_an_unknown_one(
    cast: coord.App, written: Any, entry: str, field: str
) -> None:
    foreign = cast.send("bob", "hugo", "private").id  # alice neither sent nor got it
    unknown = str(uuid.uuid4())
    before = written()
    send = _ENTRIES[entry]
    refused = _refusal(lambda: send(cast, {field: foreign}))
    missing = _refusal(lambda: send(cast, {field: unknown}))
    _same(refused, missing, foreign, unknown)
    assert written() == before
    assert [m.id for m in cast.thread(foreign)] == [foreign]


@pytest.mark.parametrize("field", ["reply_to", "thread"])
def test_what_the_sender_sent_or_got_may_be_named(cast: coord.App, field: str) -> None:
    cast.subscribe("alice", "news")
    direct = cast.send("bob", "alice", "to alice").id
    sent = cast.send("alice", "hugo", "from alice").id
    topic = cast.send("bob", "topic:news", "news").id
    everyone = cast.send("hugo", "all", "to all").id
    for root in (direct, sent, topic, everyone):
        joined = cast.send("alice", "bob", "re", **{field: root})
        assert joined.thread_id == root
        assert joined.id in [m.id for m in cast.thread(root)]


def test_a_thread_is_named_by_a_party_to_any_of_its_messages(cast: coord.App) -> None:
    root = cast.send("bob", "hugo", "private").id
    reply = cast.send("hugo", "alice", "fyi", reply_to=root)  # alice got one message of it
    assert cast.send("alice", "bob", "re", thread=root).thread_id == root
    assert cast.send("alice", "hugo", "re", reply_to=reply.id).thread_id == root
    # ...but not the messages she was never sent, even of that thread
    other = cast.send("bob", "hugo", "still private", thread=root).id
    unknown = str(uuid.uuid4())
    _same(
        _refusal(lambda: cast.send("alice", "bob", "x", reply_to=other)),
        _refusal(lambda: cast.send("alice", "bob", "x", reply_to=unknown)),
        other,
        unknown,
    )


def test_an_unknown_sender_is_still_reported_first(cast: coord.App) -> None:
    foreign = cast.send("bob", "hugo", "private").id
    with pytest.raises(coord.NotFound, match="unknown sender agent 'nobody'"):
        cast.send("nobody", "bob", "x", reply_to=foreign)


def test_a_batch_naming_its_own_message_is_refused_to_a_stranger(
    cast: coord.App, written: Any
) -> None:
    # bob -> alice and, in the same batch, carol's reply to it: carol is no party.
    from coord.services import messages as mail

    limit = cast.settings.max_message_bytes
    ask = mail.build_message(Draft("alice", "q"), "bob", max_bytes=limit)
    aside = mail.build_message(Draft("bob", "b", reply_to=ask.id), "carol", max_bytes=limit)
    before = written()
    with pytest.raises(coord.NotFound, match=f"reply_to {ask.id}: no such message"):
        mail.send(cast.store, [ask, aside])
    assert written() == before
