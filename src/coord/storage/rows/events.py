"""Every event a store writes, built here once for both dialects: its topic, the
rows it refers to, who caused it and its data (JSON text).

A store inserts these rows as they are (SQLite, and PostgreSQL where the change is
known before the statement runs). Where only the database knows a value when the
statement runs (the id of the row a statement took, a claim's attempt), PostgreSQL
binds an event built here as a template (:func:`template`) and fills in that one
value, so that a hot path stays one statement while the event's topic, actor and
data keys are still defined here; ``tests/integration/test_event_shapes.py`` holds
both dialects to the same events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from coord.domain import codec, events, sealed_content
from coord.domain.messages import NewMessage, Recipient
from coord.domain.runs import RunChanges
from coord.domain.steps import StepReset
from coord.domain.tasks import NewTask, Outcome, Renewal, TaskState
from coord.ports.runs import NewArtifact

#: Who recovers expired leases, expires deliveries, and enqueues or cancels the tasks
#: of a run's decision, in their events.
RECOVERY_ACTOR = "coord:recovery"
EXPIRY_ACTOR = "coord:expiry"
RUN_ACTOR = "coord:run"


class Event(NamedTuple):
    """One row of ``coord_events``, in its column order (``created_at`` and ``id``
    come from the store)."""

    topic: str
    task_id: str | None
    run_id: str | None
    message_id: str | None
    actor: str | None
    data: str | None  # JSON text, or None


def event(
    topic: str,
    actor: str | None,
    data: Mapping[str, Any] | None = None,
    *,
    task_id: str | None = None,
    run_id: str | None = None,
    message_id: str | None = None,
) -> Event:
    """An event with ``data`` encoded as JSON (None: no data)."""
    return Event(
        topic, task_id, run_id, message_id, actor, None if data is None else codec.dumps(data)
    )


def as_json_rows(rows: Iterable[Event]) -> str:
    """Events as one JSON array of positional rows (data embedded as JSON, not as a
    string), as PostgreSQL's ``insert_events`` unpacks them."""
    raw = codec.raw
    return codec.dumps(
        [[e.topic, e.task_id, e.run_id, e.message_id, e.actor, raw(e.data)] for e in rows]
    )


def template(row: Event) -> dict[str, Any]:
    """An event's topic, actor and data as query parameters, for a statement that
    fills in the row it refers to (or a value) itself."""
    return {"event_topic": row.topic, "event_actor": row.actor, "event_data": row.data}


# -- tasks --------------------------------------------------------------------------
def enqueued_events(tasks: Iterable[NewTask], actor: str | None) -> list[Event]:
    """One ``task.enqueued`` event per inserted task. Its data is the hash of the
    task's payload, which the ledger seals with the event (see
    :mod:`coord.domain.sealed_content`)."""
    topic, digest = events.TASK_ENQUEUED, sealed_content.json_digest
    # Written as text rather than through the JSON encoder, with no call per task
    # beyond the hash: this runs for every task of every enqueue, and a hex digest
    # needs no escaping.
    head = f'{{"{sealed_content.PAYLOAD_SHA256}":"'
    return [
        Event(topic, t.id, None, None, actor, f'{head}{digest(t.payload_json)}"}}') for t in tasks
    ]


def task_started(task_id: str, attempt: int, owner: str) -> Event:
    """The ``task.started`` event of a claim."""
    return Event(events.TASK_STARTED, task_id, None, None, owner, f'{{"attempt":{attempt}}}')


def task_checkpointed(task_id: str, owner: str, data_json: str) -> Event:
    """``task.checkpointed``, with the hash of the checkpoint."""
    digest = sealed_content.json_digest(data_json)
    return event(
        events.TASK_CHECKPOINTED, owner, {sealed_content.CHECKPOINT_SHA256: digest}, task_id=task_id
    )


def task_cancelled(task_id: str, actor: str | None) -> Event:
    """``task.cancelled`` (by a caller, or by a run's decision)."""
    return Event(events.TASK_CANCELLED, task_id, None, None, actor, None)


def replayed_events(
    ids: Iterable[str],
    reset: StepReset | None,
    deleted: Mapping[str, list[str]],
    actor: str | None,
) -> list[Event]:
    """One ``task.replayed`` event per retried task; with a reset, its data names the
    step records deleted (and says the checkpoint was cleared)."""
    rows: list[Event] = []
    for task_id in ids:
        data = None
        if reset is not None:
            data = {"steps_reset": deleted.get(task_id, []), "checkpoint_reset": True}
        rows.append(event(events.TASK_REPLAYED, actor, data, task_id=task_id))
    return rows


def progress_events(
    renewals: Sequence[Renewal],
    accepted: set[str],
    owner: str,
    of_runs: Mapping[str, tuple[str, str]],
) -> list[Event]:
    """For accepted heartbeats that reported progress or a message: ``task.progress``,
    or ``phase.progress`` (with the run and the phase) for a task of a run
    (``of_runs`` maps those to their run and phase)."""
    rows = []
    for r in renewals:
        if r.task_id in accepted and reports_progress(r):
            data: dict[str, Any] = {"progress": r.progress, "message": r.message}
            run_id, phase = of_runs.get(r.task_id, (None, None))
            topic = events.TASK_PROGRESS if run_id is None else events.PHASE_PROGRESS
            if phase is not None:
                data = {"phase": phase, **data}
            rows.append(event(topic, owner, data, task_id=r.task_id, run_id=run_id))
    return rows


