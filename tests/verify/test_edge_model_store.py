"""Finding 10: the edge stack registered a model store (KMS key, S3 bucket and its six settings) that
nothing used, since edge nodes load weights from their own cache (``node://``). Only the self-hosting
methods (gpu-vm, cluster) get one."""

from __future__ import annotations


def test_edge_plan_has_no_model_store(recorded):
    view = recorded("edge")
    assert all(m["source"].startswith("node://") for m in view.settings["models"].values())
    assert view.of_type("pulumi-llm:index:ModelStore") == []
    assert [r["type"] for r in view.resources if r["type"].startswith("aws:s3")] == []
    # The only key left is the edge image repository's.
    assert [r["name"] for r in view.of_type("aws:kms/key:Key")] == ["llm-edge-image-key"]


def test_self_hosting_stacks_keep_theirs(recorded):
    for stack in ("dev", "prod", "staging"):
        assert [r["name"] for r in recorded(stack).of_type("pulumi-llm:index:ModelStore")] == ["llm-models"], stack
