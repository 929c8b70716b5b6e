"""Issue 18, fix 1 — LoRA that loads: the rendered vLLM arguments, where adapters are read from, and the copy.

Before: two adapters rendered one `--lora-modules=chat=… sql=…` token (vLLM reads one adapter whose path holds
the space, or fails to split it), and adapters of streamed weights were passed to vLLM as s3:// / gs:// URIs,
which it can't load. Now each adapter is its own item after the bare flag, and a pod whose weights are streamed
copies each adapter into a read-only /adapters volume with an init container before vLLM starts. The real
vLLM proof (both adapters listed and answering) is tests/integration/test_vllm_lora.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bad_input
import pytest
import yaml
from bad_input import assert_one_line_refusal
from helpers import shipped_stack
from pulumi_llm import pins
from pulumi_llm.errors import UserError
from pulumi_llm.gpu_vm.cloud_init import host_path, weights_path
from pulumi_llm.kubernetes import adapter_sync, render
from pulumi_llm.runtimes import vllm
from pulumi_llm.runtimes.spec import ContainerRequest, ContainerSpec, Fetch
from pulumi_llm.sizing import Hardware, fit, get_accelerator

ADAPTERS = {"sql": "lora/sql", "chat": "lora/chat"}
STREAMED_S3 = vllm.Weights("object-store", "s3://$(MODEL_BUCKET)/meta-llama/llama")
STREAMED_GS = vllm.Weights("object-store", "gs://$(MODEL_BUCKET)/meta-llama/llama")
VOLUME = vllm.Weights("volume", "/models/meta-llama/llama")


@pytest.fixture(scope="module")
def fit_8b():
    return fit("llama-3.1-8b-instruct", Hardware(get_accelerator("L40S"), 1), context=8192)


def spec_for(fit_8b: Any, weights: vllm.Weights, **request: Any) -> ContainerSpec:
    return vllm.container_spec(ContainerRequest(served_name="m", fit=fit_8b, source="", weights=weights, **request))


def lora_items(args: tuple[str, ...]) -> list[str]:
    """The tokens after the bare `--lora-modules` up to the next --flag: what vLLM's nargs='+' takes."""
    at = args.index("--lora-modules")
    items: list[str] = []
    for token in args[at + 1 :]:
        if token.startswith("--"):
            break
        items.append(token)
    return items


# ---- arguments ------------------------------------------------------------------------------------------


def test_two_adapters_are_two_items_after_one_bare_flag(fit_8b) -> None:
    args = spec_for(fit_8b, VOLUME, lora_adapters=ADAPTERS).args
    assert not any(a.startswith("--lora-modules=") for a in args)
    assert args.count("--lora-modules") == 1
    assert lora_items(args) == ["chat=/models/meta-llama/llama/lora/chat", "sql=/models/meta-llama/llama/lora/sql"]
    assert {"--enable-lora", "--max-loras=2", "--max-lora-rank=16"} <= set(args)


def test_the_adapter_list_is_last_so_later_flags_are_not_read_as_adapters(fit_8b) -> None:
    spec = spec_for(fit_8b, VOLUME, lora_adapters=ADAPTERS, extra_args=("--seed=7",))
    assert spec.args[-3:] == ("--lora-modules", "chat=/models/meta-llama/llama/lora/chat", "sql=/models/meta-llama/llama/lora/sql")
    assert "--seed=7" in spec.args


def test_the_rank_setting_reaches_max_lora_rank(fit_8b) -> None:
    args = spec_for(fit_8b, VOLUME, lora_adapters=ADAPTERS, lora_max_rank=64).args
    assert "--max-lora-rank=64" in args and "--max-lora-rank=16" not in args


def test_no_adapters_and_no_runtime_loading_means_no_lora_flags_or_env(fit_8b) -> None:
    spec = spec_for(fit_8b, VOLUME)
    assert not [a for a in spec.args if "lora" in a]
    assert vllm.RUNTIME_LORA_ENV not in {e.name for e in spec.env}
    assert spec.fetches == () and "adapters" not in {m.name for m in spec.mounts}


def test_runtime_loading_is_opt_in_and_enables_lora_with_one_slot(fit_8b) -> None:
    spec = spec_for(fit_8b, VOLUME, lora_runtime_loading=True)
    assert {e.name: e.value for e in spec.env}[vllm.RUNTIME_LORA_ENV] == "True"
    assert spec.args[-3:] == ("--enable-lora", "--max-loras=1", "--max-lora-rank=16")
    assert "--lora-modules" not in spec.args


