"""Settings from the environment (prefix ``COORD_``) or a ``.env`` file.

Durations accept ``"30s"``, ``"10m"``, ``"1h30m"`` or seconds. A bad value fails at
load time with a :class:`~coord.errors.ConfigError` naming the variable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from coord.domain.durations import parse_duration
from coord.errors import ConfigError
from coord.observability.logging import LogLevel

ENV_PREFIX = "COORD_"
DEFAULT_DATABASE_URL = "sqlite:///.coord/coord.db"

Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]
_URL_PASSWORD = re.compile(r"(?P<head>://[^:/@]+:)(?P<password>[^@]*)(?P<tail>@)")
# libpq also takes the password as a query parameter: ...?sslmode=require&password=...
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)(?P<password>[^&#]*)", re.IGNORECASE)


class Settings(BaseSettings):
    """Every knob of coord. Field ``x`` is read from ``COORD_X``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="sqlite:///PATH (relative), sqlite:////ABS/PATH, sqlite:///:memory: "
        "or postgresql[+psycopg]://user:pass@host:port/db",
    )
    lease_duration: Duration = Field(
        10.0, gt=0, description="How long a claimed task stays leased without renewal."
    )
    stall_after: int = Field(
        3, ge=1, description="Missed heartbeat intervals before a task is stalled."
    )
    poll_interval: Duration = Field(1.0, gt=0, description="Fallback poll when no wake-up arrives.")
    sqlite_watch_interval: Duration = Field(
        0.005, gt=0, description="How often workers check a SQLite file for commits."
    )
    worker_concurrency: int = Field(10, ge=1, description="Tasks one worker runs at once.")
    claim_batch_size: int = Field(200, ge=1, description="Most tasks claimed per query.")
    shutdown_grace: Duration = Field(
        30.0, description="On SIGTERM, how long running tasks may finish before release."
    )
    cron_misfire_grace: Duration = Field(
        60.0, description="A cron occurrence missed by at most this much still runs."
    )
    pg_pool_min_size: int = Field(1, ge=0, description="PostgreSQL pool: connections kept.")
    pg_pool_max_size: int = Field(10, ge=1, description="PostgreSQL pool: most connections.")
    sqlite_synchronous: Literal["FULL", "NORMAL"] = Field(
        "FULL", description="FULL: every commit is durable; NORMAL: faster, may lose the last."
    )
    sqlite_busy_timeout: Duration = Field(
        30.0, description="How long SQLite waits for another writer."
    )
    fast_claims: bool = Field(
        True,
        description="Commit claims and lease renewals without waiting for the disk. A "
        "database crash may forget the last ones: those tasks just run again.",
    )
    max_payload_bytes: int = Field(1_048_576, ge=1, description="Largest task payload.")
    max_artifact_bytes: int = Field(
        16 * 1024 * 1024, ge=1, description="Largest artifact a run's task may store."
    )
    max_message_bytes: int = Field(
        1_048_576, ge=1, description="Largest message body (JSON-encoded bytes)."
    )
    # -- the API server, keys and RBAC ----------------------------------------------------
    rbac_file: str | None = Field(
        None, description="YAML file of roles (default: the built-in roles, see docs/security.md)."
    )
    api_rate: float = Field(
        50.0, gt=0, description="API requests per second allowed per key and per agent."
    )
    api_burst: int = Field(
        100, ge=1, description="API requests one key or agent may make at once above the rate."
    )
    api_max_body_bytes: int = Field(2 * 1_048_576, ge=1, description="Largest API request body.")
    api_auth_failures: int = Field(
        20,
        ge=0,
        description="Failed authentications from one client address within "
        "COORD_API_AUTH_WINDOW after which the address is refused (429) for the rest of "
        "the window, whatever key it sends; 0: never.",
    )
    api_auth_window: Duration = Field(
        60.0,
        gt=0,
        description="The window of COORD_API_AUTH_FAILURES and COORD_API_DENIAL_EVENTS.",
    )
    api_denial_events: int = Field(
        10,
        ge=0,
        description="Denials (401, 403) of one client address recorded as events per window; "
        "the rest are counted in one auth.suppressed event when the window ends.",
    )
    api_trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses of reverse proxies whose X-Forwarded-For "
        "names the client (coord server); empty: the connection's own address counts.",
    )
    api_url: str | None = Field(
        None, description="A coord server to talk to instead of the database (CLI and Client)."
    )
    api_key: SecretStr | None = Field(None, description="The API key used with COORD_API_URL.")
    # -- the audit ledger ------------------------------------------------------------------
    ledger_seal_interval: Duration = Field(
        1.0, gt=0, description="How often workers and servers seal new events into the ledger."
    )
    ledger_signing_key: SecretStr | None = Field(
        None, description="Ed25519 private key (PEM) that signs ledger checkpoints."
    )
    ledger_signing_key_file: str | None = Field(
        None, description="File holding the Ed25519 private key (PEM) for checkpoints."
    )
    # -- secrets ---------------------------------------------------------------------------
    secret_keys: SecretStr | None = Field(
        None,
        description="Fernet keys encrypting secrets, comma-separated: the first encrypts, "
        "all decrypt (rotation).",
    )
    secret_keys_file: str | None = Field(
        None, description="File of Fernet keys, one per line, the first encrypting."
    )
    log_level: LogLevel = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(
            ("sqlite://", "postgresql://", "postgresql+psycopg://", "postgres://")
        ):
            raise ValueError("must start with sqlite://, postgresql:// or postgresql+psycopg://")
        return value

    def ledger_signing_key_pem(self) -> bytes | None:
        """The ledger's signing key (PEM) from ``ledger_signing_key`` or the file of
        ``ledger_signing_key_file``; None when neither is set."""
        secret, path = self.ledger_signing_key, self.ledger_signing_key_file
        if secret is not None and path:
            raise ConfigError(
                "set one of COORD_LEDGER_SIGNING_KEY and COORD_LEDGER_SIGNING_KEY_FILE, not both"
            )
        if secret is not None:
            text = secret.get_secret_value()
            if "\\n" in text and "\n" not in text:  # a PEM squeezed into one line of a .env
                text = text.replace("\\n", "\n")
            return text.encode()
        if not path:
            return None
        try:
            return Path(path).expanduser().read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"COORD_LEDGER_SIGNING_KEY_FILE: cannot read {path}: {exc.strerror}"
            ) from None

    def masked(self) -> dict[str, Any]:
        """All settings with secrets (passwords in URLs) replaced by ``***``."""
        values = self.model_dump()
        values["database_url"] = mask_url(self.database_url)
        return values


def mask_url(url: str) -> str:
    """Hide the passwords of a database URL (``user:PASSWORD@`` and ``password=``)."""
    masked = _URL_PASSWORD.sub(r"\g<head>***\g<tail>", url)
    return _QUERY_PASSWORD.sub(r"\g<head>***", masked)


def load_settings(*, given_as: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Read settings from the environment, applying ``overrides`` (None means unset).

    ``given_as`` names how the caller's user gave an override, for error messages
    (the CLI maps ``database_url`` to ``--database-url``); by default a bad override
    is named ``FIELD (given as an argument)``.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            if field in given:
                source = (given_as or {}).get(field, f"{field} (given as an argument)")
            else:
                source = f"{ENV_PREFIX}{field.upper()}"
            value = err.get("input")
            # A rejected URL is echoed too: never with its password.
            shown = mask_url(value) if isinstance(value, str) else value
            problems.append(f"{source}: {err['msg']} (got {shown!r})")
        raise ConfigError("invalid settings: " + "; ".join(problems), problems=problems) from None