def reports_progress(renewal: Renewal) -> bool:
    """True for a heartbeat whose renewal records a progress event."""
    return renewal.beat and (renewal.progress is not None or bool(renewal.message))


def outcome_events(outcomes: Sequence[Outcome], accepted: set[str], owner: str) -> list[Event]:
    """The event of every accepted outcome (its topic and data come with it)."""
    return [outcome_event(o, owner) for o in outcomes if o.task_id in accepted]


def outcome_event(outcome: Outcome, owner: str) -> Event:
    """The event of one outcome: succeeded, retrying, dead, released..."""
    return Event(outcome.topic, outcome.task_id, None, None, owner, outcome.event_json)


def recovery_events(rows: Sequence[tuple[Any, ...]]) -> list[Event]:
    """``task.lease_expired`` for each recovered ``(id, state, attempt, previous_owner)``,
    plus ``task.dead`` when it was the last attempt."""
    out: list[Event] = []
    for task_id, state, attempt, previous_owner in rows:
        data = codec.dumps({"attempt": attempt, "owner": previous_owner, "next": state})
        task = str(task_id)
        out.append(Event(events.TASK_LEASE_EXPIRED, task, None, None, RECOVERY_ACTOR, data))
        if state == TaskState.DEAD:
            out.append(Event(events.TASK_DEAD, task, None, None, RECOVERY_ACTOR, data))
    return out


# -- mailboxes ----------------------------------------------------------------------
def agent_event(kind: str, name: str, actor: str | None, **data: Any) -> Event:
    """An event of topic ``kind`` about an agent (added, removed, subscribed...)."""
    return event(kind, actor, {"agent": name, **data})


def content_digest(message: NewMessage) -> str:
    """The hash of a message's subject and body that its ``message.sent`` event
    carries, so that the ledger seals the content with the event."""
    return sealed_content.message_digest(message.subject, message.body_json)


def sent_events(
    message: NewMessage, thread_id: str, recipients: Sequence[Recipient]
) -> list[Event]:
    """``message.sent`` (with the hash of the message's content) and one
    ``message.delivered`` per recipient."""
    sent = {
        "to": str(message.to),
        "thread_id": thread_id,
        "recipients": len(recipients),
        sealed_content.CONTENT_SHA256: content_digest(message),
    }
    # Rows built directly rather than through event(): this runs for every message
    # of every send.
    mid, sender, delivered = message.id, message.sender, events.MESSAGE_DELIVERED
    rows = [Event(events.MESSAGE_SENT, None, None, mid, sender, codec.dumps(sent))]
    rows += [
        Event(delivered, None, None, mid, sender, codec.dumps({"agent": r.agent, "seq": r.seq}))
        for r in recipients
    ]
    return rows


def delivery_changed(topic: str, message_id: str | None, agent: str) -> Event:
    """``message.read`` / ``message.acked`` of one delivery of ``agent``."""
    return event(topic, agent, {"agent": agent}, message_id=message_id)


def state_events(topic: str, message_ids: Iterable[str], agent: str) -> list[Event]:
    """``message.read`` / ``message.acked`` for each changed delivery of ``agent``."""
    return [delivery_changed(topic, message_id, agent) for message_id in message_ids]


def expired_events(rows: Iterable[tuple[Any, str]]) -> list[Event]:
    """``message.expired`` for each expired ``(message_id, agent)``."""
    return [
        event(events.MESSAGE_EXPIRED, EXPIRY_ACTOR, {"agent": agent}, message_id=str(message_id))
        for message_id, agent in rows
    ]


# -- runs ---------------------------------------------------------------------------
def decision_events(changes: RunChanges, actor: str | None, run_id: str) -> list[Event]:
    """The events of an engine decision; the phase goes into the data."""
    rows = []
    for change in changes.events:
        data: dict[str, Any] = {}
        if change.phase is not None:
            data["phase"] = change.phase
        if change.data:
            data.update(change.data)
        rows.append(event(change.topic, actor, data or None, task_id=change.task_id, run_id=run_id))
    return rows


def artifact_stored(artifact: NewArtifact, owner: str) -> Event:
    """``artifact.stored``: which artifact of which phase, its digest and size."""
    data = {
        "phase": artifact.phase,
        "name": artifact.name,
        "digest": artifact.digest,
        "size": len(artifact.content),
    }
    return event(
        events.ARTIFACT_STORED, owner, data, task_id=artifact.task_id, run_id=artifact.run_id
    )


# -- security -----------------------------------------------------------------------
def security_event(
    topic: str, actor: str | None, data: dict[str, Any], task_id: str | None = None
) -> Event:
    """One event of a security change (keys and secrets by id and name only)."""
    return event(topic, actor, data, task_id=task_id)


def auth_suppressed(
    topic: str, address: str, start: datetime, end: datetime, denials: int, recorded: int
) -> Event:
    """``auth.suppressed``: a window's denials that were counted but not recorded."""
    data = {
        "address": address,
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "denials": denials,
        "recorded": recorded,
        "suppressed": denials - recorded,
    }
    return event(topic, None, data)
