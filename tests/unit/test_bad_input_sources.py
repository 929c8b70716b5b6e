"""Issue 16, family 5 — model sources: a scheme the stack's cloud and method don't read, a path that isn't
relative and normalised, a revision that isn't the full commit SHA (or disagrees with the source's path).

Each case edits a shipped stack, drives `pulumi-llm plan` in-process on a scratch project (tests/bad_input.py)
and checks the user's view: exit 2, one line naming the stack file, the key path as written, the value and what
is allowed, nothing registered, no plan written. The table itself is tested pure below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bad_input
import pytest
import yaml
from bad_input import assert_one_line_refusal
from helpers import shipped_stack
from pulumi_llm.settings.checks_sources import SCHEMES, allowed_schemes, path_problem

REV = "0e9e39f249a16976918f6564b8830bc894c89659"
OTHER_REV = "6f6073b423013f6a7d4d9f39144961bfbfbc386b"
MODEL = "llama-3-1-8b-instruct"


def refused(project: Path, base: str, model: dict[str, Any], *parts: str) -> str:
    """Plan shipped stack `base` with its model's settings updated by `model`; the one line it is refused with."""
    stack = shipped_stack(base)
    stack["config"]["pulumi-llm:models"][MODEL].update(model)
    name = f"{base}-edited"
    bad_input.write_stack(project, name, yaml.safe_dump(stack, sort_keys=False))
    return assert_one_line_refusal(bad_input.plan(project, name), name, *parts)


@pytest.mark.parametrize(
    ("base", "source", "allowed"),
    [
        # Before: an S3 read grant on a GCS URI.
        ("dev", "gs://other-bucket/llama", "use store://<key> or s3://<bucket>/<prefix>"),
        # Before: silently replaced by the stack's own bucket.
        ("gcp-dev", "s3://other-bucket/llama", "use store://<key>"),
        ("gcp-dev", "gs://other-bucket/llama", "use store://<key>"),
        ("gcp-prod", "s3://other-bucket/llama", "use store://<key> or pvc://<claim>/<path>"),
        ("azure-dev", "gs://other-bucket/llama", "use store://<key>"),
        ("azure-prod", "s3://other-bucket/llama", "use pvc://<claim>/<path>"),
        ("onprem", "s3://other-bucket/llama", "use pvc://<claim>/<path>"),
    ],
)
def test_a_scheme_the_cloud_does_not_read_is_refused(scratch_project: Path, base: str, source: str, allowed: str) -> None:
    scheme = source.split("://")[0]
    # Without the hub copy, whose own check (it writes to store:// or pvc:// only) would speak first.
    edit = {"source": source, "copy_from_hub": False}
    line = refused(scratch_project, base, edit, f"pulumi-llm:models.{MODEL}.source = {source}", allowed)
    assert f"{scheme}:// is not read on cloud" in line


@pytest.mark.parametrize(
    ("base", "source", "why"),
    [
        ("onprem", f"pvc://model-weights/meta-llama/../../etc/{REV}", "'..' segment"),
        ("onprem", f"pvc://model-weights/meta-llama/./{REV}", "'.' or '..' segment"),
        ("onprem", f"pvc://model-weights/meta-llama//{REV}", "empty segment"),
        ("onprem", f"pvc://model-weights//meta-llama/{REV}", "is absolute"),
        ("onprem", f"pvc://model-weights/meta-llama/{REV}/", "empty segment"),
        ("dev", f"store://../meta-llama/{REV}", "'..' segment"),
        ("dev", f"store:///meta-llama/{REV}", "is absolute"),
        ("dev", "store://", "is empty"),
        ("dev", "s3://weights-bucket", "is empty"),  # before: a traceback after 40 resources
        ("onprem", "pvc://model-weights", "is empty"),
        ("onprem", "pvc://model-weights/", "is empty"),
        ("dev", f"s3://bucket/a/../../{REV}", "'..' segment"),
    ],
)
def test_a_path_that_is_not_relative_and_normalised_is_refused(scratch_project: Path, base: str, source: str, why: str) -> None:
    refused(scratch_project, base, {"source": source}, f"pulumi-llm:models.{MODEL}.source = {source}", "the path", why)


@pytest.mark.parametrize("bucket", ["a..b", "ab", "weights-", "192.168.1.10", "xn--weights"])
def test_an_s3_bucket_aws_would_refuse_is_refused(scratch_project: Path, bucket: str) -> None:
    source = f"s3://{bucket}/llama/{REV}"
    refused(scratch_project, "dev", {"source": source}, f"pulumi-llm:models.{MODEL}.source = {source}", "is not an S3 bucket name")


