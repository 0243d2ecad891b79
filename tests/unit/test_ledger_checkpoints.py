"""Signed ledger checkpoints (coord.security.checkpoints): a checkpoint verifies under
the key that signed it, and any edited byte, another key, or a malformed file fails."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from coord.errors import InvalidInput
from coord.security import checkpoints

WHEN = datetime(2026, 12, 2, 4, 4, tzinfo=UTC)


@pytest.fixture(scope="module")
def key() -> tuple[bytes, bytes]:
    return checkpoints.generate_key()


def signed(private: bytes) -> dict[str, Any]:
    return checkpoints.sign_checkpoint(
        private, seq=42, hash="ab" * 32, event_id=99, created_at=WHEN
    )


def test_a_checkpoint_verifies_under_its_key(key: tuple[bytes, bytes]) -> None:
    private, public = key
    cp = signed(private)
    assert set(cp) == {
        "version",
        "seq",
        "hash",
        "event_id",
        "created_at",
        "public_key",
        "signature",
    }
    assert (cp["version"], cp["seq"], cp["event_id"]) == (1, 42, 99)
    assert cp["created_at"] == "2026-12-02T04:04:00+00:00"
    assert len(base64.b64decode(cp["public_key"])) == 32
    assert checkpoints.signature_problem(cp, public) is None
    # The private key's PEM stands for its public half too.
    assert checkpoints.signature_problem(cp, private) is None
    assert checkpoints.public_key_pem(private) == public
    parsed = checkpoints.parse_checkpoint(cp)
    assert (parsed.seq, parsed.hash, parsed.event_id) == (42, "ab" * 32, 99)


@pytest.mark.parametrize(
    ("field", "value"),
    [("seq", 41), ("hash", "ac" + "ab" * 31), ("event_id", 98), ("created_at", "2027"), ("x", 1)],
)
def test_any_edit_breaks_the_signature(key: tuple[bytes, bytes], field: str, value: Any) -> None:
    private, public = key
    cp = {**signed(private), field: value}
    problem = checkpoints.signature_problem(cp, public)
    assert problem is not None and "the file was altered" in problem


def test_an_edited_signature_or_another_key_fails(key: tuple[bytes, bytes]) -> None:
    private, public = key
    cp = signed(private)
    sig = bytearray(base64.b64decode(cp["signature"]))
    sig[0] ^= 1
    forged = {**cp, "signature": base64.b64encode(bytes(sig)).decode()}
    assert "does not verify" in str(checkpoints.signature_problem(forged, public))
    assert "not base64" in str(checkpoints.signature_problem({**cp, "signature": "!!"}, public))
    other_private, other_public = checkpoints.generate_key()
    assert "another key" in str(checkpoints.signature_problem(cp, other_public))
    # Re-signed with another key, naming it inside: still refused under the trusted key.
    resigned = signed(other_private)
    assert "another key" in str(checkpoints.signature_problem(resigned, public))


def test_malformed_checkpoints_and_keys_are_refused(key: tuple[bytes, bytes]) -> None:
    private, _ = key
    cp = signed(private)
    for bad in (
        [],
        {**cp, "version": 2},
        {**cp, "seq": "42"},
        {**cp, "seq": True},
        {**cp, "hash": "xyz"},
    ):
        with pytest.raises(InvalidInput, match="checkpoint"):
            checkpoints.parse_checkpoint(bad)
    with pytest.raises(InvalidInput, match="PEM"):
        checkpoints.load_private_key(b"not a key")
    with pytest.raises(InvalidInput, match="PEM"):
        checkpoints.load_public_key(b"-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----\n")
