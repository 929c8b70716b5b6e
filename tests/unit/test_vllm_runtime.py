"""vLLM runtime: flags from sizing, the extra-args escape hatch, the CPU replay filter, the readiness check."""

from __future__ import annotations

import pytest
from pulumi_llm import pins
from pulumi_llm.errors import UserError
from pulumi_llm.runtimes import vllm
from pulumi_llm.sizing import Hardware, fit, get_accelerator, startup_probe_budget

IMAGE = pins.VLLM_OPENAI.ref


@pytest.fixture(scope="module")
def fit_8b():
    return fit("llama-3.1-8b-instruct", Hardware(get_accelerator("L40S"), 1), context=8192)


def test_flags_are_single_tokens_from_sizing(fit_8b) -> None:
    s = fit_8b.vllm
    args = vllm.vllm_args("chat", fit_8b, vllm.Weights("volume", "/models/llama"), vllm.VllmOptions(image=IMAGE))
    assert args == (
        "/models/llama",
        "--served-model-name=chat",
        "--host=0.0.0.0",
        "--port=8000",
        "--tensor-parallel-size=1",
        "--max-model-len=8192",
        f"--max-num-seqs={s.max_num_seqs}",
        "--gpu-memory-utilization=0.9",
        "--dtype=bfloat16",
        "--enable-prefix-caching",
        "--enable-chunked-prefill",
    )


def test_object_store_weights_stream_with_runai_and_each_lora_adapter_is_its_own_item(fit_8b) -> None:
    options = vllm.VllmOptions(image=IMAGE, lora_adapters={"sql": "/adapters/sql", "chat": "/adapters/chat"})
    args = vllm.vllm_args("m", fit_8b, vllm.Weights("object-store", "s3://b/llama"), options)
    assert args[0] == "s3://b/llama" and "--load-format=runai_streamer" in args
    # vLLM's --lora-modules is nargs='+': one `name=path` item per adapter after the bare flag, never one
    # "--lora-modules=chat=… sql=…" token (vLLM reads that as ONE adapter whose path holds the space).
    assert args[-6:] == (
        "--enable-lora",
        "--max-loras=2",
        "--max-lora-rank=16",
        "--lora-modules",
        "chat=/adapters/chat",
        "sql=/adapters/sql",
    )


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (
            "--max-model-len=4096",
            "x = --max-model-len=4096: --max-model-len is managed by pulumi-llm (from sizing and settings); set the matching setting instead",
        ),
        (
            "--max_num_seqs=4",
            "x = --max_num_seqs=4: --max-num-seqs is managed by pulumi-llm (from sizing and settings); set the matching setting instead",
        ),
        (
            "--no-enable-prefix-caching",
            "x = --no-enable-prefix-caching: --enable-prefix-caching is managed by pulumi-llm (from sizing and settings); set the matching setting instead",
        ),
        ("seed", "x = seed: extra args are single --flag or --flag=value tokens"),
    ],
)
def test_extra_args_may_not_fight_managed_flags(token: str, message: str) -> None:
    with pytest.raises(UserError) as caught:
        vllm.check_extra_args([token], "x")
    assert str(caught.value) == message


def test_extra_args_that_are_not_managed_pass_through(fit_8b) -> None:
    args = vllm.vllm_args("m", fit_8b, vllm.Weights("volume", "/models/m"), vllm.VllmOptions(image=IMAGE, extra_args=("--seed=7",)))
    assert args[-1] == "--seed=7"


def test_cpu_replay_drops_exactly_the_gpu_only_flags(fit_8b) -> None:
    args = vllm.vllm_args("m", fit_8b, vllm.Weights("object-store", "s3://b/m"), vllm.VllmOptions(image=IMAGE))
    replay = vllm.cpu_replay(args)
    assert [a for a in args if a not in replay] == [a for a in args if vllm.flag_name(a) in vllm.GPU_ONLY_FLAGS]
    assert all(vllm.flag_name(a) not in vllm.GPU_ONLY_FLAGS for a in replay)
    assert "--served-model-name=m" in replay and "--max-model-len=8192" in replay


def test_container_spec(fit_8b) -> None:
    spec = vllm.vllm_container(
        "chat", fit_8b, vllm.Weights("volume", "/models/llama"), vllm.VllmOptions(image=IMAGE, api_key_secret="chat-key")
    )
    # The supported CLI (finding 11): `python -m vllm.entrypoints.openai.api_server` warns it may be removed.
    assert spec.image == IMAGE and spec.command == ("vllm", "serve")
    assert vllm.model_argument(spec.args) == "/models/llama" and not any(vllm.flag_name(a) == "--model" for a in spec.args)
    assert spec.resources.gpus == 1
    assert spec.startup.budget_seconds == startup_probe_budget(fit_8b.memory.weights).seconds
    key = next(e for e in spec.env if e.name == "VLLM_API_KEY")
    assert (key.value, key.secret_name, key.secret_key) == (None, "chat-key", "api-key")
    assert {e.name: e.value for e in spec.env}["HF_HUB_OFFLINE"] == "1"
    assert spec.metrics.requests_waiting == "vllm:num_requests_waiting" and spec.metrics.model_label == "model_name"
    assert {m.path for m in spec.mounts} == {"/cache", "/tmp", "/dev/shm", "/models"}


def test_images_must_be_pinned_by_digest(fit_8b) -> None:
    with pytest.raises(UserError, match=r"^models\.m\.image = vllm/vllm-openai:latest: images are pinned as repository:tag@sha256:digest$"):
        vllm.vllm_container("m", fit_8b, vllm.Weights("volume", "/models/m"), vllm.VllmOptions(image="vllm/vllm-openai:latest"))


def test_readiness_script_checks_the_served_name_and_sends_the_key() -> None:
    command = vllm.readiness_command("chat")
    assert command[:2] == ("python3", "-c")
    compile(command[2], "<readiness>", "exec")  # valid Python
    assert "'chat'" in command[2] and "VLLM_API_KEY" in command[2] and "/v1/models" in command[2]
