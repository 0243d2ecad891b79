"""One error hierarchy for coord. Every error has a stable ``code`` and carries data.

Handlers raise :class:`TransientError` (retry with backoff) or :class:`FatalError`
(straight to the dead letters); any other exception counts as transient.
"""

from __future__ import annotations

from typing import Any, ClassVar


class CoordError(Exception):
    """Base of all coord errors."""

    code: ClassVar[str] = "coord_error"

    def __init__(self, message: str, **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        """The error as data: code, message and details (for JSON output and the API)."""
        return {"code": self.code, "message": self.message, **self.data}


class ConfigError(CoordError):
    """A setting has a bad value; the message names the variable."""

    code = "config_invalid"


class SettingMissing(ConfigError):
    """A running server lacks a setting this operation needs; ``setting`` names it.
    The API answers 503: the operation is unavailable until an operator sets it."""

    code = "setting_missing"


class InvalidInput(CoordError, ValueError):
    """A caller passed something coord cannot accept."""

    code = "invalid_input"

    @classmethod
    def of(cls, exc: ValueError, field: str | None = None) -> InvalidInput:
        """The error for a domain rule's refusal: its message, naming the field the
        exception carries (``ContentInvalid``, ``OutOfRange``) or else ``field``."""
        named = getattr(exc, "field", None) or field
        return cls(str(exc), field=named) if named else cls(str(exc))


class UnknownTask(InvalidInput):
    """No task of that name is registered."""

    code = "unknown_task"


class InvalidWorkflow(InvalidInput):
    """A workflow definition with problems; ``data['problems']`` lists them (with
    the phase and, for YAML, the line)."""

    code = "invalid_workflow"


class NotFound(CoordError, LookupError):
    """The object does not exist."""

    code = "not_found"


class Conflict(CoordError):
    """The request contradicts what is stored."""

    code = "conflict"


class IdempotencyConflict(Conflict):
    """The idempotency key exists already with a different payload."""

    code = "idempotency_conflict"


class StoreError(CoordError):
    """The database failed."""

    code = "store_error"


class StoreUnavailable(StoreError):
    """The database cannot be reached right now; the operation may be retried."""

    code = "store_unavailable"


class SchemaOutdated(StoreError):
    """The database schema is missing or older than this coord: run ``coord db upgrade``."""

    code = "schema_outdated"


class SchemaTooNew(StoreError):
    """The database was upgraded by a newer coord than this one."""

    code = "schema_too_new"


class LeaseLost(CoordError):
    """This worker no longer holds the task (lease expired, task cancelled or stolen)."""

    code = "lease_lost"


class TaskFailed(CoordError):
    """The awaited task ended dead; ``data['error']`` holds its last error."""

    code = "task_failed"


class TaskCancelled(CoordError):
    """The awaited task was cancelled."""

    code = "task_cancelled"


class WaitTimeout(CoordError, TimeoutError):
    """A wait for a task's result ran out of time."""

    code = "wait_timeout"


class TransientError(CoordError):
    """Raised by a handler: retry the task with backoff (or after ``retry_after`` s)."""

    code = "transient"

    def __init__(self, message: str, *, retry_after: float | None = None, **data: Any) -> None:
        super().__init__(message, **data)
        self.retry_after = retry_after


class FatalError(CoordError):
    """Raised by a handler: do not retry, the task goes to the dead letters."""

    code = "fatal"


class SchemaError(CoordError):
    """Raised by a handler whose output (typically a model's answer) does not match the
    schema it must follow. The task gets one repair attempt at once, even with no
    retries left; its handler reads this error as ``ctx.last_error`` (to tell the
    model what was wrong). A second ``SchemaError`` in a row makes the task dead."""

    code = "schema"


class HandlerTimeout(TransientError):
    """The handler ran longer than its task's ``timeout``; the task is retried."""

    code = "timeout"


class Unauthenticated(CoordError):
    """No valid credentials: a missing, malformed, unknown, expired or revoked API key."""

    code = "unauthenticated"


class Forbidden(CoordError):
    """The caller is known but not allowed to do this (its role lacks the permission or
    the authority domain, or the object belongs to another agent)."""

    code = "forbidden"


class RateLimited(CoordError):
    """Too many requests from one key or agent; ``retry_after`` says when to try again."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float, **data: Any) -> None:
        super().__init__(message, retry_after=retry_after, **data)
        self.retry_after = retry_after


class ServerUnavailable(CoordError):
    """A coord server (``COORD_API_URL``) cannot be reached or did not answer in time;
    the request may be retried."""

    code = "server_unavailable"


class SecretUnavailable(CoordError):
    """A secret cannot be read: it does not exist, or no configured key decrypts it."""

    code = "secret_unavailable"


# -- refusals made alike in several layers ---------------------------------------------
# A reference to something the caller may not see answers exactly as an unknown one:
# the services (which check visibility) and the stores (which check existence) raise
# these same errors, so the two answers cannot be told apart.
def unknown_parent(message_id: str) -> NotFound:
    """``reply_to`` names no message the sender may read."""
    return NotFound(f"reply_to {message_id}: no such message", message_id=message_id)


def unknown_thread(thread_id: str) -> NotFound:
    """``thread`` names no thread the sender may read."""
    return NotFound(f"no thread {thread_id}", thread_id=thread_id)
