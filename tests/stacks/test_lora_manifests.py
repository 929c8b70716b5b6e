"""Issue 18, fix 1 — LoRA adapters in the planned manifests of a cluster that streams its weights.

The shipped EKS (staging) and GKE (gcp-prod) stacks, each with two adapters below its model's store prefix, planned
offline: the Deployment copies each adapter from the store into a read-only /adapters volume with an init
container (the pinned AWS CLI / gcloud, as the pod's own identity, MODEL_BUCKET from the bucket resource), vLLM is
given the local paths as separate `--lora-modules` items, and the manifests pass strict schema validation and
checkov with the repo's configuration (the init containers included).
"""

from __future__ import annotations

import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from helpers import plan_stacks, scratch_project, shipped_stack
from pulumi_llm import pins

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from support.checkov_env import clean_kubernetes_scan  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MODEL = "llama-3-1-8b-instruct"
KEY = "meta-llama/Llama-3.1-8B-Instruct/0e9e39f249a16976918f6564b8830bc894c89659"
ADAPTERS = {"chat": "lora/chat", "sql": "lora/sql"}
KUBERNETES_VERSION = "1.30.0"  # as tests/stacks/test_manifests.py: the oldest minor supported
STACKS = {"staging": ("s3", pins.AWS_CLI.ref, "aws s3 sync"), "gcp-prod": ("gs", pins.GOOGLE_CLOUD_CLI.ref, "gcloud storage rsync")}


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both stacks with the adapters, planned; the output directory holds one sub-directory per stack."""
    stacks = {}
    for base in STACKS:
        stack = shipped_stack(base)
        stack["config"]["pulumi-llm:models"][MODEL]["lora_adapters"] = dict(ADAPTERS)
        stacks[f"{base}-lora"] = stack
    return plan_stacks(scratch_project(tmp_path_factory.mktemp("lora-project"), stacks), tmp_path_factory.mktemp("lora-plans"), stacks)


def pod(planned: Path, base: str) -> dict:
    deployment = yaml.safe_load((planned / f"{base}-lora" / "manifests" / f"deployment-llm-{MODEL}.yaml").read_text())
    return deployment["spec"]["template"]["spec"]


@pytest.mark.parametrize("base", list(STACKS))
def test_each_adapter_is_copied_into_the_pod_before_vllm_starts(planned: Path, base: str) -> None:
    scheme, image, sync = STACKS[base]
    spec = pod(planned, base)
    copies = spec["initContainers"]
    assert [c["name"] for c in copies] == ["adapter-chat", "adapter-sql"]
    for copy, adapter in zip(copies, ADAPTERS, strict=True):
        assert copy["image"] == image
        script = copy["command"][2]
        assert f"{sync} " in script and f"'{scheme}://$(MODEL_BUCKET)/{KEY}/lora/{adapter}' /adapters/{adapter}" in script
        # Kubernetes expands $(MODEL_BUCKET) from the init container's own env, valued from the bucket resource.
        assert copy["env"][0]["name"] == "MODEL_BUCKET" and copy["env"][0]["value"]
        assert {"name": "adapters", "mountPath": "/adapters"} in copy["volumeMounts"]
    [server] = spec["containers"]
    at = server["args"].index("--lora-modules")
    assert server["args"][at + 1 : at + 3] == ["chat=/adapters/chat", "sql=/adapters/sql"]
    assert not any(f"{scheme}://" in a for a in server["args"][at:])
    assert {"name": "adapters", "mountPath": "/adapters", "readOnly": True} in server["volumeMounts"]
    # The copies run as the server's service account: the identity that already reads the model's prefix.
    assert spec["serviceAccountName"] == MODEL


@pytest.mark.parametrize("base", list(STACKS))
def test_the_deployment_with_copies_passes_strict_schema_validation(planned: Path, base: str) -> None:
    deployment = yaml.safe_load((planned / f"{base}-lora" / "manifests" / f"deployment-llm-{MODEL}.yaml").read_text())
    kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_checkov_finds_nothing_in_the_deployments_with_copies(planned: Path, tmp_path: Path) -> None:
    # The two model Deployments with their NetworkPolicies (checkov's CKV2_K8S_6 pairs them); the stacks' other
    # manifests are tests/stacks/test_scans.py's.
    scanned = tmp_path / "manifests"
    scanned.mkdir()
    for base in STACKS:
        for name in (f"deployment-llm-{MODEL}.yaml", f"networkpolicy-llm-{MODEL}.yaml"):
            (scanned / f"{base}-{name}").write_text((planned / f"{base}-lora" / "manifests" / name).read_text())
    checked = clean_kubernetes_scan(scanned, config=ROOT / ".checkov.yaml", out_dir=tmp_path / "report", cwd=ROOT)
    assert {f"{base}-deployment-llm-{MODEL}.yaml" for base in STACKS} <= checked
