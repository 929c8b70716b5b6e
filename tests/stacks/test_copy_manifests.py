"""The hub copy Job of a cluster stack uploads with its own cloud's tool, as its own identity.

Before: on GKE (a gs:// model store) the copy Job fetched the token with `aws secretsmanager` and uploaded with
`aws s3 sync` to s3:// — a copy that could never succeed. The shipped gcp-prod (GKE) and staging (EKS) stacks,
each with copy_from_hub, are planned offline: the GKE Job reads the token from Secret Manager and uploads with
`gcloud storage rsync` (the pinned Google Cloud CLI) as the Google service account its Kubernetes service account
is annotated with (Workload Identity), which may write the bucket and read that one secret; the EKS Job is
unchanged. The Jobs pass strict schema validation and checkov with the repo's configuration.
"""

from __future__ import annotations

import json
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
KUBERNETES_VERSION = "1.30.0"  # as tests/stacks/test_manifests.py: the oldest minor supported
STACKS = ("gcp-prod", "staging")


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    stacks = {}
    for base in STACKS:
        stack = shipped_stack(base)
        stack["config"]["pulumi-llm:models"][MODEL]["copy_from_hub"] = True
        stacks[f"{base}-copy"] = stack
    return plan_stacks(scratch_project(tmp_path_factory.mktemp("copy-project"), stacks), tmp_path_factory.mktemp("copy-plans"), stacks)


def job_files(planned: Path, base: str) -> list[Path]:
    return sorted((planned / f"{base}-copy" / "manifests").glob(f"job-*copy-{MODEL}*.yaml"))


def job(planned: Path, base: str) -> dict:
    [path] = job_files(planned, base)
    return yaml.safe_load(path.read_text())


def resources(planned: Path, base: str) -> list[dict]:
    return json.loads((planned / f"{base}-copy" / "resources.json").read_text())


def test_the_gke_copy_uploads_with_gcloud_and_reads_the_token_from_secret_manager(planned: Path) -> None:
    pod = job(planned, "gcp-prod")["spec"]["template"]["spec"]
    everything = json.dumps(pod)
    assert "aws " not in everything and "s3://" not in everything and pins.AWS_CLI.ref not in everything
    token, download = pod["initContainers"]
    assert token["image"] == pins.GOOGLE_CLOUD_CLI.ref
    assert "gcloud secrets versions access latest --secret=pulumi-llm-gcp-prod-copy-huggingface" in token["command"][2]
    assert "--project=" in token["command"][2] and "> /secrets/token" in token["command"][2]
    assert download["name"] == "download"
    [upload] = pod["containers"]
    assert upload["image"] == pins.GOOGLE_CLOUD_CLI.ref
    script = upload["command"][2]
    assert script.startswith("exec gcloud storage rsync --recursive ")
    assert f'/work/model "gs://$(MODEL_BUCKET)/{KEY}"' in script
    # gcloud writes its configuration under CLOUDSDK_CONFIG: the read-only root filesystem's writable /tmp.
    assert {"name": "CLOUDSDK_CONFIG", "value": "/tmp/gcloud"} in upload["env"]
    assert upload["env"][0]["name"] == "MODEL_BUCKET" and upload["env"][0]["value"]


def test_the_gke_copy_runs_as_a_workload_identity_that_may_write_the_bucket_and_read_the_token(planned: Path) -> None:
    pod = job(planned, "gcp-prod")["spec"]["template"]["spec"]
    account = pod["serviceAccountName"]
    assert account == f"copy-{MODEL}"
    planned_resources = resources(planned, "gcp-prod")
    [ksa] = [
        r for r in planned_resources if r["type"] == "kubernetes:core/v1:ServiceAccount" and r["inputs"]["metadata"]["name"] == account
    ]
    gsa_email = ksa["inputs"]["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]
    assert gsa_email
    members = [r["inputs"] for r in planned_resources if r["type"] == "gcp:storage/bucketIAMMember:BucketIAMMember"]
    assert any(m["role"] == "roles/storage.objectUser" and m["member"].endswith(gsa_email) for m in members)
    [secret] = [
        r for r in planned_resources if r["type"] == "gcp:secretmanager/secret:Secret" and r["inputs"]["secretId"].endswith("-huggingface")
    ]
    accessors = [r["inputs"] for r in planned_resources if r["type"] == "gcp:secretmanager/secretIamMember:SecretIamMember"]
    assert any(a["role"] == "roles/secretmanager.secretAccessor" and a["member"].endswith(gsa_email) for a in accessors)
    assert secret["inputs"]["secretId"] == "pulumi-llm-gcp-prod-copy-huggingface"


def test_the_eks_copy_keeps_the_aws_cli(planned: Path) -> None:
    pod = job(planned, "staging")["spec"]["template"]["spec"]
    token, _ = pod["initContainers"]
    assert token["image"] == pins.AWS_CLI.ref and "aws secretsmanager get-secret-value" in token["command"][2]
    [upload] = pod["containers"]
    assert upload["command"][2].startswith("exec aws s3 sync /work/model ") and f'"s3://$(MODEL_BUCKET)/{KEY}"' in upload["command"][2]


@pytest.mark.parametrize("base", STACKS)
def test_the_copy_job_passes_strict_schema_validation(planned: Path, base: str) -> None:
    kubernetes_validate.validate(job(planned, base), KUBERNETES_VERSION, strict=True)


def test_checkov_finds_nothing_in_the_copy_jobs(planned: Path, tmp_path: Path) -> None:
    scanned = tmp_path / "manifests"
    scanned.mkdir()
    for base in STACKS:
        for path in job_files(planned, base):
            (scanned / f"{base}-{path.name}").write_text(path.read_text())
        for path in (planned / f"{base}-copy" / "manifests").glob(f"networkpolicy-*copy-{MODEL}*.yaml"):
            (scanned / f"{base}-{path.name}").write_text(path.read_text())
    checked = clean_kubernetes_scan(scanned, config=ROOT / ".checkov.yaml", out_dir=tmp_path / "report", cwd=ROOT)
    assert len({name for name in checked if "-job-" in name}) == len(STACKS)
