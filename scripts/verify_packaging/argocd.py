"""The Argo CD health check and resource action, run by a real Lua 5.1 interpreter (lua5.1) in a
sandbox shaped like Argo CD's argocd-cm VM (see argocd_harness.lua), against the test cases in
Argo CD's own layout: health_test.yaml, actions/action_test.yaml and their testdata/.
"""

from __future__ import annotations

import json
import pathlib
import re
import shutil
import subprocess
from typing import Any

import sync_argocd_cm
import yaml

from .report import CheckFailed, Report, require
from .schemas import validate_custom_resource

ARGOCD_DIR = pathlib.Path("argocd")
HARNESS = pathlib.Path(__file__).with_name("argocd_harness.lua")
WORK_DIR = pathlib.Path("target/verify-packaging")
LUA = "lua5.1"
# The action's timestamp is normalized before comparing, as Argo CD's own action tests do.
TIMESTAMP_ANNOTATION = "sendgrid.ops.dev/reconcile-requested-at"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
NORMALIZED_TIME = "0001-01-01T00:00:00Z"


def to_lua(value: Any) -> str:
    """A Lua 5.1 literal for a YAML value (null becomes nil, as Argo CD's decodeValue does)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + "".join(f"\\{ord(c)}" if ord(c) < 32 or c in '"\\' or ord(c) == 127 else c for c in value) + '"'
    if isinstance(value, list):
        return "{" + ", ".join(to_lua(item) for item in value) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{to_lua(str(k))}] = {to_lua(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot express {type(value).__name__} in Lua")


def run_lua(cases: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Runs every case in one lua5.1 process; returns id -> {ok, result | error}."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    cases_file = WORK_DIR / "argocd-cases.lua"
    body = ",\n".join(
        f"{{id = {to_lua(c['id'])}, script = {to_lua(str(c['script']))}, obj = {to_lua(c['obj'])}}}" for c in cases
    )
    cases_file.write_text(f"return {{\n{body}\n}}\n", encoding="utf-8")
    result = subprocess.run([LUA, str(HARNESS), str(cases_file)], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise CheckFailed(f"{LUA} failed: {result.stderr.strip()}")
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return {line["id"]: line for line in lines}


def _load(path: pathlib.Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _normalize(obj: dict[str, Any]) -> dict[str, Any]:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if TIMESTAMP_ANNOTATION in annotations:
        stamp = annotations[TIMESTAMP_ANNOTATION]
        require(bool(TIMESTAMP.match(stamp)), f"{TIMESTAMP_ANNOTATION} is {stamp!r}, not an RFC 3339 UTC time")
        annotations[TIMESTAMP_ANNOTATION] = NORMALIZED_TIME
    return obj


def customizations() -> list[pathlib.Path]:
    return sorted(p.parent for p in ARGOCD_DIR.glob("*/*/health.lua"))


def run(report: Report, cr_schema: dict[str, Any] | None) -> None:
    report.run(
        "argocd lua interpreter", lambda: require(shutil.which(LUA) is not None, f"{LUA} is not installed") or LUA
    )
    if shutil.which(LUA) is None:
        return
    directories = customizations()
    report.run(
        "argocd customizations",
        lambda: require(bool(directories), f"no */*/health.lua under {ARGOCD_DIR}") or ", ".join(map(str, directories)),
    )
    for directory in directories:
        _run_directory(report, directory, cr_schema)
    _run_sandbox_self_test(report)
    report.run(f"{sync_argocd_cm.TARGET} is in sync (scripts/sync-argocd-cm.sh --check)", check_cm_patch)


def check_cm_patch() -> str:
    """The argocd-cm patch users install carries exactly the tested scripts."""
    target = sync_argocd_cm.TARGET
    require(target.is_file(), f"{target} is missing: run scripts/sync-argocd-cm.sh")
    require(
        target.read_text(encoding="utf-8") == sync_argocd_cm.render(),
        f"{target} is stale: run scripts/sync-argocd-cm.sh",
    )
    data = _load(target)["data"]
    key = sync_argocd_cm.KEY
    source = sync_argocd_cm.CUSTOMIZATION
    actions = yaml.safe_load(data[f"resource.customizations.actions.{key}"])
    require(
        data[f"resource.customizations.health.{key}"] == (source / "health.lua").read_text(encoding="utf-8"),
        "the health entry differs from health.lua",
    )
    require(
        actions["discovery.lua"] == (source / "actions/discovery.lua").read_text(encoding="utf-8"),
        "the discovery entry differs from discovery.lua",
    )
    for definition in actions["definitions"]:
        script = source / "actions" / definition["name"] / "action.lua"
        require(definition["action.lua"] == script.read_text(encoding="utf-8"), f"{definition['name']} differs")
    return f"health + {len(actions['definitions'])} action(s) for {key}"


def _run_directory(report: Report, directory: pathlib.Path, cr_schema: dict[str, Any] | None) -> None:
    cases: list[dict[str, Any]] = []
    expected: dict[str, tuple[str, Any]] = {}
    for index, test in enumerate(_load(directory / "health_test.yaml")["tests"]):
        case_id = f"health/{index}/{test['inputPath']}"
        cases.append({"id": case_id, "script": directory / "health.lua", "obj": _load(directory / test["inputPath"])})
        expected[case_id] = ("health", test["healthStatus"])
    actions_dir = directory / "actions"
    action_tests = _load(actions_dir / "action_test.yaml") if (actions_dir / "action_test.yaml").is_file() else {}
    for index, test in enumerate(action_tests.get("discoveryTests") or []):
        case_id = f"discovery/{index}/{test['inputPath']}"
        cases.append(
            {"id": case_id, "script": actions_dir / "discovery.lua", "obj": _load(actions_dir / test["inputPath"])}
        )
        expected[case_id] = ("discovery", test["result"])
    for index, test in enumerate(action_tests.get("actionTests") or []):
        case_id = f"action/{test['action']}/{index}/{test['inputPath']}"
        script = actions_dir / test["action"] / "action.lua"
        cases.append({"id": case_id, "script": script, "obj": _load(actions_dir / test["inputPath"])})
        expected[case_id] = ("action", _load(actions_dir / test["expectedOutputPath"]))

    results: dict[str, dict[str, Any]] = {}
    report.run(f"lua5.1 runs {directory}", lambda: results.update(run_lua(cases)) or f"{len(cases)} cases")
    for case_id, (kind, want) in expected.items():
        report.run(
            f"argocd {kind} {case_id.split('/', 2)[-1]}", lambda c=case_id, k=kind, w=want: _compare(results, c, k, w)
        )

    if cr_schema is not None:
        inputs = sorted({p for p in directory.rglob("testdata/*.yaml")})

        def validate_inputs() -> str:
            for path in inputs:
                obj = _load(path)
                if obj.get("kind") == "SendGridEnforcedTls":
                    validate_custom_resource(obj, cr_schema)
            return f"{len(inputs)} objects valid"

        report.run(f"argocd testdata match the CRD schema ({directory})", validate_inputs)


def _compare(results: dict[str, dict[str, Any]], case_id: str, kind: str, want: Any) -> str:
    got = results.get(case_id)
    require(got is not None, "no result (the Lua run failed)")
    require(got["ok"], f"the script failed: {got.get('error')}")
    result = got["result"]
    if kind == "health":
        actual = {"status": result.get("status"), "message": result.get("message", "")}
        wanted = {"status": want["status"], "message": want.get("message", "")}
        require(actual == wanted, f"got {actual}, want {wanted}")
        return actual["status"]
    if kind == "discovery":
        actual_list = sorted(({"name": name, **(spec or {})} for name, spec in result.items()), key=lambda a: a["name"])
        wanted_list = sorted(want, key=lambda a: a["name"])
        require(actual_list == wanted_list, f"got {actual_list}, want {wanted_list}")
        return ", ".join(f"{a['name']} disabled={a.get('disabled', False)}" for a in actual_list)
    actual_obj, wanted_obj = _normalize(result), _normalize(want)
    require(actual_obj == wanted_obj, f"output differs from the expected object: got {actual_obj}")
    return f"sets {TIMESTAMP_ANNOTATION}"


def _run_sandbox_self_test(report: Report) -> None:
    """The sandbox must refuse what argocd-cm refuses, or passing tests would prove little."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    probes = {
        "string library": "return string.upper('x')",
        "string methods": "return ('x'):upper()",
        "io library": "return io.open('/etc/hostname')",
    }
    cases = []
    for name, source in probes.items():
        script = WORK_DIR / f"sandbox-{name.replace(' ', '-')}.lua"
        script.write_text(source + "\n", encoding="utf-8")
        cases.append({"id": name, "script": script, "obj": {}})

    def body() -> str:
        results = run_lua(cases)
        allowed = [name for name in probes if results[name]["ok"]]
        require(not allowed, f"the sandbox allows {allowed}")
        return "refuses " + ", ".join(probes)

    report.run("argocd sandbox matches argocd-cm (no string/io)", body)
