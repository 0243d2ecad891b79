"""``coord secret`` (keygen, set, list, delete, rotate): secrets encrypted at rest,
read by task handlers with ``ctx.secret(NAME)``. No command ever prints a value."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer

from coord.cli import context, files
from coord.cli.output import Format, OutputOption, age, emit, line, note, table
from coord.services import secrets as service

app = typer.Typer(
    help="Store, list, delete and re-encrypt secrets (values are never shown).",
    no_args_is_help=True,
)

SecretName = Annotated[
    str, typer.Argument(help="The secret's name: 1-64 letters, digits, '_', '.' or '-'.")
]


def _box() -> service.SecretBox:
    current = context.settings()
    keys = current.secret_keys
    return service.open_box(
        None if keys is None else keys.get_secret_value(), current.secret_keys_file
    )


def _read_value() -> str:
    """The value from stdin (without echo when typed at a terminal)."""
    if sys.stdin.isatty():
        return getpass.getpass("value (not echoed): ")
    # `echo VALUE |` adds a newline that is not part of the secret.
    return files.read_text("-", "the value").rstrip("\r\n")


@app.command("keygen")
def keygen(output: OutputOption = Format.TEXT) -> None:
    """Print a new encryption key for COORD_SECRET_KEYS.

    Put it first in COORD_SECRET_KEYS (comma-separated) or COORD_SECRET_KEYS_FILE
    (one per line) to encrypt new secrets with it; keep the old keys after it
    until `coord secret rotate` has run.
    """
    key = service.generate_fernet_key()
    emit({"key": key}, output, lambda: line(key))


@app.command("set")
def set_secret(name: SecretName, output: OutputOption = Format.TEXT) -> None:
    """Store a secret, reading its value from stdin (e.g. `printf %s "$TOKEN" | coord
    secret set NAME`).

    A trailing newline is dropped. Setting an existing name replaces its value.
    Exits 1 for an empty value or when no encryption key is configured.
    """
    box = _box()
    value = _read_value()
    with context.open_store() as store:
        info = service.set_secret(store, name, value, box, actor=context.actor())
    emit(info, output, lambda: line(f"stored secret {info.name} (key {info.key_id})"))


@app.command("list")
def list_secrets(output: OutputOption = Format.TEXT) -> None:
    """List secrets by name, with the key that encrypted each (never the values)."""
    with context.open_store() as store:
        found = service.list_secrets(store)
    emit(
        found,
        output,
        lambda: table(
            ["name", "key", "created", "updated", "by"],
            [(s.name, s.key_id, age(s.created_at), age(s.updated_at), s.created_by) for s in found],
            empty="no secrets yet: store one with `coord secret set NAME`",
        ),
    )


@app.command("delete")
def delete(name: SecretName, output: OutputOption = Format.TEXT) -> None:
    """Delete a secret. Exits 1 if there is none of that name."""
    with context.open_store() as store:
        service.delete_secret(store, name, actor=context.actor())
    emit({"name": name, "deleted": True}, output, lambda: line(f"deleted secret {name}"))


@app.command("rotate")
def rotate(output: OutputOption = Format.TEXT) -> None:
    """Re-encrypt every secret with the first configured key.

    Afterwards the older keys can be removed from COORD_SECRET_KEYS. Nothing is
    changed, and it exits 1, if any secret cannot be decrypted by the configured keys.
    """
    box = _box()
    with context.open_store() as store:
        count = service.rotate(store, box, actor=context.actor())
    if count == 0:
        note(f"every secret was encrypted with key {box.key_id} already")
    emit(
        {"reencrypted": count, "key_id": box.key_id},
        output,
        lambda: line(f"re-encrypted {count} secret(s) with key {box.key_id}"),
    )
