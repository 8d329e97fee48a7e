"""The chart's alerts and dashboard against what the operator really exports.

tests/alerts/metrics-catalog.txt lists every series the operator exports (a Rust test generates
it from the metrics code and fails when it is stale). Here: every selector in the PrometheusRule
and in the Grafana dashboard names a metric and label values from that catalog, every input
series of the promtool tests is a catalog series (plus the labels Prometheus adds), and
`promtool check rules` and `promtool test rules` pass on the rules as the chart renders them, for
each way of scraping the operator (ALERT_SUITES: a test file and the value file it renders with).
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

from .chart import CHART_DIR, NAMESPACE, RELEASE, VALUE_FILES_DIR
from .docs import load_all, of_kind
from .report import CheckFailed, Report, require

CATALOG = pathlib.Path("tests/alerts/metrics-catalog.txt")
ALERT_TESTS_DIR = pathlib.Path("tests/alerts")
# promtool test file -> the chart value file whose rules it tests (its alert selector differs).
ALERT_SUITES = {
    "alerts_test.yaml": "monitoring-values.yaml",  # the ServiceMonitor's job
    "podmonitor_test.yaml": "podmonitor-values.yaml",  # the PodMonitor's job, no Service
    "job_label_test.yaml": "scrape-annotations-values.yaml",  # another job, through the selector
}
DASHBOARD = CHART_DIR / "files/grafana-dashboard.json"
WORK_DIR = pathlib.Path("target/verify-packaging/alerts")
# Labels Prometheus attaches to every scraped series (target labels), and its own `up`.
TARGET_LABELS = {"job", "namespace", "pod", "instance", "service", "endpoint", "container", "exported_namespace"}
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
        # An exported label named like a target label (namespace, with --metrics-per-namespace)
        # reaches queries as the target's or as exported_<name>: the target labels stand for it.
        found = _matchers(labels.rstrip("}"), exact=True)
        own = [(label, value) for label, value in found if label not in TARGET_LABELS]
        series.append((name, frozenset(own)))
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


def check_test_series(catalog: list[Series], tests_file: pathlib.Path) -> str:
    tests = yaml.safe_load(tests_file.read_text(encoding="utf-8"))
    exported = set(catalog)
    count = 0
    for test in tests["tests"]:
        for item in test.get("input_series") or []:
            name, _, body = item["series"].partition("{")
            labels = frozenset((l, v) for l, v in _matchers(body.rstrip("}"), exact=True) if l not in TARGET_LABELS)
            require(
                name in BUILTIN_METRICS or (name, labels) in exported,
                f"{tests_file}: {item['series']} is not a series the operator exports",
            )
            count += 1
    return f"{count} input series, each in {CATALOG}"


def rendered_rules(value_file: str) -> dict[str, Any]:
    values = yaml.safe_load((VALUE_FILES_DIR / value_file).read_text(encoding="utf-8"))
    chart = helm_python.Chart.load(str(CHART_DIR))
    try:
        out = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    finally:
        chart.close()
    docs = [d for name, text in out.items() if not name.endswith("NOTES.txt") for d in load_all(text)]
    rules = of_kind(docs, "PrometheusRule")
    require(len(rules) == 1, f"{len(rules)} PrometheusRules rendered from {value_file}")
    return {"groups": rules[0]["spec"]["groups"]}


def promtool() -> pathlib.Path:
    path = os.environ.get("PROMTOOL") or shutil.which("promtool")
    require(
        path is not None and pathlib.Path(path).is_file(), "promtool not found (scripts/verify-packaging.sh builds it)"
    )
    return pathlib.Path(path)


def run_promtool(work_dir: pathlib.Path, *args: str) -> str:
    result = subprocess.run([str(promtool()), *args], capture_output=True, text=True, timeout=120, cwd=work_dir)
    output = (result.stdout + result.stderr).strip()
    require(result.returncode == 0, f"promtool {' '.join(args)}:\n{output}")
    return output


def run(report: Report) -> None:
    loaded: dict[str, Any] = {}

    def load() -> str:
        loaded["catalog"] = load_catalog()
        loaded["suites"] = {}
        for tests_name, value_file in ALERT_SUITES.items():
            rules = rendered_rules(value_file)
            work_dir = WORK_DIR / tests_name.removesuffix(".yaml")
            work_dir.mkdir(parents=True, exist_ok=True)
            (work_dir / "rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False), encoding="utf-8")
            shutil.copyfile(ALERT_TESTS_DIR / tests_name, work_dir / tests_name)
            loaded["suites"][tests_name] = (value_file, rules, work_dir)
        alerts = [r["alert"] for g in rules["groups"] for r in g["rules"]]
        return f"{len(alerts)} alerts, rendered from {len(ALERT_SUITES)} value files: {', '.join(alerts)}"

    report.run("alert rules render (metrics.prometheusRule.enabled)", load)
    if not loaded:
        return
    catalog = loaded["catalog"]
    exprs = [r["expr"] for _, rules, _ in loaded["suites"].values() for g in rules["groups"] for r in g["rules"]]
    report.run(
        "alert expressions use exported series only",
        lambda: f"{check_selectors(exprs, catalog, 'PrometheusRule')} selectors checked",
    )

    def dashboard() -> str:
        panels = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
        checked, unknown = 0, []
        for panel in panels:
            try:
                queries = [t["expr"] for t in panel.get("targets") or []]
                checked += check_selectors(queries, catalog, f"panel {panel['id']}")
            except CheckFailed as err:
                unknown.append(str(err).split(" (", 1)[0])
        require(not unknown, f"{DASHBOARD}: " + "; ".join(dict.fromkeys(unknown)))
        return f"{checked} selectors in {len(panels)} panels"

    report.run("dashboard queries use exported series only", dashboard)

    def can_fail() -> str:
        for broken in (
            'sendgrid_tls_operator_resource{reason="Paused"}',
            'up{} + sendgrid_tls_operator_resources{reason="Paused "}',
        ):
            try:
                check_selectors([broken], catalog, "self-test")
            except CheckFailed:
                continue
            raise CheckFailed(f"{broken} was accepted")
        return "a misspelt metric and an unknown reason are refused"

    report.run("the series check refuses unknown series", can_fail)
    for tests_name, (value_file, _, work_dir) in loaded["suites"].items():
        tests_file = ALERT_TESTS_DIR / tests_name
        report.run(
            f"promtool test inputs are exported series ({tests_name})",
            lambda f=tests_file: check_test_series(catalog, f),
        )
        report.run(
            f"promtool check rules ({value_file})",
            lambda d=work_dir: run_promtool(d, "check", "rules", "rules.yaml").splitlines()[-1],
        )
        report.run(
            f"promtool test rules ({tests_file} on {value_file})",
            lambda d=work_dir, n=tests_name: run_promtool(d, "test", "rules", n).splitlines()[-1],
        )
    report.run(
        "promtool tests fail on rules made for another scrape job", lambda: check_suites_differ(loaded["suites"])
    )


def check_suites_differ(suites: dict[str, tuple[str, dict[str, Any], pathlib.Path]]) -> str:
    """Each suite fails on the rules rendered for the next one: the tests see the job selector
    (with one fixed job name, OperatorDown fires forever for a PodMonitor-scraped operator)."""
    names = list(suites)
    for tests_name, rules_of in zip(names, names[1:] + names[:1], strict=True):
        work_dir = WORK_DIR / f"{tests_name.removesuffix('.yaml')}-on-{rules_of.removesuffix('.yaml')}"
        work_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(suites[rules_of][2] / "rules.yaml", work_dir / "rules.yaml")
        shutil.copyfile(ALERT_TESTS_DIR / tests_name, work_dir / tests_name)
        try:
            run_promtool(work_dir, "test", "rules", tests_name)
        except CheckFailed:
            continue
        raise CheckFailed(f"{tests_name} passes on the rules of {suites[rules_of][0]}")
    return f"{len(names)} suites, each failing on another suite's rules"
