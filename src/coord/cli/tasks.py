"""``coord task``: enqueue, list, inspect and cancel tasks."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from coord.cli import completion, files, surface
from coord.cli.options import ResetAllOption, ResetStepOption, checked_by, steps_to_reset
from coord.cli.output import Format, OutputOption, age, emit, stdout, table
from coord.domain import content
from coord.domain.durations import parse_duration
from coord.domain.tasks import Priority, TaskState
from coord.domain.views import EventInfo, TaskInfo
from coord.errors import InvalidInput
from coord.operations.queries import EnqueueOptions, TaskFilter
from coord.services import tasks as service

app = typer.Typer(help="Enqueue, list, inspect and cancel tasks.", no_args_is_help=True)


def _parse_payload(text: str, where: str) -> dict[str, Any]:
    try:
        value = content.parse(text, where)  # strict: NaN and Infinity are refused
    except content.ContentInvalid as exc:
        raise InvalidInput(str(exc), field="payload") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{where}: a payload must be a JSON object, got {type(value).__name__}")
    return value


def _read_payload_file(path: str) -> list[dict[str, Any]]:
    """One JSON object per line (blank lines skipped); ``-`` reads stdin."""
    text = files.read_text(path, "--payload-file")
    name = "stdin" if path == "-" else path
    payloads = [
        _parse_payload(line, f"{name} line {number}")
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]
    if not payloads:
        raise InvalidInput(f"{name} holds no payloads")
    return payloads


@app.command("enqueue")
def enqueue(
    name: Annotated[str, typer.Argument(help="The registered task name.")],
    payload: Annotated[
        str | None, typer.Option("--payload", "-p", help="The payload: a JSON object.")
    ] = None,
    payload_file: Annotated[
        str | None,
        typer.Option("--payload-file", "-f", help="JSON lines, one payload per line ('-': stdin)."),
    ] = None,
    key: Annotated[str | None, typer.Option(help="Idempotency key (single payload only).")] = None,
    priority: Annotated[
        str | None,
        typer.Option(
            help="low, normal, high or critical (default: the task's).",
            callback=checked_by(Priority.parse),
        ),
    ] = None,
    delay: Annotated[
        str | None,
        typer.Option(
            help="Run no sooner than this, e.g. 30s, 5m.", callback=checked_by(parse_duration)
        ),
    ] = None,
    queue: Annotated[
        str | None,
        typer.Option(help="Queue (default: the task's).", autocompletion=completion.queues),
    ] = None,
    output: OutputOption = Format.TEXT,
) -> None:
    """Enqueue one task, or one per line of a JSON-lines file (all or nothing).

    Prints the task id (the existing one when KEY was used before with the same
    payload), or the number of tasks enqueued from a file.
    """
    if payload is not None and payload_file is not None:
        raise typer.BadParameter("give --payload or --payload-file, not both")
    if key is not None and payload_file is not None:
        raise typer.BadParameter("--key applies to a single payload, not to --payload-file")
    payloads = (
        _read_payload_file(payload_file)
        if payload_file is not None
        else [_parse_payload(payload or "{}", "--payload")]
    )
    options = EnqueueOptions(priority=priority, delay=delay, queue=queue)
    with surface.operations() as ops:
        results = ops.tasks.enqueue_many(
            name, payloads, keys=[key] * len(payloads), options=options
        )
    if payload_file is None:
        result = results[0]
        emit(
            {"id": result.id, "created": result.created},
            output,
            lambda: stdout.print(result.id),
        )
    else:
        count = sum(r.created for r in results)
        emit(
            {"count": count, "ids": [r.id for r in results]},
            output,
            lambda: stdout.print(count),
        )


@app.command("list")
def list_tasks(
    state: Annotated[TaskState | None, typer.Option(help="Only tasks in this state.")] = None,
    queue: Annotated[
        str | None, typer.Option(help="Only tasks of this queue.", autocompletion=completion.queues)
    ] = None,
    name: Annotated[str | None, typer.Option(help="Only tasks of this name.")] = None,
    limit: Annotated[
        int,
        typer.Option(min=1, max=service.MAX_LIST_LIMIT, help="At most this many (newest first)."),
    ] = 50,
    output: OutputOption = Format.TEXT,
) -> None:
    """List tasks, newest first."""
    with surface.operations() as ops:
        found = ops.tasks.find(TaskFilter(state, queue, name, limit))
    emit(
        found,
        output,
        lambda: table(
            ["id", "name", "queue", "state", "attempt", "priority", "created", "error"],
            [
                (
                    t.id,
                    t.name,
                    t.queue,
                    t.state.value,
                    f"{t.attempt}/{t.max_attempts}",
                    t.priority,
                    age(t.created_at),
                    _error_line(t),
                )
                for t in found
            ],
            empty="no tasks match",
        ),
    )


def _error_line(task: TaskInfo) -> str | None:
    if not task.error:
        return None
    return f"{task.error.get('type')}: {str(task.error.get('message'))[:60]}"


@app.command("get")
def get(
    task_id: Annotated[str, typer.Argument(help="The task id.")],
    output: OutputOption = Format.TEXT,
) -> None:
    """Show one task, with its history of events."""
    with surface.operations() as ops:
        info = ops.tasks.get(task_id)
        history = ops.tasks.events(task_id)
    emit({"task": info, "events": history}, output, lambda: _render_task(info, history))


def _render_task(info: TaskInfo, history: list[EventInfo]) -> None:
    fields = info.model_dump(exclude={"payload", "result", "error", "checkpoint", "usage"})
    for key, value in fields.items():
        stdout.print(f"{key:>17}: {value if value is not None else '-'}", highlight=False)
    for key in ("payload", "result", "checkpoint", "error"):
        value = getattr(info, key)
        if value is not None:
            stdout.print(f"{key:>17}: {json.dumps(value)[:2000]}", highlight=False)
    stdout.print(f"{'usage':>17}: {info.usage.model_dump()}", highlight=False)
    stdout.print("events:")
    table(
        ["id", "time", "topic", "actor", "data"],
        [(e.id, e.created_at.isoformat(), e.topic, e.actor, json.dumps(e.data)) for e in history],
        empty="  (no events)",
    )


@app.command("cancel")
def cancel(
    task_id: Annotated[str, typer.Argument(help="The task id.")],
    output: OutputOption = Format.TEXT,
) -> None:
    """Cancel a task that has not finished (a running one is stopped by its worker
    at its next lease renewal). Exits 1 if the task had already finished (succeeded,
    dead or cancelled)."""
    with surface.operations() as ops:
        info = ops.tasks.cancel(task_id)
    emit(info, output, lambda: stdout.print(f"cancelled {info.id}"))


@app.command("retry")
def retry(
    task_id: Annotated[str, typer.Argument(help="The task id.")],
    reset_all: ResetAllOption = False,
    reset_names: ResetStepOption = None,
    output: OutputOption = Format.TEXT,
) -> None:
    """Retry a dead, failed or cancelled task now, with a fresh set of attempts.

    Its memoized steps replay their recorded results, unless --reset-steps (all of
    them) or --reset-step NAME (those) forgets them first: then they run again and
    their new results are used. A reset clears the task's checkpoint too. Exits 1
    for a task in another state, a task of a run (retry the run), or a step the
    task never recorded.
    """
    reset = steps_to_reset(reset_all, reset_names)
    with surface.operations() as ops:
        info = ops.tasks.retry(task_id, reset_steps=reset)
        reset_keys = _steps_reset(ops.tasks.events(info.id)) if reset else None
    text = f"retrying {info.id}"
    if reset_keys is not None:
        text += f" (steps reset: {', '.join(reset_keys) or 'none recorded'}; checkpoint cleared)"
    emit(info, output, lambda: stdout.print(text, highlight=False))


def _steps_reset(history: list[EventInfo]) -> list[str]:
    """The step records the latest retry deleted (from its ``task.replayed`` event)."""
    for event in reversed(history):
        if event.topic == "task.replayed":
            return [str(k) for k in (event.data or {}).get("steps_reset", [])]
    return []
