"""The idea half of the pipeline as plain functions: parse a brief, draft an idea as
a one-page markdown file, score drafts with a deterministic heuristic, and rewrite
the weak sections a critique found. No model, no network: the same input always
gives the same text and the same scores."""

from __future__ import annotations

import re
import textwrap
from typing import Any

BUZZWORDS = frozenset(
    {"ai", "ai-powered", "disrupt", "leverage", "next-gen", "revolutionary", "seamless", "synergy"}
)
STOPWORDS = frozenset({"from", "into", "that", "their", "them", "they", "this", "with", "every"})
MIN_FEATURES = 4  # a draft needs this many concrete features to score 1.0
MIN_METRICS = 2  # ... and at least this many metrics, each with a number
WIDTH = 88  # markdown paragraphs are wrapped at this width

_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")


def slugify(text: str) -> str:
    """``Focus-time planner`` -> ``focus-time-planner``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def words(text: str) -> list[str]:
    """The lower-case words of ``text``."""
    return _WORD.findall(text.lower())


# -- the brief ---------------------------------------------------------------------------


def parse_brief(text: str) -> dict[str, Any]:
    """A brief (see ``brief.md``) as data: its facts and its ideas, each with a pitch,
    features and goals."""
    brief: dict[str, Any] = {"title": "", "facts": {}, "ideas": []}
    idea: dict[str, Any] | None = None
    in_ideas = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("# "):
            brief["title"] = line[2:].removeprefix("Brief:").strip()
        elif line.startswith("## "):
            in_ideas = line[3:].strip().lower() == "ideas"
        elif line.startswith("### ") and in_ideas:
            title = line[4:].strip()
            idea = {"title": title, "slug": slugify(title), "pitch": ""}
            idea |= {"features": [], "goals": []}
            brief["ideas"].append(idea)
        elif line.startswith("- ") and idea is not None:
            item = line[2:].strip()
            if item.lower().startswith("goal:"):
                goal = item[5:].strip()
                idea["goals"].append(goal[:1].upper() + goal[1:])
            else:
                idea["features"].append(item)
        elif line and idea is not None:
            idea["pitch"] = f"{idea['pitch']} {line}".strip()
        elif ":" in line and not in_ideas:
            key, _, value = line.partition(":")
            brief["facts"][slugify(key).replace("-", "_")] = value.strip()
    return brief


# -- drafts --------------------------------------------------------------------------------


def draft_idea(idea: dict[str, Any], facts: dict[str, str]) -> str:
    """The first draft of an idea: its goals are copied as they were written, so a
    vague goal makes a vague metric (the critique finds it)."""
    audience = facts.get("audience", "our users")
    pitch = idea["pitch"][:1].lower() + idea["pitch"][1:]
    problem = f"{audience.capitalize()} do this by hand today. The idea: {pitch}"
    lines = [
        f"# {idea['title']}",
        "",
        *textwrap.wrap(idea["pitch"], WIDTH, initial_indent="> ", subsequent_indent="> "),
        "",
        "## Problem",
        "",
        *textwrap.wrap(problem, WIDTH),
        "",
        "## Users",
        "",
        f"- Primary: {audience}",
        f"- Team size: {facts.get('seats_per_team', '?')} seats on average",
        "",
        "## Features",
        "",
        *[f"- {feature}" for feature in idea["features"]],
        "",
        "## Metrics",
        "",
        *[f"- {goal}" for goal in idea["goals"]],
        "",
        "## Risks",
        "",
        f"- Scope: {len(idea['features'])} features for a first version",
        f"- Constraint: {facts.get('constraint', 'none given')}",
    ]
    return "\n".join(lines) + "\n"


def sections(markdown: str) -> dict[str, list[str]]:
    """``## Heading`` (lower case) -> its bullets and paragraphs (a wrapped paragraph
    is one entry); the title is under ``"title"`` and the quoted pitch under
    ``"pitch"``."""
    found: dict[str, list[str]] = {"title": [], "pitch": []}
    current, in_paragraph = "pitch", False
    for raw in markdown.splitlines():
        line = raw.strip().removeprefix("> ")
        if raw.startswith("# "):
            found["title"] = [line[2:]]
        elif raw.startswith("## "):
            current = line[3:].strip().lower()
            found[current] = []
        elif line.startswith("- "):
            found.setdefault(current, []).append(line[2:])
        elif line and in_paragraph:
            found[current][-1] += f" {line}"
        elif line:
            found.setdefault(current, []).append(line)
        in_paragraph = bool(line) and not line.startswith(("- ", "#"))
    return found


def replace_section(markdown: str, heading: str, lines: list[str]) -> str:
    """``markdown`` with the bullets of ``## heading`` replaced by ``lines``."""
    out: list[str] = []
    skipping = False
    for raw in markdown.splitlines():
        if raw.startswith("## "):
            if skipping:
                out.append("")
            skipping = raw[3:].strip().lower() == heading.lower()
            out.append(raw)
            if skipping:
                out.extend(["", *[f"- {line}" for line in lines]])
            continue
        if not skipping:
            out.append(raw)
    return "\n".join(out).rstrip("\n") + "\n"


