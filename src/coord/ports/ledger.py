"""The storage port of the audit ledger: sealing events into a hash chain, reading it."""

from __future__ import annotations

from typing import Protocol


class LedgerStore(Protocol):
    """The hash chain over the events of a coord database."""
