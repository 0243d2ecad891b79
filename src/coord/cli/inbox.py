"""``coord inbox``: an agent's mailbox, listed once or followed as messages arrive."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from coord.cli import completion, context, remote_follow, surface
from coord.cli import message_views as views
from coord.cli.output import Format, OutputOption, emit, jsonl_line, note
from coord.domain.views import InboxMessage
from coord.operations.queries import InboxQuery
from coord.ports.store import Store
from coord.services import messages as service

FOLLOW_POLL_S = 0.2  # how often --follow looks for new messages


def inbox(
    agent: Annotated[
        str,
        typer.Argument(help="The agent whose mailbox to show.", autocompletion=completion.agents),
    ],
    unread: Annotated[bool, typer.Option("--unread", help="Only messages not read yet.")] = False,
    by_priority: Annotated[
        bool, typer.Option("--by-priority", help="Critical first (else oldest first).")
    ] = False,
    thread: Annotated[str | None, typer.Option(help="Only messages of this thread.")] = None,
    sender: Annotated[
        str | None,
        typer.Option(
            "--from", help="Only messages from this agent.", autocompletion=completion.agents
        ),
    ] = None,
    topic: Annotated[
        str | None,
        typer.Option(help="Only messages sent to topic:TOPIC.", autocompletion=completion.topics),
    ] = None,
    limit: Annotated[
        int,
        typer.Option(min=1, max=service.MAX_INBOX_LIMIT, help="At most this many messages."),
    ] = 50,
    after_seq: Annotated[
        int | None,
        typer.Option(
            "--after-seq",
            min=0,
            help="Only messages with a sequence number above N (page a mailbox by sequence).",
        ),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow", "-F", help="Then print new messages as they arrive, until Ctrl-C."
        ),
    ] = False,
    output: OutputOption = Format.TEXT,
) -> None:
    """List an agent's messages, or follow them as they arrive.

    Oldest first: sequence number, id, sender, subject, priority, state
    (delivered, read or acked) and when it was sent. Expired messages are
    not shown. Listing marks nothing read ('coord read' does).

    With --follow, print the messages found, then each new one matching
    the filters as it arrives (with -o json or jsonl: one JSON object per line),
    until Ctrl-C or SIGTERM, which exit 0.

    With --after-seq N, list only messages numbered above N: pass the
    highest seq seen so far to get only what is new.
    """
    filters: dict[str, Any] = {
        "unread": unread,
        "thread": thread,
        "sender": sender,
        "topic": topic,
    }
    if follow and after_seq is not None:
        # --follow already starts from what is new; two starting points would conflict.
        raise typer.BadParameter("--after-seq lists once; it does not go with --follow")
    if not follow:
        query = InboxQuery(unread, by_priority, thread, sender, topic, limit, after_seq)
        with surface.operations() as ops:
            found = ops.mail.inbox(agent, query)
        emit(found, output, lambda: views.inbox_table(found, empty=f"{agent}: no messages"))
        return
    if surface.active():
        _follow_remotely(agent, by_priority, limit, filters, output)
        return
    with context.open_store() as store:
        seen = service.latest_sequence(store, agent)
        found = service.inbox(store, agent, by_priority=by_priority, limit=limit, **filters)
        try:
            if output is Format.TEXT:
                views.follow_header()
            _print(found, output)
            seen = max([seen, *(m.seq for m in found)])
            note(f"following {agent}'s mailbox: Ctrl-C to stop")
            _follow(store, agent, seen, filters, output)
        except BrokenPipeError:  # `coord inbox --follow | head`: the reader is gone;
            # end quietly, as rich does for text (exit 1, no traceback at exit)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise SystemExit(1) from None


def _follow_remotely(
    agent: str, by_priority: bool, limit: int, filters: dict[str, Any], output: Format
) -> None:
    """``--follow`` through a server: woken by its event stream."""

    def started() -> None:
        if output is Format.TEXT:
            views.follow_header()

    try:
        remote_follow.follow(
            agent,
            by_priority=by_priority,
            limit=limit,
            filters=filters,
            started=started,
            show=lambda found: _print(found, output),
        )
    except BrokenPipeError:  # as below
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None


def _print(messages: list[InboxMessage], output: Format) -> None:
    for m in messages:
        if output.machine:  # a stream: one object per line, as -o jsonl
            jsonl_line(m)
        else:
            views.follow_line(m)
    sys.stdout.flush()


def _follow(store: Store, agent: str, after: int, filters: dict[str, Any], output: Format) -> None:
    """Poll for deliveries numbered above ``after`` until a signal stops it."""
    with _stop_on_signals() as stopped:
        while not stopped.wait(FOLLOW_POLL_S):
            new = service.inbox(
                store, agent, after_seq=after, limit=service.MAX_INBOX_LIMIT, **filters
            )
            if new:
                _print(new, output)
                after = new[-1].seq


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event set by Ctrl-C (SIGINT) or SIGTERM while the block runs."""
    stopped = threading.Event()
    watched = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda *_: stopped.set()) for sig in watched}
    try:
        yield stopped
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
