"""The agents of the ideamine pipeline: one function per phase task, plus the gate's
fix (``improve``) and the deploy's undo (``rollback``).

They are deterministic stand-ins for model calls that do real work on files in the
run's workspace (``input.workdir``): each reads what earlier phases wrote, writes its
own files, stores its main output as an artifact with its provenance (``tool`` and
the digests of what it read), and charges what a model call of that size would have
cost (:func:`bill`). ``app.py`` registers them as tasks.
"""

from agents.engineering import build, lint, run_tests, scan, write_story
from agents.product import critique, design, ideate, improve, intake, price, write_prd
from agents.shipping import deploy, release, rollback

TASKS = [
    intake,
    ideate,
    critique,
    improve,
    write_prd,
    price,
    design,
    build,
    scan,
    write_story,
    run_tests,
    lint,
    release,
    deploy,
    rollback,
]
