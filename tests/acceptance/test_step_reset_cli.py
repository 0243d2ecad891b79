"""``coord dlq retry --reset-step NAME`` / ``--reset-steps`` and ``coord task retry``,
as a user runs them, on both backends, on the database and through a server: a
memoized step recorded before its task failed replays on a plain retry, and runs
again (its new result used) once reset."""

from __future__ import annotations

from pathlib import Path

from tests.acceptance.harness import Workspace
from tests.acceptance.server_process import keyed_agent, serving

# A task whose step has a bug until the file "fixed" exists; each call of the step
# is counted in the file "fetches".
STEPPED = """\
from pathlib import Path

import coord

app = coord.App()


def fetch() -> str:
    count = Path("fetches")
    count.write_text(str(int(count.read_text()) + 1 if count.exists() else 1))
    return "good" if Path("fixed").exists() else "garbled"


@app.task(retries=0)
async def job(ctx: coord.Context) -> str:
    data = await ctx.step("fetch", fetch)
    if data == "garbled":
        raise coord.FatalError("garbled data")
    return data
"""


def _fetches(ws: Workspace) -> int:
    return int((ws.cwd / "fetches").read_text())


def _dead_job(ws: Workspace) -> str:
    task_id = ws.ok("task", "enqueue", "job").stdout.strip()
    ws.ok("worker", "--app", "stepped:app", "--burst")
    assert ws.task(task_id)["task"]["state"] == "dead"
    return task_id


def test_reset_steps_make_a_fixed_task_succeed(workspace: Workspace) -> None:
    ws = workspace
    ws.ok("db", "upgrade")
    (ws.cwd / "stepped.py").write_text(STEPPED)
    ws.ok("worker", "--app", "stepped:app", "--burst")  # registers the task
    first = _dead_job(ws)
    (ws.cwd / "fixed").write_text("deployed a fix")

    assert ws.ok("dlq", "retry", first).stdout.strip() == "retrying 1 task(s)"
    ws.ok("worker", "--app", "stepped:app", "--burst")
    assert ws.task(first)["task"]["state"] == "dead" and _fetches(ws) == 1  # replayed

    typo = ws.fails("dlq", "retry", first, "--reset-step", "fecth")
    assert "no step 'fecth'" in typo.stderr and "recorded steps: fetch" in typo.stderr
    both = ws.fails("task", "retry", first, "--reset-steps", "--reset-step", "fetch", code=2)
    assert "give --reset-steps (every step) or --reset-step NAME" in both.stderr
    reset = ws.ok("dlq", "retry", first, "--reset-step", "fetch")
    assert reset.stdout.strip() == "retrying 1 task(s) (recorded steps reset)"
    ws.ok("worker", "--app", "stepped:app", "--burst")
    found = ws.task(first)
    assert (found["task"]["state"], found["task"]["result"]) == ("succeeded", "good")
    assert _fetches(ws) == 2
    replayed = [e for e in found["events"] if e["topic"] == "task.replayed"]
    assert replayed[-1]["data"] == {"steps_reset": ["fetch"], "checkpoint_reset": True}
    assert replayed[-1]["actor"].startswith("cli")

    (ws.cwd / "fixed").unlink()
    second = _dead_job(ws)
    (ws.cwd / "fixed").write_text("deployed a fix")
    text = ws.ok("task", "retry", second, "--reset-steps")
    assert text.stdout.strip() == f"retrying {second} (steps reset: fetch; checkpoint cleared)"
    ws.ok("worker", "--app", "stepped:app", "--burst")
    assert ws.task(second)["task"]["result"] == "good" and _fetches(ws) == 4
    refused = ws.fails("task", "retry", second)
    assert "is succeeded: only a dead, failed or cancelled" in refused.stderr

    # Through a server, as an agent allowed to manage tasks: the same answers.
    (ws.cwd / "fixed").unlink()
    remote = {"COORD_API_KEY": keyed_agent(ws, "root", "admin")}
    third, fourth = _dead_job(ws), _dead_job(ws)
    (ws.cwd / "fixed").write_text("deployed a fix")
    with serving(ws) as url:
        remote["COORD_API_URL"] = url
        typo = ws.fails("task", "retry", third, "--reset-step", "nope", env=remote)
        assert "no step 'nope'" in typo.stderr
        retried = ws.data("task", "retry", third, "--reset-step", "fetch", env=remote)
        assert retried["state"] == "pending" and retried["id"] == third
        assert ws.data("dlq", "retry", fourth, "--reset-steps", env=remote)["ids"] == [fourth]
    ws.ok("worker", "--app", "stepped:app", "--burst")
    assert [ws.task(t)["task"]["result"] for t in (third, fourth)] == ["good", "good"]
    assert _fetches(ws) == 8


def test_a_task_that_is_not_over_cannot_be_retried(workspace: Workspace, tmp_path: Path) -> None:
    ws = workspace
    ws.prepare()
    task_id = ws.enqueue("ok", "{}", "--delay", "1h")
    result = ws.fails("task", "retry", task_id, "-o", "json")
    error = result.error_json()
    assert error["code"] == "conflict" and error["state"] == "pending"
    ws.ok("task", "cancel", task_id)
    assert ws.data("task", "retry", task_id)["state"] == "pending"
    assert ws.burst()["succeeded"] == 1
