"""Runs every packaging check from the repository root and prints the summary line."""

from __future__ import annotations

import sys
import time

from . import (
    argocd,
    chart,
    e2e_fixtures,
    generated,
    image,
    kustomize,
    monitoring,
    workflows,
)
from .report import Report


def main() -> int:
    started = time.monotonic()
    report = Report()
    reference = generated.run(report)
    crd, cr_schema = reference if reference else (None, None)
    if crd is not None and cr_schema is not None:
        chart.run(report, crd, cr_schema)
        kustomize.run(report, crd, cr_schema)
    e2e_fixtures.run(report)
    argocd.run(report, cr_schema)
    image.run(report)
    monitoring.run(report)
    workflows.run(report)
    print(f"(checks took {time.monotonic() - started:.1f}s)")
    print(report.summary())
    return 0 if report.failed == 0 and report.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
