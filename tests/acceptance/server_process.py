"""``coord server`` as a real process on a free loopback port, for acceptance tests."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import httpx

from tests.acceptance.harness import Workspace


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def keyed_agent(ws: Workspace, name: str, role: str) -> str:
    """Register an agent with a role and return a new key of it."""
    ws.ok("agent", "add", name, "--role", role)
    key = ws.data("key", "create", "--agent", name)["key"]
    assert isinstance(key, str)
    return key


class Launcher(Protocol):
    """Starts ``coord ARGS`` in the background (a :class:`Workspace`, or any other)."""

    def popen(self, *args: str) -> subprocess.Popen[str]: ...


@contextmanager
def serving(ws: Launcher, *options: str, timeout: float = 30.0) -> Iterator[str]:
    """Start ``coord server`` in ``ws``; yield its base URL once /readyz answers 200.

    The port is a free one picked just before the start; tests run in parallel (and other
    suites may run on the machine), so another process can take it in between: a server
    that exits saying its address is in use is started again on another port."""
    for attempt in range(PORT_ATTEMPTS):
        port = free_port()
        proc = ws.popen("server", "--port", str(port), *options)
        url = f"http://127.0.0.1:{port}"
        try:
            if _ready(proc, url, timeout, last=attempt == PORT_ATTEMPTS - 1):
                yield url
                return
        finally:
            _end(proc)
    raise AssertionError("unreachable")  # _ready raises on the last attempt


PORT_ATTEMPTS = 3


def _ready(proc: subprocess.Popen[str], url: str, timeout: float, *, last: bool) -> bool:
    """Wait for the server at ``url`` (started as ``proc``) to answer /readyz 200; False
    when it exited because its port was taken (and this was not the last attempt)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            out, err = proc.communicate()
            if not last and "address already in use" in err.lower():
                return False
            raise AssertionError(f"coord server exited {proc.returncode}:\n{out}\n{err}")
        try:
            if httpx.get(url + "/readyz", timeout=1.0).status_code == 200:
                # Answered by this process, not by whichever took the port first: a
                # server that lost the race exits at once.
                time.sleep(0.05)
                if proc.poll() is None:
                    return True
                continue
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("coord server did not become ready")
        time.sleep(0.1)


def _end(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
