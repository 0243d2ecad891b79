"""``coord audit``: the tamper-evident ledger. Seal events into the hash chain, show
its lag, verify it (alone or against a signed checkpoint), export checkpoints and
make signing keys.

``verify`` prints its report (text or ``-o json``) on stdout either way and exits 0
when the chain is intact, 1 naming the first bad place otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from coord.cli import context, files
from coord.cli.output import Format, OutputOption, age, duration, emit, line
from coord.domain import content
from coord.errors import ConfigError, InvalidInput
from coord.services import audit as service

app = typer.Typer(
    help="The tamper-evident audit ledger: every event sealed into a hash chain, "
    "verified on demand and against signed checkpoints.",
    no_args_is_help=True,
)

_KEY_SETTINGS = "COORD_LEDGER_SIGNING_KEY or COORD_LEDGER_SIGNING_KEY_FILE"


def _short(digest: str) -> str:
    return f"{digest[:16]}…"


def _signing_key() -> bytes | None:
    """The configured private key (PEM), checked; None when neither setting is set."""
    current = context.settings()
    pem = current.ledger_signing_key_pem()
    if pem is None:
        return None
    name = (
        "COORD_LEDGER_SIGNING_KEY"
        if current.ledger_signing_key is not None
        else "COORD_LEDGER_SIGNING_KEY_FILE"
    )
    try:
        service.public_key_pem(pem)  # refuse a malformed key naming the setting
    except InvalidInput as exc:
        raise ConfigError(f"{name}: {exc.message}") from None
    return pem


@app.command("status")
def status(output: OutputOption = Format.TEXT) -> None:
    """Show the chain's head and the sealer's lag: how many events are not sealed
    yet, and how long ago the oldest of them was recorded."""
    with context.open_store() as store:
        report = service.status(store)

    def render() -> None:
        sealed = f", sealed {age(report.sealed_at)}" if report.sealed_at else ""
        line(
            f"head: entry {report.head_seq} (event {report.head_event_id}), "
            f"hash {_short(report.head_hash)}{sealed}"
        )
        if report.unsealed:
            line(
                f"unsealed: {report.unsealed} event(s), the oldest recorded "
                f"{duration(report.lag_seconds)} ago"
            )
        else:
            line("unsealed: none")

    emit(report, output, render)


@app.command("seal")
def seal(output: OutputOption = Format.TEXT) -> None:
    """Seal every event that can be sealed now into the chain.

    Workers do this every COORD_LEDGER_SEAL_INTERVAL; run it where no worker
    runs (from cron, say). On PostgreSQL, events of transactions younger than
    the oldest one still running wait for it to end, and stay unsealed.
    """
    with context.open_store() as store:
        report = service.seal(store)
    left = f"; {report.unsealed} event(s) wait" if report.unsealed else ""
    emit(
        report,
        output,
        lambda: line(
            f"sealed {report.sealed} event(s): head at entry {report.head_seq}, "
            f"hash {_short(report.head_hash)}{left}"
        ),
    )


@app.command("verify")
def verify(
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            help="Also check against this checkpoint (from `coord audit checkpoint`): "
            "its signature, and that the chain still holds the entry it covers.",
        ),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="PEM file of the key the checkpoint must be signed with (default: "
            "the public half of the configured signing key).",
        ),
    ] = None,
    chain_only: Annotated[
        bool,
        typer.Option(
            "--chain-only",
            help="Check the chain alone, not the stored content its events sealed.",
        ),
    ] = False,
    output: OutputOption = Format.TEXT,
) -> None:
    """Verify the chain: recompute every entry's hash and link, check the head, and
    that no event below the head is left out; then check that the stored content
    the events recorded (task payloads, results and checkpoints, messages, run
    inputs) still matches the hashes they sealed. Exit 0 when intact; exit 1
    naming the first bad entry, event or row otherwise.

    With --checkpoint, a chain truncated or rewritten since the checkpoint
    fails too, and so does a checkpoint file that was altered (its signature).
    """
    if public_key is not None and checkpoint is None:
        raise typer.BadParameter("--public-key goes with --checkpoint")
    data: dict[str, Any] | None = None
    trusted: bytes | None = None
    if checkpoint is not None:
        data = _checkpoint_data(checkpoint)
        trusted = files.read_bytes(public_key, "--public-key") if public_key else _signing_key()
        if trusted is None:
            raise ConfigError(
                "no trusted key to check the checkpoint's signature with: pass "
                f"--public-key FILE or set {_KEY_SETTINGS} (the key inside the "
                "checkpoint file is not trusted on its own)"
            )
    with context.open_store() as store:
        report = service.verify(
            store, checkpoint=data, public_key_pem=trusted, content=not chain_only
        )

    def render() -> None:
        if not report.ok:
            line(f"ledger verification FAILED: {report.problem}")
            return
        held = ""
        if report.checkpoint_seq is not None:
            held = f"; the checkpoint of entry {report.checkpoint_seq} holds"
        line(
            f"ledger intact: {report.entries_checked} entries checked, head at entry "
            f"{report.head_seq} (hash {_short(report.head_hash)}); "
            f"{report.unsealed} event(s) not sealed yet{held}"
        )
        if report.content is not None:
            line(_content_line(report.content))

    emit(report, output, render)
    if not report.ok:
        raise typer.Exit(1)


def _content_line(content: service.ContentReport) -> str:
    notes = []
    if content.pending:
        notes.append(f"{content.pending} wait for their event to be sealed")
    if content.uncovered:
        notes.append(f"{content.uncovered} sealed before events carried hashes")
    more = f" ({'; '.join(notes)})" if notes else ""
    return f"content intact: {content.checked} stored contents match their sealed hashes{more}"


def _checkpoint_data(path: Path) -> dict[str, Any]:
    try:
        data = content.parse(files.read_bytes(path, "--checkpoint"), f"--checkpoint {path}")
    except content.ContentInvalid as exc:  # undecodable bytes too
        raise InvalidInput(str(exc)) from None
    if not isinstance(data, dict):
        raise InvalidInput(f"--checkpoint: {path} is not a checkpoint (a JSON object)")
    return data


@app.command("checkpoint")
def checkpoint(
    out: Annotated[Path, typer.Option("--out", help="The checkpoint file to write.")],
    output: OutputOption = Format.TEXT,
) -> None:
    """Seal, then write a checkpoint of the chain's head signed with the Ed25519 key
    of COORD_LEDGER_SIGNING_KEY or COORD_LEDGER_SIGNING_KEY_FILE.

    Keep checkpoints away from the database: verified against one, a chain that
    was truncated or rewritten since fails.
    """
    key = _signing_key()
    if key is None:
        raise ConfigError(
            f"no signing key: set {_KEY_SETTINGS} (make one with `coord audit keygen`)"
        )
    with context.open_store() as store:
        signed = service.make_checkpoint(store, key)
    files.write_all([files.Output("--out", out, (json.dumps(signed, indent=2) + "\n").encode())])
    emit(
        {"file": str(out), "checkpoint": signed},
        output,
        lambda: line(
            f"checkpoint of entry {signed['seq']} (hash {_short(signed['hash'])}) written to {out}"
        ),
    )


@app.command("keygen")
def keygen(
    out: Annotated[
        Path, typer.Option("--out", help="Where to write the private key (PEM, mode 0600).")
    ],
    public_out: Annotated[
        Path | None, typer.Option("--public-out", help="Also write the public key (PEM) here.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    output: OutputOption = Format.TEXT,
) -> None:
    """Make a new Ed25519 key for signing checkpoints: write the private key to
    --out (readable by you only) and print the public key.

    Point COORD_LEDGER_SIGNING_KEY_FILE at the private key; give the public key
    to whoever verifies checkpoints (`coord audit verify --public-key`).
    """
    for path in (out, public_out):
        if path is not None and path.exists() and not force:
            raise InvalidInput(f"{path} exists already (--force overwrites it)")
    private, public = service.generate_signing_key()
    outputs = [files.Output("--out", out, private, 0o600)]
    if public_out is not None:
        outputs.append(files.Output("--public-out", public_out, public))
    files.write_all(outputs)  # both or neither
    emit(
        {
            "private_key_file": str(out),
            "public_key_file": None if public_out is None else str(public_out),
            "public_key": public.decode(),
        },
        output,
        lambda: line(public.decode().rstrip("\n")),
    )
