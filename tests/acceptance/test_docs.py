"""The documentation keeps up with the code: every setting and every command is
documented, and links between pages resolve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from coord.settings import ENV_PREFIX, Settings
from tests.acceptance.harness import LEAF_COMMANDS

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
