"""The client as asyncio code: the one source. ``_sync``, its blocking form, is
generated from it by ``scripts/generate_sync.py`` and never edited by hand (a test
regenerates it and fails on any difference)."""
