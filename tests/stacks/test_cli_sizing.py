"""size / compare through the real `pulumi-llm` entry point, and the sizing section of the plan summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pulumi_llm.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_size_errors_name_the_program_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["size", "lama-3.1-8b-instruct", "--gpu", "L4"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pulumi-llm: unknown model 'lama-3.1-8b-instruct'") and err.count("\n") == 1


def test_size_of_a_model_that_does_not_fit_gives_need_offer_and_ways_out(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["size", "llama-3.1-70b-instruct", "--gpu", "H100-80GB", "--count", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pulumi-llm: llama-3.1-70b-instruct in bf16 needs ")
    assert "but 1× H100-80GB offers" in err and "ways out: more GPUs: --count 4" in err


def test_compare_stack_prints_each_model_and_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    plot = tmp_path / "cost.png"
    assert main(["compare", "--stack", "onprem", "--tokens-per-month", "2B", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "onprem: llama-3-1-8b-instruct (llama-3.1-8b-instruct, bf16, context 32,768), 2,000,000,000 tokens/month" in out
    assert "API providers" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_stack_without_models_and_with_both_modes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, scratch_project: Path
) -> None:
    # A gateway-only stack: it deploys something (a stack with no method is refused) but serves no model.
    (scratch_project / "stacks" / "Pulumi.shared.yaml").write_text(
        "config:\n  pulumi-llm:environment: shared\n  pulumi-llm:cloud: aws\n  pulumi-llm:region: us-east-1\n"
        "  pulumi-llm:methods: [gateway]\n  pulumi-llm:gateway:\n"
        "    models: {chat: {routes: [{provider: openai, model: gpt-4o-mini}]}}\n"
        "    consumers: {team: {models: [chat], requests_per_day: 1000}}\n"
    )
    assert main(["--project-dir", str(scratch_project), "compare", "--stack", "shared"]) == 2
    assert capsys.readouterr().err == "pulumi-llm: stack shared serves no models (methods: gateway)\n"
    monkeypatch.chdir(ROOT)
    assert main(["compare", "--stack", "onprem", "--model", "llama-3.1-8b-instruct"]) == 2
    assert capsys.readouterr().err == "pulumi-llm: compare takes --stack or --model, not both\n"
    assert main(["compare", "--stack", "nope"]) == 2
    assert capsys.readouterr().err.startswith("pulumi-llm: stacks/Pulumi.nope.yaml: no such stack file; stacks: ")


def test_plan_summary_carries_the_sizing_the_manifests_were_rendered_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["plan", "onprem", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "    sized        bf16 on 1× L40S, TP 1, context 32,768," in printed
    [model] = json.loads((tmp_path / "summary.json").read_text())["sizing"]
    deployment = yaml.safe_load((tmp_path / "manifests" / "deployment-llm-llama-3-1-8b-instruct.yaml").read_text())
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert f"--tensor-parallel-size={model['tensor_parallel_size']}" in args
    assert f"--max-model-len={model['max_model_len']}" in args
    assert f"--max-num-seqs={model['max_num_seqs']}" in args
    startup = deployment["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] == model["startup_probe"]["seconds"]
    assert model["hardware"] == {
        "instance_type": None,
        "cloud": "onprem",
        "region": None,
        "accelerator": "L40S",
        "gpu_count": 1,
        "gpu_memory_gib": 44.5,
    }
