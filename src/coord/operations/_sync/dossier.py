"""Gathering a run's dossier through the runs surface: the same calls (and so the
same checks of who may read the run) whether ``runs`` is over the database or over
HTTP, and the same files either way (see :mod:`coord.operations.dossier`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from coord.operations.dossier import Dossier, assemble

if TYPE_CHECKING:
    from coord.operations._sync.protocols import Runs


def gather(runs: Runs, run_id: str) -> Dossier:
    """The dossier of run ``run_id``: the run, its cost, history and artifacts."""
    run = runs.get(run_id)
    cost = runs.cost(run.id)
    events = runs.events(run.id)
    artifacts = runs.artifacts(run.id)
    contents = {}
    for artifact in artifacts:
        if artifact.digest not in contents:  # one content may be several artifacts
            contents[artifact.digest] = runs.artifact(run.id, artifact.digest)
    return assemble(run, cost, events, artifacts, contents)
