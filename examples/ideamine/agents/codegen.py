"""What the build agent writes: a small Python package for the chosen idea (its
feature catalog, its pricing, its success metrics and a command line) and a
unittest file with one test per feature, all from the PRD, the pricing table and the
architecture. Templates filled with data, so the same inputs give the same bytes."""

from __future__ import annotations

import json
import re
import textwrap
from typing import Any

Files = dict[str, str]


def q(text: str) -> str:
    """A Python string literal (double quotes)."""
    return json.dumps(text)


def test_name(feature: dict[str, Any]) -> str:
    """The test that checks one feature: ``test_f1_collect_commits_and_merged``."""
    head = "_".join(re.findall(r"[a-z0-9]+", feature["name"].lower())[:4])
    return f"test_{feature['id'].lower()}_{head}"


def _tuple(items: tuple[str, ...]) -> str:
    """A tuple literal of strings: ``("a", "b")``, ``("a",)``."""
    return "(" + ", ".join(map(q, items)) + ("," if len(items) == 1 else "") + ")"


def _doc(text: str, indent: str = "") -> str:
    """A docstring wrapped to fit in 99 columns."""
    lines = textwrap.wrap(text, 92 - len(indent))
    if len(lines) == 1:
        return f'{indent}"""{lines[0]}"""'
    body = "\n".join(f"{indent}{line}" for line in lines[1:])
    return f'{indent}"""{lines[0]}\n{body}\n{indent}"""'


def package_files(
    product: dict[str, Any],
    features: list[dict[str, Any]],
    tiers: list[dict[str, Any]],
    metrics: list[str],
) -> Files:
    """Every file of the build, by path relative to the build folder."""
    pkg = product["package"]
    return {
        f"{pkg}/__init__.py": _init(product),
        f"{pkg}/catalog.py": _catalog(product, features, tiers),
        f"{pkg}/pricing.py": _pricing(product, tiers),
        f"{pkg}/metrics.py": _metrics(product, metrics),
        f"{pkg}/cli.py": _cli(product),
        f"tests/test_{pkg}.py": _tests(product, features, tiers, metrics),
    }


def _init(product: dict[str, Any]) -> str:
    return (
        f"{_doc(product['title'] + ': ' + product['pitch'])}\n\n"
        f"__version__ = {q(product['version'])}\n"
        f"PRODUCT = {q(product['title'])}\n"
    )


def _catalog(
    product: dict[str, Any], features: list[dict[str, Any]], tiers: list[dict[str, Any]]
) -> str:
    entries = []
    for f in features:
        plans = tuple(t["name"] for t in tiers if f["id"] in t["features"])
        entries.append(
            f"    {q(f['id'])}: {{\n"
            f'        "name": {q(f["name"])},\n'
            f'        "priority": {q(f["priority"])},\n'
            f'        "plans": {_tuple(plans)},\n'
            "    },\n"
        )
    return f'''{_doc(f"The features of {product['title']} and the plans that include them.")}

from __future__ import annotations

FEATURES: dict[str, dict[str, object]] = {{
{"".join(entries)}}}


def feature(feature_id: str) -> dict[str, object]:
    """One feature by id; ``KeyError`` if there is none."""
    return FEATURES[feature_id]


def available_in(plan: str) -> list[str]:
    """The ids of the features a plan includes, in order."""
    return [fid for fid, f in FEATURES.items() if plan in f["plans"]]  # type: ignore[operator]
'''


def _pricing(product: dict[str, Any], tiers: list[dict[str, Any]]) -> str:
    plans = "".join(
        f"    Plan({q(t['name'])}, {float(t['usd_per_seat'])!r}, {t['max_seats']!r}),\n"
        for t in tiers
    )
    return f'''{_doc(f"Plans and prices of {product['title']} (from docs/bizdev.md).")}

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    """A plan: its price per seat and month, and the most seats it allows."""

    name: str
    usd_per_seat: float
    max_seats: int | None


PLANS = (
{plans})


def plan_for(seats: int) -> Plan:
    """The cheapest plan that allows ``seats`` seats."""
    if seats < 1:
        raise ValueError("a team has at least one seat")
    for plan in PLANS:
        if plan.max_seats is None or seats <= plan.max_seats:
            return plan
    raise ValueError(f"no plan allows {{seats}} seats")


def monthly_cost(seats: int) -> float:
    """What a team of ``seats`` pays per month."""
    return round(plan_for(seats).usd_per_seat * seats, 2)
'''


