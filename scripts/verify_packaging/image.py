"""The container image, checked statically (there is no container engine here to build it), and
the chart's flags against the real binary's --help when a binary with subcommands is at hand.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess

from . import policy
from .report import Report, require

DOCKERFILE = pathlib.Path("Dockerfile")
DOCKERIGNORE = pathlib.Path(".dockerignore")
BINARY_NAME = "sendgrid-tls-operator"
RUNTIME_IMAGES = ("gcr.io/distroless/static-debian12:nonroot", "cgr.dev/chainguard/static")


def check_dockerfile() -> str:
    text = DOCKERFILE.read_text(encoding="utf-8")
    stages = re.findall(r"^FROM\s+(\S+)", text, flags=re.MULTILINE)
    require(len(stages) >= 2, "not a multi-stage build")
    require(stages[-1].startswith(RUNTIME_IMAGES), f"runtime image {stages[-1]}, want one of {RUNTIME_IMAGES}")
    final = text[text.rindex("\nFROM ") :]
    require(
        re.search(r"cargo build --release --locked --bin " + BINARY_NAME, text) is not None,
        "the builder does not run cargo build --release --locked",
    )
    require(f"/{BINARY_NAME} /{BINARY_NAME}" in final, f"the runtime stage does not copy /{BINARY_NAME}")
    require(re.search(r"^USER 65532:65532$", final, flags=re.MULTILINE) is not None, "USER is not 65532:65532")
    entry = re.search(r"^ENTRYPOINT\s+(.+)$", final, flags=re.MULTILINE)
    require(entry is not None and json.loads(entry.group(1)) == [f"/{BINARY_NAME}"], "ENTRYPOINT is not the binary")
    require(re.search(r"^(RUN|SHELL)\b", final, flags=re.MULTILINE) is None, "the runtime stage runs a shell")
    ignored = {line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()}
    for needed in ("src", "Cargo.toml", "Cargo.lock"):
        require(needed not in ignored, f".dockerignore excludes {needed}")
    return f"{stages[0]} -> {stages[-1]}, USER 65532, ENTRYPOINT /{BINARY_NAME} (not built: no container engine)"


def find_binary() -> pathlib.Path | None:
    candidates = [os.environ.get("OPERATOR_BIN", "")] + [f"target/{p}/{BINARY_NAME}" for p in ("release", "debug")]
    for candidate in candidates:
        if candidate and pathlib.Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return pathlib.Path(candidate)
    return None


def _help(binary: pathlib.Path, subcommand: str) -> str | None:
    try:
        result = subprocess.run([str(binary), subcommand, "--help"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    output = result.stdout + result.stderr
    return output if result.returncode == 0 and "Usage" in output else None


def run(report: Report) -> None:
    report.run("Dockerfile (static checks)", check_dockerfile)
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
