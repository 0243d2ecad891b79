"""The audit ledger: its state, verification (against a checkpoint too), and signed
checkpoints of its head."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from coord.api.deps import Authenticated, require
from coord.api.models import Body
from coord.errors import SettingMissing
from coord.services import audit as service
from coord.services.audit import LedgerStatus, VerifyReport

router = APIRouter(tags=["audit"])


class VerifyBody(Body):
    """Verify the chain, and against a checkpoint when one is given."""

    checkpoint: dict[str, Any] | None = Field(None, description="A `coord audit checkpoint` file.")
    chain_only: bool = Field(
        False, description="Check the chain alone, not the stored content its events sealed."
    )


@router.get("/audit/status", operation_id="auditStatus", response_model=LedgerStatus)
def status(who: Authenticated) -> LedgerStatus:
    """The chain's head and how far sealing lags behind the events."""
    require(who, "read_audit")
    return service.status(who.store)


@router.post("/audit/verify", operation_id="auditVerify", response_model=VerifyReport)
def verify(who: Authenticated, body: VerifyBody) -> VerifyReport:
    """Recompute the chain and check the stored content its events sealed; ``ok``
    is false with the first bad entry or row named. A checkpoint is checked with
    the server's signing key."""
    require(who, "read_audit")
    public_key = None
    if body.checkpoint is not None:
        public_key = service.public_key_pem(_signing_key(who, "verifying a checkpoint"))
    return service.verify(
        who.store,
        checkpoint=body.checkpoint,
        public_key_pem=public_key,
        content=not body.chain_only,
    )


@router.post("/audit/checkpoint", operation_id="auditCheckpoint", response_model=dict[str, Any])
def checkpoint(who: Authenticated) -> dict[str, Any]:
    """Seal, then sign the chain's head with the server's key (keep it elsewhere)."""
    require(who, "read_audit")
    return service.make_checkpoint(who.store, _signing_key(who, "signing a checkpoint"))


def _signing_key(who: Authenticated, needed_for: str) -> bytes:
    """The server's ledger signing key; 503 ``setting_missing`` naming the setting
    when it has none (an operator must configure it: the caller cannot help)."""
    private = who.server.settings.ledger_signing_key_pem()
    if private is None:
        raise SettingMissing(
            f"{needed_for} needs the server's ledger signing key, which is not configured: "
            "set COORD_LEDGER_SIGNING_KEY (or COORD_LEDGER_SIGNING_KEY_FILE) and restart "
            "the server",
            setting="COORD_LEDGER_SIGNING_KEY",
        )
    return private
