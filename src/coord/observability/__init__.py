"""Logging (and, in later releases, metrics and tracing)."""