def _metrics(product: dict[str, Any], metrics: list[str]) -> str:
    listed = "".join(f"    {q(m)},\n" for m in metrics)
    doc = _doc(f"Success metrics of {product['title']} and their targets (from docs/PRD.md).")
    return f'''{doc}

from __future__ import annotations

import re

METRICS = (
{listed})


def target(metric: str) -> dict[str, int]:
    """The target (a percentage, else the first number) and the week a metric names."""
    percent = re.search(r"(\\d+)%", metric) or re.search(r"(\\d+)", metric)
    week = re.search(r"by week (\\d+)", metric)
    return {{"percent": int(percent[1]) if percent else 0, "week": int(week[1]) if week else 0}}


def on_track(metric: str, percent: float, week: int) -> bool:
    """Whether ``percent`` reached by ``week`` meets the metric's target."""
    goal = target(metric)
    return percent >= goal["percent"] and week <= goal["week"]
'''


def _cli(product: dict[str, Any]) -> str:
    pkg = product["package"]
    doc = _doc(f"python -m {pkg}.cli --seats N: the plan for a team, its price and features.")
    return f'''{doc}

from __future__ import annotations

import argparse

from . import PRODUCT, __version__
from .catalog import FEATURES, available_in
from .pricing import monthly_cost, plan_for


def main(argv: list[str] | None = None) -> int:
    """Print the plan for a team size; return the exit code."""
    parser = argparse.ArgumentParser(prog="{pkg}", description=PRODUCT)
    parser.add_argument("--seats", type=int, default=1, help="how many people use it")
    args = parser.parse_args(argv)
    plan = plan_for(args.seats)
    cost = monthly_cost(args.seats)
    print(f"{{PRODUCT}} {{__version__}}: {{plan.name}} plan, ${{cost:.2f}} per month")
    for fid in available_in(plan.name):
        print(f"  {{fid}} {{FEATURES[fid]['name']}}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
'''


def _tests(
    product: dict[str, Any],
    features: list[dict[str, Any]],
    tiers: list[dict[str, Any]],
    metrics: list[str],
) -> str:
    pkg = product["package"]
    feature_tests = []
    for f in features:
        plans = [t["name"] for t in tiers if f["id"] in t["features"]]
        others = [t["name"] for t in tiers if t["name"] not in plans]
        checks = [
            f'        self.assertEqual(catalog.feature({q(f["id"])})["priority"], '
            f"{q(f['priority'])})"
        ]
        checks += [
            f"        self.assertIn({q(f['id'])}, catalog.available_in({q(p)}))" for p in plans
        ]
        checks += [
            f"        self.assertNotIn({q(f['id'])}, catalog.available_in({q(p)}))" for p in others
        ]
        feature_tests.append(
            f"    def {test_name(f)}(self) -> None:\n"
            f"{_doc(f['id'] + ': ' + f['name'], '        ')}\n" + "\n".join(checks) + "\n"
        )
    price_checks = "\n".join(
        f"        self.assertEqual(pricing.plan_for({t['max_seats'] or 1000}).name, {q(t['name'])})"
        for t in tiers
    )
    biggest = tiers[-1]
    return f'''{
        _doc(
            f"Tests of {pkg}, generated with it: one per feature, then pricing, metrics "
            "and the command line."
        )
    }

import contextlib
import io
import unittest

from {pkg} import catalog, cli, metrics, pricing


class FeatureTests(unittest.TestCase):
    """Every feature of the PRD is in the catalog, in the plans bizdev gave it."""

{chr(10).join(feature_tests)}

class PricingTests(unittest.TestCase):
    """The cheapest plan that fits a team, and what it costs."""

    def test_each_plan_is_chosen_up_to_its_seat_limit(self) -> None:
        """A team as big as a plan allows gets that plan."""
{price_checks}

    def test_a_team_pays_per_seat(self) -> None:
        """The monthly cost is the seat price times the seats."""
        expected = round({float(biggest["usd_per_seat"])!r} * 1000, 2)
        self.assertEqual(pricing.monthly_cost(1000), expected)

    def test_a_team_needs_a_seat(self) -> None:
        """Zero seats is not a team."""
        with self.assertRaises(ValueError):
            pricing.plan_for(0)


class MetricTests(unittest.TestCase):
    """Every success metric names a target the team can check."""

    def test_every_metric_has_a_target(self) -> None:
        """{len(metrics)} metrics, each with a percentage and a week."""
        self.assertEqual(len(metrics.METRICS), {len(metrics)})
        for metric in metrics.METRICS:
            goal = metrics.target(metric)
            self.assertGreater(goal["percent"], 0, metric)
            self.assertTrue(metrics.on_track(metric, goal["percent"], goal["week"]))


class CliTests(unittest.TestCase):
    """The command line prints the plan of a team."""

    def test_the_command_line_prints_the_plan(self) -> None:
        """``--seats 12`` names the plan and lists its features."""
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = cli.main(["--seats", "12"])
        self.assertEqual(code, 0)
        self.assertIn(pricing.plan_for(12).name + " plan", out.getvalue())


if __name__ == "__main__":
    unittest.main()
'''
