"""Stages 1-6: from the brief to ideas, a critique (with its fix), a PRD, a business
case and an architecture."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import coord
from agents.common import (
    DEFAULT_BRIEF,
    Workspace,
    bill,
    digest,
    markdown,
    sentence,
    table,
    wrap,
    write,
)
from agents.ideas import draft_idea, improve_metrics, parse_brief, score_ideas, sections

P0_FEATURES = 2  # the first features of the PRD are must-haves


# -- 1. intake ---------------------------------------------------------------------------


def intake(ctx: coord.SyncContext) -> dict[str, Any]:
    """Parse the brief into facts and a list of ideas (what ideation fans out over)."""
    ws = Workspace.of(ctx)
    source = Path(ctx.input.get("brief") or DEFAULT_BRIEF)
    text = source.read_text("utf-8")
    brief = parse_brief(text)
    if not brief["ideas"]:
        raise coord.FatalError(f"{source} has no ideas: add some under '## Ideas'")
    parsed = json.dumps(brief, indent=2) + "\n"
    write(ws.path("intake", "brief.json"), parsed)
    brief_digest = ctx.artifact("brief.md", text)  # the input, as given
    ideas_digest = ctx.artifact(
        "ideas.json", parsed, tool="brief-parser@1.0", inputs=[brief_digest]
    )
    bill(ctx, text, parsed)
    return {
        "title": brief["title"],
        "facts": brief["facts"],
        "ideas": brief["ideas"],
        "digest": ideas_digest,
    }


# -- 2. ideation (one task per idea) -----------------------------------------------------


def ideate(ctx: coord.SyncContext) -> dict[str, Any]:
    """Expand one idea of the brief into a one-page markdown draft."""
    ws = Workspace.of(ctx)
    idea, brief = ctx.item, ctx.results["intake"]
    text = draft_idea(idea, brief["facts"])
    path = ws.path("ideas", f"{(ctx.item_index or 0) + 1:02d}-{idea['slug']}.md")
    file_digest = write(path, text)
    ctx.artifact(f"{idea['slug']}.md", text, tool="ideator@1.0", inputs=[brief["digest"]])
    bill(ctx, json.dumps(idea), text)
    return {"slug": idea["slug"], "title": idea["title"], "path": str(path), "digest": file_digest}


# -- 3. critique, and its fix ------------------------------------------------------------


def critique(ctx: coord.SyncContext) -> dict[str, Any]:
    """Score every draft as it is on disk now, choose the one with the most potential
    (concrete and novel), and report its scores to the gate."""
    ws = Workspace.of(ctx)
    drafts = {d["slug"]: Path(d["path"]).read_text("utf-8") for d in ctx.results["ideation"]}
    paths = {d["slug"]: d["path"] for d in ctx.results["ideation"]}
    scored = score_ideas(drafts)
    ranking = sorted(scored, key=lambda slug: -scored[slug]["potential"])  # stable: ties keep order
    best = ranking[0]
    rows = [
        [n, scored[s]["title"], *scored[s]["scores"].values(), scored[s]["potential"]]
        for n, s in enumerate(ranking, start=1)
    ]
    weak = [f"- metric without a number: {m}" for m in scored[best]["weak"]["metrics"]]
    weak += [f"- vague feature: {f}" for f in scored[best]["weak"]["features"]]
    report = markdown(
        [
            f"# Critique, loop {ctx.loop}",
            "",
            *table(["#", "idea", *scored[best]["scores"], "potential"], rows),
            "",
            f"Chosen: {scored[best]['title']} ({Path(paths[best]).relative_to(ws.root)})",
            "",
            "## Weak sections of the chosen idea",
            "",
            *(weak or ["- none"]),
        ]
    )
    write(ws.path("reports", "critique.md"), report)
    read = [digest(text) for text in drafts.values()]
    ctx.artifact("critique.md", report, tool="critic@1.0", inputs=read)
    bill(ctx, "".join(drafts.values()), report)
    return {
        "scores": scored[best]["scores"],
        "chosen": {"slug": best, "title": scored[best]["title"], "path": paths[best]},
        "weak": scored[best]["weak"],
        "ranking": [{"slug": s, **scored[s]} for s in ranking],
    }


def improve(ctx: coord.SyncContext) -> dict[str, Any]:
    """The critique gate's fix: rewrite the weak sections of the chosen idea that
    the findings name (metrics without a target), in place."""
    findings = ctx.findings or {}
    chosen = ctx.results["critique"]["chosen"]
    path = Path(chosen["path"])
    before = path.read_text("utf-8")
    below = findings.get("below", {})
    after, changes = improve_metrics(before) if "measurability" in below else (before, [])
    write(path, after)
    ctx.artifact(f"{chosen['slug']}.revised.md", after, tool="editor@1.0", inputs=[digest(before)])
    bill(ctx, before + json.dumps(findings), after)
    unfixed = sorted(set(below) - {"measurability"})
    return {"revised": str(path), "changes": changes, "unfixed": unfixed}


# -- 4-6. PRD, business case, architecture -----------------------------------------------


def write_prd(ctx: coord.SyncContext) -> dict[str, Any]:
    """A PRD for the chosen idea: goals, success metrics and numbered requirements."""
    ws = Workspace.of(ctx)
    chosen = ctx.results["critique"]["chosen"]
    idea_text = Path(chosen["path"]).read_text("utf-8")
    brief = ws.read_json("intake", "brief.json")
    found = sections(idea_text)
    features = [
        {
            "id": f"F{n}",
            "name": name,
            "priority": "P0" if n <= P0_FEATURES else "P1",
        }
        for n, name in enumerate(found["features"], start=1)
    ]
    package = chosen["slug"].replace("-", "_")
    text = markdown(
        [
            f"# PRD: {chosen['title']}",
            "",
            *wrap(found["pitch"][0], "> "),
            "",
            "## Audience",
            "",
            f"- {sentence(brief['facts']['audience'])}, "
            f"{brief['facts']['seats_per_team']} seats per team on average",
            "",
            "## Success metrics",
            "",
            *[f"- {m}" for m in found["metrics"]],
            "",
            "## Requirements",
            "",
            *table(["ID", "Requirement", "Priority"], [list(f.values()) for f in features]),
            "",
            "## Constraints",
            "",
            f"- {sentence(brief['facts']['constraint'])}",
            f"- Python package: `{package}`",
        ]
    )
    prd_digest = write(ws.path("docs", "PRD.md"), text)
    ctx.artifact("PRD.md", text, tool="prd-writer@1.0", inputs=[digest(idea_text)])
    bill(ctx, idea_text, text)
    return {
        "title": chosen["title"],
        "pitch": found["pitch"][0],
        "package": package,
        "features": features,
        "metrics": found["metrics"],
        "digest": prd_digest,
    }


def price(ctx: coord.SyncContext) -> dict[str, Any]:
    """The business case: market size from the brief's numbers, and three plans
    whose features follow the PRD's priorities."""
    ws = Workspace.of(ctx)
    prd = ctx.results["prd"]
    facts = ws.read_json("intake", "brief.json")["facts"]
    teams, seats = int(facts["teams"]), int(facts["seats_per_team"])
    adoption = float(facts["adoption"].rstrip("%")) / 100
    ids = [f["id"] for f in prd["features"]]
    must = [f["id"] for f in prd["features"] if f["priority"] == "P0"]
    team_price = 4.0 + len(ids)
    tiers: list[dict[str, Any]] = [
        {"name": "free", "usd_per_seat": 0.0, "max_seats": 3, "features": must},
        {"name": "team", "usd_per_seat": team_price, "max_seats": 25, "features": ids[:-1]},
        {
            "name": "business",
            "usd_per_seat": round(team_price * 1.75),
            "max_seats": None,
            "features": ids,
        },
    ]
    year_one = round(teams * adoption)
    market = {
        "teams": teams,
        "seats_per_team": seats,
        "market_usd_per_year": teams * seats * team_price * 12,
        "teams_year_one": year_one,
        "revenue_year_one_usd": year_one * seats * team_price * 12,
    }
    text = markdown(
        [
            f"# Business case: {prd['title']}",
            "",
            "## Market",
            "",
            *table(
                ["Measure", "Value"],
                [
                    ["Teams in the market", f"{teams:,}"],
                    ["Seats per team", seats],
                    ["Market at the team price", f"${market['market_usd_per_year']:,.0f} a year"],
                    [f"Teams adopting in year 1 ({facts['adoption']})", f"{year_one:,}"],
                    ["Revenue in year 1", f"${market['revenue_year_one_usd']:,.0f}"],
                ],
            ),
            "",
            "## Pricing",
            "",
            *table(
                ["Plan", "Per seat and month", "Seats", "Features"],
                [
                    [
                        t["name"],
                        f"${t['usd_per_seat']:g}",
                        f"up to {t['max_seats']}" if t["max_seats"] else "any",
                        ", ".join(t["features"]),
                    ]
                    for t in tiers
                ],
            ),
        ]
    )
    bizdev_digest = write(ws.path("docs", "bizdev.md"), text)
    ctx.artifact("bizdev.md", text, tool="analyst@1.0", inputs=[prd["digest"]])
    bill(ctx, json.dumps(prd) + json.dumps(facts), text)
    return {"tiers": tiers, "market": market, "digest": bizdev_digest}


