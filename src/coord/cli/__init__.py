"""The ``coord`` command line: one module per noun, calling services only."""
