"""Protocols the engine needs from the outside world (the store and its wake-ups)."""
