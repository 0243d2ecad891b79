"""The remote twins of the run services (see :mod:`coord.cli.remote`): runs, their
signals, gates and budgets, through :class:`coord.Client`.

Remotely the caller is the key's agent: ``coord gate approve --by NAME`` must name
it (the server never lets one agent act as another), and so must ``--owner``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from coord.cli.remote import twin_of
from coord.client import Client
from coord.domain.budgets import parse_limits
from coord.domain.run_views import RunCost, RunInfo, WorkflowInfo
from coord.domain.runs import RunState
from coord.domain.views import EventInfo
from coord.errors import CoordError, Forbidden, InvalidInput
from coord.services import runs

WAIT_POLL_S = 0.5  # how often `run start --wait` looks at the run


def _as_caller(client: Client, name: str, option: str) -> None:
    me = client.whoami().agent
    if name != me:
        raise Forbidden(
            f"{option}: through the API you act as {me!r}, the agent of COORD_API_KEY, "
            f"never as {name!r}",
            field=option.lstrip("-"),
        )


@twin_of(runs.list_workflows)
def list_workflows(client: Client) -> list[WorkflowInfo]:
    """The workflows registered on the server."""
    return client.workflows()


@twin_of(runs.get_run)
def get_run(client: Client, value: str) -> RunInfo:
    """One run."""
    return client.run(value)


@twin_of(runs.list_runs)
def list_runs(
    client: Client,
    *,
    state: RunState | None = None,
    workflow: str | None = None,
    limit: int = 50,
    before_id: str | None = None,
) -> list[RunInfo]:
    """Runs, newest first."""
    if before_id is not None:
        raise CoordError("before_id is not supported through the API")
    return client.runs(state=state, workflow=workflow, limit=limit)


@twin_of(runs.run_events)
def run_events(client: Client, value: str, after_id: int = 0) -> list[EventInfo]:
    """A run's history."""
    return client.run_events(value, after_id)


@twin_of(runs.cost)
def cost(client: Client, value: str) -> RunCost:
    """Usage against budgets."""
    return client.run_cost(value)


@twin_of(runs.wait_run)
def wait_run(
    client: Client, value: str, timeout: float | None = None, poll: float = 0.1
) -> RunInfo:
    """Look at the run until it settles (or ``timeout`` passes), as locally."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.05
    while True:
        run = client.run(value)
        if runs.settled(run) or (deadline is not None and time.monotonic() >= deadline):
            return run
        time.sleep(delay)
        delay = min(delay * 1.5, max(poll, WAIT_POLL_S))


@twin_of(runs.pause)
def pause(client: Client, value: str, actor: str | None = None) -> RunInfo:
    """Pause a run."""
    return client.pause_run(value)


@twin_of(runs.resume)
def resume(client: Client, value: str, actor: str | None = None) -> RunInfo:
    """Resume a run."""
    return client.resume_run(value)


@twin_of(runs.cancel)
def cancel(client: Client, value: str, actor: str | None = None) -> RunInfo:
    """Cancel a run."""
    return client.cancel_run(value)


@twin_of(runs.retry)
def retry(
    client: Client, value: str, from_phase: str | None = None, actor: str | None = None
) -> RunInfo:
    """Retry a run."""
    return client.retry_run(value, from_phase)


@twin_of(runs.approve)
def approve(client: Client, value: str, phase: str, by: str) -> RunInfo:
    """Approve as the key's agent (``by`` must name it)."""
    _as_caller(client, by, "--by")
    return client.approve(value, phase)


@twin_of(runs.reject)
def reject(client: Client, value: str, phase: str, by: str, reason: str) -> RunInfo:
    """Reject as the key's agent (``by`` must name it)."""
    _as_caller(client, by, "--by")
    return client.reject(value, phase, reason)


@twin_of(runs.waive)
def waive(
    client: Client, value: str, phase: str, *, owner: str, expires: str | float, control: str
) -> RunInfo:
    """Waive a gate, owned by the key's agent (``owner`` must name it)."""
    _as_caller(client, owner, "--owner")
    return client.waive(value, phase, expires=expires, control=control)


@twin_of(runs.set_budget)
def set_budget(
    client: Client,
    target: str,
    limits: Sequence[str] | Mapping[str, float],
    actor: str | None = None,
) -> RunInfo:
    """Set limits on ``RUN`` or ``RUN:PHASE`` (parsed here, as locally)."""
    value, _, phase = target.partition(":")
    assignments = (
        [f"{k}={v}" for k, v in limits.items()] if isinstance(limits, Mapping) else list(limits)
    )
    try:
        budget = parse_limits(assignments)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="limits") from None
    usd = None if budget.usd_micros is None else budget.usd_micros / 1_000_000
    return client.set_budget(
        value,
        phase=phase or None,
        tokens=budget.tokens,
        usd=usd,
        tool_seconds=budget.tool_seconds,
    )
