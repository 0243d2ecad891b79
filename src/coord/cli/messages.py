"""``coord send``, ``read``, ``ack``, ``thread`` and ``coord message`` (get, events):
sending messages between agents and following what became of them."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated, Any

import typer

from coord.cli import completion, files, surface
from coord.cli import message_views as views
from coord.cli.options import checked_by
from coord.cli.output import Format, OutputOption, emit, line, note, table
from coord.domain import content
from coord.domain.durations import parse_duration
from coord.domain.tasks import Priority
from coord.errors import InvalidInput

message_app = typer.Typer(
    help="Look at one message: its delivery state per recipient, its events.",
    no_args_is_help=True,
)

AgentName = Annotated[
    str,
    typer.Argument(help="The agent whose mailbox it is.", autocompletion=completion.agents),
]
MessageId = Annotated[str, typer.Argument(help="The message id.")]


def _message_body(body: str | None, body_file: str | None, json_body: str | None) -> Any:
    """The body from at most one of --body, --body-file and --json (None: no body)."""
    given = [
        name
        for name, value in (("--body", body), ("--body-file", body_file), ("--json", json_body))
        if value is not None
    ]
    if len(given) > 1:
        raise typer.BadParameter(
            f"give one of --body, --body-file and --json, not {' and '.join(given)}"
        )
    if body_file is not None:
        return files.read_text(body_file, "--body-file", field="body")
    if json_body is not None:
        try:
            return content.parse(json_body, "--json")  # strict: NaN and Infinity are refused
        except content.ContentInvalid as exc:
            raise InvalidInput(str(exc), field="body") from None
    return body


def send(
    sender: Annotated[
        str,
        typer.Argument(metavar="FROM", help="The sending agent.", autocompletion=completion.agents),
    ],
    to: Annotated[
        str,
        typer.Argument(
            metavar="TO",
            help="An agent name, topic:NAME (its subscribers) or all (every agent).",
            autocompletion=completion.recipients,
        ),
    ],
    subject: Annotated[str, typer.Option("--subject", "-s", help="The subject (required).")],
    body: Annotated[
        str | None, typer.Option("--body", "-b", help="The body, as text (a JSON string).")
    ] = None,
    body_file: Annotated[
        str | None,
        typer.Option("--body-file", "-f", help="Read the body text from a file ('-': stdin)."),
    ] = None,
    json_body: Annotated[
        str | None, typer.Option("--json", help="The body as a JSON value, e.g. '{\"n\": 1}'.")
    ] = None,
    priority: Annotated[
        str,
        typer.Option(
            help="low, normal, high or critical (or 0-3).", callback=checked_by(Priority.parse)
        ),
    ] = "normal",
    thread: Annotated[
        str | None, typer.Option(help="Join this existing thread (a thread or message id).")
    ] = None,
    reply_to: Annotated[
        str | None,
        typer.Option("--reply-to", help="Answer this message (joins its thread)."),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(help="Idempotency key: the same message sent again is not sent twice."),
    ] = None,
    ttl: Annotated[
        str | None,
        typer.Option(
            help="Expire from inboxes after this long, e.g. 10m, 1h.",
            callback=checked_by(parse_duration),
        ),
    ] = None,
    output: OutputOption = Format.TEXT,
) -> None:
    """Send a message from agent FROM to TO and print its id.

    The body is text (--body or --body-file), stored as a JSON string, or
    any JSON value (--json); give at most one. With --key, sending the same
    message again prints the first one's id; another message with that key
    fails. Exits 1 for an unknown agent, an empty subject, a body over
    COORD_MAX_MESSAGE_BYTES or bad JSON, and nothing is sent then.
    """
    message_body = _message_body(body, body_file, json_body)
    with surface.operations() as ops:
        result = ops.mail.send(
            to,
            subject,
            message_body,
            priority=priority,
            thread_id=thread,
            reply_to=reply_to,
            ttl=ttl,
            key=key,
            sender=sender,
        )
    if not result.created:
        note(f"key {key} was used before for this message: not sent again")
    elif not result.recipients:
        note(f"{to} has no recipients: the message is stored, but nobody got it")
    emit(dataclasses.asdict(result), output, lambda: line(result.id))


def read(agent: AgentName, message_id: MessageId, output: OutputOption = Format.TEXT) -> None:
    """Show one message of AGENT's mailbox, with its body, and mark it read.

    A message read or acknowledged before keeps its state.
    """
    with surface.operations() as ops:
        found = ops.mail.read(message_id, agent)
    emit(found, output, lambda: views.inbox_message(found))


def ack(
    agent: AgentName,
    message_ids: Annotated[list[str], typer.Argument(help="Message ids of AGENT's mailbox.")],
    output: OutputOption = Format.TEXT,
) -> None:
    """Acknowledge messages of AGENT's mailbox: the agent is done with them.

    All or none: an id the mailbox does not hold fails (exit 1) and
    acknowledges nothing. Messages acknowledged before are left as they are
    and not counted.
    """
    with surface.operations() as ops:
        acked = ops.mail.ack(message_ids, agent)
    emit(
        {"count": len(acked), "ids": acked},
        output,
        lambda: line(f"acknowledged {len(acked)} message(s)"),
    )


def thread(
    thread_id: Annotated[
        str, typer.Argument(help="A thread id, or the id of any of its messages.")
    ],
    output: OutputOption = Format.TEXT,
) -> None:
    """Show a whole thread with each recipient's state, oldest first.

    Every message with its body, and per recipient: delivered, read, acked
    or expired.
    """
    with surface.operations() as ops:
        messages = ops.mail.thread(thread_id)
    emit(messages, output, lambda: views.thread(messages))


@message_app.command("get")
def get(message_id: MessageId, output: OutputOption = Format.TEXT) -> None:
    """Show one message with its delivery state per recipient.

    What the sender sees: headers, body, and per recipient its sequence
    number and state (delivered, read, acked or expired) with times. Marks
    nothing read.
    """
    with surface.operations() as ops:
        found = ops.mail.message(message_id)
    emit(found, output, lambda: views.message(found))


@message_app.command("events")
def events(message_id: MessageId, output: OutputOption = Format.TEXT) -> None:
    """Show a message's events, oldest first.

    message.sent, message.delivered (one per recipient), message.read,
    message.acked and message.expired.
    """
    with surface.operations() as ops:
        found = ops.mail.message_events(message_id)
    emit(
        found,
        output,
        lambda: table(
            ["id", "time", "topic", "actor", "data"],
            [(e.id, e.created_at.isoformat(), e.topic, e.actor, json.dumps(e.data)) for e in found],
            empty="no events",
        ),
    )
