"""``coord agent`` (add, list, get, remove) and ``coord subscribe`` / ``unsubscribe``:
the agents that own mailboxes, and the topics they follow."""

from __future__ import annotations

from typing import Annotated

import typer

from coord.cli import completion, surface
from coord.cli.output import Format, OutputOption, age, emit, line, table
from coord.domain.views import AgentInfo

app = typer.Typer(
    help="Register, list, show and remove agents (each has a mailbox).", no_args_is_help=True
)

AgentName = Annotated[
    str,
    typer.Argument(help="The agent's name.", show_default=False, autocompletion=completion.agents),
]
TopicName = Annotated[
    str,
    typer.Argument(help="The topic's name (without 'topic:').", autocompletion=completion.topics),
]


@app.command("add")
def add(
    name: Annotated[
        str, typer.Argument(help="A new agent's name: 1-64 letters, digits, '_', '.' or '-'.")
    ],
    role: Annotated[str | None, typer.Option(help="What the agent does, e.g. review.")] = None,
    domain: Annotated[
        list[str] | None,
        typer.Option("--domain", "-d", help="A domain it covers (repeatable)."),
    ] = None,
    human: Annotated[bool, typer.Option("--human", help="The agent is a person.")] = False,
    description: Annotated[str | None, typer.Option(help="Free text about the agent.")] = None,
    output: OutputOption = Format.TEXT,
) -> None:
    """Register an agent, with an empty mailbox.

    Exits 1 if an agent of that name exists already. A removed agent can be
    added again: it finds its mailbox as it was.
    """
    with surface.operations() as ops:
        info = ops.agents.add(
            name, description=description, human=human, domains=domain or (), role=role
        )
    emit(info, output, lambda: line(f"added agent {info.name}"))


@app.command("list")
def list_agents(output: OutputOption = Format.TEXT) -> None:
    """List the agents, by name."""
    with surface.operations() as ops:
        found = ops.agents.all()
    emit(
        found,
        output,
        lambda: table(
            ["name", "role", "human", "domains", "topics", "created", "last seen"],
            [
                (
                    a.name,
                    a.role,
                    "yes" if a.human else "no",
                    ",".join(a.domains) or None,
                    ",".join(a.topics) or None,
                    age(a.created_at),
                    age(a.last_seen_at),
                )
                for a in found
            ],
            empty="no agents yet: add one with `coord agent add NAME`",
        ),
    )


@app.command("get")
def get(name: AgentName, output: OutputOption = Format.TEXT) -> None:
    """Show one agent: role, domains, topics, when it was last seen.

    "Last seen" is the last time it sent, read or acknowledged a message.
    """
    with surface.operations() as ops:
        info = ops.agents.get(name)
    emit(info, output, lambda: _render_agent(info))


def _render_agent(info: AgentInfo) -> None:
    fields = {
        "name": info.name,
        "role": info.role,
        "human": "yes" if info.human else "no",
        "domains": ", ".join(info.domains) or None,
        "topics": ", ".join(info.topics) or None,
        "description": info.description,
        "created": info.created_at.isoformat(),
        "last seen": info.last_seen_at.isoformat() if info.last_seen_at else None,
    }
    for key, value in fields.items():
        line(f"{key:>11}: {'-' if value is None else value}")


@app.command("remove")
def remove(name: AgentName, output: OutputOption = Format.TEXT) -> None:
    """Remove an agent and its subscriptions (its messages are kept).

    Its messages still show in threads and in 'coord message get', and
    adding the agent again brings its mailbox back. Exits 1 if there is no
    such agent.
    """
    with surface.operations() as ops:
        ops.agents.remove(name)
    emit(
        {"name": name, "removed": True},
        output,
        lambda: line(f"removed agent {name} (its messages are kept)"),
    )


def subscribe(agent: AgentName, topic: TopicName, output: OutputOption = Format.TEXT) -> None:
    """Subscribe an agent to a topic.

    The agent then gets every message sent to topic:TOPIC (except its own).
    Subscribing again changes nothing.
    """
    with surface.operations() as ops:
        changed = ops.agents.subscribe(topic, agent).changed
    text = f"{agent} subscribed to {topic}" if changed else f"{agent} was subscribed to {topic}"
    emit(
        {"agent": agent, "topic": topic, "changed": changed},
        output,
        lambda: line(text),
    )


def unsubscribe(agent: AgentName, topic: TopicName, output: OutputOption = Format.TEXT) -> None:
    """End an agent's subscription to a topic.

    Messages it got already stay in its mailbox. Unsubscribing when not
    subscribed changes nothing.
    """
    with surface.operations() as ops:
        changed = ops.agents.unsubscribe(topic, agent).changed
    text = (
        f"{agent} unsubscribed from {topic}"
        if changed
        else f"{agent} was not subscribed to {topic}"
    )
    emit(
        {"agent": agent, "topic": topic, "changed": changed},
        output,
        lambda: line(text),
    )
