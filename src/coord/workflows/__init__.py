"""The run engine: workflow definitions, decisions about runs, and the hooks the
worker calls."""
