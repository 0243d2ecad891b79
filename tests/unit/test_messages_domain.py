"""Mailbox rules that need no database: names, addresses, message validation and the
schema-script splitter that keeps function bodies whole."""

from __future__ import annotations

import pytest

import coord
from coord.domain.messages import (
    Address,
    AddressKind,
    Draft,
    check_agent_name,
    handler_agent,
    handler_task_name,
)
from coord.services.messages import build_message
from coord.storage.migrations import split_statements


@pytest.mark.parametrize(
    ("text", "kind", "name"),
    [
        ("reviewer", AddressKind.AGENT, "reviewer"),
        ("topic:security/findings", AddressKind.TOPIC, "security/findings"),
        ("all", AddressKind.ALL, ""),
    ],
)
def test_addresses_parse_and_print_back(text: str, kind: AddressKind, name: str) -> None:
    address = Address.parse(text)
    assert (address.kind, address.name, str(address)) == (kind, name, text)


@pytest.mark.parametrize("bad", ["", "-lead", "has space", "x" * 65, "a:b", "all"])
def test_bad_agent_names_are_refused_naming_the_rule(bad: str) -> None:
    with pytest.raises(ValueError, match=r"invalid agent name|reserved"):
        check_agent_name(bad)


@pytest.mark.parametrize("bad", ["topic:", "topic:has space", "topic:/x", "a:b", ""])
def test_bad_addresses_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        Address.parse(bad)


def test_handler_task_names_round_trip() -> None:
    assert handler_agent(handler_task_name("reviewer")) == "reviewer"
    assert handler_agent("send_email") is None


def test_build_message_validates_every_field() -> None:
    message = build_message(
        Draft("topic:news", "hello", {"k": [1, 2]}, priority="high", ttl="5m"), "a", max_bytes=100
    )
    assert (message.to.kind, message.priority, message.ttl) == (AddressKind.TOPIC, 2, 300.0)
    assert message.body_json == '{"k":[1,2]}'
    cases = [
        (Draft("b", ""), "a", "subject: must not be empty"),
        (Draft("b", "s" * 501), "a", "subject: at most 500"),
        (Draft("b", "s", "x" * 200), "a", "body: 202 bytes, over the limit of 100"),
        (Draft("b", "s", priority="urgent"), "a", "priority"),
        (Draft("b", "s", key=""), "a", "key: use 1-500"),
        (Draft("b", "s", ttl="soon"), "a", "ttl"),
        (Draft("b", "s", ttl=-1), "a", "ttl"),
        (Draft("b", "s", reply_to="42"), "a", "reply_to: '42' is not a message id"),
        (Draft("b", "s"), "a b", "from: invalid agent name"),
        (Draft("", "s"), "a", "to: invalid agent name"),
    ]
    for draft, sender, match in cases:
        with pytest.raises(coord.InvalidInput, match=match):
            build_message(draft, sender, max_bytes=100)


def test_schema_scripts_split_outside_function_bodies() -> None:
    script = """
    CREATE TABLE t (a int); -- a comment; with a semicolon
    CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$
    BEGIN
        RETURN 1;
    END
    $$;
    CREATE INDEX i ON t (a);
    """
    statements = split_statements(script)
    assert len(statements) == 3
    assert statements[1].startswith("CREATE FUNCTION") and "RETURN 1;" in statements[1]
    assert statements[2] == "CREATE INDEX i ON t (a)"