# -- critique ------------------------------------------------------------------------------


def is_concrete(feature: str) -> bool:
    """A feature names what it does (four words or more) without buzzwords."""
    found = words(feature)
    return len(found) >= 4 and not BUZZWORDS.intersection(found)


def is_measurable(metric: str) -> bool:
    """A metric has a number in it (a target, a percentage, a deadline)."""
    return bool(re.search(r"\d", metric))


def _content_words(lines: list[str]) -> set[str]:
    return {w for line in lines for w in words(line) if len(w) >= 4 and w not in STOPWORDS}


def score_ideas(drafts: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Score every draft (slug -> markdown) and say what is weak in it.

    ``concreteness``: concrete features over :data:`MIN_FEATURES`; ``measurability``:
    metrics with a number over at least :data:`MIN_METRICS`; ``novelty``: one minus
    the highest word overlap (Jaccard) of its features with another draft's.
    """
    parsed = {slug: sections(text) for slug, text in drafts.items()}
    vocab = {slug: _content_words(s.get("features", [])) for slug, s in parsed.items()}
    out: dict[str, dict[str, Any]] = {}
    for slug, found in parsed.items():
        features = found.get("features", [])
        metrics = found.get("metrics", [])
        overlap = max(
            (len(vocab[slug] & other) / len(vocab[slug] | other) if vocab[slug] | other else 1.0)
            for name, other in vocab.items()
            if name != slug
        )
        concrete = [f for f in features if is_concrete(f)]
        measurable = [m for m in metrics if is_measurable(m)]
        scores = {
            "concreteness": round(min(1.0, len(concrete) / MIN_FEATURES), 3),
            "measurability": round(len(measurable) / max(len(metrics), MIN_METRICS), 3),
            "novelty": round(1.0 - overlap, 3),
        }
        out[slug] = {
            "title": found["title"][0] if found["title"] else slug,
            "scores": scores,
            "potential": round(scores["concreteness"] + scores["novelty"], 3),
            "weak": {
                "features": [f for f in features if f not in concrete],
                "metrics": [m for m in metrics if m not in measurable],
            },
        }
    return out


# -- the fix -------------------------------------------------------------------------------


def measurable_metric(metric: str) -> str:
    """A vague goal rewritten with a target and a deadline."""
    if set(words(metric)) & {"read", "reads", "use", "uses", "open", "opens", "adopt"}:
        return f"{metric}: at least 70% of the team by week 4"
    return f"{metric}: 25% better than the week-1 baseline by week 4"


def improve_metrics(markdown: str) -> tuple[str, list[dict[str, str]]]:
    """Rewrite the metrics without a number; add one if there are too few.
    Returns the new text and each change (``before`` -> ``after``)."""
    metrics = sections(markdown).get("metrics", [])
    changes: list[dict[str, str]] = []
    rewritten: list[str] = []
    for metric in metrics:
        if is_measurable(metric):
            rewritten.append(metric)
            continue
        better = measurable_metric(metric)
        changes.append({"before": metric, "after": better})
        rewritten.append(better)
    while len(rewritten) < MIN_METRICS:
        added = "Weekly active teams: at least 60% of paying teams by week 4"
        changes.append({"before": "", "after": added})
        rewritten.append(added)
    return replace_section(markdown, "metrics", rewritten), changes
