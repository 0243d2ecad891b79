"""Security: API keys, roles and permissions, rate limits, secrets, ledger signing."""
