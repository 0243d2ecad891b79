"""Shell completion, as a shell asks for it: the ``coord`` process run with the
variables bash (``COMP_WORDS``/``COMP_CWORD``) or zsh (``_TYPER_COMPLETE_ARGS``) sets
on TAB. Commands and options complete from the CLI itself; agent names, topics,
queues and run ids from a real SQLite database. Completion never prints an error.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.acceptance.harness import Workspace


def bash(ws: Workspace, line: str) -> list[str]:
    """What bash would offer for ``line`` (the word under the cursor is its last)."""
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    result = ws.run(
        env={"_COORD_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(cword)}
    )
    assert result.returncode == 0, result.describe()
    assert result.stderr == "", result.describe()
    return result.stdout.split()


def zsh(ws: Workspace, line: str) -> str:
    """zsh's completion script for ``line``: values with their descriptions."""
    result = ws.run(env={"_COORD_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": line})
    assert result.returncode == 0, result.describe()
    assert result.stderr == "", result.describe()
    return result.stdout


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A SQLite workspace with agents (one human), a topic, two queues and a run."""
    ws = Workspace(tmp_path_factory.mktemp("completion") / "work", "sqlite")
    ws.prepare()
    ws.ok("agent", "add", "coder", "--role", "review")
    ws.ok("agent", "add", "lead", "--human")
    ws.ok("subscribe", "coder", "news")
    ws.enqueue("ok")
    ws.enqueue("report")  # the app puts it on queue "reports"
    run_id = ws.ok("run", "start", "release.yaml", "--input", '{"topic": "x"}').stdout.strip()
    (ws.cwd / "run_id").write_text(run_id)
    return ws


def test_commands_and_options_complete_without_a_database(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "empty", "sqlite")
    assert bash(ws, "coord ta") == ["task"]
    assert bash(ws, "coord task l") == ["list"]
    assert bash(ws, "coord task list --q") == ["--queue"]
    assert "--install-completion" in bash(ws, "coord --")
    assert not (ws.cwd / ".coord").exists(), "completion created a database"


def test_agent_names_complete(team: Workspace) -> None:
    assert bash(team, "coord inbox ") == ["coder", "lead"]
    assert bash(team, "coord inbox c") == ["coder"]
    assert bash(team, "coord agent get l") == ["lead"]
    assert bash(team, "coord key create --agent ") == ["coder", "lead"]
    shown = zsh(team, "coord inbox ")
    assert '"coder":"review"' in shown and '"lead":"human"' in shown


def test_only_humans_complete_who_approves(team: Workspace) -> None:
    assert bash(team, "coord gate approve RUN publish --by ") == ["lead"]


def test_recipients_and_topics_complete(team: Workspace) -> None:
    assert bash(team, "coord send lead ") == ["coder", "lead", "topic:news", "all"]
    assert bash(team, "coord send lead t") == ["topic:news"]
    assert bash(team, "coord subscribe lead ") == ["news"]


def test_queue_names_complete(team: Workspace) -> None:
    assert bash(team, "coord task list --queue ") == ["default", "reports"]
    assert bash(team, "coord worker --app tasks:app -q r") == ["reports"]


def test_run_ids_complete(team: Workspace) -> None:
    run_id = (team.cwd / "run_id").read_text()
    assert bash(team, "coord run get ") == [run_id]
    assert bash(team, f"coord gate approve {run_id[:8]}") == [run_id]
    assert bash(team, "coord run get 0000") == []
    assert "release running" in zsh(team, "coord run cancel ")


@pytest.mark.parametrize(
    "line",
    [
        "coord inbox ",  # no database here: nothing, and none created
        "coord --database-url sqlite:///nowhere/x.db inbox ",
        "coord --database-url mysql://nope inbox ",
        "coord --api-url http://127.0.0.1:9 inbox ",  # a server: not asked per keystroke
    ],
)
def test_completion_fails_silent(tmp_path: Path, line: str) -> None:
    ws = Workspace(tmp_path / "empty", "sqlite")
    assert bash(ws, line) == []
    assert not (ws.cwd / ".coord").exists()