@pytest.mark.parametrize("rank", [0, 12, 1024])
def test_a_rank_vllm_does_not_accept_is_refused_naming_the_allowed_ones(rank: int) -> None:
    with pytest.raises(UserError, match=rf"models\.m\.lora_max_rank = {rank}: vLLM accepts 1, 8, 16, 32, 64, 128, 256, 320, 512"):
        vllm.lora_args("m", {"a": "/models/a"}, rank)


@pytest.mark.parametrize("path", ["/models/x=y", "/models/x,y"])
def test_an_item_vllm_would_split_or_read_as_json_is_refused(path: str) -> None:
    with pytest.raises(UserError, match="can't hold '=' or ','"):
        vllm.lora_args("m", {"a": path}, 16)


# ---- where adapters are read from -------------------------------------------------------------------------


def test_adapters_below_volume_weights_pass_through_with_nothing_to_copy() -> None:
    paths, fetches = vllm.decide_adapter_paths(VOLUME, ADAPTERS)
    assert paths == {"sql": "/models/meta-llama/llama/lora/sql", "chat": "/models/meta-llama/llama/lora/chat"}
    assert fetches == ()


@pytest.mark.parametrize("weights", [STREAMED_S3, STREAMED_GS], ids=["s3", "gs"])
def test_adapters_of_streamed_weights_are_copied_to_local_paths(fit_8b, weights: vllm.Weights) -> None:
    spec = spec_for(fit_8b, weights, lora_adapters=ADAPTERS)
    scheme = weights.location.split("://")[0]
    # vLLM is pointed at local directories only, never at the store's URIs.
    assert lora_items(spec.args) == ["chat=/adapters/chat", "sql=/adapters/sql"]
    assert not any(f"{scheme}://" in item for item in lora_items(spec.args))
    assert spec.fetches == (
        Fetch(f"{scheme}://$(MODEL_BUCKET)/meta-llama/llama/lora/chat", "/adapters/chat", "adapters"),
        Fetch(f"{scheme}://$(MODEL_BUCKET)/meta-llama/llama/lora/sql", "/adapters/sql", "adapters"),
    )
    [mount] = [m for m in spec.mounts if m.name == "adapters"]
    # The server only reads the copies; the 8B model, rank 16, two adapters: 2 × 0.19 GiB + 1 GiB headroom → 2 GiB.
    assert (mount.path, mount.kind, mount.read_only, mount.size_limit) == ("/adapters", "scratch", True, "2Gi")


def test_adapter_scratch_is_bounded_by_rank_layers_and_hidden_size() -> None:
    # Llama-3-70B (80 layers, hidden 8192), rank 64: 64 × 80 × 24 × 8192 × 4 B = 3.75 GiB → 4 + 1 GiB headroom.
    assert vllm.adapter_scratch_gib(80, 8192, 64, 1) == 5
    assert vllm.adapter_scratch_gib(32, 4096, 16, 2) == 2


def test_a_gpu_vm_reads_adapters_below_the_weights_its_boot_syncs(fit_8b) -> None:
    # A GPU VM syncs the whole model prefix (recursive) onto its disk: adapters below it arrive with the
    # weights, so they pass through as paths under the synced directory and nothing else is copied.
    spec = spec_for(fit_8b, VOLUME, lora_adapters=ADAPTERS)
    synced = host_path(spec, weights_path(spec))
    assert spec.fetches == ()
    for item in lora_items(spec.args):
        assert host_path(spec, item.split("=", 1)[1]).startswith(synced + "/")


# ---- the copy into the pod ---------------------------------------------------------------------------------


def test_s3_adapters_are_copied_by_the_pinned_aws_cli_as_the_pods_identity(fit_8b) -> None:
    spec = spec_for(fit_8b, STREAMED_S3, lora_adapters=ADAPTERS)
    copies = adapter_sync.init_containers(spec, {"MODEL_BUCKET": "models-bucket"})
    assert [c["name"] for c in copies] == ["adapter-chat", "adapter-sql"]
    chat = copies[0]
    assert chat["image"] == pins.AWS_CLI.ref
    shell, flag, script = chat["command"]
    assert (shell, flag) == ("/bin/sh", "-c")
    assert "aws s3 sync 's3://$(MODEL_BUCKET)/meta-llama/llama/lora/chat' /adapters/chat" in script
    assert "[ ! -f /adapters/chat/adapter_config.json ]" in script and "exit 1" in script
    # MODEL_BUCKET first (Kubernetes expands $(MODEL_BUCKET) in the command from the container's env).
    assert chat["env"][0] == {"name": "MODEL_BUCKET", "value": "models-bucket"}
    assert {"name": "HOME", "value": "/tmp"} in chat["env"]
    assert chat["volumeMounts"] == [{"name": "adapters", "mountPath": "/adapters"}, {"name": "tmp", "mountPath": "/tmp"}]
    assert chat["securityContext"]["readOnlyRootFilesystem"] is True and chat["securityContext"]["runAsNonRoot"] is True
    assert chat["resources"]["limits"]["cpu"] and chat["resources"]["limits"]["memory"]


