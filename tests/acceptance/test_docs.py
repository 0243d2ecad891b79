"""The documentation keeps up with the code: every setting and every command is
documented, and links between pages resolve."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from coord.settings import ENV_PREFIX, Settings
from tests.acceptance.harness import LEAF_COMMANDS, base_env

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted([*DOCS.glob("*.md"), ROOT / "README.md"])
LINK = re.compile(r"\]\(([^)#\s]+\.md)(#[^)]*)?\)")


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_documented(field: str) -> None:
    assert f"`{ENV_PREFIX}{field.upper()}`" in (DOCS / "configuration.md").read_text()


@pytest.mark.parametrize("path", sorted(LEAF_COMMANDS), ids=" ".join)
def test_every_command_is_documented(path: tuple[str, ...]) -> None:
    assert f"## coord {' '.join(path)}" in (DOCS / "cli.md").read_text()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_between_pages_resolve(page: Path) -> None:
    for target, _anchor in LINK.findall(page.read_text()):
        assert (page.parent / target).is_file(), f"{page.name} links to missing {target}"


def test_readme_keeps_its_quick_start_and_links_the_docs() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "## Quick start" in readme and "examples/quickstart/run.py" in readme
    for page in DOCS.glob("*.md"):
        assert f"docs/{page.name}" in readme


# -- the getting-started guide, followed literally ------------------------------------
GUIDE = DOCS / "getting-started.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.S | re.M)
TARGET = re.compile(r"Put this in `([\w.]+)`")


def guide_script(first: str, last: str) -> str:
    """The guide's steps from section ``first`` to before ``last`` as one bash script:
    each bash block as written, each Python block written to the file its text names."""
    text = GUIDE.read_text()
    part = text[text.index(f"## {first}") : text.index(f"## {last}")]
    lines, done = ["set -euo pipefail"], 0
    for block in BLOCK.finditer(part):
        language, body = block.group(1), block.group(2)
        if language == "bash":
            lines.append(body)
        elif language == "python":
            named = TARGET.findall(part, done, block.start())
            assert named, f"no 'Put this in `FILE`' before:\n{body}"
            lines.append(f"cat > {named[-1]} <<'GUIDE_EOF'\n{body}GUIDE_EOF")
        done = block.end()
    return "\n".join(lines) + "\n"


def test_the_getting_started_guide_works_when_followed_in_order(tmp_path: Path) -> None:
    """From "Your first app" to the PostgreSQL section, in a fresh checkout-like
    directory (``.venv`` next to it): no step hangs, fails or needs one that comes
    later, and the result the guide shows is the one printed."""
    (tmp_path / ".venv").symlink_to(sys.prefix)
    script = guide_script("Your first app", "On PostgreSQL")
    assert script.count("cat > ") == 3 and "coord worker --app tasks:app --burst" in script
    proc = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = f"--- script\n{script}--- stdout\n{proc.stdout}--- stderr\n{proc.stderr}"
    assert proc.returncode == 0, report
    shown = re.search(r"the result prints at once: `(\{.*?\})`", GUIDE.read_text())
    assert shown and shown[1] in proc.stdout.splitlines(), report
    assert "state: succeeded" in proc.stdout and '"path": "enqueue.py"' in proc.stdout, report
