"""Stages 11-12: cut the release a person approves, deploy it to beta, and undo
the deploy when the run is compensated."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import coord
from agents.common import Workspace, bill, digest, markdown, write

# -- 11. release (a person approves it) --------------------------------------------------


def tarball(root: Path, files: list[str], prefix: str) -> bytes:
    """A gzipped tar of ``files`` under ``prefix/``, byte for byte the same for the
    same files (sorted, no timestamps, no owners)."""
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for rel in sorted(files):
            data = (root / rel).read_bytes()
            info = tarfile.TarInfo(f"{prefix}/{rel}")
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def release(ctx: coord.SyncContext) -> dict[str, Any]:
    """Cut the release candidate: the archive of the build and its notes. The gate
    then waits for a person to approve exactly this archive."""
    ws = Workspace.of(ctx)
    built = ws.read_json("reports", "build.json")
    qa = ws.read_json("reports", "qa.json")
    security = ws.read_json("reports", "security.json")
    name = f"{built['package']}-{built['version']}"
    archive = tarball(Path(built["root"]), list(built["files"]), name)
    archive_path = ws.path("release", f"{name}.tar.gz")
    archive_path.write_bytes(archive)
    archive_digest = digest(archive)
    notes = markdown(
        [
            f"# {name}",
            "",
            f"- Archive `{archive_path.name}`, {len(built['files'])} files:",
            f"  {archive_digest}",
            f"- QA: {len(qa['passed'])} of {qa['ran']} tests passed",
            f"- Security: {security['files']} files scanned, "
            f"{len(security['findings'])} finding(s)",
            "",
            "## Features",
            "",
            *[f"- {fid}: `{test}`" for fid, test in built["tests"].items()],
        ]
    )
    write(ws.path("release", "RELEASE_NOTES.md"), notes)
    inputs = list(built["files"].values())
    ctx.artifact(
        f"{name}.tar.gz", archive, media_type="application/gzip", tool="tar@1.0", inputs=inputs
    )
    ctx.artifact("RELEASE_NOTES.md", notes, tool="release-writer@1.0", inputs=[archive_digest])
    bill(ctx, json.dumps(built["files"]) + json.dumps(built["tests"]), notes)
    return {"name": name, "archive": str(archive_path), "sha256": archive_digest}


# -- 12. beta: deploy, and its undo ------------------------------------------------------


def deploy(ctx: coord.SyncContext) -> dict[str, Any]:
    """Deploy the approved archive to ``deployed/NAME`` (unpacked next to it, then
    renamed into place) and smoke-test it with its own command line."""
    ws = Workspace.of(ctx)
    rc = ctx.results["release"]
    archive = Path(rc["archive"]).read_bytes()
    if digest(archive) != rc["sha256"]:
        raise coord.FatalError(f"{rc['archive']} is not the archive that was approved")
    target = ws.path("deployed", rc["name"])
    shutil.rmtree(target, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".unpack-") as staging:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            if hasattr(tarfile, "data_filter"):  # Python 3.11.4 and later
                tar.extractall(staging, filter="data")
            else:  # our own archive: nothing to filter out
                tar.extractall(staging)
        Path(staging, rc["name"]).rename(target)
    package = rc["name"].rsplit("-", 1)[0]
    smoke = subprocess.run(
        [sys.executable, "-m", f"{package}.cli", "--seats", "12"],
        cwd=target,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if smoke.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)  # a failed phase is not compensated
        raise coord.FatalError(f"smoke test failed: {smoke.stderr.strip()[-500:]}")
    files = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    manifest = (
        json.dumps({"release": rc["name"], "archive": rc["sha256"], "files": files}, indent=2)
        + "\n"
    )
    write(target / "DEPLOYED.json", manifest)
    ctx.artifact("deploy.json", manifest, tool="deployer@1.0", inputs=[rc["sha256"]])
    bill(ctx, "", manifest + smoke.stdout)
    return {"deployed": str(target), "files": len(files), "smoke": smoke.stdout.splitlines()[0]}


def rollback(ctx: coord.SyncContext) -> dict[str, Any]:
    """Beta's compensation: remove what deploy put in place."""
    deployed = (ctx.results.get("beta") or {}).get("deployed")
    if deployed:
        shutil.rmtree(deployed, ignore_errors=True)
    return {"removed": deployed}
