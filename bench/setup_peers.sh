#!/usr/bin/env bash
# Create (idempotently) bench/.venv-peers and install the peer systems the
# benchmarks compare coord against. Prints the installed versions as one JSON line.
#
# Usage: bash bench/setup_peers.sh [--upgrade]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-peers"
python="${PEERS_BASE_PYTHON:-python3}"

packages=(
  "pgqueuer"
  "procrastinate"
  "celery[redis]"
  "dbos"
  "langgraph"
  "langgraph-checkpoint-sqlite"
  "langgraph-checkpoint-postgres"
  "psycopg[binary]"
  "psycopg-pool"
  "asyncpg"
  "redis"
)

if [[ ! -x "$venv/bin/python" ]]; then
  echo "creating $venv" >&2
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
fi

pip_args=(--quiet --disable-pip-version-check)
if [[ "${1:-}" == "--upgrade" ]]; then
  pip_args+=(--upgrade)
fi
# pip is a no-op when everything is already installed, so re-running is cheap.
"$venv/bin/python" -m pip install "${pip_args[@]}" "${packages[@]}" >&2

"$venv/bin/python" - <<'PY'
import json
from importlib.metadata import version

names = [
    "pgqueuer",
    "procrastinate",
    "celery",
    "redis",
    "dbos",
    "langgraph",
    "langgraph-checkpoint-sqlite",
    "langgraph-checkpoint-postgres",
    "psycopg",
    "asyncpg",
]
print(json.dumps({name: version(name) for name in names}))
PY
