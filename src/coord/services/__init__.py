"""Use cases: the only layer the CLI, the API and the dashboard call."""