def test_gs_adapters_are_copied_by_the_pinned_gcloud(fit_8b) -> None:
    spec = spec_for(fit_8b, STREAMED_GS, lora_adapters={"chat": "lora/chat"})
    [copy] = adapter_sync.init_containers(spec)
    assert copy["image"] == pins.GOOGLE_CLOUD_CLI.ref
    assert "gcloud storage rsync --recursive --quiet 'gs://$(MODEL_BUCKET)/meta-llama/llama/lora/chat' /adapters/chat" in copy["command"][2]
    assert {"name": "CLOUDSDK_CONFIG", "value": "/tmp/gcloud"} in copy["env"]


def test_the_server_mounts_the_copies_read_only_in_the_rendered_pod(fit_8b) -> None:
    spec = spec_for(fit_8b, STREAMED_S3, lora_adapters=ADAPTERS)
    pod = adapter_sync.attach(render.pod_spec(spec, render.Placement(), "m", None), spec)
    [server] = pod["containers"]
    assert {"name": "adapters", "mountPath": "/adapters", "readOnly": True} in server["volumeMounts"]
    assert {"name": "adapters", "emptyDir": {"sizeLimit": "2Gi"}} in pod["volumes"]
    assert [c["name"] for c in pod["initContainers"]] == ["adapter-chat", "adapter-sql"]


def test_attach_puts_copies_first_and_leaves_a_pod_without_fetches_alone(fit_8b) -> None:
    spec = spec_for(fit_8b, STREAMED_S3, lora_adapters={"chat": "lora/chat"})
    pod = adapter_sync.attach({"initContainers": [{"name": "other"}]}, spec)
    assert [c["name"] for c in pod["initContainers"]] == ["adapter-chat", "other"]
    assert adapter_sync.attach({}, spec_for(fit_8b, VOLUME, lora_adapters=ADAPTERS)) == {}


def test_a_scheme_without_a_copier_is_refused() -> None:
    with pytest.raises(
        ValueError, match=r"no copier for https://acct\.blob\.core\.windows\.net/c/x: adapters are copied from s3://, gs://"
    ):
        adapter_sync.decide_copier("https://acct.blob.core.windows.net/c/x")


# ---- settings: one line, exit 2 -----------------------------------------------------------------------------


def refused(project: Path, base: str, model_key: str, model: dict[str, Any], *parts: str) -> str:
    """Plan shipped stack `base` with one model's settings updated by `model`; the one line it is refused with."""
    stack = shipped_stack(base)
    stack["config"]["pulumi-llm:models"][model_key].update(model)
    name = f"{base}-lora"
    bad_input.write_stack(project, name, yaml.safe_dump(stack, sort_keys=False))
    return assert_one_line_refusal(bad_input.plan(project, name), name, *parts)


def test_adapters_on_a_runtime_that_ignores_them_are_refused(scratch_project: Path) -> None:
    # Before: Triton's container silently dropped them.
    refused(
        scratch_project,
        "onprem-triton",
        "llama-3-3-70b-instruct",
        {"lora_adapters": {"sql": "lora/sql"}},
        "pulumi-llm:models.llama-3-3-70b-instruct.lora_adapters",
        "served by runtime vllm only, not triton",
    )


def test_a_rank_vllm_refuses_is_refused_at_plan(scratch_project: Path) -> None:
    refused(
        scratch_project,
        "staging",
        "llama-3-1-8b-instruct",
        {"lora_adapters": {"sql": "lora/sql"}, "lora_max_rank": 12},
        "pulumi-llm:models.llama-3-1-8b-instruct.lora_max_rank = 12",
        "vLLM accepts 1, 8, 16, 32, 64, 128, 256, 320, 512",
    )


@pytest.mark.parametrize(
    ("base", "path", "rule"),
    [
        # A claim's path: vLLM would split the item on '=' (or read it as JSON with a ',').
        ("onprem", "lora/a=b", "holds '=' or ','"),
        # The stack's store: the copy's prefix takes no space, quote or wildcard (as the VMs' weights sync).
        ("staging", "lora/a b", "an object prefix can't"),
    ],
)
def test_an_adapter_path_the_copy_or_vllm_would_misread_is_refused(scratch_project: Path, base: str, path: str, rule: str) -> None:
    refused(
        scratch_project,
        base,
        "llama-3-1-8b-instruct",
        {"lora_adapters": {"sql": path}},
        f"pulumi-llm:models.llama-3-1-8b-instruct.lora_adapters.sql = {path}",
        rule,
    )
