"""The chart's alerts and dashboard against what the operator really exports.

tests/alerts/metrics-catalog.txt lists every series the operator exports (a Rust test generates
it from the metrics code and fails when it is stale). Here: every selector in the PrometheusRule
and in the Grafana dashboard names a metric and label values from that catalog, every input
series of the promtool tests is a catalog series (plus the labels Prometheus adds), and
`promtool check rules` and `promtool test rules` pass on the rules as the chart renders them.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
from typing import Any

import helm_python
import yaml

from .chart import CHART_DIR, NAMESPACE, RELEASE
from .docs import load_all, of_kind
from .report import CheckFailed, Report, require

CATALOG = pathlib.Path("tests/alerts/metrics-catalog.txt")
ALERT_TESTS = pathlib.Path("tests/alerts/alerts_test.yaml")
DASHBOARD = CHART_DIR / "files/grafana-dashboard.json"
WORK_DIR = pathlib.Path("target/verify-packaging/alerts")
# Labels Prometheus attaches to every scraped series (target labels), and its own `up`.
TARGET_LABELS = {"job", "namespace", "pod", "instance", "service", "endpoint", "container"}
BUILTIN_METRICS = {"up"}
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}")
MATCHER = re.compile(r'\s*([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"([^"]*)"\s*,?')
Series = tuple[str, frozenset[tuple[str, str]]]


def load_catalog() -> list[Series]:
    series: list[Series] = []
    for line in CATALOG.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, labels = line.partition("{")
        series.append((name, frozenset(_matchers(labels.rstrip("}"), exact=True))))
    require(len(series) > 10, f"{CATALOG} lists {len(series)} series")
    return series


def _matchers(text: str, exact: bool = False) -> list[tuple[str, str]] | list[tuple[str, str, str]]:
    found = [(m.group(1), m.group(2), m.group(3)) for m in MATCHER.finditer(text)]
    if exact:
        return [(label, value) for label, _, value in found]
    return found


def check_selectors(exprs: list[str], catalog: list[Series], where: str) -> int:
    """Each metric and each label matcher of `exprs` exists in the catalog."""
    known = {name for name, _ in catalog}
    checked = 0
    for expr in exprs:
        # Grafana variables ($job, $namespace) stand for target labels.
        for name, body in SELECTOR.findall(expr):
            if name in BUILTIN_METRICS:
                continue
            require(name in known, f"{where}: {name} is not a series the operator exports ({expr})")
            rows = [labels for n, labels in catalog if n == name]
            for label, op, value in _matchers(body):
                if label in TARGET_LABELS:
                    continue
                values = {v for labels in rows for (l, v) in labels if l == label}
                require(values, f"{where}: {name} has no label {label} ({expr})")
                wanted = value.split("|") if op in ("=~", "!~") else [value]
                unknown = [v for v in wanted if v not in values and v != "*"]
                require(not unknown, f"{where}: {name}{{{label}}} never takes {unknown} ({expr})")
            checked += 1
    return checked


def check_test_series(catalog: list[Series]) -> str:
    tests = yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8"))
    exported = set(catalog)
    count = 0
    for test in tests["tests"]:
        for item in test.get("input_series") or []:
            name, _, body = item["series"].partition("{")
            labels = frozenset((l, v) for l, v in _matchers(body.rstrip("}"), exact=True) if l not in TARGET_LABELS)
            require(
                name in BUILTIN_METRICS or (name, labels) in exported,
                f"{ALERT_TESTS}: {item['series']} is not a series the operator exports",
            )
            count += 1
    return f"{count} input series, each in {CATALOG}"


def rendered_rules() -> dict[str, Any]:
    chart = helm_python.Chart.load(str(CHART_DIR))
    try:
        values = {"metrics": {"prometheusRule": {"enabled": True}}}
        out = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    finally:
        chart.close()
    docs = [d for name, text in out.items() if not name.endswith("NOTES.txt") for d in load_all(text)]
    rules = of_kind(docs, "PrometheusRule")
    require(len(rules) == 1, f"{len(rules)} PrometheusRules rendered")
    return {"groups": rules[0]["spec"]["groups"]}


def promtool() -> pathlib.Path:
    path = os.environ.get("PROMTOOL") or shutil.which("promtool")
    require(path is not None and pathlib.Path(path).is_file(), "promtool not found (scripts/verify-packaging.sh builds it)")
    return pathlib.Path(path)


def run_promtool(*args: str) -> str:
    result = subprocess.run(
        [str(promtool()), *args],
        check=False, capture_output=True, text=True, timeout=120, cwd=WORK_DIR,
    )
    output = (result.stdout + result.stderr).strip()
    require(result.returncode == 0, f"promtool {' '.join(args)}:\n{output}")
    return output


def run(report: Report) -> None:
    loaded: dict[str, Any] = {}

    def load() -> str:
        loaded["catalog"] = load_catalog()
        loaded["rules"] = rendered_rules()
        WORK_DIR.mkdir(parents=True, exist_ok=True)
        (WORK_DIR / "rules.yaml").write_text(yaml.safe_dump(loaded["rules"], sort_keys=False), encoding="utf-8")
        shutil.copyfile(ALERT_TESTS, WORK_DIR / ALERT_TESTS.name)
        alerts = [r["alert"] for g in loaded["rules"]["groups"] for r in g["rules"]]
        return f"{len(alerts)} alerts: {', '.join(alerts)}"

    report.run("alert rules render (metrics.prometheusRule.enabled)", load)
    if not loaded:
        return
    catalog, rules = loaded["catalog"], loaded["rules"]
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    report.run(
        "alert expressions use exported series only",
        lambda: f"{check_selectors(exprs, catalog, 'PrometheusRule')} selectors checked",
    )

    def dashboard() -> str:
        panels = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
        queries = [t["expr"] for p in panels for t in p.get("targets") or []]
        return f"{check_selectors(queries, catalog, str(DASHBOARD))} selectors in {len(panels)} panels"

    report.run("dashboard queries use exported series only", dashboard)

    def can_fail() -> str:
        for broken in ('sendgrid_tls_operator_resource{reason="Paused"}', 'up{} + sendgrid_tls_operator_resources{reason="Paused "}'):
            try:
                check_selectors([broken], catalog, "self-test")
            except CheckFailed:
                continue
            raise CheckFailed(f"{broken} was accepted")
        return "a misspelt metric and an unknown reason are refused"

    report.run("the series check refuses unknown series", can_fail)
    report.run("promtool test inputs are exported series", lambda: check_test_series(catalog))
    report.run("promtool check rules", lambda: run_promtool("check", "rules", "rules.yaml").splitlines()[-1])
    report.run(
        "promtool test rules (tests/alerts/alerts_test.yaml)",
        lambda: run_promtool("test", "rules", ALERT_TESTS.name).splitlines()[-1],
    )
