"""``coord key`` (create, list, revoke): the API keys agents and people authenticate
with. A key is shown once, when it is made; coord keeps only a hash of its secret."""

from __future__ import annotations

from typing import Annotated

import typer

from coord.cli import completion, context
from coord.cli.options import checked_by
from coord.cli.output import Format, OutputOption, age, emit, line, note, table
from coord.domain.durations import parse_duration
from coord.domain.security import ApiKeyInfo
from coord.services import keys as service
from coord.services.auth import load_roles

app = typer.Typer(help="Create, list and revoke API keys (for the REST API).", no_args_is_help=True)

KeyId = Annotated[str, typer.Argument(help="The key's id (12 letters and digits).")]


@app.command("create")
def create(
    agent: Annotated[
        str,
        typer.Option(
            "--agent",
            help="The agent the key acts as.",
            show_default=False,
            autocompletion=completion.agents,
        ),
    ],
    role: Annotated[
        str | None,
        typer.Option(help="A role of the role file (default: the agent's role)."),
    ] = None,
    expires: Annotated[
        str | None,
        typer.Option(
            help="How long the key works, e.g. 90d (default: until revoked).",
            callback=checked_by(parse_duration),
        ),
    ] = None,
    output: OutputOption = Format.TEXT,
) -> None:
    """Create an API key for an agent and print it, once.

    Only a hash of the key is stored: copy it now, it cannot be shown again
    (make a new one if it is lost). Exits 1 for an unknown agent or role.
    """
    roles = load_roles(context.settings().rbac_file)
    with context.open_store() as store:
        created = service.create_key(
            store, agent=agent, role=role, expires=expires, roles=roles, actor=context.actor()
        )
    info = created.info
    note(f"API key {info.id} for {info.agent}: store it now, it will not be shown again")
    emit(
        {**info.model_dump(mode="json"), "key": created.key},
        output,
        lambda: line(created.key),
    )


def _role(info: ApiKeyInfo) -> str:
    return info.role or "(agent's)"


@app.command("list")
def list_keys(
    agent: Annotated[
        str | None, typer.Option(help="Only this agent's keys.", autocompletion=completion.agents)
    ] = None,
    output: OutputOption = Format.TEXT,
) -> None:
    """List API keys, oldest first, revoked and expired ones too (never their secrets)."""
    with context.open_store() as store:
        found = service.list_keys(store, agent)
    emit(
        found,
        output,
        lambda: table(
            ["id", "agent", "role", "state", "created", "expires", "revoked", "last used"],
            [
                (
                    k.id,
                    k.agent,
                    _role(k),
                    k.state.value,
                    age(k.created_at),
                    age(k.expires_at) or "never",
                    age(k.revoked_at),
                    age(k.last_used_at),
                )
                for k in found
            ],
            empty="no API keys yet: make one with `coord key create --agent NAME`",
        ),
    )


@app.command("revoke")
def revoke(key_id: KeyId, output: OutputOption = Format.TEXT) -> None:
    """Revoke an API key: the next request with it is refused.

    Exits 1 if there is no such key or it was revoked already.
    """
    with context.open_store() as store:
        info = service.revoke_key(store, key_id, actor=context.actor())
    emit(info, output, lambda: line(f"revoked API key {info.id} of {info.agent}"))
