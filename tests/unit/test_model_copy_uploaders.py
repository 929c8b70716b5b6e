"""kubernetes/model_copy.py: an object-store copy Job talks to its own cloud with that cloud's pinned CLI."""

from __future__ import annotations

import pytest
from pulumi_llm import pins
from pulumi_llm.kubernetes.model_copy import CopySpec, decide_uploader, job_spec

KEY = "meta-llama/llama/0e9e39f249a16976918f6564b8830bc894c89659"


def copy_spec(token_secret: str, store_scheme: str = "s3", token_project: str = "") -> CopySpec:
    """An object-store copy of one pinned revision to `store_scheme`, its token in `token_secret`."""
    return CopySpec(
        served_name="m",
        hf_repo="meta-llama/Llama-3.1-8B-Instruct",
        revision="0e9e39f249a16976918f6564b8830bc894c89659",
        destination="object-store",
        key=KEY,
        downloader_image=pins.VLLM_OPENAI.ref,
        token_secret=token_secret,
        store_scheme=store_scheme,
        token_project=token_project,
    )


def containers(spec: CopySpec) -> tuple[dict, dict, dict]:
    pod = job_spec(spec, service_account="copy-m", env={"MODEL_BUCKET": "b"})["template"]["spec"]
    token, download = pod["initContainers"]
    [upload] = pod["containers"]
    return token, download, upload


def test_a_gs_store_is_written_with_gcloud_and_its_token_read_from_secret_manager() -> None:
    token, download, upload = containers(copy_spec(store_scheme="gs", token_secret="pulumi-llm-prod-huggingface", token_project="acme-llm"))
    assert token["image"] == upload["image"] == pins.GOOGLE_CLOUD_CLI.ref
    assert token["command"][2] == (
        "gcloud secrets versions access latest --secret=pulumi-llm-prod-huggingface --project=acme-llm --quiet > /secrets/token"
    )
    assert upload["command"][2] == (
        f"exec gcloud storage rsync --recursive --quiet --exclude='\\.cache/.*' /work/model \"gs://$(MODEL_BUCKET)/{KEY}\""
    )
    for container in (token, upload):
        assert [e["name"] for e in container["env"]] == ["MODEL_BUCKET", "HOME", "CLOUDSDK_CONFIG"]
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert download["name"] == "download" and download["image"] == pins.VLLM_OPENAI.ref


def test_an_s3_store_keeps_the_aws_cli_commands() -> None:
    token, _, upload = containers(copy_spec(token_secret="pulumi-llm/prod/huggingface"))
    assert token["image"] == upload["image"] == pins.AWS_CLI.ref
    assert token["command"][2] == (
        "aws secretsmanager get-secret-value --secret-id pulumi-llm/prod/huggingface --query SecretString --output text > /secrets/token"
    )
    assert upload["command"][2] == f"exec aws s3 sync /work/model \"s3://$(MODEL_BUCKET)/{KEY}\" --only-show-errors --exclude '.cache/*'"


def test_a_secret_id_is_quoted_for_the_shell() -> None:
    token, _, _ = containers(copy_spec(store_scheme="gs", token_secret="a b", token_project="p"))
    assert "--secret='a b' " in token["command"][2]


def test_a_store_without_an_uploader_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match=r"no copy uploader for abfs://: object-store copies go to s3://, gs://"):
        decide_uploader("abfs")
