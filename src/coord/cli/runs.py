"""``coord run``: plan, start, inspect and steer workflow runs."""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from coord.cli import completion, files, run_views, surface
from coord.cli.output import Format, OutputOption, emit, line, note, stdout
from coord.cli.worker import load_app
from coord.cli.workflows import AppOption, is_file_ref, load_file, resolve, session
from coord.domain import content
from coord.domain.run_views import RunInfo
from coord.domain.runs import RunState
from coord.errors import InvalidInput
from coord.operations import RunFilter, RunHandle, Surface
from coord.services import runs as service

app = typer.Typer(help="Plan, start, inspect and steer workflow runs.", no_args_is_help=True)

RunArg = Annotated[str, typer.Argument(help="The run id.", autocompletion=completion.runs)]
InputOption = Annotated[
    str | None, typer.Option("--input", "-i", help="The run input: a JSON value.")
]


def _input(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return content.parse(text, "--input")  # strict: NaN and Infinity are refused
    except content.ContentInvalid as exc:
        raise InvalidInput(str(exc), field="input") from None


@app.command("plan")
def plan(
    workflow: Annotated[str, typer.Argument(help="A workflow name or a YAML file.")],
    input_text: InputOption = None,
    app_ref: AppOption = None,
    output: OutputOption = Format.TEXT,
) -> None:
    """Print what a run would do, without running it: phases in order, parallel
    groups, budgets, time boxes, gates and the evidence they require."""
    run_input = _input(input_text)
    if is_file_ref(workflow):
        coord_app = None if app_ref is None else load_app(app_ref)
        spec = load_file(workflow, coord_app)
    elif surface.active():
        _by_name(workflow, app_ref)
        with surface.operations() as ops:
            found = ops.runs.plan(workflow, run_input)
        emit(found, output, lambda: run_views.plan(found))
        return
    else:
        with session(app_ref) as (coord_app, store):
            spec = resolve(workflow, coord_app, store)
    found = service.plan(spec, run_input)
    emit(found, output, lambda: run_views.plan(found))


@app.command("start")
def start(
    workflow: Annotated[str, typer.Argument(help="A workflow name or a YAML file.")],
    app_ref: AppOption = None,
    input_text: InputOption = None,
    key: Annotated[
        str | None, typer.Option(help="Idempotency key: the same key starts one run.")
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait", help="Wait until the run ends (or is paused, or awaits an approval)."
        ),
    ] = False,
    timeout: Annotated[
        float | None, typer.Option(min=0, help="With --wait: give up after this many seconds.")
    ] = None,
    output: OutputOption = Format.TEXT,
) -> None:
    """Start a run and print its id (the same KEY gives the same run). Workers of
    the App run its phases. With --wait, print the run when it settles and exit 1
    if it failed or was cancelled."""
    run_input = _input(input_text)
    if surface.active():
        _by_name(workflow, app_ref)
        with surface.operations() as ops:
            _started(ops, ops.runs.start(workflow, run_input, key=key), wait, timeout, output)
        return
    with session(app_ref) as (coord_app, store):
        # A file or an App's workflow is recorded first: runs start by name.
        spec = resolve(workflow, coord_app, store)
        service.register_workflows(store, [spec])
        ops = surface.on(store)
        _started(ops, ops.runs.start(spec.name, run_input, key=key), wait, timeout, output)


def _by_name(workflow: str, app_ref: str | None) -> None:
    """Through a server, a run is of a workflow registered there, named."""
    if app_ref is not None or is_file_ref(workflow):
        raise InvalidInput(
            "through the API, runs are of workflows registered on the server, by name "
            "(a worker or App that declares the workflow registers it): drop --app and "
            "give the workflow's name, not a file",
            field="workflow",
        )


def _started(
    ops: Surface, handle: RunHandle, wait: bool, timeout: float | None, output: Format
) -> None:
    run_id = handle.id
    if not wait:
        emit({"id": run_id, "created": handle.created}, output, lambda: stdout.print(run_id))
        return
    if output is Format.TEXT:
        note(f"run {run_id} started; waiting")
    found = ops.runs.wait(run_id, timeout)
    emit(found, output, lambda: run_views.run(found))
    _exit_for(found)


def _exit_for(run: RunInfo) -> None:
    if run.state in (RunState.FAILED, RunState.CANCELLED):
        raise typer.Exit(1)


@app.command("get")
def get(run_id: RunArg, output: OutputOption = Format.TEXT) -> None:
    """Show a run and every phase: state, attempts, gate loops, start and end,
    usage, and a summary of its result."""
    with surface.operations() as ops:
        found = ops.runs.get(run_id)
    emit(found, output, lambda: run_views.run(found))


