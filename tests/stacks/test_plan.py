"""The offline plan of every stack: formats, determinism, errors at the command line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
STACKS = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_CONFIG")}
    return subprocess.run([sys.executable, "-m", "pulumi_llm.cli", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def planned(plans: Path) -> Path:
    return plans


def test_there_are_stacks_and_plan_all_covers_them(planned: Path) -> None:
    assert {"onprem", "dev"} <= set(STACKS)
    assert sorted(p.name for p in planned.iterdir()) == STACKS


@pytest.mark.parametrize("stack", STACKS)
def test_resources_json_format(planned: Path, stack: str) -> None:
    resources = json.loads((planned / stack / "resources.json").read_text())
    assert isinstance(resources, list) and resources
    urns = {r["urn"] for r in resources}
    roots = [r for r in resources if r["parent"] is None]
    assert [r["type"] for r in roots] == ["pulumi:pulumi:Stack"]
    for r in resources:
        assert set(r) == {"urn", "type", "name", "parent", "id", "dependsOn", "inputs"}
        # What the engine waits for: resources of this plan, in a stable order.
        assert set(r["dependsOn"]) <= urns and r["dependsOn"] == sorted(r["dependsOn"]), r["urn"]
        assert r["urn"].startswith(f"urn:pulumi:{stack}::pulumi-llm::") and r["urn"].endswith(f"::{r['name']}")
        assert r["parent"] is None or r["parent"] in urns
        # provider types end in the package name, which may hold a dash (pulumi:providers:docker-build)
        assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9./-]*:[A-Za-z0-9-]+", r["type"]), r["type"]
        assert all("_" not in key for key in r["inputs"]), f"inputs not camelCase in {r['urn']}"
    assert [r["urn"] for r in resources] == sorted(urns)


@pytest.mark.parametrize("stack", STACKS)
def test_summary_json_format(planned: Path, stack: str) -> None:
    summary = json.loads((planned / stack / "summary.json").read_text())
    settings = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    resources = json.loads((planned / stack / "resources.json").read_text())
    assert summary["stack"] == stack
    assert summary["cloud"] == settings["pulumi-llm:cloud"]
    assert summary["methods"] == settings.get("pulumi-llm:methods", [])
    by_type: dict[str, int] = {}
    for r in resources:
        if r["type"] != "pulumi:pulumi:Stack":
            by_type[r["type"]] = by_type.get(r["type"], 0) + 1
    assert summary["resources"] == {"total": len(resources) - 1, "byType": by_type}


@pytest.mark.parametrize("stack", STACKS)
def test_manifests_are_one_file_per_kubernetes_object(planned: Path, stack: str) -> None:
    resources = json.loads((planned / stack / "resources.json").read_text())
    objects = [
        r
        for r in resources
        if r["type"].startswith("kubernetes:") and "kind" in r["inputs"] and not r["type"].startswith("kubernetes:helm.sh/")
    ]
    files = sorted((planned / stack / "manifests").glob("*.yaml"))
    assert len(files) == len(objects)
    for path in files:
        text = path.read_text()
        obj = yaml.safe_load(text)
        assert list(obj)[:3] == ["apiVersion", "kind", "metadata"]
        expected = "-".join(p for p in (obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]) if p)
        assert path.name == expected.lower() + ".yaml"


def test_plan_is_deterministic(tmp_path: Path) -> None:
    for run in ("a", "b"):
        assert cli("plan", "--all", "--quiet", "--out", str(tmp_path / run)).returncode == 0
    first = {p.relative_to(tmp_path / "a"): p.read_bytes() for p in (tmp_path / "a").rglob("*") if p.is_file()}
    second = {p.relative_to(tmp_path / "b"): p.read_bytes() for p in (tmp_path / "b").rglob("*") if p.is_file()}
    assert first.keys() == second.keys() and first == second


def test_plan_prints_tree_grouped_by_component_with_counts(tmp_path: Path) -> None:
    result = cli("plan", "onprem", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "pulumi-llm:index:LlmPlatform  llm  (" in result.stdout
    assert re.search(r"^    pulumi-llm:index:OnPremCluster  llm-onprem  \(\d+ resources\)$", result.stdout, re.M)
    assert re.search(r"^\s+4  kubernetes:core/v1:Namespace$", result.stdout, re.M)
    # The model namespace is the user's (it holds their weights claim): labelled, not created.
    assert re.search(r"^\s+1  kubernetes:core/v1:NamespacePatch$", result.stdout, re.M)


def test_default_out_dir_is_out_stack(scratch_project: Path) -> None:
    (scratch_project / "stacks" / "Pulumi.lab.yaml").write_text((ROOT / "stacks" / "Pulumi.onprem.yaml").read_text())
    result = cli("plan", "lab", "--quiet", cwd=scratch_project)
    assert result.returncode == 0, result.stderr
    assert (scratch_project / "out" / "lab" / "resources.json").is_file()
    assert (scratch_project / "out" / "lab" / "manifests" / "namespace-llm.yaml").is_file()


def test_missing_stack_lists_the_stacks_that_exist() -> None:
    result = cli("plan", "prdo")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"stacks/Pulumi.prdo.yaml: no such stack file; stacks: {', '.join(STACKS)}\n"


def test_bad_config_is_one_line_exit_2_and_nothing_written(scratch_project: Path) -> None:
    (scratch_project / "stacks" / "Pulumi.prod.yaml").write_text(
        "config:\n"
        "  pulumi:disable-default-providers: ['*']\n"
        "  pulumi-llm:environment: prod\n"
        "  pulumi-llm:cloud: aws\n"
        "  pulumi-llm:region: us-east-1\n"
        "  pulumi-llm:serving:\n"
        "    replicas: {min: 2, max: 1}\n"
    )
    result = cli("plan", "prod", cwd=scratch_project)
    assert result.returncode == 2
    assert result.stderr == "stacks/Pulumi.prod.yaml: pulumi-llm:serving.replicas.max = 1: must be >= replicas.min (2)\n"
    assert "Traceback" not in result.stdout + result.stderr
    assert not (scratch_project / "out").exists()


def test_invalid_yaml_names_the_line(scratch_project: Path) -> None:
    (scratch_project / "stacks" / "Pulumi.bad.yaml").write_text("config:\n  pulumi-llm:cloud: [aws\n")
    result = cli("plan", "bad", cwd=scratch_project)
    assert result.returncode == 2
    assert re.fullmatch(r"stacks/Pulumi\.bad\.yaml: line \d+: not valid YAML \(.+\)\n", result.stderr)


def test_key_without_namespace(scratch_project: Path) -> None:
    (scratch_project / "stacks" / "Pulumi.bad.yaml").write_text("config:\n  cloud: aws\n")
    result = cli("plan", "bad", cwd=scratch_project)
    assert (result.returncode, result.stderr) == (2, "stacks/Pulumi.bad.yaml: config.cloud: keys need a namespace, e.g. pulumi-llm:cloud\n")


def test_plan_all_reports_each_bad_stack_and_still_plans_the_good_ones(scratch_project: Path) -> None:
    (scratch_project / "stacks" / "Pulumi.good.yaml").write_text((ROOT / "stacks" / "Pulumi.onprem.yaml").read_text())
    (scratch_project / "stacks" / "Pulumi.bad.yaml").write_text("config:\n  pulumi-llm:environment: x\n  pulumi-llm:cloud: mars\n")
    result = cli("plan", "--all", "--quiet", cwd=scratch_project)
    assert result.returncode == 2
    assert result.stderr == "stacks/Pulumi.bad.yaml: pulumi-llm:cloud = mars: must be one of: aws, gcp, azure, onprem\n"
    assert (scratch_project / "out" / "good" / "summary.json").is_file()


def test_usage_errors_are_one_line() -> None:
    result = cli("plan")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "one of the arguments stack --all is required" in result.stderr


def test_secure_config_values_are_masked(scratch_project: Path) -> None:
    text = (ROOT / "stacks" / "Pulumi.onprem.yaml").read_text() + "  pulumi-llm:tags:\n    owner: ml\n"
    (scratch_project / "stacks" / "Pulumi.lab.yaml").write_text(text)
    assert cli("plan", "lab", "--quiet", cwd=scratch_project).returncode == 0
    namespace = yaml.safe_load((scratch_project / "out" / "lab" / "manifests" / "namespace-llm.yaml").read_text())
    assert namespace["metadata"]["labels"]["owner"] == "ml"


UNDER_PULUMI_UP = """
import runpy, sys
from pulumi_llm.errors import UserError
from pulumi_llm.offline.plan import execute
try:
    execute(lambda: runpy.run_path("stacks/__main__.py", run_name="__main__"), project="pulumi-llm", stack="prod", config={})
except UserError as err:
    print(err)
    sys.exit(2)
"""


def test_same_validation_fails_the_program_under_pulumi_up() -> None:
    # Under `pulumi up` the engine hands the program its config in PULUMI_CONFIG, as JSON strings;
    # the program must fail with the same line (RunError: reported without a traceback).
    engine_config = {
        "pulumi-llm:environment": "prod",
        "pulumi-llm:cloud": "aws",
        "pulumi-llm:region": "us-east-1",
        "pulumi-llm:serving": json.dumps({"replicas": {"min": 2, "max": 1}}),
    }
    env = {**os.environ, "PULUMI_CONFIG": json.dumps(engine_config)}
    result = subprocess.run([sys.executable, "-c", UNDER_PULUMI_UP], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stdout == "stacks/Pulumi.prod.yaml: pulumi-llm:serving.replicas.max = 1: must be >= replicas.min (2)\n"
