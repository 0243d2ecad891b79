"""The ledger's hashing and chain walk (coord.domain.ledger): known vectors, RFC 8785
canonical form, and the first problem a walk reports for each kind of damage."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
import rfc8785

from coord.domain.ledger import (
    GENESIS_HASH,
    CanonicalEvent,
    ChainEntry,
    ChainWalk,
    LedgerHead,
    StrayEvent,
    beyond_head,
    canonical_entry,
    entry_hash,
    link,
    stray_finding,
)

EVENT = CanonicalEvent(
    id=7,
    topic="task.succeeded",
    task_id="01a2336d-6e44-7674-baf3-7205f977a77a",
    run_id=None,
    message_id=None,
    actor="host:1:abc",
    created_at="1764648240.123456",
    data='{"attempt":1}',
)

# Computed once from the canonical bytes below; any change to the hashed form (field
# names, order, escaping, genesis) breaks every chain already sealed.
EXPECTED_BYTES = (
    b'{"event":{"actor":"host:1:abc","created_at":"1764648240.123456",'
    b'"data":"{\\"attempt\\":1}","id":7,"message_id":null,"run_id":null,'
    b'"task_id":"01a2336d-6e44-7674-baf3-7205f977a77a","topic":"task.succeeded"},'
    b'"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000",'
    b'"seq":1}'
)


def test_an_entry_is_hashed_over_its_rfc8785_canonical_json() -> None:
    data = canonical_entry(1, GENESIS_HASH, EVENT)
    assert data == EXPECTED_BYTES
    assert data == rfc8785.dumps({"seq": 1, "prev_hash": GENESIS_HASH, "event": EVENT.as_dict()})
    assert entry_hash(1, GENESIS_HASH, EVENT) == hashlib.sha256(EXPECTED_BYTES).hexdigest()


def test_known_vector() -> None:
    # Written out: a change of the hashed form would break every chain sealed before.
    assert entry_hash(1, GENESIS_HASH, EVENT) == (
        "43f63ba1f71df5623b21bfd75004f159d6b2f922cfc5196ab36f3184172d62ad"
    )


def test_keys_are_sorted_as_rfc8785_orders_them() -> None:
    text = canonical_entry(3, "a" * 64, EVENT).decode()
    assert text.index('"event"') < text.index('"prev_hash"') < text.index('"seq"')
    inner = ["actor", "created_at", "data", "id", "message_id", "run_id", "task_id", "topic"]
    positions = [text.index(f'"{key}"') for key in inner]
    assert positions == sorted(positions)


@pytest.mark.parametrize(
    "text",
    [
        "".join(chr(c) for c in range(0x80)),  # controls, quotes, backslash, DEL
        "".join(chr(c) for c in range(0x80, 0xD800)),
        "".join(chr(c) for c in range(0xE000, 0x10000)),
        "".join(chr(c) for c in range(0x10000, 0x110000, 97)),
        "\u2028\u2029</script>\U0001f600 é ß 漢字",
        "",
    ],
    ids=["ascii", "bmp-low", "bmp-high", "astral", "mixed", "empty"],
)
def test_the_fast_canonical_form_equals_rfc8785_for_any_text(text: str) -> None:
    event = replace(EVENT, topic=text, actor=text[::-1], data=text or None)
    expected = rfc8785.dumps({"seq": 12, "prev_hash": "f" * 64, "event": event.as_dict()})
    assert canonical_entry(12, "f" * 64, event) == expected


def test_integers_beyond_ijson_are_refused() -> None:
    with pytest.raises(rfc8785.IntegerDomainError):
        canonical_entry(2**53, GENESIS_HASH, EVENT)


def test_every_field_changes_the_hash() -> None:
    base = entry_hash(5, "b" * 64, EVENT)
    changes = {
        "topic": "task.succeedeD",
        "task_id": None,
        "run_id": "x",
        "message_id": "y",
        "actor": "host:1:abd",
        "created_at": "1764648240.123457",
        "data": '{"attempt":2}',
    }
    for field, value in changes.items():
        assert entry_hash(5, "b" * 64, replace(EVENT, **{field: value})) != base, field
    assert entry_hash(5, "b" * 64, replace(EVENT, id=8)) != base
    assert entry_hash(6, "b" * 64, EVENT) != base
    assert entry_hash(5, "c" * 64, EVENT) != base


# -- walking a chain -----------------------------------------------------------------
def events(n: int) -> list[CanonicalEvent]:
    return [replace(EVENT, id=i, data=f'{{"n":{i}}}') for i in range(1, n + 1)]


def chain(n: int = 5) -> list[ChainEntry]:
    evs = events(n)
    return [
        ChainEntry(e.seq, e.event_id, e.prev_hash, e.hash, ev, (ev.id,))
        for e, ev in zip(link(evs, 0, GENESIS_HASH), evs, strict=True)
    ]


def head_of(entries: list[ChainEntry]) -> LedgerHead:
    last = entries[-1]
    return LedgerHead(last.seq, last.hash, last.event_id, None, last.seq)


def walk(entries: list[ChainEntry], head: LedgerHead | None = None) -> str | None:
    walker = ChainWalk()
    for entry in entries:
        finding = walker.feed(entry)
        if finding is not None:
            return finding.problem
    finding = walker.finish(head or head_of(entries))
    return None if finding is None else finding.problem


def test_link_chains_from_the_genesis_hash() -> None:
    entries = link(events(3), 0, GENESIS_HASH)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    # Continuing after entry 1 gives the same entries 2 and 3 (sealing in batches).
    assert link(events(3)[1:], 1, entries[0].hash) == entries[1:]


def test_an_intact_chain_passes_and_counts_its_entries() -> None:
    entries = chain()
    walker = ChainWalk(watch_seq=3)
    assert all(walker.feed(e) is None for e in entries)
    assert walker.finish(head_of(entries)) is None
    assert walker.checked == 5 and walker.watched == (entries[2].hash, 3)


def test_each_kind_of_damage_is_named() -> None:
    entries = chain()
    assert "entry 3: missing (the chain goes from entry 2 to 4)" in str(
        walk([*entries[:2], *entries[3:]])
    )
    assert "entry 1: missing (the chain starts at entry 2)" in str(walk(entries[1:]))
    gone = replace(entries[2], event=None)
    assert "entry 3: its event 3 is missing (deleted)" in str(walk([*entries[:2], gone]))
    edited = replace(entries[2], event=replace(entries[2].event, data='{"n":33}'))  # type: ignore[arg-type]
    assert "entry 3 (event 3): its hash does not match its content" in str(
        walk([*entries[:2], edited, *entries[3:]])
    )
    relinked = replace(entries[2], prev_hash="e" * 64)
    assert "entry 3 (event 3): prev_hash does not match entry 2's hash" in str(
        walk([*entries[:2], relinked, *entries[3:]])
    )
    backwards = replace(entries[2], event_id=1, order=(1,))
    assert "entry 3 (event 1): out of order" in str(walk([*entries[:2], backwards]))
    assert "the genesis hash" in str(walk([replace(entries[0], prev_hash="1" * 64)]))


def test_the_head_must_name_the_last_entry() -> None:
    entries = chain()
    ahead = LedgerHead(7, "9" * 64, 7, None, 5)
    assert "entry 6: missing (the chain ends at entry 5 but its head is at entry 7" in str(
        walk(entries, ahead)
    )
    edited = replace(head_of(entries), hash="9" * 64)
    assert "the head (entry 5, event 5) does not match entry 5" in str(walk(entries, edited))
    behind = LedgerHead(3, entries[2].hash, 3, None, 5)
    finding = beyond_head(behind)
    assert finding is not None and finding.seq == 4 and "beyond the head" in finding.problem
    assert beyond_head(head_of(entries)) is None


def test_a_stray_event_names_itself_and_the_entry_after_it() -> None:
    finding = stray_finding(StrayEvent(event_id=55, next_seq=17))
    assert (finding.seq, finding.event_id) == (17, 55)
    assert "event 55 is not in the ledger" in finding.problem and "entry 17" in finding.problem
