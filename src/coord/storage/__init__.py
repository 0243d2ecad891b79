"""Store implementations: SQLite (embedded default) and PostgreSQL (scale out)."""