@app.command("list")
def list_runs(
    state: Annotated[RunState | None, typer.Option(help="Only runs in this state.")] = None,
    workflow: Annotated[str | None, typer.Option(help="Only runs of this workflow.")] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=service.MAX_LIST_LIMIT, help="At most this many.")
    ] = 50,
    output: OutputOption = Format.TEXT,
) -> None:
    """List runs, newest first."""
    with surface.operations() as ops:
        found = ops.runs.find(RunFilter(state, workflow, limit))
    emit(found, output, lambda: run_views.runs(found))


@app.command("events")
def events(run_id: RunArg, output: OutputOption = Format.TEXT) -> None:
    """Show a run's history: its events and its tasks', oldest first."""
    with surface.operations() as ops:
        history = ops.runs.events(run_id)
    emit(history, output, lambda: run_views.events(history))


def _signal(name: str, run_id: str, output: Format) -> None:
    with surface.operations() as ops:
        handle = ops.runs.handle(run_id)
        signals = {"pause": handle.pause, "resume": handle.resume, "cancel": handle.cancel}
        found = signals[name]()
    _changed(found, output)


def _changed(found: RunInfo, output: Format) -> None:
    emit(found, output, lambda: line(f"run {found.id}: {found.state.value}"))


@app.command("pause")
def pause(run_id: RunArg, output: OutputOption = Format.TEXT) -> None:
    """Pause a running run: nothing new starts; running tasks finish."""
    _signal("pause", run_id, output)


@app.command("resume")
def resume(run_id: RunArg, output: OutputOption = Format.TEXT) -> None:
    """Resume a paused run (it pauses again at once if still over its budget)."""
    _signal("resume", run_id, output)


@app.command("cancel")
def cancel(run_id: RunArg, output: OutputOption = Format.TEXT) -> None:
    """Cancel a run: running tasks are told to stop, then the compensations of its
    succeeded phases run, newest first."""
    _signal("cancel", run_id, output)


@app.command("retry")
def retry(
    run_id: RunArg,
    from_phase: Annotated[
        str | None,
        typer.Option("--from", help="Start again from this phase (default: the failed ones)."),
    ] = None,
    output: OutputOption = Format.TEXT,
) -> None:
    """Run a failed or cancelled run again, reusing the results of every phase
    before the failed one (or before --from)."""
    with surface.operations() as ops:
        found = ops.runs.retry(run_id, from_phase=from_phase)
    _changed(found, output)


@app.command("cost")
def cost(run_id: RunArg, output: OutputOption = Format.TEXT) -> None:
    """Print the run's usage per phase against each budget."""
    with surface.operations() as ops:
        found = ops.runs.cost(run_id)
    emit(found, output, lambda: run_views.cost(found))


@app.command("artifacts")
def artifacts(run_id: RunArg, output: OutputOption = Format.TEXT) -> None:
    """List the artifacts the run's tasks stored, oldest first: phase, name, phase
    attempt, size, digest, producer and tool."""
    with surface.operations() as ops:
        found = ops.runs.artifacts(run_id)
    emit(found, output, lambda: run_views.artifacts(found))


@app.command("artifact")
def artifact(
    run_id: RunArg,
    digest: Annotated[
        str, typer.Argument(help="The artifact's digest, as `coord run artifacts` shows it.")
    ],
    out: Annotated[
        str | None, typer.Option("--out", help="Write the bytes to this file (default: stdout).")
    ] = None,
    output: OutputOption = Format.TEXT,
) -> None:
    """Print one of the run's artifacts (its bytes as stored), or write it to --out.
    With -o json: its digest and size, and its bytes in base64 when there is no
    --out."""
    with surface.operations() as ops:
        content = ops.runs.artifact(run_id, digest)
    found: dict[str, Any] = {"digest": digest, "size": len(content)}
    if out is not None:
        files.write_all([files.Output("--out", Path(out), content)])
        found["out"] = out
        emit(found, output, lambda: line(f"wrote {len(content)} bytes to {out}"))
        return
    if output.machine:
        emit({**found, "base64": base64.b64encode(content).decode()}, output, lambda: None)
        return
    sys.stdout.buffer.write(content)
    sys.stdout.flush()


@app.command("dossier")
def write_dossier(
    run_id: RunArg,
    out: Annotated[str, typer.Option("--out", help="A new (or empty) folder to write.")],
    output: OutputOption = Format.TEXT,
) -> None:
    """Write the run's artifacts, gate results, costs and event history to a folder
    (through a server too: the files are written here)."""
    with surface.operations() as ops:
        written = ops.runs.dossier(run_id).write(out)
    emit(
        {"out": out, "files": written},
        output,
        lambda: line(f"wrote {len(written)} files to {out}"),
    )