@pytest.mark.parametrize("claim", ["weights-", "weights..x", "a" * 254])
def test_a_claim_that_is_not_a_kubernetes_name_is_refused(scratch_project: Path, claim: str) -> None:
    source = f"pvc://{claim}/llama/{REV}"
    refused(scratch_project, "onprem", {"source": source}, f"pulumi-llm:models.{MODEL}.source = ", "is not a Kubernetes name")


@pytest.mark.parametrize(
    "repo", ["https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct", "Llama-3.1-8B-Instruct", "meta-llama/../x", "a/b/c"]
)
def test_a_hub_repo_that_is_not_owner_slash_name_is_refused(scratch_project: Path, repo: str) -> None:
    # Before: the copy Job's `hf download` failed at deploy time.
    refused(scratch_project, "staging", {"hub_repo": repo}, f"pulumi-llm:models.{MODEL}.hub_repo = {repo}", "owner/name")


def test_a_lora_adapter_path_that_leaves_the_model_directory_is_refused(scratch_project: Path) -> None:
    refused(
        scratch_project,
        "onprem",
        {"lora_adapters": {"sql": "../../other-team/sql"}},
        f"pulumi-llm:models.{MODEL}.lora_adapters.sql = ../../other-team/sql",
        "'..' segment",
    )


@pytest.mark.parametrize(
    "revision",
    ["main", "v1.0", "0e9e39f", REV.upper(), REV[:39], REV + "0", "refs/pr/1"],
)
def test_a_revision_that_is_not_a_full_commit_sha_is_refused(scratch_project: Path, revision: str) -> None:
    refused(
        scratch_project,
        "dev",
        {"revision": revision, "source": "store://meta-llama/Llama-3.1-8B-Instruct"},
        f"pulumi-llm:models.{MODEL}.revision = {revision}",
        "the full 40-character lower-case commit SHA",
    )


def test_a_revision_that_differs_from_the_one_in_the_source_path_is_refused(scratch_project: Path) -> None:
    # The shipped source ends in REV; a new revision without a new path would serve the old weights.
    refused(
        scratch_project,
        "staging",
        {"revision": OTHER_REV},
        f"pulumi-llm:models.{MODEL}.revision = {OTHER_REV}",
        f"differs from the revision in models.{MODEL}.source ({REV})",
    )


def test_the_table_gives_every_self_hosting_cloud_method_its_schemes() -> None:
    assert allowed_schemes("aws", ["gateway", "gpu-vm"]) == ("store", "s3")
    assert allowed_schemes("aws", ["cluster"]) == ("store", "s3", "pvc")
    assert allowed_schemes("gcp", ["gateway", "gpu-vm"]) == ("store",)
    assert allowed_schemes("azure", ["cluster"]) == ("pvc",)
    assert allowed_schemes("onprem", ["onprem"]) == ("pvc",)
    assert allowed_schemes("aws", ["gateway"]) == ()
    # Object storage of another cloud is never read: no cloud lists the other's scheme.
    assert not any("gs" in schemes for schemes in SCHEMES.values())
    assert all("s3" not in schemes for (cloud, _), schemes in SCHEMES.items() if cloud != "aws")


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("meta-llama/Llama-3.1-8B-Instruct/" + REV, True),
        ("", False),  # servers read a directory below /models, never the mount itself
        ("a/../b", False),
        ("..", False),
        ("./a", False),
        ("/a", False),
        ("a//b", False),
        ("a/", False),
    ],
)
def test_path_problem_accepts_only_relative_normalised_paths(path: str, ok: bool) -> None:
    assert (path_problem(path) is None) == ok


@pytest.mark.parametrize("stack", ["dev", "staging", "prod", "gcp-dev", "gcp-prod", "azure-dev", "azure-prod", "onprem", "onprem-triton"])
def test_every_shipped_source_is_one_its_cloud_reads(stack: str) -> None:
    config = shipped_stack(stack)["config"]
    allowed = allowed_schemes(config["pulumi-llm:cloud"], config["pulumi-llm:methods"])
    for model in config["pulumi-llm:models"].values():
        scheme, _, rest = model["source"].partition("://")
        assert scheme in allowed
        assert model["revision"] in rest