def design(ctx: coord.SyncContext) -> dict[str, Any]:
    """The architecture: the package's components, what each does and needs."""
    ws = Workspace.of(ctx)
    prd, bizdev = ctx.results["prd"], ctx.results["bizdev"]
    pkg = prd["package"]
    ids = ", ".join(f["id"] for f in prd["features"])
    plans = ", ".join(t["name"] for t in bizdev["tiers"])
    components = [
        (
            "catalog",
            f"{pkg}/catalog.py",
            f"the features ({ids}) and the plans that include them",
            [],
        ),
        ("pricing", f"{pkg}/pricing.py", f"the plans ({plans}), their seat limits and prices", []),
        ("metrics", f"{pkg}/metrics.py", "the success metrics and their targets", []),
        (
            "cli",
            f"{pkg}/cli.py",
            "the command line: a team's plan, price and features",
            ["catalog", "pricing"],
        ),
        (
            "tests",
            f"tests/test_{pkg}.py",
            "one test per feature, then pricing, metrics and cli",
            ["catalog", "pricing", "metrics", "cli"],
        ),
    ]
    listed = [
        {"name": n, "module": m, "responsibility": r, "depends_on": d} for n, m, r, d in components
    ]
    text = markdown(
        [
            f"# Architecture: {prd['title']}",
            "",
            f"A Python package, `{pkg}`, with no server and no dependency outside the standard",
            "library (the brief's constraint).",
            "",
            *table(
                ["Component", "Module", "Responsibility", "Depends on"],
                [[n, f"`{m}`", r, ", ".join(d) or "-"] for n, m, r, d in components],
            ),
        ]
    )
    arch_digest = write(ws.path("docs", "architecture.md"), text)
    ctx.artifact(
        "architecture.md", text, tool="architect@1.0", inputs=[prd["digest"], bizdev["digest"]]
    )
    bill(ctx, json.dumps(prd) + json.dumps(bizdev), text)
    return {"package": pkg, "components": listed, "digest": arch_digest}
