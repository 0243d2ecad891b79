"""An API server in process (FastAPI's TestClient runs its lifespan) over a real
database, with one agent and key per built-in role."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

import coord
from coord.api.app import create_app
from coord.services import audit, auth
from coord.services import keys as key_service
from coord.settings import load_settings

# agent name -> (role, human)
CAST: dict[str, tuple[str, bool]] = {
    "root": ("admin", True),
    "olga": ("operator", False),
    "alice": ("agent", False),
    "bob": ("agent", False),
    "hugo": ("human", True),
    "vic": ("viewer", False),
    "audrey": ("auditor", False),
}


def declare(app: coord.App) -> None:
    """Register the task the tests enqueue and the workflow ``flow`` they start: a
    ``build`` phase, then ``release`` behind a human approval."""

    @app.task(name="work")
    async def work(ctx: coord.Context, n: int = 0) -> dict[str, int]:
        return {"n": n}

    flow = app.workflow("flow")
    flow.phase("build", task=work)
    flow.phase("release", task=work, after=["build"], gate={"approval": "human"})


@dataclass
class Api:
    """A running in-process server and the keys of its cast."""

    app: coord.App
    client: TestClient
    keys: dict[str, str] = field(default_factory=dict)

    def auth(self, agent: str) -> dict[str, str]:
        """Headers authenticating as ``agent``."""
        return {"Authorization": f"Bearer {self.keys[agent]}"}

    def call(self, agent: str | None, method: str, path: str, **kwargs: Any) -> Any:
        """One request as ``agent`` (None: without a key)."""
        headers = dict(kwargs.pop("headers", {}))
        if agent is not None:
            headers.update(self.auth(agent))
        return self.client.request(method, path, headers=headers, **kwargs)


@contextmanager
def running_api(database_url: str, **settings: Any) -> Iterator[Api]:
    """The cast registered with keys, and a server over the same database."""
    app = coord.App(database_url)
    declare(app)
    store = app.store
    roles = auth.load_roles(None)
    keys = {}
    for name, (role, human) in CAST.items():
        app.add_agent(name, role=role, human=human)
        keys[name] = key_service.create_key(
            store, agent=name, role=None, expires=None, roles=roles, actor="test"
        ).key
    private_key, _ = audit.generate_signing_key()
    options = {
        "api_rate": 10_000.0,
        "api_burst": 10_000,
        "ledger_signing_key": private_key.decode(),
        **settings,
    }
    server = create_app(load_settings(database_url=database_url, **options), store=store)
    try:
        with TestClient(server) as client:
            yield Api(app, client, keys)
    finally:
        app.close()
