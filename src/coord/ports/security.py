"""The storage port of API keys, encrypted secrets and API idempotency records."""

from __future__ import annotations

from typing import Protocol


class SecurityStore(Protocol):
    """API keys, secrets and idempotency records in a coord database."""
