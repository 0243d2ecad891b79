"""The ideamine App: the agents of ``agents.py`` as tasks, and the workflow of
``ideamine.yaml``. ``run.py`` drives it in one process; a worker serves it with
``coord worker --app app:app`` (run from this folder)."""

from __future__ import annotations

from pathlib import Path

import agents

import coord

app = coord.App()  # COORD_DATABASE_URL, or run.py's --database-url / workdir default
for handler in agents.TASKS:
    app.task(retries=2, retry_backoff=0.5, timeout="5m")(handler)
workflow = app.add_workflow(Path(__file__).resolve().parent / "ideamine.yaml")
