"""Messages for people: headers, bodies, per-recipient delivery states, inbox rows.

User text (subjects, bodies) is printed as plain text, never as markup.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from coord.cli.output import age, line, table
from coord.domain.views import DeliveryInfo, InboxMessage, MessageInfo

INBOX_COLUMNS = ("seq", "id", "from", "subject", "priority", "state", "time")
_SUBJECT_WIDTH = 40  # in --follow lines, where columns cannot be measured beforehand


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def headers(fields: dict[str, Any]) -> None:
    """Print ``name: value`` lines, names right-aligned (``-`` for nothing)."""
    width = max(len(k) for k in fields)
    for key, value in fields.items():
        line(f"{key:>{width}}: {'-' if value is None else value}")


def body(value: Any) -> None:
    """Print a body: a string as it is, any other JSON value indented."""
    if value is None:
        line("(no body)")
    elif isinstance(value, str):
        line(value)
    else:
        line(json.dumps(value, indent=2, ensure_ascii=False))


def inbox_message(m: InboxMessage) -> None:
    """One message of a mailbox (``coord read``): headers, a blank line, the body."""
    headers(
        {
            "id": m.id,
            "from": m.sender,
            "to": m.to,
            "subject": m.subject,
            "priority": m.priority,
            "state": m.state.value,
            "seq": m.seq,
            "thread": m.thread_id,
            "reply to": m.reply_to,
            "sent": _when(m.created_at),
            "expires": _when(m.expires_at),
            "read": _when(m.read_at),
            "acked": _when(m.acked_at),
        }
    )
    line("")
    body(m.body)


def message(m: MessageInfo) -> None:
    """One message as its sender sees it (``coord message get``): headers, body, and
    the delivery state of each recipient."""
    headers(
        {
            "id": m.id,
            "from": m.sender,
            "to": m.to,
            "subject": m.subject,
            "priority": m.priority,
            "thread": m.thread_id,
            "reply to": m.reply_to,
            "key": m.key,
            "sent": _when(m.created_at),
            "expires": _when(m.expires_at),
        }
    )
    line("")
    body(m.body)
    line("")
    line("deliveries:")
    deliveries(m.deliveries)


def deliveries(rows: Sequence[DeliveryInfo]) -> None:
    """Per recipient: sequence number in its mailbox, state and when it changed."""
    table(
        ["agent", "seq", "state", "delivered", "read", "acked", "expired"],
        [
            (
                d.agent,
                d.seq,
                d.state.value,
                age(d.delivered_at),
                age(d.read_at),
                age(d.acked_at),
                age(d.expired_at),
            )
            for d in rows
        ],
        empty="  (no recipients)",
    )


def delivery_summary(rows: Sequence[DeliveryInfo]) -> str:
    """``reviewer: acked, lead: read`` (or ``no recipients``)."""
    return ", ".join(f"{d.agent}: {d.state.value}" for d in rows) or "no recipients"


def thread(messages: Sequence[MessageInfo]) -> None:
    """A thread, oldest first: each message's headers, body and recipients' states."""
    line(f"thread {messages[0].thread_id}: {len(messages)} message(s)")
    for m in messages:
        line("")
        reply = f" (reply to {m.reply_to})" if m.reply_to else ""
        line(f"{m.id}  {_when(m.created_at)}  {m.sender} -> {m.to}  {m.priority}{reply}")
        line(f"  subject: {m.subject}")
        text = m.body if isinstance(m.body, str) else json.dumps(m.body, ensure_ascii=False)
        for number, part in enumerate(text.splitlines() or [""]):
            line(f"  {'body:' if number == 0 else '     '} {part}")
        line(f"  state: {delivery_summary(m.deliveries)}")


def inbox_row(m: InboxMessage) -> tuple[Any, ...]:
    """The table row of a mailbox entry (see ``INBOX_COLUMNS``)."""
    return (m.seq, m.id, m.sender, m.subject, m.priority, m.state.value, age(m.created_at))


def inbox_table(messages: Sequence[InboxMessage], *, empty: str) -> None:
    """A mailbox as a table."""
    table(INBOX_COLUMNS, [inbox_row(m) for m in messages], empty=empty)


def follow_header() -> None:
    """The header line of ``coord inbox --follow``."""
    line(_follow_line(INBOX_COLUMNS))


def follow_line(m: InboxMessage) -> None:
    """One mailbox entry as a line of ``coord inbox --follow`` (time: when it was sent,
    local time)."""
    subject = m.subject.replace("\n", " ")
    if len(subject) > _SUBJECT_WIDTH:
        subject = subject[: _SUBJECT_WIDTH - 3] + "..."
    sent = m.created_at.astimezone().strftime("%H:%M:%S")
    line(_follow_line((m.seq, m.id, m.sender, subject, m.priority, m.state.value, sent)))


def _follow_line(values: Sequence[Any]) -> str:
    seq, message_id, sender, subject, priority, state, sent = (str(v) for v in values)
    return (
        f"{seq:>6}  {message_id:<36}  {sender:<16}  {subject:<{_SUBJECT_WIDTH}}  "
        f"{priority:<8}  {state:<9}  {sent}"
    )
