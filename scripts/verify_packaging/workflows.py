"""GitHub Actions: zizmor (PyPI) finds nothing in .github/ (its offline audits; .github/zizmor.yml
lists what is disabled and why), every action is pinned by commit SHA with its tag in a comment,
and the release workflow runs only after .ci/run and the kind suite.
"""

from __future__ import annotations

import pathlib
import re
import subprocess

import yaml

from .image import tool
from .report import Report, require

GITHUB_DIR = pathlib.Path(".github")
WORKFLOWS = GITHUB_DIR / "workflows"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")


def check_zizmor() -> str:
    result = subprocess.run(
        [str(tool("zizmor")), "--offline", "--no-progress", "--format", "plain", str(GITHUB_DIR)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = (result.stdout + result.stderr).strip()
    require(result.returncode == 0 and "No findings to report" in output, f"zizmor:\n{output}")
    return next(line for line in output.splitlines() if "No findings" in line)


def check_pinned() -> str:
    count = 0
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for line in path.read_text(encoding="utf-8").splitlines():
            match = re.match(r"^\s*(?:- )?uses: (.+)$", line)
            if not match or match.group(1).startswith("./"):
                continue
            require(PINNED.match(match.group(1)) is not None, f"{path}: {match.group(1)} is not pinned by SHA # vX.Y")
            count += 1
    return f"{count} action references pinned by SHA"


def check_release_gate() -> str:
    release = yaml.safe_load((WORKFLOWS / "release.yml").read_text(encoding="utf-8"))
    jobs = release["jobs"]
    require(jobs["ci"]["uses"] == "./.github/workflows/ci.yml", "release does not call ci.yml")
    require(jobs["kind"]["uses"] == "./.github/workflows/kind.yml", "release does not call kind.yml")
    require({"ci", "kind"} <= set(jobs["binaries"]["needs"]), "the build does not wait for ci and kind")
    ci = yaml.safe_load((WORKFLOWS / "ci.yml").read_text(encoding="utf-8"))
    runs = [s.get("run", "") for job in ci["jobs"].values() for s in job["steps"]]
    require(any(".ci/run" in r for r in runs), "ci.yml does not run .ci/run")
    require("pull_request" in ci[True], "ci.yml does not run on pull requests")  # YAML 1.1: on -> True
    return "release needs ci (.ci/run) and kind; ci runs on every pull request"


def run(report: Report) -> None:
    report.run("workflows pass zizmor", check_zizmor)
    report.run("workflows pin actions by SHA", check_pinned)
    report.run("release runs after .ci/run and kind", check_release_gate)
