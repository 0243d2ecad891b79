"""Pure models and rules of coord: no I/O and no imports of the rest of coord."""
