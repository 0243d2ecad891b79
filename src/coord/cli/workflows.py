"""``coord workflow``: validate and list workflow definitions; and how the run
commands find the workflow a ``NAME|FILE`` argument means."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from coord.app import App
from coord.cli import context, surface
from coord.cli.output import Format, OutputOption, emit, line, note, table
from coord.cli.worker import load_app
from coord.domain.workflows import WorkflowSpec
from coord.ports.store import Store
from coord.services import runs as service

app = typer.Typer(help="Validate and list workflow definitions.", no_args_is_help=True)

AppOption = Annotated[
    str | None,
    typer.Option("--app", "-a", help="The App declaring the workflow and its tasks: MODULE:ATTR."),
]


def is_file_ref(ref: str) -> bool:
    """Whether a ``NAME|FILE`` argument names a YAML file."""
    return ref.endswith((".yaml", ".yml")) or Path(ref).is_file()


def load_file(path: str, coord_app: App | None) -> WorkflowSpec:
    """A YAML definition; its task names are checked against the App when given."""
    known = None if coord_app is None else set(coord_app.registry.tasks)
    return service.load_yaml(path, known_tasks=known)


def resolve(ref: str, coord_app: App | None, store: Store | None) -> WorkflowSpec:
    """The workflow ``ref`` means: a YAML file, or one registered in the database (an
    App records the workflows it declares when it opens its database, as
    :func:`session` does)."""
    if is_file_ref(ref):
        return load_file(ref, coord_app)
    if store is None:
        raise typer.BadParameter(f"{ref!r} is not a YAML file: give a file, or --app")
    return service.registered_workflow(store, ref)


@contextmanager
def session(app_ref: str | None) -> Iterator[tuple[App | None, Store]]:
    """The App (when ``--app`` is given) and the database: the App's (the global
    ``--database-url`` replacing it), else the configured one."""
    if app_ref is None:
        with context.open_store() as store:
            yield None, store
        return
    coord_app = load_app(app_ref)
    if context.database_url_given():
        coord_app.use_database(context.settings().database_url)
    try:
        yield coord_app, coord_app.store
    finally:
        coord_app.close()


@app.command("validate")
def validate(
    file: Annotated[str, typer.Argument(help="The YAML definition.")],
    app_ref: AppOption = None,
    output: OutputOption = Format.TEXT,
) -> None:
    """Check a YAML definition: keys, durations, budgets, gates, phases named in
    ``after`` and cycles, and (with --app) the task names. Exits 1 listing every
    problem, with its phase and line."""
    coord_app = None if app_ref is None else load_app(app_ref)
    spec = load_file(file, coord_app)
    data = {
        "workflow": spec.name,
        "phases": spec.order(),
        "groups": spec.groups(),
        "tasks_checked": coord_app is not None,
    }

    def render() -> None:
        line(f"ok: workflow {spec.name!r}, {len(spec.phases)} phases")
        if coord_app is None:
            note("task names not checked: give --app MODULE:ATTR to check them")

    emit(data, output, render)


@app.command("list")
def list_workflows(
    app_ref: AppOption = None,
    output: OutputOption = Format.TEXT,
) -> None:
    """List the workflows registered in the database (every App records the ones it
    declares when it opens it)."""
    if surface.active() and app_ref is None:
        with surface.operations() as ops:
            found = ops.runs.workflows()
    else:
        with session(app_ref) as (_, store):
            found = service.list_workflows(store)
    emit(
        found,
        output,
        lambda: table(
            ["name", "phases", "updated", "description"],
            [
                (w.name, len(w.phases), w.updated_at.isoformat(timespec="seconds"), w.description)
                for w in found
            ],
            empty="no workflows registered",
        ),
    )


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="A registered workflow's name.")],
    output: OutputOption = Format.TEXT,
) -> None:
    """Show a registered workflow: its phases, when it was recorded, and its
    definition (as JSON, the form the database holds)."""
    with surface.operations() as ops:
        found = ops.runs.workflow(name)

    def render() -> None:
        line(f"workflow {found.name}" + (f": {found.description}" if found.description else ""))
        line(f"phases: {', '.join(found.phases)}")
        line(f"updated: {found.updated_at.isoformat(timespec='seconds')}")
        line(json.dumps(found.definition, indent=2, ensure_ascii=False))

    emit(found, output, render)
